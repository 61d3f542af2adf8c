"""The Markdown connector: a folder of notes, ADRs or an Obsidian vault as memories.

Identity
    external id = the note's absolute POSIX path (``/home/me/vault/adr/0003-db.md``), with
    ``#<heading-slug>`` for the sections of a long note (a ``#`` in a file name, as in
    ``C# tips.md``, stays part of the path: see ``split_anchor``). The cursor scope is the folder.
Changes
    the cursor maps each note to ``[mtime_ns, size, sha256]``; a note whose mtime and size
    are unchanged is not even read, one whose content hash is unchanged is not re-imported.
Deletions and renames
    a note that is gone loses its memories (and its sections); a renamed note is a delete
    plus an add (its memory id changes; links from other notes are re-resolved).
Links
    ``[[wikilinks]]`` and relative ``.md`` links become ``references`` links between the
    memories, resolved after every note is stored (so a link to a note imported later in
    the same run, or created later, still lands); removed links are unlinked.
Safety
    only files inside the folder are read: symlinks leading out are skipped with a reason;
    hidden folders (``.git``, ``.obsidian``, ``.trash``) are ignored; FIFOs, sockets and
    devices named ``*.md`` are skipped unopened (a FIFO would block the sync for ever); binary
    files and files above ``max_file_bytes`` are skipped; invalid UTF-8 is replaced (and
    noted). Front matter with YAML aliases, deeper than 32 levels or above 64 KiB is left
    out (the note is imported without it, with a note). A note that fails to parse is
    skipped with the reason; the others go on.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.base import SyncContext, SyncReport
from connectors.common import BATCH_SIZE, apply_checked, clip, dump_cursor, known_ids, load_cursor
from connectors.markdown_parse import (
    MD_SUFFIXES,
    SPLIT_CHARS,
    Note,
    Section,
    parse_note,
    split_anchor,
)
from connectors.safety import escape_reason, file_kind_reason, read_text
from core import ConnectorError, MemoryInput, contains_secret, redact_secrets

MAX_FILE_BYTES = 5 * 1024 * 1024
IGNORED_DIRS = frozenset({"node_modules", "__pycache__"})
SKIPPED = "skip"  # the hash stored for a file that was skipped (re-read only when it changes)


@dataclass(frozen=True)
class Found:
    """A note file found in the folder."""

    rel: str
    path: Path
    mtime_ns: int
    size: int


def scan(root: Path, skip: Callable[[str, str], None]) -> dict[str, Found]:
    """The Markdown files under ``root`` (relative POSIX path → file), hidden folders left out."""
    found: dict[str, Found] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        keep = []
        for d in sorted(dirs):
            if d.startswith(".") or d in IGNORED_DIRS:
                continue
            reason = escape_reason(base / d, root) if (base / d).is_symlink() else None
            if reason:
                skip(_rel(base / d, root), reason)
            elif not (base / d).is_symlink():  # a link back inside would import notes twice
                keep.append(d)
        dirs[:] = keep
        for name in sorted(files):
            if name.startswith(".") or not name.lower().endswith(MD_SUFFIXES):
                continue
            note = _note_file(base / name, root, skip)
            if note is not None:
                found[note.rel] = note
    return found


def _note_file(path: Path, root: Path, skip: Callable[[str, str], None]) -> Found | None:
    """The note at ``path``, or None (with the reason given to ``skip``) when it is not read."""
    rel = _rel(path, root)
    if contains_secret(rel):
        # Its path would be the memory's id and URL and the sync cursor's key: keep it out.
        skip(
            redact_secrets(rel).text,
            "its file name holds a secret (a token or password); rename the note to import it",
        )
        return None
    reason = escape_reason(path, root)
    if reason is None:
        try:
            st = path.stat()
        except OSError as exc:
            reason = f"cannot be read ({exc.strerror or exc})"
        else:
            reason = file_kind_reason(st.st_mode)
    if reason:
        skip(rel, reason)
        return None
    return Found(rel, path, st.st_mtime_ns, st.st_size)


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _file_of(external_id: str, prefix: str) -> str:
    """The note (vault-relative path) of an external id ``rel`` or ``rel#slug``."""
    return split_anchor(external_id[len(prefix) :])[0]


