"""The knowledge graph's queries: entities by name, neighbourhoods, paths, graph-mode search.

Entities (technologies, people, projects, repositories, files, symbols, issues, hosts,
organisations, meetings) and weighted relations are extracted from every memory without an
LLM (``core.extract``) and written by ``core.graph_index`` — re-exported here, so callers
use this module alone: ``index_memory`` / ``reindex_memory`` / ``unindex_memory`` on writes,
``rebuild`` for the whole store, ``show`` / ``path`` / ``graph_candidates`` to read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core import extract
from core import filters as flt
from core.db import Connection
from core.errors import InvalidInput, NotFound
from core.graph_index import SUBJECT_TYPES as SUBJECT_TYPES
from core.graph_index import RebuildResult as RebuildResult
from core.graph_index import index_memory as index_memory
from core.graph_index import link_relation as link_relation
from core.graph_index import rebuild as rebuild
from core.graph_index import reindex_memory as reindex_memory
from core.graph_index import unindex_memory as unindex_memory
from core.models import EntitySummary, SearchFilters
from core.search import STOPWORDS
from core.store import Store

NEAR_FACTOR = 0.3  # a neighbour's memories count this much of a named entity's in graph search
MAX_VISITED = 50_000  # path search gives up past this many entities (a huge, dense graph)
_CHUNK = 500
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
class MemoryBrief:
    """A memory as listed next to an entity: enough to show it and fetch it by id."""

    id: str
    title: str
    kind: str
    when: str  # event time, else creation time (ISO)
    snippet: str


@dataclass(frozen=True)
class EntityView:
    """``graph.show``: one entity, its strongest relations and its latest memories."""

    entity: EntitySummary
    entity_id: int
    aliases: list[str]
    neighbours: list[Neighbour]
    memories: list[MemoryBrief]


@dataclass(frozen=True)
class PathStep:
    """One entity on a path, with the relation that leads into it ("" for the first)."""

    entity: EntitySummary
    entity_id: int
    relation: str
    weight: float
    direction: str  # "out": previous —relation→ this; "in": previous ←relation— this; "" first


@dataclass(frozen=True)
class Edge:
    """The relations between two entities, merged (for pictures)."""

    src: int
    dst: int
    types: tuple[str, ...]
    weight: float


# ---- finding entities ------------------------------------------------------------------
def find_entities(store: Store, text: str, limit: int = 10) -> list[int]:
    """Entity ids named by ``text``, best first: the whole text as an alias (or ``type:name``),
    the entities the extractor finds in it, then names of people, projects, files… in it."""
    conn = store.conn()
    etype, whole = _typed(text)
    if etype:
        typed = _alias_ids(conn, [whole], types=(etype,))
        if typed:
            return list(dict.fromkeys(typed))[:limit]
    ids = _alias_ids(conn, [whole])
    for ent in extract.query_entities(text):
        row = conn.execute("SELECT id FROM entities WHERE type = ? AND name = ?", (ent.type, ent.name)).fetchone()
        ids += [int(row[0])] if row else _alias_ids(conn, [ent.name.lower()])
    grams = _grams(whole)
    if grams:
        ids += _alias_ids(conn, grams, types=tuple(t for t in extract.ENTITY_TYPES if t != "technology"))
    return list(dict.fromkeys(ids))[:limit]


def _typed(text: str) -> tuple[str | None, str]:
    """``"person:Alice"`` → ("person", "alice"); anything else → (None, the text lower-cased)."""
    whole = " ".join(text.lower().split())
    etype, _, rest = whole.partition(":")
    return (etype, rest.strip()) if etype in extract.ENTITY_TYPES and rest.strip() else (None, whole)


def _grams(text: str) -> list[str]:
    """Words and 2-3 word phrases of a query that could be an entity's alias."""
    words = [w.strip(".:") for w in _GRAM.findall(text)][:40]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    grams = [w for w in words if len(w) >= 3 and w not in STOPWORDS]
    for n in (2, 3):
        grams += [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    return list(dict.fromkeys(g for g in grams if g))


def _alias_ids(conn: Connection, aliases: Sequence[str], types: Sequence[str] = ()) -> list[int]:
    if not aliases:
        return []
    marks = ",".join("?" * len(aliases))
    type_sql = f" AND e.type IN ({','.join('?' * len(types))})" if types else ""
    rows = conn.execute(
        f"SELECT a.entity_id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
        f" WHERE a.alias IN ({marks}){type_sql}", [*aliases, *types]).fetchall()
    return [int(r[0]) for r in rows]


def named_exactly(store: Store, names: Sequence[str], types: Sequence[str]) -> dict[str, list[int]]:
    """Name (as given) → ids of the entities of ``types`` whose name or display is exactly
    that name (any case), for many names at once: an editor asks for every function of a
    file (50k names took 5 s one ``find_entities`` each, entity extraction included)."""
    by_alias: dict[str, list[str]] = {}
    for name in names:
        by_alias.setdefault(name.lower(), []).append(name)
    aliases = list(by_alias)
    found: dict[str, list[int]] = {}
    type_marks = ",".join("?" * len(types))
    for start in range(0, len(aliases), 500):
        chunk = aliases[start:start + 500]
        rows = store.conn().execute(
            f"SELECT a.alias, e.id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
            f" WHERE a.alias IN ({','.join('?' * len(chunk))}) AND e.type IN ({type_marks})"
            f" AND (lower(e.name) = a.alias OR lower(e.display) = a.alias)", [*chunk, *types]).fetchall()
        for alias, entity_id in rows:
            for name in by_alias[alias]:
                found.setdefault(name, []).append(int(entity_id))
    return found


def resolve(store: Store, name: str) -> int:
    """The one entity ``name`` means (``k8s`` → Kubernetes; ``person:alice`` picks a type).

    Raises NotFound with close matches (by alias prefix) as the hint."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("The entity name is empty.", hint="Name a technology, person, file or symbol.")
    ids = find_entities(store, name, 10)
    if not ids:
        raise NotFound(f"No entity in the knowledge graph is named {name!r}.", hint=_suggest(store, name))
    wanted = _typed(name)[1]
    exact = [(e.memory_count, -i) for i, e in zip(ids, summaries(store, ids), strict=True)
             if wanted in (e.name.lower(), e.display.lower())]
    return -max(exact)[1] if exact else ids[0]  # the most mentioned of the same name


def suggestions(store: Store, text: str, limit: int = 5) -> list[EntitySummary]:
    """Entities with an alias starting like ``text`` (of its type, for ``type:name``), trying
    shorter prefixes down to three characters until some match; the most mentioned first."""
    etype, whole = _typed(text)
    for size in dict.fromkeys(n for n in (len(whole), len(whole) * 3 // 4, len(whole) // 2, 3) if n >= 3):
        prefix = whole[:size]
        ids = [int(r[0]) for r in store.conn().execute(
            "SELECT DISTINCT a.entity_id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
            " WHERE a.alias >= ? AND a.alias < ? AND (? IS NULL OR e.type = ?) LIMIT ?",
            (prefix, prefix + "\uffff", etype, etype, limit * 4))]
        if ids:
            return sorted(summaries(store, ids), key=lambda e: -e.memory_count)[:limit]
    return []


def _suggest(store: Store, text: str) -> str:
    close = suggestions(store, text)
    if close:
        return "Did you mean " + ", ".join(f"{e.display!r} ({e.type})" for e in close) + "?"
    return ("Entities come from stored memories: `devmem graph stats` lists the most mentioned, "
            "and `devmem graph rebuild` re-extracts them if the graph is empty.")


# ---- reading ---------------------------------------------------------------------------
def summaries(store: Store, entity_ids: Sequence[int]) -> list[EntitySummary]:
    """The entities' summaries, in the order given (ids must exist)."""
    if not entity_ids:
        return []
    marks = ",".join("?" * len(entity_ids))
    rows = store.conn().execute(
        f"SELECT e.id, e.type, e.name, e.display, (SELECT count(*) FROM memory_entities me"
        f" WHERE me.entity_id = e.id) FROM entities e WHERE e.id IN ({marks})", list(entity_ids))
    by_id = {int(r[0]): EntitySummary(r[1], r[2], r[3], int(r[4])) for r in rows}
    return [by_id[i] for i in entity_ids]


def neighbours(store: Store, entity_id: int, limit: int = 20) -> list[Neighbour]:
    """The entities related to ``entity_id``, strongest relation first."""
    # Each side's top ``limit`` first: an index on (src_id, weight) / (dst_id, weight) turns
    # them into short index scans, which a hub with 100k relations needs.
    rows = store.conn().execute(
        "SELECT * FROM (SELECT dst_id, type, weight, 'out' FROM relations WHERE src_id = ?1"
        " ORDER BY weight DESC LIMIT ?2) UNION ALL SELECT * FROM (SELECT src_id, type, weight, 'in'"
        " FROM relations WHERE dst_id = ?1 ORDER BY weight DESC LIMIT ?2) ORDER BY 3 DESC, 1 LIMIT ?2",
        (entity_id, limit)).fetchall()
    ids = list(dict.fromkeys(int(r[0]) for r in rows))
    by_id = dict(zip(ids, summaries(store, ids), strict=True))
    return [Neighbour(by_id[int(r[0])], r[1], float(r[2]), r[3], int(r[0])) for r in rows]


def latest_memories(store: Store, entity_id: int, limit: int = 5) -> list[MemoryBrief]:
    """The memories mentioning an entity, latest (event time, else creation) first.

    Chosen among its most recently stored mentions (4 × ``limit``, at least 20) so that the
    cost does not grow with the entity's popularity: a project named by 50k memories answers
    as fast as a file named by two."""
    rows = store.conn().execute(
        "SELECT m.id, m.title, m.kind, coalesce(m.event_at, m.created_at) AS t, substr(m.content, 1, 400)"
        " FROM memories m WHERE m.rowid IN (SELECT memory_rowid FROM memory_entities WHERE entity_id = ?"
        " ORDER BY rowid DESC LIMIT ?) ORDER BY t DESC, m.rowid DESC LIMIT ?",
        (entity_id, max(limit * 4, 20), limit))
    return [MemoryBrief(r[0], r[1], r[2], r[3], _clip(r[4], 200)) for r in rows]


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def show(store: Store, name: str, limit: int = 10) -> EntityView:
    """An entity by name or alias: its summary, strongest relations and latest memories.

    Raises NotFound (with close names as the hint) when nothing is called ``name``."""
    return show_entity(store, resolve(store, name), limit)


def show_entity(store: Store, entity_id: int, limit: int = 10) -> EntityView:
    """``show`` for an entity id already in hand (from ``find_entities``, say)."""
    aliases = sorted(str(r[0]) for r in store.conn().execute(
        "SELECT alias FROM entity_aliases WHERE entity_id = ?", (entity_id,)))
    return EntityView(summaries(store, [entity_id])[0], entity_id, aliases,
                      neighbours(store, entity_id, limit), latest_memories(store, entity_id, limit))


def memory_rowids_for(store: Store, entity_ids: Sequence[int], filters: SearchFilters | None,
                      limit: int) -> list[int]:
    """Memories mentioning any of the entities, most entities and latest first."""
    if not entity_ids:
        return []
    where, args = flt.where(filters, indexed=False)
    marks = ",".join("?" * len(entity_ids))
    rows = store.conn().execute(
        f"SELECT me.memory_rowid FROM memory_entities me JOIN memories m ON m.rowid = me.memory_rowid"
        f" WHERE me.entity_id IN ({marks}) AND {where} GROUP BY me.memory_rowid"
        f" ORDER BY sum(me.confidence) DESC, max(m.updated_at) DESC LIMIT ?",
        [*entity_ids, *args, limit])
    return [int(r[0]) for r in rows]


def graph_candidates(store: Store, query: str, filters: SearchFilters | None, k: int) -> list[int]:
    """Graph-mode retrieval: memories naming the query's entities, then their neighbours'.

    A memory scores the confidence of each mention × the entity's rarity (1 / log2(2 + its
    memory count)), so "the project everything belongs to" weighs little next to a named
    person or file; each entity contributes its latest ``k`` mentions."""
    seeds = find_entities(store, query)
    if not seeds:
        return []
    scores: dict[int, float] = {}
    for entity_id in seeds:
        _add_mentions(store, entity_id, 1.0, filters, k, scores)
    if len(scores) < k:
        for seed in seeds:
            top = neighbours(store, seed, 5)
            strongest = max((n.weight for n in top), default=1.0) or 1.0
            for n in (n for n in top if n.entity_id not in seeds):
                _add_mentions(store, n.entity_id, NEAR_FACTOR * n.weight / strongest, filters, k, scores)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], -kv[0]))
    return [rowid for rowid, _ in ranked[:k]]


