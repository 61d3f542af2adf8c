"""The storage contract: what every backend must do, tested through ``core.storage``'s
interface alone (the ``storage`` fixture runs each test once per backend)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core.errors import StoreError
from core.ids import new_id
from core.models import CodeAnchor, EntityRef, Memory, Provenance, SearchFilters
from core.storage import Storage, open_storage
from tests.storage.conftest import old_store, stored_bytes

REPO = Path(__file__).resolve().parents[2]


def mem(content: str, **fields: Any) -> Memory:
    """A memory as the service would hand it to the storage."""
    at = fields.pop("at", "2025-01-01T10:00:00Z")
    base = Memory(
        id=new_id(),
        title="",
        content=content,
        kind="note",
        tags=(),
        project=None,
        anchor=None,
        source="user",
        external_id=None,
        source_url=None,
        provenance=Provenance.USER,
        visibility="private",
        created_at=at,
        updated_at=at,
        event_at=None,
        version=1,
        metadata={},
        content_hash=f"hash-{content}",
    )
    return replace(base, **fields)


def put(
    storage: Storage, *memories: Memory, vectors: list[np.ndarray] | None = None
) -> list[Memory]:
    with storage.transaction() as tx:
        for i, m in enumerate(memories):
            tx.insert(m, vectors[i] if vectors else None)
            tx.add_version(m, m.source, version=1)
    return list(memories)


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values + (0.0,) * (8 - len(values)), dtype=np.float32)
    return v / np.linalg.norm(v)


# ---- memories ------------------------------------------------------------------------
def test_insert_get_replace_and_delete(storage: Storage) -> None:
    (m,) = put(
        storage,
        mem(
            "the cache keeps entries warm",
            tags=("perf",),
            metadata={"k": [1, "x"]},
            anchor=CodeAnchor("src/cache.py", 3, 9, "Cache.warm"),
        ),
    )
    assert storage.get(m.id) == m and storage.get(m.id.lower()) == m
    assert storage.count() == 1 and storage.get_many([m.id, "01NOPE"]) == {m.id: m}
    changed = replace(m, content="the cache now evicts cold entries", content_hash="h2", version=2)
    with storage.transaction() as tx:
        tx.replace(changed, None)
    assert storage.get(m.id) == changed
    assert [c.memory_id for c in storage.text_candidates(["evicts"], None, 5)] == [m.id]
    assert storage.text_candidates(["warm"], None, 5) == []
    with storage.transaction() as tx:
        tx.delete(m.id)
    assert (
        storage.get(m.id) is None
        and storage.count() == 0
        and storage.text_candidates(["cache"], None, 5) == []
    )


def test_lookups_by_hash_and_external_id(storage: Storage) -> None:
    a, b, c = put(
        storage,
        mem("a", project="web"),
        mem("b", source="git", external_id="repo:1"),
        mem("c", source="git", external_id="other:2"),
    )
    assert (
        storage.find_by_hash("hash-a", "web") == a and storage.find_by_hash("hash-a", None) is None
    )
    assert (
        storage.find_external("git", "repo:1") == b and storage.find_external("git", "nope") is None
    )
    assert storage.external_ids("git") == {"repo:1": "hash-b", "other:2": "hash-c"}
    assert storage.external_ids("git", "repo:") == {"repo:1": "hash-b"}


def test_a_rolled_back_transaction_leaves_nothing(storage: Storage) -> None:
    with pytest.raises(RuntimeError), storage.transaction() as tx:
        tx.insert(mem("half written"), None)
        raise RuntimeError("crash")
    assert storage.count() == 0 and storage.text_candidates(["half"], None, 5) == []


def test_versions_and_pending_versions(storage: Storage) -> None:
    (m,) = put(storage, mem("first draft", kind="decision", tags=("x",)))
    assert storage.next_version(m.id) == 2
    later = replace(m, content="second draft", updated_at="2025-01-02T00:00:00Z")
    with storage.transaction() as tx:
        assert tx.add_version(later, "assistant", pending=True) == 2
    versions = storage.versions(m.id)
    assert [(v.version, v.content, v.changed_by, v.pending) for v in versions] == [
        (1, "first draft", "user", False),
        (2, "second draft", "assistant", True),
    ]
    fields = storage.version_fields(m.id, 2)
    assert (
        fields is not None and fields["content"] == "second draft" and fields["kind"] == "decision"
    )
    assert fields["tags"] == ["x"] and storage.version_fields(m.id, 9) is None
    with storage.transaction() as tx:
        tx.clear_pending(m.id, 2)
    assert not storage.versions(m.id)[1].pending


def test_links(storage: Storage) -> None:
    a, b, c = put(storage, mem("a"), mem("b"), mem("c"))
    with storage.transaction() as tx:
        tx.add_link(a.id, b.id, "related", "2025-01-01T00:00:00Z")
        tx.add_link(a.id, b.id, "related", "2025-01-01T00:00:00Z")  # kept once
        tx.add_link(c.id, a.id, "supersedes", "2025-01-02T00:00:00Z")
    assert [(x.source_id, x.target_id, x.type) for x in storage.links_of(a.id)] == [
        (a.id, b.id, "related"),
        (c.id, a.id, "supersedes"),
    ]
    assert len(storage.all_links()) == 2
    with storage.transaction() as tx:
        assert tx.remove_link(a.id, b.id, "depends_on") == 0
        assert tx.remove_link(a.id, b.id, None) == 1
        tx.delete(c.id)
    assert storage.links_of(a.id) == [] and storage.all_links() == []


# ---- filters -------------------------------------------------------------------------
@pytest.fixture
def varied(storage: Storage) -> dict[str, Memory]:
    ms = {
        "web": mem(
            "alpha web decision",
            kind="decision",
            tags=("db", "perf"),
            project="web",
            at="2025-01-01T00:00:00Z",
            anchor=CodeAnchor("src/app/db.py"),
        ),
        "api": mem(
            "alpha api bugfix",
            kind="bugfix",
            tags=("db",),
            project="api",
            source="git:acme/api",
            at="2025-02-01T00:00:00Z",
            visibility="team",
            anchor=CodeAnchor("src/api.py"),
        ),
        "global": mem(
            "alpha global note",
            tags=("perf",),
            at="2025-03-01T00:00:00Z",
            event_at="2024-06-01T00:00:00Z",
            anchor=CodeAnchor("src_other/x.py"),
        ),
    }
    put(storage, *ms.values(), vectors=[unit(1, 0), unit(1, 1), unit(0, 1)])
    return ms


FILTER_CASES: list[tuple[SearchFilters, set[str]]] = [
    (SearchFilters(kinds=["decision", "bugfix"]), {"web", "api"}),
    (SearchFilters(tags=["db", "perf"]), {"web", "api", "global"}),
    (SearchFilters(tags=["db", "perf"], tags_mode="all"), {"web"}),
    (SearchFilters(project="web"), {"web", "global"}),
    (SearchFilters(source="git"), {"api"}),
    (SearchFilters(source="git:acme/api"), {"api"}),
    (SearchFilters(visibility=["team"]), {"api"}),
    (SearchFilters(since="2025-01-15T00:00:00Z"), {"api"}),
    (SearchFilters(until="2025-01-15T00:00:00Z"), {"web", "global"}),
    (SearchFilters(path="src/"), {"web", "api"}),
    (SearchFilters(path="src/api.py"), {"api"}),
    (SearchFilters(project="api", kinds=["note"]), {"global"}),
]


@pytest.mark.parametrize(("filters", "expected"), FILTER_CASES)
def test_filters_apply_to_listing_and_both_candidate_kinds(
    storage: Storage, varied: dict[str, Memory], filters: SearchFilters, expected: set[str]
) -> None:
    want = {varied[k].id for k in expected}
    assert {m.id for m in storage.page(filters, 50, 0, "updated").memories} == want
    assert {c.memory_id for c in storage.text_candidates(["alpha"], filters, 50)} == want
    assert {c.memory_id for c in storage.vector_candidates(unit(1, 0), filters, 50)} == want


def test_pages_are_ordered_and_counted(storage: Storage, varied: dict[str, Memory]) -> None:
    first = storage.page(None, 2, 0, "created")
    assert [m.id for m in first.memories] == [varied["global"].id, varied["api"].id]
    assert first.total == 3 and first.next_offset == 2
    assert [m.id for m in storage.page(None, 5, 0, "event").memories][-1] == varied["global"].id
    assert storage.page(None, 2, 2, "created").next_offset is None


def test_memories_of_the_same_second_are_ordered_by_id_not_by_insertion(
    storage: Storage,
) -> None:
    """Times are to the second: an export lists same-second memories newest id first, and
    the import writes them in that order, so insertion order must not decide (it flipped
    `devmem export` -> `import` -> `export` whenever two adds shared a second)."""
    older, newer = mem("older same second"), mem("newer same second")
    assert older.id < newer.id  # ids order by creation
    put(storage, newer, older)  # inserted in the opposite order, as an import of an export
    for order in ("created", "event"):
        assert [m.id for m in storage.page(None, 5, 0, order).memories] == [newer.id, older.id]


def test_anchored_matches_any_path_and_keeps_global_memories(
    storage: Storage, varied: dict[str, Memory]
) -> None:
    assert [m.id for m in storage.anchored(["/repo/src/api.py", "src/api.py"], None, None)] == [
        varied["api"].id
    ]
    assert storage.anchored(["src/api.py"], "web", 10) == []
    assert [m.id for m in storage.anchored(["src_other/x.py"], "web", 10)] == [varied["global"].id]


# ---- search primitives ---------------------------------------------------------------
def test_text_candidates_are_scored_best_first(storage: Storage) -> None:
    strong, weak, _ = put(
        storage,
        mem("retry retry backoff for the upload retry"),
        mem("one retry here among many other words about uploads and queues and workers"),
        mem("nothing relevant"),
    )
    found = storage.text_candidates(["retry", "backoff"], None, 10)
    assert [c.memory_id for c in found] == [strong.id, weak.id]
    assert found[0].score > found[1].score > 0
    assert len(storage.text_candidates(["retry"], None, 1)) == 1


def test_any_word_is_a_safe_term(storage: Storage) -> None:
    (m,) = put(storage, mem('the "NEAR" OR AND * column: value'))
    for term in ['"', "OR", "NEAR", "*", "column:", "AND", "a'b", "-x"]:
        storage.text_candidates([term], None, 5)  # never raises
    assert [c.memory_id for c in storage.text_candidates(["near"], None, 5)] == [m.id]


def test_vector_candidates_are_most_similar_first(storage: Storage) -> None:
    near, mid, far, none = put(
        storage,
        mem("near"),
        mem("mid"),
        mem("far"),
        mem("no vector"),
        vectors=[unit(1, 0.1), unit(1, 1), unit(-1, 0.2), None],
    )  # type: ignore[list-item]
    found = storage.vector_candidates(unit(1, 0), None, 10)
    assert [c.memory_id for c in found] == [near.id, mid.id, far.id]
    assert found[0].similarity == pytest.approx(float(unit(1, 0.1) @ unit(1, 0)), abs=1e-5)
    assert found[0].similarity > found[1].similarity > found[2].similarity
    assert storage.stored_vector(near.id) is not None and storage.stored_vector(none.id) is None
    assert storage.ids_without_vectors(10) == [none.id]


def test_vectors_can_be_replaced_and_reset(storage: Storage) -> None:
    a, b = put(storage, mem("a"), mem("b"), vectors=[unit(1, 0), unit(0, 1)])
    with storage.transaction() as tx:
        tx.put_vector(a.id, unit(0, 1, 1))
    assert storage.vector_candidates(unit(0, 0, 1), None, 1)[0].memory_id == a.id
    with storage.transaction() as tx:
        tx.reset_vectors("test:other", 8)
    assert (
        storage.vector_candidates(unit(0, 1), None, 5) == []
        and len(storage.ids_without_vectors(5)) == 2
    )


def test_context_neighbours_share_source_project_and_time(storage: Storage) -> None:
    turns = put(
        storage,
        *(mem(f"turn {i}", source="chat:1", event_at="2025-05-01T10:00:00Z") for i in range(5)),
    )
    put(storage, mem("other chat", source="chat:2", event_at="2025-05-01T10:00:00Z"))
    (asks,) = put(storage, mem("is it done?", source="chat:3"))
    near = storage.context_neighbours([turns[2].id], 2, None)
    assert [(n.seed_id, n.memory_id, n.offset) for n in near] == [
        (turns[2].id, turns[i].id, i - 2) for i in (0, 1, 3, 4)
    ]
    assert [n.memory_id for n in storage.context_neighbours([turns[4].id], 2, None)] == [
        t.id for t in turns[2:4]
    ]
    assert storage.context_neighbours([asks.id], 2, None) == []
    assert storage.context_neighbours([turns[2].id], 1, SearchFilters(kinds=["decision"])) == []


def test_openings_and_questions(storage: Storage) -> None:
    q, a = put(
        storage, mem("Ana: can we ship?  ", kind="chat", metadata={"speaker": "Ana"}), mem("Yes.")
    )
    opened = {o.memory_id: o for o in storage.openings([q.id, a.id], 4)}
    assert (
        opened[q.id].opening == "Ana:"
        and opened[q.id].kind == "chat"
        and "Ana" in opened[q.id].metadata_json
    )
    assert storage.questions_among([q.id, a.id]) == {q.id}


# ---- graph ---------------------------------------------------------------------------
def test_graph_tables_follow_index_and_delete(storage: Storage) -> None:
    (commit,) = put(
        storage,
        mem("Fix the retry loop", kind="commit", source="git", anchor=CodeAnchor("src/retry.py")),
    )
    with storage.transaction() as tx:
        assert (
            tx.index_graph(commit, [EntityRef("person", "ada@acme.io", "Ada Lovelace", "authored")])
            >= 2
        )
    ada = storage.entity_by_name("person", "ada@acme.io")
    assert ada is not None and storage.entities_by_alias(["ada lovelace"]) == [ada]
    assert storage.entities_by_alias(["ada lovelace"], ["technology"]) == []
    assert (
        ada in storage.entities_by_prefix("ada", None, 5)
        and storage.entities_by_prefix("ada", "file", 5) == []
    )
    (summary,) = storage.entity_summaries([ada])
    assert (summary.type, summary.display, summary.memory_count) == ("person", "Ada Lovelace", 1)
    assert "ada lovelace" in storage.entity_aliases([ada], 10)[ada]
    rel = [r for r in storage.entity_neighbours(ada, 10) if r.relation == "authored"]
    assert rel and rel[0].outgoing and storage.entity_summaries([rel[0].other_id])[0].type == "file"
    assert any(
        r.other_id == ada and not r.outgoing for r in storage.relations_of([rel[0].other_id])
    )
    assert storage.mentions(ada, None, 5) == [(commit.id, 1.0)] and storage.mention_count(ada) == 1
    assert storage.mentions(ada, SearchFilters(project="elsewhere", kinds=["note"]), 5) == []
    assert storage.memories_mentioning([ada], None, 5) == [
        commit.id
    ] and ada in storage.entities_of(commit.id)
    assert [b.id for b in storage.latest_mentions(ada, 5)] == [
        commit.id
    ] and ada in storage.most_mentioned(10)
    counts = storage.graph_counts()
    assert (
        counts["entities"] >= 2
        and counts["relations_by_type"].get("authored") == 1
        and counts["mentions"] >= 2
    )
    with storage.transaction() as tx:
        tx.delete(commit.id)
    assert (
        storage.entity_by_name("person", "ada@acme.io") is None
        and storage.graph_counts()["relations"] == 0
    )


def test_reindex_keeps_connector_entities_and_a_rebuild_restores_the_graph(
    storage: Storage,
) -> None:
    (commit,) = put(
        storage,
        mem("Fix the retry loop", kind="commit", source="git", anchor=CodeAnchor("src/retry.py")),
    )
    with storage.transaction() as tx:
        tx.index_graph(commit, [EntityRef("person", "ada@acme.io", "Ada", "authored")])
    before = storage.graph_counts()
    with storage.transaction() as tx:
        tx.reindex_graph(commit)  # an edit: the connector's people stay
    assert storage.graph_counts() == before
    result = storage.rebuild_graph(lambda event: None, 10)
    assert result.memories == 1 and storage.graph_counts() == before
    with storage.transaction() as tx:
        tx.reindex_graph(commit, [])
    assert storage.entity_by_name("person", "ada@acme.io") is None


# ---- cursors, other processes, migrations, erasure, errors ----------------------------
def test_sync_cursors(storage: Storage) -> None:
    with storage.transaction() as tx:
        tx.set_cursor("git", "repo", "abc")
        tx.set_cursor("git", "repo", "def")
        tx.set_cursor("markdown", "notes", "1")
    assert storage.get_cursor("git", "repo") == "def" and storage.get_cursor("git", "other") is None
    assert [(c, s) for c, s, _ in storage.cursors()] == [("git", "repo"), ("markdown", "notes")]
    with storage.transaction() as tx:
        tx.delete_cursor("git", "repo")
    assert storage.get_cursor("git", "repo") is None


def test_a_second_storage_object_sees_writes(
    storage: Storage, reopen: Callable[[], Storage]
) -> None:
    other = reopen()
    before = storage.change_count()
    (m,) = put(other, mem("written elsewhere"), vectors=[unit(0, 0, 1)])
    assert storage.get(m.id) == m and storage.change_count() > before
    assert [c.memory_id for c in storage.vector_candidates(unit(0, 0, 1), None, 1)] == [m.id]
    with other.transaction() as tx:
        tx.delete(m.id)
    assert storage.get(m.id) is None and storage.vector_candidates(unit(0, 0, 1), None, 1) == []


def test_another_process_writes_are_visible(storage: Storage, location: str) -> None:
    put(storage, mem("mine"), vectors=[unit(1)])
    script = (
        "import sys; import numpy as np; from dataclasses import replace\n"
        "from core.storage import open_storage\n"
        "from tests.storage.test_contract import mem, put, unit\n"
        "s = open_storage(sys.argv[1]); s.prepare_vectors('test:8-dims', 8)\n"
        "m, = put(s, mem('from the other process'), vectors=[unit(0, 1)]); print(m.id); s.close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", script, location],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    written = done.stdout.strip()
    assert storage.count() == 2 and storage.get(written) is not None
    assert [c.memory_id for c in storage.text_candidates(["process"], None, 5)] == [written]
    assert storage.vector_candidates(unit(0, 1), None, 1)[0].memory_id == written


def test_an_old_schema_is_upgraded(backend: str, tmp_path: Path) -> None:
    from tests.storage.conftest import _location, _open

    (tmp_path / "old").mkdir()
    location = _location(backend, tmp_path / "old")
    legacy_id = new_id()
    old_store(backend, location, legacy_id, list(unit(0, 0, 0, 1)))
    upgraded = _open(backend, location)
    try:
        assert upgraded.prepare_vectors("test:8-dims", 8) is None
        assert upgraded.stats()["schema_version"] >= 3
        assert [c.memory_id for c in upgraded.text_candidates(["legacy"], None, 5)] == [legacy_id]
        assert [c.memory_id for c in upgraded.vector_candidates(unit(0, 0, 0, 1), None, 1)] == [
            legacy_id
        ]
    finally:
        upgraded.close()


def test_deletion_erases_the_text(storage: Storage, backend: str, location: str) -> None:
    put(storage, *(mem(f"neighbour {i} keeps the page busy") for i in range(20)))
    (secret,) = put(storage, mem("the code word is qzxvplonkalpha", tags=("qzxvplonktag",)))
    with storage.transaction() as tx:
        tx.add_version(replace(secret, content="now qzxvplonkbeta"), "user")
    assert b"qzxvplonk" in stored_bytes(backend, location)
    with storage.transaction() as tx:
        tx.delete(secret.id)
    storage.purge_deleted()
    assert b"qzxvplonk" not in stored_bytes(backend, location)
    assert storage.count() == 20


def test_health_stats_and_a_damaged_store_gives_a_store_error(
    storage: Storage, backend: str, location: str, tmp_path: Path
) -> None:
    put(storage, mem("one"), vectors=[unit(1)])
    health = storage.health()
    assert health.integrity == "ok" and health.memories == health.text_rows == health.vectors == 1
    assert storage.stats()["memories"] == 1 and storage.backend_check()[0]
    copy = tmp_path / "copy.db"
    storage.backup(copy)
    with pytest.raises(StoreError, match="already exists"):
        storage.backup(copy)
    if backend == "sqlite":
        damaged = tmp_path / "damaged.db"
        damaged.write_bytes(b"this is not a database" * 100)
        with pytest.raises(StoreError, match="damaged"):
            open_storage(damaged)


def test_locations_pick_the_backend() -> None:
    with pytest.raises(StoreError, match="Cannot reach the PostgreSQL server"):
        open_storage("postgresql://devmem@127.0.0.1:1/devmem?connect_timeout=2")
    with pytest.raises(StoreError, match="Unknown store location"):
        open_storage("mysql://localhost/devmem")


def test_sqlite_urls_open_a_file(tmp_path: Path) -> None:
    s = open_storage(f"sqlite:///{tmp_path}/via-url.db")
    try:
        assert s.count() == 0 and (tmp_path / "via-url.db").exists()
    finally:
        s.close()


def test_a_backend_error_leaves_as_a_store_error(storage: Storage, backend: str) -> None:
    """Any failure of the backend under a read reaches the caller as a StoreError."""
    put(storage, mem("one"))
    if backend == "sqlite":
        from tests import sqlite_backend

        with sqlite_backend.write(storage) as conn:
            conn.execute("DROP TABLE entity_aliases")
    elif backend == "postgres":
        from tests import pg_backend

        pg_backend.execute(storage, "DROP TABLE entity_aliases")
    with pytest.raises(StoreError, match="devmem doctor"):
        storage.entities_by_alias(["one"])


def test_ids_by_prefix_and_adjacent_ids(storage: Storage) -> None:
    ids = ["01AAAAAAAA" + "0" * 16, "01AAAAAAAA" + "0" * 15 + "1", "01AAAAAAAB" + "0" * 16]
    put(storage, *(mem(f"text {i}", id=i) for i in ids))
    assert storage.ids_with_prefix("01aaaaaaaa", 10) == ids[:2]
    assert storage.ids_with_prefix("01AAAAAAA", 2) == ids[:2]
    assert storage.ids_with_prefix("01AAAAAAAC", 10) == []
    assert storage.adjacent_ids(ids[1]) == [ids[0], ids[2]]
    assert storage.adjacent_ids(ids[0]) == [ids[1]]
    assert storage.adjacent_ids("01AAAAAAAA" + "0" * 14 + "5Z") == [ids[1], ids[2]]
