"""The connection tools: link_memories, related, context_for_file, memory_stats, graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import Field

from mcp_server.runtime import Runtime
from mcp_server.schemas import (
    FileContextOut,
    GraphOut,
    LinkOut,
    LinkType,
    NeighbourOut,
    PathStepOut,
    RelatedMemoryOut,
    RelatedOut,
    StatsOut,
    entity_out,
    hit_out,
    link_out,
    memory_brief,
)
from mcp_server.tools import ADDITIVE, READ_ONLY, MemoryId, Project, structured

if TYPE_CHECKING:
    from core import MemoryService

Entity = Annotated[
    str,
    Field(
        description="An entity name as it appears in memories: a technology "
        "('sqlite'), a person, a file path or a symbol.",
        min_length=1,
        max_length=200,
    ),
]


def register(mcp: MCPServer[Any], rt: Runtime) -> None:
    """Add the link, context and graph tools to ``mcp``."""

    @mcp.tool(title="Link two memories", annotations=ADDITIVE)
    async def link_memories(
        source_id: MemoryId,
        target_id: MemoryId,
        type: Annotated[LinkType, Field(description="How source relates to target.")] = "related",
    ) -> Annotated[CallToolResult, LinkOut]:
        """Record that one memory relates to another, e.g. a fix that implements a decision.

        Types: related, supersedes (source replaces target), depends_on, implements,
        references. Linking twice is harmless.

        Example: link_memories(source_id="01JB…", target_id="01JA…", type="supersedes")
        """
        link = await rt.run(lambda svc: svc.link(source_id, target_id, type))
        return structured(link_out(link))

    @mcp.tool(title="Related memories", annotations=READ_ONLY)
    async def related(
        id: MemoryId,
        limit: Annotated[
            int, Field(ge=1, le=50, description="At most this many related memories.")
        ] = 10,
    ) -> Annotated[CallToolResult, RelatedOut]:
        """What a memory is connected to: its explicit links, its entities, and memories sharing them.

        Call it after recall or get_memory to follow a thread (the decision behind a fix, the
        other bugs in the same module).

        Example: related(id="01JAB3K4Z9X7Q2R5T8V0W1Y3C6")
        """
        found = await rt.run(lambda svc: svc.related(id, limit))
        return structured(
            RelatedOut(
                id=found.memory.id,
                links=[link_out(link) for link in found.links],
                entities=[entity_out(e) for e in found.entities],
                related=[
                    RelatedMemoryOut(
                        memory=memory_brief(r.memory),
                        relation=r.relation,
                        shared_entities=list(r.shared),
                    )
                    for r in found.related
                ],
            )
        )

    @mcp.tool(title="Memories about a file", annotations=READ_ONLY)
    async def context_for_file(
        path: Annotated[
            str,
            Field(
                description="The file, relative to the repository root or absolute.", min_length=1
            ),
        ],
        ctx: Context,
        symbol: Annotated[
            str | None, Field(description="A function/class in it, e.g. 'Store.write'.")
        ] = None,
        line: Annotated[int | None, Field(ge=1, description="A line in it (1-based).")] = None,
        project: Project = None,
        limit: Annotated[int, Field(ge=1, le=50, description="At most this many memories.")] = 10,
    ) -> Annotated[CallToolResult, FileContextOut]:
        """The memories anchored to a file (and to a symbol or line in it), then ones that mention it.

        Call it before editing a file to learn its decisions, known pitfalls and past fixes.

        Example: context_for_file(path="core/db.py", symbol="write_transaction")
        """
        scope = await rt.scope.resolve(ctx, project)
        hits = await rt.run(
            lambda svc: svc.context_for_file(
                path, symbol=symbol, line=line, project=scope, limit=limit
            )
        )
        return structured(FileContextOut(path=path, project=scope, hits=[hit_out(h) for h in hits]))

    @mcp.tool(title="Memory store statistics", annotations=READ_ONLY)
    async def memory_stats(ctx: Context) -> Annotated[CallToolResult, StatsOut]:
        """Counts of memories by kind, project and source; store size; embedding model status.

        Example: memory_stats()
        """
        scope = await rt.scope.current(ctx)

        def read(svc: MemoryService) -> StatsOut:
            return StatsOut(**svc.stats(), current_project=scope, vector_notice=svc.vector_notice())

        return structured(await rt.run(read))

    @mcp.tool(title="Knowledge graph", annotations=READ_ONLY)
    async def graph(
        entity: Entity,
        to: Annotated[
            str | None,
            Field(description="A second entity: return the path between them.", max_length=200),
        ] = None,
        limit: Annotated[
            int, Field(ge=1, le=50, description="Neighbours and memories to show.")
        ] = 10,
    ) -> Annotated[CallToolResult, GraphOut]:
        """Explore the knowledge graph built from the memories: who and what is connected to what.

        With `entity` alone: its strongest relations and its latest memories. With `to` as
        well: the shortest chain of relations between the two (empty when unconnected).

        Examples: graph(entity="sqlite"); graph(entity="alice", to="payments-service")
        """
        if to:
            found = await rt.run(lambda svc: svc.entity_path(entity, to))
            return structured(
                GraphOut(
                    entity=entity_out(found.source),
                    target=entity_out(found.target),
                    path=[
                        PathStepOut(entity=entity_out(s.entity), relation=s.relation)
                        for s in found.steps
                    ],
                )
            )
        view = await rt.run(lambda svc: svc.entity(entity, limit))
        return structured(
            GraphOut(
                entity=entity_out(view.entity),
                neighbours=[
                    NeighbourOut(
                        entity=entity_out(n.entity),
                        relation=n.relation,
                        weight=n.weight,
                        direction="out" if n.direction == "out" else "in",
                    )
                    for n in view.neighbours
                ],
                memories=[memory_brief(m) for m in view.memories],
            )
        )
