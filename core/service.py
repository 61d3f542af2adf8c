"""The service facade: the one API every adapter and connector calls.

remember(MemoryInput)  validate + limits → redact → dedupe → embed (outside the write
                       lock) → one transaction: row + FTS + vector + graph + version
recall(query, …)       text (bm25) · vector (KNN) · graph → reciprocal-rank fusion
"""

from __future__ import annotations

import builtins
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core import code_context as ctx
from core import ids, listing, maintenance, recall, validate
from core.embeddings import Embedder
from core.errors import EmbeddingUnavailable, InvalidInput, NotFound
from core.graph_api import GraphMethods
from core.ids import new_id
from core.known import Known
from core.models import (
    TEXT_ONLY_HEADING,
    Hit,
    Link,
    Memory,
    MemoryInput,
    MemoryPatch,
    Page,
    ProgressCallback,
    Provenance,
    RedactionNote,
    SearchFilters,
    SearchResult,
    Version,
    WriteResult,
    no_progress,
)  # fmt: skip
from core.scrub import Scrubber, external_key
from core.storage import Storage, Transaction, open_storage
from core.timeutil import now_iso

log = logging.getLogger(__name__)
MODEL_WAIT_ON_WRITE_S = 30.0


def content_hash(content: str, project: str | None) -> str:
    """Dedupe key: whitespace-normalised content within one project."""
    normal = " ".join(content.split()).lower()
    return hashlib.sha256(f"{project or ''}\x00{normal}".encode()).hexdigest()


_TEXT_ONLY = f"\n\n{TEXT_ONLY_HEADING}\n"
TEXT_ONLY_EMBEDDED_CHARS = 150  # of the text-only section, the model still reads this much


def embedding_text(m: Memory) -> str:
    """What gets embedded: the title (when it adds something), the content up to its
    text-only section (``TEXT_ONLY_HEADING``) and that section's first characters.

    The model reads 256 tokens at most; a commit's changed lines filled them (149 on
    average on Click) where its message, files and symbols take 52. The first lines of
    code still help (a described behaviour matched to the code that does it), the rest
    mostly costs CPU; bench/gitwhy.py measured the trade-off (docs/connectors.md)."""
    content, _, text_only = m.content.partition(_TEXT_ONLY)
    if text_only:
        content += "\n" + text_only[:TEXT_ONLY_EMBEDDED_CHARS]
    if m.title and not content.startswith(m.title[:40]):
        return f"{m.title}\n{content}"
    return content


