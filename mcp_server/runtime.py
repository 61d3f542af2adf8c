"""What the tools share at run time: the service (opened off the start-up path) and the project.

The service is built lazily so that ``initialize`` and ``tools/list`` answer before the
database is opened or the embedding model starts loading; every database call runs on a
worker thread so that one slow query never blocks the other requests of the session.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlparse

import anyio
import anyio.to_thread
from mcp.server.mcpserver.exceptions import ToolError

from core import DevMemError

if TYPE_CHECKING:
    from mcp.server.mcpserver import Context

    from core import MemoryService

log = logging.getLogger(__name__)
T = TypeVar("T")
ROOTS_TIMEOUT_S = 2.0
ALL_PROJECTS = "*"


def error_text(exc: DevMemError) -> str:
    """The one line an assistant reads: ``error (<code>): <message> <hint>``."""
    return f"error ({exc.code}): {exc.message}" + (f" {exc.hint}" if exc.hint else "")


@contextlib.contextmanager
def guard() -> Iterator[None]:
    """DevMemory errors raised inside become tool errors (isError results) with their hint."""
    try:
        yield
    except DevMemError as exc:
        raise ToolError(error_text(exc)) from exc


class LazyService:
    """The MemoryService, built on first need or by :meth:`warm_up` in the background."""

    def __init__(
        self,
        factory: Callable[[], MemoryService],
        on_warm: Callable[[MemoryService], None] | None = None,
    ) -> None:
        self._factory = factory
        self._on_warm = on_warm  # run on the warm-up thread once the service is built
        self._service: MemoryService | None = None
        self._lock = threading.Lock()
        self._warming = False

    @classmethod
    def ready(cls, service: MemoryService) -> LazyService:
        lazy = cls(lambda: service)
        lazy._service = service
        return lazy

    def get(self) -> MemoryService:
        """The service (blocking while it is built). A failed build is retried next time."""
        with self._lock:
            if self._service is None:
                self._service = self._factory()
            return self._service

    def warm_up(self, delay: float = 0.0) -> None:
        """Build the service on a daemon thread (once), after ``delay`` seconds, so that the
        first tool call finds it ready."""
        with self._lock:
            if self._warming or self._service is not None:
                return
            self._warming = True
        threading.Thread(
            target=self._warm, args=(delay,), name="devmem-mcp-warmup", daemon=True
        ).start()

    def _warm(self, delay: float) -> None:
        if delay > 0:
            time.sleep(delay)
        try:
            service = self.get()
        except Exception as exc:  # reported again, with its hint, by the first tool that needs it
            log.warning("could not open the store yet: %s", exc)
            return
        if self._on_warm is not None:
            try:
                self._on_warm(service)
            except Exception:  # a hook never takes the server down
                log.exception("the warm-up hook failed")

    def close(self) -> None:
        with self._lock:
            if self._service is not None:
                self._service.close()
                self._service = None


class ProjectScope:
    """The current project: ``--project``, else the client's roots, else the working directory.

    The client's roots are asked once per session (they name the folder the user opened,
    which may differ from the server's working directory); a client without roots, or one
    that does not answer in time, falls back to the working directory's git repository.
    """

    def __init__(self, fixed: str | None, detect: Callable[[Path | None], str | None]) -> None:
        self.fixed = fixed
        self._detect = detect  # Path → git project name of that folder; None → the working dir
        self._cwd_done = False
        self._cwd_project: str | None = None
        self._by_session: weakref.WeakKeyDictionary[Any, str | None] = weakref.WeakKeyDictionary()

    async def current(self, ctx: Context[Any, Any] | None) -> str | None:
        if self.fixed:
            return self.fixed
        session = _session(ctx)
        if session is not None:
            if session not in self._by_session:
                self._by_session[session] = await self._from_roots(ctx)
            found = self._by_session[session]
            if found:
                return found
        return await self._from_cwd()

    async def resolve(self, ctx: Context[Any, Any] | None, requested: str | None) -> str | None:
        """The project a call is about: the one asked for (``*`` = all projects), else the current one."""
        if requested is not None and requested.strip():
            return None if requested.strip() == ALL_PROJECTS else requested.strip()
        return await self.current(ctx)

    async def _from_cwd(self) -> str | None:
        if not self._cwd_done:
            self._cwd_project = await self._detect_safely(None)
            self._cwd_done = True
        return self._cwd_project

    async def _detect_safely(self, path: Path | None) -> str | None:
        try:
            return await anyio.to_thread.run_sync(self._detect, path)
        except Exception as exc:  # no git, or a broken folder: no project rather than a failed call
            log.warning(
                "could not detect the project of %s: %s", path or "the working directory", exc
            )
            return None

    async def _from_roots(self, ctx: Context[Any, Any] | None) -> str | None:
        if ctx is None or ctx.client_capabilities is None or ctx.client_capabilities.roots is None:
            return None
        try:
            with anyio.fail_after(ROOTS_TIMEOUT_S), warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore"
                )  # roots are deprecated from 2026-07-28 on; still useful
                result = await ctx.session.list_roots()
        except Exception as exc:  # no back-channel, a timeout, or a client error: use the cwd
            log.info("roots/list failed (%s); using the working directory's project", exc)
            return None
        for root in result.roots:
            path = _file_path(str(root.uri))
            if path is not None:
                project = await self._detect_safely(path)
                if project:
                    return project
        return None


def _session(ctx: Context[Any, Any] | None) -> Any:
    if ctx is None:
        return None
    try:
        return ctx.session
    except Exception:  # a Context outside a request has no session
        return None


def _file_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path))


class Runtime:
    """The service and the project scope, as every tool, resource and prompt receives them."""

    def __init__(
        self,
        lazy: LazyService,
        scope: ProjectScope,
        person: Callable[[], str] | None = None,
    ) -> None:
        self.lazy = lazy
        self.scope = scope
        # a team server: who signed in to this request (every call then runs as them)
        self.person = person

    async def run(self, fn: Callable[[MemoryService], T]) -> T:
        """Run ``fn(service)`` on a worker thread; DevMemory errors become tool errors."""
        with guard():
            return await self.call(fn)

    async def call(self, fn: Callable[[MemoryService], T]) -> T:
        """Run ``fn(service)`` on a worker thread, errors as they are."""
        lazy = self.lazy
        # read here, in the request's context; None: the store's own login (one person's store)
        role = self.person() if self.person is not None else None

        def work() -> T:
            # Imported here, not at start-up: it lives in core's storage package, whose import
            # loads numpy and SQLite before tools/list (test_start_up_loads_neither_…).
            from core import acting_as

            with acting_as(role, client="mcp"):
                return fn(lazy.get())

        return await anyio.to_thread.run_sync(work)
