"""What the faster read paths must not do: carry one person's view to another.

A recall's reads share one transaction (``Storage.reading``) and a person's word counts for
text ranking are kept a few minutes (``pg_search._CountedWords``). Both are checked here
against the team server's shape: one login role acting as each person (``acting_as``).

alice and bob are in the same organisation and in no team together; the store holds
``KEEP_FROM`` private memories of alice's that say "zebrafish" and one public memory that
says it too.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from psycopg import sql

from core import TeamService, acting_as
from core.storage import Storage, open_storage
from core.storage.pg_search import _CountedWords
from tests.team.conftest import NOW, TeamDb, add_memory, with_login

WORD = "zebrafish"


@dataclass
class Shop:
    storage: Storage  # the server's login role
    alice: str
    bob: str
    public_id: str
    private_ids: set[str]


@pytest.fixture(scope="module")
def shop(team_db: TeamDb) -> Iterator[Shop]:
    role, password = team_db.role("sessions_srv"), secrets.token_urlsafe(16)
    with psycopg.connect(team_db.owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    for person in ("s_alice", "s_bob"):
        team_db.add(person)
    owner = TeamService.open(team_db.owner_url)
    owner.add_server(role)
    owner.close()
    private = {f"ZPRIV{i:04d}" for i in range(_CountedWords.KEEP_FROM + 10)}
    with team_db.connect("s_alice") as alice:
        with alice.cursor() as cur:
            cur.executemany(
                "INSERT INTO memories (id, visibility, title, content, content_hash, kind,"
                " source, provenance, created_at, updated_at) VALUES (%s, 'private', %s, %s,"
                " md5(%s), 'note', 'user', 3, %s, %s)",
                [(i, f"{WORD} {i}", f"{WORD} tank {i}", i, NOW, NOW) for i in sorted(private)],
            )
        add_memory(alice, "ZPUB", f"the {WORD} study, published", visibility="public")
    storage = open_storage(with_login(team_db.owner_url, user=role, password=password))
    yield Shop(storage, team_db.role("s_alice"), team_db.role("s_bob"), "ZPUB", private)
    storage.close()


def bobs_score(shop: Shop) -> float:
    with acting_as(shop.bob, client="mcp"):
        found = shop.storage.text_candidates([WORD], None, 20)
    assert [c.memory_id for c in found] == [shop.public_id]  # his view: the public one only
    return found[0].score


def test_word_counts_are_never_shared_between_people(shop: Shop) -> None:
    """bob's ranking of "zebrafish" weighs the word by what HE may see (one memory), also
    after alice's search counted (and kept) the 211 memories SHE sees: a count taken from
    her view would tell him how many private memories of hers hold the word."""
    before = bobs_score(shop)
    with acting_as(shop.alice, client="mcp"):
        hers = shop.storage.text_candidates([WORD], None, 500)
    assert {c.memory_id for c in hers} == shop.private_ids | {shop.public_id}
    mine = {c.memory_id: c.score for c in hers}
    assert mine[shop.public_id] < before  # her count (211) weighs the word less than his (1)
    assert bobs_score(shop) == pytest.approx(before)


def test_a_read_session_never_carries_a_person_to_another(shop: Shop) -> None:
    """A read session opened for alice (her role set once for its transaction) is not
    joined by a read made as bob in the middle of it: his read gets its own transaction."""
    some_private = min(shop.private_ids)
    with acting_as(shop.alice, client="mcp"), shop.storage.reading():
        assert shop.storage.get(some_private) is not None
        with acting_as(shop.bob, client="mcp"):
            assert shop.storage.get(some_private) is None
            assert shop.storage.get_many(sorted(shop.private_ids)) == {}
            assert shop.storage.text_candidates([WORD], None, 500)[0].memory_id == "ZPUB"
        assert shop.storage.get(some_private) is not None  # hers again, same session


def test_read_sessions_never_take_the_connections_writes_need(team_db: TeamDb) -> None:
    """Recalls hold their read session's connection to the end; with as many of them as
    the pool has connections, a write used to wait for the pool's timeout (30 s)."""
    import threading
    import time

    from core.storage.pg_db import WRITE_RESERVE, Database

    db = Database(team_db.owner_url, pool_max=WRITE_RESERVE + 1)
    holding, release = threading.Semaphore(0), threading.Event()

    def recall() -> None:
        with db.session(), db.tx(write=False) as conn:
            conn.execute("SELECT 1")
            holding.release()
            release.wait(20)

    readers = [threading.Thread(target=recall) for _ in range(WRITE_RESERVE + 1)]
    try:
        for reader in readers:
            reader.start()
        assert holding.acquire(timeout=10)  # one reader holds its session's connection
        time.sleep(0.3)  # the others are queued for a read slot, not holding connections
        start = time.monotonic()
        with db.tx() as conn:
            conn.execute("SELECT 1")
        assert time.monotonic() - start < 5
    finally:
        release.set()
        for reader in readers:
            reader.join(20)
        db.close()
    assert not any(reader.is_alive() for reader in readers)  # every reader had its turn
