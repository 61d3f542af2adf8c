"""PostgreSQL search primitives: full-text candidates (``tsvector`` + GIN, ranked with
``ts_rank``) and vector candidates (pgvector HNSW, cosine), both restricted by filters.

Text ranking mirrors the SQLite backend's economy: ranking every memory that holds a
common word is what costs (117 ms at 100k for an OR of four words), so in a large store the
memories holding every word are looked for first, and an OR query ranks only its newest
``TEXT_SCORE_CAP`` matches. Each word weighs by its rarity (an idf over capped counts),
as bm25 does, so the memory holding a rare word outranks those holding only common ones.
Any word is safe: each goes through ``plainto_tsquery`` as a parameter.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg

from core.acting import current_role
from core.models import SearchFilters
from core.storage import pg_rows as rows_sql
from core.storage.base import TextCandidate, VectorCandidate

Conn = psycopg.Connection[Any]
LARGE_STORE = 5_000  # from this many memories on, text search takes the capped path
TEXT_SCORE_CAP = 1_000  # an OR query in a large store ranks only its newest matches
DF_CAP = 5_000  # document frequencies are counted up to here (rarer words get exact idf)
EF_SEARCH = 100  # HNSW candidate list; at least k
RANK_WEIGHTS = "{0.1, 0.2, 0.5, 1.0}"  # D, C, B (content, tags), A (title): a title weighs 2x


def text_candidates(
    conn: Conn, terms: Sequence[str], filters: SearchFilters | None, k: int
) -> list[TextCandidate]:
    """Up to ``k`` memories holding any of ``terms``, best score first (newer on ties)."""
    total, found = _terms(conn, terms)
    if not found:
        return []
    queries = [q for q, _ in found]
    n = max(total, 1)
    weights = [math.log(1 + (n - df + 0.5) / (df + 0.5)) for _, df in found]  # bm25's idf
    if len(queries) >= 2 and total >= LARGE_STORE:
        every = _ranked(conn, queries, weights, " && ", filters, k, TEXT_SCORE_CAP, newest=False)
        if len(every) >= k:
            return every
        anyof = _ranked(conn, queries, weights, " || ", filters, k, TEXT_SCORE_CAP)
        return _union(every, anyof)[:k]
    cap = TEXT_SCORE_CAP if total >= LARGE_STORE else None
    return _ranked(conn, queries, weights, " || ", filters, k, cap)


def _terms(conn: Conn, terms: Sequence[str]) -> tuple[int, list[tuple[str, int]]]:
    """The store's size and, for each term that has lexemes (stopwords and punctuation have
    none), its ``tsquery`` text and how many memories match it.

    Counting a common word's matches costs milliseconds (each is a heap visit), so words the
    planner's statistics list among the most common lexemes take their count from there; the
    others are rarer, and counting them (up to DF_CAP) is cheap."""
    rows = conn.execute(
        "SELECT (SELECT coalesce(max(seq), 0) FROM memories), devmem_change_count(), q::text"
        " FROM (SELECT min(o) AS o, q"
        " FROM (SELECT o, plainto_tsquery('english', w) AS q FROM unnest(%s::text[])"
        " WITH ORDINALITY AS u(w, o)) x WHERE numnode(q) > 0 GROUP BY q) t ORDER BY o",
        (list(terms),),
    ).fetchall()
    if not rows:
        return 0, []
    total, changes, queries = int(rows[0][0]), int(rows[0][1]), [str(r[2]) for r in rows]
    common = _COMMON.lexemes(conn)
    df = {q: round(common[q.strip("'")] * total) for q in queries if q.strip("'") in common}
    viewer = _viewer(conn)
    df.update(_COUNTED.known(viewer, [q for q in queries if q not in df], changes))
    rest = [q for q in queries if q not in df]
    if rest:
        counts = conn.execute(
            "SELECT q, (SELECT count(*) FROM (SELECT 1 FROM memories m WHERE m.tsv @@ q::tsquery"
            " LIMIT %s) c) FROM unnest(%s::text[]) AS q",
            (DF_CAP, rest),
        ).fetchall()
        counted = {str(q): int(n) for q, n in counts}
        _COUNTED.keep(viewer, counted, changes)
        df.update(counted)
    return total, [(q, df[q]) for q in queries]


def _viewer(conn: Conn) -> str:
    """Whose view of the store a statement has: the database and the acting role."""
    role = current_role() or conn.info.user
    return f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}/{role}"


class _CountedWords:
    """Counts of words among the memories one person may see, as counted under their own
    role (row-level security applied), kept per (database, role).

    The planner's statistics (``_CommonLexemes``) are hidden from a person: they describe
    every row, others' private memories included, so a person counts each word of a query
    over what they may see. That costs a heap visit per match of the word in the whole
    store (the policy is checked on each), milliseconds for a word common anywhere. Words
    recur from query to query, so a count is reused, by the same role only: while nothing
    was written to the store since (the change counter), exactly; a count of ``KEEP_FROM``
    or more (where a few more memories move the word's weight by under 1 %) for ``TTL_S``
    seconds. Nothing here is computed with more rights than the person has, so nothing of
    what they may not see can reach them (tests/team/test_rls_sessions.py)."""

    TTL_S = 300.0
    KEEP_FROM = 200
    MAX_VIEWERS = 1_000
    MAX_WORDS = 5_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_viewer: dict[str, dict[str, tuple[float, int, int]]] = {}

    def known(self, viewer: str, queries: Sequence[str], changes: int) -> dict[str, int]:
        """The kept counts of ``queries`` still good at the store's change count."""
        now = time.monotonic()
        with self._lock:
            kept = self._by_viewer.get(viewer, {})
            found = {q: kept[q] for q in queries if q in kept}
        return {
            q: n
            for q, (at, stamp, n) in found.items()
            if stamp == changes or (n >= self.KEEP_FROM and now - at < self.TTL_S)
        }

    def keep(self, viewer: str, counts: dict[str, int], changes: int) -> None:
        now = time.monotonic()
        with self._lock:
            if viewer not in self._by_viewer and len(self._by_viewer) >= self.MAX_VIEWERS:
                self._by_viewer.clear()
            kept = self._by_viewer.setdefault(viewer, {})
            if len(kept) + len(counts) > self.MAX_WORDS:
                kept.clear()
            kept.update({q: (now, changes, n) for q, n in counts.items()})


_COUNTED = _CountedWords()


class _CommonLexemes:
    """The most common lexemes of ``memories.tsv`` and the share of memories holding each,
    from ``pg_stats`` (ANALYZE keeps the top ~1,000), per database, refreshed every few
    minutes. Empty when the statistics are not there yet, or hidden from a role under
    row-level security: then every word is counted."""

    TTL_S = 300.0

    def __init__(self) -> None:
        self._by_db: dict[str, tuple[float, dict[str, float]]] = {}

    def lexemes(self, conn: Conn) -> dict[str, float]:
        key = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}/{conn.info.user}"
        cached = self._by_db.get(key)
        if cached is not None and time.monotonic() - cached[0] < self.TTL_S:
            return cached[1]
        row = conn.execute(
            "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats"
            " WHERE schemaname = current_schema() AND tablename = 'memories' AND attname = 'tsv'"
        ).fetchone()
        found = dict(zip(row[0], row[1], strict=False)) if row and row[0] else {}
        self._by_db[key] = (time.monotonic(), found)
        return found


