"""What a batch of new memories finds already stored, looked up at once.

``remember_many`` checks each input against the store (an identical memory: nothing new is
written; the same connector item: an update). One lookup per input cost a round trip each
on a server; :class:`Known` asks for the whole batch in two queries and then follows the
batch's own writes, so a later input sees an earlier one exactly as a lookup would.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.models import Memory
from core.storage import Storage


class Known:
    """Stored memories by (content hash, project) and by (source, external id)."""

    def __init__(self, storage: Storage, memories: Sequence[Memory]) -> None:
        hashes = [(m.content_hash, m.project) for m in memories if not m.external_id]
        externals = [(m.source, m.external_id) for m in memories if m.external_id]
        self._by_hash = storage.find_many_by_hash(hashes) if hashes else {}
        self._by_external = storage.find_many_external(externals) if externals else {}

    def by_hash(self, m: Memory) -> Memory | None:
        return self._by_hash.get((m.content_hash, m.project))

    def external(self, m: Memory) -> Memory | None:
        return None if not m.external_id else self._by_external.get((m.source, m.external_id))

    def wrote(self, m: Memory) -> None:
        """``m`` is now stored (new, or replacing the memory of the same id)."""
        for hash_key in [k for k, v in self._by_hash.items() if v.id == m.id]:
            del self._by_hash[hash_key]
        for ext_key in [k for k, v in self._by_external.items() if v.id == m.id]:
            del self._by_external[ext_key]
        self._by_hash.setdefault((m.content_hash, m.project), m)
        if m.external_id:
            self._by_external[(m.source, m.external_id)] = m
