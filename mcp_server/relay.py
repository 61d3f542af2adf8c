"""`devmem-mcp` as a thin client: pipe stdio to the engine, which runs the MCP server.

Imports the standard library and ``core``'s engine link only (no MCP SDK, no numpy, no
service), so a client with a warm engine answers ``tools/list`` in tens of milliseconds.

The relay copies whole lines (MCP's stdio framing) both ways and remembers two things:
the client's ``initialize`` request and ``notifications/initialized``, and the requests
the engine has not answered yet. When the engine dies (``kill -9``, an upgrade), the relay
starts a new one, replays the handshake (dropping the new engine's answer to the replayed
``initialize``) and sends the unanswered requests again when a second run is harmless (see
:func:`resendable`): the client sees one slow answer, never a hang. The others (a change
that could be applied twice) are answered with an error that says to check and retry.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import socket
import sys
from collections.abc import Mapping

from core import (
    EngineHeader,
    EngineUnavailable,
    open_engine_connection,
    watch_engine,
    write_all,
)

CHUNK = 1 << 16
# The SDK writes responses as {"jsonrpc":"2.0","id":<id>,"result"|"error":…}: the id of an
# answer is read without parsing a large result; other shapes are parsed in full.
_ANSWER = re.compile(rb'^\{"jsonrpc":"2\.0","id":("(?:[^"\\]|\\.)*"|-?\d+),"(?:result|error)"')


# Requests a new engine may run again after the dead one had them, perhaps done: reads, and
# writes whose second run changes nothing (remember deduplicates by content hash; a link
# exists once). Not update_memory (a change to a memory the user wrote is kept as a pending
# version: a second run keeps a second one), nor forget (a second run answers "not found"
# although the first forgot it), nor anything unknown. tests/mcp/test_relay_resend.py keeps
# this in step with the tools' annotations.
RESENDABLE_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
        "completion/complete",
        "logging/setLevel",
    }
)
RESENDABLE_TOOLS = frozenset(
    {
        "recall",
        "get_memory",
        "list_memories",
        "related",
        "context_for_file",
        "memory_stats",
        "graph",
        "remember",
        "link_memories",
    }
)


def resendable(message: dict[str, object]) -> bool:
    """Whether a request the dead engine may have carried out can be run again."""
    method = message.get("method")
    if method == "tools/call":
        params = message.get("params")
        return isinstance(params, dict) and params.get("name") in RESENDABLE_TOOLS
    return method in RESENDABLE_METHODS


def interrupted(message: dict[str, object]) -> bytes:
    """The answer to a request that is not run again: a tool error the model can act on."""
    request_id = message.get("id")
    params = message.get("params")
    if message.get("method") == "tools/call" and isinstance(params, dict):
        text = (
            f"{params.get('name')}: the DevMemory engine stopped while running this call, so "
            "it may or may not have been applied. Check (get_memory, recall) and call it "
            "again if it was not."
        )
        answer: dict[str, object] = {
            "result": {"content": [{"type": "text", "text": text}], "isError": True}
        }
    else:
        text = f"{message.get('method')}: the DevMemory engine stopped while answering; retry."
        answer = {"error": {"code": -32603, "message": text}}
    return json.dumps({"jsonrpc": "2.0", "id": request_id, **answer}).encode() + b"\n"


def _message(line: bytes) -> dict[str, object] | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def answer_id(line: bytes) -> str | None:
    """The id (as JSON text) a line from the engine answers; None for anything else."""
    found = _ANSWER.match(line)
    if found:
        return found.group(1).decode()
    if b'"method"' in line or b'"id"' not in line:
        return None
    message = _message(line)
    if message is None or "method" in message or "id" not in message:
        return None
    return json.dumps(message["id"])


class Relay:
    """One client's stdio ↔ one engine connection (renewed when the engine dies)."""

    def __init__(self, env: Mapping[str, str], header: EngineHeader, sock: socket.socket) -> None:
        self.env = env
        self.header = header
        self.sock: socket.socket | None = sock
        self.handshake: list[bytes] = []  # initialize + initialized, as the client sent them
        self.unanswered: dict[str, bytes] = {}  # request id (JSON text) → the request line
        self._init_id: str | None = None
        self._skip_id: str | None = None  # the replayed initialize: its answer is dropped
        self.to_client: list[bytes] = []  # answers made here, for the pump to write
        self._from_client = b""  # bytes not yet a whole line, each way
        self._from_engine = b""

    # ---- client → engine ---------------------------------------------------------------
    def from_client(self, data: bytes) -> None:
        *lines, self._from_client = (self._from_client + data).split(b"\n")
        for line in lines:
            if self.sock is None:
                self.reconnect()  # before noting it: this request never met the dead engine
            self._note_request(line + b"\n")
            self._sendall(line + b"\n")

    def _note_request(self, line: bytes) -> None:
        if b'"method"' not in line:
            return  # an answer to the engine's own request (roots/list…)
        message = _message(line)
        if message is None:
            return  # the engine answers the parse error
        method, request_id = message.get("method"), message.get("id")
        if request_id is not None:
            self.unanswered[json.dumps(request_id)] = line
        if method == "initialize":
            self.handshake, self._init_id = [line], json.dumps(request_id)
        elif method == "notifications/initialized" and len(self.handshake) == 1:
            self.handshake.append(line)

    def _sendall(self, line: bytes) -> None:
        try:
            assert self.sock is not None
            self.sock.sendall(line)
        except OSError:  # the engine died under us: the reconnection resends what is due
            request = line in self.unanswered.values()  # (resent, or answered here)
            self.drop()
            self.reconnect()
            if not request:
                self._sendall(line)

    def reconnect(self) -> None:
        """A new engine: the handshake again, then the unanswered requests that may run twice
        (the others are answered here)."""
        sock, _ = open_engine_connection(self.env, self.header)
        self.sock, self._from_engine = sock, b""
        if self.handshake and self._init_id not in self.unanswered:
            self._skip_id = self._init_id
            for line in self.handshake:
                sock.sendall(line)
        for key, line in list(self.unanswered.items()):
            message = _message(line) or {}
            if resendable(message):
                sock.sendall(line)
            else:
                del self.unanswered[key]
                self.to_client.append(interrupted(message))

    def drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def take_answers(self) -> bytes:
        out, self.to_client = b"".join(self.to_client), []
        return out

    # ---- engine → client ---------------------------------------------------------------
    def from_engine(self, data: bytes) -> bytes:
        """The whole lines to write to the client (the replayed initialize's answer left out)."""
        *lines, self._from_engine = (self._from_engine + data).split(b"\n")
        out: list[bytes] = []
        for line in lines:
            answered = answer_id(line)
            if answered is not None and answered == self._skip_id:
                self._skip_id = None
                continue
            if answered is not None:
                self.unanswered.pop(answered, None)
            out.append(line + b"\n")
        return b"".join(out)


