"""Writing the knowledge graph: index / unindex one memory, link relations, full rebuild.

Extraction (``core.extract``) finds entities and relations; this module stores them in the
same transaction as the memory and removes a memory's evidence when it goes. The invariants
it keeps (and ``rebuild`` reproduces exactly):

* an entity exists while at least one memory mentions it;
* a relation exists while at least one memory is its evidence, and its weight is the sum
  of its evidence's weights;
* a memory link ``s → t`` relates the top entities of ``s`` and ``t`` with evidence ``s``
  (type ``linked_<link type>``), recomputed whenever either end is re-indexed;
* entities named by a connector (``MemoryInput.entities``) are mentions with source
  ``connector[:<relations>]``, which is how ``rebuild`` finds them again.

``SqliteStorage`` calls these inside its transactions; rowids stay in this package.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from core.models import EntityRef, Memory, ProgressCallback, ProgressEvent, no_progress
from core.storage import sqlite_db as db
from core.storage.base import RebuildResult
from core.storage.graph_writes import Refs, extract_of, merge_refs, ref_of
from core.storage.graph_writes import store as store_graph
from core.storage.sqlite_db import Connection
from core.storage.sqlite_rows import MEMORY_COLUMNS, row_to_memory
from core.storage.sqlite_store import Store

# What a connector's people relate to in a memory ("authored" a file, "attended" a meeting).
LINK_ENTITIES = 3  # a memory link relates the top-3 entities of each end
REBUILD_BATCH = 500
REFS_KEY = "graph_rebuild_connector_entities"  # meta key: the connector entities while rebuilding
_CHUNK = 500


# Connector entities by memory rowid (a string: they go through JSON): [type, name, display, relation]


class _Writer:
    """Queues one transaction's graph rows for ``executemany``; caches entity and relation ids.

    A relation's weight is the sum of its evidence's weights, kept by adding and taking off
    each change (summing a hub relation's thousands of evidence rows on every write would
    make writes slower as the store grows)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.entity_ids: dict[tuple[str, str], int] = {}
        self.relation_ids: dict[tuple[int, int, str], int] = {}
        self.known_aliases: set[tuple[str, int]] = set()
        self.aliases: list[tuple[str, int]] = []
        self.mentions: list[tuple[int, int, float, str]] = []
        self.evidence: dict[tuple[int, int], float] = {}  # (relation, memory) → weight; last wins
        self.dropped: set[int] = set()  # relations that lost evidence: they go if none is left

    def forget_ids(self) -> None:
        """Drop the caches: another process changed the graph since they were filled."""
        self.entity_ids.clear()
        self.relation_ids.clear()
        self.known_aliases.clear()

    def entities(self, wanted: Sequence[tuple[str, str, str]]) -> None:
        """Nothing to prepare: each entity is resolved as it comes (in process, no round trips)."""

    def entity(self, etype: str, name: str, display: str, aliases: Iterable[str]) -> int:
        key = (etype, name)
        entity_id = self.entity_ids.get(key)
        if entity_id is None:
            row = self.conn.execute(
                "SELECT id FROM entities WHERE type = ? AND name = ?", key
            ).fetchone()
            if row is None and etype == "person":
                row = self._same_person((name, display, *aliases))
            entity_id = (
                int(row[0])
                if row
                else int(
                    self.conn.execute(
                        "INSERT INTO entities(type, name, display) VALUES (?, ?, ?)",
                        (etype, name, display),
                    ).lastrowid
                    or 0
                )
            )
            self.entity_ids[key] = entity_id
        for alias in (name, display, *aliases):
            pair = (alias.lower(), entity_id)
            if alias and pair not in self.known_aliases:
                self.known_aliases.add(pair)
                self.aliases.append(pair)
        return entity_id

    def _same_person(self, names: Sequence[str]) -> tuple[int] | None:
        """The one person already known by a full name, an e-mail address or a handle of
        this one (an author's second address beside the same name; a name seen with its
        handle). A lone first name is no evidence; two candidates are not merged."""
        strong = list(dict.fromkeys(n.lower() for n in names if _identifying(n)))
        if not strong:
            return None
        marks = ",".join("?" * len(strong))
        rows = self.conn.execute(
            "SELECT DISTINCT e.id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
            f" WHERE e.type = 'person' AND a.alias IN ({marks}) LIMIT 2",
            strong,
        ).fetchall()
        return (int(rows[0][0]),) if len(rows) == 1 else None

    def mention(self, rowid: int, entity_id: int, confidence: float, source: str) -> None:
        self.mentions.append((rowid, entity_id, confidence, source))

    def relate(self, src: int, dst: int, rtype: str, rowid: int, weight: float) -> None:
        key = (src, dst, rtype)
        rel_id = self.relation_ids.get(key)
        if rel_id is None:
            row = self.conn.execute(
                "SELECT id FROM relations WHERE src_id = ? AND dst_id = ? AND type = ?", key
            ).fetchone()
            rel_id = (
                int(row[0])
                if row
                else int(
                    self.conn.execute(
                        "INSERT INTO relations(src_id, dst_id, type, weight) VALUES (?, ?, ?, 0)",
                        key,
                    ).lastrowid
                    or 0
                )
            )
            self.relation_ids[key] = rel_id
        self.evidence[(rel_id, rowid)] = weight

    def drop_evidence(self, rows: Sequence[tuple[int, int, float]]) -> None:
        """Delete evidence rows (relation, memory, weight) now, taking their weight off."""
        self.conn.executemany(
            "DELETE FROM relation_evidence WHERE relation_id = ? AND memory_rowid = ?",
            [(rel, rowid) for rel, rowid, _ in rows],
        )
        self.conn.executemany(
            "UPDATE relations SET weight = weight - ? WHERE id = ?",
            [(weight, rel) for rel, _, weight in rows],
        )
        self.dropped.update(rel for rel, _, _ in rows)

    def flush(self) -> None:
        """Write the queued rows and the weight changes; relations left without evidence go."""
        c = self.conn
        c.executemany(
            "INSERT OR IGNORE INTO entity_aliases(alias, entity_id) VALUES (?, ?)", self.aliases
        )
        c.executemany(
            "INSERT OR REPLACE INTO memory_entities(memory_rowid, entity_id, confidence, source)"
            " VALUES (?, ?, ?, ?)",
            self.mentions,
        )
        deltas: dict[int, float] = {}
        for (rel, _), weight in self.evidence.items():
            deltas[rel] = deltas.get(rel, 0.0) + weight
        for rel, old in self._replaced():
            deltas[rel] -= old
        c.executemany(
            "INSERT OR REPLACE INTO relation_evidence(relation_id, memory_rowid, weight)"
            " VALUES (?, ?, ?)",
            [(rel, rowid, w) for (rel, rowid), w in self.evidence.items()],
        )
        c.executemany(
            "UPDATE relations SET weight = weight + ? WHERE id = ?",
            [(d, r) for r, d in deltas.items()],
        )
        c.executemany(
            "DELETE FROM relations WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM relation_evidence"
            " WHERE relation_id = ?1)",
            [(r,) for r in self.dropped],
        )
        self.aliases, self.mentions, self.evidence, self.dropped = [], [], {}, set()

    def _replaced(self) -> list[tuple[int, float]]:
        """(relation, weight) of stored evidence the queued rows replace (a re-indexed memory)."""
        rowids = sorted({rowid for _, rowid in self.evidence})
        out: list[tuple[int, float]] = []
        for i in range(0, len(rowids), _CHUNK):
            chunk = rowids[i : i + _CHUNK]
            for rel, rowid, weight in self.conn.execute(
                "SELECT relation_id, memory_rowid, weight FROM relation_evidence WHERE memory_rowid IN"
                f" ({','.join('?' * len(chunk))})",
                chunk,
            ):
                if (rel, rowid) in self.evidence:
                    out.append((int(rel), float(weight)))
        return out


