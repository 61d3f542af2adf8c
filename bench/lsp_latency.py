"""LSP latency: hover, code actions and code lenses of the real `devmem-lsp` on big stores.

    python bench/lsp_latency.py [--sizes 10000,100000] [--embed-up-to 10000] [--requests 300]
                                [--workdir DIR] [--build-only] [--json]

For each size a store is built through core (``MemoryService.remember_many`` in batches):
up to ``--embed-up-to`` memories every text is embedded with the real model; above it the
vectors are *generated* (real embeddings of 2,000 of the texts plus noise) so that 100k
memories build in minutes. 1% of the memories are anchored to functions of a generated
5-file Python repository (path, lines, symbol, fingerprint), and one in five names a
function of it, so lenses and hovers have anchored and related memories to find.

The server is then driven over stdio by a small JSON-RPC client, as an editor would: open
the files, wait until the model is loaded (a `devmem.search` without a "loading" notice),
warm up, then time (client-side, request written → answer read):

* hover on random identifiers, strings and comments of the files, each asking a query not
  asked before (the server caches answers until the store changes; none is reused here);
* code actions on random selections (1–6 lines), with a foreign diagnostic half the time;
* for comparison, ``MemoryService.recall`` alone (in-process, no LSP) on the hovers' queries;
* code lenses for a whole file after an edit (a new document version each time: the
  symbol table and anchor placements are recomputed; the per-name graph lookups are
  cached until the store changes), and after a write to the store (nothing cached).

Budgets (warm, 100k memories): hover and code actions p95 ≤ 50 ms, code lens ≤ 100 ms.
``--workdir`` keeps the built stores for the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

SERVER = Path(sys.executable).with_name("devmem-lsp")
PROJECT = "shop"
FILES = ["billing", "orders", "users", "inventory", "payments"]
NOUNS = [
    "invoice",
    "order",
    "cart",
    "refund",
    "customer",
    "payment",
    "discount",
    "coupon",
    "stock",
    "shipment",
    "ledger",
    "tax",
    "receipt",
    "webhook",
    "session",
    "token",
    "report",
    "export",
]
VERBS = [
    "apply",
    "load",
    "save",
    "compute",
    "validate",
    "sync",
    "retry",
    "cancel",
    "merge",
    "render",
    "parse",
    "notify",
    "archive",
    "reconcile",
    "split",
    "lock",
]
TECH = [
    "postgres",
    "sqlite",
    "redis",
    "kafka",
    "celery",
    "docker",
    "stripe",
    "fastapi",
    "pytest",
    "nginx",
    "grpc",
    "terraform",
]
PROBLEMS = [
    "times out under load",
    "rounds to the wrong cent",
    "double-charges on retry",
    "returns stale data",
    "crashes on empty input",
    "deadlocks on concurrent writes",
    "drops the last line",
    "ignores the time zone",
]
FIXES = [
    "made the handler idempotent",
    "added an index on created_at",
    "moved the work to a queue",
    "rounded with Decimal",
    "added exponential backoff",
    "wrapped it in one transaction",
]
KINDS = ["decision", "bugfix", "note", "snippet", "pitfall"]


# ---- the workspace -----------------------------------------------------------------------------
def function_names(rng: random.Random, n: int) -> list[str]:
    names: list[str] = []
    while len(names) < n:
        name = f"{rng.choice(VERBS)}_{rng.choice(NOUNS)}"
        if name not in names:
            names.append(name)
    return names


def make_workspace(root: Path) -> dict[str, list[str]]:
    """A git repo ``shop`` with 5 files of 40 functions each; returns file → function names."""
    rng = random.Random(7)
    repo = root / PROJECT
    (repo / "src").mkdir(parents=True, exist_ok=True)
    table: dict[str, list[str]] = {}
    for stem in FILES:
        names = function_names(rng, 40)
        table[stem] = names
        body = [
            f'"""{stem.title()} rules."""',
            "",
            "import logging",
            "",
            "log = logging.getLogger(__name__)",
            "",
        ]
        for name in names:
            noun = name.split("_", 1)[1]
            body += [
                "",
                f"def {name}({noun}, amount=0):",
                f"    # {rng.choice(VERBS)} the {noun} before {rng.choice(TECH)} sees it",
                f"    if {noun} is None:",
                f'        raise ValueError("{noun} {rng.choice(PROBLEMS)}")',
                f"    total = {noun}.amount + amount",
                f'    log.info("{name} %s", total)',
                f"    return {rng.choice(VERBS)}_{rng.choice(NOUNS)}({noun}, total)",
                "",
            ]
        (repo / "src" / f"{stem}.py").write_text("\n".join(body) + "\n")
    if not (repo / ".git").exists():
        git = [
            "git",
            "-c",
            "user.name=bench",
            "-c",
            "user.email=b@example.com",
            "-c",
            "commit.gpgsign=false",
        ]
        subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
        subprocess.run([*git, "add", "."], cwd=repo, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "bench"], cwd=repo, check=True)
    return table


# ---- the store -----------------------------------------------------------------------------
def synth(rng: random.Random, n: int, repo: Path, table: dict[str, list[str]]) -> list[Any]:
    from core.anchors import fingerprint
    from core.models import CodeAnchor, MemoryInput

    lines = {stem: (repo / "src" / f"{stem}.py").read_text().splitlines() for stem in FILES}
    out = []
    for i in range(n):
        stem = rng.choice(FILES)
        fn = rng.choice(table[stem])
        thing, tech = rng.choice(NOUNS), rng.choice(TECH)
        kind = rng.choice(KINDS)
        text = (
            f"The {thing} flow on {tech} {rng.choice(PROBLEMS)}; we {rng.choice(FIXES)}."
            + (f" See `{fn}`." if i % 5 == 0 else "")
            + f" [#{i}]"
        )
        anchor = None
        if i % 100 == 0:
            start = (
                lines[stem].index(next(ln for ln in lines[stem] if ln.startswith(f"def {fn}("))) + 1
            )
            anchor = CodeAnchor(
                f"src/{stem}.py",
                start,
                start + 6,
                fn,
                None,
                fingerprint(lines[stem][start - 1 : start + 6]),
            )
        project = f"other{i % 7}" if i % 10 == 5 else PROJECT  # 10% belong to other repos
        out.append(
            MemoryInput(
                text,
                title=f"{thing.title()} {kind} #{i}",
                kind=kind,
                project=project,
                anchor=anchor,
                tags=[tech],
            )
        )
    return out


def build_store(
    db: Path, n: int, repo: Path, table: dict[str, list[str]], embed_up_to: int, cache: Path
) -> tuple[float, bool]:
    """Fill ``db`` (seconds, whether vectors were generated)."""
    from core.embeddings import FastEmbedEmbedder
    from core.service import MemoryService

    embedder = FastEmbedEmbedder(cache / "models").start()
    if not embedder.wait(180):
        raise SystemExit(f"model unavailable: {embedder.failure()}")
    generate = n > embed_up_to
    svc = MemoryService.open(db, embedder)
    inputs = synth(random.Random(n), n, repo, table)
    bases = embedder.embed_documents([i.content for i in inputs[:2000]]) if generate else None
    nprng = np.random.default_rng(n)
    started = time.perf_counter()
    batch = 1000 if generate else 256
    for i in range(0, n, batch):
        chunk = inputs[i : i + batch]
        vectors = None
        if bases is not None:
            noisy = bases[nprng.integers(0, len(bases), len(chunk))] + nprng.normal(
                0, 0.05, (len(chunk), bases.shape[1])
            ).astype(np.float32)
            vectors = list(
                (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)
            )
        svc.remember_many(chunk, vectors=vectors)
        if (i // batch) % 10 == 0:
            print(f"  … {i + len(chunk):,}/{n:,} memories", file=sys.stderr, flush=True)
    svc.close()
    return time.perf_counter() - started, generate


# ---- a JSON-RPC client over stdio -------------------------------------------------------------
class Client:
    """Just enough of an LSP client: requests with ids, answers to the server's requests."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, env: dict[str, str]) -> Client:
        proc = await asyncio.create_subprocess_exec(
            str(SERVER),
            "--log-level",
            "WARNING",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return cls(proc)

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any) -> Any:
        self.next_id += 1
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self._send({"id": self.next_id, "method": method, "params": params})
        return await future

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    async def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            try:
                header = await out.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:  # the server exited (shutdown, or the run ended)
                return
            length = int(re.search(rb"Content-Length: (\d+)", header).group(1))  # type: ignore[union-attr]
            message = json.loads(await out.readexactly(length))
            if "method" in message and "id" in message:  # a request from the server
                self._send(
                    {
                        "id": message["id"],
                        "result": [None] * len(message["params"].get("items", []))
                        if message["method"] == "workspace/configuration"
                        else None,
                    }
                )
            elif "id" in message and message["id"] in self.pending:
                future = self.pending.pop(message["id"])
                if "error" in message:
                    future.set_exception(RuntimeError(message["error"]["message"]))
                else:
                    future.set_result(message.get("result"))

    async def close(self) -> None:
        await self.request("shutdown", None)
        self.notify("exit", None)
        await asyncio.wait_for(self.proc.wait(), 10)
        self.reader.cancel()


