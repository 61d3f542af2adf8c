"""The one error tree of DevMemory.

Every error a caller can act on derives from :class:`DevMemError` and carries a message
that says what to do next. Adapters translate them at the edge: a tool error in MCP, a
JSON-RPC error or an empty result in LSP, a non-zero exit with one clear line in the CLI.

    DevMemError
    ├── InvalidInput          bad arguments (empty content, bad kind, bad filter…)
    │   └── ContentTooLarge   content/title/metadata above a size limit
    ├── NotFound              unknown memory id / entity
    ├── EmbeddingUnavailable  no embedding model could load (text + graph search still work)
    ├── StoreError            the database cannot be opened / written (read-only, full, corrupt)
    ├── AccessDenied          the team store refused: not your memory, not your team's role
    └── ConnectorError        a connector failed
        └── ConnectorAuthError  sign-in missing, expired or revoked
"""

from __future__ import annotations


class DevMemError(Exception):
    """Base class of every DevMemory error; the message tells the user what to do next."""

    code = "devmem_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class InvalidInput(DevMemError):
    """An argument is malformed or out of range."""

    code = "invalid_input"


class ContentTooLarge(InvalidInput):
    """A field is larger than the store accepts."""

    code = "content_too_large"


class NotFound(DevMemError):
    """No memory (or entity) has the given id."""

    code = "not_found"


class EmbeddingUnavailable(DevMemError):
    """No embedding model could be loaded; vector search is off."""

    code = "embedding_unavailable"


class StoreError(DevMemError):
    """The database file cannot be opened or written."""

    code = "store_error"


class AccessDenied(DevMemError):
    """The team store's row-level security or roles refused the action."""

    code = "access_denied"


class ConnectorError(DevMemError):
    """A connector could not finish its sync."""

    code = "connector_error"


class ConnectorAuthError(ConnectorError):
    """The connector's credentials are missing, expired or revoked."""

    code = "connector_auth"
