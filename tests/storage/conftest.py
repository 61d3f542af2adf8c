"""The ``storage`` fixture: a fresh, empty store of each backend the contract runs against.

A new backend joins by adding its name to ``BACKENDS`` and a branch to ``_open`` (and
``_location``, for the tests that open a second storage object on the same store)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.storage import Storage, open_storage
from tests import pgserver

BACKENDS = ["sqlite", "postgres"]


def _location(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return str(tmp_path / "contract.db")
    if backend == "postgres":  # a fresh database on the tests' own server (tests/pgserver.py)
        return pgserver.shared().fresh_database("contract")
    raise NotImplementedError(backend)


def _open(backend: str, location: str) -> Storage:
    if backend in ("sqlite", "postgres"):
        return open_storage(location)
    raise NotImplementedError(backend)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def location(backend: str, tmp_path: Path) -> str:
    return _location(backend, tmp_path)


@pytest.fixture
def storage(backend: str, location: str) -> Iterator[Storage]:
    opened = _open(backend, location)
    opened.prepare_vectors("test:8-dims", 8)
    yield opened
    opened.close()


@pytest.fixture
def reopen(backend: str, location: str) -> Iterator[object]:
    """Opens another storage object on the same store (another process's view)."""
    opened: list[Storage] = []

    def make() -> Storage:
        opened.append(_open(backend, location))
        return opened[-1]

    yield make
    for s in opened:
        s.close()


def old_store(backend: str, location: str, memory_id: str, vector: list[float]) -> None:
    """Leave at ``location`` a store written by the first schema version, holding one memory
    (``memory_id``, content "legacy cache note") with ``vector``."""
    if backend == "postgres":
        _old_pg_store(location, memory_id, vector)
        return
    if backend != "sqlite":
        raise NotImplementedError(backend)
    import numpy as np

    from core.storage import sqlite_db

    conn = sqlite_db.connect(location)
    sqlite_db.MIGRATIONS[0](conn)
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('schema_version', '1'), ('embedding_model', 'test:8-dims'),"
        " ('embedding_dim', '8')"
    )
    conn.execute(
        "INSERT INTO memories (id, title, content, content_hash, kind, source, provenance, visibility,"
        " created_at, updated_at) VALUES (?, '', 'legacy cache note', 'h', 'note', 'user', 3,"
        " 'private', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
        (memory_id,),
    )
    conn.execute(
        "INSERT INTO memory_fts(rowid, title, content, tags) VALUES (1, '', 'legacy cache note', '')"
    )
    conn.execute(
        "INSERT INTO memory_vectors(rowid, model, vector) VALUES (1, 'test:8-dims', ?)",
        (np.asarray(vector, dtype=np.float32).tobytes(),),
    )
    conn.execute(
        "INSERT INTO memory_versions(memory_rowid, version, title, content, changed_at, changed_by)"
        " VALUES (1, 1, '', 'legacy cache note', '2024-01-01T00:00:00Z', 'user')"
    )
    conn.close()


def _old_pg_store(url: str, memory_id: str, vector: list[float]) -> None:
    import numpy as np
    import psycopg

    from core.storage import pg_schema

    (version, script) = pg_schema.STORAGE_STEPS[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, org_id text NOT NULL"
            " DEFAULT 'default', applied_at timestamptz NOT NULL DEFAULT now())"
        )
        conn.execute(script)  # type: ignore[arg-type]
        conn.execute("INSERT INTO schema_migrations(version) VALUES (%s)", (version,))
        conn.execute(
            "INSERT INTO devmem_meta(key, value) VALUES ('embedding_model', 'test:8-dims'),"
            " ('embedding_dim', '8')"
        )
        conn.execute(
            "INSERT INTO memories (id, title, content, content_hash, kind, source, provenance,"
            " visibility, created_at, updated_at) VALUES (%s, '', 'legacy cache note', 'h', 'note',"
            " 'user', 3, 'private', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z')",
            (memory_id,),
        )
        conn.execute(
            "INSERT INTO memory_vectors(memory_id, model, embedding) VALUES (%s, 'test:8-dims', %s::vector)",
            (memory_id, str(np.asarray(vector, dtype=np.float32).tolist())),
        )
        conn.execute(
            "INSERT INTO memory_versions(memory_id, version, title, content, changed_at, changed_by)"
            " VALUES (%s, 1, '', 'legacy cache note', '2024-01-01T00:00:00Z', 'user')",
            (memory_id,),
        )


def stored_bytes(backend: str, location: str) -> bytes:
    """Every byte the backend keeps for the store on this machine (PostgreSQL: every row of
    the database, as a logical dump holds it; dead tuples are the server's VACUUM's)."""
    if backend == "postgres":
        return pgserver.shared().pg_dump_data(location)
    if backend != "sqlite":
        raise NotImplementedError(backend)
    return b"".join(
        p.read_bytes()
        for p in (Path(location), Path(f"{location}-wal"), Path(f"{location}-shm"))
        if p.exists()
    )
