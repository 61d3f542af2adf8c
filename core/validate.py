"""Validation and size limits of what callers give the store (each error says the limit)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Any

from core import timeexpr
from core.errors import ContentTooLarge, InvalidInput
from core.models import LINK_TYPES, VISIBILITIES, CodeAnchor, SearchFilters
from core.timeutil import to_iso

_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Limits:
    """Size limits; the defaults suit notes, decisions, commits, mails and documents' sections."""

    content_bytes: int = 512 * 1024
    title_chars: int = 300
    tags: int = 32
    tag_chars: int = 64
    metadata_bytes: int = 64 * 1024
    metadata_depth: int = 16
    query_chars: int = 4_000
    max_limit: int = 200


# Every short text a caller gives (a path, a symbol, an id, a project, a filter) is bounded:
# no real one comes near, and unbounded ones made path and symbol matching take seconds and
# gigabytes (an 80 KB path). Content, titles and queries have their own limits.
FIELD_CHARS = 4_096
URL_CHARS = 8_192
MAX_LINE = 10_000_000


def text(
    value: Any, name: str, *, required: bool = True, max_chars: int | None = FIELD_CHARS
) -> str:
    """A string that encodes as UTF-8, holds no NUL byte and is at most ``max_chars`` long."""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text, not {type(value).__name__}.")
    if max_chars is not None and len(value) > max_chars:
        raise ContentTooLarge(
            f"{name} is {len(value):,} characters; the limit is {max_chars:,}.",
            hint=f"Give a shorter {name}.",
        )
    if required and not value.strip():
        raise InvalidInput(f"{name} is empty.", hint=f"Give a non-empty {name}.")
    if "\x00" in value:
        raise InvalidInput(
            f"{name} contains a NUL byte (\\x00).", hint="Strip binary data; DevMemory stores text."
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{name} is not valid Unicode text (it holds a lone surrogate).",
            hint="Decode the source as UTF-8 with errors='replace' first.",
        ) from None
    return value


def content(value: Any, limits: Limits) -> str:
    body = text(value, "content", max_chars=None)
    size = len(body.encode("utf-8"))
    if size > limits.content_bytes:
        raise ContentTooLarge(
            f"content is {size:,} bytes; the limit is {limits.content_bytes:,} bytes.",
            hint="Split it into several memories (e.g. one per section) or store a summary.",
        )
    return body


def title(value: str | None, body: str, limits: Limits) -> str:
    if value is None or not value.strip():
        first = next((ln.strip() for ln in body.splitlines() if ln.strip()), "untitled")
        return first if len(first) <= 80 else first[:79] + "…"
    value = " ".join(text(value, "title", max_chars=None).split())
    if len(value) > limits.title_chars:
        raise ContentTooLarge(
            f"title is {len(value)} characters; the limit is {limits.title_chars}."
        )
    return value


def kind(value: str) -> str:
    value = (value or "note").strip().lower()
    if not _KIND.match(value):
        raise InvalidInput(
            f"kind {value!r} is not valid.",
            hint="Use a lower-case word such as note, decision, bugfix, snippet.",
        )
    return value


def tags(values: Any, limits: Limits) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [t for t in re.split(r"[,\s]+", values) if t]
    if not isinstance(values, list | tuple):
        raise InvalidInput("tags must be a list of words.")
    cleaned = [text(t, "tag").strip().lower().lstrip("#") for t in values]
    cleaned = list(dict.fromkeys(t for t in cleaned if t))
    if len(cleaned) > limits.tags:
        raise ContentTooLarge(f"{len(cleaned)} tags; the limit is {limits.tags}.")
    for t in cleaned:
        if len(t) > limits.tag_chars:
            raise ContentTooLarge(
                f"tag {t[:20]!r}… is {len(t)} characters; the limit is {limits.tag_chars}."
            )
    return tuple(cleaned)


def visibility(value: str) -> str:
    if value not in VISIBILITIES:
        raise InvalidInput(f"visibility {value!r} is not one of {', '.join(VISIBILITIES)}.")
    return value


def link_type(value: str) -> str:
    if value not in LINK_TYPES:
        raise InvalidInput(f"link type {value!r} is not one of {', '.join(LINK_TYPES)}.")
    return value


def metadata(value: Any, limits: Limits) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("metadata must be a JSON object.")
    depth = _depth(value, limits.metadata_depth + 1)
    if depth > limits.metadata_depth:
        raise ContentTooLarge(f"metadata is nested deeper than {limits.metadata_depth} levels.")
    try:
        encoded = json.dumps(value, ensure_ascii=False, default=str)
        encoded.encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InvalidInput(f"metadata cannot be stored as JSON: {exc}") from None
    if len(encoded.encode("utf-8")) > limits.metadata_bytes:
        raise ContentTooLarge(
            f"metadata is {len(encoded):,} bytes as JSON; the limit is {limits.metadata_bytes:,}."
        )
    result: dict[str, Any] = json.loads(encoded)
    return result


