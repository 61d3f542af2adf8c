"""Search above storage: query words, score fusion, context expansion and snippets.

The storage gives candidates (full-text scores, vector similarities, capture-order
neighbours); the rules that rank them live here, one set for every adapter.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.models import SearchFilters
from core.storage.base import SearchIndex

TEXT_WEIGHT = 0.6
GRAPH_WEIGHT = 0.1
RELATIVE_VECTOR = True
MIN_SPREAD = 0.15
SPEAKER_WEIGHT = 0.2  # added to memories said or written by a person the query names
QUESTION_PENALTY = 0.3  # share taken from memories that are only a question, for a question
TIME_WEIGHT = 0.3  # share of the top score added to memories inside a time window the query names
CONTEXT_WEIGHT = 0.3
CONTEXT_SPAN = 2
ANSWER_WEIGHT = 0.2  # extra share for the memory right after a question (its answer)
SNIPPET_WORDS = 24
SNIPPET_SCAN = 20_000  # characters of a memory searched for a snippet (bounds the cost)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves s t don didn doesn isn wasn
""".split()
)


@dataclass
class Candidate:
    """A memory found by one or more retrievers, with its per-retriever rank."""

    memory_id: str
    ranks: dict[str, int] = field(default_factory=dict)
    similarity: float | None = None
    score: float = 0.0


QUESTION_WORDS = frozenset(
    "what why how when where who whom whose which did does do is are was were can "
    "could should would will has have".split()
)


def asks(query: str) -> bool:
    """True when the query is a question ("why is numpy pinned", "what did Ana say?")."""
    first = _WORD.search(query)
    return "?" in query or (first is not None and first.group().lower() in QUESTION_WORDS)


def words(text: str) -> list[str]:
    """Lower-cased search words of ``text``: stopwords dropped unless nothing else is left."""
    tokens = [t.lower() for t in _WORD.findall(text)]
    content = [t for t in tokens if t not in STOPWORDS]
    return list(dict.fromkeys(content or tokens))[:64]


def text_search(
    storage: SearchIndex, query: str, filters: SearchFilters | None, k: int
) -> list[tuple[str, float]]:
    """(memory id, full-text relevance ≥ 0) best first, for the query's words."""
    terms = words(query)
    if not terms:
        return []
    return [(c.memory_id, c.score) for c in storage.text_candidates(terms, filters, k)]


def vector_search(
    storage: SearchIndex, qvec: np.ndarray, filters: SearchFilters | None, k: int
) -> list[tuple[str, float]]:
    """(memory id, cosine) best first."""
    return [(c.memory_id, c.similarity) for c in storage.vector_candidates(qvec, filters, k)]


def fuse(
    text: Sequence[tuple[str, float]],
    vector: Sequence[tuple[str, float]],
    graph: Sequence[str],
    *,
    text_weight: float | None = None,
    graph_weight: float | None = None,
) -> dict[str, Candidate]:
    """Score fusion: text_weight · bm25/max(bm25) + (1 − text_weight) · relative cosine + graph.

    Scores rather than ranks: on LoCoMo's development split this beat reciprocal-rank
    fusion by ~7 points of recall@10, because a strong match in one retriever is not
    diluted by weak ranks in the other (bench/locomo.py measures it). Cosines are placed
    between the candidates' lowest and highest (a spread of at least MIN_SPREAD), as MiniLM
    similarities crowd a narrow band; text weighs more, so the one memory holding a rare
    word (an error code, an id) outranks every memory that only resembles the query."""
    text_weight = TEXT_WEIGHT if text_weight is None else text_weight
    graph_weight = GRAPH_WEIGHT if graph_weight is None else graph_weight
    merged: dict[str, Candidate] = {}
    top_text = max((s for _, s in text), default=0.0) or 1.0
    vec_weight = 1.0 - text_weight if text else 1.0
    for rank, (memory_id, score) in enumerate(text, start=1):
        cand = merged.setdefault(memory_id, Candidate(memory_id))
        cand.ranks["text"] = rank
        cand.score += (text_weight if vector else 1.0) * score / top_text
    high = max((s for _, s in vector), default=0.0)
    low = min(min((s for _, s in vector), default=0.0), high - MIN_SPREAD)
    spread = high - low
    for rank, (memory_id, sim) in enumerate(vector, start=1):
        cand = merged.setdefault(memory_id, Candidate(memory_id))
        cand.ranks["vector"] = rank
        cand.similarity = sim
        cand.score += vec_weight * (
            (sim - low) / spread if RELATIVE_VECTOR and spread > 1e-6 else max(sim, 0.0)
        )
    for rank, memory_id in enumerate(graph, start=1):
        cand = merged.setdefault(memory_id, Candidate(memory_id))
        cand.ranks["graph"] = rank
        cand.score += graph_weight * (1.0 - (rank - 1) / max(len(graph), 1))
    return merged


