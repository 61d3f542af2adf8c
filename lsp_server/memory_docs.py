"""Memory documents for editors without the DevMemory extension: private, bounded, per store.

Editors other than VS Code show a memory by opening a markdown file. Those files hold
private text, so they live in an owner-only folder (0700, files 0600), one folder per
store under the user's cache folder, at most ``MAX_FILES`` of them (oldest removed first).

Why the cache folder and not beside the store: the store's folder may be shared, synced
or read-only (and a PostgreSQL store has no folder at all), while the per-user cache is
private to this user by construction. One folder per store (named by a hash of the store's
path) keeps two stores' memories apart, so switching `database.path` never shows another
store's text, and `workspace/symbol` (which runs on every keystroke) cannot fill the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from pathlib import Path

from lsp_server import present

log = logging.getLogger(__name__)

MAX_FILES = 256
_LEGACY = re.compile(r"^[0-9A-Z]{26}\.md$|^results\.md$")  # files of earlier versions, 0644


class MemoryDocs:
    """The folder of memory documents for one store (thread-safe; blocking file work)."""

    def __init__(self, base: Path, store: str, max_files: int = MAX_FILES) -> None:
        self.base = base
        self.folder = base / hashlib.sha256(store.encode()).hexdigest()[:16]
        self._max = max_files
        self._lock = threading.Lock()
        self._ready = False
        self._writes = 0

    def uri(self, name: str, text: str) -> str:
        """Write ``text`` as ``<name>.md`` (owner-only) and return its file URI."""
        with self._lock:
            self._prepare()
            target = self.folder / f"{name}.md"
            fd = os.open(
                target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600
            )
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), 0o600)  # an existing file keeps its old mode otherwise
                fh.write(text)
            self._writes += 1
            if self._writes % 32 == 1:
                self._prune()
        return target.as_uri()

    def _prepare(self) -> None:
        if self._ready:
            return
        for folder in (self.base, self.folder):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask; old folders were 0755
        for old in self.base.iterdir():  # world-readable memories written by earlier versions
            if old.is_file() and _LEGACY.match(old.name):
                old.unlink(missing_ok=True)
        self._ready = True

    def _prune(self) -> None:
        """Keep the newest ``max_files`` documents."""
        files = sorted(self.folder.glob("*.md"), key=_mtime, reverse=True)
        for old in files[self._max :]:
            old.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def memory_uri(docs: MemoryDocs | None, name: str, text: str | None) -> str:
    """Where a memory can be shown: ``devmemory:`` (the extension renders it) when ``docs``
    is None, else a written document."""
    if docs is None or text is None:
        return present.memory_uri(name, None)
    return docs.uri(name, text)
