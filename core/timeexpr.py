"""Time expressions in a search query: "on 9 November, 2022", "in July 2023", "2024-03-05",
"between August 11 and August 15 2023", "the week before 16 November 2023", "last week".

Recall turns them into a time window on the memories' event time (else their creation
time): memories inside the window are searched for separately and ranked higher, and the
absolute dates are taken out of the words searched for (a date is rarely written the way a
question asks it). Nothing here raises: text that is not a date is left alone.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MON = "(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?:19|20)\d\d"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"

# Order matters: the longest forms first, so "9 November, 2022" is not read as "November 2022".
_FORMS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(rf"\b(?P<y>{_YEAR})-(?P<m>0[1-9]|1[0-2])-(?P<d>[0-2]\d|3[01])\b")),
    ("dmy", re.compile(rf"\b(?P<d>{_DAY})\s+(?:of\s+)?(?P<mon>{_MON}),?\s+(?P<y>{_YEAR})\b", re.I)),
    ("mdy", re.compile(rf"\b(?P<mon>{_MON})\s+(?P<d>{_DAY}),?\s+(?P<y>{_YEAR})\b", re.I)),
    ("my", re.compile(rf"\b(?P<mon>{_MON}),?\s+(?:of\s+)?(?P<y>{_YEAR})\b", re.I)),
    ("y", re.compile(rf"\b(?P<y>{_YEAR})\b")),
]
_BETWEEN = re.compile(rf"\bbetween\s+(?P<a>.+?)\s+and\s+(?P<b>.+?{_YEAR})\b", re.I)
_MD = re.compile(
    rf"\b(?P<mon>{_MON})\s+(?P<d>{_DAY})\b|\b(?P<d2>{_DAY})\s+(?P<mon2>{_MON})\b", re.I
)
_RELATIVE = re.compile(r"\b(today|yesterday|(?:last|this|past)\s+(?:week|month|year))\b", re.I)
_SHIFT = re.compile(r"\b(?:the\s+)?(week|month|day)s?\s+(before|after)\s*$", re.I)
_SIDE = re.compile(r"\b(before|after|since|until|by)\s*$", re.I)
_PREP = re.compile(r"\b(?:on|in|during|at|around|of)\s*$", re.I)

DAY_SLACK = timedelta(days=1)  # "on 9 May" also finds what was written down the day after


@dataclass(frozen=True)
class TimeQuery:
    """A query's time window (inclusive start, exclusive end, ISO 8601 UTC) and its other words."""

    since: str | None
    until: str | None
    rest: str


def parse(query: str, now: datetime | None = None) -> TimeQuery | None:
    """The time window a query names, or None when it names none."""
    found = _between(query) or _absolute(query) or _relative(query, now or datetime.now(UTC))
    if found is None:
        return None
    start, end, span = found
    rest = query
    if span is not None:
        rest = (query[: span[0]] + " " + query[span[1] :]).strip()
    return TimeQuery(
        _iso(start) if start else None, _iso(end) if end else None, " ".join(rest.split())
    )


def _absolute(query: str) -> tuple[date | None, date | None, tuple[int, int]] | None:
    for kind, pattern in _FORMS:
        m = pattern.search(query)
        if m is None:
            continue
        window = _window(kind, m)
        if window is None:
            continue
        first, last = window
        before = query[: m.start()]
        span_start = m.start()
        shift = _SHIFT.search(before)
        side = _SIDE.search(before)
        start: date | None = first
        end: date | None = last
        if shift:  # "the week before 16 November"
            length = {
                "day": timedelta(days=1),
                "week": timedelta(days=7),
                "month": timedelta(days=31),
            }
            step = length[shift.group(1).lower()]
            start, end = (
                (first - step, first) if shift.group(2).lower() == "before" else (last, last + step)
            )
            span_start = shift.start()
        elif side:  # "before March 2024", "since 2023"
            word = side.group(1).lower()
            start, end = (None, first) if word in ("before", "until", "by") else (first, None)
            span_start = side.start()
        else:
            if kind in ("iso", "dmy", "mdy"):
                start, end = first - DAY_SLACK, last + DAY_SLACK
            prep = _PREP.search(before)
            span_start = prep.start() if prep else span_start
        return start, end, (span_start, m.end())
    return None


def _window(kind: str, m: re.Match[str]) -> tuple[date, date] | None:
    try:
        year = int(m.group("y"))
        if kind == "y":
            return date(year, 1, 1), date(year + 1, 1, 1)
        month = int(m.group("m")) if kind == "iso" else _MONTHS[m.group("mon").lower().rstrip(".")]
        if kind == "my":
            return date(year, month, 1), _next_month(date(year, month, 1))
        day = date(year, month, int(re.sub(r"\D", "", m.group("d"))))
        return day, day + timedelta(days=1)
    except (ValueError, KeyError):  # "31 February" and the like: not a date
        return None


def _between(query: str) -> tuple[date | None, date | None, tuple[int, int]] | None:
    m = _BETWEEN.search(query)
    if m is None:
        return None
    last = _absolute(m.group("b"))
    if last is None or last[0] is None or last[1] is None:
        return None
    year = (last[0] + DAY_SLACK).year
    first = _absolute(m.group("a")) or _month_day(m.group("a"), year)
    if first is None or first[0] is None:
        return None
    return first[0], last[1], (m.start(), m.end())


def _month_day(text: str, year: int) -> tuple[date, date, tuple[int, int]] | None:
    m = _MD.search(text)
    if m is None:
        return None
    mon, day = (
        (m.group("mon"), m.group("d")) if m.group("mon") else (m.group("mon2"), m.group("d2"))
    )
    try:
        start = date(year, _MONTHS[mon.lower().rstrip(".")], int(re.sub(r"\D", "", day)))
    except (ValueError, KeyError):
        return None
    return start - DAY_SLACK, start + DAY_SLACK, (m.start(), m.end())


def _relative(query: str, now: datetime) -> tuple[date, date, None] | None:
    m = _RELATIVE.search(query)
    if m is None:
        return None
    today = now.astimezone(UTC).date()
    phrase = " ".join(m.group(1).lower().split())
    if phrase == "today":
        return today, today + timedelta(days=1), None
    if phrase == "yesterday":
        return today - timedelta(days=1), today, None
    unit = phrase.split()[1]
    if phrase.startswith("this"):
        starts = {
            "week": today - timedelta(days=today.weekday()),
            "month": today.replace(day=1),
            "year": today.replace(month=1, day=1),
        }
        return starts[unit], today + timedelta(days=1), None
    back = {"week": timedelta(days=7), "month": timedelta(days=31), "year": timedelta(days=366)}
    return today - back[unit], today + timedelta(days=1), None  # relative words stay in the query


def _next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _iso(d: date) -> str:
    return f"{d.isoformat()}T00:00:00Z"
