"""The knowledge graph through the service: what a write stores, what forget/update/link
change, rebuild against the incremental state, and the queries (show, path, graph search)."""

from __future__ import annotations

from typing import Any

import pytest

from core import graph
from core.errors import InvalidInput, NotFound
from core.models import EntityRef, MemoryInput, MemoryPatch, ProgressEvent
from core.service import MemoryService
from tests import sqlite_backend


def snapshot(svc: MemoryService, *, aliases: bool = True) -> dict[str, Any]:
    """The graph by names, not ids (a rebuild numbers entities differently), after checking
    that every relation's weight is the sum of its evidence."""
    conn = sqlite_backend.conn(svc)
    off = conn.execute(
        "SELECT r.id, r.weight, sum(e.weight) FROM relations r LEFT JOIN relation_evidence e"
        " ON e.relation_id = r.id GROUP BY r.id HAVING abs(r.weight - coalesce(sum(e.weight), -1))"
        " > 1e-9"
    ).fetchall()
    assert off == [], off
    ents = {int(r[0]): (r[1], r[2]) for r in conn.execute("SELECT id, type, name FROM entities")}
    out: dict[str, Any] = {
        "entities": {
            (*ents[int(r[0])], r[1]) for r in conn.execute("SELECT id, display FROM entities")
        },
        "mentions": {
            (r[0], ents[int(r[1])], round(r[2], 6), r[3])
            for r in conn.execute(
                "SELECT m.id, me.entity_id, me.confidence, me.source FROM memory_entities me"
                " JOIN memories m ON m.rowid = me.memory_rowid"
            )
        },
        "relations": {
            (ents[int(r[0])], ents[int(r[1])], r[2], round(r[3], 6))
            for r in conn.execute("SELECT src_id, dst_id, type, weight FROM relations")
        },
        "evidence": {
            (ents[int(r[0])], ents[int(r[1])], r[2], r[3], round(r[4], 6))
            for r in conn.execute(
                "SELECT r.src_id, r.dst_id, r.type, m.id, e.weight FROM relation_evidence e"
                " JOIN relations r ON r.id = e.relation_id JOIN memories m ON m.rowid = e.memory_rowid"
            )
        },
    }
    if aliases:
        out["aliases"] = {
            (ents[int(r[1])], r[0])
            for r in conn.execute("SELECT alias, entity_id FROM entity_aliases")
        }
    return out


def names(svc: MemoryService, entity_ids: list[int]) -> list[str]:
    return [e.display for e in graph.summaries(svc.store, entity_ids)]


def add(svc: MemoryService, content: str, **kw: Any) -> str:
    return svc.remember(MemoryInput(content, **kw)).memory.id


# ---- writes ----------------------------------------------------------------------------
def test_remember_stores_entities_mentions_and_cooccurrence(svc: MemoryService) -> None:
    mid = add(
        svc,
        "The worker pods on Kubernetes restart when Postgres vacuums; see src/worker/queue.py",
        project="acme/api",
    )
    found = {(e.type, e.name) for e in graph.entities_of_memory(svc.store, mid)}
    assert {
        ("technology", "kubernetes"),
        ("technology", "postgresql"),
        ("file", "src/worker/queue.py"),
        ("project", "acme/api"),
    } <= found
    k8s = graph.resolve(svc.store, "k8s")  # an alias from the vocabulary
    assert names(svc, [k8s]) == ["Kubernetes"]
    near = {(n.entity.display, n.relation) for n in graph.neighbours(svc.store, k8s)}
    assert ("PostgreSQL", "co_occurs") in near and ("src/worker/queue.py", "co_occurs") in near


def test_forget_removes_evidence_then_orphans(svc: MemoryService) -> None:
    first = add(svc, "Kubernetes liveness probes kill the worker during Postgres vacuum")
    second = add(svc, "We moved the nightly jobs to Kubernetes next to Redis")
    k8s = graph.resolve(svc.store, "kubernetes")
    assert graph.summaries(svc.store, [k8s])[0].memory_count == 2

    svc.forget(first)
    assert graph.summaries(svc.store, [k8s])[0].memory_count == 1
    assert graph.find_entities(svc.store, "postgres") == []  # only the forgotten memory named it
    assert {n.entity.display for n in graph.neighbours(svc.store, k8s)} == {"Redis"}

    snapshot(svc)
    svc.forget(second)
    assert graph.stats(svc.store)["entities"] == 0 and graph.stats(svc.store)["relations"] == 0
    assert (
        sqlite_backend.conn(svc).execute("SELECT count(*) FROM relation_evidence").fetchone()[0]
        == 0
    )


