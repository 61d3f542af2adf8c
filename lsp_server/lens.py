"""Code lenses: "N memories" above the functions and classes that have some.

A symbol's memories are those anchored inside it (placed on the current text, so the
lens follows the function when lines move) plus strongly related ones: memories that name
the symbol as a knowledge-graph entity (an assistant's note about ``parse_config`` written
through MCP, a commit that touched it). The lens runs ``devmem.memoriesForFile`` with
``show`` so that any editor lists them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types

from core import DevMemError, Memory, MemoryService
from lsp_server import anchoring
from lsp_server.anchoring import Placed
from lsp_server.documents import DocInfo
from lsp_server.symbols import Symbol
from lsp_server.targets import KEYWORDS, MIN_IDENTIFIER

if TYPE_CHECKING:
    from lsp_server.server import DevMemServer

log = logging.getLogger(__name__)

FOR_FILE_COMMAND = "devmem.memoriesForFile"
RELATED_PER_SYMBOL = 10  # beyond this a lens says "10+ memories"
_NOTHING: list[Memory] = []  # shared by every name without memories; never mutated
SYMBOL_ENTITY_TYPES = frozenset({"symbol", "function", "class", "code"})


@dataclass(frozen=True)
class SymbolMemory:
    """A memory shown for a symbol: anchored in it (with its current line) or related."""

    memory: Memory
    line: int | None
    why: str


def register(ls: DevMemServer) -> None:
    @ls.feature(types.TEXT_DOCUMENT_CODE_LENS)
    async def on_code_lens(params: types.CodeLensParams) -> list[types.CodeLens]:
        if not ls.config.code_lens.enabled:
            return []
        try:
            return await code_lenses(ls, params.text_document.uri)
        except DevMemError as exc:
            log.info("code lens unavailable: %s", exc)
            return []


async def code_lenses(ls: DevMemServer, uri: str) -> list[types.CodeLens]:
    info = await ls.doc_info(uri)
    if info is None or not info.symbols:
        return []
    epoch = await ls.watcher.current()
    key = (uri, info.version, info.project)
    cached = ls.lens_cache.get(epoch, key) if info.version is not None else None
    if cached is not None:  # the same text and the same store: the same lenses
        return cached
    # Anchored memories and name lookups are independent: run them side by side.
    placed, by_name = await asyncio.gather(
        ls.placed(info, epoch), _related(ls, _names(info.symbols), info.project, epoch)
    )
    lenses = await ls.backend.offload(
        build_lenses, uri, info.symbols, placed, _without_anchored(by_name, placed)
    )
    if info.version is not None:
        ls.lens_cache.put(epoch, key, lenses)
    return lenses


def build_lenses(
    uri: str, symbols: Sequence[Symbol], placed: list[Placed], related: dict[str, list[Memory]]
) -> list[types.CodeLens]:
    """One lens per symbol with memories (CPU only; 50k symbols take a worker, not the loop)."""
    by_symbol = anchoring.by_symbol(placed)
    lenses = []
    for symbol in symbols:
        count = len(
            _for_symbol(by_symbol.get((symbol.qualname, symbol.start_line), []), related, symbol)
        )
        if count:
            capped = any(
                len(related.get(n, [])) >= RELATED_PER_SYMBOL
                for n in (symbol.qualname, symbol.name)
            )
            lenses.append(_lens(uri, symbol, count, capped))
    return lenses


def _lens(uri: str, symbol: Symbol, count: int, capped: bool = False) -> types.CodeLens:
    at = types.Position(line=symbol.def_line - 1, character=0)
    title = f"{count}{'+' if capped else ''} memor{'y' if count == 1 and not capped else 'ies'}"
    return types.CodeLens(
        range=types.Range(start=at, end=at),
        command=types.Command(
            title=title,
            command=FOR_FILE_COMMAND,
            arguments=[{"uri": uri, "symbol": symbol.qualname, "show": True}],
        ),
    )


def _names(symbols: Iterable[Symbol]) -> frozenset[str]:
    """Names to look up: each symbol's own name (if distinctive) and its qualified name."""
    names: set[str] = set()
    for s in symbols:
        if (
            len(s.name) >= MIN_IDENTIFIER
            and s.name.lower() not in KEYWORDS
            and not s.name.startswith("__")
        ):
            names.add(s.name)
        if s.qualname != s.name:
            names.add(s.qualname)
    return frozenset(names)