_COMMON = _CommonLexemes()


def _ranked(
    conn: Conn,
    queries: list[str],
    weights: list[float],
    joiner: str,
    filters: SearchFilters | None,
    k: int,
    cap: int | None,
    *,
    newest: bool = True,
) -> list[TextCandidate]:
    """The ``k`` best matches, of the ``cap`` newest only (``newest=False``: of the first
    ``cap`` the index lists, physically the oldest).

    The all-words query takes the first ones: words that go together ("leaks file
    descriptors") fool the planner, which multiplies their shares, expects a few dozen
    matches and uses the GIN index; ordering by age then fetches all 8,000 from the heap
    (60-120 ms at 100k), while the first 1,000 cost an eighth of that. When fewer than
    ``cap`` memories hold every word (the usual case) both are the same set."""
    match = joiner.join(["%s::tsquery"] * len(queries))
    score = " + ".join(f"%s * ts_rank('{RANK_WEIGHTS}', m.tsv, %s::tsquery, 1)" for _ in queries)
    where, wargs = rows_sql.where(filters)
    score_args: list[Any] = []
    for w, q in zip(weights, queries, strict=True):
        score_args += [w, q]
    # The inner LIMIT bounds the ranking work to the newest matches (GIN finds them all,
    # but ts_rank, the costly part, runs only on those).
    inner = f"SELECT m.seq, m.id, m.tsv FROM memories m WHERE m.tsv @@ ({match}) AND {where}"
    if cap is not None:
        inner += (" ORDER BY m.seq DESC" if newest else "") + " LIMIT %s"
    found = conn.execute(
        f"SELECT m.id, {score} AS s FROM ({inner}) m ORDER BY s DESC, m.seq DESC LIMIT %s",
        [*score_args, *queries, *wargs, *([cap] if cap is not None else []), k],
    ).fetchall()
    return [TextCandidate(str(r[0]), float(r[1])) for r in found]


def _union(first: list[TextCandidate], second: list[TextCandidate]) -> list[TextCandidate]:
    best = {c.memory_id: c for c in second}
    for c in first:
        if c.memory_id not in best or c.score > best[c.memory_id].score:
            best[c.memory_id] = c
    return sorted(best.values(), key=lambda c: -c.score)


def vector_candidates(
    conn: Conn, query: np.ndarray, filters: SearchFilters | None, k: int
) -> list[VectorCandidate]:
    """Up to ``k`` nearest memories by cosine (HNSW; a filter scans the index iteratively)."""
    qvec = np.asarray(query, dtype=np.float32)
    if k > EF_SEARCH:  # the connection's default (pg_db) looks at EF_SEARCH candidates
        conn.execute(f"SET LOCAL hnsw.ef_search = {int(k)}")
    if rows_sql.is_empty(filters):
        found = conn.execute(
            "SELECT v.memory_id, v.embedding <=> %s AS d FROM memory_vectors v ORDER BY d LIMIT %s",
            (qvec, k),
        ).fetchall()
    else:
        # hnsw.iterative_scan = relaxed_order (pg_db): the index keeps scanning until k rows
        # pass the filter; the few rows it returns out of order are sorted here
        where, args = rows_sql.where(filters)
        found = conn.execute(
            "SELECT v.memory_id, v.embedding <=> %s AS d FROM memory_vectors v"
            f" JOIN memories m ON m.id = v.memory_id WHERE {where} ORDER BY d LIMIT %s",
            [qvec, *args, k],
        ).fetchall()
    if k > EF_SEARCH:  # back to the default for the rest of a shared read session
        conn.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
    ranked = sorted(((str(r[0]), 1.0 - float(r[1])) for r in found), key=lambda x: -x[1])
    return [VectorCandidate(i, s) for i, s in ranked]
