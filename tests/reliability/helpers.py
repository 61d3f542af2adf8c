"""What the reliability tests share: the console scripts, store checks and raw protocol clients.

The raw clients speak the wire formats themselves (MCP stdio: one JSON-RPC message per
line; LSP: ``Content-Length`` frames) so that a test can send what no SDK would: broken
JSON, lone surrogates, 10 MB frames, wrong-typed params. They answer the servers' own
requests (``workspace/configuration``, ``client/registerCapability``…) with empty results.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.embeddings import UnavailableEmbedder
from core.maintenance import consistency
from core.service import MemoryService
from tests import sqlite_backend

BIN = Path(sys.executable).parent
DEVMEM, DEVMEM_MCP, DEVMEM_LSP = (str(BIN / n) for n in ("devmem", "devmem-mcp", "devmem-lsp"))
REPO = Path(__file__).resolve().parents[2]
LOCKED_WORDS = ("database is locked", "database table is locked", "sqlite_busy", "locked")


def server_env(db: Path, cache: Path, *, embeddings: bool = True, **extra: str) -> dict[str, str]:
    """The environment of a console script on ``db`` (the model cache is shared)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVMEM_", "PYTEST_"))}
    env.update(
        DEVMEM_DB=str(db),
        DEVMEM_CACHE_DIR=str(cache),
        HF_HUB_OFFLINE="1",
        DEVMEM_EMBEDDINGS="1" if embeddings else "0",
        DEVMEM_ENGINE="off",  # in-process clients; test_engine_safety.py switches it on
    )
    env.update(extra)
    return env


def cli(
    env: dict[str, str], *args: str, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEVMEM, *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def opened(db: Path | str) -> Iterator[MemoryService]:
    """The store for checking (no model: reads and verification only)."""
    svc = MemoryService.open(db, UnavailableEmbedder("verification only"))
    try:
        yield svc
    finally:
        svc.close()


# Every row that hangs off a memory must have its memory, and every memory its FTS row and
# first version; the vec0 index must mirror memory_vectors exactly.
_ORPHAN_QUERIES = {
    "FTS rows without a memory": "SELECT count(*) FROM memory_fts WHERE rowid NOT IN (SELECT rowid FROM memories)",
    "memories without an FTS row": "SELECT count(*) FROM memories WHERE rowid NOT IN (SELECT rowid FROM memory_fts)",
    "vectors without a memory": "SELECT count(*) FROM memory_vectors WHERE rowid NOT IN (SELECT rowid FROM memories)",
    "tags without a memory": "SELECT count(*) FROM memory_tags WHERE memory_rowid NOT IN (SELECT rowid FROM memories)",
    "versions without a memory": "SELECT count(*) FROM memory_versions WHERE memory_rowid NOT IN (SELECT rowid FROM memories)",
    "memories without a version": "SELECT count(*) FROM memories WHERE rowid NOT IN (SELECT memory_rowid FROM memory_versions)",
    "entity links without a memory": "SELECT count(*) FROM memory_entities WHERE memory_rowid NOT IN (SELECT rowid FROM memories)",
    "relation evidence without a memory": "SELECT count(*) FROM relation_evidence WHERE memory_rowid NOT IN (SELECT rowid FROM memories)",
    "links without a memory": "SELECT count(*) FROM memory_links WHERE source_rowid NOT IN (SELECT rowid FROM memories)"
    " OR target_rowid NOT IN (SELECT rowid FROM memories)",
}
_VEC0_QUERIES = {
    "vec0 rows without a vector": "SELECT count(*) FROM memory_vec WHERE rowid NOT IN (SELECT rowid FROM memory_vectors)",
    "vectors missing from vec0": "SELECT count(*) FROM memory_vectors WHERE rowid NOT IN (SELECT rowid FROM memory_vec)",
}


def store_problems(svc: MemoryService) -> list[str]:
    """Everything wrong with the store: integrity, index consistency, orphans (empty: healthy)."""
    problems = [f"{c.name}: {c.detail}" for c in consistency(svc) if not c.ok]
    conn = sqlite_backend.conn(svc)
    queries = dict(_ORPHAN_QUERIES)
    if sqlite_backend.store_of(svc).vector_table_ready():
        queries.update(_VEC0_QUERIES)
    for what, sql in queries.items():
        n = int(conn.execute(sql).fetchone()[0])
        if n:
            problems.append(f"{n} {what}")
    return problems


def rows_with_vectors(svc: MemoryService, ids: list[str]) -> set[str]:
    """Which of these memory ids have a vector row (in memory_vectors and in vec0)."""
    conn = sqlite_backend.conn(svc)
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        sql = (
            f"SELECT m.id FROM memories m JOIN memory_vectors v ON v.rowid = m.rowid"
            f" WHERE m.id IN ({marks})"
        )
        if sqlite_backend.store_of(svc).vector_table_ready():
            sql += " AND m.rowid IN (SELECT rowid FROM memory_vec)"
        found |= {str(r[0]) for r in conn.execute(sql, chunk)}
    return found


def all_content(svc: MemoryService) -> str:
    """Every memory's content, joined (to look acknowledged markers up in one pass)."""
    return "\n".join(
        str(r[0]) for r in sqlite_backend.conn(svc).execute("SELECT content FROM memories")
    )


def git_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository with ``files`` committed (its folder name is the project name)."""
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git = [
        "git",
        "-c",
        "user.name=T",
        "-c",
        "user.email=t@example.com",
        "-c",
        "commit.gpgsign=false",
    ]
    subprocess.run([*git, "init", "-q"], cwd=path, check=True)
    subprocess.run([*git, "add", "."], cwd=path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "initial"], cwd=path, check=True)
    return path


# ---- raw JSON-RPC over a subprocess's stdio ------------------------------------------------
class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.message = str(error.get("message", ""))


class _RawRpc:
    """A JSON-RPC peer over a child's stdin/stdout; subclasses define the framing."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._ids = itertools.count(1)
        self._waiting: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self.unanswered: list[dict[str, Any]] = []  # responses nobody waited for (id null…)
        self.notifications: list[dict[str, Any]] = []
        self._reader = asyncio.ensure_future(self._read_loop())

    @classmethod
    async def spawn(
        cls, cmd: list[str], env: dict[str, str], stderr: Path, cwd: Path | None = None
    ):
        with stderr.open("ab") as err:
            proc = await asyncio.create_subprocess_exec(
                *cmd,
                env=env,
                cwd=cwd,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                limit=64 * 1024 * 1024,
            )
        return cls(proc)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def request(self, method: str, params: Any = None, timeout: float = 60) -> Any:
        """Send a request; its result, or RpcError."""
        rid = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            message["params"] = params
        return await self.send_and_wait(json.dumps(message).encode(), rid, timeout)

    async def send_and_wait(self, body: bytes, rid: Any, timeout: float = 60) -> Any:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = future
        await self.send_body(body)
        reply = await asyncio.wait_for(future, timeout)
        if "error" in reply:
            raise RpcError(reply["error"])
        return reply.get("result")

    def next_id(self) -> int:
        return next(self._ids)

    async def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.send_body(json.dumps(message).encode())

    async def send_body(self, body: bytes) -> None:
        raise NotImplementedError

    async def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def _read_message(self) -> dict[str, Any] | None:
        raise NotImplementedError

    async def _read_loop(self) -> None:
        while True:
            try:
                message = await self._read_message()
            except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                message = None
            if message is None:
                break
            await self._dispatch(message)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the server closed its output"))

    async def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # a request from the server
            await self.send_body(
                json.dumps(
                    {"jsonrpc": "2.0", "id": message["id"], "result": self.answer(message)}
                ).encode()
            )
        elif "method" in message:
            self.notifications.append(message)
        elif message.get("id") in self._waiting:
            self._waiting.pop(message["id"]).set_result(message)
        else:
            self.unanswered.append(message)

    def answer(self, request: dict[str, Any]) -> Any:
        if request["method"] == "workspace/configuration":
            return [None for _ in request.get("params", {}).get("items", [])]
        return None

    async def close(self, timeout: float = 10) -> int | None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        return self.proc.returncode


class RawMcp(_RawRpc):
    """MCP over stdio: newline-delimited JSON-RPC."""

    async def send_body(self, body: bytes) -> None:
        await self.send_raw(body + b"\n")

    async def _read_message(self) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return None
            if line.strip():
                return json.loads(line)

    async def initialize(self) -> dict[str, Any]:
        result = await self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "reliability", "version": "0"},
            },
        )
        await self.notify("notifications/initialized")
        return result

    async def tool(self, name: str, arguments: Any, timeout: float = 120) -> dict[str, Any]:
        """A tools/call result (``isError`` set for tool errors); RpcError for protocol errors."""
        return await self.request("tools/call", {"name": name, "arguments": arguments}, timeout)


