"""Schema versions, export/import round trips, backups."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

from core import maintenance, portability
from core.errors import StoreError
from core.models import CodeAnchor, MemoryInput
from core.service import MemoryService
from core.storage import sqlite_db as db
from core.storage.sqlite_store import Store
from tests import sqlite_backend


def test_fresh_database_is_at_the_current_schema(db_path: Path) -> None:
    store = Store(db_path)
    assert db.get_meta(store.conn(), "schema_version") == str(db.SCHEMA_VERSION)
    assert store.conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_migration_from_an_empty_version_zero_file(db_path: Path) -> None:
    conn = db.connect(db_path)
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    conn.close()
    assert db.migrate(db.connect(db_path), threading.RLock(), str(db_path)) == db.SCHEMA_VERSION
    Store(db_path).conn().execute("SELECT count(*) FROM memories").fetchone()


def test_newer_schema_is_refused_with_advice(db_path: Path) -> None:
    Store(db_path).close()
    conn = db.connect(db_path)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreError, match="Upgrade DevMemory"):
        Store(db_path)


def _fill(svc: MemoryService) -> list[str]:
    a = svc.remember(
        MemoryInput(
            "Decision: queue retries use exponential backoff",
            kind="decision",
            tags=["queue"],
            project="p",
            anchor=CodeAnchor("q/retry.py", 3, 9, "retry"),
            metadata={"nested": {"list": [1, "two"]}},
            event_at="2024-05-06",
        )
    ).memory.id
    b = svc.remember(
        MemoryInput("Multi-line\nnote with ünïcode — and “quotes”\n\n", source="assistant")
    ).memory.id
    svc.link(a, b, "references")
    return [a, b]


def _comparable(svc: MemoryService, ids: list[str]) -> list[tuple]:  # type: ignore[type-arg]
    out = []
    for i in ids:
        m = svc.get(i)
        out.append(
            (
                m.id,
                m.title,
                m.content,
                m.kind,
                m.tags,
                m.project,
                m.anchor,
                m.source,
                m.provenance,
                m.visibility,
                m.created_at,
                m.updated_at,
                m.event_at,
                m.metadata,
                [(link.source_id, link.target_id, link.type) for link in svc.links(i)],
            )
        )
    return out


def test_jsonl_round_trip_loses_nothing(svc: MemoryService, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    ids = _fill(svc)
    buf = io.StringIO()
    assert portability.export_jsonl(svc, buf) == 2
    other = MemoryService.open(tmp_path / "other.db", embedder)
    assert portability.import_records(
        other, portability.read_jsonl(buf.getvalue().splitlines())
    ) == (2, 0)
    assert _comparable(other, ids) == _comparable(svc, ids)
    assert portability.import_records(
        other, portability.read_jsonl(buf.getvalue().splitlines())
    ) == (0, 2)
    assert other.recall("exponential backoff").hits[0].memory.id == ids[0]
    assert all(c.ok for c in maintenance.consistency(other))


def test_markdown_round_trip_loses_nothing(svc: MemoryService, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    ids = _fill(svc)
    folder = tmp_path / "md"
    assert portability.export_markdown(svc, folder) == 2
    assert len(list(folder.glob("*.md"))) == 2
    other = MemoryService.open(tmp_path / "other.db", embedder)
    portability.import_records(other, portability.read_markdown(folder))
    assert _comparable(other, ids) == _comparable(svc, ids)


def test_markdown_import_skips_a_bad_file_with_its_reason(
    svc: MemoryService, tmp_path: Path
) -> None:
    from core.errors import InvalidInput

    folder = tmp_path / "md"
    folder.mkdir()
    (folder / "01-no-front-matter.md").write_text("just text\n")
    (folder / "02-not-a-record.md").write_text("---\ntitle: no id\n---\nbody\n")
    (folder / "03-good.md").write_text(
        "---\nid: 01HZY0000000000000000000AB\ntitle: Good\ncreated_at: '2024-01-01T00:00:00Z'\n---\nkept\n"
    )
    skipped: list[str] = []
    assert portability.import_records(svc, portability.read_markdown(folder), skipped) == (1, 0)
    assert len(skipped) == 2 and "01-no-front-matter.md has no front matter" in skipped[0]
    assert "02-not-a-record.md: not a DevMemory export record" in skipped[1]
    assert [m.content for m in svc.list().memories] == ["kept\n"]
    with pytest.raises(InvalidInput, match="no front matter"):  # without a list to note them: stops
        portability.import_records(svc, portability.read_markdown(folder))


def test_restore_goes_through_the_write_path(svc: MemoryService) -> None:
    """Restore keeps id and times, and redacts like remember (a secret in any field)."""
    from core.models import Memory, Provenance

    key = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    m = Memory(
        id="01HZY0000000000000000000AC",
        title="t",
        content=f"key {key}",
        kind="note",
        tags=(),
        project=None,
        anchor=None,
        source="user",
        external_id=None,
        source_url=None,
        provenance=Provenance.USER,
        visibility="private",
        created_at="2024-01-01T00:00:00Z",
        updated_at="2024-01-02T00:00:00Z",
        event_at=None,
        version=3,
        metadata={"k": key},
        content_hash="",
    )
    (written,) = svc.restore([m, m])
    stored = svc.get(m.id)
    assert (stored.created_at, stored.updated_at, stored.version) == (m.created_at, m.updated_at, 3)
    assert key not in stored.content and key not in str(stored.metadata) and stored == written
    assert svc.restore([m]) == []  # already present: left alone


def test_malformed_jsonl_says_which_line(svc: MemoryService) -> None:
    from core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="record 1: not a DevMemory export record"):
        portability.import_records(svc, portability.read_jsonl(['{"id": 1}']))
    good = '{"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "title": "t", "content": "kept", "created_at": "2025-01-01T00:00:00Z"}'
    with pytest.raises(InvalidInput, match="line 2"):
        portability.import_records(svc, portability.read_jsonl([good, "{nope"]))
    assert [m.content for m in svc.list().memories] == ["kept"]


def test_backup_is_a_consistent_copy(svc: MemoryService, tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    ids = _fill(svc)
    dest = maintenance.backup(svc, tmp_path / "backup.db")
    copy = MemoryService.open(dest, embedder)
    assert {m.id for m in copy.list().memories} == set(ids)
    with pytest.raises(StoreError, match="already exists"):
        maintenance.backup(svc, dest)


def test_doctor_check_finds_a_missing_fts_row(svc: MemoryService) -> None:
    _fill(svc)
    assert all(c.ok for c in maintenance.consistency(svc))
    with sqlite_backend.write(svc) as conn:
        conn.execute("DELETE FROM memory_fts WHERE rowid = (SELECT min(rowid) FROM memories)")
    bad = [c for c in maintenance.consistency(svc) if not c.ok]
    assert [c.name for c in bad] == ["full-text index"] and "reindex --text" in bad[0].fix
    maintenance.reindex_text(svc)
    assert all(c.ok for c in maintenance.consistency(svc))


def test_model_change_is_detected(svc: MemoryService, db_path: Path) -> None:
    _fill(svc)
    conn = sqlite_backend.conn(svc)
    with sqlite_backend.write(svc) as w:
        db.set_meta(w, "embedding_model", "fastembed:some/other-model")
    svc.reset_vector_check()
    assert not svc.vectors_usable()
    assert "devmem reindex" in (svc.vector_notice() or "")
    assert svc.recall("backoff").mode == "text"
    assert maintenance.reindex(svc) == 2
    assert db.get_meta(conn, "embedding_model") == svc.embedder.identity
    assert svc.recall("backoff").mode == "hybrid"
