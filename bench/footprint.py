"""Memory of a developer's clients: three MCP clients and a language server, with and without
the engine, side by side in one run; and where one server's megabytes go.

    python bench/footprint.py [--json] [--skip-steps]

* **clients**: 3 `devmem-mcp` (SDK stdio clients) + 1 `devmem-lsp`, two ways: in-process
  (``DEVMEM_ENGINE=off``: each loads the SDK, the store and the model) and through the engine
  (thin relays + one `devmem serve`). Every client first makes the model work (a hybrid
  ``recall``; the language server's ``devmem.search`` without the "loading" notice); then the
  resident memory (VmRSS) of each process is read from /proc and summed.
* **steps**: one fresh Python process adds a server's parts one by one and prints its RSS after
  each (the SDK, core + numpy + SQLite, ONNX Runtime + tokenizers, the model session, the
  heap trim, a store + 100 recalls, 320 documents embedded), then the same documents with
  ONNX Runtime's CPU arena on, as before this issue.

Goals (issue 17): each extra client ≤ 40 MB; 3 MCP + 1 LSP + engine ≤ 400 MB; engine ≤ 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from lsp_footprint import model_loaded, rss_mib  # noqa: E402
from lsp_latency import Client as LspClient  # noqa: E402
from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

BIN = Path(sys.executable).parent
MCP_CLIENTS = 3


def _children(name: str) -> set[int]:
    """Pids of this process's children running ``name``."""
    me, found = str(os.getpid()), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = stat.read_text().rsplit(")", 1)[1].split()[1]
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if ppid == me and name.encode() in cmdline:
            found.add(int(stat.parent.name))
    return found


async def _mcp_client(stack: contextlib.AsyncExitStack, env: dict[str, str]) -> int:
    before = _children("devmem-mcp")
    params = StdioServerParameters(command=str(BIN / "devmem-mcp"), env=env)
    devnull = stack.enter_context(open(os.devnull, "w"))
    read, write = await stack.enter_async_context(stdio_client(params, errlog=devnull))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    for _ in range(600):  # the model works: a recall is hybrid
        result = await session.call_tool("recall", {"query": "why is numpy pinned"})
        if result.structured_content and result.structured_content["mode"] == "hybrid":
            break
        await asyncio.sleep(0.2)
    (pid,) = _children("devmem-mcp") - before
    return pid


async def _lsp_client(env: dict[str, str], root: Path) -> tuple[Any, int]:
    client = await LspClient.start(env)
    await client.request(
        "initialize",
        {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {}},
    )
    client.notify("initialized", {})
    await model_loaded(client)
    return client, client.proc.pid


async def clients(env: dict[str, str], root: Path) -> dict[str, Any]:
    """Start the four clients, make their model work, read every process's RSS."""
    async with contextlib.AsyncExitStack() as stack:
        mcp = [await _mcp_client(stack, env) for _ in range(MCP_CLIENTS)]
        lsp, lsp_pid = await _lsp_client(env, root)
        try:
            rss = {f"mcp {i + 1}": rss_mib(pid) for i, pid in enumerate(mcp)}
            rss["lsp"] = rss_mib(lsp_pid)
            info = _engine_status(env)
            if info is not None:
                rss["engine"] = rss_mib(int(info["pid"]))
                rss["model loads"] = info["model_loads"]
        finally:
            lsp.notify("exit", None)
    return rss


def _engine_status(env: dict[str, str]) -> dict[str, Any] | None:
    from core import engine_request

    return engine_request(env, "status") if env.get("DEVMEM_ENGINE") == "on" else None


