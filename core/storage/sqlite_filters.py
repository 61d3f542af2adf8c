"""SQL conditions for :class:`core.models.SearchFilters` (over the `memories` table as `m`)."""

from __future__ import annotations

from typing import Any

from core.models import SearchFilters


def is_empty(f: SearchFilters | None) -> bool:
    return f is None or not (
        f.kinds or f.tags or f.project or f.source or f.visibility or f.since or f.until or f.path
    )


def where(f: SearchFilters | None, *, indexed: bool = True) -> tuple[str, list[Any]]:
    """A ``WHERE`` fragment (without the keyword; ``1`` when empty) and its parameters.

    ``indexed=False`` is for queries that reach ``m`` by rowid from another table (a list
    of candidates, an FTS or graph match): the columns are written ``+m.col`` so SQLite
    checks each candidate's row instead of scanning a project's whole index for them
    (without it, 600 vector candidates in a one-project 10k store cost a 10k-entry scan)."""
    if f is None:
        return "1", []
    m = "m." if indexed else "+m."
    parts: list[str] = []
    args: list[Any] = []
    _in(parts, args, f"{m}kind", f.kinds)
    _in(parts, args, f"{m}visibility", f.visibility)
    if f.project:
        # memories with no project (general notes, decisions that apply everywhere) belong
        # to every project's scope
        parts.append(f"({m}project = ? OR {m}project IS NULL)")
        args.append(f.project)
    if f.source:
        parts.append(f"({m}source = ? OR {m}source LIKE ?)")
        args += [f.source, f.source + ":%"]
    if f.since:
        parts.append("coalesce(m.event_at, m.created_at) >= ?")
        args.append(f.since)
    if f.until:
        parts.append("coalesce(m.event_at, m.created_at) <= ?")
        args.append(f.until)
    if f.path:
        _path(parts, args, f.path, m)
    if f.tags:
        _tags(parts, args, f.tags, f.tags_mode)
    return (" AND ".join(parts) or "1"), args


def _in(parts: list[str], args: list[Any], column: str, values: list[str]) -> None:
    if values:
        parts.append(f"{column} IN ({','.join('?' * len(values))})")
        args.extend(values)


def _path(parts: list[str], args: list[Any], path: str, m: str) -> None:
    if path.endswith("/"):
        parts.append(f"{m}anchor_path LIKE ? ESCAPE '\\'")
        args.append(path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    else:
        parts.append(f"{m}anchor_path = ?")
        args.append(path)


def _tags(parts: list[str], args: list[Any], tags: list[str], mode: str) -> None:
    marks = ",".join("?" * len(tags))
    if mode == "all":
        parts.append(
            f"(SELECT count(DISTINCT tag) FROM memory_tags t WHERE t.memory_rowid = m.rowid"
            f" AND t.tag IN ({marks})) = ?"
        )
        args.extend([*tags, len(set(tags))])
    else:
        parts.append(
            f"EXISTS (SELECT 1 FROM memory_tags t WHERE t.memory_rowid = m.rowid"
            f" AND t.tag IN ({marks}))"
        )
        args.extend(tags)
