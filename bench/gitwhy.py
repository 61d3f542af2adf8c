""" "Why is this code like this?" on real git history (protocol: shared/datasets/gitwhy/README.md).

    python bench/gitwhy.py                                   # Click (the bundle) + its questions
    python bench/gitwhy.py --questions bench/data/gitwhy_devmemory.json --repo /work/main
    python bench/gitwhy.py --db /tmp/click.db                # reuse (or keep) the synced store

The repository (a git bundle or a folder) is cloned into a temporary folder and imported
into a fresh store with the real CLI, ``devmem --db … sync git <clone>`` (the connector
as users run it; the clock includes the model's start). Each question is then asked
through ``MemoryService.recall`` (hybrid, top 10, in process: what MCP, LSP and the CLI
call). A question is answered when its commit (or an alternate, e.g. the merge of that
very commit) is among the hits. Prints hit@1, hit@5, hit@10 and MRR@10 overall, per fold
(the two halves used to cross-validate any tuning) and per kind of question (a pasted
error message, a described behaviour, a "why does X do Y"), the misses with what ranked
first, sync commits/s and search p50/p95 (ms, query embedding included).
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
from collections import defaultdict
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.embeddings import FastEmbedEmbedder  # noqa: E402
from core.service import MemoryService  # noqa: E402

DEVMEM = Path(sys.executable).with_name("devmem")
BUNDLE = ROOT.parent / "shared" / "datasets" / "gitwhy" / "click.bundle"
QUESTIONS = ROOT / "bench" / "data" / "gitwhy_click.json"
CACHE = Path(tempfile.gettempdir()) / "devmem-bench-cache"
HOVER_ENTRIES = 3  # what a hover shows (lsp_server/hover.py MAX_ENTRIES)


def clone(source: Path, into: Path) -> Path:
    """A normal repository with the full history of ``source`` (a bundle or a repository)."""
    target = into / source.stem
    subprocess.run(["git", "clone", "-q", str(source), str(target)], check=True)
    return target


def sync(repo: Path, db: Path) -> dict[str, float]:
    """Import the whole history with the real CLI; commits and wall time."""
    commits = int(
        subprocess.run(
            ["git", "-C", str(repo), "rev-list", "--count", "HEAD", "--branches"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    env = {**os.environ, "DEVMEM_CACHE_DIR": str(CACHE)}
    start = time.perf_counter()
    subprocess.run(
        [str(DEVMEM), "--db", str(db), "sync", "git", str(repo)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - start
    return {"commits": commits, "sync_s": round(elapsed, 1), "commits_per_s": commits / elapsed}


def rank_of(hits: list[str], wanted: set[str]) -> int | None:
    """1-based rank of the first hit that is an answer, None when none of the hits is."""
    return next((i for i, sha in enumerate(hits, start=1) if sha in wanted), None)


def ask(svc: MemoryService, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every question's rank of its answer, the hits' titles and the time taken."""
    out = []
    for q in questions:
        t0 = time.perf_counter()
        result = svc.recall(q["question"], limit=10)
        elapsed = (time.perf_counter() - t0) * 1000
        shas = [str(h.memory.metadata.get("sha", "")) for h in result.hits]
        wanted = {*q["answer"], *q.get("alternates", [])}
        out.append(
            {
                **q,
                "rank": rank_of(shas, wanted),
                "ms": elapsed,
                "top": [
                    f"{s[:8]} {h.memory.title[:70]}" for s, h in zip(shas, result.hits, strict=True)
                ][:3],
            }
        )
    return out


