"""Copy a personal store into the team store: ``devmem migrate --to postgresql://…``.

Every memory of the source becomes a private memory of the person the target connection
signs in as, written through the service's restore path (validation, redaction, embedding,
one transaction per batch; ids, times, versions and provenance kept) and linked as before.
A memory already in the team store (by id) is left alone, so running it again after an
interruption copies only the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from core.models import ProgressCallback, ProgressEvent, no_progress
from core.portability import import_records, iter_all, memory_record
from core.service import MemoryService

REPORT_EVERY = 50


@dataclass(frozen=True)
class MigrateResult:
    """What a migration did: memories read, copied now, and found already there."""

    total: int
    copied: int
    already_there: int


def migrate_store(
    source: MemoryService, target: MemoryService, progress: ProgressCallback = no_progress
) -> MigrateResult:
    """Copy every memory of ``source`` into ``target`` as the target login's private memories."""
    total = source.storage.count()
    progress(ProgressEvent("copying", 0, total))
    copied, present = import_records(target, _records(source, total, progress))
    progress(ProgressEvent("done", total, total, f"{copied} copied, {present} already there"))
    return MigrateResult(total, copied, present)


def _records(
    source: MemoryService, total: int, progress: ProgressCallback
) -> Iterator[dict[str, Any]]:
    for done, memory in enumerate(iter_all(source), start=1):
        # a personal memory lands private: sharing it is the owner's later decision
        yield memory_record(source, replace(memory, visibility="private"))
        if done % REPORT_EVERY == 0:
            progress(ProgressEvent("copying", done, total, memory.title[:60]))
