"""The knowledge graph in SQLite: entities, aliases, memory mentions and weighted relations.

Extraction (``core.extract``) finds entities and relations; this module stores them in the
same transaction as the memory, removes a memory's evidence when it goes, and answers the
graph queries (neighbourhood, path, graph-mode search candidates).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core import extract
from core import filters as flt
from core.db import Connection
from core.models import EntityRef, EntitySummary, Memory, SearchFilters
from core.store import Store

# What a connector's people relate to in a memory ("authored" a file, "attended" a meeting).
SUBJECT_TYPES = ("meeting", "issue", "repository", "project", "file", "symbol")


@dataclass(frozen=True)
class Neighbour:
    """An entity next to another in the graph, through a relation."""

    entity: EntitySummary
    relation: str
    weight: float
    direction: str  # "out" or "in"


def index_memory(conn: Connection, rowid: int, m: Memory, refs: Sequence[EntityRef] = ()) -> int:
    """Extract and store the entities and relations of one memory; returns the entity count."""
    entities, relations = extract.extract(
        m.content, title=m.title, kind=m.kind,
        anchor_path=m.anchor.path if m.anchor else None,
        anchor_symbol=m.anchor.symbol if m.anchor else None,
        project=m.project, metadata=m.metadata)
    ids: dict[tuple[str, str], int] = {}
    for ent in entities:
        ids[(ent.type, ent.name)] = _upsert_entity(conn, ent.type, ent.name, ent.display, ent.aliases)
        conn.execute("INSERT OR REPLACE INTO memory_entities(memory_rowid, entity_id, confidence,"
                     " source) VALUES (?, ?, ?, ?)",
                     (rowid, ids[(ent.type, ent.name)], ent.confidence, ent.source))
    subjects = [ids[k] for k in ids if k[0] in SUBJECT_TYPES]
    for ref in refs:
        key = (ref.type, ref.name.strip().lower())
        ids[key] = ref_id = _upsert_entity(conn, key[0], key[1], ref.display or ref.name, (ref.name,))
        conn.execute("INSERT OR REPLACE INTO memory_entities VALUES (?, ?, 1.0, 'connector')",
                     (rowid, ref_id))
        if ref.relation:  # "alice authored <file>", "bob attended <meeting>"
            for subject in subjects[:10]:
                if subject != ref_id:
                    _add_evidence(conn, ref_id, subject, ref.relation, rowid, 1.0)
    for rel in relations:
        src, dst = ids.get(rel.src), ids.get(rel.dst)
        if src is not None and dst is not None and src != dst:
            _add_evidence(conn, src, dst, rel.type, rowid, rel.weight)
    return len(ids)


def _upsert_entity(conn: Connection, etype: str, name: str, display: str,
                   aliases: Iterable[str]) -> int:
    row = conn.execute("SELECT id FROM entities WHERE type = ? AND name = ?", (etype, name)).fetchone()
    if row is None:
        cur = conn.execute("INSERT INTO entities(type, name, display) VALUES (?, ?, ?)",
                           (etype, name, display))
        entity_id = int(cur.lastrowid or 0)
    else:
        entity_id = int(row[0])
    conn.executemany("INSERT OR IGNORE INTO entity_aliases(alias, entity_id) VALUES (?, ?)",
                     [(a.lower(), entity_id) for a in {name, display, *aliases} if a])
    return entity_id


def _add_evidence(conn: Connection, src: int, dst: int, rtype: str, rowid: int, weight: float) -> None:
    conn.execute("INSERT OR IGNORE INTO relations(src_id, dst_id, type, weight) VALUES (?, ?, ?, 0)",
                 (src, dst, rtype))
    rel_id = conn.execute("SELECT id FROM relations WHERE src_id=? AND dst_id=? AND type=?",
                          (src, dst, rtype)).fetchone()[0]
    conn.execute("INSERT OR REPLACE INTO relation_evidence(relation_id, memory_rowid, weight)"
                 " VALUES (?, ?, ?)", (rel_id, rowid, weight))
    conn.execute("UPDATE relations SET weight = (SELECT coalesce(sum(weight), 0) FROM"
                 " relation_evidence WHERE relation_id = ?) WHERE id = ?", (rel_id, rel_id))


def unindex_memory(conn: Connection, rowid: int) -> None:
    """Remove a memory's mentions and evidence; relations left without evidence go too."""
    rel_ids = [r[0] for r in conn.execute(
        "SELECT relation_id FROM relation_evidence WHERE memory_rowid = ?", (rowid,))]
    conn.execute("DELETE FROM relation_evidence WHERE memory_rowid = ?", (rowid,))
    conn.execute("DELETE FROM memory_entities WHERE memory_rowid = ?", (rowid,))
    for rel_id in rel_ids:
        conn.execute("UPDATE relations SET weight = (SELECT coalesce(sum(weight), 0) FROM"
                     " relation_evidence WHERE relation_id = ?) WHERE id = ?", (rel_id, rel_id))
        conn.execute("DELETE FROM relations WHERE id = ? AND NOT EXISTS (SELECT 1 FROM"
                     " relation_evidence WHERE relation_id = ?)", (rel_id, rel_id))


