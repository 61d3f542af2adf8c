"""The `devmem` command line through its real entry point (a subprocess, as a user runs it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

DEVMEM = str(Path(sys.executable).parent / "devmem")


def run(
    env: dict[str, str], *args: str, stdin: str | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [DEVMEM, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120
    )
    if ok:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def test_add_search_show_edit_forget(cli_env: dict[str, str], tmp_path: Path) -> None:
    added = json.loads(
        run(
            cli_env,
            "add",
            "We pin numpy below 2 because pandas 1.5 breaks",
            "--kind",
            "decision",
            "--tags",
            "deps,python",
            "--project",
            "demo",
            "--json",
        ).stdout
    )
    mid = added["memory"]["id"]
    assert added["status"] == "created" and added["memory"]["tags"] == ["deps", "python"]
    piped = json.loads(
        run(
            cli_env,
            "add",
            "--title",
            "From stdin",
            "--json",
            stdin="Redis evicts keys with allkeys-lru",
        ).stdout
    )
    assert piped["memory"]["title"] == "From stdin"

    found = json.loads(run(cli_env, "search", "why is numpy pinned", "--json").stdout)
    assert found["hits"][0]["memory"]["id"] == mid and found["mode"] == "hybrid"
    table = run(cli_env, "search", "numpy", "--kind", "decision").stdout
    assert mid[:10] in table and mid not in table  # the short id (every command takes it)

    shown = json.loads(run(cli_env, "show", mid, "--json").stdout)
    assert shown["memory"]["content"].startswith("We pin numpy")
    run(cli_env, "edit", mid, "--text", "We pin numpy below 2 until pandas 2 lands")
    versions = json.loads(run(cli_env, "show", mid, "--versions", "--json").stdout)["versions"]
    assert [v["version"] for v in versions] == [1, 2]

    listed = json.loads(run(cli_env, "list", "--json").stdout)
    assert listed["total"] == 2
    stats = json.loads(run(cli_env, "stats", "--json").stdout)
    assert stats["memories"] == 2 and stats["by_kind"]["decision"] == 1

    assert "forgot" in run(cli_env, "forget", mid, "--yes").stdout
    missing = run(cli_env, "show", mid, ok=False)
    assert missing.returncode == 1 and "No memory has the id" in missing.stderr


def test_errors_are_one_clear_line(cli_env: dict[str, str]) -> None:
    big = run(cli_env, "add", "-", stdin="x" * 600_000, ok=False)
    assert big.returncode == 2 and "the limit is 524,288 bytes" in big.stderr
    assert "Traceback" not in big.stderr
    bad = run(cli_env, "search", "x", "--mode", "psychic", ok=False)
    assert bad.returncode == 2 and "mode 'psychic'" in bad.stderr


def test_secret_is_redacted_and_reported(cli_env: dict[str, str]) -> None:
    key = "AKIA" + "Q3EGRT7K2ZPLWX5M"
    out = run(cli_env, "add", f"deploy with aws key {key} on prod").stdout
    assert "redacted before storage" in out
    exported = run(cli_env, "export").stdout
    assert key not in exported and "[REDACTED:" in exported


def test_export_import_round_trip(cli_env: dict[str, str], tmp_path: Path) -> None:
    run(cli_env, "add", "first memory about caching", "--tags", "a")
    run(cli_env, "add", "second memory about queues", "--kind", "bugfix")
    dump = tmp_path / "dump.jsonl"
    run(cli_env, "export", str(dump))
    folder = tmp_path / "md"
    run(cli_env, "export", "--markdown", str(folder))
    other = dict(cli_env, DEVMEM_DB=str(tmp_path / "other.db"))
    assert "imported 2" in run(other, "import", str(dump)).stdout
    assert "imported 0, already present 2" in run(other, "import", "--markdown", str(folder)).stdout
    again = [json.loads(line) for line in run(other, "export").stdout.splitlines()]
    original = [json.loads(line) for line in dump.read_text().splitlines()]
    assert again == original


def test_doctor_on_a_fresh_install_says_model_and_vec_work(cli_env: dict[str, str]) -> None:
    out = run(cli_env, "doctor", "--check").stdout
    assert "✓ sqlite-vec" in out and "✓ embedding model" in out and "All good" in out
    report = json.loads(run(cli_env, "doctor", "--json").stdout)
    assert report["checks"][1]["detail"].startswith(
        "fastembed:sentence-transformers/all-MiniLM-L6-v2"
    )


def test_reindex_and_backup(cli_env: dict[str, str], tmp_path: Path) -> None:
    run(cli_env, "add", "memory to re-embed")
    assert "embedded 1 memories" in run(cli_env, "reindex").stdout
    assert "backup written" in run(cli_env, "backup", str(tmp_path / "b.db")).stdout
    assert (tmp_path / "b.db").stat().st_size > 0


def test_help_and_version(cli_env: dict[str, str]) -> None:
    assert "devmem 0.1.0" in run(cli_env, "--version").stdout
    help_text = run(cli_env, "--help").stdout
    for command in (
        "add",
        "search",
        "show",
        "list",
        "edit",
        "forget",
        "link",
        "stats",
        "doctor",
        "export",
        "import",
        "reindex",
        "backup",
        "sync",
    ):
        assert command in help_text
