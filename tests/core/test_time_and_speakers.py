"""Time expressions and speakers in queries: parsing, and what they do to the ranking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core import timeexpr, validate
from core.errors import InvalidInput
from core.models import MemoryInput, SearchFilters
from core.service import MemoryService

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "since", "until", "rest"),
    [
        (
            "What dish did Nate make on 9 November, 2022?",
            "2022-11-08",
            "2022-11-11",
            "What dish did Nate make ?",
        ),
        ("painting shown on October 13, 2023", "2023-10-12", "2023-10-15", "painting shown"),
        ("deploy notes 2024-03-05", "2024-03-04", "2024-03-07", "deploy notes"),
        (
            "In what activity did Maria take part in July 2023?",
            "2023-07-01",
            "2023-08-01",
            "In what activity did Maria take part ?",
        ),
        (
            "Which career-high performances did John achieve in 2023?",
            "2023-01-01",
            "2024-01-01",
            "Which career-high performances did John achieve ?",
        ),
        (
            "Where was John between August 11 and August 15 2023?",
            "2023-08-10",
            "2023-08-17",
            "Where was John ?",
        ),
        (
            "Where was Tim in the week before 16 November 2023?",
            "2023-11-09",
            "2023-11-16",
            "Where was Tim in ?",
        ),
        ("migrations before March 2024", None, "2024-03-01", "migrations"),
        ("outages since 2025", "2025-01-01", None, "outages"),
    ],
)
def test_absolute_time_windows(query: str, since: str | None, until: str | None, rest: str) -> None:
    when = timeexpr.parse(query, NOW)
    assert when is not None
    assert (when.since or "")[:10] == (since or "") and (when.until or "")[:10] == (until or "")
    assert when.rest == rest


def test_relative_windows_keep_their_words() -> None:
    when = timeexpr.parse("what did we decide last week", NOW)
    assert (
        when is not None
        and when.since == "2026-11-15T00:00:00Z"
        and when.until == "2026-11-23T00:00:00Z"
    )
    assert when.rest == "what did we decide last week"
    yesterday = timeexpr.parse("errors yesterday", NOW)
    assert (
        yesterday is not None
        and yesterday.since == "2026-11-21T00:00:00Z"
        and yesterday.until == "2026-11-22T00:00:00Z"
    )


@pytest.mark.parametrize(
    "query",
    [
        "port 8080 on the 31 February, 2023 build",
        "may the cache expire",
        "version 3000",
        "between friends and family",
        "",
        "13 Smarch 2023",
    ],
)
def test_text_that_is_not_a_date_names_no_window(query: str) -> None:
    when = timeexpr.parse(query, NOW)
    assert when is None or (when.since, when.until) != (None, None)
    if query in ("may the cache expire", "version 3000", "between friends and family", ""):
        assert when is None


def _chat(svc: MemoryService, day: str, lines: list[str]) -> list[str]:
    out = svc.remember_many(
        [
            MemoryInput(line, kind="chat", event_at=f"{day}T10:00:00Z", source="chat")
            for line in lines
        ]
    )
    return [r.memory.id for r in out]


def test_a_named_day_ranks_that_days_memories_first(svc: MemoryService) -> None:
    _chat(svc, "2023-03-01", ["Ana: I baked a lemon cake for the team today."])
    later = _chat(svc, "2023-06-14", ["Ana: Made a chocolate cake for the release party!"])
    _chat(svc, "2023-09-30", ["Ana: Another cake: carrot, with walnuts."])
    result = svc.recall("What cake did Ana make on 14 June, 2023?", limit=3)
    assert result.hits[0].memory.id == later[0]
    assert "from the time the query names" in result.hits[0].why
    # without the date the three cakes compete on words alone: the window is what decides
    plain = svc.recall("What cake did Ana make?", limit=3)
    assert {h.memory.id for h in plain.hits} >= {later[0]}


def test_time_window_meets_the_callers_own_filters(svc: MemoryService) -> None:
    ids = _chat(svc, "2023-06-14", ["Ana: the deploy failed on the 14th"])
    _chat(svc, "2023-06-20", ["Ana: the deploy failed again"])
    result = svc.recall(
        "deploy failed in June 2023", filters=SearchFilters(since="2023-06-18T00:00:00Z")
    )
    assert ids[0] not in {h.memory.id for h in result.hits}


def test_messages_by_the_person_a_query_names_come_first(svc: MemoryService) -> None:
    # both lines name both people: only who is speaking tells them apart
    by_bob = svc.remember(
        MemoryInput("Bob: Carol fixed the flaky retry test.", kind="chat")
    ).memory.id
    by_carol = svc.remember(
        MemoryInput("Carol: Bob fixed the flaky retry test.", kind="chat")
    ).memory.id
    carol = svc.recall("what did Carol say about the flaky retry test", limit=2).hits
    bob = svc.recall("what did Bob say about the flaky retry test", limit=2).hits
    assert [h.memory.id for h in carol] == [by_carol, by_bob]
    assert [h.memory.id for h in bob] == [by_bob, by_carol]
    assert "said by a person the query names" in carol[0].why


def test_speaker_from_connector_metadata(svc: MemoryService) -> None:
    dana = svc.remember(
        MemoryInput(
            "The cache key must include the tenant id.",
            kind="issue",
            metadata={"author": {"name": "Dana Scully", "login": "dscully"}},
        )
    ).memory.id
    fox = svc.remember(
        MemoryInput(
            "The cache key must include the tenant id!",
            kind="issue",
            metadata={"author": "Fox Mulder <fox@example.com>"},
        )
    ).memory.id
    assert [
        h.memory.id for h in svc.recall("what did dana write about the cache key", limit=2).hits
    ] == [dana, fox]
    assert [
        h.memory.id for h in svc.recall("what did Mulder write about the cache key", limit=2).hits
    ] == [fox, dana]


def test_notes_are_not_read_as_speakers(svc: MemoryService) -> None:
    svc.remember(MemoryInput("Decision: the cache key includes the tenant id.", kind="decision"))
    hit = svc.recall("which decision about the cache key", limit=1).hits[0]
    assert "said by" not in hit.why


def test_a_question_query_prefers_the_answer_to_the_same_question(svc: MemoryService) -> None:
    asked = svc.remember(
        MemoryInput(
            "Ana: why is numpy pinned below 2.0?",
            kind="chat",
            source="chat",
            event_at="2025-05-02T10:00:00Z",
        )
    ).memory.id
    answer = svc.remember(
        MemoryInput(
            "Ben: the onnx wheels we ship were built against numpy 1.x, so 2.0 breaks them.",
            kind="chat",
            source="chat",
            event_at="2025-05-02T10:00:00Z",
        )
    ).memory.id
    question = [h.memory.id for h in svc.recall("why is numpy pinned below 2.0?", limit=2).hits]
    assert question == [answer, asked]
    # not a question: the memory that says it best comes first
    assert [h.memory.id for h in svc.recall("numpy pinned below 2.0", limit=2).hits][0] == asked


# ---- event time given by the caller ------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2023-05-08", "2023-05-08T00:00:00Z"),
        ("2023-05-08T14:30", "2023-05-08T14:30:00Z"),
        ("2023-05-08T14:30:00+02:00", "2023-05-08T12:30:00Z"),
        ("  ", None),
        (None, None),
    ],
)
def test_event_time_is_normalised_to_utc(given: str | None, stored: str | None) -> None:
    assert validate.event_time(given) == stored


@pytest.mark.parametrize("bad", ["last tuesday", "2023-13-01", "08/05/2023", "x" * 80])
def test_an_unreadable_event_time_is_refused_with_the_format_to_use(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate.event_time(bad)
    assert "event_at" in str(caught.value) or "event_at" in (caught.value.hint or "")
    assert "2026-03-01" in str(caught.value)
