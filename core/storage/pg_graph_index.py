"""Writing the knowledge graph on PostgreSQL: index / unindex one memory, link relations,
full rebuild. The invariants are the SQLite backend's (see ``sqlite_graph_index``):

* an entity exists while at least one memory mentions it;
* a relation exists while at least one memory is its evidence, and its weight is the sum
  of its evidence's weights;
* a memory link ``s → t`` relates the top entities of ``s`` and ``t`` with evidence ``s``
  (type ``linked_<link type>``), recomputed whenever either end is re-indexed;
* connector entities are mentions with source ``connector[:<relations>]``.

Entities and relations left without evidence are removed by the owner's
``devmem_prune_*`` functions, which see every row (row-level security hides others'). For the
same reason entity / relation ids are resolved (inserting the missing), aliases added and
weights changed by the owner's ``devmem_entity_ids`` / ``devmem_relation_ids`` /
``devmem_add_aliases`` / ``devmem_add_weights``: an entity named only by someone else's
private memory is invisible to the writer but must be reused (migration step 106).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from core.models import EntityRef, Memory, ProgressCallback, ProgressEvent, no_progress
from core.storage import pg_db as db
from core.storage.base import RebuildResult
from core.storage.graph_writes import Extracted, Refs, extract_of, merge_refs, ref_of
from core.storage.graph_writes import store as store_graph
from core.storage.pg_rows import MEMORY_COLUMNS, row_to_memory

Conn = psycopg.Connection[Any]
Opener = Callable[[], AbstractContextManager[Conn]]
LINK_ENTITIES = 3
REBUILD_BATCH = 500
REFS_KEY = "graph_rebuild_connector_entities"


class Ids:
    """Entity and relation ids known in one transaction (shared by its graph writes: a batch
    of memories names the same entities again and again). Pruning forgets them."""

    def __init__(self) -> None:
        self.entities: dict[tuple[str, str], int] = {}
        self.relations: dict[tuple[int, int, str], int] = {}
        self.aliases: set[tuple[str, int]] = set()

    def forget(self) -> None:
        self.entities.clear()
        self.relations.clear()
        self.aliases.clear()


class _Writer:
    """Queues graph rows and writes them with a few statements per memory: entity and
    relation ids are resolved in bulk (insert the missing, then read every id), and each
    relation's weight is kept as the sum of its evidence by adding and taking off changes."""

    def __init__(self, conn: Conn, ids: Ids | None = None) -> None:
        self.conn = conn
        self.ids = ids or Ids()
        self.aliases: list[tuple[str, int]] = []
        self.mentions: dict[tuple[str, int], tuple[float, str]] = {}
        self.related: dict[tuple[tuple[int, int, str], str], float] = {}
        self.evidence: dict[tuple[int, str], float] = {}
        self.dropped: set[int] = set()

    def entities(self, wanted: Sequence[tuple[str, str, str]]) -> None:
        """Make sure these (type, name, display) entities exist and their ids are known."""
        missing = {(t, n): d for t, n, d in wanted if (t, n) not in self.ids.entities}
        if not missing:
            return
        types = [k[0] for k in missing]
        names = [k[1] for k in missing]
        for entity_id, etype, name in self.conn.execute(
            "SELECT * FROM devmem_entity_ids(%s::text[], %s::text[], %s::text[])",
            (types, names, list(missing.values())),
        ):
            self.ids.entities[(str(etype), str(name))] = int(entity_id)

    def entity(self, etype: str, name: str, display: str, aliases: Iterable[str]) -> int:
        self.entities([(etype, name, display)])
        entity_id = self.ids.entities[(etype, name)]
        for alias in (name, display, *aliases):
            pair = (alias.lower(), entity_id)
            if alias and pair not in self.ids.aliases:
                self.ids.aliases.add(pair)
                self.aliases.append(pair)
        return entity_id

    def mention(self, memory_id: str, entity_id: int, confidence: float, source: str) -> None:
        self.mentions[(memory_id, entity_id)] = (confidence, source)

    def relate(self, src: int, dst: int, rtype: str, memory_id: str, weight: float) -> None:
        self.related[((src, dst, rtype), memory_id)] = weight

    def _resolve_relations(self) -> None:
        missing = list({key for key, _ in self.related if key not in self.ids.relations})
        if missing:
            srcs = [k[0] for k in missing]
            dsts = [k[1] for k in missing]
            types = [k[2] for k in missing]
            for rel_id, src, dst, rtype in self.conn.execute(
                "SELECT * FROM devmem_relation_ids(%s::bigint[], %s::bigint[], %s::text[])",
                (srcs, dsts, types),
            ):
                self.ids.relations[(int(src), int(dst), str(rtype))] = int(rel_id)
        for (key, memory_id), weight in self.related.items():
            self.evidence[(self.ids.relations[key], memory_id)] = weight
        self.related = {}

    def drop_evidence(self, rows: Sequence[tuple[int, str, float]]) -> None:
        """Delete evidence rows (relation, memory, weight) now, taking their weight off."""
        if not rows:
            return
        self.conn.execute(
            "DELETE FROM relation_evidence e USING unnest(%s::bigint[], %s::text[]) AS w(r, m)"
            " WHERE e.relation_id = w.r AND e.memory_id = w.m",
            ([r for r, _, _ in rows], [m for _, m, _ in rows]),
        )
        self._add_weights([(rel, -weight) for rel, _, weight in rows])
        self.dropped.update(rel for rel, _, _ in rows)

    def _add_weights(self, changes: Sequence[tuple[int, float]]) -> None:
        totals: dict[int, float] = {}
        for rel, delta in changes:
            totals[rel] = totals.get(rel, 0.0) + delta
        if totals:
            self.conn.execute(
                "SELECT devmem_add_weights(%s::bigint[], %s::float8[])",
                (list(totals), list(totals.values())),
            )

    def flush(self, *, fresh: bool = False) -> None:
        """Write the queued rows and the weight changes; relations left without evidence go.
        ``fresh``: the memories had no evidence stored yet (nothing to replace)."""
        self._resolve_relations()
        changes = [(rel, w) for (rel, _), w in self.evidence.items()]
        if not fresh:
            changes += [(rel, -old) for rel, old in self._replaced()]
        if self.aliases:
            self.conn.execute(
                "SELECT devmem_add_aliases(%s::text[], %s::bigint[])",
                ([a for a, _ in self.aliases], [e for _, e in self.aliases]),
            )
        self._write_mentions()
        if self.evidence:
            rows = list(self.evidence.items())
            self.conn.execute(
                "INSERT INTO relation_evidence(relation_id, memory_id, weight)"
                " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::float8[])"
                " ON CONFLICT (relation_id, memory_id) DO UPDATE SET weight = excluded.weight",
                ([r for (r, _), _ in rows], [m for (_, m), _ in rows], [w for _, w in rows]),
            )
        self._add_weights(changes)
        if self.dropped:
            self.conn.execute(
                "SELECT devmem_prune_relations(%s::bigint[])", (sorted(self.dropped),)
            )
            self.ids.relations.clear()  # some may be gone
        self.aliases, self.mentions, self.evidence, self.dropped = [], {}, {}, set()

    def _write_mentions(self) -> None:
        if not self.mentions:
            return
        rows = list(self.mentions.items())
        self.conn.execute(
            "INSERT INTO memory_entities(memory_id, entity_id, confidence, source)"
            " SELECT * FROM unnest(%s::text[], %s::bigint[], %s::float8[], %s::text[])"
            " ON CONFLICT (memory_id, entity_id) DO UPDATE"
            " SET confidence = excluded.confidence, source = excluded.source",
            (
                [m for (m, _), _ in rows],
                [e for (_, e), _ in rows],
                [c for _, (c, _) in rows],
                [src for _, (_, src) in rows],
            ),
        )

    def _replaced(self) -> list[tuple[int, float]]:
        """(relation, weight) of stored evidence the queued rows replace (a re-indexed memory)."""
        ids = sorted({mid for _, mid in self.evidence})
        if not ids:
            return []
        rows = self.conn.execute(
            "SELECT relation_id, memory_id, weight FROM relation_evidence"
            " WHERE memory_id = ANY(%s::text[])",
            (ids,),
        )
        return [(int(r), float(w)) for r, m, w in rows if (int(r), str(m)) in self.evidence]


