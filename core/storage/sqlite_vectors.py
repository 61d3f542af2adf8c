"""An in-process index of 1-bit vector codes for fast approximate KNN, kept in sync with SQLite.

sqlite-vec's vec0 KNN cost grows with k (≈ 90 ms for k = 200 at 70k rows here), too slow
for a 20 ms budget at 100k memories. The same binary codes in a numpy array answer a
Hamming top-k over 100k rows in a few ms; the float vectors stored in SQLite then rescore
the few hundred candidates. Several processes share the database, so the cache follows an
append-only change log (``vector_changes``) instead of assuming it saw every write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from core.storage.sqlite_codes import codes_of

if TYPE_CHECKING:
    from core.storage.sqlite_db import Connection

Codes = npt.NDArray[np.uint64]
LOG_KEEP = 200_000  # change-log rows kept; a cache further behind reloads in full
FLOAT_CACHE_MAX = 20_000  # up to this many vectors (30 MB), the float vectors stay in memory too
Floats = npt.NDArray[np.float32]


def record(conn: Connection, rowid: int, vector: np.ndarray | None) -> None:
    """Store (or, with ``None``, remove) a vector's code and log the change, in the caller's
    transaction."""
    if vector is None:
        conn.execute("DELETE FROM memory_bits WHERE rowid = ?", (rowid,))
    else:
        conn.execute(
            "INSERT OR REPLACE INTO memory_bits(rowid, bits) VALUES (?, ?)",
            (rowid, codes_of(vector)),
        )
    cur = conn.execute("INSERT INTO vector_changes(rowid) VALUES (?)", (rowid,))
    seq = int(cur.lastrowid or 0)
    if seq % 5_000 == 0:
        conn.execute("DELETE FROM vector_changes WHERE seq < ?", (seq - LOG_KEEP,))


class BitIndex:
    """The codes of every vector in one store, refreshed from the change log before use.

    Rows are appended into arrays with spare capacity (doubling), so a write seen through
    the change log costs its own row, not a copy of a million codes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = -1
        self._n = 0  # rows in use; the arrays below may be longer
        self._rowids = np.zeros(0, dtype=np.int64)
        self._codes: Codes = np.zeros((0, 0), dtype=np.uint64)
        self._alive = np.zeros(0, dtype=bool)
        self._pos: dict[int, int] = {}
        # A small store's float vectors, row for row with the codes: exact search then
        # costs one matrix product instead of reading every vector from SQLite per query.
        self._floats: Floats | None = None
        self._float_ok = np.zeros(0, dtype=bool)  # False where a code has no float vector
        self._reload = False

    def search(
        self,
        conn: Connection,
        query: np.ndarray,
        k: int,
        allowed: npt.NDArray[np.int64] | None = None,
    ) -> list[int]:
        """Rowids of the ``k`` codes nearest to ``query`` by Hamming distance (only among
        ``allowed`` rowids when given: a filter applied before ranking, not after)."""
        with self._lock:
            self._refresh(conn)
            if not self._pos:
                return []
            n = self._n
            q = _matrix([codes_of(query)])[0]
            # one contiguous column of codes at a time (they are stored column-major):
            # 8x faster than a row-wise popcount sum at 100k codes
            dist = np.bitwise_count(self._codes[:n, 0] ^ q[0]).astype(np.uint16)
            for j in range(1, len(q)):
                dist += np.bitwise_count(self._codes[:n, j] ^ q[j])
            excluded = ~self._alive[:n]
            if allowed is not None:
                excluded |= ~np.isin(self._rowids[:n], allowed)
            worst = 64 * len(q) + 1  # above any real distance
            dist[excluded] = worst
            k = min(k, n - int(excluded.sum()))
            if k <= 0:
                return []
            return [int(r) for r in self._rowids[_smallest(dist, k, worst)]]

    def exact(
        self,
        conn: Connection,
        query: np.ndarray,
        k: int,
        passing: Callable[[], npt.NDArray[np.int64] | None] = lambda: None,
    ) -> list[tuple[int, float]] | None:
        """(rowid, cosine) of the ``k`` nearest vectors (among the rowids ``passing()``
        returns, unless None), or None when the store is too large for its float vectors
        to be held in memory (``passing`` is then not called)."""
        with self._lock:
            self._refresh(conn)
            if self._floats is None:
                return None
            n = self._n
            keep = self._alive[:n] & self._float_ok[:n]
            allowed = passing()
            if allowed is not None:
                keep &= np.isin(self._rowids[:n], allowed)
            k = min(k, int(keep.sum()))
            if k <= 0:
                return []
            # every row in place (a gather of the kept rows would copy the whole matrix)
            sims = cosines(self._floats[:n], query)
            sims[~keep] = -np.inf
            top = np.argpartition(-sims, k - 1)[:k]
            top = top[np.argsort(-sims[top], kind="stable")]
            return [(int(self._rowids[i]), float(sims[i])) for i in top]

    def _refresh(self, conn: Connection) -> None:
        latest = int(conn.execute("SELECT coalesce(max(seq), 0) FROM vector_changes").fetchone()[0])
        if latest == self._seq:
            return
        oldest = conn.execute("SELECT min(seq) FROM vector_changes").fetchone()[0]
        if self._seq < 0 or (oldest is not None and int(oldest) > self._seq + 1):
            self._load_all(conn, latest)
            return
        changed = [
            int(r[0])
            for r in conn.execute(
                "SELECT DISTINCT rowid FROM vector_changes WHERE seq > ?", (self._seq,)
            )
        ]
        self._apply(conn, changed)
        if self._reload:  # vectors of another size (a new model) arrived: start over
            self._load_all(conn, latest)
        else:
            self._seq = latest

    def _load_all(self, conn: Connection, latest: int) -> None:
        count = int(conn.execute("SELECT count(*) FROM memory_bits").fetchone()[0])
        with_floats = count <= FLOAT_CACHE_MAX
        rows = conn.execute(
            _SELECT_FLOATS + " ORDER BY b.rowid"
            if with_floats
            else "SELECT rowid, bits FROM memory_bits ORDER BY rowid"
        ).fetchall()
        self._n = len(rows)
        self._rowids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        self._codes = np.asfortranarray(_matrix([r[1] for r in rows]))
        if with_floats:
            dim = len(rows[-1][2] or b"") // 4 if rows else 0  # the newest vectors' model
            self._floats, self._float_ok = _floats([r[2] for r in rows], dim)
        else:
            self._floats, self._float_ok = None, np.zeros(len(rows), dtype=bool)
        self._alive = np.ones(len(rows), dtype=bool)
        self._pos = {int(r): i for i, r in enumerate(self._rowids)}
        self._seq = latest
        self._reload = False

    def _apply(self, conn: Connection, changed: list[int]) -> None:
        current: dict[int, tuple[bytes, bytes | None]] = {}
        for start in range(0, len(changed), 500):
            chunk = changed[start : start + 500]
            marks = ",".join("?" * len(chunk))
            current.update(
                (int(r[0]), (r[1], r[2]))
                for r in conn.execute(f"{_SELECT_FLOATS} WHERE b.rowid IN ({marks})", chunk)
            )
        words = self._codes.shape[1]  # uint64 words per code
        if self._n and any(-(-len(bits) // 8) != words for bits, _ in current.values()):
            self._reload = True  # codes of another size (a new model): the caller starts over
            return
        new_rows = [r for r in changed if r in current and r not in self._pos]
        if self._floats is not None and len(self._pos) + len(new_rows) > FLOAT_CACHE_MAX:
            self._floats = None  # grown too large to hold: rescoring reads SQLite from now on
        for rowid in changed:
            pos = self._pos.get(rowid)
            if pos is not None and rowid in current:
                self._codes[pos] = _matrix([current[rowid][0]])[0]
                if self._floats is not None:
                    self._set_float(pos, current[rowid][1])
            elif pos is not None:
                self._alive[pos] = False
                del self._pos[rowid]
        if new_rows:
            self._append(new_rows, [current[r] for r in new_rows])
        if self._n - len(self._pos) > max(1000, self._n // 4):
            self._compact()

    def _set_float(self, pos: int, blob: bytes | None) -> None:
        assert self._floats is not None
        dim = self._floats.shape[1]
        if blob and len(blob) == dim * 4:
            self._floats[pos] = np.frombuffer(blob, dtype=np.float32)
            self._float_ok[pos] = True
        else:
            self._float_ok[pos] = False
            if blob:
                self._reload = True  # another model's size

    def _compact(self) -> None:
        keep = self._alive[: self._n]
        self._rowids, self._codes = (
            self._rowids[: self._n][keep],
            np.asfortranarray(self._codes[: self._n][keep]),
        )
        if self._floats is not None:
            self._floats = self._floats[: self._n][keep]
        self._float_ok = self._float_ok[: self._n][keep]
        self._n = len(self._rowids)
        self._alive = np.ones(self._n, dtype=bool)
        self._pos = {int(r): i for i, r in enumerate(self._rowids)}

    def _append(self, rowids: list[int], rows: list[tuple[bytes, bytes | None]]) -> None:
        base, need = self._n, self._n + len(rows)
        added = _matrix([r[0] for r in rows])
        if base == 0:
            self._codes = np.zeros((0, added.shape[1]), dtype=np.uint64, order="F")
        self._codes = _room(self._codes, base, need, order="F")
        self._codes[base:need] = added
        self._rowids = _room(self._rowids, base, need)
        self._rowids[base:need] = rowids
        self._alive = _room(self._alive, base, need)
        self._alive[base:need] = True
        self._float_ok = _room(self._float_ok, base, need)
        self._float_ok[base:need] = False
        if self._floats is not None:
            dim = self._floats.shape[1] if base else len(rows[0][1] or b"") // 4
            more, ok = _floats([r[1] for r in rows], dim)
            if base == 0:
                self._floats = np.zeros((0, dim), dtype=np.float32)
            self._floats = _room(self._floats, base, need)
            self._floats[base:need] = more
            self._float_ok[base:need] = ok
            if not ok.all() and any(r[1] for r in rows):
                self._reload = True  # vectors of another size (a new model)
        self._pos.update((r, base + i) for i, r in enumerate(rowids))
        self._n = need


def cosines(matrix: npt.NDArray[np.float32], query: np.ndarray) -> npt.NDArray[np.float32]:
    """``matrix @ query`` for unit vectors, without BLAS: OpenBLAS splits even a 150-row
    product across threads, which then wait on the cores onnxruntime's threads still spin
    on after embedding the query (a 10k-row product measured 15 ms that way, 0.7 ms here)."""
    sims: npt.NDArray[np.float32] = np.einsum(
        "ij,j->i", matrix, np.asarray(query, dtype=np.float32)
    )
    return sims


def _smallest(dist: npt.NDArray[np.uint16], k: int, worst: int) -> npt.NDArray[np.intp]:
    """Positions of the ``k`` smallest distances, nearest first (ties by position).

    Distances are small integers, so a histogram finds the cut-off distance and only the
    few positions at or under it are sorted (5x faster than argpartition at 100k)."""
    counts = np.cumsum(np.bincount(dist, minlength=worst + 1))
    cut = int(np.searchsorted(counts, k))
    near = np.flatnonzero(dist <= cut)
    return near[np.argsort(dist[near], kind="stable")][:k]


def _room(
    array: npt.NDArray[Any], used: int, need: int, order: Literal["C", "F"] = "C"
) -> npt.NDArray[Any]:
    """``array`` with room for ``need`` rows, its first ``used`` kept (capacity doubles)."""
    if len(array) >= need:
        return array
    grown = np.zeros(
        (max(need, 2 * len(array), 64), *array.shape[1:]), dtype=array.dtype, order=order
    )
    grown[:used] = array[:used]
    return grown


_SELECT_FLOATS = (
    "SELECT b.rowid, b.bits, v.vector FROM memory_bits b"
    " LEFT JOIN memory_vectors v ON v.rowid = b.rowid"
)


def _floats(blobs: list[bytes | None], dim: int) -> tuple[Floats, npt.NDArray[np.bool_]]:
    """Float vectors of ``dim`` from their blobs, and which rows had one (a missing or
    other-sized blob leaves a row of zeros that exact search skips)."""
    ok = np.fromiter(
        (b is not None and dim > 0 and len(b) == dim * 4 for b in blobs),
        dtype=np.bool_,
        count=len(blobs),
    )
    out = np.zeros((len(blobs), dim), dtype=np.float32)
    if ok.all() and len(blobs):
        out[:] = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)  # type: ignore[arg-type]
    else:
        for i in np.flatnonzero(ok):
            out[i] = np.frombuffer(blobs[i], dtype=np.float32)  # type: ignore[arg-type]
    return out, ok


def _matrix(codes: list[bytes]) -> Codes:
    if not codes:
        return np.zeros((0, 0), dtype=np.uint64)
    width = len(codes[0])
    padded = [c.ljust(-(-width // 8) * 8, b"\0") for c in codes]
    return np.frombuffer(b"".join(padded), dtype=np.uint64).reshape(len(codes), -1).copy()
