"""Language-server footprint and lifecycle figures (issue 21), used by ``lsp_latency.py``:

* ``--edits-rss N``: RSS growth over N ``didChange`` notifications (goal ≤ +10 MiB for 50k);
* ``--reindex-rss N``: RSS before and after a `devmem.reindex` of N memories (goal: back
  within 50 MiB of before);
* ``--exit-time``: seconds from `exit` to the process's end while a reindex is running
  (goal ≤ 2 s).

Each figure drives the real `devmem-lsp` over stdio with the bench's JSON-RPC client.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

WORDS = (
    "invoice order cart refund customer payment discount coupon stock shipment ledger tax".split()
)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def unembedded_store(db: Path, n: int) -> None:
    """``n`` memories without vectors: a reindex has ``n`` texts to embed."""
    from core.embeddings import UnavailableEmbedder
    from core.models import MemoryInput
    from core.service import MemoryService

    svc = MemoryService.open(db, UnavailableEmbedder("bench store"))
    inputs = [
        MemoryInput(
            title=f"note {i}",
            content=(
                f"Memory {i}: the {WORDS[i % 12]} {WORDS[i * 7 % 12]} handler retries {i} times because "
                f"of {WORDS[i * 5 % 12]} timeouts in production. " * (1 + i % 8)
            ),
        )
        for i in range(n)
    ]
    for start in range(0, n, 500):
        svc.remember_many(inputs[start : start + 500])
    svc.close()


async def _session(client_cls: Any, db: Path, cache: Path, repo: Path) -> Any:
    env = {
        **os.environ,
        "DEVMEM_DB": str(db),
        "DEVMEM_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "DEVMEM_ENGINE": "off",  # the in-process server (bench/footprint.py: the engine)
    }
    client = await client_cls.start(env)
    root = repo.as_uri()
    await client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": root,
            "capabilities": {},
            "clientInfo": {"name": "lsp-footprint-bench"},
        },
    )
    client.notify("initialized", {})
    return client


async def edits_rss(
    client_cls: Any, db: Path, cache: Path, repo: Path, edits: int
) -> dict[str, Any]:
    client = await _session(client_cls, db, cache, repo)
    path = next((repo / "src").glob("*.py"))
    uri = path.as_uri()
    client.notify(
        "textDocument/didOpen",
        {
            "textDocument": {
                "uri": uri,
                "languageId": "python",
                "version": 1,
                "text": path.read_text(),
            }
        },
    )
    await model_loaded(client)  # its loading would count as growth
    await _edit(client, uri, 2, 2000)  # warm-up: caches and allocator arenas fill first
    before = rss_mib(client.proc.pid)
    started = time.perf_counter()
    await _edit(client, uri, 2002, edits)
    seconds = time.perf_counter() - started
    after = rss_mib(client.proc.pid)
    await client.close()
    return {
        "edits": edits,
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "grown_mib": round(after - before, 1),
        "edits_per_s": round(edits / seconds),
    }


async def _edit(client: Any, uri: str, first: int, count: int) -> None:
    for version in range(first, first + count):
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 0},
                            "end": {"line": 0, "character": 1},
                        },
                        "text": '"',
                    }
                ],
            },
        )
        if version % 500 == 0:
            await client.proc.stdin.drain()
    await client.request("workspace/symbol", {"query": "x"})  # every edit handled before this


async def reindex_rss(
    client_cls: Any, workdir: Path, cache: Path, repo: Path, n: int
) -> dict[str, Any]:
    db = workdir / f"footprint-reindex-{n}.db"
    if not db.exists():
        unembedded_store(db, n)
    client = await _session(client_cls, db, cache, repo)
    await model_loaded(client)
    await _command(client, "devmem.recent", {"limit": 5})
    before = rss_mib(client.proc.pid)
    started = time.perf_counter()
    count = (await _command(client, "devmem.reindex", {}))["count"]
    seconds = time.perf_counter() - started
    await asyncio.sleep(1.0)
    after = rss_mib(client.proc.pid)
    await client.close()
    return {
        "memories": count,
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "grown_mib": round(after - before, 1),
        "reindex_s": round(seconds, 1),
    }


async def exit_time(
    client_cls: Any, workdir: Path, cache: Path, repo: Path, n: int = 3000
) -> dict[str, Any]:
    db = workdir / f"footprint-exit-{n}.db"
    if db.exists():
        db.unlink()
    unembedded_store(db, n)
    client = await _session(client_cls, db, cache, repo)
    await model_loaded(client)
    reindex = asyncio.ensure_future(_command(client, "devmem.reindex", {}))
    await asyncio.sleep(2.0)  # well inside the reindex
    await client.request("shutdown", None)
    client.notify("exit", None)
    started = time.perf_counter()
    await asyncio.wait_for(client.proc.wait(), 30)
    seconds = time.perf_counter() - started
    reindex.cancel()
    client.reader.cancel()
    return {"exit_to_end_s": round(seconds, 3), "returncode": client.proc.returncode}


async def model_loaded(client: Any, timeout: float = 180.0) -> None:
    """Wait until a search runs without the "model is loading" notice (RSS counts it then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not (await _command(client, "devmem.search", {"query": "warm up", "limit": 1})).get(
            "notice"
        ):
            return
        await asyncio.sleep(0.5)
    raise SystemExit("the server's model did not load")


async def _command(client: Any, name: str, args: dict[str, Any]) -> Any:
    return await client.request("workspace/executeCommand", {"command": name, "arguments": [args]})


def report(name: str, figures: dict[str, Any]) -> str:
    goals = {
        "edits_rss": ("grown_mib", 10.0 * figures.get("edits", 50000) / 50000),
        "reindex_rss": ("grown_mib", 50.0),
        "exit_time": ("exit_to_end_s", 2.0),
    }
    key, goal = goals[name]
    verdict = "ok" if figures[key] <= goal else "OVER GOAL"
    return f"  {name:<12} {figures}  (goal {key} ≤ {goal:g}: {verdict})"
