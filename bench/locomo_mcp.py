"""LoCoMo through MCP: the same protocol as bench/locomo.py, driven as an assistant would.

One real `devmem-mcp` per conversation (the SDK's stdio client), every turn stored with the
`remember` tool (``event_at`` = the session's date, as an assistant recording a dated chat
would), every question asked with the `recall` tool (top 10). Used by
``bench/locomo.py --via mcp`` (or ``--via both`` for the side-by-side figures).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from core.models import MemoryInput

SERVER = Path(sys.executable).with_name("devmem-mcp")
PROJECT = "locomo"


async def _call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    result: CallToolResult = await session.call_tool(tool, arguments)
    if result.is_error or result.structured_content is None:
        raise RuntimeError(f"{tool} failed: {result.content}")
    return result.structured_content


async def _wait_for_model(session: ClientSession, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await _call(session, "memory_stats"))["embedding_ready"]:
            return
        await anyio.sleep(0.2)
    raise RuntimeError(f"the server's model did not load within {timeout} s")


async def _conversation(
    db: Path,
    cache: Path,
    inputs: list[MemoryInput],
    questions: list[dict[str, Any]],
    score: Callable[[dict[str, Any], list[str | None], float], None],
    figures: dict[str, list[float]],
) -> None:
    env = {
        **os.environ,
        "DEVMEM_DB": str(db),
        "DEVMEM_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
    }
    params = StdioServerParameters(command=str(SERVER), args=["--project", PROJECT], env=env)
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await _wait_for_model(session)
                dia_of = await _ingest(session, inputs, figures)
                for qa in questions:
                    t0 = time.perf_counter()
                    out = await _call(session, "recall", query=qa["question"], limit=10)
                    elapsed = (time.perf_counter() - t0) * 1000
                    score(qa, [dia_of.get(h["id"]) for h in out["hits"]], elapsed)


async def _ingest(
    session: ClientSession, inputs: list[MemoryInput], figures: dict[str, list[float]]
) -> dict[str, str]:
    dia_of: dict[str, str] = {}
    start = time.perf_counter()
    for inp in inputs:
        args: dict[str, Any] = {"content": inp.content, "kind": inp.kind}
        if inp.event_at:
            args["event_at"] = inp.event_at
        out = await _call(session, "remember", **args)
        dia_of.setdefault(out["memory"]["id"], inp.metadata["dia_id"])  # a repeat is deduplicated
    figures["ingest_s"].append(time.perf_counter() - start)
    figures["ingest_n"].append(len(inputs))
    return dia_of


def evaluate(
    db: Path,
    cache: Path,
    inputs: list[MemoryInput],
    questions: list[dict[str, Any]],
    score: Callable[[dict[str, Any], list[str | None], float], None],
    figures: dict[str, list[float]],
) -> None:
    """Ingest one conversation and ask its questions through a fresh `devmem-mcp`."""
    anyio.run(_conversation, db, cache, inputs, questions, score, figures)
