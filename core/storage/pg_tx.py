"""The PostgreSQL unit of work: one transaction, methods that take memories and ids.

New memories are not written one statement at a time: their rows, vectors, first versions
and graphs are queued and written together (``flush``) with a few statements for the whole
batch, before anything else the transaction does, before any read of the store in the same
transaction (``PgStorage`` flushes the open unit first) and before it commits. A batch of
500 memories costs about a dozen round trips instead of a dozen each.
"""

from __future__ import annotations

import contextvars
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from core.errors import NotFound
from core.models import EntityRef, Memory
from core.storage import pg_graph_index as graph_index
from core.storage import pg_store as store
from core.storage import pg_upkeep as upkeep

OPEN: contextvars.ContextVar[PgTransaction | None] = contextvars.ContextVar(
    "devmem_pg_open_unit", default=None
)


class PgTransaction:
    """What ``PgStorage.transaction()`` yields: every method runs in its transaction."""

    def __init__(self, conn: psycopg.Connection[Any], model: str) -> None:
        self._conn = conn
        self.model = model
        self._known: set[str] = set()
        self._graph_ids = graph_index.Ids()
        self._rows: list[tuple[Memory, np.ndarray | None]] = []  # queued new memories
        self._versions: list[store.VersionRow] = []
        self._graphs = graph_index.Batch(conn, self._graph_ids)
        self._fresh: set[str] = set()  # inserted here, no links yet: its graph can wait

    def flush(self) -> None:
        """Write what is queued: memories and vectors, versions, then their graphs."""
        if self._rows:
            rows, self._rows = self._rows, []
            store.insert_many(self._conn, rows, self.model)
        if self._versions:
            versions, self._versions = self._versions, []
            store.add_versions(self._conn, versions)
        self._graphs.flush()

    def _id(self, memory_id: str) -> str:
        self.flush()
        key = memory_id.upper()
        if key not in self._known:
            if not store.exists(self._conn, key):
                raise NotFound(f"No memory has the id {memory_id!r}.")
            self._known.add(key)
        return key

    def insert(self, memory: Memory, vector: np.ndarray | None) -> None:
        self._rows.append((memory, vector))
        self._known.add(memory.id)
        self._fresh.add(memory.id)

    def replace(self, memory: Memory, vector: np.ndarray | None) -> None:
        self._id(memory.id)
        self._fresh.discard(memory.id)
        store.replace(self._conn, memory, vector, self.model)

    def delete(self, memory_id: str) -> None:
        key = self._id(memory_id)
        graph_index.unindex_memory(self._conn, key, self._graph_ids)
        store.delete(self._conn, key)
        self._known.discard(key)
        self._fresh.discard(key)

    def set_anchor_lines(self, memory_id: str, start: int, end: int) -> None:
        store.update_anchor(self._conn, self._id(memory_id), start, end)

    def add_version(
        self, memory: Memory, changed_by: str, *, pending: bool = False, version: int | None = None
    ) -> int:
        if memory.id in self._fresh and version is not None:
            self._versions.append(store.version_row(memory, changed_by, version, pending))
            return version
        self._id(memory.id)
        return store.add_version(self._conn, memory, changed_by, pending=pending, version=version)

    def clear_pending(self, memory_id: str, version: int) -> None:
        store.clear_pending(self._conn, self._id(memory_id), version)

    def add_link(self, source_id: str, target_id: str, link_type: str, at: str) -> None:
        src, dst = self._id(source_id), self._id(target_id)
        self._fresh.difference_update((src, dst))
        store.add_link(self._conn, src, dst, link_type, at)
        graph_index.link_relation(self._conn, src, self._graph_ids)

    def remove_link(self, source_id: str, target_id: str, link_type: str | None) -> int:
        return store.remove_link(self._conn, self._id(source_id), self._id(target_id), link_type)

    def put_vector(self, memory_id: str, vector: np.ndarray) -> None:
        store.put_vector(self._conn, self._id(memory_id), vector, self.model)

    def reset_vectors(self, model: str, dim: int) -> None:
        self.flush()
        self.model = model
        upkeep.set_dimension(self._conn, model, dim, keep=False)

    def index_graph(self, memory: Memory, refs: Sequence[EntityRef] = ()) -> int:
        if memory.id in self._fresh:  # no graph rows or links yet: written with the batch
            self._fresh.discard(memory.id)  # indexed once; a second call goes the long way
            return self._graphs.add(memory, refs)
        self._id(memory.id)
        return graph_index.index_memory(self._conn, memory, refs, self._graph_ids)

    def reindex_graph(self, memory: Memory, refs: Sequence[EntityRef] | None = None) -> int:
        self._id(memory.id)
        return graph_index.reindex_memory(self._conn, memory, refs, self._graph_ids)

    def set_cursor(self, connector: str, scope: str, value: str) -> None:
        store.set_cursor(self._conn, connector, scope, value)

    def delete_cursor(self, connector: str, scope: str) -> None:
        store.delete_cursor(self._conn, connector, scope)
