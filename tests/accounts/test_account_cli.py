"""`devmem m365 login|status|logout` and `devmem sync github|m365` as a user runs them,
configured only through the environment, against the local fakes."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fake_github import OWNER, REPO, TOKEN, FakeGitHub
from fake_http import Certificates
from fake_microsoft import CLIENT_ID, USERNAME, FakeMicrosoft, mail
from typer.testing import CliRunner

from cli import common, m365_cmds, sync_account

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out


@pytest.fixture
def devmem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    """`devmem` with the `sync` (account commands registered) and `m365` sub-apps."""
    monkeypatch.setattr(common, "STATE", common.State(db=str(tmp_path / "memories.db")))
    monkeypatch.setenv("DEVMEM_EMBEDDINGS", "0")
    root = typer.Typer()
    sync = typer.Typer()
    sync_account.register(sync)
    root.add_typer(sync, name="sync")
    root.add_typer(m365_cmds.app, name="m365")
    yield root
    if common.STATE.service is not None:
        common.STATE.service.close()


@pytest.fixture
def m365_env(
    ms: FakeMicrosoft, certs: Certificates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    cache = tmp_path / "tokens" / "m365_token_cache.json"
    for name, value in {
        "DEVMEM_M365_CLIENT_ID": CLIENT_ID,
        "DEVMEM_M365_AUTHORITY": f"{ms.url}/contoso",
        "DEVMEM_M365_TOKEN_CACHE": str(cache),
        "DEVMEM_M365_KEYRING": "0",
        "DEVMEM_GRAPH_URL": f"{ms.url}/v1.0",
        "SSL_CERT_FILE": str(certs.ca),
    }.items():
        monkeypatch.setenv(name, value)
    return cache


def test_login_status_sync_logout(devmem: typer.Typer, m365_env: Path, ms: FakeMicrosoft) -> None:
    runner = CliRunner()
    login = runner.invoke(devmem, ["m365", "login", "--device-code"])
    assert login.exit_code == 0, login.output
    assert (
        "https://microsoft.com/devicelogin" in login.output
        and f"Signed in as {USERNAME}" in login.output
    )
    assert stat.S_IMODE(os.stat(m365_env).st_mode) == 0o600

    status = runner.invoke(devmem, ["m365", "status", "--json"])
    info = json.loads(status.output)
    assert info["signed_in"] and info["username"] == USERNAME and "Mail.Read" in info["scopes"]
    assert not any(token in status.output for token in ms.access_tokens | ms.refresh_tokens)

    ms.put("mail:inbox", mail("m1", "Launch date"))
    synced = runner.invoke(devmem, ["sync", "m365", "--mail", "--json"])
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.output)["added"] == 1

    out = runner.invoke(devmem, ["m365", "logout"])
    assert "Signed out" in out.output and not m365_env.exists()
    assert "Not signed in" in runner.invoke(devmem, ["m365", "status"]).output
    refused = runner.invoke(devmem, ["sync", "m365", "--mail"])
    assert refused.exit_code == 1 and "devmem m365 login" in refused.output


def test_sync_github_reads_the_token_from_the_environment(
    devmem: typer.Typer, gh: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    gh.add_issue(1, "Rocket explodes on launch", "Trace in engine/fuel.py")
    monkeypatch.setenv("DEVMEM_GITHUB_API", gh.url)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    result = CliRunner().invoke(devmem, ["sync", "github", f"{OWNER}/{REPO}", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["added"] == 1 and report["summary"].startswith("github: added 1")
    assert TOKEN not in result.output
    dry = CliRunner().invoke(devmem, ["sync", "github", f"{OWNER}/{REPO}", "--dry-run"])
    assert "github: up to date" in dry.output  # nothing new: no row of zeros
    monkeypatch.setenv("GITHUB_TOKEN", "revoked")
    bad = CliRunner().invoke(devmem, ["sync", "github", f"{OWNER}/{REPO}"])
    assert bad.exit_code == 1 and "GitHub rejected the token" in bad.output


def test_browser_is_chosen_only_where_one_can_open() -> None:
    assert m365_cmds.browser_likely({"DISPLAY": ":0"}, "linux")
    assert not m365_cmds.browser_likely({"DISPLAY": ":0", "SSH_CONNECTION": "1 2 3 4"}, "linux")
    assert not m365_cmds.browser_likely({}, "linux")
    assert m365_cmds.browser_likely({}, "darwin")
