"""`remember` knows when: a dated event stored through a real MCP client session is found by
a question that names its time, and an unreadable date is a tool error that says the format."""

from __future__ import annotations

import pytest
from mcp_helpers import call, call_error, stdio_session

pytestmark = pytest.mark.slow  # a real `devmem-mcp` over stdio

OUTAGE_2023 = "Billing queue stalled for two hours; the consumer lag alarm was missing."
OUTAGE_2024 = "Billing queue stalled again after the broker upgrade; we rolled the broker back."


async def test_a_dated_event_is_found_by_a_question_about_its_time(server_env):
    env = {**server_env, "DEVMEM_EMBEDDINGS": "0"}  # words and time: the model adds nothing here
    async with stdio_session(env, "--project", "ops") as s:
        first = await call(
            s, "remember", content=OUTAGE_2023, kind="meeting", event_at="2023-05-08"
        )
        second = await call(
            s, "remember", content=OUTAGE_2024, kind="meeting", event_at="2024-02-01T09:30:00+01:00"
        )
        assert first["memory"]["event_at"] == "2023-05-08T00:00:00Z"
        assert second["memory"]["event_at"] == "2024-02-01T08:30:00Z"  # stored in UTC

        for question, wanted in (
            ("What happened to the billing queue in May 2023?", first),
            ("billing queue stalled on 1 February 2024", second),
        ):
            hits = (await call(s, "recall", query=question))["hits"]
            assert hits and hits[0]["id"] == wanted["memory"]["id"], (question, hits)
            assert "time" in hits[0]["why"], hits[0]

        window = await call(
            s,
            "recall",
            query="billing queue",
            filters={"since": "2024-01-01", "until": "2024-12-31"},
        )
        assert [h["id"] for h in window["hits"]] == [second["memory"]["id"]]


async def test_an_unreadable_event_time_is_a_tool_error_that_names_the_format(server_env):
    env = {**server_env, "DEVMEM_EMBEDDINGS": "0"}
    async with stdio_session(env, "--project", "ops") as s:
        message = await call_error(
            s, "remember", content="Release 2.0 shipped", event_at="last tuesday"
        )
        assert "event_at" in message and "2026-03-01" in message, message
        assert (await call(s, "memory_stats"))["memories"] == 0  # nothing half-stored
        tools = {t.name: t for t in (await s.list_tools()).tools}
        described = tools["remember"].input_schema["properties"]["event_at"]["description"]
        assert "ISO" in described and "2023-05-08" in described
