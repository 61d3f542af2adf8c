"""Mapping between `memories` rows and :class:`core.models.Memory`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.models import CodeAnchor, Memory, Provenance

MEMORY_COLUMNS = (
    "rowid, id, title, content, content_hash, kind, tags, project, anchor_path, anchor_start, "
    "anchor_end, anchor_symbol, anchor_commit, anchor_fingerprint, source, external_id, "
    "source_url, provenance, visibility, created_at, updated_at, event_at, version, metadata"
)


def row_to_memory(row: Sequence[Any]) -> Memory:
    """Build a Memory from a row selected with MEMORY_COLUMNS."""
    anchor = None
    if row[8]:
        anchor = CodeAnchor(
            path=row[8],
            start_line=row[9],
            end_line=row[10],
            symbol=row[11],
            commit=row[12],
            fingerprint=row[13],
        )
    return Memory(
        id=row[1],
        title=row[2],
        content=row[3],
        content_hash=row[4],
        kind=row[5],
        tags=tuple(json.loads(row[6])),
        project=row[7],
        anchor=anchor,
        source=row[14],
        external_id=row[15],
        source_url=row[16],
        provenance=Provenance(row[17]),
        visibility=row[18],
        created_at=row[19],
        updated_at=row[20],
        event_at=row[21],
        version=row[22],
        metadata=json.loads(row[23]),
    )


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
