"""The Microsoft 365 connector: mail, calendar, Teams and files, each incremental.

    area      Graph                                            cursor scope (value)
    mail      /me/mailFolders/{inbox,sentitems}/messages/delta  mail:<folder>      (next/delta link)
    calendar  /me/calendarView/delta?startDateTime&endDateTime  calendar           (next/delta link)
    teams     /me/chats?$expand=members, /chats/{id}/messages   chat:<chat id>     (newest lastModified)
              /teams/{t}/channels/{c}/messages/delta            channel:<t>:<c>    (next/delta link)
    files     /me/drive/root/delta                              files              (next/delta link)

Every page is one ``ctx.apply`` (upserts, deletions and the page's ``@odata.nextLink`` or
final ``@odata.deltaLink`` together), so an interrupted sync resumes from the last page it
wrote. ``@removed`` items, deleted chat messages and deleted drive items delete their
memories. A delta link Graph no longer knows (410) starts a new full round. Items that
cannot be read are skipped and reported; an area that fails (no permission, a malformed
page) is reported and the other areas still run; an auth failure stops the sync.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.base import SyncContext, SyncReport
from connectors.common import apply_checked
from connectors.http import RetryingSession, RetryPolicy, SyncProgress
from connectors.m365 import mapping, office
from connectors.m365.graph import (
    GRAPH_URL,
    DeltaExpired,
    GraphClient,
    GraphError,
    GraphPage,
    TokenSource,
)
from core import ConnectorAuthError, ConnectorError, DevMemError, MemoryInput

AREAS = ("mail", "calendar", "teams", "files")
MAIL_FOLDERS = ("inbox", "sentitems")
FILE_LIMIT = 10 * 1024 * 1024
MAIL_SELECT = (
    "id,subject,from,sender,toRecipients,ccRecipients,receivedDateTime,sentDateTime,body,"
    "bodyPreview,webLink,conversationId,isDraft"
)

Mapper = Callable[[Any], MemoryInput | None]


class M365Connector:
    """Sync the signed-in user's Microsoft 365 content."""

    name = "m365"

    def __init__(
        self,
        client: httpx.Client,
        tokens: TokenSource,
        *,
        graph_url: str = GRAPH_URL,
        areas: Iterable[str] = AREAS,
        mail_folders: Iterable[str] = MAIL_FOLDERS,
        calendar_days: tuple[int, int] = (365, 180),
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = 50,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client, self.tokens, self.graph_url = client, tokens, graph_url
        self.areas = [a for a in AREAS if a in set(areas)]
        self.mail_folders, self.calendar_days = tuple(mail_folders), calendar_days
        self.policy, self.sleep, self.page_size, self.now = policy, sleep, page_size, now

    def sync(self, ctx: SyncContext) -> SyncReport:
        progress = SyncProgress(ctx)
        session = RetryingSession(
            self.client,
            self.policy,
            on_wait=progress.on_wait,
            sleep=self.sleep,
            service_name="Microsoft Graph",
        )
        graph = GraphClient(session, self.tokens, self.graph_url)
        run = _AreaRun(ctx, graph, progress, self)
        for area in self.areas:
            progress.begin(area)
            try:
                getattr(run, area)()
            except ConnectorAuthError:
                raise
            except ConnectorError as exc:  # this area stops; the others still run
                ctx.skip(area, str(exc))
        return ctx.report


class _AreaRun:
    """One sync's work, area by area."""

    def __init__(
        self, ctx: SyncContext, graph: GraphClient, progress: SyncProgress, conn: M365Connector
    ) -> None:
        self.ctx, self.graph, self.progress, self.conn = ctx, graph, progress, conn
        self.prefer = {"Prefer": f"odata.maxpagesize={conn.page_size}"}

    # ---- areas -------------------------------------------------------------------------
    def mail(self) -> None:
        headers = {"Prefer": f'odata.maxpagesize={self.conn.page_size}, IdType="ImmutableId"'}
        for folder in self.conn.mail_folders:
            self.guarded(
                f"mail {folder}",
                lambda f=folder: self.delta(  # type: ignore[misc]
                    f"mail:{f}",
                    f"/me/mailFolders/{f}/messages/delta",
                    {"$select": MAIL_SELECT},
                    headers,
                    lambda item: mapping.message(item, f),
                    lambda item: f"mail:{item['id']}",
                ),
            )

    def calendar(self) -> None:
        back, ahead = self.conn.calendar_days
        now = self.conn.now()
        window = {
            "startDateTime": _iso(now - timedelta(days=back)),
            "endDateTime": _iso(now + timedelta(days=ahead)),
        }
        self.delta(
            "calendar",
            "/me/calendarView/delta",
            window,
            self.prefer,
            mapping.event,
            lambda item: f"event:{item['id']}",
        )

    def teams(self) -> None:
        self.guarded("teams chats", self.chats)
        self.channels()

    def chats(self) -> None:
        for page in self.graph.pages("/me/chats", {"$expand": "members", "$top": 50}):
            for chat in page.items:
                if isinstance(chat, dict) and chat.get("id"):
                    self.guarded(
                        f"chat {mapping.chat_name(chat)}", functools.partial(self.chat, chat)
                    )
                else:
                    self.ctx.skip("teams chat", "malformed chat (no id)")

    def files(self) -> None:
        self.delta(
            "files",
            "/me/drive/root/delta",
            None,
            self.prefer,
            self.drive_item,
            lambda item: f"file:{item['id']}",
            removed=_drive_removed,
        )

    # ---- Teams -------------------------------------------------------------------------
    def chat(self, chat: dict[str, Any]) -> None:
        """A chat has no delta in delegated Graph: read messages changed since the newest
        one seen (newest first, ``$filter`` on lastModifiedDateTime), then store that time."""
        scope = f"chat:{chat['id']}"
        since = self.ctx.cursor(scope)
        params: dict[str, Any] = {"$top": 50, "$orderby": "lastModifiedDateTime desc"}
        if since:
            params["$filter"] = f"lastModifiedDateTime gt {since}"
        newest = since or ""
        for page in self.graph.pages(f"/chats/{chat['id']}/messages", params):
            stamps = [
                str(m.get("lastModifiedDateTime") or "") for m in page.items if isinstance(m, dict)
            ]
            newest = max([newest, *stamps])
            self.write(
                page.items,
                lambda m: mapping.chat_message(m, chat),
                lambda m: f"chat:{chat['id']}:{m['id']}",
                mapping.is_deleted_message,
                None,
            )
        if newest and newest != since:
            self.ctx.apply([], [], (scope, newest))

    def channels(self) -> None:
        try:
            teams = [
                t
                for p in self.graph.pages("/me/joinedTeams")
                for t in p.items
                if isinstance(t, dict)
            ]
        except GraphError as exc:
            if exc.status != 403:
                raise
            self.ctx.skip(
                "teams channels",
                f"{exc.message} Sign in with `devmem m365 login --with-channels` "
                "(needs ChannelMessage.Read.All, which an admin may have to allow).",
            )
            return
        for team in teams:
            for page in self.graph.pages(f"/teams/{team['id']}/channels"):
                for channel in (c for c in page.items if isinstance(c, dict) and c.get("id")):
                    self.channel(team, channel)

    def channel(self, team: dict[str, Any], channel: dict[str, Any]) -> None:
        scope = f"channel:{team['id']}:{channel['id']}"
        self.guarded(
            f"channel {channel.get('displayName', channel['id'])}",
            lambda: self.delta(
                scope,
                f"/teams/{team['id']}/channels/{channel['id']}/messages/delta",
                None,
                self.prefer,
                lambda m: mapping.channel_message(m, team, channel),
                lambda m: f"{scope}:{m['id']}",
                removed=mapping.is_deleted_message,
            ),
        )

    def guarded(self, label: str, work: Callable[[], None]) -> None:
        """Run one folder's / chat's / channel's sync; its failure is reported, the rest go on."""
        try:
            work()
        except ConnectorAuthError:
            raise
        except ConnectorError as exc:
            self.ctx.skip(label, str(exc))

    # ---- files -------------------------------------------------------------------------
    def drive_item(self, item: Any) -> MemoryInput | None:
        if not isinstance(item, dict) or "file" not in item:
            return None  # folders, the root, notebooks
        name = str(item.get("name") or "")
        if not office.supported(name):
            return None
        size = int(item.get("size") or 0)
        if size > FILE_LIMIT:
            raise mapping.MappingError(
                f"{name} is {size:,} bytes; files above {FILE_LIMIT:,} are not imported"
            )
        url = item.get("@microsoft.graph.downloadUrl")
        try:
            data = (
                self.graph.download(str(url), limit=FILE_LIMIT, authorised=False)
                if url
                else self.graph.download(
                    f"/me/drive/items/{item['id']}/content", limit=FILE_LIMIT, authorised=True
                )
            )
            text = office.extract_text(name, data)
        except (GraphError, office.UnreadableDocument) as exc:
            raise mapping.MappingError(f"{name}: {exc}") from exc
        return mapping.drive_item(item, text) if text.strip() else None

    # ---- delta rounds ------------------------------------------------------------------
    def delta(
        self,
        scope: str,
        start: str,
        params: dict[str, Any] | None,
        headers: dict[str, str],
        mapper: Mapper,
        ext_of: Callable[[Any], str],
        removed: Callable[[Any], bool] = lambda item: "@removed" in item,
    ) -> None:
        """Run (or resume) a delta round, one ``apply`` per page with its link as cursor."""
        stored = self.ctx.cursor(scope)
        try:
            self._round(
                scope, stored or start, None if stored else params, headers, mapper, ext_of, removed
            )
        except GraphError as exc:
            if not stored or not (isinstance(exc, DeltaExpired) or exc.status in (400, 404)):
                raise
            # Graph forgot the stored state (410), or no longer accepts the stored link: a new
            # full round re-reads everything (unchanged items cost no write) rather than
            # failing on the same cursor at every sync.
            self._round(scope, start, params, headers, mapper, ext_of, removed)

    def _round(
        self,
        scope: str,
        url: str,
        params: dict[str, Any] | None,
        headers: dict[str, str],
        mapper: Mapper,
        ext_of: Callable[[Any], str],
        removed: Callable[[Any], bool],
    ) -> None:
        for page in self.graph.pages(url, params, headers):
            self.write(page.items, mapper, ext_of, removed, (scope, _cursor(page)))

    def write(
        self,
        items: list[Any],
        mapper: Mapper,
        ext_of: Callable[[Any], str],
        removed: Callable[[Any], bool],
        cursor: tuple[str, str | None] | None,
    ) -> None:
        inputs: list[MemoryInput] = []
        deletions: list[str] = []
        for item in items:
            try:
                if not isinstance(item, dict) or not item.get("id"):
                    raise mapping.MappingError("no id")
                if removed(item):
                    deletions.append(ext_of(item))
                    continue
                inp = mapper(item)
            except (
                mapping.MappingError,
                KeyError,
                TypeError,
                ValueError,
                AttributeError,
                DevMemError,
            ) as exc:
                self.ctx.skip(
                    f"{self.progress.stage} item {_item_id(item)}", f"malformed item ({exc})"
                )
                continue
            if inp is not None:
                inputs.append(inp)
        full_cursor = (cursor[0], cursor[1]) if cursor and cursor[1] else None
        apply_checked(self.ctx, inputs, deletions, full_cursor)
        self.progress.advance(len(items))


def _cursor(page: GraphPage) -> str | None:
    """Where to resume after this page: the next page, or the round's delta link."""
    return page.delta_link or page.next_link


def _drive_removed(item: dict[str, Any]) -> bool:
    return "@removed" in item or "deleted" in item


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _item_id(item: Any) -> str:
    return str(item.get("id", "?"))[:40] if isinstance(item, dict) else "?"
