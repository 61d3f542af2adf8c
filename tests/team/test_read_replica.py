"""Read replicas, with a REAL streaming replica of the test server (tests/pgreplica.py):
searches, listings and the graph are answered by the replica, writes and what must read its
own writes by the primary, row-level security applies on the replica as on the primary, and
reads fall back to the primary (one warning, no password) while the replica is down.

The proof that the replica answers: with its WAL replay paused, a memory just written on the
primary is found by ``get`` (primary) but not by a search or the listing (replica)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from cli import common
from cli.main import app as devmem
from core import MemoryInput, MemoryService, Settings, TeamService, acting_as, build_service
from core.storage import pg_replica
from tests import pgserver
from tests.mcp.mcp_helpers import call, http_server, http_session
from tests.pgreplica import PgReplica
from tests.team.conftest import TeamDb, with_login

pytestmark = pytest.mark.slow  # a second PostgreSQL server: `make test-fast` leaves it out
NO_MODEL = {"DEVMEM_EMBEDDINGS": "0"}


@pytest.fixture(scope="module")
def replica() -> Iterator[PgReplica]:
    standby = PgReplica(pgserver.shared())
    yield standby
    standby.remove()


@pytest.fixture(scope="module")
def people(team_db: TeamDb, replica: PgReplica) -> TeamDb:
    team_db.add("ria")
    team_db.add("rob")
    replica.wait()  # the database, its roles and policies are on the replica
    return team_db


def open_service(url: str, read: str | None) -> MemoryService:
    return build_service(Settings.from_env(NO_MODEL, url, read))


def found(service: MemoryService, query: str) -> list[str]:
    return [hit.memory.id for hit in service.recall(query, mode="text").hits]


def test_searches_go_to_the_replica_and_writes_to_the_primary(
    people: TeamDb, replica: PgReplica
) -> None:
    ria = open_service(people.urls["ria"], replica.url())  # the replica URL names no login
    try:
        first = ria.remember(MemoryInput("Lighthouse rotations are planned every spring"))
        replica.wait()
        assert found(ria, "lighthouse") == [first.memory.id]
        replica.pause(True)
        try:
            text = "Keepers of the lighthouse are paid monthly"
            second = ria.remember(MemoryInput(text)).memory
            assert found(ria, "keepers") == []  # the paused replica has not replayed it
            assert [m.id for m in ria.list().memories] == [first.memory.id]
            assert ria.get(second.id).content == text  # get reads the primary: its own write
            assert ria.remember(MemoryInput(text)).status == "deduplicated"  # primary's check
            ria.update(second.id, MemoryInput(text + ", in arrears"))  # version check: primary
        finally:
            replica.pause(False)
        replica.wait()
        assert found(ria, "keepers") == [second.id]
        assert found(ria, "arrears") == [second.id]
        shown = ria.stats()["read_replica"]
        assert shown["answering"] and shown["in_recovery"] and shown["lag_s"] >= 0
        assert people.passwords["ria"] not in str(shown)
    finally:
        ria.close()

    rob = open_service(people.urls["rob"], replica.url())
    try:  # row-level security on the replica: rob does not see ria's private memories
        assert found(rob, "lighthouse") == [] and rob.list().total == 0
    finally:
        rob.close()
    server = open_service(people.owner_url, replica.url())  # as a team server acts for a person
    try:
        assert found(server, "keepers") == [second.id]
        with acting_as(people.role("rob")):  # SET LOCAL ROLE on the replica
            assert found(server, "keepers") == []
    finally:
        server.close()
    rob_on_replica = with_login(
        replica.url(people.owner_url.rsplit("/", 1)[1].split("?")[0]),
        user=people.role("rob"),
        password=people.passwords["rob"],
    )
    with psycopg.connect(rob_on_replica) as conn:  # raw SQL on the replica, rob's password
        row = conn.execute("SELECT pg_is_in_recovery(), count(*) FROM memories").fetchone()
    assert row == (True, 0)


async def test_the_team_server_searches_on_the_replica_as_each_person(
    people: TeamDb, replica: PgReplica
) -> None:
    """`devmem-mcp --http --db … --db-read …`: a real MCP session; the server's own login reads
    the replica acting as the signed-in person (SET LOCAL ROLE there too)."""
    role, password = people.role("srv"), secrets.token_urlsafe(16)
    with psycopg.connect(people.owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    owner = TeamService.open(people.owner_url)
    owner.add_server(role)
    owner.close()
    ria = TeamService.open(people.urls["ria"])
    rob = TeamService.open(people.urls["rob"])
    ria_token, rob_token = ria.create_token("replica")[1], rob.create_token("replica")[1]
    ria.close()
    rob.close()
    server = with_login(people.owner_url, user=role, password=password)
    keep = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "HOME") if k in os.environ}
    env = keep | NO_MODEL | {"DEVMEM_DB": server, "DEVMEM_DB_READ": replica.url()}
    with http_server(env) as url:
        async with http_session(url, {"authorization": f"Bearer {ria_token}"}) as session:
            note = "Ria's note: the tide tables are printed in March"
            first = (await call(session, "remember", content=note))["memory"]["id"]
            replica.wait()
            hits = (await call(session, "recall", query="tide tables", mode="text"))["hits"]
            assert [h["id"] for h in hits] == [first]
            replica.pause(True)
            try:
                later = "Ria's note: the tide gauge is recalibrated in May"
                second = (await call(session, "remember", content=later))["memory"]["id"]
                hits = (await call(session, "recall", query="gauge", mode="text"))["hits"]
                assert hits == []  # the paused replica answered the search
                assert (await call(session, "get_memory", id=second))["memory"]["id"] == second
            finally:
                replica.pause(False)
        async with http_session(url, {"authorization": f"Bearer {rob_token}"}) as session:
            hits = (await call(session, "recall", query="tide tables", mode="text"))["hits"]
            assert hits == []  # rob, on the same replica connection pool, sees none of ria's


def fresh_cli() -> None:
    """As a new process would: the last command's service closed (its pools with it)."""
    if common.STATE.service is not None:
        common.STATE.service.close()
    common.STATE.service = None


