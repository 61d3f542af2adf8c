"""PostgreSQL reads of the knowledge graph's tables (entities, aliases, relations, mentions)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from core.models import EntitySummary, SearchFilters
from core.storage import pg_rows as rows_sql
from core.storage.base import MemoryBrief, RelationRow

Conn = psycopg.Connection[Any]


def entities_by_alias(conn: Conn, aliases: Sequence[str], types: Sequence[str] = ()) -> list[int]:
    if not aliases:
        return []
    query = (
        "SELECT a.entity_id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
        " WHERE a.alias = ANY(%s::text[])"
    )
    args: list[Any] = [list(aliases)]
    if types:
        query += " AND e.type = ANY(%s::text[])"
        args.append(list(types))
    return [int(r[0]) for r in conn.execute(query, args)]


def entities_named(conn: Conn, names: Sequence[str], types: Sequence[str]) -> dict[str, list[int]]:
    by_alias: dict[str, list[str]] = {}
    for name in names:
        by_alias.setdefault(name.lower(), []).append(name)
    found: dict[str, list[int]] = {}
    if not by_alias or not types:
        return found
    rows = conn.execute(
        "SELECT a.alias, e.id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
        " WHERE a.alias = ANY(%s::text[]) AND e.type = ANY(%s::text[])"
        " AND (lower(e.name) = a.alias OR lower(e.display) = a.alias)",
        (list(by_alias), list(types)),
    )
    for alias, entity_id in rows:
        for name in by_alias[alias]:
            found.setdefault(name, []).append(int(entity_id))
    return found


def entity_by_name(conn: Conn, etype: str, name: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM entities WHERE type = %s AND name = %s", (etype, name)
    ).fetchone()
    return None if row is None else int(row[0])


def entities_by_prefix(conn: Conn, prefix: str, etype: str | None, limit: int) -> list[int]:
    rows = conn.execute(
        "SELECT DISTINCT a.entity_id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
        " WHERE a.alias >= %s AND a.alias < %s AND (%s::text IS NULL OR e.type = %s) LIMIT %s",
        (prefix, prefix + "\uffff", etype, etype, limit),
    )
    return [int(r[0]) for r in rows]


def summaries(conn: Conn, entity_ids: Sequence[int]) -> list[EntitySummary]:
    if not entity_ids:
        return []
    rows = conn.execute(
        "SELECT e.id, e.type, e.name, e.display, (SELECT count(*) FROM memory_entities me"
        " WHERE me.entity_id = e.id) FROM entities e WHERE e.id = ANY(%s::bigint[])",
        (list(entity_ids),),
    )
    by_id = {int(r[0]): EntitySummary(r[1], r[2], r[3], int(r[4])) for r in rows}
    return [by_id[i] for i in entity_ids]


def aliases_of(conn: Conn, entity_ids: Sequence[int], per_entity: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in entity_ids}
    if not entity_ids:
        return out
    for alias, entity_id in conn.execute(
        "SELECT alias, entity_id FROM entity_aliases WHERE entity_id = ANY(%s::bigint[])"
        " ORDER BY alias",
        (list(entity_ids),),
    ):
        if len(out[int(entity_id)]) < per_entity:
            out[int(entity_id)].append(str(alias))
    return out


def neighbours(conn: Conn, entity_id: int, limit: int) -> list[RelationRow]:
    # Each side's top ``limit`` first: the (src_id, weight) / (dst_id, weight) indexes make
    # them short index scans, which a hub with 100k relations needs.
    rows = conn.execute(
        "SELECT * FROM ((SELECT dst_id, type, weight, true FROM relations WHERE src_id = %(e)s"
        " ORDER BY weight DESC LIMIT %(n)s) UNION ALL (SELECT src_id, type, weight, false"
        " FROM relations WHERE dst_id = %(e)s ORDER BY weight DESC LIMIT %(n)s)) r"
        " ORDER BY 3 DESC, 1 LIMIT %(n)s",
        {"e": entity_id, "n": limit},
    ).fetchall()
    return [RelationRow(entity_id, int(r[0]), str(r[1]), float(r[2]), bool(r[3])) for r in rows]


def relations_of(conn: Conn, nodes: Sequence[int]) -> list[RelationRow]:
    """Every relation touching ``nodes``, seen from the node, strongest first."""
    if not nodes:
        return []
    rows = conn.execute(
        "SELECT src_id, dst_id, type, weight, true FROM relations WHERE src_id = ANY(%(n)s::bigint[])"
        " UNION ALL SELECT dst_id, src_id, type, weight, false FROM relations"
        " WHERE dst_id = ANY(%(n)s::bigint[])",
        {"n": list(nodes)},
    )
    out = [RelationRow(int(a), int(b), str(t), float(w), bool(d)) for a, b, t, w, d in rows]
    out.sort(key=lambda e: (-e.weight, e.entity_id, e.other_id))
    return out


def latest_mentions(conn: Conn, entity_id: int, limit: int) -> list[MemoryBrief]:
    # Chosen among its most recently stored mentions (4 × ``limit``, at least 20) so that the
    # cost does not grow with the entity's popularity.
    rows = conn.execute(
        "SELECT m.id, m.title, m.kind, coalesce(m.event_at, m.created_at) AS t,"
        " substr(m.content, 1, 400) FROM memories m WHERE m.id IN (SELECT memory_id"
        " FROM memory_entities WHERE entity_id = %s ORDER BY seq DESC LIMIT %s)"
        " ORDER BY t DESC, m.seq DESC LIMIT %s",
        (entity_id, max(limit * 4, 20), limit),
    )
    return [MemoryBrief(r[0], r[1], r[2], r[3], _clip(r[4], 200)) for r in rows]


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def memories_mentioning(
    conn: Conn, entity_ids: Sequence[int], filters: SearchFilters | None, limit: int
) -> list[str]:
    if not entity_ids:
        return []
    where, args = rows_sql.where(filters)
    rows = conn.execute(
        "SELECT m.id FROM memory_entities me JOIN memories m ON m.id = me.memory_id"
        f" WHERE me.entity_id = ANY(%s::bigint[]) AND {where} GROUP BY m.id"
        " ORDER BY sum(me.confidence) DESC, max(m.updated_at) DESC LIMIT %s",
        [list(entity_ids), *args, limit],
    )
    return [str(r[0]) for r in rows]


def mentions(
    conn: Conn, entity_id: int, filters: SearchFilters | None, limit: int
) -> list[tuple[str, float]]:
    where, args = rows_sql.where(filters)
    rows = conn.execute(
        "SELECT m.id, me.confidence FROM memory_entities me JOIN memories m ON m.id = me.memory_id"
        f" WHERE me.entity_id = %s AND {where} ORDER BY me.seq DESC LIMIT %s",
        [entity_id, *args, limit],
    ).fetchall()
    return [(str(r[0]), float(r[1])) for r in rows]


def mention_count(conn: Conn, entity_id: int) -> int:
    row = conn.execute(
        "SELECT count(*) FROM memory_entities WHERE entity_id = %s", (entity_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def entities_of(conn: Conn, memory_id: str) -> list[int]:
    rows = conn.execute(
        "SELECT entity_id FROM memory_entities WHERE memory_id = %s ORDER BY confidence DESC, seq",
        (memory_id.upper(),),
    )
    return [int(r[0]) for r in rows]


def most_mentioned(conn: Conn, limit: int) -> list[int]:
    rows = conn.execute(
        "SELECT entity_id FROM memory_entities GROUP BY entity_id"
        " ORDER BY count(*) DESC, entity_id LIMIT %s",
        (limit,),
    )
    return [int(r[0]) for r in rows]


def counts(conn: Conn) -> dict[str, Any]:
    by_type = {
        str(r[0]): int(r[1])
        for r in conn.execute("SELECT type, count(*) FROM entities GROUP BY type ORDER BY 2 DESC")
    }
    by_rel = {
        str(r[0]): int(r[1])
        for r in conn.execute("SELECT type, count(*) FROM relations GROUP BY type ORDER BY 2 DESC")
    }
    row = conn.execute("SELECT count(*) FROM memory_entities").fetchone()
    return {
        "entities": sum(by_type.values()),
        "entities_by_type": by_type,
        "relations": sum(by_rel.values()),
        "relations_by_type": by_rel,
        "mentions": int(row[0]) if row else 0,
    }
