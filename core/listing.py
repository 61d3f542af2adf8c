"""Listing memories page by page, and finding the ones anchored to a file."""

from __future__ import annotations

from pathlib import PurePosixPath

from core import filters as flt
from core.models import Memory, Page, SearchFilters
from core.rows import MEMORY_COLUMNS, row_to_memory
from core.store import Store

_ORDER = {"updated": "m.updated_at DESC", "created": "m.created_at DESC",
          "event": "coalesce(m.event_at, m.created_at) DESC"}


def page(store: Store, filters: SearchFilters | None, limit: int, offset: int, order: str) -> Page:
    where, args = flt.where(filters)
    order_sql = _ORDER.get(order, _ORDER["updated"])
    rows = store.conn().execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE {where} ORDER BY {order_sql}, m.rowid DESC"
        " LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
    total = int(store.conn().execute(f"SELECT count(*) FROM memories m WHERE {where}", args).fetchone()[0])
    next_offset = offset + limit if offset + limit < total else None
    return Page([row_to_memory(r) for r in rows], total, next_offset)


def path_suffixes(path: str) -> list[str]:
    """``/home/me/repo/src/a.py`` → itself, ``home/me/repo/src/a.py``, …, ``src/a.py``, ``a.py``.

    Anchors are stored relative to the project root when known, absolute otherwise; matching
    every suffix finds both without a table scan.
    """
    parts = PurePosixPath(path.replace("\\", "/")).parts
    suffixes = [path] + ["/".join(parts[i:]) for i in range(len(parts)) if parts[i] != "/"]
    return list(dict.fromkeys(s for s in suffixes if s))


def anchored(store: Store, path: str, project: str | None,
             limit: int | None = 200) -> list[tuple[int, Memory]]:
    """Memories anchored to ``path`` (any suffix match), newest first (all with ``limit=None``)."""
    suffixes = path_suffixes(path)
    marks = ",".join("?" * len(suffixes))
    sql = f"SELECT {MEMORY_COLUMNS} FROM memories m INDEXED BY memories_anchor WHERE m.anchor_path IN ({marks})"
    args: list[object] = list(suffixes)
    if project:
        sql += " AND (m.project = ? OR m.project IS NULL)"
        args.append(project)
    rows = store.conn().execute(sql + " ORDER BY m.updated_at DESC LIMIT ?",
                                [*args, -1 if limit is None else limit]).fetchall()
    return [(int(r[0]), row_to_memory(r)) for r in rows]
