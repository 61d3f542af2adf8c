"""SQLite reads of the knowledge graph's tables (entities, aliases, relations, mentions).

The queries behind ``core.graph``: which entity a name means, neighbourhoods, mentions.
Memories are named by id here; their rowids stay inside this package.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.models import EntitySummary, SearchFilters
from core.storage import sqlite_filters as flt
from core.storage.base import MemoryBrief, RelationRow
from core.storage.sqlite_db import Connection

_CHUNK = 500


def _marks(n: int) -> str:
    return ",".join("?" * n)


def entities_by_alias(
    conn: Connection, aliases: Sequence[str], types: Sequence[str] = ()
) -> list[int]:
    if not aliases:
        return []
    type_sql = f" AND e.type IN ({_marks(len(types))})" if types else ""
    rows = conn.execute(
        f"SELECT a.entity_id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
        f" WHERE a.alias IN ({_marks(len(aliases))}){type_sql}",
        [*aliases, *types],
    ).fetchall()
    return [int(r[0]) for r in rows]


def entities_named(
    conn: Connection, names: Sequence[str], types: Sequence[str]
) -> dict[str, list[int]]:
    by_alias: dict[str, list[str]] = {}
    for name in names:
        by_alias.setdefault(name.lower(), []).append(name)
    aliases = list(by_alias)
    found: dict[str, list[int]] = {}
    for start in range(0, len(aliases), 500):  # SQLite's bound-parameter limit
        chunk = aliases[start : start + 500]
        rows = conn.execute(
            f"SELECT a.alias, e.id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
            f" WHERE a.alias IN ({_marks(len(chunk))}) AND e.type IN ({_marks(len(types))})"
            f" AND (lower(e.name) = a.alias OR lower(e.display) = a.alias)",
            [*chunk, *types],
        ).fetchall()
        for alias, entity_id in rows:
            for name in by_alias[alias]:
                found.setdefault(name, []).append(int(entity_id))
    return found


def entity_by_name(conn: Connection, etype: str, name: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM entities WHERE type = ? AND name = ?", (etype, name)
    ).fetchone()
    return None if row is None else int(row[0])


def entities_by_prefix(conn: Connection, prefix: str, etype: str | None, limit: int) -> list[int]:
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT DISTINCT a.entity_id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
            " WHERE a.alias >= ? AND a.alias < ? AND (? IS NULL OR e.type = ?) LIMIT ?",
            (prefix, prefix + "\uffff", etype, etype, limit),
        )
    ]


def summaries(conn: Connection, entity_ids: Sequence[int]) -> list[EntitySummary]:
    if not entity_ids:
        return []
    rows = conn.execute(
        f"SELECT e.id, e.type, e.name, e.display, (SELECT count(*) FROM memory_entities me"
        f" WHERE me.entity_id = e.id) FROM entities e WHERE e.id IN ({_marks(len(entity_ids))})",
        list(entity_ids),
    )
    by_id = {int(r[0]): EntitySummary(r[1], r[2], r[3], int(r[4])) for r in rows}
    return [by_id[i] for i in entity_ids]


def aliases_of(
    conn: Connection, entity_ids: Sequence[int], per_entity: int
) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in entity_ids}
    for i in range(0, len(entity_ids), _CHUNK):
        chunk = list(entity_ids[i : i + _CHUNK])
        for alias, entity_id in conn.execute(
            f"SELECT alias, entity_id FROM entity_aliases WHERE entity_id IN ({_marks(len(chunk))})"
            " ORDER BY alias",
            chunk,
        ):
            if len(out[int(entity_id)]) < per_entity:
                out[int(entity_id)].append(str(alias))
    return out


def neighbours(conn: Connection, entity_id: int, limit: int) -> list[RelationRow]:
    # Each side's top ``limit`` first: an index on (src_id, weight) / (dst_id, weight) turns
    # them into short index scans, which a hub with 100k relations needs.
    rows = conn.execute(
        "SELECT * FROM (SELECT dst_id, type, weight, 1 FROM relations WHERE src_id = ?1"
        " ORDER BY weight DESC LIMIT ?2) UNION ALL SELECT * FROM (SELECT src_id, type, weight, 0"
        " FROM relations WHERE dst_id = ?1 ORDER BY weight DESC LIMIT ?2) ORDER BY 3 DESC, 1 LIMIT ?2",
        (entity_id, limit),
    ).fetchall()
    return [RelationRow(entity_id, int(r[0]), str(r[1]), float(r[2]), bool(r[3])) for r in rows]


def relations_of(conn: Connection, nodes: Sequence[int]) -> list[RelationRow]:
    """Every relation touching ``nodes``, seen from the node, strongest first."""
    out: list[RelationRow] = []
    for i in range(0, len(nodes), _CHUNK):
        chunk = list(nodes[i : i + _CHUNK])
        marks = _marks(len(chunk))
        out += [
            RelationRow(int(a), int(b), str(t), float(w), bool(d))
            for a, b, t, w, d in conn.execute(
                f"SELECT src_id, dst_id, type, weight, 1 FROM relations WHERE src_id IN ({marks}) UNION ALL"
                f" SELECT dst_id, src_id, type, weight, 0 FROM relations WHERE dst_id IN ({marks})",
                chunk + chunk,
            )
        ]
    out.sort(key=lambda e: (-e.weight, e.entity_id, e.other_id))
    return out


def latest_mentions(conn: Connection, entity_id: int, limit: int) -> list[MemoryBrief]:
    # Chosen among its most recently stored mentions (4 × ``limit``, at least 20) so that the
    # cost does not grow with the entity's popularity.
    rows = conn.execute(
        "SELECT m.id, m.title, m.kind, coalesce(m.event_at, m.created_at) AS t, substr(m.content, 1, 400)"
        " FROM memories m WHERE m.rowid IN (SELECT memory_rowid FROM memory_entities WHERE entity_id = ?"
        " ORDER BY rowid DESC LIMIT ?) ORDER BY t DESC, m.rowid DESC LIMIT ?",
        (entity_id, max(limit * 4, 20), limit),
    )
    return [MemoryBrief(r[0], r[1], r[2], r[3], _clip(r[4], 200)) for r in rows]


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def memories_mentioning(
    conn: Connection, entity_ids: Sequence[int], filters: SearchFilters | None, limit: int
) -> list[str]:
    if not entity_ids:
        return []
    where, args = flt.where(filters, indexed=False)
    rows = conn.execute(
        f"SELECT m.id FROM memory_entities me JOIN memories m ON m.rowid = me.memory_rowid"
        f" WHERE me.entity_id IN ({_marks(len(entity_ids))}) AND {where} GROUP BY me.memory_rowid"
        f" ORDER BY sum(me.confidence) DESC, max(m.updated_at) DESC LIMIT ?",
        [*entity_ids, *args, limit],
    )
    return [str(r[0]) for r in rows]


def mentions(
    conn: Connection, entity_id: int, filters: SearchFilters | None, limit: int
) -> list[tuple[str, float]]:
    where, args = flt.where(filters, indexed=False)
    rows = conn.execute(
        "SELECT m.id, me.confidence FROM memory_entities me JOIN memories m"
        f" ON m.rowid = me.memory_rowid WHERE me.entity_id = ? AND {where} ORDER BY me.rowid DESC LIMIT ?",
        [entity_id, *args, limit],
    ).fetchall()
    return [(str(r[0]), float(r[1])) for r in rows]


def mention_count(conn: Connection, entity_id: int) -> int:
    return int(
        conn.execute(
            "SELECT count(*) FROM memory_entities WHERE entity_id = ?", (entity_id,)
        ).fetchone()[0]
    )


def entities_of(conn: Connection, memory_id: str) -> list[int]:
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT me.entity_id FROM memory_entities me JOIN memories m ON m.rowid = me.memory_rowid"
            " WHERE m.id = ? ORDER BY me.confidence DESC",
            (memory_id.upper(),),
        )
    ]


def most_mentioned(conn: Connection, limit: int) -> list[int]:
    return [
        int(r[0])
        for r in conn.execute(
            "SELECT entity_id FROM memory_entities GROUP BY entity_id ORDER BY count(*) DESC, entity_id"
            " LIMIT ?",
            (limit,),
        )
    ]


def counts(conn: Connection) -> dict[str, Any]:
    by_type = {
        str(r[0]): int(r[1])
        for r in conn.execute("SELECT type, count(*) FROM entities GROUP BY type ORDER BY 2 DESC")
    }
    by_rel = {
        str(r[0]): int(r[1])
        for r in conn.execute("SELECT type, count(*) FROM relations GROUP BY type ORDER BY 2 DESC")
    }
    mentions_total = int(conn.execute("SELECT count(*) FROM memory_entities").fetchone()[0])
    return {
        "entities": sum(by_type.values()),
        "entities_by_type": by_type,
        "relations": sum(by_rel.values()),
        "relations_by_type": by_rel,
        "mentions": mentions_total,
    }
