"""The HTTP server's own logs never carry a secret, and an off-loopback token must be strong
(issue 20: D10 and the bearer-token finding)."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from tests.mcp.mcp_helpers import free_port
from tests.reliability.helpers import DEVMEM_MCP, server_env
from tests.reliability.test_security import HEADERS, INIT, TOKEN, _wait_listening

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

LEAK = "ghp_R8mT2xQ9vL4kW7nB3cJ6hF1dS5gA0zYpE2uK"  # a GitHub token's shape, not a real one


def test_the_access_log_is_redacted(tmp_path, model_cache):
    env = server_env(
        tmp_path / "memories.db", model_cache, embeddings=False, DEVMEM_MCP_TOKEN=TOKEN
    )
    port = free_port()
    proc = subprocess.Popen(
        [DEVMEM_MCP, "--http", "--port", str(port), "--log-level", "INFO"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_listening(proc, port)
        url = f"http://127.0.0.1:{port}/mcp?access_token={LEAK}"
        for auth in (TOKEN, "wrong"):
            httpx.post(
                url, json=INIT, headers={**HEADERS, "authorization": f"Bearer {auth}"}, timeout=20
            )
    finally:
        proc.terminate()
        stderr, _ = proc.communicate(timeout=20)  # uvicorn's access log goes to stdout
    assert "POST /mcp?access_token=" in stderr, stderr[-2000:]  # the access log is still written
    assert LEAK[4:20] not in stderr, stderr[-2000:]
    assert TOKEN not in stderr


def test_a_weak_token_is_refused_off_loopback_with_a_way_to_make_one(tmp_path, model_cache):
    env = server_env(tmp_path / "memories.db", model_cache, embeddings=False)
    for weak in ("a", "password", "abababababababababababababababababab", "x" * 40):
        run = subprocess.run(
            [DEVMEM_MCP, "--http", "--host", "0.0.0.0", "--port", str(free_port())],
            env={**env, "DEVMEM_MCP_TOKEN": weak},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2, (weak, run.stderr)
        assert "token" in run.stderr.lower() and "secrets.token_urlsafe" in run.stderr, run.stderr
        assert weak not in run.stderr or len(weak) < 3
