"""One secret format: a regular expression, an accept function and cheap pre-checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.redact._heuristics import Accept, _accept_token


@dataclass(frozen=True)
class _Rule:
    """One secret format. ``kind`` "" means: derived from the matched keyword (group "kw")."""

    kind: str
    regex: re.Pattern[str]
    accept: Accept = _accept_token
    hints: tuple[str, ...] = ()  # skip the rule unless one of these occurs in the text
    # Case-insensitive rules are not run with re.IGNORECASE over the text (10x slower: no
    # literal prefix to jump to). Their lower-case ``scan`` patterns find where a match can
    # start in the lower-cased text, and ``regex`` (IGNORECASE) is matched there on the
    # original text.
    scan: tuple[re.Pattern[str], ...] = ()


def _rule(kind: str, pattern: str, accept: Accept = _accept_token, hints: str = "") -> _Rule:
    """A case-sensitive rule; ``hints`` is a space-separated list of literals."""
    return _Rule(kind, re.compile(pattern), accept, tuple(hints.split()))


def _nocase(
    kind: str,
    pattern: str,
    accept: Accept = _accept_token,
    hints: str = "",
    starts: tuple[str, ...] = (),
) -> _Rule:
    """A case-insensitive rule, written in lower case. ``starts``: literal-led patterns that
    find every place a match can begin (default: ``pattern`` itself)."""
    scan = tuple(re.compile(p) for p in starts or (pattern,))
    return _Rule(kind, re.compile(pattern, re.IGNORECASE), accept, tuple(hints.split()), scan)


# Idiom: "LIT(?<!\w.{n})" checks the word boundary *after* the n-char literal prefix, so the
# regex still starts with a literal and re jumps from one occurrence of it to the next; a
# leading (?<!\w) or \b would make it attempt a match at every position (5-10x slower).
