"""The console connector: grouping by fingerprint, counts that are never doubled, deletions,
malformed captures."""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from connectors.console import ConsoleConnector
from connectors.console_parse import fingerprint, load, normalise, top_function
from core.service import MemoryService

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "console" / "example.json"

KINDS = [
    (
        "error",
        "TypeError: Cannot read properties of undefined (reading 'price')",
        "TypeError: x\n    at lineTotal (https://shop.example.com/assets/cart.{build}.js:1:{col})",
    ),
    ("error", "Failed to fetch https://api.example.com/v2/orders/{n}?token=abc{n}", None),
    ("warning", "Slow request {uuid} took {n} ms", None),
    (
        "error",
        "Unhandled rejection: order {n} is locked by user {hexid}",
        "handleOrder@https://shop.example.com/app.{build}.js:3:{col}\nretry@https://shop.example.com/app.js:9:1",
    ),
    ("warning", "Deprecated API used {n} times since 2024-05-01T10:00:00Z", None),
]


def events(
    n: int, seed: int = 1, start: int = 1_715_600_000_000
) -> tuple[list[dict], dict[str, int]]:
    """``n`` events of the five kinds above (plus info noise), and how many of each kind."""
    rng = random.Random(seed)
    out, counts = [], {k[1]: 0 for k in KINDS}
    for i in range(n):
        if i % 10 == 9:
            out.append({"timestamp": start + i * 1000, "level": "info", "message": f"tick {i}"})
            continue
        level, message, stack = KINDS[rng.randrange(len(KINDS))]
        counts[message] += 1
        fill = {
            "n": rng.randrange(1, 99_999),
            "uuid": f"{rng.getrandbits(32):08x}-0b2f-4e55-9a61-3f1c2b7d9e10",
            "hexid": f"{rng.getrandbits(48):012x}",
            "build": f"{rng.getrandbits(24):06x}",
            "col": rng.randrange(1, 30_000),
        }
        event = {
            "timestamp": start + i * 1000,
            "level": level,
            "message": message.format(**fill),
            "url": f"https://shop.example.com/page/{rng.randrange(8)}?session={i}",
        }
        if stack:
            event["stack"] = stack.format(**fill)
        out.append(event)
    return out, counts


