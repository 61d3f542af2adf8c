"""Isolation enforced by the database: each person connects with their OWN credentials and
tries raw SQL. Row-level security alone decides what they read, change and delete.

alice: admin of team "core", owner of a private, a team and a public memory.
bob: editor in "core". carol: viewer in "core". dave: in the organisation, in no team.
erin, frank: in another organisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.team.conftest import TeamDb, add_children, add_memory, with_login

CHILD_TABLES = ("memory_vectors", "memory_versions")


@dataclass
class World:
    db: TeamDb
    team: int
    conns: dict[str, psycopg.Connection[Any]]

    def __getitem__(self, person: str) -> psycopg.Connection[Any]:
        return self.conns[person]


@pytest.fixture(scope="module")
def world(team_db: TeamDb) -> Iterator[World]:
    for person in ("alice", "bob", "carol", "dave"):
        team_db.add(person)
    team_db.add("erin", org="elsewhere")
    team_db.add("frank", org="elsewhere")
    conns = {p: team_db.connect(p) for p in team_db.urls}
    alice = conns["alice"]
    team = alice.execute("INSERT INTO teams (name) VALUES ('core') RETURNING id").fetchone()
    assert team is not None
    for person, role in (("bob", "editor"), ("carol", "viewer")):
        alice.execute(
            "INSERT INTO team_members (team_id, role_name, team_role) VALUES (%s, %s, %s)",
            (team[0], team_db.role(person), role),
        )
    add_memory(alice, "PRIV", "alice's private plan")
    add_memory(alice, "TEAM", "core team decision", team_id=team[0], visibility="team")
    add_memory(alice, "PUB", "published to the organisation", visibility="public")
    for memory_id in ("PRIV", "TEAM", "PUB"):
        add_children(alice, memory_id)
    yield World(team_db, int(team[0]), conns)
    for conn in conns.values():
        conn.close()


def ids(conn: psycopg.Connection[Any], table: str = "memories", column: str = "id") -> set[str]:
    return {r[0] for r in conn.execute(f"SELECT {column} FROM {table}").fetchall()}


def content(world: World, memory_id: str) -> str:
    row = world["alice"].execute("SELECT content FROM memories WHERE id = %s", (memory_id,))
    found = row.fetchone()
    assert found is not None
    return str(found[0])


def test_connecting_as_someone_else_needs_their_password(world: World) -> None:
    as_alice_with_bobs = with_login(world.db.urls["bob"], user=world.db.role("alice"))
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(as_alice_with_bobs)
    no_password = with_login(world.db.urls["bob"], password="")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(no_password)


def test_each_person_reads_only_what_they_may(world: World) -> None:
    assert ids(world["alice"]) == {"PRIV", "TEAM", "PUB"}
    assert ids(world["bob"]) == {"TEAM", "PUB"}
    assert ids(world["carol"]) == {"TEAM", "PUB"}
    assert ids(world["dave"]) == {"PUB"}  # not in the team: only the public one
    assert ids(world["erin"]) == set()  # another organisation: not even the public one


def test_public_means_the_writers_organisation(world: World) -> None:
    add_memory(
        world["erin"], "ELSEWHERE_PUB", "public in the other organisation", visibility="public"
    )
    assert "ELSEWHERE_PUB" in ids(world["frank"])
    assert "ELSEWHERE_PUB" not in ids(world["dave"]) | ids(world["alice"])
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor can she write into ours
        world["erin"].execute(
            "INSERT INTO memories (id, org_id, visibility, title, content, content_hash, kind,"
            " source, provenance, created_at, updated_at) VALUES ('INTO_DEFAULT', 'default',"
            " 'public', 't', 'c', 'h', 'note', 'user', 3, 'now', 'now')"
        )


@pytest.mark.parametrize("table", CHILD_TABLES)
def test_child_tables_leak_nothing(world: World, table: str) -> None:
    assert ids(world["alice"], table, "memory_id") == {"PRIV", "TEAM", "PUB"}
    assert ids(world["bob"], table, "memory_id") == {"TEAM", "PUB"}
    assert ids(world["dave"], table, "memory_id") == {"PUB"}
    assert ids(world["erin"], table, "memory_id") == set()
    # not even through a join that names the memory outright
    row = (
        world["dave"]
        .execute(f"SELECT count(*) FROM {table} WHERE memory_id IN ('PRIV', 'TEAM')")
        .fetchone()
    )
    assert row == (0,)


def test_nobody_changes_or_deletes_anothers_private_memory(world: World) -> None:
    for person in ("bob", "carol", "dave", "erin"):
        conn = world[person]
        assert conn.execute("UPDATE memories SET content = 'x' WHERE id = 'PRIV'").rowcount == 0
        assert conn.execute("DELETE FROM memories WHERE id = 'PRIV'").rowcount == 0
        for table in CHILD_TABLES:
            assert conn.execute(f"DELETE FROM {table} WHERE memory_id = 'PRIV'").rowcount == 0
    assert content(world, "PRIV") == "alice's private plan"
    assert ids(world["alice"], "memory_vectors", "memory_id") >= {"PRIV"}


def test_outsiders_cannot_touch_a_team_memory(world: World) -> None:
    dave = world["dave"]
    assert dave.execute("UPDATE memories SET content = 'x' WHERE id = 'TEAM'").rowcount == 0
    assert dave.execute("DELETE FROM memories WHERE id = 'TEAM'").rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        dave.execute(
            "INSERT INTO memory_versions (memory_id, version, title, content, changed_at,"
            " changed_by) VALUES ('TEAM', 9, 't', 'forged', 'now', 'dave')"
        )
    assert content(world, "TEAM") == "core team decision"


def test_viewer_reads_but_cannot_update(world: World) -> None:
    carol = world["carol"]
    assert carol.execute("UPDATE memories SET content = 'x' WHERE id = 'TEAM'").rowcount == 0
    assert content(world, "TEAM") == "core team decision"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor create in the team
        add_memory(carol, "CAROL_TEAM", "viewer writes", team_id=world.team, visibility="team")


def test_editor_updates_but_cannot_delete_and_admin_can(world: World) -> None:
    bob, alice = world["bob"], world["alice"]
    add_memory(bob, "BOB_TEAM", "bob's team note", team_id=world.team, visibility="team")
    assert bob.execute("UPDATE memories SET content = 'edited' WHERE id = 'TEAM'").rowcount == 1
    assert content(world, "TEAM") == "edited"
    assert bob.execute("DELETE FROM memories WHERE id = 'TEAM'").rowcount == 0
    assert "TEAM" in ids(alice)
    # alice is admin of the team and not the owner of BOB_TEAM: she may delete it
    assert alice.execute("DELETE FROM memories WHERE id = 'BOB_TEAM'").rowcount == 1
    assert "BOB_TEAM" not in ids(bob)
    bob.execute("UPDATE memories SET content = 'core team decision' WHERE id = 'TEAM'")


def test_shares_grant_read_or_write_to_one_person(world: World) -> None:
    alice, dave, carol = world["alice"], world["dave"], world["carol"]
    add_memory(alice, "SHARED", "shared with dave and carol")
    assert "SHARED" not in ids(dave)
    alice.execute(
        "INSERT INTO shares (memory_id, grantee_role) VALUES ('SHARED', %s)",
        (world.db.role("dave"),),
    )
    alice.execute(
        "INSERT INTO shares (memory_id, grantee_role, can_write) VALUES ('SHARED', %s, true)",
        (world.db.role("carol"),),
    )
    assert "SHARED" in ids(dave) and "SHARED" in ids(carol)
    assert "SHARED" not in ids(world["bob"])
    assert dave.execute("UPDATE memories SET content = 'x' WHERE id = 'SHARED'").rowcount == 0
    assert carol.execute("UPDATE memories SET content = 'y' WHERE id = 'SHARED'").rowcount == 1
    assert carol.execute("DELETE FROM memories WHERE id = 'SHARED'").rowcount == 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # a grantee cannot re-share
        carol.execute(
            "INSERT INTO shares (memory_id, grantee_role) VALUES ('SHARED', %s)",
            (world.db.role("bob"),),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor make it public
        carol.execute("UPDATE memories SET visibility = 'public' WHERE id = 'SHARED'")


def test_nobody_writes_in_someone_elses_name(world: World) -> None:
    bob = world["bob"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bob.execute(
            "INSERT INTO memories (id, owner_role, visibility, title, content, content_hash,"
            " kind, source, provenance, created_at, updated_at) VALUES ('FORGED', %s,"
            " 'private', 't', 'c', 'h', 'note', 'user', 3, 'now', 'now')",
            (world.db.role("alice"),),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # an editor cannot take it over
        bob.execute(
            "UPDATE memories SET owner_role = current_user WHERE id = 'TEAM'",
        )


def test_only_admins_manage_members(world: World) -> None:
    for person in ("bob", "carol", "dave"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            world[person].execute(
                "INSERT INTO team_members (team_id, role_name, team_role) "
                "VALUES (%s, current_user, 'admin')",
                (world.team,),
            )
    carol = world["carol"]
    carol.execute("UPDATE team_members SET team_role = 'admin' WHERE role_name = current_user")
    row = (
        world["alice"]
        .execute(
            "SELECT team_role FROM team_members WHERE role_name = %s", (world.db.role("carol"),)
        )
        .fetchone()
    )
    assert row == ("viewer",)


def test_membership_helpers_answer_only_for_oneself(world: World) -> None:
    alice_role = world.db.role("alice")
    row = world["bob"].execute("SELECT devmem_teams(%s, 'viewer')", (alice_role,)).fetchone()
    assert row == ([],)
    row = world["alice"].execute("SELECT devmem_teams(%s, 'viewer')", (alice_role,)).fetchone()
    assert row == ([world.team],)


def test_the_login_role_of_a_person_has_no_bypass(world: World) -> None:
    row = (
        world["bob"]
        .execute(
            "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        .fetchone()
    )
    assert row == (False, False, False)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        world["bob"].execute("ALTER TABLE memories DISABLE ROW LEVEL SECURITY")


def test_graph_and_link_rows_written_by_the_backend_leak_nothing(world: World) -> None:
    """Memories written through the service (as alice): their entity mentions, relation
    evidence, links and versions are invisible to someone who may not read them."""
    from core import MemoryInput, MemoryService, acting_as
    from core.embeddings import UnavailableEmbedder

    svc = MemoryService.open(world.db.urls["alice"], UnavailableEmbedder("not needed"))
    try:
        with acting_as(None, client="cli"):
            a = svc.remember(MemoryInput("Kafka consumer lag fixed by tuning Redis pool")).memory
            b = svc.remember(MemoryInput("Redis pool sizing decision for Kafka workers")).memory
            svc.link(a.id, b.id, "related")
    finally:
        svc.close()
    ours = (a.id, b.id)
    for table in ("memory_entities", "relation_evidence", "memory_links", "memory_versions"):
        mine = (
            world["alice"]
            .execute(f"SELECT count(*) FROM {table} WHERE memory_id = ANY(%s)", (list(ours),))
            .fetchone()
        )
        assert mine is not None and mine[0] > 0, table  # the backend wrote them
        for person in ("bob", "dave", "erin"):
            seen = (
                world[person]
                .execute(f"SELECT count(*) FROM {table} WHERE memory_id = ANY(%s)", (list(ours),))
                .fetchone()
            )
            assert seen == (0,), (person, table)


def test_an_editor_cannot_forget_a_team_memory_and_nothing_of_it_is_lost(world: World) -> None:
    """forget as a team editor: refused as a whole (not 'removed' with its graph rows gone)."""
    from core import AccessDenied, MemoryInput, MemoryService
    from core.embeddings import UnavailableEmbedder

    def service(person: str) -> MemoryService:
        return MemoryService.open(world.db.urls[person], UnavailableEmbedder("not needed"))

    alice, bob = service("alice"), service("bob")
    try:
        kept = alice.remember(MemoryInput("Kafka retention set to 7 days for the audit topic"))
        memory_id = kept.memory.id
        world["alice"].execute(
            "UPDATE memories SET team_id = %s, visibility = 'team' WHERE id = %s",
            (world.team, memory_id),
        )
        mentions = "SELECT count(*) FROM memory_entities WHERE memory_id = %s"
        before = world["alice"].execute(mentions, (memory_id,)).fetchone()
        assert before is not None and before[0] > 0
        with pytest.raises(AccessDenied):
            bob.forget(memory_id)
        assert world["alice"].execute(mentions, (memory_id,)).fetchone() == before
        assert alice.get(memory_id).content.startswith("Kafka retention")
    finally:
        alice.close()
        bob.close()


def test_a_persons_text_search_uses_the_full_text_index(world: World) -> None:
    """Under RLS only leak-proof conditions may use an index; the migration marks `@@` so."""
    bob = world["bob"]
    with bob.transaction():
        bob.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            str(r[0])
            for r in bob.execute(
                "EXPLAIN SELECT id FROM memories WHERE tsv @@ to_tsquery('english', 'kafka')"
            )
        )
    assert "memories_tsv" in plan, plan
