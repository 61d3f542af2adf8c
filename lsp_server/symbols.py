"""Functions and classes of a source text, and the one enclosing a line.

Python is parsed with :mod:`ast`; any other language (or Python that does not parse while
it is being typed) goes through a line heuristic: ``def``/``function``/``fn``/``func``/
``fun``/``class``/``struct``… headers, whose body ends at the matching closing brace, or,
without braces, where the indentation returns to the header's level (a closing ``end``
line included). Pure: text in, symbols out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.anchors import SymbolSpan


@dataclass(frozen=True)
class Symbol:
    """A function or class. Lines are 1-based and inclusive; ``def_line`` holds the name."""

    name: str
    qualname: str
    kind: str  # "function", "method" or "class"
    start_line: int  # first line, decorators included
    def_line: int
    end_line: int

    def contains(self, start: int, end: int | None = None) -> bool:
        return self.start_line <= start and (end if end is not None else start) <= self.end_line

    def span(self) -> SymbolSpan:
        return SymbolSpan(self.qualname, self.start_line, self.end_line)


NOT_CODE = frozenset({".md", ".markdown", ".txt", ".rst", ".json", ".yaml", ".yml", ".toml",
                      ".ini", ".cfg", ".csv", ".lock", ".xml", ".html", ".svg"})


def symbols_of(text: str, filename: str = "") -> list[Symbol]:
    """The symbols of ``text``, outermost first; ``filename`` picks the parser."""
    lower = filename.lower()
    if any(lower.endswith(ext) for ext in NOT_CODE):
        return []
    if lower.endswith((".py", ".pyi")):
        try:
            return _python(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError):
            pass  # half-typed code: the heuristic still finds most definitions
    return _heuristic(text.splitlines())


def enclosing(symbols: Sequence[Symbol], start: int, end: int | None = None) -> Symbol | None:
    """The innermost symbol containing lines ``start``…``end`` (1-based), if any."""
    inside = [s for s in symbols if s.contains(start, end)]
    return min(inside, key=lambda s: s.end_line - s.start_line) if inside else None


def spans(symbols: Iterable[Symbol]) -> list[SymbolSpan]:
    return [s.span() for s in symbols]


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
            out.append(Symbol(node.name, qual, kind, first, node.lineno, node.end_lineno or node.lineno))
            _walk(node.body, qual, is_class, out)
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.AsyncWith | ast.For | ast.While):
            # Definitions under `if TYPE_CHECKING:` / `try:` belong to the enclosing scope.
            for child in (getattr(node, "body", []), getattr(node, "orelse", []),
                          getattr(node, "finalbody", [])):
                _walk(child, prefix, in_class, out)
            for handler in getattr(node, "handlers", []):
                _walk(handler.body, prefix, in_class, out)


# ---- other languages ---------------------------------------------------------------------
_MODS = r"\s*(?:(?:export|default|public|private|protected|internal|static|final|abstract|async|" \
        r"override|virtual|inline|open|suspend|sealed|partial|unsafe|extern|const|pub(?:\([^)]*\))?)\s+)*"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("class", re.compile(_MODS + r"(?:class|struct|enum|trait|interface|protocol|object|record)\s+"
                         r"(?P<name>[A-Za-z_$][\w$]*)")),
    ("class", re.compile(r"\s*impl(?:<[^>]*>)?\s+(?:[\w:<>, ]+\s+for\s+)?(?P<name>[A-Za-z_]\w*)")),
    ("class", re.compile(r"\s*type\s+(?P<name>[A-Za-z_]\w*)\s+(?:struct|interface)\b")),
    ("function", re.compile(_MODS + r"function\s*\*?\s*(?:[\w$]+[.:])*(?P<name>[A-Za-z_$][\w$]*)\s*[(<]")),
    ("function", re.compile(_MODS + r"fn\s+(?P<name>[A-Za-z_]\w*)")),
    ("function", re.compile(r"\s*func\s+(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)")),
    ("function", re.compile(_MODS + r"fun\s+(?:<[^>]*>\s*)?(?:[\w.]+\.)?(?P<name>[A-Za-z_]\w*)")),
    ("function", re.compile(r"\s*(?:async\s+)?def\s+(?:self\.)?(?P<name>[A-Za-z_]\w*[?!]?)")),
    ("function", re.compile(_MODS + r"(?:const|let|var)\s+(?P<name>[A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*"
                            r"(?:async\s+)?(?:function\b|\([^()]*\)\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>)")),
    ("method", re.compile(_MODS + r"(?:[\w<>\[\],.*&:?]+\s+)*?(?P<name>[A-Za-z_$][\w$]*)\s*\([^;]*\)"
                          r"\s*(?:->\s*[^{]+|:\s*[^{=]+|throws\s+[\w., ]+|const|noexcept)?\s*\{\s*$")),
)
_NOT_NAMES = frozenset({"if", "for", "while", "switch", "catch", "return", "else", "do", "try",
                        "function", "new", "sizeof", "elif", "with", "using", "lock", "foreach",
                        "match", "when", "synchronized", "typeof", "await", "yield", "super", "this",
                        "throw", "case", "goto", "delete"})


def _heuristic(lines: Sequence[str]) -> list[Symbol]:
    found: list[tuple[str, str, int, int]] = []
    for number, line in enumerate(lines, start=1):
        header = _header(line)
        if header is not None:
            end = _block_end(lines, number)
            found.append((header[0], header[1], number, end))
    return _qualify(found)


def _header(line: str) -> tuple[str, str] | None:
    stripped = line.lstrip()
    if not stripped or stripped.startswith(("//", "#", "*", "/*", "--")) or stripped.endswith(";"):
        return None
    for kind, pattern in _PATTERNS:
        match = pattern.match(line)
        # The generic C-like pattern also matches calls and control flow: filter keywords.
        if match and (kind != "method" or _plausible_method(stripped, match.group("name"))):
            return kind, match.group("name")
    return None


def _plausible_method(stripped: str, name: str) -> bool:
    first = re.split(r"[^\w$]", stripped, maxsplit=1)[0]
    return name not in _NOT_NAMES and first not in _NOT_NAMES and not stripped.startswith("}")


def _block_end(lines: Sequence[str], header: int) -> int:
    """Last line of the block opened at ``header`` (1-based): braces, else indentation."""
    opens = "".join(lines[header - 1:header + 1])
    if "{" in opens:
        end = _brace_end(lines, header)
        if end is not None:
            return end
    return _indent_end(lines, header)


def _brace_end(lines: Sequence[str], header: int) -> int | None:
    depth, seen = 0, False
    for number in range(header, len(lines) + 1):
        for ch in _code_part(lines[number - 1]):
            if ch == "{":
                depth, seen = depth + 1, True
            elif ch == "}":
                depth -= 1
                if seen and depth <= 0:
                    return number
    return None


_STRING = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|`(?:\\.|[^`\\])*`")


def _code_part(line: str) -> str:
    """The line without string literals and a trailing ``//`` comment (braces in them don't count)."""
    code = _STRING.sub("", line)
    cut = code.find("//")
    return code if cut < 0 else code[:cut]


def _indent_end(lines: Sequence[str], header: int) -> int:
    base = _indent(lines[header - 1])
    end = header
    for number in range(header + 1, len(lines) + 1):
        text = lines[number - 1]
        if not text.strip():
            continue
        if _indent(text) <= base:
            return number if re.match(r"\s*end\b", text) else end
        end = number
    return end


def _indent(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _qualify(found: list[tuple[str, str, int, int]]) -> list[Symbol]:
    out: list[Symbol] = []
    for kind, name, start, end in found:
        parent = enclosing([s for s in out if s.start_line < start], start, end)
        qual = f"{parent.qualname}.{name}" if parent else name
        if kind == "function" and parent is not None and parent.kind == "class":
            kind = "method"
        elif kind == "method" and (parent is None or parent.kind != "class"):
            kind = "function"
        out.append(Symbol(name, qual, kind, start, start, end))
    return out