class MarkdownConnector:
    """Sync one folder of Markdown notes (see the module docstring)."""

    name = "markdown"

    def __init__(
        self,
        folder: Path,
        *,
        project: str | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
        split_chars: int = SPLIT_CHARS,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.folder = folder
        self.project = project
        self.max_file_bytes = max_file_bytes
        self.split_chars = split_chars
        self.batch_size = batch_size
        self.notes: list[str] = []  # remarks that are not skips (replaced bytes, bad front matter)

    @property
    def root(self) -> Path:
        root = self.folder.expanduser().resolve()
        if not root.is_dir():
            raise ConnectorError(
                f"not a folder: {self.folder}",
                hint="Pass the folder that holds the notes (a vault, docs/adr…).",
            )
        return root

    def sync(self, ctx: SyncContext) -> SyncReport:
        root = self.root
        run = _Run(self, ctx, root)
        run.execute()
        return ctx.report


class _Run:
    """One sync of one folder."""

    def __init__(self, conn: MarkdownConnector, ctx: SyncContext, root: Path) -> None:
        self.conn, self.ctx, self.root = conn, ctx, root
        self.scope = str(root)
        self.prefix = root.as_posix().rstrip("/") + "/"
        self.project = conn.project or root.name
        cursor = load_cursor(ctx, self.scope)
        self.entries: dict[str, list[Any]] = dict(cursor.get("files", {}))
        self.links_pending = bool(cursor.get("links_pending", False))
        self.batch: list[MemoryInput] = []
        self.deletions: list[str] = []

    def execute(self) -> None:
        files = scan(self.root, self.ctx.skip)
        by_file: dict[str, set[str]] = {}
        for ext_id in known_ids(self.ctx, self.prefix):
            by_file.setdefault(_file_of(ext_id, self.prefix), set()).add(ext_id)
        gone = (set(self.entries) | set(by_file)) - set(files)
        for rel in sorted(gone):
            self.deletions += sorted(by_file.get(rel, ()))
            self.entries.pop(rel, None)
        todo = [f for rel, f in sorted(files.items()) if self._stale(f, rel in by_file)]
        self.ctx.tick("notes", 0, len(todo), str(self.root))
        for n, found in enumerate(todo, start=1):
            self._one(found, by_file.get(found.rel, set()))
            if len(self.batch) >= self.conn.batch_size:
                self._flush()
            self.ctx.tick("notes", n, len(todo), found.rel)
        self._flush(force=bool(todo))  # also stores the new mtimes of touched-only notes
        if self.links_pending and not self.ctx.dry_run:
            self._reconcile_links(files)

    def _stale(self, f: Found, has_memories: bool) -> bool:
        entry = self.entries.get(f.rel)
        if entry is None or entry[0] != f.mtime_ns or entry[1] != f.size:
            return True
        return entry[2] != SKIPPED and not has_memories  # memories removed behind our back

    def _one(self, f: Found, old_ids: set[str]) -> None:
        """Read one note and queue its memories (and the deletion of sections it lost)."""
        text, reason, replaced = read_text(f.path, self.conn.max_file_bytes)
        if text is None:
            self.ctx.skip(f.rel, reason or "unreadable")
            self.entries[f.rel] = [f.mtime_ns, f.size, SKIPPED]
            self.deletions += sorted(old_ids)
            return
        digest = hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()
        entry = self.entries.get(f.rel)
        self.entries[f.rel] = [f.mtime_ns, f.size, digest]
        if entry and entry[2] == digest and old_ids:
            return  # touched, not changed
        try:
            note = parse_note(f.rel, text, self.conn.split_chars)
        except (RecursionError, ValueError, TypeError) as exc:
            # Parsing is a pure function of this note's text: whatever it trips on is this
            # note's problem only. Its previous memories stay until it changes again.
            self.ctx.skip(
                f.rel,
                f"could not be parsed ({type(exc).__name__}: {exc}); "
                "its previous version, if any, is kept",
            )
            self.entries[f.rel] = [f.mtime_ns, f.size, SKIPPED]
            return
        if replaced:
            note.problems.append("invalid UTF-8 bytes replaced by U+FFFD")
        self.conn.notes += [f"{f.rel}: {p}" for p in note.problems]
        inputs = [self._input(note, s, f.path) for s in note.sections]
        self.batch += inputs
        self.deletions += sorted(old_ids - {i.external_id for i in inputs if i.external_id})

    def _input(self, note: Note, s: Section, path: Path) -> MemoryInput:
        ext_id = self.prefix + note.rel + (f"#{s.slug}" if s.slug else "")
        title = (
            note.title if s.slug is None else clip(" › ".join([note.title, *s.heading_path]), 200)
        )
        content = s.text.strip()
        if s.slug is None and len(note.sections) > 1:
            names = " · ".join(" › ".join(x.heading_path) for x in note.sections[1:])
            content = (content + "\n\n" if content else f"{note.title}\n\n") + f"Sections: {names}"
        metadata: dict[str, Any] = {
            "path": note.rel,
            "folder": str(self.root),
            "tags": note.tags,
            "front_matter": note.front_matter,
            "links": s.links,
        }
        if s.slug:
            metadata["section"] = s.heading_path
        return MemoryInput(
            content=content or note.title,
            title=title,
            kind=note.kind,
            tags=note.tags,
            project=self.project,
            source="markdown",
            external_id=ext_id,
            source_url=path.as_uri() + (f"#{s.slug}" if s.slug else ""),
            event_at=note.event_at,
            metadata=metadata,
        )

    def _cursor(self) -> tuple[str, str]:
        return self.scope, dump_cursor({"files": self.entries, "links_pending": self.links_pending})

    def _flush(self, force: bool = False) -> None:
        if not (self.batch or self.deletions or force):
            return
        # Links are (re)resolved after the notes are stored; until that pass has run, the
        # cursor says so, and a sync killed before it runs the pass on its next start.
        self.links_pending = self.links_pending or bool(self.batch or self.deletions)
        apply_checked(self.ctx, self.batch, self.deletions, self._cursor())
        self.batch, self.deletions = [], []

    def _reconcile_links(self, files: dict[str, Found]) -> None:
        resolver = _Resolver(files)
        ids = sorted(known_ids(self.ctx, self.prefix))
        for n, ext_id in enumerate(ids, start=1):
            memory = self.ctx.service.find_external("markdown", ext_id)
            if memory is not None:
                self._link_one(memory.id, memory.metadata, resolver)
            if n % 200 == 0:
                self.ctx.tick("links", n, len(ids))
        self.links_pending = False
        self.ctx.save_cursor(*self._cursor())

    def _link_one(self, memory_id: str, metadata: dict[str, Any], resolver: _Resolver) -> None:
        svc = self.ctx.service
        desired: set[str] = set()
        for target in metadata.get("links", []):
            for key in resolver.keys(str(target)):
                found = svc.find_external("markdown", self.prefix + key)
                if found is not None:
                    if found.id != memory_id:
                        desired.add(found.id)
                    break
        existing = {
            link.target_id
            for link in svc.links(memory_id)
            if link.source_id == memory_id and link.type == "references"
        }
        for target_id in sorted(desired - existing):
            svc.link(memory_id, target_id, "references")
        for target_id in sorted(existing - desired):
            target = svc.get(target_id)
            if target.source == "markdown" and (target.external_id or "").startswith(self.prefix):
                svc.unlink(memory_id, target_id, "references")


class _Resolver:
    """Wikilink names and relative paths → vault-relative keys, as Obsidian resolves them."""

    def __init__(self, files: dict[str, Found]) -> None:
        self.paths = {rel.lower(): rel for rel in files}
        self.stems: dict[str, list[str]] = {}
        for rel in sorted(files, key=lambda r: (r.count("/"), r)):
            stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
            self.stems.setdefault(stem, []).append(rel)

    def keys(self, target: str) -> Iterator[str]:
        """Candidate keys, best first: the section (``rel#slug``), then the note itself."""
        name, slug = split_anchor(target)
        rel = self._file(name)
        if rel is None:
            return
        if slug:
            yield f"{rel}#{slug}"
        yield rel

    def _file(self, name: str) -> str | None:
        low = name.strip().lower().lstrip("/")
        for candidate in (low, low + ".md", low + ".markdown"):
            if candidate in self.paths:
                return self.paths[candidate]
        stem = low.rsplit("/", 1)[-1]
        stem = stem.rsplit(".", 1)[0] if stem.endswith(MD_SUFFIXES) else stem
        matches = self.stems.get(stem, [])
        # [[folder/Note]]: prefer a match whose path ends with what was written.
        tail = [m for m in matches if m.lower().rsplit(".", 1)[0].endswith(low.rsplit(".md", 1)[0])]
        best = tail or matches
        return best[0] if best else None


def watch(
    folder: Path,
    run_sync: Callable[[], None],
    stop_event: threading.Event | None = None,
    debounce_ms: int = 400,
) -> None:
    """Run ``run_sync`` now and after every change of a note under ``folder`` until stopped."""
    from watchfiles import Change, DefaultFilter
    from watchfiles import watch as watch_changes

    class NotesFilter(DefaultFilter):
        def __call__(self, change: Change, path: str) -> bool:
            name = os.path.basename(path)
            return super().__call__(change, path) and (
                name.lower().endswith(MD_SUFFIXES) or "." not in name
            )  # folders too

    run_sync()
    for _ in watch_changes(
        folder,
        watch_filter=NotesFilter(),
        stop_event=stop_event,
        debounce=debounce_ms,
        rust_timeout=500,
        yield_on_timeout=False,
    ):
        run_sync()
