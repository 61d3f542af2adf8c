"""Showing results in any editor with plain LSP window requests.

Commands return data (the VS Code extension renders it itself). When a command is run from
a code action or a code lens with ``"show": true``, the server also shows the result:
a `window/showMessageRequest` listing the memories, then `window/showDocument` on the one
picked (the extension's ``devmemory:`` document in VS Code, a markdown file elsewhere).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from core import Link, Memory, MemoryService
from lsp_server import present
from lsp_server.memory_docs import memory_uri

if TYPE_CHECKING:
    from lsp_server.server import DevMemServer

log = logging.getLogger(__name__)

MAX_CHOICES = 7


async def pick(ls: DevMemServer, message: str, summaries: Sequence[dict[str, Any]]) -> str | None:
    """Ask the user to pick one memory; its id, or None (dismissed / nothing to pick)."""
    if not summaries:
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info, message=f"DevMemory: {message} — none found."
            )
        )
        return None
    if not can_pick(ls):
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Warning,
                message=f"DevMemory: {message} — this editor cannot show a choice; "
                "run the command with an explicit id instead.",
            )
        )
        return None
    titles: dict[str, str] = {}
    for s in summaries[:MAX_CHOICES]:
        label = f"[{s['kind']}] {present.one_line(s['title'], 70)}"
        if label in titles:
            label = f"{label} ({s['id'][-6:]})"
        titles[label] = s["id"]
    try:
        chosen = await ls.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Info,
                message=f"DevMemory: {message}",
                actions=[types.MessageActionItem(title=t) for t in titles],
            )
        )
    except Exception as exc:  # the client cannot ask: nothing picked
        log.info("showMessageRequest failed: %s", exc)
        return None
    return titles.get(chosen.title) if chosen is not None else None


def can_pick(ls: DevMemServer) -> bool:
    """Whether the client advertises `window/showMessageRequest` (Helix does not)."""
    return ls.supports("window.show_message")


async def show_hits(ls: DevMemServer, message: str, summaries: Sequence[dict[str, Any]]) -> None:
    """List memories and open the one the user picks (or, in editors that cannot ask,
    open one page listing them all)."""
    if summaries and not can_pick(ls) and ls.memory_docs() is not None:
        await _show_page(ls, message, summaries)
        return
    chosen = await pick(ls, message, summaries)
    if chosen is not None:
        await open_memory(ls, chosen)


async def _show_page(ls: DevMemServer, message: str, summaries: Sequence[dict[str, Any]]) -> None:
    docs = ls.memory_docs()
    memories = await ls.backend.run(_memories, [s["id"] for s in summaries])
    lines = [f"# DevMemory: {message}", ""]
    for m in memories:
        uri = await ls.backend.offload(memory_uri, docs, m.id, present.memory_file_text(m))
        lines += [
            f"- **[{m.kind}]** [{present.escape(m.title)}]({uri}) — {present.date_of(m)}",
            f"  {present.escape(present.summary_line(m))}",
            "",
        ]
    page = await ls.backend.offload(memory_uri, docs, "results", "\n".join(lines))
    await _show_document(ls, page)


async def open_memory(ls: DevMemServer, memory_id: str) -> None:
    """Show a memory as a read-only document in the editor."""
    memory, links = await ls.backend.run(memory_with_links, memory_id)
    docs = ls.memory_docs()
    text = present.memory_file_text(memory, links) if docs is not None else None
    uri = await ls.backend.offload(memory_uri, docs, memory.id, text)
    if not ls.supports("window.show_document.support") and docs is None:
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info, message=f"{memory.title}\n\n{memory.content}"
            )
        )
        return
    await _show_document(ls, uri)


async def _show_document(ls: DevMemServer, uri: str) -> None:
    try:
        await ls.window_show_document_async(types.ShowDocumentParams(uri=uri, take_focus=True))
    except Exception as exc:  # the client could not open it: the log says where it is
        log.info("showDocument %s failed: %s", uri, exc)


def _memories(svc: MemoryService, ids: list[str]) -> list[Memory]:
    return [svc.get(i) for i in ids]


def memory_with_links(svc: MemoryService, memory_id: str) -> tuple[Memory, list[Link]]:
    return svc.get(memory_id), svc.links(memory_id)