def _add_mentions(store: Store, entity_id: int, factor: float, filters: SearchFilters | None, k: int,
                  scores: dict[int, float]) -> None:
    where, args = flt.where(filters, indexed=False)
    rows = store.conn().execute(
        "SELECT me.memory_rowid, me.confidence FROM memory_entities me JOIN memories m"
        f" ON m.rowid = me.memory_rowid WHERE me.entity_id = ? AND {where} ORDER BY me.rowid DESC LIMIT ?",
        [entity_id, *args, k]).fetchall()
    count = int(store.conn().execute("SELECT count(*) FROM memory_entities WHERE entity_id = ?",
                                     (entity_id,)).fetchone()[0])
    rarity = factor / math.log2(2 + count)
    for rowid, confidence in rows:
        scores[int(rowid)] = scores.get(int(rowid), 0.0) + float(confidence) * rarity


def entity_ids_of(store: Store, ents: Sequence[EntitySummary]) -> list[int]:
    out: list[int] = []
    for e in ents:
        row = store.conn().execute("SELECT id FROM entities WHERE type=? AND name=?",
                                   (e.type, e.name)).fetchone()
        if row:
            out.append(int(row[0]))
    return out


def entities_of_memory(store: Store, rowid: int) -> list[EntitySummary]:
    ids = [int(r[0]) for r in store.conn().execute(
        "SELECT entity_id FROM memory_entities WHERE memory_rowid = ? ORDER BY confidence DESC", (rowid,))]
    return summaries(store, ids)


