"""A fake Microsoft identity platform + Microsoft Graph, speaking the real shapes.

Identity (``/<tenant>/…``): OpenID configuration, device-code endpoint, token endpoint
(device-code, authorization-code with PKCE S256 and nonce, refresh-token grants; id_token
and client_info as Entra sends them), the authorize endpoint answering with the
``form_post`` page a browser would submit. Graph (``/v1.0/…``): mail, calendarView, drive
and channel delta rounds (``@odata.nextLink`` with $skiptoken, ``@odata.deltaLink`` with
$deltatoken, ``@removed``), chats and chat messages with ``$filter``/``$orderby``, 401 for
expired tokens, queued 429 / 503 with ``Retry-After``, queued garbage pages, 410 for a
forgotten delta state.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fake_http import Request, Response

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TENANT_ID = "99999999-8888-7777-6666-555555555555"
USER_ID = "00000000-0000-0000-0000-0000000000ad"
USERNAME = "ada@contoso.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Collection:
    """Items with a change log, for delta rounds."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[tuple[int, str]] = field(default_factory=list)  # (seq, id)
    removed: set[str] = field(default_factory=set)

    def put(self, seq: int, item: dict[str, Any]) -> None:
        self.items[item["id"]] = item
        self.removed.discard(item["id"])
        self.log.append((seq, item["id"]))

    def remove(self, seq: int, item_id: str) -> None:
        self.items.pop(item_id, None)
        self.removed.add(item_id)
        self.log.append((seq, item_id))

    def changes(self, after: int) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(i for s, i in self.log if s > after))
        return [
            self.items[i] if i in self.items else {"id": i, "@removed": {"reason": "deleted"}}
            for i in ids
        ]


