"""Kill a sync half-way (SIGKILL, in a real subprocess), run it again: the final state is the
one a single clean run gives — same external ids, same contents and counts, no duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connectors.base import SyncContext
from connectors.console import ConsoleConnector
from connectors.git import GitConnector
from connectors.markdown import MarkdownConnector
from core.embeddings import UnavailableEmbedder
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

REPO_ROOT = Path(__file__).resolve().parents[2]
BATCH = 5
CHILD = """
import sys
from pathlib import Path
from core.embeddings import FastEmbedEmbedder
from core.service import MemoryService
from connectors.base import SyncContext
from connectors.console import ConsoleConnector
from connectors.git import GitConnector
from connectors.markdown import MarkdownConnector

kind, target, db, cache, batch = sys.argv[1:6]
embedder = FastEmbedEmbedder(Path(cache)).start()
assert embedder.wait(120), embedder.failure()
svc = MemoryService.open(db, embedder)
make = {"git": lambda: GitConnector(Path(target), batch_size=int(batch)),
        "markdown": lambda: MarkdownConnector(Path(target), batch_size=int(batch)),
        "console": lambda: ConsoleConnector([Path(target)], project="p", batch_size=int(batch))}
connector = make[kind]()
print("ready", flush=True)
connector.sync(SyncContext(svc, connector.name))
print("finished", flush=True)
"""


def connector_for(kind: str, target: Path):
    return {
        "git": lambda: GitConnector(target, batch_size=BATCH),
        "markdown": lambda: MarkdownConnector(target, batch_size=BATCH),
        "console": lambda: ConsoleConnector([target], project="p", batch_size=BATCH),
    }[kind]()


def build_source(kind: str, tmp_path: Path, make_repo) -> tuple[Path, int]:
    """A source of 40 items and the number of memories a clean run makes of it."""
    if kind == "git":
        repo = make_repo("history")
        for i in range(40):
            repo.write(f"src/mod_{i % 7}.py", f"def handler_{i}(x):\n    return x + {i}\n")
            repo.commit(f"Change handler {i} for case {i}")
        return repo.path, 40
    if kind == "markdown":
        vault = tmp_path / "vault"
        vault.mkdir()
        for i in range(40):
            (vault / f"note-{i:02d}.md").write_text(
                f"# Note {i}\n\nAbout topic {i}. See [[note-{(i + 1) % 40:02d}]].\n"
            )
        return vault, 40
    capture = tmp_path / "capture.jsonl"
    lines = [
        json.dumps(
            {
                "timestamp": 1_715_600_000 + n,
                "level": "error",
                "message": f"Error kind {word} in module {n}",
                "stack": f"    at fn_{word} (https://x/app.js:1:{n})",
            }
        )
        for n in range(2_000)
        for word in [
            (
                "alpha bravo charlie delta echo foxtrot golf hotel "
                "india juliet kilo lima mike november oscar papa "
                "quebec romeo sierra tango uniform victor whiskey "
                "xray yankee zulu one two three four five six seven "
                "eight nine ten eleven twelve thirteen fourteen"
            ).split()[n % 40]
        ]
    ]
    capture.write_text("\n".join(lines) + "\n")
    return capture, 40


def final_state(svc: MemoryService, source: str) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """external id → (title, content hash, linked external ids)."""
    out = {}
    for ext_id in svc.external_ids(source):
        m = svc.find_external(source, ext_id)
        assert m is not None
        linked = tuple(
            sorted(
                svc.get(link.target_id).external_id or ""
                for link in svc.links(m.id)
                if link.source_id == m.id
            )
        )
        out[ext_id] = (m.title, m.content_hash, linked)
    return out


@pytest.mark.parametrize("kind", ["git", "markdown", "console"])
def test_killed_sync_resumes_to_the_same_state_as_a_clean_run(
    kind, tmp_path, make_repo, db_path, model_cache, svc
) -> None:
    source, total = build_source(kind, tmp_path, make_repo)
    name = kind  # the connector's name is its source
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            kind,
            str(source),
            str(db_path),
            str(model_cache / "models"),
            str(BATCH),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO_ROOT,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready", child.stderr.read() if child.stderr else ""
    deadline = time.monotonic() + 120
    while not svc.external_ids(name):  # the first batch has committed
        assert child.poll() is None and time.monotonic() < deadline, (
            "the sync ended before the kill"
        )
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    partial = len(svc.external_ids(name))
    assert 0 < partial < total, partial

    resumed = connector_for(kind, source).sync(SyncContext(svc, name))
    assert resumed.added + partial == total
    assert connector_for(kind, source).sync(SyncContext(svc, name)).added == 0

    clean_svc = MemoryService.open(
        tmp_path / "clean.db", UnavailableEmbedder("not needed to compare")
    )
    try:
        clean = connector_for(kind, source).sync(SyncContext(clean_svc, name))
        assert clean.added == total
        assert final_state(svc, name) == final_state(clean_svc, name)
    finally:
        clean_svc.close()
    stats = svc.stats()
    assert stats["memories"] == total and stats["vectors"] == total  # every memory embedded once
