"""`devmem sync git` of a real history, old code against new, side by side in one run.

    python bench/git_import.py --baseline b351e55                # Click: first 1,500 + all
    python bench/git_import.py --baseline main --first 1500 --runs 3
    python bench/git_import.py --repo ~/src/shop --first 0       # 0: the whole history

Each variant runs the real CLI (``devmem --db … sync git <repo>``, DEVMEM_ENGINE=off) in a
process of its own, into a fresh store, so the clock includes the model's start. Its peak
RSS and CPU time come from the kernel (``os.wait4``), not from polling. ``--baseline REV``
exports this repository at REV (``git archive``) and runs it from there (PYTHONPATH) with
the same interpreter and packages, interleaved with the working tree's code (old, new, old,
new…): this machine's speed swings 2x, so only figures from the same run compare.

Prints per variant and history: commits, median wall seconds, commits/s, commits per CPU
second (what the sync costs whatever else runs), peak RSS (MB) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT.parent / "shared" / "datasets" / "gitwhy" / "click.bundle"
CACHE = Path(tempfile.gettempdir()) / "devmem-bench-cache"
RUN_CLI = "import sys; from cli.launch import main; sys.argv[0] = 'devmem'; sys.exit(main())"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def history(source: Path, first: int, into: Path) -> tuple[Path, int]:
    """A clone of ``source`` whose only branch holds its first ``first`` commits (0: all)."""
    target = into / f"history-{first or 'all'}"
    _git("clone", "-q", str(source), str(target))
    if first:
        order = _git("-C", str(target), "rev-list", "--reverse", "--topo-order", "HEAD").split()
        _git("-C", str(target), "checkout", "-q", "-B", "bench", order[min(first, len(order)) - 1])
    for branch in _git(
        "-C", str(target), "for-each-ref", "--format=%(refname:short)", "refs/heads"
    ).split():
        if branch != _git("-C", str(target), "branch", "--show-current").strip():
            _git("-C", str(target), "branch", "-q", "-D", branch)
    return target, int(_git("-C", str(target), "rev-list", "--count", "--branches"))


def export(rev: str, into: Path) -> Path:
    """This repository's tree at ``rev``, unpacked into ``into``."""
    into.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_sync(tree: Path, repo: Path, db: Path) -> dict[str, float]:
    """One sync in a child process: wall and CPU seconds, peak RSS in MB."""
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "DEVMEM_ENGINE": "off",
        "DEVMEM_CACHE_DIR": str(CACHE),
        "HF_HUB_OFFLINE": "1",
    }
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(
        # -P and cwd: the code comes from ``tree`` only, not from the folder the bench runs in
        [sys.executable, "-P", "-c", RUN_CLI, "--db", str(db), "sync", "git", str(repo)],
        env=env,
        cwd=tree,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    errors = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"sync failed ({tree}): {errors.decode(errors='replace')[-2000:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "load": load,
    }


def summarise(runs: list[dict[str, float]], commits: int) -> dict[str, Any]:
    wall = statistics.median(r["wall_s"] for r in runs)
    cpu = statistics.median(r["cpu_s"] for r in runs)
    return {
        "commits": commits,
        "runs": len(runs),
        "wall_s": round(wall, 1),
        "commits_per_s": round(commits / wall, 1),
        "commits_per_cpu_s": round(commits / cpu, 1),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "load": round(statistics.mean(r["load"] for r in runs), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, default=BUNDLE, help="a git bundle or repository")
    parser.add_argument(
        "--first", type=int, nargs="+", default=[1500, 0], help="commits per history (0: all)"
    )
    parser.add_argument("--baseline", help="a revision of this repository to compare with")
    parser.add_argument("--runs", type=int, default=1, help="runs per variant and history")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="devmem-import-") as tmp:
        work = Path(tmp)
        trees = {"new (this tree)": ROOT}
        if args.baseline:
            trees = {f"old ({args.baseline})": export(args.baseline, work / "old"), **trees}
        for first in args.first:
            repo, commits = history(args.repo, first, work)
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            for n in range(args.runs):
                for name, tree in trees.items():
                    db = work / f"{name[:3]}-{first}-{n}.db"
                    runs[name].append(run_sync(tree, repo, db))
                    print(f"  {name} {commits} commits: {runs[name][-1]}", file=sys.stderr)
            results += [{"variant": name, **summarise(r, commits)} for name, r in runs.items()]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(
        f"{'variant':24} {'commits':>7} {'wall s':>7} {'c/s':>6} {'c/CPU-s':>8} {'peak MB':>8} {'load':>5}"
    )
    for r in results:
        print(
            f"{r['variant']:24} {r['commits']:>7} {r['wall_s']:>7} {r['commits_per_s']:>6}"
            f" {r['commits_per_cpu_s']:>8} {r['peak_rss_mb']:>8} {r['load']:>5}"
        )


if __name__ == "__main__":
    main()
