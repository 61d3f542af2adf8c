"""What the server knows about a document: its lines, symbols, git root, anchor path, project.

Computed once per document version (parsing and `git rev-parse` run off the event loop) and
cached. Anchors are stored relative to the git root when the file is inside a repository
(project = the repository folder's name), absolute otherwise.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path, PurePath

from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import PositionCodec, Workspace

from core import SymbolSpan, git_root
from lsp_server.files import read_regular_text
from lsp_server.symbols import Outline, Symbol, spans_by_name, symbols_of

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 * 1024 * 1024
LAZY_PARSE_CHARS = 512 * 1024  # above this a hover does not wait for a new version's parse


@dataclass(frozen=True)
class DocInfo:
    """One version of a document, with everything the features need about it."""

    uri: str
    version: int | None
    lines: list[str]
    path: str | None  # absolute file-system path (None for untitled: documents)
    root: Path | None  # git root
    anchor_path: str | None  # relative to ``root`` (posix), else absolute
    project: str | None
    symbols: list[Symbol] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return PurePath(self.path).name if self.path else ""

    def line(self, number: int) -> str:
        """Line ``number`` (1-based), '' outside the text."""
        return self.lines[number - 1] if 1 <= number <= len(self.lines) else ""

    def text(self, start: int, end: int) -> str:
        """Lines ``start``…``end`` (1-based inclusive) joined by newlines."""
        return "\n".join(self.lines[max(start, 1) - 1 : end])

    @cached_property
    def outline(self) -> Outline:
        return Outline(self.symbols)

    @cached_property
    def spans_by_name(self) -> dict[str, list[SymbolSpan]]:
        return spans_by_name(self.symbols)

    def enclosing(self, start: int, end: int | None = None) -> Symbol | None:
        return self.outline.enclosing(start, end)


class Documents:
    """Per-version cache of :class:`DocInfo`, and git roots per folder."""

    def __init__(self, project_override: Callable[[], str | None]) -> None:
        self._project_override = project_override
        self._cache: dict[str, DocInfo] = {}
        self._roots: dict[str, Path | None] = {}
        self._lock = threading.Lock()

    def cached(self, uri: str) -> DocInfo | None:
        return self._cache.get(uri)

    def forget(self, uri: str) -> None:
        self._cache.pop(uri, None)

    def clear(self) -> None:
        self._cache.clear()

    def provisional(self, uri: str, version: int | None, text: str | None) -> DocInfo | None:
        """A big document's new text with the symbols of the version parsed last, while the
        new one is parsed (None when that version is parsed, or parsing it is cheap).

        Its version is None, so nothing computed from it is cached: typing in a 5 MB file
        costs each hover ~1 s of parsing otherwise. Below the edit, symbols may be off by
        the lines just typed until the parse lands."""
        cached = self._cache.get(uri)
        if (
            cached is None
            or version is None
            or text is None
            or cached.version == version
            or len(text) < LAZY_PARSE_CHARS
        ):
            return None
        quick = replace(cached, version=None, lines=text.splitlines())
        # the same symbols: share their indexes (building them costs ~0.2 s for 50k)
        quick.__dict__.update(outline=cached.outline, spans_by_name=cached.spans_by_name)
        return quick

    def snapshot(self, workspace: Workspace, uri: str) -> tuple[int | None, str | None] | None:
        """(version, text) of an open document, (None, None) for one to read from disk, or
        None for a URI that names no document. Cheap: call it on the event loop, so the
        text and its version always belong together."""
        try:
            doc = workspace.get_text_document(uri)
        except Exception:  # a malformed URI from the client: no document, no crash
            log.warning("cannot open document %r", uri)
            return None
        if doc.version is None:
            return (None, None) if uri.startswith("file:") else None
        return doc.version, doc.source

    def build(self, uri: str, version: int | None, text: str | None) -> DocInfo | None:
        """The document's info (blocking: call it in a worker thread); None if unreadable."""
        cached = self._cache.get(uri)
        if cached is not None and version is not None and cached.version == version:
            return cached
        if text is None:
            text = _read(uri)
            if text is None:
                return None
        info = self._describe(uri, version, text)
        if version is not None:  # a file read from disk may change under us: never cached
            self._cache[uri] = info
        return info

    def _describe(self, uri: str, version: int | None, text: str) -> DocInfo:
        path = to_fs_path(uri) if uri.startswith("file:") else None
        root = self.root_of(Path(path).parent) if path else None
        anchor_path = _relative(path, root) if path else None
        project = self._project_override() or (root.name if root else None)
        return DocInfo(
            uri,
            version,
            text.splitlines(),
            path,
            root,
            anchor_path,
            project,
            symbols_of(text, path or uri),
        )

    def root_of(self, folder: Path) -> Path | None:
        key = str(folder)
        with self._lock:
            if key in self._roots:
                return self._roots[key]
        root = git_root(folder) if folder.is_dir() else None
        with self._lock:
            self._roots[key] = root
        return root

    def resolve(self, anchor_path: str, roots: list[Path]) -> str | None:
        """A file URI for an anchor path (absolute, or relative to one of ``roots``)."""
        candidate = Path(anchor_path)
        found = [candidate] if candidate.is_absolute() else [root / anchor_path for root in roots]
        for full in found:
            if full.is_file():
                return full.as_uri()
        return None


