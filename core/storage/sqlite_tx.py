"""The SQLite unit of work: one IMMEDIATE transaction, methods that take domain objects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import NotFound
from core.models import EntityRef, Memory
from core.storage import sqlite_graph_index as graph_index
from core.storage import sqlite_sync as sync_state
from core.storage.sqlite_db import Connection
from core.storage.sqlite_store import Store


class SqliteTransaction:
    """What ``SqliteStorage.transaction()`` yields: every method runs in its transaction.

    Memories are named by id; the rowid each id has is looked up once and kept for the
    rest of the transaction (nothing else can renumber them while it holds the write lock)."""

    def __init__(self, store: Store, conn: Connection, model: str) -> None:
        self._store = store
        self._conn = conn
        self._model = model
        self._rowids: dict[str, int] = {}

    def _rowid(self, memory_id: str) -> int:
        key = memory_id.upper()
        rowid = self._rowids.get(key)
        if rowid is None:
            rowid = self._store.rowid_of(key)
            if rowid is None:
                raise NotFound(f"No memory has the id {memory_id!r}.")
            self._rowids[key] = rowid
        return rowid

    def insert(self, memory: Memory, vector: np.ndarray | None) -> None:
        self._rowids[memory.id] = self._store.insert(self._conn, memory, vector, self._model)

    def replace(self, memory: Memory, vector: np.ndarray | None) -> None:
        self._store.replace(self._conn, self._rowid(memory.id), memory, vector, self._model)

    def delete(self, memory_id: str) -> None:
        rowid = self._rowid(memory_id)
        graph_index.unindex_memory(self._conn, rowid)
        self._store.delete(self._conn, rowid)
        self._rowids.pop(memory_id.upper(), None)

    def set_anchor_lines(self, memory_id: str, start: int, end: int) -> None:
        self._store.update_anchor(self._conn, self._rowid(memory_id), start, end)

    def add_version(
        self, memory: Memory, changed_by: str, *, pending: bool = False, version: int | None = None
    ) -> int:
        return self._store.add_version(
            self._conn, self._rowid(memory.id), memory, changed_by, pending=pending, version=version
        )

    def clear_pending(self, memory_id: str, version: int) -> None:
        self._store.clear_pending(self._conn, self._rowid(memory_id), version)

    def add_link(self, source_id: str, target_id: str, link_type: str, at: str) -> None:
        src, dst = self._rowid(source_id), self._rowid(target_id)
        self._store.add_link(self._conn, src, dst, link_type, at)
        graph_index.link_relation(self._conn, src, dst, link_type)

    def remove_link(self, source_id: str, target_id: str, link_type: str | None) -> int:
        return self._store.remove_link(
            self._conn, self._rowid(source_id), self._rowid(target_id), link_type
        )

    def put_vector(self, memory_id: str, vector: np.ndarray) -> None:
        self._store.put_vector(self._conn, self._rowid(memory_id), vector, self._model)

    def reset_vectors(self, model: str, dim: int) -> None:
        self._model = model
        self._store.reset_vectors(self._conn, model, dim)

    def index_graph(self, memory: Memory, refs: Sequence[EntityRef] = ()) -> int:
        return graph_index.index_memory(self._conn, self._rowid(memory.id), memory, refs)

    def reindex_graph(self, memory: Memory, refs: Sequence[EntityRef] | None = None) -> int:
        return graph_index.reindex_memory(self._conn, self._rowid(memory.id), memory, refs)

    def set_cursor(self, connector: str, scope: str, value: str) -> None:
        sync_state.put(self._conn, connector, scope, value)

    def delete_cursor(self, connector: str, scope: str) -> None:
        sync_state.delete(self._conn, connector, scope)
