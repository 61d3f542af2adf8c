"""The language server's state: pygls server, documents, caches and configuration.

The server holds its collaborators (backend, document cache, placements, watcher) and
nothing else. Features live in their own modules (hover, actions, lens, diagnostics,
commands, workspace_symbols) and take this server; :mod:`lsp_server.app` builds it and
registers them, so no feature is imported here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError
from pygls.lsp.server import LanguageServer

from core import Hit, Memory
from lsp_server import __version__, anchoring
from lsp_server.anchoring import Placed, Placements
from lsp_server.backend import Backend
from lsp_server.cache import LENS_CACHE_SIZE, RELATED_CACHE_SIZE, EpochCache
from lsp_server.config import SECTION, ServerConfig
from lsp_server.documents import DocInfo, Documents
from lsp_server.memory_docs import MemoryDocs
from lsp_server.protocol import DevMemProtocol
from lsp_server.watch import ChangeWatcher

log = logging.getLogger(__name__)


class DevMemServer(LanguageServer):
    """pygls LanguageServer plus DevMemory's collaborators."""

    def __init__(
        self,
        backend: Backend,
        *,
        docs_dir: Path | None,
        db_pinned: bool,
        poll_interval: float = 2.0,
    ) -> None:
        super().__init__(
            "devmem-lsp",
            __version__,
            protocol_cls=DevMemProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.backend = backend
        self.config = ServerConfig()
        self.documents = Documents(lambda: self.config.project)
        self.placements = Placements()
        self.placed_cache: EpochCache[list[Placed]] = EpochCache(64)
        self.anchored_cache: EpochCache[list[Memory]] = EpochCache(256)
        self.hover_cache: EpochCache[tuple[list[Hit], str | None]] = EpochCache(512)
        self.related_cache: EpochCache[list[Memory]] = EpochCache(RELATED_CACHE_SIZE)
        self.lens_cache: EpochCache[list[types.CodeLens]] = EpochCache(LENS_CACHE_SIZE)
        self.watcher = ChangeWatcher(backend, poll_interval, self.debounce)
        self.docs_dir = docs_dir  # where memory documents go for editors other than VS Code
        self._docs: MemoryDocs | None = None
        self._docs_store = ""
        self.db_pinned = db_pinned  # --db given: the client's database.path is ignored
        self.vscode = False
        self.diagnosed: set[str] = set()  # documents with diagnostics published
        self.background: set[asyncio.Future[None]] = set()  # show-flows still running
        self._debounce: dict[str, asyncio.TimerHandle] = {}

    protocol: DevMemProtocol

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Errors outside any request: pygls shows them to the user with `window/showMessage`."""
        if isinstance(error, UnicodeDecodeError | json.JSONDecodeError):
            self.protocol.answer_unparseable(error)  # a body that is not UTF-8 JSON
            return
        if source is JsonRpcInternalError:  # pygls' source for a failed send: never report
            log.error("cannot send to the client: %s", error)  # it by sending again
            return
        super().report_server_error(error, source)

    # ---- documents ---------------------------------------------------------------------
    async def doc_info(self, uri: str) -> DocInfo | None:
        """The document's current text, symbols and anchor path (None if unreadable)."""
        snap = self.documents.snapshot(self.workspace, uri)
        if snap is None:
            return None
        version, text = snap
        cached = self.documents.cached(uri)
        if cached is not None and version is not None and cached.version == version:
            return cached
        return await self.backend.offload(self.documents.build, uri, version, text)

    async def placed(self, info: DocInfo, epoch: int | None = None) -> list[Placed]:
        """The memories anchored to this document, placed on its current text (cached per
        document version and store epoch)."""
        if info.path is None:
            return []
        epoch = await self.watcher.current() if epoch is None else epoch
        key = (info.uri, info.version)
        found = self.placed_cache.get(epoch, key) if info.version is not None else None
        if found is None:
            # The store is asked once per store epoch; each new version is only re-placed.
            memories = self.anchored_cache.get(epoch, (info.path, info.project))
            if memories is None:
                memories = await self.backend.run(anchoring.anchored, info.path, info.project)
                self.anchored_cache.put(epoch, (info.path, info.project), memories)
            found = await self.backend.offload(self.placements.place, info, memories)
            if info.version is not None:
                self.placed_cache.put(epoch, key, found)
        return found

    async def default_project(self) -> str | None:
        """The project of work not tied to a file: the setting, else the workspace's repo."""
        if self.config.project:
            return self.config.project
        root = self.workspace.root_path if self._workspace_ready() else None
        if not root:
            return None
        found = await self.backend.offload(self.documents.root_of, Path(root))
        return found.name if found else None

    def _workspace_ready(self) -> bool:
        try:
            return self.workspace is not None
        except RuntimeError:  # before `initialize`
            return False

    def memory_docs(self) -> MemoryDocs | None:
        """This store's folder of memory documents; None when the client shows ``devmemory:``
        documents itself (the VS Code extension)."""
        if self.vscode or self.docs_dir is None:
            return None
        store = self.backend.store_path or ""
        if self._docs is None or self._docs_store != store:
            self._docs, self._docs_store = MemoryDocs(self.docs_dir, store), store
        return self._docs

    def supports(self, path: str) -> bool:
        """Whether a dotted client-capability path (e.g. ``workspace.code_lens.refresh_support``) is true."""
        value: Any = self.client_capabilities
        for part in path.split("."):
            value = getattr(value, part, None)
            if value is None:
                return False
        return bool(value)

    def debounce(self, key: str, delay: float, fn: Any) -> None:
        """Run the coroutine function ``fn`` once, ``delay`` s after the last call for ``key``."""
        loop = asyncio.get_running_loop()
        if (handle := self._debounce.pop(key, None)) is not None:
            handle.cancel()
        self._debounce[key] = loop.call_later(delay, lambda: asyncio.ensure_future(fn()))

    # ---- configuration -----------------------------------------------------------------
    async def pull_configuration(self) -> None:
        """Ask the client for section ``devmemory`` (when it supports workspace/configuration)."""
        if not self.supports("workspace.configuration"):
            return
        try:
            result = await self.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
            )
        except Exception as exc:  # a client that fails the request keeps the current config
            log.warning("workspace/configuration failed: %s", exc)
            return
        if result:
            await self.apply_configuration(result[0])

    async def apply_configuration(self, raw: Any) -> None:
        old = self.config
        self.config = old.merged(raw)
        if self.config == old:
            return
        log.info("configuration: %s", self.config.model_dump(by_alias=True))
        if self.config.database_path != old.database_path and not self.db_pinned:
            await self.backend.switch(self.config.database_path)
        if self.config.project != old.project:
            self.documents.clear()
        await self.watcher.announce()
