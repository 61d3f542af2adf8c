"""Graph items → memories: mail (email), events (meeting), chat and channel messages (chat),
drive files (document), with their people as entities.

People are ``EntityRef("person", <email, lower-case>, <display name>, <relation>)`` with the
relation naming their part: ``sent`` / ``received`` (mail), ``attended`` (meetings,
organiser included), ``authored`` (messages, files); their work domains become
``EntityRef("organisation", <registrable domain>, relation="member_of")`` (public mail
providers do not). A meeting occurrence is ``EntityRef("meeting", "<subject> <date>")``.
The same people also go to metadata (``from``/``to``/``cc``, ``organizer``/``attendees``,
``author`` as "Name <email>", ``subject``): that is what ``core.extract`` turns into the
graph's sent/received/attended/member_of/authored relations, with the same entity names.
HTML bodies become text with html2text; quoted replies, forwarded headers and signatures
are trimmed. Every mapper raises :class:`MappingError` on an item it cannot read.
"""

from __future__ import annotations

import re
from typing import Any

import html2text

from core import PUBLIC_MAIL, EntityRef, MemoryInput, registrable_domain

SOURCE = "m365"
BODY_LIMIT = 200_000
_CUT = [
    re.compile(p, re.I)
    for p in (
        r"^-{2,}\s*(original message|forwarded message|ursprüngliche nachricht)\s*-{2,}",
        r"^_{20,}\s*$",  # Outlook's line above a quoted header, and the Teams invite block
        r"^on .{4,200}\bwrote:\s*$",
        r"^am .{4,200}\bschrieb .{0,100}:\s*$",
        r"^--\s*$",  # the signature delimiter
        r"^(sent from my|get outlook for)\b",
    )
]
_QUOTED_FROM = re.compile(r"^\**(from|von|de)\**:\**\s", re.I)
_QUOTED_SENT = re.compile(r"^\**(sent|date|gesendet|envoyé)\**:\**\s", re.I)


class MappingError(ValueError):
    """A Graph item lacks what its documented shape promises."""


# ---- text ------------------------------------------------------------------------------
def html_to_text(html: str) -> str:
    converter = html2text.HTML2Text()
    converter.ignore_images = True
    converter.ignore_links = True
    converter.body_width = 0
    return re.sub(r"\n{3,}", "\n\n", converter.handle(html)).strip()


def body_text(body: Any) -> str:
    """A Graph ``itemBody`` ({contentType, content}) as trimmed plain text."""
    if not isinstance(body, dict):
        return ""
    content = str(body.get("content") or "")
    text = html_to_text(content) if str(body.get("contentType", "")).lower() == "html" else content
    return trim_reply(text)


