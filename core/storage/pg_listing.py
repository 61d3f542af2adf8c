"""PostgreSQL reads of memories by page, anchor and capture order (for recall's rules),
their openings, and vectors by memory id."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from core.models import Memory, Page, SearchFilters
from core.storage import pg_rows as rows_sql
from core.storage.base import ContextNeighbour, MemoryOpening
from core.storage.pg_rows import MEMORY_COLUMNS, row_to_memory

Conn = psycopg.Connection[Any]
_ORDER = {
    "updated": "m.updated_at DESC",
    # Ties (times are to the second) go by id, which orders by creation and survives an
    # export and import; the insertion order (rowid / seq) does not.
    "created": "m.created_at DESC, m.id DESC",
    "event": "coalesce(m.event_at, m.created_at) DESC, m.id DESC",
}


def page(conn: Conn, filters: SearchFilters | None, limit: int, offset: int, order: str) -> Page:
    where, args = rows_sql.where(filters)
    order_sql = _ORDER.get(order, _ORDER["updated"])
    found = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE {where} ORDER BY {order_sql}, m.seq DESC"
        " LIMIT %s OFFSET %s",
        [*args, limit, offset],
    ).fetchall()
    row = conn.execute(f"SELECT count(*) FROM memories m WHERE {where}", args).fetchone()
    total = int(row[0]) if row else 0
    next_offset = offset + limit if offset + limit < total else None
    return Page([row_to_memory(r) for r in found], total, next_offset)


def anchored(
    conn: Conn, paths: Sequence[str], project: str | None, limit: int | None
) -> list[Memory]:
    """Memories anchored to any of ``paths``, latest update first (all with ``limit=None``)."""
    if not paths:
        return []
    query = f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.anchor_path = ANY(%s::text[])"
    args: list[Any] = [list(paths)]
    if project:
        query += " AND (m.project = %s OR m.project IS NULL)"
        args.append(project)
    query += " ORDER BY m.updated_at DESC, m.seq DESC LIMIT %s"
    return [row_to_memory(r) for r in conn.execute(query, [*args, limit]).fetchall()]


def context_neighbours(
    conn: Conn, seed_ids: Sequence[str], span: int, filters: SearchFilters | None
) -> list[ContextNeighbour]:
    """Memories stored up to ``span`` places from each seed (in capture order, ``seq``) with
    the same source, project and time: one chat's turns, one note's sections."""
    if not seed_ids:
        return []
    where, args = rows_sql.where(filters)
    found = conn.execute(
        "SELECT m.seq, m.id, m.source, m.project, m.event_at, m.created_at,"
        " strpos(m.content, '?') > 0 FROM memories m WHERE m.seq IN (SELECT s.seq + d"
        " FROM memories s, generate_series(%s::int, %s::int) d WHERE s.id = ANY(%s::text[]))"
        f" AND {where}",
        [-span, span, list(seed_ids), *args],
    ).fetchall()
    info = {int(r[0]): (str(r[1]), (r[2], r[3], r[4] or r[5]), bool(r[6])) for r in found}
    seq_of = {v[0]: seq for seq, v in info.items()}
    out: list[ContextNeighbour] = []
    for seed_id in seed_ids:  # in the caller's order
        seq = seq_of.get(seed_id)
        if seq is None:
            continue
        _, group, asks = info[seq]
        for d in range(-span, span + 1):
            near = info.get(seq + d) if d else None
            if near is not None and near[1] == group:
                out.append(ContextNeighbour(seed_id, near[0], d, asks))
    return out


def openings(conn: Conn, memory_ids: Sequence[str], chars: int) -> list[MemoryOpening]:
    if not memory_ids:
        return []
    found = conn.execute(
        "SELECT id, kind, substr(content, 1, %s), metadata FROM memories WHERE id = ANY(%s::text[])",
        (chars, list(memory_ids)),
    )
    return [MemoryOpening(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in found]


def questions_among(conn: Conn, memory_ids: Sequence[str]) -> set[str]:
    if not memory_ids:
        return set()
    found = conn.execute(
        "SELECT id FROM memories WHERE id = ANY(%s::text[]) AND rtrim(content) LIKE '%%?'",
        (list(memory_ids),),
    )
    return {str(r[0]) for r in found}


def stored_vector(conn: Conn, memory_id: str) -> np.ndarray | None:
    row = conn.execute(
        "SELECT embedding FROM memory_vectors WHERE memory_id = %s", (memory_id.upper(),)
    ).fetchone()
    if row is None:
        return None
    value = row[0]  # a pgvector Vector (or an array, depending on the pgvector version)
    return np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value, dtype=np.float32)


def ids_without_vectors(conn: Conn, limit: int) -> list[str]:
    found = conn.execute(
        "SELECT m.id FROM memories m WHERE NOT EXISTS (SELECT 1 FROM memory_vectors v"
        " WHERE v.memory_id = m.id) ORDER BY m.seq LIMIT %s",
        (limit,),
    )
    return [str(r[0]) for r in found]
