"""Ending the language-server process: a bounded clean-up, then ``os._exit``.

A normal interpreter exit is not bounded: it joins every worker thread (a reindex batch
inside ONNX Runtime cannot be interrupted), and while the embedding model is still loading,
finalising the interpreter destroys ONNX Runtime's C++ thread pool under a running thread
(SIGABRT, "terminate called without an active exception"). So `exit` asks running jobs to
stop at their next batch, gives them a moment, flushes the logs and ends the process at
once. Nothing committed is lost: SQLite has every committed transaction in its WAL, and
one still open is rolled back by the next process that opens the store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

from lsp_server.backend import Backend

log = logging.getLogger(__name__)

CLEANUP_BUDGET_S = 1.2  # `exit` must end the process within 2 s


def end_process(code: int, backend: Backend) -> NoReturn:
    """Stop the backend (at most ``CLEANUP_BUDGET_S``), flush, and exit with ``code``."""
    try:
        backend.close(timeout=CLEANUP_BUDGET_S)
        log.info("devmem-lsp exiting (code %d)", code)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with contextlib.suppress(Exception):
            logging.shutdown()
        os._exit(code)