# ---- the measurements ---------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values), 2),
        "p95_ms": round(pct(values, 95), 2),
        "max_ms": round(max(values), 2),
        "n": len(values),
    }


async def timed(coro: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await coro
    return (time.perf_counter() - started) * 1000, result


def hover_points(
    rng: random.Random, texts: dict[str, list[str]], n: int
) -> list[tuple[str, int, int]]:
    """Up to ``n`` cursor positions on identifiers, strings or comments whose hover query
    was not asked before (so no answer comes from the server's cache)."""
    from lsp_server.hover import query_text
    from lsp_server.symbols import enclosing, symbols_of
    from lsp_server.targets import target_at

    tables = {stem: symbols_of("\n".join(lines), f"{stem}.py") for stem, lines in texts.items()}
    points, seen = [], set()
    for _ in range(n * 20):
        stem = rng.choice(FILES)
        lines = texts[stem]
        line = rng.randrange(len(lines))
        words = [m.start() for m in re.finditer(r"[A-Za-z_]\w{2,}", lines[line])]
        if not words:
            continue
        col = rng.choice(words) + 1
        target = target_at(lines[line], col, f"{stem}.py")
        symbol = enclosing(tables[stem], line + 1)
        query = target and query_text(target, symbol.qualname if symbol else None)
        if query and query not in seen:
            seen.add(query)
            points.append((stem, line, col))
            if len(points) == n:
                break
    return points


async def drive(db: Path, repo: Path, cache: Path, requests: int) -> dict[str, Any]:
    env = {
        **os.environ,
        "DEVMEM_DB": str(db),
        "DEVMEM_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "DEVMEM_ENGINE": "off",  # the in-process server (bench/footprint.py: the engine)
    }
    started = time.perf_counter()
    client = await Client.start(env)
    root = repo.as_uri()
    await client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": root,
            "workspaceFolders": [{"uri": root, "name": PROJECT}],
            "capabilities": {
                "workspace": {"codeLens": {"refreshSupport": True}, "configuration": True},
                "window": {"workDoneProgress": True},
            },
            "clientInfo": {"name": "lsp-latency-bench"},
        },
    )
    start_ms = (time.perf_counter() - started) * 1000  # spawn → initialize answered
    client.notify("initialized", {})
    texts: dict[str, list[str]] = {}
    versions: dict[str, int] = {}
    for stem in FILES:
        path = repo / "src" / f"{stem}.py"
        text = path.read_text()
        texts[stem], versions[stem] = text.splitlines(), 1
        client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": path.as_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": text,
                }
            },
        )
    await wait_for_model(client)
    uri = {stem: (repo / "src" / f"{stem}.py").as_uri() for stem in FILES}
    rng = random.Random(1)

    async def hover(stem: str, line: int, col: int) -> Any:
        return await client.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri[stem]}, "position": {"line": line, "character": col}},
        )

    async def action(stem: str, line: int, span: int, diag: bool) -> Any:
        rng_ = {
            "start": {"line": line, "character": 0},
            "end": {"line": line + span, "character": 0},
        }
        diags = (
            [
                {
                    "range": rng_,
                    "message": f"ValueError: {rng.choice(NOUNS)} {rng.choice(PROBLEMS)}",
                    "severity": 1,
                    "source": "bench",
                }
            ]
            if diag
            else []
        )
        return await client.request(
            "textDocument/codeAction",
            {"textDocument": {"uri": uri[stem]}, "range": rng_, "context": {"diagnostics": diags}},
        )

    async def lens(stem: str) -> Any:
        versions[stem] += 1  # a new version: nothing cached for it
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri[stem], "version": versions[stem]},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 0},
                            "end": {"line": 0, "character": 0},
                        },
                        "text": "",
                    }
                ],
            },
        )
        return await client.request("textDocument/codeLens", {"textDocument": {"uri": uri[stem]}})

    points = hover_points(rng, texts, requests + 30)
    for stem, line, col in points[:30]:  # warm-up (other queries than the timed ones)
        await hover(stem, line, col)
        await lens(stem)
    hovers, shown = [], 0
    for stem, line, col in points[30:]:
        ms, result = await timed(hover(stem, line, col))
        hovers.append(ms)
        shown += result is not None
    actions, offered = [], 0
    for _ in range(requests):
        stem = rng.choice(FILES)
        ms, result = await timed(
            action(stem, rng.randrange(len(texts[stem]) - 8), rng.randint(1, 6), rng.random() < 0.5)
        )
        actions.append(ms)
        offered += len(result or [])
    lenses, lens_count = [], 0
    for i in range(max(requests // 3, 20)):
        ms, result = await timed(lens(FILES[i % len(FILES)]))
        lenses.append(ms)
        lens_count += len(result or [])
    cold = []
    for i in range(max(requests // 10, 10)):
        await client.request(
            "workspace/executeCommand",
            {
                "command": "devmem.remember",
                "arguments": [{"content": f"bench write {i} {rng.random()}", "kind": "note"}],
            },
        )  # the store changed
        ms, _ = await timed(lens(FILES[i % len(FILES)]))
        cold.append(ms)
    await client.close()
    return {
        "start_ms": round(start_ms, 1),
        "hover": {**summary(hovers), "with_content": shown},
        "code_action": {
            **summary(actions),
            "actions_per_request": round(offered / len(actions), 1),
        },
        "code_lens": {**summary(lenses), "lenses_per_file": round(lens_count / len(lenses), 1)},
        "code_lens_after_write": summary(cold),
    }


def core_recall(db: Path, repo: Path, cache: Path, n: int) -> dict[str, float]:
    """``MemoryService.recall`` alone, in this process, for the queries hovers make: how
    much of a hover is core's search (fresh query texts: embedding included)."""
    from core.embeddings import FastEmbedEmbedder
    from core.service import MemoryService
    from lsp_server.hover import SEARCH_DEPTH, query_text
    from lsp_server.symbols import enclosing, symbols_of
    from lsp_server.targets import target_at

    embedder = FastEmbedEmbedder(cache / "models").start()
    embedder.wait(180)
    svc = MemoryService.open(db, embedder)
    texts = {stem: (repo / "src" / f"{stem}.py").read_text() for stem in FILES}
    queries = []
    for stem, line, col in hover_points(
        random.Random(2), {k: v.splitlines() for k, v in texts.items()}, n
    ):
        target = target_at(texts[stem].splitlines()[line], col, f"{stem}.py")
        symbol = enclosing(symbols_of(texts[stem], f"{stem}.py"), line + 1)
        if target is not None:
            queries.append(query_text(target, symbol.qualname if symbol else None))
    for q in queries[:30]:  # warm the connection's page cache, as the server's is
        svc.recall(f"{q} warm", limit=SEARCH_DEPTH)
    times = []
    for q in queries:
        started = time.perf_counter()
        svc.recall(q, limit=SEARCH_DEPTH)
        times.append((time.perf_counter() - started) * 1000)
    svc.close()
    return summary(times)


async def wait_for_model(client: Client, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await client.request(
            "workspace/executeCommand",
            {"command": "devmem.search", "arguments": [{"query": "warm up the model", "limit": 1}]},
        )
        if not (result or {}).get("notice"):
            return
        await asyncio.sleep(0.5)
    raise SystemExit("the server's model did not load")


def footprint(args: argparse.Namespace, workdir: Path, cache: Path, repo: Path) -> None:
    """The footprint and lifecycle figures (bench/lsp_footprint.py), each run alone."""
    import lsp_footprint as fp

    runs: list[tuple[str, Any]] = []
    if args.edits_rss:
        runs.append(
            (
                "edits_rss",
                fp.edits_rss(Client, workdir / "footprint-edits.db", cache, repo, args.edits_rss),
            )
        )
    if args.reindex_rss:
        runs.append(("reindex_rss", fp.reindex_rss(Client, workdir, cache, repo, args.reindex_rss)))
    if args.exit_time:
        runs.append(("exit_time", fp.exit_time(Client, workdir, cache, repo)))
    for name, run in runs:
        figures = asyncio.run(run)
        print(json.dumps({name: figures}) if args.json else fp.report(name, figures), flush=True)


def load(args: argparse.Namespace, workdir: Path, cache: Path, repo: Path) -> None:
    """The editor-load figures (bench/lsp_load.py: long lines, big files), each run alone."""
    import lsp_load

    runs: list[tuple[str, Any]] = []
    if args.long_line:
        runs.append(
            (
                "long_line",
                lsp_load.long_line(sys.modules[__name__], workdir, cache, repo, args.long_line),
            )
        )
    if args.big_lens:
        runs.append(("big_lens", lsp_load.big_lens(sys.modules[__name__], workdir, cache, repo)))
    for name, run in runs:
        figures = asyncio.run(run)
        print(
            json.dumps({name: figures}) if args.json else lsp_load.report(name, figures), flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument(
        "--embed-up-to",
        type=int,
        default=10000,
        help="sizes above this use generated vectors instead of embedding every text",
    )
    parser.add_argument("--requests", type=int, default=300, help="timed requests per feature")
    parser.add_argument("--workdir", type=Path, help="keep stores here (reused when present)")
    parser.add_argument(
        "--build-only", action="store_true", help="build the stores, measure nothing"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--long-line",
        type=int,
        nargs="?",
        const=200,
        metavar="N",
        help="only: N hovers on a 500 KB line, others meanwhile (goal p95 ≤ 50 ms)",
    )
    parser.add_argument(
        "--big-lens",
        action="store_true",
        help="only: code lenses of a 50k-definition file, repeated (goal ≤ 50 ms)",
    )
    parser.add_argument(
        "--edits-rss",
        type=int,
        metavar="N",
        help="only: RSS growth over N didChange edits (goal ≤ +10 MiB for 50,000)",
    )
    parser.add_argument(
        "--reindex-rss",
        type=int,
        metavar="N",
        help="only: RSS before/after a reindex of N memories (goal within 50 MiB)",
    )
    parser.add_argument(
        "--exit-time",
        action="store_true",
        help="only: seconds from exit to process end during a reindex (goal ≤ 2 s)",
    )
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="devmem-lsp-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cache = workdir / "cache"
    table = make_workspace(workdir)
    repo = workdir / PROJECT
    if args.long_line or args.big_lens:
        load(args, workdir, cache, repo)
        return
    if args.edits_rss or args.reindex_rss or args.exit_time:
        footprint(args, workdir, cache, repo)
        return
    results = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        db = workdir / f"lsp-{size}.db"
        build_s, generated = (None, size > args.embed_up_to)
        if not db.exists():
            print(f"building {size:,} memories…", file=sys.stderr, flush=True)
            build_s, generated = build_store(db, size, repo, table, args.embed_up_to, cache)
        if args.build_only:
            continue
        measured = asyncio.run(drive(db, repo, cache, args.requests))
        results.append(
            {
                "memories": size,
                "vectors": "generated" if generated else "embedded",
                "build_s": round(build_s, 1) if build_s is not None else None,
                **measured,
                "core_recall": core_recall(db, repo, cache, args.requests),
            }
        )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        built = f"built in {r['build_s']} s" if r["build_s"] is not None else "store reused"
        print(
            f"{r['memories']:>8,} memories ({r['vectors']} vectors; {built}); "
            f"spawn → initialize answered {r['start_ms']} ms"
        )
        for name, budget in (
            ("hover", 50),
            ("code_action", 50),
            ("code_lens", 100),
            ("code_lens_after_write", 100),
            ("core_recall", 50),
        ):
            m = r[name]
            verdict = "ok" if m["p95_ms"] <= budget else "OVER BUDGET"
            extra = {k: v for k, v in m.items() if k not in ("p50_ms", "p95_ms", "max_ms", "n")}
            print(
                f"  {name:<12} p50 {m['p50_ms']:>7.2f} ms  p95 {m['p95_ms']:>7.2f} ms  "
                f"max {m['max_ms']:>7.2f} ms  (n={m['n']}, budget p95 ≤ {budget} ms: {verdict}) {extra}"
            )
    if any(r["vectors"] == "generated" for r in results):
        print(
            "note: stores above --embed-up-to hold generated vectors (real embeddings of 2,000 "
            "texts plus noise), not an embedding of every text."
        )


if __name__ == "__main__":
    main()
