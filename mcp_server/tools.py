"""The memory tools: remember, recall, get, update, forget, list.

Each tool validates its arguments (the SDK does, from the typed signature), calls one
`MemoryService` method on a worker thread and returns a pydantic model as structured
output. Writes are made as ``source="assistant"``, so core keeps user-authored memories safe.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from mcp_server import paging
from mcp_server.runtime import Runtime, guard
from mcp_server.schemas import (
    AnchorIn,
    FiltersIn,
    ForgetOut,
    ListOut,
    MemoryDetailOut,
    RecallOut,
    SearchModeName,
    Visibility,
    WriteOut,
    cut,
    entity_out,
    hit_out,
    memory_brief,
    memory_out,
    version_out,
    write_out,
)

if TYPE_CHECKING:
    from core import MemoryService, SearchResult, WriteResult

ASSISTANT = "assistant"
WRITE_ECHO_CHARS = 1_000
# Hints for clients deciding what to confirm with the user. Writes are idempotent: the same
# remember is deduplicated, the same update reports "unchanged", a second link is ignored.
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
ADDITIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
DESTRUCTIVE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)

MemoryId = Annotated[
    str,
    Field(
        description="A memory id as returned by recall/remember, e.g. "
        "'01JAB3K4Z9X7Q2R5T8V0W1Y3C6', or a unique prefix of it (4+ characters, e.g. "
        "'01JAB3K4Z9').",
        min_length=1,
        max_length=64,
    ),
]
Project = Annotated[
    str | None,
    Field(
        description="Project name. Omit for the current project (the user's repository); '*' for "
        "every project."
    ),
]
WriteProject = Annotated[
    str | None,
    Field(
        description="Project it belongs to. Omit for the current project (the user's repository); '*' "
        "for a memory that belongs to no project (true everywhere)."
    ),
]
Kind = Annotated[
    str,
    Field(
        description="One lower-case word: note, decision, bugfix, snippet, pitfall, todo, meeting, "
        "reference, … (any word is accepted).",
        max_length=32,
    ),
]
Tags = Annotated[
    list[str] | None, Field(description="Short keywords, e.g. ['sqlite', 'performance'].")
]


def structured(model: BaseModel) -> CallToolResult:
    """Structured content plus the same JSON as text, for clients that read only text."""
    return CallToolResult(
        content=[TextContent(type="text", text=model.model_dump_json(exclude_none=True))],
        structured_content=model.model_dump(mode="json"),
    )


def write_result(result: WriteResult) -> CallToolResult:
    out = write_out(result)
    if (
        len(out.memory.content) > WRITE_ECHO_CHARS
    ):  # the caller sent the content: do not echo it all
        out.memory.content = cut(out.memory.content, WRITE_ECHO_CHARS)
        out.memory.content_truncated = True
    return structured(out)


def register(mcp: MCPServer[Any], rt: Runtime) -> None:
    """Add the memory tools to ``mcp``."""

    @mcp.tool(title="Remember", annotations=ADDITIVE)
    async def remember(
        content: Annotated[
            str,
            Field(
                description="What to remember, self-contained: the fact, the "
                "reason, the fix. Markdown is fine."
            ),
        ],
        ctx: Context,
        title: Annotated[
            str | None, Field(description="A short title; default: the first line.")
        ] = None,
        kind: Kind = "note",
        tags: Tags = None,
        project: WriteProject = None,
        anchor: Annotated[
            AnchorIn | None, Field(description="The code this is about, if any.")
        ] = None,
        visibility: Annotated[Visibility, Field(description="Who may see it.")] = "private",
    ) -> Annotated[CallToolResult, WriteOut]:
        """Store a memory for later: a decision and its reason, a bug's cause and fix, a snippet, a pitfall.

        Call it when the user says "remember …", when a decision is made, when a non-obvious
        bug is solved, or when you learn a project convention you would otherwise forget.
        Write it so it makes sense on its own months later. Secrets (keys, tokens, passwords)
        are redacted before storage and reported in `redactions`; storing the same content
        twice returns the existing memory with status "deduplicated".

        Example: remember(content="We use WAL mode and a 30 s busy timeout because three
        processes share memories.db; without it writers failed with 'database is locked'.",
        kind="decision", tags=["sqlite"], anchor={"path": "core/db.py", "symbol": "connect"})
        """
        from core import MemoryInput

        scope = await rt.scope.resolve(ctx, project)
        inp = MemoryInput(
            content=content,
            title=title,
            kind=kind,
            tags=list(tags or []),
            project=scope,
            anchor=anchor.to_core() if anchor else None,
            source=ASSISTANT,
            visibility=visibility,
        )
        return write_result(await rt.run(lambda svc: svc.remember(inp)))

    @mcp.tool(title="Recall memories", annotations=READ_ONLY)
    async def recall(
        query: Annotated[
            str,
            Field(
                description="What you are looking for, in words: a question, "
                "an error message, a name."
            ),
        ],
        ctx: Context,
        mode: Annotated[
            SearchModeName,
            Field(
                description="hybrid (default: words + meaning + knowledge graph), text, vector or graph."
            ),
        ] = "hybrid",
        limit: Annotated[int, Field(ge=1, le=50, description="Results per page (1-50).")] = 10,
        filters: Annotated[
            FiltersIn | None, Field(description="Restrict by kind, tag, date, file…")
        ] = None,
        project: Project = None,
        include_related: Annotated[
            bool, Field(description="Also list the knowledge-graph entities around the results.")
        ] = False,
        cursor: Annotated[
            str | None, Field(description="next_cursor of a previous call, for more.")
        ] = None,
    ) -> Annotated[CallToolResult, RecallOut]:
        """Search the user's memories: past decisions, bug fixes, snippets, notes, meetings, commits.

        Call it before answering questions about this codebase's history or conventions ("why
        do we…", "how did we fix…", "what did we decide about…"), before re-solving an error
        that may have been seen before, and at the start of a task to load what is known.
        Results are ranked, each with a snippet and why it matched; use get_memory for the
        full text. By default only the current project is searched; pass project="*" for all.
        When more results exist, `next_cursor` is set: call again with the same arguments and
        that cursor. While the embedding model is still loading, the search runs on words only
        and `notices` says so.

        Example: recall(query="database is locked when two processes write",
        filters={"kinds": ["bugfix", "decision"]})
        """
        scope = await rt.scope.resolve(ctx, project)
        fp = paging.fingerprint(
            query, mode, filters.model_dump() if filters else None, scope, include_related
        )
        with guard():
            offset = paging.decode(cursor, fp)
        core_filters = (filters or FiltersIn()).to_core(scope)
        result = await rt.run(
            lambda svc: svc.recall(
                query,
                mode=mode,
                limit=limit,
                offset=offset,
                filters=core_filters,
                include_related=include_related,
            )
        )
        return structured(_recall_out(query, scope, offset, fp, result))

    @mcp.tool(title="Get a memory", annotations=READ_ONLY)
    async def get_memory(
        id: MemoryId,
        include_versions: Annotated[
            bool,
            Field(description="Also list the version history (pending versions await the user)."),
        ] = False,
    ) -> Annotated[CallToolResult, MemoryDetailOut]:
        """Read one memory in full (recall and list_memories return summaries and snippets).

        Example: get_memory(id="01JAB3K4Z9X7Q2R5T8V0W1Y3C6", include_versions=true)
        """

        def read(svc: MemoryService) -> MemoryDetailOut:
            memory = svc.get(id)
            versions = svc.versions(id) if include_versions else []
            return MemoryDetailOut(
                memory=memory_out(memory), versions=[version_out(v) for v in versions]
            )

        return structured(await rt.run(read))

    @mcp.tool(title="Update a memory", annotations=ADDITIVE)
    async def update_memory(
        id: MemoryId,
        content: Annotated[str | None, Field(description="The new full content.")] = None,
        title: Annotated[str | None, Field(description="The new title.")] = None,
        kind: Annotated[str | None, Field(description="The new kind.", max_length=32)] = None,
        tags: Annotated[
            list[str] | None, Field(description="The new tags (replace the old ones).")
        ] = None,
        anchor: Annotated[AnchorIn | None, Field(description="The new code anchor.")] = None,
        visibility: Annotated[Visibility | None, Field(description="The new visibility.")] = None,
    ) -> Annotated[CallToolResult, WriteOut]:
        """Correct or extend a memory; omitted fields stay as they are. Earlier versions are kept.

        A memory the user wrote is never overwritten by you: the change is kept as a pending
        version (status "pending_review") until the user accepts it. Tell the user when that
        happens. Memories you (or another assistant) wrote are updated at once.

        Example: update_memory(id="01JAB3K4Z9X7Q2R5T8V0W1Y3C6", tags=["sqlite", "wal"])
        """
        from core import MemoryPatch

        patch = MemoryPatch(
            content=content,
            title=title,
            kind=kind,
            tags=tags,
            anchor=anchor.to_core() if anchor else None,
            visibility=visibility,
        )
        result = await rt.run(lambda svc: svc.update(id, patch, source=ASSISTANT))
        if result.status == "pending_review":
            m = result.memory
            author = "the user" if m.provenance.name == "USER" else f"an import ({m.source})"
            result = replace(
                result,
                message=f"Not applied: this memory was written by {author}, so "
                "the change waits for the user's review. " + result.message,
            )
        return write_result(result)

    @mcp.tool(title="Forget a memory", annotations=DESTRUCTIVE)
    async def forget(id: MemoryId) -> Annotated[CallToolResult, ForgetOut]:
        """Delete a memory for good, with its history, links and search entries.

        Only call it when the user asks to delete something, or a memory is plainly wrong and
        the user agrees; to fix a memory use update_memory instead.

        Example: forget(id="01JAB3K4Z9X7Q2R5T8V0W1Y3C6")
        """
        memory = await rt.run(lambda svc: svc.forget(id))
        message = (
            f"Removed {memory.id} ({memory.kind}: {memory.title!r}) with its version history, "
            "links, text and vector index entries and knowledge-graph evidence."
        )
        return structured(ForgetOut(removed=memory_brief(memory), message=message))

    @mcp.tool(title="List memories", annotations=READ_ONLY)
    async def list_memories(
        ctx: Context,
        filters: Annotated[
            FiltersIn | None, Field(description="Restrict by kind, tag, date, file…")
        ] = None,
        project: Project = None,
        limit: Annotated[int, Field(ge=1, le=100, description="Memories per page (1-100).")] = 20,
        offset: Annotated[int, Field(ge=0, description="next_offset of the previous page.")] = 0,
        order: Annotated[
            Literal["updated", "created", "event"],
            Field(description="Newest first by update, creation or event time."),
        ] = "updated",
    ) -> Annotated[CallToolResult, ListOut]:
        """Browse memories newest first, without a query (e.g. "what did I save this week?").

        To find memories about something, use recall instead.

        Example: list_memories(filters={"kinds": ["decision"], "since": "2025-01-01"}, limit=20)
        """
        scope = await rt.scope.resolve(ctx, project)
        core_filters = (filters or FiltersIn()).to_core(scope)
        page = await rt.run(
            lambda svc: svc.list(core_filters, limit=limit, offset=offset, order=order)
        )
        return structured(
            ListOut(
                memories=[memory_brief(m) for m in page.memories],
                total=page.total,
                next_offset=page.next_offset,
                project=scope,
            )
        )


def _recall_out(
    query: str, scope: str | None, offset: int, fp: str, result: SearchResult
) -> RecallOut:
    hits = [hit_out(h) for h in result.hits]
    kept = paging.fit(hits)
    more = kept < len(hits) or result.next_offset is not None
    notices = list(result.notices)
    if kept < len(hits):
        notices.append(
            f"Showing {kept} of {len(hits)} results to keep the answer short; "
            "pass next_cursor for the rest."
        )
    return RecallOut(
        query=query,
        mode=result.mode,
        requested_mode=result.requested_mode,
        project=scope,
        hits=hits[:kept],
        notices=notices,
        next_cursor=paging.encode(offset + kept, fp) if more else None,
        related_entities=[entity_out(e) for e in result.related_entities],
    )
