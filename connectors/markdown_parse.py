"""Reading one Markdown note: front matter, title, tags, links and heading sections.

Pure functions over text (no files, no store), so the connector and its tests share them.

* Front matter (YAML between ``---`` lines, read with a safe loader): ``title``, ``tags``
  (list or comma/space separated), ``kind``, ``date`` map to the memory's fields; the
  rest is kept in metadata. Invalid YAML is reported and the note is imported without it.
* Obsidian ``#tags`` in the text are added to the front-matter tags.
* Links: ``[[Note]]``, ``[[Note#Heading|alias]]``, ``![[embed]]`` and relative Markdown links
  ``[text](../adr/0003-db.md#context)``. They are returned as vault-relative targets and
  resolved to memories by the connector once every note is stored.
* Long notes are split at their top-level headings into sections that are memories of
  their own (each findable), plus a root memory that names the sections; a section still
  too long is split again at the next heading level.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import unquote

import frontmatter
from frontmatter.default_handlers import YAMLHandler

from connectors.common import clip
from core import InvalidInput, safe_yaml_load, to_iso

SPLIT_CHARS = 4_000  # notes longer than this are split at headings
MAX_SECTION_CHARS = 12_000  # a section longer than this is split again at the next level
HARD_CHUNK_CHARS = 200_000  # a section with no heading left is cut at blank lines above this
MAX_TAGS = 32
_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_WIKI = re.compile(r"!?\[\[([^\]\|#\n]*)(?:#([^\]\|\n]*))?(?:\|[^\]\n]*)?\]\]")
_MDLINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_INLINE_TAG = re.compile(r"(?<![\w#&/`])#([A-Za-z][\w/-]{0,63})")
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
_BAD_FM = re.compile(r"\A---\s*\n.*?\n(---|\.\.\.)\s*(\n|\Z)", re.S)
MD_SUFFIXES = (".md", ".markdown")
_SLUG = re.compile(r"[\w-]+")
ADR_FOLDERS = frozenset({"adr", "adrs", "decisions", "decision-records"})


@dataclass
class Section:
    """A part of a note stored as one memory (the root has ``slug`` None)."""

    slug: str | None
    heading_path: list[str]
    text: str
    links: list[str] = field(default_factory=list)


@dataclass
class Note:
    """A parsed note."""

    rel: str
    title: str
    tags: list[str]
    kind: str
    event_at: str | None
    front_matter: dict[str, Any]
    sections: list[Section]
    problems: list[str] = field(default_factory=list)


def split_anchor(ref: str) -> tuple[str, str]:
    """(note, slug) of a reference ``note`` or ``note#slug`` (an external id or a link target).

    A file name may itself hold ``#`` (``C# tips.md``, ``Issue #42.md``), so a reference is not
    cut at its first ``#``: one ending in ``.md`` is a whole note, and a slug (what
    :func:`slugify` leaves: letters, digits, ``_``, ``-``, never a dot) follows the last ``#``.
    """
    if ref.lower().endswith(MD_SUFFIXES):
        return ref, ""
    head, sep, slug = ref.rpartition("#")
    return (head, slug) if sep and head and _SLUG.fullmatch(slug) else (ref, "")


def slugify(text: str) -> str:
    """GitHub-style heading anchor: ``Set up (Linux)`` → ``set-up-linux``."""
    slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    return re.sub(r"-{2,}", "-", slug).strip("-") or "section"


def jsonable(value: Any) -> Any:
    """YAML values (dates, sets…) → JSON values for metadata."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class _FrontMatterHandler(YAMLHandler):
    def load(self, fm: str, **kwargs: object) -> Any:
        return safe_yaml_load(fm)  # no aliases, bounded depth and size (see core.yamlsafe)


def split_front_matter(text: str) -> tuple[dict[str, Any], str, str | None]:
    """(front matter, body, problem). Invalid YAML → ({}, body without the block, reason)."""
    handler = frontmatter.detect_format(text, frontmatter.handlers)
    if isinstance(handler, YAMLHandler):
        handler = _FrontMatterHandler()
    try:
        post = frontmatter.loads(text, handler=handler)
    except InvalidInput as exc:
        return {}, _BAD_FM.sub("", text, count=1), f"front matter left out: {exc.message}"
    except Exception as exc:  # yaml raises many error types; all mean "not valid YAML"
        where = str(exc).strip().splitlines()
        stripped = _BAD_FM.sub("", text, count=1)
        detail = next((ln.strip() for ln in where if "line" in ln), where[0] if where else "")
        return {}, stripped, f"front matter is not valid YAML ({detail}); imported without it"
    meta = post.metadata if isinstance(post.metadata, dict) else {}
    return meta, post.content, None


def clean_tags(values: Any) -> list[str]:
    if isinstance(values, str):
        values = re.split(r"[,\s]+", values)
    if not isinstance(values, list | tuple | set):
        return []
    tags = [
        re.sub(r"\s+", "-", str(t).strip().lstrip("#").lower()) for t in values if t is not None
    ]
    return list(dict.fromkeys(t for t in tags if t and len(t) <= 64))