def _read(uri: str) -> str | None:
    path = to_fs_path(uri)
    if not path:
        return None
    return read_regular_text(path, MAX_FILE_BYTES)  # never a FIFO or a device (issue 21)


def _relative(path: str, root: Path | None) -> str:
    if root is not None:
        try:
            return Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()


def head_commit(root: Path | None) -> str | None:
    """The checked-out commit of the repository at ``root`` (blocking; None outside git)."""
    if root is None:
        return None
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and sha else None


def line_range(info: DocInfo, rng: types.Range) -> tuple[int, int]:
    """1-based inclusive lines covered by an LSP range (a selection ending at column 0 of
    the next line does not include that line)."""
    start = rng.start.line + 1
    end = rng.end.line + 1
    if rng.end.character == 0 and end > start:
        end -= 1
    last = max(len(info.lines), 1)
    return min(max(start, 1), last), min(max(end, start, 1), last)


_UNITS = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2)}


def column_of(codec: PositionCodec, line: str, character: int) -> int:
    """Client code units (UTF-16 for VS Code) → index into the Python string ``line``.

    Through the codec's byte encoding (C speed): a per-character loop cost ~50 ms on a
    500 KB line, on every hover."""
    if line.isascii():
        return max(0, min(character, len(line)))
    kind = str(getattr(codec.encoding, "value", codec.encoding)).lower()
    if kind == "utf-32":
        return max(0, min(character, len(line)))
    name, width = _UNITS.get(kind, _UNITS["utf-16"])
    head = line.encode(name, "surrogatepass")[: max(character, 0) * width]
    return min(len(head.decode(name, "ignore")), len(line))


def character_of(codec: PositionCodec, line: str, column: int) -> int:
    """Index into ``line`` → client code units."""
    return column if line.isascii() else codec.client_num_units(line[:column])


def selected_text(codec: PositionCodec, info: DocInfo, rng: types.Range) -> str:
    """The text of ``info`` inside an LSP range ('' when it is empty or outside the text)."""
    if not info.lines or rng.start.line >= len(info.lines):
        return ""
    end_line = min(rng.end.line, len(info.lines) - 1)
    end_char = rng.end.character if rng.end.line < len(info.lines) else len(info.lines[-1])
    first = column_of(codec, info.lines[rng.start.line], rng.start.character)
    last = column_of(codec, info.lines[end_line], end_char)
    if rng.start.line == end_line:
        return info.lines[end_line][first:last]
    middle = info.lines[rng.start.line + 1 : end_line]
    return "\n".join([info.lines[rng.start.line][first:], *middle, info.lines[end_line][:last]])