def _identifying(name: str) -> bool:
    """A full name (two words or more), an e-mail address or a handle."""
    name = name.strip()
    return bool(name) and (name.startswith("@") or "@" in name or len(name.split()) >= 2)


def index_memory(conn: Connection, rowid: int, m: Memory, refs: Sequence[EntityRef] = ()) -> int:
    """Extract and store the entities and relations of one memory; returns the entity count."""
    w = _Writer(conn)
    count = store_graph(w, rowid, extract_of(m), refs)
    w.flush()
    sources = _link_sources(conn, rowid)
    if sources:
        _refresh_links(w, sources)
    return count


def reindex_memory(
    conn: Connection, rowid: int, m: Memory, refs: Sequence[EntityRef] | None = None
) -> int:
    """Replace a changed memory's graph. ``refs=None`` keeps the connector entities it had
    (an edit of an imported commit keeps its author); a connector's update passes its own."""
    kept = unindex_memory(conn, rowid)
    return index_memory(conn, rowid, m, kept if refs is None else refs)


def unindex_memory(conn: Connection, rowid: int) -> list[EntityRef]:
    """Remove a memory's mentions and evidence; relations and entities left without any go too.

    Returns the connector entities it had (they are stored nowhere else)."""
    refs = [ref_of(r) for r in _connector_refs(conn, [rowid]).get(str(rowid), [])]
    w = _Writer(conn)
    w.drop_evidence(
        conn.execute(
            "SELECT relation_id, memory_rowid, weight FROM relation_evidence"
            " WHERE memory_rowid = ?",
            (rowid,),
        ).fetchall()
    )
    entity_ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT entity_id FROM memory_entities WHERE memory_rowid = ?", (rowid,)
        )
    ]
    conn.execute("DELETE FROM memory_entities WHERE memory_rowid = ?", (rowid,))
    # Links into this memory related their sources' entities to its entities: recompute them.
    _refresh_links(w, [s for s in _link_sources(conn, rowid) if s != rowid])
    conn.executemany(
        "DELETE FROM entities WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM"
        " memory_entities WHERE entity_id = ?1)",
        [(e,) for e in entity_ids],
    )
    return refs


