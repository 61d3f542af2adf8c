"""Functions and classes of a source text, and the one enclosing a line.

Python is parsed with :mod:`ast`; any other language (Python that does not parse while it
is being typed, or a Python file too big to parse on the server's clock) goes through a
line heuristic: ``def``/``function``/``fn``/``func``/``fun``/``class``/``struct``…
headers, whose body ends at the matching closing brace, or, without braces, where the
indentation returns to the header's level (a closing ``end`` line included).

Strings and comments are blanked out first by one linear lexer (triple-quoted and
template strings span lines), so a ``{`` in an f-string or a ``def`` in a docstring never
opens a block. Every step is linear in the text: a 50k-line file costs one pass, not one
pass per definition. Pure: text in, symbols out.
"""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core import SymbolSpan


@dataclass(frozen=True)
class Symbol:
    """A function or class. Lines are 1-based and inclusive; ``def_line`` holds the name."""

    name: str
    qualname: str
    kind: str  # "function", "method" or "class"
    start_line: int  # first line, decorators included
    def_line: int
    end_line: int
    overload: bool = False  # a typing.overload stub: the implementation comes after it

    def contains(self, start: int, end: int | None = None) -> bool:
        return self.start_line <= start and (end if end is not None else start) <= self.end_line

    def span(self) -> SymbolSpan:
        return SymbolSpan(self.qualname, self.start_line, self.end_line)


NOT_CODE = frozenset(
    {
        ".md",
        ".markdown",
        ".txt",
        ".rst",
        ".json",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".csv",
        ".lock",
        ".xml",
        ".html",
        ".svg",
    }
)
# ast.parse holds the interpreter lock for ~1 ms per KB: above this a parse would stall
# every other request (hovers on other files waited 1.7–2.5 s behind a 5 MB file), so
# bigger Python files take the linear heuristic, which yields the lock as it goes.
AST_MAX_CHARS = 64 * 1024
MAX_HEADER_CHARS = 1_000  # a longer line (minified code, data) is never a definition
_HASH_LANGS = (
    ".py",
    ".pyi",
    ".rb",
    ".sh",
    ".bash",
    ".zsh",
    ".pl",
    ".r",
    ".ex",
    ".exs",
    ".nim",
    ".jl",
    ".ps1",
    ".cr",
)


def symbols_of(text: str, filename: str = "") -> list[Symbol]:
    """The symbols of ``text``, outermost first; ``filename`` picks the parser."""
    lower = filename.lower()
    if any(lower.endswith(ext) for ext in NOT_CODE):
        return []
    if lower.endswith((".py", ".pyi")):
        if len(text) <= AST_MAX_CHARS:
            try:
                return _python(ast.parse(text))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                pass  # half-typed code: the heuristic still finds most definitions
        return _python_heuristic(text)
    return _heuristic(text, lower)


def enclosing(symbols: Sequence[Symbol], start: int, end: int | None = None) -> Symbol | None:
    """The innermost symbol containing lines ``start``…``end`` (1-based), if any."""
    inside = [s for s in symbols if s.contains(start, end)]
    return min(inside, key=lambda s: s.end_line - s.start_line) if inside else None


class Outline:
    """A symbol table indexed for "what is around this line" in O(nesting depth), not one
    scan of every symbol (a 50k-definition file placed 100 anchors in ~1 s that way)."""

    def __init__(self, symbols: Sequence[Symbol]) -> None:
        self._symbols = sorted(symbols, key=lambda s: (s.start_line, -s.end_line))
        self._starts = [s.start_line for s in self._symbols]
        self._parents: list[int] = []
        open_: list[int] = []
        for i, s in enumerate(self._symbols):
            while open_ and not self._symbols[open_[-1]].contains(s.start_line, s.end_line):
                open_.pop()
            self._parents.append(open_[-1] if open_ else -1)
            open_.append(i)

    def enclosing(self, start: int, end: int | None = None) -> Symbol | None:
        """The innermost symbol containing lines ``start``…``end``: among the last symbol
        starting at or before ``start`` and its ancestors (any other symbol around the
        lines would contain that one too)."""
        i = bisect.bisect_right(self._starts, start) - 1
        while i >= 0:
            if self._symbols[i].contains(start, end):
                return self._symbols[i]
            i = self._parents[i]
        return None


def spans(symbols: Iterable[Symbol]) -> list[SymbolSpan]:
    """Spans for anchor lookups. ``@overload`` stubs are left out when their implementation
    is there: a memory about ``parse`` belongs to the code that runs, not the first stub."""
    table = list(symbols)
    implemented = {s.qualname for s in table if not s.overload}
    return [s.span() for s in table if not (s.overload and s.qualname in implemented)]


