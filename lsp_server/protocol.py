"""DevMemory's JSON-RPC protocol: pygls' LanguageServerProtocol with the lifecycle fixed.

Each override names what pygls 2.1 does wrong and stays correct if pygls fixes it:

* `shutdown` cancelled in-flight requests while iterating the dict their callbacks remove
  themselves from (−32603 "dictionary changed size during iteration", pygls issue #606);
* every notification and every nested handler left a future in ``_request_futures``
  forever (~2 KiB per `didChange`);
* requests after `shutdown` and a second `initialize` were never answered (the
  specification asks for InvalidRequest);
* `exit` raised SystemExit inside the event loop, which pygls swallowed (exit code always
  0) while worker threads kept the process alive; we end the process ourselves;
* a failed send was reported to the client by sending, which failed again, without end;
* expected errors (bad arguments, memory not found) were logged with a full traceback;
* `$/cancelRequest` answered a command but left its work running (a reindex to the end).
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Callable, Generator
from concurrent.futures import Future
from functools import partial
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import lsp_method

log = logging.getLogger(__name__)

INVALID_REQUEST = -32600
PARSE_ERROR = -32700

# The work-done progress token of the request being handled (commands report progress on it).
WORK_DONE_TOKEN: contextvars.ContextVar[types.ProgressToken | None] = contextvars.ContextVar(
    "work_done_token", default=None
)


class DevMemProtocol(LanguageServerProtocol):
    """pygls' protocol with a sound lifecycle (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialized = False
        self.output_lost = False  # the client's end of our output is gone: send nothing more
        self.on_exit: Callable[[int], None] | None = None  # ends the process (set by the server)
        self._nested: dict[Any, Future[Any]] = {}  # request id → its nested handler's future

    # ---- requests in and out -----------------------------------------------------------
    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        msg_id = getattr(message, "id", None)
        if method is not None and msg_id is not None:  # a request
            refusal = self._refusal(method)
            if refusal is not None:
                log.warning("refused %s: %s", method, refusal)
                self._send_response(
                    msg_id, error=types.ResponseError(code=INVALID_REQUEST, message=refusal)
                )
                return
            if method == types.INITIALIZE:
                self.initialized = True
        super().handle_message(message)

    def _refusal(self, method: str) -> str | None:
        """Why a request must be refused under the specification's lifecycle (None: serve it)."""
        if self._shutdown:
            return f"The server is shutting down: {method} is not served after shutdown."
        if method == types.INITIALIZE and self.initialized:
            return "The server is already initialized: send initialize once per session."
        return None

    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls only logs a request whose params do not parse; answer it with the error,
        or the editor waits for that response forever."""
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(data["id"], error=exc.to_response_error())
            raise

    def answer_unparseable(self, error: Exception) -> None:
        """A body that is not JSON or not UTF-8: ParseError, id null (JSON-RPC 2.0 §5.1).

        A notification whose only fault is invalid UTF-8 (a `didOpen` of a Latin-1 file
        from a careless client) is kept, decoded with U+FFFD: dropping it would leave the
        document unknown to every later request; a warning says so."""
        if isinstance(error, UnicodeDecodeError) and self._decode_leniently(error.object):
            return
        log.warning("unparseable message (%s): answered ParseError", error)
        self._send_data(
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {
                    "code": PARSE_ERROR,
                    "message": f"Parse error: {error}. Send UTF-8 JSON bodies.",
                },
            }
        )

    def _decode_leniently(self, body: bytes) -> bool:
        try:
            raw = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            return False
        if not isinstance(raw, dict) or "id" in raw or "method" not in raw:
            return False  # requests and responses still get a ParseError
        uri = (raw.get("params") or {}).get("textDocument", {}).get("uri", "")
        log.warning(
            "%s %s: body is not valid UTF-8; kept with U+FFFD replacement characters",
            raw["method"],
            uri,
        )
        self.handle_message(self.structure_message(raw))
        return True

    def _send_data(self, data: Any) -> None:
        if self.output_lost:
            return  # nobody reads any more: sending (and reporting failure by sending) would loop
        stream = getattr(self.writer, "_stdout", None)
        if stream is not None and getattr(stream, "closed", False):
            self._lose_output("stdout is closed")
            return
        try:
            super()._send_data(data)
        except (BrokenPipeError, ConnectionError) as exc:
            self._lose_output(str(exc))

    def _lose_output(self, why: str) -> None:
        if not self.output_lost:
            log.warning("the client's end of the connection is gone (%s): no more messages", why)
        self.output_lost = True

    # ---- bookkeeping -------------------------------------------------------------------
    def _execute_handler(
        self, msg_id: Any, handler: Any, callback: Any, args: Any = None, kwargs: Any = None
    ) -> None:
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        # pygls removes an entry only when it answers a request; notifications and the
        # nested handlers of its builtin features stayed for good. Remove each when done.
        future = self._request_futures.get(msg_id)
        if future is None:
            return
        future.add_done_callback(partial(self._forget, msg_id))
        request = self.msg_id  # the request being served, in this context
        if request is not None and request != msg_id:
            # A nested handler (our command behind pygls' executeCommand): `$/cancelRequest`
            # for the request must reach it, or the work runs on after the answer.
            self._nested[request] = future
            future.add_done_callback(partial(self._forget_nested, request))

    def _forget(self, msg_id: Any, future: Future[Any]) -> None:
        if self._request_futures.get(msg_id) is future:
            del self._request_futures[msg_id]

    def _forget_nested(self, request: Any, future: Future[Any]) -> None:
        if self._nested.get(request) is future:
            del self._nested[request]

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        nested = self._nested.pop(msg_id, None)
        if nested is not None and nested.cancel():
            log.info("cancelled the work of request %s", msg_id)

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        error = None if future.cancelled() else future.exception()
        if isinstance(error, JsonRpcException) and not isinstance(error, JsonRpcInternalError):
            # An expected failure (bad arguments, not found, cancelled): one log line, not the
            # traceback pygls would write for it.
            self._request_futures.pop(msg_id, None)
            log.info("request %s failed: %s", msg_id, error)
            self._send_response(msg_id, error=error.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    # ---- builtin features --------------------------------------------------------------
    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        # Commands receive only their arguments; the token travels in a context variable
        # (each request runs in its own context, so tokens never leak between requests).
        WORK_DONE_TOKEN.set(params.work_done_token)
        return (yield from super().lsp_workspace__execute_command(params))

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        current = self.msg_id
        # pygls issue #606: cancelling a future runs its callbacks at once, and they remove
        # entries from this dict; iterate over a copy.
        for msg_id, future in list(self._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()
        self._shutdown = True
        return None

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        code = 0 if self._shutdown else 1  # the specification: 1 without a shutdown first
        if self.on_exit is not None:
            self.on_exit(code)  # does not return
        raise SystemExit(code)
