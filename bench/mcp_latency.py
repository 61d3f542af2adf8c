"""MCP latency: cold start of `devmem-mcp` and tool round trips on a 10k-memory store.

    python bench/mcp_latency.py [--memories 10000] [--cold-runs 20] [--calls 200] [--db PATH]
                                [--cold-only] [--json]

* start: spawn the real console script → ``initialize`` → ``tools/list`` answered → a first
  ``recall`` answered (and whether it was hybrid), measured by the client (the SDK's
  ``stdio_client`` + ``ClientSession``), median and p95, two ways taking turns in one run:
  no engine (``DEVMEM_ENGINE=off``: the process serves everything itself, cold) and a warm
  engine (``devmem-mcp`` relays to ``devmem serve``, started and warmed before timing);
* ``remember`` / ``recall`` round trips through one warm stdio session (model loaded,
  store open), p50 and p95, every call with a different text so no cache answers;
  ``recall`` in its default (hybrid) mode and in text mode, and the same hybrid searches
  run in process through ``MemoryService.recall`` — the difference is what MCP adds, of
  which the client's own share (the SDK's ClientSession checks every result against the
  tool's output schema with ``jsonschema``) is timed separately; the round trips again
  through the engine's relay.

The store is built first with ``MemoryService.remember_many`` in batches (real embeddings;
~1 min for 10k short texts on two idle cores). ``--db`` reuses (or keeps) a store between
runs (the memories a run's ``remember`` calls add are forgotten at its end).
Targets: cold start p95 < 1 s; warm ``recall`` p95 < 30 ms; warm-engine start (spawn →
``tools/list``) median ≤ 150 ms, its first recall hybrid.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

SERVER = Path(sys.executable).with_name("devmem-mcp")
PROJECT = "bench"
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
    "docker",
    "webpack",
    "pytest",
    "numpy",
    "oauth",
    "jwt",
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
    "session store",
    "billing webhook",
    "CI pipeline",
    "deploy script",
    "health check",
]
PROBLEMS = [
    "times out under load",
    "leaks file descriptors",
    "deadlocks on concurrent writes",
    "returns stale data",
    "crashes on empty input",
    "drops messages",
    "is slow on cold start",
]
FIXES = [
    "added exponential backoff",
    "raised the pool size to 20",
    "moved the work to a queue",
    "added an index on created_at",
    "made the handler idempotent",
    "set a 30 s timeout",
]
SHAPES = [
    ("decision", "Decision: we use {t} for the {x} because the old one {p}; {f}."),
    ("bugfix", "Bug: the {x} {p} when {t} is busy. Fix: {f}."),
    ("note", "Note: the {t} {x} {p} unless we {f}."),
]
QUESTIONS = [
    "why does the {x} {p}",
    "{t} {x}",
    "how did we fix the {x} in {t}",
    "{p} with {t}",
    "{f} for the {x}",
]


def sentence(rng: random.Random, template: str) -> str:
    return template.format(
        t=rng.choice(TECH), x=rng.choice(THINGS), p=rng.choice(PROBLEMS), f=rng.choice(FIXES)
    )


def build_store(db: Path, n: int, cache: Path) -> float:
    """Fill ``db`` with ``n`` memories through core (real embeddings); seconds taken."""
    from core.embeddings import FastEmbedEmbedder
    from core.models import MemoryInput
    from core.service import MemoryService

    embedder = FastEmbedEmbedder(cache / "models").start()
    if not embedder.wait(300):
        raise SystemExit(f"embedding model unavailable: {embedder.failure()}")
    svc = MemoryService.open(db, embedder)
    rng, started = random.Random(7), time.perf_counter()
    try:
        have = svc.store.count()
        for start in range(have, n, 500):
            batch = []
            for i in range(start, min(n, start + 500)):
                kind, template = rng.choice(SHAPES)
                batch.append(
                    MemoryInput(
                        f"{sentence(rng, template)} [#{i}]",
                        kind=kind,
                        project=PROJECT,
                        tags=[rng.choice(TECH)],
                    )
                )
            svc.remember_many(batch)
            print(f"  stored {min(n, start + 500)}/{n}", file=sys.stderr, end="\r")
    finally:
        svc.close()
    return time.perf_counter() - started


def params(env: dict[str, str]) -> StdioServerParameters:
    return StdioServerParameters(command=str(SERVER), args=["--project", PROJECT], env=env)


async def cold_start(envs: dict[str, dict[str, str]], runs: int) -> dict[str, dict[str, Any]]:
    """Per way of serving (``envs``: in-process, through the warm engine), seconds from spawn
    to the initialize answer, to the tools/list answer and to the first ``recall`` answer,
    and whether that recall was hybrid. The ways take turns, run by run (A B A B …), so the
    machine's drift hits both alike.

    Also the CPU seconds the spawned process used until tools/list (Linux): on a busy
    machine the wall time mostly measures the wait for a core, the CPU time what an idle
    machine would take.
    """
    out: dict[str, dict[str, Any]] = {
        name: {"initialize": [], "tools_list": [], "cpu": [], "first_recall": [], "hybrid": 0}
        for name in envs
    }
    with open(os.devnull, "w") as devnull:
        for i in range(runs):
            for name, env in envs.items():
                await _one_cold_start(env, out[name], devnull, seed=i)
    return out


async def _one_cold_start(
    env: dict[str, str], into: dict[str, Any], devnull: Any, seed: int
) -> None:
    t0 = time.perf_counter()
    async with (
        stdio_client(params(env), errlog=devnull) as (r, w),
        ClientSession(r, w) as s,
    ):
        await s.initialize()
        into["initialize"].append(time.perf_counter() - t0)
        tools = await s.list_tools()
        into["tools_list"].append(time.perf_counter() - t0)
        cpu = _server_cpu_seconds()
        if cpu is not None:
            into["cpu"].append(cpu)
        assert len(tools.tools) == 11
        query = distinct_queries(100 + seed, 1)[0]
        t1 = time.perf_counter()
        result = await s.call_tool("recall", {"query": query})
        into["first_recall"].append(time.perf_counter() - t1)
        into["hybrid"] += int(result.structured_content["mode"] == "hybrid")


def _server_cpu_seconds() -> float | None:
    """user + system CPU time of this process's `devmem-mcp` child, from /proc (None elsewhere)."""
    me = str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == me and b"devmem-mcp" in cmdline:  # fields[1] is the parent pid
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def distinct_queries(seed: int, n: int) -> list[str]:
    rng, seen = random.Random(seed), {}
    while len(seen) < n:
        seen[f"{sentence(rng, rng.choice(QUESTIONS))} {rng.choice(TECH)}"] = None
    return list(seen)


