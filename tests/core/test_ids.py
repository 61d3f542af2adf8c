"""Short ids and id prefixes: one resolution in the service, so the CLI, MCP tools and LSP
commands all accept a unique prefix and refuse an ambiguous one with the candidates."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from core import InvalidInput, MemoryInput, MemoryService, NotFound
from core.ids import SHORT_ID, new_id


def test_new_ids_increase_and_differ_in_their_first_ten_characters() -> None:
    made = [new_id() for _ in range(2000)]  # far more than one millisecond's worth
    assert made == sorted(made) and len(set(made)) == len(made)
    assert len({i[:SHORT_ID] for i in made}) == len(made)


def _two(svc: MemoryService) -> tuple[str, str]:
    a = svc.remember(MemoryInput(content="retry the flaky upload test three times")).memory.id
    b = svc.remember(MemoryInput(content="pin numpy below 2 for pandas")).memory.id
    return a, b


def test_a_unique_prefix_names_the_memory_in_every_id_taking_call(svc: MemoryService) -> None:
    a, b = _two(svc)
    assert svc.get(a[:SHORT_ID].lower()).id == a
    assert svc.resolve_id(b[:SHORT_ID]) == b
    link = svc.link(a[:SHORT_ID], b[:SHORT_ID], "related")
    assert (link.source_id, link.target_id) == (a, b)
    assert [x.target_id for x in svc.links(a[:12])] == [b]
    assert svc.forget(b[:SHORT_ID]).id == b
    with pytest.raises(NotFound):
        svc.get(b)


def test_an_ambiguous_prefix_is_refused_with_the_candidates(svc: MemoryService) -> None:
    a, b = _two(svc)
    common = os.path.commonprefix([a, b])
    assert len(common) >= 4  # made within the same second
    with pytest.raises(InvalidInput) as caught:
        svc.forget(common)
    assert a in str(caught.value) and b in str(caught.value)
    assert "more characters" in str(caught.value)
    assert svc.get(a).id == a and svc.get(b).id == b  # nothing was deleted


def test_unknown_and_too_short_prefixes_are_not_found(svc: MemoryService) -> None:
    a, _ = _two(svc)
    with pytest.raises(NotFound, match="unique prefix"):
        svc.get("ZZZZZZZZ")
    with pytest.raises(NotFound):
        svc.get(a[:3])  # below 4 characters a prefix is not looked up


def test_short_ids_grow_only_where_stored_ids_share_more(svc: MemoryService) -> None:
    a, b = _two(svc)
    assert svc.short_ids([a, b]) == {a: a[:SHORT_ID], b: b[:SHORT_ID]}
    # ids of an older store, made in one millisecond, differ only near the end
    twin_id = a[:-2] + ("00" if a[-2:] != "00" else "11")
    twin = svc.get(a)
    svc.restore([replace(twin, id=twin_id, content="another text", content_hash="x")])
    shown = svc.short_ids([a, twin_id])
    assert shown[a] != shown[twin_id]
    assert len(shown[a]) == len(os.path.commonprefix([a, twin_id])) + 1
    assert svc.get(shown[twin_id]).id == twin_id
