"""Who said or wrote a memory, and whether a query names them.

"What did Alice say about the migration?" is about Alice's messages more than about the
ones that mention her. The speaker comes from connector metadata (``speaker``, ``author``,
``from``, ``sender``: a name, ``Name <email>``, or ``{name, email, login}``) or, for a chat
line, from its ``Name: text`` opening.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from core import extract_patterns as P
from core.search import STOPWORDS
from core.storage import Storage

SPEAKER_KEYS = ("speaker", "author", "from", "sender")
CHAT_KINDS = frozenset({"chat", "meeting", "email"})
_CHAT_LINE = re.compile(r"\s*([A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2}):\s")
_WORD = re.compile(r"[^\W_]+")


def names_in(query: str) -> set[str]:
    """The lower-cased words of a query that could name a person ("Alice's" → "alice")."""
    return {
        w for w in (t.lower() for t in _WORD.findall(query)) if len(w) >= 3 and w not in STOPWORDS
    }


def spoken_by(storage: Storage, memory_ids: Sequence[str], query_words: set[str]) -> set[str]:
    """Those of ``memory_ids`` whose speaker the query names (full name, first or last name)."""
    if not memory_ids or not query_words:
        return set()
    return {
        o.memory_id
        for o in storage.openings(memory_ids, 64)
        if _names(o.kind, o.opening, o.metadata_json) & query_words
    }


@functools.lru_cache(maxsize=8192)  # the same memories come up query after query
def _names(kind: str, opening: str, metadata: str | None) -> frozenset[str]:
    found: set[str] = set()
    if metadata and any(k in metadata for k in SPEAKER_KEYS):
        meta = _loads(metadata)
        for key in SPEAKER_KEYS:
            if meta.get(key):
                for name, email, handle in P.people(meta[key]):
                    found |= _parts(name) | _parts(handle) | _parts((email or "").split("@")[0])
    if kind in CHAT_KINDS:
        line = _CHAT_LINE.match(opening)
        if line:
            found |= _parts(line.group(1))
    return frozenset(found)


def _parts(name: str | None) -> set[str]:
    if not name:
        return set()
    return {w for w in (t.lower() for t in _WORD.findall(name)) if len(w) >= 3}


def _loads(text: str) -> Mapping[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, Mapping) else {}