async def round_trips(env: dict[str, str], calls: int) -> dict[str, Any]:
    rng = random.Random(11)
    out: dict[str, Any] = {"recall": [], "recall_text": [], "remember": [], "client_check": []}
    answers: list[Any] = []  # the hybrid results, for timing the client-side check
    with open(os.devnull, "w") as devnull:
        async with stdio_client(params(env), errlog=devnull) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            await _wait_for_model(s)
            for i in range(20):  # warm caches (pages, prepared statements), not measured
                await s.call_tool(
                    "recall", {"query": f"warm up {i} {sentence(rng, rng.choice(QUESTIONS))}"}
                )
            for mode, key, seed in (("hybrid", "recall", 1), ("text", "recall_text", 2)):
                for query in distinct_queries(seed, calls):
                    t0 = time.perf_counter()
                    result = await s.call_tool("recall", {"query": query, "mode": mode})
                    out[key].append(time.perf_counter() - t0)
                    assert not result.is_error and result.structured_content["mode"] == mode
                    if mode == "hybrid":
                        answers.append(result)
            for result in answers:  # the client-side part of each recall round trip above
                t0 = time.perf_counter()
                await s.validate_tool_result("recall", result)
                out["client_check"].append(time.perf_counter() - t0)
            written = []
            for i in range(calls):
                content = (
                    f"{sentence(rng, rng.choice(SHAPES)[1])} (bench write {i} {time.time_ns()})"
                )
                t0 = time.perf_counter()
                result = await s.call_tool("remember", {"content": content, "kind": "note"})
                out["remember"].append(time.perf_counter() - t0)
                assert not result.is_error and result.structured_content["status"] == "created"
                written.append(result.structured_content["memory"]["id"])
            stats = await s.call_tool("memory_stats", {})
            out["store"] = {
                k: stats.structured_content[k] for k in ("memories", "vectors", "db_bytes")
            }
            for memory_id in written:  # leave the store as it was for the next run (not measured)
                await s.call_tool("forget", {"id": memory_id})
    return out


