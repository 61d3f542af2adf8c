"""The core side of the server: the service opened in the background, core calls off the loop.

`initialize` must answer at once, so the service (store + embedding model, which loads in
its own thread) is opened by a task; handlers that need it wait for it. Every core call
runs in a small thread pool (SQLite and ONNX release the GIL), never on the event loop, so
a slow query delays one answer, not the whole editor session. Each pool thread keeps its
own SQLite connection (the SQLite storage keeps one per thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from core import DevMemError, MemoryService, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
ServiceOpener = Callable[[str | None], MemoryService]
ChangeToken = tuple[int, str, str]
OPEN_TIMEOUT_S = 60.0


class Backend:
    """Owns the MemoryService and runs every core call in worker threads."""

    def __init__(self, opener: ServiceOpener, *, workers: int = 4) -> None:
        self._opener = opener
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="devmem-core")
        self._service: MemoryService | None = None
        self._error: DevMemError | None = None
        self._ready = asyncio.Event()
        self._opening: asyncio.Task[None] | None = None
        self.db_path: str | None = None
        self.stopping = threading.Event()  # set at exit: long jobs stop at their next batch
        self._busy = 0  # jobs running in the pool
        self._idle = threading.Condition()

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, db_path: str | None) -> asyncio.Task[None]:
        """Open the service on ``db_path`` (None: the opener's default) in the background."""
        self.db_path = db_path
        self._opening = asyncio.ensure_future(self._open(db_path))
        return self._opening

    async def switch(self, db_path: str | None) -> None:
        """Re-open on another database (the client changed `database.path`)."""
        if db_path == self.db_path and self._opening is not None:
            return
        old = self._service
        self._service, self._error = None, None
        self._ready.clear()
        if old is not None:
            await self.offload(old.close)
        await self.start(db_path)

    async def _open(self, db_path: str | None) -> None:
        try:
            self._service = await self.offload(self._opener, db_path)
            log.info("store open: %s", self._service.location)
        except DevMemError as exc:
            self._error = exc
            log.error("cannot open the store: %s", exc)
        except Exception as exc:  # any failure must still release waiting requests
            self._error = StoreError(
                f"Cannot open the DevMemory store: {exc}",
                hint="Check the `database.path` setting or DEVMEM_DB.",
            )
            log.exception("cannot open the store")
        finally:
            self._ready.set()

    def close(self, timeout: float = 1.0) -> bool:
        """Stop: queued jobs are dropped, running ones asked to stop (``stopping``) and given
        ``timeout`` s to reach a batch boundary. The service is closed only when none is still
        running (closing a connection under a running job would crash it); True if closed."""
        self.stopping.set()
        self._executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy and (left := deadline - time.monotonic()) > 0:
                self._idle.wait(left)
            if self._busy:
                log.warning("%d job(s) still running at exit: left to the process end", self._busy)
                return False
        if self._service is not None:
            with contextlib.suppress(Exception):
                self._service.close()
        return True

    # ---- calls -------------------------------------------------------------------------
    @property
    def store_path(self) -> str | None:
        """The open store's path (None until it is open)."""
        return self._service.location if self._service is not None else None

    @property
    def ready(self) -> bool:
        return self._service is not None

    async def service(self) -> MemoryService:
        """The open service; waits while it opens, raises the opening error if it failed."""
        if self._opening is None:
            raise StoreError(
                "The language server has not been initialized yet.", hint="Send `initialize` first."
            )
        try:
            await asyncio.wait_for(self._ready.wait(), OPEN_TIMEOUT_S)
        except TimeoutError:
            raise StoreError(
                "The DevMemory store is still opening.", hint="Try again in a moment."
            ) from None
        if self._service is None:
            raise self._error or StoreError("The DevMemory store is not open.")
        return self._service

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(service, *args, **kwargs)`` in a worker thread."""
        svc = await self.service()
        return await self.offload(fn, svc, *args, **kwargs)

    async def offload(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Any blocking work (parsing, git, file reads) in a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, partial(self._counted, fn, *args, **kwargs)
        )

    def _counted(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._idle:
            self._busy += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    async def change_token(self) -> ChangeToken | None:
        """Cheap fingerprint of the store's content: count + newest (id, updated_at).

        Any write, update or delete by any process changes it (an update makes its memory
        the newest; a delete changes the count). Core has no `change_token()` yet.
        """
        if not self.ready:
            return None
        return await self.run(_token)


def _token(svc: MemoryService) -> ChangeToken:
    page = svc.list(limit=1)
    newest = page.memories[0] if page.memories else None
    return (page.total, newest.id if newest else "", newest.updated_at if newest else "")
