"""Store upkeep: statistics, health checks (doctor), re-embedding, backups."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import db, graph
from core.errors import StoreError
from core.models import ProgressCallback, ProgressEvent, no_progress

if TYPE_CHECKING:
    from core.service import MemoryService

REINDEX_BATCH = 64
RECOVERY = ("Keep the damaged file; restore a backup (`cp BACKUP.db DB`), or rebuild from what still "
            "reads: `devmem --db DAMAGED.db export dump.jsonl && devmem --db NEW.db import dump.jsonl`. "
            "`devmem backup FILE` makes backups while the store is in use.")


def stats(svc: MemoryService) -> dict[str, Any]:
    """Counts by kind, project and source; sizes; model and graph status."""
    conn = svc.store.conn()

    def grouped(column: str) -> dict[str, int]:
        return {str(r[0] if r[0] is not None else "(none)"): int(r[1]) for r in conn.execute(
            f"SELECT {column}, count(*) FROM memories GROUP BY {column} ORDER BY 2 DESC LIMIT 50")}

    vectors = int(conn.execute("SELECT count(*) FROM memory_vectors").fetchone()[0])
    size = sum(os.path.getsize(p) for p in _db_files(svc.store.path))
    return {
        "memories": svc.store.count(), "vectors": vectors, "by_kind": grouped("kind"),
        "by_project": grouped("project"), "by_source": grouped("source"),
        "links": int(conn.execute("SELECT count(*) FROM memory_links").fetchone()[0]),
        "db_path": svc.store.path, "db_bytes": size,
        "embedding_model": db.get_meta(conn, "embedding_model"),
        "embedding_ready": svc.embedder.is_ready(), **graph.stats(svc.store),
        "schema_version": int(db.get_meta(conn, "schema_version") or 0),
    }


def _db_files(path: str) -> list[str]:
    return [p for p in (path, path + "-wal", path + "-shm") if os.path.exists(p)]


@dataclass
class Check:
    """One line of `devmem doctor`: what was checked, whether it is fine, and what to do."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def consistency(svc: MemoryService) -> list[Check]:
    """FTS, vector, tag and graph rows agree with the memories table; SQLite integrity is ok."""
    conn = svc.store.conn()
    integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    checks = [Check("SQLite integrity", integrity == "ok", integrity,
                    RECOVERY)]
    if integrity != "ok":  # counting rows of a damaged file may itself fail
        return checks
    memories = svc.store.count()
    fts = int(conn.execute("SELECT count(*) FROM memory_fts").fetchone()[0])
    orphans_fts = int(conn.execute(
        "SELECT count(*) FROM memory_fts WHERE rowid NOT IN (SELECT rowid FROM memories)").fetchone()[0])
    checks.append(Check("full-text index", fts == memories and orphans_fts == 0,
                        f"{fts} rows for {memories} memories, {orphans_fts} orphans",
                        "Run `devmem reindex --text`."))
    vectors = int(conn.execute("SELECT count(*) FROM memory_vectors").fetchone()[0])
    orphans_vec = int(conn.execute(
        "SELECT count(*) FROM memory_vectors WHERE rowid NOT IN (SELECT rowid FROM memories)").fetchone()[0])
    vec0 = _vec0_count(svc)
    vec_ok = orphans_vec == 0 and (vec0 is None or vec0 == vectors)
    if svc.embedder.is_ready():
        vec_ok = vec_ok and vectors == memories
    checks.append(Check("vector index", vec_ok,
                        f"{vectors} vectors ({vec0 if vec0 is not None else 'no'} in vec0) for {memories}"
                        f" memories, {orphans_vec} orphans", "Run `devmem reindex`."))
    return checks


def _vec0_count(svc: MemoryService) -> int | None:
    if not svc.store.vector_table_ready():
        return None
    return int(svc.store.conn().execute("SELECT count(*) FROM memory_vec_rowids").fetchone()[0])


def doctor(svc: MemoryService, *, check: bool = False, model_wait: float = 30.0) -> DoctorReport:
    report = DoctorReport()
    report.checks.append(_sqlite_vec_check(svc))
    report.checks.append(_model_check(svc, model_wait))
    report.checks.append(Check("database", True, f"{svc.store.path}, {svc.store.count()} memories,"
                               f" schema v{db.get_meta(svc.store.conn(), 'schema_version')}"))
    if check:
        report.checks.extend(consistency(svc))
    return report


def _sqlite_vec_check(svc: MemoryService) -> Check:
    try:
        version = svc.store.conn().execute("SELECT vec_version()").fetchone()[0]
    except Exception as exc:  # the extension did not load: say so, do not crash the doctor
        return Check("sqlite-vec", False, str(exc), "pip install --force-reinstall sqlite-vec sqlean-py")
    return Check("sqlite-vec", True, f"sqlite-vec {version} loaded")


def _model_check(svc: MemoryService, wait: float) -> Check:
    if svc.embedder.identity == "none":  # switched off on purpose: not a fault
        return Check("embedding model", True, f"off ({svc.embedder.failure()}); text and graph search only")
    if svc.embedder.wait(wait) and svc.vectors_usable():
        probe = svc.embedder.embed_query("doctor probe")
        return Check("embedding model", True, f"{svc.embedder.identity} ({len(probe)} dims), offline")
    notice = svc.vector_notice() or "not loaded"
    return Check("embedding model", False, notice,
                 "Run `devmem reindex` after a model change, or reinstall devmemory "
                 "(pip install --force-reinstall devmemory); text search works meanwhile.")


def reindex(svc: MemoryService, *, full: bool = True, progress: ProgressCallback = no_progress) -> int:
    """Re-embed every memory (``full``) or only those missing a vector; returns the count."""
    if not svc.embedder.wait(120):
        raise StoreError(f"Cannot reindex: {svc.vector_notice()}", hint="Run `devmem doctor`.")
    if full:
        with svc.store.write() as conn:
            svc.store.reset_vectors(conn, svc.embedder.identity, svc.embedder.dim)
        svc.reset_vector_check()
    svc.vectors_usable()
    total = len(svc.store.rowids_without_vectors(10**9))
    done = 0
    progress(ProgressEvent("reindex", 0, total, "embedding memories"))
    # A model of its own when the embedder offers one: its memory is freed when done.
    bulk = getattr(svc.embedder, "bulk_session", None)
    with bulk() if bulk is not None else contextlib.nullcontext():
        while batch := svc.store.rowids_without_vectors(REINDEX_BATCH):
            done += svc.embed_rowids(batch)
            progress(ProgressEvent("reindex", done, total))
    return done


def reindex_text(svc: MemoryService) -> int:
    """Rebuild the FTS5 index from the memories table."""
    from core.store import fts_title

    with svc.store.write() as conn:
        conn.execute("DELETE FROM memory_fts")
        offset: int | None = 0
        while offset is not None:
            page = svc.list(limit=200, offset=offset, order="created")
            for m in page.memories:
                rowid = svc.store.rowid_of(m.id)
                conn.execute("INSERT INTO memory_fts(rowid, title, content, tags) VALUES (?, ?, ?, ?)",
                             (rowid, fts_title(m), m.content, " ".join(m.tags)))
            offset = page.next_offset
    return svc.store.count()


def backup(svc: MemoryService, dest: Path) -> Path:
    """A consistent copy made with SQLite's online backup API (safe while others write)."""
    dest = dest.expanduser()
    if dest.exists():
        raise StoreError(f"{dest} already exists.", hint="Choose a new file name; nothing was overwritten.")
    target = db.connect(dest)
    try:
        svc.store.conn().backup(target)
    finally:
        target.close()
    return dest