def for_symbol(
    placed: list[Placed], related: dict[str, list[Memory]], symbol: Symbol
) -> list[SymbolMemory]:
    """The memories of one symbol: anchored inside it first, then related by name."""
    return _for_symbol(anchoring.for_symbol(placed, symbol), related, symbol)


def _for_symbol(
    mine: Sequence[Placed], related: dict[str, list[Memory]], symbol: Symbol
) -> list[SymbolMemory]:
    out = [
        SymbolMemory(
            p.memory,
            p.where.start_line if p.where else None,
            f"anchored to {p.memory.anchor.symbol or symbol.qualname}"
            if p.memory.anchor
            else "anchored here",
        )
        for p in mine
    ]
    seen = {m.memory.id for m in out}
    for name in dict.fromkeys((symbol.qualname, symbol.name)):
        for m in related.get(name, []):
            if m.id not in seen:
                seen.add(m.id)
                out.append(SymbolMemory(m, None, f"mentions {name}"))
    return out


def related_by_name(
    svc: MemoryService, names: frozenset[str], project: str | None
) -> dict[str, list[Memory]]:
    """Memories of this project (or of none) naming each symbol as a graph entity (worker
    thread). The project is checked here: with a project filter core's query scans the
    project's memories instead of the entity's (a plan ~50× slower at 10k memories)."""
    return svc.memories_naming(
        sorted(names), sorted(SYMBOL_ENTITY_TYPES), project, RELATED_PER_SYMBOL
    )


async def _related(
    ls: DevMemServer, names: frozenset[str], project: str | None, epoch: int
) -> dict[str, list[Memory]]:
    """``related_by_name`` with a cache per (name, project) until the store changes: after
    an edit only new names are looked up. The cache holds every name of a big file
    (``cache.RELATED_CACHE_SIZE``): with 4,096 entries a 50k-definition file looked every name
    up again on each request (5 s)."""
    out: dict[str, list[Memory]] = {}
    missing = []
    for name in names:
        cached = ls.related_cache.get(epoch, (name, project))
        if cached is None:
            missing.append(name)
        else:
            out[name] = cached
    if missing:
        found = await ls.backend.run(related_by_name, frozenset(missing), project)
        for name in missing:
            out[name] = found.get(name, _NOTHING)
            ls.related_cache.put(epoch, (name, project), out[name])
    return out


def _without_anchored(
    by_name: dict[str, list[Memory]], placed: list[Placed]
) -> dict[str, list[Memory]]:
    """Related memories minus the anchored ones (those are counted as anchored)."""
    anchored = {p.memory.id for p in placed}
    return {name: [m for m in ms if m.id not in anchored] for name, ms in by_name.items() if ms}


async def symbol_memories(ls: DevMemServer, info: DocInfo, symbol: Symbol) -> list[SymbolMemory]:
    """What the lens above ``symbol`` counts (and ``devmem.memoriesForFile`` lists)."""
    epoch = await ls.watcher.current()
    placed, by_name = await asyncio.gather(
        ls.placed(info, epoch), _related(ls, _names([symbol]), info.project, epoch)
    )
    return for_symbol(placed, _without_anchored(by_name, placed), symbol)


async def persist_moves(ls: DevMemServer, uri: str) -> None:
    """On save: store anchors whose lines moved, so other tools see the right lines."""
    try:
        info = await ls.doc_info(uri)
        if info is None:
            return
        placed = await ls.placed(info)
        moved = await ls.backend.run(anchoring.persist_moves, info, placed)
        if moved:
            log.info("%s: %d anchors moved", uri, moved)
    except DevMemError as exc:
        log.info("cannot store moved anchors: %s", exc)
