"""Secrets are redacted in every field, not only the content (issue 20, D2): tags, project,
anchor path and symbol, Markdown front-matter tags, note file names (external id, source
URL), metadata keys. Nothing of the secret reaches the file, its text index, versions,
entities, an export or the stats; re-syncing a note whose name held one changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.helpers import cli, opened

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

SECRET = "ghp_R8mT2xQ9vL4kW7nB3cJ6hF1dS5gA0zYpE2uK"  # shape of a GitHub token, not a real one
NEEDLE = SECRET[4:20].encode()  # any long piece of it is a leak


def _every_byte(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def _outputs(env: dict[str, str]) -> str:
    runs = [
        cli(env, "export", "-"),
        cli(env, "stats", "--json"),
        cli(env, "list", "--json"),
        cli(env, "graph", "stats"),
    ]
    return "\n".join(r.stdout + r.stderr for r in runs)


def test_cli_fields_other_than_content_are_redacted(text_env):
    added = cli(
        text_env,
        "add",
        "Deploy script notes: rotate the bot token monthly.",
        "--tags",
        f"deploy,{SECRET}",
        "--project",
        f"infra-{SECRET}",
        "--file",
        f"deploy/{SECRET}.sh:3",
        "--symbol",
        SECRET,
        "--json",
    )
    assert added.returncode == 0, added.stderr
    shown = json.loads(added.stdout)
    assert SECRET not in added.stdout, added.stdout
    assert shown["redactions"], "the caller is told that something was redacted"
    db = Path(text_env["DEVMEM_DB"])
    assert NEEDLE not in _every_byte(db)
    assert SECRET[4:20] not in _outputs(text_env)


def test_markdown_secrets_in_tags_and_file_names_never_reach_the_store(tmp_path, text_env):
    """A front-matter tag is redacted; a note whose file name holds a secret is skipped with
    a reason that does not repeat it (its path would be the memory's id and URL, and the
    sync cursor's key); the notes beside it are imported and stay the same across syncs."""
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "ops.md").write_text(
        f"---\ntags: [ops, {SECRET}]\n---\n# Ops\n\nThe bot token rotates.\n"
    )
    (vault / f"token {SECRET}.md").write_text(
        "# Bot token\n\nThe CI bot's token lives in the vault.\n"
    )
    (vault / "plain.md").write_text("# Plain\n\nNothing secret in this note at all.\n")
    ids, db = [], Path(text_env["DEVMEM_DB"])
    for _ in range(3):
        run = cli(text_env, "sync", "markdown", str(vault))
        assert run.returncode == 0, run.stderr
        assert "secret" in run.stdout + run.stderr and SECRET[4:20] not in run.stdout + run.stderr
        with opened(db) as svc:
            ids.append(sorted(m.id for m in svc.list(limit=50).memories))
    assert len(ids[0]) == 2 and ids[0] == ids[1] == ids[2], ids
    assert NEEDLE not in _every_byte(db)
    assert SECRET[4:20] not in _outputs(text_env)


def test_external_ids_holding_a_secret_are_stored_redacted_and_still_found(tmp_path):
    other = SECRET[:-4] + "Zz9Q"
    with opened(tmp_path / "memories.db") as svc:
        from core.models import MemoryInput

        for token in (SECRET, other):
            svc.sync_batch(
                [
                    MemoryInput(
                        content=f"Issue filed with {token[-4:]}",
                        source="github",
                        external_id=f"hooks/{token}",
                        source_url=f"https://h/{token}",
                    )
                ]
            )
        stored = svc.external_ids("github")
        assert len(stored) == 2 and not any(SECRET[4:20] in k for k in stored), stored
        found = svc.find_external("github", f"hooks/{SECRET}")
        assert found is not None and found.content.endswith(SECRET[-4:])
        assert SECRET[4:20] not in (found.source_url or "")
        svc.sync_batch([], deletions=[("github", f"hooks/{SECRET}")])
        assert svc.find_external("github", f"hooks/{SECRET}") is None
        assert svc.find_external("github", f"hooks/{other}") is not None


def test_a_restored_record_is_redacted_in_every_field_too(tmp_path):
    """`devmem import` (restore mode) keeps ids and times but, like remember, stores no secret
    in any field: project, anchor, source, external id and source URL included."""
    from core.portability import import_records

    record = {
        "id": "01J00000000000000000000000",
        "title": "Deploy notes",
        "content": "Rotate monthly.",
        "created_at": "2026-01-02T03:04:05Z",
        "project": f"infra-{SECRET}",
        "source": "markdown",
        "anchor": {"path": f"deploy/{SECRET}.sh", "start_line": 3, "symbol": SECRET},
        "external_id": f"notes/{SECRET}.md",
        "source_url": f"https://h/{SECRET}",
    }
    db = tmp_path / "memories.db"
    with opened(db) as svc:
        assert import_records(svc, [record]) == (1, 0)
        stored = svc.get(record["id"])
        assert stored.created_at == record["created_at"]
    assert NEEDLE not in _every_byte(db)
