"""Noticing that the shared store changed, and telling the client.

The MCP server, the CLI and connectors write to the same SQLite file while the editor is
open. Every ``interval`` seconds the watcher compares the store's change token; on a
change (or after this server's own writes) it sends ``devmem/memoriesChanged``, asks the
client to refresh code lenses (when it supports that) and republishes diagnostics.
Announcements are debounced so a burst of writes (a connector sync) refreshes once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from core import MemoryService

if TYPE_CHECKING:
    from lsp_server.backend import Backend

log = logging.getLogger(__name__)

ChangeToken = tuple[str, int]  # (store file, committed writes)

MEMORIES_CHANGED = "devmem/memoriesChanged"
ANNOUNCE_DELAY_S = 0.25

# The server's debounce: run a coroutine function once, a delay after the last call for a key.
Debounce = Callable[[str, float, Callable[[], Awaitable[Any]]], None]


class ChangeWatcher:
    """Polls the store's change token and announces changes to the client."""

    def __init__(self, backend: Backend, interval: float, debounce: Debounce) -> None:
        self._backend = backend
        self._debounce = debounce
        self.on_change: Callable[[], Awaitable[None]] | None = None  # what announcing does
        self._interval = interval
        self._token: ChangeToken | None = None
        self._task: asyncio.Task[None] | None = None
        self.epoch = 0  # how many store changes this server has seen (keys its caches)

    def start(self) -> None:
        if self._task is None and self._interval > 0:
            self._task = asyncio.ensure_future(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a locked or vanished store: try again next round
                log.warning("change poll failed: %s", exc)
            await asyncio.sleep(self._interval)

    async def check(self) -> bool:
        """Compare the store's token with the last one; announce when it changed."""
        token = await self.token()
        if token is None or token == self._token:
            return False
        first = self._token is None
        self._token = token
        self.epoch += 1
        if not first:
            await self.announce()
        return not first

    async def current(self) -> int:
        """The epoch after checking the store (a cheap query), for cache keys: a cached
        answer is never served after another process's write."""
        await self.check()
        return self.epoch

    async def after_write(self) -> None:
        """This server wrote: update the token and announce at once."""
        with contextlib.suppress(Exception):
            self._token = await self.token()
        self.epoch += 1
        await self.announce()

    async def token(self) -> ChangeToken | None:
        """The store's change counter (None until it is open). Every committed write of any
        process moves it: counting rows and the newest update time missed a delete plus an
        older-dated import within one poll."""
        backend = self._backend
        if not backend.ready:
            return None
        return await backend.run(_token)

    async def announce(self) -> None:
        self._debounce("announce", ANNOUNCE_DELAY_S, self._announce_now)

    async def _announce_now(self) -> None:
        if self.on_change is not None:
            await self.on_change()


def _token(svc: MemoryService) -> ChangeToken:
    return svc.location, svc.change_count()
