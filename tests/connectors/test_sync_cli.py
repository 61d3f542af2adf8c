"""`devmem sync git|markdown|console` through the real console script, as a user runs it."""

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
EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "console" / "example.json"


def devmem(
    env: dict[str, str], *args: str, code: int = 0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [DEVMEM, *args], env=env, capture_output=True, text=True, timeout=180, cwd=cwd
    )
    assert proc.returncode == code, proc.stderr + proc.stdout
    return proc


def test_sync_git_twice_then_a_clear_error_outside_a_repository(
    repo, cli_env, tmp_path: Path
) -> None:
    repo.write("app.py", "def main():\n    return 1\n")
    repo.commit("Add main")
    repo.write("app.py", "def main():\n    return 2\n")
    repo.commit("Return 2 from main")
    first = json.loads(devmem(cli_env, "sync", "git", str(repo.path), "--json").stdout)
    assert (first["added"], first["skipped"], first["summary"]) == (
        2,
        [],
        "git: added 2, updated 0, deleted 0, unchanged 0, skipped 0",
    )
    again = devmem(cli_env, "sync", "git", cwd=repo.path)  # PATH defaults to the current folder
    assert again.stdout.strip() == "git: up to date"  # not a row of zeros

    outside = tmp_path / "plain"
    outside.mkdir()
    failed = devmem(cli_env, "sync", "git", str(outside), code=1)
    assert (
        f"not a git repository: {outside} — run inside a repository or pass its path"
        in failed.stderr
    )
    assert "Traceback" not in failed.stderr


def test_sync_markdown_dry_run_then_real(cli_env, tmp_path: Path) -> None:
    vault = tmp_path / "notes"
    vault.mkdir()
    (vault / "a.md").write_text("---\ntags: [x]\n---\nLinks to [[b]].\n")
    (vault / "b.md").write_text("Plain note.\n")
    (vault / "bad.md").write_bytes(b"\x00\x00binary")
    env = {**cli_env, "DEVMEM_EMBEDDINGS": "0"}
    dry = devmem(env, "sync", "markdown", str(vault), "--dry-run").stdout
    assert "markdown: would add 2" in dry and "skipped bad.md: binary file" in dry
    real = json.loads(
        devmem(env, "sync", "markdown", str(vault), "--project", "kb", "--json").stdout
    )
    assert real["added"] == 2 and real["skipped"][0].startswith("bad.md: binary file")


def test_sync_console_reports_groups_and_bad_files(cli_env, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    env = {**cli_env, "DEVMEM_EMBEDDINGS": "0"}
    out = devmem(env, "sync", "console", str(EXAMPLE), str(bad), "--project", "shop").stdout
    assert "console: added 3" in out
    assert f"skipped {bad}: malformed JSON at line 1, column 3" in out
    assert "note: " in out and "log/info/debug events left out" in out
    listed = json.loads(devmem(env, "list", "--kind", "log", "--json").stdout)
    assert listed["total"] == 3
