"""Diagnostics (opt-in, ``diagnostics.enabled``): "Known issue: …" on code that an anchored
bug-fix or pitfall memory warns about.

Pushed with `textDocument/publishDiagnostics` (every LSP editor shows those) on open, after
edits (debounced), and when the store changes. Severity stays low (Information for a
pitfall, Hint for a past bug fix): they are reminders, not errors. Each carries the
memory id in ``code`` and ``data`` so the quick fix can open it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.workspace import PositionCodec

from core import DevMemError
from lsp_server import present
from lsp_server.anchoring import Placed
from lsp_server.documents import DocInfo, character_of

if TYPE_CHECKING:
    from lsp_server.server import DevMemServer

log = logging.getLogger(__name__)

SOURCE = "devmem"
SEVERITY = {
    "pitfall": types.DiagnosticSeverity.Information,
    "bugfix": types.DiagnosticSeverity.Hint,
}


def register(ls: DevMemServer) -> None:
    """Diagnostics are pushed (see :func:`publish`); nothing to register."""


async def publish(ls: DevMemServer, uri: str) -> None:
    """Compute and push this document's diagnostics (an empty list when switched off)."""
    published = ls.diagnosed
    if not ls.config.diagnostics.enabled:
        if uri in published:
            published.discard(uri)
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )
        return
    try:
        info = await ls.doc_info(uri)
        if info is None:
            return
        placed = await ls.placed(info)
    except DevMemError as exc:
        log.info("diagnostics unavailable: %s", exc)
        return
    codec = ls.workspace.position_codec
    found = [diagnostic(info, p, codec) for p in placed if p.where and p.memory.kind in SEVERITY]
    published.add(uri)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=info.version)
    )


def diagnostic(info: DocInfo, p: Placed, codec: PositionCodec) -> types.Diagnostic:
    """One "Known issue" on the first line of the memory's anchor (its code, not blanks)."""
    assert p.where is not None
    number = p.where.start_line
    line = info.line(number)
    indent = len(line) - len(line.lstrip())
    rng = types.Range(
        start=types.Position(line=number - 1, character=character_of(codec, line, indent)),
        end=types.Position(line=number - 1, character=character_of(codec, line, len(line))),
    )
    m = p.memory
    return types.Diagnostic(
        range=rng,
        severity=SEVERITY[m.kind],
        source=SOURCE,
        code=m.id,
        message=f"Known issue: {m.title} — {present.summary_line(m, 200)}",
        data={"id": m.id, "title": m.title},
    )