def spans_by_name(symbols: Iterable[Symbol]) -> dict[str, list[SymbolSpan]]:
    """:func:`spans` grouped by short name: an anchor is only ever matched against spans
    named like its symbol (``core.anchors.find_symbol``)."""
    out: dict[str, list[SymbolSpan]] = {}
    for span in spans(symbols):
        out.setdefault(span.short_name, []).append(span)
    return out


# ---- Python ------------------------------------------------------------------------------
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _python(tree: ast.Module) -> list[Symbol]:
    out: list[Symbol] = []
    _walk(tree.body, "", False, out)
    return out


def _walk(body: Iterable[ast.stmt], prefix: str, in_class: bool, out: list[Symbol]) -> None:
    for node in body:
        if isinstance(node, _DEFS):
            qual = f"{prefix}.{node.name}" if prefix else node.name
            is_class = isinstance(node, ast.ClassDef)
            kind = "class" if is_class else ("method" if in_class else "function")
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            stub = any(_is_overload(d) for d in node.decorator_list)
            out.append(
                Symbol(
                    node.name, qual, kind, first, node.lineno, node.end_lineno or node.lineno, stub
                )
            )
            _walk(node.body, qual, is_class, out)
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.AsyncWith | ast.For | ast.While):
            # Definitions under `if TYPE_CHECKING:` / `try:` belong to the enclosing scope.
            for child in (
                getattr(node, "body", []),
                getattr(node, "orelse", []),
                getattr(node, "finalbody", []),
            ):
                _walk(child, prefix, in_class, out)
            for handler in getattr(node, "handlers", []):
                _walk(handler.body, prefix, in_class, out)


def _is_overload(decorator: ast.expr) -> bool:
    return (isinstance(decorator, ast.Name) and decorator.id == "overload") or (
        isinstance(decorator, ast.Attribute) and decorator.attr == "overload"
    )


# ---- lexing: strings and comments out, line structure kept ------------------------------
# An unclosed quote ends at the line's end; an unclosed triple quote, block comment or
# template literal is left to the other patterns (one line), so opening a docstring above
# 50k definitions does not hide them all while it is being typed.
_STR = r"(?:[^{q}\\\r\n]|\\(?:\r\n|[\s\S]))*(?:{q}|(?=[\r\n])|\Z)"
_PY_TOKENS = re.compile(
    "|".join(
        [
            r"#[^\r\n]*",
            r'"""[\s\S]*?"""',
            r"'''[\s\S]*?'''",
            '"' + _STR.format(q='"'),
            "'" + _STR.format(q="'"),
        ]
    ),
    re.M,
)
_HASH_TOKENS = re.compile(
    "|".join([r"#[^\r\n]*", '"' + _STR.format(q='"'), "'" + _STR.format(q="'")]), re.M
)
_C_TOKENS = re.compile(
    "|".join(
        [
            r"//[^\r\n]*",
            r"/\*[\s\S]*?\*/",
            r"(?<!\\)`(?:[^`\\]|\\[\s\S])*+`",
            '"' + _STR.format(q='"'),
            "'" + _STR.format(q="'"),
        ]
    ),
    re.M,
)
# Rust: a quote is a char literal only when it closes at once; else a lifetime (`&'a str`).
_RUST_TOKENS = re.compile(
    "|".join(
        [
            r"//[^\r\n]*",
            r"/\*[\s\S]*?\*/",
            '"' + _STR.format(q='"'),
            r"'(?:\\[^\n]{1,10}?|[^'\\\n])'",
        ]
    ),
    re.M,
)


@dataclass(frozen=True)
class Lexed:
    """A text's lines, the same lines with strings and comments blanked, and the lines that
    begin inside a multi-line string or comment (never a definition's header)."""

    lines: list[str]
    code: list[str]
    inside: frozenset[int]  # 1-based


