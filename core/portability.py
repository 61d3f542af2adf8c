"""Export and import: JSON Lines and a folder of Markdown files with front matter.

A round trip keeps everything a memory has (id, times, provenance, anchor, metadata,
versions' current state, links); importing into a store that already holds a memory with
the same id leaves it alone, so importing twice adds nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import yaml

from core import yamlsafe
from core.errors import InvalidInput
from core.models import CodeAnchor, Memory, Provenance, SearchFilters

if TYPE_CHECKING:
    from core.service import MemoryService

FORMAT = "devmemory/1"


def memory_record(svc: MemoryService, m: Memory) -> dict[str, Any]:
    record = asdict(m)
    record["provenance"] = m.provenance.name.lower()
    record["tags"] = list(m.tags)
    record["links"] = [
        {"target": link.target_id, "type": link.type}
        for link in svc.links(m.id)
        if link.source_id == m.id
    ]
    return record


def iter_all(svc: MemoryService, filters: SearchFilters | None = None) -> Iterator[Memory]:
    offset: int | None = 0
    while offset is not None:
        page = svc.list(filters, limit=200, offset=offset, order="created")
        yield from page.memories
        offset = page.next_offset


def export_jsonl(svc: MemoryService, out: IO[str], filters: SearchFilters | None = None) -> int:
    count = 0
    for m in iter_all(svc, filters):
        out.write(
            json.dumps({"format": FORMAT, **memory_record(svc, m)}, ensure_ascii=False) + "\n"
        )
        count += 1
    return count


def record_to_memory(record: dict[str, Any]) -> tuple[Memory, list[tuple[str, str]]]:
    """A Memory from an exported record (validated by the service when written)."""
    try:
        anchor = CodeAnchor(**record["anchor"]) if record.get("anchor") else None
        prov = record.get("provenance", "user")
        m = Memory(
            id=str(record["id"]).upper(),
            title=record["title"],
            content=record["content"],
            kind=record.get("kind", "note"),
            tags=tuple(record.get("tags", [])),
            project=record.get("project"),
            anchor=anchor,
            source=record.get("source", "user"),
            external_id=record.get("external_id"),
            source_url=record.get("source_url"),
            provenance=Provenance[prov.upper()] if isinstance(prov, str) else Provenance(prov),
            visibility=record.get("visibility", "private"),
            created_at=record["created_at"],
            updated_at=record.get("updated_at", record["created_at"]),
            event_at=record.get("event_at"),
            version=int(record.get("version", 1)),
            metadata=record.get("metadata") or {},
            content_hash=record.get("content_hash", ""),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"not a DevMemory export record ({exc}).",
            hint="Export with `devmem export` to see the expected fields.",
        ) from None
    links = [
        (str(link["target"]).upper(), str(link.get("type", "related")))
        for link in record.get("links", [])
    ]
    return m, links


def import_records(
    svc: MemoryService,
    records: Iterable[dict[str, Any] | SkippedFile],
    skipped: list[str] | None = None,
) -> tuple[int, int]:
    """Write exported records through the service's restore mode (validation, redaction,
    embedding and one transaction per batch, as ``remember``; ids and times kept); returns
    (imported, already present).

    A bad record stops the import with its number (everything before it is kept; importing
    again after the fix adds only the rest) — unless ``skipped`` is given: then a bad record
    is left out, its reason appended there, and the rest imported."""
    counts = [0, 0]
    pending_links: list[tuple[str, str, str]] = []
    batch: list[Memory] = []
    try:
        for number, record in enumerate(records, start=1):
            parsed = _record(number, record, skipped)
            if parsed is None:
                continue
            m, links = parsed
            pending_links += [(m.id, t, ty) for t, ty in links]
            if svc.storage.get(m.id) is not None:
                counts[1] += 1
                continue
            batch.append(m)
            if len(batch) >= 64:
                counts[0] += len(svc.restore(batch))
                batch = []
    finally:
        counts[0] += len(svc.restore(batch)) if batch else 0
        for src, dst, link_type in pending_links:
            if svc.storage.get(src) is not None and svc.storage.get(dst) is not None:
                svc.link(src, dst, link_type)
    return counts[0], counts[1]


def _record(
    number: int, record: dict[str, Any] | SkippedFile, skipped: list[str] | None
) -> tuple[Memory, list[tuple[str, str]]] | None:
    where = (
        str(record.get(SOURCE_KEY) or f"record {number}")
        if isinstance(record, dict)
        else record.path
    )
    try:
        if isinstance(record, SkippedFile):
            raise InvalidInput(record.reason)
        return record_to_memory(record)
    except InvalidInput as exc:
        if skipped is not None:
            skipped.append(
                exc.message if isinstance(record, SkippedFile) else f"{where}: {exc.message}"
            )
            return None
        if isinstance(record, SkippedFile):
            raise
        raise InvalidInput(
            f"{where}: {exc.message}",
            hint="Records before it were imported; import again after fixing it.",
        ) from None


def read_jsonl(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"line {number} is not JSON ({exc.msg} at column {exc.colno}).",
                hint="Nothing after that line was imported; fix it and import again.",
            ) from None
        if not isinstance(record, dict):
            raise InvalidInput(f"line {number} is not a JSON object.")
        yield record


# ---- Markdown folder ---------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "memory"


def export_markdown(svc: MemoryService, folder: Path, filters: SearchFilters | None = None) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for m in iter_all(svc, filters):
        record = memory_record(svc, m)
        body = record.pop("content")
        front = yamlsafe.dump(record)  # read back by read_markdown, which refuses aliases
        (folder / f"{m.id}-{_slug(m.title)}.md").write_text(
            f"---\n{front}---\n{body}", encoding="utf-8"
        )
        count += 1
    return count


MAX_RECORD_YAML_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class SkippedFile:
    """A file of an export folder that cannot be read as a record, and why."""

    path: str
    reason: str


SOURCE_KEY = "__file__"  # where a Markdown record came from (for messages; not a Memory field)


def read_markdown(folder: Path) -> Iterator[dict[str, Any] | SkippedFile]:
    """The records of an export folder, in file-name order; a file that is not one comes as a
    ``SkippedFile`` with its reason (``import_records`` stops there, or skips it and goes on)."""
    for path in sorted(folder.glob("*.md")):
        try:
            record = _markdown_record(path)
        except InvalidInput as exc:
            yield SkippedFile(str(path), exc.message)
            continue
        yield record


def _markdown_record(path: Path) -> dict[str, Any]:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", _read_export(path), re.S)
    if not match:
        raise InvalidInput(
            f"{path} has no front matter.", hint="Export with `devmem export --markdown`."
        )
    try:
        # A whole record (content aside) may pass the 64 KiB metadata limit: bound the
        # parse by the largest export, not by the metadata alone.
        record = yamlsafe.load(match.group(1), max_bytes=MAX_RECORD_YAML_BYTES) or {}
    except InvalidInput as exc:  # aliases (a bomb), deep nesting: refused before expansion
        raise InvalidInput(f"{path}: front matter refused: {exc.message}.") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(
            f"{path}: front matter is not valid YAML ({' '.join(str(exc).split())})."
        ) from None
    if not isinstance(record, dict):
        raise InvalidInput(f"{path}: front matter is not a mapping of fields.")
    record["content"] = match.group(2)
    record[SOURCE_KEY] = str(path)
    return record


def _read_export(path: Path) -> str:
    """The text of an exported file; a FIFO or device named ``*.md`` is refused, not opened
    (opening a FIFO blocks for ever)."""
    if not path.is_file():
        raise InvalidInput(f"{path} is not a regular file.", hint="Remove it from the folder.")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"{path} is not UTF-8 text.", hint="Export with `devmem export --markdown`."
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}.") from None
