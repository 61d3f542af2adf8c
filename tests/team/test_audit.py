"""The audit log: written by the database as the person acted, append-only for everyone."""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
import pytest

from core import AccessDenied, TeamService
from tests.team.conftest import TeamDb, add_memory


@pytest.fixture(scope="module")
def people(team_db: TeamDb) -> dict[str, str]:
    for person in ("ann", "ben", "cid"):
        team_db.add(person)
    return team_db.urls


def rows(conn: psycopg.Connection[Any], where: str = "true") -> list[tuple[Any, ...]]:
    return conn.execute(
        f"SELECT actor, action, memory_id, client FROM audit_log WHERE {where} ORDER BY id"
    ).fetchall()


def test_writes_are_recorded_with_who_what_and_client(team_db: TeamDb, people: Any) -> None:
    ann = team_db.connect("ann")
    ann.execute("SET devmem.client = 'cli'")
    add_memory(ann, "A1", "ann's note")
    ann.execute("UPDATE memories SET content = 'changed' WHERE id = 'A1'")
    ann.execute(
        "INSERT INTO shares (memory_id, grantee_role) VALUES ('A1', %s)", (team_db.role("ben"),)
    )
    ann.execute("DELETE FROM memories WHERE id = 'A1'")
    who = team_db.role("ann")
    assert rows(ann, "memory_id = 'A1'") == [
        (who, "create", "A1", "cli"),
        (who, "update", "A1", "cli"),
        (who, "share", "A1", "cli"),
        (who, "delete", "A1", "cli"),
    ]


def test_team_changes_and_role_changes_are_recorded(team_db: TeamDb, people: Any) -> None:
    ann = TeamService.open(people["ann"])
    try:
        ann.create_team("audited")
        ann.add_member("audited", team_db.role("ben"), "viewer")
        ann.set_role("audited", team_db.role("ben"), "editor")
        ann.remove_member("audited", team_db.role("ben"))
        actions = [e.action for e in ann.audit(actions=["member_add", "role_change"])]
        assert actions[:2] == ["role_change", "member_add"]  # newest first
        removed = ann.audit(actions=["member_remove"])
        assert removed[0].detail["member"] == team_db.role("ben")
    finally:
        ann.close()


def test_nobody_can_change_or_remove_audit_rows(team_db: TeamDb, people: Any) -> None:
    ann = team_db.connect("ann")
    add_memory(ann, "A2", "to audit")
    for statement in (
        "UPDATE audit_log SET actor = 'someone'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ann.execute(statement)
    # not even the owner of the table (here a superuser) changes history
    with psycopg.connect(team_db.owner_url, autocommit=True) as owner:
        for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                owner.execute(statement)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            owner.execute("TRUNCATE audit_log")
    assert rows(ann, "memory_id = 'A2'")[0][:2] == (team_db.role("ann"), "create")


def test_a_row_cannot_be_forged_in_anothers_name(team_db: TeamDb, people: Any) -> None:
    ben = team_db.connect("ben")
    ben.execute(
        "INSERT INTO audit_log (actor, action, memory_id) VALUES (%s, 'delete', 'FORGED')",
        (team_db.role("ann"),),
    )
    with psycopg.connect(team_db.owner_url) as owner:
        assert rows(owner, "memory_id = 'FORGED'")[0][0] == team_db.role("ben")


def test_each_reads_only_their_own_rows(team_db: TeamDb, people: Any) -> None:
    cid = TeamService.open(people["cid"])
    try:
        assert cid.audit() == []  # cid did nothing; ann's and ben's rows are not theirs
        with pytest.raises(AccessDenied):
            cid.add_member("audited", team_db.role("cid"), "admin")
    finally:
        cid.close()


def test_the_audit_filters_by_user_action_and_time(team_db: TeamDb, people: Any) -> None:
    ann = TeamService.open(people["ann"])
    try:
        mine = ann.audit(user=team_db.role("ann"))
        assert mine and all(e.actor == team_db.role("ann") for e in mine)
        creates = ann.audit(actions=["create"])
        assert creates and {e.action for e in creates} == {"create"}
        latest = ann.audit(since=mine[0].at)
        assert mine[0] in latest and all(e.at >= mine[0].at for e in latest)
        assert len(latest) < len(ann.audit())
    finally:
        ann.close()


def test_reads_and_searches_are_recorded_only_when_turned_on(team_db: TeamDb, people: Any) -> None:
    from psycopg import sql

    from core import MemoryInput, MemoryService, acting_as
    from core.embeddings import UnavailableEmbedder

    def read_twice() -> str:
        svc = MemoryService.open(people["cid"], UnavailableEmbedder("not needed here"))
        try:
            with acting_as(None, client="lsp"):
                memory_id = svc.remember(MemoryInput(content=f"cid reads {secrets.token_hex(4)}"))
                svc.get(memory_id.memory.id)
                assert svc.recall("cid reads", mode="text").hits
                return memory_id.memory.id
        finally:
            svc.close()

    quiet = read_twice()
    dbname = psycopg.conninfo.conninfo_to_dict(team_db.owner_url)["dbname"]
    with psycopg.connect(team_db.owner_url, autocommit=True) as owner:
        assert rows(owner, "action IN ('read', 'search')") == []
        owner.execute(
            sql.SQL("ALTER DATABASE {} SET devmem.audit_reads = on").format(sql.Identifier(dbname))
        )
    try:
        loud = read_twice()
    finally:
        with psycopg.connect(team_db.owner_url, autocommit=True) as owner:
            owner.execute(
                sql.SQL("ALTER DATABASE {} RESET devmem.audit_reads").format(sql.Identifier(dbname))
            )
    with psycopg.connect(team_db.owner_url) as owner:
        reads = rows(owner, "action = 'read'")
        searches = owner.execute(
            "SELECT actor, client, detail FROM audit_log WHERE action = 'search'"
        ).fetchall()
    assert reads == [(team_db.role("cid"), "read", loud, "lsp")]
    assert len(searches) == 1 and searches[0][:2] == (team_db.role("cid"), "lsp")
    assert loud in searches[0][2]["ids"] and quiet != loud
