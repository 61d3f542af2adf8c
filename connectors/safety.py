"""Path containment and file checks shared by the file-based connectors.

A connector given a folder reads only what is inside it: a symlink or a ``..`` that leads
outside is refused with a reason, never followed. Files that cannot be text (binary), are
too large to be a note or a capture, or cannot be read are skipped with a reason the sync
report shows, so one bad file never stops the others.
"""

from __future__ import annotations

import os
from pathlib import Path

BINARY_SNIFF_BYTES = 8_000  # what git looks at to call a file binary


def is_within(path: Path, root: Path) -> bool:
    """True when ``path`` (symlinks resolved) lies inside ``root`` (resolved)."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return False
    return True


def contained(root: Path, relative: str) -> Path | None:
    """``root / relative`` when it stays inside ``root``; None for ``..`` or absolute escapes."""
    candidate = root / relative
    return candidate if is_within(candidate, root) else None


def escape_reason(path: Path, root: Path) -> str | None:
    """Why ``path`` must not be read as part of ``root`` (None when it may be)."""
    if path.is_symlink() and not is_within(path, root):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"symlink points outside the folder (to {target}); not followed"
    if not is_within(path, root):
        return "path leads outside the folder; not read"
    return None


def size_reason(size: int, max_bytes: int) -> str | None:
    """A 'too large' reason when ``size`` is above ``max_bytes``."""
    if size <= max_bytes:
        return None
    return (f"file is {size / 1_048_576:.1f} MB, larger than the {max_bytes / 1_048_576:g} MB limit;"
            " split it or raise the limit")


def looks_binary(head: bytes) -> bool:
    """Git's rule: a NUL byte in the first 8,000 bytes makes a file binary."""
    return b"\x00" in head[:BINARY_SNIFF_BYTES]


def read_text(path: Path, max_bytes: int) -> tuple[str | None, str | None, bool]:
    """Read a text file: (text, skip reason, had invalid UTF-8).

    Invalid UTF-8 is decoded with U+FFFD replacement characters rather than skipped, so a
    note with one bad byte still gets imported; the third value says it happened.
    """
    try:
        size = path.stat().st_size
        reason = size_reason(size, max_bytes)
        if reason:
            return None, reason, False
        data = path.read_bytes()
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})", False
    if looks_binary(data):
        return None, "binary file (contains NUL bytes); not text", False
    try:
        return data.decode("utf-8-sig"), None, False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), None, True
