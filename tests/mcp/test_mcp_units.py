"""The small pure parts of the MCP adapter: cursors, response cap, origin rules, prompt shapes."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.models import Hit, Memory, Provenance, SearchResult
from mcp_server import paging
from mcp_server.http import is_loopback, origin_allowed
from mcp_server.logs import LazyRedaction
from mcp_server.prompts import decision_text
from mcp_server.schemas import HitOut
from mcp_server.tools import _recall_out, structured

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

REPO = Path(__file__).resolve().parents[2]
SECRET = "ghp_" + "Zq7Xw2Kp9Lm4Nv8Rt1Ys6Bd3Fh5Jc0Ga2Euab"  # 36 chars: a GitHub token


def test_a_cursor_round_trips_and_refuses_another_query() -> None:
    fp = paging.fingerprint("query", "hybrid", None, "proj", False)
    cursor = paging.encode(20, fp)
    assert paging.decode(cursor, fp) == 20
    assert paging.decode(None, fp) == 0
    with pytest.raises(InvalidInput, match="different query"):
        paging.decode(cursor, paging.fingerprint("other", "hybrid", None, "proj", False))
    with pytest.raises(InvalidInput, match="not one this server returned"):
        paging.decode("not-a-cursor!", fp)


def test_the_hits_are_cut_to_the_byte_budget_but_never_to_nothing() -> None:
    hit = HitOut(
        id="X" * 26,
        title="t",
        kind="note",
        tags=[],
        project=None,
        anchor=None,
        updated_at="2025-01-01T00:00:00Z",
        score=0.1,
        matched=["text"],
        why="words",
        snippet="s" * 300,
    )
    size = len(hit.model_dump_json()) + 1
    assert paging.fit([hit] * 50) == paging.HITS_BUDGET_BYTES // size
    assert paging.fit([hit] * 3, budget=10) == 1


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:5173", True),
        ("https://127.0.0.1", True),
        ("http://[::1]:8080", True),
        ("http://127.0.0.2:1", True),
        ("http://evil.example", False),
        ("http://localhost.evil.example", False),
        ("null", False),
        ("file://localhost", False),
        ("http://192.168.1.5:8765", False),
    ],
)
def test_only_local_origins_are_allowed(origin: str, allowed: bool) -> None:
    assert origin_allowed(origin) is allowed


def test_extra_origins_and_loopback_hosts() -> None:
    assert origin_allowed("https://tools.example.com", ["https://tools.example.com/"])
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")


def test_a_decision_is_recorded_in_one_shape() -> None:
    text = decision_text("Use ULIDs as ids", "ids must sort by time", None, None, "ids, storage")
    sections = [
        "# Decision: Use ULIDs as ids",
        "## Context\nids must sort by time",
        "## Decision\nUse ULIDs as ids",
        "## Alternatives considered\n(fill in",
        "## Consequences\n(fill in",
    ]
    positions = [text.index(s) for s in sections]
    assert positions == sorted(positions)
    assert "tags=['ids', 'storage']" in text and 'kind="decision"' in text


def test_a_long_result_page_is_capped_near_20_kb_with_a_cursor_for_the_rest() -> None:
    def hit(i: int) -> Hit:
        m = Memory(
            id=f"01J{i:023d}",
            title=f"memory {i} " + "t" * 80,
            content="c" * 2_000,
            kind="note",
            tags=("a", "b"),
            project="p",
            anchor=None,
            source="user",
            external_id=None,
            source_url=None,
            provenance=Provenance.USER,
            visibility="private",
            created_at="2025-01-01T00:00:00Z",
            updated_at="2025-01-01T00:00:00Z",
            event_at=None,
            version=1,
            metadata={},
            content_hash="h",
        )
        return Hit(m, 0.5, ("text",), "s" * 1_000, "words: c")

    fp = paging.fingerprint("q")
    out = _recall_out("q", "p", 0, fp, SearchResult([hit(i) for i in range(50)], "text", "hybrid"))
    assert 10 <= len(out.hits) < 50 and all(len(h.snippet) <= 300 for h in out.hits)
    assert out.next_cursor and paging.decode(out.next_cursor, fp) == len(out.hits)
    assert any("next_cursor" in n for n in out.notices)
    wire = structured(out).model_dump_json(by_alias=True)
    assert len(wire.encode()) <= 21_000, len(wire)


# Start-up answers initialize and tools/list before the store opens: none of these may load by then.
HEAVY = (
    "numpy",
    "fastembed",
    "onnxruntime",
    "sqlite_vec",
    "sqlean",
    "core.service",
    "core.storage",
    "core.search",
    "core.graph",
    "core.embeddings",
    "core.config",
    "core.redact",
    "core.models",
)
START_UP = """
import sys
from mcp_server.logs import redact_log_handlers
from mcp_server.runtime import LazyService
from mcp_server.server import build_server

build_server(LazyService(lambda: None), "demo")
redact_log_handlers()
print(",".join(sorted(name for name in sys.modules if name in set(sys.argv[1:]))))
"""


def test_start_up_loads_neither_the_store_nor_the_model() -> None:
    out = subprocess.run(
        [sys.executable, "-c", START_UP, *HEAVY],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"


def test_log_records_are_redacted_by_the_lazily_loaded_filter() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LazyRedaction())
    record = logging.LogRecord(
        "devmem.test", logging.WARNING, __file__, 1, "pushing with %s", (SECRET,), None
    )
    handler.handle(record)
    assert SECRET not in stream.getvalue() and "REDACTED" in stream.getvalue(), stream.getvalue()