class FakeMicrosoft:
    def __init__(self) -> None:
        self.url = ""
        self.server: Any = None  # the FakeServer, once running
        self.seq = itertools.count(1)
        self.collections: dict[str, Collection] = {}
        self.chats: list[dict[str, Any]] = []
        self.chat_messages: dict[str, list[dict[str, Any]]] = {}
        self.teams: list[dict[str, Any]] = []
        self.channels: dict[str, list[dict[str, Any]]] = {}
        self.downloads: dict[str, bytes] = {}
        self.rounds: dict[
            str, tuple[list[dict[str, Any]], int, str]
        ] = {}  # skiptoken → rest, seq, path
        self.device_codes: dict[str, dict[str, Any]] = {}
        self.auth_codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.revoked = False
        self.faults: list[tuple[str, str]] = []  # (path fragment, "429"|"503"|"garbage"|"410")
        self.page_size = 2
        self.channels_forbidden = False
        self.server_requests: list[Request] = []

    # ---- test controls -----------------------------------------------------------------
    def collection(self, name: str) -> Collection:
        return self.collections.setdefault(name, Collection())

    def put(self, name: str, item: dict[str, Any]) -> None:
        self.collection(name).put(next(self.seq), item)

    def remove(self, name: str, item_id: str) -> None:
        self.collection(name).remove(next(self.seq), item_id)

    def expire_tokens(self) -> None:
        self.access_tokens.clear()

    def revoke_consent(self) -> None:
        self.revoked = True
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    def fault(self, fragment: str, kind: str, times: int = 1) -> None:
        self.faults += [(fragment, kind)] * times

    def graph_requests(self, fragment: str) -> int:
        return sum(1 for r in self.server_requests if fragment in r.path)

    # ---- HTTP --------------------------------------------------------------------------
    def __call__(self, req: Request) -> Response:
        if req.path.startswith("/v1.0/"):
            return self._graph(req)
        if req.path.startswith("/download/"):
            data = self.downloads.get(req.path.rsplit("/", 1)[1])
            return (
                Response(200, data, {"Content-Type": "application/octet-stream"})
                if data is not None
                else Response(404)
            )
        return self._identity(req)

    # ---- identity ----------------------------------------------------------------------
    def _identity(self, req: Request) -> Response:
        match = re.fullmatch(
            r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/\w+)", req.path
        )
        if not match:
            return Response.json({"error": "not_found"}, 404)
        tenant, what = match.groups()
        base = f"{self.url}/{tenant}"
        if what.startswith("v2.0"):
            return Response.json(
                {
                    "issuer": f"{self.url}/{TENANT_ID}/v2.0",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "response_modes_supported": ["query", "fragment", "form_post"],
                    "scopes_supported": ["openid", "profile", "email", "offline_access"],
                }
            )
        endpoint = what.rsplit("/", 1)[1]
        return {
            "devicecode": self._devicecode,
            "token": self._token,
            "authorize": self._authorize,
        }.get(endpoint, lambda r: Response.json({"error": "not_found"}, 404))(req)

    def _devicecode(self, req: Request) -> Response:
        form = req.form()
        if form.get("client_id") != CLIENT_ID:
            return Response.json(
                {
                    "error": "unauthorized_client",
                    "error_description": "AADSTS700016: app not found",
                },
                400,
            )
        code = secrets.token_urlsafe(16)
        user_code = secrets.token_hex(4).upper()
        self.device_codes[code] = {
            "approved": False,
            "scope": form.get("scope", ""),
            "user_code": user_code,
        }
        return Response.json(
            {
                "device_code": code,
                "user_code": user_code,
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": f"To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
                f"and enter the code {user_code} to authenticate.",
            }
        )

    def approve(self, user_code: str) -> None:
        for entry in self.device_codes.values():
            if entry["user_code"] == user_code:
                entry["approved"] = True

    def _authorize(self, req: Request) -> Response:
        q = req.query
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return Response(400, b"PKCE required")
        code = secrets.token_urlsafe(16)
        self.auth_codes[code] = {
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "nonce": q.get("nonce"),
            "scope": q.get("scope", ""),
        }
        page = (
            f'<html><body onload="document.forms[0].submit()"><form method="POST" '
            f'action="{html.escape(q["redirect_uri"])}">'
            f'<input type="hidden" name="code" value="{code}"/>'
            f'<input type="hidden" name="state" value="{html.escape(q.get("state", ""))}"/>'
            f"</form></body></html>"
        )
        return Response(200, page.encode(), {"Content-Type": "text/html"})

    def _token(self, req: Request) -> Response:
        form = req.form()
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            entry = self.device_codes.get(form.get("device_code", ""))
            if entry is None:
                return _oauth_error("expired_token", "AADSTS70019: the code has expired.")
            if not entry["approved"]:
                entry["approved"] = (
                    True  # the user finishes signing in during the first poll interval
                )
                return _oauth_error("authorization_pending", "AADSTS70016: pending")
            return self._tokens(entry["scope"], None)
        if grant == "authorization_code":
            entry = self.auth_codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            if (
                entry is None
                or _b64(hashlib.sha256(verifier.encode()).digest()) != entry["challenge"]
                or entry["redirect_uri"] != form.get("redirect_uri")
            ):
                return _oauth_error("invalid_grant", "AADSTS70008: bad code or PKCE verifier.")
            return self._tokens(form.get("scope") or entry["scope"], entry["nonce"])
        if grant == "refresh_token":
            if self.revoked or form.get("refresh_token") not in self.refresh_tokens:
                return _oauth_error(
                    "invalid_grant",
                    "AADSTS65001: The user or administrator has not consented "
                    "to use the application.",
                    suberror="consent_required",
                )
            self.refresh_tokens.discard(form["refresh_token"])
            return self._tokens(form.get("scope", ""), None)
        return _oauth_error("unsupported_grant_type", f"AADSTS70003: {grant}")

    def _tokens(self, scope: str, nonce: str | None) -> Response:
        access, refresh = "at-" + secrets.token_urlsafe(12), "rt-" + secrets.token_urlsafe(12)
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        now = int(time.time())
        claims = {
            "aud": CLIENT_ID,
            "iss": f"{self.url}/{TENANT_ID}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "name": "Ada Lovelace",
            "oid": USER_ID,
            "preferred_username": USERNAME,
            "sub": "ada-sub",
            "tid": TENANT_ID,
            "ver": "2.0",
            **({"nonce": nonce} if nonce else {}),
        }
        id_token = ".".join(
            [_b64(b'{"alg":"none","typ":"JWT"}'), _b64(json.dumps(claims).encode()), ""]
        )
        granted = " ".join(
            s for s in scope.split() if s not in ("openid", "profile", "offline_access")
        )
        return Response.json(
            {
                "token_type": "Bearer",
                "scope": granted,
                "expires_in": 3600,
                "ext_expires_in": 3600,
                "access_token": access,
                "refresh_token": refresh,
                "id_token": id_token,
                "client_info": _b64(json.dumps({"uid": USER_ID, "utid": TENANT_ID}).encode()),
            }
        )

    # ---- Graph -------------------------------------------------------------------------
    def _graph(self, req: Request) -> Response:
        self.server_requests.append(req)
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.access_tokens:
            return Response.json(
                {
                    "error": {
                        "code": "InvalidAuthenticationToken",
                        "message": "Access token has expired or is not yet valid.",
                    }
                },
                401,
                {"WWW-Authenticate": 'Bearer realm=""'},
            )
        for index, (fragment, kind) in enumerate(self.faults):
            if fragment in req.path and (kind != "410" or "$deltatoken" in req.query):
                del self.faults[index]
                if kind != "pass":  # "pass" lets one matching request through (to hit a later page)
                    return _fault(kind)
                break
        path = req.path.removeprefix("/v1.0")
        if path == "/me/chats":
            return self._page(path, req, self.chats)
        if m := re.fullmatch(r"/chats/([^/]+)/messages", path):
            return self._chat_messages(req, m.group(1))
        if path == "/me/joinedTeams" or re.fullmatch(r"/teams/[^/]+/channels", path):
            if self.channels_forbidden:
                return Response.json(
                    {"error": {"code": "Forbidden", "message": "Missing scope permissions."}}, 403
                )
            return self._page(
                path, req, self.teams if path == "/me/joinedTeams" else self.channels.get(path, [])
            )
        name = _delta_collection(path)
        if name is None:
            return Response.json({"error": {"code": "ResourceNotFound", "message": path}}, 404)
        return self._delta(req, path, name)

    def _delta(self, req: Request, path: str, name: str) -> Response:
        coll = self.collection(name)
        size = _page_size(req, self.page_size)
        if "$skiptoken" in req.query:
            rest, seq, _ = self.rounds.pop(req.query["$skiptoken"])
        elif "$deltatoken" in req.query:
            seq = next(self.seq)
            rest = coll.changes(int(req.query["$deltatoken"]))
        else:
            if path == "/me/calendarView/delta" and not (
                "startDateTime" in req.query and "endDateTime" in req.query
            ):
                return Response.json(
                    {
                        "error": {
                            "code": "ErrorInvalidParameter",
                            "message": "startDateTime and endDateTime are required",
                        }
                    },
                    400,
                )
            seq = next(self.seq)
            rest = list(coll.items.values())
        page, rest = rest[:size], rest[size:]
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#Collection",
            "value": page,
        }
        if rest:
            token = secrets.token_urlsafe(8)
            self.rounds[token] = (rest, seq, path)
            body["@odata.nextLink"] = f"{self.url}/v1.0{path}?{urlencode({'$skiptoken': token})}"
        else:
            body["@odata.deltaLink"] = f"{self.url}/v1.0{path}?{urlencode({'$deltatoken': seq})}"
        return Response.json(body)

    def _page(self, path: str, req: Request, items: list[dict[str, Any]]) -> Response:
        start = int(req.query.get("$skiptoken", 0))
        size = int(req.query.get("$top", self.page_size))
        body: dict[str, Any] = {"value": items[start : start + size]}
        if start + size < len(items):
            body["@odata.nextLink"] = (
                f"{self.url}/v1.0{path}?{urlencode({'$skiptoken': start + size, '$top': size})}"
            )
        return Response.json(body)

    def _chat_messages(self, req: Request, chat_id: str) -> Response:
        messages = sorted(
            self.chat_messages.get(chat_id, []),
            key=lambda m: m["lastModifiedDateTime"],
            reverse=True,
        )
        match = re.fullmatch(r"lastModifiedDateTime gt (\S+)", req.query.get("$filter", ""))
        if match:
            messages = [m for m in messages if m["lastModifiedDateTime"] > match.group(1)]
        req.query.setdefault("$top", str(self.page_size))
        return self._page(f"/chats/{chat_id}/messages", req, messages)


