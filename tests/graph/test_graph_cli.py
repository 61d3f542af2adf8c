"""`devmem graph …` through the real console script, against a store seeded in-process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.models import MemoryInput
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

DEVMEM = str(Path(sys.executable).parent / "devmem")


def run(env: dict[str, str], *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([DEVMEM, *args], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr + proc.stdout
    return proc


@pytest.fixture
def seeded(svc: MemoryService, cli_env: dict[str, str]) -> dict[str, str]:
    ids = [
        svc.remember(MemoryInput(text)).memory.id
        for text in (
            "Helm charts deploy the API to Kubernetes",
            "Kubernetes jobs read the queue from Postgres",
            "Postgres notifies Redis subscribers about new invoices",
        )
    ]
    return {**cli_env, "DEVMEM_EMBEDDINGS": "0", "LAST_ID": ids[-1]}


def test_show_json_and_table(seeded: dict[str, str]) -> None:
    view = json.loads(run(seeded, "graph", "show", "k8s", "--json").stdout)
    assert view["entity"]["display"] == "Kubernetes" and view["entity"]["memory_count"] == 2
    assert {n["entity"]["display"] for n in view["neighbours"]} >= {"Helm", "PostgreSQL"}
    assert [m["title"] for m in view["memories"]][
        0
    ] == "Kubernetes jobs read the queue from Postgres"
    table = run(seeded, "graph", "show", "postgres").stdout
    assert "PostgreSQL" in table and "Strongest relations" in table
    assert seeded["LAST_ID"][:10] in table and seeded["LAST_ID"] not in table  # a short id


def test_unknown_entity_exits_1_with_suggestions(seeded: dict[str, str]) -> None:
    proc = run(seeded, "graph", "show", "kubernets", code=1)
    assert (
        "No entity" in proc.stderr
        and "Kubernetes" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_path(seeded: dict[str, str]) -> None:
    steps = json.loads(run(seeded, "graph", "path", "helm", "redis", "--json").stdout)
    assert [s["entity"]["display"] for s in steps] == ["Helm", "Kubernetes", "PostgreSQL", "Redis"]
    text = run(seeded, "graph", "path", "helm", "redis").stdout
    assert "Helm" in text and "co_occurs" in text and "Redis" in text


def test_rebuild_and_stats(seeded: dict[str, str]) -> None:
    before = json.loads(run(seeded, "graph", "stats", "--json").stdout)
    rebuilt = json.loads(run(seeded, "graph", "rebuild", "--json").stdout)
    assert rebuilt["memories"] == 3 and rebuilt["entities"] == before["entities"]
    after = json.loads(run(seeded, "graph", "stats", "--json").stdout)
    assert after == before and after["entities_by_type"]["technology"] == 4
    assert "Most mentioned" in run(seeded, "graph", "stats").stdout
    assert "rebuilt the graph of 3 memories" in run(seeded, "graph", "rebuild").stdout


def test_html_both_spellings(seeded: dict[str, str], tmp_path: Path) -> None:
    view = json.loads(run(seeded, "graph", "show", "k8s", "--json").stdout)
    near = {n["entity"]["name"] for n in view["neighbours"]}  # Helm, PostgreSQL
    issue_spelling = tmp_path / "around.html"
    out = run(
        seeded, "graph", "--html", str(issue_spelling), "--entity", "k8s", "--depth", "1"
    ).stdout
    assert f"{1 + len(near)} entities" in out and "around Kubernetes" in out
    page = issue_spelling.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<script src" not in page and "<link" not in page
    sub = tmp_path / "all.html"
    assert (
        "entities" in run(seeded, "graph", "html", str(sub)).stdout and sub.stat().st_size > 10_000
    )
    proc = run(seeded, "graph", "--html", str(sub), "stats", code=2)
    assert "leave out the subcommand" in proc.stderr
    proc = run(seeded, "graph", "html", str(tmp_path / "missing" / "x.html"), code=2)
    assert "Cannot write" in proc.stderr


def test_graph_alone_prints_help(seeded: dict[str, str]) -> None:
    out = run(seeded, "graph").stdout
    assert "rebuild" in out and "--html" in out
