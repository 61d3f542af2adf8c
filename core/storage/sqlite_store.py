"""The SQLite store: rows, FTS rows, vector rows, versions and links, kept consistent.

All SQL of DevMemory lives in this package (``core.storage``); this class works in rowids,
which ``SqliteStorage`` and ``SqliteTransaction`` turn into memory ids for everyone else.
Several processes share one file: WAL, a busy timeout, short IMMEDIATE transactions and
retries on "database is locked" keep every writer's acknowledged writes.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.models import Link, Memory, Version
from core.storage import sqlite_db as db
from core.storage import sqlite_vectors as vector_index
from core.storage.memory_rows import fts_title
from core.storage.sqlite_db import Connection
from core.storage.sqlite_rows import MEMORY_COLUMNS, anchor_values, row_to_memory

VEC_TABLE = "memory_vec"


class Store:
    """One database file; a connection per thread, one writer at a time per process."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._all_conns: list[Connection] = []
        self.bit_index = vector_index.BitIndex()
        db.migrate(self.conn(), self._write_lock, self.path)

    def conn(self) -> Connection:
        """This thread's connection (opened on first use)."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = db.connect(self.path)
            self._local.conn = conn
            self._all_conns.append(conn)
        return conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction on this thread's connection."""
        with db.write_transaction(self.conn(), self._write_lock) as conn:
            yield conn

    def purge_deleted(self) -> bool:
        """After deletions: push them out of the WAL too (see ``db.purge_wal``)."""
        with self._write_lock:
            return db.purge_wal(self.conn())

    def close(self) -> None:
        for conn in self._all_conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._all_conns.clear()
        self._local = threading.local()

    # ---- reads -------------------------------------------------------------------------
    def get(self, memory_id: str) -> tuple[int, Memory] | None:
        row = (
            self.conn()
            .execute(f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ?", (memory_id.upper(),))
            .fetchone()
        )
        return None if row is None else (row[0], row_to_memory(row))

    def get_many(self, rowids: Sequence[int]) -> dict[int, Memory]:
        out: dict[int, Memory] = {}
        for chunk_start in range(0, len(rowids), 500):
            chunk = list(rowids[chunk_start : chunk_start + 500])
            marks = ",".join("?" * len(chunk))
            for row in self.conn().execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE rowid IN ({marks})", chunk
            ):
                out[row[0]] = row_to_memory(row)
        return out

    def find_by_hash(self, content_hash: str, project: str | None) -> tuple[int, Memory] | None:
        # "+project" keeps SQLite on the hash index: it otherwise picks the project index,
        # 47 ms instead of 0.1 ms per write at 100k memories.
        row = (
            self.conn()
            .execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE content_hash = ? AND +project IS ? LIMIT 1",
                (content_hash, project),
            )
            .fetchone()
        )
        return None if row is None else (row[0], row_to_memory(row))

    def find_external(self, source: str, external_id: str) -> tuple[int, Memory] | None:
        row = (
            self.conn()
            .execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE source = ? AND external_id = ?",
                (source, external_id),
            )
            .fetchone()
        )
        return None if row is None else (row[0], row_to_memory(row))

    def external_ids(self, source: str, prefix: str = "") -> dict[str, str]:
        """external id → content hash of every memory a connector imported (for deletions)."""
        rows = self.conn().execute(
            "SELECT external_id, content_hash FROM memories WHERE source = ? AND external_id IS NOT NULL"
            " AND substr(external_id, 1, ?) = ?",
            (source, len(prefix), prefix),
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        # A range on the id index ('~' sorts after every base32 character), not a LIKE scan.
        start = prefix.upper()
        rows = self.conn().execute(
            "SELECT id FROM memories WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (start, start + "~", limit),
        )
        return [str(r[0]) for r in rows]

    def adjacent_ids(self, memory_id: str) -> list[str]:
        key = memory_id.upper()
        conn = self.conn()
        before = conn.execute(
            "SELECT id FROM memories WHERE id < ? ORDER BY id DESC LIMIT 1", (key,)
        ).fetchone()
        after = conn.execute(
            "SELECT id FROM memories WHERE id > ? ORDER BY id LIMIT 1", (key,)
        ).fetchone()
        return [str(r[0]) for r in (before, after) if r is not None]

    def rowid_of(self, memory_id: str) -> int | None:
        row = (
            self.conn()
            .execute("SELECT rowid FROM memories WHERE id = ?", (memory_id.upper(),))
            .fetchone()
        )
        return None if row is None else int(row[0])

    def count(self) -> int:
        return int(self.conn().execute("SELECT count(*) FROM memories").fetchone()[0])

    # ---- writes (inside `with store.write()`) -------------------------------------------
    def insert(self, conn: Connection, m: Memory, vector: np.ndarray | None, model: str) -> int:
        cur = conn.execute(
            "INSERT INTO memories (id, title, content, content_hash, kind, tags, project, anchor_path,"
            " anchor_start, anchor_end, anchor_symbol, anchor_commit, anchor_fingerprint, source,"
            " external_id, source_url, provenance, visibility, created_at, updated_at, event_at,"
            " version, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                m.id,
                m.title,
                m.content,
                m.content_hash,
                m.kind,
                json.dumps(list(m.tags)),
                m.project,
                *anchor_values(m.anchor),
                m.source,
                m.external_id,
                m.source_url,
                int(m.provenance),
                m.visibility,
                m.created_at,
                m.updated_at,
                m.event_at,
                m.version,
                json.dumps(m.metadata, ensure_ascii=False),
            ),
        )
        rowid = int(cur.lastrowid or 0)
        self._index(conn, rowid, m, vector, model)
        return rowid

    def replace(
        self, conn: Connection, rowid: int, m: Memory, vector: np.ndarray | None, model: str
    ) -> None:
        conn.execute(
            "UPDATE memories SET title=?, content=?, content_hash=?, kind=?, tags=?, project=?,"
            " anchor_path=?, anchor_start=?, anchor_end=?, anchor_symbol=?, anchor_commit=?,"
            " anchor_fingerprint=?, source_url=?, provenance=?, visibility=?, updated_at=?,"
            " event_at=?, version=?, metadata=? WHERE rowid=?",
            (
                m.title,
                m.content,
                m.content_hash,
                m.kind,
                json.dumps(list(m.tags)),
                m.project,
                *anchor_values(m.anchor),
                m.source_url,
                int(m.provenance),
                m.visibility,
                m.updated_at,
                m.event_at,
                m.version,
                json.dumps(m.metadata, ensure_ascii=False),
                rowid,
            ),
        )
        self._unindex(conn, rowid)
        self._index(conn, rowid, m, vector, model)

    def update_anchor(self, conn: Connection, rowid: int, start: int, end: int) -> None:
        conn.execute(
            "UPDATE memories SET anchor_start=?, anchor_end=? WHERE rowid=?", (start, end, rowid)
        )

    def delete(self, conn: Connection, rowid: int) -> None:
        self._unindex(conn, rowid)
        conn.execute("DELETE FROM memories WHERE rowid = ?", (rowid,))

    def _index(
        self, conn: Connection, rowid: int, m: Memory, vector: np.ndarray | None, model: str
    ) -> None:
        conn.executemany(
            "INSERT OR IGNORE INTO memory_tags(memory_rowid, tag) VALUES (?, ?)",
            [(rowid, t) for t in m.tags],
        )
        conn.execute(
            "INSERT INTO memory_fts(rowid, title, content, tags) VALUES (?, ?, ?, ?)",
            (rowid, fts_title(m), m.content, " ".join(m.tags)),
        )
        if vector is not None:
            self.put_vector(conn, rowid, vector, model)

    def _unindex(self, conn: Connection, rowid: int) -> None:
        conn.execute("DELETE FROM memory_tags WHERE memory_rowid = ?", (rowid,))
        conn.execute("DELETE FROM memory_fts WHERE rowid = ?", (rowid,))
        self.delete_vector(conn, rowid)

    # ---- vectors -----------------------------------------------------------------------
    def vector_table_ready(self) -> bool:
        row = (
            self.conn()
            .execute("SELECT 1 FROM sqlite_master WHERE name = ?", (VEC_TABLE,))
            .fetchone()
        )
        return row is not None

    def ensure_vector_table(self, identity: str, dim: int) -> str | None:
        """Create the vec0 table for this model; a notice if the store holds another model's vectors."""
        conn = self.conn()
        stored = db.get_meta(conn, "embedding_model")
        if stored is not None and stored != identity:
            return (
                f"This store's vectors were made by {stored}, not {identity}: vector search "
                "is off until you run `devmem reindex`."
            )
        if stored is None or not self.vector_table_ready():
            with self.write() as wconn:
                self._create_vector_table(wconn, identity, dim)
        return None

    def _create_vector_table(self, conn: Connection, identity: str, dim: int) -> None:
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {VEC_TABLE} USING vec0(embedding bit[{dim}])"
        )
        db.set_meta(conn, "embedding_model", identity)
        db.set_meta(conn, "embedding_dim", str(dim))

    def reset_vectors(self, conn: Connection, identity: str, dim: int) -> None:
        """Drop every vector (a change of model) and start a fresh vec0 table."""
        conn.execute(f"DROP TABLE IF EXISTS {VEC_TABLE}")
        conn.execute("DELETE FROM memory_vectors")
        # log every removal so other processes' in-memory indexes drop them too
        conn.execute("INSERT INTO vector_changes(rowid) SELECT rowid FROM memory_bits")
        conn.execute("DELETE FROM memory_bits")
        self._create_vector_table(conn, identity, dim)

    def put_vector(self, conn: Connection, rowid: int, vector: np.ndarray, model: str) -> None:
        blob = np.asarray(vector, dtype=np.float32).tobytes()
        conn.execute(
            "INSERT OR REPLACE INTO memory_vectors(rowid, model, vector) VALUES (?, ?, ?)",
            (rowid, model, blob),
        )
        conn.execute(f"DELETE FROM {VEC_TABLE} WHERE rowid = ?", (rowid,))
        conn.execute(
            f"INSERT INTO {VEC_TABLE}(rowid, embedding) VALUES (?, vec_quantize_binary(?))",
            (rowid, blob),
        )
        vector_index.record(conn, rowid, vector)

    def delete_vector(self, conn: Connection, rowid: int) -> None:
        if conn.execute("DELETE FROM memory_vectors WHERE rowid = ?", (rowid,)).rowcount:
            vector_index.record(conn, rowid, None)
        if self.vector_table_ready():
            conn.execute(f"DELETE FROM {VEC_TABLE} WHERE rowid = ?", (rowid,))

    def rowids_without_vectors(self, limit: int) -> list[int]:
        rows = self.conn().execute(
            "SELECT m.rowid FROM memories m LEFT JOIN memory_vectors v ON v.rowid = m.rowid"
            " WHERE v.rowid IS NULL LIMIT ?",
            (limit,),
        )
        return [int(r[0]) for r in rows]

    # ---- versions ----------------------------------------------------------------------
    def add_version(
        self,
        conn: Connection,
        rowid: int,
        m: Memory,
        changed_by: str,
        *,
        pending: bool = False,
        version: int | None = None,
    ) -> int:
        if version is None:
            row = conn.execute(
                "SELECT coalesce(max(version), 0) FROM memory_versions WHERE memory_rowid = ?",
                (rowid,),
            ).fetchone()
            version = int(row[0]) + 1
        fields = {
            "kind": m.kind,
            "tags": list(m.tags),
            "project": m.project,
            "visibility": m.visibility,
            "metadata": m.metadata,
        }
        conn.execute(
            "INSERT INTO memory_versions(memory_rowid, version, title, content, fields, changed_at,"
            " changed_by, pending) VALUES (?,?,?,?,?,?,?,?)",
            (
                rowid,
                version,
                m.title,
                m.content,
                json.dumps(fields, ensure_ascii=False),
                m.updated_at,
                changed_by,
                int(pending),
            ),
        )
        return version

    def next_version(self, rowid: int) -> int:
        row = (
            self.conn()
            .execute(
                "SELECT coalesce(max(version), 0) FROM memory_versions WHERE memory_rowid = ?",
                (rowid,),
            )
            .fetchone()
        )
        return int(row[0]) + 1

    def versions(self, rowid: int) -> list[Version]:
        rows = self.conn().execute(
            "SELECT version, title, content, changed_at, changed_by, pending FROM memory_versions"
            " WHERE memory_rowid = ? ORDER BY version",
            (rowid,),
        )
        return [Version(int(r[0]), r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def version_fields(self, rowid: int, version: int) -> dict[str, Any] | None:
        row = (
            self.conn()
            .execute(
                "SELECT title, content, fields FROM memory_versions WHERE memory_rowid=? AND version=?",
                (rowid, version),
            )
            .fetchone()
        )
        if row is None:
            return None
        return {"title": row[0], "content": row[1], **json.loads(row[2])}

    def clear_pending(self, conn: Connection, rowid: int, version: int) -> None:
        conn.execute(
            "UPDATE memory_versions SET pending = 0 WHERE memory_rowid=? AND version=?",
            (rowid, version),
        )

    # ---- links -------------------------------------------------------------------------
    def add_link(self, conn: Connection, src: int, dst: int, link_type: str, at: str) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO memory_links(source_rowid, target_rowid, type, created_at)"
            " VALUES (?, ?, ?, ?)",
            (src, dst, link_type, at),
        )

    def remove_link(self, conn: Connection, src: int, dst: int, link_type: str | None) -> int:
        sql = "DELETE FROM memory_links WHERE source_rowid=? AND target_rowid=?"
        args: tuple[Any, ...] = (src, dst)
        if link_type:
            sql, args = sql + " AND type=?", (*args, link_type)
        return int(conn.execute(sql, args).rowcount)

    def links_of(self, rowid: int) -> list[Link]:
        rows = self.conn().execute(
            "SELECT s.id, t.id, l.type, l.created_at FROM memory_links l"
            " JOIN memories s ON s.rowid = l.source_rowid JOIN memories t ON t.rowid = l.target_rowid"
            " WHERE l.source_rowid = ? OR l.target_rowid = ? ORDER BY l.created_at",
            (rowid, rowid),
        )
        return [Link(r[0], r[1], r[2], r[3]) for r in rows]

    def all_links(self) -> Iterable[Link]:
        rows = self.conn().execute(
            "SELECT s.id, t.id, l.type, l.created_at FROM memory_links l"
            " JOIN memories s ON s.rowid = l.source_rowid JOIN memories t ON t.rowid = l.target_rowid"
        )
        return (Link(r[0], r[1], r[2], r[3]) for r in rows)