def expand_context(
    storage: SearchIndex,
    merged: dict[str, Candidate],
    filters: SearchFilters | None,
    *,
    weight: float | None = None,
    span: int = CONTEXT_SPAN,
    seeds: int = 50,
) -> None:
    """Give memories captured together with a strong hit (the turns around it in a chat,
    the sections around it in a note) a share of its score: the answer to "what did we
    decide" is often the message next to the one that names the topic."""
    weight = CONTEXT_WEIGHT if weight is None else weight
    top = sorted(merged.values(), key=lambda c: c.score, reverse=True)[:seeds]
    if not top or weight <= 0:
        return
    score_of = {c.memory_id: c.score for c in top}
    bonus: dict[str, float] = {}
    lifter: dict[str, float] = {}  # the best score among the hits that lift a memory
    for seed_id, memory_id, offset, seed_asks in storage.context_neighbours(
        [c.memory_id for c in top], span, filters
    ):
        share = weight + (ANSWER_WEIGHT if seed_asks else 0.0) if offset == 1 else weight
        seed_score = score_of[seed_id]
        bonus[memory_id] = bonus.get(memory_id, 0.0) + share * seed_score / abs(offset)
        lifter[memory_id] = max(lifter.get(memory_id, 0.0), seed_score)
        found = merged.get(memory_id)
        if found is None:
            merged[memory_id] = found = Candidate(memory_id)
        found.ranks.setdefault("context", abs(offset))
    # A memory lifted by its neighbours stays below the best of them: a run of look-alikes
    # must not lift each other above the one memory that really matched.
    for memory_id, extra in bonus.items():
        cand = merged[memory_id]
        cand.score = max(cand.score, min(cand.score + extra, lifter[memory_id] * (1 - 1e-6)))


def snippet(text: str, query: str, width: int = SNIPPET_WORDS) -> str | None:
    """The ``width``-word stretch of ``text`` holding the most of the query's words, with
    them in **bold** (None when no query word occurs). Words match by their stem-like
    prefix, as the porter stemmer lets "timeouts" match "timeout"."""
    hits = _stem_matcher(query)
    if hits is None:
        return None
    tokens = list(_WORD.finditer(text, 0, SNIPPET_SCAN))
    marked = [i for i, t in enumerate(tokens) if hits(t.group().lower())]
    if not marked:
        return None
    best = _densest(marked, [tokens[i].group().lower() for i in marked], width)
    start = max(0, min(best - 3, len(tokens) - width))  # a few words of lead-in
    end = min(len(tokens), start + width)
    out, pos = [], tokens[start].start()
    for i in (i for i in marked if start <= i < end):
        out += [text[pos : tokens[i].start()], "**", tokens[i].group(), "**"]
        pos = tokens[i].end()
    out.append(
        text[pos:]
        if end == len(tokens) and len(text) <= SNIPPET_SCAN
        else text[pos : tokens[end - 1].end()]
    )
    body = " ".join("".join(out).split())
    more = end < len(tokens) or len(text) > SNIPPET_SCAN
    return ("…" if start > 0 else "") + body + ("…" if more else "")


def _densest(marked: list[int], names: list[str], width: int) -> int:
    """The marked position starting the ``width``-token window with the most distinct words
    (a sliding window: linear in the number of marks)."""
    counts: dict[str, int] = {}
    best, best_n, right = marked[0], 0, 0
    for left, first in enumerate(marked):
        while right < len(marked) and marked[right] < first + width:
            counts[names[right]] = counts.get(names[right], 0) + 1
            right += 1
        if len(counts) > best_n:
            best, best_n = first, len(counts)
        counts[names[left]] -= 1
        if not counts[names[left]]:
            del counts[names[left]]
    return best


def _stems(query: str) -> list[str]:
    return [w if len(w) <= 4 else w[: max(4, len(w) - 2)] for w in words(query)]


@functools.lru_cache(maxsize=64)
def _stem_matcher(query: str) -> Callable[[str], bool] | None:
    """A test for "this (lowercased) token is one of the query's words": equal to a short
    stem or starting with a longer one (set lookups, one per distinct stem length)."""
    stems = _stems(query)
    if not stems:
        return None
    exact = frozenset(stems)
    prefixes = frozenset(s for s in stems if len(s) >= 4)
    lengths = sorted({len(s) for s in prefixes})

    def hits(token: str) -> bool:
        return token in exact or any(token[:n] in prefixes for n in lengths if len(token) > n)

    return hits


def opening(text: str, width: int = 200) -> str:
    """The start of a memory, whitespace collapsed, as a fallback snippet."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def matched_words(query: str, text: str) -> list[str]:
    """The query words that occur in ``text`` (prefix match, like the porter stemmer's effect)."""
    lowered = text.lower()
    return [w for w in words(query) if w[: max(4, len(w) - 2)] in lowered][:6]
