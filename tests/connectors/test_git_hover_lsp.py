"""End to end: after `sync git`, hovering a function in the editor shows the commit that
changed it (the real `devmem-lsp` over stdio, driven as VS Code drives it)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from connectors.base import SyncContext
from connectors.git import GitConnector
from core.embeddings import FastEmbedEmbedder
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

WORK = Path(tempfile.mkdtemp(prefix="devmem-git-hover-"))
atexit.register(shutil.rmtree, WORK, ignore_errors=True)  # module-level: removed at exit
CONFIG = ClientServerConfig(
    server_command=[str(Path(sys.executable).with_name("devmem-lsp")), "--poll", "0.3"],
    server_env={
        **os.environ,
        "DEVMEM_DB": str(WORK / "unused.db"),
        "HF_HUB_OFFLINE": "1",
        "DEVMEM_CACHE_DIR": str(Path(tempfile.gettempdir()) / "devmem-lsp-tests-cache"),
    },
)
BILLING = '''"""Billing."""


def apply_discount(total, percent):
    return total * (1 - percent / 100)


def refund(order, amount):
    return order.paid - amount
'''


@pytest.fixture
def synced(repo, embedder: FastEmbedEmbedder) -> tuple[Path, Path]:
    """The repository `shop` with a fix to apply_discount, synced into a fresh store."""
    repo.write("billing.py", BILLING)
    repo.commit("Add billing")
    repo.write(
        "billing.py",
        BILLING.replace(
            "return total * (1 - percent / 100)",
            "percent = min(percent, 100)\n    return total * (1 - percent / 100)",
        ),
    )
    repo.commit("Cap discounts at 100 percent\n\nA 120% coupon produced negative totals.")
    db = WORK / f"{repo.path.parent.name}.db"
    svc = MemoryService.open(db, embedder)
    try:
        assert GitConnector(repo.path).sync(SyncContext(svc, "git")).added == 2
    finally:
        svc.close()
    return repo.path, db


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, synced: tuple[Path, Path]):
    root, db = synced
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=from_fs_path(str(root)),
            workspace_folders=[
                types.WorkspaceFolder(uri=from_fs_path(str(root)) or "", name="shop")
            ],
            initialization_options={
                "database": {"path": str(db)},
                "diagnostics": {"enabled": False},
            },
        )
    )
    yield
    await lsp_client.shutdown_session()


async def test_hover_on_a_function_shows_the_commit_that_changed_it(
    client: LanguageClient, synced
) -> None:
    root, _ = synced
    path = root / "billing.py"
    uri = from_fs_path(str(path)) or ""
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=path.read_text()
            )
        )
    )
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=3, character=6),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "Cap discounts at 100 percent" in hover.contents.value
    other = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=8, character=6),
        )
    )
    assert other is None or "Cap discounts" not in other.contents.value  # type: ignore[union-attr]
