"""Entity names are private with the memory they come from (issue 16): the graph rows
(entities, entity_aliases, relations) derived only from ava's private memory are invisible to
bob (same organisation, no share) until she shares it; ava always sees them. Each person on
their own connection, raw SQL; the memories are written through the real backend (as ava / bob).

Names are unique to this module so no other memory can make them visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from tests.team.conftest import TeamDb

SECRET = "Met @zquintana about the FrobnicatorService outage in frobnicator.py"
NAMES = ("@zquintana", "frobnicatorservice", "frobnicator.py")


@dataclass
class World:
    db: TeamDb
    conns: dict[str, psycopg.Connection[Any]]
    memory_id: str

    def __getitem__(self, person: str) -> psycopg.Connection[Any]:
        return self.conns[person]


def _remember(db: TeamDb, person: str, text: str) -> str:
    from core import MemoryInput, MemoryService, acting_as
    from core.embeddings import UnavailableEmbedder

    svc = MemoryService.open(db.urls[person], UnavailableEmbedder("not needed"))
    try:
        with acting_as(None, client="cli"):
            return svc.remember(MemoryInput(text)).memory.id
    finally:
        svc.close()


@pytest.fixture(scope="module")
def world(team_db: TeamDb) -> Iterator[World]:
    for person in ("ava", "bob"):
        team_db.add(person)
    conns = {p: team_db.connect(p) for p in team_db.urls}
    memory_id = _remember(team_db, "ava", SECRET)
    yield World(team_db, conns, memory_id)
    for conn in conns.values():
        conn.close()


def secret_entities(conn: psycopg.Connection[Any]) -> set[int]:
    rows = conn.execute("SELECT * FROM entities").fetchall()
    return {int(r[0]) for r in rows if str(r[3]).lower() in NAMES}


def graph_rows(conn: psycopg.Connection[Any], entity_ids: set[int]) -> dict[str, int]:
    """How many entity / alias / relation rows of ``entity_ids`` this person's SELECT * sees."""
    entities = [r for r in conn.execute("SELECT * FROM entities") if int(r[0]) in entity_ids]
    aliases = [r for r in conn.execute("SELECT * FROM entity_aliases") if int(r[1]) in entity_ids]
    cols = [c.name for c in conn.execute("SELECT * FROM relations LIMIT 0").description or []]
    src, dst = cols.index("src_id"), cols.index("dst_id")
    relations = [
        r
        for r in conn.execute("SELECT * FROM relations")
        if int(r[src]) in entity_ids or int(r[dst]) in entity_ids
    ]
    return {"entities": len(entities), "aliases": len(aliases), "relations": len(relations)}


def test_a_private_memorys_entity_names_are_its_authors_only(world: World) -> None:
    ours = secret_entities(world["ava"])
    assert len(ours) >= 2, "the extractor found the names"
    seen_by_ava = graph_rows(world["ava"], ours)
    assert all(n > 0 for n in seen_by_ava.values()), seen_by_ava
    assert graph_rows(world["bob"], ours) == {"entities": 0, "aliases": 0, "relations": 0}
    found = world["bob"].execute(
        "SELECT count(*) FROM entity_aliases WHERE alias = ANY(%s)", (list(NAMES),)
    )
    assert found.fetchone() == (0,)


def test_graph_reads_through_the_backend_show_bob_none_of_them(world: World) -> None:
    """The storage's graph reads (as bob): lookups by alias / name / prefix, the most
    mentioned, the counts — none of ava's private names (names only her memory has)."""
    from core import MemoryService
    from core.embeddings import UnavailableEmbedder

    hidden = {i for i in secret_entities(world["ava"]) if i not in person_ids(world["ava"])}
    assert hidden
    for person, expected in (("bob", set()), ("ava", hidden)):
        svc = MemoryService.open(world.db.urls[person], UnavailableEmbedder("not needed"))
        try:
            store = svc.storage
            found = set(store.entities_by_alias(["frobnicator.py", "frobnicatorservice"]))
            found |= set(store.entities_by_prefix("frobnic", None, 50))
            found |= {i for i in [store.entity_by_name("file", "frobnicator.py")] if i}
            assert found & hidden == expected, person
            assert (set(store.most_mentioned(1000)) & hidden) == expected, person
            assert store.graph_counts()["entities"] == visible_count(world[person]), person
        finally:
            svc.close()


def person_ids(conn: psycopg.Connection[Any]) -> set[int]:
    rows = conn.execute("SELECT id FROM entities WHERE type = 'person'").fetchall()
    return {int(r[0]) for r in rows}


def visible_count(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM entities").fetchone()
    return int(row[0]) if row else 0


def test_writing_a_name_someone_else_hid_reuses_its_entity(world: World) -> None:
    """bob's own memory naming @zquintana: stored (not refused, no duplicate entity), and bob
    then sees that entity (his memory mentions it) but nothing ava's memory alone relates."""
    ours = secret_entities(world["ava"])
    bobs = _remember(world.db, "bob", "Lunch with @zquintana tomorrow")
    person = (
        world["ava"]
        .execute("SELECT id FROM entities WHERE type = 'person' AND name = '@zquintana'")
        .fetchall()
    )
    assert len(person) == 1
    mentioned = world["bob"].execute(
        "SELECT entity_id FROM memory_entities WHERE memory_id = %s", (bobs,)
    )
    assert {int(r[0]) for r in mentioned} == {int(person[0][0])}
    assert secret_entities(world["bob"]) == {int(person[0][0])}
    assert graph_rows(world["bob"], ours - {int(person[0][0])})["entities"] == 0
    assert graph_rows(world["bob"], ours)["relations"] == 0


def test_sharing_the_memory_shows_its_names(world: World) -> None:
    ours = secret_entities(world["ava"])
    world["ava"].execute(
        "INSERT INTO shares (memory_id, grantee_role) VALUES (%s, %s)",
        (world.memory_id, world.db.role("bob")),
    )
    try:
        assert secret_entities(world["bob"]) == ours
        assert graph_rows(world["bob"], ours) == graph_rows(world["ava"], ours)
    finally:
        world["ava"].execute("DELETE FROM shares WHERE memory_id = %s", (world.memory_id,))
    assert graph_rows(world["bob"], ours)["relations"] == 0