async def _wait_for_model(s: ClientSession, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = await s.call_tool("memory_stats", {})
        if stats.structured_content and stats.structured_content["embedding_ready"]:
            return
        await anyio.sleep(0.2)
    raise SystemExit("the server's embedding model did not load")


def core_recall(db: Path, cache: Path, calls: int) -> list[float]:
    """The same searches straight through MemoryService (no MCP): what the adapter adds is the rest."""
    from core.embeddings import FastEmbedEmbedder
    from core.models import SearchFilters
    from core.service import MemoryService

    embedder = FastEmbedEmbedder(cache / "models").start()
    embedder.wait(300)
    svc = MemoryService.open(db, embedder)
    try:
        for query in distinct_queries(3, 20):
            svc.recall(query, filters=SearchFilters(project=PROJECT))
        timings = []
        for query in distinct_queries(1, calls):  # the queries the hybrid round trips ran
            t0 = time.perf_counter()
            svc.recall(query, filters=SearchFilters(project=PROJECT))
            timings.append(time.perf_counter() - t0)
        return timings
    finally:
        svc.close()


def _cold(cold: dict[str, Any]) -> dict[str, Any]:
    figures = {
        "initialize": ms(cold["initialize"]),
        "tools_list": ms(cold["tools_list"]),
        "first_recall": ms(cold["first_recall"]),
        "first_recall_hybrid": f"{cold['hybrid']}/{len(cold['first_recall'])}",
    }
    if cold["cpu"]:
        figures["server_cpu_until_tools_list"] = ms(cold["cpu"])
    return figures


def _ways(env: dict[str, str], workdir: Path) -> dict[str, dict[str, str]]:
    """The two ways of serving: each client in its own process, or a relay to the engine
    (in a runtime folder of this run, stopped at the end)."""
    return {
        "in_process": {**env, "DEVMEM_ENGINE": "off"},
        "engine": {**env, "DEVMEM_ENGINE": "on", "DEVMEM_RUNTIME_DIR": str(workdir / "run")},
    }


async def _start_engine(env: dict[str, str]) -> None:
    """One client first (not measured): it starts the engine, which loads the model."""
    with open(os.devnull, "w") as devnull:
        async with stdio_client(params(env), errlog=devnull) as (r, w), ClientSession(r, w) as s:
            await s.initialize()
            await _wait_for_model(s)


def _stop_engine(env: dict[str, str]) -> None:
    from core import engine_request

    engine_request(env, "stop")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 1),
        "p95_ms": round(pct(values, 95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
        "n": len(values),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="devmem-mcp-bench-"))
    db = Path(args.db) if args.db else workdir / "memories.db"
    cache = Path(os.environ.get("DEVMEM_CACHE_DIR") or workdir / "cache")
    env = {
        "DEVMEM_DB": str(db),
        "DEVMEM_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "PATH": os.environ.get("PATH", ""),
    }
    if os.environ.get("PYTHONPATH"):  # the server runs the same checkout as this script
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    ways = _ways(env, workdir)
    build_s = None if args.cold_only else build_store(db, args.memories, cache)
    await _start_engine(ways["engine"])
    try:
        cold = await cold_start(ways, args.cold_runs)
        figures: dict[str, Any] = {
            "cpus": os.cpu_count(),
            "cold_start": _cold(cold["in_process"]),
            "warm_engine_start": _cold(cold["engine"]),
        }
        if args.cold_only:  # (an empty store: the first recalls say hybrid or not, fast)
            figures["load_average"] = os.getloadavg()[0]
            return figures
        trips = await round_trips(ways["in_process"], args.calls)
        engine_trips = await round_trips(ways["engine"], args.calls)
    finally:
        _stop_engine(ways["engine"])
    direct = core_recall(db, cache, args.calls)
    return {
        **figures,
        "memories": args.memories,
        "store_build_s": round(build_s or 0.0, 1),
        "load_average": os.getloadavg()[0],
        "recall": ms(trips["recall"]),
        "recall_through_engine": ms(engine_trips["recall"]),
        "recall_text_mode": ms(trips["recall_text"]),
        "core_recall_in_process": ms(direct),
        "client_output_check": ms(trips["client_check"]),
        "remember": ms(trips["remember"]),
        "remember_through_engine": ms(engine_trips["remember"]),
        "store": trips["store"],
        "targets": {
            "cold_start_p95_ms": 1000,
            "recall_p95_ms": 30,
            "warm_engine_start_p50_ms": 150,
        },
    }


