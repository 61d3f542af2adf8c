"""GitHub: a repository's issues, pull requests, comments and review comments as memories.

Three REST listings, each synced incrementally on its own cursor (scope ``OWNER/REPO:<listing>``,
value ``{"since": <newest updated_at seen>, "etag": <ETag of that exact request or null>}``):

    /repos/{o}/{r}/issues            issues and PRs   → ``issue:<n>`` / ``pr:<n>`` (kind issue)
    /repos/{o}/{r}/issues/comments   conversation     → ``comment:<id>``, linked to its issue/PR
    /repos/{o}/{r}/pulls/comments    review comments  → ``review:<id>``, anchored to path + line

Listings are read oldest-update first (``sort=updated&direction=asc&since=…``) and paged by
the ``Link`` header; the cursor is saved with each page, so an interrupted sync resumes.
The first page is sent with ``If-None-Match`` when its ETag is known: a 304 costs no rate
limit and means nothing changed. Rate limits (``x-ratelimit-*``, ``retry-after``, secondary
limits) are waited out through :class:`connectors.http.RetryingSession`.

Comments are separate memories rather than folded into the issue: a ``since`` listing gives
exactly the changed comments, so an incremental sync never re-reads a whole discussion.
Each memory names the issue (``owner/repo#12``) and its people (``@login``) as entities;
metadata ``author``/``assignees``/``files``/``repo`` feed ``core.extract``'s relations. Mentions become links after each
batch: ``#12`` → that issue/PR (``implements`` for "fixes #12" in a PR, else
``references``), a SHA → the git connector's commit memory (resolved by prefix); paths go
to ``metadata["files"]``.

GitHub's listings do not show deleted or transferred issues. A full sync (the first one, or
``full=True``) deletes the issue/PR memories whose numbers it did not see; incremental
syncs cannot notice them.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from connectors.base import SyncContext, SyncReport
from connectors.common import apply_checked, dump_cursor, known_ids, load_cursor
from connectors.http import RetryingSession, RetryPolicy, SyncProgress, retry_after
from core import (
    CodeAnchor,
    ConnectorAuthError,
    ConnectorError,
    DevMemError,
    EntityRef,
    InvalidInput,
    Memory,
    MemoryInput,
)

API_URL = "https://api.github.com"
BODY_LIMIT = 200_000  # characters kept of one issue / comment body
SHORT_COMMENT = 12  # "+1", "LGTM", "thanks!" carry nothing worth recalling

_ISSUE_REF = re.compile(r"(?<![\w/#&])#(\d{1,7})\b")
_CLOSING = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d{1,7})\b", re.I)
_SHA = re.compile(r"(?<![\w/#])([0-9a-f]{7,40})(?![\w])")
_URL = re.compile(r"https?://\S+")
_PATH = re.compile(r"(?<![\w/.@-])((?:[\w.-]+/)+[\w.-]+\.[A-Za-z][A-Za-z0-9]{0,9})(?![\w/])")
_TICKED_FILE = re.compile(r"`([\w.-]+\.[A-Za-z][A-Za-z0-9]{0,9})`")


class MalformedPage(ConnectorError):
    """A listing page that is not the JSON array GitHub sends."""


@dataclass(frozen=True)
class Listing:
    key: str  # cursor scope suffix and progress stage
    path: str  # under /repos/{owner}/{repo}


LISTINGS = (
    Listing("issues", "/issues"),
    Listing("comments", "/issues/comments"),
    Listing("review_comments", "/pulls/comments"),
)


@dataclass
class Mentions:
    """What a text points at: issue numbers, closing references, SHAs and file paths."""

    issues: list[int] = field(default_factory=list)
    closes: list[int] = field(default_factory=list)
    shas: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def mentions(text: str) -> Mentions:
    """``#123``, "fixes #7", commit SHAs (7–40 hex digits with at least one digit) and paths."""
    plain = _URL.sub(" ", text)
    issues = list(dict.fromkeys(int(n) for n in _ISSUE_REF.findall(plain)))
    closes = list(dict.fromkeys(int(n) for n in _CLOSING.findall(plain)))
    shas = [
        s
        for s in dict.fromkeys(_SHA.findall(plain))
        if re.search(r"\d", s) and re.search(r"[a-f]", s)
    ]
    files = list(dict.fromkeys([*_PATH.findall(plain), *_TICKED_FILE.findall(plain)]))
    return Mentions(issues, closes, shas, files)


def github_throttle(response: httpx.Response) -> float | None:
    """Seconds to wait when ``response`` is a primary or secondary rate limit, else None."""
    if response.status_code not in (403, 429):
        return None
    hinted = retry_after(response)
    if hinted is not None:
        return hinted
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            return max(1.0, int(reset) - time.time() + 1)
    # Secondary limits may come without headers: GitHub says to wait at least a minute.
    if response.status_code == 429 or "secondary rate limit" in response.text.lower():
        return 60.0
    return None


