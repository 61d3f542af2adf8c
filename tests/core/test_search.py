"""Search modes, fusion, filters, explanations, and query safety."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InvalidInput
from core.models import CodeAnchor, MemoryInput, SearchFilters
from core.service import MemoryService
from core.storage import sqlite_search

CORPUS = [
    (
        "decision",
        ["db"],
        "alpha",
        "2025-01-10",
        "We use SQLite in WAL mode with a busy timeout so concurrent writers never see 'database is locked'.",
    ),
    (
        "bugfix",
        ["auth"],
        "alpha",
        "2025-02-01",
        "Login crashed on user names with emoji; normalise to NFC before hashing.",
    ),
    (
        "note",
        ["frontend"],
        "beta",
        "2025-03-05",
        "The React dashboard re-renders too often; memoise the chart component.",
    ),
    (
        "snippet",
        ["ops", "k8s"],
        "beta",
        "2025-04-20",
        "kubectl rollout restart deployment/api restarts pods without downtime.",
    ),
    (
        "meeting",
        ["planning"],
        "alpha",
        "2025-05-02",
        "Sprint planning: Alice owns the billing export, Bob the invoice PDF.",
    ),
]


@pytest.fixture
def filled(svc: MemoryService) -> dict[str, str]:
    ids = {}
    for kind, tags, project, when, text in CORPUS:
        ids[kind] = svc.remember(
            MemoryInput(text, kind=kind, tags=tags, project=project, event_at=when)
        ).memory.id
    return ids


def test_text_mode_uses_bm25(svc: MemoryService, filled: dict[str, str]) -> None:
    result = svc.recall("busy timeout", mode="text")
    assert result.mode == "text" and result.hits[0].memory.id == filled["decision"]
    assert result.hits[0].matched == ("text",) and "**" in result.hits[0].snippet


def test_vector_mode_finds_meaning_without_shared_words(
    svc: MemoryService, filled: dict[str, str]
) -> None:
    result = svc.recall(
        "how do I restart my containers with zero downtime on the cluster", mode="vector"
    )
    assert result.mode == "vector" and result.hits[0].memory.id == filled["snippet"]
    assert result.hits[0].similarity is not None and "similar meaning" in result.hits[0].why


def test_hybrid_fuses_and_explains(svc: MemoryService, filled: dict[str, str]) -> None:
    result = svc.recall("database locked errors with concurrent writers")
    top = result.hits[0]
    assert result.mode == "hybrid" and top.memory.id == filled["decision"]
    assert set(top.matched) >= {"text", "vector"} and "words:" in top.why


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced',
        "AND OR NOT",
        "title:foo*",
        "NEAR(a b)",
        "a - b ^c",
        "(((",
        "*",
        "'; DROP TABLE memories; --",
    ],
)
def test_fts_syntax_in_queries_never_raises(
    svc: MemoryService, filled: dict[str, str], query: str
) -> None:
    result = svc.recall(query, mode="text")
    assert isinstance(result.hits, list)
    assert svc.store.count() == len(CORPUS)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(min_size=1, max_size=200).filter(lambda s: "\x00" not in s))
def test_any_text_is_a_safe_query(svc: MemoryService, query: str) -> None:
    try:
        svc.recall(query, mode="text", limit=5)
    except InvalidInput as exc:  # lone surrogates / blank queries: a clear error is fine
        assert str(exc)


def test_filters(svc: MemoryService, filled: dict[str, str]) -> None:
    def ids(**kw: object) -> set[str]:
        return {
            h.memory.id
            for h in svc.recall("the", mode="text", limit=50, filters=SearchFilters(**kw)).hits
        } | {m.id for m in svc.list(SearchFilters(**kw), limit=50).memories}  # type: ignore[arg-type]

    assert ids(kinds=["bugfix"]) == {filled["bugfix"]}
    assert ids(project="beta") == {filled["note"], filled["snippet"]}
    assert ids(tags=["ops", "db"]) == {filled["snippet"], filled["decision"]}
    assert ids(tags=["ops", "k8s"], tags_mode="all") == {filled["snippet"]}
    assert ids(tags=["ops", "db"], tags_mode="all") == set()
    assert ids(since="2025-03-01T00:00:00Z", until="2025-04-30T00:00:00Z") == {
        filled["note"],
        filled["snippet"],
    }
    assert ids(source="assistant") == set()


def test_project_scope_includes_project_less_memories(
    svc: MemoryService, filled: dict[str, str]
) -> None:
    general = svc.remember(MemoryInput("Always run the linters before pushing")).memory.id
    scoped = {m.id for m in svc.list(SearchFilters(project="beta"), limit=50).memories}
    assert scoped == {filled["note"], filled["snippet"], general}


def test_vector_filters_apply(svc: MemoryService, filled: dict[str, str]) -> None:
    hits = svc.recall("restart pods", mode="vector", filters=SearchFilters(project="alpha")).hits
    assert hits and all(h.memory.project == "alpha" for h in hits)


def test_paging_with_offset(svc: MemoryService, filled: dict[str, str]) -> None:
    first = svc.recall("the", mode="hybrid", limit=2)
    second = svc.recall("the", mode="hybrid", limit=2, offset=2)
    assert first.next_offset == 2
    assert not {h.memory.id for h in first.hits} & {h.memory.id for h in second.hits}


def test_bad_mode_and_limits(svc: MemoryService) -> None:
    with pytest.raises(InvalidInput, match="mode"):
        svc.recall("x", mode="psychic")
    with pytest.raises(InvalidInput, match="limit"):
        svc.recall("x", limit=0)
    with pytest.raises(InvalidInput, match="limit"):
        svc.recall("x", limit=-5)
    assert len(svc.recall("x", limit=10**9).hits) == 0


def test_degrades_to_text_when_no_model(db_path) -> None:  # type: ignore[no-untyped-def]
    from core.embeddings import UnavailableEmbedder

    offline = MemoryService.open(db_path, UnavailableEmbedder("no model for this test"))
    offline.remember(MemoryInput("Gradle cache lives in ~/.gradle"))
    result = offline.recall("gradle cache", mode="hybrid")
    assert result.mode == "text" and result.hits and any("no model" in n for n in result.notices)


def test_context_for_file_ranks_anchored_first(svc: MemoryService) -> None:
    anchored = svc.remember(
        MemoryInput(
            "parse_config must strip BOMs",
            kind="pitfall",
            anchor=CodeAnchor("src/config.py", 40, 60, "parse_config"),
        )
    ).memory.id
    about = svc.remember(MemoryInput("parse_config is called twice at start-up")).memory.id
    svc.remember(MemoryInput("unrelated note about CSS"))
    hits = svc.context_for_file("/home/me/repo/src/config.py", symbol="parse_config", line=45)
    assert [h.memory.id for h in hits[:2]] == [anchored, about]
    assert hits[0].matched == ("anchor",) and "src/config.py:40" in hits[0].why


def test_recency_prefers_newer_among_equals(svc: MemoryService) -> None:
    old = svc.remember(MemoryInput("deploy checklist v1", event_at="2020-01-01")).memory.id
    new = svc.remember(MemoryInput("deploy checklist v2", event_at="2026-01-01")).memory.id
    hits = svc.recall("deploy checklist", mode="text", recency=2.0).hits
    assert [h.memory.id for h in hits] == [new, old]


def test_large_store_text_search_matches_the_full_or_query(svc: MemoryService, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The large-store shortcuts (every-word matches first, common words dropped) return what
    the plain OR query returns when enough memories hold every word, and fall back to it when
    too few do."""
    from core import search

    texts = [
        f"cache {'invalidation' if i % 2 else 'warmup'} note {i} for the billing service"
        for i in range(40)
    ]
    texts += [
        f"unrelated memory {i} about the {'deploy' if i < 5 else 'release'} pipeline"
        for i in range(40)
    ]
    svc.remember_many([MemoryInput(t) for t in texts])
    plain = search.text_search(svc.store, "cache invalidation", None, 10)
    monkeypatch.setattr(sqlite_search, "COMMON_TERM_MIN_STORE", 10)
    fast = search.text_search(svc.store, "cache invalidation", None, 10)
    assert [r for r, _ in fast] == [r for r, _ in plain]
    # no memory holds "cache", "deploy" and "billing": the OR query answers, without the
    # words found in more than 10% of the store, so the five "deploy" memories only
    few = search.text_search(svc.store, "cache deploy billing", None, 10)
    found = svc.store.get_many([r for r, _ in few])
    assert len(few) == 5 and all("deploy" in m.content for m in found.values())


