"""SQLite upkeep: statistics, index health, the text index rebuild, backups, vectors by id."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import StoreError
from core.storage import sqlite_db as db
from core.storage import sqlite_graph as graph_sql
from core.storage.base import IndexHealth
from core.storage.memory_rows import fts_title
from core.storage.sqlite_db import Connection
from core.storage.sqlite_rows import MEMORY_COLUMNS, row_to_memory
from core.storage.sqlite_store import Store


def stats(store: Store) -> dict[str, Any]:
    """Counts by kind, project and source; sizes; model, graph and schema."""
    conn = store.conn()

    def grouped(column: str) -> dict[str, int]:
        return {
            str(r[0] if r[0] is not None else "(none)"): int(r[1])
            for r in conn.execute(
                f"SELECT {column}, count(*) FROM memories GROUP BY {column} ORDER BY 2 DESC LIMIT 50"
            )
        }

    graph = graph_sql.counts(conn)
    return {
        "memories": store.count(),
        "vectors": _count(conn, "memory_vectors"),
        "by_kind": grouped("kind"),
        "by_project": grouped("project"),
        "by_source": grouped("source"),
        "links": _count(conn, "memory_links"),
        "db_path": store.path,
        "db_bytes": sum(os.path.getsize(p) for p in _db_files(store.path)),
        "embedding_model": db.get_meta(conn, "embedding_model"),
        "entities": graph["entities"],
        "entities_by_type": graph["entities_by_type"],
        "relations": graph["relations"],
        "schema_version": int(db.get_meta(conn, "schema_version") or 0),
    }


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _db_files(path: str) -> list[str]:
    return [p for p in (path, path + "-wal", path + "-shm") if os.path.exists(p)]


def health(store: Store) -> IndexHealth:
    conn = store.conn()
    integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    if integrity != "ok":  # counting rows of a damaged file may itself fail
        return IndexHealth(integrity, 0, 0, 0, 0, 0, None)
    orphans_fts = int(
        conn.execute(
            "SELECT count(*) FROM memory_fts WHERE rowid NOT IN (SELECT rowid FROM memories)"
        ).fetchone()[0]
    )
    orphans_vec = int(
        conn.execute(
            "SELECT count(*) FROM memory_vectors WHERE rowid NOT IN (SELECT rowid FROM memories)"
        ).fetchone()[0]
    )
    ann = _count(conn, "memory_vec_rowids") if store.vector_table_ready() else None
    return IndexHealth(
        integrity,
        store.count(),
        _count(conn, "memory_fts"),
        orphans_fts,
        _count(conn, "memory_vectors"),
        orphans_vec,
        ann,
    )


def backend_check(conn: Connection) -> tuple[bool, str]:
    try:
        version = conn.execute("SELECT vec_version()").fetchone()[0]
    except Exception as exc:  # the extension did not load: say so, do not crash the doctor
        return False, str(exc)
    return True, f"sqlite-vec {version} loaded"


def rebuild_text_index(store: Store) -> int:
    with store.write() as conn:
        conn.execute("DELETE FROM memory_fts")
        last = 0
        while rows := conn.execute(
            f"SELECT {MEMORY_COLUMNS} FROM memories WHERE rowid > ? ORDER BY rowid LIMIT 200",
            (last,),
        ).fetchall():
            for r in rows:
                m = row_to_memory(r)
                conn.execute(
                    "INSERT INTO memory_fts(rowid, title, content, tags) VALUES (?, ?, ?, ?)",
                    (r[0], fts_title(m), m.content, " ".join(m.tags)),
                )
            last = int(rows[-1][0])
    return store.count()


def backup(conn: Connection, dest: Path) -> None:
    """A consistent copy made with SQLite's online backup API (safe while others write)."""
    if dest.exists():
        raise StoreError(
            f"{dest} already exists.", hint="Choose a new file name; nothing was overwritten."
        )
    target = db.connect(dest)
    try:
        conn.backup(target)
    finally:
        target.close()


def stored_vector(conn: Connection, memory_id: str) -> np.ndarray | None:
    row = conn.execute(
        "SELECT v.vector FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid WHERE m.id = ?",
        (memory_id.upper(),),
    ).fetchone()
    return None if row is None else np.frombuffer(row[0], dtype=np.float32)


def ids_without_vectors(conn: Connection, limit: int) -> list[str]:
    rows = conn.execute(
        "SELECT m.id FROM memories m LEFT JOIN memory_vectors v ON v.rowid = m.rowid"
        " WHERE v.rowid IS NULL LIMIT ?",
        (limit,),
    )
    return [str(r[0]) for r in rows]
