"""`devmem unshare`, `devmem team delete` and per-person connector cursors, end to end on the
real team store: each person with their own URL, and the database's own refusals proved with
raw SQL on the person's own connection."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from cli import common
from cli.main import app as devmem
from tests.connectors.conftest import Repo
from tests.team.conftest import TeamDb
from tests.team.test_team_cli import run


@pytest.fixture(autouse=True)
def _no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVMEM_EMBEDDINGS", "0")


def visible(url: str, memory_id: str) -> bool:
    with psycopg.connect(url) as conn:
        return (
            conn.execute("SELECT 1 FROM memories WHERE id = %s", (memory_id,)).fetchone()
            is not None
        )


def test_unshare_from_a_team_a_person_and_the_organisation(team_db: TeamDb) -> None:
    ann, ben, cid = (team_db.add(p) for p in ("ann", "ben", "cid"))  # cid: in no team
    run(ann, "team", "create", "ops")
    run(ann, "team", "add-member", "ops", team_db.role("ben"), "--role", "viewer")
    memory_id = run(ann, "add", "The ops rota changes on Mondays").split()[1]

    run(ann, "share", memory_id, "--team", "ops")
    assert visible(ben, memory_id)
    assert "no longer shared with team ops" in run(ann, "unshare", memory_id, "--team", "ops")
    assert not visible(ben, memory_id) and visible(ann, memory_id)
    assert "not shared with team" in run(ann, "unshare", memory_id, "--team", "ops", code=1)

    run(ann, "share", memory_id, "--user", team_db.role("cid"))
    assert visible(cid, memory_id)
    run(ann, "unshare", memory_id, "--user", team_db.role("cid"))
    assert not visible(cid, memory_id)
    assert "not shared with" in run(
        ann, "unshare", memory_id, "--user", team_db.role("cid"), code=1
    )

    run(ann, "share", memory_id, "--team", "ops")
    run(ann, "share", memory_id, "--public")
    assert visible(cid, memory_id)
    run(ben, "unshare", memory_id, "--public", code=1)  # a viewer may not change sharing
    assert visible(cid, memory_id)
    run(ann, "unshare", memory_id, "--public")  # back to the team it had
    assert not visible(cid, memory_id) and visible(ben, memory_id)
    assert "exactly one" in run(ann, "unshare", memory_id, "--public", "--team", "ops", code=2)

    audit = json.loads(run(ann, "audit", "--json", "--action", "update", "--action", "unshare"))
    changes = [(e["action"], e["detail"].get("visibility")) for e in audit]
    assert ("unshare", None) in changes and ("update", "team") in changes


def test_team_delete_refuses_what_holds_memories_and_non_admins(team_db: TeamDb) -> None:
    dee, eve = team_db.add("dee"), team_db.add("eve")
    run(dee, "team", "create", "infra")
    run(dee, "team", "add-member", "infra", team_db.role("eve"), "--role", "editor")
    memory_id = run(eve, "add", "Infra keeps the staging database small").split()[1]
    run(eve, "share", memory_id, "--team", "infra")  # eve's memory, in dee's team

    refused = run(dee, "team", "delete", "infra", "--yes", code=2)
    assert "still holds 1 memories" in refused and "--move-to-owner" in refused
    with psycopg.connect(dee, autocommit=True) as admin:  # the database refuses, not the CLI
        with pytest.raises(psycopg.errors.DependentObjectsStillExist):
            admin.execute("DELETE FROM teams WHERE name = 'infra'")
    # an editor, not admin: the CLI says so, and their raw DELETE touches no row
    refused = run(eve, "team", "delete", "infra", "--yes", "--move-to-owner", code=1)
    assert "only an admin" in refused
    with psycopg.connect(eve, autocommit=True) as editor:
        assert editor.execute("DELETE FROM teams WHERE name = 'infra'").rowcount == 0
    assert visible(dee, memory_id)  # nothing was given back by the refused attempt
    assert "infra" in run(dee, "team", "list")

    done = run(dee, "team", "delete", "infra", "--yes", "--move-to-owner")
    assert "1 memories given back" in done
    assert "infra" not in run(dee, "team", "list")
    assert visible(eve, memory_id) and not visible(dee, memory_id)  # back to its owner only
    shown = json.loads(run(eve, "show", memory_id, "--json"))["memory"]
    assert shown["visibility"] == "private"
    audit = json.loads(run(dee, "audit", "--json", "--action", "team_delete"))
    assert [(e["actor"], e["detail"]["name"]) for e in audit] == [(team_db.role("dee"), "infra")]
    run(dee, "team", "delete", "infra", "--yes", code=1)  # gone: a clear "no team" error


def test_team_delete_asks_first(team_db: TeamDb) -> None:
    fay = team_db.add("fay")
    run(fay, "team", "create", "tmp")
    common.STATE.service = None
    answered = CliRunner().invoke(devmem, ["--db", fay, "team", "delete", "tmp"], input="n\n")
    assert answered.exit_code == 1 and "Nothing deleted" in answered.output
    assert "tmp" in run(fay, "team", "list")
    answered = CliRunner().invoke(devmem, ["--db", fay, "team", "delete", "tmp"], input="y\n")
    assert answered.exit_code == 0, answered.output
    assert "tmp" not in run(fay, "team", "list")


def test_each_person_keeps_their_own_sync_cursor_and_copies(
    team_db: TeamDb, tmp_path: Path
) -> None:
    gus, hal = team_db.add("gus"), team_db.add("hal")
    repo = Repo(tmp_path / "shared-repo")
    repo.write("app.py", "def main():\n    return 1\n")
    repo.commit("Add main")
    repo.write("app.py", "def main():\n    return 2\n")
    repo.commit("Return 2 from main")

    first = json.loads(run(gus, "sync", "git", str(repo.path), "--json"))
    assert first["added"] == 2
    # hal starts from nothing: gus's cursor and gus's private copies are not his
    second = json.loads(run(hal, "sync", "git", str(repo.path), "--json"))
    assert second["added"] == 2
    assert "up to date" in run(gus, "sync", "git", str(repo.path))
    repo.write("app.py", "def main():\n    return 3\n")
    repo.commit("Return 3 from main")
    assert json.loads(run(hal, "sync", "git", str(repo.path), "--json"))["added"] == 1
    assert json.loads(run(gus, "sync", "git", str(repo.path), "--json"))["added"] == 1

    for person, url in (("gus", gus), ("hal", hal)):
        with psycopg.connect(url) as conn:  # raw SQL: only one's own cursor and copies
            cursors = conn.execute("SELECT role_name, connector FROM sync_state").fetchall()
            assert cursors == [(team_db.role(person), "git")]
            owners = conn.execute(
                "SELECT DISTINCT owner_role FROM memories WHERE source = 'git'"
            ).fetchall()
            assert owners == [(team_db.role(person),)]
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(  # nobody writes a cursor in another's name
                    "INSERT INTO sync_state (role_name, connector, scope, cursor, updated_at)"
                    " VALUES (%s, 'git', 'x', '{}', 'now')",
                    (team_db.role("gus" if person == "hal" else "hal"),),
                )
    with psycopg.connect(team_db.owner_url) as owner:
        rows = owner.execute("SELECT count(*) FROM memories WHERE source = 'git'").fetchone()
    assert rows == (6,)
