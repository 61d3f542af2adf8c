"""PostgreSQL rows of memories, versions, links, vectors and cursors, by memory id.

Functions take the connection of the caller's transaction (``Database.tx``); the text
index is a generated column of ``memories``, so writing a memory indexes its text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from core.errors import AccessDenied
from core.models import Link, Memory, Version
from core.storage.pg_rows import MEMORY_COLUMNS, memory_values, row_to_memory
from core.timeutil import now_iso

Conn = psycopg.Connection[Any]

_INSERT_COLUMNS = (
    "id, title, fts_title, content, content_hash, kind, tags, tags_text, project, anchor_path,"
    " anchor_start, anchor_end, anchor_symbol, anchor_commit, anchor_fingerprint, source,"
    " external_id, source_url, provenance, visibility, created_at, updated_at, event_at,"
    " version, metadata"
)
_UPDATED = [
    c.strip()
    for c in _INSERT_COLUMNS.split(",")
    if c.strip() not in ("id", "source", "external_id", "created_at")
]


# ---- reads -------------------------------------------------------------------------------
def get(conn: Conn, memory_id: str) -> Memory | None:
    row = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.id = %s", (memory_id.upper(),)
    ).fetchone()
    return None if row is None else row_to_memory(row)


def get_many(conn: Conn, memory_ids: Sequence[str]) -> dict[str, Memory]:
    wanted = list(dict.fromkeys(i.upper() for i in memory_ids))
    if not wanted:
        return {}
    rows = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.id = ANY(%s::text[])", (wanted,)
    )
    return {str(r[1]): row_to_memory(r) for r in rows}


def find_by_hash(conn: Conn, content_hash: str, project: str | None) -> Memory | None:
    row = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.content_hash = %s"
        " AND m.project IS NOT DISTINCT FROM %s LIMIT 1",
        (content_hash, project),
    ).fetchone()
    return None if row is None else row_to_memory(row)


def find_external(conn: Conn, source: str, external_id: str) -> Memory | None:
    row = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.source = %s AND m.external_id = %s"
        " AND m.owner_role = current_user",
        (source, external_id),
    ).fetchone()
    return None if row is None else row_to_memory(row)


def find_many_by_hash(
    conn: Conn, keys: Sequence[tuple[str, str | None]]
) -> dict[tuple[str, str | None], Memory]:
    """The first memory found for each (content hash, project), in one query."""
    wanted = set(keys)
    if not wanted:
        return {}
    found: dict[tuple[str, str | None], Memory] = {}
    rows = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m WHERE m.content_hash = ANY(%s::text[])",
        (sorted({h for h, _ in wanted}),),
    )
    for r in rows:
        m = row_to_memory(r)
        if (m.content_hash, m.project) in wanted:
            found.setdefault((m.content_hash, m.project), m)
    return found


def find_many_external(
    conn: Conn, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Memory]:
    """The memory of each (source, external id) found, in one query."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories m"
        " JOIN unnest(%s::text[], %s::text[]) AS k(s, e) ON m.source = k.s AND m.external_id = k.e",
        ([s for s, _ in wanted], [e for _, e in wanted]),
    )
    return {(m.source, str(m.external_id)): m for m in map(row_to_memory, rows)}


def external_ids(conn: Conn, source: str, prefix: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT external_id, content_hash FROM memories WHERE source = %s"
        " AND external_id IS NOT NULL AND left(external_id, %s) = %s AND owner_role = current_user",
        (source, len(prefix), prefix),
    )
    return {str(r[0]): str(r[1]) for r in rows}


def ids_with_prefix(conn: Conn, prefix: str, limit: int) -> list[str]:
    # A range on the id index (ids sort byte-wise: COLLATE "C"; '~' after every base32
    # character), not a LIKE scan. Under row-level security only visible ids are seen.
    start = prefix.upper()
    rows = conn.execute(
        "SELECT id FROM memories WHERE id >= %s AND id < %s ORDER BY id LIMIT %s",
        (start, start + "~", limit),
    )
    return [str(r[0]) for r in rows]


