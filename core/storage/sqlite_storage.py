"""``SqliteStorage``: the storage interface over one SQLite file (sqlean + sqlite-vec).

Rowids, connections and SQL stay in this package; callers get memory ids and domain
objects. Every public method, and every transaction, turns an SQLite error into a
``StoreError`` that says what to do (``sqlite_db.explain``): the one place errors are
translated.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from core.models import EntitySummary, Link, Memory, Page, ProgressCallback, SearchFilters, Version
from core.storage import sqlite_db as db
from core.storage import sqlite_graph as graph_sql
from core.storage import sqlite_graph_index as graph_index
from core.storage import sqlite_listing as listing
from core.storage import sqlite_search as search_sql
from core.storage import sqlite_sync as sync_state
from core.storage import sqlite_upkeep as upkeep
from core.storage.base import (
    ContextNeighbour,
    IndexHealth,
    MemoryBrief,
    MemoryOpening,
    RebuildResult,
    RelationRow,
    TextCandidate,
    VectorCandidate,
)  # fmt: skip
from core.storage.sqlite_store import Store
from core.storage.sqlite_tx import SqliteTransaction

_C = TypeVar("_C", bound=type)


def _translate_errors(cls: _C) -> _C:
    """Wrap every public method so that an SQLite error leaves as a StoreError."""
    for name, fn in list(vars(cls).items()):
        if callable(fn) and not name.startswith("_") and name != "transaction":
            setattr(cls, name, _explained(fn))
    return cls


def _explained(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(self: SqliteStorage, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except db.SqliteError as exc:
            raise db.explain(exc, self.location) from exc

    return wrapper


@_translate_errors
class SqliteStorage:
    """One SQLite file; a connection per thread, one writer at a time per process."""

    def __init__(self, path: Path | str) -> None:
        self.location = str(path)
        self._store = Store(path)
        self._model = db.get_meta(self._store.conn(), "embedding_model") or ""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SqliteTransaction]:
        with self._store.write() as conn:
            yield SqliteTransaction(self._store, conn, self._model)

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """Reads need no grouping here: each runs on this process's own connection."""
        return contextlib.nullcontext()

    def close(self) -> None:
        self._store.close()

    def purge_deleted(self) -> bool:
        return self._store.purge_deleted()

    # ---- memories ----------------------------------------------------------------------
    def get(self, memory_id: str) -> Memory | None:
        found = self._store.get(memory_id)
        return None if found is None else found[1]

    def get_many(self, memory_ids: Sequence[str]) -> dict[str, Memory]:
        return listing.by_ids(self._store.conn(), memory_ids)

    def find_by_hash(self, content_hash: str, project: str | None) -> Memory | None:
        found = self._store.find_by_hash(content_hash, project)
        return None if found is None else found[1]

    def find_many_by_hash(
        self, keys: Sequence[tuple[str, str | None]]
    ) -> dict[tuple[str, str | None], Memory]:
        # one indexed lookup each: in-process, a loop costs no round trips
        found = {key: self.find_by_hash(*key) for key in dict.fromkeys(keys)}
        return {key: m for key, m in found.items() if m is not None}

    def find_many_external(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Memory]:
        found = {key: self.find_external(*key) for key in dict.fromkeys(keys)}
        return {key: m for key, m in found.items() if m is not None}

    def find_external(self, source: str, external_id: str) -> Memory | None:
        found = self._store.find_external(source, external_id)
        return None if found is None else found[1]

    def external_ids(self, source: str, prefix: str = "") -> dict[str, str]:
        return self._store.external_ids(source, prefix)

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        return self._store.ids_with_prefix(prefix, limit)

    def adjacent_ids(self, memory_id: str) -> list[str]:
        return self._store.adjacent_ids(memory_id)

    def count(self) -> int:
        return self._store.count()

    def page(self, filters: SearchFilters | None, limit: int, offset: int, order: str) -> Page:
        return listing.page(self._store.conn(), filters, limit, offset, order)

    def anchored(
        self, paths: Sequence[str], project: str | None, limit: int | None
    ) -> list[Memory]:
        return listing.anchored(self._store.conn(), paths, project, limit)

    def versions(self, memory_id: str) -> list[Version]:
        rowid = self._store.rowid_of(memory_id)
        return [] if rowid is None else self._store.versions(rowid)

    def version_fields(self, memory_id: str, version: int) -> dict[str, Any] | None:
        rowid = self._store.rowid_of(memory_id)
        return None if rowid is None else self._store.version_fields(rowid, version)

    def next_version(self, memory_id: str) -> int:
        rowid = self._store.rowid_of(memory_id)
        return 1 if rowid is None else self._store.next_version(rowid)

    def links_of(self, memory_id: str) -> list[Link]:
        rowid = self._store.rowid_of(memory_id)
        return [] if rowid is None else self._store.links_of(rowid)

    def all_links(self) -> list[Link]:
        return list(self._store.all_links())

    def change_count(self) -> int:
        return db.changes(self._store.conn())

    def record_access(self, action: str, memory_ids: Sequence[str]) -> None:
        return None  # one person's file: there is nobody else to audit reads for

    # ---- search primitives and vectors -------------------------------------------------
    def text_candidates(
        self, terms: Sequence[str], filters: SearchFilters | None, k: int
    ) -> list[TextCandidate]:
        ranked = search_sql.text_search(self._store, terms, filters, k)
        missing = [r for r, _, memory_id in ranked if memory_id is None]
        ids = listing.ids_of(self._store.conn(), missing) if missing else {}
        return [
            TextCandidate(memory_id or ids[r], s)
            for r, s, memory_id in ranked
            if memory_id or r in ids
        ]

    def vector_candidates(
        self, query: np.ndarray, filters: SearchFilters | None, k: int
    ) -> list[VectorCandidate]:
        ranked = search_sql.vector_search(self._store, query, filters, k)
        ids = listing.ids_of(self._store.conn(), [r for r, _ in ranked])
        return [VectorCandidate(ids[r], s) for r, s in ranked if r in ids]

    def context_neighbours(
        self, seed_ids: Sequence[str], span: int, filters: SearchFilters | None
    ) -> list[ContextNeighbour]:
        return listing.context_neighbours(self._store.conn(), seed_ids, span, filters)

    def openings(self, memory_ids: Sequence[str], chars: int) -> list[MemoryOpening]:
        return listing.openings(self._store.conn(), memory_ids, chars)

    def questions_among(self, memory_ids: Sequence[str]) -> set[str]:
        return listing.questions_among(self._store.conn(), memory_ids)

    def prepare_vectors(self, model: str, dim: int) -> str | None:
        notice = self._store.ensure_vector_table(model, dim)
        if notice is None:
            self._model = model
        return notice

    def stored_vector(self, memory_id: str) -> np.ndarray | None:
        return upkeep.stored_vector(self._store.conn(), memory_id)

    def ids_without_vectors(self, limit: int) -> list[str]:
        return upkeep.ids_without_vectors(self._store.conn(), limit)

    # ---- graph -------------------------------------------------------------------------
    def entities_by_alias(self, aliases: Sequence[str], types: Sequence[str] = ()) -> list[int]:
        return graph_sql.entities_by_alias(self._store.conn(), aliases, types)

    def entities_named(self, names: Sequence[str], types: Sequence[str]) -> dict[str, list[int]]:
        return graph_sql.entities_named(self._store.conn(), names, types)

    def entity_by_name(self, etype: str, name: str) -> int | None:
        return graph_sql.entity_by_name(self._store.conn(), etype, name)

    def entities_by_prefix(self, prefix: str, etype: str | None, limit: int) -> list[int]:
        return graph_sql.entities_by_prefix(self._store.conn(), prefix, etype, limit)

    def entity_summaries(self, entity_ids: Sequence[int]) -> list[EntitySummary]:
        return graph_sql.summaries(self._store.conn(), entity_ids)

    def entity_aliases(self, entity_ids: Sequence[int], per_entity: int) -> dict[int, list[str]]:
        return graph_sql.aliases_of(self._store.conn(), entity_ids, per_entity)

    def entity_neighbours(self, entity_id: int, limit: int) -> list[RelationRow]:
        return graph_sql.neighbours(self._store.conn(), entity_id, limit)

    def relations_of(self, entity_ids: Sequence[int]) -> list[RelationRow]:
        return graph_sql.relations_of(self._store.conn(), entity_ids)

    def latest_mentions(self, entity_id: int, limit: int) -> list[MemoryBrief]:
        return graph_sql.latest_mentions(self._store.conn(), entity_id, limit)

    def memories_mentioning(
        self, entity_ids: Sequence[int], filters: SearchFilters | None, limit: int
    ) -> list[str]:
        return graph_sql.memories_mentioning(self._store.conn(), entity_ids, filters, limit)

    def mentions(
        self, entity_id: int, filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        return graph_sql.mentions(self._store.conn(), entity_id, filters, limit)

    def mention_count(self, entity_id: int) -> int:
        return graph_sql.mention_count(self._store.conn(), entity_id)

    def entities_of(self, memory_id: str) -> list[int]:
        return graph_sql.entities_of(self._store.conn(), memory_id)

    def most_mentioned(self, limit: int) -> list[int]:
        return graph_sql.most_mentioned(self._store.conn(), limit)

    def graph_counts(self) -> dict[str, Any]:
        return graph_sql.counts(self._store.conn())

    def rebuild_graph(
        self, progress: ProgressCallback, batch: int = graph_index.REBUILD_BATCH
    ) -> RebuildResult:
        return graph_index.rebuild(self._store, progress, batch)

    # ---- cursors and upkeep ------------------------------------------------------------
    def get_cursor(self, connector: str, scope: str) -> str | None:
        return sync_state.get(self._store.conn(), connector, scope)

    def cursors(self) -> list[tuple[str, str, str]]:
        return sync_state.all_states(self._store.conn())

    def stats(self) -> dict[str, Any]:
        return upkeep.stats(self._store)

    def schema_version(self) -> int:
        return int(db.get_meta(self._store.conn(), "schema_version") or 0)

    def health(self) -> IndexHealth:
        return upkeep.health(self._store)

    def backend_check(self) -> tuple[bool, str]:
        return upkeep.backend_check(self._store.conn())

    def rebuild_text_index(self) -> int:
        """Rebuild the full-text index from the memories; returns how many were indexed."""
        return upkeep.rebuild_text_index(self._store)

    def optimize(self) -> None:
        self._store.conn().execute("PRAGMA optimize")

    def backup(self, dest: Path) -> None:
        upkeep.backup(self._store.conn(), dest)
