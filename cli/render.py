"""Rich renderings of memories, hits and reports for the terminal.

Tables fit the console's width: ids are shown short (the shortest unique prefix, 10+
characters; every command accepts it), long text wraps, and below ``WIDE`` columns the
"why" line moves under the hit's text instead of squeezing into a column of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table

from core import Hit, Memory, SearchResult, WriteResult

WIDE = 110  # from this width "why" gets its own column
NARROW = 64  # below this width the score and project columns are left out
KIND_STYLE = {
    "decision": "magenta",
    "bugfix": "red",
    "pitfall": "red",
    "snippet": "cyan",
    "commit": "yellow",
    "issue": "green",
    "meeting": "blue",
    "email": "blue",
}


def kind_badge(kind: str) -> str:
    return f"[{KIND_STYLE.get(kind, 'white')}]{escape(kind)}[/]"


def _table(width: int) -> Table:
    return Table(show_header=True, header_style="bold", expand=True, width=width)


def hits_table(result: SearchResult, short: Mapping[str, str], width: int) -> Table:
    """Search hits: short id, kind, title + snippet (+ sha and date), why, score."""
    wide = width >= WIDE
    table = _table(width)
    table.add_column("id", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("memory", ratio=3, overflow="fold")
    if wide:
        table.add_column("why", ratio=1, min_width=24)
    if width >= NARROW:
        table.add_column("score", justify="right", no_wrap=True)
    for hit in result.hits:
        row = [short.get(hit.memory.id, hit.memory.id), kind_badge(hit.memory.kind)]
        row.append(_hit_text(hit, with_why=not wide))
        row += [f"[dim]{escape(hit.why)}[/]"] if wide else []
        row += [f"{hit.score:.3f}"] if width >= NARROW else []
        table.add_row(*row)
    return table


def _hit_text(hit: Hit, *, with_why: bool) -> str:
    m = hit.memory
    snippet = " ".join(hit.snippet.replace("**", "").split())
    title, rest = _title_and_rest(m.title, snippet)
    lines = [f"[bold]{escape(title)}[/]"] if title else []
    if rest:
        lines.append(f"[dim]{escape(rest)}[/]" if title else escape(rest))
    when = origin(m)
    if when:
        lines.append(f"[yellow]{escape(when)}[/]")
    if with_why and hit.why:
        lines.append(f"[italic dim]why: {escape(hit.why)}[/]")
    return "\n".join(lines)


MIN_OVERLAP = 12  # characters a snippet must repeat of the title to count as repeating it


def _title_and_rest(title: str, snippet: str) -> tuple[str, str]:
    """The title to show and what the snippet adds to it. An untitled memory's title is its
    first line, and a snippet often starts with (part of) the title: shown both ways the
    same words would be read twice."""
    head = " ".join(title.rstrip("…").split())
    body = snippet.lstrip("… ")
    if not head:
        return "", snippet
    if head.startswith(body.rstrip("… ")):
        return title, ""  # the snippet says nothing more
    if body.startswith(head):
        # a clipped first-line title: the snippet is the fuller text, show it alone
        return ("", snippet) if title.endswith("…") else (title, _after(body, len(head)))
    for start in range(len(head) - MIN_OVERLAP + 1):
        if body.startswith(head[start:]):  # the snippet starts inside the title
            return title, _after(body, len(head) - start)
    return title, snippet


def _after(body: str, cut: int) -> str:
    return body[cut:].lstrip(" .:;,—-")


def origin(m: Memory) -> str:
    """A commit's short sha and date; another memory's event date (when it has one)."""
    sha = str(m.metadata.get("sha") or (m.anchor.commit if m.anchor else None) or "")
    if m.kind == "commit":
        when = m.event_at or str(m.metadata.get("date") or "") or m.created_at
        return " · ".join(p for p in (sha[:10], when[:10]) if p)
    return m.event_at[:10] if m.event_at else ""


def memories_table(memories: list[Memory], short: Mapping[str, str], width: int) -> Table:
    """A page of memories: short id, kind, title (wrapping), project, updated."""
    with_project = width >= NARROW and any(m.project for m in memories)
    table = _table(width)
    table.add_column("id", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("title", ratio=1, min_width=20, overflow="fold")
    if with_project:
        table.add_column("project", max_width=max(12, width // 6), overflow="fold")
    table.add_column("updated", no_wrap=True)
    for m in memories:
        row = [short.get(m.id, m.id), kind_badge(m.kind), escape(m.title)]
        row += [escape(m.project or "")] if with_project else []
        row.append(_when(m.updated_at, width))
        table.add_row(*row)
    return table


def _when(iso: str, width: int) -> str:
    """The date, with the time of day where there is room for it."""
    return iso[:16].replace("T", " ") if width >= WIDE else iso[:10]


def memory_detail(m: Memory, extra: dict[str, Any] | None = None) -> str:
    header = f"{kind_badge(m.kind)}  [dim]{m.id}[/]"
    derived = m.content.lstrip().startswith(m.title.rstrip("…"))
    # an untitled memory's title is its first line: the content below already shows it
    lines = [header if derived else f"[bold]{escape(m.title)}[/]  {header}"]
    meta = {
        "project": m.project,
        "tags": ", ".join(m.tags) or None,
        "source": m.source,
        "provenance": m.provenance.name.lower(),
        "visibility": m.visibility,
        "created": m.created_at,
        "updated": m.updated_at,
        "event": m.event_at,
        "version": m.version,
        "link": m.source_url,
    }
    if m.anchor:
        a = m.anchor
        meta["anchor"] = (
            a.path
            + (f":{a.start_line}-{a.end_line}" if a.start_line else "")
            + (f" ({a.symbol})" if a.symbol else "")
            + (f" @ {a.commit[:10]}" if a.commit else "")
        )
    meta.update(extra or {})
    lines += [f"[dim]{k}:[/] {escape(str(v))}" for k, v in meta.items() if v not in (None, "")]
    lines += ["", escape(m.content)]
    return "\n".join(lines)


def write_line(result: WriteResult) -> str:
    m = result.memory
    parts = [f"{result.status}: {m.id}  {escape(m.title)}"]
    if result.redactions:
        kinds = ", ".join(f"{r.kind}×{r.count}" for r in result.redactions)
        parts.append(f"[yellow]redacted before storage: {kinds}[/]")
    if result.message:
        parts.append(f"[dim]{escape(result.message)}[/]")
    return "\n".join(parts)