def _depth(value: Any, cap: int, level: int = 1) -> int:
    if level > cap:
        return level
    if isinstance(value, dict):
        return max([level, *(_depth(v, cap, level + 1) for v in value.values())])
    if isinstance(value, list | tuple):
        return max([level, *(_depth(v, cap, level + 1) for v in value)])
    return level


def limit(value: int, limits: Limits, name: str = "limit") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(f"{name} must be a whole number from 1 to {limits.max_limit}.")
    return min(value, limits.max_limit)


def weight(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidInput(f"{name} must be a number from 0 to 100.")
    return float(value)


MAX_OFFSET = 10_000_000


def offset(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_OFFSET:
        raise InvalidInput(f"offset must be a whole number from 0 to {MAX_OFFSET:,}.")
    return value


def filters(f: SearchFilters | None) -> SearchFilters | None:
    """Every text in a filter must be storable text (no NUL, no lone surrogate)."""
    if f is None:
        return None
    for name in ("project", "source", "since", "until", "path"):
        value = getattr(f, name)
        if value is not None:
            text(value, f"filter {name}", required=False)
    f = replace(f, since=_bound_time(f.since, "since"), until=_bound_time(f.until, "until"))
    for name in ("kinds", "tags", "visibility"):
        values = getattr(f, name)
        if not isinstance(values, list | tuple):
            raise InvalidInput(f"filter {name} must be a list of words.")
        for value in values:
            text(value, f"filter {name}", required=False)
    if f.tags_mode not in ("any", "all"):
        raise InvalidInput("tags_mode must be 'any' or 'all'.")
    return f


def _bound_time(value: str | None, name: str) -> str | None:
    """A filter's ``since``/``until``: ISO 8601 (a date or a time), or a relative phrase such
    as "last week" or "yesterday" (the start of that window for ``since``, its end for
    ``until``). Anything else is refused: compared as text, it matched everything or nothing."""
    if value is None or not value.strip():
        return None
    try:
        return to_iso(value)
    except InvalidInput:
        pass
    window = timeexpr.parse(value)
    bound = None if window is None else (window.since if name == "since" else window.until)
    # an absolute date is taken out of the words; a relative phrase ("last week") stays in
    whole = window is not None and window.rest.strip() in ("", " ".join(value.split()))
    if bound is None or not whole:
        raise InvalidInput(
            f"filter {name} {value[:40]!r} is not a date or time.",
            hint="Use ISO 8601 (2026-03-01 or 2026-03-01T14:30:00Z) or a phrase "
            "such as 'yesterday', 'last week', 'this month'.",
        )
    return bound


def event_time(value: Any) -> str | None:
    """When a memory's event happened: ISO 8601, a date or a date-time (UTC unless an offset
    is given), normalised; a date-time without seconds is accepted, free text is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, str) and len(value) > 64:  # no ISO time is this long
            raise InvalidInput("too long")
        return to_iso(value)
    except (InvalidInput, ValueError, OverflowError, OSError):
        raise InvalidInput(
            f"event_at {str(value)[:40]!r} is not a date or time.",
            hint="Use ISO 8601: a date such as 2026-03-01 or a time such as "
            "2026-03-01T14:30:00Z (an offset like +02:00 is converted to UTC).",
        ) from None


def line(value: Any, name: str) -> int | None:
    """A 1-based line number (None allowed)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LINE:
        raise InvalidInput(f"{name} must be a line number from 1 to {MAX_LINE:,}.")
    return value


def query(value: Any, limits: Limits) -> str:
    return text(value, "query", max_chars=None)[: limits.query_chars]


def anchor(anchor: CodeAnchor | None) -> CodeAnchor | None:
    """A code anchor with its fields checked (an end before the start becomes the start)."""
    if anchor is None:
        return None
    path = text(anchor.path, "anchor path").strip()
    start = line(anchor.start_line, "anchor start_line")
    end = line(anchor.end_line, "anchor end_line")
    if end is not None and start is not None and end < start:
        end = start
    symbol = text(anchor.symbol, "anchor symbol", required=False) if anchor.symbol else None
    commit = text(anchor.commit, "anchor commit", required=False) if anchor.commit else None
    return replace(
        anchor,
        path=path,
        start_line=start,
        end_line=end if end is not None else start,
        symbol=symbol,
        commit=commit,
    )


def optional_text(value: str | None, name: str, max_chars: int = FIELD_CHARS) -> str | None:
    return None if value is None else text(value, name, required=False, max_chars=max_chars)
