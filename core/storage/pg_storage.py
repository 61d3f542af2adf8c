"""``PgStorage``: the storage interface over PostgreSQL with pgvector.

Every method runs in one transaction from ``pg_db.Database.tx`` (reads too), so a person's
role set by ``acting_as`` applies to each statement, and every PostgreSQL error leaves as a
``StoreError`` (``pg_db.explain``). The text index is a generated ``tsvector`` column with a
GIN index; vectors are ``vector(dim)`` with an HNSW cosine index; each write transaction
bumps a change counter and sends ``NOTIFY devmem_changes``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psycopg

from core.models import EntitySummary, Link, Memory, Page, ProgressCallback, SearchFilters, Version
from core.storage import pg_audit
from core.storage import pg_db as db
from core.storage import pg_graph as graph_sql
from core.storage import pg_graph_index as graph_index
from core.storage import pg_listing as listing
from core.storage import pg_search as search_sql
from core.storage import pg_store as store
from core.storage import pg_upkeep as upkeep
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
from core.storage.pg_replica import Reads
from core.storage.pg_tx import OPEN, PgTransaction

T = TypeVar("T")


class PgStorage:
    """One PostgreSQL database (a ``postgresql://`` URL, passed to libpq unchanged)."""

    def __init__(self, url: str, read_url: str | None = None) -> None:
        self._db = db.Database(url)
        self.location = self._db.location
        try:  # searches, listings and the graph: on the read replica when there is one
            self._reads = Reads(self._db, read_url)
        except BaseException:
            self._db.close()
            raise
        self._model = self._read(upkeep.stored_model) or ""

    def _read(self, fn: Callable[..., T], *args: Any) -> T:
        self._flush_open()
        with self._db.read() as conn:
            return fn(conn, *args)

    def _search(self, fn: Callable[..., T], *args: Any) -> T:
        """A read that may lag the primary a little (search, listing, graph): the replica."""
        self._flush_open()
        return self._reads.run(fn, *args)

    def _search_tx(self, fn: Callable[..., T], *args: Any) -> T:
        self._flush_open()
        return self._reads.run(fn, *args, tx=True)

    def _read_tx(self, fn: Callable[..., T], *args: Any) -> T:
        """A read of several statements that needs one snapshot or SET LOCAL settings."""
        self._flush_open()
        with self._db.tx(write=False) as conn:
            return fn(conn, *args)

    def _flush_open(self) -> None:
        """A read inside a unit of work sees its queued writes (they are written first)."""
        unit = OPEN.get()
        if unit is not None:
            try:
                unit.flush()
            except psycopg.Error as exc:
                raise db.explain(exc, self.location) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PgTransaction]:
        with self._db.tx() as conn:
            tx = PgTransaction(conn, self._model)
            token = OPEN.set(tx)
            try:
                yield tx
                tx.flush()
            finally:
                OPEN.reset(token)
            db.bump_changes(conn)  # once per transaction: one NOTIFY at commit
        self._model = tx.model

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """Every read in the block in one transaction (``pg_db.Database.session``)."""
        return self._db.session()

    def close(self) -> None:
        self._reads.close()
        self._db.close()

    def purge_deleted(self) -> bool:
        """Deleted rows are gone for every query at commit; their dead tuples are the
        server's to reclaim (autovacuum; VACUUM FULL rewrites the files). Nothing to do here:
        False says bytes may remain on the server's disk until then (docs/team.md)."""
        return False

    # ---- memories ----------------------------------------------------------------------
    def get(self, memory_id: str) -> Memory | None:
        return self._read(store.get, memory_id)

    def get_many(self, memory_ids: Sequence[str]) -> dict[str, Memory]:
        return self._read(store.get_many, memory_ids)

    def find_by_hash(self, content_hash: str, project: str | None) -> Memory | None:
        return self._read(store.find_by_hash, content_hash, project)

    def find_many_by_hash(
        self, keys: Sequence[tuple[str, str | None]]
    ) -> dict[tuple[str, str | None], Memory]:
        return self._read(store.find_many_by_hash, keys)

    def find_many_external(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Memory]:
        return self._read(store.find_many_external, keys)

    def find_external(self, source: str, external_id: str) -> Memory | None:
        return self._read(store.find_external, source, external_id)

    def external_ids(self, source: str, prefix: str = "") -> dict[str, str]:
        return self._read(store.external_ids, source, prefix)

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        return self._read(store.ids_with_prefix, prefix, limit)

    def adjacent_ids(self, memory_id: str) -> list[str]:
        return self._read(store.adjacent_ids, memory_id)

    def count(self) -> int:
        return self._read(store.count)

    def page(self, filters: SearchFilters | None, limit: int, offset: int, order: str) -> Page:
        return self._search_tx(listing.page, filters, limit, offset, order)

    def anchored(
        self, paths: Sequence[str], project: str | None, limit: int | None
    ) -> list[Memory]:
        return self._search(listing.anchored, paths, project, limit)

    def versions(self, memory_id: str) -> list[Version]:
        return self._read(store.versions, memory_id)

    def version_fields(self, memory_id: str, version: int) -> dict[str, Any] | None:
        return self._read(store.version_fields, memory_id, version)

    def next_version(self, memory_id: str) -> int:
        return self._read(store.next_version, memory_id.upper())

    def links_of(self, memory_id: str) -> list[Link]:
        return self._read(store.links_of, memory_id)

    def all_links(self) -> list[Link]:
        return self._read(store.all_links)

    def change_count(self) -> int:
        return self._read(db.changes)

    def record_access(self, action: str, memory_ids: Sequence[str]) -> None:
        # PG-SECURITY: reads/searches into the audit log when devmem.audit_reads is on
        if self.__dict__.get("_access") is None:
            self.__dict__["_access"] = AccessAudit(self._db)
        self.__dict__["_access"].record(action, memory_ids)

    # ---- search primitives and vectors -------------------------------------------------
    def text_candidates(
        self, terms: Sequence[str], filters: SearchFilters | None, k: int
    ) -> list[TextCandidate]:
        return self._search(search_sql.text_candidates, terms, filters, k)

    def vector_candidates(
        self, query: np.ndarray, filters: SearchFilters | None, k: int
    ) -> list[VectorCandidate]:
        read = self._search_tx if k > search_sql.EF_SEARCH else self._search  # SET LOCAL: a tx
        return read(search_sql.vector_candidates, query, filters, k)

    def context_neighbours(
        self, seed_ids: Sequence[str], span: int, filters: SearchFilters | None
    ) -> list[ContextNeighbour]:
        return self._search(listing.context_neighbours, seed_ids, span, filters)

    def openings(self, memory_ids: Sequence[str], chars: int) -> list[MemoryOpening]:
        return self._search(listing.openings, memory_ids, chars)

    def questions_among(self, memory_ids: Sequence[str]) -> set[str]:
        return self._search(listing.questions_among, memory_ids)

    def prepare_vectors(self, model: str, dim: int) -> str | None:
        notice = self._read(upkeep.vector_notice, model)
        if notice is not None:
            return notice
        if self._read(upkeep.needs_dimension):
            with self._db.tx() as conn:
                if upkeep.needs_dimension(conn):  # another opener may have done it meanwhile
                    upkeep.set_dimension(conn, model, dim, keep=True)
        self._model = model
        return None

    def stored_vector(self, memory_id: str) -> np.ndarray | None:
        return self._read(listing.stored_vector, memory_id)

    def ids_without_vectors(self, limit: int) -> list[str]:
        return self._read(listing.ids_without_vectors, limit)

    # ---- graph -------------------------------------------------------------------------
    def entities_by_alias(self, aliases: Sequence[str], types: Sequence[str] = ()) -> list[int]:
        return self._search(graph_sql.entities_by_alias, aliases, types)

    def entities_named(self, names: Sequence[str], types: Sequence[str]) -> dict[str, list[int]]:
        return self._search(graph_sql.entities_named, names, types)

    def entity_by_name(self, etype: str, name: str) -> int | None:
        return self._search(graph_sql.entity_by_name, etype, name)

    def entities_by_prefix(self, prefix: str, etype: str | None, limit: int) -> list[int]:
        return self._search(graph_sql.entities_by_prefix, prefix, etype, limit)

    def entity_summaries(self, entity_ids: Sequence[int]) -> list[EntitySummary]:
        return self._search(graph_sql.summaries, entity_ids)

    def entity_aliases(self, entity_ids: Sequence[int], per_entity: int) -> dict[int, list[str]]:
        return self._search(graph_sql.aliases_of, entity_ids, per_entity)

    def entity_neighbours(self, entity_id: int, limit: int) -> list[RelationRow]:
        return self._search(graph_sql.neighbours, entity_id, limit)

    def relations_of(self, entity_ids: Sequence[int]) -> list[RelationRow]:
        return self._search(graph_sql.relations_of, entity_ids)

    def latest_mentions(self, entity_id: int, limit: int) -> list[MemoryBrief]:
        return self._search(graph_sql.latest_mentions, entity_id, limit)

    def memories_mentioning(
        self, entity_ids: Sequence[int], filters: SearchFilters | None, limit: int
    ) -> list[str]:
        return self._search(graph_sql.memories_mentioning, entity_ids, filters, limit)

    def mentions(
        self, entity_id: int, filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        return self._search(graph_sql.mentions, entity_id, filters, limit)

    def mention_count(self, entity_id: int) -> int:
        return self._search(graph_sql.mention_count, entity_id)

    def entities_of(self, memory_id: str) -> list[int]:
        return self._search(graph_sql.entities_of, memory_id)

    def most_mentioned(self, limit: int) -> list[int]:
        return self._search(graph_sql.most_mentioned, limit)

    def graph_counts(self) -> dict[str, Any]:
        return self._search(graph_sql.counts)

    def rebuild_graph(
        self, progress: ProgressCallback, batch: int = graph_index.REBUILD_BATCH
    ) -> RebuildResult:
        return graph_index.rebuild(self._write_tx, progress, batch)

    @contextlib.contextmanager
    def _write_tx(self) -> Iterator[Any]:
        with self._db.tx() as conn:
            yield conn
            db.bump_changes(conn)

    # ---- cursors and upkeep ------------------------------------------------------------
    def get_cursor(self, connector: str, scope: str) -> str | None:
        return self._read(store.get_cursor, connector, scope)

    def cursors(self) -> list[tuple[str, str, str]]:
        return self._read(store.cursors)

    def stats(self) -> dict[str, Any]:
        out = self._read_tx(upkeep.stats, self.location, self.schema_version())
        replica = self._reads.status()
        return out if replica is None else out | {"read_replica": replica}

    def schema_version(self) -> int:
        with self._db.tx(write=False) as conn:
            return max(db.applied(conn), default=0)

    def health(self) -> IndexHealth:
        return self._read(upkeep.health)

    def backend_check(self) -> tuple[bool, str]:
        return self._read(upkeep.backend_check)

    def rebuild_text_index(self) -> int:
        """The text index is a generated column: re-derive it by rewriting each row's title
        column (after a change of text search configuration)."""
        with self._write_tx() as conn:
            conn.execute("UPDATE memories SET fts_title = fts_title")
            return store.count(conn)

    def optimize(self) -> None:
        with self._db.tx() as conn:
            conn.execute("ANALYZE memories")
            conn.execute("ANALYZE memory_vectors")

    def backup(self, dest: Path) -> None:
        upkeep.backup(self._db.conninfo, dest)


class AccessAudit:
    """Reads and searches into the audit log, when the database has ``devmem.audit_reads`` on
    (asked once per storage: the setting is the database's, read at connection)."""

    def __init__(self, database: db.Database) -> None:
        self._db = database
        self._on: bool | None = None

    def record(self, action: str, memory_ids: Sequence[str]) -> None:
        if not memory_ids:
            return
        if self._on is None:
            with self._db.tx(write=False) as conn:
                row = conn.execute(pg_audit.READS_ON).fetchone()
            self._on = bool(row and row[0])
        if self._on:
            with self._db.tx() as conn:
                conn.execute(pg_audit.ACCESSED, (action, list(memory_ids)))
