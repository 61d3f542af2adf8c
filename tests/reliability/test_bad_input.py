"""Bad input: every case gets a clear error or a correct result, and nothing is stored half-way.

Property-based (hypothesis, derandomized so that CI is repeatable) over the core service
API and over the MCP tools' arguments (the real server, in process, through the SDK's
client); then raw frames to the real `devmem-mcp` and `devmem-lsp` processes: broken
JSON, wrong-typed params, lone surrogates, NUL bytes, 10 MB content, deep nesting. After
each the process must still answer, and the store must be consistent.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client

from core.errors import DevMemError
from core.models import (
    CodeAnchor,
    MemoryInput,
    MemoryPatch,
    SearchFilters,
    SearchResult,
    WriteResult,
)
from core.service import MemoryService
from mcp_server.server import build_server
from tests import sqlite_backend
from tests.reliability.helpers import (
    DEVMEM_LSP,
    DEVMEM_MCP,
    RawLsp,
    RawMcp,
    RpcError,
    git_repo,
    opened,
    server_env,
    store_problems,
)

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

TRIED: Counter[str] = Counter()
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)

# ---- strategies ----------------------------------------------------------------------------
SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
FTS = st.sampled_from(
    [
        '"',
        '""',
        "*",
        "NEAR(",
        "NEAR/2",
        "(",
        ")",
        "AND",
        "OR",
        "NOT",
        "^",
        ":",
        "title:",
        "content:",
        "-",
        "+",
        "'",
        "\\",
        "{a b}",
        "\x00",
        "%",
        "_",
        ";",
        "--",
        "/*",
        "\u202e",
        "\ufeff",
        "🚀",
        "ß",
        "İ",
    ]
)


def nasty(*extra: st.SearchStrategy[str], surrogates: bool = True) -> st.SearchStrategy[str]:
    """Arbitrary Unicode (controls, NUL, private use…) mixed with FTS5 syntax and ``extra``."""
    chars = st.characters(exclude_categories=() if surrogates else ("Cs",))
    piece = st.one_of(st.text(chars, max_size=8), FTS, *extra)
    return st.one_of(
        st.text(chars, max_size=120),
        st.lists(piece, max_size=10).map(" ".join),
        st.lists(piece, max_size=10).map("".join),
    )


def jsonish(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text)
    return st.recursive(
        scalar,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=20,
    )


# Python callers can pass lone surrogates; JSON-RPC peers cannot (the SDK's parser refuses
# such a frame before any tool runs: see test_the_mcp_process_survives_malformed_frames).
NASTY = nasty(SURROGATE)
JSONISH = jsonish(NASTY)
WIRE_TEXT = nasty(surrogates=False)
WIRE_JSON = jsonish(WIRE_TEXT)
LIMIT = st.one_of(
    st.integers(), st.sampled_from([0, -1, 1, 200, 201, 10**9, 2**63, -(2**63), 10**100])
)
KIND = st.one_of(st.sampled_from(["note", "decision", "bugfix"]), NASTY)
TEN_MB = "x" * (10 * 1024 * 1024)


def nested(depth: int) -> dict[str, Any]:
    """A dict nested ``depth`` levels deep (built without recursion)."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"n": value}
    return value