STEPS = r"""
import ctypes, json, os, resource, sys
from pathlib import Path
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
out = [("python", rss())]
import mcp.server.mcpserver, mcp_server.server
out.append(("+ MCP SDK and the server's modules", rss()))
from core import MemoryService, Settings
import core.service, numpy
out.append(("+ core service, numpy, SQLite", rss()))
import onnxruntime, tokenizers
out.append(("+ ONNX Runtime, tokenizers (imported)", rss()))
from core.embeddings import FastEmbedEmbedder, assemble_default_model
from core.onnx_text import OnnxTextModel
cache = Path(sys.argv[1])
model = OnnxTextModel(assemble_default_model(cache), arena=sys.argv[3] == "on")
out.append(("+ the model session (as built)", rss()))
ctypes.CDLL("libc.so.6").malloc_trim(0)
out.append(("  … after returning the freed heap (malloc_trim)", rss()))
emb = FastEmbedEmbedder(cache)
emb._model, emb._done = model, __import__("threading").Event()
emb._done.set()
emb._started = True
svc = MemoryService.open(sys.argv[2], emb)
for i in range(100):
    svc.recall(f"why is numpy pinned {i}")
out.append(("+ a store open, 100 hybrid recalls", rss()))
docs = [("retry budget of the upload job " * (1 + i % 40)) + str(i) for i in range(320)]
list(model.embed(docs, batch_size=16))
out.append(("+ 320 documents embedded (batches of 16)", rss()))
out.append(("peak", round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)))
print(json.dumps(out))
"""


def steps(work: Path, cache: Path, arena: str) -> list[tuple[str, float]]:
    """RSS after each part of a server is added, in a fresh process (``arena``: on/off)."""
    db = work / f"steps-{arena}.db"
    out = subprocess.run(
        [sys.executable, "-c", STEPS, str(cache / "models"), str(db), arena],
        capture_output=True,
        text=True,
        check=True,
        cwd=BENCH.parent,
    )
    return [tuple(row) for row in json.loads(out.stdout.strip().splitlines()[-1])]


def _env(work: Path, cache: Path, engine: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVMEM_")}
    env.update(
        DEVMEM_DB=str(work / "memories.db"),
        DEVMEM_CACHE_DIR=str(cache),
        DEVMEM_ENGINE="on" if engine else "off",
        DEVMEM_RUNTIME_DIR=str(work / "run"),
    )
    return env


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="devmem-footprint-"))
    cache = Path(os.environ.get("DEVMEM_CACHE_DIR") or work / "cache")
    root = work / "repo"
    root.mkdir()
    figures: dict[str, Any] = {"load_average": os.getloadavg()[0]}
    figures["in_process"] = await clients(_env(work, cache, engine=False), root)
    engine_env = _env(work, cache, engine=True)
    try:
        figures["engine"] = await clients(engine_env, root)
    finally:
        from core import engine_request

        engine_request(engine_env, "stop")
    if not args.skip_steps:
        figures["steps_arena_off"] = steps(work, cache, "off")
        figures["steps_arena_on"] = steps(work, cache, "on")
    return figures


def _total(rss: dict[str, Any]) -> float:
    return sum(v for k, v in rss.items() if k != "model loads")


def report(figures: dict[str, Any]) -> None:
    inproc, engine = figures["in_process"], figures["engine"]
    print("process           in-process   through the engine   (VmRSS, MB)")
    for name in [*inproc, "engine"]:
        left = f"{inproc[name]:9.0f}" if name in inproc else f"{'—':>9}"
        right = f"{engine[name]:9.0f}" if name in engine else f"{'—':>9}"
        print(f"{name:16} {left}   {right}")
    print(
        f"{'total':16} {_total(inproc):9.0f}   {_total(engine):9.0f}   (goal with the engine ≤ 400)"
    )
    relays = [v for k, v in engine.items() if k.startswith(("mcp", "lsp"))]
    print(
        f"largest relay {max(relays):.0f} MB (goal ≤ 40), engine {engine['engine']:.0f} MB (goal ≤ 250), "
        f"model loads with the engine: {engine['model loads']}"
    )
    if "steps_arena_off" in figures:
        on = dict(figures["steps_arena_on"])
        print("\none server, part by part        RSS MB (arena off)   (arena on, as before)")
        for name, value in figures["steps_arena_off"]:
            print(f"  {name:46} {value:7.0f}   {on.get(name, float('nan')):7.0f}")
    print(f"(1-minute load average at the start: {figures['load_average']:.1f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--skip-steps", action="store_true", help="only the clients")
    args = p.parse_args()
    figures = asyncio.run(run(args))
    if args.json:
        print(json.dumps(figures))
    else:
        report(figures)


if __name__ == "__main__":
    main()