def adjacent_ids(conn: Conn, memory_id: str) -> list[str]:
    key = memory_id.upper()
    before = conn.execute(
        "SELECT id FROM memories WHERE id < %s ORDER BY id DESC LIMIT 1", (key,)
    ).fetchone()
    after = conn.execute(
        "SELECT id FROM memories WHERE id > %s ORDER BY id LIMIT 1", (key,)
    ).fetchone()
    return [str(r[0]) for r in (before, after) if r is not None]


def count(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) FROM memories").fetchone()
    return int(row[0]) if row else 0


def exists(conn: Conn, memory_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM memories WHERE id = %s", (memory_id.upper(),)).fetchone()
        is not None
    )


# ---- writes ------------------------------------------------------------------------------
def insert(conn: Conn, m: Memory, vector: np.ndarray | None, model: str) -> None:
    values = memory_values(m)
    marks = ", ".join(f"%({c.strip()})s" for c in _INSERT_COLUMNS.split(","))
    conn.execute(f"INSERT INTO memories ({_INSERT_COLUMNS}) VALUES ({marks})", values)
    if vector is not None:
        put_vector(conn, m.id, vector, model)


def insert_many(conn: Conn, rows: Sequence[tuple[Memory, np.ndarray | None]], model: str) -> None:
    """Several new memories and their vectors: one statement per table (``executemany``
    sends the rows in a pipeline, so a batch costs a round trip or two, not one per row)."""
    if not rows:
        return
    marks = ", ".join(f"%({c.strip()})s" for c in _INSERT_COLUMNS.split(","))
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO memories ({_INSERT_COLUMNS}) VALUES ({marks})",
            [memory_values(m) for m, _ in rows],
        )
        vectors = [(m.id, model, np.asarray(v, dtype=np.float32)) for m, v in rows if v is not None]
        if vectors:
            cur.executemany(_PUT_VECTOR, vectors)


def replace(conn: Conn, m: Memory, vector: np.ndarray | None, model: str) -> None:
    sets = ", ".join(f"{c} = %({c})s" for c in _UPDATED)
    if (
        conn.execute(f"UPDATE memories SET {sets} WHERE id = %(id)s", memory_values(m)).rowcount
        == 0
    ):
        raise AccessDenied(  # row-level security kept the row: the person may read, not write
            f"Not allowed to change memory {m.id}.",
            hint="Only its owner, a team editor or a person it is shared with for writing may.",
        )
    conn.execute("DELETE FROM memory_vectors WHERE memory_id = %s", (m.id,))
    if vector is not None:
        put_vector(conn, m.id, vector, model)


def update_anchor(conn: Conn, memory_id: str, start: int, end: int) -> None:
    conn.execute(
        "UPDATE memories SET anchor_start = %s, anchor_end = %s WHERE id = %s",
        (start, end, memory_id),
    )


def delete(conn: Conn, memory_id: str) -> None:
    """The memory's row; its vector, versions, links and graph rows go by ON DELETE CASCADE.

    Raises:
        AccessDenied: row-level security kept the row (the person may read but not delete
            it); the error rolls the whole transaction back, graph rows included."""
    if conn.execute("DELETE FROM memories WHERE id = %s", (memory_id,)).rowcount == 0:
        raise AccessDenied(
            f"Not allowed to delete memory {memory_id} (or it was deleted meanwhile).",
            hint="Only its owner, or an admin of its team, may delete it.",
        )


_PUT_VECTOR = (
    "INSERT INTO memory_vectors(memory_id, model, embedding) VALUES (%s, %s, %s)"
    " ON CONFLICT (memory_id) DO UPDATE SET model = excluded.model, embedding = excluded.embedding"
)


def put_vector(conn: Conn, memory_id: str, vector: np.ndarray, model: str) -> None:
    conn.execute(_PUT_VECTOR, (memory_id, model, np.asarray(vector, dtype=np.float32)))


# ---- versions ----------------------------------------------------------------------------
def next_version(conn: Conn, memory_id: str) -> int:
    row = conn.execute(
        "SELECT coalesce(max(version), 0) FROM memory_versions WHERE memory_id = %s",
        (memory_id,),
    ).fetchone()
    return int(row[0] if row else 0) + 1