# ---- the core service API ------------------------------------------------------------------
@pytest.fixture(scope="module")
def core_svc(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[MemoryService]:
    svc = MemoryService.open(tmp_path_factory.mktemp("bad-input") / "memories.db", embedder)
    yield svc
    svc.close()


def counts(svc: MemoryService) -> tuple[int, ...]:
    conn = sqlite_backend.conn(svc)
    tables = (
        "memories",
        "memory_fts",
        "memory_vectors",
        "memory_versions",
        "memory_tags",
        "memory_links",
        "memory_entities",
        "sync_state",
    )
    return tuple(int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)


def refused_cleanly(svc: MemoryService, before: tuple[int, ...], exc: DevMemError) -> None:
    """A DevMemError with words in it, and no row written."""
    assert str(exc).strip() and exc.code
    assert counts(svc) == before


def try_remember(svc: MemoryService, inp: MemoryInput) -> None:
    """Store ``inp``: either refused with a DevMemError and nothing written, or stored whole."""
    TRIED["core remember"] += 1
    before = counts(svc)
    try:
        result = svc.remember(inp)
    except DevMemError as exc:
        refused_cleanly(svc, before, exc)
        return
    assert isinstance(result, WriteResult)
    stored = svc.get(result.memory.id)
    assert stored.content == result.memory.content and stored.title == result.memory.title
    after = counts(svc)
    if result.status == "created":
        assert after[:4] == (before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1)
    else:
        assert result.status == "deduplicated" and after == before


@SETTINGS
@given(
    content=NASTY,
    title=st.none() | NASTY,
    kind=KIND,
    tags=st.lists(NASTY, max_size=5),
    project=st.none() | NASTY,
    metadata=st.dictionaries(NASTY, JSONISH, max_size=4),
)
def test_remember_stores_all_or_nothing(core_svc, content, title, kind, tags, project, metadata):
    try_remember(
        core_svc,
        MemoryInput(
            content=content, title=title, kind=kind, tags=tags, project=project, metadata=metadata
        ),
    )


EDGE_INPUTS = {
    "10 MB content": MemoryInput(content=TEN_MB),
    "content at the 512 KB limit": MemoryInput(content="y" * (512 * 1024)),
    "NUL byte": MemoryInput(content="nul \x00 byte"),
    "lone surrogate": MemoryInput(content="lone \ud800 surrogate"),
    "lone surrogates in title, tag, project": MemoryInput(
        content="fine", title="lone \udfff", tags=["\ud800"], project="\ud83d"
    ),
    "metadata 16 deep": MemoryInput(content="deep 16", metadata=nested(16)),
    "metadata 17 deep": MemoryInput(content="deep 17", metadata=nested(17)),
    "metadata 100,000 deep": MemoryInput(content="very deep", metadata=nested(100_000)),
    "surrogate metadata key": MemoryInput(content="key", metadata={"\ud800": 1}),
    "FTS operators": MemoryInput(content='"unbalanced NEAR( * ^ title: AND OR NOT'),
    "65-character tag": MemoryInput(content="long tag", tags=["a" * 65]),
    "33 tags": MemoryInput(content="many tags", tags=[f"t{i}" for i in range(33)]),
    "control characters": MemoryInput(content="\x01\x02\x1b[31m red \u202e reversed \ufeff"),
    "only whitespace": MemoryInput(content=" \t\n\u3000 "),
    "negative anchor line": MemoryInput(
        content="anchor", anchor=CodeAnchor(path="a.py", start_line=-3)
    ),
}


@pytest.mark.parametrize("inp", EDGE_INPUTS.values(), ids=EDGE_INPUTS.keys())
def test_remember_edge_cases(core_svc, inp):
    try_remember(core_svc, inp)


@SETTINGS
@given(
    query=NASTY,
    mode=st.one_of(st.sampled_from(["hybrid", "text", "vector", "graph"]), NASTY),
    limit=LIMIT,
    offset=LIMIT,
    kinds=st.lists(NASTY, max_size=3),
    tags=st.lists(NASTY, max_size=3),
    project=st.none() | NASTY,
    since=st.none() | NASTY,
    path=st.none() | NASTY,
    related=st.booleans(),
)
@example(
    query='"',
    mode="text",
    limit=10,
    offset=0,
    kinds=[],
    tags=[],
    project=None,
    since=None,
    path=None,
    related=False,
)
@example(
    query="NEAR(a b",
    mode="hybrid",
    limit=-1,
    offset=0,
    kinds=[],
    tags=[],
    project=None,
    since=None,
    path=None,
    related=True,
)
@example(
    query="title:x AND NOT *",
    mode="text",
    limit=10**100,
    offset=2**63,
    kinds=[],
    tags=[],
    project=None,
    since=None,
    path=None,
    related=False,
)
@example(
    query="x" * 1_000_000,
    mode="hybrid",
    limit=5,
    offset=0,
    kinds=[],
    tags=[],
    project=None,
    since=None,
    path=None,
    related=False,
)
@example(
    query="ok",
    mode="text",
    limit=5,
    offset=0,
    kinds=["\ud800"],
    tags=["\x00"],
    project="\udfff",
    since="\ud800",
    path="\ud800/",
    related=False,
)
def test_recall_answers_or_refuses_any_query(
    core_svc, query, mode, limit, offset, kinds, tags, project, since, path, related
):
    TRIED["core recall"] += 1
    before = counts(core_svc)
    filters = SearchFilters(kinds=kinds, tags=tags, project=project, since=since, path=path)
    try:
        result = core_svc.recall(
            query, mode=mode, limit=limit, offset=offset, filters=filters, include_related=related
        )
    except DevMemError as exc:
        refused_cleanly(core_svc, before, exc)
        return
    assert isinstance(result, SearchResult)
    assert len(result.hits) <= min(limit, core_svc.limits.max_limit)
    for hit in result.hits:
        assert core_svc.get(hit.memory.id).id == hit.memory.id
    assert counts(core_svc) == before


@SETTINGS
@given(
    memory_id=st.one_of(NASTY, st.from_regex(r"\A[0-9A-HJKMNP-TV-Z]{26}\Z")),
    other=NASTY,
    limit=LIMIT,
    offset=LIMIT,
)
@example(memory_id="", other="", limit=0, offset=-1)
@example(memory_id="\x00", other="\ud800", limit=10**100, offset=0)
@example(memory_id="' OR 1=1 --", other="*", limit=1, offset=0)
def test_unknown_ids_and_bad_pages_are_refused(core_svc, memory_id, other, limit, offset):
    TRIED["core ids and pages"] += 1
    before = counts(core_svc)
    calls = [
        lambda: core_svc.get(memory_id),
        lambda: core_svc.versions(memory_id),
        lambda: core_svc.links(memory_id),
        lambda: core_svc.forget(memory_id),
        lambda: core_svc.update(memory_id, MemoryPatch(content=other)),
        lambda: core_svc.link(memory_id, other, "related"),
        lambda: core_svc.accept_pending(memory_id, 2),
    ]
    for call in calls:
        with pytest.raises(DevMemError) as refused:
            call()
        refused_cleanly(core_svc, before, refused.value)
    try:
        page = core_svc.list(limit=limit, offset=offset)
    except DevMemError as exc:
        refused_cleanly(core_svc, before, exc)
    else:
        assert len(page.memories) <= min(limit, core_svc.limits.max_limit)


# ---- MCP tool arguments, the real server in process ----------------------------------------
TOOL_ARGS = {
    "remember": ["content", "title", "kind", "tags", "project", "anchor", "visibility"],
    "recall": ["query", "mode", "limit", "filters", "project", "include_related", "cursor"],
    "get_memory": ["id", "include_versions"],
    "update_memory": ["id", "content", "title", "kind", "tags", "anchor", "visibility"],
    "forget": ["id"],
    "list_memories": ["filters", "project", "limit", "offset", "order"],
    "link_memories": ["source_id", "target_id", "type"],
    "related": ["id", "limit"],
    "context_for_file": ["path", "symbol", "line", "project", "limit"],
    "memory_stats": [],
    "graph": ["entity", "to", "limit"],
}


@st.composite
def tool_calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from([*TOOL_ARGS, "no_such_tool"]))
    params = TOOL_ARGS.get(name, ["x"])
    chosen = draw(
        st.lists(
            st.sampled_from([*params, "unexpected"] if params else ["unexpected"]),
            unique=True,
            max_size=len(params) + 1,
        )
    )
    args = {p: draw(WIRE_JSON | LIMIT | WIRE_TEXT) for p in chosen}
    if name in ("remember", "recall") and draw(st.booleans()):  # often valid but for one field
        args.setdefault("content" if name == "remember" else "query", draw(WIRE_TEXT))
    return name, args


