"""A damaged store gives the storage's clear error through the language server too (the
same words as through MCP and the CLI: one translation, in core.storage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import MemoryInput, MemoryService
from core.embeddings import UnavailableEmbedder
from tests.reliability.helpers import DEVMEM_LSP, RawLsp, RpcError, git_repo, server_env

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


async def test_a_damaged_store_is_a_clear_command_error(tmp_path: Path, model_cache: Path) -> None:
    db = tmp_path / "memories.db"
    _damaged_store(db)
    env = {**server_env(db, model_cache, DEVMEM_LOG="INFO"), "DEVMEM_EMBEDDINGS": "0"}
    lsp = await RawLsp.spawn([DEVMEM_LSP, "--poll", "0"], env, tmp_path / "lsp.log")
    try:
        await lsp.initialize(
            git_repo(tmp_path / "shop", {"billing.py": "def refund(order):\n    pass\n"})
        )
        for command, args in (
            ("devmem.search", {"query": "deploy"}),
            ("devmem.remember", {"content": "a new note", "title": "note"}),
        ):
            with pytest.raises(RpcError) as failed:
                await lsp.command(command, args, timeout=60)
            assert "damaged" in failed.value.message and "Traceback" not in failed.value.message, (
                command,
                failed.value.message,
            )
        assert "Traceback" not in (tmp_path / "lsp.log").read_text(errors="replace")
    finally:
        if lsp.alive:
            lsp.proc.kill()
            await lsp.proc.wait()
