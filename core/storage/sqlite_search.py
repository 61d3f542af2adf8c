"""SQLite search primitives: FTS5 bm25 text candidates and vector candidates (1-bit
Hamming index + float rescoring, or exact cosine), both restricted by filters.

Fusion and ranking are not here (``core.search``): these return (rowid, score) lists that
``SqliteStorage`` turns into memory ids. Any word is safe: each is quoted, so FTS5
operators, quotes, ``*`` and ``:`` are searched for as text and never raise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.models import SearchFilters
from core.storage import sqlite_filters as flt
from core.storage.sqlite_store import Store
from core.storage.sqlite_vectors import cosines

COMMON_TERM_SHARE = 0.1
COMMON_TERM_MIN_STORE = 5_000
TEXT_SCORE_CAP = 1_000  # in a large store, a match set past this is scored from its newest end
EXACT_VECTOR_LIMIT = 2_000  # below this many candidates, exact cosine beats binary KNN
BINARY_OVERSAMPLE = 150
BROAD_FILTER_FACTOR = 4  # a filter passing ≥ 1/4 of the store takes a 4x larger Hamming sample


def _quoted(term: str) -> str:
    """One FTS5 string token: any text, operators and quotes included, matched literally."""
    return '"' + term.replace('"', '""') + '"'


# (rowid, bm25 relevance, memory id when the query joined the memory anyway, else None)
Scored = tuple[int, float, str | None]


def text_search(
    store: Store, terms: Sequence[str], filters: SearchFilters | None, k: int
) -> list[Scored]:
    """(rowid, bm25 relevance ≥ 0, memory id) best first; an explicit title weighs twice the content.

    In a large store, memories holding every word are looked for first: when at least
    ``k`` do, their best are the best of the full OR query too (in practice), and finding
    them skips scoring the tens of thousands of memories that hold only common words."""
    terms = list(terms)
    if not terms:
        return []
    if len(terms) >= 2 and _large(store):
        every = _bm25(store, " AND ".join(_quoted(t) for t in terms), filters, k)
        if len(every) >= k:
            return every
        # the few holding every word stay in, however old (the OR query may score only its newest)
        return _union(
            every,
            _bm25(
                store, " OR ".join(_quoted(t) for t in _selective_terms(store, terms)), filters, k
            ),
        )[:k]
    return _bm25(store, " OR ".join(_quoted(t) for t in terms), filters, k)


def _union(first: list[Scored], second: list[Scored]) -> list[Scored]:
    best = {row[0]: row for row in second}
    for row in first:
        if row[0] not in best or row[1] > best[row[0]][1]:
            best[row[0]] = row
    return sorted(best.values(), key=lambda row: (-row[1], -row[0]))


def _bm25(store: Store, match: str, filters: SearchFilters | None, k: int) -> list[Scored]:
    """The ``k`` best bm25 matches. In a large store only the newest TEXT_SCORE_CAP matches
    are scored (a common word can match tens of thousands of memories, and scoring is most
    of a query's cost), unless that leaves fewer than ``k`` that pass the filters."""
    large = _large(store)
    rows = _bm25_of(store, match, filters, k, TEXT_SCORE_CAP if large else None)
    # Without a filter, fewer than k rows means fewer than k matches: nothing was cut.
    if (
        large
        and len(rows) < k
        and not flt.is_empty(filters)
        and _matches_more_than(store, match, TEXT_SCORE_CAP)
    ):
        rows = _bm25_of(store, match, filters, k, None)
    return rows


def _matches_more_than(store: Store, match: str, n: int) -> bool:
    return (
        store.conn()
        .execute(
            "SELECT 1 FROM memory_fts WHERE memory_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            (match, n),
        )
        .fetchone()
        is not None
    )


def _bm25_of(
    store: Store, match: str, filters: SearchFilters | None, k: int, newest: int | None
) -> list[Scored]:
    # FTS5 walks its doclists newest first for ORDER BY rowid DESC, so the inner LIMIT
    # bounds the work; bm25() is only computed for the rows the inner query returns.
    # Equal scores: the newer memory first.
    matches = (
        "SELECT rowid, -bm25(memory_fts, 2.0, 1.0, 1.0) AS s FROM memory_fts"
        " WHERE memory_fts MATCH ?" + (" ORDER BY rowid DESC LIMIT ?" if newest is not None else "")
    )
    bound = [match] + ([newest] if newest is not None else [])
    if flt.is_empty(filters):
        rows = store.conn().execute(
            f"SELECT rowid, s, NULL FROM ({matches}) ORDER BY s DESC, rowid DESC LIMIT ?",
            [*bound, k],
        )
    else:
        where, args = flt.where(filters, indexed=False)
        rows = store.conn().execute(
            f"SELECT f.rowid, f.s, m.id FROM ({matches}) f JOIN memories m ON m.rowid = f.rowid"
            f" WHERE {where} ORDER BY f.s DESC, f.rowid DESC LIMIT ?",
            [*bound, *args, k],
        )
    return [(int(r[0]), float(r[1]), r[2]) for r in rows]


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
    row = (
        store.conn()
        .execute(
            "SELECT count(*) FROM (SELECT 1 FROM memory_fts WHERE memory_fts MATCH ? LIMIT ?)",
            (match, -1 if at_most is None else at_most),
        )
        .fetchone()
    )
    return int(row[0])


def vector_search(
    store: Store, qvec: np.ndarray, filters: SearchFilters | None, k: int
) -> list[tuple[int, float]]:
    """(rowid, cosine) best first: exact over few candidates, binary KNN + rescoring otherwise.

    Filters restrict the Hamming ranking itself, so a selective filter still gets its own
    nearest neighbours."""
    held = _held_exact(store, qvec, filters, k)
    if held is not None:  # a small store: its float vectors are in memory, search is exact
        return held
    if _at_most(store, filters, EXACT_VECTOR_LIMIT):
        return _exact(store, qvec, filters, k)
    return _binary_knn(store, qvec, filters, k, max(BINARY_OVERSAMPLE, 2 * k))


def _held_exact(
    store: Store, qvec: np.ndarray, filters: SearchFilters | None, k: int
) -> list[tuple[int, float]] | None:
    """Exact search over the vectors held in memory (None when the store is too large).

    With a filter, the best few of all are checked against it first: a project's scope
    passes nearly all of them, and listing every memory in scope costs more than the search."""
    if flt.is_empty(filters):
        return store.bit_index.exact(store.conn(), qvec, k)
    best = store.bit_index.exact(store.conn(), qvec, BROAD_FILTER_FACTOR * k)
    if best is None:
        return None
    where, args = flt.where(filters, indexed=False)
    marks = ",".join("?" * len(best))
    ok = (
        {
            int(r[0])
            for r in store.conn().execute(
                f"SELECT m.rowid FROM memories m WHERE m.rowid IN ({marks}) AND {where}",
                [*(r for r, _ in best), *args],
            )
        }
        if best
        else set()
    )
    hits = [(r, sim) for r, sim in best if r in ok][:k]
    if len(hits) >= k or len(best) < BROAD_FILTER_FACTOR * k:
        return hits
    return store.bit_index.exact(store.conn(), qvec, k, lambda: _passing(store, filters))


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
    found = (
        store.conn()
        .execute(
            f"SELECT count(*) FROM (SELECT 1 FROM memories m WHERE {where} LIMIT ?)", [*args, n + 1]
        )
        .fetchone()[0]
    )
    return int(found) <= n


def _exact(
    store: Store, qvec: np.ndarray, filters: SearchFilters | None, k: int
) -> list[tuple[int, float]]:
    if flt.is_empty(filters):  # no join: reading each memory's row too costs twice the scan
        rows = store.conn().execute("SELECT rowid, vector FROM memory_vectors").fetchall()
    else:
        where, args = flt.where(filters)
        rows = (
            store.conn()
            .execute(
                "SELECT v.rowid, v.vector FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid"
                f" WHERE {where}",
                args,
            )
            .fetchall()
        )
    return _rank_by_cosine(rows, qvec, k)


def _binary_knn(
    store: Store, qvec: np.ndarray, filters: SearchFilters | None, k: int, oversample: int
) -> list[tuple[int, float]]:
    # Hamming distance on 1-bit codes ranks coarsely; rescoring a few hundred candidates
    # with the float vectors restores recall@10 ≈ 0.97 at a fraction of an exact scan's cost.
    if flt.is_empty(filters):
        return _rank_by_cosine(
            _vectors_of(store, store.bit_index.search(store.conn(), qvec, oversample), None),
            qvec,
            k,
        )
    # With a filter, the Hamming ranking's head shows how much of the store passes it:
    # nearly all (a project's scope) needs no more candidates than no filter; a broad one
    # (≥ 1/4) passes enough of a 4x larger sample; a selective one restricts the ranking
    # itself, so it still gets its own nearest neighbours.
    ranked = store.bit_index.search(store.conn(), qvec, BROAD_FILTER_FACTOR * oversample)
    rows = _vectors_of(store, ranked[:oversample], filters)
    if len(rows) >= oversample * (1 - 1 / BROAD_FILTER_FACTOR) or len(ranked) <= oversample:
        return _rank_by_cosine(rows, qvec, k)
    if len(rows) >= oversample / BROAD_FILTER_FACTOR:
        return _rank_by_cosine(rows + _vectors_of(store, ranked[oversample:], filters), qvec, k)
    ids = store.bit_index.search(store.conn(), qvec, oversample, _passing(store, filters))
    return _rank_by_cosine(_vectors_of(store, ids, filters), qvec, k)


def _vectors_of(
    store: Store, ids: Sequence[int], filters: SearchFilters | None
) -> list[tuple[int, bytes]]:
    """(rowid, float vector) of the ``ids`` that pass ``filters``."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    if flt.is_empty(filters):
        return (
            store.conn()
            .execute(
                f"SELECT rowid, vector FROM memory_vectors WHERE rowid IN ({marks})", list(ids)
            )
            .fetchall()
        )
    where, args = flt.where(filters, indexed=False)
    return (
        store.conn()
        .execute(
            "SELECT v.rowid, v.vector FROM memory_vectors v JOIN memories m ON m.rowid = v.rowid"
            f" WHERE v.rowid IN ({marks}) AND {where}",
            [*ids, *args],
        )
        .fetchall()
    )


def _rank_by_cosine(
    rows: Sequence[tuple[int, bytes]], qvec: np.ndarray, k: int
) -> list[tuple[int, float]]:
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
