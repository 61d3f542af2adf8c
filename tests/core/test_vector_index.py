"""The in-process 1-bit index follows every writer's changes through the change log."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core import search
from core.embeddings import FastEmbedEmbedder
from core.models import MemoryInput
from core.service import MemoryService


def _unit(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    m = rng.normal(size=(n, 384)).astype(np.float32)
    return list(m / np.linalg.norm(m, axis=1, keepdims=True))


def test_binary_knn_matches_exact_search(svc: MemoryService, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    query = _unit(rng, 1)[0]
    # memory i sits at a growing distance from the query, so the true ranking is 0, 1, 2, …
    noise = _unit(rng, 3000)
    vectors = [(query + (0.2 + i / 500) * n) for i, n in enumerate(noise)]
    vectors = [v / np.linalg.norm(v) for v in vectors]
    order = rng.permutation(3000)  # stored in random order
    svc.remember_many([MemoryInput(f"memory number {i}") for i in order], vectors=[vectors[i] for i in order])
    exact = [r for r, _ in search._exact(svc.store, query, None, 10)]
    monkeypatch.setattr(search, "EXACT_VECTOR_LIMIT", 100)
    approx = [r for r, _ in search.vector_search(svc.store, query, None, 10)]
    assert approx == exact
    stored = svc.store.get_many(approx)
    assert stored[approx[0]].content == "memory number 0"


def test_index_sees_other_processes_writes_and_deletes(db_path: Path, embedder: FastEmbedEmbedder,
                                                      monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(search, "EXACT_VECTOR_LIMIT", 0)
    reader = MemoryService.open(db_path, embedder)
    writer = MemoryService.open(db_path, embedder)  # another connection, another index
    first = writer.remember(MemoryInput("Postgres vacuum runs nightly at 02:00")).memory.id
    assert reader.recall("when does vacuum run", mode="vector").hits[0].memory.id == first
    second = writer.remember(MemoryInput("Redis snapshots are written every 15 minutes")).memory.id
    assert reader.recall("how often are redis snapshots saved", mode="vector").hits[0].memory.id == second
    writer.forget(second)
    assert second not in {h.memory.id for h in reader.recall("redis snapshots", mode="vector").hits}
    from core import maintenance

    assert maintenance.reindex(writer) == 1
    assert reader.recall("vacuum", mode="vector").hits[0].memory.id == first


def test_a_selective_filter_still_gets_its_nearest_neighbours(svc: MemoryService, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from core.models import SearchFilters

    rng = np.random.default_rng(3)
    query = _unit(rng, 1)[0]
    noise = _unit(rng, 2000)
    vectors = [(query + (0.2 + i / 400) * n) for i, n in enumerate(noise)]
    vectors = [v / np.linalg.norm(v) for v in vectors]
    # 1 memory in 20 belongs to "rare"; the nearest ones overall belong to "common"
    inputs = [MemoryInput(f"memory {i}", project="rare" if i % 20 == 19 else "common") for i in range(2000)]
    svc.remember_many(inputs, vectors=vectors)
    rare = SearchFilters(project="rare")
    exact = [r for r, _ in search._exact(svc.store, query, rare, 10)]
    monkeypatch.setattr(search, "EXACT_VECTOR_LIMIT", 0)
    approx = [r for r, _ in search.vector_search(svc.store, query, rare, 10)]
    assert approx == exact and len(approx) == 10
    assert {m.project for m in svc.store.get_many(approx).values()} == {"rare"}
