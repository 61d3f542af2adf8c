"""`devmem serve`: the per-user engine that keeps the store, the model and the caches warm.

One process per user and install listens on a Unix socket (see ``core.engine_link`` for
where, and the handshake). Each connection names its kind: ``mcp`` (the engine hosts the
official SDK's MCP server over it), ``lsp`` (a pygls server), ``cli`` (one `devmem`
command, run here on the client's own terminal), ``status`` or ``stop``.

Lifetime: the engine holds an exclusive ``flock`` while it listens (a second engine
started at once sees it and exits); it exits after ``idle`` seconds without clients; a
client whose installed code differs makes it *retire*: it stops listening at once (so the
client can start a new engine) and exits when its last connection closes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
import anyio.to_thread
from anyio.streams.buffered import BufferedByteReceiveStream

from core import (
    ENGINE_PROTOCOL,
    EngineHeader,
    EngineUnavailable,
    __version__,
    check_owned,
    engine_code_version,
    engine_lock_path,
    engine_socket_path,
    release_free_heap,
    secure_runtime_dir,
)

from .engine_stores import Stores

log = logging.getLogger("devmem.engine")
DEFAULT_IDLE_S = 900.0
CLIENT_KINDS = frozenset({"mcp", "lsp", "cli"})
HEADER_TIMEOUT_S = 10.0
MAX_LINE = 1 << 20
VERSION_CHECK_S = 1.0


class Engine:
    """The engine's state: its stores, its clients, its lifetime."""

    def __init__(
        self, env: Mapping[str, str], cli: Callable[..., Any], idle_s: float = DEFAULT_IDLE_S
    ) -> None:
        self.env = dict(env)
        self.cli = cli  # the devmem command (click), run for CLI clients
        self.idle_s = idle_s
        self.code = engine_code_version()
        self.version = f"{__version__}+{self.code}"
        self._disk_code, self._checked_at = self.code, time.monotonic()
        self.started = time.time()
        self.stores = Stores()
        self.active: Counter[str] = Counter()
        self.served: Counter[str] = Counter()
        self.last_activity = time.monotonic()
        self.retired = False
        self._listener: anyio.abc.SocketListener | None = None
        self._scope: anyio.CancelScope | None = None
        self._lock_fd: int | None = None
        self._socket: Path = engine_socket_path(env)
        self._socket_inode: int | None = None

    # ---- start and stop ----------------------------------------------------------------
    def run(self) -> int:
        """Listen until idle, stopped or retired. 0 also when another engine already runs."""
        secure_runtime_dir(self.env)
        if not self._take_lock():
            log.info("another engine already runs for this install; leaving it the socket")
            return 0
        try:
            sock = self._bind()
            log.info("engine %s (pid %d) listening on %s", self.version, os.getpid(), sock)
            anyio.run(self._serve, sock)
        finally:
            self._release()
            self.stores.close()
        return 0

    def _take_lock(self) -> bool:
        path = engine_lock_path(self.env)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        check_owned(path, os.fstat(fd), "lock file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _bind(self) -> socket.socket:
        """The listening socket, 0600 from birth (the umask covers the bind→chmod gap)."""
        path = self._socket
        with contextlib.suppress(FileNotFoundError):
            check_owned(path, os.lstat(path), "socket")
            path.unlink()  # left by an engine that died: we hold the lock, so it is not live
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        sock.listen(64)
        self._socket_inode = os.lstat(path).st_ino
        return sock

    def _release(self) -> None:
        """Stop being the engine: remove our socket and drop the lock, once. (A retired
        engine ends later, when a successor may be listening on a new socket at the same
        path, possibly with the same inode number: it must not be touched then.)"""
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):
            if os.lstat(self._socket).st_ino == self._socket_inode:
                self._socket.unlink()
        os.close(self._lock_fd)
        self._lock_fd = None

    async def _serve(self, sock: socket.socket) -> None:
        self._listener = await anyio.abc.SocketListener.from_socket(sock)
        self._warm_default_store()
        async with anyio.create_task_group() as tg:
            self._scope = tg.cancel_scope
            tg.start_soon(self._watch_idle)
            while True:
                try:
                    stream = await self._listener.accept()
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    break  # retired: existing connections go on, the watcher ends us
                tg.start_soon(self._handle, stream)

    def _warm_default_store(self) -> None:
        """Open the store of whoever started us and load the model right away, so that the
        first client finds them ready (its first recall is hybrid, not text-only)."""
        with contextlib.suppress(Exception):
            self.stores.lazy(self.stores.settings(self.env, None)).warm_up()

    async def _watch_idle(self) -> None:
        step = max(0.05, min(1.0, self.idle_s / 4))
        while True:
            await anyio.sleep(step)
            if sum(self.active.values()):
                continue
            if self.retired or time.monotonic() - self.last_activity > self.idle_s:
                log.info("engine exiting (%s)", "retired" if self.retired else "idle")
                self.stop()
                return

    def stop(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def retire(self) -> None:
        """Stop listening now (a newer install wants the socket); exit after the last client."""
        if self.retired:
            return
        self.retired = True
        log.info("engine %s retiring: the installed code changed", self.version)
        self._release()
        if self._listener is not None:
            await self._listener.aclose()

    # ---- connections -------------------------------------------------------------------
    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        self.last_activity = time.monotonic()  # status requests too: idle means no one asks
        async with stream:
            receive = BufferedByteReceiveStream(stream)
            try:
                with anyio.fail_after(HEADER_TIMEOUT_S):
                    header = EngineHeader.decode(await receive.receive_until(b"\n", MAX_LINE))
            except Exception as exc:  # garbage, a timeout or a closed peer: answer and drop
                await _answer(stream, ok=False, error=f"bad engine header: {exc}")
                return
            await self._dispatch(header, receive, stream)

    async def _dispatch(
        self, header: EngineHeader, receive: BufferedByteReceiveStream, stream: Any
    ) -> None:
        if header.protocol != ENGINE_PROTOCOL:
            await _answer(stream, ok=False, error=f"engine protocol {ENGINE_PROTOCOL} only")
            return
        if header.kind in CLIENT_KINDS and self._code_changed():
            await _answer(stream, ok=False, stale=True, version=self.version)
            await self.retire()
            return
        if header.kind == "status":
            await _answer(stream, ok=True, **self.status())
        elif header.kind == "stop":
            await _answer(stream, ok=True, pid=os.getpid())
            self.stop()
        elif header.kind in CLIENT_KINDS:
            await self._serve_client(header, receive, stream)
        else:
            await _answer(stream, ok=False, error=f"unknown client kind {header.kind!r}")

    async def _serve_client(
        self, header: EngineHeader, receive: BufferedByteReceiveStream, stream: Any
    ) -> None:
        self.active[header.kind] += 1
        self.served[header.kind] += 1
        try:
            await _answer(stream, ok=True, version=self.version, pid=os.getpid())
            await self._host(header, receive, stream)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
            log.info("a %s client went away", header.kind)
        except EngineUnavailable as exc:
            log.warning("%s", exc)
        finally:
            self.active[header.kind] -= 1
            self.last_activity = time.monotonic()
            # What a session allocated (parsed documents, results) is freed now; give the
            # free pages back so that a long-lived engine does not keep its busiest moment.
            await anyio.to_thread.run_sync(release_free_heap)

    async def _host(
        self, header: EngineHeader, receive: BufferedByteReceiveStream, stream: Any
    ) -> None:
        settings = self.stores.settings(header.env, header.db)
        if header.kind == "mcp":
            from .engine_mcp import serve_mcp

            await serve_mcp(self.stores, settings, header, receive, stream)
        elif header.kind == "lsp":
            from .engine_lsp import serve_lsp

            await serve_lsp(self.stores, settings, header, receive, stream)
        else:
            from .engine_cli import serve_cli

            await serve_cli(self.stores, settings, header, stream, self.cli)

    def _code_changed(self) -> bool:
        """True when the installed code is no longer the code this engine started with
        (an upgrade, an edit of an editable install). Checked at most once a second."""
        now = time.monotonic()
        if now - self._checked_at > VERSION_CHECK_S:
            self._disk_code, self._checked_at = engine_code_version(), now
        return self._disk_code != self.code

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "version": self.version,
            "package_version": __version__,
            "python": sys.executable,
            "socket": str(self._socket),
            "uptime_s": round(time.time() - self.started, 1),
            "idle_after_s": self.idle_s,
            "rss_mb": rss_mb(),
            "clients": dict(+self.active),
            "served": dict(self.served),
            "retired": self.retired,
            **self.stores.describe(),
        }


async def _answer(stream: Any, **fields: Any) -> None:
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        await stream.send(json.dumps(fields).encode() + b"\n")


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc; else the peak from getrusage)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
