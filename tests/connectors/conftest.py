"""Fixtures for the local connectors: real git repositories and a sync helper."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.base import SyncContext, SyncReport
from core.service import MemoryService


class Repo:
    """A real git repository in a temporary folder, with deterministic authors and dates."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tick = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, **env: str) -> str:
        out = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            check=False,
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def write(self, rel: str, text: str | bytes) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8")

    def commit(
        self,
        message: str,
        *files: str,
        author: str = "Ada Lovelace",
        email: str = "ada@example.com",
    ) -> str:
        self.git("add", "-A", *files)
        self.tick += 1
        date = f"2024-01-{1 + self.tick // 24:02d}T{self.tick % 24:02d}:00:00+00:00"
        self.git(
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            GIT_AUTHOR_NAME=author,
            GIT_AUTHOR_EMAIL=email,
            GIT_AUTHOR_DATE=date,
            GIT_COMMITTER_DATE=date,
        )
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


@pytest.fixture(autouse=True)
def git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Isolate git from the machine's config (signing, hooks, default branch)."""
    home = tmp_path_factory.mktemp("git-home")
    config = home / ".gitconfig"
    config.write_text(
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Lovelace")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.com")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "shop")


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[str], Repo]:
    return lambda name: Repo(tmp_path / name)


Sync = Callable[..., SyncReport]


@pytest.fixture
def sync(svc: MemoryService) -> Sync:
    """Run a connector against the test's store: ``sync(connector, dry_run=False)``."""

    def run(
        connector: Any, *, dry_run: bool = False, service: MemoryService | None = None
    ) -> SyncReport:
        ctx = SyncContext(service or svc, connector.name, dry_run=dry_run)
        return connector.sync(ctx)

    return run


@pytest.fixture
def state_of() -> Callable[[MemoryService, str], dict[str, tuple[str, str]]]:
    """``state_of(svc, source)``: external id → (title, content hash) of what it imported."""
    return _state_of


def _state_of(svc: MemoryService, source: str) -> dict[str, tuple[str, str]]:
    """external id → (title, content hash) of everything ``source`` imported."""
    out = {}
    for ext_id in svc.external_ids(source):
        m = svc.find_external(source, ext_id)
        assert m is not None
        out[ext_id] = (m.title, m.content_hash)
    return out