def _delta_collection(path: str) -> str | None:
    if m := re.fullmatch(r"/me/mailFolders/(\w+)/messages/delta", path):
        return f"mail:{m.group(1)}"
    if path == "/me/calendarView/delta":
        return "calendar"
    if path == "/me/drive/root/delta":
        return "drive"
    if m := re.fullmatch(r"/teams/([^/]+)/channels/([^/]+)/messages/delta", path):
        return f"channel:{m.group(1)}:{m.group(2)}"
    return None


def _page_size(req: Request, default: int) -> int:
    m = re.search(r"odata\.maxpagesize=(\d+)", req.headers.get("prefer", ""))
    return min(int(m.group(1)), default) if m else default


def _fault(kind: str) -> Response:
    if kind in ("429", "503"):
        return Response.json(
            {
                "error": {
                    "code": "TooManyRequests" if kind == "429" else "ServiceUnavailable",
                    "message": "Please retry after 1 second.",
                }
            },
            int(kind),
            {"Retry-After": "1"},
        )
    if kind == "410":
        return Response.json(
            {"error": {"code": "SyncStateNotFound", "message": "The sync state is gone."}}, 410
        )
    return Response(200, b'{"value": [ this is not json', {"Content-Type": "application/json"})


def _oauth_error(error: str, description: str, **extra: str) -> Response:
    return Response.json(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(re.search(r"AADSTS(\d+)", description).group(1))],
            "timestamp": "2024-01-01 00:00:00Z",
            "trace_id": "t",
            "correlation_id": "c",
            **extra,
        },
        400,
    )