_ADD_VERSION = (
    "INSERT INTO memory_versions(memory_id, version, title, content, fields, changed_at,"
    " changed_by, pending) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
VersionRow = tuple[str, int, str, str, str, str, str, bool]


def version_row(m: Memory, changed_by: str, number: int, pending: bool) -> VersionRow:
    """The ``memory_versions`` row of version ``number`` of ``m``."""
    fields = {
        "kind": m.kind,
        "tags": list(m.tags),
        "project": m.project,
        "visibility": m.visibility,
        "metadata": m.metadata,
    }
    return (
        m.id,
        number,
        m.title,
        m.content,
        json.dumps(fields, ensure_ascii=False),
        m.updated_at,
        changed_by,
        pending,
    )


def add_version(
    conn: Conn,
    m: Memory,
    changed_by: str,
    *,
    pending: bool = False,
    version: int | None = None,
) -> int:
    number = next_version(conn, m.id) if version is None else version
    conn.execute(_ADD_VERSION, version_row(m, changed_by, number, pending))
    return number


def add_versions(conn: Conn, rows: Sequence[VersionRow]) -> None:
    """Several version rows in one ``executemany``."""
    if rows:
        with conn.cursor() as cur:
            cur.executemany(_ADD_VERSION, rows)


def versions(conn: Conn, memory_id: str) -> list[Version]:
    rows = conn.execute(
        "SELECT version, title, content, changed_at, changed_by, pending FROM memory_versions"
        " WHERE memory_id = %s ORDER BY version",
        (memory_id.upper(),),
    )
    return [Version(int(r[0]), r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]


def version_fields(conn: Conn, memory_id: str, version: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT title, content, fields FROM memory_versions WHERE memory_id = %s AND version = %s",
        (memory_id.upper(), version),
    ).fetchone()
    if row is None:
        return None
    return {"title": row[0], "content": row[1], **json.loads(row[2])}


def clear_pending(conn: Conn, memory_id: str, version: int) -> None:
    conn.execute(
        "UPDATE memory_versions SET pending = false WHERE memory_id = %s AND version = %s",
        (memory_id, version),
    )


# ---- links -------------------------------------------------------------------------------
def add_link(conn: Conn, src: str, dst: str, link_type: str, at: str) -> None:
    conn.execute(
        "INSERT INTO memory_links(memory_id, target_id, type, created_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (src, dst, link_type, at),
    )


def remove_link(conn: Conn, src: str, dst: str, link_type: str | None) -> int:
    query = "DELETE FROM memory_links WHERE memory_id = %s AND target_id = %s"
    args: tuple[Any, ...] = (src, dst)
    if link_type:
        query, args = query + " AND type = %s", (*args, link_type)
    return conn.execute(query, args).rowcount


_LINKS = "SELECT memory_id, target_id, type, created_at FROM memory_links"


def links_of(conn: Conn, memory_id: str) -> list[Link]:
    key = memory_id.upper()
    rows = conn.execute(
        f"{_LINKS} WHERE memory_id = %s OR target_id = %s ORDER BY created_at, memory_id, target_id",
        (key, key),
    )
    return [Link(r[0], r[1], r[2], r[3]) for r in rows]


def all_links(conn: Conn) -> list[Link]:
    return [Link(r[0], r[1], r[2], r[3]) for r in conn.execute(_LINKS)]


# ---- cursors -----------------------------------------------------------------------------
def get_cursor(conn: Conn, connector: str, scope: str) -> str | None:
    row = conn.execute(
        "SELECT cursor FROM sync_state WHERE connector = %s AND scope = %s"
        " AND role_name = current_user",
        (connector, scope),
    ).fetchone()
    return None if row is None else str(row[0])


def set_cursor(conn: Conn, connector: str, scope: str, value: str) -> None:
    conn.execute(
        "INSERT INTO sync_state(connector, scope, cursor, updated_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (role_name, connector, scope) DO UPDATE SET cursor = excluded.cursor,"
        " updated_at = excluded.updated_at",
        (connector, scope, value, now_iso()),
    )


def delete_cursor(conn: Conn, connector: str, scope: str) -> None:
    conn.execute(
        "DELETE FROM sync_state WHERE connector = %s AND scope = %s AND role_name = current_user",
        (connector, scope),
    )


def cursors(conn: Conn) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT connector, scope, updated_at FROM sync_state WHERE role_name = current_user"
        " ORDER BY connector, scope"
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]