def _engine_gone(relay: Relay) -> None:
    """The engine closed the connection: reconnect now if requests wait for answers, else
    when the client next speaks (an idle client does not restart an engine for nothing)."""
    relay.drop()
    if relay.unanswered:
        relay.reconnect()


def pump(relay: Relay, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    """Copy until the client closes stdin and the engine has answered everything."""
    selector = selectors.DefaultSelector()
    selector.register(stdin_fd, selectors.EVENT_READ, "client")
    client_open = True
    while client_open or relay.sock is not None:
        watch_engine(selector, relay.sock)
        if not selector.get_map():
            break
        for key, _ in selector.select():
            if key.data == "client":
                data = os.read(stdin_fd, CHUNK)
                if data:
                    relay.from_client(data)
                    write_all(stdout_fd, relay.take_answers())
                    continue
                client_open = False
                selector.unregister(stdin_fd)
                if relay.sock is not None:
                    relay.sock.shutdown(socket.SHUT_WR)  # the engine ends the session
            elif key.fileobj is relay.sock:  # (not a socket replaced in this round)
                try:
                    data = relay.sock.recv(CHUNK)
                except OSError:
                    data = b""
                if data:
                    write_all(stdout_fd, relay.from_engine(data))
                elif client_open:
                    _engine_gone(relay)
                    write_all(stdout_fd, relay.take_answers())
                else:
                    relay.drop()
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
