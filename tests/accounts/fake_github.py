"""A fake GitHub REST API with the real shapes: issues (PRs included), issue comments and
review comments listings with ``since``/``sort``/``direction``, ``Link`` paging, ETags and
304s, ``x-ratelimit-*`` headers, primary (403 + remaining 0 + reset) and secondary
(403 + retry-after) rate limits, 401 for a bad token."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode

from fake_http import Request, Response

TOKEN = "ghp_fake_token_for_tests_0123456789abcdef"
OWNER, REPO = "acme", "rocket"


class FakeGitHub:
    def __init__(self) -> None:
        self.url = ""
        self.server: Any = None  # the FakeServer, once running  # set once the server runs
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.reviews: dict[int, dict[str, Any]] = {}
        self.clock = 1_700_000_000
        self.remaining = 5000
        self.limits: list[str] = []  # queued "primary" / "secondary" / "garbage:<listing>"
        self.served = 0  # 200 responses (a 304 is free)

    # ---- data --------------------------------------------------------------------------
    def tick(self) -> str:
        self.clock += 60
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock))

    def add_issue(
        self,
        number: int,
        title: str,
        body: str = "",
        *,
        pr: bool = False,
        user: str = "ada",
        **extra: Any,
    ) -> dict[str, Any]:
        stamp = self.tick()
        kind = "pull" if pr else "issues"
        issue = {
            "id": 1000 + number,
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "user": {"login": user},
            "labels": [{"name": "bug"}] if not pr else [],
            "assignees": [],
            "created_at": stamp,
            "updated_at": stamp,
            "html_url": f"https://github.com/{OWNER}/{REPO}/{kind}/{number}",
            "comments": 0,
            **extra,
        }
        if pr:
            issue["pull_request"] = {
                "url": f"{self.url}/repos/{OWNER}/{REPO}/pulls/{number}",
                "merged_at": None,
            }
        self.issues[number] = issue
        return issue

    def update_issue(self, number: int, **changes: Any) -> None:
        self.issues[number].update(changes, updated_at=self.tick())

    def add_comment(
        self, cid: int, number: int, body: str, *, user: str = "bob", pr: bool = False
    ) -> None:
        stamp = self.tick()
        kind = "pull" if pr else "issues"
        self.comments[cid] = {
            "id": cid,
            "body": body,
            "user": {"login": user},
            "created_at": stamp,
            "updated_at": stamp,
            "issue_url": f"{self.url}/repos/{OWNER}/{REPO}/issues/{number}",
            "html_url": f"https://github.com/{OWNER}/{REPO}/{kind}/{number}#issuecomment-{cid}",
        }
        self.issues[number]["updated_at"] = stamp

    def add_review(
        self, cid: int, number: int, body: str, path: str, line: int, user: str = "carol"
    ) -> None:
        stamp = self.tick()
        self.reviews[cid] = {
            "id": cid,
            "body": body,
            "user": {"login": user},
            "created_at": stamp,
            "updated_at": stamp,
            "path": path,
            "line": line,
            "original_line": line,
            "commit_id": "a" * 40,
            "diff_hunk": "@@ -1,3 +1,4 @@\n def launch():\n+    check_fuel()",
            "pull_request_url": f"{self.url}/repos/{OWNER}/{REPO}/pulls/{number}",
            "html_url": f"https://github.com/{OWNER}/{REPO}/pull/{number}#discussion_r{cid}",
        }

    # ---- HTTP --------------------------------------------------------------------------
    def __call__(self, req: Request) -> Response:
        if req.headers.get("authorization") != f"Bearer {TOKEN}":
            return Response.json({"message": "Bad credentials"}, 401)
        if self.limits and not self.limits[0].startswith("garbage"):
            return self._limited(self.limits.pop(0))
        base = f"/repos/{OWNER}/{REPO}"
        listings = {
            f"{base}/issues": ("issues", self.issues),
            f"{base}/issues/comments": ("comments", self.comments),
            f"{base}/pulls/comments": ("review_comments", self.reviews),
        }
        if req.path not in listings:
            return Response.json({"message": "Not Found"}, 404)
        name, store = listings[req.path]
        if self.limits and self.limits[0] == f"garbage:{name}":
            self.limits.pop(0)
            return Response(200, b"<html>unicorn</html>", {"Content-Type": "text/html"})
        return self._listing(req, list(store.values()))

    def _listing(self, req: Request, items: list[dict[str, Any]]) -> Response:
        since = req.query.get("since")
        rows = sorted(
            (i for i in items if not since or i["updated_at"] >= since),
            key=lambda i: i["updated_at"],
        )
        if req.query.get("direction") == "desc":
            rows.reverse()
        per_page, page = int(req.query.get("per_page", 30)), int(req.query.get("page", 1))
        chunk = rows[(page - 1) * per_page : page * per_page]
        body = json.dumps(chunk).encode()
        etag = f'W/"{hashlib.sha1(body + req.path.encode()).hexdigest()}"'
        if req.headers.get("if-none-match") == etag:
            return Response(304, b"", {"ETag": etag, **self._rate_headers()})
        self.remaining -= 1
        self.served += 1
        headers = {"Content-Type": "application/json", "ETag": etag, **self._rate_headers()}
        if page * per_page < len(rows):
            query = {**req.query, "page": page + 1}
            last = {**req.query, "page": (len(rows) + per_page - 1) // per_page}
            headers["Link"] = (
                f'<{self.url}{req.path}?{urlencode(query)}>; rel="next", '
                f'<{self.url}{req.path}?{urlencode(last)}>; rel="last"'
            )
        return Response(200, body, headers)

    def _rate_headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(5000 - self.remaining),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "core",
        }

    def _limited(self, kind: str) -> Response:
        if kind == "primary":
            return Response.json(
                {"message": "API rate limit exceeded for user ID 1."},
                403,
                {
                    "x-ratelimit-limit": "5000",
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-used": "5000",
                    "x-ratelimit-reset": str(int(time.time()) + 1),
                },
            )
        return Response.json(
            {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            },
            403,
            {"retry-after": "1"},
        )
