"""Connector cursors (delta link, ETag, commit sha, mtimes…), one per (connector, scope)."""

from __future__ import annotations

from core.storage.sqlite_db import Connection
from core.timeutil import now_iso


def get(conn: Connection, connector: str, scope: str) -> str | None:
    row = conn.execute(
        "SELECT cursor FROM sync_state WHERE connector = ? AND scope = ?", (connector, scope)
    ).fetchone()
    return None if row is None else str(row[0])


def put(conn: Connection, connector: str, scope: str, value: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO sync_state(connector, scope, cursor, updated_at)"
        " VALUES (?, ?, ?, ?)",
        (connector, scope, value, now_iso()),
    )


def delete(conn: Connection, connector: str, scope: str) -> None:
    conn.execute("DELETE FROM sync_state WHERE connector = ? AND scope = ?", (connector, scope))


def all_states(conn: Connection) -> list[tuple[str, str, str]]:
    return [
        (str(r[0]), str(r[1]), str(r[2]))
        for r in conn.execute(
            "SELECT connector, scope, updated_at FROM sync_state ORDER BY connector, scope"
        )
    ]