# ---- paths and neighbourhoods -----------------------------------------------------------
_Hop = tuple[int, str, float, str]  # (next entity towards the end, relation, weight, direction)


def path(store: Store, source: str, target: str, max_depth: int = 6) -> list[PathStep]:
    """The shortest chain of relations between two named entities ([] when unconnected)."""
    src, dst = resolve(store, source), resolve(store, target)
    hops = _shortest(store.conn(), src, dst, max_depth)
    ids = [h[0] for h in hops]
    by_id = dict(zip(ids, summaries(store, ids), strict=True))
    return [PathStep(by_id[i], i, rel, weight, d) for i, rel, weight, d in hops]


def shortest_path(store: Store, src: int, dst: int, max_depth: int = 6) -> list[tuple[int, str]]:
    """(entity id, relation into it) from ``src`` to ``dst``; [] if none within ``max_depth``."""
    return [(h[0], h[1]) for h in _shortest(store.conn(), src, dst, max_depth)]


def _shortest(conn: Connection, src: int, dst: int, max_depth: int) -> list[_Hop]:
    """Bidirectional breadth-first search, expanding the smaller side a whole level at a time."""
    if src == dst:
        return [(src, "", 0.0, "")]
    sides: tuple[dict[int, _Hop | None], dict[int, _Hop | None]] = ({src: None}, {dst: None})
    dist: tuple[dict[int, int], dict[int, int]] = ({src: 0}, {dst: 0})
    fronts, hops = [[src], [dst]], 0
    while fronts[0] and fronts[1] and hops < max_depth and len(dist[0]) + len(dist[1]) < MAX_VISITED:
        side = 0 if len(fronts[0]) <= len(fronts[1]) else 1
        seen, other, nxt, meets = sides[side], sides[1 - side], [], []
        for node, near, rtype, weight, stored_out in _edges(conn, fronts[side]):
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