@pytest.fixture(scope="module")
def mcp_client(core_svc: MemoryService) -> Iterator[tuple[Any, Client]]:
    server = build_server(core_svc, "fuzz")
    with anyio.from_thread.start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Client(server)) as client:
            yield portal, client


@SETTINGS
@given(call=tool_calls())
@example(call=("remember", {"content": TEN_MB}))
@example(call=("remember", {"content": 12345}))
@example(call=("recall", {"query": '"NEAR( * ^', "limit": -3}))
@example(call=("recall", {"query": "x", "limit": 10**30}))
@example(call=("recall", {"query": "x", "filters": {"kinds": ["\x00"], "since": "\x00"}}))
@example(call=("list_memories", {"offset": 2**63}))
@example(call=("get_memory", {"id": {"nested": [1, 2]}}))
@example(call=("forget", {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}))
def test_mcp_tools_answer_any_arguments(mcp_client, core_svc, call):
    TRIED["MCP tool calls"] += 1
    portal, client = mcp_client
    name, args = call
    before = counts(core_svc)
    result = portal.call(lambda: client.call_tool(name, args))
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    if result.is_error:
        # Clear: it says why (the SDK's bare "Error executing tool X" means the tool crashed).
        assert text.strip() and "Traceback" not in text
        assert not re.fullmatch(r"Error executing tool \w+", text.strip()), (
            f"{name} crashed on {args!r}"
        )
        assert counts(core_svc) == before, f"{name} failed but wrote: {text[:300]}"
    else:
        assert result.structured_content is not None or text


