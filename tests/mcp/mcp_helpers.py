"""Drive the real `devmem-mcp` console script over stdio and streamable HTTP, as a client would."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.session import ListRootsFnT
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CallToolResult, TextContent

SERVER = Path(sys.executable).with_name("devmem-mcp")


def git_repo(path: Path) -> Path:
    """A folder that is a git repository (its name is the project name)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


@contextlib.asynccontextmanager
async def stdio_session(
    env: dict[str, str], *args: str, cwd: Path | None = None, roots: ListRootsFnT | None = None
) -> AsyncIterator[ClientSession]:
    """An initialized client session with a freshly spawned `devmem-mcp`."""
    params = StdioServerParameters(
        command=str(SERVER), args=list(args), env=env, cwd=str(cwd) if cwd else None
    )
    folder = Path(env["DEVMEM_DB"]).parent  # the server's stderr is kept there for failure analysis
    log_path = (folder if folder.is_dir() else Path(tempfile.gettempdir())) / "server-stderr.log"
    with log_path.open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, list_roots_callback=roots) as session:
                await session.initialize()
                yield session


@contextlib.asynccontextmanager
async def http_session(
    url: str, headers: dict[str, str] | None = None
) -> AsyncIterator[ClientSession]:
    async with create_mcp_http_client(headers=headers) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def http_server(env: dict[str, str], *args: str, host: str = "127.0.0.1") -> Iterator[str]:
    """`devmem-mcp --http` on a free port; yields its URL (reached through 127.0.0.1)."""
    port = free_port()
    proc = subprocess.Popen(
        [str(SERVER), "--http", "--host", host, "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_port(proc, port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def _wait_for_port(proc: subprocess.Popen[str], port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"devmem-mcp exited with {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"devmem-mcp did not listen on {port} within {timeout} s")


def text_of(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def call(session: ClientSession, tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured output."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def call_error(session: ClientSession, tool: str, **arguments: Any) -> str:
    """Call a tool that must fail as a tool error (isError); its text."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, f"expected an error from {tool}, got {text_of(result)[:300]}"
    return text_of(result)


async def wait_for_model(session: ClientSession, timeout: float = 120.0) -> None:
    """Until the server's embedding model is loaded (it loads in the background after start-up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await call(session, "memory_stats"))["embedding_ready"]:
            return
        await anyio.sleep(0.1)
    raise AssertionError(f"the embedding model did not load within {timeout} s")
