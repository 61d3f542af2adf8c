"""`devmem-mcp` as a thin client: pipe stdio to the engine, which runs the MCP server.

Imports the standard library and ``core``'s engine link only (no MCP SDK, no numpy, no
service), so a client with a warm engine answers ``tools/list`` in tens of milliseconds.

The relay copies bytes both ways. It also keeps the client's ``initialize`` request and
``notifications/initialized`` line: when the engine dies (``kill -9``, an upgrade) the next
line from the client reconnects to a new engine, replays the handshake, drops the new
engine's answer to the replayed ``initialize``, and goes on — the client never notices.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import sys
from collections.abc import Mapping

from core import EngineHeader, EngineUnavailable, open_engine_connection

CHUNK = 1 << 16


class Relay:
    """One client's stdio ↔ one engine connection (renewed when the engine dies)."""

    def __init__(self, env: Mapping[str, str], header: EngineHeader, sock: socket.socket) -> None:
        self.env = env
        self.header = header
        self.sock: socket.socket | None = sock
        self.handshake: list[bytes] = []  # initialize + initialized, as the client sent them
        self._init_id: object = None
        self._skip_id: object = None  # the replayed initialize's id: its answer is dropped
        self._pending = b""  # client bytes not yet a whole line
        self._engine_out = b""  # engine bytes held back while looking for _skip_id's answer

    # ---- client → engine ---------------------------------------------------------------
    def from_client(self, data: bytes) -> None:
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        for line in lines:
            self._send(line + b"\n")

    def _send(self, line: bytes) -> None:
        self._remember(line)
        if self.sock is None:
            self._reconnect()
        assert self.sock is not None
        try:
            self.sock.sendall(line)
        except OSError:  # the engine died between two lines: once more with a new one
            self._drop()
            self._reconnect()
            assert self.sock is not None
            self.sock.sendall(line)

    def _remember(self, line: bytes) -> None:
        if len(self.handshake) >= 2 or b'"initialize' not in line and b"initialized" not in line:
            return
        try:
            message = json.loads(line)
        except ValueError:
            return
        method = message.get("method") if isinstance(message, dict) else None
        if method == "initialize":
            self.handshake = [line]
            self._init_id = message.get("id")
        elif method == "notifications/initialized" and self.handshake:
            self.handshake.append(line)

    def _reconnect(self) -> None:
        self.sock, _ = open_engine_connection(self.env, self.header)
        if self.handshake:
            self._skip_id = self._init_id
            for line in self.handshake:
                self.sock.sendall(line)

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    # ---- engine → client ---------------------------------------------------------------
    def from_engine(self, data: bytes) -> bytes:
        """What to write to the client (the replayed initialize's answer left out)."""
        if self._skip_id is None:
            return data
        self._engine_out += data
        out: list[bytes] = []
        while self._skip_id is not None and b"\n" in self._engine_out:
            line, self._engine_out = self._engine_out.split(b"\n", 1)
            if _answers(line, self._skip_id):
                self._skip_id = None
            else:
                out.append(line + b"\n")
        if self._skip_id is None:
            out.append(self._engine_out)
            self._engine_out = b""
        return b"".join(out)


def _answers(line: bytes, request_id: object) -> bool:
    try:
        message = json.loads(line)
    except ValueError:
        return False
    return isinstance(message, dict) and "method" not in message and message.get("id") == request_id


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def pump(relay: Relay, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    """Copy until the client closes stdin and the engine has answered everything."""
    selector = selectors.DefaultSelector()
    selector.register(stdin_fd, selectors.EVENT_READ, "client")
    watched: socket.socket | None = None
    client_open = True
    while client_open or relay.sock is not None:
        if relay.sock is not watched:
            if watched is not None:
                selector.unregister(watched)
            watched = relay.sock
            if watched is not None:
                selector.register(watched, selectors.EVENT_READ, "engine")
        if not selector.get_map():
            break
        for key, _ in selector.select():
            if key.data == "client":
                data = os.read(stdin_fd, CHUNK)
                if data:
                    relay.from_client(data)
                    continue
                client_open = False
                selector.unregister(stdin_fd)
                if relay.sock is not None:
                    relay.sock.shutdown(socket.SHUT_WR)  # the engine ends the session
            else:
                try:
                    data = relay.sock.recv(CHUNK) if relay.sock is not None else b""
                except OSError:
                    data = b""
                if data:
                    _write_all(stdout_fd, relay.from_engine(data))
                else:  # the engine went away: reconnect on the client's next line
                    relay._drop()
    return 0


def relay_main(env: Mapping[str, str], db: str | None, args: list[str]) -> int | None:
    """Serve this client through the engine; None when the engine is unavailable (the
    caller then serves in-process), after one notice on stderr."""
    header = EngineHeader.make("mcp", env, db, args)
    try:
        sock, _ = open_engine_connection(env, header)
    except EngineUnavailable as exc:
        print(f"devmem-mcp: working without the engine: {exc}", file=sys.stderr)
        return None
    try:
        return pump(Relay(env, header, sock))
    except EngineUnavailable as exc:  # it died and no new one could start
        print(f"devmem-mcp: the engine is gone and cannot restart: {exc}", file=sys.stderr)
        return 1
