"""GitHub sync end to end against the local fake API (real HTTP, Link paging, ETags, limits)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fake_github import OWNER, REPO, TOKEN, FakeGitHub

from connectors.base import SyncContext
from connectors.github import GitHubConnector, mentions, token_from
from core.errors import ConnectorAuthError
from core.models import MemoryInput, ProgressEvent
from core.service import MemoryService

SLUG = f"{OWNER}/{REPO}"
SHA = "4f2c9e1d0b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d"


def _sync(
    svc: MemoryService,
    gh: FakeGitHub,
    *,
    token: str = TOKEN,
    full: bool = False,
    dry_run: bool = False,
    events: list[ProgressEvent] | None = None,
    sleeps: list[float] | None = None,
) -> SyncContext:
    ctx = SyncContext(
        svc,
        "github",
        dry_run=dry_run,
        progress=(events.append if events is not None else lambda e: None),
    )
    with httpx.Client(timeout=10) as client:
        GitHubConnector(
            client,
            SLUG,
            token=token,
            api_url=gh.url,
            full=full,
            per_page=2,
            sleep=(sleeps.append if sleeps is not None else lambda s: None),
        ).sync(ctx)
    return ctx


def _seed(gh: FakeGitHub) -> None:
    gh.add_issue(
        1,
        "Rocket explodes on launch",
        "Stack trace points at `engine/fuel.py` and commit 4f2c9e1. Checklist: #3.",
    )
    gh.add_issue(2, "Add fuel check", "Fixes #1. Touches src/engine/fuel.py", pr=True, user="bob")
    gh.add_issue(3, "Docs: launch checklist", "See #1 and #2 for background.")
    gh.add_comment(501, 1, "I can reproduce this on the staging pad every time.")
    gh.add_comment(502, 1, "+1")
    gh.add_comment(503, 2, "Looks right, but please add a test for the empty tank.", pr=True)
    gh.add_review(601, 2, "This should raise instead of returning None.", "src/engine/fuel.py", 42)


def _memory(svc: MemoryService, ext: str):  # noqa: ANN202
    found = svc.find_external("github", f"{SLUG}:{ext}")
    assert found is not None, ext
    return found


def test_first_sync_imports_issues_prs_comments_and_links(
    svc: MemoryService, gh: FakeGitHub
) -> None:
    svc.remember(
        MemoryInput(
            content="Fix fuel pump timing",
            source="git",
            external_id=f"{REPO}:{SHA}",
            kind="commit",
            project=REPO,
        )
    )
    _seed(gh)
    ctx = _sync(svc, gh)
    assert (
        ctx.report.added == 6 and ctx.report.skipped == []
    )  # 3 issues/PRs, 2 comments, 1 review ("+1" left out)
    issue, pr = _memory(svc, "issue:1"), _memory(svc, "pr:2")
    assert issue.kind == pr.kind == "issue" and issue.project == REPO
    assert issue.title == "Issue #1: Rocket explodes on launch"
    assert issue.source_url == f"https://github.com/{SLUG}/issues/1"
    assert issue.metadata["files"] == ["engine/fuel.py"] and issue.metadata["commits"] == [
        "4f2c9e1"
    ]
    assert pr.metadata["files"] == ["src/engine/fuel.py"] and pr.metadata["pull_request"] is True
    review = _memory(svc, "review:601")
    assert review.anchor is not None and (review.anchor.path, review.anchor.start_line) == (
        "src/engine/fuel.py",
        42,
    )
    assert svc.find_external("github", f"{SLUG}:comment:502") is None
    links = {(lk.source_id, lk.target_id, lk.type) for lk in svc.links(issue.id)}
    commit = svc.find_external("git", f"{REPO}:{SHA}")
    assert commit is not None
    assert (issue.id, commit.id, "references") in links  # short SHA resolved to the git memory
    assert (pr.id, issue.id, "implements") in links  # "Fixes #1" in a PR
    assert (issue.id, _memory(svc, "issue:3").id, "references") in links  # #3 came on a later page
    assert (_memory(svc, "comment:501").id, issue.id, "related") in links


def test_incremental_sync_uses_since_and_etags(svc: MemoryService, gh: FakeGitHub) -> None:
    _seed(gh)
    _sync(svc, gh)
    again = _sync(svc, gh)  # same `since`: only the boundary items come back, unchanged
    assert (again.report.added, again.report.updated) == (0, 0)
    served = gh.served
    third = _sync(svc, gh)  # every listing answers 304 to If-None-Match: no rate limit spent
    assert gh.served == served and third.report.unchanged == 0
    assert sum(1 for r in gh.server.requests if r.headers.get("if-none-match")) >= 3
    gh.update_issue(3, title="Docs: launch checklist v2")
    gh.add_comment(504, 3, "Added the pre-flight section to the checklist.")
    fourth = _sync(svc, gh)
    assert (fourth.report.added, fourth.report.updated) == (1, 1)
    assert _memory(svc, "issue:3").title == "Issue #3: Docs: launch checklist v2"


def test_rate_limits_are_waited_out_and_shown(svc: MemoryService, gh: FakeGitHub) -> None:
    _seed(gh)
    gh.limits = ["primary", "secondary"]
    events: list[ProgressEvent] = []
    sleeps: list[float] = []
    ctx = _sync(svc, gh, events=events, sleeps=sleeps)
    assert ctx.report.added == 6
    assert sum(sleeps) >= 2  # reset in ~1 s (+1 s margin), then retry-after: 1
    assert any(e.message.startswith("rate limited: waiting") for e in events)


def test_bad_token_is_an_auth_error(svc: MemoryService, gh: FakeGitHub) -> None:
    _seed(gh)
    with pytest.raises(ConnectorAuthError, match="GITHUB_TOKEN"):
        _sync(svc, gh, token="wrong")


def test_malformed_items_and_pages_are_skipped_and_reported(
    svc: MemoryService, gh: FakeGitHub
) -> None:
    _seed(gh)
    gh.issues[4] = {
        "number": 4,
        "title": "no user",
        "updated_at": "2023-11-14T22:20:00Z",
    }  # malformed
    gh.limits = ["garbage:comments"]
    ctx = _sync(svc, gh)
    skipped = "\n".join(ctx.report.skipped)
    assert "issues item 4" in skipped and "comments" in skipped and "not JSON" in skipped
    assert svc.find_external("github", f"{SLUG}:issue:1") is not None
    assert svc.find_external("github", f"{SLUG}:review:601") is not None  # later listing still ran
    gh.limits = []
    retry = _sync(svc, gh)  # the comments cursor did not move past the bad page
    assert (
        svc.find_external("github", f"{SLUG}:comment:501") is not None and retry.report.added == 2
    )


def test_full_sync_drops_issues_gone_from_github(svc: MemoryService, gh: FakeGitHub) -> None:
    _seed(gh)
    _sync(svc, gh)
    del gh.issues[3]  # deleted or transferred
    assert _sync(svc, gh).report.deleted == 0  # an incremental listing cannot see it
    assert _sync(svc, gh, full=True).report.deleted == 1
    assert svc.find_external("github", f"{SLUG}:issue:3") is None


def test_dry_run_writes_nothing(svc: MemoryService, gh: FakeGitHub) -> None:
    _seed(gh)
    ctx = _sync(svc, gh, dry_run=True)
    assert ctx.report.added == 6 and svc.external_ids("github") == {}


def test_mentions_and_token_sources(tmp_path: Path) -> None:
    found = mentions(
        "Fixes #12, see #13 and deadbeef0 in `setup.cfg` and src/a/b.py; https://x.io/c/d.py #no"
    )
    assert found.issues == [12, 13] and found.closes == [12]
    assert found.shas == ["deadbeef0"] and found.files == ["src/a/b.py", "setup.cfg"]
    assert mentions("decade facade 1234567").shas == []  # words and plain numbers are not SHAs
    assert token_from({"GH_TOKEN": "b", "GITHUB_TOKEN": "a"}) == "a"
    (tmp_path / "hosts.yml").write_text("github.com:\n    user: ada\n    oauth_token: gho_abc\n")
    assert token_from({}, tmp_path) == "gho_abc"
    assert token_from({}, tmp_path / "missing") is None
