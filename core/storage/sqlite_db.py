"""SQLite connections (sqlean + sqlite-vec), pragmas, transactions, schema migrations, and
the translation of SQLite errors into StoreErrors that say what to do (``explain``)."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlean as sqlite3  # drop-in sqlite3 that can load extensions
import sqlite_vec

from core.errors import StoreError

if TYPE_CHECKING:
    from sqlite3 import Connection as Connection  # sqlean's Connection has the same API
else:
    Connection = sqlite3.Connection
SqliteError = sqlite3.Error  # what callers outside this module catch
SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 30_000

_SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memories (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    kind TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    project TEXT,
    anchor_path TEXT, anchor_start INTEGER, anchor_end INTEGER,
    anchor_symbol TEXT, anchor_commit TEXT, anchor_fingerprint TEXT,
    source TEXT NOT NULL,
    external_id TEXT,
    source_url TEXT,
    provenance INTEGER NOT NULL,
    visibility TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    event_at TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS memories_external ON memories(source, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS memories_hash ON memories(content_hash);
CREATE INDEX IF NOT EXISTS memories_project ON memories(project, updated_at);
CREATE INDEX IF NOT EXISTS memories_kind ON memories(kind);
CREATE INDEX IF NOT EXISTS memories_anchor ON memories(anchor_path, anchor_symbol);
CREATE INDEX IF NOT EXISTS memories_updated ON memories(updated_at);
CREATE TABLE IF NOT EXISTS memory_tags (
    memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (tag, memory_rowid)
);
CREATE INDEX IF NOT EXISTS memory_tags_by_memory ON memory_tags(memory_rowid);
CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(
    title, content, tags, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS memory_vectors (
    rowid INTEGER PRIMARY KEY REFERENCES memories(rowid) ON DELETE CASCADE,
    model TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS memory_versions (
    memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '{}',
    changed_at TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (memory_rowid, version)
);
CREATE TABLE IF NOT EXISTS memory_links (
    source_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    target_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (source_rowid, target_rowid, type)
);
CREATE INDEX IF NOT EXISTS memory_links_target ON memory_links(target_rowid);
CREATE TABLE IF NOT EXISTS entities (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    display TEXT NOT NULL,
    UNIQUE (type, name)
);
CREATE TABLE IF NOT EXISTS entity_aliases (
    alias TEXT NOT NULL,
    entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    PRIMARY KEY (alias, entity_id)
);
CREATE TABLE IF NOT EXISTS memory_entities (
    memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    confidence REAL NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (memory_rowid, entity_id)
);
CREATE INDEX IF NOT EXISTS memory_entities_entity ON memory_entities(entity_id);
CREATE TABLE IF NOT EXISTS relations (
    id INTEGER PRIMARY KEY,
    src_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    dst_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    weight REAL NOT NULL DEFAULT 0,
    UNIQUE (src_id, dst_id, type)
);
CREATE INDEX IF NOT EXISTS relations_dst ON relations(dst_id);
CREATE TABLE IF NOT EXISTS relation_evidence (
    relation_id INTEGER NOT NULL REFERENCES relations(id) ON DELETE CASCADE,
    memory_rowid INTEGER NOT NULL REFERENCES memories(rowid) ON DELETE CASCADE,
    weight REAL NOT NULL,
    PRIMARY KEY (relation_id, memory_rowid)
);
CREATE INDEX IF NOT EXISTS relation_evidence_memory ON relation_evidence(memory_rowid);
CREATE TABLE IF NOT EXISTS sync_state (
    connector TEXT NOT NULL,
    scope TEXT NOT NULL,
    cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (connector, scope)
);
"""


# Forward migrations: index i upgrades a database at version i to version i + 1.
def _run_script(conn: Connection, script: str) -> None:
    # executescript() would COMMIT first; running statement by statement keeps the
    # migration inside the caller's transaction.
    for statement in script.split(";\n"):
        if statement.strip():
            conn.execute(statement)


_SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS memory_bits (
    rowid INTEGER PRIMARY KEY REFERENCES memories(rowid) ON DELETE CASCADE,
    bits BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS vector_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    rowid INTEGER NOT NULL
);
"""


def _v2_binary_codes(conn: Connection) -> None:
    """v2: 1-bit codes of every vector for the in-process index (sqlite_vectors.py)."""
    from core.storage.sqlite_codes import codes_of

    _run_script(conn, _SCHEMA_V2)
    import numpy as np

    for rowid, blob in conn.execute("SELECT rowid, vector FROM memory_vectors").fetchall():
        conn.execute(
            "INSERT OR REPLACE INTO memory_bits(rowid, bits) VALUES (?, ?)",
            (rowid, codes_of(np.frombuffer(blob, dtype=np.float32))),
        )


def _v3_secure_delete(conn: Connection) -> None:
    """v3: deleting erases. FTS5 removes a deleted row's terms from its index at once
    (``secure-delete``, kept in the table's config) and ``optimize`` purges what earlier
    deletions left behind in old index segments."""
    conn.execute("INSERT INTO memory_fts(memory_fts, rank) VALUES ('secure-delete', 1)")
    conn.execute("INSERT INTO memory_fts(memory_fts) VALUES ('optimize')")


MIGRATIONS: list[Callable[[Connection], None]] = [
    lambda conn: _run_script(conn, _SCHEMA_V1),
    _v2_binary_codes,
    _v3_secure_delete,
]


def connect(path: Path | str, *, readonly: bool = False) -> Connection:
    """Open the database with sqlite-vec loaded, WAL, a busy timeout and foreign keys on."""
    path_str = str(path)
    try:
        fresh = path_str != ":memory:" and not readonly and not Path(path_str).exists()
        if fresh:
            Path(path_str).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        uri = f"file:{path_str}?mode=ro" if readonly else path_str
        conn: Connection = sqlite3.connect(
            uri,
            uri=readonly,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
        conn.enable_load_extension(False)
        _configure(conn, readonly=readonly)
        if fresh:  # memories are private: owner-only, like an SSH key
            os.chmod(path_str, 0o600)
    except (sqlite3.Error, OSError) as exc:
        raise explain(exc, path_str) from exc
    return conn


def _configure(conn: Connection, *, readonly: bool) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    # Deleted rows are overwritten with zeros, not left in free pages (forget means erased).
    conn.execute("PRAGMA secure_delete = ON")
    if not readonly:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA cache_size = -32000")
    conn.execute("PRAGMA temp_store = MEMORY")


def explain(exc: BaseException, path: str) -> StoreError:
    """Turn a sqlite/OS error into a StoreError that says what to do."""
    text = str(exc).lower()
    if "unable to open" in text and _read_only_place(path):
        text = f"read-only: {text}"  # SQLite cannot make its -wal/-shm files beside it
    if "readonly" in text or "read-only" in text or "permission denied" in text:
        return StoreError(
            f"The database {path} is read-only ({exc}).",
            hint="Check the file's permissions or point --db / DEVMEM_DB at a writable path.",
        )
    if "full" in text or "no space" in text:
        return StoreError(
            f"The disk holding {path} is full; nothing was written ({exc}).",
            hint="Free some space and try again; the database is unchanged.",
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return StoreError(
            f"The database {path} is damaged ({exc}).",
            hint="Run `devmem doctor` for recovery steps (restore a `devmem backup`, or `devmem export` what can be read).",
        )
    if isinstance(exc, NotADirectoryError | FileExistsError) or "not a directory" in text:
        return StoreError(
            f"Cannot create the database {path}: part of its folder path is a file.",
            hint="Point --db / DEVMEM_DB at a path inside a folder.",
        )
    if "unable to open" in text:
        return StoreError(
            f"Cannot open the database {path} ({exc}).",
            hint="Check that the folder exists and is writable, or set --db / DEVMEM_DB.",
        )
    return StoreError(
        f"Database error on {path}: {exc}", hint="Run `devmem doctor` to check the store."
    )


def _read_only_place(path: str) -> bool:
    """The database exists but its folder or file cannot be written (a read-only mount or
    permissions): what "unable to open database file" means for a store that is there."""
    target = Path(path)
    if path == ":memory:" or not target.exists():
        return False
    return not (os.access(target.parent, os.W_OK) and os.access(target, os.W_OK))


def is_locked(exc: BaseException) -> bool:
    """True for the transient "database is locked / busy" errors worth retrying."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def retry_locked(fn: Callable[[], Any], attempts: int = 20) -> Any:
    """Run ``fn``, retrying with jittered backoff while the database is locked."""
    for attempt in range(attempts):
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or attempt == attempts - 1:
                raise
            time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


@contextlib.contextmanager
def write_transaction(conn: Connection, lock: threading.RLock) -> Iterator[Connection]:
    """One short IMMEDIATE transaction: everything inside commits together or not at all.

    SQLite errors (disk full, read-only file, damage) leave as a StoreError that says what
    to do; after a failed statement or COMMIT nothing of the transaction is kept."""
    with lock:
        try:
            retry_locked(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                yield conn
                bump_changes(conn)
                retry_locked(lambda: conn.execute("COMMIT"))
            except BaseException:
                if conn.in_transaction:  # SQLITE_FULL may already have ended it
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise explain(exc, db_path(conn)) from exc


def purge_wal(conn: Connection) -> bool:
    """Copy the WAL into the database and truncate it, so that the page images of deleted
    rows leave the WAL file too. Best effort: a reader in another process keeps the WAL
    until the next checkpoint (SQLite's own, at the latest when the last connection closes);
    returns whether the WAL was emptied."""
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.Error:
        return False
    return not busy


def db_path(conn: Connection) -> str:
    try:
        row = conn.execute("PRAGMA database_list").fetchone()
    except sqlite3.Error:
        return "the database"
    return str(row[2]) if row and row[2] else "the database"


def _schema_version(conn: Connection) -> int:
    has_meta = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: Connection, lock: threading.RLock, path: str) -> int:
    """Bring the schema up to SCHEMA_VERSION; refuse a database from a newer DevMemory.

    A current database is only read (so read-only stores open and readers never write)."""
    try:
        if _schema_version(conn) == SCHEMA_VERSION:
            return SCHEMA_VERSION
    except sqlite3.Error as exc:
        raise explain(exc, path) from exc
    with write_transaction(conn, lock):
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        current = _schema_version(conn)
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"The database {path} has schema version {current}, newer than this DevMemory "
                f"understands ({SCHEMA_VERSION}).",
                hint="Upgrade DevMemory (pip install -U devmem-layer).",
            )
        for version in range(current, SCHEMA_VERSION):
            MIGRATIONS[version](conn)
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
    return SCHEMA_VERSION


CHANGES_KEY = "changes"


def bump_changes(conn: Connection) -> None:
    """Count one more committed write, in the caller's transaction.

    Readers in other processes (an editor's language server) compare this counter to see
    that anything changed: a count of rows plus the newest update time missed a delete
    and an older-dated import within one poll."""
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?, '1') ON CONFLICT(key) DO UPDATE"
        " SET value = CAST(value AS INTEGER) + 1",
        (CHANGES_KEY,),
    )


def changes(conn: Connection) -> int:
    """How many write transactions this database has committed (0 for a fresh one)."""
    value = get_meta(conn, CHANGES_KEY)
    return int(value) if value is not None else 0


def get_meta(conn: Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(conn: Connection, key: str, value: str) -> None:
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
