"""Text out of OneDrive/SharePoint files: plain text and Markdown as they are, Word, PowerPoint
and Excel (OOXML: .docx/.pptx/.xlsx) read with ``zipfile`` + ``xml.etree``.

No Office library is a dependency: the three formats are zip files of XML, and their text
sits in a few well-known elements (``w:t`` in Word paragraphs, ``a:t`` in slide text,
shared strings and inline strings in sheets). Zip members are read with a size cap, and
expat (Python ≥ 3.11 bundles a version that refuses entity-expansion bombs) parses the XML.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import PurePosixPath

TEXT_SUFFIXES = frozenset(
    {
        ".txt",
        ".md",
        ".markdown",
        ".rst",
        ".adoc",
        ".org",
        ".csv",
        ".tsv",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".log",
    }
)
OFFICE_SUFFIXES = frozenset({".docx", ".pptx", ".xlsx"})
MEMBER_LIMIT = 20 * 1024 * 1024  # uncompressed bytes read from one zip member
MAX_ROWS = 2_000  # per sheet

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


class UnreadableDocument(ValueError):
    """The file claims a format it does not hold (or holds too much)."""


def supported(name: str) -> bool:
    suffix = PurePosixPath(name.lower()).suffix
    return suffix in TEXT_SUFFIXES or suffix in OFFICE_SUFFIXES


def extract_text(name: str, data: bytes) -> str:
    """The readable text of a file called ``name``; raises UnreadableDocument."""
    suffix = PurePosixPath(name.lower()).suffix
    if suffix in TEXT_SUFFIXES:
        if b"\x00" in data[:8192]:
            raise UnreadableDocument("binary content in a text file")
        return data.decode("utf-8-sig", errors="replace")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if suffix == ".docx":
                return _docx(zf)
            if suffix == ".pptx":
                return _pptx(zf)
            if suffix == ".xlsx":
                return _xlsx(zf)
    except (zipfile.BadZipFile, ET.ParseError, KeyError, EOFError) as exc:
        raise UnreadableDocument(f"not a readable {suffix} file ({exc})") from exc
    raise UnreadableDocument(f"{suffix or 'this'} files are not imported")


def _xml(zf: zipfile.ZipFile, member: str) -> ET.Element:
    info = zf.getinfo(member)
    if info.file_size > MEMBER_LIMIT:
        raise UnreadableDocument(f"{member} unpacks to {info.file_size:,} bytes")
    with zf.open(info) as handle:
        return ET.fromstring(handle.read(MEMBER_LIMIT + 1))


def _docx(zf: zipfile.ZipFile) -> str:
    body = _xml(zf, "word/document.xml")
    lines = []
    for para in body.iter(f"{_W}p"):
        parts = []
        for node in para.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                parts.append("\n")
        lines.append("".join(parts))
    return _tidy("\n".join(lines))


def _pptx(zf: zipfile.ZipFile) -> str:
    slides = sorted(
        (n for n in zf.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)),
        key=lambda n: int(re.sub(r"\D", "", n.rsplit("/", 1)[1])),
    )
    out = []
    for number, member in enumerate(slides, 1):
        paras = [
            "".join(t.text or "" for t in p.iter(f"{_A}t")) for p in _xml(zf, member).iter(f"{_A}p")
        ]
        text = "\n".join(p for p in paras if p.strip())
        out.append(f"## Slide {number}\n{text}")
    return _tidy("\n\n".join(out))


def _xlsx(zf: zipfile.ZipFile) -> str:
    shared = []
    if "xl/sharedStrings.xml" in zf.namelist():
        shared = [
            "".join(t.text or "" for t in si.iter(f"{_S}t"))
            for si in _xml(zf, "xl/sharedStrings.xml").iter(f"{_S}si")
        ]
    names = [
        s.get("name", f"Sheet{i}")
        for i, s in enumerate(_xml(zf, "xl/workbook.xml").iter(f"{_S}sheet"), 1)
    ]
    sheets = sorted(
        (n for n in zf.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)),
        key=lambda n: int(re.sub(r"\D", "", n.rsplit("/", 1)[1])),
    )
    out = []
    for index, member in enumerate(sheets):
        rows = []
        for row in list(_xml(zf, member).iter(f"{_S}row"))[:MAX_ROWS]:
            cells = [_cell(c, shared) for c in row.iter(f"{_S}c")]
            if any(cells):
                rows.append("\t".join(cells))
        title = names[index] if index < len(names) else f"Sheet{index + 1}"
        out.append(f"## {title}\n" + "\n".join(rows))
    return _tidy("\n\n".join(out))


def _cell(cell: ET.Element, shared: list[str]) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{_S}t"))
    value = cell.find(f"{_S}v")
    text = value.text if value is not None and value.text else ""
    if kind == "s" and text.isdigit():
        index = int(text)
        return shared[index] if index < len(shared) else ""
    return text


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip()
