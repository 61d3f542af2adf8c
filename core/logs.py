"""Logging that never writes a secret: every handler gets the redacting filter."""

from __future__ import annotations

import logging

from core.redact import RedactingFilter


def install_redaction() -> int:
    """Add a RedactingFilter to every handler configured so far (root's and each logger's);
    call it again after a library adds its own handlers. Returns how many were added."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    loggers += [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    added = 0
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
                added += 1
    return added
