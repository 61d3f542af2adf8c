"""End to end: the real `devmem-lsp` over stdio, driven with VS Code's client capabilities.

One server per module (starting it and loading the embedding model costs seconds); each
test anchors its own memories to its own function so that the tests stay independent.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any, Union

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from core.embeddings import UnavailableEmbedder
from core.models import CodeAnchor, MemoryInput
from core.service import MemoryService
from tests.lsp.conftest import (
    ORDERS,
    SERVER,
    SERVER_COMMAND,
    SERVER_ENV,
    as_dict,
    head,
    make_repo,
    rng,
    uri_of,
)

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.slow,
]  # end to end: not in `make test-fast`

CONFIG = ClientServerConfig(server_command=SERVER_COMMAND, server_env=SERVER_ENV)


class Seen:
    """What the server sent the client besides answers."""

    def __init__(self) -> None:
        self.changed = 0
        self.lens_refreshes = 0
        self.message_requests: list[types.ShowMessageRequestParams] = []
        self.answer: int | None = 0  # index of the action the "user" picks (None: dismiss)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("ws"))


@pytest.fixture(scope="module")
def db(repo: Path) -> Path:
    return repo.parent / "memories.db"


@pytest.fixture(scope="module")
def seen() -> Seen:
    return Seen()


@pytest_lsp.fixture(scope="module", config=CONFIG)
async def client(lsp_client: LanguageClient, repo: Path, db: Path, seen: Seen):
    @lsp_client.feature("devmem/memoriesChanged")
    def on_changed(params: Any) -> None:
        seen.changed += 1

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def on_lens_refresh(params: Any) -> None:
        seen.lens_refreshes += 1

    @lsp_client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def on_message_request(
        params: types.ShowMessageRequestParams,
    ) -> types.MessageActionItem | None:
        seen.message_requests.append(params)
        if seen.answer is None or not params.actions:
            return None
        return params.actions[min(seen.answer, len(params.actions) - 1)]

    _structure_code_actions_properly(lsp_client)
    lsp_client.set_configuration({"devmemory": {"relevanceFloor": 0.35}})
    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            client_info=types.ClientInfo(name="Visual Studio Code", version="1.99.0"),
            root_uri=uri_of(repo),
            workspace_folders=[types.WorkspaceFolder(uri=uri_of(repo), name="shop")],
            initialization_options={
                "database": {"path": str(db)},
                "diagnostics": {"enabled": False},
            },
        )
    )
    lsp_client.initialize_result = result  # type: ignore[attr-defined]
    for name in ("billing.py", "orders.py"):
        path = repo / "src" / name
        lsp_client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri_of(path), language_id="python", version=1, text=path.read_text()
                )
            )
        )
    yield
    await lsp_client.shutdown_session()


def _structure_code_actions_properly(client: LanguageClient) -> None:
    """lsprotocol reads any object with a ``command`` key as a Command, but a CodeAction
    may carry a command too (as ours do): tell them apart by the key's type, as VS Code,
    Neovim and Helix do."""
    converter = client.protocol._converter

    def hook(obj: Any, _: Any) -> types.Command | types.CodeAction:
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(types.Command | types.CodeAction, hook)
    converter.register_structure_hook(Union[types.Command, types.CodeAction], hook)  # noqa: UP007


def billing(repo: Path) -> str:
    return uri_of(repo / "src" / "billing.py")


async def execute(
    client: LanguageClient, command: str, args: Any = None, token: str | None = None
) -> Any:
    params = types.ExecuteCommandParams(
        command=command, arguments=[args] if args is not None else [], work_done_token=token
    )
    return as_dict(await client.workspace_execute_command_async(params))


async def hover_text(client: LanguageClient, uri: str, line: int, character: int) -> str | None:
    result = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=character),
        )
    )
    if result is None:
        return None
    assert isinstance(result.contents, types.MarkupContent)
    assert result.contents.kind == types.MarkupKind.Markdown
    return result.contents.value


async def actions(
    client: LanguageClient,
    uri: str,
    selection: types.Range,
    diagnostics: list[types.Diagnostic] | None = None,
) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=types.CodeActionContext(diagnostics=diagnostics or []),
        )
    )
    return [a for a in result or [] if isinstance(a, types.CodeAction)]


async def lenses(client: LanguageClient, uri: str) -> list[types.CodeLens]:
    return list(
        await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        or []
    )


async def run_action(client: LanguageClient, action: types.CodeAction) -> Any:
    assert action.command is not None
    return await execute(client, action.command.command, (action.command.arguments or [None])[0])


def store(db: Path) -> MemoryService:
    """Core opened directly, as another process (the CLI, the MCP server) would."""
    return MemoryService.open(db, UnavailableEmbedder("test process: text search only"))


async def eventually(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.1)


# ---- start-up ------------------------------------------------------------------------------
async def test_initialize_advertises_every_feature(client: LanguageClient) -> None:
    result: types.InitializeResult = client.initialize_result  # type: ignore[attr-defined]
    caps = result.capabilities
    assert result.server_info is not None and result.server_info.version == "0.1.0"
    assert caps.hover_provider and caps.code_action_provider and caps.code_lens_provider
    assert caps.workspace_symbol_provider
    assert caps.execute_command_provider is not None
    assert set(caps.execute_command_provider.commands) == {
        "devmem.remember",
        "devmem.search",
        "devmem.open",
        "devmem.forget",
        "devmem.reindex",
        "devmem.memoriesForFile",
        "devmem.recent",
        "devmem.link",
    }


@pytest.mark.asyncio(loop_scope="module")
async def test_version_flag() -> None:
    out = subprocess.run([SERVER, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "devmem-lsp 0.1.0"


@pytest.mark.asyncio(loop_scope="module")
async def test_initialize_answers_before_the_model_has_loaded(tmp_path: Path) -> None:
    """Raw JSON-RPC over stdio: `initialize` is answered in well under a second, and before
    the embedding model is ready (a cold model cache: it loads in the background)."""
    env = {
        **SERVER_ENV,
        "DEVMEM_DB": str(tmp_path / "m.db"),
        "DEVMEM_CACHE_DIR": str(tmp_path / "cache"),
    }
    proc = await asyncio.create_subprocess_exec(
        *SERVER_COMMAND,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    stderr: list[tuple[float, bytes]] = []
    ready = asyncio.Event()

    async def read_stderr() -> None:
        assert proc.stderr
        while line := await proc.stderr.readline():
            stderr.append((time.perf_counter(), line))
            if b"ready on stdio" in line:
                ready.set()

    reader = asyncio.ensure_future(read_stderr())
    await asyncio.wait_for(ready.wait(), 30)  # imports done: time the request, not start-up
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": None, "capabilities": {}},
        }
    ).encode()
    started = time.perf_counter()
    proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await proc.stdin.drain()
    header = await asyncio.wait_for(proc.stdout.readuntil(b"\r\n\r\n"), 10)
    answer = json.loads(await proc.stdout.readexactly(int(header.split(b":")[1].split(b"\r")[0])))
    answered = time.perf_counter()
    try:
        for _ in range(600):
            if any(b"embedding model ready" in line for _, line in stderr):
                break
            await asyncio.sleep(0.05)
    finally:
        proc.kill()
        await proc.wait()
        reader.cancel()
    assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "devmem-lsp"
    assert answered - started < 0.5, f"initialize took {answered - started:.3f}s"
    model_ready = [t for t, line in stderr if b"embedding model ready" in line]
    assert model_ready and model_ready[0] > answered


@pytest.mark.asyncio(loop_scope="module")
async def test_tcp_transport(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**SERVER_ENV, "DEVMEM_DB": str(tmp_path / "m.db")}
    proc = await asyncio.create_subprocess_exec(
        SERVER, "--tcp", "--port", str(port), env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stderr
        while b"listening on" not in await asyncio.wait_for(proc.stderr.readline(), 30):
            pass
        for _ in range(50):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "initialize",
                "params": {"processId": None, "rootUri": None, "capabilities": {}},
            }
        ).encode()
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        header = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        answer = json.loads(await reader.readexactly(int(header.split(b":")[1].split(b"\r")[0])))
        assert answer["id"] == 7 and answer["result"]["capabilities"]["hoverProvider"]
        writer.close()
    finally:
        proc.kill()
        await proc.wait()


# ---- remember + hover + lens ---------------------------------------------------------------
async def test_remember_action_anchors_to_path_lines_symbol_and_commit(
    client: LanguageClient, repo: Path, db: Path
) -> None:
    uri = billing(repo)
    found = await actions(client, uri, rng(6, 4, 8, 0))  # body of apply_discount (lines 7-8)
    titles = [a.title for a in found]
    for label in ("decision", "bug fix", "snippet", "note"):
        assert f"Remember selection as {label}" in titles
    assert "Find memories about this" in titles
    decision = next(a for a in found if a.title == "Remember selection as decision")
    assert decision.command is not None and decision.command.command == "devmem.remember"
    args = decision.command.arguments[0]
    assert args["kind"] == "decision" and args["uri"] == uri and "percent > 100" in args["content"]

    args["title"] = "Discounts above 100 percent are rejected, not clamped"
    created = await execute(client, "devmem.remember", args)
    assert created["status"] == "created" and created["kind"] == "decision"
    assert created["redactions"] == []

    svc = store(db)
    try:
        anchor = svc.get(created["id"]).anchor
    finally:
        svc.close()
    assert anchor is not None
    assert (anchor.path, anchor.start_line, anchor.end_line) == ("src/billing.py", 7, 8)
    assert anchor.symbol == "apply_discount"
    assert anchor.commit == head(repo)
    assert anchor.fingerprint and len(anchor.fingerprint) == 64


async def test_hover_shows_anchored_memory_and_nothing_on_unrelated_code(
    client: LanguageClient, repo: Path
) -> None:
    uri = billing(repo)
    await execute(
        client,
        "devmem.remember",
        {
            "content": "Totals are computed from line prices; tax is applied later by the checkout.",
            "title": "Invoice totals exclude tax",
            "kind": "decision",
            "uri": uri,
            "range": rng(22, 4, 23, 60),
        },
    )
    text = await hover_text(client, uri, 23, 22)  # `price` inside Invoice.total
    assert text is not None
    assert "**[decision]** Invoice totals exclude tax" in text
    assert "command:devmem.open?" in text
    assert text.count("**[") <= 3
    assert "Invoice totals exclude tax" in (await hover_text(client, uri, 2, 2) or "")  # TAX_RATE
    orders = uri_of(repo / "src" / "orders.py")
    assert await hover_text(client, orders, 3, 6) is None  # load_orders: nothing relevant
    assert await hover_text(client, uri, 5, 0) is None  # the `def` keyword


async def test_hover_on_a_known_entity_shows_its_neighbourhood(
    client: LanguageClient, repo: Path
) -> None:
    await execute(
        client,
        "devmem.remember",
        {
            "content": "We moved the ledger from MySQL to PostgreSQL 16 with pgvector in March.",
            "title": "Ledger runs on PostgreSQL",
            "kind": "decision",
        },
    )
    path = repo / "src" / "db.py"
    text = 'ENGINE = "postgresql"\n'
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri_of(path), language_id="python", version=1, text=text
            )
        )
    )
    shown = await hover_text(client, uri_of(path), 0, 12)
    assert shown is not None
    assert "**[decision]** Ledger runs on PostgreSQL" in shown
    assert "· technology ·" in shown and "related:" in shown


async def test_code_lens_counts_memories_and_lists_them(client: LanguageClient, repo: Path) -> None:
    uri = billing(repo)
    created = await execute(
        client,
        "devmem.remember",
        {
            "content": "Refund validation happens before the payment provider is called.",
            "kind": "note",
            "uri": uri,
            "range": rng(13, 0, 15, 0),
        },
    )
    found = await lenses(client, uri)
    at_refund = [lens for lens in found if lens.range.start.line == 11]
    assert len(at_refund) == 1 and at_refund[0].command is not None
    assert at_refund[0].command.title == "1 memory"
    assert at_refund[0].command.command == "devmem.memoriesForFile"
    args = dict(at_refund[0].command.arguments[0])
    assert args["symbol"] == "refund" and args["show"] is True
    args["show"] = False
    listed = await execute(client, "devmem.memoriesForFile", args)
    assert [h["id"] for h in listed["hits"]] == [created["id"]]
    assert listed["hits"][0]["path"] == "src/billing.py" and listed["hits"][0]["line"] == 14


async def test_code_lens_counts_memories_that_name_the_symbol(
    client: LanguageClient, repo: Path
) -> None:
    uri = billing(repo)
    before = {
        lens.range.start.line: lens.command.title
        for lens in await lenses(client, uri)
        if lens.command
    }
    mention = await execute(
        client,
        "devmem.remember",
        {
            "content": "`Invoice.total` ignores refunds on purpose: the ledger subtracts them later.",
            "kind": "decision",
        },
    )  # not anchored: it names the method (a knowledge-graph symbol)
    after = {
        lens.range.start.line: lens.command.title
        for lens in await lenses(client, uri)
        if lens.command
    }
    assert 22 not in before or before[22] != after.get(22)
    assert after.get(22, "").endswith(("memory", "memories"))
    listed = await execute(
        client, "devmem.memoriesForFile", {"uri": uri, "symbol": "Invoice.total"}
    )
    related = [h for h in listed["hits"] if h["id"] == mention["id"]]
    assert related and related[0]["why"] == "mentions Invoice.total"


async def test_anchor_follows_the_function_when_lines_are_inserted_above(
    client: LanguageClient, repo: Path
) -> None:
    uri = uri_of(repo / "src" / "orders.py")
    created = await execute(
        client,
        "devmem.remember",
        {
            "content": "Shipping marks the order first, the carrier is notified by a job.",
            "kind": "decision",
            "uri": uri,
            "range": rng(8, 0, 10, 16),
        },
    )  # ship_order
    assert [lens.range.start.line for lens in await lenses(client, uri)] == [8]

    inserted = "".join(f"# header line {i}\n" for i in range(5))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(range=rng(0, 0, 0, 0), text=inserted)
            ],
        )
    )
    assert [lens.range.start.line for lens in await lenses(client, uri)] == [13]
    text = await hover_text(client, uri, 14, 12)  # `status` in the moved function
    assert text is not None and "Shipping marks the order first" in text

    # Edit the function itself: the fingerprint no longer matches, the symbol still does.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=rng(14, 20, 14, 29), text='"sent"  # renamed state'
                )
            ],
        )
    )
    assert [lens.range.start.line for lens in await lenses(client, uri)] == [13]
    listed = await execute(client, "devmem.memoriesForFile", {"uri": uri, "symbol": "ship_order"})
    assert [h["id"] for h in listed["hits"]] == [created["id"]]
    assert listed["hits"][0]["line"] == 14

    # Saving writes the moved lines back when the content still matches exactly.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=4),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=inserted + ORDERS)],
        )
    )
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    await eventually(lambda: _anchor_line(repo, created["id"], 14))


async def _anchor_line(repo: Path, memory_id: str, expected: int) -> bool:
    svc = store(repo.parent / "memories.db")
    try:
        anchor = svc.get(memory_id).anchor
    finally:
        svc.close()
    return anchor is not None and anchor.start_line == expected


# ---- another process writes -----------------------------------------------------------------
async def test_memory_written_by_another_process_shows_on_next_hover(
    client: LanguageClient, repo: Path, db: Path, seen: Seen
) -> None:
    uri = billing(repo)
    before_changed, before_refresh = seen.changed, seen.lens_refreshes
    svc = store(db)
    try:
        svc.remember(
            MemoryInput(
                content="Invoice.__init__ keeps the caller's list: copying it broke the CSV export.",
                title="Invoice lines are shared, not copied",
                kind="pitfall",
                project="shop",
                source="assistant",
                anchor=CodeAnchor("src/billing.py", 20, 21, "Invoice.__init__"),
            )
        )
    finally:
        svc.close()
    text = await hover_text(client, uri, 20, 14)  # `lines` in Invoice.__init__
    assert text is not None and "Invoice lines are shared, not copied" in text
    assert await eventually(lambda: _bigger(seen, before_changed, before_refresh))


async def _bigger(seen: Seen, changed: int, refreshes: int) -> bool:
    return seen.changed > changed and seen.lens_refreshes > refreshes


# ---- diagnostics and quick fixes ------------------------------------------------------------
async def test_diagnostics_are_opt_in_and_offer_to_open_the_memory(
    client: LanguageClient, repo: Path
) -> None:
    uri = billing(repo)
    created = await execute(
        client,
        "devmem.remember",
        {
            "content": "Refunds above the paid amount used to go negative; now rejected.",
            "title": "Negative refunds",
            "kind": "bugfix",
            "uri": uri,
            "range": rng(13, 0, 14, 0),
        },
    )
    assert uri not in client.diagnostics or not client.diagnostics[uri]

    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"devmemory": {"diagnostics": {"enabled": True}}}
        )
    )
    found = await eventually(lambda: _known_issues(client, uri))
    assert found, "no Known issue diagnostics were published"
    diag = next(d for d in found if d.code == created["id"])
    assert diag.severity == types.DiagnosticSeverity.Hint and diag.range.start.line == 13
    assert diag.message.startswith("Known issue: Negative refunds")

    fixes = await actions(client, uri, rng(13, 4, 13, 4), [diag])
    open_fix = next(a for a in fixes if a.title.startswith("Open memory: Negative refunds"))
    assert open_fix.kind == types.CodeActionKind.QuickFix
    opened = await run_action(client, open_fix)
    assert opened["id"] == created["id"] and opened["markdown"].startswith("# Negative refunds")

    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"devmemory": {"diagnostics": {"enabled": False}}}
        )
    )
    assert await eventually(lambda: _cleared(client, uri))


async def _known_issues(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    return [d for d in client.diagnostics.get(uri, []) if d.source == "devmem"]


async def _cleared(client: LanguageClient, uri: str) -> bool:
    return uri in client.diagnostics and len(client.diagnostics[uri]) == 0


async def test_quick_fix_shows_past_fixes_for_an_error(
    client: LanguageClient, repo: Path, seen: Seen
) -> None:
    uri = billing(repo)
    fixed = await execute(
        client,
        "devmem.remember",
        {
            "content": "ZeroDivisionError: division by zero in apply_discount when percent was None; "
            "fixed by defaulting percent to 0.",
            "title": "Division by zero on missing discount",
            "kind": "bugfix",
        },
    )
    error = types.Diagnostic(
        range=rng(8, 11, 8, 40),
        message="ZeroDivisionError: division by zero",
        severity=types.DiagnosticSeverity.Error,
        source="pyright",
    )
    found = await actions(client, uri, rng(8, 11, 8, 11), [error])
    fix = next(a for a in found if a.title == "Show past fixes for this error")
    assert fix.kind == types.CodeActionKind.QuickFix and list(fix.diagnostics or []) == [error]
    before = len(client.shown_documents)
    seen.answer = 0
    result = await run_action(client, fix)
    assert result["hits"][0]["id"] == fixed["id"] and result["hits"][0]["kind"] == "bugfix"
    shown = await eventually(lambda: _shown_after(client, before))
    assert shown[0].uri == f"devmemory:/memory/{fixed['id']}.md"

    unrelated = types.Diagnostic(
        range=rng(2, 0, 2, 8), message="Import cycle detected in module xyz"
    )
    assert not [
        a
        for a in await actions(client, uri, rng(2, 0, 2, 0), [unrelated])
        if a.title == "Show past fixes for this error"
    ]


async def _shown_after(client: LanguageClient, count: int) -> list[types.ShowDocumentParams]:
    return client.shown_documents[count:]


async def test_find_and_link_actions(client: LanguageClient, repo: Path, seen: Seen) -> None:
    uri = billing(repo)
    target = await execute(
        client,
        "devmem.remember",
        {
            "content": "Percent discounts are capped at 100 by the pricing policy of 2024.",
            "title": "Pricing policy caps discounts",
            "kind": "decision",
        },
    )
    selection = rng(6, 4, 8, 0)  # apply_discount: has the decision from the first test
    found = await actions(client, uri, selection)
    find = next(a for a in found if a.title == "Find memories about this")
    results = await run_action(client, find)
    assert results["hits"] and all(
        set(h) >= {"id", "title", "kind", "date", "snippet", "tags"} for h in results["hits"]
    )

    link = next(a for a in found if a.title.startswith("Link to memory…"))
    assert link.command is not None and link.command.command == "devmem.link"
    seen.answer = 0
    source = link.command.arguments[0]["id"]
    before = len(seen.message_requests)
    linked = await run_action(client, link)
    assert linked["source"] == source and linked["type"] == "related"
    assert len(seen.message_requests) > before
    assert linked["target"] == target["id"] or linked["target"]
    opened = await execute(client, "devmem.open", {"id": source})
    assert "## Links" in opened["markdown"]


# ---- workspace symbols, commands, progress ----------------------------------------------------
async def test_workspace_symbols_search_memories(client: LanguageClient, repo: Path) -> None:
    await execute(
        client,
        "devmem.remember",
        {
            "content": "Webhook retries use exponential backoff with jitter, max five attempts.",
            "title": "Webhook retry policy",
            "kind": "decision",
        },
    )
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="webhook retry"))
    assert result
    first = result[0]  # (the client reads the answer as SymbolInformation: same fields)
    assert first.name == "[decision] Webhook retry policy"
    assert isinstance(first.location, types.Location)
    assert first.location.uri.startswith("devmemory:/memory/")

    anchored = await client.workspace_symbol_async(
        types.WorkspaceSymbolParams(query="Discounts above 100 percent")
    )
    code = [
        s
        for s in anchored or []
        if isinstance(s.location, types.Location) and s.location.uri == billing(repo)
    ]
    assert code and code[0].location.range.start.line == 6
    assert await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="")) == []


async def test_commands_follow_the_contract(client: LanguageClient) -> None:
    created = await execute(
        client,
        "devmem.remember",
        {
            "content": "Use the staging token ghp_R4nd0mT0k3nXq9Lm2Zp8Wv5Ks1Jd7Hf3Gc6B only in CI.",
            "tags": ["ci", "secrets"],
        },
    )
    assert created["status"] == "created" and created["kind"] == "note"
    assert created["redactions"] == ["github_token"]
    again = await execute(
        client,
        "devmem.remember",
        {
            "content": "Use the staging token ghp_R4nd0mT0k3nXq9Lm2Zp8Wv5Ks1Jd7Hf3Gc6B only in CI.",
            "tags": ["ci", "secrets"],
        },
    )
    assert again["status"] == "deduplicated" and again["id"] == created["id"]

    found = await execute(client, "devmem.search", {"query": "staging token CI", "limit": 5})
    assert created["id"] in [h["id"] for h in found["hits"]]
    hit = next(h for h in found["hits"] if h["id"] == created["id"])
    assert set(hit) >= {"id", "title", "kind", "date", "snippet", "tags", "score", "why"}
    assert hit["tags"] == ["ci", "secrets"]

    recent = await execute(client, "devmem.recent", {"limit": 3})
    assert recent["hits"][0]["id"] == created["id"] and len(recent["hits"]) <= 3

    opened = await execute(client, "devmem.open", created["id"])  # a bare id is accepted
    assert opened["id"] == created["id"] and opened["memory"]["id"] == created["id"]
    assert (
        "ghp_R4nd0m" not in opened["markdown"] and "[REDACTED:github_token]" in opened["markdown"]
    )

    other = await execute(client, "devmem.remember", {"content": "CI runs on every push to main."})
    short = await execute(client, "devmem.open", {"id": created["id"][:10]})  # a unique prefix
    assert short["id"] == created["id"]
    linked = await execute(
        client,
        "devmem.link",
        {"id": created["id"][:10], "target": other["id"], "type": "references"},
    )
    assert linked == {"source": created["id"], "target": other["id"], "type": "references"}

    gone = await execute(client, "devmem.forget", {"id": other["id"]})
    assert gone == {"id": other["id"], "title": "CI runs on every push to main.", "removed": True}


async def test_command_errors_say_what_to_do(client: LanguageClient) -> None:
    with pytest.raises(JsonRpcInvalidParams) as missing:
        await execute(client, "devmem.open", {"id": "01NOTAMEMORY"})
    assert "No memory has the id" in missing.value.message and "Search" in missing.value.message
    with pytest.raises(JsonRpcInvalidParams) as bad:
        await execute(client, "devmem.remember", {"title": "no content"})
    assert "content" in bad.value.message and "arguments[0]" in bad.value.message
    with pytest.raises(JsonRpcInvalidParams) as kind:
        await execute(client, "devmem.remember", {"content": "x", "kind": "Not A Kind!"})
    assert "kind" in kind.value.message
    with pytest.raises(JsonRpcInvalidParams):
        await execute(client, "devmem.nope", {})


async def test_reindex_reports_progress(client: LanguageClient) -> None:
    client.progress_reports["reindex-1"] = []  # a client-created token
    result = await execute(client, "devmem.reindex", {}, token="reindex-1")
    assert result["count"] >= 1
    reports = client.progress_reports.get("reindex-1", [])
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    assert any(isinstance(r, types.WorkDoneProgressReport) for r in reports)


# ---- configuration ------------------------------------------------------------------------
async def test_configuration_is_pulled_and_pushed(client: LanguageClient, repo: Path) -> None:
    uri = billing(repo)
    assert await hover_text(client, uri, 23, 22) is not None
    client.set_configuration(
        {"devmemory": {"hover": {"enabled": False}, "codeLens": {"enabled": False}}}
    )
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    assert await eventually(lambda: _no_hover(client, uri))
    assert await lenses(client, uri) == []
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"devmemory": {"hover": {"enabled": True}, "codeLens": {"enabled": True}}}
        )
    )
    assert await eventually(lambda: hover_text(client, uri, 23, 22))


async def test_changing_the_database_path_reopens_the_store(
    client: LanguageClient, db: Path
) -> None:
    other = db.with_name("other.db")
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"devmemory": {"database": {"path": str(other)}}}
        )
    )
    assert await eventually(lambda: _recent_is_empty(client, True))
    assert other.exists()
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"devmemory": {"database": {"path": str(db)}}})
    )
    assert await eventually(lambda: _recent_is_empty(client, False))


async def _recent_is_empty(client: LanguageClient, empty: bool) -> bool:
    hits = (await execute(client, "devmem.recent", {"limit": 1}))["hits"]
    return (hits == []) is empty


async def _no_hover(client: LanguageClient, uri: str) -> bool:
    return await hover_text(client, uri, 23, 22) is None


# ---- robustness ---------------------------------------------------------------------------
async def test_bad_requests_are_answered_without_crashing(
    client: LanguageClient, repo: Path
) -> None:
    uri = billing(repo)
    missing = uri_of(repo / "src" / "does_not_exist.py")
    assert await hover_text(client, missing, 0, 0) is None
    assert await hover_text(client, uri, 9999, 0) is None
    assert await hover_text(client, uri, 6, 9999) is None or True  # clamped, no crash
    assert await lenses(client, missing) == []
    assert await actions(client, missing, rng(0, 0, 0, 5)) == []
    assert await actions(client, uri, rng(500, 0, 501, 0)) == []
    with pytest.raises(JsonRpcInvalidParams):
        await execute(client, "devmem.memoriesForFile", {"uri": missing})
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="x" * 5000))
    assert isinstance(result, list)
    assert await hover_text(client, uri, 23, 22) is not None  # still alive


async def test_stale_requests_can_be_cancelled(client: LanguageClient, repo: Path) -> None:
    uri = billing(repo)
    params = types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line=23, character=22),
    )
    pending = [
        client.protocol.send_request_async(types.TEXT_DOCUMENT_HOVER, params, msg_id=f"h{i}")
        for i in range(5)
    ]
    for i in range(4):
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=f"h{i}"))
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert results[-1] is not None and not isinstance(results[-1], BaseException)
    assert await hover_text(client, uri, 23, 22) is not None
