"""White-box access to the SQLite backend, for tests that check its file and tables.

Product code goes through ``core.storage``'s interface; these tests look underneath it
(row counts of every index, raw bytes on disk), so they reach the SQLite store this
thread uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from core.storage.sqlite_db import Connection
from core.storage.sqlite_storage import SqliteStorage
from core.storage.sqlite_store import Store


def store_of(svc: Any) -> Store:
    """The SQLite store under a service (or a storage)."""
    storage = getattr(svc, "storage", svc)
    assert isinstance(storage, SqliteStorage)
    return storage._store


def conn(svc: Any) -> Connection:
    """This thread's connection to the service's SQLite file."""
    return store_of(svc).conn()


@contextlib.contextmanager
def write(svc: Any) -> Iterator[Connection]:
    """A raw write transaction (to damage or rewind the file on purpose)."""
    with store_of(svc).write() as c:
        yield c
