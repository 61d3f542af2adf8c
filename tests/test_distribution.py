"""The wheel as a user gets it: built from this tree, installed into a fresh virtualenv in a
temporary folder (no repository around, no PYTHONPATH, dependencies resolved by pip from the
package index as `pipx install` / `uv tool install` would), then `devmem doctor`,
`devmem-mcp` (tools/list through the SDK's client session) and `devmem-lsp` (initialize over
stdio) run from that virtualenv.

Cost: building the wheel ~3 s, the venv and the install ~25 s with a warm pip cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

pytestmark = pytest.mark.slow  # builds and installs a wheel: not in `make test-fast`

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = "devmem-layer"
# The layout's packages (DESIGN.md) plus the CLI under a name of its own; nothing generic.
TOP_LEVEL = {"core", "mcp_server", "lsp_server", "connectors", "devmem_cli"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path
    home: Path
    env: dict[str, str]


def _user_env(home: Path) -> dict[str, str]:
    """The environment of a user's shell: no PYTHONPATH, no active venv, a fresh HOME and store."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    dev_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != dev_bin)
    env.update(HOME=str(home), DEVMEM_DB=str(home / "memories.db"), HF_HUB_OFFLINE="1")
    env["DEVMEM_CACHE_DIR"] = str(home / "cache")
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("distribution")
    dist, home = root / "dist", root / "home"
    home.mkdir()
    env = _user_env(home)
    pip_wheel = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(dist),
        str(REPO),
    ]
    subprocess.run(pip_wheel, check=True, cwd=root, env=env)
    (wheel,) = dist.glob("*.whl")
    venv.EnvBuilder(with_pip=True).create(root / "venv")
    bin_dir = root / "venv" / "bin"
    install = [str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)]
    subprocess.run(install, check=True, cwd=root, env=env)
    yield Installed(wheel, bin_dir, home, env)


def run(installed: Installed, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=installed.home, env=installed.env, capture_output=True, text=True, timeout=120
    )


def test_the_wheel_is_named_ours_and_claims_only_the_layouts_packages(installed: Installed) -> None:
    assert installed.wheel.name.startswith(DISTRIBUTION.replace("-", "_") + "-")
    names = zipfile.ZipFile(installed.wheel).namelist()
    top = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert top == TOP_LEVEL
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "devmem = devmem_cli.launch:main" in scripts


def test_the_packages_come_from_the_venv_not_the_repository(installed: Installed) -> None:
    code = "import core, devmem_cli, mcp_server; print(core.__file__, devmem_cli.__file__)"
    out = run(installed, str(installed.bin / "python"), "-c", code)
    assert out.returncode == 0, out.stderr
    paths = [Path(p) for p in out.stdout.split()]
    assert all(installed.bin.parent in p.parents for p in paths), paths
    generic = run(installed, str(installed.bin / "python"), "-c", "import cli")
    assert "No module named 'cli'" in generic.stderr


def test_devmem_doctor_add_and_search_work(installed: Installed) -> None:
    doctor = run(installed, str(installed.bin / "devmem"), "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "All good." in doctor.stdout and "offline" in doctor.stdout
    devmem = str(installed.bin / "devmem")
    added = run(installed, devmem, "add", "We pin numpy below 2 for pandas", "--kind", "decision")
    assert added.returncode == 0, added.stderr
    found = run(installed, devmem, "search", "why is numpy pinned", "--json")
    assert "We pin numpy below 2" in found.stdout, found.stderr


async def test_devmem_mcp_lists_its_tools(installed: Installed) -> None:
    params = StdioServerParameters(
        command=str(installed.bin / "devmem-mcp"), env=installed.env, cwd=str(installed.home)
    )
    with (installed.home / "mcp-stderr.log").open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {tool.name for tool in (await session.list_tools()).tools}
    assert {"remember", "recall", "get_memory", "forget", "list_memories"} <= tools


def _lsp_message(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _read_lsp_message(stream: Any) -> dict[str, Any]:
    length = 0
    while (line := stream.readline().strip()) != b"":
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    return dict(json.loads(stream.read(length)))


def test_devmem_lsp_answers_initialize(installed: Installed) -> None:
    init = {"processId": None, "rootUri": installed.home.as_uri(), "capabilities": {}}
    server = subprocess.Popen(
        [str(installed.bin / "devmem-lsp")],
        cwd=installed.home,
        env=installed.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        server.stdin.write(
            _lsp_message({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        )
        server.stdin.flush()
        answer = _read_lsp_message(server.stdout)
        while answer.get("id") != 1:  # a log notification may come first
            answer = _read_lsp_message(server.stdout)
        server.stdin.write(_lsp_message({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
        server.stdin.write(_lsp_message({"jsonrpc": "2.0", "method": "exit"}))
        server.stdin.close()
        assert server.wait(timeout=30) == 0
    finally:
        server.kill()
    assert answer["id"] == 1
    assert answer["result"]["serverInfo"]["name"] == "devmem-lsp"
    assert answer["result"]["capabilities"]["hoverProvider"]
