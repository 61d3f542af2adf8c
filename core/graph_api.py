"""The knowledge graph as the service offers it: one set of rules for every adapter.

:class:`GraphMethods` is mixed into :class:`core.service.MemoryService`. Every name goes
through ONE resolver (``graph.resolve``: the exact name or alias first — the most mentioned
of that name —, then the best candidate; a NotFound whose hint says "Did you mean …"), so
MCP, the CLI and the language server answer the same question the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import graph, graph_view
from core.models import EntitySummary, Link, Memory, ProgressCallback, no_progress
from core.storage import RebuildResult, Storage

MAX_SHARED_ENTITIES = 10


@dataclass(frozen=True)
class RelatedMemory:
    """A memory next to another: through an explicit link or through shared entities."""

    memory: Memory
    relation: str  # "link:<type>", "link:<type> (incoming)" or "shares entities"
    shared: tuple[str, ...] = ()


@dataclass(frozen=True)
class Related:
    """A memory's links, its entities, and the memories linked to it or sharing its entities."""

    memory: Memory
    links: list[Link]
    entities: list[EntitySummary]
    related: list[RelatedMemory]


class GraphMethods:
    """Graph queries of :class:`core.service.MemoryService` (entity names in, domain objects out)."""

    if TYPE_CHECKING:  # provided by MemoryService

        @property
        def store(self) -> Storage: ...

        def get(self, memory_id: str) -> Memory: ...

        def links(self, memory_id: str) -> list[Link]: ...

    def entity(self, name: str, limit: int = 10) -> graph.EntityView:
        """An entity by name or alias (``k8s``, ``person:alice``): its strongest relations and
        latest memories. Raises NotFound with close names ("Did you mean …") as the hint."""
        return graph.show(self.store, name, limit)

    def entity_path(self, source: str, target: str, max_depth: int = 6) -> graph.EntityPath:
        """The shortest chain of relations between two entities (no steps when unconnected)."""
        return graph.entity_path(self.store, source, target, max_depth)

    def neighbours(self, name: str, limit: int = 20) -> list[graph.Neighbour]:
        """The entities related to the one ``name`` means, strongest relation first."""
        return graph.neighbours(self.store, graph.resolve(self.store, name), limit)

    def entity_named(self, name: str, limit: int = 6) -> graph.EntityView | None:
        """The entity whose name or display is exactly ``name`` (any case), or None: what an
        editor shows for an identifier (a near miss is noise there, not a suggestion)."""
        ids = graph.find_entities(self.store, name, limit=5)
        wanted = name.strip().lower()
        for entity_id, found in zip(ids, graph.summaries(self.store, ids), strict=True):
            if wanted in (found.name.lower(), (found.display or "").lower()):
                return graph.EntityView(
                    found, entity_id, [], graph.neighbours(self.store, entity_id, limit), []
                )
        return None

    def memories_naming(
        self, names: Sequence[str], types: Sequence[str], project: str | None, per_name: int
    ) -> dict[str, list[Memory]]:
        """Per name, memories of ``project`` (or of none) mentioning an entity of ``types``
        named exactly so. The project is checked after the entity lookup: a project filter
        in the query scans the project's memories instead of the entity's (~50× slower)."""
        out: dict[str, list[Memory]] = {}
        for name, ids in graph.named_exactly(self.store, names, types).items():
            found = graph.memory_ids_for(self.store, ids, None, per_name + 5)
            memories = [
                m
                for m in self.store.get_many(found).values()
                if project is None or m.project in (project, None)
            ]
            if memories:
                out[name] = memories[:per_name]
        return out

    def graph_overview(self, top: int = 15) -> dict[str, Any]:
        """Entity and relation counts by type, mentions, and the ``top`` most mentioned entities."""
        return graph.overview(self.store, top)

    def rebuild_graph(self, progress: ProgressCallback = no_progress) -> RebuildResult:
        """Re-extract every memory into a fresh graph (after an extractor upgrade, or to repair)."""
        return graph.rebuild(self.store, progress)

    def graph_picture(
        self, path: Path | str, entity: str | None = None, depth: int = 2, max_nodes: int = 200
    ) -> graph_view.Picture:
        """Write an interactive, offline HTML picture of the graph (centred on ``entity``)."""
        return graph_view.write(self.store, path, entity, depth, max_nodes)

    def related(self, memory_id: str, limit: int = 10) -> Related:
        """A memory's links, its entities, and the memories linked to it or sharing its entities."""
        memory = self.get(memory_id)
        links = self.links(memory.id)
        entities = graph.entities_of_memory(self.store, memory.id)
        out = self._linked(memory, links)
        seen = {memory.id, *(r.memory.id for r in out)}
        names = {e.name for e in entities}
        entity_ids = graph.entity_ids_of(self.store, entities[:MAX_SHARED_ENTITIES])
        ids = graph.memory_ids_for(self.store, entity_ids, None, limit + len(seen))
        for other_id, other in self.store.get_many(ids).items():
            if other.id in seen or len(out) >= limit:
                continue
            shared = tuple(
                e.name for e in graph.entities_of_memory(self.store, other_id) if e.name in names
            )
            out.append(RelatedMemory(other, "shares entities", shared))
            seen.add(other.id)
        return Related(memory, links, entities, out[:limit])

    def _linked(self, memory: Memory, links: list[Link]) -> list[RelatedMemory]:
        out: list[RelatedMemory] = []
        for link in links:
            other_id = link.target_id if link.source_id == memory.id else link.source_id
            found = self.store.get(other_id)
            if found is not None:
                direction = "" if link.source_id == memory.id else " (incoming)"
                out.append(RelatedMemory(found, f"link:{link.type}{direction}"))
        return out
