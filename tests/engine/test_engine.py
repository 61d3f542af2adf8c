"""The per-user engine end to end: real `devmem-mcp`, `devmem-lsp` and `devmem` processes
sharing one `devmem serve`, its socket security, its lifetime and the fallback."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.engine.conftest import engine_env, status, stop_engine, wait_gone
from tests.mcp.mcp_helpers import call, stdio_session
from tests.reliability.helpers import DEVMEM, DEVMEM_LSP, RawLsp

pytestmark = pytest.mark.slow  # processes and an engine per test: `make test-fast` leaves it out

REPO = Path(__file__).resolve().parents[2]


def devmem(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DEVMEM, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


async def test_four_clients_share_one_engine_and_one_model(env, tmp_path):
    async with contextlib.AsyncExitStack() as stack:
        mcp = [await stack.enter_async_context(stdio_session(env)) for _ in range(3)]
        lsp = await RawLsp.spawn([DEVMEM_LSP], env, tmp_path / "lsp.err")
        stack.push_async_callback(lsp.close)
        await lsp.initialize(tmp_path)
        await lsp.notify("initialized", {})

        wrote = await call(
            mcp[0],
            "remember",
            content="We pin numpy below 2 because pandas 1.5 breaks on it",
            kind="decision",
        )
        memory_id = wrote["memory"]["id"]
        found = await call(mcp[1], "recall", query="why is numpy held back")
        assert found["mode"] == "hybrid" and found["hits"][0]["id"] == memory_id
        listed = await mcp[2].list_tools()
        assert "recall" in {t.name for t in listed.tools}

        cli = devmem(env, "search", "numpy pinned", "--json")
        assert cli.returncode == 0, cli.stderr
        assert json.loads(cli.stdout)["hits"][0]["memory"]["id"] == memory_id

        info = status(env)
        assert info is not None
        assert info["model_loads"] == 1
        assert info["clients"] == {"mcp": 3, "lsp": 1}
        assert info["served"]["cli"] == 1
        assert info["stores"] == [str(Path(env["DEVMEM_DB"]).resolve())]


def test_cli_search_runs_in_the_engine_with_the_commands_output_and_exit_code(env):
    assert (
        devmem(env, "add", "Retry the flaky upload test three times", "--kind", "note").returncode
        == 0
    )
    first = devmem(env, "search", "flaky upload")
    assert first.returncode == 0 and "Retry the flaky upload" in first.stdout
    assert "engine" not in first.stderr  # no notice: it ran in the engine
    info = status(env)
    assert info is not None and info["served"] == {"cli": 1}
    assert info["idle_after_s"] == float(env["DEVMEM_ENGINE_IDLE"])  # the client's setting

    bad = devmem(env, "search", "x", "--mode", "bogus")
    assert bad.returncode == 2 and "bogus" in bad.stderr and bad.stdout == ""
    assert status(env)["served"] == {"cli": 2}  # type: ignore[index]


def test_store_selection_is_the_clients(env, tmp_path):
    other = tmp_path / "other.db"
    assert devmem(env, "--db", str(other), "add", "only in the other store").returncode == 0
    assert (
        "only in the other store"
        in devmem(env, "--db", str(other), "search", "other", "--json").stdout
    )
    assert "only in the other store" not in devmem(env, "search", "other", "--json").stdout
    via_env = devmem({**env, "DEVMEM_DB": str(other)}, "search", "other", "--json")
    assert "only in the other store" in via_env.stdout
    relative = subprocess.run(  # a relative --db is the client's, not the engine's (cwd /)
        [DEVMEM, "--db", "other.db", "search", "other", "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "only in the other store" in relative.stdout, relative.stderr
    assert len(status(env)["stores"]) == 2  # type: ignore[index]


def test_socket_folder_and_files_are_owner_only(env):
    assert devmem(env, "search", "anything").returncode == 0
    folder = Path(env["DEVMEM_RUNTIME_DIR"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    names = {p.suffix: stat.S_IMODE(p.lstat().st_mode) for p in folder.iterdir()}
    assert names == {".sock": 0o600, ".lock": 0o600, ".log": 0o600}


def _someone_elses_folder(tmp_path: Path) -> Path:
    """A folder owned by another user: made and given away when we are root, else '/'."""
    if os.getuid() != 0:
        return Path("/")
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    return folder


@pytest.mark.parametrize("where", ["someone else's", "not creatable"])
async def test_clients_fall_back_with_one_notice(tmp_path, model_cache, where):
    folder = (
        _someone_elses_folder(tmp_path) if where == "someone else's" else Path("/proc/devmem-no")
    )
    env = engine_env(tmp_path, model_cache, DEVMEM_RUNTIME_DIR=str(folder))
    assert devmem(env, "add", "the fallback still works").returncode == 0
    found = devmem(env, "search", "fallback works", "--json")
    assert found.returncode == 0 and "the fallback still works" in found.stdout
    notices = [line for line in found.stderr.splitlines() if "without the engine" in line]
    assert len(notices) == 1, found.stderr
    assert ("belongs to user id" if where == "someone else's" else "cannot create") in notices[0]

    async with stdio_session(env) as session:  # devmem-mcp serves in-process
        assert (await call(session, "recall", query="fallback"))["hits"]
    assert status(env) is None


def test_engine_off_means_no_engine_and_no_notice(tmp_path, model_cache):
    env = engine_env(tmp_path, model_cache, DEVMEM_ENGINE="off")
    found = devmem(env, "search", "anything")
    assert found.returncode == 0 and "engine" not in found.stderr
    assert not Path(env["DEVMEM_RUNTIME_DIR"]).exists()


def test_two_engines_started_at_once_end_up_as_one(env):
    procs = [
        subprocess.Popen([DEVMEM, "serve"], env=env, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        while all(p.poll() is None for p in procs) and time.monotonic() < deadline:
            time.sleep(0.05)
        quitter = next(p for p in procs if p.poll() is not None)
        survivor = next(p for p in procs if p is not quitter)
        assert quitter.returncode == 0
        assert survivor.poll() is None
        info = status(env)
        assert info is not None and info["pid"] == survivor.pid
    finally:
        stop_engine(env)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
            if p.poll() is None:
                p.kill()
            p.communicate()


def test_a_stale_engine_is_replaced_after_an_upgrade(env):
    assert devmem(env, "search", "first").returncode == 0
    old = status(env)
    assert old is not None
    marker = REPO / "cli" / "__init__.py"  # installed code "changes": its mtime moves
    before = marker.stat()
    try:
        os.utime(marker, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        time.sleep(1.1)  # the engine looks at the code on disk at most once a second
        again = devmem(env, "search", "second")
        assert again.returncode == 0, again.stderr
        new = status(env)
        assert new is not None and new["pid"] != old["pid"] and new["version"] != old["version"]
        assert wait_gone(int(old["pid"]))  # retired and, without clients, gone
    finally:
        os.utime(marker, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_an_idle_engine_exits_and_serve_status_and_stop_say_so(env):
    assert devmem(env, "serve", "status").returncode == 1
    proc = subprocess.Popen([DEVMEM, "serve", "--idle", "5"], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while status(env) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        shown = devmem(env, "serve", "status")
        assert shown.returncode == 0 and f"pid {proc.pid}" in shown.stdout
        assert "engine: running" in devmem(env, "doctor").stdout
        assert proc.wait(30) == 0  # no client for 5 s: it exits by itself
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status(env) is None
    subprocess.Popen([DEVMEM, "serve"], env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while status(env) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    stopped = devmem(env, "serve", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert status(env) is None


def test_a_postgresql_store_is_opened_by_the_client_itself(tmp_path, model_cache):
    """The engine serves local stores only: a team store is opened with the client's own
    credentials, so the client neither starts nor uses an engine for it."""
    env = engine_env(tmp_path, model_cache, DEVMEM_DB="postgresql://nobody@127.0.0.1:1/devmem")
    found = devmem(env, "search", "anything")
    assert found.returncode != 0 and "engine" not in found.stderr
    assert not Path(env["DEVMEM_RUNTIME_DIR"]).exists()
