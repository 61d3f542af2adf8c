"""The engine's MCP side: the official SDK's server over one client connection.

The relay (`devmem-mcp` with an engine) pipes its stdin and stdout to the socket byte for
byte, so the connection carries MCP's stdio framing (one JSON-RPC message per line). The
SDK's own stdio transport (``mcp.server.stdio.stdio_server``) takes the two ends as
explicit line streams: nothing of MCP is written here, only the line I/O over the socket.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import anyio
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

from core import EngineHeader, Settings, git_project
from mcp_server.server import build_server

from .engine_stores import Stores

MAX_MESSAGE = 64 << 20
_servers: dict[tuple[str, str | None, str, str], MCPServer[Any]] = {}
_servers_lock = threading.Lock()


class _SocketLines:
    """The client's lines, as the SDK's stdio transport reads its stdin."""

    def __init__(self, receive: BufferedByteReceiveStream) -> None:
        self._receive = receive

    async def __aiter__(self) -> AsyncIterator[str]:
        while True:
            try:
                line = await self._receive.receive_until(b"\n", MAX_MESSAGE)
            except (
                anyio.EndOfStream,
                anyio.IncompleteRead,
                anyio.ClosedResourceError,
                anyio.BrokenResourceError,
            ):
                return
            yield line.decode("utf-8", errors="replace")


class _SocketWriter:
    """The client's end, as the SDK's stdio transport writes its stdout."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def write(self, text: str) -> None:
        await self._stream.send(text.encode("utf-8"))

    async def flush(self) -> None:
        return None


def _options(header: EngineHeader) -> argparse.Namespace:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--project")
    p.add_argument("--log-level", default="WARNING", type=str.upper)
    known, _ = p.parse_known_args(header.args)
    return known


def server_for(stores: Stores, settings: Settings, header: EngineHeader) -> MCPServer[Any]:
    """An MCP server per (store, --project, working folder), shared by its clients: the
    server keeps per-session state (the client's roots) by session, like over HTTP."""
    opts = _options(header)
    cwd = Path(header.cwd)
    key = (str(settings.db_path), opts.project, str(cwd), opts.log_level)
    with _servers_lock:
        if key not in _servers:
            _servers[key] = build_server(
                stores.lazy(settings),
                opts.project,
                detect_project=lambda path: git_project(path or cwd),
                log_level=opts.log_level,
            )
        return _servers[key]


async def serve_mcp(
    stores: Stores,
    settings: Settings,
    header: EngineHeader,
    receive: BufferedByteReceiveStream,
    stream: Any,
) -> None:
    """Serve one MCP session over the connection until the client closes it."""
    server = server_for(stores, settings, header)
    stores.lazy(settings).warm_up()
    reader, writer = cast(Any, _SocketLines(receive)), cast(Any, _SocketWriter(stream))
    async with stdio_server(stdin=reader, stdout=writer) as (read_stream, write_stream):
        # MCPServer only runs its own stdio/HTTP transports; its low-level server runs any
        # pair of streams (what MCPServer.run_stdio_async does with the process's stdio).
        lowlevel = server._lowlevel_server
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
