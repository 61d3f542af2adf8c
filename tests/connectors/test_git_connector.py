"""The git connector against real repositories: first sync, idempotence, increments,
rewritten history, --since, hover on a function, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.git import GitConnector
from core.errors import ConnectorError
from core.models import SearchFilters
from core.service import MemoryService

APP_V1 = '''"""A tiny shop."""


def parse_config(path):
    with open(path) as fh:
        lines = fh.read().splitlines()
    return dict(line.split("=", 1) for line in lines[1:])


def render(items):
    return ", ".join(items)


class Cart:
    def total(self, prices):
        return sum(prices)
'''


def shop_history(repo) -> dict[str, str]:
    """Three commits; the second fixes parse_config, the third changes Cart.total."""
    repo.write("app.py", APP_V1)
    repo.write("README.md", "# Shop\n")
    shas = {"add": repo.commit("Add the shop skeleton")}
    repo.write("app.py", APP_V1.replace("lines[1:]", "lines if line.strip()"))
    shas["fix"] = repo.commit(
        "Fix config parsing that dropped the first line\n\n"
        "The header line is gone from the format since v2."
    )
    repo.write(
        "app.py",
        APP_V1.replace("lines[1:]", "lines if line.strip()").replace(
            "return sum(prices)", "return round(sum(prices), 2)"
        ),
    )
    shas["cart"] = repo.commit(
        "Round cart totals to cents", author="Grace Hopper", email="grace@example.com"
    )
    return shas


def test_first_sync_stores_one_memory_per_commit(repo, svc: MemoryService, sync) -> None:
    shas = shop_history(repo)
    report = sync(GitConnector(repo.path))
    assert (report.added, report.updated, report.deleted, report.skipped) == (3, 0, 0, [])

    fix = svc.find_external("git", f"shop:{shas['fix']}")
    assert fix is not None
    assert fix.kind == "commit" and fix.project == "shop" and fix.source == "git"
    assert fix.title == "Fix config parsing that dropped the first line"
    assert "The header line is gone" in fix.content and "Changed: parse_config" in fix.content
    assert fix.anchor is not None
    assert (fix.anchor.path, fix.anchor.symbol, fix.anchor.commit) == (
        "app.py",
        "parse_config",
        shas["fix"],
    )
    assert fix.anchor.start_line == 7
    assert fix.metadata["author_email"] == "ada@example.com" and fix.metadata["files"] == ["app.py"]
    assert fix.event_at == "2024-01-01T02:00:00Z"
    cart = svc.find_external("git", f"shop:{shas['cart']}")
    assert cart is not None and cart.anchor is not None and cart.anchor.symbol == "total"
    assert "Author: Grace Hopper" in cart.content


def test_second_run_adds_nothing_and_new_commits_are_added_incrementally(repo, svc, sync) -> None:
    shop_history(repo)
    sync(GitConnector(repo.path))
    again = sync(GitConnector(repo.path))
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 0)

    current = (repo.path / "app.py").read_text()
    repo.write("app.py", current + "\n\ndef checkout(cart):\n    return cart.total([])\n")
    new = repo.commit("Add checkout")
    more = sync(GitConnector(repo.path))
    assert (more.added, more.updated, more.deleted, more.unchanged) == (1, 0, 0, 0)
    memory = svc.find_external("git", f"shop:{new}")
    assert memory is not None and memory.anchor is not None and memory.anchor.symbol == "checkout"
    assert len(svc.external_ids("git")) == 4


def test_hover_on_a_function_finds_the_commit_that_changed_it(repo, svc, sync) -> None:
    """What the editor does on hover over `parse_config` in app.py: anchored memories first."""
    shas = shop_history(repo)
    sync(GitConnector(repo.path))

    hits = svc.context_for_file("app.py", symbol="parse_config", line=7, project="shop")
    assert hits and hits[0].memory.external_id == f"shop:{shas['fix']}"
    assert "parse_config" in hits[0].why

    # A bare name also matches the commit that added the function (its first changed lines
    # are embedded: core.service.TEXT_ONLY_EMBEDDED_CHARS); the fix is among the first two.
    recalled = svc.recall("parse_config", filters=SearchFilters(kinds=["commit"]))
    assert f"shop:{shas['fix']}" in [h.memory.external_id for h in recalled.hits[:2]]
    why = svc.recall("why does config parsing drop the first line?", limit=3)
    assert f"shop:{shas['fix']}" in [h.memory.external_id for h in why.hits]


def test_symbols_across_languages(repo, svc, sync) -> None:
    repo.write(
        "web/cart.js",
        "export class Cart {\n  add(item) {\n    this.items.push(item);\n  }\n"
        "\n  clear() {\n    this.items = [];\n  }\n}\n\nexport const price = (x) => {\n"
        "  return x * 2;\n};\n",
    )
    repo.write(
        "srv/main.go",
        "package main\n\nfunc (s *Server) Handle(w int) int {\n\treturn w\n}\n"
        "\nfunc helper() int {\n\treturn 1\n}\n",
    )
    repo.commit("Add web cart and server")
    repo.write(
        "web/cart.js",
        repo.path.joinpath("web/cart.js")
        .read_text()
        .replace("this.items = [];", "this.items.length = 0;"),
    )
    repo.write(
        "srv/main.go",
        repo.path.joinpath("srv/main.go").read_text().replace("return w", "return w + 1"),
    )
    sha = repo.commit("Clear carts in place; count requests")
    sync(GitConnector(repo.path))
    memory = svc.find_external("git", f"shop:{sha}")
    assert memory is not None
    assert set(memory.metadata["symbols"]) == {"clear", "Handle"}


def test_rebase_and_force_push_replace_the_rewritten_commits(repo, svc, sync) -> None:
    shop_history(repo)
    base = repo.head()
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("feature.py", "def feature():\n    return 1\n")
    old_feature = repo.commit("Add feature")
    repo.git("checkout", "-q", "main")
    repo.write("docs.md", "docs\n")
    repo.commit("Write docs")
    first = sync(GitConnector(repo.path))
    assert first.added == 5  # main's four and the feature branch's one

    repo.git("rebase", "-q", "main", "feature")
    rebased = repo.head()
    assert rebased != old_feature
    after_rebase = sync(GitConnector(repo.path))
    assert (after_rebase.added, after_rebase.deleted) == (1, 1)
    assert svc.find_external("git", f"shop:{old_feature}") is None
    assert svc.find_external("git", f"shop:{rebased}") is not None

    # force-push style: main is reset to an older commit and gets different commits
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "feature")
    repo.git("reset", "-q", "--hard", base)
    repo.write("hotfix.py", "x = 1\n")
    repo.commit("Hotfix")
    forced = sync(GitConnector(repo.path))
    assert (forced.added, forced.deleted) == (1, 2)  # docs and the rebased feature are gone
    assert len(svc.external_ids("git")) == 4
    assert sync(GitConnector(repo.path)).added == 0


def test_rewritten_history_is_found_even_after_gc(repo, svc, sync) -> None:
    shop_history(repo)
    sync(GitConnector(repo.path))
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.git("reflog", "expire", "--expire=now", "--all")
    repo.git("gc", "-q", "--prune=now")
    report = sync(GitConnector(repo.path))
    assert (report.added, report.deleted) == (0, 1)


def test_since_leaves_out_older_history_and_is_remembered(repo, svc, sync) -> None:
    shas = shop_history(repo)
    report = sync(GitConnector(repo.path, since=shas["add"]))
    assert report.added == 2
    repo.write("x.py", "x = 2\n")
    repo.commit("More")
    assert sync(GitConnector(repo.path)).added == 1  # still without the first commit
    assert svc.find_external("git", f"shop:{shas['add']}") is None
    lifted = sync(GitConnector(repo.path, since="all"))
    assert (lifted.added, lifted.deleted) == (1, 0)
    with pytest.raises(ConnectorError, match="unknown revision"):
        sync(GitConnector(repo.path, since="no-such-tag"))


def test_dry_run_writes_nothing(repo, svc, sync) -> None:
    shop_history(repo)
    report = sync(GitConnector(repo.path), dry_run=True)
    assert report.added == 3 and report.dry_run
    assert svc.external_ids("git") == {} and svc.get_cursor("git", "shop") is None


def test_not_a_repository_is_a_clear_error(tmp_path: Path, sync) -> None:
    with pytest.raises(ConnectorError) as err:
        sync(GitConnector(tmp_path))
    assert str(err.value).startswith(f"not a git repository: {tmp_path} — run inside a repository")
    with pytest.raises(ConnectorError, match="no such file"):
        sync(GitConnector(tmp_path / "missing"))


def test_empty_repository_syncs_nothing(repo, sync) -> None:
    report = sync(GitConnector(repo.path))
    assert (report.added, report.skipped) == (0, [])


def test_bad_content_in_history_is_kept_readable(repo, svc, sync, tmp_path: Path) -> None:
    """Invalid UTF-8 in a message, a binary file, a large file and odd names: all imported."""
    repo.write("blob.bin", bytes(range(256)) * 64)
    repo.write("big.txt", "line of text\n" * 200_000)  # 2.6 MB diff streamed, not kept
    repo.write("dir with space/naïve.py", "def f():\n    return 1\n")
    repo.commit("Add data files")
    message = tmp_path / "msg.txt"
    message.write_bytes(b"Fix caf\xe9 \xff bug\n")
    repo.write("blob.bin", b"\x00\x01changed")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-F", str(message))
    report = sync(GitConnector(repo.path))
    assert (report.added, report.skipped) == (2, [])
    titles = {svc.find_external("git", k).title for k in svc.external_ids("git")}  # type: ignore[union-attr]
    # git re-encodes a non-UTF-8 message as Latin-1 when it can; otherwise bytes are replaced
    assert titles & {"Fix café ÿ bug", "Fix caf\ufffd \ufffd bug"}
    first = [
        m
        for m in (svc.find_external("git", k) for k in svc.external_ids("git"))
        if m and m.title == "Add data files"
    ][0]
    assert "dir with space/naïve.py" in first.metadata["files"]


def test_merge_commit_and_web_link(repo, svc, sync) -> None:
    shop_history(repo)
    repo.git("remote", "add", "origin", "git@github.com:acme/shop.git")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("topic.py", "t = 1\n")
    repo.commit("Topic work")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "Merge topic", "topic")
    sync(GitConnector(repo.path))
    merge = svc.find_external("git", f"shop:{repo.head()}")
    assert merge is not None and "merge" in merge.tags and merge.anchor is None
    assert merge.source_url == f"https://github.com/acme/shop/commit/{repo.head()}"


def test_two_repositories_with_the_same_folder_name_do_not_overwrite_each_other(
    make_repo, svc, sync
) -> None:
    first = make_repo("a/api")
    first.write("a.py", "a = 1\n")
    first.commit("First repo")
    other = make_repo("b/api")
    other.write("b.py", "b = 1\n")
    other.commit("Second repo")
    assert sync(GitConnector(first.path)).added == 1
    with pytest.raises(ConnectorError, match="already synced from another repository"):
        sync(GitConnector(other.path))
    assert sync(GitConnector(other.path, project="api-b")).added == 1
    moved = first.path.parent.parent / "moved" / "api"
    moved.parent.mkdir()
    first.path.rename(moved)
    assert sync(GitConnector(moved)).added == 0  # same history, new place: nothing to redo
    assert len(svc.external_ids("git")) == 2


def test_a_pasted_error_message_finds_the_commit_whose_code_raises_it(repo, svc, sync) -> None:
    """The message says nothing of the error; the changed lines hold it (and a secret in
    them is redacted like any field)."""
    shas = shop_history(repo)
    key = "ghp_" + "Zq7Xw2Kp9Lm4Nv8Rt1Ys6Bd3Fh5Jc0Ga2Euab"
    repo.write(
        "app.py",
        APP_V1.replace(
            "        return sum(prices)",
            "        if any(p < 0 for p in prices):\n"
            '            raise ValueError("a negative price cannot be totalled")\n'
            f'        token = "{key}"\n'
            "        return sum(prices)",
        ),
    )
    guard = repo.commit("Guard the cart")
    for n in range(30):  # a big generated commit after it: bounded, it does not drown the guard
        repo.write(f"gen/table_{n}.py", "".join(f"ROW_{i} = {i * n}\n" for i in range(60)))
    repo.commit("Regenerate tables")
    sync(GitConnector(repo.path))
    hits = svc.recall("ValueError: a negative price cannot be totalled", mode="text").hits
    assert hits and hits[0].memory.metadata["sha"] == guard
    assert hits[0].memory.metadata["sha"] not in shas.values()
    assert "Changed lines:" in hits[0].memory.content and key not in hits[0].memory.content