def link_relation(conn: Connection, src_rowid: int, dst_rowid: int, link_type: str) -> None:
    """A memory link relates the entities the two memories are mainly about.

    Call it after the link row is stored: the source's link relations are recomputed from
    its stored links (``link_type`` is read from there)."""
    _refresh_links(_Writer(conn), [src_rowid])


def _link_sources(conn: Connection, rowid: int) -> list[int]:
    """The memories whose link relations depend on ``rowid``'s entities (itself included)."""
    rows = conn.execute(
        "SELECT source_rowid FROM memory_links WHERE source_rowid = ?1"
        " UNION SELECT source_rowid FROM memory_links WHERE target_rowid = ?1",
        (rowid,),
    )
    return [int(r[0]) for r in rows]


def _refresh_links(w: _Writer, sources: Iterable[int]) -> None:
    conn = w.conn
    for src in sources:
        w.drop_evidence(
            conn.execute(
                "SELECT e.relation_id, e.memory_rowid, e.weight FROM relation_evidence e JOIN relations r"
                " ON r.id = e.relation_id WHERE e.memory_rowid = ? AND r.type LIKE 'linked!_%' ESCAPE '!'",
                (src,),
            ).fetchall()
        )
        mine = _top_entities(conn, src)
        for dst, link_type in conn.execute(
            "SELECT target_rowid, type FROM memory_links WHERE source_rowid = ?", (src,)
        ).fetchall():
            for a in mine:
                for b in _top_entities(conn, int(dst)):
                    if a != b:
                        w.relate(a, b, f"linked_{link_type}", src, 0.5)
    w.flush()


def _top_entities(conn: Connection, rowid: int) -> list[int]:
    # Ties broken by (type, name), not id: a rebuild numbers entities differently.
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT me.entity_id FROM memory_entities me JOIN entities e ON e.id = me.entity_id"
            " WHERE me.memory_rowid = ? ORDER BY me.confidence DESC, e.type, e.name LIMIT ?",
            (rowid, LINK_ENTITIES),
        )
    ]


