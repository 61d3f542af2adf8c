"""Results cached until the store changes.

Every answer computed from the store is valid until the store's change token moves (this
server's writes, or another process's). The watcher counts those moves in an *epoch*;
features check the token before answering (a cheap query), so a cached answer never
outlives a write, and repeated hovers and lens requests after edits cost no search.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

RELATED_CACHE_SIZE = 250_000  # names looked up per store epoch (most map to the shared empty list)
LENS_CACHE_SIZE = 64  # documents whose lenses are kept for their current version


class EpochCache(Generic[V]):
    """A small LRU map that forgets everything when the epoch changes."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._epoch = -1
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, epoch: int, key: Hashable) -> V | None:
        if epoch != self._epoch:
            self._items.clear()
            self._epoch = epoch
            return None
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, epoch: int, key: Hashable, value: V) -> None:
        if epoch != self._epoch:
            self._items.clear()
            self._epoch = epoch
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)