def test_relation_weight_is_the_sum_of_its_evidence(svc: MemoryService) -> None:
    for text in (
        "Redis caches the Django sessions",
        "Django talks to Redis through django-redis",
        "Redis and Django: raise the pool size",
    ):
        add(svc, text)
    django = graph.resolve(svc.store, "django")
    weights = [n.weight for n in graph.neighbours(svc.store, django) if n.entity.name == "redis"]
    assert len(weights) == 1 and weights[0] > 1.0  # three memories of two or three entities each


def test_update_replaces_the_memory_entities(svc: MemoryService) -> None:
    mid = add(svc, "We cache sessions in Memcached")
    svc.update(mid, MemoryPatch(content="We cache sessions in Redis now"))
    assert graph.find_entities(svc.store, "memcached") == []
    assert names(svc, graph.find_entities(svc.store, "redis")) == ["Redis"]


def test_connector_entities_relate_people_to_the_subjects(svc: MemoryService) -> None:
    svc.remember(
        MemoryInput(
            "Fix retry in the upload handler",
            kind="commit",
            source="git",
            external_id="c1",
            metadata={"files": ["src/upload.py"], "repo": "acme/api"},
            entities=[
                EntityRef("person", "Ada@Acme.io", "Ada Lovelace", "authored"),
                EntityRef("organisation", "acme.io", "Acme", "member_of"),
            ],
        )
    )
    ada = graph.resolve(svc.store, "person:ada lovelace")
    rels = {(n.entity.display, n.relation, n.direction) for n in graph.neighbours(svc.store, ada)}
    assert ("src/upload.py", "authored", "out") in rels
    assert ("Acme", "member_of", "out") in rels


def test_reindex_keeps_connector_entities_unless_given_new_ones(svc: MemoryService) -> None:
    mid = svc.remember(
        MemoryInput(
            "Fix retry in the upload handler",
            kind="commit",
            source="git",
            external_id="c2",
            metadata={"files": ["src/upload.py"]},
            entities=[EntityRef("person", "ada@acme.io", "Ada Lovelace", "authored")],
        )
    ).memory.id
    memory = svc.store.get(mid)
    assert memory is not None

    def authored() -> set[str]:
        ada = graph.find_entities(svc.store, "ada@acme.io")
        return (
            {
                n.entity.display
                for n in graph.neighbours(svc.store, ada[0])
                if n.relation == "authored"
            }
            if ada
            else set()
        )

    with svc.store.transaction() as tx:
        tx.reindex_graph(memory)  # an edit: no new connector entities
    assert authored() == {"src/upload.py"}
    with svc.store.transaction() as tx:
        tx.reindex_graph(memory, [])  # the connector now names nobody
    assert authored() == set()


# ---- links -----------------------------------------------------------------------------
def test_links_relate_the_linked_memories_entities_and_follow_changes(svc: MemoryService) -> None:
    decision = add(svc, "Decision: sessions live in Redis", kind="decision")
    fix = add(svc, "Fixed the Django login loop", kind="bugfix")
    svc.link(fix, decision, "implements")
    django = graph.resolve(svc.store, "django")
    assert ("Redis", "linked_implements") in {
        (n.entity.display, n.relation) for n in graph.neighbours(svc.store, django)
    }

    svc.update(decision, MemoryPatch(content="Decision: sessions live in Memcached"))
    near = {(n.entity.display, n.relation) for n in graph.neighbours(svc.store, django)}
    assert ("Memcached", "linked_implements") in near and ("Redis", "linked_implements") not in near

    snapshot(svc)
    svc.forget(decision)
    snapshot(svc)
    assert all(not n.relation.startswith("linked_") for n in graph.neighbours(svc.store, django))


# ---- rebuild ---------------------------------------------------------------------------
CORPUS = [
    MemoryInput(
        "We run the workers on Kubernetes (k8s) with Helm; Postgres holds the queue.",
        project="acme/api",
    ),
    MemoryInput(
        "Bug acme/api#42: `parse_config()` in src/config.py crashes on empty YAML",
        kind="bugfix",
        project="acme/api",
    ),
    MemoryInput(
        "Infra sync: move Redis to the managed service",
        kind="meeting",
        metadata={
            "subject": "Infra sync",
            "attendees": ["Ada Lovelace <ada@acme.io>", "bob@contoso.com"],
        },
        entities=[
            EntityRef("person", "ada@acme.io", "Ada Lovelace", "attended"),
            EntityRef("meeting", "infra sync", "Infra sync", "attended"),
        ],
    ),
    MemoryInput(
        "Fix flaky retry test",
        kind="commit",
        source="git",
        external_id="sha1",
        metadata={
            "author": "Ada Lovelace",
            "author_email": "ada@acme.io",
            "files": ["tests/test_retry.py"],
        },
        entities=[EntityRef("person", "ada@acme.io", "Ada Lovelace", "authored")],
    ),
    MemoryInput(
        "Read https://docs.python.org/3/library/asyncio.html before touching the event loop in Python"
    ),
]


