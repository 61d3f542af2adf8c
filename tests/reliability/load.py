"""Mixed load on one store: 2 `devmem-mcp`, 1 `devmem-lsp` and a `devmem sync markdown` loop.

Used by tests/reliability/test_concurrency.py (a short run) and bench/stress.py (60 s).
Every process is the real console script with the real embedding model:

* each MCP server (driven by the SDK's stdio ClientSession) loops ``remember`` (a unique
  marker per memory) and ``recall`` of a marker another client had acknowledged;
* the language server (a raw LSP client) loops ``devmem.remember``, ``textDocument/hover``
  on a line anchored to a memory, and ``devmem.search`` for an acknowledged marker;
* the sync loop adds Markdown notes to a folder and runs ``devmem sync markdown`` on it.

A write counts as acknowledged when its client got a success answer. Afterwards every
acknowledged write must be in the store, the store must be consistent (``store_problems``
and ``devmem doctor --check``), and no client may have seen an error, least of all
"database is locked".
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import TextContent

from tests import sqlite_backend
from tests.reliability.helpers import (
    DEVMEM,
    DEVMEM_LSP,
    DEVMEM_MCP,
    LOCKED_WORDS,
    RawLsp,
    RpcError,
    all_content,
    cli,
    git_repo,
    opened,
    store_problems,
)

PROJECT = "shop"
SOURCE = '''"""Billing rules."""


def apply_discount(total, percent):
    if percent > 100:
        raise ValueError("discount cannot exceed 100 percent")
    return total * (1 - percent / 100)
'''


@dataclass
class LoadReport:
    seconds: float = 0.0
    ops: Counter[str] = field(default_factory=Counter)  # client → operations answered
    writes: Counter[str] = field(default_factory=Counter)  # client → acknowledged writes
    acked: dict[str, tuple[str, str]] = field(default_factory=dict)  # memory id → (client, marker)
    synced_markers: list[str] = field(default_factory=list)
    reads_verified: int = 0
    search_misses: list[str] = field(default_factory=list)  # ranking, not visibility: reported only
    hovers_with_memory: int = 0
    errors: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    doctor: str = ""
    doctor_rc: int | None = None

    @property
    def locked(self) -> list[str]:
        return [e for e in self.errors if any(w in e.lower() for w in LOCKED_WORDS)]

    def error(self, client: str, text: str) -> None:
        self.errors.append(f"{client}: {text[:500]}")

    def summary(self) -> str:
        rates = ", ".join(
            f"{c} {n / self.seconds:.1f} ops/s ({self.writes[c]} writes)"
            for c, n in sorted(self.ops.items())
        )
        return (
            f"{self.seconds:.0f} s: {rates}; {sum(self.writes.values())} acknowledged writes, "
            f"{len(self.lost)} lost, {len(self.locked)} 'locked' errors, {len(self.errors)} errors, "
            f"{self.reads_verified} cross-process reads verified, doctor --check exit {self.doctor_rc}; "
            f"hybrid search left the exact match out of the top 5 {len(self.search_misses)} times"
        )


class _Clock:
    """All clients warm up (model loaded), then run for the same ``seconds``."""

    def __init__(self, clients: int, seconds: float) -> None:
        self.waiting, self.seconds = clients, seconds
        self.go = asyncio.Event()
        self.deadline = 0.0

    async def ready(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.deadline = time.monotonic() + self.seconds
            self.go.set()
        await self.go.wait()

    def running(self) -> bool:
        return time.monotonic() < self.deadline


def _marker() -> str:
    return f"mk{uuid.uuid4().hex[:14]}"


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def _mcp_client(
    name: str, env: dict[str, str], work: Path, clock: _Clock, r: LoadReport
) -> None:
    params = StdioServerParameters(command=DEVMEM_MCP, args=["--project", PROJECT], env=env)
    rng = random.Random(name)
    with (work / f"{name}.stderr.log").open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            await _mcp_remember(s, name, r, "warm-up")  # waits for this process's model
            await clock.ready()
            n = 0
            while clock.running():
                await _mcp_remember(s, name, r, n)
                if n % 2 and r.acked:
                    await _mcp_recall(s, name, r, rng)
                n += 1


async def _mcp_remember(s: ClientSession, name: str, r: LoadReport, n: int | str) -> None:
    marker = _marker()
    try:
        result = await s.call_tool(
            "remember",
            {"content": f"{name} note {n}: marker {marker}.", "tags": [name], "kind": "note"},
        )
    except Exception as exc:  # a protocol failure is an error too
        r.error(name, f"remember raised {exc!r}")
        return
    r.ops[name] += 1
    if result.is_error or not result.structured_content:
        r.error(name, _text(result))
        return
    r.acked[result.structured_content["memory"]["id"]] = (name, marker)
    r.writes[name] += 1


def _pick(r: LoadReport, rng: random.Random) -> tuple[str, str]:
    """An acknowledged memory (of any client) and its marker."""
    memory_id, (_, marker) = rng.choice([a for a in r.acked.items() if a[1][1]])
    return memory_id, marker


async def _mcp_recall(s: ClientSession, name: str, r: LoadReport, rng: random.Random) -> None:
    """Recall an acknowledged marker: text mode must find it; hybrid is counted (ranking)."""
    memory_id, marker = _pick(r, rng)
    mode = "text" if rng.random() < 0.7 else "hybrid"
    try:
        result = await s.call_tool(
            "recall", {"query": marker, "mode": mode, "limit": 5, "project": "*"}
        )
    except Exception as exc:
        r.error(name, f"recall raised {exc!r}")
        return
    r.ops[name] += 1
    if result.is_error or not result.structured_content:
        r.error(name, _text(result))
    elif memory_id in [h["id"] for h in result.structured_content["hits"]]:
        r.reads_verified += 1
    elif mode == "text":
        r.error(
            name,
            f"acknowledged {memory_id} ({marker}, by {r.acked[memory_id][0]}) not found by recall",
        )
    else:
        r.search_misses.append(f"{name} hybrid recall for {marker} (by {r.acked[memory_id][0]})")


async def _lsp_client(
    env: dict[str, str], work: Path, repo: Path, clock: _Clock, r: LoadReport
) -> None:
    rng = random.Random("lsp")
    lsp = await RawLsp.spawn(
        [DEVMEM_LSP, "--db", env["DEVMEM_DB"], "--poll", "0.5"],
        env,
        work / "lsp.stderr.log",
        cwd=repo,
    )
    try:
        await lsp.initialize(repo)
        uri = await lsp.open(repo / "billing.py")
        anchor = {
            "uri": uri,
            "range": {"start": {"line": 4, "character": 4}, "end": {"line": 5, "character": 60}},
        }
        await _lsp_remember(
            lsp,
            r,
            {
                "content": "Discounts above 100 percent are refused: refunds would go negative.",
                **anchor,
            },
            "warm-up",
        )
        await clock.ready()
        n = 0
        while clock.running():
            await _lsp_remember(lsp, r, {"content": f"lsp note {n}: marker {{m}}."}, n)
            await _lsp_hover(lsp, uri, r)
            if r.acked:
                await _lsp_read(lsp, r, rng)
            n += 1
    finally:
        await lsp.shutdown()


async def _lsp_remember(lsp: RawLsp, r: LoadReport, args: dict[str, Any], n: int | str) -> None:
    marker = _marker() if "{m}" in args["content"] else ""
    args = {**args, "content": args["content"].replace("{m}", marker)}
    try:
        result = await lsp.command("devmem.remember", args)
    except (RpcError, ConnectionError, TimeoutError) as exc:
        r.error("lsp", f"devmem.remember {n}: {exc}")
        return
    r.ops["lsp"] += 1
    r.writes["lsp"] += 1
    r.acked[result["id"]] = ("lsp", marker)


async def _lsp_hover(lsp: RawLsp, uri: str, r: LoadReport) -> None:
    try:
        result = await lsp.hover(uri, 4, 8)  # `percent` in `if percent > 100`, an anchored line
    except (RpcError, ConnectionError, TimeoutError) as exc:
        r.error("lsp", f"hover: {exc}")
        return
    r.ops["lsp"] += 1
    r.hovers_with_memory += int(bool(result))


async def _lsp_read(lsp: RawLsp, r: LoadReport, rng: random.Random) -> None:
    """Open an acknowledged memory (of any client) by id, then search for its marker."""
    memory_id, marker = _pick(r, rng)
    try:
        opened_ = await lsp.command("devmem.open", {"id": memory_id})
        result = await lsp.command("devmem.search", {"query": marker, "limit": 5})
    except (RpcError, ConnectionError, TimeoutError) as exc:
        r.error("lsp", f"devmem.open/search of acknowledged {memory_id}: {exc}")
        return
    r.ops["lsp"] += 2
    if marker not in opened_["markdown"]:
        r.error("lsp", f"devmem.open {memory_id} lacks its marker {marker}")
    else:
        r.reads_verified += 1
    if memory_id not in [h["id"] for h in result["hits"]]:
        r.search_misses.append(f"lsp hybrid search for {marker} (by {r.acked[memory_id][0]})")


async def _sync_loop(env: dict[str, str], work: Path, clock: _Clock, r: LoadReport) -> None:
    folder = work / "notes"
    folder.mkdir(exist_ok=True)
    n = 0

    async def one_sync() -> None:
        nonlocal n
        markers = []
        for _ in range(4):
            marker = _marker()
            (folder / f"note-{n:04d}.md").write_text(
                f"---\ntags: [sync]\n---\n# Note {n}\n\nSynced note {n} with marker {marker}.\n"
            )
            markers.append(marker)
            n += 1
        proc = await asyncio.create_subprocess_exec(
            DEVMEM,
            "sync",
            "markdown",
            str(folder),
            "--project",
            PROJECT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        r.ops["sync"] += 1
        if proc.returncode != 0:
            r.error(
                "sync",
                f"exit {proc.returncode}: {err.decode(errors='replace')}{out.decode(errors='replace')}",
            )
            return
        r.synced_markers += markers
        r.writes["sync"] += len(markers)

    await one_sync()  # warm-up
    await clock.ready()
    while clock.running():
        await one_sync()


async def run_load(db: Path, env: dict[str, str], work: Path, seconds: float) -> LoadReport:
    """Run the four clients for ``seconds`` (after warm-up), then verify the store."""
    report = LoadReport(seconds=seconds)
    repo = git_repo(work / PROJECT, {"billing.py": SOURCE})
    clock = _Clock(4, seconds)
    results = await asyncio.gather(
        _mcp_client("mcp-1", env, work, clock, report),
        _mcp_client("mcp-2", env, work, clock, report),
        _lsp_client(env, work, repo, clock, report),
        _sync_loop(env, work, clock, report),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            report.error("harness", f"a client failed: {result!r}")
    verify(db, env, report)
    return report


def verify(db: Path, env: dict[str, str], r: LoadReport) -> None:
    """Every acknowledged write is stored, the indexes agree, `devmem doctor --check` passes."""
    with opened(db) as svc:
        r.problems = store_problems(svc)
        stored = {
            str(row[0]): str(row[1])
            for row in sqlite_backend.conn(svc).execute("SELECT id, content FROM memories")
        }
        text = all_content(svc)
    r.lost = [
        f"{client}:{mid}"
        for mid, (client, marker) in r.acked.items()
        if mid not in stored or marker not in stored[mid]
    ]
    r.lost += [f"sync:{m}" for m in r.synced_markers if m not in text]
    doctor = cli(env, "doctor", "--check", timeout=300)
    r.doctor_rc, r.doctor = doctor.returncode, doctor.stdout + doctor.stderr
