"""The in-process 1-bit index follows every writer's changes through the change log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.embeddings import FastEmbedEmbedder
from core.models import MemoryInput
from core.service import MemoryService
from core.storage import sqlite_search as search
from core.storage import sqlite_vectors as vector_index
from tests import sqlite_backend


def _unit(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    m = rng.normal(size=(n, 384)).astype(np.float32)
    return list(m / np.linalg.norm(m, axis=1, keepdims=True))


def _graded(rng: np.random.Generator, n: int, spread: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """A query and ``n`` unit vectors, vector i at a growing distance from it (so the true
    ranking is 0, 1, 2, …)."""
    query = _unit(rng, 1)[0]
    vectors = [(query + (0.2 + i / spread) * noise) for i, noise in enumerate(_unit(rng, n))]
    return query, [v / np.linalg.norm(v) for v in vectors]


def test_binary_knn_matches_exact_search(svc: MemoryService, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    query, vectors = _graded(rng, 3000, 500)
    order = rng.permutation(3000)  # stored in random order
    svc.remember_many(
        [MemoryInput(f"memory number {i}") for i in order], vectors=[vectors[i] for i in order]
    )
    exact = [r for r, _ in search._exact(sqlite_backend.store_of(svc), query, None, 10)]
    monkeypatch.setattr(search, "EXACT_VECTOR_LIMIT", 100)
    monkeypatch.setattr(vector_index, "FLOAT_CACHE_MAX", 0)  # the path of a large store
    sqlite_backend.store_of(svc).bit_index = vector_index.BitIndex()
    approx = [r for r, _ in search.vector_search(sqlite_backend.store_of(svc), query, None, 10)]
    assert approx == exact
    stored = sqlite_backend.store_of(svc).get_many(approx)
    assert stored[approx[0]].content == "memory number 0"


@pytest.mark.parametrize("floats_held", [True, False], ids=["small store", "large store"])
def test_index_sees_other_processes_writes_and_deletes(
    db_path: Path, embedder: FastEmbedEmbedder, monkeypatch, floats_held: bool
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search, "EXACT_VECTOR_LIMIT", 0)
    if not floats_held:
        monkeypatch.setattr(vector_index, "FLOAT_CACHE_MAX", 0)
    reader = MemoryService.open(db_path, embedder)
    writer = MemoryService.open(db_path, embedder)  # another connection, another index
    first = writer.remember(MemoryInput("Postgres vacuum runs nightly at 02:00")).memory.id
    assert reader.recall("when does vacuum run", mode="vector").hits[0].memory.id == first
    second = writer.remember(MemoryInput("Redis snapshots are written every 15 minutes")).memory.id
    assert (
        reader.recall("how often are redis snapshots saved", mode="vector").hits[0].memory.id
        == second
    )
    writer.forget(second)
    assert second not in {h.memory.id for h in reader.recall("redis snapshots", mode="vector").hits}
    from core import maintenance

    assert maintenance.reindex(writer) == 1
    assert reader.recall("vacuum", mode="vector").hits[0].memory.id == first


def test_a_selective_filter_still_gets_its_nearest_neighbours(
    svc: MemoryService, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from core.models import SearchFilters

    rng = np.random.default_rng(3)
    query, vectors = _graded(rng, 2000, 400)
    # 1 memory in 20 belongs to "rare"; the nearest ones overall belong to "common"
    inputs = [
        MemoryInput(f"memory {i}", project="rare" if i % 20 == 19 else "common")
        for i in range(2000)
    ]
    svc.remember_many(inputs, vectors=vectors)
    rare = SearchFilters(project="rare")
    exact = [r for r, _ in search._exact(sqlite_backend.store_of(svc), query, rare, 10)]
    assert [
        r for r, _ in search.vector_search(sqlite_backend.store_of(svc), query, rare, 10)
    ] == exact  # held in memory
    monkeypatch.setattr(search, "EXACT_VECTOR_LIMIT", 0)
    monkeypatch.setattr(vector_index, "FLOAT_CACHE_MAX", 0)
    sqlite_backend.store_of(svc).bit_index = vector_index.BitIndex()
    approx = [r for r, _ in search.vector_search(sqlite_backend.store_of(svc), query, rare, 10)]
    assert approx == exact and len(approx) == 10
    assert {m.project for m in sqlite_backend.store_of(svc).get_many(approx).values()} == {"rare"}


def test_broad_and_scope_wide_filters_rank_like_exact_search(
    svc: MemoryService, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from core.models import SearchFilters

    rng = np.random.default_rng(5)
    query, vectors = _graded(rng, 2400, 500)
    # "web" holds 1 memory in 3 (a broad filter); memories with no project are in every scope
    inputs = [
        MemoryInput(f"memory {i}", project="web" if i % 3 == 0 else ("api" if i % 3 == 1 else None))
        for i in range(2400)
    ]
    svc.remember_many(inputs, vectors=vectors)
    for scope in (SearchFilters(project="web"), SearchFilters(project="api")):
        exact = [r for r, _ in search._exact(sqlite_backend.store_of(svc), query, scope, 10)]
        monkeypatch.setattr(search, "EXACT_VECTOR_LIMIT", 0)
        monkeypatch.setattr(vector_index, "FLOAT_CACHE_MAX", 0)
        sqlite_backend.store_of(svc).bit_index = vector_index.BitIndex()
        approx = [
            r for r, _ in search.vector_search(sqlite_backend.store_of(svc), query, scope, 10)
        ]
        monkeypatch.undo()
        assert approx == exact and len(approx) == 10
        assert {m.project for m in sqlite_backend.store_of(svc).get_many(approx).values()} <= {
            scope.project,
            None,
        }


def test_candidate_lookups_check_rows_by_rowid_not_a_project_index(svc: MemoryService) -> None:
    """A filter on memories reached by rowid must not turn into a scan of the project index
    (the plan SQLite picks without it costs a whole project's entries per search)."""
    from core.models import SearchFilters
    from core.storage import sqlite_filters as flt

    where, args = flt.where(SearchFilters(project="web", kinds=["decision"]), indexed=False)
    candidates = list(range(1, 601))  # as many as a filtered vector search rescores
    plan = (
        sqlite_backend.conn(svc)
        .execute(
            "EXPLAIN QUERY PLAN SELECT v.rowid FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid"
            f" WHERE v.rowid IN ({','.join('?' * len(candidates))}) AND {where}",
            [*candidates, *args],
        )
        .fetchall()
    )
    details = " | ".join(str(row[-1]) for row in plan)
    assert "memories_project" not in details and "memories_kind" not in details, details


def test_held_vectors_follow_writes_and_give_way_when_the_store_outgrows_them(
    db_path: Path, embedder: FastEmbedEmbedder, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A small store's float vectors are held in memory; an update, a delete and growth past
    the cap (seen through the change log) keep every answer equal to exact search in SQLite."""
    monkeypatch.setattr(vector_index, "FLOAT_CACHE_MAX", 60)
    rng = np.random.default_rng(11)
    reader = MemoryService.open(db_path, embedder)
    writer = MemoryService.open(db_path, embedder)
    vectors = _unit(rng, 100)
    ids = [
        o.memory.id
        for o in writer.remember_many(
            [MemoryInput(f"note {i}") for i in range(50)], vectors=vectors[:50]
        )
    ]
    query = vectors[7]

    def both() -> tuple[list[int], list[int]]:
        return (
            [r for r, _ in search.vector_search(sqlite_backend.store_of(reader), query, None, 5)],
            [r for r, _ in search._exact(sqlite_backend.store_of(reader), query, None, 5)],
        )

    held, exact = both()
    assert held == exact and sqlite_backend.store_of(reader).bit_index._floats is not None
    writer.forget(ids[7])  # the nearest one goes
    held, exact = both()
    assert (
        held == exact
        and sqlite_backend.store_of(reader).get_many(held[:1])[held[0]].content != "note 7"
    )
    writer.remember_many([MemoryInput(f"more {i}") for i in range(50)], vectors=vectors[50:])
    held, exact = both()  # 99 vectors now: past the cap, rescoring reads SQLite
    assert held == exact and sqlite_backend.store_of(reader).bit_index._floats is None


@pytest.mark.parametrize("floats_held", [True, False], ids=["small store", "large store"])
def test_vectors_of_another_size_rebuild_the_index(
    db_path: Path, embedder: FastEmbedEmbedder, monkeypatch, floats_held: bool
) -> None:  # type: ignore[no-untyped-def]
    """A model of another size replaces every vector (what a reindex after a model change
    writes): a reader that saw the old codes starts over and searches the new ones."""
    if not floats_held:
        monkeypatch.setattr(vector_index, "FLOAT_CACHE_MAX", 0)
    rng = np.random.default_rng(13)
    reader = MemoryService.open(db_path, embedder)
    writer = MemoryService.open(db_path, embedder)
    rowids = [
        sqlite_backend.store_of(writer).get(o.memory.id)[0]
        for o in writer.remember_many(  # type: ignore[index]
            [MemoryInput(f"note {i}") for i in range(30)], vectors=_unit(rng, 30)
        )
    ]
    assert (
        len(
            sqlite_backend.store_of(reader).bit_index.search(
                sqlite_backend.conn(reader), _unit(rng, 1)[0], 5
            )
        )
        == 5
    )  # 384-dim codes held
    small = rng.normal(size=(30, 128)).astype(np.float32)
    small /= np.linalg.norm(small, axis=1, keepdims=True)
    with sqlite_backend.write(writer) as conn:
        sqlite_backend.store_of(writer).reset_vectors(conn, "test:128-dims", 128)
        for rowid, vec in zip(rowids, small, strict=True):
            sqlite_backend.store_of(writer).put_vector(conn, rowid, vec, "test:128-dims")
    nearest = sqlite_backend.store_of(reader).bit_index.search(
        sqlite_backend.conn(reader), small[7], 1
    )
    assert nearest == [rowids[7]]
    if floats_held:
        assert (
            sqlite_backend.store_of(reader).bit_index.exact(
                sqlite_backend.conn(reader), small[7], 1
            )[0][0]
            == rowids[7]
        )  # type: ignore[index]
