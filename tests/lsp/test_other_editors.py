"""Editors other than VS Code: memories open as markdown files, and an editor that cannot
show a choice (Helix has no `window/showMessageRequest`) gets one page of results."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.uris import to_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.lsp.conftest import SERVER_COMMAND, SERVER_ENV, as_dict, make_repo, rng, uri_of

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.slow,
]  # end to end: not in `make test-fast`

CONFIG = ClientServerConfig(server_command=SERVER_COMMAND, server_env=SERVER_ENV)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("ws"))


async def start(
    client: LanguageClient, repo: Path, capabilities: types.ClientCapabilities, name: str, db: str
) -> None:
    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def pick_first(params: types.ShowMessageRequestParams) -> types.MessageActionItem | None:
        return params.actions[0] if params.actions else None

    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            client_info=types.ClientInfo(name=name),
            root_uri=uri_of(repo),
            workspace_folders=[types.WorkspaceFolder(uri=uri_of(repo), name="shop")],
            initialization_options={"devmemory": {"database": {"path": str(repo.parent / db)}}},
        )
    )
    path = repo / "src" / "billing.py"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri_of(path), language_id="python", version=1, text=path.read_text()
            )
        )
    )


@pytest_lsp.fixture(scope="module", config=CONFIG)
async def neovim(lsp_client: LanguageClient, repo: Path):
    # Neovim's `settings` answer workspace/configuration; `init_options` nest like Helix's.
    lsp_client.set_configuration({"devmemory": {"codeLens": {"enabled": True}}})
    await start(lsp_client, repo, client_capabilities("neovim"), "Neovim", "nvim.db")
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(scope="module", config=CONFIG)
async def helix(lsp_client: LanguageClient, repo: Path):
    caps = types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(configuration=True),
    )
    await start(lsp_client, repo, caps, "helix", "helix.db")
    yield
    await lsp_client.shutdown_session()


async def execute(client: LanguageClient, command: str, args: Any) -> Any:
    return as_dict(
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[args])
        )
    )


async def wait_shown(client: LanguageClient, count: int) -> list[types.ShowDocumentParams]:
    for _ in range(100):
        if len(client.shown_documents) > count:
            break
        await asyncio.sleep(0.05)
    return client.shown_documents[count:]


async def test_neovim_opens_a_picked_memory_as_a_markdown_file(
    neovim: LanguageClient, repo: Path
) -> None:
    uri = uri_of(repo / "src" / "billing.py")
    made = await execute(
        neovim,
        "devmem.remember",
        {
            "content": "Discounts stack before the cap; the cap applies to the sum.",
            "title": "Stacked discounts",
            "kind": "decision",
            "uri": uri,
            "range": rng(6, 0, 8, 0),
        },
    )
    lenses = await neovim.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert [
        (lens.range.start.line, lens.command.title) for lens in lenses or [] if lens.command
    ] == [(5, "1 memory")]
    before = len(neovim.shown_documents)
    await execute(
        neovim, "devmem.memoriesForFile", {"uri": uri, "symbol": "apply_discount", "show": True}
    )
    shown = await wait_shown(neovim, before)
    assert (
        shown and shown[0].uri.startswith("file://") and shown[0].uri.endswith(f"{made['id']}.md")
    )
    text = Path(to_fs_path(shown[0].uri) or "").read_text()
    assert (
        text.startswith("# Stacked discounts")
        and "| anchor | src/billing.py:7 (apply_discount) |" in text
    )


async def test_helix_gets_one_page_listing_the_results(helix: LanguageClient, repo: Path) -> None:
    await execute(
        helix,
        "devmem.remember",
        {
            "content": "Refunds are capped at the paid amount since the 2023 incident.",
            "title": "Refund cap",
            "kind": "bugfix",
        },
    )
    before = len(helix.shown_documents)
    result = await execute(
        helix, "devmem.search", {"query": "refund cap paid amount", "show": True}
    )
    assert result["hits"]
    shown = await wait_shown(helix, before)
    assert shown and shown[0].uri.endswith("results.md")
    page = Path(to_fs_path(shown[0].uri) or "").read_text()
    assert (
        page.startswith("# DevMemory: memories about")
        and "**[bugfix]** [Refund cap](file://" in page
    )