def rebuild(
    store: Store, progress: ProgressCallback = no_progress, batch: int = REBUILD_BATCH
) -> RebuildResult:
    """Re-extract every memory into a fresh graph (after an extractor upgrade, or to repair).

    Works in short transactions of ``batch`` memories so other processes keep writing; the
    graph is partial until it ends. Connector entities, which exist nowhere else, are kept
    in ``meta`` until the end, so a rebuild that was interrupted is finished by running it
    again. Memory links are carried over."""
    start = time.perf_counter()
    refs = _connector_refs(store.conn())
    with store.write() as conn:
        merge_refs(refs, json.loads(db.get_meta(conn, REFS_KEY) or "{}"))
        db.set_meta(conn, REFS_KEY, json.dumps(refs))  # before the only other copy goes
        for table in (
            "relation_evidence",
            "relations",
            "memory_entities",
            "entity_aliases",
            "entities",
        ):
            conn.execute(f"DELETE FROM {table}")
    done = _rebuild_memories(store, refs, progress, batch)
    _rebuild_links(store, progress)
    conn = store.conn()
    entities = int(conn.execute("SELECT count(*) FROM entities").fetchone()[0])
    relations = int(conn.execute("SELECT count(*) FROM relations").fetchone()[0])
    return RebuildResult(done, entities, relations, time.perf_counter() - start)


def _rebuild_memories(store: Store, refs: Refs, progress: ProgressCallback, batch: int) -> int:
    total = store.count()
    w, last, done = _Writer(store.conn()), 0, 0
    seen_version = _data_version(store.conn())
    while True:
        rows = (
            store.conn()
            .execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (last, batch),
            )
            .fetchall()
        )
        if not rows:
            return done
        found = [
            (int(r[0]), (r[20], r[22]), extract_of(row_to_memory(r))) for r in rows
        ]  # outside the lock
        with store.write() as conn:
            if _data_version(conn) != seen_version:  # another process wrote: cached ids may be gone
                w.forget_ids()
            rowids = [rowid for rowid, _, _ in found]
            current = _versions(conn, rowids)
            merge_refs(refs, _connector_refs(conn, rowids))  # written meanwhile by a connector
            for rowid, version, extracted in found:
                if (
                    current.get(rowid) == version
                ):  # else deleted, or changed and re-indexed meanwhile
                    store_graph(w, rowid, extracted, [ref_of(r) for r in refs.get(str(rowid), ())])
            w.flush()
            seen_version = _data_version(conn)
        last, done = int(rows[-1][0]), done + len(rows)
        progress(ProgressEvent("entities", done, max(total, done)))


def _rebuild_links(store: Store, progress: ProgressCallback) -> None:
    sources = [
        int(r[0]) for r in store.conn().execute("SELECT DISTINCT source_rowid FROM memory_links")
    ]
    for i in range(0, len(sources), _CHUNK):
        with store.write() as conn:
            _refresh_links(_Writer(conn), sources[i : i + _CHUNK])
        progress(ProgressEvent("links", min(i + _CHUNK, len(sources)), len(sources)))
    with store.write() as conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (REFS_KEY,))


def _connector_refs(conn: Connection, rowids: Sequence[int] | None = None) -> Refs:
    """The connector entities of these memories (of all, without ``rowids``)."""
    where, args = "", list(rowids or ())
    if rowids is not None:
        where = f" AND me.memory_rowid IN ({','.join('?' * len(args))})"
    out: Refs = {}
    for rowid, etype, name, display, source in conn.execute(
        "SELECT me.memory_rowid, e.type, e.name, e.display, me.source FROM memory_entities me"
        f" JOIN entities e ON e.id = me.entity_id WHERE me.source LIKE 'connector%'{where}",
        args,
    ):
        for rel in str(source).partition(":")[2].split(","):
            out.setdefault(str(rowid), []).append([etype, name, display, rel or None])
    return out


def _data_version(conn: Connection) -> int:
    """Changes when another connection commits (SQLite's ``PRAGMA data_version``)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _versions(conn: Connection, rowids: list[int]) -> dict[int, tuple[Any, Any]]:
    marks = ",".join("?" * len(rowids))
    return {
        int(r[0]): (r[1], r[2])
        for r in conn.execute(
            f"SELECT rowid, updated_at, version FROM memories WHERE rowid IN ({marks})", rowids
        )
    }
