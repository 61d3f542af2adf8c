"""The storage interface: what DevMemory asks of a database, in domain objects.

Memories cross it as :class:`core.models.Memory` and are named by their id (the ULID
string); graph entities by their opaque integer id (the entity's identity). No row ids,
cursors, connections or query fragments cross it, so a second backend (PostgreSQL with
pgvector) implements the same methods: text candidates come from its full-text ranking,
vector candidates from its ANN index. Fusion and ranking stay above, in ``core.search``
and ``core.recall``.

Writes that belong together (a memory, its text index, vector, graph and first version; a
connector's batch and its cursor) go through one unit of work::

    with storage.transaction() as tx:
        tx.insert(memory, vector)
        tx.add_version(memory, "user", version=1)
        tx.index_graph(memory)

Every backend error leaves the storage as a :class:`core.errors.StoreError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from core.models import (
    EntityRef,
    EntitySummary,
    Link,
    Memory,
    Page,
    ProgressCallback,
    SearchFilters,
    Version,
)  # fmt: skip


# Candidates, neighbours and openings are named tuples: a query builds hundreds of them.
class TextCandidate(NamedTuple):
    """A memory matching a query's words, with its full-text relevance (higher is better)."""

    memory_id: str
    score: float


class VectorCandidate(NamedTuple):
    """A memory near a query vector, with its cosine similarity."""

    memory_id: str
    similarity: float


class ContextNeighbour(NamedTuple):
    """A memory captured next to a seed memory (the turns around it in one chat, the
    sections around it in one note): same source, project and time, ``offset`` places
    away in capture order. ``seed_asks``: the seed holds a question mark."""

    seed_id: str
    memory_id: str
    offset: int
    seed_asks: bool


class MemoryOpening(NamedTuple):
    """What the speaker rules read of a memory: its kind, first characters and metadata (JSON)."""

    memory_id: str
    kind: str
    opening: str
    metadata_json: str


@dataclass(frozen=True)
class MemoryBrief:
    """A memory as listed next to an entity: enough to show it and fetch it by id."""

    id: str
    title: str
    kind: str
    when: str  # event time, else creation time (ISO)
    snippet: str


@dataclass(frozen=True)
class RelationRow:
    """A stored relation seen from ``entity_id``: ``outgoing`` when it is stored entity → other."""

    entity_id: int
    other_id: int
    relation: str
    weight: float
    outgoing: bool


@dataclass(frozen=True)
class RebuildResult:
    """What a graph rebuild did: memories read, entities and relations now in the graph."""

    memories: int
    entities: int
    relations: int
    seconds: float


@dataclass(frozen=True)
class IndexHealth:
    """Row counts of the indexes against the memories (``devmem doctor --check``)."""

    integrity: str
    memories: int
    text_rows: int
    text_orphans: int
    vectors: int
    vector_orphans: int
    ann_rows: int | None  # rows in the ANN index, None when it does not exist yet


class Transaction(Protocol):
    """One unit of work: everything done through it commits together or not at all."""

    def insert(self, memory: Memory, vector: np.ndarray | None) -> None:
        """Store a new memory with its text index and (when given) its vector."""

    def replace(self, memory: Memory, vector: np.ndarray | None) -> None:
        """Overwrite the stored memory with the same id, re-indexing its text and vector."""

    def delete(self, memory_id: str) -> None:
        """Erase a memory: row, text index, vector, graph evidence, links and versions."""

    def set_anchor_lines(self, memory_id: str, start: int, end: int) -> None:
        """Move a memory's anchor to other lines (no new version)."""

    def add_version(
        self, memory: Memory, changed_by: str, *, pending: bool = False, version: int | None = None
    ) -> int:
        """Record ``memory``'s state as a version (the next number unless given); returns it."""

    def clear_pending(self, memory_id: str, version: int) -> None:
        """Mark a pending version as applied."""

    def add_link(self, source_id: str, target_id: str, link_type: str, at: str) -> None:
        """Link two memories (kept once per type) and relate their main entities."""

    def remove_link(self, source_id: str, target_id: str, link_type: str | None) -> int:
        """Remove the links source → target (of one type, or all); returns how many."""

    def put_vector(self, memory_id: str, vector: np.ndarray) -> None:
        """Store or replace a memory's vector."""

    def reset_vectors(self, model: str, dim: int) -> None:
        """Drop every vector (a change of model) and get ready for ``model``'s."""

    def index_graph(self, memory: Memory, refs: Sequence[EntityRef] = ()) -> int:
        """Extract and store a memory's entities and relations; returns the entity count."""

    def reindex_graph(self, memory: Memory, refs: Sequence[EntityRef] | None = None) -> int:
        """Replace a changed memory's graph; ``refs=None`` keeps its connector entities."""

    def set_cursor(self, connector: str, scope: str, value: str) -> None:
        """Store a connector's sync cursor for one scope."""

    def delete_cursor(self, connector: str, scope: str) -> None:
        """Forget a connector's sync cursor for one scope."""


