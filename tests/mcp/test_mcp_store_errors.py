"""A damaged store gives the storage's clear error through MCP too (one translation, in
core.storage, for every adapter), including the graph queries that reach the storage
without a service method."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_helpers import call_error, stdio_session

from core.embeddings import UnavailableEmbedder
from core.models import MemoryInput
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out


def _damaged_store(db: Path) -> None:
    svc = MemoryService.open(db, UnavailableEmbedder("test"))
    svc.remember(MemoryInput("We deploy the API with Kubernetes and Redis."))
    svc.close()
    data = bytearray(db.read_bytes())
    data[:100] = b"\xde\xad\xbe\xef" * 25  # the header: SQLite no longer knows the file
    db.write_bytes(bytes(data))


async def test_a_damaged_store_is_a_clear_tool_error(server_env: dict[str, str]) -> None:
    db = Path(server_env["DEVMEM_DB"])
    _damaged_store(db)
    env = {**server_env, "DEVMEM_EMBEDDINGS": "0"}
    async with stdio_session(env) as s:
        for tool, args in (
            ("recall", {"query": "deploy"}),
            ("graph", {"entity": "kubernetes"}),
            ("list_memories", {}),
        ):
            text = await call_error(s, tool, **args)
            assert "damaged" in text and "Traceback" not in text, (tool, text)


async def test_a_broken_graph_table_is_a_clear_tool_error(server_env: dict[str, str]) -> None:
    """The store opens, but a graph table is gone: the graph tool (which queries the storage
    directly) answers with the storage's error, not an internal one."""
    from tests import sqlite_backend

    svc = MemoryService.open(Path(server_env["DEVMEM_DB"]), UnavailableEmbedder("test"))
    svc.remember(MemoryInput("We deploy the API with Kubernetes and Redis."))
    with sqlite_backend.write(svc) as conn:
        conn.execute("DROP TABLE entity_aliases")
    svc.close()
    async with stdio_session({**server_env, "DEVMEM_EMBEDDINGS": "0"}) as s:
        text = await call_error(s, "graph", entity="kubernetes")
        assert "Database error" in text and "devmem doctor" in text and "Traceback" not in text, (
            text
        )