class Batch:
    """The graphs of new memories (no graph rows, no links yet), written together: their
    entities resolved in one call, then every mention, relation, alias and weight with one
    statement each for the whole batch."""

    def __init__(self, conn: Conn, ids: Ids) -> None:
        self.conn, self.ids = conn, ids
        self.queued: list[tuple[str, Extracted, Sequence[EntityRef]]] = []

    def add(self, m: Memory, refs: Sequence[EntityRef]) -> int:
        """Queue ``m``'s graph; the entity count it will have."""
        found = extract_of(m)
        self.queued.append((m.id, found, refs))
        return len(_entity_keys(found, refs))

    def flush(self) -> None:
        if not self.queued:
            return
        queued, self.queued = self.queued, []
        w = _Writer(self.conn, self.ids)
        wanted: dict[tuple[str, str], str] = {}
        for _, found, refs in queued:  # the first memory naming an entity gives its display
            for key, display in _entity_keys(found, refs).items():
                wanted.setdefault(key, display)
        w.entities([(t, n, d) for (t, n), d in wanted.items()])
        for memory_id, found, refs in queued:
            store_graph(w, memory_id, found, refs)
        w.flush(fresh=True)


def _entity_keys(found: Extracted, refs: Sequence[EntityRef]) -> dict[tuple[str, str], str]:
    """(type, name) → display of the entities ``store_graph`` resolves for one memory, in
    its order: the extracted ones (the last display of a name wins, as in one lookup), then
    the connector's (the first display given)."""
    keys = {(e.type, e.name): e.display for e in found[0]}
    for ref in refs:
        keys.setdefault((ref.type, ref.name.strip().lower()), ref.display or ref.name)
    return keys


