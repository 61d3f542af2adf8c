"""Reads that may lag a little, on a read replica: searches, recall, listings and the graph.

``DEVMEM_DB_READ=postgresql://…`` (or ``--db-read``) names a streaming replica of the team
store. Its pool serves the storage's search, listing and graph reads; everything that writes,
or must read its own writes (remember's duplicate check, update's version check, get before an
update, shares, tokens, the audit), stays on the primary. A replica replays the primary's WAL,
so the same roles, policies and grants apply there: row-level security is identical.

The replica connects as the primary's login (the user, password and database missing from
its URL are the primary's; naming another user is refused, since a different login would see
different rows). When the replica cannot be reached, or cancels a query that conflicts with
its recovery, the read runs on the primary instead, one warning is logged (the replica's
location without its password), and the replica is tried again after ``RETRY_S``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from core.acting import current_client, current_role
from core.errors import StoreError
from core.storage import pg_db

log = logging.getLogger(__name__)
T = TypeVar("T")
POOL_MAX = 8
ACQUIRE_S = 2.0  # a replica that gives no connection within this is down for now
RETRY_S = 30.0  # a down replica is tried again after this long

_STATUS = (
    "SELECT pg_is_in_recovery(), CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
    " THEN 0 ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
)


class _QuietReconnects(logging.Filter):
    """psycopg's pool logs a warning at each failed reconnection of the replica's pool while
    it is down; ours says it once per outage, so theirs become DEBUG (other pools untouched)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and f"'{POOL_NAME}'" in record.getMessage():
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


POOL_NAME = "devmem-read"
logging.getLogger("psycopg.pool").addFilter(_QuietReconnects())

# The replica is unusable for this read (down, restarting, or a query cancelled by recovery).
_UNAVAILABLE = (psycopg.OperationalError, psycopg.errors.SerializationFailure, PoolTimeout)


def replica_conninfo(primary: str, replica: str) -> str:
    """The replica's connection string: its host and options, the primary's user, password
    and database where it names none.

    Raises:
        StoreError: the URL cannot be parsed, or names another user than the primary's."""
    try:
        ours, theirs = conninfo_to_dict(replica), conninfo_to_dict(primary)
    except psycopg.ProgrammingError as exc:
        raise StoreError(
            "DEVMEM_DB_READ is not a valid PostgreSQL URL.",
            hint="Use postgresql://HOST/DB (the primary's login is used when it names none).",
        ) from exc
    for key in ("user", "password", "dbname"):
        if key not in ours and key in theirs:
            ours[key] = theirs[key]
    if ours.get("user") != theirs.get("user"):
        raise StoreError(
            "The read replica must be read with the same login as the primary "
            f"({theirs.get('user') or 'the default user'}), not {ours.get('user')!r}: "
            "another login would see other rows.",
            hint="Drop the user from DEVMEM_DB_READ / --db-read; the primary's is used.",
        )
    return make_conninfo("", **ours)


class Reads:
    """Runs read functions ``fn(conn, *args)`` on the replica when there is one and it
    answers, else on the primary."""

    def __init__(self, primary: pg_db.Database, replica_url: str | None) -> None:
        self._primary = primary
        self._pool: ConnectionPool | None = None
        self._down_since: float | None = None
        self._lock = threading.Lock()
        self.location: str | None = None
        self._password: str | None = None
        if replica_url:
            conninfo = replica_conninfo(primary.conninfo, pg_db.normalised(replica_url))
            self.location = pg_db.redacted(conninfo)
            password = conninfo_to_dict(conninfo).get("password")
            self._password = str(password) if password else None
            self._pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=POOL_MAX,
                kwargs={"connect_timeout": pg_db.CONNECT_TIMEOUT_S, "autocommit": True},
                configure=pg_db._configure,
                open=False,
                name=POOL_NAME,
            )
            self._pool.open(wait=False)  # a replica that is down must not stop the start

    def run(self, fn: Callable[..., T], *args: Any, tx: bool = False) -> T:
        """``fn(conn, *args)`` on the replica (in a transaction when ``tx`` or acting as a
        person), or on the primary when there is no replica or it is unavailable."""
        if self._pool is not None and self._usable():
            try:
                return self._on_replica(self._pool, fn, args, tx)
            except _UNAVAILABLE as exc:
                self._fell_back(exc)
            except psycopg.Error as exc:
                raise pg_db.explain(exc, self.location or "") from exc
        if tx:
            with self._primary.tx(write=False) as conn:
                return fn(conn, *args)
        with self._primary.read() as conn:
            return fn(conn, *args)

    def _on_replica(self, pool: ConnectionPool, fn: Callable[..., T], args: Any, tx: bool) -> T:
        with pool.connection(timeout=ACQUIRE_S) as conn:
            if tx or current_role() is not None or current_client() is not None:
                result = _in_transaction(conn, fn, args)
            else:
                result = fn(conn, *args)
        if self._down_since is not None:
            self._down_since = None
            log.info("read replica %s answers again", self.location)
        return result

    def _usable(self) -> bool:
        down = self._down_since
        return down is None or time.monotonic() - down >= RETRY_S

    def _fell_back(self, exc: BaseException) -> None:
        with self._lock:
            first = self._down_since is None
            self._down_since = time.monotonic()
        if first:  # once per outage, not once per read
            log.warning(
                "read replica %s unavailable (%s); reading from the primary %s and trying "
                "the replica again in %.0f s",
                self.location,
                _without_password(pg_db._first_line(exc), self._password),
                self._primary.location,
                RETRY_S,
            )

    def status(self) -> dict[str, Any] | None:
        """The replica as `devmem stats` shows it (None without one): its location, whether
        it answers now, whether it is a standby, and how far behind its replay is (seconds;
        0 when it has replayed all it received)."""
        if self._pool is None:
            return None
        out: dict[str, Any] = {"location": self.location, "answering": False}
        try:
            with self._pool.connection(timeout=ACQUIRE_S) as conn:
                row = conn.execute(_STATUS).fetchone()
        except (*_UNAVAILABLE, psycopg.Error):
            return out
        if row is not None:
            out |= {"answering": True, "in_recovery": bool(row[0]), "lag_s": float(row[1] or 0)}
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()


def _in_transaction(conn: psycopg.Connection[Any], fn: Callable[..., T], args: Any) -> T:
    """``fn`` in one transaction that acts as ``acting_as``'s person (as Database.tx does)."""
    conn.execute(pg_db._preamble())  # BEGIN; SET LOCAL ROLE: row-level security as on the primary
    try:
        result = fn(conn, *args)
    except BaseException:
        with contextlib.suppress(psycopg.Error):  # a broken connection: the pool drops it
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _without_password(text: str, password: str | None) -> str:
    """A message fit for a log: the password, should a driver ever echo it, masked."""
    return text.replace(password, "***") if password else text
