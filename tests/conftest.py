"""Shared fixtures: one real embedding model per test session, a fresh store per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The suite tests the clients working in-process (and must never reach a developer's own
# engine); tests/engine/ and tests/reliability/test_engine_safety.py switch the engine on,
# each with its own runtime folder.
os.environ.setdefault("DEVMEM_ENGINE", "off")

from core.embeddings import FastEmbedEmbedder  # noqa: E402
from core.service import MemoryService  # noqa: E402
from tests import pgserver  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("devmem-cache")


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> FastEmbedEmbedder:
    """The real default model, loaded once (it is offline: files come from PyPI packages)."""
    emb = FastEmbedEmbedder(model_cache / "models").start()
    assert emb.wait(120), emb.failure()
    return emb


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "memories.db"


@pytest.fixture
def svc(db_path: Path, embedder: FastEmbedEmbedder) -> Iterator[MemoryService]:
    """A fresh store per test (sqlite-utils' fresh_db idea) with the shared model."""
    service = MemoryService.open(db_path, embedder)
    yield service
    service.close()


@pytest.fixture
def cli_env(db_path: Path, model_cache: Path) -> dict[str, str]:
    """Environment for running the real console scripts against the test's store."""
    env = dict(os.environ)
    env.update(DEVMEM_DB=str(db_path), DEVMEM_CACHE_DIR=str(model_cache), HF_HUB_OFFLINE="1")
    return env


@pytest.fixture(scope="session")
def pg_server() -> pgserver.PgTestServer:
    """The tests' own PostgreSQL 18 + pgvector (started once per run; scram-sha-256 logins)."""
    return pgserver.shared()
