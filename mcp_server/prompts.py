"""Prompts: load what is known for a task; record a decision in one consistent shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import Field

from core import DevMemError
from mcp_server.runtime import Runtime, error_text
from mcp_server.schemas import cut

if TYPE_CHECKING:
    from core import Hit, MemoryService, SearchResult

TASK_HITS = 8
FILE_HITS = 5


def _line(h: Hit) -> str:
    m = h.memory
    snippet = " ".join(cut(h.snippet, 240).split())
    return f"- [{m.kind}] {m.title} (id {m.id}; {h.why}): {snippet}"


def context_text(
    task: str, project: str | None, result: SearchResult, path: str | None, file_hits: list[Hit]
) -> str:
    """The message that hands an assistant what DevMemory knows for ``task``."""
    where = f"project {project}" if project else "all projects"
    if not result.hits and not file_hits:
        return (
            f"Task: {task}\n\nDevMemory has no memories about this yet ({where}). When you make a "
            "decision or solve a non-obvious problem during this task, store it with the "
            '`remember` tool (kind "decision" or "bugfix").\n'
        )
    parts = [
        f"Task: {task}",
        "",
        f"DevMemory found these memories from earlier work ({where}). Treat them as context: "
        "follow recorded decisions unless the user says otherwise, and avoid recorded pitfalls. "
        "Read one in full with `get_memory`; search for more with `recall`.",
    ]
    if file_hits:
        parts += ["", f"## About {path}", *(_line(h) for h in file_hits)]
    seen = {h.memory.id for h in file_hits}
    task_hits = [h for h in result.hits if h.memory.id not in seen]
    if task_hits:
        parts += ["", "## Relevant to the task", *(_line(h) for h in task_hits)]
    if result.notices:
        parts += ["", *(f"Note: {n}" for n in result.notices)]
    return "\n".join(parts) + "\n"


def decision_text(
    decision: str,
    context: str | None,
    alternatives: str | None,
    consequences: str | None,
    tags: str | None,
) -> str:
    """Instructions to store a decision as an ADR-shaped memory with `remember`."""
    missing = "(fill in from the conversation, or write 'not recorded')"
    tag_list = [t.strip().lower() for t in (tags or "").replace(",", " ").split() if t.strip()]
    body = "\n".join(
        [
            f"# Decision: {decision.strip()}",
            "",
            "## Context",
            (context or missing).strip(),
            "",
            "## Decision",
            decision.strip(),
            "",
            "## Alternatives considered",
            (alternatives or missing).strip(),
            "",
            "## Consequences",
            (consequences or missing).strip(),
        ]
    )
    return (
        "Record this decision in DevMemory. Complete any section marked 'fill in' from what was "
        "said in this conversation (keep it short and factual), then call the `remember` tool "
        f'with kind="decision", tags={tag_list!r}, a title of at most 80 characters, and '
        "this content:\n\n" + body + "\n\nIf the decision concerns specific code, pass its file "
        "(and symbol) as `anchor`. If it replaces an earlier decision, `link_memories` the new "
        'memory to the old one with type "supersedes".\n'
    )


def register(mcp: MCPServer[Any], rt: Runtime) -> None:
    """Add the prompts to ``mcp``."""

    @mcp.prompt(title="Load context for a task")
    async def load_context(
        task: Annotated[str, Field(description="What you are about to do, in a sentence.")],
        ctx: Context,
        path: Annotated[str | None, Field(description="The main file involved, if any.")] = None,
    ) -> str:
        """Load what DevMemory knows that is relevant to a task (decisions, fixes, pitfalls)."""
        project = await rt.scope.current(ctx)

        def gather(svc: MemoryService) -> str:
            from core import SearchFilters

            result = svc.recall(
                task, limit=TASK_HITS, filters=SearchFilters(project=project) if project else None
            )
            file_hits = svc.context_for_file(path, project=project, limit=FILE_HITS) if path else []
            return context_text(task, project, result, path, file_hits)

        try:
            return await rt.call(gather)
        except DevMemError as exc:
            raise MCPError(code=INVALID_PARAMS, message=error_text(exc)) from exc

    @mcp.prompt(title="Record a decision")
    def record_decision(
        decision: Annotated[str, Field(description="What was decided, in a sentence.")],
        context: Annotated[
            str | None, Field(description="Why it came up; the forces at play.")
        ] = None,
        alternatives: Annotated[
            str | None, Field(description="Options considered and why not.")
        ] = None,
        consequences: Annotated[
            str | None, Field(description="What follows: costs, follow-ups.")
        ] = None,
        tags: Annotated[str | None, Field(description="Comma-separated tags.")] = None,
    ) -> str:
        """Record an architecture/design decision as a memory with context, alternatives, consequences."""
        return decision_text(decision, context, alternatives, consequences, tags)
