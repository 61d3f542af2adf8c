"""The language server's lifecycle under an editor's load (issue 21: defects 1, 2, 3, 10, 11,
12, 13; issue 20: private files, one-line logs for expected errors).

Every test drives the real `devmem-lsp` process with raw JSON-RPC frames over stdio, so it
can send what no client library would (bodies that are not UTF-8, requests after
`shutdown`) and watch what the process does afterwards (its exit code, its RSS).
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from core.embeddings import UnavailableEmbedder
from core.models import MemoryInput
from core.service import MemoryService
from tests.reliability.helpers import (
    DEVMEM_LSP,
    RawLsp,
    RpcError,
    git_repo,
    opened,
    server_env,
    store_problems,
)

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

WORDS = (
    "invoice order cart refund customer payment discount coupon stock shipment ledger tax".split()
)
SOURCE = "def apply_discount(total, percent):\n    return total * (1 - percent / 100)\n"


def build_store(db: Path, n: int, longest: int = 1) -> None:
    """``n`` memories without vectors (so a reindex has ``n`` texts to embed), of 1 to
    ``longest`` sentences."""
    svc = MemoryService.open(db, UnavailableEmbedder("test store"))
    try:
        inputs = [
            MemoryInput(
                title=f"note {i}",
                content=(
                    f"Memory {i}: the {WORDS[i % 12]} {WORDS[i * 7 % 12]} handler retries {i} times "
                    f"because of {WORDS[i * 5 % 12]} timeouts in production. " * (1 + i % longest)
                ),
            )
            for i in range(n)
        ]
        for start in range(0, n, 500):
            svc.remember_many(inputs[start : start + 500])
    finally:
        svc.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repo(tmp_path / "shop", {"billing.py": SOURCE})


@pytest.fixture
def env(tmp_path: Path, model_cache: Path) -> dict[str, str]:
    return server_env(tmp_path / "memories.db", model_cache, DEVMEM_LOG="INFO")


async def spawn(env: dict[str, str], tmp_path: Path, *extra: str) -> RawLsp:
    return await RawLsp.spawn([DEVMEM_LSP, "--poll", "0", *extra], env, tmp_path / "lsp.log")


@pytest.fixture
async def lsp(env: dict[str, str], tmp_path: Path, repo: Path) -> AsyncIterator[RawLsp]:
    server = await spawn(env, tmp_path)
    await server.initialize(repo)
    yield server
    if server.alive:
        server.proc.kill()
        await server.proc.wait()


def log_text(tmp_path: Path) -> str:
    return (tmp_path / "lsp.log").read_text(errors="replace")


async def model_loaded(tmp_path: Path) -> None:
    """Wait until the server's embedding model is loaded (it loads in the background)."""
    for _ in range(1200):
        if "embedding model ready" in log_text(tmp_path):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the model did not load in 60 s")


async def ended_within(lsp: RawLsp, seconds: float) -> float | None:
    """Seconds until the process ended (None: still running after ``seconds``)."""
    start = time.perf_counter()
    try:
        await asyncio.wait_for(lsp.proc.wait(), seconds)
    except TimeoutError:
        return None
    return time.perf_counter() - start


async def reindex_started(lsp: RawLsp) -> asyncio.Task[Any]:
    """A `devmem.reindex` in flight: returns once it reported its first embedded batch."""
    lsp.notifications.clear()
    task = asyncio.ensure_future(
        lsp.request(
            "workspace/executeCommand",
            {"command": "devmem.reindex", "arguments": [{}], "workDoneToken": "reindex-1"},
            timeout=300,
        )
    )
    for _ in range(1200):
        reports = [
            n
            for n in lsp.notifications
            if n["method"] == "$/progress" and n["params"]["value"].get("kind") == "report"
        ]
        if reports:
            return task
        assert not task.done(), task.result()
        await asyncio.sleep(0.05)
    raise AssertionError("the reindex reported no progress in 60 s")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# ---- defects 1 and 2: exit and shutdown while a command runs -------------------------------
