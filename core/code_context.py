"""Which memories are about a spot in code: the rules every editor feature applies.

An editor asks many times a second and shows only what clears a bar, so the rules are
stricter than ``recall``'s ranking (which always returns its best):

* scope: the memories of the file's project, or of no project (global ones);
* must-mention: a memory that names the identifier as a whole word, or quotes a string of
  8+ characters verbatim, always qualifies;
* relevance floor: else its cosine similarity to the query must reach ``floor``;
* anchors first: for a file (and a symbol or line in it), the memories anchored there lead,
  the innermost match first (same symbol +2, line inside the anchor +1.5);
* word overlap: without vectors (model off or loading), a string or comment must share
  ``TEXT_ONLY_OVERLAP`` of the query's words (up to six); an identifier does not qualify.

Past fixes for an error message follow the same word-overlap idea (``FIX_OVERLAP``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core import listing, search
from core.models import Hit, Memory, SearchFilters, SearchResult
from core.storage import Storage

SEARCH_DEPTH = 12  # hits asked of recall; those of other projects are dropped after it
TEXT_ONLY_OVERLAP = 0.6  # without vectors, this share of the query's words must match
FIX_OVERLAP = 0.5  # share of an error message's words a past fix must contain
RELEVANCE_FLOOR = 0.35
MAX_QUERY = 1000
KINDS = ("identifier", "string", "comment", "text")


class Recaller(Protocol):
    @property
    def storage(self) -> Storage: ...

    def recall(
        self,
        query: str,
        *,
        mode: str = "hybrid",
        limit: int = 10,
        offset: int = 0,
        filters: SearchFilters | None = None,
        include_related: bool = False,
        recency: float = 0.0,
    ) -> SearchResult: ...


@dataclass(frozen=True)
class CodeSpot:
    """What the editor points at: the search ``text``, and the ``term`` itself (an identifier
    or string literal) of ``kind`` that a memory may mention verbatim."""

    text: str
    term: str = ""
    kind: str = "text"  # identifier, string, comment or text


def search_context(
    svc: Recaller, spot: CodeSpot, project: str | None, floor: float, limit: int = SEARCH_DEPTH
) -> list[Hit]:
    """Search hits of ``project`` (or of none) that qualify for ``spot``, best first.

    The project is filtered after the search rather than with ``SearchFilters``: the
    filtered vector search scores every vector of the project exactly (tens of ms from 10k
    memories on), the unfiltered one is a binary KNN; an editor cannot afford the former."""
    result = svc.recall(spot.text, limit=max(limit, SEARCH_DEPTH))
    return [
        h
        for h in result.hits
        if (project is None or h.memory.project in (project, None)) and relevant(h, spot, floor)
    ][:limit]


def relevant(hit: Hit, spot: CodeSpot, floor: float) -> bool:
    """Verbatim mention, else cosine ≥ floor, else (no vectors) most of the words."""
    if mentions(hit.memory, spot):
        return True
    if hit.similarity is not None:
        return hit.similarity >= floor
    if spot.kind == "identifier":
        return False
    wanted = search.words(spot.text)
    found = search.matched_words(spot.text, f"{hit.memory.title} {hit.memory.content}")
    return bool(wanted) and len(found) >= TEXT_ONLY_OVERLAP * min(len(wanted), 6)


def mentions(m: Memory, spot: CodeSpot) -> bool:
    """The memory names the identifier (as a whole word) or quotes the string."""
    text = f"{m.title}\n{m.content}"
    if spot.kind == "identifier" and spot.term:
        return re.search(rf"(?<![\w$]){re.escape(spot.term)}(?![\w$])", text) is not None
    if spot.kind == "string" and len(spot.term) >= 8:
        return spot.term.lower() in " ".join(text.split()).lower()
    return False


def past_fixes(
    svc: Recaller, message: str, project: str | None, kinds: Sequence[str], limit: int = 3
) -> list[Hit]:
    """Memories of ``kinds`` (bug fixes, pitfalls) sharing most words of an error message
    (text search: cheap enough for every code-action request)."""
    query = message[:MAX_QUERY]
    hits = svc.recall(
        query, mode="text", limit=limit, filters=SearchFilters(kinds=list(kinds), project=project)
    ).hits
    wanted = len(search.words(query))
    need = max(1, min(wanted, int(FIX_OVERLAP * min(wanted, 6) + 0.5)))
    return [
        h
        for h in hits
        if len(search.matched_words(message, f"{h.memory.title} {h.memory.content}")) >= need
    ]


def for_file(
    svc: Recaller,
    path: str,
    symbol: str | None,
    line: int | None,
    project: str | None,
    limit: int,
    floor: float = RELEVANCE_FLOOR,
) -> list[Hit]:
    """Memories anchored to ``path`` (best placed first), then for a symbol the memories about
    it by the rules above (naming it verbatim, or close enough in meaning)."""
    ranked = sorted(
        listing.anchored(svc.storage, path, project),
        key=lambda m: _anchor_score(m, symbol, line),
        reverse=True,
    )
    hits = [
        Hit(
            m,
            _anchor_score(m, symbol, line),
            ("anchor",),
            m.summary(200),
            _anchor_why(m, symbol, line),
        )
        for m in ranked[:limit]
    ]
    if symbol and len(hits) < limit:
        seen = {h.memory.id for h in hits}
        spot = CodeSpot(symbol, symbol.split(".")[-1], "identifier")
        more = search_context(svc, spot, project, floor, limit)
        hits += [h for h in more if h.memory.id not in seen][: limit - len(hits)]
    return hits


def _anchor_score(m: Memory, symbol: str | None, line: int | None) -> float:
    a = m.anchor
    if a is None:
        return 0.0
    score = 1.0
    if symbol and a.symbol and a.symbol.split(".")[-1] == symbol.split(".")[-1]:
        score += 2.0
    if (
        line is not None
        and a.start_line is not None
        and a.start_line <= line <= (a.end_line or a.start_line)
    ):
        score += 1.5
    return score


def _anchor_why(m: Memory, symbol: str | None, line: int | None) -> str:
    a = m.anchor
    assert a is not None
    where = (
        a.path
        + (f":{a.start_line}" if a.start_line else "")
        + (f" ({a.symbol})" if a.symbol else "")
    )
    return f"anchored to {where}"
