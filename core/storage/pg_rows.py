"""Mapping between PostgreSQL `memories` rows and :class:`core.models.Memory`, and the
SQL conditions of :class:`core.models.SearchFilters` (over `memories` as `m`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.models import Memory, SearchFilters
from core.storage.memory_rows import fts_title, memory_from_row

MEMORY_COLUMNS = (
    "m.seq, m.id, m.title, m.content, m.content_hash, m.kind, m.tags, m.project, m.anchor_path,"
    " m.anchor_start, m.anchor_end, m.anchor_symbol, m.anchor_commit, m.anchor_fingerprint,"
    " m.source, m.external_id, m.source_url, m.provenance, m.visibility, m.created_at,"
    " m.updated_at, m.event_at, m.version, m.metadata"
)


def row_to_memory(row: Sequence[Any]) -> Memory:
    """Build a Memory from a row selected with MEMORY_COLUMNS (tags are a text[])."""
    return memory_from_row(row, row[6])


def memory_values(m: Memory) -> dict[str, Any]:
    """The column values of a memory (named parameters of the insert and the update)."""
    a = m.anchor
    return {
        "id": m.id,
        "title": m.title,
        "fts_title": fts_title(m),
        "content": m.content,
        "content_hash": m.content_hash,
        "kind": m.kind,
        "tags": list(m.tags),
        "tags_text": " ".join(m.tags),
        "project": m.project,
        "anchor_path": a.path if a else None,
        "anchor_start": a.start_line if a else None,
        "anchor_end": a.end_line if a else None,
        "anchor_symbol": a.symbol if a else None,
        "anchor_commit": a.commit if a else None,
        "anchor_fingerprint": a.fingerprint if a else None,
        "source": m.source,
        "external_id": m.external_id,
        "source_url": m.source_url,
        "provenance": int(m.provenance),
        "visibility": m.visibility,
        "created_at": m.created_at,
        "updated_at": m.updated_at,
        "event_at": m.event_at,
        "version": m.version,
        "metadata": json.dumps(m.metadata, ensure_ascii=False),
    }


def is_empty(f: SearchFilters | None) -> bool:
    return f is None or not (
        f.kinds or f.tags or f.project or f.source or f.visibility or f.since or f.until or f.path
    )


def where(f: SearchFilters | None) -> tuple[str, list[Any]]:
    """A ``WHERE`` fragment (without the keyword; ``true`` when empty) and its parameters."""
    if f is None:
        return "true", []
    parts: list[str] = []
    args: list[Any] = []
    if f.kinds:
        parts.append("m.kind = ANY(%s::text[])")
        args.append(list(f.kinds))
    if f.visibility:
        parts.append("m.visibility = ANY(%s::text[])")
        args.append(list(f.visibility))
    if f.project:
        # memories with no project (general notes) belong to every project's scope
        parts.append("(m.project = %s OR m.project IS NULL)")
        args.append(f.project)
    if f.source:
        parts.append("(m.source = %s OR m.source LIKE %s)")
        args += [f.source, _like_escaped(f.source) + ":%"]
    if f.since:
        parts.append("coalesce(m.event_at, m.created_at) >= %s")
        args.append(f.since)
    if f.until:
        parts.append("coalesce(m.event_at, m.created_at) <= %s")
        args.append(f.until)
    if f.path:
        if f.path.endswith("/"):
            parts.append("m.anchor_path LIKE %s")
            args.append(_like_escaped(f.path) + "%")
        else:
            parts.append("m.anchor_path = %s")
            args.append(f.path)
    if f.tags:
        parts.append("m.tags @> %s::text[]" if f.tags_mode == "all" else "m.tags && %s::text[]")
        args.append(list(dict.fromkeys(f.tags)))
    return (" AND ".join(parts) or "true"), args


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
