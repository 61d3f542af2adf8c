"""Code actions: remember a selection, find memories about it, link it; past fixes for errors.

Every action carries a ``devmem.*`` command (the contract's arguments plus ``"show": true``
where the result should be shown), so the same actions work in every LSP editor:

- on a selection: "Remember selection as decision / bug fix / snippet / note" (the memory
  is anchored to path, lines, enclosing symbol and commit by ``devmem.remember``), "Find
  memories about this", and "Link to memory…" when a memory is anchored there;
- on an identifier, string or comment without a selection: "Find memories about this";
- on a diagnostic: "Show past fixes for this error" (when some bug-fix or pitfall memory
  matches its message), and "Open memory: …" on DevMemory's own "Known issue" diagnostics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from core import DevMemError, MemoryService
from lsp_server import present
from lsp_server.diagnostics import SOURCE
from lsp_server.documents import DocInfo, column_of, line_range, selected_text
from lsp_server.targets import target_at

if TYPE_CHECKING:
    from lsp_server.server import DevMemServer

log = logging.getLogger(__name__)

KIND_REMEMBER = "refactor.devmem.remember"
KIND_FIND = "refactor.devmem.find"
KIND_LINK = "refactor.devmem.link"
REMEMBER_AS = (
    ("decision", "decision"),
    ("bugfix", "bug fix"),
    ("snippet", "snippet"),
    ("note", "note"),
)
FIX_KINDS = ["bugfix", "pitfall"]
MAX_QUERY = 1000
MAX_DIAGNOSTICS = 5


def register(ls: DevMemServer) -> None:
    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[KIND_REMEMBER, KIND_FIND, KIND_LINK, types.CodeActionKind.QuickFix]
        ),
    )
    async def on_code_action(params: types.CodeActionParams) -> list[types.CodeAction] | None:
        try:
            return await code_actions(ls, params) or None
        except DevMemError as exc:
            log.info("code actions unavailable: %s", exc)
            return None


async def code_actions(ls: DevMemServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri, rng, only = params.text_document.uri, params.range, params.context.only
    info = await ls.doc_info(uri)
    if info is None or rng.start.line >= max(len(info.lines), 1):
        return []
    out: list[types.CodeAction] = []
    text = selected_text(ls.workspace.position_codec, info, rng).strip()
    if text and _wanted(only, KIND_REMEMBER):
        out += [_remember(uri, rng, text, kind, label) for kind, label in REMEMBER_AS]
    query = text or _cursor_query(ls, info, rng.start)
    if query and _wanted(only, KIND_FIND):
        out.append(
            _action(
                "Find memories about this",
                KIND_FIND,
                "devmem.search",
                {"query": query[:MAX_QUERY], "uri": uri, "show": True},
            )
        )
    if text and _wanted(only, KIND_LINK):
        out += await _link(ls, info, uri, rng)
    if _wanted(only, types.CodeActionKind.QuickFix):
        out += await _quick_fixes(ls, info, uri, params.context.diagnostics[:MAX_DIAGNOSTICS])
    return out


def _wanted(only: Sequence[str] | None, kind: str) -> bool:
    """The client's ``only`` filter: a requested kind matches itself and its sub-kinds."""
    return not only or any(kind == k or kind.startswith(k + ".") for k in only)


def _action(
    title: str,
    kind: str,
    command: str,
    args: dict[str, Any],
    diagnostics: list[types.Diagnostic] | None = None,
) -> types.CodeAction:
    return types.CodeAction(
        title=title,
        kind=kind,
        diagnostics=diagnostics,
        command=types.Command(title=title, command=command, arguments=[args]),
    )


def _remember(uri: str, rng: types.Range, text: str, kind: str, label: str) -> types.CodeAction:
    args = {
        "content": text,
        "kind": kind,
        "uri": uri,
        "range": {
            "start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character},
        },
    }
    return _action(f"Remember selection as {label}", KIND_REMEMBER, "devmem.remember", args)


def _cursor_query(ls: DevMemServer, info: DocInfo, at: types.Position) -> str:
    line = info.line(at.line + 1)
    target = target_at(
        line, column_of(ls.workspace.position_codec, line, at.character), info.filename
    )
    return target.text if target else ""


async def _link(
    ls: DevMemServer, info: DocInfo, uri: str, rng: types.Range
) -> list[types.CodeAction]:
    """ "Link to memory…" when a memory is anchored at the selection (the link's source)."""
    start, end = line_range(info, rng)
    placed = [p for p in await ls.placed(info) if p.where and p.where.overlaps(start, end)]
    if not placed:
        return []
    source = min(placed, key=lambda p: p.where.end_line - p.where.start_line if p.where else 0)
    args = {
        "id": source.memory.id,
        "uri": uri,
        "show": True,
        "range": {
            "start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character},
        },
    }
    title = f"Link to memory… (from “{present.one_line(source.memory.title, 40)}”)"
    return [_action(title, KIND_LINK, "devmem.link", args)]


async def _quick_fixes(
    ls: DevMemServer, info: DocInfo, uri: str, diagnostics: Sequence[types.Diagnostic]
) -> list[types.CodeAction]:
    out: list[types.CodeAction] = []
    for diag in diagnostics:
        data = diag.data if isinstance(diag.data, dict) else {}
        if diag.source == SOURCE and isinstance(data.get("id"), str):
            title = f"Open memory: {present.one_line(str(data.get('title') or data['id']), 60)}"
            out.append(
                _action(
                    title,
                    types.CodeActionKind.QuickFix,
                    "devmem.open",
                    {"id": data["id"], "show": True},
                    [diag],
                )
            )
            continue
        past_fix: bool = bool(diag.message.strip()) and await ls.backend.run(
            has_past_fix, diag.message, info.project
        )
        if past_fix:
            out.append(
                _action(
                    "Show past fixes for this error",
                    types.CodeActionKind.QuickFix,
                    "devmem.search",
                    {
                        "query": diag.message[:MAX_QUERY],
                        "uri": uri,
                        "kinds": FIX_KINDS,
                        "show": True,
                    },
                    [diag],
                )
            )
    return out


def has_past_fix(svc: MemoryService, message: str, project: str | None) -> bool:
    """Whether a bug-fix or pitfall memory shares most words of an error message (core's rule)."""
    return bool(svc.past_fixes(message, project=project, kinds=FIX_KINDS))
