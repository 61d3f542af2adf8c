"""Which requests the MCP relay sends again to a new engine after the old one died with them
(perhaps done), kept in step with what the tools declare. The end-to-end case (kill -9 with
an update and a recall in flight) is in tests/reliability/test_engine_safety.py."""

from __future__ import annotations

import json

from mcp_server.relay import RESENDABLE_TOOLS, interrupted, resendable
from mcp_server.runtime import LazyService
from mcp_server.server import build_server


def _never_opened() -> None:
    raise AssertionError("listing tools must not open the store")


async def test_resent_tools_are_the_read_only_ones_plus_the_writes_that_cannot_apply_twice():
    server = build_server(LazyService(_never_opened))  # type: ignore[arg-type]
    tools = {t.name: t for t in await server.list_tools()}
    read_only = {
        name for name, t in tools.items() if t.annotations and t.annotations.read_only_hint
    }
    assert RESENDABLE_TOOLS <= set(tools)
    assert read_only <= RESENDABLE_TOOLS
    # A write is resent only when a second run is known to change nothing: remember
    # deduplicates by content hash, a link exists once. update_memory (a second pending
    # version for a user's memory) and forget ("not found" after it worked) are not.
    assert RESENDABLE_TOOLS - read_only == {"remember", "link_memories"}
    assert set(tools) - RESENDABLE_TOOLS == {"update_memory", "forget"}


def test_reads_and_idempotent_calls_are_resent_the_rest_answered_with_what_to_do():
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call"}
    assert resendable({**call, "params": {"name": "recall", "arguments": {"query": "x"}}})
    assert resendable({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {}})
    update = {**call, "params": {"name": "update_memory", "arguments": {"id": "01J"}}}
    assert not resendable(update)
    assert not resendable({"jsonrpc": "2.0", "id": 2, "method": "some/new_method"})

    answer = json.loads(interrupted(update))
    assert answer["id"] == 7 and answer["result"]["isError"] is True
    text = answer["result"]["content"][0]["text"]
    assert "update_memory" in text and "may or may not have been applied" in text
    other = json.loads(interrupted({"jsonrpc": "2.0", "id": "a", "method": "some/new_method"}))
    assert other["id"] == "a" and "retry" in other["error"]["message"]
