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


def test_migrate_copies_a_personal_store_as_private_memories(team_db: TeamDb, tmp_path) -> None:
    owner = team_db.owner_url
    lee, una = team_db.role("lee"), team_db.role("una")
    lee_url = with_login(owner, user=lee, password=run(owner, "user", "add", lee).split()[-1])
    una_url = with_login(owner, user=una, password=run(owner, "user", "add", una).split()[-1])
    personal = str(tmp_path / "lee.db")
    first = run(personal, "add", "Lee's laptop note: the cache warms at nine", "--kind", "decision")
    second = run(personal, "add", "Lee's second note about the flaky login test", "--tags", "ci")
    first_id, second_id = first.split()[1], second.split()[1]
    run(personal, "link", second_id, first_id, "--type", "related")
    run(personal, "edit", first_id, "--text", "Lee's laptop note: the cache warms at ten")

    assert "2 memories copied, 0 already" in run(personal, "migrate", "--to", lee_url)
    assert "0 memories copied, 2 already" in run(personal, "migrate", "--to", lee_url)
    run(personal, "add", "A third note written after the first run")  # resumes: only the rest
    assert "1 memories copied, 2 already" in run(personal, "migrate", "--to", lee_url)
    shown = json.loads(run(lee_url, "show", first_id, "--json"))["memory"]
    assert shown["content"].endswith("warms at ten") and shown["kind"] == "decision"
    assert shown["visibility"] == "private"
    assert second_id in run(lee_url, "search", "flaky login", "--json")
    assert second_id not in run(una_url, "search", "flaky login", "--json")  # private to lee
    run(una_url, "show", first_id, code=1)


def test_the_audit_names_the_client_of_each_write(team_db: TeamDb, tmp_path) -> None:
    """cli for commands, connector for syncs, and the connection's application_name (the
    language server sets PGAPPNAME=lsp) when nothing else is said."""
    import psycopg

    owner = team_db.owner_url
    zoe = team_db.role("zoe")
    zoe_url = with_login(owner, user=zoe, password=run(owner, "user", "add", zoe).split()[-1])
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "adr-1.md").write_text("# Use Postgres\n\nThe team store runs on PostgreSQL.\n")
    run(zoe_url, "sync", "markdown", str(vault))
    run(zoe_url, "add", "A note from the shell")
    with psycopg.connect(zoe_url + "&application_name=lsp", autocommit=True) as editor:
        editor.execute(
            "INSERT INTO memories (id, visibility, title, content, content_hash, kind, source,"
            " provenance, created_at, updated_at) VALUES ('ZOE_LSP', 'private', 't', 'c', 'h',"
            " 'note', 'user', 3, 'now', 'now')"
        )
    audit = json.loads(run(zoe_url, "audit", "--json", "--action", "create"))
    assert {e["client"] for e in audit} == {"connector", "cli", "lsp"}


def test_a_person_signs_in_with_a_password_file(
    team_db: TeamDb, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libpq's PGPASSFILE: the URL names only the person, the password stays in the file."""
    owner = team_db.owner_url
    vic = team_db.role("vic")
    password = run(owner, "user", "add", vic).split()[-1]
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{vic}:{password}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    no_secret = with_login(owner, user=vic, password="")
    assert password not in no_secret
    run(no_secret, "team", "create", "passfile-team")
    assert "passfile-team" in run(no_secret, "team", "list")
    passfile.write_text(f"*:*:*:{vic}:wrong\n")
    assert "credentials" in run(no_secret, "team", "list", code=1)
