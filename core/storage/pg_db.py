"""PostgreSQL connections: the pool, the one place a transaction starts (acting as a person),
migrations, and the translation of PostgreSQL errors into StoreErrors that say what to do.

Every statement, reads included, runs inside a transaction opened by ``Database.tx``: its
first statement is ``SET LOCAL ROLE`` when the caller acts as a person (``acting_as``), so
row-level security applies to everything the request does and ends with the transaction.
The connection string goes to libpq unchanged (service files, ``PGPASSFILE``, ``sslmode``).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from core.acting import acting_as, current_client, current_role
from core.errors import StoreError
from core.storage import pg_schema

__all__ = ["Database", "acting_as", "explain"]
POOL_MAX = 8
WRITE_RESERVE = 2  # connections read sessions never take: a write does not queue behind them
CONNECT_TIMEOUT_S = 10


def redacted(conninfo: str) -> str:
    """The connection string without its password (for messages, logs and stats)."""
    try:
        params = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "the PostgreSQL store"
    if "password" in params:
        params["password"] = "***"
    return "postgresql://{user}@{host}/{dbname}".format(
        user=params.get("user", ""),
        host=params.get("host", ""),
        dbname=params.get("dbname", ""),
    )


def normalised(url: str) -> str:
    """``postgres://`` as libpq spells it; everything else is passed through."""
    return "postgresql://" + url[len("postgres://") :] if url.startswith("postgres://") else url


