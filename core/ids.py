"""Memory ids: sortable ULID-style ids (48-bit millisecond time + 80 random bits, Crockford
base32), their short form for display and the unique prefixes every adapter accepts."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import Protocol

from core.errors import InvalidInput

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last_ms = 0
ID_LENGTH = 26
SHORT_ID = 10  # the time part: unique per id a process creates (see new_id)
MIN_PREFIX = 4  # shorter prefixes are not looked up (as git does for abbreviated shas)
_SHOWN_CANDIDATES = 3


class IdIndex(Protocol):
    """What prefix lookups need from the storage."""

    def ids_with_prefix(self, prefix: str, limit: int) -> list[str]: ...

    def adjacent_ids(self, memory_id: str) -> list[str]: ...


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id() -> str:
    """A new id, strictly increasing within this process.

    Each id gets a millisecond of its own: a batch made within one millisecond (a sync
    writes hundreds) takes the next ones, so ids differ in their first 10 characters and
    the short form shown to people stays 10 characters long. Standard ULIDs increment the
    random part instead, which would make a batch's ids differ only in their last ones.
    """
    global _last_ms
    with _lock:
        ms = max(time.time_ns() // 1_000_000, _last_ms + 1)
        _last_ms = ms
    rand = int.from_bytes(os.urandom(10), "big")
    return _encode(ms, 10) + _encode(rand, 16)


def looks_like_id(text: str) -> bool:
    """True when ``text`` has the shape of a memory id (26 Crockford base32 chars)."""
    return len(text) == ID_LENGTH and all(c in _ALPHABET for c in text.upper())


def _is_prefix(text: str) -> bool:
    return MIN_PREFIX <= len(text) < ID_LENGTH and all(c in _ALPHABET for c in text.upper())


def resolve_prefix(index: IdIndex, text: str) -> str | None:
    """The one stored id starting with ``text``; None when none does (or ``text`` cannot be a
    prefix); InvalidInput naming the candidates when several do."""
    if not _is_prefix(text):
        return None
    found = index.ids_with_prefix(text, _SHOWN_CANDIDATES + 1)
    if len(found) > 1:
        shown = ", ".join(found[:_SHOWN_CANDIDATES]) + (", …" if len(found) > 3 else "")
        raise InvalidInput(
            f"The id prefix {text!r} matches more than one memory ({shown}).",
            hint="Give more characters of the id (or the whole id).",
        )
    return found[0] if found else None


def short_id(index: IdIndex, memory_id: str) -> str:
    """The shortest prefix of ``memory_id`` (at least SHORT_ID characters) no other stored id
    starts with: the id's neighbours in sorted order are the only ids that can share more."""
    shared = 0
    for other in index.adjacent_ids(memory_id):
        common = next(
            (i for i, (a, b) in enumerate(zip(memory_id, other, strict=False)) if a != b),
            min(len(memory_id), len(other)),
        )
        shared = max(shared, common)
    return memory_id[: max(SHORT_ID, shared + 1)]


def short_ids(index: IdIndex, memory_ids: Iterable[str]) -> dict[str, str]:
    """Full id → short id, for ids about to be shown."""
    return {memory_id: short_id(index, memory_id) for memory_id in dict.fromkeys(memory_ids)}
