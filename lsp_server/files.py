"""Reading a file a URI names, safely: regular files only, bounded, never blocking.

A client may name anything: a FIFO (opening it for reading waits for a writer, forever,
and holds a worker thread), ``/dev/zero`` (endless), a 2 GB log. Only regular files up to
a size bound are read; the file is opened non-blocking and checked on the open descriptor,
so a path swapped for a FIFO between the check and the read cannot block either.
"""

from __future__ import annotations

import logging
import os
import stat

log = logging.getLogger(__name__)


def read_regular_text(path: str, limit: int) -> str | None:
    """The UTF-8 text of the regular file ``path`` if it holds at most ``limit`` bytes, else None."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            log.info("not reading %s: not a regular file", path)
            return None
        if info.st_size > limit:
            log.info("not reading %s: %d bytes (limit %d)", path, info.st_size, limit)
            return None
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)  # a file that grew since fstat is still bounded
        return data.decode("utf-8") if len(data) <= limit else None
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)