def hover_check(svc: MemoryService, questions: list[dict[str, Any]]) -> dict[str, float]:
    """For each answer commit anchored to a function: is it among the three memories the
    editor's code-context rules show for that function (``context_for_file``, as a hover)?"""
    shown = total = 0
    external = {ext.rsplit(":", 1)[-1]: ext for ext in svc.storage.external_ids("git")}
    for q in questions:
        ext = external.get(q["answer"][0])
        found = svc.storage.find_external("git", ext) if ext else None
        anchor = found.anchor if found else None
        if anchor is None or not anchor.symbol:
            continue
        total += 1
        hits = svc.context_for_file(anchor.path, symbol=anchor.symbol, limit=HOVER_ENTRIES)
        wanted = {*q["answer"], *q.get("alternates", [])}
        shown += any(h.memory.metadata.get("sha") in wanted for h in hits)
    return {
        "anchored_answers": total,
        f"hover@{HOVER_ENTRIES}": round(shown / total, 3) if total else 0.0,
    }


def figures(answered: list[dict[str, Any]]) -> dict[str, float]:
    ranks = [a["rank"] for a in answered]
    n = len(ranks) or 1
    return {
        "hit@1": round(sum(1 for r in ranks if r == 1) / n, 3),
        "hit@5": round(sum(1 for r in ranks if r and r <= 5) / n, 3),
        "hit@10": round(sum(1 for r in ranks if r and r <= 10) / n, 3),
        "mrr": round(sum(1 / r for r in ranks if r) / n, 3),
        "questions": len(ranks),
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(
    answered: list[dict[str, Any]], synced: dict[str, float], hover: dict[str, float]
) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for a in answered:
        groups[f"fold {a.get('fold', 0)}"].append(a)
        groups[f"kind {a.get('kind', '?')}"].append(a)
    latencies = [a["ms"] for a in answered]
    return {
        "all": figures(answered),
        **{name: figures(group) for name, group in sorted(groups.items())},
        "sync": synced,
        "hover": hover,
        "search_p50_ms": round(statistics.median(latencies), 2),
        "search_p95_ms": round(percentile(latencies, 95), 2),
        "misses": [
            {"id": a["id"], "rank": a["rank"], "question": a["question"], "top": a["top"]}
            for a in answered
            if a["rank"] != 1
        ],
    }


def store(db: Path | None, source: Path, workdir: Path) -> tuple[Path, dict[str, float]]:
    """The synced store: the one at ``db`` when it already exists, else a fresh import."""
    if db is not None and db.exists():
        return db, {"commits": 0, "sync_s": 0.0, "commits_per_s": 0.0}
    target = db or workdir / "gitwhy.db"
    return target, sync(clone(source, workdir), target)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repo", type=Path, default=BUNDLE, help="a git bundle or repository")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--db", type=Path, help="reuse this synced store (made when missing)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    questions = json.loads(args.questions.read_text(encoding="utf-8"))["questions"]
    with tempfile.TemporaryDirectory() as tmp:
        db, synced = store(args.db, args.repo, Path(tmp))
        embedder = FastEmbedEmbedder(CACHE).start()
        if not embedder.wait(120):
            sys.exit(f"embedding model unavailable: {embedder.failure()}")
        svc = MemoryService.open(db, embedder)
        try:
            out = report(ask(svc, questions), synced, hover_check(svc, questions))
        finally:
            svc.close()
    if args.json:
        print(json.dumps(out))
        return
    print_report(args.questions.name, out)


def print_report(name: str, out: dict[str, Any]) -> None:
    print(f"gitwhy ({name})")
    for group, figs in out.items():
        if isinstance(figs, dict) and "hit@1" in figs:
            print(f"  {group:>16}: " + "  ".join(f"{k} {v}" for k, v in figs.items()))
    s = out["sync"]
    print(f"  sync: {s['commits']} commits in {s['sync_s']} s = {s['commits_per_s']:.1f} commits/s")
    print(f"  search p50 {out['search_p50_ms']} ms, p95 {out['search_p95_ms']} ms")
    print(f"  hover on the answer's function: {out['hover']}")
    print("  not first:")
    for miss in out["misses"]:
        print(f"    [{miss['id']} rank {miss['rank']}] {miss['question'][:90]}")
        for line in miss["top"]:
            print(f"        {line}")


if __name__ == "__main__":
    main()
