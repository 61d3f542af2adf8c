"""Privacy: with no connector run, nothing opens a network connection, and everything works.

Two fences, both applied to every process of the CLI, MCP and LSP flows:

* a fresh network namespace (``unshare -n``: no interface but a downed loopback) where the
  suite may create one (root); the flows must work without any network;
* an audit hook (``sitecustomize`` on PYTHONPATH) that records and refuses every
  ``socket.connect`` / ``bind`` / ``sendto`` that is not AF_UNIX and every name lookup, so
  that a library that tries and quietly gives up is caught too.

``HF_HUB_OFFLINE`` is deliberately not set: the model must load from installed files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from tests.reliability.helpers import DEVMEM, DEVMEM_LSP, DEVMEM_MCP, RawLsp, git_repo

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

SITECUSTOMIZE = '''
"""Installed by tests/reliability/test_privacy.py: record and refuse any network access."""
import os
import socket
import sys

_LOG = os.environ.get("DEVMEM_NET_AUDIT")
_SOCKET_CALLS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"}
_LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex",
            "socket.gethostbyaddr", "socket.getnameinfo"}


def _log(line):
    with open(_LOG, "a") as fh:
        fh.write(f"{os.getpid()} {sys.argv[0]} {line}\\n")


def _hook(event, args):
    if event in _SOCKET_CALLS:
        if getattr(args[0], "family", None) == socket.AF_UNIX:
            return
        address = args[1]
        if event == "socket.bind" and address[0] in ("::1", "127.0.0.1") and address[1] == 0:
            # urllib3 binds ::1 port 0 at import to learn whether IPv6 exists: no traffic.
            _log(f"local-probe {event} {address!r}")
            return
    elif event not in _LOOKUPS:
        return
    _log(f"{event} {args[1:]!r}")
    raise OSError(101, "network access blocked by the DevMemory privacy test")


if _LOG:
    sys.addaudithook(_hook)
'''


def _netns_prefix() -> list[str]:
    if (
        shutil.which("unshare")
        and subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode
        == 0
    ):
        return ["unshare", "-n"]
    return []


def _fenced_env(tmp_path: Path, model_cache: Path) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEVMEM_", "HF_", "PYTEST_")) and "proxy" not in k.lower()
    }
    env.update(
        DEVMEM_DB=str(tmp_path / "memories.db"),
        DEVMEM_CACHE_DIR=str(model_cache),
        DEVMEM_NET_AUDIT=str(tmp_path / "network.log"),
        DEVMEM_ENGINE="off",
        PYTHONPATH=str(site),
        HOME=str(tmp_path / "home"),
    )
    return env


def test_the_audit_fence_really_catches_a_connection(tmp_path, model_cache):
    env = _fenced_env(tmp_path, model_cache)
    code = (
        "import socket\nfor call in (lambda: socket.socket().connect(('127.0.0.1', 9)),\n"
        "             lambda: socket.getaddrinfo('example.com', 443)):\n"
        "    try:\n        call()\n    except OSError:\n        pass"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    log = (tmp_path / "network.log").read_text()
    assert "socket.connect" in log and "socket.getaddrinfo" in log


async def test_cli_mcp_and_lsp_work_with_no_network_and_try_none(tmp_path, model_cache, figures):
    env = _fenced_env(tmp_path, model_cache)
    prefix = _netns_prefix()

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*prefix, DEVMEM, *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "created" in run("add", "The staging cluster is rebuilt every night at 02:00.")
    assert "staging" in run("search", "when is staging rebuilt")
    doctor = run("doctor", "--check")  # loads the model, embeds a probe, checks every index
    assert "offline" in doctor and "All good" in doctor
    await _mcp_flow(env, prefix, tmp_path)
    await _lsp_flow(env, prefix, tmp_path)

    log = (tmp_path / "network.log").read_text() if (tmp_path / "network.log").exists() else ""
    attempts = [line for line in log.splitlines() if " local-probe " not in line]
    probes = len(log.splitlines()) - len(attempts)
    fence = "a fresh network namespace (unshare -n) and " if prefix else ""
    figures["privacy"] = (
        f"CLI add/search/doctor, MCP remember/recall, LSP remember/hover in {fence}"
        f"a socket audit hook: all worked; {len(attempts)} network attempts "
        f"({probes} local IPv6-support probes by urllib3, no traffic)"
    )
    assert attempts == []


async def _mcp_flow(env: dict[str, str], prefix: list[str], tmp_path: Path) -> None:
    command, args = (prefix[0], [*prefix[1:], DEVMEM_MCP]) if prefix else (DEVMEM_MCP, [])
    params = StdioServerParameters(command=command, args=[*args, "--project", "private"], env=env)
    with (tmp_path / "mcp.stderr.log").open("a") as errlog:
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as s,
        ):
            await s.initialize()
            made = await s.call_tool(
                "remember", {"content": "Invoices are numbered per tenant, never globally."}
            )
            assert not made.is_error and made.structured_content
            found = await s.call_tool("recall", {"query": "how are invoice numbers assigned"})
            assert not found.is_error and found.structured_content
            assert found.structured_content["mode"] == "hybrid"  # the model ran, offline
            assert made.structured_content["memory"]["id"] in [
                h["id"] for h in found.structured_content["hits"]
            ]


async def _lsp_flow(env: dict[str, str], prefix: list[str], tmp_path: Path) -> None:
    repo = git_repo(
        tmp_path / "shop", {"tax.py": "RATE = 0.2\n\n\ndef tax(total):\n    return total * RATE\n"}
    )
    lsp = await RawLsp.spawn(
        [*prefix, DEVMEM_LSP, "--db", env["DEVMEM_DB"]], env, tmp_path / "lsp.stderr.log", cwd=repo
    )
    try:
        await lsp.initialize(repo)
        uri = await lsp.open(repo / "tax.py")
        made = await lsp.command(
            "devmem.remember",
            {
                "content": "The tax rate is fixed by the finance team; do not change it in code.",
                "uri": uri,
                "range": {
                    "start": {"line": 0, "character": 0},
                    "end": {"line": 0, "character": 10},
                },
            },
        )
        assert made["status"] == "created"
        hover = await lsp.hover(uri, 0, 1)
        assert hover and "finance team" in str(hover)
    finally:
        await lsp.shutdown()
