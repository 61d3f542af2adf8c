"""Rich renderings of memories, hits and reports for the terminal."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from core import Hit, Memory, SearchResult, WriteResult

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
    return f"[{KIND_STYLE.get(kind, 'white')}]{kind}[/]"


def hits_table(result: SearchResult) -> Table:
    table = Table(show_header=True, header_style="bold", expand=True)
    for col, kw in (
        ("id", {"no_wrap": True}),
        ("kind", {}),
        ("title / snippet", {"ratio": 3}),
        ("why", {"ratio": 1}),
        ("score", {"justify": "right"}),
    ):
        table.add_column(col, **kw)
    for hit in result.hits:
        table.add_row(
            hit.memory.id,
            kind_badge(hit.memory.kind),
            _title_snippet(hit),
            escape(hit.why),
            f"{hit.score:.4f}",
        )
    return table


def _title_snippet(hit: Hit) -> str:
    snippet = escape(hit.snippet).replace("**", "")
    return f"[bold]{escape(hit.memory.title)}[/]\n[dim]{snippet}[/]"


def memories_table(memories: list[Memory]) -> Table:
    table = Table(show_header=True, header_style="bold", expand=True)
    for col in ("id", "kind", "title", "project", "updated"):
        table.add_column(col, no_wrap=col in ("id", "updated"))
    for m in memories:
        table.add_row(
            m.id, kind_badge(m.kind), escape(m.title), escape(m.project or ""), m.updated_at
        )
    return table


def memory_detail(m: Memory, extra: dict[str, Any] | None = None) -> str:
    lines = [f"[bold]{escape(m.title)}[/]  {kind_badge(m.kind)}  [dim]{m.id}[/]"]
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