def index_memory(
    conn: Conn, m: Memory, refs: Sequence[EntityRef] = (), ids: Ids | None = None
) -> int:
    """Extract and store the entities and relations of one memory; returns the entity count."""
    w = _Writer(conn, ids)
    count = store_graph(w, m.id, extract_of(m), refs)
    w.flush()
    sources = _link_sources(conn, m.id)
    if sources:
        _refresh_links(w, sources)
    return count


def reindex_memory(
    conn: Conn, m: Memory, refs: Sequence[EntityRef] | None = None, ids: Ids | None = None
) -> int:
    """Replace a changed memory's graph; ``refs=None`` keeps its connector entities."""
    kept = unindex_memory(conn, m.id, ids)
    return index_memory(conn, m, kept if refs is None else refs, ids)


def unindex_memory(conn: Conn, memory_id: str, ids: Ids | None = None) -> list[EntityRef]:
    """Remove a memory's mentions and evidence; relations and entities left without any go.

    Returns the connector entities it had (they are stored nowhere else)."""
    refs = [ref_of(r) for r in _connector_refs(conn, [memory_id]).get(memory_id, [])]
    w = _Writer(conn, ids)
    w.drop_evidence(
        [
            (int(r[0]), str(r[1]), float(r[2]))
            for r in conn.execute(
                "SELECT relation_id, memory_id, weight FROM relation_evidence WHERE memory_id = %s",
                (memory_id,),
            )
        ]
    )
    entity_ids = [
        int(r[0])
        for r in conn.execute(
            "DELETE FROM memory_entities WHERE memory_id = %s RETURNING entity_id", (memory_id,)
        )
    ]
    _refresh_links(w, [s for s in _link_sources(conn, memory_id) if s != memory_id])
    if entity_ids:
        conn.execute("SELECT devmem_prune_entities(%s::bigint[])", (entity_ids,))
        w.ids.forget()  # some entities (and their relations and aliases) may be gone
    return refs


def link_relation(conn: Conn, src_id: str, ids: Ids | None = None) -> None:
    """A memory link relates the entities the two memories are mainly about (recomputed
    from the source's stored links)."""
    _refresh_links(_Writer(conn, ids), [src_id])


def _link_sources(conn: Conn, memory_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT memory_id FROM memory_links WHERE memory_id = %(m)s"
        " UNION SELECT memory_id FROM memory_links WHERE target_id = %(m)s",
        {"m": memory_id},
    )
    return [str(r[0]) for r in rows]


