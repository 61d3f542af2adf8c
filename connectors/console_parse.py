"""Reading browser console captures and grouping their errors by a normalised fingerprint.

Accepted files (see docs/connectors.md and tests/data/console/example.json):

* a JSON array of events;
* a JSON object with an ``events``, ``entries``, ``logs`` or ``messages`` list (the first
  such member that is a list);
* JSON Lines: one event object per line (a malformed line is skipped, the rest kept).

A capture is read one event at a time (:mod:`connectors.json_stream`), so a 100k-event file
never sits in memory as objects; an event nested too deeply to read ends the file (skipped
with the reason, the other files go on).

An event is ``{"timestamp", "level", "message", "args"?, "stack"?, "url"?}``. ``timestamp``
is ISO-8601 or Unix time (seconds or milliseconds); ``level`` is ``error``/``warning``
(``warn``, ``severe``, ``assert`` and ``exception`` are read as one of these; ``log``,
``info`` and ``debug`` are counted and left out); ``stack`` is a string (Chrome's
``at fn (url:line:col)`` or Firefox's ``fn@url:line:col``) or a list of frames
(``{"functionName", "url", "lineNumber"}`` as in the Chrome DevTools protocol).

The fingerprint is the level, the message with its variable parts masked (URLs, UUIDs,
times, hex ids, e-mail addresses, numbers) and the top stack frame's function (not its
line, which moves with every build): the same error on another page, with another id or
after a deploy is the same memory. Quoted strings are kept: ``reading 'name'`` and
``reading 'id'`` are different bugs.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from connectors.json_stream import ItemStream
from core import InvalidInput, to_iso

LEVELS = {
    "error": "error",
    "severe": "error",
    "fatal": "error",
    "assert": "error",
    "exception": "error",
    "warning": "warning",
    "warn": "warning",
}
IGNORED_LEVELS = frozenset({"log", "info", "debug", "verbose", "trace", "dir", "table", "fine"})
LIST_KEYS = ("events", "entries", "logs", "messages")
MAX_MESSAGE = 2_000
MAX_STACK = 4_000
MAX_URLS = 5
_MASKS = [
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>()\[\]]+", re.I), "<url>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?\b"),
        "<time>",
    ),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![A-Za-z<])[-+]?\d+(\.\d+)?"), "<n>"),
]
_CHROME_FRAME = re.compile(r"^\s*at\s+(?:async\s+)?(?:new\s+)?([^\s(]+)\s+\(")
_CHROME_ANON = re.compile(r"^\s*at\s+(?:async\s+)?\S+:\d+(?::\d+)?\s*$")
_FIREFOX_FRAME = re.compile(r"^([^@\s]*)@\S+")


@dataclass
class Event:
    """One error or warning of a capture."""

    level: str
    message: str
    timestamp: str | None
    url: str | None
    stack: str | None
    function: str | None


@dataclass
class Group:
    """The events of one fingerprint in one capture."""

    fingerprint: str
    level: str
    normalised: str
    function: str | None
    count: int = 0
    first: str | None = None
    last: str | None = None
    urls: list[str] = field(default_factory=list)
    example: str = ""
    stack: str | None = None

    def add(self, e: Event) -> None:
        if self.count == 0 or (e.timestamp and self.first and e.timestamp < self.first):
            self.example, self.stack = e.message, e.stack
        self.count += 1
        if e.timestamp:
            self.first = min(self.first or e.timestamp, e.timestamp)
            self.last = max(self.last or e.timestamp, e.timestamp)
        if e.url and e.url not in self.urls and len(self.urls) < MAX_URLS:
            self.urls.append(e.url)


def normalise(message: str) -> str:
    """The message with its variable parts masked, whitespace collapsed."""
    text = message.strip().splitlines()[0] if message.strip() else ""
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return " ".join(text.split())[:500]


def fingerprint(level: str, normalised: str, function: str | None) -> str:
    return hashlib.sha1(f"{level}\x00{normalised}\x00{function or ''}".encode()).hexdigest()[:16]


def top_function(stack: Any) -> str | None:
    """The function of the top stack frame (``<anonymous>`` for an unnamed one)."""
    if isinstance(stack, list):
        for frame in stack:
            if isinstance(frame, dict):
                name = frame.get("functionName") or frame.get("function") or frame.get("name")
                return str(name) if name else "<anonymous>"
            if isinstance(frame, str):
                return top_function(frame)
        return None
    if not isinstance(stack, str):
        return None
    for line in stack.splitlines():
        m = _CHROME_FRAME.match(line)
        if m:
            return m.group(1)
        if _CHROME_ANON.match(line):
            return "<anonymous>"
        m = _FIREFOX_FRAME.match(line.strip())
        if m and not line.strip().startswith(("http", "at ")):
            return m.group(1) or "<anonymous>"
    return None


def _stack_text(stack: Any) -> str | None:
    if stack is None or stack == "" or stack == []:
        return None
    if isinstance(stack, str):
        return stack[:MAX_STACK]
    return json.dumps(stack, ensure_ascii=False)[:MAX_STACK]


def _timestamp(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = value / 1000 if value > 1e11 else value  # milliseconds vs seconds
    try:
        return to_iso(value) if value not in (None, "") else None
    except (InvalidInput, ValueError, OverflowError, OSError, TypeError):
        return None


def _page(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    return url.strip().split("?", 1)[0].split("#", 1)[0][:500]


def _message(raw: dict[str, Any]) -> str:
    message = raw.get("message", raw.get("text"))
    if message is not None and not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False, default=str)
    args = raw.get("args")
    if not message and isinstance(args, list):
        message = " ".join(
            a if isinstance(a, str) else json.dumps(a, ensure_ascii=False, default=str)
            for a in args
        )
    return (message or "").replace("\x00", "")[:MAX_MESSAGE]


def to_event(raw: Any) -> Event | str | None:
    """An Event, None for a level left out (log, info…), or the reason it is not an event."""
    if not isinstance(raw, dict):
        return f"not an event object ({type(raw).__name__})"
    level_raw = str(raw.get("level", raw.get("type", ""))).strip().lower()
    level = LEVELS.get(level_raw)
    if level is None:
        return None if level_raw in IGNORED_LEVELS else f"unknown level {level_raw or '(none)'!r}"
    message = _message(raw)
    if not message.strip():
        return "no message"
    stack = raw.get("stack", raw.get("stackTrace"))
    if isinstance(stack, dict):
        stack = stack.get("callFrames", [])
    return Event(
        level,
        message,
        _timestamp(raw.get("timestamp", raw.get("time"))),
        _page(raw.get("url")),
        _stack_text(stack),
        top_function(stack),
    )


NO_LIST = (
    "no list of events: expected a JSON array, an object with an 'events' or 'entries' "
    "list, or JSON Lines"
)


@dataclass
class Capture:
    """What one file holds: its events (raw, read as they are iterated), the lines or items it
    skipped, and a fatal error (known once ``items`` has been iterated to its end)."""

    items: Iterable[tuple[int, Any]] = ()  # (line or index, raw event)
    problems: list[str] = field(default_factory=list)
    fatal: str | None = None
    where: str = "event"  # what the numbers in problems count: "line" or "event"


def open_capture(handle: BinaryIO) -> Capture:
    """A capture read from ``handle`` as it is iterated: a JSON array, an object with a list,
    or JSON Lines (see :mod:`connectors.json_stream`); memory stays bounded by one event."""
    stream = ItemStream(handle, LIST_KEYS)
    if stream.form == "empty":
        return Capture(fatal="empty file")
    if stream.form == "other":
        return Capture(fatal=NO_LIST)
    cap = Capture(problems=stream.line_problems)
    cap.items = _items(stream, cap)
    return cap


def _items(stream: ItemStream, cap: Capture) -> Iterator[tuple[int, Any]]:
    """The stream's events; what ends it early (malformed, too deep) becomes ``cap.fatal``."""
    n = 0
    try:
        for n, raw in stream.items():
            cap.where = "line" if stream.form == "lines" else "event"
            yield n, raw
        if stream.form == "object" and not stream.found_list:
            if "message" not in stream.members and "args" not in stream.members:
                cap.fatal = NO_LIST
            else:
                yield 1, stream.members  # a lone event: JSON Lines with a single line
    except json.JSONDecodeError as exc:
        line, column = stream.window.where(exc)
        cap.fatal = f"malformed JSON at line {line}, column {column}: {exc.msg}"
    except RecursionError:
        cap.fatal = (
            f"nested too deeply to read (more than {sys.getrecursionlimit()} levels) "
            f"{f'after {cap.where} {n}' if n else 'in its first event'}"
        )


def load(text: str) -> Capture:
    """Parse a capture held in memory (tests, small inputs): every event read at once."""
    cap = open_capture(io.BytesIO(text.encode("utf-8", errors="replace")))
    cap.items = list(cap.items)
    return cap


@dataclass
class Grouped:
    """The groups of one capture, with what was left out."""

    groups: dict[str, Group]
    events: int = 0
    ignored: int = 0
    problems: list[str] = field(default_factory=list)


def group_events(cap: Capture) -> Grouped:
    """Errors and warnings of a capture grouped by fingerprint."""
    out = Grouped({})
    for n, raw in cap.items:
        try:
            event = to_event(raw)
        except RecursionError:  # a message or stack nested deeper than json.dumps goes
            event = "nested too deeply to read"
        if event is None:
            out.ignored += 1
            continue
        if isinstance(event, str):
            out.problems.append(f"{cap.where} {n}: {event}")
            continue
        out.events += 1
        norm = normalise(event.message)
        fp = fingerprint(event.level, norm, event.function)
        group = out.groups.get(fp)
        if group is None:
            group = out.groups[fp] = Group(fp, event.level, norm, event.function)
        group.add(event)
    out.problems = [*cap.problems, *out.problems]  # malformed lines first, then bad events
    return out
