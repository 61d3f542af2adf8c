"""The Markdown connector on real folders: front matter, sections, links, changes, renames,
deletions, bad files and --watch."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from connectors import markdown as md
from connectors.markdown import MarkdownConnector
from connectors.markdown_parse import parse_note, slugify, split_anchor
from core.errors import ConnectorError
from core.service import MemoryService

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out


def write(root: Path, rel: str, text: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def memory(svc: MemoryService, root: Path, key: str):
    found = svc.find_external("markdown", f"{root.resolve().as_posix()}/{key}")
    assert found is not None, key
    return found


def long_note() -> str:
    filler = "This paragraph is filler text about the team's conventions. " * 20
    return (
        "---\ntitle: Operations handbook\ntags: [ops, runbook]\n---\n# Operations handbook\n\n"
        "How we run things.\n\n"
        f"## Deploying\n\n{filler}\nDeploys go out with the blue-green switch on Tuesdays.\n\n"
        f"## Paging\n\n{filler}\nThe pager rotates weekly; escalate to the duty manager after 15 minutes.\n\n"
        f"### Quiet hours\n\n{filler}\n\n"
        f"## Backups\n\n{filler}\nBackups are restored every quarter as a drill.\n"
    )


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    root = tmp_path / "vault"
    write(
        root,
        "adr/0001-use-sqlite.md",
        "---\ntitle: Use SQLite for the store\ndate: 2024-03-05\nstatus: accepted\n---\n"
        "We store memories in one SQLite file. See [[handbook#Backups]] and "
        "[the glossary](../glossary.md).\n",
    )
    write(
        root,
        "glossary.md",
        "# Glossary\n\n**WAL**: write-ahead log. #reference\n\nSee [[0001-use-sqlite]].\n",
    )
    write(root, "ops/handbook.md", long_note())
    write(root, "ops/Operations handbook.md", "Alias note pointing to [[handbook]].\n")
    write(
        root,
        "notes/idea.md",
        "---\nkind: todo\ntags: idea, later\n---\nTry [[Missing note]] someday.\n",
    )
    write(root, ".obsidian/workspace.md", "ignored\n")
    return root


def test_front_matter_and_folders_map_to_fields(vault: Path, svc, sync) -> None:
    report = sync(MarkdownConnector(vault, project="kb"))
    assert report.skipped == []
    adr = memory(svc, vault, "adr/0001-use-sqlite.md")
    assert (adr.title, adr.kind, adr.project, adr.source) == (
        "Use SQLite for the store",
        "decision",
        "kb",
        "markdown",
    )
    assert adr.event_at == "2024-03-05T00:00:00Z"
    assert adr.metadata["front_matter"]["status"] == "accepted"
    assert adr.source_url == (vault / "adr/0001-use-sqlite.md").resolve().as_uri()
    idea = memory(svc, vault, "notes/idea.md")
    assert idea.kind == "todo" and idea.tags == ("idea", "later")
    glossary = memory(svc, vault, "glossary.md")
    assert glossary.title == "Glossary" and "reference" in glossary.tags
    assert not [k for k in svc.external_ids("markdown") if ".obsidian" in k]


def test_long_notes_are_split_into_findable_sections(vault: Path, svc, sync) -> None:
    sync(MarkdownConnector(vault))
    prefix = f"{vault.resolve().as_posix()}/ops/handbook.md"
    ids = sorted(k for k in svc.external_ids("markdown") if k.startswith(prefix))
    assert ids == [prefix, f"{prefix}#backups", f"{prefix}#deploying", f"{prefix}#paging"]
    root = memory(svc, vault, "ops/handbook.md")
    assert "Sections: Deploying · Paging · Backups" in root.content
    paging = memory(svc, vault, "ops/handbook.md#paging")
    assert paging.title == "Operations handbook › Paging" and "Quiet hours" in paging.content
    assert paging.tags == ("ops", "runbook")
    hits = svc.recall("who do we escalate to when the pager goes off?", limit=3).hits
    assert hits[0].memory.external_id == f"{prefix}#paging"
    hits = svc.recall("blue-green deploy day", limit=3).hits
    assert hits[0].memory.external_id == f"{prefix}#deploying"


def test_wikilinks_and_relative_links_become_memory_links(vault: Path, svc, sync) -> None:
    sync(MarkdownConnector(vault))
    adr = memory(svc, vault, "adr/0001-use-sqlite.md")
    glossary = memory(svc, vault, "glossary.md")
    backups = memory(svc, vault, "ops/handbook.md#backups")
    out = {(link.target_id, link.type) for link in svc.links(adr.id) if link.source_id == adr.id}
    assert out == {(backups.id, "references"), (glossary.id, "references")}
    assert any(
        link.source_id == glossary.id and link.target_id == adr.id
        for link in svc.links(glossary.id)
    )

    # a link to a note that does not exist yet lands once the note is written
    idea = memory(svc, vault, "notes/idea.md")
    assert [link for link in svc.links(idea.id) if link.source_id == idea.id] == []
    write(vault, "notes/Missing note.md", "Now it exists.\n")
    sync(MarkdownConnector(vault))
    target = memory(svc, vault, "notes/Missing note.md")
    assert [(link.target_id) for link in svc.links(idea.id) if link.source_id == idea.id] == [
        target.id
    ]


def test_second_sync_reads_nothing_and_adds_nothing(vault: Path, svc, sync, monkeypatch) -> None:
    first = sync(MarkdownConnector(vault))
    assert first.added == 8
    reads: list[Path] = []
    real = md.read_text
    monkeypatch.setattr(md, "read_text", lambda p, n: reads.append(p) or real(p, n))
    again = sync(MarkdownConnector(vault))
    assert (again.added, again.updated, again.deleted, reads) == (0, 0, 0, [])

    path = vault / "glossary.md"
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))  # touched, same content
    touched = sync(MarkdownConnector(vault))
    assert (touched.added, touched.updated, [p.name for p in reads]) == (0, 0, ["glossary.md"])


def test_edits_renames_and_deletions_follow_the_folder(vault: Path, svc, sync) -> None:
    sync(MarkdownConnector(vault))
    glossary_id = memory(svc, vault, "glossary.md").id
    write(
        vault,
        "glossary.md",
        "# Glossary\n\n**WAL**: write-ahead log.\n**FTS**: full-text search.\n",
    )
    edited = sync(MarkdownConnector(vault))
    assert (edited.added, edited.updated, edited.deleted) == (0, 1, 0)
    assert memory(svc, vault, "glossary.md").id == glossary_id  # same memory, new version
    adr = memory(svc, vault, "adr/0001-use-sqlite.md")

    (vault / "glossary.md").rename(vault / "terms.md")
    (vault / "notes/idea.md").unlink()
    handbook = (vault / "ops/handbook.md").read_text().split("## Backups")[0]
    write(vault, "ops/handbook.md", handbook + "More about paging. " * 60)
    moved = sync(MarkdownConnector(vault))
    assert (moved.added, moved.deleted) == (
        1,
        3,
    )  # terms.md; old glossary, idea, the Backups section
    assert moved.updated == 2  # the handbook's root (its list of sections) and Paging
    keys = {k.rsplit("/vault/", 1)[1] for k in svc.external_ids("markdown")}
    assert "terms.md" in keys and "glossary.md" not in keys and "notes/idea.md" not in keys
    assert "ops/handbook.md#backups" not in keys
    # the ADR's relative link to ../glossary.md no longer resolves; its link went with the note
    targets = {link.target_id for link in svc.links(adr.id) if link.source_id == adr.id}
    assert glossary_id not in targets and memory(svc, vault, "terms.md").id not in targets


def test_bad_files_are_skipped_with_a_reason_and_nothing_else_is_lost(
    vault: Path, tmp_path: Path, svc, sync
) -> None:
    write(vault, "binary.md", b"PNG\x00\x01\x02 not text")
    write(vault, "latin1.md", b"Caf\xe9 notes: the espresso machine needs descaling.\n")
    write(vault, "broken-front-matter.md", "---\ntitle: [unclosed\n---\nBody survives.\n")
    with (vault / "huge.md").open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)  # 50 MB (sparse)
    outside = write(tmp_path, "outside/secret.md", "not part of the vault\n")
    (vault / "link-out.md").symlink_to(outside)
    (vault / "linked-dir").symlink_to(outside.parent, target_is_directory=True)
    connector = MarkdownConnector(vault)
    report = sync(connector)
    skipped = dict(line.split(": ", 1) for line in report.skipped)
    assert skipped["binary.md"].startswith("binary file")
    assert "larger than the 5 MB limit" in skipped["huge.md"]
    assert skipped["link-out.md"].startswith("symlink points outside the folder")
    assert skipped["linked-dir"].startswith("symlink points outside the folder")
    assert report.added == 10  # the 8 memories of the good notes + latin1 + broken front matter
    assert "\ufffd" in memory(svc, vault, "latin1.md").content
    assert memory(svc, vault, "broken-front-matter.md").content == "Body survives."
    assert any("latin1.md: invalid UTF-8" in n for n in connector.notes)
    assert any(
        "broken-front-matter.md: front matter is not valid YAML" in n for n in connector.notes
    )
    assert not [k for k in svc.external_ids("markdown") if "secret" in k]
    with pytest.raises(ConnectorError, match="not a folder"):
        sync(MarkdownConnector(vault / "glossary.md"))


def test_dry_run_writes_nothing(vault: Path, svc, sync) -> None:
    report = sync(MarkdownConnector(vault), dry_run=True)
    assert report.added == 8 and svc.external_ids("markdown") == {}


def test_watch_keeps_the_store_in_sync(vault: Path, svc, sync) -> None:
    stop = threading.Event()
    runs: list[int] = []

    def once() -> None:
        runs.append(sync(MarkdownConnector(vault)).added)

    thread = threading.Thread(target=md.watch, args=(vault, once, stop), kwargs={"debounce_ms": 50})
    thread.start()
    try:
        _wait(lambda: runs == [8])
        time.sleep(0.3)  # let the watcher start
        write(vault, "new.md", "Freshly written while watching.\n")
        _wait(lambda: any(k.endswith("/new.md") for k in svc.external_ids("markdown")))
        (vault / "new.md").unlink()
        _wait(lambda: not any(k.endswith("/new.md") for k in svc.external_ids("markdown")))
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def _wait(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_parse_note_sections_and_links() -> None:
    note = parse_note(
        "a/b.md",
        "# T\n\n```\n# not a heading\n[[not a link]]\n```\n"
        "[x](../c.md#Part%20Two) [[D|alias]] ![[e#Sec]] [web](https://x.y/z.md)\n",
    )
    assert note.title == "T" and len(note.sections) == 1
    assert note.sections[0].links == ["D", "e#sec", "c.md#part-two"]
    assert slugify("Set up (Linux)") == "set-up-linux"
    body = "intro\n" + "".join(f"## Part {i}\n" + "x" * 1500 + "\n" for i in range(4))
    parts = parse_note("p.md", body).sections
    assert [s.slug for s in parts] == [None, "part-0", "part-1", "part-2", "part-3"]


def test_links_to_notes_with_hash_in_their_file_name_resolve(tmp_path: Path, svc, sync) -> None:
    root = tmp_path / "vault"
    write(root, "C# tips.md", "Prefer records for DTOs.\n")
    write(root, "Issue #42.md", "Rounding twice.\n")
    write(root, "index.md", "See [tips](C%23%20tips.md) and [issue](Issue%20%2342.md).\n")
    assert parse_note("index.md", "[t](C%23%20tips.md#Intro)").sections[0].links == [
        "C# tips.md#intro"
    ]
    assert split_anchor("C# tips.md") == ("C# tips.md", "")
    assert split_anchor("F# guide #2.md#part-1") == ("F# guide #2.md", "part-1")
    sync(MarkdownConnector(root))
    index = memory(svc, root, "index.md")
    targets = {
        svc.get(link.target_id).title for link in svc.links(index.id) if link.source_id == index.id
    }
    assert targets == {"C# tips", "Issue #42"}
