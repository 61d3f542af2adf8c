"""`devmem-lsp` as a thin client: pipe stdio to the engine, which runs the language server.

Standard library and ``core``'s engine link only: the relay process stays a few MB. When
the engine goes away the relay ends, as a language server that crashed would: the editor
restarts it (LSP sessions hold open documents, which a replay could not restore).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Mapping

from core import EngineHeader, EngineUnavailable, open_engine_connection

CHUNK = 1 << 16


def _client_to_engine(sock: socket.socket) -> None:
    try:
        while data := os.read(0, CHUNK):
            sock.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sock.shutdown(socket.SHUT_WR)  # the client closed our input: the session ends
        except OSError:
            pass


def _engine_to_client(sock: socket.socket) -> None:
    try:
        while data := sock.recv(CHUNK):
            view = memoryview(data)
            while view:
                view = view[os.write(1, view) :]
    except OSError:
        pass


def relay_main(env: Mapping[str, str], db: str | None, args: list[str]) -> int | None:
    """Serve this editor through the engine; None when the engine is unavailable (the caller
    then serves in-process), after one notice on stderr."""
    try:
        sock, _ = open_engine_connection(env, EngineHeader.make("lsp", env, db, args))
    except EngineUnavailable as exc:
        print(f"devmem-lsp: working without the engine: {exc}", file=sys.stderr)
        return None
    threading.Thread(target=_client_to_engine, args=(sock,), daemon=True).start()
    _engine_to_client(sock)
    return 0
