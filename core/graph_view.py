"""A picture of the knowledge graph: one self-contained, interactive HTML page.

The page needs no network: its script (``core/data/graph_view.js``, a small canvas force
layout written for DevMemory, no third-party code) and style are inlined, and the graph —
entities with their latest memories' titles and snippets, merged relations — is embedded as
JSON. Node colour is the entity type, size its degree; clicking a node lists its memories
and neighbours; a search box finds entities by name or alias.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from core import graph
from core.errors import InvalidInput
from core.storage import Storage

# One colour per entity type (Okabe–Ito based: tells types apart for most colour vision).
TYPE_COLOURS = {
    "technology": "#0072B2",
    "person": "#E69F00",
    "project": "#009E73",
    "repository": "#56B4E9",
    "file": "#8C6BB1",
    "symbol": "#CC79A7",
    "issue": "#D55E00",
    "host": "#7F7F7F",
    "organisation": "#B8A600",
    "meeting": "#17BECF",
}
MAX_NODES_LIMIT = 2000
MEMORIES_PER_NODE = 5


@dataclass(frozen=True)
class Picture:
    """A rendered page and what it shows."""

    html: str
    nodes: int
    edges: int
    center: str | None  # the entity it is centred on, as displayed


def page_data(
    store: Storage, entity: str | None = None, depth: int = 2, max_nodes: int = 200
) -> dict[str, Any]:
    """The JSON the page draws: nodes (with latest memories), merged edges, colours."""
    if not 1 <= max_nodes <= MAX_NODES_LIMIT:
        raise InvalidInput(f"max_nodes must be between 1 and {MAX_NODES_LIMIT}.")
    if not 0 <= depth <= 6:
        raise InvalidInput(
            "depth must be between 0 and 6.", hint="2 shows neighbours of neighbours."
        )
    center = graph.resolve(store, entity) if entity else None
    ids, edges = graph.subgraph(store, center, depth, max_nodes)
    aliases = graph.aliases_of(store, ids)
    nodes = [
        _node(store, entity_id, summary, aliases[entity_id])
        for entity_id, summary in zip(ids, graph.summaries(store, ids), strict=True)
    ]
    return {
        "nodes": nodes,
        "edges": [{"s": e.src, "t": e.dst, "w": e.weight, "types": list(e.types)} for e in edges],
        "colours": TYPE_COLOURS,
        "center": center,
        "total_entities": graph.stats(store)["entities"],
        "subtitle": _subtitle(nodes[0]["label"] if center is not None and nodes else None, depth),
    }


def _node(store: Storage, entity_id: int, summary: Any, aliases: list[str]) -> dict[str, Any]:
    shown = {summary.name.lower(), summary.display.lower()}
    return {
        "id": entity_id,
        "label": summary.display,
        "name": summary.name,
        "type": summary.type,
        "count": summary.memory_count,
        "aliases": [a for a in aliases if a not in shown],
        "memories": [
            {"id": m.id, "title": m.title, "kind": m.kind, "when": m.when, "snippet": m.snippet}
            for m in graph.latest_memories(store, entity_id, MEMORIES_PER_NODE)
        ],
    }


def _subtitle(center: str | None, depth: int) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if center is None:
        return f"The most mentioned entities · made {made}"
    return f"Around {center}, {depth} step{'s' if depth != 1 else ''} out · made {made}"


def render(
    store: Storage, entity: str | None = None, depth: int = 2, max_nodes: int = 200
) -> Picture:
    """The page as a string (``entity``: centre on it and show ``depth`` steps around it)."""
    data = page_data(store, entity, depth, max_nodes)
    title = "DevMemory knowledge graph" + (
        f" — {data['nodes'][0]['label']}" if data["center"] is not None else ""
    )
    page = (
        _asset("graph_view.html")
        .replace("/*__CSS__*/", _asset("graph_view.css"))
        .replace("/*__JS__*/", _asset("graph_view.js"))
        .replace("__TITLE__", html.escape(title))
        .replace("__DATA__", _script_json(data))
    )
    center = data["nodes"][0]["label"] if data["center"] is not None else None
    return Picture(page, len(data["nodes"]), len(data["edges"]), center)


def write(
    store: Storage,
    path: Path | str,
    entity: str | None = None,
    depth: int = 2,
    max_nodes: int = 200,
) -> Picture:
    """Render the page and write it to ``path`` (UTF-8)."""
    picture = render(store, entity, depth, max_nodes)
    try:
        Path(path).write_text(picture.html, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"Cannot write {path}: {exc.strerror or exc}.",
            hint="Check that the folder exists and is writable.",
        ) from exc
    return picture


def _script_json(data: dict[str, Any]) -> str:
    # Inside <script>, "</script>" or "<!--" in a memory title would end the block early:
    # escape the characters HTML looks at (JSON.parse reads \u003c back as "<").
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _asset(name: str) -> str:
    return resources.files("core").joinpath("data", name).read_text(encoding="utf-8")