class Database:
    """A pool of connections to one database; transactions act as the current person."""

    def __init__(self, conninfo: str, *, pool_max: int = POOL_MAX) -> None:
        self.conninfo = normalised(conninfo)
        self.location = redacted(self.conninfo)
        self.versions = migrate(self.conninfo, self.location)
        self._read_slots = threading.BoundedSemaphore(max(1, pool_max - WRITE_RESERVE))
        self._slot_held = threading.local()
        self._pool = ConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=pool_max,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_S, "autocommit": True},
            configure=_configure,
            open=False,
            name="devmem",
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
        except Exception as exc:
            self._pool.close()
            raise StoreError(
                f"Cannot open connections to {self.location} ({exc}).",
                hint="Check that the server is up and the URL's credentials work (psql URL).",
            ) from exc

    @contextlib.contextmanager
    def tx(self, *, write: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on a pooled connection, acting as ``acting_as``'s role: commits
        when the block ends, rolls back on an error (which leaves as a StoreError).

        Inside an open transaction of this database for the same person (a ``session()``,
        or an outer ``tx``) the block joins it: same connection, no BEGIN/COMMIT of its
        own. A write (the default) joins only a write transaction: a read session never
        holds a write, so what a write acknowledges is committed when its block ends; reads
        say ``write=False``."""
        joined = _joinable(self, write)
        if joined is not None:
            try:
                yield joined.connection()
            except psycopg.Error as exc:
                joined.failed()
                raise explain(exc, self.location) from exc
            return
        session = _Session(self, write=write)
        token = _SESSION.set(session)
        ok = False
        try:
            yield session.connection()
            ok = True
        except psycopg.Error as exc:
            raise explain(exc, self.location) from exc
        finally:
            _SESSION.reset(token)
            session.end(ok=ok)

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Every read in the block in one transaction, opened on the first statement (one
        pooled connection, one ``SET LOCAL ROLE``): a recall's dozen reads cost one BEGIN
        and one COMMIT. Writes in the block take their own transaction. Nested: joins."""
        if _joinable(self, write=False) is not None:
            yield
            return
        session = _Session(self, write=False, lazy=True)
        token = _SESSION.set(session)
        ok = False
        try:
            yield
            ok = True
        finally:
            _SESSION.reset(token)
            session.end(ok=ok)

    @contextlib.contextmanager
    def read(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for reads: the open session or transaction when there is one; a
        transaction when acting as a person (SET LOCAL ROLE needs one); else statements
        straight on the connection (one round trip each)."""
        if (
            _joinable(self, write=False) is not None
            or current_role() is not None
            or current_client() is not None
        ):
            with self.tx(write=False) as conn:
                yield conn
            return
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise explain(exc, self.location) from exc

    @contextlib.contextmanager
    def pooled(self, *, write: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """A connection from the pool (``_Session`` opens its transaction on it). A read takes
        one of the pool's read slots first (all but WRITE_RESERVE connections), so recalls
        holding their sessions never leave a write waiting for a connection; a thread that
        already holds a slot (a nested read as someone else) does not take a second."""
        if write or getattr(self._slot_held, "yes", False):
            with self._pool.connection() as conn:
                yield conn
            return
        with self._read_slots:
            self._slot_held.yes = True
            try:
                with self._pool.connection() as conn:
                    yield conn
            finally:
                self._slot_held.yes = False

    def close(self) -> None:
        self._pool.close()


_SESSION: contextvars.ContextVar[_Session | None] = contextvars.ContextVar(
    "devmem_pg_session", default=None
)


def _who() -> tuple[str | None, str | None]:
    return current_role(), current_client()


def _joinable(database: Database, write: bool) -> _Session | None:
    """The open transaction a block of ``database`` may join: same database, same person
    and client, and a write transaction when the block writes."""
    session = _SESSION.get()
    if session is None or session.database is not database or session.who != _who():
        return None
    return session if session.write or not write else None


class _Session:
    """An open transaction on one pooled connection (for ``tx`` and ``session``); a lazy
    one opens on its first statement, so a session that reads nothing costs nothing."""

    def __init__(self, database: Database, *, write: bool, lazy: bool = False) -> None:
        self.database, self.write, self.who = database, write, _who()
        self._stack = contextlib.ExitStack()
        self._conn: psycopg.Connection[Any] | None = None
        self._begun = False
        if not lazy:
            self.connection()

    def connection(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            try:
                self._conn = self._stack.enter_context(self.database.pooled(write=self.write))
            except psycopg.Error as exc:
                self._stack.close()
                raise explain(exc, self.database.location) from exc
        if not self._begun:
            self._conn.execute(_preamble())  # one round trip: BEGIN and who is acting
            self._begun = True
        return self._conn

    def failed(self) -> None:
        """A statement of a joined block failed: a read session starts afresh (its next
        read in a new transaction); a write transaction stays failed and will not commit."""
        if not self.write and self._conn is not None and self._begun:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("ROLLBACK")
            self._begun = False

    def end(self, *, ok: bool) -> None:
        """COMMIT (``ok``) or ROLLBACK, and the connection back to the pool. A transaction
        that a failed statement aborted is never reported committed."""
        conn, self._conn = self._conn, None
        try:
            if conn is None or not self._begun:
                return
            if ok and conn.info.transaction_status == TransactionStatus.INERROR:
                conn.execute("ROLLBACK")
                raise StoreError(
                    f"A statement failed inside a transaction on {self.database.location};"
                    " nothing of it was written.",
                    hint="Try again; run `devmem doctor` if it keeps failing.",
                )
            if ok:
                conn.execute("COMMIT")
            else:
                with contextlib.suppress(psycopg.Error):  # a broken connection: the pool drops it
                    conn.execute("ROLLBACK")
        except psycopg.Error as exc:
            raise explain(exc, self.database.location) from exc
        finally:
            self._begun = False
            self._stack.close()


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Each pooled connection: vectors adapted; HNSW searches look at 100 candidates and,
    under a filter, keep scanning until enough rows pass it (pgvector 0.8)."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    conn.execute("SET hnsw.ef_search = 100; SET hnsw.iterative_scan = relaxed_order")


def _preamble() -> sql.Composed:
    """BEGIN, then SET LOCAL ROLE for ``acting_as``'s role and the client setting, sent as one
    message (statements without parameters; the names are quoted as identifier / literal)."""
    parts: list[sql.Composable] = [sql.SQL("BEGIN")]
    role, client = current_role(), current_client()
    if role is not None:
        parts.append(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    if client is not None:
        parts.append(
            sql.SQL("SELECT set_config('devmem.client', {}, true)").format(sql.Literal(client))
        )
    return sql.SQL("; ").join(parts)


def connect(conninfo: str, location: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A single connection (migrations, LISTEN), errors explained."""
    try:
        return psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S, **kwargs)
    except psycopg.Error as exc:
        raise explain(exc, location) from exc


def with_user(conninfo: str, user: str, password: str | None) -> str:
    """The same database as another login role."""
    return make_conninfo(normalised(conninfo), user=user, password=password)


# ---- migrations ------------------------------------------------------------------------
def applied(conn: psycopg.Connection[Any]) -> set[int]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return set()
    return {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}


def migrate(conninfo: str, location: str) -> set[int]:
    """Apply the steps the database lacks, each in the same transaction as its record;
    an advisory lock makes concurrent openers wait for the first. A current database is
    only read (a person's role may not create tables). Returns the applied versions."""
    steps = pg_schema.all_steps()
    with connect(conninfo, location, autocommit=True) as conn:
        try:
            done = applied(conn)
            if all(v in done for v, _ in steps):
                return done
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('devmem_migrate'))")
                _create_migrations_table(conn)
                done = applied(conn)
                for version, script in steps:
                    if version not in done:
                        conn.execute(script)
                        conn.execute(
                            "INSERT INTO schema_migrations(version) VALUES (%s)", (version,)
                        )
                        done.add(version)
            return done
        except psycopg.Error as exc:
            raise explain(exc, location) from exc


