"""Workspace symbols: search memories from the editor's symbol search (Ctrl+T, `:Telescope
lsp_workspace_symbols`, Helix's `S`).

Each hit becomes a symbol named ``[kind] title``. Anchored memories point at their code
(resolved against the workspace's git roots); the others point at the memory itself (the
VS Code extension's ``devmemory:`` document, or a markdown file for other editors).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from core import DevMemError, Hit, MemoryService
from lsp_server import present
from lsp_server.documents import Documents
from lsp_server.memory_docs import MemoryDocs, memory_uri

if TYPE_CHECKING:
    from lsp_server.server import DevMemServer

log = logging.getLogger(__name__)

MAX_SYMBOLS = 50
MIN_QUERY = 2
KIND_SYMBOLS = {
    "decision": types.SymbolKind.Event,
    "bugfix": types.SymbolKind.Key,
    "pitfall": types.SymbolKind.Key,
    "snippet": types.SymbolKind.Function,
    "commit": types.SymbolKind.Module,
    "issue": types.SymbolKind.Object,
}


def register(ls: DevMemServer) -> None:
    @ls.feature(types.WORKSPACE_SYMBOL)
    async def on_symbols(params: types.WorkspaceSymbolParams) -> list[types.WorkspaceSymbol]:
        if len(params.query.strip()) < MIN_QUERY:
            return []
        try:
            return await workspace_symbols(ls, params.query.strip())
        except DevMemError as exc:
            log.info("workspace symbols unavailable: %s", exc)
            return []


async def workspace_symbols(ls: DevMemServer, query: str) -> list[types.WorkspaceSymbol]:
    project = await ls.default_project()
    hits = await ls.backend.run(_search, query, project)
    roots = await ls.backend.offload(_roots, ls.documents, _folders(ls))
    return await ls.backend.offload(_symbols, hits, ls.documents, roots, ls.memory_docs())


def _search(svc: MemoryService, query: str, project: str | None) -> list[Hit]:
    """Hits for the symbol picker (called on every keystroke): this project's first.

    Unfiltered on purpose, like hover: core's project-filtered vector search is too slow
    for a keystroke, and memories of other projects are still worth finding here."""
    hits = svc.recall(query, limit=MAX_SYMBOLS).hits
    return sorted(
        hits, key=lambda h: project is not None and h.memory.project not in (project, None)
    )


def _folders(ls: DevMemServer) -> list[str]:
    uris = [f.uri for f in ls.workspace.folders.values()]
    if ls.workspace.root_uri:
        uris.append(ls.workspace.root_uri)
    return [p for p in (to_fs_path(u) for u in uris) if p]


def _roots(documents: Documents, folders: list[str]) -> list[Path]:
    roots: list[Path] = []
    for folder in folders:
        path = Path(folder)
        for candidate in (documents.root_of(path), path):
            if candidate is not None and candidate not in roots:
                roots.append(candidate)
    return roots


def _symbols(
    hits: list[Hit], documents: Documents, roots: list[Path], docs: MemoryDocs | None
) -> list[types.WorkspaceSymbol]:
    """Symbols for the hits (blocking: resolves files and writes memory documents)."""
    out = []
    for hit in hits:
        m = hit.memory
        location = (
            _code_location(m.anchor.path, m.anchor.start_line, m.anchor.end_line, documents, roots)
            if m.anchor
            else None
        )
        if location is None:
            text = present.memory_file_text(m) if docs is not None else None
            uri = memory_uri(docs, m.id, text)
            location = types.Location(uri=uri, range=_lines(1, 1))
        out.append(
            types.WorkspaceSymbol(
                name=f"[{m.kind}] {present.one_line(m.title, 100)}",
                kind=KIND_SYMBOLS.get(m.kind, types.SymbolKind.String),
                location=location,
                container_name=f"DevMemory · {present.date_of(m)}"
                + (f" · {m.project}" if m.project else ""),
            )
        )
    return out


def _code_location(
    path: str, start: int | None, end: int | None, documents: Documents, roots: list[Path]
) -> types.Location | None:
    uri = documents.resolve(path, roots)
    return types.Location(uri=uri, range=_lines(start or 1, end or start or 1)) if uri else None


def _lines(start: int, end: int) -> types.Range:
    return types.Range(
        start=types.Position(line=start - 1, character=0),
        end=types.Position(line=end - 1, character=0),
    )
