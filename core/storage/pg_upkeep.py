"""PostgreSQL upkeep: the vector column's model and dimension (and its HNSW index),
statistics, index health, backups (``pg_dump``)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.errors import StoreError
from core.storage import pg_db as db
from core.storage import pg_graph as graph_sql
from core.storage.base import IndexHealth

Conn = psycopg.Connection[Any]
HNSW_INDEX = "memory_vectors_hnsw"


# ---- the vector column ---------------------------------------------------------------------
def stored_model(conn: Conn) -> str | None:
    return db.get_meta(conn, "embedding_model")


def vector_notice(conn: Conn, model: str) -> str | None:
    """A notice when the store holds another model's vectors (None: ready for ``model``)."""
    stored = stored_model(conn)
    if stored is not None and stored != model:
        return (
            f"This store's vectors were made by {stored}, not {model}: vector search "
            "is off until you run `devmem reindex`."
        )
    return None


def needs_dimension(conn: Conn) -> bool:
    """True until the vector column has a model, a dimension and its HNSW index."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (HNSW_INDEX,)).fetchone()
    return stored_model(conn) is None or not (row and row[0])


def set_dimension(conn: Conn, model: str, dim: int, *, keep: bool) -> None:
    """Give the vector column ``dim`` dimensions and build its HNSW cosine index.

    ``keep``: the model is the stored one (a store from before the index), so its vectors
    stay; otherwise (a change of model) every vector goes: they mean nothing to the new one."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('devmem_vectors'))")
    if keep:
        conn.execute("DELETE FROM memory_vectors WHERE vector_dims(embedding) <> %s", (int(dim),))
    else:
        conn.execute("DELETE FROM memory_vectors")
    conn.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
    conn.execute(f"ALTER TABLE memory_vectors ALTER COLUMN embedding TYPE vector({int(dim)})")
    conn.execute(
        f"CREATE INDEX {HNSW_INDEX} ON memory_vectors USING hnsw (embedding vector_cosine_ops)"
    )
    db.set_meta(conn, "embedding_model", model)
    db.set_meta(conn, "embedding_dim", str(int(dim)))


# ---- statistics and health -----------------------------------------------------------------
def stats(conn: Conn, location: str, schema_version: int) -> dict[str, Any]:
    def grouped(column: str) -> dict[str, int]:
        return {
            str(r[0] if r[0] is not None else "(none)"): int(r[1])
            for r in conn.execute(
                f"SELECT {column}, count(*) FROM memories GROUP BY {column} ORDER BY 2 DESC LIMIT 50"
            )
        }

    graph = graph_sql.counts(conn)
    row = conn.execute(
        "SELECT (SELECT count(*) FROM memories), (SELECT count(*) FROM memory_vectors),"
        " (SELECT count(*) FROM memory_links), pg_database_size(current_database())"
    ).fetchone()
    assert row is not None
    return {
        "memories": int(row[0]),
        "vectors": int(row[1]),
        "by_kind": grouped("kind"),
        "by_project": grouped("project"),
        "by_source": grouped("source"),
        "links": int(row[2]),
        "db_path": location,
        "db_bytes": int(row[3]),
        "embedding_model": stored_model(conn),
        "entities": graph["entities"],
        "entities_by_type": graph["entities_by_type"],
        "relations": graph["relations"],
        "schema_version": schema_version,
    }


def health(conn: Conn) -> IndexHealth:
    """Row counts: the text index is a generated column (never orphaned); vectors cannot
    outlive their memory (a foreign key); the HNSW index is counted by its vectors."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM memories), (SELECT count(*) FROM memories WHERE tsv IS NOT NULL),"
        " (SELECT count(*) FROM memory_vectors),"
        " (SELECT count(*) FROM memory_vectors v WHERE NOT EXISTS"
        "  (SELECT 1 FROM memories m WHERE m.id = v.memory_id))"
    ).fetchone()
    assert row is not None
    ann = int(row[2]) if not needs_dimension(conn) else None
    return IndexHealth("ok", int(row[0]), int(row[1]), 0, int(row[2]), int(row[3]), ann)


def backend_check(conn: Conn) -> tuple[bool, str]:
    row = conn.execute(
        "SELECT current_setting('server_version'),"
        " (SELECT extversion FROM pg_extension WHERE extname = 'vector')"
    ).fetchone()
    if row is None or row[1] is None:
        return False, "the pgvector extension is not installed in this database"
    return True, f"PostgreSQL {row[0]} with pgvector {row[1]}"


# ---- backups -------------------------------------------------------------------------------
def backup(conninfo: str, dest: Path) -> None:
    """A consistent copy with ``pg_dump`` (custom format; restore with ``pg_restore``).
    The password goes through the environment, never the command line."""
    if dest.exists():
        raise StoreError(
            f"{dest} already exists.", hint="Choose a new file name; nothing was overwritten."
        )
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise StoreError(
            "pg_dump is not installed on this machine.",
            hint="Install the PostgreSQL client tools (same major version as the server), "
            "or use the managed service's snapshots.",
        )
    params = conninfo_to_dict(conninfo)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password:
        env["PGPASSWORD"] = str(password)
    done = subprocess.run(
        [pg_dump, "--format=custom", "--file", str(dest), "--dbname", make_conninfo("", **params)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        dest.unlink(missing_ok=True)
        raise StoreError(
            f"pg_dump failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}",
            hint="Check that pg_dump's major version is at least the server's.",
        )
    dest.chmod(0o600)
