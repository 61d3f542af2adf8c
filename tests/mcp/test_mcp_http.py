"""End to end over streamable HTTP: `devmem-mcp --http` as a subprocess, the SDK's HTTP client."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest
from mcp.types import TextContent
from mcp_helpers import SERVER, call, call_error, http_server, http_session

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

TOKEN = "s3cret-token-for-tests-9f2KqZ7xLm4Pw8Rt"  # strong enough for an off-loopback bind
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-http", "version": "0"},
    },
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def post(url: str, **headers: str) -> httpx.Response:
    return httpx.post(url, json=INIT, headers={**HEADERS, **headers}, timeout=10)


async def test_http_session_serves_tools_resources_and_prompts(server_env, tmp_path):
    env = {k: v for k, v in server_env.items() if k != "DEVMEM_DB"} | {"DEVMEM_EMBEDDINGS": "0"}
    db = tmp_path / "chosen-with-flag.db"
    with http_server(env, "--project", "web", "--db", str(db)) as url:
        async with http_session(url) as s:
            assert len((await s.list_tools()).tools) == 11
            assert (await call(s, "memory_stats"))["db_path"] == str(db)
            stored = await call(
                s,
                "remember",
                content="The staging database is rebuilt every night.",
                kind="note",
                tags=["staging"],
            )
            memory_id = stored["memory"]["id"]
            assert stored["memory"]["project"] == "web"
            found = await call(s, "recall", query="when is staging rebuilt")
            assert [h["id"] for h in found["hits"]] == [memory_id]
            assert found["mode"] == "text" and found["notices"]  # embeddings are off: said so
            assert "error (not_found)" in await call_error(s, "get_memory", id="missing")
            page = (await s.read_resource(f"memory://{memory_id}")).contents[0]
            assert "rebuilt every night" in page.text
            assert (
                json.loads((await s.read_resource("memory://stats")).contents[0].text)["memories"]
                == 1
            )
            prompt = await s.get_prompt("load_context", {"task": "staging database"})
            content = prompt.messages[0].content
            assert isinstance(content, TextContent) and memory_id in content.text


async def test_a_foreign_origin_is_refused_with_403(server_env):
    with http_server({**server_env, "DEVMEM_EMBEDDINGS": "0"}) as url:
        refused = post(url, origin="http://evil.example")
        assert refused.status_code == 403 and "evil.example" in refused.json()["error"]["message"]
        assert post(url, origin="http://localhost:3000").status_code == 200
        assert post(url).status_code == 200  # no Origin: not a browser
        assert (
            post(url, host="rebound.example:80").status_code == 421
        )  # the SDK's Host check, kept on


async def test_off_loopback_a_bearer_token_is_required(server_env):
    env = {**server_env, "DEVMEM_EMBEDDINGS": "0", "DEVMEM_MCP_TOKEN": TOKEN}
    with http_server(env, host="0.0.0.0") as url:
        missing = post(url)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith(
            "Bearer"
        )
        assert post(url, authorization="Bearer wrong-token").status_code == 401
        assert post(url, authorization=f"Basic {TOKEN}").status_code == 401
        assert (
            post(url, authorization=f"Bearer {TOKEN}", origin="http://evil.example").status_code
            == 403
        )
        assert post(url, authorization=f"Bearer {TOKEN}").status_code == 200
        async with http_session(url, headers={"Authorization": f"Bearer {TOKEN}"}) as s:
            assert (await call(s, "memory_stats"))["memories"] == 0


async def test_on_loopback_a_configured_token_is_still_enforced(server_env):
    env = {**server_env, "DEVMEM_EMBEDDINGS": "0", "DEVMEM_MCP_TOKEN": TOKEN}
    with http_server(env) as url:
        assert post(url).status_code == 401
        assert post(url, authorization=f"Bearer {TOKEN}").status_code == 200


def test_it_refuses_to_listen_off_loopback_without_a_token(server_env):
    run = subprocess.run(
        [str(SERVER), "--http", "--host", "0.0.0.0", "--port", "9"],
        env=server_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert "DEVMEM_MCP_TOKEN" in run.stderr and run.stdout == ""
