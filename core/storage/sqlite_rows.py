"""Mapping between `memories` rows and :class:`core.models.Memory`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.models import CodeAnchor, Memory
from core.storage.memory_rows import memory_from_row

MEMORY_COLUMNS = (
    "rowid, id, title, content, content_hash, kind, tags, project, anchor_path, anchor_start, "
    "anchor_end, anchor_symbol, anchor_commit, anchor_fingerprint, source, external_id, "
    "source_url, provenance, visibility, created_at, updated_at, event_at, version, metadata"
)


def row_to_memory(row: Sequence[Any]) -> Memory:
    """Build a Memory from a row selected with MEMORY_COLUMNS (tags stored as JSON text)."""
    return memory_from_row(row, json.loads(row[6]))


def anchor_values(anchor: CodeAnchor | None) -> tuple[Any, ...]:
    if anchor is None:
        return (None,) * 6
    return (
        anchor.path,
        anchor.start_line,
        anchor.end_line,
        anchor.symbol,
        anchor.commit,
        anchor.fingerprint,
    )
