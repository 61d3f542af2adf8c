"""Builds the language server: its state (:mod:`lsp_server.server`) with every feature
registered, and the document lifecycle wired to them."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from lsp_server import actions, commands, diagnostics, hover, lens, workspace_symbols
from lsp_server.backend import Backend
from lsp_server.config import section_of
from lsp_server.footprint import release_memory
from lsp_server.server import DevMemServer
from lsp_server.watch import MEMORIES_CHANGED
from lsp_server.watch import log as watch_log


def build_server(
    backend: Backend,
    *,
    docs_dir: Path | None = None,
    db_pinned: bool = False,
    poll_interval: float = 2.0,
) -> DevMemServer:
    """The server with every feature registered."""
    ls = DevMemServer(backend, docs_dir=docs_dir, db_pinned=db_pinned, poll_interval=poll_interval)
    ls.watcher.on_change = lambda: announce_changes(ls)
    _register_lifecycle(ls)
    hover.register(ls)
    actions.register(ls)
    lens.register(ls)
    diagnostics.register(ls)
    workspace_symbols.register(ls)
    commands.register(ls)
    return ls


def _register_lifecycle(ls: DevMemServer) -> None:
    @ls.feature(types.INITIALIZE)
    def on_initialize(params: types.InitializeParams) -> None:
        # Answer at once: the store opens (and the model loads) in the background.
        ls.config = ls.config.merged(params.initialization_options)
        name = (params.client_info.name if params.client_info else "") or ""
        ls.vscode = "visual studio code" in name.lower() or "vscode" in name.lower()
        ls.backend.start(None if ls.db_pinned else ls.config.database_path)

    @ls.feature(types.INITIALIZED)
    async def on_initialized(params: types.InitializedParams) -> None:
        await ls.pull_configuration()
        ls.watcher.start()

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(params: types.DidChangeConfigurationParams) -> None:
        pushed = section_of(params.settings)
        if pushed is not None:
            await ls.apply_configuration(pushed)
        else:
            await ls.pull_configuration()

    @ls.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def on_open(params: types.DidOpenTextDocumentParams) -> None:
        await diagnostics.publish(ls, params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.debounce(f"diagnostics:{uri}", 0.4, lambda: diagnostics.publish(ls, uri))

    @ls.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def on_save(params: types.DidSaveTextDocumentParams) -> None:
        await lens.persist_moves(ls, params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.documents.forget(uri)
        ls.placements.forget(uri)
        # A closed big file leaves freed heap pages behind: give them back once closing stops.
        ls.debounce("release-memory", 1.0, lambda: ls.backend.offload(release_memory))
        if ls.config.diagnostics.enabled:
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    @ls.feature(types.SHUTDOWN)
    def on_shutdown(params: None) -> None:
        ls.watcher.stop()


async def announce_changes(ls: DevMemServer) -> None:
    """The store changed: tell the client, refresh lenses, re-publish diagnostics."""
    ls.protocol.notify(MEMORIES_CHANGED, {})
    if ls.supports("workspace.code_lens.refresh_support"):
        try:
            await ls.workspace_code_lens_refresh_async(None)
        except Exception as exc:  # the client may refuse; lenses refresh on the next edit
            watch_log.debug("codeLens/refresh: %s", exc)
    for doc in list(ls.workspace.text_documents.values()):
        await diagnostics.publish(ls, doc.uri)
