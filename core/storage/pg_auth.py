"""People, API tokens and the server's role of the PostgreSQL store.

Every person is a PostgreSQL login role granted ``devmem_member``. The team server logs in
as its own role, granted ``devmem_server`` and each person role (``WITH INHERIT FALSE, SET
TRUE``: it can become the person for a transaction, ``SET LOCAL ROLE``, but holds none of
their rights itself and has no BYPASSRLS). API tokens are stored as SHA-256 hashes of 256
random bits; the token itself is shown once and never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # psycopg is the `postgres` extra: imported where SQL is composed
    from psycopg import sql

MEMBER = "devmem_member"  # every person role is granted it
SERVER = "devmem_server"  # the team server's login role is granted it (token lookups)
AUDITOR = "devmem_auditor"  # may read the whole audit log
TEAM_ROLES = ("admin", "editor", "viewer")  # strongest first

TOKEN_PREFIX = "dm_"


def new_token() -> str:
    """A fresh API token: the prefix and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What is stored of a token: the hex SHA-256 (a high-entropy token needs no slow hash)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_password() -> str:
    """A password for a new person role (shown once)."""
    return secrets.token_urlsafe(24)


TOKEN_CREATE = "INSERT INTO api_tokens (name, token_hash) VALUES (%s, %s) RETURNING id"
TOKEN_REVOKE = (
    "UPDATE api_tokens SET revoked_at = now() "
    "WHERE (id::text = %s OR name = %s) AND revoked_at IS NULL RETURNING id"
)
TOKEN_LIST = "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY id"
TOKEN_ROLE = "SELECT devmem_token_role(%s)"
PERSON_EXISTS = "SELECT 1 FROM pg_roles WHERE rolname = %s"
PERSON_ADD = "INSERT INTO people (role_name, org_id) VALUES (%s, %s) ON CONFLICT DO NOTHING"


def create_person(name: str, password: str) -> sql.Composed:
    """CREATE ROLE for a person: can log in with ``password``, member of ``devmem_member``."""
    from psycopg import sql

    return sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
        sql.Identifier(name), sql.Literal(password), sql.Identifier(MEMBER)
    )


def grant_to_server(person: str, server: str) -> sql.Composed:
    """Let the server's role act as ``person`` (SET ROLE) without inheriting their rights."""
    from psycopg import sql

    return sql.SQL("GRANT {} TO {} WITH INHERIT FALSE, SET TRUE").format(
        sql.Identifier(person), sql.Identifier(server)
    )


def make_server(server: str) -> sql.Composed:
    """Grant the server's login role the ``devmem_server`` group (token lookups, sign-in audit)
    and ``devmem_member`` (to open the store; row-level security shows it no one's rows)."""
    from psycopg import sql

    return sql.SQL("GRANT {}, {} TO {}").format(
        sql.Identifier(SERVER), sql.Identifier(MEMBER), sql.Identifier(server)
    )
