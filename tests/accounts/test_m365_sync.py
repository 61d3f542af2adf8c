"""Microsoft 365 sync end to end: the connector, signed in through msal, against local Graph."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterable

import httpx
import pytest
from fake_microsoft import USERNAME, FakeMicrosoft, chat_message, drive_file, event, mail

from connectors.base import SyncContext
from connectors.m365.auth import M365Auth
from connectors.m365.sync import FILE_LIMIT, M365Connector
from core.errors import ConnectorAuthError
from core.models import EntityRef, Memory, ProgressEvent
from core.service import MemoryService

BOB = {"emailAddress": {"name": "Bob Smith", "address": "bob@fabrikam.com"}}


def _docx(*paragraphs: str) -> bytes:
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr(
            "word/document.xml", f'<w:document xmlns:w="{ns}"><w:body>{body}</w:body></w:document>'
        )
    return buffer.getvalue()


def _seed(ms: FakeMicrosoft) -> None:
    ms.put(
        "mail:inbox",
        mail(
            "m1",
            "Launch date",
            html_body=(
                "<p>Agreed, <b>Friday</b> it is.</p><div><b>From:</b> Ada<br><b>Sent:</b> Monday</div>"
                "<p>Shall we launch on Friday?</p>"
            ),
        ),
    )
    ms.put("mail:inbox", mail("m2", "Budget", sender="carol@contoso.com"))
    ms.put("mail:inbox", mail("m3", "Hello from home", sender="dave@gmail.com"))
    ms.put("mail:sentitems", mail("s1", "Re: Launch date", sender=USERNAME, toRecipients=[BOB]))
    ms.put("calendar", event("e1", "Launch review"))
    ms.chats = [
        {
            "id": "chat-1",
            "topic": None,
            "chatType": "group",
            "webUrl": "https://teams.microsoft.com/l/chat/1",
            "members": [
                {"id": "m-a", "displayName": "Ada Lovelace", "userId": "u-ada", "email": USERNAME},
                {
                    "id": "m-b",
                    "displayName": "Bob Smith",
                    "userId": "u-bob",
                    "email": "bob@fabrikam.com",
                },
            ],
        }
    ]
    ms.chat_messages["chat-1"] = [
        chat_message("c1", "Pushing the fuel check fix now", "2024-05-05T10:00:00.000Z"),
        chat_message(
            "c2",
            "Tests are green on main",
            "2024-05-05T10:05:00.000Z",
            user_id="u-ada",
            name="Ada Lovelace",
        ),
        chat_message("c3", "", "2024-05-05T10:06:00.000Z", messageType="systemEventMessage"),
    ]
    ms.teams = [{"id": "team-1", "displayName": "Rocket"}]
    ms.channels["/teams/team-1/channels"] = [{"id": "chan-1", "displayName": "General"}]
    ms.put(
        "channel:team-1:chan-1",
        chat_message(
            "p1",
            "Release train leaves Thursday",
            "2024-05-06T09:00:00.000Z",
            subject="Release train",
        ),
    )
    ms.put("drive", {"id": "root", "name": "root", "root": {}, "folder": {"childCount": 3}})
    ms.downloads["f1"] = b"# Launch plan\n\nShip v2 with the fuel check."
    ms.downloads["f2"] = _docx("Fuel system spec", "The tank must never be empty at launch.")
    ms.put("drive", drive_file("f1", "plan.md", ms.url, len(ms.downloads["f1"])))
    ms.put("drive", drive_file("f2", "spec.docx", ms.url, len(ms.downloads["f2"])))
    ms.put("drive", drive_file("f3", "photo.png", ms.url, 1000))
    ms.put("drive", drive_file("f4", "huge.txt", ms.url, FILE_LIMIT + 1))


def _sync(
    svc: MemoryService,
    auth: M365Auth,
    http: httpx.Client,
    ms: FakeMicrosoft,
    *,
    areas: Iterable[str] = ("mail", "calendar", "teams", "files"),
    dry_run: bool = False,
    events: list[ProgressEvent] | None = None,
    sleep: object = None,
) -> SyncContext:
    ctx = SyncContext(
        svc,
        "m365",
        dry_run=dry_run,
        progress=events.append if events is not None else lambda e: None,
    )
    kwargs = {"sleep": sleep} if sleep is not None else {}
    M365Connector(http, auth, graph_url=f"{ms.url}/v1.0", areas=areas, **kwargs).sync(ctx)  # type: ignore[arg-type]
    return ctx


def _get(svc: MemoryService, ext: str) -> Memory:
    found = svc.find_external("m365", ext)
    assert found is not None, ext
    return found


def _refs(svc: MemoryService, memory: Memory) -> set[tuple[str, str]]:
    """(type, name) of the entities the knowledge graph holds for a memory."""
    from core import graph

    return {(e.type, e.name) for e in graph.entities_of_memory(svc.store, memory.id)}


def test_first_sync_maps_every_area(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    ctx = _sync(svc, signed_in, http, ms)
    assert ctx.report.added == 10, (
        ctx.report
    )  # 4 mails, 1 meeting, 2 chat + 1 channel messages, 2 files
    assert [s for s in ctx.report.skipped if "huge.txt" in s]  # too large: reported, not imported
    m1 = _get(svc, "mail:m1")
    assert m1.kind == "email" and m1.title == "Launch date"
    assert (
        "Agreed, **Friday** it is." in m1.content and "Shall we launch" not in m1.content
    )  # quote trimmed
    assert (
        "<p>" not in m1.content
        and m1.source_url
        and m1.source_url.startswith("https://outlook.office365.com/")
    )
    assert {
        ("person", "bob@fabrikam.com"),
        ("person", USERNAME),
        ("organisation", "fabrikam.com"),
        ("organisation", "contoso.com"),
    } <= _refs(svc, m1)
    assert ("organisation", "gmail.com") not in _refs(svc, _get(svc, "mail:m3"))
    meeting = _get(svc, "event:e1")
    assert meeting.kind == "meeting" and meeting.event_at == "2024-05-03T14:00:00Z"
    assert (
        "Agenda: launch review" in meeting.content
        and "Join on your computer" not in meeting.content
    )
    assert ("meeting", "launch review 2024-05-03") in _refs(svc, meeting)
    assert ("meeting", "launch review") not in _refs(
        svc, meeting
    )  # core.extract names it the same way
    chat = _get(svc, "chat:chat-1:c1")
    assert chat.kind == "chat" and chat.title.startswith("Chat with Ada Lovelace, Bob Smith")
    assert (
        chat.metadata["author"] == "Bob Smith <bob@fabrikam.com>"
    )  # email from the chat's member list
    assert svc.find_external("m365", "chat:chat-1:c3") is None  # system event
    assert _get(svc, "channel:team-1:chan-1:p1").title == "Rocket › General: Release train"
    assert _get(svc, "file:f1").kind == "document"
    assert "The tank must never be empty at launch." in _get(svc, "file:f2").content
    assert _get(svc, "file:f2").metadata["path"] == "/Specs/spec.docx"
    assert svc.find_external("m365", "file:f3") is None  # not a text or Office file


def test_entity_relations_name_each_persons_part() -> None:
    from connectors.m365 import mapping

    inp = mapping.message(mail("x", "Hi", toRecipients=[BOB]), "inbox")
    assert inp is not None
    assert EntityRef("person", "bob@fabrikam.com", "Bob", "sent") in inp.entities
    assert EntityRef("person", USERNAME, "Ada Lovelace", "received") not in inp.entities  # Bob only
    meeting = mapping.event(event("e", "Standup"))
    assert meeting is not None
    assert {e.relation for e in meeting.entities if e.type == "person"} == {"attended"}
    assert EntityRef("organisation", "fabrikam.com", "Fabrikam", "member_of") in meeting.entities


def test_incremental_sync_follows_delta_links_and_deletions(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    _sync(svc, signed_in, http, ms)
    quiet = _sync(svc, signed_in, http, ms)
    assert (quiet.report.added, quiet.report.updated, quiet.report.deleted) == (0, 0, 0)
    assert any("$deltatoken" in r.query for r in ms.server_requests if "/messages/delta" in r.path)
    ms.put("mail:inbox", mail("m4", "Post-launch review"))
    ms.put("mail:inbox", mail("m2", "Budget (revised)", sender="carol@contoso.com"))
    ms.remove("mail:inbox", "m3")  # → {"id": "m3", "@removed": {"reason": "deleted"}}
    ms.remove("calendar", "e1")
    ms.chat_messages["chat-1"][0].update(
        deletedDateTime="2024-05-07T00:00:00Z", lastModifiedDateTime="2024-05-07T00:00:00.000Z"
    )
    ms.put("drive", {"id": "f1", "name": "plan.md", "deleted": {"state": "deleted"}})
    ctx = _sync(svc, signed_in, http, ms)
    assert (ctx.report.added, ctx.report.updated, ctx.report.deleted) == (1, 1, 4)
    assert _get(svc, "mail:m2").title == "Budget (revised)"
    for gone in ("mail:m3", "event:e1", "chat:chat-1:c1", "file:f1"):
        assert svc.find_external("m365", gone) is None


def test_throttling_waits_for_retry_after(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    ms.fault("/mailFolders/inbox", "429")
    events: list[ProgressEvent] = []
    started = time.monotonic()
    ctx = _sync(
        svc, signed_in, http, ms, areas=["mail"], events=events
    )  # really sleeps: Retry-After: 1
    assert time.monotonic() - started >= 1.0
    assert ctx.report.added == 4 and ctx.report.skipped == []
    assert any(e.message == "rate limited: waiting 1 s" for e in events)
    ms.fault("/calendarView", "503", times=2)
    sleeps: list[float] = []
    assert (
        _sync(svc, signed_in, http, ms, areas=["calendar"], sleep=sleeps.append).report.added == 1
    )
    assert sum(sleeps) == 2


def test_expired_token_is_refreshed_once(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    ms.expire_tokens()
    ctx = _sync(svc, signed_in, http, ms, areas=["mail"])
    assert ctx.report.added == 4
    refreshes = [
        r for r in ms.server.requests if r.path.endswith("/token") and b"refresh_token" in r.body
    ]
    assert len(refreshes) == 1


def test_revoked_consent_stops_with_a_login_hint(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    ms.revoke_consent()
    with pytest.raises(ConnectorAuthError, match="devmem m365 login"):
        _sync(svc, signed_in, http, ms)


def test_malformed_items_and_pages_are_skipped_and_reported(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    ms.put("mail:inbox", mail("bad1", "Broken", toRecipients="nobody"))
    ms.put("mail:inbox", {"subject": "no id at all"} | {"id": ""})
    ms.put("mail:inbox", mail("bad2", "Bad date", receivedDateTime="yesterday-ish"))
    ms.fault("/calendarView", "garbage")
    ctx = _sync(svc, signed_in, http, ms)
    skipped = "\n".join(ctx.report.skipped)
    assert "bad1" in skipped and "toRecipients is not a list" in skipped
    assert "bad2" in skipped and "calendar" in skipped and "not JSON" in skipped
    assert _get(svc, "mail:m1") and _get(svc, "file:f2")  # nothing else lost
    assert svc.find_external("m365", "event:e1") is None
    assert (
        _sync(svc, signed_in, http, ms, areas=["calendar"]).report.added == 1
    )  # the next run recovers


def test_an_interrupted_round_resumes_from_its_last_page(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    ms.fault("/mailFolders/inbox", "pass")
    ms.fault("/mailFolders/inbox", "garbage")  # the second page breaks
    first = _sync(svc, signed_in, http, ms, areas=["mail"])
    assert first.report.added == 3 and first.report.skipped  # inbox page 1 (2) + sent (1)
    starts = sum(
        1
        for r in ms.server_requests
        if r.path.endswith("inbox/messages/delta") and not r.query.get("$skiptoken")
    )
    second = _sync(svc, signed_in, http, ms, areas=["mail"])
    assert second.report.added == 1
    assert (
        sum(
            1
            for r in ms.server_requests
            if r.path.endswith("inbox/messages/delta") and not r.query.get("$skiptoken")
        )
        == starts
    )  # resumed from the stored nextLink


def test_forgotten_delta_state_starts_a_new_round(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    _sync(svc, signed_in, http, ms, areas=["mail"])
    ms.fault("/mailFolders/inbox", "410")
    ctx = _sync(svc, signed_in, http, ms, areas=["mail"])
    assert ctx.report.skipped == [] and ctx.report.unchanged == 3


def test_channels_without_permission_are_reported_not_fatal(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    ms.channels_forbidden = True
    ctx = _sync(svc, signed_in, http, ms, areas=["teams"])
    assert ctx.report.added == 2
    assert any("--with-channels" in s for s in ctx.report.skipped)


def test_dry_run_writes_nothing(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    _seed(ms)
    ctx = _sync(svc, signed_in, http, ms, areas=["mail", "calendar"], dry_run=True)
    assert ctx.report.added == 5 and svc.external_ids("m365") == {}


def test_people_meetings_and_organisations_are_related_in_the_graph(
    svc: MemoryService, signed_in: M365Auth, http: httpx.Client, ms: FakeMicrosoft
) -> None:
    from core import graph

    _seed(ms)
    _sync(svc, signed_in, http, ms, areas=["mail", "calendar"])
    bob = graph.find_entities(svc.store, "bob@fabrikam.com")[0]
    related = {
        (n.relation, n.entity.type, n.entity.name)
        for n in graph.neighbours(svc.store, bob, limit=50)
    }
    assert ("attended", "meeting", "launch review 2024-05-03") in related
    assert ("member_of", "organisation", "fabrikam.com") in related
    assert ("sent", "person", USERNAME) in related