# ---- raw frames to the real processes ------------------------------------------------------
MCP_UNPARSEABLE = [  # the SDK cannot parse these: it must go on serving (see docs/reliability.md)
    b"not json",
    b"{}",
    b"[]",
    b'{"jsonrpc": "2.0"}',
    b"\xff\xfe\x00 garbage",
    b'{"jsonrpc": "2.0", "id": 900, "method": "tools/call", "params": [1, 2]}',
    b'{"jsonrpc": "2.0", "id": 901, "method": "tools/call", "params": {"name": "remember",'
    b' "arguments": {"content": "lone \\ud800"}}}',
    b'{"jsonrpc": "2.0", "id": 902, "method": "tools/call", "params": {"name": "remember",'
    b' "arguments": {"content": "deep", "anchor": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}}",
]
MCP_BAD_CALLS: list[tuple[str, Any]] = [  # parseable: each must get a tool error
    ("remember", {"content": 123}),
    ("remember", {"content": "nul \x00"}),
    ("remember", {"content": TEN_MB}),
    ("remember", {}),
    ("remember", {"content": ["a"]}),
    ("remember", {"content": "x", "kind": "Not A Kind!"}),
    ("remember", {"content": "x", "tags": "a,b"}),
    ("remember", {"content": "x", "anchor": {"path": "a.py", "start_line": -4}}),
    ("recall", {"query": "x", "limit": -5}),
    ("recall", {"query": "x", "limit": 10**25}),
    ("recall", {"query": "x", "limit": "ten"}),
    ("recall", {"query": ""}),
    ("recall", {"query": "x", "cursor": "forged"}),
    ("recall", {"query": "x", "mode": "psychic"}),
    ("get_memory", {"id": {"a": 1}}),
    ("get_memory", {"id": "01NOTAMEMORY"}),
    ("forget", {"id": ""}),
    ("list_memories", {"offset": -1}),
    ("update_memory", {"id": "01NOTAMEMORY", "content": "x"}),
    ("no_such_tool", {}),
]


async def test_the_mcp_process_survives_malformed_frames(tmp_path, model_cache):
    env = server_env(tmp_path / "memories.db", model_cache, embeddings=False)
    mcp = await RawMcp.spawn([DEVMEM_MCP, "--project", "frames"], env, tmp_path / "mcp.stderr.log")
    try:
        await mcp.initialize()
        for frame in MCP_UNPARSEABLE:
            TRIED["MCP raw frames"] += 1
            await mcp.send_raw(frame + b"\n")
            assert await mcp.request("ping", timeout=60) == {}, frame[:60]
        for name, args in MCP_BAD_CALLS:
            TRIED["MCP raw frames"] += 1
            result = await mcp.tool(name, args)
            text = " ".join(c.get("text", "") for c in result["content"])
            assert result.get("isError") and text.strip() and "Traceback" not in text, (
                name,
                text[:200],
            )
        ok = await mcp.tool("remember", {"content": "Still serving after the bad frames."})
        assert not ok.get("isError")
        found = await mcp.tool("recall", {"query": "still serving", "mode": "text"})
        assert [h["id"] for h in found["structuredContent"]["hits"]] == [
            ok["structuredContent"]["memory"]["id"]
        ]
    finally:
        assert await mcp.close() == 0
    with opened(tmp_path / "memories.db") as svc:
        assert svc.store.count() == 1 and store_problems(svc) == []


def _lsp_frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


LSP_UNPARSEABLE = [  # not JSON-RPC at all: the server must go on serving
    _lsp_frame(b"not json"),
    _lsp_frame(b"[]"),
    _lsp_frame(b"\xff\xfe"),
    _lsp_frame(b"{}"),
    b"Content-Length: abc\r\n\r\n",
    b"Garbage-Header\r\n\r\n",
]


async def _lsp_session(tmp_path: Path, model_cache: Path) -> tuple[RawLsp, str]:
    repo = git_repo(tmp_path / "shop", {"billing.py": "def total(lines):\n    return sum(lines)\n"})
    env = server_env(tmp_path / "memories.db", model_cache, embeddings=False)
    lsp = await RawLsp.spawn(
        [DEVMEM_LSP, "--db", env["DEVMEM_DB"]], env, tmp_path / "lsp.stderr.log", cwd=repo
    )
    await lsp.initialize(repo)
    return lsp, await lsp.open(repo / "billing.py")


