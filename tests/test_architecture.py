"""Layer boundaries: core never imports an adapter or a connector; SQL and the SQLite
libraries live only in core/storage; core has no import circles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADAPTERS = ("mcp_server", "lsp_server", "cli", "connectors")
STORAGE = REPO / "core" / "storage"
SQLITE_LIBRARIES = {"sqlite3", "sqlean", "sqlite_vec"}
SQL = re.compile(
    r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+TABLE)\b", re.I
)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_no_adapter_or_connector() -> None:
    offenders = {
        str(p.relative_to(REPO)): sorted(imports_of(p) & set(ADAPTERS))
        for p in (REPO / "core").rglob("*.py")
        if imports_of(p) & set(ADAPTERS)
    }
    assert offenders == {}


def _product_files() -> list[Path]:
    """Every Python file of the product (core and the adapters), outside the storage package."""
    files = [p for package in ("core", *ADAPTERS) for p in (REPO / package).rglob("*.py")]
    return [p for p in files if STORAGE not in p.parents]


def _sql_constants(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]


def test_no_sql_outside_the_storage_package() -> None:
    offenders = [
        f"{p.relative_to(REPO)}:{line}" for p in _product_files() for line in _sql_constants(p)
    ]
    assert offenders == []


def test_no_sqlite_import_outside_the_storage_package() -> None:
    offenders = {
        str(p.relative_to(REPO)): sorted(imports_of(p) & SQLITE_LIBRARIES)
        for p in _product_files()
        if imports_of(p) & SQLITE_LIBRARIES
    }
    assert offenders == {}


def test_the_checks_see_sql_and_sqlite_imports(tmp_path: Path) -> None:
    """The two checks above would fail on a file that held SQL or imported sqlite3."""
    sample = tmp_path / "sample.py"
    sample.write_text('import sqlite3\nQ = "SELECT id FROM memories"\n', encoding="utf-8")
    assert _sql_constants(sample) == [2] and imports_of(sample) & SQLITE_LIBRARIES == {"sqlite3"}


def _core_graph() -> dict[str, set[str]]:
    """core module → the core modules it imports (anywhere in the file, TYPE_CHECKING too).

    ``from pkg import x`` depends on the module ``pkg.x`` when there is one, else on ``pkg``."""
    paths = {
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__"): p
        for p in (REPO / "core").rglob("*.py")
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core"):
                found |= {
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in paths else node.module
                    for a in node.names
                }
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("core")}
        graph[name] = {d for d in found if d in paths and d != name}
    return graph


def test_core_has_no_import_circles() -> None:
    graph = _core_graph()
    circles: list[list[str]] = []

    def visit(node: str, trail: list[str], done: set[str]) -> None:
        for dep in sorted(graph[node]):
            if dep in trail:
                circles.append([*trail[trail.index(dep) :], dep])
            elif dep not in done:
                visit(dep, [*trail, dep], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], done)
    assert circles == []


def _core_submodule_imports(path: Path) -> list[str]:
    """``core.<module>`` names a file imports, ``from core import <module>`` included (``from
    core import X`` of a public name is the API)."""
    modules = {
        p.stem if p.name != "__init__.py" else p.parent.name
        for p in (REPO / "core").iterdir()
        if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and node.module.startswith("core.")
        ):
            found.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "core" and node.level == 0:
            found += [f"core.{a.name}" for a in node.names if a.name in modules]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("core.")]
    return found


def test_adapters_import_only_the_public_core() -> None:
    offenders = {
        str(p.relative_to(REPO)): _core_submodule_imports(p)
        for package in ADAPTERS
        for p in (REPO / package).rglob("*.py")
        if _core_submodule_imports(p)
    }
    assert offenders == {}


def test_the_adapter_check_sees_a_submodule_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from core import Memory\nfrom core.graph import show\nimport core.search\n"
        "from core import storage, graph\n",
        encoding="utf-8",
    )
    assert sorted(_core_submodule_imports(sample)) == [
        "core.graph",
        "core.graph",
        "core.search",
        "core.storage",
    ]


def test_the_public_names_are_listed_and_load() -> None:
    import core

    assert set(core.__all__) == {"__version__", *core._EXPORTS}
    for name in core.__all__:
        assert getattr(core, name) is not None, name


def test_the_cli_imports_its_own_modules_relatively() -> None:
    # cli/ is installed as the package `devmem_cli` (pyproject.toml): `from cli.x import …`
    # works in the repository but fails in the installed wheel, where no `cli` exists.
    offenders = [
        str(p.relative_to(REPO)) for p in (REPO / "cli").rglob("*.py") if "cli" in imports_of(p)
    ]
    assert offenders == []
