"""The LSP relay outlives its engine: after `kill -9` of the engine an editor's session goes
on in a new one, with its open documents as they are now (edited, never saved), and what
was in flight when the engine died is answered with an error instead of hanging.

A real editor's side (pytest-lsp, VS Code's capabilities) drives the real `devmem-lsp`
relay, which starts a real engine on demand in this module's own runtime folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcRequestCancelled
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.engine.conftest import status, stop_engine, wait_gone
from tests.lsp.conftest import BILLING, SERVER, make_repo, rng, uri_of
from tests.reliability.helpers import DEVMEM

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

ROOT = Path(tempfile.mkdtemp(prefix="devmem-relay-"))
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("DEVMEM_", "PYTEST_"))}
ENV.update(
    DEVMEM_ENGINE="on",
    DEVMEM_RUNTIME_DIR=str(ROOT / "run"),
    DEVMEM_DB=str(ROOT / "memories.db"),
    DEVMEM_CACHE_DIR=str(Path(tempfile.gettempdir()) / "devmem-lsp-tests-cache"),
    HF_HUB_OFFLINE="1",
)
CONFIG = ClientServerConfig(server_command=[SERVER, "--poll", "0.3"], server_env=ENV)
REFUND_LINE = BILLING.splitlines().index("def refund(order, amount):")


@pytest.fixture(scope="module")
def repo() -> Path:
    yield make_repo(ROOT)
    stop_engine(ENV)
    shutil.rmtree(ROOT, ignore_errors=True)


@pytest_lsp.fixture(scope="module", config=CONFIG)
async def client(lsp_client: LanguageClient, repo: Path):
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=uri_of(repo),
            workspace_folders=[types.WorkspaceFolder(uri=uri_of(repo), name="shop")],
            initialization_options={"diagnostics": {"enabled": False}},
        )
    )
    yield
    await lsp_client.shutdown_session()


def _kill_engine(sig: int = signal.SIGKILL) -> int:
    info = status(ENV)
    assert info is not None, "no engine runs"
    os.kill(int(info["pid"]), sig)
    return int(info["pid"])


async def _command(client: LanguageClient, name: str, args: dict) -> dict:
    result = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=[args])
    )
    return result if isinstance(result, dict) else vars(result)


async def test_edited_documents_survive_the_engine(client: LanguageClient, repo: Path) -> None:
    uri = uri_of(repo / "src" / "billing.py")
    item = types.TextDocumentItem(uri=uri, language_id="python", version=1, text=BILLING)
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=item))
    # Two incremental edits in one change, never saved: `refund` becomes `settle_refund`,
    # and a line is added to its body.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=rng(REFUND_LINE, 4, REFUND_LINE, 10), text="settle_refund"
                ),
                types.TextDocumentContentChangePartial(
                    range=rng(REFUND_LINE + 1, 0, REFUND_LINE + 1, 0),
                    text="    # 🚀 refunds are settled the same day\n",
                ),
            ],
        )
    )
    first = await _command(client, "devmem.recent", {"limit": 1})  # the engine has it all
    assert first == {"hits": []}
    killed = _kill_engine()
    assert wait_gone(killed)

    # The next request starts a new engine, which gets the session and the edited text:
    # the function exists only in the editor's buffer, under its new name.
    made = await _command(
        client,
        "devmem.remember",
        {
            "content": "Refunds are settled the same day, never batched overnight.",
            "title": "Same-day refunds",
            "kind": "decision",
            "uri": uri,
            "range": rng(REFUND_LINE + 1, 0, REFUND_LINE + 3, 10),
        },
    )
    assert made["status"] == "created"
    info = status(ENV)
    assert info is not None and int(info["pid"]) != killed and info["clients"] == {"lsp": 1}

    found = await _command(
        client, "devmem.memoriesForFile", {"uri": uri, "symbol": "settle_refund"}
    )
    assert [h["id"] for h in found["hits"]] == [made["id"]]
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=REFUND_LINE + 3, character=8),
        )
    )
    assert hover is not None and "Same-day refunds" in hover.contents.value  # type: ignore[union-attr]
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert REFUND_LINE in {lens.range.start.line for lens in lenses or []}


async def test_a_request_in_flight_gets_an_error_and_the_next_one_an_answer(
    client: LanguageClient, repo: Path
) -> None:
    uri = uri_of(repo / "src" / "billing.py")
    pid = _kill_engine(signal.SIGSTOP)  # it cannot answer: the request is surely in flight
    try:
        pending = asyncio.ensure_future(
            _command(client, "devmem.search", {"query": "same-day refunds", "uri": uri})
        )
        await asyncio.sleep(0.5)
        assert not pending.done()
    finally:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(pending, 30)
    again = await _command(client, "devmem.search", {"query": "same-day refunds", "uri": uri})
    assert again["hits"] and again["hits"][0]["title"] == "Same-day refunds"


def _vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def test_status_and_doctor_show_the_new_engines_memory(client: LanguageClient) -> None:
    """`devmem serve status` and `devmem doctor` report the engine that took over, with its
    resident memory as the kernel counts it."""
    out = subprocess.run(
        [DEVMEM, "serve", "status", "--json"], env=ENV, capture_output=True, text=True, check=True
    )
    info = json.loads(out.stdout)
    kernel = _vm_rss_mb(int(info["pid"]))
    assert info["clients"] == {"lsp": 1}
    assert abs(info["rss_mb"] - kernel) <= 0.1 * kernel  # (it moves a little between reads)
    doctor = subprocess.run(
        [DEVMEM, "doctor"], env=ENV, capture_output=True, text=True, timeout=120, check=False
    )
    assert f"pid {info['pid']}" in doctor.stdout
    shown = re.search(r"RSS (\d+) MB", doctor.stdout)
    assert shown is not None and abs(int(shown.group(1)) - kernel) <= 0.1 * kernel
