"""Hostile MCP arguments get one clear reason, fast, and cost nothing (issue 20: D4 and the
minor findings). Through a real client session with the real `devmem-mcp`."""

from __future__ import annotations

import base64
import json
import time

import pytest
from mcp.types import CallToolResult

from tests.mcp.mcp_helpers import stdio_session
from tests.reliability.helpers import server_env

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out


def _error_text(result: CallToolResult) -> str:
    assert result.is_error, result
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert "Error executing tool" not in text or ":" in text.split("Error executing tool", 1)[1], (
        text
    )
    return text


def _cursor(doc: str) -> str:
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


async def test_long_strings_bad_cursors_huge_lines_and_bad_dates_get_clear_errors(
    tmp_path, model_cache
):
    env = server_env(tmp_path / "memories.db", model_cache, embeddings=False)
    async with stdio_session(env) as mcp:
        made = await mcp.call_tool("remember", {"content": "The deploy job retries three times."})
        assert not made.is_error, made
        started = time.monotonic()
        long_path = await mcp.call_tool("context_for_file", {"path": "a/" * 40_000})
        assert "limit" in _error_text(long_path).lower()
        assert time.monotonic() - started < 5, "an 80 KB path is refused at once"
        for doc in (
            '{"o": Infinity, "q": "x"}',
            "[" * 50_000 + "]" * 50_000,
            '{"o": 1e400, "q": 1}',
        ):
            text = _error_text(
                await mcp.call_tool("recall", {"query": "deploy", "cursor": _cursor(doc)})
            )
            assert "cursor" in text.lower(), text
        huge = await mcp.call_tool(
            "remember", {"content": "x marks", "anchor": {"path": "a.py", "start_line": 10**20}}
        )
        assert "line" in _error_text(huge).lower()
        for bad in ("'; DROP TABLE x", "whenever"):
            listed = await mcp.call_tool("list_memories", {"filters": {"since": bad}})
            assert "since" in _error_text(listed).lower()
        recent = await mcp.call_tool("list_memories", {"filters": {"since": "last week"}})
        assert (
            not recent.is_error and json.dumps(recent.structured_content).count("deploy job") >= 1
        )
