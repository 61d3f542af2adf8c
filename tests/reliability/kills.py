"""Kill a bulk import with SIGKILL at random moments and check the store after every kill.

Used by tests/reliability/test_crash_safety.py (50 kills, most text-only) and by
bench/stress.py (50 kills, all with the embedding model). The import is
``import_driver.py`` (core's ``sync_batch`` in batches of 8, cursor in the same
transaction); it prints ``ACK`` lines only after each batch has committed. Kill moments:
7 in 10 within 0.5 s after the run's first commit (while it writes), 1 in 10 within 0.3 s
after the store (and model) is ready, 2 in 10 within 0.6 s of the start (start-up).

After every kill the store must: open; pass ``PRAGMA integrity_check`` and
``maintenance.consistency``; have no orphan rows; hold every ACKed memory under its id,
with its FTS row, and with its vector when the run had the model; and hold exactly the
items before its cursor (a batch is all there or not at all). A final run finishes each
job and a re-run from the start adds nothing: N memories per job, no duplicates.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests import sqlite_backend
from tests.reliability.helpers import opened, rows_with_vectors, store_problems

DRIVER = Path(__file__).with_name("import_driver.py")
CONNECTOR = "reliability-import"
WORDS = (
    "cache index store sync memory search embed vector query token batch retry queue worker "
    "config schema migration session note graph entity commit branch deploy build sqlite wal "
    "lock pragma checkpoint journal fsync rollback"
).split()


def write_items(path: Path, n: int, seed: int = 7) -> Path:
    """``n`` import records, each with a unique marker word, varied length and Unicode."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 60)))
            out.write(
                json.dumps(
                    {
                        "external_id": f"item-{i:06d}",
                        "title": f"Import item {i}",
                        "content": f"Item {i} marker k{i:06d}x: {body}. Ünïcødé ✓ 日本語 🚀",
                        "tags": [rng.choice(WORDS)],
                        "kind": rng.choice(["note", "log", "decision"]),
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return path


@dataclass
class Ack:
    memory_id: str
    vectors: bool


@dataclass
class KillReport:
    """What a series of kills did and found."""

    kills: int = 0
    during_writes: int = 0  # kills that landed after at least one batch of that run committed
    before_first_commit: int = 0  # kills before the run's first commit (start-up, first batch)
    with_model: int = 0
    finished_runs: int = 0  # runs that completed before their kill moment
    acked: dict[str, dict[str, Ack]] = field(default_factory=dict)  # source → external id → ack
    problems: list[str] = field(default_factory=list)
    jobs: int = 0
    duplicates: int = 0
    final_count: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def acked_total(self) -> int:
        return sum(len(a) for a in self.acked.values())


class KillRunner:
    """Runs import jobs of ``n`` items against ``db``, killing them as told."""

    def __init__(self, db: Path, env: dict[str, str], work: Path, n: int, seed: int = 1) -> None:
        self.db, self.env, self.work, self.n = db, env, work, n
        self.rng = random.Random(seed)
        self.items = write_items(work / "items.jsonl", n)
        self.report = KillReport()
        self.source = self._next_source()

    def _next_source(self) -> str:
        self.report.jobs += 1
        source = f"import-job-{self.report.jobs}"
        self.report.acked[source] = {}
        return source

    def _spawn(
        self, out: Path, *, model: bool, from_start: bool = False
    ) -> subprocess.Popen[bytes]:
        env = {**self.env, "DEVMEM_EMBEDDINGS": "1" if model else "0"}
        args = [
            sys.executable,
            str(DRIVER),
            str(self.items),
            "--source",
            self.source,
            "--batch",
            "8",
        ]
        with out.open("wb") as stdout, (self.work / "driver-stderr.log").open("ab") as stderr:
            return subprocess.Popen(
                [*args, *(["--from-start"] if from_start else [])],
                env=env,
                stdout=stdout,
                stderr=stderr,
            )

    def kill_once(self, *, model: bool) -> None:
        """Start the import, SIGKILL it at a random moment, record its ACKs, check the store."""
        out = self.work / f"run-{self.report.kills + self.report.finished_runs}.out"
        started = time.monotonic()
        proc = self._spawn(out, model=model)
        moment = self.rng.random()
        if moment < 0.7:  # mostly while it writes (after its first commit)
            _wait_for(out, "ACK", proc, 180)
            time.sleep(self.rng.uniform(0.0, 0.5))
        elif moment < 0.8:  # model loaded, first batch being prepared or written
            _wait_for(out, "READY", proc, 180)
            time.sleep(self.rng.uniform(0.0, 0.3))
        else:  # start-up: imports, opening the store, migration, model load
            time.sleep(self.rng.uniform(0.0, 0.6))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            self.report.kills += 1
            self.report.with_model += int(model)
        else:
            self.report.finished_runs += 1
        acks, done = self._read(out)
        if proc.returncode == -signal.SIGKILL:
            if acks:
                self.report.during_writes += 1
            else:
                self.report.before_first_commit += 1
        self.check(f"after kill {self.report.kills} ({time.monotonic() - started:.2f} s in)")
        if done:  # this job is complete: the next kills work on a new one
            self.source = self._next_source()

    def _read(self, out: Path) -> tuple[int, bool]:
        acks, done = 0, False
        for line in out.read_text(encoding="utf-8").splitlines(keepends=True):
            if not line.endswith("\n"):
                continue  # cut off by the kill mid-line: not acknowledged
            parts = line.split()
            if parts and parts[0] == "ACK":
                self.report.acked[self.source][parts[2]] = Ack(parts[3], parts[4] == "1")
                acks += 1
            done = done or (bool(parts) and parts[0] == "DONE")
        return acks, done

    def check(self, when: str) -> None:
        """Every invariant of the store; a problem is recorded with when it was seen."""
        with opened(self.db) as svc:
            found = [f"{when}: {p}" for p in store_problems(svc)]
            for source, acked in self.report.acked.items():
                found += [f"{when}: {source}: {p}" for p in _check_job(svc, source, acked)]
        self.report.problems += found

    def finish(self) -> None:
        """Run every job to its end, then once more from the start: it must add nothing."""
        for source in list(self.report.acked):
            self.source = source
            for from_start in (False, True):
                out = self.work / f"finish-{source}-{int(from_start)}.out"
                proc = self._spawn(out, model=False, from_start=from_start)
                if proc.wait(600) != 0:
                    self.report.problems.append(
                        f"{source}: the finishing run exited {proc.returncode}"
                    )
                    continue
                _, done = self._read(out)
                last = out.read_text().strip().splitlines()[-1].split()
                if from_start and (not done or last[1] != "0"):
                    self.report.problems.append(
                        f"{source}: the re-run from the start wrote again: {last}"
                    )
        self.check("after finishing every job")
        with opened(self.db) as svc:
            conn = sqlite_backend.conn(svc)
            for source in self.report.acked:
                self.report.final_count[source] = len(svc.external_ids(source))
            self.report.duplicates = sum(
                int(r[1]) - 1
                for r in conn.execute(
                    "SELECT content_hash, count(*) FROM memories GROUP BY source, content_hash, project"
                    " HAVING count(*) > 1"
                )
            )


def _check_job(svc, source: str, acked: dict[str, Ack]) -> list[str]:
    problems: list[str] = []
    rows = {
        str(r[0]): str(r[1])
        for r in sqlite_backend.conn(svc).execute(
            "SELECT external_id, id FROM memories WHERE source = ?", (source,)
        )
    }
    lost = [ext for ext, ack in acked.items() if rows.get(ext) != ack.memory_id]
    if lost:
        problems.append(f"{len(lost)} acknowledged memories lost or changed, e.g. {lost[:3]}")
    cursor = int(svc.get_cursor(CONNECTOR, source) or 0)
    expected = {f"item-{i:06d}" for i in range(cursor)}
    if set(rows) != expected:
        extra, missing = sorted(set(rows) - expected), sorted(expected - set(rows))
        problems.append(
            f"cursor {cursor} disagrees with the rows: {len(extra)} beyond it "
            f"{extra[:3]}, {len(missing)} missing {missing[:3]} (a half-written batch)"
        )
    want_vectors = [a.memory_id for a in acked.values() if a.vectors]
    without = set(want_vectors) - rows_with_vectors(svc, want_vectors)
    if without:
        problems.append(
            f"{len(without)} acknowledged memories lack their vector, e.g. {sorted(without)[:3]}"
        )
    return problems


def _wait_for(out: Path, word: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and word in out.read_text(encoding="utf-8", errors="replace"):
            return
        time.sleep(0.01)


def run_kills(
    db: Path,
    env: dict[str, str],
    work: Path,
    *,
    kills: int,
    n: int,
    model: Callable[[int], bool],
    seed: int = 1,
) -> KillReport:
    """``kills`` SIGKILLs (``model(i)``: whether kill i runs with the embedding model)."""
    started = time.monotonic()
    runner = KillRunner(db, env, work, n, seed)
    attempts = 0
    while runner.report.kills < kills and attempts < kills * 3:
        runner.kill_once(model=model(runner.report.kills))
        attempts += 1
    runner.finish()
    runner.report.seconds = time.monotonic() - started
    return runner.report
