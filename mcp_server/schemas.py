"""Pydantic models of what crosses the MCP boundary, and their mapping from core's dataclasses.

Inputs (anchors, filters) are validated here by the SDK before a tool runs; outputs become
each tool's output schema and its ``structuredContent``. Nothing here touches the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if (
    TYPE_CHECKING
):  # core's models are built lazily: the store's warm-up imports them, start-up need not
    from core import (
        CodeAnchor,
        EntitySummary,
        Hit,
        Link,
        Memory,
        RedactionNote,
        SearchFilters,
        Version,
        WriteResult,
    )

SNIPPET_CHARS = 300
SUMMARY_CHARS = 160

Visibility = Literal["private", "team", "public"]
LinkType = Literal["related", "supersedes", "depends_on", "implements", "references"]
SearchModeName = Literal["hybrid", "text", "vector", "graph"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- inputs ------------------------------------------------------------------------------
class AnchorIn(_Model):
    """Where in the code a memory belongs."""

    path: str = Field(
        description="File path, relative to the repository root (e.g. 'src/app/db.py')."
    )
    start_line: int | None = Field(default=None, ge=1, description="First line (1-based).")
    end_line: int | None = Field(
        default=None, ge=1, description="Last line (inclusive); defaults to start_line."
    )
    symbol: str | None = Field(default=None, description="Function/class name, e.g. 'Store.write'.")
    commit: str | None = Field(default=None, description="Commit sha the lines refer to, if known.")

    def to_core(self) -> CodeAnchor:
        from core import CodeAnchor

        return CodeAnchor(
            path=self.path,
            start_line=self.start_line,
            end_line=self.end_line,
            symbol=self.symbol,
            commit=self.commit,
        )


class FiltersIn(_Model):
    """Restrictions on search and listing; empty fields restrict nothing."""

    kinds: list[str] = Field(
        default_factory=list, description="Only these kinds, e.g. ['decision', 'bugfix']."
    )
    tags: list[str] = Field(default_factory=list, description="Only memories with these tags.")
    tags_mode: Literal["any", "all"] = Field(
        default="any", description="'any' tag or 'all' of them."
    )
    source: str | None = Field(
        default=None, description="Only from this source: 'user', 'assistant', 'git', …"
    )
    visibility: list[Visibility] = Field(
        default_factory=list, description="Only these visibilities."
    )
    since: str | None = Field(
        default=None, description="ISO date/time: only memories from then on."
    )
    until: str | None = Field(default=None, description="ISO date/time: only memories until then.")
    path: str | None = Field(
        default=None, description="Anchored to this file, or under this folder if it ends with '/'."
    )

    def to_core(self, project: str | None) -> SearchFilters:
        from core import SearchFilters

        return SearchFilters(
            kinds=list(self.kinds),
            tags=list(self.tags),
            tags_mode=self.tags_mode,
            project=project,
            source=self.source,
            visibility=list(self.visibility),
            since=self.since,
            until=self.until,
            path=self.path,
        )


# ---- outputs -----------------------------------------------------------------------------
class AnchorOut(BaseModel):
    path: str
    start_line: int | None = None
    end_line: int | None = None
    symbol: str | None = None
    commit: str | None = None


class MemoryOut(BaseModel):
    """A stored memory, in full."""

    id: str
    title: str
    content: str
    content_truncated: bool = Field(
        default=False, description="True when content was cut; get_memory has it all."
    )
    kind: str
    tags: list[str]
    project: str | None
    anchor: AnchorOut | None
    source: str
    provenance: Literal["user", "automation", "ai"] = Field(
        description="Who wrote it: a user-authored memory outranks automation and AI."
    )
    visibility: str
    created_at: str
    updated_at: str
    event_at: str | None
    version: int
    source_url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class MemoryBrief(BaseModel):
    """A memory in one line: enough to decide whether to fetch it with get_memory."""

    id: str
    title: str
    kind: str
    tags: list[str]
    project: str | None
    anchor: AnchorOut | None
    provenance: Literal["user", "automation", "ai"]
    updated_at: str
    summary: str


class RedactionOut(BaseModel):
    kind: str = Field(
        description="What kind of secret was removed (the secret itself is never stored)."
    )
    count: int


class WriteOut(BaseModel):
    """What a write did: created, deduplicated, updated, unchanged or pending_review."""

    status: Literal["created", "deduplicated", "updated", "unchanged", "pending_review"]
    message: str
    memory: MemoryOut
    redactions: list[RedactionOut] = Field(default_factory=list)
    pending_version: int | None = Field(
        default=None,
        description="Set when status is pending_review: the user must accept this version.",
    )


class HitOut(BaseModel):
    """One search result: the memory in brief, its score and why it matched."""

    id: str
    title: str
    kind: str
    tags: list[str]
    project: str | None
    anchor: AnchorOut | None
    updated_at: str
    event_at: str | None = Field(
        default=None, description="When it happened (a commit's date, a meeting's start)."
    )
    sha: str | None = Field(default=None, description="A commit hit's sha.")
    score: float
    matched: list[str] = Field(description="Which searches found it: text, vector, graph, anchor.")
    why: str
    snippet: str
    similarity: float | None = None


class EntityOut(BaseModel):
    type: str
    name: str
    display: str
    memory_count: int
    score: float = 0.0


class RecallOut(BaseModel):
    """Ranked memories for a query."""

    query: str
    mode: str = Field(
        description="The search that actually ran (text when the model is not ready)."
    )
    requested_mode: str
    project: str | None = Field(description="The project searched; null means every project.")
    hits: list[HitOut]
    notices: list[str] = Field(default_factory=list)
    next_cursor: str | None = Field(
        default=None, description="Pass back as `cursor` for the next results."
    )
    related_entities: list[EntityOut] = Field(default_factory=list)


class VersionOut(BaseModel):
    version: int
    title: str
    changed_at: str
    changed_by: str
    pending: bool


class MemoryDetailOut(BaseModel):
    memory: MemoryOut
    versions: list[VersionOut] = Field(default_factory=list)


class ForgetOut(BaseModel):
    removed: MemoryBrief
    message: str


class LinkOut(BaseModel):
    source_id: str
    target_id: str
    type: str
    created_at: str


class RelatedMemoryOut(BaseModel):
    memory: MemoryBrief
    relation: str = Field(
        description="'link:<type>' for an explicit link, 'shares entities' otherwise."
    )
    shared_entities: list[str] = Field(default_factory=list)


class RelatedOut(BaseModel):
    id: str
    links: list[LinkOut]
    entities: list[EntityOut] = Field(description="The entities this memory mentions.")
    related: list[RelatedMemoryOut]


class ListOut(BaseModel):
    memories: list[MemoryBrief]
    total: int
    next_offset: int | None = Field(default=None, description="Pass as `offset` for the next page.")
    project: str | None


class FileContextOut(BaseModel):
    path: str
    project: str | None
    hits: list[HitOut]


class NeighbourOut(BaseModel):
    entity: EntityOut
    relation: str
    weight: float
    direction: Literal["out", "in"]


class PathStepOut(BaseModel):
    entity: EntityOut
    relation: str = Field(description="The relation leading into this entity ('' for the start).")


class GraphOut(BaseModel):
    """An entity's neighbourhood, or the path between two entities."""

    entity: EntityOut
    neighbours: list[NeighbourOut] = Field(default_factory=list)
    memories: list[MemoryBrief] = Field(default_factory=list)
    target: EntityOut | None = None
    path: list[PathStepOut] | None = Field(
        default=None, description="Set when `to` was given; [] if unconnected."
    )


class StatsOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    memories: int
    vectors: int
    links: int
    by_kind: dict[str, int]
    by_project: dict[str, int]
    by_source: dict[str, int]
    db_path: str
    db_bytes: int
    embedding_model: str | None
    embedding_ready: bool
    current_project: str | None = None
    vector_notice: str | None = None


# ---- mapping from core ---------------------------------------------------------------------
def cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def anchor_out(a: CodeAnchor | None) -> AnchorOut | None:
    if a is None:
        return None
    return AnchorOut(
        path=a.path, start_line=a.start_line, end_line=a.end_line, symbol=a.symbol, commit=a.commit
    )


def memory_out(m: Memory) -> MemoryOut:
    return MemoryOut(
        id=m.id,
        title=m.title,
        content=m.content,
        kind=m.kind,
        tags=list(m.tags),
        project=m.project,
        anchor=anchor_out(m.anchor),
        source=m.source,
        provenance=_provenance(m),
        visibility=m.visibility,
        created_at=m.created_at,
        updated_at=m.updated_at,
        event_at=m.event_at,
        version=m.version,
        source_url=m.source_url,
        metadata=m.metadata,
    )


def memory_brief(m: Memory) -> MemoryBrief:
    return MemoryBrief(
        id=m.id,
        title=m.title,
        kind=m.kind,
        tags=list(m.tags),
        project=m.project,
        anchor=anchor_out(m.anchor),
        provenance=_provenance(m),
        updated_at=m.updated_at,
        summary=m.summary(SUMMARY_CHARS),
    )


def write_out(r: WriteResult) -> WriteOut:
    return WriteOut(
        status=r.status,
        message=_write_message(r),
        memory=memory_out(r.memory),
        redactions=[redaction_out(n) for n in r.redactions],
        pending_version=r.pending_version,
    )


def redaction_out(n: RedactionNote) -> RedactionOut:
    return RedactionOut(kind=n.kind, count=n.count)


def hit_out(h: Hit) -> HitOut:
    m = h.memory
    return HitOut(
        id=m.id,
        title=m.title,
        kind=m.kind,
        tags=list(m.tags),
        project=m.project,
        anchor=anchor_out(m.anchor),
        updated_at=m.updated_at,
        event_at=m.event_at,
        sha=_commit_sha(m),
        score=h.score,
        matched=list(h.matched),
        why=h.why,
        snippet=cut(h.snippet, SNIPPET_CHARS),
        similarity=None if h.similarity is None else round(h.similarity, 4),
    )


def entity_out(e: EntitySummary) -> EntityOut:
    return EntityOut(
        type=e.type, name=e.name, display=e.display, memory_count=e.memory_count, score=e.score
    )


def link_out(link: Link) -> LinkOut:
    return LinkOut(
        source_id=link.source_id,
        target_id=link.target_id,
        type=link.type,
        created_at=link.created_at,
    )


def version_out(v: Version) -> VersionOut:
    return VersionOut(
        version=v.version,
        title=v.title,
        changed_at=v.changed_at,
        changed_by=v.changed_by,
        pending=v.pending,
    )


def _commit_sha(m: Memory) -> str | None:
    sha = m.metadata.get("sha") if m.kind == "commit" else None
    return sha if isinstance(sha, str) and sha else None


def _provenance(m: Memory) -> Literal["user", "automation", "ai"]:
    name = m.provenance.name.lower()
    return "user" if name == "user" else "ai" if name == "ai" else "automation"


def _write_message(r: WriteResult) -> str:
    default = {
        "created": f"Stored as {r.memory.id}.",
        "updated": f"Updated {r.memory.id}.",
        "unchanged": "Nothing changed.",
    }.get(r.status, "")
    message = r.message or default
    secrets = sum(n.count for n in r.redactions)
    if secrets:
        kinds = ", ".join(n.kind for n in r.redactions)
        message += f" {secrets} secret(s) ({kinds}) were redacted before storage."
    return message.strip()
