"""The service on each backend: remember, recall (hybrid, with the real model), update,
versions, links, the graph and forget go through ``MemoryService`` unchanged; and what only
the PostgreSQL backend does (change notification, acting as a role, erasure by SQL)."""

from __future__ import annotations

import select
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.embeddings import FastEmbedEmbedder
from core.errors import StoreError
from core.models import MemoryInput, MemoryPatch
from core.service import MemoryService
from core.storage import acting_as, open_storage
from tests import pg_backend, pgserver


@pytest.fixture(params=["sqlite", "postgres"])
def service(
    request: pytest.FixtureRequest, tmp_path: Path, embedder: FastEmbedEmbedder
) -> Iterator[MemoryService]:
    location = (
        str(tmp_path / "svc.db")
        if request.param == "sqlite"
        else pgserver.shared().fresh_database("svc")
    )
    svc = MemoryService.open(location, embedder)
    yield svc
    svc.close()


def test_remember_recall_update_link_and_forget(service: MemoryService) -> None:
    pin = service.remember(
        MemoryInput(
            "We pinned numpy below 2.0 because the ONNX runtime wheels crash with it.",
            kind="decision",
            tags=["deps"],
            project="api",
        )
    ).memory
    retry = service.remember(
        MemoryInput("The upload worker retries three times with exponential backoff.")
    ).memory
    hits = service.recall("why is numpy pinned", mode="hybrid", limit=5).hits
    assert hits[0].memory.id == pin.id and {"text", "vector"} <= set(hits[0].matched)
    assert service.recall("exponential backoff", mode="text").hits[0].memory.id == retry.id
    assert service.recall("retrying uploads", mode="vector").hits[0].memory.id == retry.id

    changed = service.update(pin.id, MemoryPatch(content="We pinned numpy below 2.1 now."))
    assert changed.status == "updated" and service.get(pin.id).content.endswith("2.1 now.")
    assert [v.version for v in service.versions(pin.id)] == [1, 2]
    service.link(retry.id, pin.id, "related")
    assert [(x.source_id, x.target_id) for x in service.links(pin.id)] == [(retry.id, pin.id)]
    assert service.storage.entities_by_alias(["numpy"])  # the graph indexed the memory

    service.forget(pin.id)
    assert service.recall("numpy pinned", mode="text").hits == []
    assert service.storage.entities_by_alias(["numpy"]) == []
    assert service.stats()["memories"] == 1


@pytest.fixture
def pg_url(pg_server: pgserver.PgTestServer) -> str:
    url = pg_server.fresh_database("pgonly")
    open_storage(url).close()  # migrated
    return url


def test_a_batch_sees_its_own_writes(service: MemoryService) -> None:
    """One remember_many: an input identical to an earlier one of the same batch is found
    stored, and a connector item given twice is created, then updated (PostgreSQL looked on
    another connection, which could not see the batch's uncommitted rows: both created)."""
    pin = "We pinned numpy below 2.0 because the ONNX runtime wheels crash with it."
    results = service.remember_many(
        [
            MemoryInput(pin),
            MemoryInput("The upload worker retries three times."),
            MemoryInput(pin),
            MemoryInput("Issue 7: login loops", source="github", external_id="7"),
            MemoryInput("Issue 7: login loops on Safari", source="github", external_id="7"),
        ]
    )
    assert [r.status for r in results] == [
        "created",
        "created",
        "deduplicated",
        "created",
        "updated",
    ]
    assert results[2].memory.id == results[0].memory.id
    assert results[4].memory.id == results[3].memory.id
    assert service.storage.count() == 3
    issue = service.get(results[3].memory.id)
    assert issue.content.endswith("on Safari") and issue.version == 2
    assert [v.version for v in service.storage.versions(issue.id)] == [1, 2]
    assert service.recall("Safari login", mode="text").hits[0].memory.id == issue.id


def test_a_write_notifies_listeners_and_counts(pg_url: str) -> None:
    storage = open_storage(pg_url)
    try:
        with psycopg.connect(pg_url, autocommit=True) as listener:
            listener.execute("LISTEN devmem_changes")
            before = storage.change_count()
            with storage.transaction() as tx:
                tx.set_cursor("git", "repo", "abc")
            assert select.select([listener.fileno()], [], [], 5)[0], "no NOTIFY arrived"
            assert [n.channel for n in listener.notifies(timeout=1, stop_after=1)] == [
                "devmem_changes"
            ]
            assert storage.change_count() == before + 1
    finally:
        storage.close()


def test_acting_as_sets_the_role_of_every_statement(
    pg_server: pgserver.PgTestServer, pg_url: str
) -> None:
    pg_server.admin("DROP ROLE IF EXISTS devmem_actor")
    pg_server.admin("CREATE ROLE devmem_actor NOLOGIN")
    storage = open_storage(pg_url)
    try:
        with acting_as("devmem_actor"):
            with pytest.raises(StoreError, match="Not allowed"):  # no privileges granted
                storage.count()
        pg_backend.execute(storage, "GRANT SELECT ON memories TO devmem_actor")
        with acting_as("devmem_actor"):
            assert storage.count() == 0
        assert storage.count() == 0  # and the login role again outside the block
    finally:
        storage.close()


def test_bad_urls_and_credentials_say_what_to_do(pg_server: pgserver.PgTestServer) -> None:
    with pytest.raises(StoreError, match="refused the credentials") as refused:
        open_storage(pg_server.url("postgres", "postgres", "not-the-password"))
    assert "not-the-password" not in str(refused.value)
    with pytest.raises(StoreError, match="does not exist"):
        open_storage(pg_server.url("no_such_database"))


def test_store_urls_reach_the_backend_unchanged(pg_url: str) -> None:
    """--db / DEVMEM_DB keep a URL as text (a Path would fold its "//" into "/")."""
    from core.config import Settings

    settings = Settings.from_env({"DEVMEM_DB": pg_url})
    assert settings.db_path == pg_url
    assert Settings.from_env({}, db=pg_url.replace("postgresql://", "postgres://")).db_path == (
        pg_url.replace("postgresql://", "postgres://")
    )
    storage = open_storage(str(settings.db_path).replace("postgresql://", "postgres://"))
    try:
        assert storage.backend_check()[0] and "postgresql://postgres@" in storage.location
        assert pgserver.shared().password not in storage.location
    finally:
        storage.close()
