"""A bulk import to kill: JSON Lines → ``MemoryService.sync_batch`` in small batches.

    python tests/reliability/import_driver.py ITEMS.jsonl --source NAME [--batch 8] [--from-start]

The store and the model come from the environment, as for every entry point (``DEVMEM_DB``,
``DEVMEM_CACHE_DIR``, ``DEVMEM_EMBEDDINGS=0`` for text only). Like a connector, it keeps a
cursor (the number of lines imported) in the same transaction as each batch, so a restart
resumes where the last committed batch ended; ``--from-start`` ignores the cursor (a re-run
of the whole job, which must add nothing).

Protocol on stdout, one line each, flushed at once:

    READY <vectors 0|1>                                     service open (and model loaded)
    ACK <line> <external id> <memory id> <vectors 0|1>      written AFTER its batch committed
    DONE <created> <unchanged>                              the whole file is imported

A line is printed only after the transaction holding it has committed, so every ACK is a
write the store has acknowledged: a test that kills this process with SIGKILL at any moment
may demand that every ACKed memory is in the store, complete.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from core.config import Settings, build_service  # noqa: E402
from core.models import Memory, MemoryInput, WriteResult  # noqa: E402
from core.service import MemoryService  # noqa: E402

CONNECTOR = "reliability-import"


def items(path: Path, start: int) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh):
            if number >= start and line.strip():
                yield number, json.loads(line)


def to_input(record: dict[str, Any], source: str) -> MemoryInput:
    return MemoryInput(
        content=record["content"],
        title=record["title"],
        kind=record.get("kind", "note"),
        tags=list(record.get("tags", [])),
        project=record.get("project", "crash"),
        source=source,
        external_id=record["external_id"],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("jsonl", type=Path)
    p.add_argument("--source", required=True)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--from-start", action="store_true")
    args = p.parse_args(argv)

    svc = build_service(Settings.from_env(os.environ))
    vectors = svc.embedder.wait(120) and svc.vectors_usable()
    emit(f"READY {int(vectors)}")
    start = 0 if args.from_start else int(svc.get_cursor(CONNECTOR, args.source) or 0)
    counts = {"created": 0, "unchanged": 0, "updated": 0}
    batch: list[tuple[int, MemoryInput]] = []
    for number, record in items(args.jsonl, start):
        batch.append((number, to_input(record, args.source)))
        if len(batch) >= args.batch:
            write(svc, batch, args.source, vectors, counts)
            batch = []
    write(svc, batch, args.source, vectors, counts)
    emit(f"DONE {counts['created']} {counts['unchanged']}")
    svc.close()
    return 0


def write(
    svc: MemoryService,
    batch: list[tuple[int, MemoryInput]],
    source: str,
    vectors: bool,
    counts: dict[str, int],
) -> None:
    if not batch:
        return
    cursor = (CONNECTOR, source, str(batch[-1][0] + 1))
    results = svc.sync_batch([inp for _, inp in batch], cursor=cursor)
    lines = []
    for (number, inp), result in zip(batch, results, strict=True):
        assert isinstance(result, WriteResult) and not isinstance(result, Memory)
        counts[result.status] = counts.get(result.status, 0) + 1
        lines.append(f"ACK {number} {inp.external_id} {result.memory.id} {int(vectors)}")
    emit("\n".join(lines))  # only now: the transaction above has committed


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
