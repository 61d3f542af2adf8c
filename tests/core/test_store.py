"""The store through the service API: writes, dedupe, limits, redaction, provenance, versions."""

from __future__ import annotations

import pytest

from core.errors import ContentTooLarge, InvalidInput, NotFound
from core.models import CodeAnchor, MemoryInput, MemoryPatch, Provenance
from core.service import MemoryService
from tests import sqlite_backend


def test_remember_stores_every_field_and_indexes(svc: MemoryService) -> None:
    inp = MemoryInput(
        "Use WAL mode so readers never block the writer.",
        title="SQLite WAL",
        kind="decision",
        tags=["SQLite", "#db", "sqlite"],
        project="devmem",
        anchor=CodeAnchor("core/db.py", 10, 12, "connect", "abc123"),
        visibility="team",
        event_at="2026-03-01",
        metadata={"ticket": "DM-1"},
    )
    result = svc.remember(inp)
    m = svc.get(result.memory.id)
    assert result.status == "created"
    assert (m.title, m.kind, m.tags, m.project, m.visibility) == (
        "SQLite WAL",
        "decision",
        ("sqlite", "db"),
        "devmem",
        "team",
    )
    assert m.anchor == CodeAnchor("core/db.py", 10, 12, "connect", "abc123")
    assert m.event_at == "2026-03-01T00:00:00Z" and m.metadata == {"ticket": "DM-1"}
    assert m.provenance is Provenance.USER and m.version == 1
    conn = sqlite_backend.conn(svc)
    assert conn.execute("SELECT count(*) FROM memory_fts").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM memory_vectors").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM memory_vec_rowids").fetchone()[0] == 1


def test_identical_content_is_deduplicated_per_project(svc: MemoryService) -> None:
    first = svc.remember(MemoryInput("Retry on HTTP 429 with backoff", project="a"))
    again = svc.remember(MemoryInput("  Retry on HTTP 429   with backoff\n", project="a"))
    other = svc.remember(MemoryInput("Retry on HTTP 429 with backoff", project="b"))
    assert again.status == "deduplicated" and again.memory.id == first.memory.id
    assert other.status == "created"
    assert svc.store.count() == 2


def test_secrets_are_redacted_before_storage_and_reported(svc: MemoryService) -> None:
    token = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    result = svc.remember(
        MemoryInput(f"CI uses token {token} for releases", metadata={"env": f"GH={token}"})
    )
    stored = svc.get(result.memory.id)
    assert token not in stored.content and token not in str(stored.metadata)
    assert "[REDACTED:" in stored.content
    # one in the content, one in the metadata: every field's redactions are reported
    assert [r.kind for r in result.redactions] and result.redactions[0].count == 2
    raw = (
        sqlite_backend.conn(svc)
        .execute("SELECT group_concat(content) FROM memory_fts")
        .fetchone()[0]
    )
    assert token not in raw


@pytest.mark.parametrize(
    "bad, error",
    [
        ("", InvalidInput),
        ("   \n", InvalidInput),
        ("nul\x00byte", InvalidInput),
        ("lone \ud800 surrogate", InvalidInput),
        ("x" * (512 * 1024 + 1), ContentTooLarge),
    ],
)
def test_bad_content_gets_a_clear_error_and_stores_nothing(
    svc: MemoryService, bad: str, error: type
) -> None:
    with pytest.raises(error) as info:
        svc.remember(MemoryInput(bad))
    assert str(info.value)
    assert svc.store.count() == 0


def test_size_limit_error_says_the_limit(svc: MemoryService) -> None:
    with pytest.raises(ContentTooLarge, match="524,288 bytes"):
        svc.remember(MemoryInput("é" * 300_000))


def test_bad_fields_are_rejected(svc: MemoryService) -> None:
    with pytest.raises(InvalidInput, match="visibility"):
        svc.remember(MemoryInput("x", visibility="everyone"))
    with pytest.raises(InvalidInput, match="kind"):
        svc.remember(MemoryInput("x", kind="Not A Kind!"))
    with pytest.raises(ContentTooLarge, match="nested deeper"):
        deep: dict[str, object] = {}
        cur = deep
        for _ in range(30):
            cur["a"] = {}
            cur = cur["a"]  # type: ignore[assignment]
        svc.remember(MemoryInput("x", metadata=deep))
    assert svc.store.count() == 0


def test_update_keeps_history(svc: MemoryService) -> None:
    mid = svc.remember(MemoryInput("Cache TTL is 60 s", kind="decision")).memory.id
    result = svc.update(mid, MemoryPatch(content="Cache TTL is 300 s", tags=["cache"]))
    assert result.status == "updated" and result.memory.version == 2
    versions = svc.versions(mid)
    assert [v.content for v in versions] == ["Cache TTL is 60 s", "Cache TTL is 300 s"]
    assert svc.recall("300", mode="text").hits[0].memory.id == mid
    assert not svc.recall("60", mode="text").hits