def _create_migrations_table(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
        " org_id text NOT NULL DEFAULT 'default', applied_at timestamptz NOT NULL DEFAULT now())"
    )


# ---- errors ----------------------------------------------------------------------------
def explain(exc: BaseException, location: str) -> StoreError:
    """A PostgreSQL error as a StoreError whose hint says what to do."""
    text = str(exc).lower()
    if isinstance(exc, StoreError):
        return exc
    if "password authentication failed" in text or "no password supplied" in text:
        return StoreError(
            f"PostgreSQL refused the credentials for {location} ({_first_line(exc)}).",
            hint="Check the user and password in the URL, PGPASSFILE or the service file.",
        )
    if "extension" in text and ("vector" in text or "control file" in text):
        return StoreError(
            f"The pgvector extension is missing on {location} ({_first_line(exc)}).",
            hint="Install pgvector on the server (or enable it on a managed service) and let an "
            "owner run CREATE EXTENSION vector.",
        )
    if isinstance(exc, psycopg.OperationalError) and (
        "connection" in text or "no such file" in text or "could not" in text
    ):
        return StoreError(
            f"Cannot reach the PostgreSQL server of {location} ({_first_line(exc)}).",
            hint="Start the server or fix the host/port in --db / DEVMEM_DB, then try again.",
        )
    if "does not exist" in text and "database" in text:
        return StoreError(
            f"The database of {location} does not exist ({_first_line(exc)}).",
            hint="Create it (createdb NAME) or fix the database name in the URL.",
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return StoreError(
            f"Not allowed on {location}: {_first_line(exc)}",
            hint="Ask the team's admin for access, or run `devmem` with an owner's URL to migrate.",
        )
    return StoreError(
        f"Database error on {location}: {_first_line(exc)}",
        hint="Run `devmem doctor` to check the store.",
    )


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---- meta and the change counter -------------------------------------------------------
def get_meta(conn: psycopg.Connection[Any], key: str) -> str | None:
    row = conn.execute("SELECT value FROM devmem_meta WHERE key = %s", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: psycopg.Connection[Any], key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO devmem_meta(key, value) VALUES (%s, %s)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def bump_changes(conn: psycopg.Connection[Any]) -> None:
    """Count one more committed write and NOTIFY ``devmem_changes`` (sent on commit)."""
    conn.execute("SELECT devmem_bump_changes()")


def changes(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT devmem_change_count()").fetchone()
    return int(row[0]) if row else 0
