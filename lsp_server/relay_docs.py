"""The open documents as the editor sees them, kept by the LSP relay (standard library only).

The relay applies every ``didOpen``/``didChange``/``didClose`` itself, so that when the
engine dies it can open each document in the new one with its latest text and version. The
server asks for incremental sync, so changes come as ranges in the negotiated position
encoding (UTF-16 code units unless the server chose otherwise). A document is held as a
list of lines, terminators kept: an edit re-splits only the lines it touches, so a
keystroke in a 4 MB file costs a list splice, not a scan of the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_BREAK = re.compile(r"(\r\n|\r|\n)")  # LSP's line terminators


def split_lines(text: str) -> list[str]:
    """Lines with their terminators; the last item is the text after the last one ("")."""
    parts = _BREAK.split(text)
    return [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)] + [parts[-1]]


def _content(line: str) -> str:
    return line.rstrip("\r\n")


def column(line: str, character: int, encoding: str) -> int:
    """The index in ``line`` of an LSP ``character`` offset (clamped to the line's end)."""
    text = _content(line)
    if encoding == "utf-32" or text.isascii():
        return min(character, len(text))
    units = 0
    for index, char in enumerate(text):
        if units >= character:
            return index
        if encoding == "utf-8":
            units += len(char.encode("utf-8"))
        else:  # utf-16: characters beyond the BMP are two code units
            units += 2 if ord(char) > 0xFFFF else 1
    return len(text)


@dataclass
class Document:
    """One open document: what ``didOpen`` needs to open it again."""

    uri: str
    language_id: str
    version: int
    lines: list[str] = field(default_factory=lambda: [""])

    @classmethod
    def opened(cls, item: dict[str, Any]) -> Document:
        return cls(
            uri=item["uri"],
            language_id=item.get("languageId", ""),
            version=int(item.get("version", 0)),
            lines=split_lines(item.get("text", "")),
        )

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def apply(self, change: dict[str, Any], encoding: str) -> None:
        """One entry of ``contentChanges``: a whole new text, or a range replaced."""
        if "range" not in change or change["range"] is None:
            self.lines = split_lines(change["text"])
            return
        first, start = self._place(change["range"]["start"], encoding)
        last, end = self._place(change["range"]["end"], encoding)
        # One line more each side: a "\r" meeting a "\n" at the edit's edge makes one break.
        before, after = max(first - 1, 0), min(last + 1, len(self.lines) - 1)
        text = (
            "".join(self.lines[before:first])
            + self.lines[first][:start]
            + change["text"]
            + self.lines[last][end:]
            + "".join(self.lines[last + 1 : after + 1])
        )
        lines = split_lines(text)
        if after < len(self.lines) - 1:
            lines.pop()  # the text ends with its last line's terminator: no line starts after it
        self.lines[before : after + 1] = lines

    def _place(self, position: dict[str, int], encoding: str) -> tuple[int, int]:
        """(line index, index in that line) of an LSP position; past the end: the end."""
        line = max(position["line"], 0)
        if line >= len(self.lines):
            return len(self.lines) - 1, len(self.lines[-1])
        return line, column(self.lines[line], position["character"], encoding)

    def did_open(self) -> dict[str, Any]:
        """The ``textDocument/didOpen`` params that open this document as it is now."""
        return {
            "textDocument": {
                "uri": self.uri,
                "languageId": self.language_id,
                "version": self.version,
                "text": self.text,
            }
        }