def build(svc: MemoryService) -> list[str]:
    ids = [svc.remember(inp).memory.id for inp in CORPUS]
    svc.link(ids[1], ids[0], "related")
    svc.link(ids[3], ids[1], "references")
    return ids


def test_rebuild_reproduces_the_incremental_graph_and_is_idempotent(svc: MemoryService) -> None:
    build(svc)
    incremental = snapshot(svc)
    events: list[ProgressEvent] = []
    result = graph.rebuild(svc.store, events.append, batch=2)
    assert snapshot(svc) == incremental
    assert result.memories == len(CORPUS) and result.entities == len(incremental["entities"])
    graph.rebuild(svc.store)
    assert snapshot(svc) == incremental
    done = [e.done for e in events if e.stage == "entities"]
    assert done == sorted(done) and done[-1] == len(CORPUS) and events[-1].stage == "links"


def test_rebuild_matches_after_updates_and_forgets(svc: MemoryService) -> None:
    ids = build(svc)
    svc.update(
        ids[0], MemoryPatch(content="We run the workers on Nomad; Postgres holds the queue.")
    )
    svc.forget(ids[2])
    incremental = snapshot(svc, aliases=False)  # aliases of gone mentions may linger: harmless
    graph.rebuild(svc.store)
    assert snapshot(svc, aliases=False) == incremental


def test_an_interrupted_rebuild_is_finished_by_the_next(svc: MemoryService) -> None:
    build(svc)
    before = snapshot(svc)

    def crash(event: ProgressEvent) -> None:
        raise KeyboardInterrupt  # after the first batch: connector entities of later ones are not back yet

    with pytest.raises(KeyboardInterrupt):
        graph.rebuild(svc.store, crash, batch=2)
    assert snapshot(svc) != before
    graph.rebuild(svc.store)
    assert snapshot(svc) == before


def test_rebuild_survives_writes_from_another_process(svc: MemoryService, db_path: Any) -> None:
    ids = build(svc)
    other = MemoryService.open(db_path, svc.embedder)  # its own connection, as another process
    calls = []

    def meanwhile(event: ProgressEvent) -> None:
        if event.stage == "entities" and not calls:
            calls.append(event)
            other.forget(ids[0])  # rebuilt already: its entities (in the rebuild's caches) go
            other.forget(ids[4])  # not rebuilt yet
            other.remember(MemoryInput("Terraform manages the Redis cluster"))
            other.update(ids[3], MemoryPatch(content="Fix flaky retry test on Kubernetes"))

    graph.rebuild(svc.store, meanwhile, batch=2)
    during = snapshot(svc, aliases=False)
    graph.rebuild(svc.store)
    assert during == snapshot(svc, aliases=False)
    other.close()


# ---- queries ---------------------------------------------------------------------------
def chain(svc: MemoryService) -> None:
    add(svc, "Helm charts deploy to Kubernetes")
    add(svc, "Kubernetes jobs read from Postgres")
    add(svc, "Postgres notifies Redis subscribers")
    add(svc, "Notes about Erlang")


def test_show_gives_neighbours_and_latest_memories(svc: MemoryService) -> None:
    chain(svc)
    view = graph.show(svc.store, "K8S", limit=5)
    assert view.entity.display == "Kubernetes" and view.entity.memory_count == 2
    assert "k8s" in view.aliases
    assert {n.entity.display for n in view.neighbours} == {"Helm", "PostgreSQL"}
    assert [m.title for m in view.memories] == [
        "Kubernetes jobs read from Postgres",
        "Helm charts deploy to Kubernetes",
    ]


def test_show_unknown_entity_suggests_close_names(svc: MemoryService) -> None:
    chain(svc)
    with pytest.raises(NotFound) as err:
        graph.show(svc.store, "kubernets")
    assert "Kubernetes" in str(err.value.hint)
    with pytest.raises(InvalidInput):
        graph.show(svc.store, "  ")


