"""`devmem team | share | token | user | audit` against the real team store, each person
with their own URL; the memory commands (`devmem add`, `search`) work on it too."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.main import app as devmem
from tests.team.conftest import TeamDb, with_login


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVMEM_EMBEDDINGS", "0")


def run(url: str, *args: str, code: int = 0) -> str:
    from cli import common

    common.STATE.service = None  # each invocation opens its own store, as a new process would
    result = CliRunner().invoke(devmem, ["--db", url, *args])
    assert result.exit_code == code, result.output
    return result.output


def test_people_teams_shares_and_audit_from_the_shell(team_db: TeamDb) -> None:
    owner = team_db.owner_url
    pat, sam = team_db.role("pat"), team_db.role("sam")
    pat_url = with_login(owner, user=pat, password=run(owner, "user", "add", pat).split()[-1])
    sam_url = with_login(owner, user=sam, password=run(owner, "user", "add", sam).split()[-1])

    run(pat_url, "team", "create", "web")
    run(pat_url, "team", "add-member", "web", sam, "--role", "viewer")
    run(pat_url, "team", "set-role", "web", sam, "--role", "editor")
    teams = json.loads(run(sam_url, "team", "list", "--json"))
    assert [(t["name"], t["my_role"], t["members"]) for t in teams] == [("web", "editor", 2)]

    created = run(pat_url, "add", "The web team deploys on Fridays only", "--title", "deploys")
    memory_id = created.split()[1]
    assert "deploys" not in run(sam_url, "list")  # private until shared
    assert memory_id in run(pat_url, "share", memory_id, "--team", "web")
    assert "deploys" in run(sam_url, "list")

    # a viewer's and an outsider's refusals are one clear line, exit code 1
    run(sam_url, "team", "set-role", "web", sam, "--role", "admin", code=1)
    refused = run(sam_url, "team", "add-member", "web", pat, code=1)
    assert "error:" in refused and "Not allowed" in refused
    assert "Unknown team role" in run(
        pat_url, "team", "add-member", "web", sam, "-r", "boss", code=2
    )

    audit = json.loads(run(pat_url, "audit", "--json", "--since", "1h"))
    actions = {(e["action"], e["client"]) for e in audit}
    assert {("create", "cli"), ("update", "cli"), ("member_add", "cli")} <= actions
    only = json.loads(run(pat_url, "audit", "--json", "--action", "create", "--user", pat))
    assert only and all(e["action"] == "create" and e["actor"] == pat for e in only)


def test_tokens_are_shown_once_and_stored_hashed(team_db: TeamDb) -> None:
    owner = team_db.owner_url
    kim = team_db.role("kim")
    kim_url = with_login(owner, user=kim, password=run(owner, "user", "add", kim).split()[-1])
    token = run(kim_url, "token", "create", "laptop").split()[-1]
    assert token.startswith("dm_") and len(token) > 40
    listed = run(kim_url, "token", "list", "--json")
    assert token not in listed and json.loads(listed)[0]["name"] == "laptop"
    import psycopg

    with psycopg.connect(owner) as conn:
        stored = [r[0] for r in conn.execute("SELECT token_hash FROM api_tokens")]
    assert token not in stored and all(len(h) == 64 for h in stored)
    run(kim_url, "token", "revoke", "laptop")
    assert json.loads(run(kim_url, "token", "list", "--json"))[0]["revoked_at"]
    run(kim_url, "token", "revoke", "laptop", code=1)  # nothing live left to revoke
