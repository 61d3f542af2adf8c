"""Fixtures of the engine tests: each test has its own runtime folder (so it never meets a
developer's engine, nor another test's) and its engines are stopped at teardown."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import engine_request


def engine_env(tmp_path: Path, model_cache: Path, **extra: str) -> dict[str, str]:
    """A client environment with the engine on, in a runtime folder of this test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEVMEM_", "PYTEST_"))}
    env.update(
        DEVMEM_ENGINE="on",
        DEVMEM_RUNTIME_DIR=str(tmp_path / "run"),
        DEVMEM_DB=str(tmp_path / "memories.db"),
        DEVMEM_CACHE_DIR=str(model_cache),
        HF_HUB_OFFLINE="1",
        DEVMEM_ENGINE_IDLE="60",  # an engine a late client retry starts does not linger 15 min
    )
    env.update(extra)
    return env


def status(env: dict[str, str]) -> dict[str, Any] | None:
    return engine_request(env, "status")


def wait_gone(pid: int, timeout: float = 15.0) -> bool:
    """True once process ``pid`` has exited (reaped or not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _zombie(pid):  # dead, waiting for a parent that does not reap (a container's init)
            return True
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        time.sleep(0.05)
    return False


def _zombie(pid: int) -> bool:
    """Dead to the last thread. (A process's first thread shows "Z" while its other threads
    still exit; its files, the engine's sockets among them, close only with the last one.)"""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        threads = len(os.listdir(f"/proc/{pid}/task"))
    except (OSError, IndexError):
        return False
    return fields[0] == "Z" and threads <= 1


def stop_engine(env: dict[str, str]) -> None:
    """Stop this test's engine (kill it if it does not go), and any other engine of this
    test's runtime folder (one a client's retry started while the first was stopping)."""
    info = status(env)
    if info is not None:
        engine_request(env, "stop")
        if not wait_gone(int(info["pid"]), 10):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(info["pid"]), signal.SIGKILL)
    for pid in engines_of(env["DEVMEM_RUNTIME_DIR"]):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 5)


def engines_of(runtime_dir: str) -> list[int]:
    """Live processes whose environment names ``runtime_dir`` as DEVMEM_RUNTIME_DIR."""
    wanted = f"DEVMEM_RUNTIME_DIR={runtime_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ and not _zombie(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.fixture
def env(tmp_path: Path, model_cache: Path) -> Iterator[dict[str, str]]:
    env = engine_env(tmp_path, model_cache)
    yield env
    stop_engine(env)