async def test_shutdown_during_a_command_answers_and_exit_ends_the_process_within_2s(
    env: dict[str, str], tmp_path: Path, repo: Path
) -> None:
    build_store(Path(env["DEVMEM_DB"]), 3000)
    lsp = await spawn(env, tmp_path)
    await lsp.initialize(repo)
    command = await reindex_started(lsp)
    # Defect 2: pygls' shutdown cancelled in-flight requests while iterating the dict their
    # callbacks remove themselves from (−32603 "dictionary changed size during iteration").
    assert await lsp.request("shutdown", None, timeout=10) is None
    with pytest.raises(RpcError) as cancelled:
        await asyncio.wait_for(command, 10)
    assert cancelled.value.code == -32800  # RequestCancelled, as the shutdown said
    await lsp.notify("exit")
    assert lsp.proc.stdin is not None
    lsp.proc.stdin.close()
    took = await ended_within(lsp, 2.0)
    if took is None:
        lsp.proc.kill()
    assert took is not None, "still running 2 s after exit"
    assert lsp.proc.returncode == 0
    with opened(env["DEVMEM_DB"]) as svc:  # the cancelled reindex lost nothing
        assert svc.store.count() == 3000
        assert store_problems(svc) == [] or all("vector" in p for p in store_problems(svc))


async def test_exit_with_the_output_closed_during_a_reindex_ends_quietly(
    env: dict[str, str], tmp_path: Path, repo: Path
) -> None:
    """Defect 1 as measured: with stdout gone, each failed send was reported by sending."""
    build_store(Path(env["DEVMEM_DB"]), 3000)
    lsp = await spawn(env, tmp_path)
    await lsp.initialize(repo)
    await reindex_started(lsp)
    lsp._reader.cancel()
    assert lsp.proc.stdout is not None
    lsp.proc.stdout._transport.close()  # type: ignore[attr-defined]  # the editor went away
    await asyncio.sleep(0.3)
    await lsp.send_body(b'{"jsonrpc": "2.0", "id": 99, "method": "shutdown"}')
    await lsp.send_body(b'{"jsonrpc": "2.0", "method": "exit"}')
    assert lsp.proc.stdin is not None
    lsp.proc.stdin.close()
    took = await ended_within(lsp, 2.0)
    if took is None:
        lsp.proc.kill()
        await lsp.proc.wait()
    assert took is not None, "still running 2 s after exit"
    assert (tmp_path / "lsp.log").stat().st_size < 200_000, "the log is flooded"


async def test_stdin_closed_without_exit_ends_the_process_during_a_reindex(
    env: dict[str, str], tmp_path: Path, repo: Path
) -> None:
    build_store(Path(env["DEVMEM_DB"]), 3000)
    lsp = await spawn(env, tmp_path)
    await lsp.initialize(repo)
    await reindex_started(lsp)
    assert lsp.proc.stdin is not None
    lsp.proc.stdin.close()  # the editor crashed: no shutdown, no exit
    took = await ended_within(lsp, 2.0)
    if took is None:
        lsp.proc.kill()
        await lsp.proc.wait()
    assert took is not None, "still running 2 s after stdin closed"
    with opened(env["DEVMEM_DB"]) as svc:
        assert svc.store.count() == 3000


# ---- defect 3: no memory kept per notification ---------------------------------------------
async def _edits(lsp: RawLsp, uri: str, first: int, count: int) -> None:
    frames = []
    for version in range(first, first + count):
        body = (
            '{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":'
            f'{{"uri":"{uri}","version":{version}}},"contentChanges":[{{"range":{{"start":'
            '{"line":0,"character":0},"end":{"line":0,"character":1}},"text":"d"}]}}'
        )
        frames.append(b"Content-Length: %d\r\n\r\n%s" % (len(body), body.encode()))
    for start in range(0, len(frames), 500):
        await lsp.send_raw(b"".join(frames[start : start + 500]))
    await lsp.request("workspace/symbol", {"query": "x"}, timeout=120)  # all handled


async def test_memory_does_not_grow_per_did_change(lsp: RawLsp, repo: Path, tmp_path: Path) -> None:
    await model_loaded(tmp_path)  # its loading would grow RSS meanwhile
    uri = await lsp.open(repo / "billing.py")
    await _edits(lsp, uri, 2, 3000)  # warm up: caches, allocator arenas
    before = rss_mib(lsp.proc.pid)
    await _edits(lsp, uri, 3002, 12000)
    grown = rss_mib(lsp.proc.pid) - before
    assert grown < 6, f"12,000 didChange grew RSS by {grown:.1f} MiB"


