"""Times are stored as ISO-8601 UTC strings with a `Z` (they sort as text)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from core.errors import InvalidInput


def now_iso() -> str:
    """The current time, ISO-8601 UTC, second precision."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_iso(value: str | datetime | date | float | int | None) -> str | None:
    """Normalise a datetime / date / ISO string / unix time to ``YYYY-MM-DDTHH:MM:SSZ``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"not a time: {value!r}")
    if isinstance(value, int | float):
        dt = datetime.fromtimestamp(float(value), UTC)
    elif isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        dt = _parse(str(value))
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str) -> datetime:
    cleaned = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        dt = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InvalidInput(
            f"cannot read the time {text!r}",
            hint="Use ISO-8601, e.g. 2026-03-01 or 2026-03-01T14:30:00Z.",
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
