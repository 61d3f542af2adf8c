"""Knowledge-graph benchmark: rebuild time and query latency on a large synthetic store.

    python bench/graph.py [--size 100000] [--queries 200] [--dir DIR] [--json]

Builds a store of ``--size`` synthetic developer memories (decisions, bug fixes with
issues, files and symbols, commits with authors and changed files, meetings with
attendees, mails, notes with links) through ``MemoryService.remember_many`` — with
embeddings off, since the graph does not use them — which indexes the graph on every
write. Then it times ``graph.rebuild`` over the whole store and the queries an assistant or
an editor makes: ``graph.neighbours`` and ``graph.show`` (the neighbourhood), ``graph.path``
and ``graph.graph_candidates`` (graph-mode search), and single writes (``remember`` and
``forget``, which index / unindex the graph), each p50 / p95 in milliseconds of wall-clock
time, plus the p95 of CPU time, which a busy shared machine does not inflate.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import graph  # noqa: E402
from core.embeddings import UnavailableEmbedder  # noqa: E402
from core.models import MemoryInput, ProgressEvent  # noqa: E402
from core.service import MemoryService  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
FIRST = [
    "Alice",
    "Bob",
    "Carol",
    "Dan",
    "Erin",
    "Frank",
    "Grace",
    "Heidi",
    "Ivan",
    "Judy",
    "Mallory",
    "Niaj",
    "Olivia",
    "Peggy",
    "Rupert",
    "Sybil",
    "Trent",
    "Victor",
    "Walter",
    "Yasmin",
]
LAST = ["Smith", "Jones", "Garcia", "Chen", "Okafor", "Novak", "Silva", "Kowalski"]
DOMAINS = ["acme.io", "contoso.com", "fabrikam.net", "initech.org"]
MODULES = [
    "api",
    "billing",
    "auth",
    "search",
    "worker",
    "ui",
    "storage",
    "sync",
    "infra",
    "reports",
]
WORDS = [
    "client",
    "handler",
    "config",
    "retry",
    "cache",
    "session",
    "schema",
    "export",
    "queue",
    "token",
    "router",
    "parser",
    "upload",
    "invoice",
    "metrics",
    "pool",
    "index",
    "webhook",
]
PROBLEMS = [
    "times out under load",
    "leaks file descriptors",
    "deadlocks on concurrent writes",
    "returns stale data",
    "crashes on empty input",
    "drops messages after a restart",
]
FIXES = [
    "added exponential backoff",
    "raised the pool size",
    "moved the work to a queue",
    "added an index",
    "made the handler idempotent",
    "pinned the dependency",
]
TEAMS = ["Infra", "Billing", "Search", "Platform", "Security", "Mobile"]


class Pools:
    """The names the corpus draws from (and the queries ask about)."""

    def __init__(self, rng: random.Random) -> None:
        vocab = json.loads((REPO / "core/data/technologies.json").read_text(encoding="utf-8"))
        self.tech = [t["display"] for t in vocab if not t.get("ambiguous")][:150]
        self.people = [
            (f"{f} {ln}", f"{f.lower()}.{ln.lower()}@{rng.choice(DOMAINS)}")
            for f in FIRST
            for ln in LAST[:3]
        ]
        self.files = [
            f"src/{m}/{rng.choice(WORDS)}_{rng.choice(WORDS)}.py"
            for m in MODULES
            for _ in range(200)
        ]
        self.symbols = [f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{i}" for i in range(1500)]
        self.repos = [f"acme/{m}" for m in MODULES]


def memory(i: int, rng: random.Random, p: Pools) -> MemoryInput:
    t1, t2 = rng.sample(p.tech, 2)
    name, email = rng.choice(p.people)
    file, symbol, repo = rng.choice(p.files), rng.choice(p.symbols), rng.choice(p.repos)
    shape = i % 6
    if shape == 0:
        return MemoryInput(
            f"Decision: we move the {rng.choice(WORDS)} from {t1} to {t2} because it "
            f"{rng.choice(PROBLEMS)}; {name} owns it. See {file}. [{i}]",
            kind="decision",
            project=repo,
        )
    if shape == 1:
        return MemoryInput(
            f"Bug {repo}#{i % 5000}: `{symbol}()` in {file} {rng.choice(PROBLEMS)} with {t1}. "
            f"Fix: {rng.choice(FIXES)}. [{i}]",
            kind="bugfix",
            project=repo,
        )
    if shape == 2:
        return MemoryInput(
            f"Fix {symbol}: {rng.choice(FIXES)} ({t1}) [{i}]",
            kind="commit",
            project=repo,
            metadata={
                "author": name,
                "author_email": email,
                "repo": repo,
                "files": [file, rng.choice(p.files)],
            },
        )
    if shape == 3:
        team = rng.choice(TEAMS)
        who = rng.sample(p.people, 3)
        return MemoryInput(
            f"{team} sync: agreed to replace {t1} with {t2} in {repo}; {name} follows up. [{i}]",
            kind="meeting",
            title=f"{team} sync",
            metadata={"subject": f"{team} sync", "attendees": [f"{n} <{e}>" for n, e in who]},
        )
    if shape == 4:
        to_name, to_email = rng.choice(p.people)
        return MemoryInput(
            f"{t1} upgrade plan for {repo}: {rng.choice(FIXES)} first. [{i}]",
            kind="email",
            metadata={"from": f"{name} <{email}>", "to": [f"{to_name} <{to_email}>"]},
        )
    return MemoryInput(
        f"Note: {t1} docs at https://docs.{t1.lower().replace(' ', '')}.dev/{rng.choice(WORDS)} "
        f"explain the {rng.choice(WORDS)} {rng.choice(PROBLEMS)} [{i}]",
        project=repo,
    )


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def timed(fn: Callable[[], Any], runs: int) -> dict[str, float]:
    """Wall-clock p50/p95 and CPU-time p95 (the CPU figure does not count waiting for a core
    on a busy machine)."""
    for _ in range(min(20, runs)):  # warm-up
        fn()
    lat, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return {
        "p50_ms": round(statistics.median(lat), 2),
        "p95_ms": round(pct(lat, 95), 2),
        "cpu_p95_ms": round(pct(cpu, 95), 2),
    }


def build(svc: MemoryService, size: int, rng: random.Random, pools: Pools) -> float:
    start = time.perf_counter()
    for i in range(0, size, 1000):
        svc.remember_many([memory(j, rng, pools) for j in range(i, min(size, i + 1000))])
        if (i // 1000) % 10 == 0:
            print(f"  … {min(size, i + 1000):,}/{size:,} memories", file=sys.stderr, flush=True)
    return time.perf_counter() - start


def queries(svc: MemoryService, pools: Pools, rng: random.Random, n: int) -> dict[str, Any]:
    names = (
        [rng.choice(pools.tech) for _ in range(n // 4)]
        + [rng.choice(pools.files) for _ in range(n // 4)]
        + [rng.choice(pools.symbols) for _ in range(n // 4)]
        + [rng.choice(pools.people)[1] for _ in range(n // 8)]
        + [rng.choice(pools.repos) for _ in range(n - 7 * (n // 8))]
    )
    names = [
        name for name in names if graph.find_entities(svc.store, name, 1)
    ]  # small stores lack some
    ids = [graph.resolve(svc.store, name) for name in names]
    it_ids, it_names, it_pairs = (
        iter(ids * 3),
        iter(names * 3),
        iter([tuple(rng.sample(names, 2)) for _ in range(n * 3)]),
    )
    found = [
        bool(graph.path(svc.store, a, b)) for a, b in (rng.sample(names, 2) for _ in range(50))
    ]
    texts = [
        f"why does {rng.choice(pools.symbols)} fail with {rng.choice(pools.tech)}"
        for _ in range(n * 3)
    ]
    it_texts = iter(texts)
    return {
        "neighbours": timed(lambda: graph.neighbours(svc.store, next(it_ids), 20), n),
        "show": timed(lambda: graph.show(svc.store, next(it_names), 10), n),
        "path": timed(lambda: graph.path(svc.store, *next(it_pairs)), n),
        "path_found_share": round(sum(found) / len(found), 2),
        "graph_candidates": timed(
            lambda: graph.graph_candidates(svc.store, next(it_texts), None, 100), n
        ),
    }


def writes(svc: MemoryService, pools: Pools, rng: random.Random, n: int = 50) -> dict[str, Any]:
    """The graph's share of a write (``reindex_memory`` of a stored memory in its own
    transaction), then whole ``remember`` and ``forget`` calls, n times each."""
    listed = svc.storage.page(None, 20 * n, 0, "created").memories
    items = iter(rng.sample(listed, min(n, len(listed))) * 2)

    def reindex() -> None:
        m = next(items)
        with svc.storage.transaction() as tx:
            tx.reindex_graph(m)

    fresh = [memory(10_000_000 + i, rng, pools) for i in range(n)]
    ids: list[str] = []
    it = iter(fresh)
    add = timed(lambda: ids.append(svc.remember(next(it)).memory.id), n - 20)  # 20 warm-up writes
    gone = iter(list(ids))
    forget = timed(lambda: svc.forget(next(gone)), len(ids) - 20)
    for rest in gone:
        svc.forget(rest)
    return {
        "graph_reindex_one": timed(reindex, min(n, len(listed)) - 20),
        "remember": add,
        "forget": forget,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--dir", default=None, help="where to build the store (default: a temp dir)"
    )
    parser.add_argument(
        "--db", default=None, help="keep the store in this file (reused when not empty)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(8)
    pools = Pools(rng)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        svc = MemoryService.open(
            args.db or Path(tmp) / "graph.db", UnavailableEmbedder("graph bench: no vectors")
        )
        ingest_s = build(svc, args.size, rng, pools) if svc.store.count() == 0 else None
        last = [0.0]

        def progress(e: ProgressEvent) -> None:
            if time.perf_counter() - last[0] > 10:
                last[0] = time.perf_counter()
                print(
                    f"  rebuild {e.stage} {e.done:,}/{e.total or 0:,}", file=sys.stderr, flush=True
                )

        cpu = time.process_time()
        result = graph.rebuild(svc.store, progress)
        cpu = time.process_time() - cpu
        report = {
            "memories": svc.store.count(),
            "ingest_per_s": round(args.size / ingest_s, 1) if ingest_s else "(store reused)",
            "rebuild_s": round(result.seconds, 1),
            "rebuild_cpu_s": round(cpu, 1),
            "rebuild_per_s": round(result.memories / result.seconds, 1),
            "entities": result.entities,
            "relations": result.relations,
            **queries(svc, pools, random.Random(9), args.queries),
            **writes(svc, pools, rng),
        }
        svc.close()
    if args.json:
        print(json.dumps(report))
        return
    for key, value in report.items():
        print(f"{key:>18}: {value}")


if __name__ == "__main__":
    main()
