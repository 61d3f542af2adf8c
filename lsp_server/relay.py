"""`devmem-lsp` as a thin client: relay the editor's LSP session to the engine, and carry it
over to a new engine when the engine dies.

Standard library and ``core``'s engine link only: the relay process stays a few MB.

The relay reads every message both ways (``Content-Length`` framing) and keeps what a new
engine needs to take the session over (see :class:`Session`): the ``initialize`` params
(with the workspace folders as changed since), the latest configuration, and every open
document's latest text and version (it applies ``didChange`` itself, lib relay_docs). When
the engine goes away (``kill -9``, an upgrade, ``devmem serve stop``) while the editor is
still there:

* each request the engine had not answered gets an error now (``RequestCancelled``,
  -32800): the editor asks again if it still cares; resending it to a new engine could
  answer about a document state that has moved on, or apply a command twice;
* on the editor's next message the relay starts a new engine, replays ``initialize`` (its
  answer is not passed on: the editor has one), ``initialized``, the configuration and a
  ``didOpen`` per open document, then carries on. An idle editor does not restart an engine
  for nothing, and ``shutdown``/``exit`` with no engine are answered here.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import sys
from collections.abc import Mapping
from typing import Any

from core import (
    EngineHeader,
    EngineUnavailable,
    open_engine_connection,
    watch_engine,
    write_all,
)
from lsp_server.relay_docs import Document

CHUNK = 1 << 16
REQUEST_CANCELLED = -32800
REPLAY_ID = "devmem-relay-initialize"
Message = dict[str, Any]


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class Frames:
    """Splits a byte stream into LSP message bodies (``Content-Length`` headers)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        bodies: list[bytes] = []
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = _content_length(self._buffer[:end])
            if len(self._buffer) < end + 4 + length:
                break
            bodies.append(self._buffer[end + 4 : end + 4 + length])
            self._buffer = self._buffer[end + 4 + length :]
        return bodies


def _content_length(headers: bytes) -> int:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise ValueError("an LSP message without Content-Length")


def _decode(body: bytes) -> Message:
    try:
        message = json.loads(body)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}


