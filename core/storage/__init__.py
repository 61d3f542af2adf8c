"""Storage: the one place that knows how memories are kept (today SQLite; PostgreSQL next).

``open_storage(location)`` picks the backend by location; the interface (``Storage``,
``Transaction``) and the domain types that cross it live in ``core.storage.base``.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import StoreError
from core.storage.base import (
    ContextNeighbour,
    IndexHealth,
    MemoryBrief,
    MemoryOpening,
    RebuildResult,
    RelationRow,
    Storage,
    TextCandidate,
    Transaction,
    VectorCandidate,
)  # fmt: skip
from core.storage.sqlite_storage import SqliteStorage

__all__ = [
    "ContextNeighbour",
    "IndexHealth",
    "MemoryBrief",
    "MemoryOpening",
    "RebuildResult",
    "RelationRow",
    "SqliteStorage",
    "Storage",
    "TextCandidate",
    "Transaction",
    "VectorCandidate",
    "open_storage",
]


def open_storage(location: Path | str) -> Storage:
    """The storage at ``location``: a file path or ``sqlite:///path`` opens SQLite.

    Raises:
        StoreError: for a ``postgresql://`` URL (that backend is not available yet) or any
            other scheme, and when the database cannot be opened."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        raise StoreError(
            "The PostgreSQL backend is not available yet.",
            hint="Use a SQLite file path (or sqlite:///path) for --db / DEVMEM_DB.",
        )
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]  # sqlite:///rel/path, sqlite:////abs/path
    elif "://" in text:
        raise StoreError(
            f"Unknown store location {text!r}.", hint="Use a file path or sqlite:///path."
        )
    return SqliteStorage(text)