LSP_BAD_COMMANDS: list[tuple[str, Any]] = [  # our own commands: each a JSON-RPC error that says why
    ("devmem.remember", {"content": 123}),
    ("devmem.remember", {"content": "lone \ud800"}),
    ("devmem.remember", {"content": "nul \x00"}),
    ("devmem.remember", {"content": TEN_MB}),
    ("devmem.remember", {"title": "no content"}),
    ("devmem.remember", "just a string"),
    ("devmem.remember", {"content": "deep", "tags": nested(3)}),
    ("devmem.search", {"query": "x", "limit": -1}),
    ("devmem.search", {"query": "x", "limit": 10**20}),
    ("devmem.open", "01NOTAMEMORY"),
    ("devmem.open", {"id": ["x"]}),
    ("devmem.forget", {"id": ""}),
    ("devmem.recent", {"limit": "ten"}),
    ("devmem.link", {"id": "01NOTAMEMORY", "target": "01NOPE"}),
    ("devmem.nope", {}),
]


async def test_the_lsp_process_survives_malformed_frames_and_bad_commands(tmp_path, model_cache):
    lsp, uri = await _lsp_session(tmp_path, model_cache)
    try:
        for frame in LSP_UNPARSEABLE:
            TRIED["LSP raw frames"] += 1
            await lsp.send_raw(frame)
            assert await lsp.command("devmem.recent", {"limit": 1}, timeout=60) == {"hits": []}
        for command, args in LSP_BAD_COMMANDS:
            TRIED["LSP raw frames"] += 1
            with pytest.raises(RpcError) as refused:
                await lsp.command(command, args)
            assert refused.value.message.strip() and "Traceback" not in refused.value.message
        found = await lsp.command("devmem.search", {"query": '"NEAR( a OR * ^ :', "limit": 5})
        assert found["hits"] == []
        made = await lsp.command("devmem.remember", {"content": "Still serving after bad frames."})
        assert made["status"] == "created"
    finally:
        await lsp.shutdown()
    with opened(tmp_path / "memories.db") as svc:
        assert svc.store.count() == 1 and store_problems(svc) == []


LSP_WRONG_PARAMS = [  # valid JSON-RPC requests with wrong-typed params: JSON-RPC asks for -32602
    ("textDocument/hover", lambda uri: {"textDocument": {"uri": uri}, "position": "here"}),
    (
        "textDocument/hover",
        lambda uri: {"textDocument": {"uri": uri}, "position": {"line": -5, "character": 0}},
    ),
    ("textDocument/codeLens", lambda uri: {"textDocument": "not an object"}),
    ("workspace/executeCommand", lambda uri: {"command": 42, "arguments": "x"}),
    ("devmem/noSuchMethod", lambda uri: None),  # no params at all (allowed by JSON-RPC)
]


async def test_the_lsp_answers_wrong_typed_params_with_an_error(tmp_path, model_cache):
    """A request the server cannot read still gets an answer (else the editor waits forever)."""
    lsp, uri = await _lsp_session(tmp_path, model_cache)
    unanswered = []
    try:
        for method, params in LSP_WRONG_PARAMS:
            TRIED["LSP raw frames"] += 1
            try:
                await lsp.request(method, params(uri), timeout=5)
            except RpcError:
                continue  # the error answer JSON-RPC asks for
            except TimeoutError:
                unanswered.append(method)
            assert lsp.alive
        assert await lsp.command("devmem.recent", {"limit": 1}) == {"hits": []}
    finally:
        await lsp.shutdown()
    assert unanswered == [], f"requests never answered: {unanswered}"


def test_the_fuzzed_store_is_consistent(core_svc):
    """After every core and MCP case above: integrity, indexes and no orphans. Run alone, it
    writes the edge inputs first, so that it never checks an empty store."""
    for inp in EDGE_INPUTS.values():
        try_remember(core_svc, inp)
    assert core_svc.store.count() >= 3
    assert store_problems(core_svc) == []


def test_report_inputs_tried(figures):
    """Last in this module: how many inputs the tests above tried (a figure, no assertion)."""
    figures["bad input: inputs tried"] = (
        ", ".join(f"{n} {k}" for k, n in sorted(TRIED.items())) + f"; {sum(TRIED.values())} in all"
    )