class Session:
    """What the editor told the server that a new engine must be told again."""

    def __init__(self) -> None:
        self.initialize: Message | None = None  # the editor's initialize request
        self.initialize_answered = False
        self.initialized = False
        self.configuration: Message | None = None  # the latest didChangeConfiguration params
        self.documents: dict[str, Document] = {}
        self.encoding = "utf-16"  # the position encoding the server chose

    def note(self, message: Message) -> None:
        """Keep what ``message`` (from the editor) changes in the session."""
        method, params = message.get("method"), message.get("params") or {}
        if method == "initialize":
            self.initialize = message
        elif method == "initialized":
            self.initialized = True
        elif method == "workspace/didChangeConfiguration":
            self.configuration = params
        elif method == "workspace/didChangeWorkspaceFolders":
            self._folders_changed(params.get("event") or {})
        elif method == "textDocument/didOpen":
            document = Document.opened(params["textDocument"])
            self.documents[document.uri] = document
        elif method == "textDocument/didChange":
            self._changed(params)
        elif method == "textDocument/didClose":
            self.documents.pop(params["textDocument"]["uri"], None)

    def _changed(self, params: Message) -> None:
        document = self.documents.get(params["textDocument"]["uri"])
        if document is None:
            return  # never opened: the server ignores it as well
        for change in params.get("contentChanges") or []:
            document.apply(change, self.encoding)
        document.version = int(params["textDocument"].get("version", document.version))

    def _folders_changed(self, event: Message) -> None:
        if self.initialize is None:
            return
        params = self.initialize.setdefault("params", {})
        gone = {folder["uri"] for folder in event.get("removed") or []}
        folders = [f for f in params.get("workspaceFolders") or [] if f["uri"] not in gone]
        params["workspaceFolders"] = folders + list(event.get("added") or [])

    def answered_initialize(self, result: Message) -> None:
        self.initialize_answered = True
        capabilities = (result or {}).get("capabilities") or {}
        self.encoding = capabilities.get("positionEncoding") or "utf-16"

    def replay(self) -> list[Message]:
        """The messages that put a new engine where the old one was."""
        if self.initialize is None:
            return []
        if not self.initialize_answered:  # the editor still waits: the engine answers it
            return [self.initialize]
        out: list[Message] = [{**self.initialize, "id": REPLAY_ID}]
        if self.initialized:
            out.append({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        if self.configuration is not None:
            out.append(_notification("workspace/didChangeConfiguration", self.configuration))
        for document in self.documents.values():
            out.append(_notification("textDocument/didOpen", document.did_open()))
        return out


def _notification(method: str, params: Message) -> Message:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def _encode(message: Message) -> bytes:
    return frame(json.dumps(message).encode())


class Relay:
    """One editor's stdio ↔ one engine connection (renewed when the engine dies)."""

    def __init__(self, env: Mapping[str, str], header: EngineHeader, sock: socket.socket) -> None:
        self.env = env
        self.header = header
        self.sock: socket.socket | None = sock
        self.session = Session()
        self.pending: dict[str, Message] = {}  # the editor's requests the engine owes
        self.asked: set[str] = set()  # the engine's requests the editor owes
        self.exited = False  # the editor sent exit: the end of the engine is the end
        self.to_client: list[bytes] = []  # answers made here, for the pump to write
        self._from_client, self._from_engine = Frames(), Frames()

    # ---- editor → engine ---------------------------------------------------------------
    def from_client(self, data: bytes) -> None:
        for body in self._from_client.feed(data):
            self._client_message(body, _decode(body))

    def _client_message(self, body: bytes, message: Message) -> None:
        key = _key(message.get("id"))
        if "method" not in message and key is not None:  # an answer to the engine's request
            if key in self.asked:  # (one asked by an engine that died is dropped)
                self.asked.discard(key)
                self._send(body)
            return
        self.exited = self.exited or message.get("method") == "exit"
        if not self._deliver(body, message):
            return
        # Noted once delivered: a reconnection's replay is the state before this message.
        self.session.note(message)
        if key is not None:
            self.pending[key] = message

    def _deliver(self, body: bytes, message: Message) -> bool:
        """Send ``message`` to the engine, a new one if need be; False when it was answered
        here instead. A send that fails met a dead engine whose end was not read yet: that
        engine never read the message, so it goes to the next one."""
        for _attempt in range(2):
            if self.sock is None:
                if not self._reconnect_for(message):
                    return False
                if self.sock is None:
                    continue  # the new engine died during the replay
            if self._send(body):
                return True
        if message.get("id") is not None:  # two engines gone at once: the editor asks again
            self.to_client.append(_encode(_cancelled(message)))
        else:
            self.session.note(message)  # the next replay carries it
        return False

    def _reconnect_for(self, message: Message) -> bool:
        """No engine: start one for this message, or answer it here (False)."""
        method = message.get("method")
        if method == "shutdown":
            self.to_client.append(_encode({"jsonrpc": "2.0", "id": message["id"], "result": None}))
            return False
        if method in ("exit", "$/cancelRequest"):
            return False  # the relay ends / the request was already answered
        self.reconnect()
        return True

    def _send(self, body: bytes) -> bool:
        try:
            assert self.sock is not None
            self.sock.sendall(frame(body))
            return True
        except OSError:  # it died: what it owed is answered
            self.engine_gone()
            return False

    def reconnect(self) -> None:
        """A new engine, told what the old one knew."""
        sock, _ = open_engine_connection(self.env, self.header)
        self.sock, self._from_engine, self.asked = sock, Frames(), set()
        replay = self.session.replay()
        for message in replay:
            if message.get("id") not in (None, REPLAY_ID):
                self.pending[json.dumps(message["id"])] = message
        try:
            sock.sendall(b"".join(_encode(message) for message in replay))
        except OSError:  # gone again at once: the editor's next message tries once more
            self.engine_gone()

    def engine_gone(self) -> None:
        """The engine is gone: every request it owed gets an error now."""
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        for key, request in list(self.pending.items()):
            if request.get("method") == "initialize":
                continue  # the editor cannot start without it: the new engine answers it
            del self.pending[key]
            self.to_client.append(_encode(_cancelled(request)))
        if "initialize" in {r.get("method") for r in self.pending.values()}:
            self.pending.clear()
            self.reconnect()  # the editor waits for its first answer: a new engine now

    # ---- engine → editor ---------------------------------------------------------------
    def from_engine(self, data: bytes) -> bytes:
        """The messages to write to the editor (the replayed initialize's answer left out)."""
        out: list[bytes] = []
        for body in self._from_engine.feed(data):
            message = _decode(body)
            key = _key(message.get("id"))
            if "method" in message:
                if key is not None:
                    self.asked.add(key)
            elif message.get("id") == REPLAY_ID:
                continue
            elif key is not None:
                request = self.pending.pop(key, None)
                if request is not None and request.get("method") == "initialize":
                    self.session.answered_initialize(message.get("result") or {})
            out.append(frame(body))
        return b"".join(out)

    def take_answers(self) -> bytes:
        out, self.to_client = b"".join(self.to_client), []
        return out


def _key(request_id: Any) -> str | None:
    return None if request_id is None else json.dumps(request_id)


def _cancelled(request: Message) -> Message:
    return {
        "jsonrpc": "2.0",
        "id": request["id"],
        "error": {
            "code": REQUEST_CANCELLED,
            "message": f"{request.get('method')}: the devmem engine stopped while answering; "
            "a new one is taking over, ask again.",
        },
    }


def pump(relay: Relay, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
    """Copy until the editor closes stdin or exits and the engine has finished."""
    selector = selectors.DefaultSelector()
    selector.register(stdin_fd, selectors.EVENT_READ, "client")
    client_open = True
    while client_open or relay.sock is not None:
        watch_engine(selector, relay.sock)
        if not selector.get_map():
            break
        for key, _ in selector.select():
            if key.data == "client":
                client_open = _client_readable(relay, selector, stdin_fd)
            elif key.fileobj is relay.sock:  # (not a socket replaced in this round)
                _engine_readable(relay, stdout_fd, client_open)
            write_all(stdout_fd, relay.take_answers())
        if relay.exited and relay.sock is None:
            break
    return 0


def _client_readable(relay: Relay, selector: selectors.BaseSelector, stdin_fd: int) -> bool:
    data = os.read(stdin_fd, CHUNK)
    if data:
        relay.from_client(data)
        return True
    selector.unregister(stdin_fd)
    if relay.sock is not None:
        try:
            relay.sock.shutdown(socket.SHUT_WR)  # the engine ends the session
        except OSError:
            relay.engine_gone()
    return False


def _engine_readable(relay: Relay, stdout_fd: int, client_open: bool) -> None:
    assert relay.sock is not None
    try:
        data = relay.sock.recv(CHUNK)
    except OSError:
        data = b""
    if data:
        write_all(stdout_fd, relay.from_engine(data))
    elif client_open and not relay.exited:
        relay.engine_gone()
    else:
        relay.sock.close()
        relay.sock = None


def relay_main(env: Mapping[str, str], db: str | None, args: list[str]) -> int | None:
    """Serve this editor through the engine; None when the engine is unavailable (the caller
    then serves in-process), after one notice on stderr."""
    header = EngineHeader.make("lsp", env, db, args)
    try:
        sock, _ = open_engine_connection(env, header)
    except EngineUnavailable as exc:
        print(f"devmem-lsp: working without the engine: {exc}", file=sys.stderr)
        return None
    try:
        return pump(Relay(env, header, sock))
    except EngineUnavailable as exc:  # it died and no new one could start
        print(f"devmem-lsp: the engine is gone and cannot restart: {exc}", file=sys.stderr)
        return 1