class MemoryService(GraphMethods):
    """Remember, recall and curate memories in one store (graph queries: ``core.graph_api``)."""

    def __init__(
        self, storage: Storage, embedder: Embedder, limits: validate.Limits | None = None
    ) -> None:
        self.storage = storage
        self.embedder = embedder
        self.limits = limits or validate.Limits()
        self._vector_notice: str | None = None
        self._vector_checked = False

    @property
    def store(self) -> Storage:
        """The storage (core modules above it use it; adapters call service methods)."""
        return self.storage

    @property
    def location(self) -> str:
        """Where the store lives (a path or URL), for logs and for watching it."""
        return self.storage.location

    @classmethod
    def open(
        cls,
        location: Path | str,
        embedder: Embedder,
        limits: validate.Limits | None = None,
        read: str | None = None,
    ) -> MemoryService:
        """The service over the store at ``location`` (a path, ``sqlite:///…``, a
        ``postgresql://`` URL; ``read``: a read replica of that PostgreSQL store)."""
        return cls(open_storage(location, read), embedder, limits)

    def close(self) -> None:
        self.storage.close()

    # ---- vectors -----------------------------------------------------------------------
    def vectors_usable(self) -> bool:
        """True when the model is loaded and the store's vectors come from the same model."""
        if not self.embedder.is_ready():
            return False
        if not self._vector_checked:
            self._vector_notice = self.storage.prepare_vectors(
                self.embedder.identity, self.embedder.dim
            )
            self._vector_checked = True
        return self._vector_notice is None

    def vector_notice(self) -> str | None:
        """Why vector search is off, in words a user can act on (None when it is on)."""
        if self.vectors_usable():
            return None
        if self._vector_notice:
            return self._vector_notice
        failure = self.embedder.failure()
        if failure:
            return f"Embedding model unavailable ({failure}); using text and graph search."
        return "The embedding model is still loading; this answer used text search only."

    def _embed(
        self, memories: Sequence[Memory], wait: float = MODEL_WAIT_ON_WRITE_S
    ) -> list[np.ndarray | None]:
        if not self.embedder.is_ready():
            self.embedder.wait(wait)
        if not self.vectors_usable():
            return [None] * len(memories)
        try:
            matrix = self.embedder.embed_documents([embedding_text(m) for m in memories])
        except EmbeddingUnavailable:
            return [None] * len(memories)
        return list(matrix)

    # ---- writes ------------------------------------------------------------------------
    def prepare(self, inp: MemoryInput) -> tuple[Memory, tuple[RedactionNote, ...]]:
        """Validate, apply limits and redact secrets in every field: the Memory that would be stored."""
        scrub = Scrubber()
        content = scrub.text(validate.content(inp.content, self.limits))
        title = scrub.text(validate.title(inp.title, content, self.limits))
        metadata = scrub.tree(validate.metadata(inp.metadata, self.limits))
        now = now_iso()
        project = validate.text(inp.project, "project").strip() if inp.project else None
        project = scrub.optional(project)
        source = scrub.text(validate.text(inp.source or "user", "source"))
        memory = Memory(
            id=new_id(),
            title=title,
            content=content,
            kind=validate.kind(inp.kind),
            tags=validate.tags(_scrub_tags(scrub, inp.tags), self.limits),
            project=project,
            anchor=scrub.anchor(validate.anchor(inp.anchor)),
            source=source,
            external_id=scrub.external_id(validate.optional_text(inp.external_id, "external id")),
            source_url=scrub.optional(
                validate.optional_text(inp.source_url, "source URL", validate.URL_CHARS)
            ),
            provenance=Provenance.for_source(inp.source or "user"),
            visibility=validate.visibility(inp.visibility),
            created_at=now,
            updated_at=now,
            event_at=validate.event_time(inp.event_at),
            version=1,
            metadata=metadata,
            content_hash=content_hash(content, project),
        )
        return memory, scrub.notes()

    def remember(self, inp: MemoryInput) -> WriteResult:
        """Store one memory (or report the identical one already stored)."""
        return self.remember_many([inp])[0]

    def remember_many(
        self, inputs: Sequence[MemoryInput], vectors: Sequence[np.ndarray] | None = None
    ) -> list[WriteResult]:
        """Store many memories: one embedding batch, one transaction.

        ``vectors`` (one per input, from the store's model) skips embedding: for bulk
        loads that already have them."""
        prepared, vec_of = self._prepare_batch(inputs, vectors)
        with self.storage.transaction() as tx:
            return self._write_batch(tx, inputs, prepared, vec_of)

    def _write_batch(
        self,
        tx: Transaction,
        inputs: Sequence[MemoryInput],
        prepared: Sequence[tuple[Memory, tuple[RedactionNote, ...]]],
        vec_of: dict[int, np.ndarray | None],
    ) -> list[WriteResult]:
        """Each prepared input written (or found stored) in ``tx``; what is stored is looked
        up again inside the unit of work, once for the batch."""
        known = Known(self.storage, [m for m, _ in prepared])
        results: list[WriteResult] = []
        for i, (m, notes) in enumerate(prepared):
            result = self._write_one(tx, known, inputs[i], m, notes, vec_of.get(i))
            if result.status != "deduplicated":
                known.wrote(result.memory)
            results.append(result)
        return results

    def _prepare_batch(
        self, inputs: Sequence[MemoryInput], vectors: Sequence[np.ndarray] | None = None
    ) -> tuple[list[tuple[Memory, tuple[RedactionNote, ...]]], dict[int, np.ndarray | None]]:
        """Validate and redact every input, and embed (outside the write lock) only those not
        already stored; returns the prepared memories and input index → vector."""
        prepared = [self.prepare(i) for i in inputs]
        known = Known(self.storage, [m for m, _ in prepared])
        fresh = [(i, m) for i, (m, _) in enumerate(prepared) if not _stored(known, m)]
        chosen: list[np.ndarray | None]
        if vectors is not None and self.vectors_usable():
            chosen = [vectors[i] for i, _ in fresh]
        else:
            chosen = self._embed([m for _, m in fresh]) if fresh else []
        return prepared, {i: v for (i, _), v in zip(fresh, chosen, strict=True)}

    def _write_one(
        self,
        tx: Transaction,
        known: Known,
        inp: MemoryInput,
        m: Memory,
        notes: tuple[RedactionNote, ...],
        vector: np.ndarray | None,
    ) -> WriteResult:
        if m.external_id:
            found = known.external(m)
            if found is not None:
                return self._update_external(tx, found, m, notes, vector, inp)
        else:
            dup = known.by_hash(m)
            if dup is not None:
                return WriteResult(
                    dup,
                    "deduplicated",
                    notes,
                    message=f"Already stored as {dup.id}; nothing new was written.",
                )
        tx.insert(m, vector)
        tx.add_version(m, m.source, version=1)
        tx.index_graph(m, Scrubber().entities(inp.entities))
        self._add_links(tx, m.id, inp.links, m.created_at)
        return WriteResult(m, "created", notes)

    def _update_external(
        self,
        tx: Transaction,
        old: Memory,
        m: Memory,
        notes: tuple[RedactionNote, ...],
        vector: np.ndarray | None,
        inp: MemoryInput,
    ) -> WriteResult:
        if _same_import(old, m):
            return WriteResult(old, "unchanged", notes)
        new = replace(
            m,
            id=old.id,
            created_at=old.created_at,
            version=old.version + 1,
            provenance=old.provenance,
        )
        if vector is None and old.content_hash == m.content_hash:
            vector = self.storage.stored_vector(old.id)
        tx.replace(new, vector)
        tx.add_version(new, new.source, version=new.version)
        tx.reindex_graph(new, Scrubber().entities(inp.entities))
        self._add_links(tx, new.id, inp.links, new.updated_at)
        return WriteResult(new, "updated", notes)

    def _add_links(
        self, tx: Transaction, memory_id: str, links: Iterable[tuple[str, str]], at: str
    ) -> None:
        for target, link_type in links:
            found = self.storage.get(target)
            if found is not None and found.id != memory_id:
                tx.add_link(memory_id, found.id, validate.link_type(link_type), at)

    def restore(self, memories: Sequence[Memory]) -> builtins.list[Memory]:
        """Write exported memories back as they were (ids, times, version and provenance kept)
        through the path ``remember`` takes: validation, limits and redaction of every field,
        dedupe (by id: a memory already present is left alone), embedding outside the write
        lock, one transaction. Returns the memories written."""
        fresh = builtins.list(
            {m.id: m for m in memories if self.storage.get(m.id) is None}.values()
        )
        checked = [self._restored(m) for m in fresh]
        vectors = self._embed(checked) if checked else []
        with self.storage.transaction() as tx:
            for m, vector in zip(checked, vectors, strict=True):
                tx.insert(m, vector)
                tx.add_version(m, "import", version=m.version)
                tx.index_graph(m)
        return checked

    def _restored(self, m: Memory) -> Memory:
        inp = MemoryInput(
            content=m.content,
            title=m.title,
            kind=m.kind,
            tags=builtins.list(m.tags),
            project=m.project,
            anchor=m.anchor,
            source=m.source,
            external_id=m.external_id,
            source_url=m.source_url,
            visibility=m.visibility,
            metadata=m.metadata,
        )
        prepared, _ = self.prepare(inp)
        # Every field as remember would store it; only identity, times and history are kept.
        return replace(
            prepared,
            id=m.id,
            provenance=m.provenance,
            created_at=m.created_at,
            updated_at=m.updated_at,
            event_at=m.event_at,
            version=m.version,
        )

    def update(self, memory_id: str, patch: MemoryPatch, *, source: str = "user") -> WriteResult:
        """Change a memory. A lower-provenance writer's change waits as a pending version."""
        old = self._require(memory_id)
        new, notes = self._patched(old, patch, source)
        if _same(old, new):
            return WriteResult(old, "unchanged", notes, message="Nothing changed.")
        if Provenance.for_source(source) < old.provenance:
            return self._pend(old, new, notes, source)
        new = replace(new, version=self.storage.next_version(old.id))
        vector = (
            self._embed([new])[0]
            if new.content_hash != old.content_hash or new.title != old.title
            else self.storage.stored_vector(old.id)
        )
        with self.storage.transaction() as tx:
            tx.replace(new, vector)
            tx.add_version(new, source, version=new.version)
            tx.reindex_graph(new)  # keeps connector entities (a commit's author)
        return WriteResult(new, "updated", notes, message=f"Now at version {new.version}.")

    def _patched(
        self, old: Memory, patch: MemoryPatch, source: str
    ) -> tuple[Memory, tuple[RedactionNote, ...]]:
        scrub = Scrubber()
        body = (
            scrub.text(validate.content(patch.content, self.limits))
            if patch.content is not None
            else old.content
        )
        auto_title = old.title == validate.title(None, old.content, self.limits)
        wants_title = patch.title is not None or (auto_title and patch.content is not None)
        title = (
            scrub.text(validate.title(patch.title, body, self.limits)) if wants_title else old.title
        )
        project = (
            old.project if patch.project is None else (scrub.text(patch.project.strip()) or None)
        )
        new = replace(
            old,
            content=body,
            title=title,
            kind=validate.kind(patch.kind) if patch.kind else old.kind,
            tags=validate.tags(_scrub_tags(scrub, patch.tags), self.limits)
            if patch.tags is not None
            else old.tags,
            project=project,
            anchor=scrub.anchor(validate.anchor(patch.anchor)) if patch.anchor else old.anchor,
            visibility=validate.visibility(patch.visibility)
            if patch.visibility
            else old.visibility,
            event_at=validate.event_time(patch.event_at) if patch.event_at else old.event_at,
            metadata=scrub.tree(validate.metadata(patch.metadata, self.limits))
            if patch.metadata is not None
            else old.metadata,
            updated_at=now_iso(),
            version=old.version + 1,
            content_hash=content_hash(body, project),
            provenance=max(old.provenance, Provenance.for_source(source)),
        )
        return new, scrub.notes()

    def _pend(
        self, old: Memory, new: Memory, notes: tuple[RedactionNote, ...], source: str
    ) -> WriteResult:
        with self.storage.transaction() as tx:
            version = tx.add_version(new, source, pending=True)
        return WriteResult(
            old,
            "pending_review",
            notes,
            pending_version=version,
            message=(
                f"{old.id} was written by a {old.provenance.name.lower()}; this change from "
                f"{source} is kept as pending version {version} and the memory is unchanged. "
                f"Accept it with `devmem edit {old.id} --accept {version}`."
            ),
        )

    def accept_pending(self, memory_id: str, version: int, *, source: str = "user") -> WriteResult:
        """Apply a pending version (written by a lower-provenance writer) to the memory."""
        old = self._require(memory_id)
        fields = self.storage.version_fields(old.id, version)
        pending = [v for v in self.storage.versions(old.id) if v.version == version and v.pending]
        if fields is None or not pending:
            raise NotFound(
                f"{memory_id} has no pending version {version}.",
                hint=f"List versions with `devmem show {memory_id} --versions`.",
            )
        patch = MemoryPatch(
            content=fields["content"],
            title=fields["title"],
            kind=fields["kind"],
            tags=fields["tags"],
            visibility=fields["visibility"],
            metadata=fields["metadata"],
        )
        result = self.update(memory_id, patch, source=source)
        with self.storage.transaction() as tx:
            tx.clear_pending(old.id, version)
        return result

    def forget(self, memory_id: str) -> Memory:
        """Delete a memory with its vector, text index, graph evidence, links and history."""
        old = self._require(memory_id)
        with self.storage.transaction() as tx:
            tx.delete(old.id)
        self.storage.purge_deleted()
        return old

    def forget_external(self, source: str, external_id: str) -> Memory | None:
        found = self.storage.find_external(source, external_key(external_id))
        return None if found is None else self.forget(found.id)

    def link(self, source_id: str, target_id: str, link_type: str = "related") -> Link:
        src = self._require(source_id)
        dst = self._require(target_id)
        if src.id == dst.id:
            raise InvalidInput("A memory cannot link to itself.")
        at = now_iso()
        with self.storage.transaction() as tx:
            tx.add_link(src.id, dst.id, validate.link_type(link_type), at)
        return Link(src.id, dst.id, link_type, at)

    def unlink(self, source_id: str, target_id: str, link_type: str | None = None) -> int:
        src = self._require(source_id)
        dst = self._require(target_id)
        with self.storage.transaction() as tx:
            return tx.remove_link(src.id, dst.id, link_type)

    def relocate_anchor(self, memory_id: str, start_line: int, end_line: int) -> None:
        """Move an anchor's lines after the code moved (no new version: the memory is the same)."""
        memory = self._require(memory_id)
        with self.storage.transaction() as tx:
            tx.set_anchor_lines(memory.id, start_line, end_line)

    # ---- upkeep ------------------------------------------------------------------------
    def reset_vector_check(self) -> None:
        self._vector_checked = False
        self._vector_notice = None

    def embed_ids(self, memory_ids: Sequence[str]) -> int:
        """Embed and store vectors for these memories (reindex); returns how many."""
        memories = self.storage.get_many(memory_ids)
        ordered = [memories[i] for i in memory_ids if i in memories]
        matrix = self.embedder.embed_documents([embedding_text(m) for m in ordered])
        with self.storage.transaction() as tx:
            for m, vec in zip(ordered, matrix, strict=True):
                tx.put_vector(m.id, vec)
        return len(ordered)

    def stats(self) -> dict[str, Any]:
        """Counts by kind, project and source; sizes; model and graph status."""
        return maintenance.stats(self.storage, self.embedder)

    # ---- connectors --------------------------------------------------------------------
    def sync_batch(
        self,
        inputs: Sequence[MemoryInput],
        deletions: Sequence[tuple[str, str]] = (),
        cursor: tuple[str, str, str] | None = None,
    ) -> list[WriteResult | Memory]:
        """Upsert ``inputs`` (by source + external id), delete ``deletions`` (source, external id)
        and store the connector's ``cursor`` (connector, scope, value) in ONE transaction, so a
        sync killed half-way resumes from the last committed batch with nothing half-written.
        Returns the write results, then the deleted memories."""
        for inp in inputs:
            if not inp.external_id:
                raise InvalidInput("sync_batch needs an external_id on every input.")
        prepared, vec_of = self._prepare_batch(inputs)
        out: list[WriteResult | Memory] = []
        with self.storage.transaction() as tx:
            out += self._write_batch(tx, inputs, prepared, vec_of)
            for source, external_id in deletions:
                found = self.storage.find_external(source, external_key(external_id))
                if found is not None:
                    tx.delete(found.id)
                    out.append(found)
            if cursor is not None:
                tx.set_cursor(*cursor)
        if deletions:
            self.storage.purge_deleted()
        return out

    def classify(self, inp: MemoryInput) -> str:
        """What ``sync_batch`` would do with ``inp`` (for --dry-run): created/updated/unchanged."""
        m, _ = self.prepare(inp)
        if m.external_id and self.storage.find_external(m.source, m.external_id) is not None:
            return "unchanged" if _stored(Known(self.storage, [m]), m) else "updated"
        return "created"

    def external_ids(self, source: str, prefix: str = "") -> dict[str, str]:
        """external id → content hash of what ``source`` imported (to find deletions).

        An id that held a secret is listed in its stored form: compare with ``external_key``."""
        return self.storage.external_ids(source, prefix)

    def find_external(self, source: str, external_id: str) -> Memory | None:
        return self.storage.find_external(source, external_key(external_id))

    @staticmethod
    def external_key(external_id: str) -> str:
        """The form in which ``external_id`` is stored and listed (redacted when it holds a secret)."""
        return external_key(external_id)

    def get_cursor(self, connector: str, scope: str) -> str | None:
        return self.storage.get_cursor(connector, scope)

    def set_cursor(self, connector: str, scope: str, value: str) -> None:
        with self.storage.transaction() as tx:
            tx.set_cursor(connector, scope, value)

    def clear_cursor(self, connector: str, scope: str) -> None:
        with self.storage.transaction() as tx:
            tx.delete_cursor(connector, scope)

    # ---- reads -------------------------------------------------------------------------
    def _require(self, memory_id: str) -> Memory:
        """The memory with this id, or with the one id this prefix (4+ characters) starts."""
        validate.text(memory_id, "id")
        key = memory_id.strip()
        found = self.storage.get(key)
        if found is None and (full := ids.resolve_prefix(self.storage, key)) is not None:
            found = self.storage.get(full)
        if found is None:
            raise NotFound(
                f"No memory has the id {memory_id!r}.",
                hint="Search with `devmem search …` or the recall tool to find its id "
                f"(a unique prefix of {ids.MIN_PREFIX}+ characters is enough).",
            )
        return found

    def resolve_id(self, memory_id: str) -> str:
        """The full id of the memory this id or unique id prefix names."""
        return self._require(memory_id).id

    def short_ids(self, memory_ids: Iterable[str]) -> dict[str, str]:
        """Full id → the shortest unique prefix (10+ characters) to show people."""
        return ids.short_ids(self.storage, memory_ids)

    def get(self, memory_id: str) -> Memory:
        found = self._require(memory_id)
        self.storage.record_access("read", [found.id])
        return found

    def versions(self, memory_id: str) -> list[Version]:
        return self.storage.versions(self._require(memory_id).id)

    def links(self, memory_id: str) -> list[Link]:
        return self.storage.links_of(self._require(memory_id).id)

    def list(
        self,
        filters: SearchFilters | None = None,
        limit: int = 20,
        offset: int = 0,
        order: str = "updated",
    ) -> Page:
        """Memories matching ``filters``, newest first (``order``: updated, created, event)."""
        return listing.page(
            self.storage,
            validate.filters(filters),
            validate.limit(limit, self.limits),
            validate.offset(offset),
            order,
        )

    def recall(
        self,
        query: str,
        *,
        mode: str = "hybrid",
        limit: int = 10,
        offset: int = 0,
        filters: SearchFilters | None = None,
        include_related: bool = False,
        recency: float = 0.0,
    ) -> SearchResult:
        """Ranked memories for ``query`` with why each matched; see ``core.recall``.
        Its reads share one read session of the storage (one transaction on a server)."""
        with self.storage.reading():
            result = recall.run(
                self,
                validate.query(query, self.limits),
                mode,
                validate.limit(limit, self.limits),
                validate.offset(offset),
                validate.filters(filters),
                include_related,
                validate.weight(recency, "recency"),
            )
        self.storage.record_access("search", [hit.memory.id for hit in result.hits])
        return result

    def context_for_file(
        self,
        path: str,
        *,
        symbol: str | None = None,
        line: int | None = None,
        project: str | None = None,
        limit: int = 10,
    ) -> builtins.list[Hit]:
        """Memories anchored to this file / symbol / line first, then ones about the symbol by
        the editor's rules (``core.code_context``: project or global, must-mention, floor)."""
        symbol = validate.text(symbol, "symbol", required=False) if symbol is not None else None
        project = validate.text(project, "project", required=False) if project is not None else None
        return ctx.for_file(
            self,
            validate.text(path, "path"),
            symbol,
            validate.line(line, "line"),
            project,
            validate.limit(limit, self.limits),
        )

    def code_context(
        self,
        text: str,
        *,
        term: str = "",
        kind: str = "text",
        project: str | None = None,
        floor: float = ctx.RELEVANCE_FLOOR,
        limit: int = ctx.SEARCH_DEPTH,
    ) -> builtins.list[Hit]:
        """Memories about a spot in code (hover, lens, code actions): of ``project`` or global,
        naming ``term`` verbatim or clearing the relevance ``floor``; see ``core.code_context``."""
        if kind not in ctx.KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(ctx.KINDS)}.")
        return ctx.search_context(self, ctx.CodeSpot(text, term, kind), project, floor, limit)

    def past_fixes(
        self,
        message: str,
        *,
        project: str | None = None,
        kinds: Sequence[str] = ("bugfix", "pitfall"),
    ) -> builtins.list[Hit]:
        """Bug-fix and pitfall memories sharing most words of an error message."""
        return ctx.past_fixes(self, message, project, kinds)

    def anchored_to(self, path: str, project: str | None = None) -> builtins.list[Memory]:
        """Every memory anchored to this file, newest first: an editor places them all (a
        lens above each function counts its own, however many the file has)."""
        project = validate.text(project, "project", required=False) if project is not None else None
        return listing.anchored(self.storage, validate.text(path, "path"), project, None)

    def doctor(self, *, check: bool = False) -> maintenance.DoctorReport:
        """Backend, model and database checks (``check``: the store's consistency too)."""
        return maintenance.doctor(self, check=check)

    def reindex(self, *, full: bool = True, progress: ProgressCallback = no_progress) -> int:
        """Re-embed every memory (``full``) or only those missing a vector; returns the count."""
        return maintenance.reindex(self, full=full, progress=progress)

    def reindex_text(self) -> int:
        """Rebuild the full-text index from the memories; returns the count."""
        return maintenance.reindex_text(self)

    def backup(self, dest: Path) -> Path:
        """A consistent copy of the store at ``dest``, made while it is in use."""
        return maintenance.backup(self, dest)

    def change_count(self) -> int:
        """A counter that moves with every committed write to the store, by any process:
        compare two readings to know whether anything changed in between."""
        return self.storage.change_count()


