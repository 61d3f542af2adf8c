"""The connector framework: a sync context that batches upserts, deletions and the cursor.

A connector reads its source, turns items into :class:`core.models.MemoryInput` with
``source=<connector name>`` and a stable ``external_id``, and hands them to
:meth:`SyncContext.apply` with the cursor it reached. Each ``apply`` is one transaction
(``MemoryService.sync_batch``), so a sync killed half-way resumes from its last committed
batch: running it again gives the same final state as one clean run, and running it twice
adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core import (
    DevMemError,
    Memory,
    MemoryInput,
    MemoryService,
    ProgressCallback,
    ProgressEvent,
    WriteResult,
    no_progress,
)


@dataclass
class SyncReport:
    """What a sync did, for the summary line every UI prints."""

    connector: str
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # "<item>: <reason>"
    notes: list[str] = field(
        default_factory=list
    )  # imported with a caveat (e.g. bad UTF-8 replaced)
    dry_run: bool = False

    def summary(self) -> str:
        if not (self.added or self.updated or self.deleted or self.skipped):
            # a re-sync with nothing new: say so, instead of a row of zeros
            seen = f", {self.unchanged} unchanged" if self.unchanged else ""
            return f"{self.connector}: up to date{seen}"
        verb = "would add" if self.dry_run else "added"
        return (
            f"{self.connector}: {verb} {self.added}, updated {self.updated}, deleted {self.deleted},"
            f" unchanged {self.unchanged}, skipped {len(self.skipped)}"
        )


class Connector(Protocol):
    """One source of memories."""

    name: str

    def sync(self, ctx: SyncContext) -> SyncReport: ...


class SyncContext:
    """What a connector writes through: batching, dry-run, progress and the report."""

    def __init__(
        self,
        service: MemoryService,
        connector: str,
        *,
        dry_run: bool = False,
        progress: ProgressCallback = no_progress,
    ) -> None:
        self.service = service
        self.connector = connector
        self.dry_run = dry_run
        self.progress = progress
        self.report = SyncReport(connector, dry_run=dry_run)

    def apply(
        self,
        inputs: Sequence[MemoryInput],
        deletions: Sequence[str] = (),
        cursor: tuple[str, str] | None = None,
    ) -> None:
        """Upsert ``inputs``, delete ``deletions`` (external ids) and save ``cursor`` (scope,
        value) together. In a dry run nothing is written; the report says what would be."""
        if self.dry_run:
            self._classify(inputs, deletions)
            return
        full_cursor = (self.connector, cursor[0], cursor[1]) if cursor else None
        results = self.service.sync_batch(
            inputs, [(self.connector, d) for d in deletions], full_cursor
        )
        for r in results:
            self._count(r)

    def _classify(self, inputs: Sequence[MemoryInput], deletions: Sequence[str]) -> None:
        for inp in inputs:
            try:
                status = self.service.classify(inp)
            except DevMemError as exc:
                self.skip(inp.external_id or inp.title or "item", str(exc))
                continue
            self._tally(status)
        self.report.deleted += sum(
            1 for d in deletions if self.service.find_external(self.connector, d) is not None
        )

    def _count(self, result: WriteResult | Memory) -> None:
        if isinstance(result, Memory):
            self.report.deleted += 1
        else:
            self._tally(result.status)

    def _tally(self, status: str) -> None:
        if status == "created":
            self.report.added += 1
        elif status == "updated":
            self.report.updated += 1
        else:
            self.report.unchanged += 1

    def skip(self, item: str, reason: str) -> None:
        """Record an item left out, with the reason (bad encoding, too large, malformed…)."""
        self.report.skipped.append(f"{item}: {reason}")

    def tick(self, stage: str, done: int, total: int | None = None, message: str = "") -> None:
        self.progress(ProgressEvent(stage, done, total, message))

    def known_ids(self, prefix: str = "") -> dict[str, str]:
        """external id → content hash of what this connector imported before."""
        return self.service.external_ids(self.connector, prefix)

    def cursor(self, scope: str) -> str | None:
        return self.service.get_cursor(self.connector, scope)

    def save_cursor(self, scope: str, value: str) -> None:
        if not self.dry_run:
            self.service.set_cursor(self.connector, scope, value)
