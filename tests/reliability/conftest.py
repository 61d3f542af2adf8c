"""Fixtures of the reliability suite, and the figures it prints at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.helpers import server_env

FIGURES: dict[str, str] = {}


@pytest.fixture
def figures() -> dict[str, str]:
    """Record a figure (``figures["kills survived"] = "50"``); all are printed after the run."""
    return FIGURES


@pytest.fixture
def env(tmp_path: Path, model_cache: Path) -> dict[str, str]:
    """Console-script environment on this test's fresh store, with the embedding model."""
    return server_env(tmp_path / "memories.db", model_cache)


@pytest.fixture
def text_env(tmp_path: Path, model_cache: Path) -> dict[str, str]:
    """The same, text search only (DEVMEM_EMBEDDINGS=0): for tests about everything but vectors."""
    return server_env(tmp_path / "memories.db", model_cache, embeddings=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")
