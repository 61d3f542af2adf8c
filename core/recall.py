"""Recall: run the retrievers a mode asks for, fuse their rankings, explain each hit."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Protocol

import numpy as np

from core import graph, search, speakers, timeexpr
from core.embeddings import Embedder
from core.errors import EmbeddingUnavailable, InvalidInput
from core.models import SEARCH_MODES, EntitySummary, Hit, Memory, SearchFilters, SearchResult
from core.storage import Storage


class Retrieval(Protocol):
    """What recall needs of the service (which passes itself): its storage and model."""

    @property
    def storage(self) -> Storage: ...

    @property
    def embedder(self) -> Embedder: ...

    def vectors_usable(self) -> bool: ...

    def vector_notice(self) -> str | None: ...

    def recall(
        self,
        query: str,
        *,
        mode: str = "hybrid",
        limit: int = 10,
        offset: int = 0,
        filters: SearchFilters | None = None,
        include_related: bool = False,
        recency: float = 0.0,
    ) -> SearchResult: ...


def run(
    svc: Retrieval,
    query: str,
    mode: str,
    limit: int,
    offset: int,
    filters: SearchFilters | None,
    include_related: bool,
    recency: float,
) -> SearchResult:
    if mode not in SEARCH_MODES:
        raise InvalidInput(f"mode {mode!r} is not one of {', '.join(SEARCH_MODES)}.")
    notices: list[str] = []
    depth = max(60, (offset + limit) * 3)
    when = timeexpr.parse(query) if mode != "graph" else None
    words = when.rest if when is not None and search.words(when.rest) else query
    text, vector, graph_ids, used, qvec = _retrieve(svc, words, mode, filters, depth, notices)
    window: set[str] = set()
    if when is not None:
        text, vector, window = _within(svc, words, filters, when, depth, qvec, text, vector)
    merged = search.fuse(text, vector, graph_ids)
    _favour(merged, window)
    if mode == "hybrid":
        search.expand_context(svc.storage, merged, filters)
    _favour_speakers(svc, merged, query)  # after: the reply next to a hit may be theirs
    _disfavour_questions(svc, merged, query)  # after: a question still lifts its answer
    fused = sorted(merged.values(), key=lambda c: c.score, reverse=True)
    if recency > 0:
        fused = _with_recency(svc, fused, recency)
    page = fused[offset : offset + limit]
    memories = svc.storage.get_many([c.memory_id for c in page])
    hits = [_hit(memories[c.memory_id], c, query) for c in page if c.memory_id in memories]
    related = _related(svc, query, [c.memory_id for c in page]) if include_related else []
    next_offset = offset + limit if len(fused) > offset + limit else None
    return SearchResult(hits, used, mode, notices, next_offset, related)


Ranked = list[tuple[str, float]]
SPEAKER_SEEDS = 60  # candidates checked for a speaker the query names or a question mark


def _retrieve(
    svc: Retrieval,
    query: str,
    mode: str,
    filters: SearchFilters | None,
    depth: int,
    notices: list[str],
) -> tuple[Ranked, Ranked, list[str], str, np.ndarray | None]:
    want_vector = mode in ("hybrid", "vector")
    use_vector = want_vector and svc.vectors_usable()
    if want_vector and not use_vector:
        notices.append(svc.vector_notice() or "Vector search is unavailable.")
    vector: Ranked = []
    qvec = None
    if use_vector:
        try:
            qvec = svc.embedder.embed_query(query)
            vector = search.vector_search(svc.storage, qvec, filters, depth)
        except EmbeddingUnavailable as exc:
            notices.append(str(exc))
            use_vector = False
    text = (
        search.text_search(svc.storage, query, filters, depth)
        if mode in ("hybrid", "text") or (mode == "vector" and not use_vector)
        else []
    )
    graph_ids = (
        graph.graph_candidates(svc.storage, query, filters, depth, beyond_words=mode == "hybrid")
        if mode in ("graph", "hybrid")
        else []
    )
    used = mode if (use_vector or mode in ("text", "graph")) else "text"
    return text, vector, graph_ids, used, qvec


def _within(
    svc: Retrieval,
    query: str,
    filters: SearchFilters | None,
    when: timeexpr.TimeQuery,
    depth: int,
    qvec: np.ndarray | None,
    text: Ranked,
    vector: Ranked,
) -> tuple[Ranked, Ranked, set[str]]:
    """Search again inside the time window the query names; the window's best matches join
    the candidates (a day's conversation is rarely in the top of a whole store otherwise)."""
    narrowed = _narrow(filters, when)
    in_text = search.text_search(svc.storage, query, narrowed, depth) if text else []
    in_vector = search.vector_search(svc.storage, qvec, narrowed, depth) if qvec is not None else []
    window = {memory_id for memory_id, _ in in_text} | {memory_id for memory_id, _ in in_vector}
    return _union(text, in_text), _union(vector, in_vector), window


def _narrow(filters: SearchFilters | None, when: timeexpr.TimeQuery) -> SearchFilters:
    base = filters or SearchFilters()
    since = max(s for s in (base.since, when.since) if s) if base.since or when.since else None
    until = min(u for u in (base.until, when.until) if u) if base.until or when.until else None
    return replace(base, since=since, until=until)


def _union(first: Ranked, second: Ranked) -> Ranked:
    best = dict(second)
    best.update(first)  # same memory, same score: both lists scored it the same way
    return sorted(best.items(), key=lambda item: item[1], reverse=True)


def _favour(merged: dict[str, search.Candidate], window: set[str]) -> None:
    """Memories inside the query's time window rank above the ones outside it."""
    if not window or not merged:
        return
    top = max(c.score for c in merged.values())
    for memory_id in window & merged.keys():
        merged[memory_id].score += search.TIME_WEIGHT * top
        merged[memory_id].ranks.setdefault("time", 1)


def _with_recency(
    svc: Retrieval, fused: list[search.Candidate], weight: float
) -> list[search.Candidate]:
    """Newer memories get up to ``weight`` × the top score, decaying with their time rank."""
    memories = svc.storage.get_many([c.memory_id for c in fused])
    by_time = sorted(
        (c for c in fused if c.memory_id in memories),
        key=lambda c: memories[c.memory_id].event_at or memories[c.memory_id].created_at,
        reverse=True,
    )
    top = fused[0].score if fused else 0.0
    for rank, cand in enumerate(by_time):
        cand.score += weight * top / (1 + rank)
    return sorted(fused, key=lambda c: c.score, reverse=True)


def _favour_speakers(svc: Retrieval, merged: dict[str, search.Candidate], query: str) -> None:
    """Memories said or written by a person the query names rank above ones about them."""
    names = speakers.names_in(query)
    if not names or not merged:
        return
    top = sorted(merged.values(), key=lambda c: c.score, reverse=True)[:SPEAKER_SEEDS]
    for memory_id in speakers.spoken_by(svc.storage, [c.memory_id for c in top], names):
        merged[memory_id].score += search.SPEAKER_WEIGHT
        merged[memory_id].ranks.setdefault("speaker", 1)


def _disfavour_questions(svc: Retrieval, merged: dict[str, search.Candidate], query: str) -> None:
    """When the query asks something, memories that only ask something themselves (end in a
    question mark) rank a little lower: the answer is more often the reply to them."""
    if not merged or not search.asks(query):
        return
    top = sorted(merged.values(), key=lambda c: c.score, reverse=True)[:SPEAKER_SEEDS]
    for memory_id in svc.storage.questions_among([c.memory_id for c in top]):
        merged[memory_id].score *= 1 - search.QUESTION_PENALTY


def _hit(m: Memory, cand: search.Candidate, query: str) -> Hit:
    matched = tuple(name for name in ("text", "vector", "graph", "context") if name in cand.ranks)
    reasons = []
    if "text" in cand.ranks:
        found = search.matched_words(query, f"{m.title} {m.content} {' '.join(m.tags)}")
        reasons.append(f"words: {', '.join(found)}" if found else "words matched")
    if "vector" in cand.ranks and cand.similarity is not None:
        reasons.append(f"similar meaning ({cand.similarity:.2f})")
    if "graph" in cand.ranks:
        reasons.append("shares entities with the query")
    if "context" in cand.ranks:
        reasons.append("captured next to a matching memory")
    if "speaker" in cand.ranks:
        reasons.append("said by a person the query names")
    if "time" in cand.ranks:
        reasons.append("from the time the query names")
    snippet = search.snippet(m.content, query) if "text" in cand.ranks else None
    return Hit(
        m,
        round(cand.score, 6),
        matched,
        snippet or search.opening(m.content),
        "; ".join(reasons),
        cand.similarity,
    )


def _related(svc: Retrieval, query: str, memory_ids: list[str]) -> list[EntitySummary]:
    counts: Counter[int] = Counter()
    for eid in graph.find_entities(svc.storage, query):
        counts[eid] += 3
    for memory_id in memory_ids:
        for eid in svc.storage.entities_of(memory_id):
            counts[eid] += 1
    top = [eid for eid, _ in counts.most_common(8)]
    return [
        EntitySummary(e.type, e.name, e.display, e.memory_count, float(counts[i]))
        for i, e in zip(top, graph.summaries(svc.storage, top), strict=True)
    ]
