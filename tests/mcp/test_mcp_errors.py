"""Errors a model can act on (issue 19): invalid tool arguments are one readable sentence per
argument (no pydantic dump, no URL), prompts called wrongly are JSON-RPC -32602, and the tool
and prompt descriptions carry no docstring indentation. Through a real stdio client session."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp.mcp_helpers import call_error, stdio_session

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

BAD_CALLS = [  # (tool, arguments, words the one sentence must hold)
    ("remember", {"content": 12345}, ["`content`", "text", "12345"]),
    (
        "remember",
        {"content": "x", "visibility": "secret"},
        ["`visibility`", "'private'", "'secret'"],
    ),
    ("recall", {"query": "x", "limit": -3}, ["`limit`", "at least 1", "-3"]),
    (
        "recall",
        {"query": "x", "filters": {"kinds": "decision"}},
        ["`filters.kinds`", "list", "'decision'"],
    ),
    ("recall", {"query": "x", "colour": "red"}, ["`colour`", "not a parameter", "query"]),
    ("get_memory", {}, ["`id`", "required"]),
]


async def test_invalid_arguments_read_as_one_sentence_each(server_env):
    async with stdio_session({**server_env, "DEVMEM_EMBEDDINGS": "0"}) as session:
        for tool, arguments, words in BAD_CALLS:
            text = await call_error(session, tool, **arguments)
            assert text.startswith(f"Invalid arguments for tool {tool}: "), text
            assert "pydantic" not in text and "http" not in text and "\n" not in text, text
            for word in words:
                assert word in text, (word, text)
        text = await call_error(session, "remember", content="ok", tags="a", visibility="secret")
        assert text.count("`tags`") == 1 and text.count("`visibility`") == 1, text
        await _prompt_errors(session)
        await _descriptions(session)


async def _prompt_errors(session):
    with pytest.raises(MCPError) as missing:
        await session.get_prompt("record_decision", {})
    assert missing.value.code == -32602 and "`decision`" in missing.value.message
    with pytest.raises(MCPError) as unknown:
        await session.get_prompt("no_such_prompt", {})
    assert unknown.value.code == -32602 and "record_decision" in unknown.value.message


async def _descriptions(session):
    tools = (await session.list_tools()).tools
    prompts = (await session.list_prompts()).prompts
    described = [(t.name, t.description or "") for t in tools] + [
        (p.name, p.description or "") for p in prompts
    ]
    assert len(described) >= 10
    for name, text in described:
        assert text.strip() and not any(line.startswith("    ") for line in text.splitlines()), (
            name,
            text,
        )
