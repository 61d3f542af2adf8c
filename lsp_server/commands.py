"""`workspace/executeCommand`: the ``devmem.*`` commands of docs/lsp-contract.md.

Every command takes one JSON object in ``arguments[0]`` (a bare string id is accepted
where an ``id`` is expected) and returns plain JSON. Core errors come back as JSON-RPC
errors whose message says what to do next. ``"show": true`` (sent by this server's own
code actions and lenses) also shows the result through standard window requests, so the
commands work in editors without a DevMemory extension.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from lsprotocol import types
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcRequestCancelled

from core import (
    CodeAnchor,
    DevMemError,
    InvalidInput,
    MemoryInput,
    MemoryService,
    NotFound,
    ProgressEvent,
    SearchFilters,
    fingerprint,
)
from lsp_server import lens, present, ui
from lsp_server.documents import DocInfo, head_commit, line_range, selected_text
from lsp_server.footprint import release_memory
from lsp_server.protocol import WORK_DONE_TOKEN

if TYPE_CHECKING:
    from lsp_server.server import DevMemServer

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
# The `workDoneToken` of the executeCommand request being served (set by the protocol).
REQUEST_FAILED = -32803  # LSP RequestFailed: valid request, the operation failed


# ---- arguments ---------------------------------------------------------------------------
class _Args(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Pos(_Args):
    line: int = Field(ge=0)
    character: int = Field(ge=0)


class Rng(_Args):
    start: Pos
    end: Pos

    def lsp(self) -> types.Range:
        return types.Range(
            start=types.Position(line=self.start.line, character=self.start.character),
            end=types.Position(line=self.end.line, character=self.end.character),
        )


class RememberArgs(_Args):
    content: str
    title: str | None = None
    kind: str | None = None
    tags: list[str] = []
    uri: str | None = None
    range: Rng | None = None


class SearchArgs(_Args):
    query: str
    limit: int = Field(default=20, ge=1, le=200)
    uri: str | None = None
    kinds: list[str] = []
    show: bool = False


class IdArgs(_Args):
    id: str
    show: bool = False


class ForFileArgs(_Args):
    uri: str
    symbol: str | None = None
    show: bool = False


class RecentArgs(_Args):
    limit: int = Field(default=20, ge=1, le=200)


class LinkArgs(_Args):
    id: str
    target: str | None = None
    type: str = "related"
    uri: str | None = None
    range: Rng | None = None
    show: bool = False


def parse(command: str, model: type[M], raw: Any) -> M:
    """``arguments[0]`` as ``model``; a JSON-RPC InvalidParams error saying what is wrong."""
    if isinstance(raw, str) and "id" in model.model_fields:
        raw = {"id": raw}
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "arguments[0]"
        fields = ", ".join(
            f"{k}{'' if f.is_required() else '?'}" for k, f in model.model_fields.items()
        )
        raise JsonRpcInvalidParams(
            message=f"{command}: {where}: {err.get('msg', 'invalid')}. "
            f"Pass one object in arguments[0]: {{{fields}}}."
        ) from None


def rpc_error(exc: DevMemError) -> JsonRpcException:
    """A core error as a JSON-RPC error: bad input → InvalidParams, else RequestFailed."""
    code = JsonRpcInvalidParams.CODE if isinstance(exc, InvalidInput | NotFound) else REQUEST_FAILED
    return JsonRpcException(message=str(exc), code=code, data={"code": exc.code})


# ---- commands ----------------------------------------------------------------------------
async def remember(ls: DevMemServer, raw: Any) -> dict[str, Any]:
    a = parse("devmem.remember", RememberArgs, raw)
    anchor, project = None, await ls.default_project()
    if a.uri:
        info = await _document(ls, a.uri)
        project = info.project or project  # an untitled buffer has no repository of its own
        anchor = await ls.backend.offload(build_anchor, info, a.range.lsp() if a.range else None)
    title = a.title if a.title and a.title.strip() else present.suggest_title(a.content)
    inp = MemoryInput(
        content=a.content,
        title=title,
        kind=a.kind or "note",
        tags=list(a.tags),
        project=project,
        anchor=anchor,
        source="user",
    )
    result = await ls.backend.run(MemoryService.remember, inp)
    await ls.watcher.after_write()
    m = result.memory
    return {
        "id": m.id,
        "title": m.title,
        "kind": m.kind,
        "status": result.status,
        "redactions": [note.kind for note in result.redactions],
    }


def build_anchor(info: DocInfo, rng: types.Range | None) -> CodeAnchor | None:
    """Path (relative to the git root), lines, enclosing symbol, commit and fingerprint."""
    if info.anchor_path is None:
        return None
    commit = head_commit(info.root)
    if rng is None or not info.lines:
        return CodeAnchor(path=info.anchor_path, commit=commit)
    start, end = line_range(info, rng)
    symbol = info.enclosing(start, end)
    return CodeAnchor(
        path=info.anchor_path,
        start_line=start,
        end_line=end,
        symbol=symbol.qualname if symbol else None,
        commit=commit,
        fingerprint=fingerprint(info.lines[start - 1 : end]),
    )


async def search_memories(ls: DevMemServer, raw: Any) -> dict[str, Any]:
    a = parse("devmem.search", SearchArgs, raw)
    # With a document, its project; without one, the `project` setting (else everything).
    project = (await _document(ls, a.uri)).project if a.uri else ls.config.project
    filters = SearchFilters(project=project, kinds=list(a.kinds)) if project or a.kinds else None
    result = await ls.backend.run(_recall, a.query, a.limit, filters)
    out: dict[str, Any] = {"hits": [present.hit_summary(h) for h in result.hits]}
    if result.notices:
        out["notice"] = " ".join(result.notices)
    if a.show:
        _background(
            ls, ui.show_hits(ls, f"memories about “{present.one_line(a.query, 60)}”", out["hits"])
        )
    return out


def _recall(svc: MemoryService, query: str, limit: int, filters: SearchFilters | None) -> Any:
    return svc.recall(query, limit=limit, filters=filters)


async def open_memory(ls: DevMemServer, raw: Any) -> dict[str, Any]:
    a = parse("devmem.open", IdArgs, raw)
    memory, links = await ls.backend.run(ui.memory_with_links, a.id)
    if a.show:
        _background(ls, ui.open_memory(ls, memory.id))
    return {
        "id": memory.id,
        "title": memory.title,
        "markdown": present.memory_markdown(memory, links),
        "memory": present.memory_summary(memory),
    }


async def forget(ls: DevMemServer, raw: Any) -> dict[str, Any]:
    a = parse("devmem.forget", IdArgs, raw)
    memory = await ls.backend.run(MemoryService.forget, a.id)
    await ls.watcher.after_write()
    return {"id": memory.id, "title": memory.title, "removed": True}


async def memories_for_file(ls: DevMemServer, raw: Any) -> dict[str, Any]:
    a = parse("devmem.memoriesForFile", ForFileArgs, raw)
    info = await _document(ls, a.uri)
    if a.symbol:
        symbol = next((s for s in info.symbols if s.qualname == a.symbol), None) or next(
            (s for s in info.symbols if s.name == a.symbol.rsplit(".", 1)[-1]), None
        )
        if symbol is None:
            raise InvalidInput(
                f"No function or class named {a.symbol!r} in {info.filename or a.uri}.",
                hint="Pass a symbol from the file, or no symbol for the whole file.",
            )
        found = await lens.symbol_memories(ls, info, symbol)
        hits = [present.memory_summary(s.memory, line=s.line, why=s.why) for s in found]
    else:
        placed = await ls.placed(info)
        hits = [
            present.memory_summary(
                p.memory, line=p.where.start_line if p.where else None, why="anchored to this file"
            )
            for p in placed
        ]
    if a.show:
        where = a.symbol or info.filename or a.uri
        _background(ls, ui.show_hits(ls, f"memories for {where}", hits))
    return {"hits": hits}


async def recent(ls: DevMemServer, raw: Any) -> dict[str, Any]:
    a = parse("devmem.recent", RecentArgs, raw)
    page = await ls.backend.run(MemoryService.list, None, a.limit)
    return {"hits": [present.memory_summary(m) for m in page.memories]}


async def link(ls: DevMemServer, raw: Any) -> dict[str, Any]:
    a = parse("devmem.link", LinkArgs, raw)
    target = a.target
    if target is None:
        target = await _pick_target(ls, a)
        if target is None:
            return {"source": a.id, "target": None, "type": a.type, "cancelled": True}
    made = await ls.backend.run(MemoryService.link, a.id, target, a.type)
    await ls.watcher.after_write()
    if a.show:
        ls.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info,
                message=f"DevMemory: linked {made.source_id} → {made.target_id}.",
            )
        )
    return {"source": made.source_id, "target": made.target_id, "type": made.type}


async def _pick_target(ls: DevMemServer, a: LinkArgs) -> str | None:
    """ "Link to memory…": offer memories about the selection (or the source) to link to."""
    query = ""
    if a.uri and a.range:
        info = await _document(ls, a.uri)
        query = selected_text(ls.workspace.position_codec, info, a.range.lsp())
    source = await ls.backend.run(MemoryService.get, a.id)  # an id or a unique prefix
    if not query.strip():
        query = source.title
    result = await ls.backend.run(_recall, query[:2000], 8, None)
    choices = [present.hit_summary(h) for h in result.hits if h.memory.id != source.id]
    return await ui.pick(ls, "link to which memory?", choices)


async def reindex(ls: DevMemServer, raw: Any) -> dict[str, Any]:
    """Re-embed every memory, reporting `$/progress` (cancellable from the client)."""
    token = await _progress_token(ls)
    progress = ls.work_done_progress
    loop = asyncio.get_running_loop()
    if token is not None:
        progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title="DevMemory: re-embedding memories", cancellable=True, percentage=0
            ),
        )

    abandoned = threading.Event()  # the request was cancelled (or the server is exiting)

    def report(event: ProgressEvent) -> None:  # called in the worker thread
        future = progress.tokens.get(token) if token is not None else None
        if (
            abandoned.is_set()
            or ls.backend.stopping.is_set()
            or (future is not None and future.cancelled())
        ):
            raise _Cancelled(event.done)  # stops maintenance.reindex between two batches
        if token is not None and not loop.is_closed():
            pct = int(100 * event.done / event.total) if event.total else None
            loop.call_soon_threadsafe(
                progress.report,
                token,
                types.WorkDoneProgressReport(
                    message=f"{event.done}/{event.total or '?'} memories", percentage=pct
                ),
            )

    try:
        count = await ls.backend.run(_reindex, report)
    except asyncio.CancelledError:
        abandoned.set()  # `shutdown` or `$/cancelRequest`: the worker stops at its next batch
        raise
    except _Cancelled as stop:
        raise JsonRpcRequestCancelled(
            message=f"Reindex cancelled after {stop.done} memories; run devmem.reindex again to "
            "finish (vector search is incomplete until then)."
        ) from None
    finally:
        if token is not None:
            await asyncio.sleep(0)  # let queued reports go out before the end
            progress.end(token, types.WorkDoneProgressEnd(message="done"))
            progress.tokens.pop(token, None)
    await ls.watcher.after_write()
    return {"count": count}


def _reindex(svc: MemoryService, report: Callable[[ProgressEvent], None]) -> int:
    try:
        return svc.reindex(progress=report)
    finally:
        release_memory()  # the embedding batches' buffers go back to the system


class _Cancelled(Exception):
    def __init__(self, done: int) -> None:
        super().__init__(done)
        self.done = done


async def _progress_token(ls: DevMemServer) -> types.ProgressToken | None:
    token = WORK_DONE_TOKEN.get()
    if token is not None:
        return token
    if not ls.supports("window.work_done_progress"):
        return None
    token = f"devmem-reindex-{uuid.uuid4().hex[:8]}"
    try:
        await ls.work_done_progress.create_async(token)
    except Exception as exc:  # the client refused: run without progress
        log.info("cannot create progress: %s", exc)
        return None
    return token


# ---- plumbing ----------------------------------------------------------------------------
async def _document(ls: DevMemServer, uri: str) -> DocInfo:
    info = await ls.doc_info(uri)
    if info is None:
        raise InvalidInput(
            f"Cannot read the document {uri}.",
            hint="Open or save the file first, or leave out `uri`.",
        )
    return info


def _background(ls: DevMemServer, job: Awaitable[None]) -> None:
    """Show results without holding the command's answer until the user picks."""
    task = asyncio.ensure_future(job)
    ls.background.add(task)
    task.add_done_callback(ls.background.discard)


Handler = Callable[["DevMemServer", Any], Awaitable[dict[str, Any]]]
COMMANDS: dict[str, Handler] = {
    "devmem.remember": remember,
    "devmem.search": search_memories,
    "devmem.open": open_memory,
    "devmem.forget": forget,
    "devmem.reindex": reindex,
    "devmem.memoriesForFile": memories_for_file,
    "devmem.recent": recent,
    "devmem.link": link,
}


def register(ls: DevMemServer) -> None:
    for name, handler in COMMANDS.items():
        ls.command(name)(_wrap(ls, handler))


def _wrap(ls: DevMemServer, handler: Handler) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def run(*args: Any) -> Any:
        try:
            return await handler(ls, args[0] if args else None)
        except DevMemError as exc:
            raise rpc_error(exc) from None

    return run