def _join(forward: dict[int, _Hop | None], backward: dict[int, _Hop | None], meet: int) -> list[_Hop]:
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


def _edges(conn: Connection, nodes: Sequence[int]) -> list[tuple[int, int, str, float, bool]]:
    """(node, neighbour, relation, weight, stored node→neighbour) for ``nodes``, strongest first."""
    out: list[tuple[int, int, str, float, bool]] = []
    for i in range(0, len(nodes), _CHUNK):
        chunk = list(nodes[i:i + _CHUNK])
        marks = ",".join("?" * len(chunk))
        out += [(int(a), int(b), str(t), float(w), bool(d)) for a, b, t, w, d in conn.execute(
            f"SELECT src_id, dst_id, type, weight, 1 FROM relations WHERE src_id IN ({marks}) UNION ALL"
            f" SELECT dst_id, src_id, type, weight, 0 FROM relations WHERE dst_id IN ({marks})",
            chunk + chunk)]
    out.sort(key=lambda e: (-e[3], e[0], e[1]))
    return out


def subgraph(store: Store, center: int | None = None, depth: int = 2,
             max_nodes: int = 200) -> tuple[list[int], list[Edge]]:
    """Entities and merged edges for a picture: the ``depth``-neighbourhood of ``center``
    (strongest relations first), or the most mentioned entities of the whole graph."""
    conn = store.conn()
    tree: set[tuple[int, int]] = set()
    if center is None:
        nodes = [int(r[0]) for r in conn.execute(
            "SELECT entity_id FROM memory_entities GROUP BY entity_id ORDER BY count(*) DESC, entity_id"
            " LIMIT ?", (max_nodes,))]
    else:
        nodes, tree = _ball(conn, center, depth, max_nodes)
    return nodes, _edges_among(conn, nodes, max_nodes * 4, tree)


