"""The DevMemory MCP server: tools, resources and prompts over one MemoryService.

:func:`build_server` takes its dependencies as arguments (the entry point builds them),
so tests and other hosts can serve any store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mcp.server.mcpserver import MCPServer

from core import __version__
from mcp_server import prompts, resources, tools, tools_graph
from mcp_server.runtime import LazyService, ProjectScope, Runtime

if TYPE_CHECKING:
    from mcp.server.context import CallNext, ServerRequestContext

    from core.service import MemoryService

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
NAME = "devmemory"
INSTRUCTIONS = """\
DevMemory is the user's long-term developer memory, shared by their assistants and editor.
- Before answering questions about this codebase's history, conventions or past problems, and
  at the start of a task, call `recall` (or `context_for_file` before editing a file).
- When a decision is made, a non-obvious bug is fixed, or the user asks you to remember
  something, call `remember` with a self-contained note (kind "decision", "bugfix", …).
- Memories the user wrote are never overwritten by you: `update_memory` then returns
  status "pending_review"; tell the user.
Searches and writes default to the current project; pass project="*" to search every project.
"""

# Methods after which a stdio client is up and the store can be opened without slowing start-up,
# _WARM_DELAY_S later: the warm-up's imports hold the GIL for long stretches and would delay
# writing this answer and the rest of the client's start-up burst (tools/list +2-3 ms).
_WARM_AFTER = frozenset({"tools/list", "tools/call", "resources/list", "resources/read",
                         "prompts/list", "prompts/get"})
_WARM_DELAY_S = 0.05


def build_server(service: MemoryService | LazyService, project: str | None = None, *,
                 detect_project: Callable[[Path | None], str | None] | None = None,
                 log_level: LogLevel = "WARNING") -> MCPServer[Any]:
    """An MCP server over ``service``.

    ``project`` (``--project``) fixes the current project; without it the client's roots,
    then ``detect_project(None)`` (the working directory's repository) decide.
    """
    lazy = service if isinstance(service, LazyService) else LazyService.ready(service)
    scope = ProjectScope(project, detect_project or (lambda _path: None))
    rt = Runtime(lazy, scope)
    mcp: MCPServer[Any] = MCPServer(NAME, title="DevMemory", version=__version__,
                                    instructions=INSTRUCTIONS, middleware=[_WarmUp(lazy)],
                                    log_level=log_level)
    tools.register(mcp, rt)
    tools_graph.register(mcp, rt)
    resources.register(mcp, rt)
    prompts.register(mcp, rt)
    return mcp


class _WarmUp:
    """Open the store once the client has finished its start-up requests.

    Opening it earlier would compete for the CPU with answering ``initialize`` and
    ``tools/list``; opening it on the first tool call would make that call slow.
    """

    def __init__(self, lazy: LazyService) -> None:
        self._lazy = lazy

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        result = await call_next(ctx)
        if ctx.method in _WARM_AFTER:
            self._lazy.warm_up(_WARM_DELAY_S)  # a tool call before then opens the store itself
        return result