def link_relation(conn: Connection, src_rowid: int, dst_rowid: int, link_type: str) -> None:
    """A memory link relates the entities the two memories are mainly about."""
    src_ents = _top_entities(conn, src_rowid, 3)
    dst_ents = _top_entities(conn, dst_rowid, 3)
    for a in src_ents:
        for b in dst_ents:
            if a != b:
                _add_evidence(conn, a, b, f"linked_{link_type}", src_rowid, 0.5)


def _top_entities(conn: Connection, rowid: int, n: int) -> list[int]:
    return [int(r[0]) for r in conn.execute(
        "SELECT entity_id FROM memory_entities WHERE memory_rowid = ? ORDER BY confidence DESC"
        " LIMIT ?", (rowid, n))]


# ---- queries ---------------------------------------------------------------------------
def find_entities(store: Store, text: str, limit: int = 10) -> list[int]:
    """Entity ids named by ``text``: exact alias first, then the query's extracted entities."""
    conn = store.conn()
    ids = [int(r[0]) for r in conn.execute(
        "SELECT entity_id FROM entity_aliases WHERE alias = ? LIMIT ?", (text.strip().lower(), limit))]
    for ent in extract.query_entities(text):
        for r in conn.execute("SELECT id FROM entities WHERE type = ? AND name = ?", (ent.type, ent.name)):
            ids.append(int(r[0]))
        for r in conn.execute("SELECT entity_id FROM entity_aliases WHERE alias = ?", (ent.name.lower(),)):
            ids.append(int(r[0]))
    return list(dict.fromkeys(ids))[:limit]


def summaries(store: Store, entity_ids: Sequence[int]) -> list[EntitySummary]:
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
    rows = store.conn().execute(
        "SELECT dst_id, type, weight, 'out' FROM relations WHERE src_id = ?"
        " UNION ALL SELECT src_id, type, weight, 'in' FROM relations WHERE dst_id = ?"
        " ORDER BY 3 DESC LIMIT ?", (entity_id, entity_id, limit)).fetchall()
    ids = list(dict.fromkeys(int(r[0]) for r in rows))
    by_id = dict(zip(ids, summaries(store, ids), strict=True))
    return [Neighbour(by_id[int(r[0])], r[1], float(r[2]), r[3]) for r in rows]


def memory_rowids_for(store: Store, entity_ids: Sequence[int], filters: SearchFilters | None,
                      limit: int) -> list[int]:
    """Memories mentioning any of the entities, most entities and latest first."""
    if not entity_ids:
        return []
    where, args = flt.where(filters)
    marks = ",".join("?" * len(entity_ids))
    rows = store.conn().execute(
        f"SELECT me.memory_rowid FROM memory_entities me JOIN memories m ON m.rowid = me.memory_rowid"
        f" WHERE me.entity_id IN ({marks}) AND {where} GROUP BY me.memory_rowid"
        f" ORDER BY sum(me.confidence) DESC, max(m.updated_at) DESC LIMIT ?",
        [*entity_ids, *args, limit])
    return [int(r[0]) for r in rows]


def graph_candidates(store: Store, query: str, filters: SearchFilters | None, k: int) -> list[int]:
    """Graph-mode retrieval: the query's entities, then their strongest neighbours' memories."""
    seeds = find_entities(store, query)
    if not seeds:
        return []
    direct = memory_rowids_for(store, seeds, filters, k)
    if len(direct) >= k:
        return direct
    near = [n.entity for s in seeds for n in neighbours(store, s, 5)]
    near_ids = entity_ids_of(store, near)
    extra = memory_rowids_for(store, near_ids, filters, k - len(direct))
    return list(dict.fromkeys([*direct, *extra]))[:k]


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


def shortest_path(store: Store, src: int, dst: int, max_depth: int = 6) -> list[tuple[int, str]]:
    """Breadth-first path of (entity id, relation into it) from ``src`` to ``dst``; [] if none."""
    parents: dict[int, tuple[int, str] | None] = {src: None}
    queue: deque[tuple[int, int]] = deque([(src, 0)])
    while queue:
        node, depth = queue.popleft()
        if node == dst:
            return _walk_back(parents, dst)
        if depth >= max_depth:
            continue
        for n_id, rel in _adjacent(store, node):
            if n_id not in parents:
                parents[n_id] = (node, rel)
                queue.append((n_id, depth + 1))
    return []


def _adjacent(store: Store, node: int) -> list[tuple[int, str]]:
    rows = store.conn().execute(
        "SELECT dst_id, type FROM relations WHERE src_id = ? UNION ALL"
        " SELECT src_id, type FROM relations WHERE dst_id = ? LIMIT 500", (node, node))
    return [(int(r[0]), str(r[1])) for r in rows]


def _walk_back(parents: dict[int, tuple[int, str] | None], node: int) -> list[tuple[int, str]]:
    path: list[tuple[int, str]] = []
    current: int | None = node
    rel = ""
    while current is not None:
        parent = parents[current]
        path.append((current, rel))
        if parent is None:
            break
        current, rel = parent[0], parent[1]
        path[-1] = (path[-1][0], rel)
    path.reverse()
    return path


def stats(store: Store) -> dict[str, Any]:
    conn = store.conn()
    by_type = {str(r[0]): int(r[1]) for r in conn.execute(
        "SELECT type, count(*) FROM entities GROUP BY type ORDER BY 2 DESC")}
    relations = int(conn.execute("SELECT count(*) FROM relations").fetchone()[0])
    return {"entities": sum(by_type.values()), "entities_by_type": by_type, "relations": relations}
