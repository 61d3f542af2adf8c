"""What the cursor is on: an identifier, a string (an error message…) or a comment.

Pure and line-based: hover and "Find memories about this" ask for the thing under the
cursor, and a line is all it takes to tell a string or a trailing comment from code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TargetKind = Literal["identifier", "string", "comment"]

_IDENT = re.compile(r"[A-Za-z_$][\w$]*")
_WORD = re.compile(r"[\w$]")
_HASH_COMMENT = {
    ".py",
    ".pyi",
    ".sh",
    ".bash",
    ".zsh",
    ".rb",
    ".pl",
    ".r",
    ".yaml",
    ".yml",
    ".toml",
    ".cfg",
    ".ini",
    ".conf",
    ".ex",
    ".exs",
    ".nim",
    ".jl",
    ".ps1",
    ".mk",
    ".dockerfile",
    ".cmake",
    ".tf",
}
_DASH_COMMENT = {".sql", ".lua", ".hs", ".elm", ".ada", ".adb"}
MIN_IDENTIFIER = 3
# Words too common in code to say anything about a project on their own.
KEYWORDS = frozenset(
    """
and as assert async await break case catch class const continue debugger def default del delete
do elif else enum except export extends false final finally fn for from func function go if impl
import in instanceof interface is lambda let loop match mod mut new nil none not null or package
pass private protected pub public raise return self static struct super switch this throw throws
true try type typeof undefined use var void where while with yield int str float bool dict list
string number boolean any object args kwargs len print console log err error ctx val value key
""".split()
)


@dataclass(frozen=True)
class Target:
    """The thing under the cursor: its kind, text and columns ``[start, end)`` in the line."""

    kind: TargetKind
    text: str
    start: int
    end: int


def comment_markers(filename: str) -> tuple[str, ...]:
    lower = filename.lower()
    ext = lower[lower.rfind(".") :] if "." in lower else ""
    if ext in _HASH_COMMENT or lower.endswith(("makefile", "dockerfile")):
        return ("#",)
    if ext in _DASH_COMMENT:
        return ("--",)
    return ("//", "/*", "#") if ext in ("", ".php") else ("//", "/*")


WINDOW = 2_000  # characters looked at on each side of the cursor


def target_at(line: str, column: int, filename: str = "") -> Target | None:
    """The identifier, string or comment at ``column`` of ``line`` (None on blanks/keywords).

    Linear in the line and bounded: on a long line (minified code, a data table) only a
    window around the cursor is read, so a hover costs the same on a 500 KB line as on a
    short one. A window may start inside a string; on such lines that is the price of not
    reading half a megabyte per hover.
    """
    if not 0 <= column <= len(line):
        return None
    offset = 0
    if len(line) > 2 * WINDOW:
        offset = _outside_strings(line, max(0, column - WINDOW))
        if offset > column:
            return None  # inside a string of thousands of characters: nothing to search for
        line, column = line[offset : column + WINDOW], column - offset
    found = _target_in(line, column, comment_markers(filename), block_rule=not offset)
    return (
        found
        if found is None or not offset
        else Target(found.kind, found.text, found.start + offset, found.end + offset)
    )


def _outside_strings(line: str, start: int) -> int:
    """``start``, or just past the string it falls in: an odd number of (unescaped) quotes
    before it means it is inside one. Counting runs at C speed, unlike a scan; the first
    quote kind the line uses decides, as apostrophes inside "…" would mislead a count of '."""
    for quote in _QUOTES:
        before = line.count(quote, 0, start)
        if before:
            if (before - line.count("\\" + quote, 0, start)) % 2 == 0:
                return start
            end = line.find(quote, start)
            return end + 1 if end >= 0 else len(line)
    return start


def _target_in(line: str, column: int, markers: tuple[str, ...], block_rule: bool) -> Target | None:
    strings, comment = scan(line, markers, block_rule)
    if comment is not None and column >= comment:
        return _comment(line, comment)
    for start, end in strings:
        if start <= column < end:
            return _string(line, start, end)
    return _identifier(line, column)


def scan(
    line: str, markers: tuple[str, ...], block_rule: bool = True
) -> tuple[list[tuple[int, int]], int | None]:
    """The string literals of ``line`` (``[start, end)``) and where a comment starts, in one
    left-to-right pass: a comment marker inside a string does not count, and a quote that
    never closes is an ordinary character (an apostrophe in prose)."""
    strings: list[tuple[int, int]] = []
    unclosed: set[str] = set()  # once a quote kind finds no end, no later one of it can
    starts = _starts_pattern(markers)
    pos = 0
    while (m := starts.search(line, pos)) is not None:
        token = m.group()
        if token not in _QUOTES:
            return strings, m.start()
        end = None if token in unclosed else _CLOSE[token].match(line, m.end())
        if end is None:
            unclosed.add(token)
            pos = m.end()
            continue
        strings.append((m.start(), end.end()))
        pos = end.end()
    if block_rule and line.lstrip().startswith("*"):  # inside a /* … */ block
        return strings, len(line) - len(line.lstrip())
    return strings, None


_QUOTES = ('"', "'", "`")
_CLOSE = {q: re.compile(rf"(?:[^{q}\\]|\\.)*{q}") for q in _QUOTES}
_STARTS: dict[tuple[str, ...], re.Pattern[str]] = {}


def _starts_pattern(markers: tuple[str, ...]) -> re.Pattern[str]:
    pattern = _STARTS.get(markers)
    if pattern is None:
        pattern = _STARTS[markers] = re.compile(
            "|".join(re.escape(t) for t in (*_QUOTES, *markers))
        )
    return pattern


def _comment(line: str, start: int) -> Target | None:
    text = line[start:].lstrip("/#*-! ").rstrip("*/ ").strip()
    return Target("comment", text, start, len(line)) if len(text) >= MIN_IDENTIFIER else None


def _string(line: str, start: int, end: int) -> Target | None:
    text = " ".join(line[start + 1 : end - 1].split())
    return Target("string", text, start, end) if len(text) >= MIN_IDENTIFIER else None


def _identifier(line: str, column: int) -> Target | None:
    lo = column  # back to the start of the run of word characters holding the cursor
    while lo > 0 and _WORD.match(line, lo - 1):
        lo -= 1
    found = None
    for m in _IDENT.finditer(line, lo):
        if m.start() > column:
            break
        if m.end() >= column:
            found = m  # at "a|b" boundaries the word starting at the cursor wins
    if found is None:
        return None
    word = found.group()
    if len(word) < MIN_IDENTIFIER or word.lower() in KEYWORDS:
        return None
    return Target("identifier", word, found.start(), found.end())


def words_of_identifier(word: str) -> list[str]:
    """``parseConfigFile`` / ``parse_config_file`` → ``["parse", "config", "file"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", word.replace("_", " ").replace("$", " "))
    return [w.lower() for w in spaced.split() if w]
