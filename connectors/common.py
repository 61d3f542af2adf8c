"""Helpers the local connectors share on top of :class:`connectors.base.SyncContext`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from connectors.base import SyncContext
from core import DevMemError, InvalidInput, MemoryInput

BATCH_SIZE = 200


def apply_checked(
    ctx: SyncContext,
    inputs: Sequence[MemoryInput],
    deletions: Sequence[str] = (),
    cursor: tuple[str, str] | None = None,
) -> None:
    """``ctx.apply`` that skips (with the reason) the inputs the store refuses.

    ``sync_batch`` validates the whole batch and raises on the first bad input, which would
    lose the other 199 items and the cursor. When that happens, each input is checked on its
    own, the bad ones are recorded as skipped, and the rest are applied with the cursor.
    """
    try:
        ctx.apply(inputs, deletions, cursor)
        return
    except InvalidInput:
        pass
    good: list[MemoryInput] = []
    for inp in inputs:
        try:
            ctx.service.prepare(inp)
        except DevMemError as exc:
            ctx.skip(inp.external_id or inp.title or "item", str(exc))
        else:
            good.append(inp)
    ctx.apply(good, deletions, cursor)


def known_ids(ctx: SyncContext, prefix: str) -> dict[str, str]:
    """``ctx.known_ids(prefix)``, kept to exact (case-sensitive) prefixes whatever the store's
    matching: deciding deletions from a loose match would delete another scope's items."""
    return {k: v for k, v in ctx.known_ids(prefix).items() if k.startswith(prefix)}


def load_cursor(ctx: SyncContext, scope: str) -> dict[str, Any]:
    """The JSON cursor stored for ``scope`` ({} when none or unreadable: a full sync follows)."""
    raw = ctx.cursor(scope)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def dump_cursor(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
