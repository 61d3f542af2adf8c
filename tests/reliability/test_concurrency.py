"""Concurrency: 2 MCP servers, 1 language server and `devmem sync` on one store at once.

A short run of the 60 s load of ``bench/stress.py`` (see tests/reliability/load.py): no
client sees "database is locked" or any other error, no acknowledged write is lost, and the
store passes `PRAGMA integrity_check` and `devmem doctor --check` afterwards.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.reliability.load import run_load

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

SECONDS = 12.0


async def test_four_processes_write_and_search_one_store_without_loss(tmp_path, env, figures):
    report = await asyncio.wait_for(run_load(tmp_path / "memories.db", env, tmp_path, SECONDS), 400)

    figures["concurrency"] = report.summary()
    print("\n".join(report.errors))
    assert report.locked == []
    assert report.errors == []
    assert report.lost == []
    assert report.problems == []
    assert report.doctor_rc == 0, report.doctor
    assert set(report.writes) == {"mcp-1", "mcp-2", "lsp", "sync"}
    assert all(n >= 3 for n in report.writes.values()), report.writes
    assert report.reads_verified >= 10 and report.hovers_with_memory >= 1
