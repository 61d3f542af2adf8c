"""The engine's language-server side: the pygls server over one client connection.

pygls serves one connection per server object on its own event loop (``start_io`` over two
binary files), so each editor gets its server on a thread of the engine, reading and writing
the socket as it would stdin and stdout. What is heavy is shared: the store's service and
the embedding model (see engine_stores). ``exit`` ends the session, not the engine.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import SocketAttribute
from anyio.streams.buffered import BufferedByteReceiveStream

from core import EngineHeader, MemoryService, Settings
from lsp_server.app import build_server
from lsp_server.backend import Backend

from .engine_stores import Stores

log = logging.getLogger("devmem.engine.lsp")
CLEANUP_BUDGET_S = 1.2


def _options(header: EngineHeader) -> argparse.Namespace:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--poll", type=float, default=2.0)
    p.add_argument("--db-pinned", action="store_true")
    known, _ = p.parse_known_args(header.args)
    return known


async def serve_lsp(
    stores: Stores,
    settings: Settings,
    header: EngineHeader,
    receive: BufferedByteReceiveStream,
    stream: Any,
) -> None:
    """Serve one editor until it exits or closes the connection."""
    if receive.buffer:  # the relay waits for our answer before sending: nothing is buffered
        raise ConnectionError("the language client spoke before the engine answered")
    raw: socket.socket = stream.extra(SocketAttribute.raw_socket)
    own = socket.socket(fileno=os.dup(raw.fileno()))
    own.setblocking(True)
    try:
        await anyio.to_thread.run_sync(
            _run, stores, settings, _options(header), own, abandon_on_cancel=True
        )
    finally:  # on the engine's stop too: wakes the session's reader, which then ends
        with contextlib.suppress(OSError):
            own.shutdown(socket.SHUT_RDWR)
        own.close()


def _run(stores: Stores, settings: Settings, opts: argparse.Namespace, sock: socket.socket) -> None:
    def open_service(db_path: str | None) -> MemoryService:
        chosen = settings if db_path is None else replace(settings, db_path=Path(db_path))
        return stores.service(chosen)

    backend = Backend(open_service)
    server = build_server(
        backend,
        docs_dir=settings.cache_dir / "memories",
        db_pinned=opts.db_pinned,
        poll_interval=opts.poll,
    )

    # `exit` ends this session (pygls then returns from start_io), never the engine.
    def end_session(_code: int) -> None:
        backend.close(timeout=CLEANUP_BUDGET_S)

    server.protocol.on_exit = end_session
    reader, writer = sock.makefile("rb"), sock.makefile("wb")
    try:
        server.start_io(reader, writer)
    finally:
        backend.close(timeout=CLEANUP_BUDGET_S)
        reader.close()
        writer.close()
