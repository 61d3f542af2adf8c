"""Crash safety: kill -9 a bulk import at 50 random moments; nothing acknowledged is lost.

Fifty kills with a model load each would take minutes, so 45 of the 50 runs are text-only
(``DEVMEM_EMBEDDINGS=0``: the same transactions without the vector rows) and 5 load the
real model and write vectors. ``bench/stress.py --kills 50`` does all 50 with the model.
Seven kills in ten land while the import writes; the others, on purpose, during start-up
(open, migration, model load) or the first batch (see kills.py).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlean as sqlite3

from core.ids import new_id
from tests.reliability.helpers import DEVMEM, cli, opened, store_problems
from tests.reliability.kills import run_kills, write_items

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

KILLS = 50
MODEL_KILLS = {9, 19, 29, 39, 49}  # which of the 50 run with the embedding model
ITEMS = 2_500


def test_fifty_kills_of_a_bulk_import_lose_nothing_acknowledged(tmp_path, env, figures):
    report = run_kills(
        tmp_path / "memories.db",
        env,
        tmp_path,
        kills=KILLS,
        n=ITEMS,
        model=lambda i: i in MODEL_KILLS,
    )

    figures["crash: kills survived"] = (
        f"{report.kills} SIGKILLs ({report.during_writes} during writes, {report.before_first_commit} "
        f"before a run's first commit, {report.with_model} with the model), {report.acked_total()} "
        f"acknowledged writes, {len(report.problems)} problems, {report.duplicates} duplicates, "
        f"{report.jobs} jobs of {ITEMS}, {report.seconds:.0f} s"
    )
    assert report.problems == []
    assert report.kills == KILLS and report.with_model == len(MODEL_KILLS)
    assert report.during_writes >= KILLS // 2  # the kills really hit the import at work
    assert report.duplicates == 0
    assert set(report.final_count.values()) == {ITEMS}


def _export_records(path: Path, n: int) -> Path:
    """A `devmem export` file of ``n`` memories (ids given, so a re-import can skip them)."""
    items = write_items(path.with_suffix(".items"), n, seed=11)
    with path.open("w", encoding="utf-8") as out:
        for line in items.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            out.write(
                json.dumps(
                    {
                        "format": "devmemory/1",
                        "id": new_id(),
                        "title": item["title"],
                        "content": item["content"],
                        "kind": item["kind"],
                        "tags": item["tags"],
                        "created_at": "2025-03-01T10:00:00Z",
                        "project": "crash",
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return path


def test_killed_devmem_import_resumes_without_duplicates(tmp_path, text_env, figures):
    """The CLI's own bulk import (`devmem import`, batches of 64) killed, then re-run."""
    n, rng = 4_000, random.Random(5)
    records = _export_records(tmp_path / "export.jsonl", n)
    ids = {json.loads(line)["id"] for line in records.read_text(encoding="utf-8").splitlines()}
    seen: list[int] = []
    while len(seen) < 5:
        proc = subprocess.Popen(
            [DEVMEM, "import", str(records)],
            env=text_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_rows(Path(text_env["DEVMEM_DB"]), seen[-1] if seen else 0, proc)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is not None:
            break  # it finished first
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with opened(text_env["DEVMEM_DB"]) as svc:
            assert store_problems(svc) == []
            assert {m.id for m in _all(svc)} <= ids  # nothing but the records
            seen.append(svc.store.count())
    assert len(seen) >= 3, seen  # at least three kills landed before the import finished

    done = cli(text_env, "import", str(records), timeout=300)
    assert done.returncode == 0, done.stderr
    again = cli(text_env, "import", str(records), timeout=300)
    assert again.returncode == 0 and f"imported 0, already present {n}" in again.stdout, (
        again.stdout
    )
    with opened(text_env["DEVMEM_DB"]) as svc:
        assert store_problems(svc) == []
        assert svc.store.count() == n
        stored = {m.id for m in _all(svc)}
    assert stored == ids
    figures["crash: devmem import"] = (
        f"{len(seen)} SIGKILLs at {seen} memories, then resumed to {n}/{n}, re-run imported 0"
    )


def _wait_for_rows(db: Path, more_than: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the import has committed something new (read through WAL, no lock taken)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
                if conn.execute("SELECT count(*) FROM memories").fetchone()[0] > more_than:
                    return
        except sqlite3.Error:  # not created yet
            pass
        time.sleep(0.05)


def _all(svc):
    offset = 0
    while offset is not None:
        page = svc.list(limit=200, offset=offset)
        yield from page.memories
        offset = page.next_offset
