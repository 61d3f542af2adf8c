"""Graph-shaped reads the adapters need that MemoryService does not offer yet.

`related` (a memory's links and the memories sharing its entities) and the entity views
(neighbourhood, path) combine several `core.graph` queries; they live here so that the MCP
server stays a thin adapter with no graph logic of its own. Candidates to move onto
:class:`core.service.MemoryService` later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import graph
from core.errors import InvalidInput, NotFound
from core.models import EntitySummary, Link, Memory, SearchFilters

if TYPE_CHECKING:
    from core.service import MemoryService

MAX_SHARED_ENTITIES = 10


@dataclass(frozen=True)
class RelatedMemory:
    """A memory next to another: through an explicit link or through shared entities."""

    memory: Memory
    relation: str  # "link:<type>" or "shares entities"
    shared: tuple[str, ...] = ()


@dataclass(frozen=True)
class Related:
    memory: Memory
    links: list[Link]
    entities: list[EntitySummary]
    related: list[RelatedMemory]


@dataclass(frozen=True)
class EntityView:
    entity: EntitySummary
    neighbours: list[graph.Neighbour]
    memories: list[Memory]


@dataclass(frozen=True)
class EntityPath:
    source: EntitySummary
    target: EntitySummary
    steps: list[tuple[EntitySummary, str]]  # (entity, relation leading into it); [] if unconnected


def related(svc: MemoryService, memory_id: str, limit: int = 10) -> Related:
    """A memory's links, its entities, and the memories linked to it or sharing its entities."""
    memory = svc.get(memory_id)
    links = svc.links(memory.id)
    entities = graph.entities_of_memory(svc.store, memory.id)
    out = _linked(svc, memory, links)
    seen = {memory.id, *(r.memory.id for r in out)}
    names = {e.name for e in entities}
    entity_ids = graph.entity_ids_of(svc.store, entities[:MAX_SHARED_ENTITIES])
    ids = graph.memory_ids_for(svc.store, entity_ids, None, limit + len(seen))
    for other_id, other in svc.store.get_many(ids).items():
        if other.id in seen or len(out) >= limit:
            continue
        shared = tuple(e.name for e in graph.entities_of_memory(svc.store, other_id) if e.name in names)
        out.append(RelatedMemory(other, "shares entities", shared))
        seen.add(other.id)
    return Related(memory, links, entities, out[:limit])


def _linked(svc: MemoryService, memory: Memory, links: list[Link]) -> list[RelatedMemory]:
    out: list[RelatedMemory] = []
    for link in links:
        other_id = link.target_id if link.source_id == memory.id else link.source_id
        found = svc.store.get(other_id)
        if found is not None:
            direction = "" if link.source_id == memory.id else " (incoming)"
            out.append(RelatedMemory(found, f"link:{link.type}{direction}"))
    return out


def entity_view(svc: MemoryService, name: str, limit: int = 10,
                project: str | None = None) -> EntityView:
    """The entity named ``name``: strongest relations first, and its latest memories."""
    entity_id = _entity(svc, name)
    summary = graph.summaries(svc.store, [entity_id])[0]
    neighbours = graph.neighbours(svc.store, entity_id, limit)
    filters = SearchFilters(project=project) if project else None
    ids = graph.memory_ids_for(svc.store, [entity_id], filters, limit * 3)
    memories = sorted(svc.store.get_many(ids).values(), key=lambda m: m.updated_at, reverse=True)
    return EntityView(summary, neighbours, memories[:limit])


def entity_path(svc: MemoryService, source: str, target: str, max_depth: int = 6) -> EntityPath:
    """The shortest chain of relations from ``source`` to ``target`` ([] when none)."""
    src, dst = _entity(svc, source), _entity(svc, target)
    steps = graph.shortest_path(svc.store, src, dst, max_depth)
    if steps:  # nothing leads into the start (shortest_path repeats the second step's relation there)
        steps[0] = (steps[0][0], "")
    ids = [entity_id for entity_id, _ in steps]
    by_id = dict(zip(ids, graph.summaries(svc.store, ids), strict=True))
    ends = graph.summaries(svc.store, [src, dst])
    return EntityPath(ends[0], ends[1], [(by_id[i], rel) for i, rel in steps])


def _entity(svc: MemoryService, name: str) -> int:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("entity is empty.", hint="Name a technology, person, file or symbol.")
    ids = graph.find_entities(svc.store, name, 1)
    if not ids:
        raise NotFound(f"No entity in the knowledge graph is named {name!r}.",
                       hint="Use a name that appears in stored memories (a technology, person, file or "
                            "symbol), or search memories with recall.")
    return ids[0]
