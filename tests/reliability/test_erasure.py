"""Deleting means erased: after `forget` (CLI, MCP or a connector's deletion) the memory's
text is in no byte of the database file or its WAL, FTS5 index included (issue 20, D1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.models import MemoryInput
from tests.reliability.helpers import cli, opened

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

MARKER = "qzxvplonk"  # one distinctive word: porter stemming leaves it whole


def _store_bytes(db: Path) -> bytes:
    """Every byte SQLite keeps for ``db``: the file, its WAL and its shared-memory index."""
    return b"".join(
        p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()
    )


def _fill(env: dict[str, str], n: int = 30) -> None:
    for i in range(n):  # neighbours that stay: the page the forgotten row lives on is shared
        assert cli(env, "add", f"Neighbour {i}: the cache keeps {i} entries warm.").returncode == 0


def test_cli_forget_erases_the_text_from_the_file_and_the_fts_index(text_env):
    db = Path(text_env["DEVMEM_DB"])
    _fill(text_env)
    added = cli(
        text_env,
        "add",
        f"The staging password policy {MARKER} rotates weekly",
        "--tags",
        "secretish",
        "--json",
    )
    assert added.returncode == 0, added.stderr
    memory_id = json.loads(added.stdout)["memory"]["id"]
    assert MARKER.encode() in _store_bytes(db)
    gone = cli(text_env, "forget", memory_id, "-y")
    assert gone.returncode == 0, gone.stderr
    assert MARKER.encode() not in _store_bytes(db)
    with opened(db) as svc:  # the neighbours are intact and still found
        assert svc.store.count() == 30
        assert len(svc.recall("cache entries warm", mode="text", limit=50).hits) == 30


def test_forget_erases_every_version_and_a_sync_deletion_too(tmp_path):
    db = tmp_path / "memories.db"
    with opened(db) as svc:
        for i in range(20):
            svc.remember(MemoryInput(content=f"Neighbour {i}: builds are cached for {i} hours."))
        first = svc.remember(MemoryInput(content=f"Draft one {MARKER}alpha"))
        from core.models import MemoryPatch

        svc.update(first.memory.id, MemoryPatch(content=f"Draft two {MARKER}beta"))
        svc.sync_batch(
            [
                MemoryInput(
                    content=f"Imported {MARKER}gamma", source="markdown", external_id="notes/a.md"
                )
            ]
        )
        svc.forget(first.memory.id)
        svc.sync_batch([], deletions=[("markdown", "notes/a.md")])
    data = _store_bytes(db)
    for word in ("alpha", "beta", "gamma"):
        assert f"{MARKER}{word}".encode() not in data, word
