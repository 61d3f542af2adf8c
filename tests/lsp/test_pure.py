"""Unit tests of the pure pieces: symbol tables, anchor re-finding, cursor targets, config."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.anchors import Located, SymbolSpan, find_window, fingerprint, locate
from core.models import CodeAnchor
from lsp_server import present, symbols
from lsp_server.config import ServerConfig
from lsp_server.documents import LAZY_PARSE_CHARS, Documents
from lsp_server.symbols import enclosing, spans, symbols_of
from lsp_server.targets import target_at, words_of_identifier

PY = """import os

@cache
def load(path):
    return open(path).read()


class Store:
    def get(self, key):
        def helper():
            return key
        return helper()

    async def put(self, key, value):
        pass


if os.name == "nt":
    def windows_only():
        pass
"""


def test_python_symbols_come_from_ast_with_qualified_names() -> None:
    found = {
        (s.qualname, s.kind, s.start_line, s.def_line, s.end_line) for s in symbols_of(PY, "a.py")
    }
    assert found == {
        ("load", "function", 3, 4, 5),
        ("Store", "class", 8, 8, 15),
        ("Store.get", "method", 9, 9, 12),
        ("Store.get.helper", "function", 10, 10, 11),
        ("Store.put", "method", 14, 14, 15),
        ("windows_only", "function", 19, 19, 20),
    }


def test_enclosing_is_the_innermost_symbol() -> None:
    table = symbols_of(PY, "a.py")
    assert enclosing(table, 11).qualname == "Store.get.helper"  # type: ignore[union-attr]
    assert enclosing(table, 12).qualname == "Store.get"  # type: ignore[union-attr]
    assert enclosing(table, 9, 15).qualname == "Store"  # type: ignore[union-attr]
    assert enclosing(table, 1) is None


def test_python_that_does_not_parse_falls_back_to_the_heuristic() -> None:
    broken = "def ok(a):\n    return a\n\ndef half(:\n    pass\n"
    assert [s.name for s in symbols_of(broken, "a.py")] == ["ok", "half"]


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [
        (
            "a.ts",
            "export async function load(p: string) {\n  if (p) {\n    return 1;\n  }\n}\n",
            [("load", 1, 5)],
        ),
        (
            "a.js",
            "class Cart {\n  total(items) {\n    return 0;\n  }\n}\n"
            "const add = async (a, b) => {\n  return a + b;\n};\n",
            [("Cart", 1, 5), ("Cart.total", 2, 4), ("add", 6, 8)],
        ),
        (
            "a.go",
            "func (s *Server) Start(ctx context.Context) error {\n\treturn nil\n}\n"
            "type Config struct {\n\tA int\n}\n",
            [("Start", 1, 3), ("Config", 4, 6)],
        ),
        (
            "a.rs",
            "impl Parser {\n    pub fn new() -> Self {\n        Parser {}\n    }\n}\n",
            [("Parser", 1, 5), ("Parser.new", 2, 4)],
        ),
        (
            "a.rb",
            "class Foo\n  def bar(x)\n    x\n  end\nend\n",
            [("Foo", 1, 5), ("Foo.bar", 2, 4)],
        ),
        (
            "A.java",
            "public class A {\n  public static void main(String[] args) {\n"
            "    if (args.length > 0) {\n    }\n  }\n}\n",
            [("A", 1, 6), ("A.main", 2, 5)],
        ),
        ("notes.md", "def not_code():\n", []),
    ],
)
def test_other_languages_use_the_line_heuristic(
    filename: str, text: str, expected: list[tuple[str, int, int]]
) -> None:
    assert [(s.qualname, s.start_line, s.end_line) for s in symbols_of(text, filename)] == expected


def test_braces_in_strings_and_comments_do_not_end_a_block() -> None:
    text = 'function f() {\n  const s = "}";  // }\n  return s;\n}\nfunction g() {}\n'
    assert [(s.name, s.end_line) for s in symbols_of(text, "a.js")] == [("f", 4), ("g", 5)]


# ---- anchors -------------------------------------------------------------------------------
LINES = [
    "import os",
    "",
    "def load(path):",
    "    data = open(path).read()",
    "    return data",
    "",
    "def save(path, data):",
    "    open(path, 'w').write(data)",
]
SPANS = [SymbolSpan("load", 3, 5), SymbolSpan("save", 7, 8)]


def anchor(start: int, end: int, symbol: str | None = None, lines: list[str] = LINES) -> CodeAnchor:
    return CodeAnchor("a.py", start, end, symbol, None, fingerprint(lines[start - 1 : end]))


def test_an_unmoved_anchor_is_found_where_it_was() -> None:
    assert locate(anchor(4, 5, "load"), LINES, SPANS) == Located(4, 5, "fingerprint")


def test_lines_inserted_above_move_the_anchor_by_symbol_and_content() -> None:
    moved = ["# a", "# b", "# c", *LINES]
    spans = [SymbolSpan("load", 6, 8), SymbolSpan("save", 10, 11)]
    assert locate(anchor(4, 5, "load"), moved, spans) == Located(7, 8, "fingerprint")
    assert locate(anchor(4, 5), moved) == Located(7, 8, "fingerprint")  # no symbol: content


def test_reindented_code_keeps_its_fingerprint() -> None:
    assert fingerprint(["  x = 1", "\treturn x "]) == fingerprint(["x = 1", "return x"])
    nested = ["class C:", *[f"    {ln}" if ln else "" for ln in LINES]]
    assert locate(anchor(4, 5), nested).start_line == 5  # type: ignore[union-attr]


def test_edited_function_is_found_by_symbol() -> None:
    edited = [*LINES[:3], "    data = read_all(path)  # changed", *LINES[4:]]
    assert locate(anchor(4, 5, "load"), edited, SPANS) == Located(3, 5, "symbol")


def test_qualified_symbol_falls_back_to_its_last_part_nearest_first() -> None:
    spans = [SymbolSpan("A.run", 1, 3), SymbolSpan("B.run", 10, 12)]
    found = locate(CodeAnchor("a.py", 11, 11, "Renamed.run"), ["x"] * 12, spans)
    assert found == Located(10, 12, "symbol")


def test_without_symbol_or_fingerprint_the_stored_lines_are_used_while_they_exist() -> None:
    bare = CodeAnchor("a.py", 2, 3)
    assert locate(bare, LINES) == Located(2, 3, "stored")
    assert locate(CodeAnchor("a.py", 7, 99), LINES) == Located(7, 8, "stored")
    assert locate(CodeAnchor("a.py", 50, 51), LINES) is None
    assert locate(bare, []) is None


def test_window_search_prefers_the_match_nearest_the_stored_line() -> None:
    lines = ["x = 1", "y", "x = 1", "y", "x = 1"]
    digest = fingerprint(["x = 1"])
    assert find_window(lines, digest, 1, near=4) in (3, 5)
    assert find_window(lines, digest, 1, near=1) == 1
    assert find_window(lines, digest, 1, near=1, bounds=(2, 4)) == 3
    assert find_window(lines, fingerprint(["nope"]), 1, near=1) is None


# ---- cursor targets --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        (
            "    cfg = parse_config(path)  # read the config file",
            12,
            ("identifier", "parse_config"),
        ),
        (
            "    cfg = parse_config(path)  # read the config file",
            40,
            ("comment", "read the config file"),
        ),
        ('    raise ValueError("config file is empty")', 30, ("string", "config file is empty")),
        ("const url = 'http://x'; // fetch it", 14, ("string", "http://x")),
        ("    return self", 6, None),  # keywords say nothing
        ("  x = 1", 2, None),  # too short
        ("", 0, None),
    ],
)
def test_target_at(line: str, column: int, expected: tuple[str, str] | None) -> None:
    found = target_at(line, column, "a.js" if "const" in line else "a.py")
    assert (None if found is None else (found.kind, found.text)) == expected


def test_identifier_words() -> None:
    assert words_of_identifier("parseConfigFile") == ["parse", "config", "file"]
    assert words_of_identifier("MAX_RETRY_COUNT") == ["max", "retry", "count"]


# ---- configuration -----------------------------------------------------------------------
def test_configuration_merges_key_by_key_and_skips_bad_values() -> None:
    config = ServerConfig().merged(
        {
            "database": {"path": "~/m.db"},
            "codeLens": {"enabled": False},
            "hover": False,
            "relevanceFloor": 7,
            "project": "",
            "unknown": 1,
        }
    )
    assert config.database_path == "~/m.db"
    assert config.code_lens.enabled is False and config.hover.enabled is False
    assert config.relevance_floor == 0.35 and config.project is None
    assert config.diagnostics.enabled is False
    assert config.merged(None) == config and config.merged("nonsense") == config
    assert config.merged({"relevanceFloor": 0.5, "project": "shop"}).relevance_floor == 0.5


def test_memory_documents_use_the_extension_scheme_or_a_file(tmp_path: Path) -> None:
    assert present.memory_uri("01ABC", None) == "devmemory:/memory/01ABC.md"
    uri = present.memory_uri("01ABC", tmp_path, "# hello\n")
    assert uri == (tmp_path / "01ABC.md").as_uri()
    assert (tmp_path / "01ABC.md").read_text() == "# hello\n"


def test_command_links_carry_the_id_as_json() -> None:
    assert present.open_link("01ABC") == "command:devmem.open?%5B%7B%22id%22%3A%20%2201ABC%22%7D%5D"
    assert present.escape("a_b *c* [d]") == "a\\_b \\*c\\* \\[d\\]"


# ---- issue 21: parsing and cursor targets under load -----------------------------------------
def test_a_brace_in_an_f_string_opens_no_block_while_the_file_does_not_parse() -> None:
    broken = (
        'class Report:\n    def title(self):\n        return f"Report {self.name}"\n\n'
        '    def body(self):\n        return "x"\n\n    def footer(self):\n'
        '        data = {"a": 1}\n        return data\n\ndef half(:\n    pass\n'
    )
    found = [(s.qualname, s.start_line, s.end_line) for s in symbols_of(broken, "r.py")]
    assert found == [
        ("Report", 1, 10),
        ("Report.title", 2, 3),
        ("Report.body", 5, 6),
        ("Report.footer", 8, 10),
        ("half", 12, 13),
    ]


def test_strings_and_comments_hide_headers_and_braces_in_other_languages() -> None:
    text = (
        "function f() {\n  const t = `\n  function fake() {\n  `;\n  /* } */\n  return t;\n}\n"
        "function g() {\n  return '{';\n}\n"
    )
    assert [(s.qualname, s.end_line) for s in symbols_of(text, "a.js")] == [("f", 7), ("g", 10)]


def test_the_python_heuristic_agrees_with_ast_on_decorators_and_continuations() -> None:
    text = (
        '@app.route(\n    "/x",\n)\ndef view(\n    a,\n):\n    """Doc\n\ndef not_a_symbol():\n"""\n'
        "    return call(a,\n  b)\n\n\nclass K:\n    @property\n    def p(self):\n        return 1\n"
    )
    heuristic = symbols_of(text + "def broken(:\n", "a.py")[:-1]
    assert heuristic == symbols_of(text, "a.py")


def test_the_fallback_parser_is_linear_in_the_number_of_definitions() -> None:
    # 20k methods in a file that does not parse: the qualification step used to compare
    # every definition with every earlier one (5k took 1.3 s, 20k ~20 s).
    text = "class A:\n" + "".join(
        f"    def m{i}(self):\n        return {i}\n" for i in range(20_000)
    )
    started = time.perf_counter()
    found = symbols_of(text + "def broken(:\n", "a.py")
    assert time.perf_counter() - started < 3.0
    assert (
        len(found) == 20_002 and found[-2].qualname == "A.m19999" and found[-2].end_line == 40_001
    )


def test_big_python_files_are_not_parsed_with_ast(monkeypatch: pytest.MonkeyPatch) -> None:
    # ast.parse holds the interpreter lock for its whole run (~1 ms per KB): every other
    # request of the server waits. Past the bound the linear heuristic answers.
    text = "".join(f"def f{i}(a):\n    return a + {i}\n\n" for i in range(5_000))
    assert len(text) > symbols.AST_MAX_CHARS

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("ast.parse on a big file")

    monkeypatch.setattr(symbols.ast, "parse", refuse)
    found = symbols_of(text, "big.py")
    assert [(s.qualname, s.start_line, s.end_line) for s in found[:2]] == [
        ("f0", 1, 2),
        ("f1", 4, 5),
    ]


def test_memories_about_an_overloaded_function_attach_to_its_implementation() -> None:
    text = (
        "from typing import overload\n\n\n@overload\ndef parse(x: int) -> int: ...\n\n\n"
        "@overload\ndef parse(x: str) -> str: ...\n\n\ndef parse(x):\n    return x\n"
    )
    for source in (text, text + "def broken(:\n"):
        table = symbols_of(source, "a.py")
        where = locate(CodeAnchor("a.py", None, None, "parse"), source.splitlines(), spans(table))
        assert where == Located(12, 13, "symbol")
        assert enclosing(table, 13).overload is False  # type: ignore[union-attr]


def test_hover_targets_on_a_440_kb_line_take_no_time() -> None:
    # 40k "#rrggbb" strings: each "#" is a Python comment marker inside a string, and the
    # old scan compared every marker with every string (31 s per hover).
    line = "COLOURS = [" + ", ".join(f'"#{i:06x}"' for i in range(40_000)) + "]"
    assert len(line) > 440_000
    started = time.perf_counter()
    middle = target_at(line, len(line) // 2 + 3, "colours.py")
    escaped = target_at('x = "' + '\\"' * 12_000, 100, "a.js")
    assert time.perf_counter() - started < 0.5
    assert middle is not None and middle.kind == "string" and middle.text.startswith("#")
    assert line[middle.start : middle.end] == f'"{middle.text}"'
    assert escaped is None or escaped.kind != "comment"
    # a window that starts inside a string must not turn the "#" of the next one into a comment
    for column in range(200_003, 200_120):
        found = target_at(line, column, "colours.py")
        assert found is None or (found.kind == "string" and line[found.start] == '"'), column


def test_target_scan_skips_markers_in_strings_and_unclosed_quotes() -> None:
    assert target_at('x = "a # b"  # real comment', 20, "a.py") == target_at(
        'x = "a # b"  # real comment', 22, "a.py"
    )
    found = target_at("it's the parse_config step", 12, "notes.md")
    assert found is not None and (found.kind, found.text) == ("identifier", "parse_config")


def test_an_open_bracket_being_typed_hides_no_definition() -> None:
    text = (
        "def typing_now(:\n\n"
        + "".join(f"def f{i}(a):\n    return a\n\n" for i in range(3))
        + "describe('x', () => {\n  function helper() {\n    return 1;\n  }\n});\n"
    )
    found = [
        (s.qualname, s.start_line, s.end_line)
        for s in symbols_of(text.split("describe")[0], "a.py")
    ]
    assert found == [("typing_now", 1, 1), ("f0", 3, 4), ("f1", 6, 7), ("f2", 9, 10)]
    js = [
        (s.qualname, s.end_line)
        for s in symbols_of("describe" + text.split("describe")[1], "a.test.js")
    ]
    assert js == [("helper", 4)]


def test_an_anchor_without_its_symbol_is_searched_near_its_line_only() -> None:
    lines = [f"x{i} = {i}" for i in range(60_000)]
    near = anchor(50_000, 50_001, None, lines)
    moved = ["# new", *lines]
    started = time.perf_counter()
    assert locate(near, moved) == Located(50_001, 50_002, "fingerprint")
    gone = CodeAnchor("a.py", 50_000, 50_001, None, None, fingerprint(["never", "there"]))
    assert locate(gone, moved) == Located(50_000, 50_001, "stored")
    far = anchor(10, 11, None, lines)
    assert locate(far, [*(["# pad"] * 5_000), *lines]) == Located(10, 11, "stored")
    assert time.perf_counter() - started < 1.0


def test_a_big_document_being_typed_in_keeps_its_last_symbols_until_parsed() -> None:
    docs = Documents(lambda: None)
    text = "".join(f"def f{i}(a):\n    return a\n\n" for i in range(30_000))
    assert len(text) > LAZY_PARSE_CHARS
    parsed = docs.build("untitled:big.py", 1, text)
    assert parsed is not None and docs.provisional("untitled:big.py", 1, text) is None  # parsed
    quick = docs.provisional("untitled:big.py", 2, "# typing\n" + text)
    assert quick is not None and quick.version is None  # nothing is cached under it
    assert quick.lines[0] == "# typing" and quick.symbols is parsed.symbols
    assert docs.provisional("untitled:small.py", 2, "def f():\n    pass\n") is None


def test_a_docstring_being_opened_hides_nothing_below_it() -> None:
    text = 'def a():\n    """\n    return 1\n\n\ndef b():\n    return 2\n\n\ndef c(:\n    pass\n'
    assert [(s.qualname, s.end_line) for s in symbols_of(text, "a.py")] == [
        ("a", 3),
        ("b", 7),
        ("c", 11),
    ]
    js = "function a() {\n  /* typing\n  return 1;\n}\nfunction b() {\n  return 2;\n}\n"
    assert [(s.qualname, s.end_line) for s in symbols_of(js, "a.js")] == [("a", 4), ("b", 7)]
    started = time.perf_counter()  # an unclosed template before 20k escaped backticks
    symbols_of("`" + "\\`" * 20_000 + "\nfunction f() {}\n", "a.js")
    assert time.perf_counter() - started < 1.0


def test_line_breaks_inside_strings_keep_the_symbol_lines_right() -> None:
    text = 'X = """a\x0cb\r\nc"""\ndef f(:\n    pass\n\ndef g():\n    pass\n'
    assert len(text.splitlines()) == 8
    assert [(s.qualname, s.start_line) for s in symbols_of(text, "a.py")] == [("f", 4), ("g", 7)]


def test_windows_line_endings_keep_the_symbol_lines_right() -> None:
    text = 'x = "open  # c\n\n' + "def f():\n    return 1  # done\n\ndef g(:\n    pass\n"
    crlf = text.replace("\n", "\r\n")
    assert (
        [(s.qualname, s.start_line, s.end_line) for s in symbols_of(crlf, "a.py")]
        == [(s.qualname, s.start_line, s.end_line) for s in symbols_of(text, "a.py")]
        == [("f", 3, 4), ("g", 6, 7)]
    )
    js = "function f() {\n  // }\n  return '}\n}\n"
    assert symbols_of(js.replace("\n", "\r\n"), "a.js") == symbols_of(js, "a.js")
