"""Re-finding a code anchor after the code moved: by symbol, then by content, then by line.

A :class:`core.models.CodeAnchor` records where a memory belongs when it is written: path,
1-based inclusive line range, enclosing symbol and a fingerprint of the anchored lines.
Code moves under it (lines inserted above, a function reordered, indentation changed), so
the stored line numbers go stale. :func:`locate` finds the anchor again in the current text:

1. the symbol, by its qualified name (``Parser.parse``), else by its last part (``parse``),
   nearest to the stored line when several match; inside it, the exact anchored lines when
   the fingerprint still matches there, else the whole symbol;
2. without a symbol, the window of lines whose fingerprint matches, nearest to the stored
   line and at most ``FINGERPRINT_REACH`` lines from it (whitespace-insensitive:
   re-indenting keeps the fingerprint);
3. else the stored lines, when they still exist in the text.

Pure functions: no I/O, no SQL. Callers pass the text's lines and its symbols.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.models import CodeAnchor

LocateMethod = Literal["symbol", "fingerprint", "stored"]
# Without its symbol an anchor is looked for this many lines either side of its stored
# line: a whole 200k-line file cost ~0.5 s per anchor (a normalised line and a hash per
# window), and code that moved further away has usually kept its symbol.
FINGERPRINT_REACH = 2_000


@dataclass(frozen=True)
class SymbolSpan:
    """A symbol of the current text: qualified name and 1-based inclusive lines."""

    name: str
    start_line: int
    end_line: int

    @property
    def short_name(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Located:
    """Where an anchor is in the current text (1-based inclusive) and how it was found."""

    start_line: int
    end_line: int
    method: LocateMethod

    def contains(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line

    def overlaps(self, start: int, end: int) -> bool:
        return self.start_line <= end and start <= self.end_line


def normalise_line(line: str) -> str:
    """A line with its whitespace collapsed, so re-indenting does not change a fingerprint."""
    return " ".join(line.split())


def fingerprint(lines: Sequence[str]) -> str:
    """sha256 (hex) of the anchored lines, whitespace-normalised, joined by newlines."""
    return _digest([normalise_line(ln) for ln in lines])


def _digest(normalised: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(normalised).encode("utf-8")).hexdigest()


def find_symbol(
    symbols: Sequence[SymbolSpan], name: str, near: int | None = None
) -> SymbolSpan | None:
    """The symbol called ``name`` (qualified first, then by last part), nearest to ``near``."""
    found = [s for s in symbols if s.name == name]
    if not found:
        short = name.rsplit(".", 1)[-1]
        found = [s for s in symbols if s.short_name == short]
    if not found:
        return None
    if near is None:
        return found[0]
    return min(found, key=lambda s: abs(s.start_line - near))


def find_window(
    lines: Sequence[str], digest: str, length: int, near: int, bounds: tuple[int, int] | None = None
) -> int | None:
    """1-based start of the ``length``-line window whose fingerprint is ``digest``.

    Windows are tried nearest-first around ``near`` (an edit above an anchor usually moves
    it by a few lines), inside ``bounds`` (1-based inclusive) when given.
    """
    low, high = bounds if bounds is not None else (1, len(lines))
    low, high = max(1, low), min(len(lines), high)
    last_start = high - length + 1
    if length < 1 or last_start < low:
        return None
    normalised = [normalise_line(ln) for ln in lines[low - 1 : high]]
    for start in _nearest_first(low, last_start, min(max(near, low), last_start)):
        offset = start - low
        if _digest(normalised[offset : offset + length]) == digest:
            return start
    return None


def _nearest_first(low: int, high: int, centre: int) -> list[int]:
    out = [centre]
    for distance in range(1, max(centre - low, high - centre) + 1):
        if centre - distance >= low:
            out.append(centre - distance)
        if centre + distance <= high:
            out.append(centre + distance)
    return out


def locate(
    anchor: CodeAnchor, lines: Sequence[str], symbols: Sequence[SymbolSpan] = ()
) -> Located | None:
    """Where ``anchor`` is in ``lines`` now (see the module docstring), or None if it is gone."""
    if not lines:
        return None
    start = anchor.start_line
    length = (anchor.end_line or start) - start + 1 if start else 0
    span = find_symbol(symbols, anchor.symbol, start) if anchor.symbol else None
    if span is not None:
        inside = _by_fingerprint(
            anchor, lines, length, start or span.start_line, (span.start_line, span.end_line)
        )
        return inside or Located(span.start_line, span.end_line, "symbol")
    reach = (start - FINGERPRINT_REACH, start + length + FINGERPRINT_REACH) if start else None
    found = _by_fingerprint(anchor, lines, length, start or 1, reach)
    if found is not None:
        return found
    if start and start <= len(lines):
        return Located(start, min(anchor.end_line or start, len(lines)), "stored")
    return None


def _by_fingerprint(
    anchor: CodeAnchor, lines: Sequence[str], length: int, near: int, bounds: tuple[int, int] | None
) -> Located | None:
    if not anchor.fingerprint or length < 1:
        return None
    start = find_window(lines, anchor.fingerprint, length, near, bounds)
    return None if start is None else Located(start, start + length - 1, "fingerprint")