# Every line break str.splitlines() knows (document lines are numbered by it), so that a
# form feed inside a blanked string cannot shift the lines after it.
_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_ODD_BREAK = re.compile("[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def lex(text: str, tokens: re.Pattern[str]) -> Lexed:
    starts = [0] + [m.end() for m in _BREAK.finditer(text)]
    inside: set[int] = set()

    def blank(m: re.Match[str]) -> str:
        token = m.group()
        newlines = (
            token.count("\n") if _ODD_BREAK.search(token) is None else len(_BREAK.findall(token))
        )
        if newlines:
            first = bisect.bisect_right(starts, m.start())  # 1-based line of the match
            inside.update(range(first + 1, first + newlines + 1))
        if token.startswith(("#", "//", "/*")):
            return "\n" * newlines
        return '""' + '\n""' * newlines  # still code: a docstring's lines belong to its block

    code = tokens.sub(blank, text).splitlines()
    return Lexed(text.splitlines(), code, frozenset(inside))


def _continued(code: Sequence[str]) -> set[int]:
    """Python lines that begin inside an open bracket (a signature or call over several
    lines): their indentation says nothing about blocks. A ``def``/``class`` line is never
    inside brackets, so one closes any left open (``def f(`` being typed above 50k
    definitions must not hide them all)."""
    out: set[int] = set()
    depth = 0
    for number, line in enumerate(code, start=1):
        if depth > 0:
            if ("def" in line or "class" in line) and _PY_HEADER.match(line):
                depth = 0
            else:
                out.add(number)
        depth = max(
            0, depth + line.count("(") + line.count("[") - line.count(")") - line.count("]")
        )
    return out


# ---- Python without ast ------------------------------------------------------------------
_PY_HEADER = re.compile(r"^([ \t]*)(?:async[ \t]+)?(def|class)[ \t]+([A-Za-z_]\w*)", re.M)
_OVERLOAD = re.compile(r"@(?:typing\.|t\.)?overload\b")


def _python_heuristic(text: str) -> list[Symbol]:
    lexed = lex(text, _PY_TOKENS)
    lexed = Lexed(lexed.lines, lexed.code, lexed.inside | _continued(lexed.code))
    found: list[tuple[str, str, int, int, int, bool]] = []
    for number, code in enumerate(lexed.code, start=1):
        match = _PY_HEADER.match(code) if "def" in code or "class" in code else None
        if match is None or number in lexed.inside:
            continue
        kind = "class" if match.group(2) == "class" else "function"
        first, stub = _decorators(lexed, number)
        found.append((kind, match.group(3), first, number, _indent_end(lexed, number, False), stub))
    return _qualify(found)


def _decorators(lexed: Lexed, header: int) -> tuple[int, bool]:
    """First line of the decorators right above ``header`` and whether one is @overload
    (a decorator's arguments may span lines)."""
    first, stub, above = header, False, header - 1
    while above >= 1:
        line = lexed.code[above - 1].lstrip()
        if line.startswith("@"):
            first, stub = above, stub or _OVERLOAD.match(line) is not None
        elif above not in lexed.inside:
            break
        above -= 1
    return first, stub


# ---- other languages ---------------------------------------------------------------------
_MODS = (
    r"\s*(?:(?:export|default|public|private|protected|internal|static|final|abstract|async|"
    r"override|virtual|inline|open|suspend|sealed|partial|unsafe|extern|const|pub(?:\([^)]*\))?)\s+)*"
)
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "class",
        re.compile(
            _MODS + r"(?:class|struct|enum|trait|interface|protocol|object|record)\s+"
            r"(?P<name>[A-Za-z_$][\w$]*)"
        ),
    ),
    ("class", re.compile(r"\s*impl(?:<[^>]*>)?\s+(?:[\w:<>, ]+\s+for\s+)?(?P<name>[A-Za-z_]\w*)")),
    ("class", re.compile(r"\s*type\s+(?P<name>[A-Za-z_]\w*)\s+(?:struct|interface)\b")),
    (
        "function",
        re.compile(_MODS + r"function\s*\*?\s*(?:[\w$]+[.:])*(?P<name>[A-Za-z_$][\w$]*)\s*[(<]"),
    ),
    ("function", re.compile(_MODS + r"fn\s+(?P<name>[A-Za-z_]\w*)")),
    ("function", re.compile(r"\s*func\s+(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)")),
    ("function", re.compile(_MODS + r"fun\s+(?:<[^>]*>\s*)?(?:[\w.]+\.)?(?P<name>[A-Za-z_]\w*)")),
    ("function", re.compile(r"\s*(?:async\s+)?def\s+(?:self\.)?(?P<name>[A-Za-z_]\w*[?!]?)")),
    (
        "function",
        re.compile(
            _MODS + r"(?:const|let|var)\s+(?P<name>[A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*"
            r"(?:async\s+)?(?:function\b|\([^()]*\)\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>)"
        ),
    ),
    (
        "method",
        re.compile(
            _MODS + r"(?:[\w<>\[\],.*&:?]+\s+)*?(?P<name>[A-Za-z_$][\w$]*)\s*\([^;]*\)"
            r"\s*(?:->\s*[^{]+|:\s*[^{=]+|throws\s+[\w., ]+|const|noexcept)?\s*\{\s*$"
        ),
    ),
)
_NOT_NAMES = frozenset(
    {
        "if",
        "for",
        "while",
        "switch",
        "catch",
        "return",
        "else",
        "do",
        "try",
        "function",
        "new",
        "sizeof",
        "elif",
        "with",
        "using",
        "lock",
        "foreach",
        "match",
        "when",
        "synchronized",
        "typeof",
        "await",
        "yield",
        "super",
        "this",
        "throw",
        "case",
        "goto",
        "delete",
    }
)


