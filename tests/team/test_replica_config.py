"""How a read replica is named (no server needed): the primary's login fills in what the
replica URL leaves out, another login is refused, and a SQLite store takes no replica."""

from __future__ import annotations

from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from core import Settings, StoreError
from core.storage import open_storage
from core.storage.pg_replica import replica_conninfo

PRIMARY = "postgresql://alice:s3cret@db.example/devmem?sslmode=require"


def test_the_replica_reads_with_the_primarys_login() -> None:
    params = conninfo_to_dict(replica_conninfo(PRIMARY, "postgresql://replica.example"))
    assert params["host"] == "replica.example"
    assert (params["user"], params["password"], params["dbname"]) == ("alice", "s3cret", "devmem")
    own = conninfo_to_dict(replica_conninfo(PRIMARY, "postgresql://alice@r.example/other"))
    assert (own["dbname"], own["password"]) == ("other", "s3cret")


def test_another_login_on_the_replica_is_refused_without_echoing_a_password() -> None:
    with pytest.raises(StoreError, match="same login") as refused:
        replica_conninfo(PRIMARY, "postgresql://bob:hunter2@replica.example/devmem")
    assert "hunter2" not in str(refused.value) and "s3cret" not in str(refused.value)


def test_a_sqlite_store_ignores_the_variable_but_refuses_the_option(tmp_path: Path) -> None:
    env = {"DEVMEM_DB_READ": "postgresql://replica.example/devmem"}
    assert Settings.from_env(env, str(tmp_path / "m.db")).db_read is None
    assert Settings.from_env(env, PRIMARY).db_read == env["DEVMEM_DB_READ"]
    assert (
        Settings.from_env(env, PRIMARY, "postgresql://other/db").db_read == "postgresql://other/db"
    )
    with pytest.raises(StoreError, match="needs a PostgreSQL team store"):
        open_storage(tmp_path / "m.db", read="postgresql://replica.example/devmem")
    assert not (tmp_path / "m.db").exists()  # refused before anything was created