def test_path_follows_relations_with_their_direction(svc: MemoryService) -> None:
    chain(svc)
    steps = graph.path(svc.store, "helm", "redis")
    assert [s.entity.display for s in steps] == ["Helm", "Kubernetes", "PostgreSQL", "Redis"]
    assert steps[0].relation == "" and all(s.relation == "co_occurs" for s in steps[1:])
    assert all(s.direction in ("in", "out") for s in steps[1:])
    backwards = graph.path(svc.store, "redis", "helm")
    assert [s.entity.display for s in backwards] == ["Redis", "PostgreSQL", "Kubernetes", "Helm"]
    assert [s.direction for s in backwards[1:]] == [
        "in" if s.direction == "out" else "out" for s in reversed(steps[1:])
    ]
    assert graph.path(svc.store, "helm", "erlang") == []
    assert graph.path(svc.store, "helm", "redis", max_depth=2) == []
    assert [s.entity.display for s in graph.path(svc.store, "helm", "helm")] == ["Helm"]
    ids = [s.entity_id for s in steps]
    assert [i for i, _ in graph.shortest_path(svc.store, ids[0], ids[-1])] == ids  # the older API


def test_subgraph_around_an_entity_keeps_its_edges(svc: MemoryService) -> None:
    chain(svc)
    k8s = graph.resolve(svc.store, "kubernetes")
    nodes, edges = graph.subgraph(svc.store, k8s, depth=1, max_nodes=10)
    assert nodes[0] == k8s and set(names(svc, nodes)) == {"Kubernetes", "Helm", "PostgreSQL"}
    assert {(e.src, e.dst) for e in edges} >= {tuple(sorted((k8s, n))) for n in nodes[1:]}
    everything, _ = graph.subgraph(svc.store, None, max_nodes=3)
    assert len(everything) == 3


# ---- graph search ----------------------------------------------------------------------
def test_graph_mode_finds_memories_by_an_alias_text_search_cannot(svc: MemoryService) -> None:
    target = add(svc, "The ingestion workers run on Kubernetes in the eu-west cluster")
    add(svc, "Postgres vacuum settings for the billing database")
    add(svc, "Our Kafka topics keep seven days of events")
    assert svc.recall("k8s", mode="text").hits == []
    graph_hits = svc.recall("k8s", mode="graph").hits
    assert [h.memory.id for h in graph_hits] == [target] and graph_hits[0].matched == ("graph",)
    hybrid = svc.recall("k8s", mode="hybrid").hits
    assert hybrid[0].memory.id == target and "graph" in hybrid[0].matched


def test_hybrid_takes_from_the_graph_only_what_the_words_cannot_find(svc: MemoryService) -> None:
    k8s = add(svc, "The ingestion workers run on Kubernetes in the eu-west cluster")
    alice = [add(svc, f"Alice Chen reviewed change {n} of the billing export") for n in range(3)]
    store = svc.store
    named = graph.graph_candidates(store, "what did Alice Chen say", None, 10)
    assert set(alice) <= set(named)  # graph mode: every memory naming her
    # hybrid: the words already find her; the graph adds only entities the words miss
    assert (
        graph.graph_candidates(store, "what did Alice Chen say", None, 10, beyond_words=True) == []
    )
    assert graph.graph_candidates(store, "k8s workers", None, 10, beyond_words=True) == [k8s]


def test_recall_returns_related_entities_inline(svc: MemoryService) -> None:
    chain(svc)
    result = svc.recall("what reads from postgres", include_related=True)
    related = [e.display for e in result.related_entities]
    assert related[0] == "PostgreSQL" and "Kubernetes" in related


def test_graph_candidates_rank_rare_entities_above_hubs(svc: MemoryService) -> None:
    for i in range(6):
        add(svc, f"Routine note {i} about the deploy", project="acme/api")
    rare = add(svc, "The retry loop in src/retry.py spins forever", project="acme/api")
    ids = graph.graph_candidates(svc.store, "acme/api src/retry.py", None, 10)
    assert ids[0] == rare and len(ids) == 7


def test_find_entities_reads_names_of_people_in_a_question(svc: MemoryService) -> None:
    add(
        svc,
        "Release checklist reviewed",
        kind="meeting",
        metadata={"subject": "Release review", "attendees": ["Grace Hopper <grace@navy.mil>"]},
    )
    found = names(
        svc, graph.find_entities(svc.store, "what did Grace Hopper say at the release review?")
    )
    assert "Grace Hopper" in found and "Release review" in found
    assert graph.find_entities(svc.store, "a question naming nobody") == []
