"""End to end over stdio: the real `devmem-mcp` script, driven by the SDK's ClientSession."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError
from mcp.types import ListRootsResult, Root, TextContent, TextResourceContents
from mcp_helpers import call, call_error, git_repo, stdio_session, wait_for_model

from core.embeddings import UnavailableEmbedder
from core.models import MemoryInput
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

TOOLS = {
    "remember",
    "recall",
    "get_memory",
    "update_memory",
    "forget",
    "link_memories",
    "related",
    "list_memories",
    "context_for_file",
    "memory_stats",
    "graph",
}
READ_ONLY = {
    "recall",
    "get_memory",
    "list_memories",
    "related",
    "context_for_file",
    "memory_stats",
    "graph",
}
SECRET = "ghp_" + "Zq7Xw2Kp9Lm4Nv8Rt1Ys6Bd3Fh5Jc0Ga2Euab"  # 36 chars: a GitHub token
DECISION = (
    "We run SQLite in WAL mode with a 30 s busy timeout so that several processes can write "
    "memories.db at the same time. Deploy token for the mirror: " + SECRET
)
BUGFIX = (
    "Fixed 'database is locked' failures in the sync worker: BEGIN IMMEDIATE is now retried "
    "with jittered backoff in write_transaction."
)


def no_embeddings(env: dict[str, str]) -> dict[str, str]:
    """Tests that are not about vectors skip loading the model (faster, same code paths)."""
    return {**env, "DEVMEM_EMBEDDINGS": "0"}


async def test_start_up_lists_everything_and_recall_answers_before_the_model(server_env):
    async with stdio_session(server_env, "--project", "demo") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert set(tools) == TOOLS
        for tool in tools.values():
            assert tool.description and "Example" in tool.description, tool.name
            assert tool.output_schema and tool.output_schema.get("type") == "object", tool.name
            assert tool.annotations is not None
            assert tool.annotations.read_only_hint is (tool.name in READ_ONLY), tool.name
            for name, prop in tool.input_schema.get("properties", {}).items():
                assert prop.get("description"), f"{tool.name}.{name} has no description"
        assert tools["forget"].annotations.destructive_hint is True
        assert tools["remember"].annotations.destructive_hint is False
        assert tools["remember"].annotations.idempotent_hint is True
        assert "content" in tools["remember"].input_schema["required"]

        resources = {str(r.uri) for r in (await s.list_resources()).resources}
        templates = {t.uri_template for t in (await s.list_resource_templates()).resource_templates}
        prompts = {p.name for p in (await s.list_prompts()).prompts}
        assert resources == {"memory://recent", "memory://stats"}
        assert templates == {"memory://{id}"}
        assert prompts == {"load_context", "record_decision"}

        # The model is still loading in the background: recall answers anyway, on words, and says so.
        out = await call(s, "recall", query="busy timeout")
        assert (out["mode"], out["requested_mode"]) == ("text", "hybrid")
        assert any("loading" in notice for notice in out["notices"]), out["notices"]


async def test_memory_lifecycle_over_every_tool_resource_and_prompt(server_env, tmp_path: Path):
    repo = git_repo(tmp_path / "shop")
    async with stdio_session(server_env, cwd=repo) as s:
        await wait_for_model(s)  # so that every write below gets its vector
        created = await call(
            s,
            "remember",
            content=DECISION,
            kind="decision",
            tags=["SQLite", "wal"],
            anchor={"path": "core/db.py", "start_line": 10, "end_line": 30, "symbol": "connect"},
        )
        first = created["memory"]
        assert created["status"] == "created"
        assert first["project"] == "shop"  # the working directory's repository
        assert (first["source"], first["provenance"]) == ("assistant", "ai")
        assert first["tags"] == ["sqlite", "wal"]
        assert SECRET not in first["content"] and created["redactions"], created
        assert "redacted" in created["message"]

        again = await call(s, "remember", content=DECISION, kind="decision")
        assert (again["status"], again["memory"]["id"]) == ("deduplicated", first["id"])

        fix = (
            await call(
                s,
                "remember",
                content=BUGFIX,
                kind="bugfix",
                anchor={"path": "core/db.py", "symbol": "write_transaction"},
            )
        )["memory"]
        await _recall(s, first["id"], fix["id"])
        await _read_and_curate(s, first["id"], fix["id"])
        await _resources_and_prompts(s, first, fix["id"])

        gone = await call(s, "forget", id=fix["id"])
        assert gone["removed"]["id"] == fix["id"] and "Removed" in gone["message"]
        assert "error (not_found)" in await call_error(s, "get_memory", id=fix["id"])
        assert (await call(s, "memory_stats"))["memories"] == 1


async def _recall(s: Any, first_id: str, fix_id: str) -> None:
    out = await call(s, "recall", query="why can several processes write the database at once?")
    assert out["mode"] == "hybrid", out["notices"]
    assert out["project"] == "shop"
    ids = [h["id"] for h in out["hits"]]
    assert ids[0] == first_id, out
    top = out["hits"][0]
    assert top["why"] and "vector" in top["matched"] and len(top["snippet"]) <= 300

    page1 = await call(s, "recall", query="database locked busy", limit=1)
    assert len(page1["hits"]) == 1 and page1["next_cursor"]
    page2 = await call(
        s, "recall", query="database locked busy", limit=1, cursor=page1["next_cursor"]
    )
    assert page2["hits"][0]["id"] != page1["hits"][0]["id"]
    assert {page1["hits"][0]["id"], page2["hits"][0]["id"]} == {first_id, fix_id}
    foreign = await call_error(
        s, "recall", query="something else", limit=1, cursor=page1["next_cursor"]
    )
    assert "cursor" in foreign and "error (invalid_input)" in foreign

    related = await call(
        s, "recall", query="sqlite", include_related=True, filters={"kinds": ["decision"]}
    )
    assert [h["id"] for h in related["hits"]] == [first_id]
    assert related["related_entities"], related
    elsewhere = await call(s, "recall", query="sqlite", project="another-project")
    assert elsewhere["hits"] == [] and elsewhere["project"] == "another-project"


async def _read_and_curate(s: Any, first_id: str, fix_id: str) -> None:
    got = await call(s, "get_memory", id=first_id, include_versions=True)
    assert got["memory"]["anchor"] == {
        "path": "core/db.py",
        "start_line": 10,
        "end_line": 30,
        "symbol": "connect",
        "commit": None,
    }
    assert [v["version"] for v in got["versions"]] == [1]

    updated = await call(s, "update_memory", id=first_id, tags=["sqlite", "wal", "concurrency"])
    assert (updated["status"], updated["memory"]["version"]) == ("updated", 2)
    assert (await call(s, "update_memory", id=first_id, tags=["sqlite", "wal", "concurrency"]))[
        "status"
    ] == "unchanged"

    link = await call(s, "link_memories", source_id=fix_id, target_id=first_id, type="implements")
    assert (link["source_id"], link["target_id"], link["type"]) == (fix_id, first_id, "implements")
    near = await call(s, "related", id=first_id)
    assert [(lk["source_id"], lk["type"]) for lk in near["links"]] == [(fix_id, "implements")]
    assert near["related"][0]["memory"]["id"] == fix_id
    assert near["related"][0]["relation"] == "link:implements (incoming)"
    assert near["entities"], near

    listed = await call(s, "list_memories", limit=1)
    assert (listed["total"], listed["next_offset"], listed["project"]) == (2, 1, "shop")
    fixes = await call(s, "list_memories", filters={"kinds": ["bugfix"]})
    assert [m["id"] for m in fixes["memories"]] == [fix_id]

    context = await call(s, "context_for_file", path="core/db.py", symbol="write_transaction")
    assert [h["id"] for h in context["hits"]][:2] == [fix_id, first_id]
    assert "anchor" in context["hits"][0]["matched"]

    entity = await call(s, "graph", entity="sqlite")
    assert entity["entity"]["name"] == "sqlite" and first_id in [
        m["id"] for m in entity["memories"]
    ]
    assert entity["neighbours"] and entity["path"] is None
    # sqlite (the decision) and write_transaction (the fix) meet through the file or project.
    path = (await call(s, "graph", entity="sqlite", to="write_transaction"))["path"]
    assert [step["entity"]["name"] for step in path][::2] == ["sqlite", "write_transaction"]
    assert len(path) == 3 and path[0]["relation"] == "" and path[1]["relation"]
    stats = await call(s, "memory_stats")
    assert (stats["memories"], stats["current_project"], stats["links"]) == (2, "shop", 1)
    assert stats["by_kind"] == {"decision": 1, "bugfix": 1}


async def _resources_and_prompts(s: Any, first: dict[str, Any], fix_id: str) -> None:
    page = (await s.read_resource(f"memory://{first['id']}")).contents[0]
    assert isinstance(page, TextResourceContents) and page.mime_type == "text/markdown"
    assert (
        page.text.startswith(f"# {first['title']}")
        and "Anchored to `core/db.py:10-30`" in page.text
    )
    recent = json.loads((await s.read_resource("memory://recent")).contents[0].text)
    assert {m["id"] for m in recent["memories"]} == {first["id"], fix_id}
    stats = json.loads((await s.read_resource("memory://stats")).contents[0].text)
    assert stats["memories"] == 2

    loaded = await s.get_prompt(
        "load_context", {"task": "raise the sqlite busy timeout", "path": "core/db.py"}
    )
    text = loaded.messages[0].content
    assert isinstance(text, TextContent)
    assert first["id"] in text.text and "## About core/db.py" in text.text
    record = await s.get_prompt(
        "record_decision",
        {"decision": "Use ULIDs as memory ids", "alternatives": "UUID4: not sortable"},
    )
    body = record.messages[0].content
    assert isinstance(body, TextContent)
    assert "## Alternatives considered\nUUID4: not sortable" in body.text
    assert 'kind="decision"' in body.text and "remember" in body.text


async def test_an_assistant_cannot_overwrite_a_user_memory(server_env, tmp_path: Path):
    svc = MemoryService.open(
        server_env["DEVMEM_DB"], UnavailableEmbedder("this test writes text only")
    )
    mine = svc.remember(MemoryInput(content="Release on Tuesdays only.", source="user")).memory
    svc.close()
    root = git_repo(tmp_path / "rootproj")

    async def roots(_ctx: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=root.as_uri(), name="workspace")])

    async with stdio_session(no_embeddings(server_env), "--project", "p", roots=roots) as s:
        assert (await call(s, "memory_stats"))["current_project"] == "p"  # --project beats roots
        out = await call(s, "update_memory", id=mine.id, content="Release any day.")
        assert (out["status"], out["pending_version"]) == ("pending_review", 2)
        assert "written by the user" in out["message"]
        assert out["memory"]["content"] == "Release on Tuesdays only."
        got = await call(s, "get_memory", id=mine.id, include_versions=True)
        assert got["memory"]["content"] == "Release on Tuesdays only."
        assert [(v["version"], v["pending"]) for v in got["versions"]] == [(1, False), (2, True)]


async def test_a_unique_id_prefix_works_and_an_ambiguous_one_is_refused(server_env):
    async with stdio_session(no_embeddings(server_env), "--project", "p") as s:
        a = (await call(s, "remember", content="Deploys go out on Tuesdays."))["memory"]["id"]
        b = (await call(s, "remember", content="Staging is reset nightly."))["memory"]["id"]
        assert (await call(s, "get_memory", id=a[:10].lower()))["memory"]["id"] == a
        linked = await call(s, "link_memories", source_id=a[:10], target_id=b[:12])
        assert (linked["source_id"], linked["target_id"]) == (a, b)
        common = os.path.commonprefix([a, b])  # made within one second: 8+ shared characters
        refused = await call_error(s, "forget", id=common)
        assert "error (invalid_input)" in refused and a in refused and b in refused
        assert (await call(s, "memory_stats"))["memories"] == 2  # nothing was deleted


async def test_bad_input_comes_back_as_tool_errors_and_the_server_lives_on(server_env):
    async with stdio_session(no_embeddings(server_env), "--project", "p") as s:
        assert "`limit` must be at most 50" in await call_error(s, "recall", query="x", limit=500)
        assert "content" in await call_error(s, "remember")
        assert "visibility" in await call_error(
            s, "recall", query="x", filters={"visibility": ["secret"]}
        )
        assert "error (invalid_input): content is empty" in await call_error(
            s, "remember", content="  "
        )
        assert "NUL" in await call_error(s, "remember", content="a\x00b")
        too_big = await call_error(s, "remember", content="x" * 600_000)
        assert "error (content_too_large)" in too_big and "Split it" in too_big
        unknown = await call_error(s, "get_memory", id="01J0000000000000000000000Z")
        assert "error (not_found)" in unknown and "recall" in unknown
        assert "error (not_found)" in await call_error(s, "forget", id="no-such-id")
        assert "error (invalid_input)" in await call_error(s, "recall", query="   ")
        assert "cursor" in await call_error(s, "recall", query="x", cursor="%%%garbage")
        assert "error (not_found)" in await call_error(s, "graph", entity="no-such-entity-xyz")
        assert "Unknown tool" in await call_error(s, "no_such_tool")

        stored = await call(
            s, "remember", content="Query operators are plain words here: NEAR AND OR"
        )
        # FTS syntax is not syntax here: quotes, brackets, operators and columns are searched as words.
        found = await call(s, "recall", query='"NEAR AND (OR * content: -x')
        assert found["hits"][0]["id"] == stored["memory"]["id"]
        assert "error (invalid_input)" in await call_error(
            s, "link_memories", source_id=stored["memory"]["id"], target_id=stored["memory"]["id"]
        )
        with pytest.raises(MCPError, match="not_found"):
            await s.read_resource("memory://01J0000000000000000000000Z")
        assert (await call(s, "memory_stats"))["memories"] == 1  # still serving


async def test_an_unusable_store_does_not_stop_start_up_and_is_reported_per_call(
    server_env, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    env = no_embeddings({**server_env, "DEVMEM_DB": str(blocker / "memories.db")})
    async with stdio_session(env, "--project", "p") as s:  # initialize does not open the store
        assert len((await s.list_tools()).tools) == len(TOOLS)
        for _ in range(2):  # reported each time, with what to do; the server keeps serving
            failed = await call_error(s, "recall", query="anything")
            assert (
                "error (store_error)" in failed and str(blocker) in failed and "DEVMEM_DB" in failed
            )
        assert "record_decision" in {p.name for p in (await s.list_prompts()).prompts}


async def test_the_project_comes_from_the_roots_then_the_working_directory(
    server_env, tmp_path: Path
):
    env = no_embeddings(server_env)
    cwd = git_repo(tmp_path / "cwdproj")
    root = git_repo(tmp_path / "rootproj")

    async def roots(_ctx: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=root.as_uri(), name="workspace")])

    async with stdio_session(env, cwd=cwd, roots=roots) as s:
        assert (await call(s, "memory_stats"))["current_project"] == "rootproj"
        stored = await call(s, "remember", content="Noted in the root folder's project.")
        assert stored["memory"]["project"] == "rootproj"
    async with stdio_session(env, cwd=cwd) as s:
        assert (await call(s, "memory_stats"))["current_project"] == "cwdproj"
        assert (await call(s, "recall", query="noted root folder"))["hits"] == []
        everywhere = await call(s, "recall", query="noted root folder", project="*")
        assert [h["id"] for h in everywhere["hits"]] == [stored["memory"]["id"]]
        assert everywhere["project"] is None