class MemoryReads(Protocol):
    """Memories, versions and links by id."""

    def get(self, memory_id: str) -> Memory | None:
        """The memory with this id (any case), or None."""

    def get_many(self, memory_ids: Sequence[str]) -> dict[str, Memory]:
        """The memories with these ids that exist, by id."""

    def find_by_hash(self, content_hash: str, project: str | None) -> Memory | None:
        """A memory with this content hash in this project (None: no project), or None."""

    def find_external(self, source: str, external_id: str) -> Memory | None:
        """The memory a connector imported as (source, external id), or None."""

    def find_many_by_hash(
        self, keys: Sequence[tuple[str, str | None]]
    ) -> dict[tuple[str, str | None], Memory]:
        """``find_by_hash`` for many (content hash, project) pairs at once: those found."""

    def find_many_external(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Memory]:
        """``find_external`` for many (source, external id) pairs at once: those found."""

    def external_ids(self, source: str, prefix: str = "") -> dict[str, str]:
        """External id → content hash of every memory ``source`` imported (ids starting with ``prefix``)."""

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]:
        """Up to ``limit`` stored ids starting with ``prefix`` (any case), in id order."""

    def adjacent_ids(self, memory_id: str) -> list[str]:
        """The stored ids just before and just after ``memory_id`` in id order (0–2 of them;
        ``memory_id`` itself need not be stored). Shortest unique prefixes come from these."""

    def count(self) -> int:
        """How many memories are stored."""

    def page(self, filters: SearchFilters | None, limit: int, offset: int, order: str) -> Page:
        """Memories passing ``filters``, newest first by ``order`` (updated, created, event)."""

    def anchored(
        self, paths: Sequence[str], project: str | None, limit: int | None
    ) -> list[Memory]:
        """Memories anchored to any of ``paths`` (in ``project`` or global), latest update first."""

    def versions(self, memory_id: str) -> list[Version]:
        """A memory's versions, oldest first."""

    def version_fields(self, memory_id: str, version: int) -> dict[str, Any] | None:
        """A version's title, content and fields (kind, tags, project, visibility, metadata)."""

    def next_version(self, memory_id: str) -> int:
        """The number the memory's next version gets."""

    def links_of(self, memory_id: str) -> list[Link]:
        """Links from or to a memory, oldest first."""

    def all_links(self) -> list[Link]:
        """Every link."""

    def change_count(self) -> int:
        """A counter of committed write transactions, by any process."""

    def record_access(self, action: str, memory_ids: Sequence[str]) -> None:
        """Note that memories were read (``read``) or returned by a search (``search``), for a
        store that audits reads (PostgreSQL with ``devmem.audit_reads`` on); else nothing."""


class SearchIndex(Protocol):
    """Search primitives; fusion and ranking are the caller's."""

    def text_candidates(
        self, terms: Sequence[str], filters: SearchFilters | None, k: int
    ) -> list[TextCandidate]:
        """Up to ``k`` memories holding any of ``terms``, best full-text score first."""

    def vector_candidates(
        self, query: np.ndarray, filters: SearchFilters | None, k: int
    ) -> list[VectorCandidate]:
        """Up to ``k`` memories nearest to ``query`` (a unit vector), most similar first."""

    def context_neighbours(
        self, seed_ids: Sequence[str], span: int, filters: SearchFilters | None
    ) -> list[ContextNeighbour]:
        """Memories up to ``span`` places from each seed in capture order, of its group."""

    def openings(self, memory_ids: Sequence[str], chars: int) -> list[MemoryOpening]:
        """Kind, first ``chars`` characters and metadata of these memories."""

    def questions_among(self, memory_ids: Sequence[str]) -> set[str]:
        """Those of ``memory_ids`` whose content ends with a question mark."""

    def prepare_vectors(self, model: str, dim: int) -> str | None:
        """Get ready for ``model``'s vectors; a notice when the store holds another model's."""

    def stored_vector(self, memory_id: str) -> np.ndarray | None:
        """A memory's stored vector, or None."""

    def ids_without_vectors(self, limit: int) -> list[str]:
        """Up to ``limit`` memories that have no vector yet."""