# ---- defect 10: the protocol's lifecycle rules ---------------------------------------------
async def test_requests_after_shutdown_get_invalid_request(lsp: RawLsp, repo: Path) -> None:
    uri = await lsp.open(repo / "billing.py")
    assert await lsp.request("shutdown", None, timeout=10) is None
    for method, params in [
        (
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 5}},
        ),
        ("shutdown", None),
    ]:
        with pytest.raises(RpcError) as refused:
            await lsp.request(method, params, timeout=5)
        assert refused.value.code == -32600, method
    await lsp.notify("exit")
    assert await ended_within(lsp, 2.0) is not None
    assert lsp.proc.returncode == 0


async def test_exit_without_shutdown_exits_1(lsp: RawLsp) -> None:
    await lsp.notify("exit")
    assert await ended_within(lsp, 2.0) is not None
    assert lsp.proc.returncode == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "2.0", "id": 5, "method": "workspace/symbol", "params": {"query": "\xff\xfe"}}',
        b'{"jsonrpc": "2.0", "id": 6, "method": "workspace/symbol", "params": {"query": ',
    ],
    ids=["invalid-utf8", "invalid-json"],
)
async def test_unparseable_bodies_get_a_parse_error(lsp: RawLsp, body: bytes) -> None:
    await lsp.send_body(body)
    for _ in range(100):
        if lsp.unanswered:
            break
        await asyncio.sleep(0.05)
    assert lsp.unanswered, "no answer to an unparseable request"
    answer = lsp.unanswered[0]
    assert answer["id"] is None and answer["error"]["code"] == -32700
    assert await lsp.request("workspace/symbol", {"query": "x"}, timeout=10) == []  # still serving


async def test_did_open_with_invalid_utf8_is_kept_with_replacement(
    lsp: RawLsp, repo: Path, tmp_path: Path
) -> None:
    uri = (repo / "latin1.py").as_uri()
    text = b"# caf\xe9 prices\ndef total(prices):\n    return sum(prices)\n"
    body = (
        b'{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"'
        + uri.encode()
        + b'","languageId":"python","version":1,"text":"'
        + text.replace(b"\n", b"\\n")
        + b'"}}}'
    )
    await lsp.send_body(body)
    lenses = await lsp.request("textDocument/codeLens", {"textDocument": {"uri": uri}}, timeout=30)
    assert lenses is not None  # the document is open: its lenses are computed, not an error
    found = await lsp.command("devmem.memoriesForFile", {"uri": uri})
    assert found == {"hits": []}
    assert "not valid UTF-8" in log_text(tmp_path)


# ---- defect 11: a second initialize, exit while the model loads -----------------------------
async def test_second_initialize_is_refused(lsp: RawLsp, repo: Path, tmp_path: Path) -> None:
    with pytest.raises(RpcError) as refused:
        await lsp.initialize(repo)
    assert refused.value.code == -32600
    await model_loaded(tmp_path)
    await asyncio.sleep(1.5)  # a second load would be under way by now
    assert log_text(tmp_path).count("embedding model ready") == 1  # loaded once, not reloaded


async def test_exit_while_the_model_loads_never_aborts(
    env: dict[str, str], tmp_path: Path, repo: Path
) -> None:
    for delay in (0.40, 0.50):
        lsp = await spawn(env, tmp_path)
        await lsp.initialize(repo)
        await asyncio.sleep(delay)
        assert await lsp.request("shutdown", None, timeout=10) is None
        await lsp.notify("exit")
        took = await ended_within(lsp, 5.0)
        if took is None:
            lsp.proc.kill()
            await lsp.proc.wait()
        assert lsp.proc.returncode == 0, f"exit {lsp.proc.returncode} after {delay}s"
        assert "terminate called" not in log_text(tmp_path)