def trim_reply(text: str) -> str:
    """Cut quoted replies, forwarded headers and signatures (kept when nothing would remain)."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = next((n for n in range(len(lines)) if _starts_quote(lines, n)), len(lines))
    kept = "\n".join(ln for ln in lines[:cut] if not ln.lstrip().startswith(">")).strip()
    return kept or text.strip()


def _starts_quote(lines: list[str], n: int) -> bool:
    line = lines[n].strip()
    if any(p.search(line) for p in _CUT):
        return True
    # Outlook quotes as "From: …" followed within a few lines by "Sent: …".
    return bool(_QUOTED_FROM.search(line)) and any(
        _QUOTED_SENT.search(x.strip()) for x in lines[n + 1 : n + 5]
    )


def _clip(text: str) -> str:
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "\n…(truncated)"


def _title(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- people ----------------------------------------------------------------------------
def _address(recipient: Any) -> tuple[str, str] | None:
    """A Graph ``recipient`` ({emailAddress: {name, address}}) → (email lower-case, name)."""
    if not isinstance(recipient, dict):
        return None
    email = recipient.get("emailAddress")
    if not isinstance(email, dict):
        return None
    address = str(email.get("address") or "").strip().lower()
    name = str(email.get("name") or address).strip()
    return (address, name) if address or name else None


def _people(pairs: list[tuple[str, str] | None], relation: str) -> list[EntityRef]:
    return [
        EntityRef("person", addr or name.lower(), name or addr, relation)
        for addr, name in (p for p in pairs if p is not None)
    ]


def _organisations(refs: list[EntityRef]) -> list[EntityRef]:
    """The organisations of the people's mail domains, named as ``core.extract`` names them
    (registrable domain; public mail providers are no organisation)."""
    domains = {r.name.rsplit("@", 1)[1] for r in refs if r.type == "person" and "@" in r.name}
    orgs = sorted({registrable_domain(d) for d in domains if d not in PUBLIC_MAIL})
    return [
        EntityRef("organisation", d, d.split(".")[0].replace("-", " ").title(), "member_of")
        for d in orgs
    ]


def _dedupe(refs: list[EntityRef]) -> list[EntityRef]:
    """First mention wins: the sender stays ``sent`` even when also a recipient."""
    seen: dict[tuple[str, str], EntityRef] = {}
    for ref in refs:
        seen.setdefault((ref.type, ref.name), ref)
    return list(seen.values())


def _who(pair: tuple[str, str] | None) -> str | None:
    """ "Name <email>": the form ``core.extract`` reads people (and their roles) from metadata."""
    if pair is None:
        return None
    address, name = pair
    return f"{name} <{address}>" if address and name and name != address else (address or name)


def _names(pairs: list[tuple[str, str] | None]) -> str:
    return ", ".join(f"{n} <{a}>" if a and n != a else (a or n) for a, n in (p for p in pairs if p))


def _require(item: Any, *keys: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise MappingError(f"expected an object, got {type(item).__name__}")
    missing = [k for k in keys if not item.get(k)]
    if missing:
        raise MappingError(f"missing {', '.join(missing)}")
    return item


# ---- mail ------------------------------------------------------------------------------
def message(item: Any, folder: str) -> MemoryInput | None:
    """An Outlook message (``/me/mailFolders/{folder}/messages/delta``); drafts are skipped."""
    item = _require(item, "id")
    if item.get("isDraft"):
        return None
    subject = str(item.get("subject") or "(no subject)")
    sender = _address(item.get("from") or item.get("sender"))
    to = [_address(r) for r in _list(item, "toRecipients")]
    cc = [_address(r) for r in _list(item, "ccRecipients")]
    when = item.get("receivedDateTime") or item.get("sentDateTime")
    text = body_text(item.get("body")) or str(item.get("bodyPreview") or "")
    header = f"From: {_names([sender])}\nTo: {_names(to)}" + (
        f"\nCc: {_names(cc)}" if any(cc) else ""
    )
    people = _dedupe(_people([sender], "sent") + _people(to + cc, "received"))
    return MemoryInput(
        content=_clip(f"{subject}\n{header}\nDate: {when or 'unknown'}\n\n{text}"),
        title=_title(subject),
        kind="email",
        source=SOURCE,
        external_id=f"mail:{item['id']}",
        source_url=_str(item.get("webLink")),
        event_at=_str(when),
        entities=people + _organisations(people),
        metadata={
            "folder": folder,
            "from": _who(sender),
            "to": [_who(p) for p in to if p],
            "cc": [_who(p) for p in cc if p],
            "conversation_id": item.get("conversationId"),
        },
    )


# ---- calendar --------------------------------------------------------------------------
def event(item: Any) -> MemoryInput | None:
    """A calendar event occurrence (``/me/calendarView/delta``)."""
    item = _require(item, "id", "start")
    subject = str(item.get("subject") or "(no title)")
    start, end = _when(item.get("start")), _when(item.get("end"))
    organizer = _address(item.get("organizer"))
    attendees = [_address(a) for a in _list(item, "attendees")]
    location = item.get("location") if isinstance(item.get("location"), dict) else {}
    where = str(
        location.get("displayName") or ("Online meeting" if item.get("isOnlineMeeting") else "")
    )
    text = body_text(item.get("body")) or str(item.get("bodyPreview") or "")
    status = " (cancelled)" if item.get("isCancelled") else ""
    lines = [
        f"{subject}{status}",
        f"When: {start} – {end}",
        f"Where: {where}" if where else "",
        f"Organizer: {_names([organizer])}",
        f"Attendees: {_names(attendees)}",
        "",
        text,
    ]
    people = _dedupe(_people([organizer, *attendees], "attended"))
    # One entity per occurrence: a weekly meeting's instances are different meetings.
    label = " ".join(f"{subject} {start[:10]}".split())
    meeting = EntityRef("meeting", label.lower(), label, "attended")
    return MemoryInput(
        content=_clip("\n".join(ln for ln in lines if ln is not None).strip()),
        title=_title(subject),
        kind="meeting",
        source=SOURCE,
        external_id=f"event:{item['id']}",
        source_url=_str(item.get("webLink")),
        event_at=start or None,
        entities=[meeting, *people, *_organisations(people)],
        metadata={
            "subject": label,
            "start": start,
            "end": end,
            "location": where or None,
            "cancelled": bool(item.get("isCancelled")),
            "organizer": _who(organizer),
            "attendees": [_who(a) for a in attendees if a],
        },
    )


def _when(value: Any) -> str:
    """Graph's dateTimeTimeZone ({dateTime, timeZone}); UTC unless a Prefer header says else."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        return ""
    stamp = str(value["dateTime"]).split(".")[0]
    zone = str(value.get("timeZone") or "UTC")
    return f"{stamp}Z" if zone.upper() in ("UTC", "GMT", "Z") else f"{stamp} {zone}"


# ---- Teams -----------------------------------------------------------------------------
def chat_message(item: Any, chat: dict[str, Any]) -> MemoryInput | None:
    """A message of a 1:1, group or meeting chat; system events and empty messages are skipped."""
    item = _require(item, "id")
    if item.get("messageType", "message") != "message":
        return None
    text, author = _message_text(item), _author(item, _member_emails(chat))
    if not text:
        return None
    name = chat_name(chat)
    refs = _people([author], "authored") if author else []
    return MemoryInput(
        content=_clip(
            f"{author[1] if author else 'Someone'} in {name} ({item.get('createdDateTime', '')}):\n{text}"
        ),
        title=_title(f"{name}: {text.splitlines()[0]}"),
        kind="chat",
        source=SOURCE,
        external_id=f"chat:{chat['id']}:{item['id']}",
        source_url=_str(item.get("webUrl") or chat.get("webUrl")),
        event_at=_str(item.get("createdDateTime")),
        entities=refs + _organisations(refs),
        metadata={"chat_id": chat["id"], "chat": name, "author": _who(author)},
    )