def test_assistant_cannot_overwrite_a_user_memory(svc: MemoryService) -> None:
    mid = svc.remember(MemoryInput("Deploys happen on Tuesdays", source="user")).memory.id
    result = svc.update(mid, MemoryPatch(content="Deploys happen any day"), source="assistant")
    assert result.status == "pending_review" and result.pending_version == 2
    assert svc.get(mid).content == "Deploys happen on Tuesdays"
    assert [v.pending for v in svc.versions(mid)] == [False, True]
    accepted = svc.accept_pending(mid, 2)
    assert accepted.status == "updated" and svc.get(mid).content == "Deploys happen any day"
    assert [v.pending for v in svc.versions(mid)][1] is False


def test_assistant_may_update_its_own_memory(svc: MemoryService) -> None:
    mid = svc.remember(MemoryInput("The build takes 4 minutes", source="assistant")).memory.id
    assert (
        svc.update(mid, MemoryPatch(content="The build takes 3 minutes"), source="assistant").status
        == "updated"
    )
    assert svc.get(mid).provenance is Provenance.AI


def test_forget_removes_every_trace(svc: MemoryService) -> None:
    a = svc.remember(MemoryInput("Kafka consumer lag alert fires at 10k messages")).memory.id
    b = svc.remember(MemoryInput("Kafka partitions were raised to 12")).memory.id
    svc.link(a, b, "related")
    removed = svc.forget(a)
    assert removed.id == a
    with pytest.raises(NotFound):
        svc.get(a)
    conn = sqlite_backend.conn(svc)
    for table in (
        "memory_fts",
        "memory_vectors",
        "memory_vec_rowids",
        "memory_tags",
        "memory_versions",
    ):
        column = "memory_rowid" if table in ("memory_tags", "memory_versions") else "rowid"
        assert (
            conn.execute(
                f"SELECT count(*) FROM {table} WHERE {column} NOT IN (SELECT rowid FROM memories)"
            ).fetchone()[0]
            == 0
        )
    assert conn.execute("SELECT count(*) FROM memory_links").fetchone()[0] == 0
    assert svc.links(b) == []


def test_unknown_id_is_not_found(svc: MemoryService) -> None:
    with pytest.raises(NotFound, match="No memory"):
        svc.get("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(NotFound):
        svc.forget("nope")


def test_links_are_typed_and_validated(svc: MemoryService) -> None:
    a = svc.remember(MemoryInput("ADR 7: use Postgres")).memory.id
    b = svc.remember(MemoryInput("ADR 9: move to SQLite for local mode")).memory.id
    link = svc.link(b, a, "supersedes")
    assert (link.source_id, link.target_id, link.type) == (b, a, "supersedes")
    with pytest.raises(InvalidInput, match="link type"):
        svc.link(a, b, "likes")
    with pytest.raises(InvalidInput):
        svc.link(a, a)


def test_external_upsert_is_idempotent(svc: MemoryService) -> None:
    inp = MemoryInput("Fix race in cache warmup", source="git", external_id="abc", kind="commit")
    assert svc.sync_batch([inp])[0].status == "created"  # type: ignore[union-attr]
    assert svc.sync_batch([inp])[0].status == "unchanged"  # type: ignore[union-attr]
    changed = MemoryInput(
        "Fix race in cache warmup (amended)", source="git", external_id="abc", kind="commit"
    )
    result = svc.sync_batch([changed], cursor=("git", "repo", "head1"))[0]
    assert result.status == "updated" and result.memory.version == 2  # type: ignore[union-attr]
    assert svc.store.count() == 1 and svc.get_cursor("git", "repo") == "head1"
    deleted = svc.sync_batch([], deletions=[("git", "abc")])
    assert len(deleted) == 1 and svc.store.count() == 0


def test_memory_written_without_model_gets_a_vector_on_reindex(db_path, embedder) -> None:  # type: ignore[no-untyped-def]
    from core import maintenance
    from core.embeddings import UnavailableEmbedder

    offline = MemoryService.open(db_path, UnavailableEmbedder("off for the test"))
    offline.remember(MemoryInput("Written while the model was off"))
    assert offline.recall("model off").mode == "text"
    offline.close()
    online = MemoryService.open(db_path, embedder)
    assert maintenance.reindex(online, full=False) == 1
    assert all(c.ok for c in maintenance.consistency(online))
