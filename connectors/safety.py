"""Path containment and file checks shared by the file-based connectors.

A connector given a folder reads only what is inside it: a symlink or a ``..`` that leads
outside is refused with a reason, never followed. Files that cannot be text (binary), are
too large to be a note or a capture, or cannot be read are skipped with a reason the sync
report shows, so one bad file never stops the others.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

BINARY_SNIFF_BYTES = 8_000  # what git looks at to call a file binary
CHUNK_BYTES = 1 << 20


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
    return (
        f"file is {size / 1_048_576:.1f} MB, larger than the {max_bytes / 1_048_576:g} MB limit;"
        " split it or raise the limit"
    )


def looks_binary(head: bytes) -> bool:
    """Git's rule: a NUL byte in the first 8,000 bytes makes a file binary."""
    return b"\x00" in head[:BINARY_SNIFF_BYTES]


def file_kind_reason(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is not read (None for a regular file).

    Opening a FIFO named ``notes.md`` blocks until a writer comes (a sync hung for ever), and
    reading a device or socket never ends or fails: only regular files are read.
    """
    if stat.S_ISREG(mode):
        return None
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a folder"
        if stat.S_ISDIR(mode)
        else "a special file"
    )
    return f"not a regular file ({kind}); not read"


def open_regular(path: Path, max_bytes: int) -> tuple[BinaryIO | None, str | None]:
    """(binary file, None) for a regular file within ``max_bytes``, else (None, skip reason).

    The file is opened non-blocking and checked on the open descriptor, so a file swapped for
    a FIFO after the folder was listed still cannot block the sync.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        st = os.fstat(fd)
        reason = file_kind_reason(st.st_mode) or size_reason(st.st_size, max_bytes)
    except OSError as exc:
        reason = f"cannot be read ({exc.strerror or exc})"
    if reason:
        os.close(fd)
        return None, reason
    return os.fdopen(fd, "rb"), None


def digest(handle: BinaryIO) -> tuple[str, bool, bool]:
    """(SHA-256, has invalid UTF-8, looks binary) of an open file, read a chunk at a time."""
    sha = hashlib.sha256()
    check = codecs.getincrementaldecoder("utf-8")()
    invalid, binary, first = False, False, True
    while chunk := handle.read(CHUNK_BYTES):
        binary, first = binary or (first and looks_binary(chunk)), False
        sha.update(chunk)
        invalid = invalid or not _decodes(check, chunk)  # strict: will bytes be replaced?
    return sha.hexdigest(), invalid or not _decodes(check, b"", final=True), binary


def _decodes(decoder: codecs.IncrementalDecoder, data: bytes, final: bool = False) -> bool:
    try:
        decoder.decode(data, final)
    except UnicodeDecodeError:
        return False
    return True


def read_text(path: Path, max_bytes: int) -> tuple[str | None, str | None, bool]:
    """Read a text file: (text, skip reason, had invalid UTF-8).

    Invalid UTF-8 is decoded with U+FFFD replacement characters rather than skipped, so a
    note with one bad byte still gets imported; the third value says it happened.
    """
    handle, reason = open_regular(path, max_bytes)
    if handle is None:
        return None, reason, False
    try:
        with handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})", False
    if len(data) > max_bytes:  # it grew since it was measured
        return None, size_reason(len(data), max_bytes), False
    if looks_binary(data):
        return None, "binary file (contains NUL bytes); not text", False
    try:
        return data.decode("utf-8-sig"), None, False
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace"), None, True