class GraphStore(Protocol):
    """The knowledge graph's tables: entities, aliases, relations, evidence, mentions."""

    def entities_by_alias(self, aliases: Sequence[str], types: Sequence[str] = ()) -> list[int]:
        """Entities having any of these (lower-case) aliases, of ``types`` when given."""

    def entities_named(self, names: Sequence[str], types: Sequence[str]) -> dict[str, list[int]]:
        """Name (as given) → entities of ``types`` whose name or display is exactly that name
        (any case), for many names at once (an editor asks for every function of a file)."""

    def entity_by_name(self, etype: str, name: str) -> int | None:
        """The entity of this type and canonical name."""

    def entities_by_prefix(self, prefix: str, etype: str | None, limit: int) -> list[int]:
        """Entities with an alias starting with ``prefix`` (of ``etype`` when given)."""

    def entity_summaries(self, entity_ids: Sequence[int]) -> list[EntitySummary]:
        """Summaries in the order given (the ids must exist)."""

    def entity_aliases(self, entity_ids: Sequence[int], per_entity: int) -> dict[int, list[str]]:
        """Up to ``per_entity`` aliases of each entity, sorted."""

    def entity_neighbours(self, entity_id: int, limit: int) -> list[RelationRow]:
        """The ``limit`` strongest relations of an entity, either direction."""

    def relations_of(self, entity_ids: Sequence[int]) -> list[RelationRow]:
        """Every relation touching these entities, strongest first."""

    def latest_mentions(self, entity_id: int, limit: int) -> list[MemoryBrief]:
        """The latest memories among an entity's most recently stored mentions."""

    def memories_mentioning(
        self, entity_ids: Sequence[int], filters: SearchFilters | None, limit: int
    ) -> list[str]:
        """Memories mentioning any of the entities, most entities and latest first."""

    def mentions(
        self, entity_id: int, filters: SearchFilters | None, limit: int
    ) -> list[tuple[str, float]]:
        """(memory id, confidence) of an entity's latest ``limit`` mentions passing ``filters``."""

    def mention_count(self, entity_id: int) -> int:
        """How many memories mention an entity."""

    def entities_of(self, memory_id: str) -> list[int]:
        """The entities a memory mentions, most confident first."""

    def most_mentioned(self, limit: int) -> list[int]:
        """The most mentioned entities."""

    def graph_counts(self) -> dict[str, Any]:
        """entities, entities_by_type, relations, relations_by_type, mentions."""

    def rebuild_graph(self, progress: ProgressCallback, batch: int) -> RebuildResult:
        """Re-extract every memory into a fresh graph, in short transactions."""


class Upkeep(Protocol):
    """Cursors, statistics, health and backups."""

    location: str

    def get_cursor(self, connector: str, scope: str) -> str | None:
        """A connector's stored cursor for one scope."""

    def cursors(self) -> list[tuple[str, str, str]]:
        """(connector, scope, updated at) of every stored cursor."""

    def stats(self) -> dict[str, Any]:
        """Counts by kind, project and source; vectors, links, bytes, model, schema version."""

    def schema_version(self) -> int:
        """The version of the store's schema (the backend's migrations bring it up to date)."""

    def health(self) -> IndexHealth:
        """Integrity and index row counts."""

    def backend_check(self) -> tuple[bool, str]:
        """Whether the backend's extensions work, and what it says."""

    def rebuild_text_index(self) -> int:
        """Rebuild the full-text index from the memories; returns how many were indexed."""

    def optimize(self) -> None:
        """Refresh the query planner's statistics (after a bulk load)."""

    def backup(self, dest: Path) -> None:
        """A consistent copy of the store at ``dest`` (safe while others write)."""

    def purge_deleted(self) -> bool:
        """Push deleted rows out of logs too; True when nothing of them is left."""

    def close(self) -> None:
        """Release connections."""


class Storage(MemoryReads, SearchIndex, GraphStore, Upkeep, Protocol):
    """Everything DevMemory stores, behind one object."""

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A unit of work: commits on leaving the block, rolls back on an error."""

    def reading(self) -> AbstractContextManager[None]:
        """A read session: the reads in the block may share one transaction (one connection,
        one check of who is acting) instead of one each, as a recall's dozen reads do.
        Writes in the block are unaffected (each commits with its own unit of work)."""
