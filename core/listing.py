"""Listing memories page by page, and finding the ones anchored to a file."""

from __future__ import annotations

from pathlib import PurePosixPath

from core.models import Memory, Page, SearchFilters
from core.storage import Storage


def page(
    storage: Storage, filters: SearchFilters | None, limit: int, offset: int, order: str
) -> Page:
    """Memories matching ``filters``, newest first by ``order`` (updated, created, event)."""
    return storage.page(filters, limit, offset, order)


def path_suffixes(path: str) -> list[str]:
    """``/home/me/repo/src/a.py`` → itself, ``home/me/repo/src/a.py``, …, ``src/a.py``, ``a.py``.

    Anchors are stored relative to the project root when known, absolute otherwise; matching
    every suffix finds both without a table scan.
    """
    parts = PurePosixPath(path.replace("\\", "/")).parts
    suffixes = [path] + ["/".join(parts[i:]) for i in range(len(parts)) if parts[i] != "/"]
    return list(dict.fromkeys(s for s in suffixes if s))


def anchored(
    storage: Storage, path: str, project: str | None, limit: int | None = 200
) -> list[Memory]:
    """Memories anchored to ``path`` (any suffix match), newest first (all with ``limit=None``)."""
    return storage.anchored(path_suffixes(path), project, limit)
