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
_STRING = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`")
_HASH_COMMENT = {".py", ".pyi", ".sh", ".bash", ".zsh", ".rb", ".pl", ".r", ".yaml", ".yml",
                 ".toml", ".cfg", ".ini", ".conf", ".ex", ".exs", ".nim", ".jl", ".ps1", ".mk",
                 ".dockerfile", ".cmake", ".tf"}
_DASH_COMMENT = {".sql", ".lua", ".hs", ".elm", ".ada", ".adb"}
MIN_IDENTIFIER = 3
# Words too common in code to say anything about a project on their own.
KEYWORDS = frozenset("""
and as assert async await break case catch class const continue debugger def default del delete
do elif else enum except export extends false final finally fn for from func function go if impl
import in instanceof interface is lambda let loop match mod mut new nil none not null or package
pass private protected pub public raise return self static struct super switch this throw throws
true try type typeof undefined use var void where while with yield int str float bool dict list
string number boolean any object args kwargs len print console log err error ctx val value key
""".split())


@dataclass(frozen=True)
class Target:
    """The thing under the cursor: its kind, text and columns ``[start, end)`` in the line."""

    kind: TargetKind
    text: str
    start: int
    end: int


def comment_markers(filename: str) -> tuple[str, ...]:
    lower = filename.lower()
    ext = lower[lower.rfind("."):] if "." in lower else ""
    if ext in _HASH_COMMENT or lower.endswith(("makefile", "dockerfile")):
        return ("#",)
    if ext in _DASH_COMMENT:
        return ("--",)
    return ("//", "/*", "#") if ext in ("", ".php") else ("//", "/*")


def target_at(line: str, column: int, filename: str = "") -> Target | None:
    """The identifier, string or comment at ``column`` of ``line`` (None on blanks/keywords)."""
    if not 0 <= column <= len(line):
        return None
    strings = [(m.start(), m.end()) for m in _STRING.finditer(line)]
    comment = _comment_start(line, strings, comment_markers(filename))
    if comment is not None and column >= comment:
        return _comment(line, comment)
    for start, end in strings:
        if start <= column < end:
            return _string(line, start, end)
    return _identifier(line, column)


def _comment_start(line: str, strings: list[tuple[int, int]], markers: tuple[str, ...]) -> int | None:
    best: int | None = None
    for marker in markers:
        pos = line.find(marker)
        while pos >= 0 and any(s <= pos < e for s, e in strings):
            pos = line.find(marker, pos + 1)
        if pos >= 0 and (best is None or pos < best):
            best = pos
    if best is None and line.lstrip().startswith("*"):  # inside a /* … */ block
        best = len(line) - len(line.lstrip())
    return best


def _comment(line: str, start: int) -> Target | None:
    text = line[start:].lstrip("/#*-! ").rstrip("*/ ").strip()
    return Target("comment", text, start, len(line)) if len(text) >= MIN_IDENTIFIER else None


def _string(line: str, start: int, end: int) -> Target | None:
    text = " ".join(line[start + 1:end - 1].split())
    return Target("string", text, start, end) if len(text) >= MIN_IDENTIFIER else None


def _identifier(line: str, column: int) -> Target | None:
    found = [m for m in _IDENT.finditer(line) if m.start() <= column <= m.end()]
    if not found:
        return None
    m = found[-1]  # at "a|b" boundaries the word starting at the cursor wins
    word = m.group()
    if len(word) < MIN_IDENTIFIER or word.lower() in KEYWORDS:
        return None
    return Target("identifier", word, m.start(), m.end())


def words_of_identifier(word: str) -> list[str]:
    """``parseConfigFile`` / ``parse_config_file`` → ``["parse", "config", "file"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", word.replace("_", " ").replace("$", " "))
    return [w.lower() for w in spaced.split() if w]
