"""Store upkeep: statistics, health checks (doctor), re-embedding, backups."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.embeddings import Embedder
from core.errors import StoreError
from core.models import ProgressCallback, ProgressEvent, no_progress
from core.storage import Storage


class Upkept(Protocol):
    """What upkeep needs of the service (which passes itself): storage, model, re-embedding."""

    @property
    def storage(self) -> Storage: ...

    @property
    def embedder(self) -> Embedder: ...

    def vectors_usable(self) -> bool: ...

    def vector_notice(self) -> str | None: ...

    def reset_vector_check(self) -> None: ...

    def embed_ids(self, memory_ids: Sequence[str]) -> int: ...


REINDEX_BATCH = 64
RECOVERY = (
    "Keep the damaged file; restore a backup (`cp BACKUP.db DB`), or rebuild from what still "
    "reads: `devmem --db DAMAGED.db export dump.jsonl && devmem --db NEW.db import dump.jsonl`. "
    "`devmem backup FILE` makes backups while the store is in use."
)


def stats(storage: Storage, embedder: Embedder) -> dict[str, Any]:
    """Counts by kind, project and source; sizes; model and graph status."""
    out: dict[str, Any] = {}
    for key, value in storage.stats().items():
        out[key] = value
        if key == "embedding_model":
            out["embedding_ready"] = embedder.is_ready()
    return out


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


def consistency(svc: Upkept) -> list[Check]:
    """Text, vector and ANN index rows agree with the memories; the database's integrity is ok."""
    h = svc.storage.health()
    checks = [Check("SQLite integrity", h.integrity == "ok", h.integrity, RECOVERY)]
    if h.integrity != "ok":
        return checks
    checks.append(
        Check(
            "full-text index",
            h.text_rows == h.memories and h.text_orphans == 0,
            f"{h.text_rows} rows for {h.memories} memories, {h.text_orphans} orphans",
            "Run `devmem reindex --text`.",
        )
    )
    vec_ok = h.vector_orphans == 0 and (h.ann_rows is None or h.ann_rows == h.vectors)
    if svc.embedder.is_ready():
        vec_ok = vec_ok and h.vectors == h.memories
    ann = h.ann_rows if h.ann_rows is not None else "no"
    checks.append(
        Check(
            "vector index",
            vec_ok,
            f"{h.vectors} vectors ({ann} in vec0) for {h.memories}"
            f" memories, {h.vector_orphans} orphans",
            "Run `devmem reindex`.",
        )
    )
    return checks


def doctor(svc: Upkept, *, check: bool = False, model_wait: float = 30.0) -> DoctorReport:
    report = DoctorReport()
    ok, detail = svc.storage.backend_check()
    report.checks.append(
        Check(
            "sqlite-vec",
            ok,
            detail,
            "" if ok else "pip install --force-reinstall sqlite-vec sqlean-py",
        )
    )
    report.checks.append(_model_check(svc, model_wait))
    schema = svc.storage.schema_version()
    report.checks.append(
        Check(
            "database",
            True,
            f"{svc.storage.location}, {svc.storage.count()} memories, schema v{schema}",
        )
    )
    if check:
        report.checks.extend(consistency(svc))
    return report


def _model_check(svc: Upkept, wait: float) -> Check:
    if svc.embedder.identity == "none":  # switched off on purpose: not a fault
        return Check(
            "embedding model", True, f"off ({svc.embedder.failure()}); text and graph search only"
        )
    if svc.embedder.wait(wait) and svc.vectors_usable():
        probe = svc.embedder.embed_query("doctor probe")
        return Check(
            "embedding model", True, f"{svc.embedder.identity} ({len(probe)} dims), offline"
        )
    notice = svc.vector_notice() or "not loaded"
    return Check(
        "embedding model",
        False,
        notice,
        "Run `devmem reindex` after a model change, or reinstall DevMemory "
        "(pip install --force-reinstall devmem-layer); text search works meanwhile.",
    )


def reindex(svc: Upkept, *, full: bool = True, progress: ProgressCallback = no_progress) -> int:
    """Re-embed every memory (``full``) or only those missing a vector; returns the count."""
    if not svc.embedder.wait(120):
        raise StoreError(f"Cannot reindex: {svc.vector_notice()}", hint="Run `devmem doctor`.")
    if full:
        with svc.storage.transaction() as tx:
            tx.reset_vectors(svc.embedder.identity, svc.embedder.dim)
        svc.reset_vector_check()
    svc.vectors_usable()
    total = len(svc.storage.ids_without_vectors(10**9))
    done = 0
    progress(ProgressEvent("reindex", 0, total, "embedding memories"))
    # A model of its own when the embedder offers one: its memory is freed when done.
    bulk = getattr(svc.embedder, "bulk_session", None)
    with bulk() if bulk is not None else contextlib.nullcontext():
        while batch := svc.storage.ids_without_vectors(REINDEX_BATCH):
            done += svc.embed_ids(batch)
            progress(ProgressEvent("reindex", done, total))
    return done


def reindex_text(svc: Upkept) -> int:
    """Rebuild the full-text index from the memories."""
    return svc.storage.rebuild_text_index()


def backup(svc: Upkept, dest: Path) -> Path:
    """A consistent copy made while the store is in use."""
    dest = dest.expanduser()
    svc.storage.backup(dest)
    return dest
