"""SQLite reads of memories by id, page, anchor and capture order (for recall's rules)."""

from __future__ import annotations

from collections.abc import Sequence

from core.models import Memory, Page, SearchFilters
from core.storage import sqlite_filters as flt
from core.storage.base import ContextNeighbour, MemoryOpening
from core.storage.sqlite_db import Connection
from core.storage.sqlite_rows import MEMORY_COLUMNS, row_to_memory

_ORDER = {
    "updated": "m.updated_at DESC",
    # Ties (times are to the second) go by id, which orders by creation and survives an
    # export and import; the insertion order (rowid / seq) does not.
    "created": "m.created_at DESC, m.id DESC",
    "event": "coalesce(m.event_at, m.created_at) DESC, m.id DESC",
}
_CHUNK = 500


def _marks(n: int) -> str:
    return ",".join("?" * n)


def page(
    conn: Connection, filters: SearchFilters | None, limit: int, offset: int, order: str
) -> Page:
    where, args = flt.where(filters)
    order_sql = _ORDER.get(order, _ORDER["updated"])
    rows = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE {where} ORDER BY {order_sql}, m.rowid DESC"
        " LIMIT ? OFFSET ?",
        [*args, limit, offset],
    ).fetchall()
    total = int(conn.execute(f"SELECT count(*) FROM memories m WHERE {where}", args).fetchone()[0])
    next_offset = offset + limit if offset + limit < total else None
    return Page([row_to_memory(r) for r in rows], total, next_offset)


def anchored(
    conn: Connection, paths: Sequence[str], project: str | None, limit: int | None
) -> list[Memory]:
    """Memories anchored to any of ``paths``, latest update first (all with ``limit=None``)."""
    if not paths:
        return []
    sql = (
        f"SELECT {MEMORY_COLUMNS} FROM memories m INDEXED BY memories_anchor"
        f" WHERE m.anchor_path IN ({_marks(len(paths))})"
    )
    args: list[object] = list(paths)
    if project:
        sql += " AND (m.project = ? OR m.project IS NULL)"
        args.append(project)
    rows = conn.execute(
        sql + " ORDER BY m.updated_at DESC LIMIT ?", [*args, -1 if limit is None else limit]
    ).fetchall()
    return [row_to_memory(r) for r in rows]


def by_ids(conn: Connection, memory_ids: Sequence[str]) -> dict[str, Memory]:
    out: dict[str, Memory] = {}
    wanted = list(dict.fromkeys(i.upper() for i in memory_ids))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for row in conn.execute(
            f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id IN ({_marks(len(chunk))})", chunk
        ):
            out[str(row[1])] = row_to_memory(row)
    return out


def ids_of(conn: Connection, rowids: Sequence[int]) -> dict[int, str]:
    """rowid → memory id (the rowids that still exist)."""
    out: dict[int, str] = {}
    for start in range(0, len(rowids), _CHUNK):
        chunk = list(rowids[start : start + _CHUNK])
        out.update(
            conn.execute(
                f"SELECT rowid, id FROM memories WHERE rowid IN ({_marks(len(chunk))})", chunk
            ).fetchall()
        )
    return out


def context_neighbours(
    conn: Connection, seed_ids: Sequence[str], span: int, filters: SearchFilters | None
) -> list[ContextNeighbour]:
    """Memories stored up to ``span`` rows from each seed with the same source, project and
    time (one chat's turns, one note's sections: a capture writes them in order)."""
    if not seed_ids:
        return []
    offsets = " UNION ALL ".join(f"SELECT {int(d)} AS d" for d in range(-span, span + 1))
    where, args = flt.where(filters, indexed=False)
    # one query: the seeds' rows and their neighbours' (a seed that fails the filters is not
    # among them, and lifts nothing)
    rows = conn.execute(
        "SELECT m.rowid, m.id, m.source, m.project, m.event_at, m.created_at, instr(m.content, '?')"
        f" FROM memories m WHERE m.rowid IN (SELECT s.rowid + o.d FROM memories s, ({offsets}) o"
        f" WHERE s.id IN ({_marks(len(seed_ids))})) AND {where}",
        [*seed_ids, *args],
    ).fetchall()
    info = {r[0]: (r[1], (r[2], r[3], r[4] or r[5]), bool(r[6])) for r in rows}
    rowid_of = {v[0]: rowid for rowid, v in info.items()}
    out: list[ContextNeighbour] = []
    for seed_id in seed_ids:  # in the caller's order
        rowid = rowid_of.get(seed_id)
        if rowid is None:
            continue
        _, group, asks = info[rowid]
        for d in range(-span, span + 1):
            near = info.get(rowid + d) if d else None
            if near is not None and near[1] == group:
                out.append(ContextNeighbour(seed_id, near[0], d, asks))
    return out


def openings(conn: Connection, memory_ids: Sequence[str], chars: int) -> list[MemoryOpening]:
    if not memory_ids:
        return []
    rows = conn.execute(
        f"SELECT id, kind, substr(content, 1, ?), metadata FROM memories WHERE id IN ({_marks(len(memory_ids))})",
        [chars, *memory_ids],
    )
    return [MemoryOpening(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


def questions_among(conn: Connection, memory_ids: Sequence[str]) -> set[str]:
    if not memory_ids:
        return set()
    return {
        str(r[0])
        for r in conn.execute(
            f"SELECT id FROM memories WHERE id IN ({_marks(len(memory_ids))}) AND rtrim(content) LIKE '%?'",
            list(memory_ids),
        )
    }
