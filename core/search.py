"""Search: FTS5 bm25, sqlite-vec KNN (binary quantised, float rescoring), and rank fusion.

Any user text is a safe query: it is cut into words and each word is quoted, so FTS5
operators, quotes, ``*`` and ``:`` are searched for as text and never raise.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core import filters as flt
from core.models import SearchFilters
from core.store import Store
from core.vector_index import cosines

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
COMMON_TERM_SHARE = 0.1
COMMON_TERM_MIN_STORE = 5_000
TEXT_SCORE_CAP = 1_000  # in a large store, a match set past this is scored from its newest end
EXACT_VECTOR_LIMIT = 2_000  # below this many candidates, exact cosine beats binary KNN
BINARY_OVERSAMPLE = 150
BROAD_FILTER_FACTOR = 4  # a filter passing ≥ 1/4 of the store takes a 4x larger Hamming sample

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these
they this those through to too under until up very was we were what when where which while who
whom why will with would you your yours yourself yourselves s t don didn doesn isn wasn
""".split())


@dataclass
class Candidate:
    """A memory found by one or more retrievers, with its per-retriever rank."""

    rowid: int
    ranks: dict[str, int] = field(default_factory=dict)
    similarity: float | None = None
    score: float = 0.0


QUESTION_WORDS = frozenset("what why how when where who whom whose which did does do is are was were can "
                           "could should would will has have".split())


def asks(query: str) -> bool:
    """True when the query is a question ("why is numpy pinned", "what did Ana say?")."""
    first = _WORD.search(query)
    return "?" in query or (first is not None and first.group().lower() in QUESTION_WORDS)


