"""The data of DevMemory: plain dataclasses that cross the `core` boundary."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

KINDS: tuple[str, ...] = (
    "note", "decision", "bugfix", "snippet", "pitfall", "todo", "meeting", "email", "chat",
    "document", "commit", "issue", "log", "reference",
)  # fmt: skip
VISIBILITIES: tuple[str, ...] = ("private", "team", "public")
LINK_TYPES: tuple[str, ...] = ("related", "supersedes", "depends_on", "implements", "references")
SEARCH_MODES: tuple[str, ...] = ("hybrid", "text", "vector", "graph")

SearchMode = Literal["hybrid", "text", "vector", "graph"]

# A content section that only the full-text index reads, not the embedding model: it starts
# with a blank line and this heading on a line of its own and runs to the end (a commit's
# changed lines: a quoted error message finds the commit by its words, while the model,
# which reads 256 tokens at most, sees the message, files and symbols instead of code).
TEXT_ONLY_HEADING = "Changed lines:"


class Provenance(IntEnum):
    """Who wrote a memory. Higher outranks lower: an AI write never overwrites a user's."""

    AI = 1
    AUTOMATION = 2
    USER = 3

    @classmethod
    def for_source(cls, source: str) -> Provenance:
        """``user`` → USER, ``assistant``/``ai:*`` → AI, anything else (connectors) → AUTOMATION."""
        if source == "user":
            return cls.USER
        if source == "assistant" or source.startswith(("ai:", "assistant:")):
            return cls.AI
        return cls.AUTOMATION


@dataclass(frozen=True)
class CodeAnchor:
    """Where in code a memory belongs. Lines are 1-based and inclusive."""

    path: str
    start_line: int | None = None
    end_line: int | None = None
    symbol: str | None = None
    commit: str | None = None
    fingerprint: str | None = None  # hash of the anchored lines, to re-find them after edits


@dataclass(frozen=True)
class EntityRef:
    """An entity named by a connector (a person, a meeting…), with an optional relation."""

    type: str
    name: str
    display: str | None = None
    relation: str | None = (
        None  # e.g. "sent", "attended", "authored": entity → this memory's subject
    )


@dataclass
class MemoryInput:
    """What a caller gives to ``remember``. Only ``content`` is required."""

    content: str
    title: str | None = None
    kind: str = "note"
    tags: list[str] = field(default_factory=list)
    project: str | None = None
    anchor: CodeAnchor | None = None
    source: str = "user"  # "user", "assistant", or the connector's name ("git", "github", …)
    external_id: str | None = None
    source_url: str | None = None
    visibility: str = "private"
    event_at: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)  # (target id, link type)
    entities: list[EntityRef] = field(default_factory=list)


@dataclass(frozen=True)
class Memory:
    """A stored memory."""

    id: str
    title: str
    content: str
    kind: str
    tags: tuple[str, ...]
    project: str | None
    anchor: CodeAnchor | None
    source: str
    external_id: str | None
    source_url: str | None
    provenance: Provenance
    visibility: str
    created_at: str
    updated_at: str
    event_at: str | None
    version: int
    metadata: dict[str, Any]
    content_hash: str

    def summary(self, width: int = 120) -> str:
        """The first line of the content, cut to ``width`` characters."""
        line = next((ln.strip() for ln in self.content.splitlines() if ln.strip()), "")
        return line if len(line) <= width else line[: width - 1] + "…"


@dataclass(frozen=True)
class MemoryPatch:
    """Fields to change in ``update``; ``None`` leaves a field as it is."""

    content: str | None = None
    title: str | None = None
    kind: str | None = None
    tags: list[str] | None = None
    project: str | None = None
    anchor: CodeAnchor | None = None
    visibility: str | None = None
    event_at: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class RedactionNote:
    """One secret removed before storage (the secret itself is never kept)."""

    kind: str
    count: int


WriteStatus = Literal["created", "deduplicated", "updated", "unchanged", "pending_review"]


@dataclass(frozen=True)
class WriteResult:
    """The outcome of ``remember`` / ``update``: the memory and what happened to it."""

    memory: Memory
    status: WriteStatus
    redactions: tuple[RedactionNote, ...] = ()
    pending_version: int | None = None  # set when status == "pending_review"
    message: str = ""


@dataclass(frozen=True)
class Version:
    """One entry of a memory's history."""

    version: int
    title: str
    content: str
    changed_at: str
    changed_by: str
    pending: bool


@dataclass(frozen=True)
class Link:
    """A typed link between two memories."""

    source_id: str
    target_id: str
    type: str
    created_at: str


@dataclass
class SearchFilters:
    """Restrictions applied to search and listing. Empty means no restriction."""

    kinds: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    tags_mode: Literal["any", "all"] = "any"
    project: str | None = None
    source: str | None = None
    visibility: list[str] = field(default_factory=list)
    since: str | None = None  # on event time, else created time
    until: str | None = None
    path: str | None = None  # anchor path (exact, or a folder prefix ending in "/")


@dataclass(frozen=True)
class Hit:
    """One search result and why it matched."""

    memory: Memory
    score: float
    matched: tuple[str, ...]  # subset of ("text", "vector", "graph", "anchor")
    snippet: str
    why: str
    similarity: float | None = None  # cosine similarity to the query, when vectors ran


@dataclass(frozen=True)
class EntitySummary:
    """An entity of the knowledge graph, as shown next to results."""

    type: str
    name: str
    display: str
    memory_count: int
    score: float = 0.0


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits, the mode that actually ran, and notices for the user."""

    hits: list[Hit]
    mode: str
    requested_mode: str
    notices: list[str] = field(default_factory=list)
    next_offset: int | None = None
    related_entities: list[EntitySummary] = field(default_factory=list)


@dataclass(frozen=True)
class Page:
    """A page of memories from ``list``."""

    memories: list[Memory]
    total: int
    next_offset: int | None


@dataclass(frozen=True)
class ProgressEvent:
    """Progress of long work (sync, reindex, rebuild), for any UI to show."""

    stage: str
    done: int
    total: int | None = None
    message: str = ""


ProgressCallback = Callable[[ProgressEvent], None]


def no_progress(_: ProgressEvent) -> None:
    """The default progress callback: ignore."""
