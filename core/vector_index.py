"""An in-process index of 1-bit vector codes for fast approximate KNN, kept in sync with SQLite.

sqlite-vec's vec0 KNN cost grows with k (≈ 90 ms for k = 200 at 70k rows here), too slow
for a 20 ms budget at 100k memories. The same binary codes in a numpy array answer a
Hamming top-k over 100k rows in a few ms; the float vectors stored in SQLite then rescore
the few hundred candidates. Several processes share the database, so the cache follows an
append-only change log (``vector_changes``) instead of assuming it saw every write.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from core.db import Connection
    from core.store import Store

Codes = npt.NDArray[np.uint64]
LOG_KEEP = 200_000  # change-log rows kept; a cache further behind reloads in full


def codes_of(vector: np.ndarray) -> bytes:
    """The 1-bit code of a vector (sign of each dimension), packed."""
    return np.packbits(np.asarray(vector) > 0).tobytes()


def record(conn: Connection, rowid: int, vector: np.ndarray | None) -> None:
    """Store (or, with ``None``, remove) a vector's code and log the change, in the caller's
    transaction."""
    if vector is None:
        conn.execute("DELETE FROM memory_bits WHERE rowid = ?", (rowid,))
    else:
        conn.execute("INSERT OR REPLACE INTO memory_bits(rowid, bits) VALUES (?, ?)",
                     (rowid, codes_of(vector)))
    cur = conn.execute("INSERT INTO vector_changes(rowid) VALUES (?)", (rowid,))
    seq = int(cur.lastrowid or 0)
    if seq % 5_000 == 0:
        conn.execute("DELETE FROM vector_changes WHERE seq < ?", (seq - LOG_KEEP,))


class BitIndex:
    """The codes of every vector in one store, refreshed from the change log before use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = -1
        self._rowids = np.zeros(0, dtype=np.int64)
        self._codes: Codes = np.zeros((0, 0), dtype=np.uint64)
        self._alive = np.zeros(0, dtype=bool)
        self._pos: dict[int, int] = {}

    def search(self, store: Store, query: np.ndarray, k: int,
               allowed: npt.NDArray[np.int64] | None = None) -> list[int]:
        """Rowids of the ``k`` codes nearest to ``query`` by Hamming distance (only among
        ``allowed`` rowids when given: a filter applied before ranking, not after)."""
        with self._lock:
            self._refresh(store)
            if not self._pos:
                return []
            q = _matrix([codes_of(query)])[0]
            dist = np.bitwise_count(self._codes ^ q).sum(axis=1, dtype=np.int32)
            excluded = ~self._alive
            if allowed is not None:
                excluded |= ~np.isin(self._rowids, allowed)
                k = min(k, int((~excluded).sum()))
                if k == 0:
                    return []
            dist[excluded] = np.iinfo(np.int32).max
            k = min(k, len(self._pos))
            top = np.argpartition(dist, k - 1)[:k]
            top = top[np.argsort(dist[top], kind="stable")]
            return [int(r) for r in self._rowids[top]]

    def _refresh(self, store: Store) -> None:
        conn = store.conn()
        latest = int(conn.execute("SELECT coalesce(max(seq), 0) FROM vector_changes").fetchone()[0])
        if latest == self._seq:
            return
        oldest = conn.execute("SELECT min(seq) FROM vector_changes").fetchone()[0]
        if self._seq < 0 or (oldest is not None and int(oldest) > self._seq + 1):
            self._load_all(conn, latest)
            return
        changed = [int(r[0]) for r in conn.execute(
            "SELECT DISTINCT rowid FROM vector_changes WHERE seq > ?", (self._seq,))]
        self._apply(conn, changed)
        self._seq = latest

    def _load_all(self, conn: Connection, latest: int) -> None:
        rows = conn.execute("SELECT rowid, bits FROM memory_bits ORDER BY rowid").fetchall()
        self._rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        self._codes = _matrix([r[1] for r in rows])
        self._alive = np.ones(len(rows), dtype=bool)
        self._pos = {int(r): i for i, r in enumerate(self._rowids)}
        self._seq = latest

    def _apply(self, conn: Connection, changed: list[int]) -> None:
        current: dict[int, bytes] = {}
        for start in range(0, len(changed), 500):
            chunk = changed[start:start + 500]
            marks = ",".join("?" * len(chunk))
            current.update((int(r[0]), r[1]) for r in conn.execute(
                f"SELECT rowid, bits FROM memory_bits WHERE rowid IN ({marks})", chunk))
        new_rows = [r for r in changed if r in current and r not in self._pos]
        for rowid in changed:
            pos = self._pos.get(rowid)
            if pos is not None and rowid in current:
                self._codes[pos] = _matrix([current[rowid]])[0]
            elif pos is not None:
                self._alive[pos] = False
                del self._pos[rowid]
        if new_rows:
            self._append(new_rows, [current[r] for r in new_rows])
        if (~self._alive).sum() > max(1000, len(self._alive) // 4):
            self._compact()

    def _compact(self) -> None:
        keep = self._alive
        self._rowids, self._codes = self._rowids[keep], self._codes[keep]
        self._alive = np.ones(len(self._rowids), dtype=bool)
        self._pos = {int(r): i for i, r in enumerate(self._rowids)}

    def _append(self, rowids: list[int], codes: list[bytes]) -> None:
        base = len(self._rowids)
        added = _matrix(codes)
        self._codes = added if base == 0 else np.vstack([self._codes, added])
        self._rowids = np.concatenate([self._rowids, np.asarray(rowids, dtype=np.int64)])
        self._alive = np.concatenate([self._alive, np.ones(len(rowids), dtype=bool)])
        self._pos.update((r, base + i) for i, r in enumerate(rowids))


def _matrix(codes: list[bytes]) -> Codes:
    if not codes:
        return np.zeros((0, 0), dtype=np.uint64)
    width = len(codes[0])
    padded = [c.ljust(-(-width // 8) * 8, b"\0") for c in codes]
    return np.frombuffer(b"".join(padded), dtype=np.uint64).reshape(len(codes), -1).copy()