def write_jsonl(path: Path, items: list[dict], bad_lines: dict[int, str] | None = None) -> None:
    lines = [json.dumps(e) for e in items]
    for at, text in sorted((bad_lines or {}).items(), reverse=True):
        lines.insert(at, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def by_message(svc: MemoryService) -> dict[str, dict]:
    out = {}
    for ext_id in svc.external_ids("console"):
        m = svc.find_external("console", ext_id)
        assert m is not None
        out[m.metadata["normalised"]] = m.metadata
    return out


def test_example_capture_becomes_one_memory_per_recurring_error(svc, sync) -> None:
    report = sync(ConsoleConnector([EXAMPLE], project="shop"))
    assert (report.added, report.skipped) == (3, [])
    memories = [svc.find_external("console", k) for k in svc.external_ids("console")]
    price = next(m for m in memories if m and "reading 'price'" in m.title)
    assert (
        price.kind == "log" and price.project == "shop" and set(price.tags) == {"console", "error"}
    )
    assert price.metadata["count"] == 2 and price.metadata["function"] == "lineTotal"
    assert (price.metadata["first_seen"], price.metadata["last_seen"]) == (
        "2024-05-14T09:12:07Z",
        "2024-05-14T09:13:41Z",
    )
    assert price.metadata["urls"] == ["https://shop.example.com/cart"]
    assert "at renderCart" in price.metadata["stack"] and "Seen 2 times" in price.content
    assert price.source_url == EXAMPLE.as_uri() and price.event_at == "2024-05-14T09:13:41Z"
    slow = next(m for m in memories if m and m.title.startswith("Warning: Slow network"))
    assert slow.metadata["count"] == 2  # two ids, two durations, "warn" and "warning": one memory

    again = sync(ConsoleConnector([EXAMPLE], project="shop"))
    assert (again.added, again.updated, again.deleted) == (0, 0, 0)
    assert svc.find_external("console", price.external_id).metadata["count"] == 2  # type: ignore[union-attr]


def test_ten_thousand_events_make_a_handful_of_memories_with_exact_counts(
    tmp_path, svc, sync
) -> None:
    items, counts = events(10_000)
    capture = tmp_path / "session.jsonl"
    write_jsonl(capture, items, {17: "{not json", 5000: "[1, 2", 9000: '"just a string"'})
    report = sync(ConsoleConnector([capture], project="shop"))
    assert report.added == len(KINDS)
    assert report.skipped == [
        "session.jsonl line 18: malformed JSON (Expecting property name enclosed "
        "in double quotes at column 2)",
        "session.jsonl line 5002: malformed JSON (Expecting ',' delimiter at column 6)",
        "session.jsonl line 9003: not an event object (str)",
    ]
    stored = by_message(svc)
    assert sorted(m["count"] for m in stored.values()) == sorted(counts.values())
    assert sum(m["count"] for m in stored.values()) == 9_000
    fetch = next(m for k, m in stored.items() if k.startswith("Failed to fetch"))
    assert fetch["normalised"] == "Failed to fetch <url>"
    assert len(fetch["urls"]) == 5 and all("?" not in u for u in fetch["urls"])

    # the same file again: nothing counted twice
    again = sync(ConsoleConnector([capture], project="shop"))
    assert (again.added, again.updated) == (0, 0)
    assert sorted(m["count"] for m in by_message(svc).values()) == sorted(counts.values())

    # the capture grows: only the new events are added to the counts
    more, more_counts = events(500, seed=2, start=1_715_700_000_000)
    write_jsonl(capture, items + more, {17: "{not json", 5000: "[1, 2", 9000: '"just a string"'})
    grown = sync(ConsoleConnector([capture], project="shop"))
    assert grown.added == 0 and grown.updated == len(KINDS)
    expected = sorted(counts[k] + more_counts[k] for k in counts)
    assert sorted(m["count"] for m in by_message(svc).values()) == expected

    # a copy under another name is recognised; deleting the capture removes its counts
    copy = tmp_path / "copy.jsonl"
    shutil.copy(capture, copy)
    connector = ConsoleConnector([copy], project="shop")
    assert sync(connector).updated == 0 and "same content as" in connector.notes[0]
    capture.unlink()
    gone = sync(ConsoleConnector([], project="shop"))
    assert gone.deleted == len(KINDS)
    assert svc.external_ids("console") == {}


def test_malformed_and_oversized_captures_are_skipped_and_the_rest_imported(
    tmp_path, svc, sync
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(
        '[\n  {"level": "error", "message": "a"},\n  {"level": "error" "message": "b"}\n]\n'
    )
    binary = tmp_path / "dump.json"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    wrapped = tmp_path / "firefox.json"
    wrapped.write_text(
        json.dumps(
            {
                "entries": [
                    {
                        "timestamp": 1715678055,
                        "level": "error",
                        "message": "NS_ERROR_FAILURE",
                        "stack": "loadImage@https://shop.example.com/app.js:10:4\n@https://shop.example.com/app.js:1:1",
                    },
                    {
                        "timestamp": "2024-05-14T10:00:00Z",
                        "level": "severe",
                        "stackTrace": {
                            "callFrames": [{"functionName": "", "url": "x.js", "lineNumber": 1}]
                        },
                        "args": ["Uncaught", {"code": 7}],
                    },
                    {"level": "error"},
                ]
            }
        )
    )
    report = sync(
        ConsoleConnector([broken, binary, huge, wrapped, tmp_path / "missing.json"], project="p")
    )
    skipped = dict(line.split(": ", 1) for line in report.skipped)
    assert skipped[str(broken)] == "malformed JSON at line 3, column 21: Expecting ',' delimiter"
    assert skipped[str(binary)].startswith("binary file")
    assert "larger than the 25 MB limit" in skipped[str(huge)]
    assert skipped[str(tmp_path / "missing.json")] == "no such file or folder"
    assert skipped["firefox.json event 3"] == "no message"
    assert report.added == 2
    functions = {m["function"] for m in by_message(svc).values()}
    assert functions == {"loadImage", "<anonymous>"}


def test_folder_of_captures(tmp_path, svc, sync) -> None:
    folder = tmp_path / "captures"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "a.json")
    items, counts = events(200)
    write_jsonl(folder / "b.ndjson", items)
    (folder / "notes.txt").write_text("not a capture")
    report = sync(ConsoleConnector([folder], project="shop"))
    # the example's three errors and the five kinds, of which one (reading 'price' in
    # lineTotal) is the same error in both files: one memory counting both
    assert report.skipped == [] and report.added == 7
    price = by_message(svc)[KINDS[0][1]]
    assert price["count"] == 2 + counts[KINDS[0][1]]
    assert len(price["captures"]) == 2


def test_fingerprint_masks_variable_parts_but_not_quoted_names() -> None:
    a = normalise(
        "Failed to fetch https://a.example.com/x?id=1 after 300 ms for 5f2b9c7a-1111-2222-3333-444455556666"
    )
    assert a == "Failed to fetch <url> after <n> ms for <uuid>"
    assert (
        normalise("object 0x7ffe12 and deadbeef12 at 2024-01-01T10:00:00Z by a@b.io")
        == "object <hex> and <hex> at <time> by <email>"
    )
    assert normalise("reading 'price'") != normalise("reading 'name'")
    assert fingerprint("error", "x", "f") != fingerprint("warning", "x", "f")
    assert top_function("TypeError: x\n    at async Cart.load (https://a/b.js:1:2)") == "Cart.load"
    assert top_function("    at https://a/b.js:1:2") == "<anonymous>"
    assert load("").fatal == "empty file"
    assert load('{"foo": 1}').fatal and "JSON Lines" in (load('{"foo": 1}').fatal or "")


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64])
def test_captures_read_in_chunks_match_whole_file_parsing(chunk: int, monkeypatch) -> None:
    """Values cut at any window edge (numbers, strings, escapes, emoji) parse as json.loads does."""
    from connectors import json_stream

    monkeypatch.setattr(json_stream, "CHUNK", chunk)
    events = [
        {"level": "error", "message": m, "n": n, "x": {"a": [1, {"b": None}], "é": '💥\n"q'}}
        for m, n in [("a", -2500.0), ("b", 123456789012), ("c", 1e-7), ("d", True)]
    ]
    forms = [
        json.dumps(events),
        json.dumps(events, indent=2, ensure_ascii=False),
        json.dumps({"meta": {"v": 1.5}, "entries": events, "z": [2]}, indent=1),
        "\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n",
    ]
    for text in forms:
        cap = load(text)
        assert cap.fatal is None and [raw for _, raw in cap.items] == events, text[:80]
    broken = load(
        '[\n  {"level": "error", "message": "a"},\n  {"level": "error" "message": "b"}\n]\n'
    )
    assert broken.fatal == "malformed JSON at line 3, column 21: Expecting ',' delimiter"


def test_a_fifo_among_captures_is_skipped_unopened(tmp_path, svc, sync) -> None:
    folder = tmp_path / "captures"
    folder.mkdir()
    os.mkfifo(folder / "pipe.json")
    os.mkfifo(tmp_path / "given.json")
    (folder / "good.json").write_text(json.dumps([{"level": "error", "message": "boom"}]))
    report = sync(ConsoleConnector([folder, tmp_path / "given.json"], project="p"))
    skipped = dict(line.split(": ", 1) for line in report.skipped)
    assert skipped[str(folder / "pipe.json")].startswith("not a regular file (a FIFO")
    assert skipped[str(tmp_path / "given.json")].startswith("not a regular file (a FIFO")
    assert report.added == 1