def words(text: str) -> list[str]:
    """Lower-cased search words of ``text``: stopwords dropped unless nothing else is left."""
    tokens = [t.lower() for t in _WORD.findall(text)]
    content = [t for t in tokens if t not in STOPWORDS]
    return list(dict.fromkeys(content or tokens))[:64]


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression that ORs the quoted words of ``text`` (None if no words)."""
    terms = words(text)
    if not terms:
        return None
    return " OR ".join(_quoted(t) for t in terms)


def _quoted(term: str) -> str:
    """One FTS5 string token: any text, operators and quotes included, matched literally."""
    return '"' + term.replace('"', '""') + '"'


def text_search(store: Store, query: str, filters: SearchFilters | None,
                k: int) -> list[tuple[int, float]]:
    """(rowid, bm25 relevance ≥ 0) best first; an explicit title weighs twice the content.

    In a large store, memories holding every word are looked for first: when at least
    ``k`` do, their best are the best of the full OR query too (in practice), and finding
    them skips scoring the tens of thousands of memories that hold only common words."""
    terms = words(query)
    if not terms:
        return []
    if len(terms) >= 2 and _large(store):
        every = _bm25(store, " AND ".join(_quoted(t) for t in terms), filters, k)
        if len(every) >= k:
            return every
        # the few holding every word stay in, however old (the OR query may score only its newest)
        return _union(every, _bm25(store, " OR ".join(_quoted(t) for t in _selective_terms(store, terms)),
                                   filters, k))[:k]
    return _bm25(store, " OR ".join(_quoted(t) for t in terms), filters, k)


def _union(first: list[tuple[int, float]], second: list[tuple[int, float]]) -> list[tuple[int, float]]:
    best = dict(second)
    for rowid, score in first:
        best[rowid] = max(score, best.get(rowid, score))
    return sorted(best.items(), key=lambda item: (-item[1], -item[0]))


def _bm25(store: Store, match: str, filters: SearchFilters | None, k: int) -> list[tuple[int, float]]:
    """The ``k`` best bm25 matches. In a large store only the newest TEXT_SCORE_CAP matches
    are scored (a common word can match tens of thousands of memories, and scoring is most
    of a query's cost), unless that leaves fewer than ``k`` that pass the filters."""
    large = _large(store)
    rows = _bm25_of(store, match, filters, k, TEXT_SCORE_CAP if large else None)
    # Without a filter, fewer than k rows means fewer than k matches: nothing was cut.
    if large and len(rows) < k and not flt.is_empty(filters) and _matches_more_than(store, match, TEXT_SCORE_CAP):
        rows = _bm25_of(store, match, filters, k, None)
    return rows


def _matches_more_than(store: Store, match: str, n: int) -> bool:
    return store.conn().execute(
        "SELECT 1 FROM memory_fts WHERE memory_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        (match, n)).fetchone() is not None


def _bm25_of(store: Store, match: str, filters: SearchFilters | None, k: int,
             newest: int | None) -> list[tuple[int, float]]:
    # FTS5 walks its doclists newest first for ORDER BY rowid DESC, so the inner LIMIT
    # bounds the work; bm25() is only computed for the rows the inner query returns.
    # Equal scores: the newer memory first.
    matches = ("SELECT rowid, -bm25(memory_fts, 2.0, 1.0, 1.0) AS s FROM memory_fts"
               " WHERE memory_fts MATCH ?" + (" ORDER BY rowid DESC LIMIT ?" if newest is not None else ""))
    bound = [match] + ([newest] if newest is not None else [])
    if flt.is_empty(filters):
        rows = store.conn().execute(f"SELECT rowid, s FROM ({matches}) ORDER BY s DESC, rowid DESC LIMIT ?",
                                    [*bound, k])
    else:
        where, args = flt.where(filters, indexed=False)
        rows = store.conn().execute(
            f"SELECT f.rowid, f.s FROM ({matches}) f JOIN memories m ON m.rowid = f.rowid"
            f" WHERE {where} ORDER BY f.s DESC, f.rowid DESC LIMIT ?", [*bound, *args, k])
    return [(int(r[0]), float(r[1])) for r in rows]


def _large(store: Store) -> bool:
    top = store.conn().execute("SELECT max(rowid) FROM memories").fetchone()[0]
    return top is not None and int(top) >= COMMON_TERM_MIN_STORE


def _selective_terms(store: Store, terms: list[str]) -> list[str]:
    """Drop words found in more than COMMON_TERM_SHARE of a large store's memories.

    Their bm25 weight is near zero, but scoring every memory that holds them is most of a
    query's cost (a 2x speed-up at 50k memories); the rarest word always stays. Counting
    stops past the share, so a word in half a million memories costs no more than a rare one."""
    top = int(store.conn().execute("SELECT max(rowid) FROM memories").fetchone()[0])
    share = int(COMMON_TERM_SHARE * top)
    df = {t: _count_matches(store, _quoted(t), share + 1) for t in terms}
    kept = [t for t in terms if df[t] <= share]
    if kept:
        return kept
    return [min(terms, key=lambda t: _count_matches(store, _quoted(t), None))]


def _count_matches(store: Store, match: str, at_most: int | None) -> int:
    row = store.conn().execute(
        "SELECT count(*) FROM (SELECT 1 FROM memory_fts WHERE memory_fts MATCH ? LIMIT ?)",
        (match, -1 if at_most is None else at_most)).fetchone()
    return int(row[0])


def vector_search(store: Store, qvec: np.ndarray, filters: SearchFilters | None,
                  k: int) -> list[tuple[int, float]]:
    """(rowid, cosine) best first: exact over few candidates, binary KNN + rescoring otherwise.

    Filters restrict the Hamming ranking itself, so a selective filter still gets its own
    nearest neighbours."""
    held = _held_exact(store, qvec, filters, k)
    if held is not None:  # a small store: its float vectors are in memory, search is exact
        return held
    if _at_most(store, filters, EXACT_VECTOR_LIMIT):
        return _exact(store, qvec, filters, k)
    return _binary_knn(store, qvec, filters, k, max(BINARY_OVERSAMPLE, 2 * k))


def _held_exact(store: Store, qvec: np.ndarray, filters: SearchFilters | None,
                k: int) -> list[tuple[int, float]] | None:
    """Exact search over the vectors held in memory (None when the store is too large).

    With a filter, the best few of all are checked against it first: a project's scope
    passes nearly all of them, and listing every memory in scope costs more than the search."""
    if flt.is_empty(filters):
        return store.bit_index.exact(store, qvec, k)
    best = store.bit_index.exact(store, qvec, BROAD_FILTER_FACTOR * k)
    if best is None:
        return None
    where, args = flt.where(filters, indexed=False)
    marks = ",".join("?" * len(best))
    ok = {int(r[0]) for r in store.conn().execute(
        f"SELECT m.rowid FROM memories m WHERE m.rowid IN ({marks}) AND {where}",
        [*(r for r, _ in best), *args])} if best else set()
    hits = [(r, sim) for r, sim in best if r in ok][:k]
    if len(hits) >= k or len(best) < BROAD_FILTER_FACTOR * k:
        return hits
    return store.bit_index.exact(store, qvec, k, lambda: _passing(store, filters))


def _passing(store: Store, filters: SearchFilters | None) -> np.ndarray | None:
    """The rowids that pass ``filters`` (None: no filter, every memory passes)."""
    if flt.is_empty(filters):
        return None
    where, args = flt.where(filters)
    rows = store.conn().execute(f"SELECT m.rowid FROM memories m WHERE {where}", args).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


def _at_most(store: Store, filters: SearchFilters | None, n: int) -> bool:
    """True when at most ``n`` memories with vectors pass ``filters`` (reads ≤ n + 1 rows)."""
    if flt.is_empty(filters):
        # max(rowid) is O(log n); gaps left by deletions only make this err toward KNN.
        top = store.conn().execute("SELECT max(rowid) FROM memory_vectors").fetchone()[0]
        return top is None or int(top) <= n
    where, args = flt.where(filters)
    found = store.conn().execute(
        f"SELECT count(*) FROM (SELECT 1 FROM memories m WHERE {where} LIMIT ?)", [*args, n + 1]).fetchone()[0]
    return int(found) <= n


def _exact(store: Store, qvec: np.ndarray, filters: SearchFilters | None,
           k: int) -> list[tuple[int, float]]:
    if flt.is_empty(filters):  # no join: reading each memory's row too costs twice the scan
        rows = store.conn().execute("SELECT rowid, vector FROM memory_vectors").fetchall()
    else:
        where, args = flt.where(filters)
        rows = store.conn().execute(
            "SELECT v.rowid, v.vector FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid"
            f" WHERE {where}", args).fetchall()
    return _rank_by_cosine(rows, qvec, k)


def _binary_knn(store: Store, qvec: np.ndarray, filters: SearchFilters | None, k: int,
                oversample: int) -> list[tuple[int, float]]:
    # Hamming distance on 1-bit codes ranks coarsely; rescoring a few hundred candidates
    # with the float vectors restores recall@10 ≈ 0.97 at a fraction of an exact scan's cost.
    if flt.is_empty(filters):
        return _rank_by_cosine(_vectors_of(store, store.bit_index.search(store, qvec, oversample), None),
                               qvec, k)
    # With a filter, the Hamming ranking's head shows how much of the store passes it:
    # nearly all (a project's scope) needs no more candidates than no filter; a broad one
    # (≥ 1/4) passes enough of a 4x larger sample; a selective one restricts the ranking
    # itself, so it still gets its own nearest neighbours.
    ranked = store.bit_index.search(store, qvec, BROAD_FILTER_FACTOR * oversample)
    rows = _vectors_of(store, ranked[:oversample], filters)
    if len(rows) >= oversample * (1 - 1 / BROAD_FILTER_FACTOR) or len(ranked) <= oversample:
        return _rank_by_cosine(rows, qvec, k)
    if len(rows) >= oversample / BROAD_FILTER_FACTOR:
        return _rank_by_cosine(rows + _vectors_of(store, ranked[oversample:], filters), qvec, k)
    ids = store.bit_index.search(store, qvec, oversample, _passing(store, filters))
    return _rank_by_cosine(_vectors_of(store, ids, filters), qvec, k)


def _vectors_of(store: Store, ids: Sequence[int], filters: SearchFilters | None) -> list[tuple[int, bytes]]:
    """(rowid, float vector) of the ``ids`` that pass ``filters``."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    if flt.is_empty(filters):
        return store.conn().execute(
            f"SELECT rowid, vector FROM memory_vectors WHERE rowid IN ({marks})", list(ids)).fetchall()
    where, args = flt.where(filters, indexed=False)
    return store.conn().execute(
        "SELECT v.rowid, v.vector FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid"
        f" WHERE v.rowid IN ({marks}) AND {where}", [*ids, *args]).fetchall()


def _rank_by_cosine(rows: Sequence[tuple[int, bytes]], qvec: np.ndarray,
                    k: int) -> list[tuple[int, float]]:
    if not rows:
        return []
    dim = len(qvec)
    valid = [(r[0], r[1]) for r in rows if len(r[1]) == dim * 4]
    if not valid:
        return []
    matrix = np.frombuffer(b"".join(v[1] for v in valid), dtype=np.float32).reshape(-1, dim)
    sims = cosines(matrix, qvec)
    top = np.argsort(-sims)[:k]
    return [(int(valid[i][0]), float(sims[i])) for i in top]


def fuse(text: Sequence[tuple[int, float]], vector: Sequence[tuple[int, float]],
         graph: Sequence[int], *, text_weight: float | None = None,
         graph_weight: float | None = None) -> dict[int, Candidate]:
    """Score fusion: text_weight · bm25/max(bm25) + (1 − text_weight) · relative cosine + graph.

    Scores rather than ranks: on LoCoMo's development split this beat reciprocal-rank
    fusion by ~7 points of recall@10, because a strong match in one retriever is not
    diluted by weak ranks in the other (bench/locomo.py measures it). Cosines are placed
    between the candidates' lowest and highest (a spread of at least MIN_SPREAD), as MiniLM
    similarities crowd a narrow band; text weighs more, so the one memory holding a rare
    word (an error code, an id) outranks every memory that only resembles the query."""
    text_weight = TEXT_WEIGHT if text_weight is None else text_weight
    graph_weight = GRAPH_WEIGHT if graph_weight is None else graph_weight
    merged: dict[int, Candidate] = {}
    top_text = max((s for _, s in text), default=0.0) or 1.0
    vec_weight = 1.0 - text_weight if text else 1.0
    for rank, (rowid, score) in enumerate(text, start=1):
        cand = merged.setdefault(rowid, Candidate(rowid))
        cand.ranks["text"] = rank
        cand.score += (text_weight if vector else 1.0) * score / top_text
    high = max((s for _, s in vector), default=0.0)
    low = min(min((s for _, s in vector), default=0.0), high - MIN_SPREAD)
    spread = high - low
    for rank, (rowid, sim) in enumerate(vector, start=1):
        cand = merged.setdefault(rowid, Candidate(rowid))
        cand.ranks["vector"] = rank
        cand.similarity = sim
        cand.score += vec_weight * ((sim - low) / spread if RELATIVE_VECTOR and spread > 1e-6 else max(sim, 0.0))
    for rank, rowid in enumerate(graph, start=1):
        cand = merged.setdefault(rowid, Candidate(rowid))
        cand.ranks["graph"] = rank
        cand.score += graph_weight * (1.0 - (rank - 1) / max(len(graph), 1))
    return merged


def expand_context(store: Store, merged: dict[int, Candidate], filters: SearchFilters | None, *,
                   weight: float | None = None, span: int = CONTEXT_SPAN, seeds: int = 50) -> None:
    """Give memories captured together with a strong hit (the turns around it in a chat,
    the sections around it in a note) a share of its score: the answer to "what did we
    decide" is often the message next to the one that names the topic."""
    weight = CONTEXT_WEIGHT if weight is None else weight
    top = sorted(merged.values(), key=lambda c: c.score, reverse=True)[:seeds]
    if not top or weight <= 0:
        return
    wanted = sorted({c.rowid + d for c in top for d in range(-span, span + 1)})
    marks = ",".join("?" * len(wanted))
    where, args = flt.where(filters, indexed=False)
    rows = store.conn().execute(
        "SELECT m.rowid, m.source, m.project, m.event_at, m.created_at, instr(m.content, '?') FROM memories m"
        f" WHERE m.rowid IN ({marks}) AND {where}", [*wanted, *args]).fetchall()
    info = {int(r[0]): (r[1], r[2], r[3] or r[4]) for r in rows}
    asks = {int(r[0]) for r in rows if r[5]}
    offsets = [d for d in range(-span, span + 1) if d]
    bonus: dict[int, float] = {}
    lifter: dict[int, float] = {}  # the best score among the hits that lift a memory
    for cand in top:
        group = info.get(cand.rowid)
        if group is None:
            continue
        answered = ANSWER_WEIGHT if cand.rowid in asks else 0.0
        for d in offsets:
            near = cand.rowid + d
            if info.get(near) != group:
                continue
            share = weight + answered if d == 1 else weight
            bonus[near] = bonus.get(near, 0.0) + share * cand.score / abs(d)
            lifter[near] = max(lifter.get(near, 0.0), cand.score)
            found = merged.get(near)
            if found is None:
                merged[near] = found = Candidate(near)
            found.ranks.setdefault("context", abs(d))
    # A memory lifted by its neighbours stays below the best of them: a run of look-alikes
    # must not lift each other above the one memory that really matched.
    for rowid, extra in bonus.items():
        cand = merged[rowid]
        cand.score = max(cand.score, min(cand.score + extra, lifter[rowid] * (1 - 1e-6)))


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
        out += [text[pos:tokens[i].start()], "**", tokens[i].group(), "**"]
        pos = tokens[i].end()
    out.append(text[pos:] if end == len(tokens) and len(text) <= SNIPPET_SCAN else text[pos:tokens[end - 1].end()])
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


