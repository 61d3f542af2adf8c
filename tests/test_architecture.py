"""Layer boundaries: core never imports an adapter or a connector; no SQL outside core."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ADAPTERS = ("mcp_server", "lsp_server", "cli", "connectors")
SQL = re.compile(r"\b(SELECT\s+.+\s+FROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+TABLE)\b", re.I)


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
    offenders = {str(p.relative_to(REPO)): sorted(imports_of(p) & set(ADAPTERS))
                 for p in (REPO / "core").rglob("*.py") if imports_of(p) & set(ADAPTERS)}
    assert offenders == {}


def test_no_sql_outside_core() -> None:
    offenders = []
    for package in ADAPTERS:
        for path in (REPO / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