# ---- defect 12: special files ---------------------------------------------------------------
async def test_special_files_are_not_read(lsp: RawLsp, repo: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.py"
    os.mkfifo(fifo)
    lenses = [
        asyncio.ensure_future(
            lsp.request(
                "textDocument/codeLens", {"textDocument": {"uri": fifo.as_uri()}}, timeout=10
            )
        )
        for _ in range(6)
    ]
    for lens in lenses:  # answered (empty or an error), never blocking a worker thread
        try:
            assert not await lens
        except RpcError:
            pass
    with pytest.raises(RpcError) as refused:
        await lsp.command("devmem.memoriesForFile", {"uri": "file:///dev/zero"}, timeout=10)
    assert "Cannot read" in refused.value.message
    uri = await lsp.open(repo / "billing.py")
    assert await lsp.command("devmem.memoriesForFile", {"uri": uri}, timeout=10) == {"hits": []}
    assert lsp.alive


# ---- defect 13 and issue 20: files the server writes ----------------------------------------
async def test_memory_documents_are_private_bounded_and_per_store(
    env: dict[str, str], tmp_path: Path, repo: Path, model_cache: Path
) -> None:
    db = Path(env["DEVMEM_DB"])
    build_store(db, 120)
    lsp = await spawn(env, tmp_path)
    await lsp.initialize(repo)
    try:
        for word in WORDS[:6]:
            await lsp.request("workspace/symbol", {"query": f"{word} handler"}, timeout=60)
    finally:
        await lsp.shutdown()
    shared = model_cache / "memories"
    written = [p for p in shared.rglob("*") if p.is_file()] if shared.exists() else []
    assert written, "no memory documents written (the test would prove nothing)"
    assert not [p for p in shared.glob("*.md")], "memory files directly in the shared cache folder"
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    folders = {p.parent for p in written}
    assert len(folders) == 1  # one folder for this store
    for folder in folders | {shared}:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert len(written) <= 256


async def test_expected_errors_log_one_line(lsp: RawLsp, tmp_path: Path) -> None:
    for _ in range(3):
        with pytest.raises(RpcError):
            await lsp.command("devmem.open", {"id": "01NOTAMEMORY0000000000000X"})
    log = log_text(tmp_path)
    assert "01NOTAMEMORY" in log  # logged…
    assert "Traceback" not in log  # …in one line, not a traceback


async def test_reindex_gives_memory_back(env: dict[str, str], tmp_path: Path, repo: Path) -> None:
    build_store(Path(env["DEVMEM_DB"]), 64, longest=16)  # long texts: big batches
    lsp = await spawn(env, tmp_path)
    await lsp.initialize(repo)
    try:
        await model_loaded(tmp_path)
        await lsp.command("devmem.search", {"query": "warm up the model"})
        await lsp.command("devmem.recent", {"limit": 5})
        before = rss_mib(lsp.proc.pid)
        assert (await lsp.command("devmem.reindex", {}, timeout=300))["count"] == 64
        await asyncio.sleep(0.5)
        after = rss_mib(lsp.proc.pid)
    finally:
        await lsp.shutdown()
    assert after - before < 50, f"RSS {before:.0f} → {after:.0f} MiB after a reindex"


async def test_cancel_request_stops_a_running_reindex(
    env: dict[str, str], tmp_path: Path, repo: Path
) -> None:
    """`$/cancelRequest` answered the request but left its reindex running to the end."""
    build_store(Path(env["DEVMEM_DB"]), 3000)
    lsp = await spawn(env, tmp_path)
    await lsp.initialize(repo)
    try:
        command = await reindex_started(lsp)
        await lsp.notify("$/cancelRequest", {"id": 2})  # 1 was initialize
        with pytest.raises(RpcError) as cancelled:
            await asyncio.wait_for(command, 10)
        assert cancelled.value.code == -32800
        await asyncio.sleep(1.5)  # a batch under way may still report
        reports = len(lsp.notifications)
        await asyncio.sleep(2.0)
        assert len(lsp.notifications) == reports, "the reindex went on after the cancel"
    finally:
        await lsp.shutdown()


async def test_closing_a_big_file_gives_memory_back(
    lsp: RawLsp, repo: Path, tmp_path: Path
) -> None:
    big = repo / "big.py"
    big.write_text(
        "".join(
            f"def function_{i}(a, b):\n    '''Doc {i}.'''\n    return a + b * {i}\n\n"
            for i in range(40000)
        )
    )  # 2.9 MB, 40k definitions
    await model_loaded(tmp_path)
    before = rss_mib(lsp.proc.pid)
    uri = await lsp.open(big)
    assert (
        await lsp.request("textDocument/codeLens", {"textDocument": {"uri": uri}}, timeout=120)
        is not None
    )
    await lsp.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    await asyncio.sleep(2.0)  # the release runs 1 s after the last close
    grown = rss_mib(lsp.proc.pid) - before
    assert grown < 15, f"RSS {grown:.0f} MiB above before opening, after closing"
