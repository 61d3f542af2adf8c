"""How memories look in the editor: MemorySummary objects, hover markdown, memory documents.

Shapes follow docs/lsp-contract.md (``MemorySummary`` = ``{id, title, kind, date, snippet,
score?, why?, path?, line?, project?, tags}``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from core import EntitySummary, Hit, Link, Memory, Neighbour

OPEN_COMMAND = "devmem.open"
MEMORY_SCHEME = "devmemory"  # the VS Code extension's read-only memory documents
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def escape(text: str) -> str:
    """Text safe to put inside markdown (no accidental emphasis, links or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def one_line(text: str, width: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def date_of(m: Memory) -> str:
    """The memory's date (event time, else creation time) as ISO ``YYYY-MM-DD``."""
    return (m.event_at or m.created_at or "")[:10]


def summary_line(m: Memory, width: int = 120) -> str:
    """The first content line that says more than the title."""
    for raw in m.content.splitlines():
        line = raw.strip()
        if line and line.rstrip(".:") != m.title.rstrip(".:"):
            return one_line(line, width)
    return one_line(m.title, width)


def memory_summary(
    m: Memory,
    *,
    score: float | None = None,
    why: str | None = None,
    snippet: str | None = None,
    line: int | None = None,
) -> dict[str, Any]:
    """The contract's ``MemorySummary`` (``line`` is 1-based: the anchor as found now)."""
    out: dict[str, Any] = {
        "id": m.id,
        "title": m.title,
        "kind": m.kind,
        "date": date_of(m),
        "snippet": one_line(snippet if snippet is not None else m.content, 300),
        "tags": list(m.tags),
    }
    if score is not None:
        out["score"] = round(score, 4)
    if why:
        out["why"] = why
    if m.anchor is not None:
        out["path"] = m.anchor.path
        found = line if line is not None else m.anchor.start_line
        if found is not None:
            out["line"] = found
    if m.project:
        out["project"] = m.project
    return out


def hit_summary(hit: Hit) -> dict[str, Any]:
    return memory_summary(hit.memory, score=hit.score, why=hit.why, snippet=hit.snippet)


def open_link(memory_id: str) -> str:
    """A VS Code command link running ``devmem.open`` with ``[{"id": …}]``."""
    return f"command:{OPEN_COMMAND}?{quote(json.dumps([{'id': memory_id}]))}"


def hover_entry(m: Memory, note: str = "") -> str:
    """``**[kind]** title — date`` + one line + an open link (contract's hover format)."""
    head = f"**[{escape(m.kind)}]** {escape(one_line(m.title, 100))} — {date_of(m)}"
    tail = f" _({escape(note)})_" if note else ""
    return f"{head}  \n{escape(summary_line(m))}{tail} · [open]({open_link(m.id)})"


def entity_block(entity: EntitySummary, neighbours: Sequence[Neighbour]) -> str:
    """An entity's neighbourhood: what it is, how many memories, its strongest relations."""
    head = (
        f"**{escape(entity.display or entity.name)}** · {escape(entity.type)} · "
        f"{entity.memory_count} memor{'y' if entity.memory_count == 1 else 'ies'}"
    )
    if not neighbours:
        return head
    related = ", ".join(
        f"{escape(n.entity.display or n.entity.name)} ({escape(n.relation)})"
        for n in neighbours[:6]
    )
    return f"{head}  \nrelated: {related}"


def hover_markdown(entries: Sequence[str], entity: str | None) -> str:
    parts = list(entries)
    if entity:
        parts.append(entity)
    return "\n\n---\n\n".join(parts)


def memory_markdown(m: Memory, links: Sequence[Link] = ()) -> str:
    """The body of a memory document: title, content, links (metadata is the client's)."""
    parts = [f"# {m.title}", "", m.content.rstrip()]
    if links:
        parts += ["", "## Links", ""]
        parts += [
            f"- {link.type}: {link.target_id if link.source_id == m.id else link.source_id}"
            for link in links
        ]
    return "\n".join(parts) + "\n"


def memory_file_text(m: Memory, links: Sequence[Link] = ()) -> str:
    """A standalone memory document (for editors without the VS Code extension)."""
    meta = [
        ("id", m.id),
        ("kind", m.kind),
        ("date", date_of(m)),
        ("project", m.project or ""),
        ("anchor", _where(m)),
        ("tags", ", ".join(m.tags)),
        ("source", m.source),
    ]
    rows = "\n".join(f"| {k} | {v.replace('|', '/')} |" for k, v in meta if v)
    return f"{memory_markdown(m, links)}\n---\n\n| | |\n|---|---|\n{rows}\n"


def _where(m: Memory) -> str:
    a = m.anchor
    if a is None:
        return ""
    return (
        a.path
        + (f":{a.start_line}" if a.start_line else "")
        + (f" ({a.symbol})" if a.symbol else "")
    )


def memory_uri(memory_id: str, docs_dir: Path | None, write: str | None = None) -> str:
    """Where a memory can be shown as a document: the VS Code extension's ``devmemory:``
    scheme when ``docs_dir`` is None, else a markdown file written under ``docs_dir``."""
    if docs_dir is None:
        return f"{MEMORY_SCHEME}:/memory/{quote(memory_id)}.md"
    docs_dir.mkdir(parents=True, exist_ok=True)
    target = docs_dir / f"{memory_id}.md"
    if write is not None:
        target.write_text(write, encoding="utf-8")
    return target.as_uri()


_COMMENT_LEAD = re.compile(r"^(//+|#+|--+|/\*+|\*+|<!--|;+|\"\"\"|''')\s*")
_COMMENT_TAIL = re.compile(r"\s*(\*/|-->|\"\"\"|''')$")


def suggest_title(content: str, width: int = 80) -> str | None:
    """The first meaningful line of a selection, comment markers stripped (None if blank)."""
    for raw in content.splitlines():
        line = _COMMENT_TAIL.sub("", _COMMENT_LEAD.sub("", raw.strip())).strip()
        if line:
            return one_line(line, width)
    return None