def token_from(env: Mapping[str, str], config_dir: Path | None = None) -> str | None:
    """A GitHub token: ``GITHUB_TOKEN``, ``GH_TOKEN``, else the gh CLI's ``hosts.yml``.

    For the CLI (the entry point) to call; the token is passed to the connector, never stored.
    """
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        if env.get(name, "").strip():
            return env[name].strip()
    if config_dir is None:
        base = env.get("GH_CONFIG_DIR") or str(
            Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "gh"
        )
        config_dir = Path(base)
    try:
        hosts = yaml.safe_load((config_dir / "hosts.yml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    entry = hosts.get("github.com") if isinstance(hosts, dict) else None
    token = entry.get("oauth_token") if isinstance(entry, dict) else None
    return token if isinstance(token, str) and token.strip() else None


@dataclass
class _Link:
    source_ext: str
    target: tuple[str, str]  # (source, external id) of the target memory
    type: str


class GitHubConnector:
    """Sync one repository's issues, pull requests and their comments."""

    name = "github"

    def __init__(
        self,
        client: httpx.Client,
        repo: str,
        *,
        token: str | None = None,
        api_url: str = API_URL,
        full: bool = False,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        per_page: int = 100,
        project: str | None = None,
    ) -> None:
        owner, _, name = repo.strip().strip("/").partition("/")
        if not owner or not name or "/" in name:
            raise InvalidInput(
                f"{repo!r} is not OWNER/REPO.", hint="For example: devmem sync github psf/requests"
            )
        self.client, self.owner, self.repo = client, owner, name
        self.slug = f"{owner}/{name}"
        self.project = project or name  # the git connector's project: the clone's folder name
        self.token, self.api_url, self.full = token, api_url.rstrip("/"), full
        self.policy, self.sleep, self.per_page = policy, sleep, per_page
        self._pending: list[_Link] = []  # links wanted by the page being written
        self._later: list[_Link] = []  # links whose target did not exist yet

    def sync(self, ctx: SyncContext) -> SyncReport:
        progress = SyncProgress(ctx)
        session = RetryingSession(
            self.client,
            self.policy,
            throttle=github_throttle,
            on_wait=progress.on_wait,
            sleep=self.sleep,
            service_name="GitHub",
        )
        for listing in LISTINGS:
            progress.begin(listing.key)
            try:
                self._sync_listing(ctx, session, progress, listing)
            except MalformedPage as exc:
                ctx.skip(f"{self.slug} {listing.key}", str(exc))
        self._resolve_links(ctx)
        return ctx.report

    # ---- listings ----------------------------------------------------------------------
    def _sync_listing(
        self, ctx: SyncContext, session: RetryingSession, progress: SyncProgress, listing: Listing
    ) -> None:
        scope = f"{self.slug}:{listing.key}"
        state = {} if self.full else load_cursor(ctx, scope)
        since, etag = state.get("since"), state.get("etag")
        seen: set[str] = set()
        newest, skips = since, len(ctx.report.skipped)
        for page, first_etag in self._pages(session, listing, since, etag):
            if page is None:  # 304: nothing changed since the stored ETag
                progress.advance(0, "not modified")
                return
            inputs, deletions = self._map_page(ctx, listing, page, seen)
            newest = max([newest or "", *(str(i.get("updated_at") or "") for i in page)]) or None
            # The ETag names this exact request; keep it only while `since` stays the same.
            keep = first_etag if newest == since else None
            apply_checked(
                ctx, inputs, deletions, (scope, dump_cursor({"since": newest, "etag": keep}))
            )
            progress.advance(len(page))
            self._link_now(ctx)
        # A full listing shows every issue: the ones it lacks were deleted or transferred.
        # Not when an item was unreadable: its number may be among the "missing" ones.
        if listing.key == "issues" and since is None and len(ctx.report.skipped) == skips:
            gone = [
                e
                for e in known_ids(ctx, f"{self.slug}:")
                if e.split(":")[1] in ("issue", "pr") and e not in seen
            ]
            if gone:
                ctx.apply([], gone, None)

    def _pages(
        self, session: RetryingSession, listing: Listing, since: str | None, etag: str | None
    ) -> Iterator[tuple[list[dict[str, Any]] | None, str | None]]:
        url: str | None = f"{self.api_url}/repos/{self.slug}{listing.path}"
        first: dict[str, Any] = {"sort": "updated", "direction": "asc", "per_page": self.per_page}
        if listing.key == "issues":
            first["state"] = "all"
        if since:
            first["since"] = since
        params: dict[str, Any] | None = first
        headers = self._headers()
        if etag:
            headers["If-None-Match"] = etag
        first_etag: str | None = None
        while url:
            response = session.get(url, params=params, headers=headers)
            if response.status_code == 304:
                yield None, etag
                return
            self._check(response)
            if params is not None:
                first_etag = response.headers.get("etag")
            yield _json_list(response, listing.key), first_etag
            url = response.links.get("next", {}).get("url")
            params, headers = None, self._headers()  # the next link carries the query

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "devmemory",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _check(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        message = _message(response)
        if response.status_code == 401:
            raise ConnectorAuthError(
                f"GitHub rejected the token (401: {message}).",
                hint="Set GITHUB_TOKEN or GH_TOKEN to a valid token, or run `gh auth login`.",
            )
        if response.status_code == 403:
            raise ConnectorAuthError(
                f"GitHub refused access to {self.slug} (403: {message}).",
                hint="Use a token that can read this repository's issues.",
            )
        if response.status_code == 404:
            raise ConnectorError(
                f"GitHub has no repository {self.slug}, or the token cannot see it.",
                hint="Check OWNER/REPO; private repositories need GITHUB_TOKEN or GH_TOKEN.",
            )
        raise ConnectorError(
            f"GitHub answered {response.status_code} for {self.slug}: {message}.",
            hint="Try again later; the sync resumes where it stopped.",
        )

    # ---- mapping -----------------------------------------------------------------------
    def _ext(self, kind: str, number: int) -> str:
        """External ids carry the repository: two repos both have an ``issue:1``."""
        return f"{self.slug}:{kind}:{number}"

    def _map_page(
        self, ctx: SyncContext, listing: Listing, page: list[dict[str, Any]], seen: set[str]
    ) -> tuple[list[MemoryInput], list[str]]:
        inputs: list[MemoryInput] = []
        deletions: list[str] = []
        for item in page:
            try:
                if listing.key != "issues" and _trivial(item):
                    # "+1", "LGTM": not worth a memory; one edited down to that goes away.
                    ext = self._ext(
                        "review" if listing.key == "review_comments" else "comment", int(item["id"])
                    )
                    deletions += [e for e in ctx.known_ids(ext) if e == ext]
                    continue
                inp = (
                    self._issue(item)
                    if listing.key == "issues"
                    else self._comment(item, review=listing.key == "review_comments")
                )
            except (
                KeyError,
                TypeError,
                ValueError,
                AttributeError,
                IndexError,
                DevMemError,
            ) as exc:
                ctx.skip(
                    f"{self.slug} {listing.key} item {_item_id(item)}", f"malformed item ({exc!r})"
                )
                continue
            seen.add(inp.external_id or "")
            inputs.append(inp)
        return inputs, deletions

    def _issue(self, item: dict[str, Any]) -> MemoryInput:
        number, title = int(item["number"]), str(item["title"])
        pr = item.get("pull_request")
        ext = self._ext("pr" if pr else "issue", number)
        state = "merged" if isinstance(pr, dict) and pr.get("merged_at") else str(item["state"])
        author = str(item["user"]["login"])
        labels = [str(label["name"]) for label in item.get("labels") or []]
        body = _clip(str(item.get("body") or ""))
        head = f"{'Pull request' if pr else 'Issue'} #{number}: {title}"
        facts = f"State: {state} · opened by @{author} on {str(item['created_at'])[:10]}"
        if labels:
            facts += f" · labels: {', '.join(labels)}"
        found = mentions(f"{title}\n{body}")
        assignees = [
            str(a["login"])
            for a in item.get("assignees") or []
            if isinstance(a, dict) and a.get("login")
        ]
        entities = [
            _person(author, "authored"),
            self._issue_entity(number, title),
            *(_person(a, "assigned") for a in assignees),
        ]
        self._want_links(ext, found, closes=bool(pr))
        return MemoryInput(
            content=f"{head}\n{facts}\n\n{body}".strip(),
            title=head[:250],
            kind="issue",
            project=self.project,
            source=self.name,
            external_id=ext,
            source_url=str(item["html_url"]),
            event_at=str(item["created_at"]),
            entities=entities,
            metadata={
                "repo": self.slug,
                "number": number,
                "state": state,
                "labels": labels,
                "author": {"login": author},
                "assignees": [{"login": a} for a in assignees],
                "pull_request": bool(pr),
                "files": found.files,
                "commits": found.shas,
                "issues": found.issues,
            },
        )

    def _comment(self, item: dict[str, Any], *, review: bool) -> MemoryInput:
        cid, author = int(item["id"]), str(item["user"]["login"])
        parent_url = str(item["pull_request_url"] if review else item["issue_url"])
        number = int(parent_url.rstrip("/").rsplit("/", 1)[1])
        is_pr = review or "/pull/" in str(item["html_url"])
        body = _clip(str(item.get("body") or ""))
        ext = self._ext("review" if review else "comment", cid)
        where, anchor, text = "", None, body
        if review:
            path, line = str(item["path"]), item.get("line") or item.get("original_line")
            anchor = CodeAnchor(
                path=path,
                start_line=int(line) if line else None,
                commit=str(item.get("commit_id") or "") or None,
            )
            where = f" on `{path}`" + (f" line {line}" if line else "")
            hunk = str(item.get("diff_hunk") or "")
            text = f"{body}\n\n```diff\n{hunk[-1500:]}\n```" if hunk else body
        head = f"{'Review comment' if review else 'Comment'} by @{author} on #{number}{where}"
        found = mentions(body)
        self._want_links(ext, found, closes=False)
        self._pending.append(
            _Link(ext, (self.name, self._ext("pr" if is_pr else "issue", number)), "related")
        )
        return MemoryInput(
            content=f"{head}\n\n{text}",
            title=head[:250],
            kind="issue",
            project=self.project,
            anchor=anchor,
            source=self.name,
            external_id=ext,
            source_url=str(item["html_url"]),
            event_at=str(item["created_at"]),
            entities=[_person(author, "authored"), self._issue_entity(number, None)],
            metadata={
                "repo": self.slug,
                "number": number,
                "author": {"login": author},
                "pull_request": is_pr,
                "files": found.files,
                "commits": found.shas,
            },
        )

    def _issue_entity(self, number: int, title: str | None) -> EntityRef:
        name = f"{self.slug}#{number}"
        return EntityRef("issue", name, f"{name} {title}" if title else name)

    # ---- links -------------------------------------------------------------------------
    def _want_links(self, ext: str, found: Mentions, *, closes: bool) -> None:
        for n in found.issues:
            kind = "implements" if closes and n in found.closes else "references"
            self._pending.append(_Link(ext, (self.name, f"#{n}"), kind))
        for sha in found.shas:
            self._pending.append(_Link(ext, ("git", sha), "references"))

    def _link_now(self, ctx: SyncContext) -> None:
        """Add this page's links whose both ends exist; retry the rest at the end of the sync
        (an issue may mention one that a later page brings)."""
        if not ctx.dry_run:
            self._later += [link for link in self._pending if not self._add_link(ctx, link)]
        self._pending = []

    def _resolve_links(self, ctx: SyncContext) -> None:
        if not ctx.dry_run:
            for link in self._later:
                self._add_link(ctx, link)  # targets still missing: a later sync adds the link
        self._pending, self._later = [], []

    def _add_link(self, ctx: SyncContext, link: _Link) -> bool:
        """Link source → target when both memories exist; True when done (or never possible)."""
        src = ctx.service.find_external(ctx.connector, link.source_ext)
        target = self._target(ctx, *link.target)
        if src is None or target is None:
            return False
        if src.id != target.id and not any(
            lk.target_id == target.id for lk in ctx.service.links(src.id) if lk.source_id == src.id
        ):
            ctx.service.link(src.id, target.id, link.type)
        return True

    def _target(self, ctx: SyncContext, source: str, ref: str) -> Memory | None:
        if ref.startswith("#"):
            for kind in ("issue", "pr"):
                found = ctx.service.find_external(source, self._ext(kind, int(ref[1:])))
                if found is not None:
                    return found
            return None
        if (
            source == "git"
        ):  # the git connector's ids are <project>:<full sha>; a short SHA is a prefix
            prefix = f"{self.project}:{ref.lower()}"
            matches = [e for e in ctx.service.external_ids("git", prefix) if e.startswith(prefix)]
            return ctx.service.find_external("git", matches[0]) if len(matches) == 1 else None
        return ctx.service.find_external(source, ref)


def _person(login: str, relation: str) -> EntityRef:
    """A GitHub user, named as ``core.extract`` names a handle (``@login``)."""
    return EntityRef("person", f"@{login.lower()}", f"@{login}", relation)


def _trivial(item: dict[str, Any]) -> bool:
    body = item.get("body")
    return isinstance(body, str) and len(body.strip()) < SHORT_COMMENT


def _json_list(response: httpx.Response, what: str) -> list[dict[str, Any]]:
    try:
        data = response.json()
    except ValueError:
        raise MalformedPage(
            f"GitHub sent a {what} page that is not JSON ({response.url}).",
            hint="Items before it were imported; run the sync again later.",
        ) from None
    if not isinstance(data, list):
        raise MalformedPage(f"GitHub sent a {what} page that is not a list ({response.url}).")
    return [item if isinstance(item, dict) else {"_bad": item} for item in data]


def _message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase
    return (
        str(data.get("message", response.reason_phrase))
        if isinstance(data, dict)
        else response.reason_phrase
    )


def _item_id(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("number") or item.get("id") or "?")
    return "?"


def _clip(text: str, limit: int = BODY_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + "\n…(truncated)"
