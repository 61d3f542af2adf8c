"""What both backends share about a `memories` row: the Memory it holds and the title the
full-text index gets. Each backend selects the same 24 columns in the same order (its own
first column: SQLite's rowid, PostgreSQL's seq) and decodes its own tag encoding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.models import CodeAnchor, Memory, Provenance


def memory_from_row(row: Sequence[Any], tags: Sequence[str]) -> Memory:
    """Build a Memory from a row selected with a backend's MEMORY_COLUMNS (tags decoded)."""
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
        tags=tuple(tags),
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


def fts_title(m: Memory) -> str:
    """The title as indexed: empty when it is just the content's first line, so a derived
    title does not count the same words twice in the ranking."""
    head = m.title.rstrip("…")
    return "" if m.content.lstrip().startswith(head) else m.title