def test_the_cli_takes_a_replica_with_db_read(people: TeamDb, replica: PgReplica) -> None:
    fresh_cli()
    url = people.urls["ria"]
    replica.pause(True)
    try:
        added = CliRunner().invoke(
            devmem, ["--db", url, "add", "Harbour cranes rest on Sundays"], env=NO_MODEL
        )
        assert added.exit_code == 0, added.output
        fresh_cli()
        args = ["--db", url, "--db-read", replica.url(), "search", "harbour", "--json"]
        searched = CliRunner().invoke(devmem, args, env=NO_MODEL)
        assert searched.exit_code == 0, searched.output
        assert json.loads(searched.output)["hits"] == []  # answered by the paused replica
        fresh_cli()
        shown = CliRunner().invoke(devmem, [*args[:4], "stats"], env=NO_MODEL)
        assert "read replica:" in shown.output and "(lag" in shown.output
    finally:
        replica.pause(False)
        fresh_cli()


def test_reads_fall_back_to_the_primary_while_the_replica_is_down(
    people: TeamDb, replica: PgReplica, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    ria = open_service(people.urls["ria"], replica.url())
    expected = found(ria, "rotations")
    assert len(expected) == 1  # from the first test, through the replica
    replica.stop()
    try:
        with caplog.at_level(logging.INFO):
            assert found(ria, "rotations") == expected  # the primary answered
            assert found(ria, "spring") == expected
            late = open_service(people.urls["ria"], replica.url())  # opened while it is down
            assert found(late, "rotations") == expected
            assert late.stats()["read_replica"]["answering"] is False
            late.close()
        warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
        ours = [r for r in warned if r.name == pg_replica.__name__]
        assert len(ours) == 2  # one per service, not one per read
        assert "read replica" in ours[0].getMessage()
        # the pool's reconnection attempts are not warnings; only its discarded connections
        assert all(r in ours or "discarding closed" in r.getMessage() for r in warned)
        for secret in (people.passwords["ria"], pgserver.shared().password):
            assert secret not in caplog.text
    finally:
        replica.start()

    monkeypatch.setattr(pg_replica, "RETRY_S", 0.0)  # retry the replica at the next read
    replica.wait()
    replica.pause(True)
    try:
        fresh = ria.remember(MemoryInput("Fog horns are tested on the first of the month")).memory
        assert ria.get(fresh.id).id == fresh.id
        deadline = time.monotonic() + 30  # the pool reconnects in the background
        while found(ria, "fog") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert found(ria, "fog") == []  # the replica answers again (it is paused)
    finally:
        replica.pause(False)
        ria.close()
