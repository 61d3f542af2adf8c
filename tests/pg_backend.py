"""White-box access to the PostgreSQL backend, for tests that look under its interface."""

from __future__ import annotations

from typing import Any

import psycopg

from core.storage.pg_storage import PgStorage


def conninfo(svc: Any) -> str:
    """The connection string of the service's (or storage's) PostgreSQL store."""
    storage = getattr(svc, "storage", svc)
    assert isinstance(storage, PgStorage)
    return storage._db.conninfo


def execute(svc: Any, statement: str) -> None:
    """Run one statement on the store's database, as its login role, outside the storage."""
    with psycopg.connect(conninfo(svc), autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]
