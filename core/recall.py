"""Recall: run the retrievers a mode asks for, fuse their rankings, explain each hit."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from core import graph, listing, search
from core.errors import EmbeddingUnavailable, InvalidInput
from core.models import SEARCH_MODES, EntitySummary, Hit, Memory, SearchFilters, SearchResult

if TYPE_CHECKING:
    from core.service import MemoryService

def run(svc: MemoryService, query: str, mode: str, limit: int, offset: int,
        filters: SearchFilters | None, include_related: bool, recency: float) -> SearchResult:
    if mode not in SEARCH_MODES:
        raise InvalidInput(f"mode {mode!r} is not one of {', '.join(SEARCH_MODES)}.")
    notices: list[str] = []
    depth = max(60, (offset + limit) * 3)
    text, vector, graph_ids, used = _retrieve(svc, query, mode, filters, depth, notices)
    merged = search.fuse(text, vector, graph_ids)
    if mode == "hybrid":
        search.expand_context(svc.store, merged, filters)
    fused = sorted(merged.values(), key=lambda c: c.score, reverse=True)
    if recency > 0:
        fused = _with_recency(svc, fused, recency)
    window = fused[offset:offset + limit]
    memories = svc.store.get_many([c.rowid for c in window])
    texts = search.snippets(svc.store, [c.rowid for c in window if "text" in c.ranks], query)
    hits = [_hit(memories[c.rowid], c, query, texts.get(c.rowid)) for c in window if c.rowid in memories]
    related = _related(svc, query, [c.rowid for c in window]) if include_related else []
    next_offset = offset + limit if len(fused) > offset + limit else None
    return SearchResult(hits, used, mode, notices, next_offset, related)


def _retrieve(svc: MemoryService, query: str, mode: str, filters: SearchFilters | None, depth: int,
              notices: list[str]) -> tuple[list[tuple[int, float]], list[tuple[int, float]], list[int], str]:
    want_vector = mode in ("hybrid", "vector")
    use_vector = want_vector and svc.vectors_usable()
    if want_vector and not use_vector:
        notices.append(svc.vector_notice() or "Vector search is unavailable.")
    vector: list[tuple[int, float]] = []
    if use_vector:
        try:
            vector = search.vector_search(svc.store, svc.embedder.embed_query(query), filters, depth)
        except EmbeddingUnavailable as exc:
            notices.append(str(exc))
            use_vector = False
    text = search.text_search(svc.store, query, filters, depth) \
        if mode in ("hybrid", "text") or (mode == "vector" and not use_vector) else []
    graph_ids = graph.graph_candidates(svc.store, query, filters, depth) if mode in ("graph", "hybrid") else []
    used = mode if (use_vector or mode in ("text", "graph")) else "text"
    return text, vector, graph_ids, used


def _with_recency(svc: MemoryService, fused: list[search.Candidate], weight: float) -> list[search.Candidate]:
    """Newer memories get up to ``weight`` × the top score, decaying with their time rank."""
    memories = svc.store.get_many([c.rowid for c in fused])
    by_time = sorted((c for c in fused if c.rowid in memories),
                     key=lambda c: memories[c.rowid].event_at or memories[c.rowid].created_at, reverse=True)
    top = fused[0].score if fused else 0.0
    for rank, cand in enumerate(by_time):
        cand.score += weight * top / (1 + rank)
    return sorted(fused, key=lambda c: c.score, reverse=True)


def _hit(m: Memory, cand: search.Candidate, query: str, snippet: str | None) -> Hit:
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
    return Hit(m, round(cand.score, 6), matched, snippet or search.opening(m.content), "; ".join(reasons),
               cand.similarity)


def _related(svc: MemoryService, query: str, rowids: list[int]) -> list[EntitySummary]:
    counts: Counter[int] = Counter()
    for eid in graph.find_entities(svc.store, query):
        counts[eid] += 3
    for rowid in rowids:
        for r in svc.store.conn().execute(
                "SELECT entity_id FROM memory_entities WHERE memory_rowid = ?", (rowid,)):
            counts[int(r[0])] += 1
    top = [eid for eid, _ in counts.most_common(8)]
    return [EntitySummary(e.type, e.name, e.display, e.memory_count, float(counts[i]))
            for i, e in zip(top, graph.summaries(svc.store, top), strict=True)]


def for_file(svc: MemoryService, path: str, symbol: str | None, line: int | None,
             project: str | None, limit: int) -> list[Hit]:
    ranked = sorted(listing.anchored(svc.store, path, project),
                    key=lambda rm: _anchor_score(rm[1], symbol, line), reverse=True)
    hits = [Hit(m, _anchor_score(m, symbol, line), ("anchor",), m.summary(200), _anchor_why(m, symbol, line))
            for _, m in ranked[:limit]]
    if symbol and len(hits) < limit:
        seen = {h.memory.id for h in hits}
        more = svc.recall(symbol, limit=limit, filters=SearchFilters(project=project) if project else None)
        hits += [h for h in more.hits if h.memory.id not in seen and "text" in h.matched][: limit - len(hits)]
    return hits


def _anchor_score(m: Memory, symbol: str | None, line: int | None) -> float:
    a = m.anchor
    if a is None:
        return 0.0
    score = 1.0
    if symbol and a.symbol and a.symbol.split(".")[-1] == symbol.split(".")[-1]:
        score += 2.0
    if line is not None and a.start_line is not None and a.start_line <= line <= (a.end_line or a.start_line):
        score += 1.5
    return score


def _anchor_why(m: Memory, symbol: str | None, line: int | None) -> str:
    a = m.anchor
    assert a is not None
    where = a.path + (f":{a.start_line}" if a.start_line else "") + (f" ({a.symbol})" if a.symbol else "")
    return f"anchored to {where}"
