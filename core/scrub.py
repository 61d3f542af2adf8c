"""Secrets out of every field: what the service runs on a memory's fields before storing them.

``core.redact`` finds secrets in one text; this module applies it to each field a caller
gives (title and content, tags, project, anchor path and symbol, source, external id,
source URL, connector entities, metadata keys and values), so that no field carries a
secret into the store, its text index, its versions, the graph, an export or the stats.

External ids are lookup keys: a connector finds its item again by the id it computed.
A redacted id therefore keeps a digest of the original (``external_key``): stable for
the same input, different for two inputs that differ only in their secret, and the
same whether it is given raw or already redacted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from core.models import CodeAnchor, EntityRef, RedactionNote
from core.redact import Redaction, redact

# No secret format fits in fewer characters; short strings (shas' prefixes, names, kinds)
# skip the redactor, which dominated connector imports before this guard.
_MIN_SECRET_CHARS = 12


@dataclass
class Scrubber:
    """Redacts field after field and keeps every redaction for the caller's notes."""

    found: list[Redaction] = field(default_factory=list)

    def text(self, value: str) -> str:
        if len(value) < _MIN_SECRET_CHARS:
            return value
        result = redact(value)
        self.found.extend(result.redactions)
        return result.text

    def optional(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def many(self, values: Iterable[str]) -> list[str]:
        return [self.text(v) for v in values]

    def tree(self, value: Any) -> Any:
        """Metadata: every string value and every key, at any depth."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.tree(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.tree(v) for v in value]
        return value

    def anchor(self, anchor: CodeAnchor | None) -> CodeAnchor | None:
        if anchor is None:
            return None
        return replace(
            anchor,
            path=self.text(anchor.path),
            symbol=self.optional(anchor.symbol),
            commit=self.optional(anchor.commit),
        )

    def entities(self, refs: Iterable[EntityRef]) -> list[EntityRef]:
        return [replace(e, name=self.text(e.name), display=self.optional(e.display)) for e in refs]

    def external_id(self, value: str | None) -> str | None:
        if value is None:
            return None
        key = external_key(value)
        if key != value:
            self.found.extend(redact(value).redactions)
        return key

    def notes(self) -> tuple[RedactionNote, ...]:
        counts: dict[str, int] = {}
        for r in self.found:
            counts[r.kind] = counts.get(r.kind, 0) + 1
        return tuple(RedactionNote(k, n) for k, n in sorted(counts.items()))


def external_key(value: str) -> str:
    """The stored form of a connector's external id: the id itself, or, when it holds a
    secret, the redacted id plus a digest of the original (so two ids never merge)."""
    if len(value) < _MIN_SECRET_CHARS:
        return value
    result = redact(value)
    if not result.redactions:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{result.text}~{digest}"