class RawLsp(_RawRpc):
    """LSP over stdio: ``Content-Length`` framed JSON-RPC."""

    async def send_body(self, body: bytes) -> None:
        await self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read_message(self) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        length = None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return None
            if line in (b"\r\n", b"\n"):
                if length is not None:
                    break
                continue
            name, _, value = line.decode("ascii", "replace").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = await self.proc.stdout.readexactly(length)
        return json.loads(body)

    async def initialize(self, root: Path | None, options: dict[str, Any] | None = None) -> Any:
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "capabilities": {"workspace": {"configuration": True}},
            "clientInfo": {"name": "reliability-client", "version": "0"},
            "initializationOptions": options or {},
        }
        if root is not None:
            uri = root.as_uri()
            params.update(rootUri=uri, workspaceFolders=[{"uri": uri, "name": root.name}])
        result = await self.request("initialize", params)
        await self.notify("initialized", {})
        return result

    async def command(self, name: str, *arguments: Any, timeout: float = 120) -> Any:
        return await self.request(
            "workspace/executeCommand", {"command": name, "arguments": list(arguments)}, timeout
        )

    async def open(self, path: Path, language: str = "python") -> str:
        uri = path.as_uri()
        await self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": language,
                    "version": 1,
                    "text": path.read_text(),
                }
            },
        )
        return uri

    async def hover(self, uri: str, line: int, character: int, timeout: float = 60) -> Any:
        return await self.request(
            "textDocument/hover",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
            timeout,
        )

    async def shutdown(self) -> int | None:
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout=10)
            await self.notify("exit")
        return await self.close()
