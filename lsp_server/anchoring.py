"""Memories anchored to a document, placed on its current text.

Stored line numbers go stale as soon as the file is edited, so every feature works from
where the anchor is *now*: ``core.anchors.locate`` re-finds it by symbol, then by
fingerprint, then by the stored line. Placements are cached per (document version,
memory anchor); anchors that moved by content are written back to the store on save.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core import CodeAnchor, Located, Memory, MemoryService, SymbolSpan, locate
from lsp_server.documents import DocInfo
from lsp_server.symbols import Symbol

_CACHE_LIMIT = 20_000


@dataclass(frozen=True)
class Placed:
    """An anchored memory and where its anchor is in the document now."""

    memory: Memory
    where: Located | None  # None: anchored to this file, but its code is gone
    symbol: Symbol | None  # the innermost symbol around it now

    def covers(self, line: int) -> bool:
        return self.where is not None and self.where.contains(line)


def anchored(svc: MemoryService, path: str, project: str | None) -> list[Memory]:
    """Every memory anchored to the file at ``path`` (worker thread): all of them, or the
    lenses of a file lose counts once one function gathers many. They change only with
    the store, so callers cache them per store epoch, not per document version."""
    return [m for m in svc.anchored_to(path, project) if m.anchor is not None]


class Placements:
    """Cache of ``locate`` results per (uri, version, memory, anchor)."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, str, CodeAnchor], Located | None] = {}

    def place(self, info: DocInfo, memories: Sequence[Memory]) -> list[Placed]:
        """``memories`` (anchored to this document) placed on its text (CPU only: run it
        in a worker for big files)."""
        by_name = info.spans_by_name if memories else {}
        out: list[Placed] = []
        for m in memories:
            if m.anchor is None:
                continue
            # locate() only considers spans named like the anchor's symbol: hand it those,
            # not all 50k of a big file for every anchor.
            short = m.anchor.symbol.rsplit(".", 1)[-1] if m.anchor.symbol else None
            where = self._locate(info, m.id, m.anchor, by_name.get(short, []) if short else [])
            symbol = info.enclosing(where.start_line, where.end_line) if where else None
            out.append(Placed(m, where, symbol))
        return out

    def _locate(
        self, info: DocInfo, memory_id: str, anchor: CodeAnchor, symbol_spans: Sequence[SymbolSpan]
    ) -> Located | None:
        if info.version is None:
            return locate(anchor, info.lines, symbol_spans)
        key = (info.uri, info.version, memory_id, anchor)
        if key not in self._cache:
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = locate(anchor, info.lines, symbol_spans)
        return self._cache[key]

    def forget(self, uri: str) -> None:
        for key in [k for k in self._cache if k[0] == uri]:
            self._cache.pop(key, None)


def persist_moves(svc: MemoryService, info: DocInfo, placed: Sequence[Placed]) -> int:
    """Write back anchors whose exact lines moved (found by fingerprint); returns how many.

    Only content-matched moves are stored: a symbol-level match may have widened a
    smaller anchor to the whole function, which should not overwrite the stored range.
    """
    moved = 0
    for p in placed:
        a, where = p.memory.anchor, p.where
        if a is None or where is None or where.method != "fingerprint":
            continue
        if a.path not in (info.anchor_path, info.path):
            continue
        if (where.start_line, where.end_line) != (a.start_line, a.end_line):
            svc.relocate_anchor(p.memory.id, where.start_line, where.end_line)
            moved += 1
    return moved


def for_symbol(placed: Sequence[Placed], symbol: Symbol) -> list[Placed]:
    """The placed memories that belong to ``symbol`` (innermost symbol around them)."""
    return [
        p
        for p in placed
        if p.symbol is not None
        and p.symbol.qualname == symbol.qualname
        and p.symbol.start_line == symbol.start_line
    ]


def by_symbol(placed: Sequence[Placed]) -> dict[tuple[str, int], list[Placed]]:
    """The placed memories grouped by their symbol's (qualified name, first line): one pass
    instead of one scan of every placement per symbol."""
    out: dict[tuple[str, int], list[Placed]] = {}
    for p in placed:
        if p.symbol is not None:
            out.setdefault((p.symbol.qualname, p.symbol.start_line), []).append(p)
    return out