def _tokens_for(lower: str) -> re.Pattern[str]:
    if lower.endswith(_HASH_LANGS):
        return _HASH_TOKENS
    return _RUST_TOKENS if lower.endswith(".rs") else _C_TOKENS


def _heuristic(text: str, lower: str) -> list[Symbol]:
    lexed = lex(text, _tokens_for(lower))
    closes = _brace_closes(lexed.code)
    found: list[tuple[str, str, int, int, int, bool]] = []
    for number, line in enumerate(lexed.lines, start=1):
        if number in lexed.inside or len(line) > MAX_HEADER_CHARS:
            continue
        header = _header(line, lexed.code[number - 1] if number <= len(lexed.code) else "")
        if header is not None:
            end = _block_end(lexed, closes, number)
            found.append((header[0], header[1], number, number, end, False))
    return _qualify(found)


def _header(line: str, code: str) -> tuple[str, str] | None:
    stripped = line.lstrip()
    if not code.strip() or stripped.startswith(("*", "--")) or stripped.endswith(";"):
        return None  # blank, a comment, or a declaration without a body
    for kind, pattern in _PATTERNS:
        match = pattern.match(line)
        # The generic C-like pattern also matches calls and control flow: filter keywords.
        if match and (kind != "method" or _plausible_method(stripped, match.group("name"))):
            return kind, match.group("name")
    return None


def _plausible_method(stripped: str, name: str) -> bool:
    first = re.split(r"[^\w$]", stripped, maxsplit=1)[0]
    return name not in _NOT_NAMES and first not in _NOT_NAMES and not stripped.startswith("}")


def _brace_closes(code: Sequence[str]) -> dict[int, int]:
    """Line (1-based) → line of the brace closing its first ``{``: one pass with a stack."""
    closes: dict[int, int] = {}
    stack: list[tuple[int, bool]] = []
    for number, line in enumerate(code, start=1):
        if "{" not in line and "}" not in line:
            continue
        first = True
        for ch in re.findall(r"[{}]", line):
            if ch == "{":
                stack.append((number, first))
                first = False
            elif stack:
                opened, was_first = stack.pop()
                if was_first:
                    closes[opened] = number
    return closes


def _block_end(lexed: Lexed, closes: dict[int, int], header: int) -> int:
    """Last line of the block opened at ``header`` (1-based): braces, else indentation."""
    for number in (header, header + 1):
        if number <= len(lexed.code) and "{" in lexed.code[number - 1]:
            end = closes.get(number)
            if end is not None:
                return end
            break  # an unclosed brace (code being typed): fall back to the indentation
    return _indent_end(lexed, header, True)


def _indent_end(lexed: Lexed, header: int, closing_end: bool) -> int:
    """Last code line indented deeper than ``header`` (blank, comment-only and in-string
    lines do not end a block); with ``closing_end``, a dedented ``end`` line closes it."""
    code = lexed.code
    base = _indent(code[header - 1])
    end = header
    for number in range(header + 1, len(code) + 1):
        text = code[number - 1]
        if not text.strip():
            continue
        if number not in lexed.inside and _indent(text) <= base:
            return number if closing_end and re.match(r"\s*end\b", text) else end
        end = number
    return end


def _indent(line: str) -> int:
    width = len(line) - len(line.lstrip())
    return width if "\t" not in line[:width] else len(line[:width].expandtabs(4))


def _qualify(found: list[tuple[str, str, int, int, int, bool]]) -> list[Symbol]:
    """Qualified names from nesting, in one pass: ``found`` is in line order, so the
    possible parents are a stack of still-open symbols (innermost last)."""
    out: list[Symbol] = []
    open_: list[Symbol] = []
    for kind, name, start, def_line, end, stub in found:
        while open_ and open_[-1].end_line < start:
            open_.pop()
        parent = next(
            (s for s in reversed(open_) if s.contains(start, end) and s.start_line < start), None
        )
        qual = f"{parent.qualname}.{name}" if parent else name
        if kind == "function" and parent is not None and parent.kind == "class":
            kind = "method"
        elif kind == "method" and (parent is None or parent.kind != "class"):
            kind = "function"
        symbol = Symbol(name, qual, kind, start, def_line, end, stub)
        out.append(symbol)
        open_.append(symbol)
    return out
