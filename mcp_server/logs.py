"""Logging of the MCP server: every handler scrubs secrets, with the filter loaded lazily.

Kept out of ``__main__`` so that ``devmem-mcp`` as a relay to the engine never imports
``logging``.
"""

from __future__ import annotations

import logging


class LazyRedaction(logging.Filter):
    """core's RedactingFilter, loaded when the first record reaches the handler.

    Importing it (compiling its patterns) costs ~12 ms, and start-up logs nothing at the
    default level; the store's warm-up imports it soon after anyway.
    """

    def __init__(self) -> None:
        super().__init__()
        self._filter: logging.Filter | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self._filter is None:
            from core import RedactingFilter

            self._filter = RedactingFilter()
        return bool(self._filter.filter(record))


def redact_log_handlers() -> None:
    """Every log handler configured so far scrubs secrets (as core.logs.install_redaction does,
    with the filter loaded lazily); call it after the SDK may have added handlers."""
    loggers = [
        logging.getLogger(),
        *(
            lg
            for lg in logging.Logger.manager.loggerDict.values()
            if isinstance(lg, logging.Logger)
        ),
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, LazyRedaction) for f in handler.filters):
                handler.addFilter(LazyRedaction())