def channel_message(item: Any, team: dict[str, Any], channel: dict[str, Any]) -> MemoryInput | None:
    """A top-level channel post (replies are not part of Graph's channel delta)."""
    item = _require(item, "id")
    if item.get("messageType", "message") != "message":
        return None
    text, author = _message_text(item), _author(item, {})
    if not text:
        return None
    place = f"{team.get('displayName', 'Team')} › {channel.get('displayName', 'channel')}"
    subject = str(item.get("subject") or text.splitlines()[0])
    refs = _people([author], "authored") if author else []
    return MemoryInput(
        content=_clip(
            f"{subject}\n{author[1] if author else 'Someone'} in {place} "
            f"({item.get('createdDateTime', '')}):\n{text}"
        ),
        title=_title(f"{place}: {subject}"),
        kind="chat",
        source=SOURCE,
        external_id=f"channel:{team['id']}:{channel['id']}:{item['id']}",
        source_url=_str(item.get("webUrl")),
        event_at=_str(item.get("createdDateTime")),
        entities=refs + _organisations(refs),
        metadata={
            "team": team.get("displayName"),
            "channel": channel.get("displayName"),
            "author": _who(author),
        },
    )


def chat_name(chat: dict[str, Any]) -> str:
    if chat.get("topic"):
        return str(chat["topic"])
    names = [
        str(m.get("displayName"))
        for m in _list(chat, "members")
        if isinstance(m, dict) and m.get("displayName")
    ]
    return "Chat with " + ", ".join(names[:4]) if names else "Chat"


def _member_emails(chat: dict[str, Any]) -> dict[str, str]:
    return {
        str(m["userId"]): str(m["email"]).lower()
        for m in _list(chat, "members")
        if isinstance(m, dict) and m.get("userId") and m.get("email")
    }


def _author(item: dict[str, Any], emails: dict[str, str]) -> tuple[str, str] | None:
    """(email or lower-case name, display name) of a message's sender; Graph gives only the
    user's id and name, so the chat's member list supplies the email where it can."""
    sender = item.get("from")
    user = sender.get("user") if isinstance(sender, dict) else None
    if not isinstance(user, dict):
        return None
    name = str(user.get("displayName") or "").strip()
    email = emails.get(str(user.get("id")), "")
    return (email, name or email) if email or name else None


def _message_text(item: dict[str, Any]) -> str:
    text = body_text(item.get("body"))
    files = [
        str(a.get("name"))
        for a in _list(item, "attachments")
        if isinstance(a, dict) and a.get("name")
    ]
    return (text + ("\nAttachments: " + ", ".join(files) if files else "")).strip()


def is_deleted_message(item: Any) -> bool:
    return isinstance(item, dict) and bool(item.get("deletedDateTime") or "@removed" in item)


# ---- files -----------------------------------------------------------------------------
def drive_item(item: dict[str, Any], text: str) -> MemoryInput:
    """A OneDrive/SharePoint file with its extracted text."""
    item = _require(item, "id", "name")
    raw_parent = item.get("parentReference")
    parent: dict[str, Any] = raw_parent if isinstance(raw_parent, dict) else {}
    folder = str(parent.get("path") or "").split("root:", 1)[-1] or "/"
    path = f"{folder.rstrip('/')}/{item['name']}"
    authors = [_identity(item.get("createdBy")), _identity(item.get("lastModifiedBy"))]
    refs = _dedupe(_people(authors, "authored"))
    return MemoryInput(
        content=_clip(f"{item['name']}\nPath: {path}\n\n{text.strip()}"),
        title=_title(str(item["name"])),
        kind="document",
        source=SOURCE,
        external_id=f"file:{item['id']}",
        source_url=_str(item.get("webUrl")),
        event_at=_str(item.get("lastModifiedDateTime")),
        entities=refs + _organisations(refs),
        metadata={
            "path": path,
            "size": item.get("size"),
            "author": _who(authors[0] or authors[1]),
            "mime": (item.get("file") or {}).get("mimeType")
            if isinstance(item.get("file"), dict)
            else None,
        },
    )


def _identity(value: Any) -> tuple[str, str] | None:
    """A driveItem's ``createdBy`` ({user: {displayName, email}}) → (email, name)."""
    user = value.get("user") if isinstance(value, dict) else None
    if not isinstance(user, dict):
        return None
    email = str(user.get("email") or "").lower()
    name = str(user.get("displayName") or email)
    return (email, name) if email or name else None


def _list(item: dict[str, Any], key: str) -> list[Any]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(f"{key} is not a list")
    return value


def _str(value: Any) -> str | None:
    return str(value) if value else None
