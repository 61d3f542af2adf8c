"""Search: FTS5 bm25, sqlite-vec KNN (binary quantised, float rescoring), and rank fusion.

Any user text is a safe query: it is cut into words and each word is quoted, so FTS5
operators, quotes, ``*`` and ``:`` are searched for as text and never raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core import filters as flt
from core.models import SearchFilters
from core.store import VEC_TABLE, Store

RRF_K = 60
EXACT_VECTOR_LIMIT = 2_000  # below this many candidates, exact cosine beats binary KNN
BINARY_OVERSAMPLE = 200

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
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def text_search(store: Store, query: str, filters: SearchFilters | None, k: int) -> list[int]:
    """Rowids ranked by bm25 (title weighs more than content)."""
    match = fts_query(query)
    if match is None:
        return []
    where, args = flt.where(filters)
    rows = store.conn().execute(
        "SELECT f.rowid FROM memory_fts f JOIN memories m ON m.rowid = f.rowid"
        f" WHERE memory_fts MATCH ? AND {where} ORDER BY bm25(memory_fts, 4.0, 1.0, 2.0) LIMIT ?",
        [match, *args, k])
    return [int(r[0]) for r in rows]


def vector_search(store: Store, qvec: np.ndarray, filters: SearchFilters | None,
                  k: int) -> list[tuple[int, float]]:
    """(rowid, cosine) best first: exact over few candidates, binary KNN + rescoring otherwise."""
    if flt.is_empty(filters):
        total = int(store.conn().execute("SELECT count(*) FROM memory_vectors").fetchone()[0])
        if total > EXACT_VECTOR_LIMIT and store.vector_table_ready():
            return _binary_knn(store, qvec, None, k)
        return _exact(store, qvec, None, k)
    where, args = flt.where(filters)
    count = int(store.conn().execute(
        f"SELECT count(*) FROM memories m WHERE {where}", args).fetchone()[0])
    if count <= EXACT_VECTOR_LIMIT * 5 or not store.vector_table_ready():
        return _exact(store, qvec, filters, k)
    return _binary_knn(store, qvec, filters, k)


def _exact(store: Store, qvec: np.ndarray, filters: SearchFilters | None,
           k: int) -> list[tuple[int, float]]:
    where, args = flt.where(filters)
    rows = store.conn().execute(
        "SELECT v.rowid, v.vector FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid"
        f" WHERE {where}", args).fetchall()
    return _rank_by_cosine(rows, qvec, k)


def _binary_knn(store: Store, qvec: np.ndarray, filters: SearchFilters | None,
                k: int) -> list[tuple[int, float]]:
    oversample = max(BINARY_OVERSAMPLE, k * 10) * (8 if filters is not None else 1)
    blob = np.asarray(qvec, dtype=np.float32).tobytes()
    ids = [int(r[0]) for r in store.conn().execute(
        f"SELECT rowid FROM {VEC_TABLE} WHERE embedding MATCH vec_quantize_binary(?) AND k = ?",
        (blob, min(oversample, 4096)))]
    if not ids:
        return []
    where, args = flt.where(filters)
    marks = ",".join("?" * len(ids))
    rows = store.conn().execute(
        "SELECT v.rowid, v.vector FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid"
        f" WHERE v.rowid IN ({marks}) AND {where}", [*ids, *args]).fetchall()
    return _rank_by_cosine(rows, qvec, k)


def _rank_by_cosine(rows: Sequence[tuple[int, bytes]], qvec: np.ndarray,
                    k: int) -> list[tuple[int, float]]:
    if not rows:
        return []
    dim = len(qvec)
    valid = [(r[0], r[1]) for r in rows if len(r[1]) == dim * 4]
    if not valid:
        return []
    matrix = np.frombuffer(b"".join(v[1] for v in valid), dtype=np.float32).reshape(-1, dim)
    sims = matrix @ np.asarray(qvec, dtype=np.float32)
    top = np.argsort(-sims)[:k]
    return [(int(valid[i][0]), float(sims[i])) for i in top]


def fuse(rankings: dict[str, Sequence[int]], weights: dict[str, float] | None = None) -> list[Candidate]:
    """Reciprocal-rank fusion: score = Σ weight / (RRF_K + rank) over the retrievers."""
    merged: dict[int, Candidate] = {}
    for name, rowids in rankings.items():
        weight = (weights or {}).get(name, 1.0)
        for rank, rowid in enumerate(rowids, start=1):
            cand = merged.setdefault(rowid, Candidate(rowid))
            cand.ranks[name] = rank
            cand.score += weight / (RRF_K + rank)
    return sorted(merged.values(), key=lambda c: c.score, reverse=True)


def snippet(store: Store, rowid: int, query: str, fallback: str, width: int = 200) -> str:
    """The best-matching fragment of a memory for ``query`` (FTS5 snippet), else its start."""
    match = fts_query(query)
    if match:
        row = store.conn().execute(
            "SELECT snippet(memory_fts, 1, '**', '**', '…', 24) FROM memory_fts"
            " WHERE memory_fts MATCH ? AND rowid = ?", (match, rowid)).fetchone()
        if row and row[0] and "**" in row[0]:
            return str(row[0])
    text = " ".join(fallback.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def matched_words(query: str, text: str) -> list[str]:
    """The query words that occur in ``text`` (prefix match, like the porter stemmer's effect)."""
    lowered = text.lower()
    return [w for w in words(query) if w[: max(4, len(w) - 2)] in lowered][:6]


GraphRetriever = Callable[[Store, str, SearchFilters | None, int], list[int]]
