"""Storage: the one place that knows how memories are kept (SQLite for one person,
PostgreSQL with pgvector for a team).

``open_storage(location)`` picks the backend by location; the interface (``Storage``,
``Transaction``) and the domain types that cross it live in ``core.storage.base``.
``acting_as(role)`` makes every PostgreSQL statement of a block run as a person's role.
"""

from __future__ import annotations

from pathlib import Path

from core.acting import acting_as, current_role
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
    "acting_as",
    "current_role",
    "open_storage",
]


def open_storage(location: Path | str, read: str | None = None) -> Storage:
    """The storage at ``location``: a file path or ``sqlite:///path`` opens SQLite; a
    ``postgresql://`` (or ``postgres://``) URL opens PostgreSQL, the URL going to libpq
    unchanged (service files, PGPASSFILE, sslmode work as in psql). ``read`` names a read
    replica of a PostgreSQL store for searches, listings and the graph (pg_replica).

    Raises:
        StoreError: for any other scheme, a replica for a SQLite store, when the PostgreSQL
            driver is not installed, and when the database cannot be opened."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return _open_postgres(text, read)
    if read:
        raise StoreError(
            "A read replica (DEVMEM_DB_READ / --db-read) needs a PostgreSQL team store.",
            hint="Unset DEVMEM_DB_READ, or use --db postgresql://USER@HOST/DB.",
        )
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///") :]  # sqlite:///rel/path, sqlite:////abs/path
    elif "://" in text:
        raise StoreError(
            f"Unknown store location {text!r}.", hint="Use a file path or sqlite:///path."
        )
    return SqliteStorage(text)


def _open_postgres(url: str, read: str | None) -> Storage:
    try:
        from core.storage.pg_storage import PgStorage
    except ImportError as exc:  # psycopg / pgvector are the `postgres` extra
        raise StoreError(
            f"The PostgreSQL driver is not installed ({exc}).",
            hint="pip install 'devmem-layer[postgres]' (psycopg, psycopg-pool, pgvector).",
        ) from exc
    if read and not read.startswith(("postgresql://", "postgres://")):
        raise StoreError(
            "DEVMEM_DB_READ / --db-read must be a postgresql:// URL of a replica.",
            hint="For example postgresql://replica.example/devmem (your login is the primary's).",
        )
    return PgStorage(url, read)