def _outside_code(body: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines not inside fenced code blocks."""
    out, fenced = [], False
    for i, line in enumerate(body.splitlines()):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((i, line))
    return out


def inline_tags(body: str) -> list[str]:
    tags = []
    for _, line in _outside_code(body):
        if _HEADING.match(line):
            continue
        tags += _INLINE_TAG.findall(_CODE_SPAN.sub("", line))
    return clean_tags(tags)


def links_in(text: str, rel: str) -> list[str]:
    """Link targets in ``text``: wikilink names (``Note#heading``) and vault-relative paths."""
    found: list[str] = []
    for _, line in _outside_code(text):
        line = _CODE_SPAN.sub("", line)
        for name, heading in _WIKI.findall(line):
            if name.strip():
                found.append(name.strip() + (f"#{slugify(heading)}" if heading.strip() else ""))
        for target in _MDLINK.findall(line):
            resolved = _relative_target(target, rel)
            if resolved:
                found.append(resolved)
    return list(dict.fromkeys(found))


def _relative_target(target: str, rel: str) -> str | None:
    if _SCHEME.match(target) or target.startswith("#"):
        return None
    # A raw '#' starts the fragment; one in a file name is written %23 (C%23%20tips.md).
    raw_path, _, anchor = target.partition("#")
    path, anchor = unquote(raw_path), unquote(anchor)
    if not path.lower().endswith(MD_SUFFIXES):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(rel), path.lstrip("/")))
    if joined.startswith("../") or joined == "..":
        return None  # a link out of the vault
    return joined + (f"#{slugify(anchor)}" if anchor else "")


def _headings(body: str) -> list[tuple[int, int, str]]:
    """(line number, level, text) of ATX headings outside code blocks."""
    out = []
    for i, line in _outside_code(body):
        m = _HEADING.match(line)
        if m:
            out.append((i, len(m.group(1)), m.group(2).strip()))
    return out


def _split(body: str, path: list[str], min_level: int) -> list[tuple[list[str], str]]:
    """(heading path, text) parts of ``body``: preamble first (path unchanged)."""
    heads = [h for h in _headings(body) if h[1] >= min_level]
    if not heads:
        return [(path, body)]
    level = min(h[1] for h in heads)
    cuts = [h for h in heads if h[1] == level]
    lines = body.splitlines(keepends=True)
    parts = [(path, "".join(lines[: cuts[0][0]]))]
    for n, (line_no, _, text) in enumerate(cuts):
        end = cuts[n + 1][0] if n + 1 < len(cuts) else len(lines)
        chunk = "".join(lines[line_no:end])
        if len(chunk) > MAX_SECTION_CHARS:
            sub = _split(chunk, [*path, text], level + 1)
            parts.append(([*path, text], sub[0][1]))
            parts += sub[1:]
        else:
            parts.append(([*path, text], chunk))
    return parts


def _hard_chunks(text: str) -> list[str]:
    if len(text) <= HARD_CHUNK_CHARS:
        return [text]
    chunks, current = [], ""
    for para in re.split(r"(\n\s*\n)", text):
        if current and len(current) + len(para) > HARD_CHUNK_CHARS:
            chunks.append(current)
            current = ""
        current += para
    chunks.append(current)
    return [c[i : i + HARD_CHUNK_CHARS] for c in chunks for i in range(0, len(c), HARD_CHUNK_CHARS)]


def sections_of(body: str, rel: str, split_chars: int = SPLIT_CHARS) -> list[Section]:
    """The root section and, for a long note with headings, one section per heading."""
    if len(body) <= split_chars:
        return [Section(None, [], body, links_in(body, rel))]
    heads = _headings(body)
    # A single H1 is the note's title, not a section boundary.
    min_level = 2 if sum(1 for h in heads if h[1] == 1) == 1 else 1
    parts = _split(body, [], min_level)
    out = [Section(None, [], parts[0][1], links_in(parts[0][1], rel))]
    used: set[str] = set()
    for path, text in parts[1:]:
        for n, chunk in enumerate(_hard_chunks(text)):
            base = slugify(path[-1]) + (f"-part-{n + 1}" if n else "")
            slug, k = base, 2
            while slug in used:
                slug, k = f"{base}-{k}", k + 1
            used.add(slug)
            out.append(Section(slug, path, chunk, links_in(chunk, rel)))
    return out


def _title(meta: dict[str, Any], body: str, rel: str) -> str:
    if isinstance(meta.get("title"), str | int | float) and str(meta["title"]).strip():
        return clip(" ".join(str(meta["title"]).split()), 200)
    h1 = next((h[2] for h in _headings(body) if h[1] == 1), None)
    stem = posixpath.splitext(posixpath.basename(rel))[0]
    return clip(h1 or stem, 200)


def _kind(meta: dict[str, Any], rel: str, problems: list[str]) -> str:
    raw = meta.get("kind")
    if raw is not None:
        value = str(raw).strip().lower()
        if _KIND.match(value):
            return value
        problems.append(f"front matter kind {raw!r} is not a kind word; used the default")
    folders = {p.lower() for p in rel.split("/")[:-1]}
    return "decision" if folders & ADR_FOLDERS else "note"


def _event_at(meta: dict[str, Any], problems: list[str]) -> str | None:
    raw = meta.get("date", meta.get("created"))
    if raw is None or raw == "":
        return None
    try:
        return to_iso(raw if isinstance(raw, date | str | int | float) else str(raw))
    except (InvalidInput, ValueError, OverflowError, OSError):
        problems.append(f"front matter date {raw!r} is not a date; left out")
        return None


def parse_note(rel: str, text: str, split_chars: int = SPLIT_CHARS) -> Note:
    """Parse the text of the note at vault-relative path ``rel``."""
    meta, body, problem = split_front_matter(text)
    problems = [problem] if problem else []
    tags = clean_tags(meta.get("tags", meta.get("tag", [])))
    tags = list(dict.fromkeys([*tags, *inline_tags(body)]))
    if len(tags) > MAX_TAGS:
        problems.append(f"{len(tags)} tags; kept the first {MAX_TAGS}")
        tags = tags[:MAX_TAGS]
    return Note(
        rel=rel,
        title=_title(meta, body, rel),
        tags=tags,
        kind=_kind(meta, rel, problems),
        event_at=_event_at(meta, problems),
        front_matter=jsonable(meta),
        sections=sections_of(body, rel, split_chars),
        problems=problems,
    )