# ---- sample data -----------------------------------------------------------------------
def mail(
    item_id: str,
    subject: str,
    sender: str = "bob@fabrikam.com",
    html_body: str = "<p>Hello</p>",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.message",
        "@odata.etag": 'W/"CQAAABYAAA"',
        "id": item_id,
        "subject": subject,
        "receivedDateTime": "2024-05-02T09:30:00Z",
        "sentDateTime": "2024-05-02T09:29:58Z",
        "isDraft": False,
        "conversationId": "conv-" + item_id,
        "webLink": f"https://outlook.office365.com/owa/?ItemID={item_id}&exvsurl=1&viewmodel=ReadMessageItem",
        "from": {"emailAddress": {"name": sender.split("@")[0].title(), "address": sender}},
        "sender": {"emailAddress": {"name": sender.split("@")[0].title(), "address": sender}},
        "toRecipients": [{"emailAddress": {"name": "Ada Lovelace", "address": USERNAME}}],
        "ccRecipients": [],
        "bodyPreview": "Hello",
        "body": {"contentType": "html", "content": f"<html><body>{html_body}</body></html>"},
        **extra,
    }


def event(item_id: str, subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": item_id,
        "subject": subject,
        "type": "singleInstance",
        "start": {"dateTime": "2024-05-03T14:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2024-05-03T15:00:00.0000000", "timeZone": "UTC"},
        "isCancelled": False,
        "isOnlineMeeting": True,
        "location": {"displayName": "Room 101"},
        "webLink": f"https://outlook.office365.com/owa/?itemid={item_id}&exvsurl=1&path=/calendar/item",
        "organizer": {"emailAddress": {"name": "Ada Lovelace", "address": USERNAME}},
        "attendees": [
            {
                "type": "required",
                "status": {"response": "accepted", "time": "2024-05-01T00:00:00Z"},
                "emailAddress": {"name": "Bob Smith", "address": "bob@fabrikam.com"},
            }
        ],
        "body": {
            "contentType": "html",
            "content": "<p>Agenda: launch review</p><p>"
            "________________________________________________________________________________</p>"
            "<p>Microsoft Teams meeting</p><p>Join on your computer</p>",
        },
        **extra,
    }


def chat_message(
    msg_id: str,
    text: str,
    modified: str,
    user_id: str = "u-bob",
    name: str = "Bob Smith",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": msg_id,
        "replyToId": None,
        "messageType": "message",
        "createdDateTime": modified,
        "lastModifiedDateTime": modified,
        "deletedDateTime": None,
        "subject": None,
        "chatId": "chat-1",
        "importance": "normal",
        "webUrl": None,
        "from": {
            "application": None,
            "device": None,
            "user": {
                "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                "id": user_id,
                "displayName": name,
                "userIdentityType": "aadUser",
            },
        },
        "body": {"contentType": "html", "content": f"<p>{text}</p>"},
        "attachments": [],
        "mentions": [],
        "reactions": [],
        **extra,
    }


def drive_file(item_id: str, name: str, server_url: str, size: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": item_id,
        "name": name,
        "size": size,
        "file": {"mimeType": "application/octet-stream"},
        "webUrl": f"https://contoso-my.sharepoint.com/personal/ada/Documents/{name}",
        "lastModifiedDateTime": "2024-05-04T08:00:00Z",
        "createdDateTime": "2024-05-01T08:00:00Z",
        "parentReference": {"driveId": "d1", "id": "root-id", "path": "/drive/root:/Specs"},
        "createdBy": {"user": {"displayName": "Ada Lovelace", "email": USERNAME}},
        "lastModifiedBy": {"user": {"displayName": "Bob Smith", "email": "bob@fabrikam.com"}},
        "@microsoft.graph.downloadUrl": f"{server_url}/download/{item_id}",
        **extra,
    }
