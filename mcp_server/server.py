"""The DevMemory MCP server: tools, resources and prompts over one MemoryService.

:func:`build_server` takes its dependencies as arguments (the entry point builds them),
so tests and other hosts can serve any store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.shared.exceptions import MCPError
from mcp.types import Icon, ToolAnnotations
from pydantic import ValidationError

from core import __version__
from mcp_server import prompts, resources, tools, tools_graph
from mcp_server.errors import INVALID_PARAMS, clean_doc, invalid_arguments, missing_arguments
from mcp_server.runtime import LazyService, ProjectScope, Runtime

if TYPE_CHECKING:
    from mcp.server.auth.provider import TokenVerifier
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.context import CallNext, ServerRequestContext

    from core import MemoryService

_Fn = TypeVar("_Fn", bound=Callable[..., Any])
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
_WARM_AFTER = frozenset(
    {"tools/list", "tools/call", "resources/list", "resources/read", "prompts/list", "prompts/get"}
)
_WARM_DELAY_S = 0.05


def build_server(
    service: MemoryService | LazyService,
    project: str | None = None,
    *,
    detect_project: Callable[[Path | None], str | None] | None = None,
    log_level: LogLevel = "WARNING",
    team: TeamAuth | None = None,
) -> MCPServer[Any]:
    """An MCP server over ``service``.

    ``project`` (``--project``) fixes the current project; without it the client's roots,
    then ``detect_project(None)`` (the working directory's repository) decide. ``team``
    (a team store served over HTTP): each request signs in through its verifier and every
    tool runs as the signed-in person.
    """
    lazy = service if isinstance(service, LazyService) else LazyService.ready(service)
    scope = ProjectScope(project, detect_project or (lambda _path: None))
    rt = Runtime(lazy, scope, team.person if team else None)
    mcp: MCPServer[Any] = DevMemMCPServer(
        NAME,
        title="DevMemory",
        version=__version__,
        instructions=INSTRUCTIONS,
        middleware=[_WarmUp(lazy)],
        log_level=log_level,
        token_verifier=team.verifier if team else None,
        auth=team.settings if team else None,
    )
    tools.register(mcp, rt)
    tools_graph.register(mcp, rt)
    resources.register(mcp, rt)
    prompts.register(mcp, rt)
    return mcp


@dataclass(frozen=True)
class TeamAuth:
    """A team server's sign-in: the SDK's verifier and settings, and who the request is."""

    verifier: TokenVerifier
    settings: AuthSettings
    person: Callable[[], str]


class DevMemMCPServer(MCPServer[Any]):
    """The SDK's server with errors a model can act on and clean descriptions.

    Overrides only public methods of ``MCPServer``: tool and prompt descriptions are their
    docstrings without indentation; invalid tool arguments are one sentence per argument
    (an is_error result the model can correct); a prompt asked for without its required
    arguments, or by an unknown name, is a JSON-RPC -32602 (the SDK answers -32603)."""

    def tool(
        self,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> Callable[[_Fn], _Fn]:
        register = super().tool

        def decorate(fn: _Fn) -> _Fn:
            return register(
                name,
                title,
                description or clean_doc(fn.__doc__),
                annotations,
                icons,
                meta,
                structured_output,
            )(fn)

        return decorate

    def prompt(
        self,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        icons: list[Icon] | None = None,
    ) -> Callable[[_Fn], _Fn]:
        register = super().prompt

        def decorate(fn: _Fn) -> _Fn:
            return register(name, title, description or clean_doc(fn.__doc__), icons)(fn)

        return decorate

    _known: dict[str, list[str]] | None = None

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        params = await self._parameters(name)
        unknown = sorted(set(arguments) - set(params)) if params else []
        if unknown:  # the SDK ignores them: a misspelt argument would silently do nothing
            raise ToolError(
                f"Invalid arguments for tool {name}: "
                + " ".join(
                    f"`{u}` is not a parameter (parameters: {', '.join(sorted(params))})."
                    for u in unknown
                )
            )
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            raise ToolError(
                invalid_arguments(f"tool {name}", cause, await self._parameters(name))
            ) from cause

    async def _parameters(self, name: str) -> list[str]:
        """The tool's parameter names (tools are all registered before the first call)."""
        if self._known is None:
            self._known = {
                t.name: list(t.input_schema.get("properties", {})) for t in await self.list_tools()
            }
        return self._known.get(name, [])

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Any = None
    ) -> Any:
        found = [p for p in await self.list_prompts() if p.name == name]
        if not found:
            known = ", ".join(sorted(p.name for p in await self.list_prompts()))
            raise MCPError(INVALID_PARAMS, f"Unknown prompt {name!r}; prompts: {known}.")
        declared = found[0].arguments or []
        missing = {a.name for a in declared if a.required} - set(arguments or {})
        if missing:
            raise MCPError(
                INVALID_PARAMS,
                missing_arguments(f"prompt {name}", missing, [a.name for a in declared]),
            )
        return await super().get_prompt(name, arguments, context)


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