def test_a_common_word_in_a_large_store_scores_its_newest_matches(
    svc: MemoryService, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Past TEXT_SCORE_CAP matches only the newest are scored; a filter that none of them
    pass still finds the older matching memories."""
    from core import search

    old = [f"deploy {i}" for i in range(10)]  # short: the best bm25 of all
    new = [f"deploy note {i} about the release train and its checklist" for i in range(20)]
    svc.remember_many(
        [MemoryInput(t, project="legacy") for t in old]
        + [MemoryInput(t, project="web") for t in new]
    )
    monkeypatch.setattr(sqlite_search, "COMMON_TERM_MIN_STORE", 10)
    monkeypatch.setattr(sqlite_search, "TEXT_SCORE_CAP", 20)
    capped = svc.store.get_many([r for r, _ in search.text_search(svc.store, "deploy", None, 5)])
    assert len(capped) == 5 and all(m.project == "web" for m in capped.values())
    monkeypatch.setattr(sqlite_search, "TEXT_SCORE_CAP", 100)
    full = svc.store.get_many([r for r, _ in search.text_search(svc.store, "deploy", None, 5)])
    assert all(m.project == "legacy" for m in full.values())
    monkeypatch.setattr(sqlite_search, "TEXT_SCORE_CAP", 20)
    scoped = search.text_search(svc.store, "deploy", SearchFilters(project="legacy"), 5)
    assert len(scoped) == 5 and all(
        m.project == "legacy" for m in svc.store.get_many([r for r, _ in scoped]).values()
    )


def test_the_memory_holding_a_rare_word_beats_its_look_alikes(svc: MemoryService) -> None:
    """150 near-identical notes captured together, each with its own marker: a hybrid search
    for a marker puts its note first (look-alikes and their neighbours never overtake it)."""
    import uuid

    markers = {}
    for n in range(150):
        marker = f"m{uuid.uuid4().hex[:12]}"
        stored = svc.remember(
            MemoryInput(f"Worker {n % 3} note {n}, marker {marker}.", project="shared")
        )
        markers[stored.memory.id] = marker
    for memory_id, marker in list(markers.items())[::5]:
        hits = svc.recall(marker, limit=3, filters=SearchFilters(project="shared")).hits
        assert hits[0].memory.id == memory_id, (
            marker,
            [(h.memory.content, h.score, h.why) for h in hits],
        )
