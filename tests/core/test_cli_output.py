"""`devmem search` and `devmem list` read well at 80 and 120 columns (piped output, as in a
pager or an 80-column terminal): no line wider than the terminal, short ids that every
command accepts, no text shown twice, commit hits with their sha and date, and `--json`
keeping full ids and its shape."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: the real console script in subprocesses

DEVMEM = str(Path(sys.executable).parent / "devmem")
SUBJECT = "Retry uploads three times when the storage gateway answers 503 during deploys"
UNTITLED = "Uploads to the artifact bucket fail with 503 while the gateway restarts after deploys"


def devmem(env: dict[str, str], *args: str, cwd: Path | None = None, code: int = 0) -> str:
    proc = subprocess.run(
        [DEVMEM, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == code, proc.stderr + proc.stdout
    return proc.stdout + proc.stderr


def _git(repo: Path, *args: str) -> str:
    who = ["-c", "user.name=Ada", "-c", "user.email=ada@example.org"]
    return subprocess.run(
        ["git", *who, *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> dict[str, object]:
    root = tmp_path_factory.mktemp("output")
    env = {**os.environ, "DEVMEM_DB": str(root / "m.db"), "DEVMEM_CACHE_DIR": str(model_cache)}
    repo = root / "shop"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "upload.py").write_text("def upload(path):\n    return send(path)\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", SUBJECT)
    sha = _git(repo, "rev-parse", "HEAD").strip()
    date = _git(repo, "log", "-1", "--format=%cs").strip()
    devmem(env, "sync", "git", str(repo))
    devmem(env, "add", UNTITLED, "--kind", "bugfix", "--project", "shop")
    devmem(
        env,
        "add",
        "Keep the upload retry budget under the gateway timeout",
        "--title",
        "Upload retry budget",
        "--kind",
        "decision",
        "--tags",
        "uploads",
    )
    return {"env": env, "sha": sha, "date": date}


def _env(store: dict[str, object], columns: int) -> dict[str, str]:
    env = dict(store["env"])  # type: ignore[call-overload]
    return {**env, "COLUMNS": str(columns)}


def _column(out: str, index: int) -> str:
    """One column's text, its wrapped lines joined (rows start with │)."""
    cells = [line.split("│")[index] for line in out.splitlines() if line.startswith("│")]
    return " ".join(" ".join(cells).split())


def _full_ids(text: str) -> list[str]:
    return re.findall(r"\b[0-9A-HJKMNP-TV-Z]{26}\b", text)


@pytest.mark.parametrize("columns", [80, 120])
def test_search_fits_shows_short_ids_commit_sha_and_date_and_no_text_twice(
    store: dict[str, object], columns: int
) -> None:
    out = devmem(_env(store, columns), "search", "upload retry 503 gateway")
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    assert _full_ids(out) == []  # ids are short…
    ids = re.findall(r"^│ ([0-9A-Z]{10,}) ", out, re.M)
    assert len(ids) == 3 and all(len(i) == 10 for i in ids)
    assert str(store["sha"])[:10] in out and str(store["date"]) in out  # the commit hit
    flat = _column(out, 3)  # the memory column
    assert flat.count("artifact bucket") == 1  # the untitled memory's text, once
    assert flat.count("storage gateway answers") == 1  # the commit subject, once
    assert not re.search(r"\b\w{1,5}… ", flat)  # no column squeezed to `word…`


@pytest.mark.parametrize("columns", [80, 120])
def test_list_keeps_titles_readable_and_ids_usable(store: dict[str, object], columns: int) -> None:
    env = _env(store, columns)
    out = devmem(env, "list")
    assert max(len(line) for line in out.splitlines()) <= columns
    assert _full_ids(out) == []
    flat = _column(out, 3)  # the title column
    assert "Upload retry budget" in flat and "storage gateway answers 503" in flat
    short = re.findall(r"^│ ([0-9A-Z]{10,}) ", out, re.M)
    shown = devmem(env, "show", short[0], "--json")
    assert json.loads(shown)["memory"]["id"].startswith(short[0])  # a short id is accepted


def test_json_keeps_full_ids_and_an_ambiguous_prefix_is_refused(store: dict[str, object]) -> None:
    env = _env(store, 80)
    found = json.loads(devmem(env, "search", "upload retry", "--json"))
    ids = [h["memory"]["id"] for h in found["hits"]]
    assert ids and all(len(i) == 26 for i in ids)
    assert set(found["hits"][0]) >= {"memory", "score", "why", "snippet", "matched"}
    common = os.path.commonprefix(ids)
    if len(common) >= 4:  # made within one run: they share their first characters
        refused = devmem(env, "show", common, code=2)
        assert "matches more than one memory" in refused and "more characters" in refused
