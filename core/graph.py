"""The knowledge graph's queries: entities by name, neighbourhoods, paths, graph-mode search.

Entities (technologies, people, projects, repositories, files, symbols, issues, hosts,
organisations, meetings) and weighted relations are extracted from every memory without an
LLM (``core.extract``) and written by the storage in the memory's own transaction
(``Transaction.index_graph``). This module holds the rules above the storage's tables:
which entity a name means, neighbourhoods, paths, graph-mode search; ``rebuild`` asks the
storage to re-extract the whole store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import extract
from core.errors import InvalidInput, NotFound
from core.models import EntitySummary, Memory, ProgressCallback, SearchFilters, no_progress
from core.search import STOPWORDS
from core.search import words as search_words
from core.storage import MemoryBrief as MemoryBrief
from core.storage import RebuildResult as RebuildResult
from core.storage import RelationRow, Storage

NEAR_FACTOR = 0.3  # a neighbour's memories count this much of a named entity's in graph search
MAX_VISITED = 50_000  # path search gives up past this many entities (a huge, dense graph)
_GRAM = re.compile(r"[^\s,;!?()\[\]{}\"']+")


@dataclass(frozen=True)
class Neighbour:
    """An entity next to another in the graph, through a relation."""

    entity: EntitySummary
    relation: str
    weight: float
    direction: str  # "out" (the entity is the relation's target) or "in"
    entity_id: int = 0


@dataclass(frozen=True)
class EntityView:
    """One entity, its strongest relations and its latest memories (every adapter shows this)."""

    entity: EntitySummary
    entity_id: int
    aliases: list[str]
    neighbours: list[Neighbour]
    memories: list[Memory]  # latest first (event time, else creation)


@dataclass(frozen=True)
class PathStep:
    """One entity on a path, with the relation that leads into it ("" for the first)."""

    entity: EntitySummary
    entity_id: int
    relation: str
    weight: float
    direction: str  # "out": previous —relation→ this; "in": previous ←relation— this; "" first


@dataclass(frozen=True)
class EntityPath:
    """The shortest chain of relations between two entities (``steps`` is [] when unconnected)."""

    source: EntitySummary
    target: EntitySummary
    steps: list[PathStep]


@dataclass(frozen=True)
class Edge:
    """The relations between two entities, merged (for pictures)."""

    src: int
    dst: int
    types: tuple[str, ...]
    weight: float


# ---- finding entities ------------------------------------------------------------------
def find_entities(store: Storage, text: str, limit: int = 10) -> list[int]:
    """Entity ids named by ``text``, best first: the whole text as an alias (or ``type:name``),
    the entities the extractor finds in it, then names of people, projects, files… in it."""
    etype, whole = _typed(text)
    if etype:
        typed = store.entities_by_alias([whole], (etype,))
        if typed:
            return list(dict.fromkeys(typed))[:limit]
    ids = store.entities_by_alias([whole])
    for ent in extract.query_entities(text):
        found = store.entity_by_name(ent.type, ent.name)
        ids += [found] if found is not None else store.entities_by_alias([ent.name.lower()])
    grams = _grams(whole)
    if grams:
        ids += store.entities_by_alias(
            grams, tuple(t for t in extract.ENTITY_TYPES if t != "technology")
        )
    return list(dict.fromkeys(ids))[:limit]


def _typed(text: str) -> tuple[str | None, str]:
    """``"person:Alice"`` → ("person", "alice"); anything else → (None, the text lower-cased)."""
    whole = " ".join(text.lower().split())
    etype, _, rest = whole.partition(":")
    return (
        (etype, rest.strip()) if etype in extract.ENTITY_TYPES and rest.strip() else (None, whole)
    )


def _grams(text: str) -> list[str]:
    """Words and 2-3 word phrases of a query that could be an entity's alias."""
    words = [w.strip(".:") for w in _GRAM.findall(text)][:40]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    grams = [w for w in words if len(w) >= 3 and w not in STOPWORDS]
    for n in (2, 3):
        grams += [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    return list(dict.fromkeys(g for g in grams if g))


def named_exactly(
    store: Storage, names: Sequence[str], types: Sequence[str]
) -> dict[str, list[int]]:
    """Name (as given) → ids of the entities of ``types`` whose name or display is exactly
    that name (any case), for many names at once: an editor asks for every function of a
    file (50k names took 5 s one ``find_entities`` each, entity extraction included)."""
    return store.entities_named(names, types)


def resolve(store: Storage, name: str) -> int:
    """The one entity ``name`` means (``k8s`` → Kubernetes; ``person:alice`` picks a type).

    Raises NotFound with close matches (by alias prefix) as the hint."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(
            "The entity name is empty.", hint="Name a technology, person, file or symbol."
        )
    ids = find_entities(store, name, 10)
    if not ids:
        raise NotFound(
            f"No entity in the knowledge graph is named {name!r}.", hint=_suggest(store, name)
        )
    wanted = _typed(name)[1]
    exact = [
        (e.memory_count, -i)
        for i, e in zip(ids, summaries(store, ids), strict=True)
        if wanted in (e.name.lower(), e.display.lower())
    ]
    return -max(exact)[1] if exact else ids[0]  # the most mentioned of the same name


def suggestions(store: Storage, text: str, limit: int = 5) -> list[EntitySummary]:
    """Entities with an alias starting like ``text`` (of its type, for ``type:name``), trying
    shorter prefixes down to three characters until some match; the most mentioned first."""
    etype, whole = _typed(text)
    for size in dict.fromkeys(
        n for n in (len(whole), len(whole) * 3 // 4, len(whole) // 2, 3) if n >= 3
    ):
        prefix = whole[:size]
        ids = store.entities_by_prefix(prefix, etype, limit * 4)
        if ids:
            return sorted(summaries(store, ids), key=lambda e: -e.memory_count)[:limit]
    return []


def _suggest(store: Storage, text: str) -> str:
    close = suggestions(store, text)
    if close:
        return "Did you mean " + ", ".join(f"{e.display!r} ({e.type})" for e in close) + "?"
    return (
        "Entities come from stored memories: `devmem graph stats` lists the most mentioned, "
        "and `devmem graph rebuild` re-extracts them if the graph is empty."
    )


# ---- reading ---------------------------------------------------------------------------
def summaries(store: Storage, entity_ids: Sequence[int]) -> list[EntitySummary]:
    """The entities' summaries, in the order given (ids must exist)."""
    return store.entity_summaries(entity_ids)


def neighbours(store: Storage, entity_id: int, limit: int = 20) -> list[Neighbour]:
    """The entities related to ``entity_id``, strongest relation first."""
    rows = store.entity_neighbours(entity_id, limit)
    ids = list(dict.fromkeys(r.other_id for r in rows))
    by_id = dict(zip(ids, summaries(store, ids), strict=True))
    return [
        Neighbour(
            by_id[r.other_id], r.relation, r.weight, "out" if r.outgoing else "in", r.other_id
        )
        for r in rows
    ]


def latest_memories(store: Storage, entity_id: int, limit: int = 5) -> list[MemoryBrief]:
    """The memories mentioning an entity, latest (event time, else creation) first; chosen
    among its most recent mentions, so the cost does not grow with its popularity."""
    return store.latest_mentions(entity_id, limit)


def show(store: Storage, name: str, limit: int = 10) -> EntityView:
    """An entity by name or alias: its summary, strongest relations and latest memories.

    Raises NotFound (with close names as the hint) when nothing is called ``name``."""
    return show_entity(store, resolve(store, name), limit)


def show_entity(store: Storage, entity_id: int, limit: int = 10) -> EntityView:
    """``show`` for an entity id already in hand (from ``find_entities``, say)."""
    aliases = store.entity_aliases([entity_id], 10**6)[entity_id]
    ids = [b.id for b in latest_memories(store, entity_id, limit)]
    found = store.get_many(ids)
    latest = [found[i] for i in ids if i in found]
    return EntityView(
        summaries(store, [entity_id])[0],
        entity_id,
        aliases,
        neighbours(store, entity_id, limit),
        latest,
    )


def memory_ids_for(
    store: Storage, entity_ids: Sequence[int], filters: SearchFilters | None, limit: int
) -> list[str]:
    """Memories (ids) mentioning any of the entities, most entities and latest first."""
    return store.memories_mentioning(entity_ids, filters, limit)


def graph_candidates(
    store: Storage,
    query: str,
    filters: SearchFilters | None,
    k: int,
    *,
    beyond_words: bool = False,
) -> list[str]:
    """Graph-mode retrieval: memories naming the query's entities, then their neighbours'.

    A memory scores the confidence of each mention × the entity's rarity (1 / log2(2 + its
    memory count)), so "the project everything belongs to" weighs little next to a named
    person or file; each entity contributes its latest ``k`` mentions. ``beyond_words``
    (hybrid search) keeps only entities the query does not already name in words ("k8s"
    → Kubernetes): the text search finds those, and adding every memory that mentions a
    person the question names only crowded the answer out (bench/locomo_cv.py)."""
    seeds = find_entities(store, query)
    if beyond_words and seeds:
        asked = set(search_words(query))
        seeds = [
            i
            for i, e in zip(seeds, summaries(store, seeds), strict=True)
            if not set(search_words(e.display)) <= asked
        ]
    if not seeds:
        return []
    scores: dict[str, float] = {}
    for entity_id in seeds:
        _add_mentions(store, entity_id, 1.0, filters, k, scores)
    if len(scores) < k:
        for seed in seeds:
            top = neighbours(store, seed, 5)
            strongest = max((n.weight for n in top), default=1.0) or 1.0
            for n in (n for n in top if n.entity_id not in seeds):
                _add_mentions(
                    store, n.entity_id, NEAR_FACTOR * n.weight / strongest, filters, k, scores
                )
    # equal scores: the newer memory first (ids sort by time)
    ranked = sorted(sorted(scores.items(), reverse=True), key=lambda kv: -kv[1])
    return [memory_id for memory_id, _ in ranked[:k]]


def _add_mentions(
    store: Storage,
    entity_id: int,
    factor: float,
    filters: SearchFilters | None,
    k: int,
    scores: dict[str, float],
) -> None:
    rows = store.mentions(entity_id, filters, k)
    rarity = factor / math.log2(2 + store.mention_count(entity_id))
    for memory_id, confidence in rows:
        scores[memory_id] = scores.get(memory_id, 0.0) + confidence * rarity


def entity_ids_of(store: Storage, ents: Sequence[EntitySummary]) -> list[int]:
    found = (store.entity_by_name(e.type, e.name) for e in ents)
    return [i for i in found if i is not None]


def entities_of_memory(store: Storage, memory_id: str) -> list[EntitySummary]:
    return summaries(store, store.entities_of(memory_id))


# ---- paths and neighbourhoods -----------------------------------------------------------
_Hop = tuple[int, str, float, str]  # (next entity towards the end, relation, weight, direction)


def path(store: Storage, source: str, target: str, max_depth: int = 6) -> list[PathStep]:
    """The shortest chain of relations between two named entities ([] when unconnected)."""
    return _steps(store, resolve(store, source), resolve(store, target), max_depth)


def _steps(store: Storage, src: int, dst: int, max_depth: int) -> list[PathStep]:
    hops = _shortest(store, src, dst, max_depth)
    ids = [h[0] for h in hops]
    by_id = dict(zip(ids, summaries(store, ids), strict=True))
    return [PathStep(by_id[i], i, rel, weight, d) for i, rel, weight, d in hops]


def entity_path(store: Storage, source: str, target: str, max_depth: int = 6) -> EntityPath:
    """``path`` with both ends resolved, so an adapter can name them when nothing connects them."""
    src, dst = resolve(store, source), resolve(store, target)
    ends = summaries(store, [src, dst])
    return EntityPath(ends[0], ends[1], _steps(store, src, dst, max_depth))


def shortest_path(store: Storage, src: int, dst: int, max_depth: int = 6) -> list[tuple[int, str]]:
    """(entity id, relation into it) from ``src`` to ``dst``; [] if none within ``max_depth``."""
    return [(h[0], h[1]) for h in _shortest(store, src, dst, max_depth)]


def _shortest(store: Storage, src: int, dst: int, max_depth: int) -> list[_Hop]:
    """Bidirectional breadth-first search, expanding the smaller side a whole level at a time."""
    if src == dst:
        return [(src, "", 0.0, "")]
    sides: tuple[dict[int, _Hop | None], dict[int, _Hop | None]] = ({src: None}, {dst: None})
    dist: tuple[dict[int, int], dict[int, int]] = ({src: 0}, {dst: 0})
    fronts, hops = [[src], [dst]], 0
    while (
        fronts[0] and fronts[1] and hops < max_depth and len(dist[0]) + len(dist[1]) < MAX_VISITED
    ):
        side = 0 if len(fronts[0]) <= len(fronts[1]) else 1
        seen, other, nxt, meets = sides[side], sides[1 - side], [], []
        for node, near, rtype, weight, stored_out in _edges(store, fronts[side]):
            if near not in seen:
                # walking forward (side 0) node→near; backward (side 1) near→node
                seen[near] = (node, rtype, weight, "out" if stored_out == (side == 0) else "in")
                dist[side][near] = dist[side][node] + 1
                nxt.append(near)
                if near in other:
                    meets.append(near)
        fronts[side], hops = nxt, hops + 1
        if meets:  # the strongest of the shortest (edges come strongest first)
            best = min(meets, key=lambda n: dist[0][n] + dist[1][n])
            return _join(sides[0], sides[1], best)
    return []


def _join(
    forward: dict[int, _Hop | None], backward: dict[int, _Hop | None], meet: int
) -> list[_Hop]:
    head: list[_Hop] = []
    node, hop = meet, forward[meet]
    while hop is not None:  # forward hops point back at the previous entity
        head.append((node, hop[1], hop[2], hop[3]))
        node, hop = hop[0], forward[hop[0]]
    head.append((node, "", 0.0, ""))
    head.reverse()
    node, hop = meet, backward[meet]
    while hop is not None:  # backward hops point on towards the end
        head.append((hop[0], hop[1], hop[2], hop[3]))
        node, hop = hop[0], backward[hop[0]]
    return head


def _edges(store: Storage, nodes: Sequence[int]) -> list[tuple[int, int, str, float, bool]]:
    """(node, neighbour, relation, weight, stored node→neighbour) for ``nodes``, strongest first."""
    rows: list[RelationRow] = store.relations_of(nodes)
    return [(r.entity_id, r.other_id, r.relation, r.weight, r.outgoing) for r in rows]


def subgraph(
    store: Storage, center: int | None = None, depth: int = 2, max_nodes: int = 200
) -> tuple[list[int], list[Edge]]:
    """Entities and merged edges for a picture: the ``depth``-neighbourhood of ``center``
    (strongest relations first), or the most mentioned entities of the whole graph."""
    tree: set[tuple[int, int]] = set()
    if center is None:
        nodes = store.most_mentioned(max_nodes)
    else:
        nodes, tree = _ball(store, center, depth, max_nodes)
    return nodes, _edges_among(store, nodes, max_nodes * 4, tree)


def _ball(
    store: Storage, center: int, depth: int, max_nodes: int
) -> tuple[list[int], set[tuple[int, int]]]:
    """Breadth-first from ``center``, strongest relations first; the edges that reached each node."""
    chosen, front, tree = {center: None}, [center], set()
    for _ in range(max(depth, 0)):
        nxt = []
        for node, near, *_ in _edges(store, front):
            if near not in chosen and len(chosen) < max_nodes:
                chosen[near] = None
                nxt.append(near)
                tree.add((min(node, near), max(node, near)))
        front = nxt
    return list(chosen), tree


def _edges_among(
    store: Storage, nodes: list[int], max_edges: int, keep: set[tuple[int, int]]
) -> list[Edge]:
    """The strongest ``max_edges`` merged edges among ``nodes``, plus those in ``keep`` and
    each node's strongest (so the picture stays connected)."""
    wanted = set(nodes)
    merged: dict[tuple[int, int], tuple[set[str], float]] = {}
    for a, b, rtype, weight, _ in _edges(store, nodes):
        if b in wanted and a < b:
            types, total = merged.get((a, b), (set(), 0.0))
            merged[(a, b)] = (types | {rtype}, total + weight)
    edges = sorted(
        (Edge(a, b, tuple(sorted(t)), round(w, 4)) for (a, b), (t, w) in merged.items()),
        key=lambda e: (-e.weight, e.src, e.dst),
    )
    kept, linked = edges[:max_edges], {n for e in edges[:max_edges] for n in (e.src, e.dst)}
    for e in edges[max_edges:]:
        if (e.src, e.dst) in keep or e.src not in linked or e.dst not in linked:
            kept.append(e)
            linked |= {e.src, e.dst}
    return kept


def aliases_of(
    store: Storage, entity_ids: Sequence[int], per_entity: int = 8
) -> dict[int, list[str]]:
    return store.entity_aliases(entity_ids, per_entity)


def stats(store: Storage) -> dict[str, Any]:
    counts = store.graph_counts()
    return {
        "entities": counts["entities"],
        "entities_by_type": counts["entities_by_type"],
        "relations": counts["relations"],
    }


def overview(store: Storage, top: int = 15) -> dict[str, Any]:
    """``stats`` plus relations by type and the most mentioned entities (for `devmem graph stats`)."""
    counts = store.graph_counts()
    return {
        **stats(store),
        "relations_by_type": counts["relations_by_type"],
        "mentions": counts["mentions"],
        "top_entities": summaries(store, store.most_mentioned(top)),
    }


def rebuild(
    store: Storage, progress: ProgressCallback = no_progress, batch: int = 500
) -> RebuildResult:
    """Re-extract every memory into a fresh graph (after an extractor upgrade, or to repair);
    other processes keep writing meanwhile, and an interrupted rebuild finishes when run again."""
    return store.rebuild_graph(progress, batch)
