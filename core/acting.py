"""Acting as a person: the database role every storage statement of a request runs as.

A ``ContextVar`` (each thread and asyncio task has its own value; ``anyio.to_thread`` and
``asyncio.to_thread`` carry it over) read by the one place a PostgreSQL transaction starts
(``pg_db.Database.tx``), which runs ``SET LOCAL ROLE`` first. No psycopg import here: the
service layer may set it whatever the backend (SQLite ignores it).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_role: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "devmem_acting_role", default=None
)
_client: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "devmem_acting_client", default=None
)


@contextlib.contextmanager
def acting_as(role: str | None, client: str | None = None) -> Iterator[None]:
    """Run every storage statement in this block (this thread or task) as the database role
    ``role`` (``SET LOCAL ROLE`` at the start of each transaction; None: the login role), and
    tell the database which client asks (``devmem.client``: mcp, lsp, cli, connector).

    Example::

        with acting_as("alice", client="mcp"):
            service.recall("why is numpy pinned")
    """
    role_token = _role.set(role)
    client_token = _client.set(client)
    try:
        yield
    finally:
        _role.reset(role_token)
        _client.reset(client_token)


def current_role() -> str | None:
    """The role set by the innermost ``acting_as`` (None: the connection's own)."""
    return _role.get()


def current_client() -> str | None:
    """The client set by the innermost ``acting_as`` (None: not said)."""
    return _client.get()
