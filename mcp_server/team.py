"""The team server's sign-in: the MCP SDK's token-verification hook over core's Authenticator.

``devmem-mcp --http --db postgresql://…`` serves many people. The SDK's bearer middleware
calls :class:`PersonVerifier` for each request; a credential that names a person yields an
``AccessToken`` whose ``client_id`` and ``subject`` are that person's role, a refused one a
401 (the refusal is audited by core). Each tool then runs as that person
(:func:`current_person`, read by the runtime, which wraps the call in ``acting_as``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio.to_thread
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver.exceptions import ToolError

from core import acting_as
from mcp_server.server import TeamAuth

if TYPE_CHECKING:  # the team store's modules need the `postgres` extra: loaded on use
    from core import Authenticator


class PersonVerifier:
    """``TokenVerifier`` (mcp.server.auth.provider): bearer credential → the person, or None."""

    def __init__(self, authenticator: Authenticator) -> None:
        self._auth = authenticator

    async def verify_token(self, token: str) -> AccessToken | None:
        person = await anyio.to_thread.run_sync(self._person, token)
        if person is None:
            return None
        return AccessToken(token=token, client_id=person, scopes=[], subject=person)

    def _person(self, token: str) -> str | None:
        with acting_as(None, client="mcp"):  # the server's own login: token lookups, audit
            return self._auth.person(token)


def auth_settings(public_url: str, issuer: str | None) -> AuthSettings:
    """The SDK's auth settings for a resource server at ``public_url`` (the issuer: OIDC's,
    else the server itself, which then issues its own API tokens out of band)."""
    return AuthSettings(
        issuer_url=issuer or public_url,  # type: ignore[arg-type]  # pydantic parses the URL
        resource_server_url=public_url,  # type: ignore[arg-type]
        validate_token_resource=False,  # the verifier checks the audience itself
    )


def current_person() -> str:
    """The signed-in person of this request (a team server's tools run as them)."""
    token = get_access_token()
    if token is None:
        raise ToolError(
            "error (access_denied): not signed in. Send 'Authorization: Bearer <token>'."
        )
    return token.client_id


def is_team_store(db: str | None) -> bool:
    """A ``postgresql://`` store: served over HTTP, it is a team server with sign-in."""
    return bool(db) and str(db).startswith(("postgresql://", "postgres://"))


def team_auth(
    db: str, public_url: str, issuer: str | None, audience: str | None, claim: str
) -> TeamAuth:
    """Sign-in for a team server on ``db`` (the server's own login role): API tokens, and
    OIDC JWTs of ``issuer`` for ``audience`` when an issuer is given."""
    from core import Authenticator, OidcSettings, OidcVerifier, TeamService

    oidc = None
    if issuer:
        oidc = OidcVerifier(OidcSettings(issuer, audience or public_url, claim))
    with acting_as(None, client="mcp"):
        authenticator = Authenticator(TeamService.open(db), oidc)
    return TeamAuth(
        PersonVerifier(authenticator), auth_settings(public_url, issuer), current_person
    )
