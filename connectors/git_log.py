"""Reading ``git log -p -U0`` as a stream of commits with the files and symbols they changed.

Which function or class a hunk changed comes from two places:

* git's own hunk-header context (``@@ -12,3 +12,4 @@ def parse_config(path):``), the
  line git finds above the hunk with the diff driver of the file's language. The
  connector passes a bundled attributes file (``git_attributes``) that maps common
  extensions to git's built-in drivers (python, golang, rust, java, cpp, …) and a
  JavaScript/TypeScript pattern, because without attributes git only knows "a line that
  starts with a letter", which names the class instead of the method in Python;
* definition lines inside the hunk (``def new_helper(``, ``func (s *S) Run(``,
  ``export const f = () =>``): a hunk that adds or rewrites a function is attributed to it,
  not to the function above it that git shows in the header.

Everything is parsed as bytes and only names and headers are decoded (invalid UTF-8 is
replaced), so a commit with a 10 MB generated file costs a scan, not a decode.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from connectors.git_lines import ChangedLines

FORMAT = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cI%x1f%B%x1d"
MAX_SCANNED_LINES = 4_000  # changed lines per file per commit looked at for definitions

CODE_EXTENSIONS = frozenset(
    """
py pyi js jsx mjs cjs ts tsx mts cts go rs java kt kts scala c h cc cpp cxx hpp hh hxx m mm cs
rb php swift ex exs erl pl pm lua sh bash zsh dart vue svelte clj fs fsx ml mli hs r jl groovy
""".split()
)

_MODIFIERS = (
    rb"(?:(?:export|default|public|private|protected|internal|static|abstract|final|async"
    rb"|pub(?:\([^)]*\))?|override|virtual|extern|unsafe|inline|sealed|open|data|suspend)\s+)*"
)
_DEF = re.compile(
    rb"^\s*" + _MODIFIERS + rb"(?:def|class|function\*?|func|fn|interface|struct|enum|trait|impl"
    rb"|module|record|object|protocol|extension|sub|procedure|defp?|defmodule)\s+"
    rb"(?:\([^)]*\)\s*)?([A-Za-z_$][\w$.!?]*)"
)
_ARROW = re.compile(
    rb"^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*(?:async\s+)?"
    rb"(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>)"
)
_CALL = re.compile(rb"([A-Za-z_~][\w~]*(?:::[A-Za-z_~][\w~]*)*)\s*\(")
_NOT_NAMES = frozenset(b"if for while switch return catch sizeof elif else with new".split())
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@ ?(.*)$")


@dataclass
class FileChange:
    """One file of a commit: how many lines changed and in which symbols."""

    path: str
    old_path: str | None = None
    status: str = "M"  # A added, D deleted, M modified, R renamed
    added: int = 0
    removed: int = 0
    binary: bool = False
    symbols: Counter[str] = field(default_factory=Counter)  # symbol → changed lines
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)  # symbol → new-side lines
    first_range: tuple[int, int] | None = None

    @property
    def lines(self) -> int:
        return self.added + self.removed

    @property
    def is_code(self) -> bool:
        return (
            self.path.rsplit(".", 1)[-1].lower() in CODE_EXTENSIONS if "." in self.path else False
        )


@dataclass
class Commit:
    """A commit as read from ``git log``."""

    sha: str
    parents: list[str]
    author: str
    email: str
    author_date: str
    commit_date: str
    message: str
    files: list[FileChange] = field(default_factory=list)
    changed: ChangedLines = field(default_factory=ChangedLines, repr=False, compare=False)


def symbol_of(text: bytes) -> bytes | None:
    """The function/class name a definition or hunk-context line names, if any."""
    m = _DEF.match(text) or _ARROW.match(text)
    if m:
        return m.group(1).rstrip(b".")
    for call in _CALL.finditer(text):
        name = call.group(1)
        if name not in _NOT_NAMES:
            return name
    return None


def definition_in(line: bytes) -> bytes | None:
    """The name defined by a changed line (``def x``, ``class Y``, ``func Z``), if it is one."""
    m = _DEF.match(line) or _ARROW.match(line)
    return m.group(1).rstrip(b".") if m else None


def _decode(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def unquote_path(raw: bytes) -> str:
    """A path as git prints it (C-quoted when it holds special characters) → text."""
    if not (raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2):
        return _decode(raw)
    body, out, i = raw[1:-1], bytearray(), 0
    escapes = {
        ord("n"): 10,
        ord("t"): 9,
        ord('"'): 34,
        ord("\\"): 92,
        ord("a"): 7,
        ord("b"): 8,
        ord("f"): 12,
        ord("r"): 13,
        ord("v"): 11,
    }
    while i < len(body):
        c = body[i]
        if c == 92 and i + 1 < len(body):
            nxt = body[i + 1]
            if 48 <= nxt <= 55 and i + 3 < len(body) + 1:
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(escapes.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return _decode(bytes(out))


def _strip_prefix(path: str, prefix: str) -> str:
    return path[len(prefix) :] if path.startswith(prefix) else path


def diff_git_path(rest: bytes) -> str:
    """The path of ``diff --git a/P b/P`` (unambiguous when both sides are equal)."""
    if rest.startswith(b'"'):
        end = rest.find(b'" ', 1)
        first = rest[: end + 1] if end > 0 else rest
        return _strip_prefix(unquote_path(first), "a/")
    half = (len(rest) - 3) // 2
    left = rest[:half]
    if rest[half : half + 3] == b" b/" and left[2:] == rest[half + 3 :]:
        return _strip_prefix(_decode(left), "a/")
    return _strip_prefix(_decode(rest.split(b" b/", 1)[0]), "a/")


class _Parser:
    """State machine over the lines of ``git log -p -U0 --format=FORMAT``."""

    def __init__(self) -> None:
        self.commit: Commit | None = None
        self.header: list[bytes] | None = None
        self.file: FileChange | None = None
        self.in_file_header = False
        self.symbol: bytes | None = None  # the symbol the current changed lines belong to
        self.hunk_symbol: bytes | None = None
        self.hunk_new: tuple[int, int] = (0, 0)
        self.last_sign = 0
        self.scanned = 0

    def feed(self, line: bytes) -> Commit | None:
        """Take one line; returns a commit when the previous one is complete."""
        if line.startswith(b"\x1e"):
            done = self.commit
            self.commit, self.file, self.header = None, None, [line[1:]]
            self._maybe_end_header()
            return done
        if self.header is not None:
            self.header.append(line)
            self._maybe_end_header()
            return None
        if self.commit is not None:
            self._diff_line(line)
        return None

    def finish(self) -> Commit | None:
        done, self.commit = self.commit, None
        return done

    def _maybe_end_header(self) -> None:
        assert self.header is not None
        if b"\x1d" not in self.header[-1]:
            return
        raw = b"\n".join(self.header)
        raw = raw[: raw.rfind(b"\x1d")]
        self.header = None
        fields = raw.split(b"\x1f", 6)
        fields += [b""] * (7 - len(fields))
        sha, parents, author, email, adate, cdate, message = fields
        self.commit = Commit(
            _decode(sha).strip(),
            _decode(parents).split(),
            _decode(author),
            _decode(email),
            _decode(adate),
            _decode(cdate),
            _decode(message).strip("\n"),
        )

    def _diff_line(self, line: bytes) -> None:
        sign = line[:1]
        if sign in (b"+", b"-") and not self.in_file_header:
            self._changed(line, 1 if sign == b"+" else -1)
        elif line.startswith(b"@@"):
            self._hunk(line)
        elif line.startswith(b"diff --git "):
            self._new_file(line[11:])
        elif self.file is not None and self.in_file_header:
            self._file_header(line)

    def _new_file(self, rest: bytes) -> None:
        assert self.commit is not None
        self.file = FileChange(diff_git_path(rest))
        self.commit.files.append(self.file)
        self.in_file_header = True

    def _file_header(self, line: bytes) -> None:
        f = self.file
        assert f is not None
        if line.startswith(b"new file mode"):
            f.status = "A"
        elif line.startswith(b"deleted file mode"):
            f.status = "D"
        elif line.startswith(b"rename from "):
            f.status, f.old_path = "R", unquote_path(line[12:])
        elif line.startswith(b"rename to "):
            f.path = unquote_path(line[10:])
        elif line.startswith(b"+++ ") and line[4:] != b"/dev/null":
            # git ends the name with a TAB when it contains a space
            f.path = _strip_prefix(unquote_path(line[4:].removesuffix(b"\t")), "b/")
        elif line.startswith(b"--- ") and line[4:] != b"/dev/null" and f.status == "D":
            f.path = _strip_prefix(unquote_path(line[4:].removesuffix(b"\t")), "a/")
        elif line.startswith(b"Binary files "):
            f.binary = True

    def _hunk(self, line: bytes) -> None:
        f = self.file
        m = _HUNK.match(line)
        if f is None or m is None:
            return
        self.in_file_header = False
        start = int(m.group(3))
        count = int(m.group(4)) if m.group(4) is not None else 1
        self.hunk_new = (max(start, 1), max(start, 1) + max(count, 1) - 1)
        if f.first_range is None:
            f.first_range = self.hunk_new
        self.hunk_symbol = symbol_of(m.group(5)) if m.group(5) and f.is_code else None
        self.symbol = self.hunk_symbol
        self.last_sign = 0

    def _changed(self, line: bytes, sign: int) -> None:
        f = self.file
        if f is None:
            return
        if sign > 0:
            f.added += 1
        else:
            f.removed += 1
        if self.commit is not None and not f.binary:
            self.commit.changed.add(sign, line[1:])
        if not f.is_code:
            return
        if sign != self.last_sign:  # -U0 hunks list removed lines, then added ones: restart
            self.symbol, self.last_sign = self.hunk_symbol, sign
        if self.scanned < MAX_SCANNED_LINES:
            self.scanned += 1
            defined = definition_in(line[1:])
            if defined:
                self.symbol = defined
        if self.symbol and line[1:].strip():  # blank lines separate, they change nothing
            self._attribute(f, _decode(self.symbol))

    def _attribute(self, f: FileChange, name: str) -> None:
        f.symbols[name] += 1
        lo, hi = self.hunk_new
        old = f.ranges.get(name)
        f.ranges[name] = (min(lo, old[0]), max(hi, old[1])) if old else (lo, hi)


def parse_log(lines: Iterable[bytes]) -> Iterator[Commit]:
    """Commits from the lines (with or without their ``\\n``) of ``git log --format=FORMAT -p``."""
    parser = _Parser()
    for raw in lines:
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if line.startswith(b"diff --git "):
            parser.scanned = 0
        done = parser.feed(line)
        if done is not None:
            yield done
    last = parser.finish()
    if last is not None:
        yield last
