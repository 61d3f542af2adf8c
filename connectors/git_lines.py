"""A bounded sample of a commit's changed lines, for the full-text index.

A pasted error message, a renamed option or a changelog entry is often only in the changed
lines, not in the commit message. A reformatting commit changes thousands of lines, so the
sample is bounded, and lines that carry words (a string with a phrase in it, a comment, a
line of documentation) are kept before plain code: they are what a question quotes.
"""

from __future__ import annotations

import re

MAX_CHANGED_BYTES = 4_096  # characters of changed lines kept per commit
MAX_CHANGED_LINE = 200  # a minified or generated line is cut, not dropped
MAX_CANDIDATES = 2_000  # changed lines looked at per commit
PROSE_EXTENSIONS = frozenset({"rst", "md", "markdown", "txt", "adoc", "asciidoc", "org"})
_COMMENT = re.compile(r"^(?:#|//|/\*|\*|--|;|<!--|\"\"\"|''')")
_PHRASE = re.compile(r"[\"'`][^\"'`\n]*?[A-Za-z]{2,}[ ,:]+[A-Za-z]{2,}[^\"'`\n]*[\"'`]")


def is_prose(path: str) -> bool:
    """Documentation: a changelog, a README, a page of docs (no extension counts: CHANGES)."""
    name = path.rsplit("/", 1)[-1]
    return "." not in name or name.rsplit(".", 1)[-1].lower() in PROSE_EXTENSIONS


class ChangedLines:
    """Distinct changed lines ("+ added", "- removed"), wordy ones first within the budget."""

    def __init__(self) -> None:
        self._lines: list[tuple[int, int, str]] = []  # (0 wordy / 1 code, order, line)
        self._seen: set[str] = set()

    def add(self, sign: int, raw: bytes, prose: bool) -> None:
        if len(self._lines) >= MAX_CANDIDATES:
            return
        text = raw.strip()[:MAX_CHANGED_LINE].decode("utf-8", errors="replace")
        if len(text) < 4 or not any(c.isalpha() for c in text[:40]):
            return  # braces, blank lines, bare numbers: nothing a question would quote
        line = ("+ " if sign > 0 else "- ") + text
        if line in self._seen:
            return
        self._seen.add(line)
        wordy = prose or _COMMENT.match(text) is not None or _PHRASE.search(text) is not None
        self._lines.append((0 if wordy else 1, len(self._lines), line))

    def sample(self) -> list[str]:
        """The lines kept, in the order the diff shows them."""
        chosen: list[tuple[int, str]] = []
        used = 0
        for _, order, line in sorted(self._lines):
            if used + len(line) + 1 <= MAX_CHANGED_BYTES:
                chosen.append((order, line))
                used += len(line) + 1
        return [line for _, line in sorted(chosen)]
