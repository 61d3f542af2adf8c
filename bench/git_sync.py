"""Benchmark of the git connector: commits/s on a synthetic repository and on this one.

    python bench/git_sync.py                 # 5,000 synthetic commits + this repository
    python bench/git_sync.py --commits 20000 --json

The synthetic repository is written with ``git fast-import`` in a few seconds: 40 Python
modules of 25 functions each, every commit rewriting one to three functions with a varied
message, ten authors. Each run syncs into a fresh store with the real embedding model
(loaded before the clock starts) and reports the total rate, the time spent embedding, and
the time of an immediate re-sync (the incremental no-op).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from connectors.base import SyncContext  # noqa: E402
from connectors.git import GitConnector  # noqa: E402
from core.embeddings import FastEmbedEmbedder  # noqa: E402
from core.service import MemoryService  # noqa: E402

MODULES, FUNCTIONS = 40, 25
VERBS = [
    "Fix",
    "Refactor",
    "Speed up",
    "Simplify",
    "Harden",
    "Document",
    "Handle",
    "Rework",
    "Guard",
]
NOUNS = [
    "cache invalidation",
    "retry loop",
    "config parsing",
    "token refresh",
    "pagination",
    "error message",
    "timeout",
    "unicode handling",
    "rate limiting",
    "schema migration",
    "batch writes",
    "logging",
    "path handling",
    "date parsing",
    "connection pool",
]
WHY = [
    "it broke on empty input",
    "users hit it on slow networks",
    "the old code leaked handles",
    "to make the tests deterministic",
    "after the incident in staging",
    "it was quadratic",
    "to match the API docs",
    "because Windows paths differ",
    "to stop double counting",
]
AUTHORS = [(f"Dev {n}", f"dev{n}@example.com") for n in range(10)]


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent embedding documents."""

    def __init__(self, inner: FastEmbedEmbedder) -> None:
        self.inner = inner
        self.identity, self.dim = inner.identity, inner.dim
        self.seconds = 0.0
        self.texts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - start
            self.texts += len(texts)


def _module(m: int, versions: list[int]) -> bytes:
    lines = [f'"""Module {m}: helpers for service {m}."""', "", "import os", ""]
    for f, v in enumerate(versions):
        lines += [
            "",
            f"def handler_{m}_{f}(value, options=None):",
            f'    """Handle case {f} of module {m}."""',
            f"    limit = {v} * {f + 1}",
            "    if value is None:",
            "        return limit",
            f"    return os.path.join(str(value), 'v{v}')",
            "",
        ]
    return ("\n".join(lines) + "\n").encode()


def make_repo(path: Path, commits: int, seed: int = 7) -> None:
    """A repository of ``commits`` commits, written by ``git fast-import``."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    versions = [[0] * FUNCTIONS for _ in range(MODULES)]
    out: list[bytes] = []
    t0 = 1_600_000_000
    for n in range(commits):
        name, email = AUTHORS[rng.randrange(len(AUTHORS))]
        touched = {rng.randrange(MODULES) for _ in range(rng.choice((1, 1, 2, 3)))}
        changes = []
        for m in sorted(touched):
            f = rng.randrange(FUNCTIONS)
            versions[m][f] += 1
            changes.append((m, f))
        m, f = changes[0]
        msg = (
            f"{rng.choice(VERBS)} {rng.choice(NOUNS)} in handler_{m}_{f}\n\n"
            f"Changed because {rng.choice(WHY)} (#{n}).\n"
        ).encode()
        stamp = f"{name} <{email}> {t0 + n * 600} +0000".encode()
        out += [
            b"commit refs/heads/main\n",
            b"author " + stamp + b"\n",
            b"committer " + stamp + b"\n",
            b"data %d\n" % len(msg),
            msg,
        ]
        for m in sorted(touched if n else range(MODULES)):
            blob = _module(m, versions[m])
            out += [f"M 100644 inline pkg/mod_{m}.py\n".encode(), b"data %d\n" % len(blob), blob]
        out.append(b"\n")
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(out), check=True
    )
    subprocess.run(["git", "-C", str(path), "checkout", "-q", "main"], check=True)


def measure(repo: Path, embedder: FastEmbedEmbedder, workdir: Path, label: str) -> dict[str, Any]:
    """Sync ``repo`` into a fresh store, then re-sync; the figures of both runs."""
    timed = TimedEmbedder(embedder)
    svc = MemoryService.open(workdir / f"{label}.db", timed)
    try:
        start, cpu_start, load = time.perf_counter(), time.process_time(), os.getloadavg()[0]
        report = GitConnector(repo).sync(SyncContext(svc, "git"))
        total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        start = time.perf_counter()
        again = GitConnector(repo).sync(SyncContext(svc, "git"))
        resync = time.perf_counter() - start
    finally:
        svc.close()
    commits = report.added + report.updated + report.unchanged
    return {
        "repo": label,
        "commits": commits,
        "seconds": round(total, 2),
        "commits_per_s": round(commits / total, 1) if total else None,
        "embedding_seconds": round(timed.seconds, 2),
        "commits_per_s_without_embedding": round(commits / (total - timed.seconds), 1)
        if total > timed.seconds
        else None,
        "embedded_texts": timed.texts,
        "resync_seconds": round(resync, 3),
        # CPU time of this process (all threads): what the sync costs whatever else runs
        "cpu_seconds": round(cpu, 2),
        "commits_per_cpu_s": round(commits / cpu, 1) if cpu else None,
        "load_average_at_start": round(load, 2),
        "cores": os.cpu_count(),
        "resync_added": again.added,
        "summary": report.summary(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=5_000)
    parser.add_argument(
        "--self-repo", type=Path, default=ROOT, help="the real repository to measure"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="devmem-bench-") as tmp:
        work = Path(tmp)
        embedder = FastEmbedEmbedder(work / "models").start()
        if not embedder.wait(180):
            print(f"embedding model unavailable: {embedder.failure()}", file=sys.stderr)
            return 1
        start = time.perf_counter()
        make_repo(work / "synthetic", args.commits)
        built = time.perf_counter() - start
        results = [
            measure(work / "synthetic", embedder, work, "synthetic"),
            measure(args.self_repo, embedder, work, args.self_repo.name),
        ]
    results[0]["build_seconds"] = round(built, 2)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for r in results:
        print(
            f"{r['repo']}: {r['commits']} commits in {r['seconds']} s = {r['commits_per_s']} commits/s"
            f" (embedding {r['embedding_seconds']} s for {r['embedded_texts']} texts; "
            f"{r['commits_per_s_without_embedding']} commits/s without it); "
            f"re-sync {r['resync_seconds']} s, added {r['resync_added']}; "
            f"{r['cpu_seconds']} CPU s = {r['commits_per_cpu_s']} commits per CPU-second "
            f"(load average {r['load_average_at_start']} on {r['cores']} cores)"
        )
    print(f"synthetic repository built with git fast-import in {results[0]['build_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
