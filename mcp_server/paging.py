"""Recall's opaque cursors and the response-size cap.

A cursor is ``base64url({"o": offset, "q": fingerprint})``; the fingerprint covers the
query, mode, filters and project, so a cursor handed back with a different query is
refused instead of silently paging through another result list.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from core import InvalidInput

# The hits go out twice (structuredContent and the same JSON as text), so ~9 KB of hits keeps
# a whole recall answer near 20 KB: a few thousand tokens of an assistant's context at most.
HITS_BUDGET_BYTES = 9_000
MAX_CURSOR_CHARS = 256


def fingerprint(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def encode(offset: int, fp: str) -> str:
    raw = json.dumps({"o": offset, "q": fp}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, fp: str) -> int:
    """The offset a cursor points at (0 without one); InvalidInput for a foreign or broken one."""
    if not cursor:
        return 0
    try:
        if len(cursor) > MAX_CURSOR_CHARS:  # ours are ~60 characters; a longer one is not ours
            raise ValueError(cursor[:20])
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        offset, owner = int(data["o"]), str(data["q"])
    # OverflowError: {"o": Infinity}; RecursionError: a deeply nested document
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError, RecursionError):
        raise InvalidInput(
            "cursor is not one this server returned.",
            hint="Pass next_cursor from a recall result unchanged, or omit it.",
        ) from None
    if owner != fp or offset < 0:
        raise InvalidInput(
            "cursor belongs to a different query, mode, filter or project.",
            hint="Repeat the same recall arguments with the cursor, or omit it to start over.",
        )
    return offset


def fit(items: Sequence[BaseModel], budget: int = HITS_BUDGET_BYTES) -> int:
    """How many leading ``items`` fit in ``budget`` bytes of JSON (at least one)."""
    used = 0
    for count, item in enumerate(items):
        used += len(item.model_dump_json()) + 1
        if used > budget and count > 0:
            return count
    return len(items)