def _ball(conn: Connection, center: int, depth: int, max_nodes: int) -> tuple[list[int], set[tuple[int, int]]]:
    """Breadth-first from ``center``, strongest relations first; the edges that reached each node."""
    chosen, front, tree = {center: None}, [center], set()
    for _ in range(max(depth, 0)):
        nxt = []
        for node, near, *_ in _edges(conn, front):
            if near not in chosen and len(chosen) < max_nodes:
                chosen[near] = None
                nxt.append(near)
                tree.add((min(node, near), max(node, near)))
        front = nxt
    return list(chosen), tree


def _edges_among(conn: Connection, nodes: list[int], max_edges: int,
                 keep: set[tuple[int, int]]) -> list[Edge]:
    """The strongest ``max_edges`` merged edges among ``nodes``, plus those in ``keep`` and
    each node's strongest (so the picture stays connected)."""
    wanted = set(nodes)
    merged: dict[tuple[int, int], tuple[set[str], float]] = {}
    for a, b, rtype, weight, _ in _edges(conn, nodes):
        if b in wanted and a < b:
            types, total = merged.get((a, b), (set(), 0.0))
            merged[(a, b)] = (types | {rtype}, total + weight)
    edges = sorted((Edge(a, b, tuple(sorted(t)), round(w, 4)) for (a, b), (t, w) in merged.items()),
                   key=lambda e: (-e.weight, e.src, e.dst))
    kept, linked = edges[:max_edges], {n for e in edges[:max_edges] for n in (e.src, e.dst)}
    for e in edges[max_edges:]:
        if (e.src, e.dst) in keep or e.src not in linked or e.dst not in linked:
            kept.append(e)
            linked |= {e.src, e.dst}
    return kept


def aliases_of(store: Store, entity_ids: Sequence[int], per_entity: int = 8) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in entity_ids}
    for i in range(0, len(entity_ids), _CHUNK):
        chunk = list(entity_ids[i:i + _CHUNK])
        for alias, entity_id in store.conn().execute(
                f"SELECT alias, entity_id FROM entity_aliases WHERE entity_id IN ({','.join('?' * len(chunk))})"
                " ORDER BY alias", chunk):
            if len(out[int(entity_id)]) < per_entity:
                out[int(entity_id)].append(str(alias))
    return out


def stats(store: Store) -> dict[str, Any]:
    conn = store.conn()
    by_type = {str(r[0]): int(r[1]) for r in conn.execute(
        "SELECT type, count(*) FROM entities GROUP BY type ORDER BY 2 DESC")}
    relations = int(conn.execute("SELECT count(*) FROM relations").fetchone()[0])
    return {"entities": sum(by_type.values()), "entities_by_type": by_type, "relations": relations}


def overview(store: Store, top: int = 15) -> dict[str, Any]:
    """``stats`` plus relations by type and the most mentioned entities (for `devmem graph stats`)."""
    conn = store.conn()
    by_rel = {str(r[0]): int(r[1]) for r in conn.execute(
        "SELECT type, count(*) FROM relations GROUP BY type ORDER BY 2 DESC")}
    ids = [int(r[0]) for r in conn.execute(
        "SELECT entity_id FROM memory_entities GROUP BY entity_id ORDER BY count(*) DESC, entity_id"
        " LIMIT ?", (top,))]
    mentions = int(conn.execute("SELECT count(*) FROM memory_entities").fetchone()[0])
    return {**stats(store), "relations_by_type": by_rel, "mentions": mentions,
            "top_entities": summaries(store, ids)}