def _refresh_links(w: _Writer, sources: Iterable[str]) -> None:
    conn = w.conn
    for src in sources:
        w.drop_evidence(
            [
                (int(r[0]), str(r[1]), float(r[2]))
                for r in conn.execute(
                    "SELECT e.relation_id, e.memory_id, e.weight FROM relation_evidence e"
                    " JOIN relations r ON r.id = e.relation_id WHERE e.memory_id = %s"
                    " AND r.type LIKE 'linked\\_%%'",
                    (src,),
                )
            ]
        )
        mine = _top_entities(conn, src)
        for dst, link_type in conn.execute(
            "SELECT target_id, type FROM memory_links WHERE memory_id = %s", (src,)
        ).fetchall():
            for a in mine:
                for b in _top_entities(conn, str(dst)):
                    if a != b:
                        w.relate(a, b, f"linked_{link_type}", src, 0.5)
    w.flush()


def _top_entities(conn: Conn, memory_id: str) -> list[int]:
    # Ties broken by (type, name), not id: a rebuild numbers entities differently.
    rows = conn.execute(
        "SELECT me.entity_id FROM memory_entities me JOIN entities e ON e.id = me.entity_id"
        " WHERE me.memory_id = %s ORDER BY me.confidence DESC, e.type, e.name LIMIT %s",
        (memory_id, LINK_ENTITIES),
    )
    return [int(r[0]) for r in rows]


def rebuild(
    write: Opener, progress: ProgressCallback = no_progress, batch: int = REBUILD_BATCH
) -> RebuildResult:
    """Re-extract every memory into a fresh graph in short transactions (see SQLite's);
    connector entities are kept in ``devmem_meta`` until the end, so an interrupted rebuild
    is finished by running it again."""
    start = time.perf_counter()
    with write() as conn:
        refs = _connector_refs(conn)
        merge_refs(refs, json.loads(db.get_meta(conn, REFS_KEY) or "{}"))
        db.set_meta(conn, REFS_KEY, json.dumps(refs))
        for table in ("relation_evidence", "relations", "memory_entities", "entity_aliases"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM entities")
    done = _rebuild_memories(write, refs, progress, batch)
    _rebuild_links(write, progress)
    with write() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM entities), (SELECT count(*) FROM relations)"
        ).fetchone()
    assert row is not None
    return RebuildResult(done, int(row[0]), int(row[1]), time.perf_counter() - start)


def _rebuild_memories(write: Opener, refs: Refs, progress: ProgressCallback, batch: int) -> int:
    last, done = 0, 0
    while True:
        with write() as conn:
            total = int((conn.execute("SELECT count(*) FROM memories").fetchone() or [0])[0])
            rows = conn.execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.seq > %s ORDER BY m.seq LIMIT %s",
                (last, batch),
            ).fetchall()
            if not rows:
                return done
            w = _Writer(conn)
            ids = [str(r[1]) for r in rows]
            merge_refs(refs, _connector_refs(conn, ids))
            for r in rows:
                m = row_to_memory(r)
                store_graph(w, m.id, extract_of(m), [ref_of(x) for x in refs.get(m.id, ())])
            w.flush()
        last, done = int(rows[-1][0]), done + len(rows)
        progress(ProgressEvent("entities", done, max(total, done)))


def _rebuild_links(write: Opener, progress: ProgressCallback) -> None:
    with write() as conn:
        sources = [str(r[0]) for r in conn.execute("SELECT DISTINCT memory_id FROM memory_links")]
    for i in range(0, len(sources), REBUILD_BATCH):
        with write() as conn:
            _refresh_links(_Writer(conn), sources[i : i + REBUILD_BATCH])
        progress(ProgressEvent("links", min(i + REBUILD_BATCH, len(sources)), len(sources)))
    with write() as conn:
        conn.execute("DELETE FROM devmem_meta WHERE key = %s", (REFS_KEY,))


def _connector_refs(conn: Conn, memory_ids: Sequence[str] | None = None) -> Refs:
    """The connector entities of these memories (of all, without ``memory_ids``)."""
    query = (
        "SELECT me.memory_id, e.type, e.name, e.display, me.source FROM memory_entities me"
        " JOIN entities e ON e.id = me.entity_id WHERE me.source LIKE 'connector%%'"
    )
    args: list[Any] = []
    if memory_ids is not None:
        query += " AND me.memory_id = ANY(%s::text[])"
        args.append(list(memory_ids))
    out: Refs = {}
    for memory_id, etype, name, display, source in conn.execute(query, args):
        for rel in str(source).partition(":")[2].split(","):
            out.setdefault(str(memory_id), []).append([etype, name, display, rel or None])
    return out
