"""Reading the items of a large JSON document one at a time, in bounded memory.

A capture of 100k console events is a 25 MB JSON array; ``json.loads`` of it holds the
text, the bytes and every event object at once (hundreds of MB). Here the file is decoded
a chunk at a time and each item is parsed with the standard library's
``JSONDecoder.raw_decode`` from a small window, then handed on and dropped. Accepted:

* a top-level array: its elements;
* a top-level object: the elements of its first member named in ``list_keys`` that is an
  array (its other members are kept, small, in :attr:`ItemStream.members`);
* JSON Lines: one value per line (a malformed line is reported and skipped).

Errors: :class:`json.JSONDecodeError` for malformed JSON (with the item it was in), and
:class:`RecursionError` for a value nested too deeply for the parser (``[[[[…`` 100k deep):
both end the stream, and the caller skips the whole file with the reason.

Why not a streaming library (ijson): its C backend builds a prefix string per nesting
level, so a 100k-deep document used quadratic memory (the test process was killed), the
very input this must survive; the standard parser fails such a value cleanly.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

CHUNK = 1 << 20
_WS = re.compile(r"[ \t\n\r]*")
_NUMBER_TAIL = re.compile(r"[0-9.eE+-]*")
_DECODER = json.JSONDecoder()


class _Window:
    """The not yet parsed text of a binary file, decoded (UTF-8, BOM dropped) a chunk at a time."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.chunk = CHUNK
        self.lines_dropped = 0  # newlines in the text already dropped from the window
        self.column_dropped = 0  # characters dropped since the last of them

    def more(self) -> bool:
        """Append the next chunk (dropping what was parsed); False at the end of the file."""
        if self.eof:
            return False
        data = self.handle.read(self.chunk)
        self.eof = not data
        self._drop()
        self.buf = self.buf[self.pos :] + self.decoder.decode(data, final=self.eof)
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next character that is not white space ('' at the end), not consumed."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def take(self, expected: str, what: str) -> str:
        """Consume the next character, one of ``expected``, or raise a decode error."""
        char = self.peek()
        if not char or char not in expected:
            raise json.JSONDecodeError(f"Expecting {what}", self.buf, self.pos)
        self.pos += 1
        return char

    def value(self) -> Any:
        """Parse the next JSON value, reading more of the file while it is cut off."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if not self._grow():
                    raise
                continue
            # A number that runs to the window's edge ("-25" of "-2500.0") may go on in the
            # next chunk; anything else ends with its own delimiter.
            cut = (
                isinstance(value, int | float) and _NUMBER_TAIL.fullmatch(self.buf, end) is not None
            )
            if not cut or not self._grow():
                self.pos, self.chunk = end, CHUNK
                return value

    def _grow(self) -> bool:
        # Double the read size for a value larger than the window, so that re-parsing
        # it from its start costs O(n log n), not O(n²).
        self.chunk = min(self.chunk * 2, 64 * CHUNK)
        return self.more()

    def _drop(self) -> None:
        """Count the lines and columns of the parsed text about to leave the window."""
        last = self.buf.rfind("\n", 0, self.pos)
        self.lines_dropped += self.buf.count("\n", 0, self.pos)
        self.column_dropped = self.pos - last - 1 if last >= 0 else self.column_dropped + self.pos

    def where(self, exc: json.JSONDecodeError) -> tuple[int, int]:
        """(line, column) in the file of an error raised on the current window."""
        line = self.lines_dropped + self.buf.count("\n", 0, exc.pos) + 1
        last = self.buf.rfind("\n", 0, exc.pos)
        return line, exc.pos - last if last >= 0 else self.column_dropped + exc.pos + 1

    def line(self) -> str | None:
        """The next line (without its end), None at the end of the file."""
        while True:
            nl = self.buf.find("\n", self.pos)
            if nl >= 0:
                text, self.pos = self.buf[self.pos : nl], nl + 1
                return text
            if not self.more():
                if self.pos >= len(self.buf):
                    return None
                text, self.pos = self.buf[self.pos :], len(self.buf)
                return text


class ItemStream:
    """The items of one JSON document, read as they are iterated (see the module docstring)."""

    def __init__(self, handle: BinaryIO, list_keys: tuple[str, ...]) -> None:
        self.window = _Window(handle)
        self.list_keys = list_keys
        self.members: dict[str, Any] = {}  # the top-level object's other members
        self.found_list = False
        self.line_problems: list[str] = []  # JSON Lines: the lines skipped, with the reason
        first = self.window.peek()
        self.form = {"": "empty", "[": "array", "{": "object"}.get(first, "other")

    def items(self) -> Iterator[tuple[int, Any]]:
        """(number, value): element index from 1, or line number for JSON Lines."""
        if self.form == "array":
            yield from self._array()
            self._end()
        elif self.form == "object":
            yield from self._object()
            rest = self.window.line() or ""  # the rest of the object's last line
            if self.found_list or rest.strip():
                if rest.strip():
                    raise self._extra(rest)
                self._end()
                return
            yield from self._lines(first=self.members)

    def _array(self) -> Iterator[tuple[int, Any]]:
        w = self.window
        w.take("[", "'['")
        if w.peek() == "]":
            w.pos += 1
            return
        n = 0
        while True:
            n += 1
            yield n, w.value()
            if w.take(",]", "',' delimiter") == "]":
                return

    def _object(self) -> Iterator[tuple[int, Any]]:
        w = self.window
        w.take("{", "'{'")
        if w.peek() == "}":
            w.pos += 1
            return
        while True:
            key = w.value()
            if not isinstance(key, str):
                raise json.JSONDecodeError("Expecting property name", w.buf, w.pos)
            w.take(":", "':' delimiter")
            if not self.found_list and key in self.list_keys and w.peek() == "[":
                self.found_list = True
                yield from self._array()
            else:
                self.members[key] = w.value()
            if w.take(",}", "',' delimiter") == "}":
                return

    def _extra(self, rest: str) -> json.JSONDecodeError:
        """The error for text after the object on its last line (just read as ``rest``)."""
        w = self.window
        end = w.pos - 1 if w.pos and w.buf[w.pos - 1] == "\n" else w.pos
        return json.JSONDecodeError("Extra data", w.buf, end - len(rest.lstrip()))

    def _end(self) -> None:
        if self.window.peek():
            raise json.JSONDecodeError("Extra data", self.window.buf, self.window.pos)

    def _lines(self, first: dict[str, Any]) -> Iterator[tuple[int, Any]]:
        """The lines after a first object on line 1: when any follows, the document is JSON
        Lines and that object its line 1; when none does, it is a lone object."""
        n, pending = 1, True
        while (line := self.window.line()) is not None:
            n += 1
            if not line.strip():
                continue
            if pending:
                self.form, pending = "lines", False
                yield 1, first
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                self.line_problems.append(
                    f"line {n}: malformed JSON ({exc.msg} at column {exc.colno})"
                )
            except RecursionError:
                self.line_problems.append(f"line {n}: nested too deeply to read")
