"""A bounded sample of a commit's changed lines, for the full-text index.

A pasted error message, a renamed option or a changelog entry is often only in the changed
lines, not in the commit message. A reformatting commit changes thousands of lines, so the
sample is bounded: the first distinct lines in diff order, up to the budget. (Keeping lines
with words first — quoted phrases, comments, documentation — was tried and gained nothing
on bench/gitwhy.py: hit@5 0.904 against 0.923 in diff order, so it was left out.)
"""

from __future__ import annotations

MAX_CHANGED_BYTES = 4_096  # characters of changed lines kept per commit
MAX_CHANGED_LINE = 200  # a minified or generated line is cut, not dropped


class ChangedLines:
    """Distinct changed lines ("+ added", "- removed") in diff order, until the budget is used."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._seen: set[str] = set()
        self._used = 0

    def add(self, sign: int, raw: bytes) -> None:
        if self._used >= MAX_CHANGED_BYTES:
            return
        text = raw.strip()[:MAX_CHANGED_LINE].decode("utf-8", errors="replace")
        if len(text) < 4 or not any(c.isalpha() for c in text[:40]):
            return  # braces, blank lines, bare numbers: nothing a question would quote
        line = ("+ " if sign > 0 else "- ") + text
        if line in self._seen:
            return
        self._seen.add(line)
        self._lines.append(line)
        self._used += len(line) + 1

    def sample(self) -> list[str]:
        """The lines kept, in the order the diff shows them."""
        return list(self._lines)