def _scrub_tags(scrub: Scrubber, tags: Any) -> Any:
    """Tags are redacted before validation lower-cases them (secret formats are case-sensitive)."""
    if isinstance(tags, str):
        return scrub.text(tags)
    if isinstance(tags, list | tuple):
        return [scrub.text(t) if isinstance(t, str) else t for t in tags]
    return tags


def _stored(known: Known, m: Memory) -> bool:
    """``m`` needs no embedding: stored as it is (the same content, the same import)."""
    if m.external_id:
        found = known.external(m)
        return found is not None and _same_import(found, m)
    return known.by_hash(m) is not None


def _same_import(old: Memory, new: Memory) -> bool:
    """A connector's item is unchanged when everything it sets is the same."""
    return (
        old.content_hash,
        old.title,
        old.metadata,
        old.kind,
        old.tags,
        old.anchor,
        old.event_at,
        old.source_url,
        old.visibility,
        old.project,
    ) == (
        new.content_hash,
        new.title,
        new.metadata,
        new.kind,
        new.tags,
        new.anchor,
        new.event_at,
        new.source_url,
        new.visibility,
        new.project,
    )


def _same(a: Memory, b: Memory) -> bool:
    return (
        a.content,
        a.title,
        a.kind,
        a.tags,
        a.project,
        a.anchor,
        a.visibility,
        a.event_at,
        a.metadata,
    ) == (
        b.content,
        b.title,
        b.kind,
        b.tags,
        b.project,
        b.anchor,
        b.visibility,
        b.event_at,
        b.metadata,
    )
