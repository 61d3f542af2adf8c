"""The engine is one more process that must lose nothing.

- A write a client got an answer for is committed before that answer: the test reads it
  from the store file, in its own process, right after each acknowledgement.
- ``kill -9`` of the engine while a client imports through it loses no acknowledged memory,
  and the same client session goes on: its relay starts a new engine and replays the MCP
  handshake (the client sees nothing but one slower call).
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from tests.engine.conftest import engine_env, status, stop_engine, wait_gone
from tests.reliability.helpers import DEVMEM_MCP, RawMcp, opened, store_problems

pytestmark = pytest.mark.slow  # processes and an engine: `make test-fast` leaves it out

WRITES = 60
KILL_AT = (15, 40)  # the engine is killed before the 15th write and during the 40th


@pytest.fixture
def env(tmp_path: Path, model_cache: Path):
    env = engine_env(tmp_path, model_cache)
    yield env
    stop_engine(env)


async def _remember(client: RawMcp, i: int) -> str:
    result = await client.tool(
        "remember",
        {
            "content": f"import item {i}: the retry budget of job {i} is {i * 7} seconds",
            "kind": "note",
        },
    )
    assert not result.get("isError"), result
    return str(result["structuredContent"]["memory"]["id"])


async def test_kill_9_mid_import_loses_nothing_acknowledged_and_the_client_goes_on(
    env, tmp_path, figures
):
    db = Path(env["DEVMEM_DB"])
    client = await RawMcp.spawn([DEVMEM_MCP], env, tmp_path / "relay.err")
    acked: list[str] = []
    killed: list[int] = []
    try:
        await client.initialize()
        with opened(db) as check:
            for i in range(WRITES):
                if i == KILL_AT[0]:  # between two calls
                    killed.append(_kill_engine(env))
                if i == KILL_AT[1]:  # while a write is on its way or in the engine's hands
                    pending = asyncio.ensure_future(_remember(client, i))
                    await asyncio.sleep(0.01)
                    killed.append(_kill_engine(env))
                    memory_id = await pending
                else:
                    memory_id = await _remember(client, i)
                acked.append(memory_id)
                assert check.get(memory_id).content.startswith(f"import item {i}:")
        found = await client.tool("recall", {"query": "retry budget of job 42", "limit": 3})
        assert not found.get("isError") and found["structuredContent"]["hits"]
    finally:
        await client.close()
    assert len(killed) == len(KILL_AT) and len(set(killed)) == len(KILL_AT)
    assert all(wait_gone(pid) for pid in killed)
    with opened(db) as svc:
        missing = [m for m in acked if not _exists(svc, m)]
        assert missing == [] and store_problems(svc) == []
    assert client.unanswered == []  # the replayed initialize's answer never reached the client
    figures["engine: kill -9 during an MCP import"] = (
        f"{len(killed)} engine kills, {len(acked)} acknowledged writes, 0 lost, "
        "the same client session throughout"
    )


def _kill_engine(env: dict[str, str]) -> int:
    info = status(env)
    assert info is not None
    os.kill(int(info["pid"]), signal.SIGKILL)
    assert wait_gone(int(info["pid"]))
    return int(info["pid"])


def _exists(svc, memory_id: str) -> bool:
    try:
        svc.get(memory_id)
    except Exception:
        return False
    return True


async def test_a_change_in_flight_is_not_run_twice_a_read_is(env, tmp_path):
    """The engine dies holding an update and a recall: the recall is sent again to the new
    engine and answered; the update (a second run could keep a second pending version) is
    answered with an error saying to check and retry, and applied at most once."""
    client = await RawMcp.spawn([DEVMEM_MCP], env, tmp_path / "relay.err")
    try:
        await client.initialize()
        memory_id = await _remember(client, 1)
        pid = int(status(env)["pid"])  # type: ignore[index]
        os.kill(pid, signal.SIGSTOP)  # it cannot answer: both requests are surely in flight
        try:
            update = asyncio.ensure_future(
                client.tool("update_memory", {"id": memory_id, "tags": ["retry"]})
            )
            recall = asyncio.ensure_future(client.tool("recall", {"query": "retry budget"}))
            await asyncio.sleep(0.5)
            assert not update.done() and not recall.done()
        finally:
            os.kill(pid, signal.SIGKILL)
        changed, found = await asyncio.gather(update, recall)
        assert changed["isError"] is True
        assert "may or may not have been applied" in changed["content"][0]["text"]
        assert not found.get("isError") and found["structuredContent"]["hits"][0]["id"] == memory_id
        again = await client.tool("update_memory", {"id": memory_id, "tags": ["retry"]})
        assert not again.get("isError"), again
        assert again["structuredContent"]["status"] in ("updated", "unchanged")
    finally:
        await client.close()
    with opened(Path(env["DEVMEM_DB"])) as svc:
        assert list(svc.get(memory_id).tags) == ["retry"]
        assert len(svc.storage.versions(memory_id)) <= 2  # the first, and the change once
