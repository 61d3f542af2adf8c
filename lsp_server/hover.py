"""Hover: the memories that matter for the identifier, string or comment under the cursor.

At most three, best first: memories anchored here (the hovered line is inside their
anchor, or the identifier is their anchor's symbol), then project memories found by hybrid
search over the identifier and the code around it. Search hits must clear a relevance
floor (cosine similarity, ``relevanceFloor``) or name the identifier / quote the string
verbatim, so unrelated code gets no hover at all. A known knowledge-graph entity adds its
neighbourhood.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.workspace import PositionCodec

from core import CODE_SEARCH_DEPTH, DevMemError, Hit, MemoryService
from lsp_server import present
from lsp_server.anchoring import Placed
from lsp_server.documents import DocInfo, character_of, column_of
from lsp_server.targets import Target, target_at, words_of_identifier

if TYPE_CHECKING:
    from lsp_server.server import DevMemServer

log = logging.getLogger(__name__)

MAX_ENTRIES = 3
SEARCH_DEPTH = CODE_SEARCH_DEPTH  # hits asked of core (bench/lsp_latency.py asks the same)
PARSE_DELAY_S = 0.3  # a big document's newest version is parsed once typing pauses this long


@dataclass(frozen=True)
class HoverQuery:
    """What to search for around the cursor, and how strict to be."""

    target: Target
    text: str
    project: str | None
    floor: float


def register(ls: DevMemServer) -> None:
    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    async def on_hover(params: types.HoverParams) -> types.Hover | None:
        if not ls.config.hover.enabled:
            return None
        try:
            return await hover(ls, params.text_document.uri, params.position)
        except DevMemError as exc:  # no store (yet): no hover, and say why in the log
            log.info("hover unavailable: %s", exc)
            return None


async def hover(ls: DevMemServer, uri: str, position: types.Position) -> types.Hover | None:
    info = await document(ls, uri)
    if info is None or not 0 <= position.line < len(info.lines):
        return None
    # Reading the line is CPU work that grows with it: a worker's job, not the event loop's.
    spot = await ls.backend.offload(cursor_spot, info, ls.workspace.position_codec, position)
    if spot is None:
        return None
    target, symbol, rng = spot
    query = HoverQuery(target, query_text(target, symbol), info.project, ls.config.relevance_floor)
    epoch = await ls.watcher.current()
    # Anchored memories and the search run side by side in worker threads.
    placed, (found, entity) = await asyncio.gather(
        ls.placed(info, epoch), _related(ls, query, epoch)
    )
    anchored = anchored_here(placed, target, position.line + 1)
    shown = {p.memory.id for p, _ in anchored}
    found = [h for h in found if h.memory.id not in shown]
    entries = [present.hover_entry(p.memory, note) for p, note in anchored]
    entries += [present.hover_entry(h.memory) for h in found]
    if not entries and entity is None:
        return None
    markdown = present.hover_markdown(entries[:MAX_ENTRIES], entity)
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown), range=rng
    )


async def document(ls: DevMemServer, uri: str) -> DocInfo | None:
    """The document to hover in: parsed, or for a big one being typed in, its new text with
    the last parsed symbols while the newest version parses in the background (once typing
    pauses)."""
    snap = ls.documents.snapshot(ls.workspace, uri)
    if snap is None:
        return None
    quick = await ls.backend.offload(ls.documents.provisional, uri, *snap)
    if quick is None:
        return await ls.doc_info(uri)
    ls.debounce(f"parse:{uri}", PARSE_DELAY_S, lambda: ls.doc_info(uri))
    return quick


def cursor_spot(
    info: DocInfo, codec: PositionCodec, position: types.Position
) -> tuple[Target, str | None, types.Range] | None:
    """What the cursor is on, the qualified name of the symbol around it and the target's
    range in client units (worker thread: bounded, but linear in a long line)."""
    line = info.lines[position.line]
    target = target_at(line, column_of(codec, line, position.character), info.filename)
    if target is None:
        return None
    symbol = info.enclosing(position.line + 1)
    rng = types.Range(
        start=types.Position(line=position.line, character=character_of(codec, line, target.start)),
        end=types.Position(line=position.line, character=character_of(codec, line, target.end)),
    )
    return target, symbol.qualname if symbol else None, rng


async def _related(ls: DevMemServer, query: HoverQuery, epoch: int) -> tuple[list[Hit], str | None]:
    key = (query.target.kind, query.text, query.project, query.floor)
    cached = ls.hover_cache.get(epoch, key)
    if cached is not None:
        return cached
    found = await ls.backend.run(related, query)
    ls.hover_cache.put(epoch, key, found)
    return found


def anchored_here(placed: list[Placed], target: Target, line: int) -> list[tuple[Placed, str]]:
    """Anchored memories for this spot: the line is inside the anchor, or the identifier
    names the anchor's symbol. Innermost anchor first, then newest."""
    out: list[tuple[Placed, str]] = []
    for p in placed:
        anchor = p.memory.anchor
        symbol = anchor.symbol if anchor else None
        if p.covers(line):
            out.append((p, f"anchored to {symbol}" if symbol else "anchored here"))
        elif target.kind == "identifier" and symbol and symbol.rsplit(".", 1)[-1] == target.text:
            out.append((p, f"about {symbol}"))
    out.sort(key=lambda pn: pn[0].memory.updated_at, reverse=True)
    return sorted(out, key=lambda pn: _size(pn[0]))  # stable: newest first within a size


def _size(p: Placed) -> int:
    return p.where.end_line - p.where.start_line if p.where else 1 << 30


def query_text(target: Target, symbol: str | None) -> str:
    """The search text: an identifier with its words and those of the enclosing symbol
    (``total`` in ``Invoice.total`` → "total invoice"); a string or comment as it is.

    Short on purpose: embedding the query is most of a hover's cost, it grows with the
    text, and the same identifier in the same function hits the embedder's query cache.
    """
    if target.kind != "identifier":
        return target.text[:500]
    context = [w for part in (symbol or "").split(".") for w in words_of_identifier(part)]
    return " ".join(dict.fromkeys([target.text, *words_of_identifier(target.text), *context]))


def related(svc: MemoryService, q: HoverQuery) -> tuple[list[Hit], str | None]:
    """The memories about this spot by core's code-context rules (project or global scope,
    must-mention, relevance floor), and the entity block (worker thread)."""
    hits = svc.code_context(
        q.text,
        term=q.target.text,
        kind=q.target.kind,
        project=q.project,
        floor=q.floor,
        limit=SEARCH_DEPTH,
    )
    return hits, entity_markdown(svc, q.target)


def entity_markdown(svc: MemoryService, target: Target) -> str | None:
    """The neighbourhood of the graph entity the identifier/string names exactly, if any."""
    if target.kind == "comment" or len(target.text) > 80:
        return None
    view = svc.entity_named(target.text, 6)
    return present.entity_block(view.entity, view.neighbours) if view is not None else None