def _print_starts(figures: dict[str, Any]) -> None:
    for key, label in (
        ("cold_start", "no engine (in-process)"),
        ("warm_engine_start", "warm engine (relay)"),
    ):
        cold = figures[key]
        cpu = cold.get("server_cpu_until_tools_list")
        print(
            f"{label:24} spawn → initialize p50 {cold['initialize']['p50_ms']} ms · "
            f"→ tools/list p50 {cold['tools_list']['p50_ms']} ms, p95 {cold['tools_list']['p95_ms']} ms"
            f" (n={cold['tools_list']['n']})"
        )
        if cpu:
            print(f"{'':24} client process CPU until tools/list: p50 {cpu['p50_ms']} ms")
        first = cold["first_recall"]
        print(
            f"{'':24} first recall: p50 {first['p50_ms']} ms, p95 {first['p95_ms']} ms, "
            f"hybrid {cold['first_recall_hybrid']}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--memories", type=int, default=10_000)
    p.add_argument("--cold-runs", type=int, default=20)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--db", help="reuse or keep the store here (built up to --memories if smaller)")
    p.add_argument("--cold-only", action="store_true", help="measure the cold start only")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    figures = anyio.run(run, args)
    if args.json:
        print(json.dumps(figures))
        return
    _print_starts(figures)
    if args.cold_only:
        print(f"(1-minute load average at the end: {figures['load_average']:.1f})")
        return
    recall, remember = figures["recall"], figures["remember"]
    print(
        f"store: {figures['store']['memories']} memories ({figures['store']['db_bytes'] / 1e6:.1f} MB), "
        f"built in {figures['store_build_s']} s on {figures['cpus']} CPUs"
    )
    print(
        f"recall round trip (warm):        p50 {recall['p50_ms']} ms, p95 {recall['p95_ms']} ms  "
        f"(target p95 < 30 ms, n={recall['n']})"
    )
    text, direct = figures["recall_text_mode"], figures["core_recall_in_process"]
    engine = figures["recall_through_engine"]
    print(f"recall round trip, via engine:   p50 {engine['p50_ms']} ms, p95 {engine['p95_ms']} ms")
    print(f"recall round trip, text mode:    p50 {text['p50_ms']} ms, p95 {text['p95_ms']} ms")
    print(f"core recall in process (no MCP): p50 {direct['p50_ms']} ms, p95 {direct['p95_ms']} ms")
    check = figures["client_output_check"]
    print(
        f"  client's output-schema check:  p50 {check['p50_ms']} ms, p95 {check['p95_ms']} ms  "
        "(in the round trip above; the SDK client's work, not the server's)"
    )
    print(
        f"remember round trip (warm):      p50 {remember['p50_ms']} ms, p95 {remember['p95_ms']} ms  "
        f"(n={remember['n']})"
    )
    engine_w = figures["remember_through_engine"]
    print(
        f"remember round trip, via engine: p50 {engine_w['p50_ms']} ms, p95 {engine_w['p95_ms']} ms"
    )
    print(f"(1-minute load average at the end: {figures['load_average']:.1f})")


if __name__ == "__main__":
    main()
