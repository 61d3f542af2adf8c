"""Three `devmem-mcp` processes writing and searching one store at once lose nothing."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import anyio
import pytest
from mcp_helpers import stdio_session, text_of, wait_for_model

from core.embeddings import UnavailableEmbedder
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

WORKERS = 3
SECONDS = 6.0


@dataclass
class Log:
    acked: dict[str, str] = field(default_factory=dict)  # memory id → its unique marker
    errors: list[str] = field(default_factory=list)
    searches: int = 0


async def _work(
    env: dict[str, str], worker: int, log: Log, start: anyio.Event, ready: list[int]
) -> None:
    async with stdio_session(env, "--project", "shared") as s:
        # Each process loads its own embedding model; the timed run starts when all have it.
        await wait_for_model(s)
        await _remember(s, worker, "warm-up", log)
        ready.append(worker)
        if len(ready) == WORKERS:
            start.set()
        await start.wait()
        deadline = time.monotonic() + SECONDS
        n = 0
        while time.monotonic() < deadline:
            await _remember(s, worker, n, log)
            if n % 2 == 1 and log.acked:
                await _find(s, log, *list(log.acked.items())[-1 - (n % len(log.acked))])
            n += 1


async def _remember(s, worker: int, n: int | str, log: Log) -> None:
    marker = f"m{uuid.uuid4().hex[:12]}"
    result = await s.call_tool(
        "remember",
        {"content": f"Worker {worker} note {n}, marker {marker}.", "tags": [f"worker{worker}"]},
    )
    if result.is_error:
        log.errors.append(text_of(result))
    else:
        log.acked[result.structured_content["memory"]["id"]] = marker


async def _find(s, log: Log, memory_id: str, marker: str) -> None:
    """Any acknowledged write, by any process, is found by a search for its marker."""
    result = await s.call_tool("recall", {"query": marker, "limit": 3})
    log.searches += 1
    if result.is_error:
        log.errors.append(text_of(result))
    elif memory_id not in [h["id"] for h in result.structured_content["hits"]]:
        log.errors.append(f"acknowledged {memory_id} ({marker}) was not found")


async def test_three_servers_write_and_search_one_store_at_once(server_env):
    log, start, ready = Log(), anyio.Event(), []
    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for worker in range(WORKERS):
                tg.start_soon(_work, server_env, worker, log, start, ready)

    print(
        f"{len(log.acked)} acknowledged writes and {log.searches} searches by {WORKERS} processes"
    )
    assert log.errors == []  # no "database is locked", no lost write, no failed search
    assert len(log.acked) >= WORKERS * 10 and log.searches >= WORKERS * 3, (
        len(log.acked),
        log.searches,
    )
    svc = MemoryService.open(
        server_env["DEVMEM_DB"], UnavailableEmbedder("verification reads only")
    )
    try:
        assert svc.store.count() == len(log.acked)
        for memory_id, marker in log.acked.items():
            assert marker in svc.get(memory_id).content
        assert svc.stats()["vectors"] == len(log.acked)  # every write got its vector too
    finally:
        svc.close()
