"""Fixtures of the MCP end-to-end tests (helpers live in mcp_helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def server_env(tmp_path: Path, model_cache: Path) -> dict[str, str]:
    """The environment of a server on this test's fresh store (the model cache is shared)."""
    env = {
        "DEVMEM_DB": str(tmp_path / "memories.db"),
        "DEVMEM_CACHE_DIR": str(model_cache),
        "HF_HUB_OFFLINE": "1",
        "PATH": os.environ.get("PATH", ""),
        "DEVMEM_ENGINE": "off",  # these tests are about the in-process server (tests/engine/: the engine)
    }
    if os.environ.get("PYTHONPATH"):  # as the test run has it
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env
