"""Resources: ``memory://{id}`` (one memory as Markdown), ``memory://recent``, ``memory://stats``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from core import DevMemError, NotFound
from mcp_server.runtime import Runtime, error_text
from mcp_server.schemas import memory_brief

if TYPE_CHECKING:
    from core import Memory

T = TypeVar("T")
RECENT = 20


def render(m: Memory) -> str:
    """A memory as Markdown: title, one line of facts, the content, where it is anchored."""
    facts = [
        m.kind,
        f"id {m.id}",
        f"v{m.version}",
        f"updated {m.updated_at}",
        f"by {m.source}",
        f"project {m.project or '(none)'}",
    ]
    if m.tags:
        facts.append("tags " + ", ".join(m.tags))
    lines = [f"# {m.title}", "", " · ".join(facts), "", m.content.rstrip()]
    if m.anchor:
        a = m.anchor
        where = (
            a.path
            + (f":{a.start_line}" if a.start_line else "")
            + (f"-{a.end_line}" if a.end_line and a.end_line != a.start_line else "")
        )
        lines += ["", f"Anchored to `{where}`" + (f" (`{a.symbol}`)" if a.symbol else "")]
    if m.source_url:
        lines += ["", f"Source: {m.source_url}"]
    return "\n".join(lines) + "\n"


def register(mcp: MCPServer[Any], rt: Runtime) -> None:
    """Add the memory resources to ``mcp``."""

    async def read(fn: Callable[[Any], T]) -> T:
        try:
            return await rt.call(fn)
        except NotFound as exc:
            raise ResourceNotFoundError(error_text(exc)) from exc
        except DevMemError as exc:
            raise ResourceError(error_text(exc)) from exc

    @mcp.resource(
        "memory://{id}",
        name="memory",
        title="A memory",
        mime_type="text/markdown",
        description="One memory in full, as Markdown, by its id (e.g. memory://01JAB3K4Z9X7Q2R5T8V0W1Y3C6).",
    )
    async def memory(id: str) -> str:
        return render(await read(lambda svc: svc.get(id)))

    @mcp.resource(
        "memory://recent",
        name="recent",
        title="Recent memories",
        mime_type="application/json",
        description=f"The {RECENT} most recently updated memories of every project, in brief.",
    )
    async def recent() -> str:
        page = await read(lambda svc: svc.list(None, limit=RECENT))
        briefs = [memory_brief(m).model_dump(mode="json") for m in page.memories]
        return json.dumps({"memories": briefs, "total": page.total}, ensure_ascii=False, indent=1)

    @mcp.resource(
        "memory://stats",
        name="stats",
        title="Memory store statistics",
        mime_type="application/json",
        description="Counts by kind, project and source; store size; embedding model status.",
    )
    async def stats() -> str:
        figures = await read(lambda svc: svc.stats())
        return json.dumps(figures, ensure_ascii=False, indent=1, default=str)
