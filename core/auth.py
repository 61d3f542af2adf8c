"""Who is calling the team server: per-person API tokens and OIDC bearer JWTs.

A bearer credential becomes a person (their PostgreSQL role) or nobody:

- ``dm_…`` API tokens (``devmem token create``) are looked up by their SHA-256 hash; revoked
  or unknown ones are refused.
- Anything else is an OIDC JWT when an issuer is configured: its signature is checked against
  the issuer's JWKS (found through ``/.well-known/openid-configuration``), as are ``iss``,
  ``aud`` and ``exp``; the person is the value of one claim (``preferred_username`` by
  default), who must have been added to the store (``devmem user add``).

Every refusal is written to the audit log (``sign_in_failure``) with the reason, never the
credential itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from core.errors import DevMemError
from core.storage.pg_auth import TOKEN_PREFIX
from core.team import TeamService

log = logging.getLogger(__name__)
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True)
class OidcSettings:
    """The company sign-in the team server trusts."""

    issuer: str
    audience: str
    claim: str = "preferred_username"


class Refused(Exception):
    """A credential that names nobody; the message is the reason (audited)."""


class OidcVerifier:
    """Checks JWTs against an issuer's published keys (fetched once, refreshed on a new key id)."""

    def __init__(self, settings: OidcSettings, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.Client(timeout=10.0)
        self._keys: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _jwks(self) -> jwt.PyJWKClient:
        with self._lock:
            if self._keys is None:
                url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
                try:
                    config = self._http.get(url).raise_for_status().json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise Refused(
                        f"cannot read the issuer's configuration at {url}: {exc}"
                    ) from exc
                self._keys = jwt.PyJWKClient(str(config["jwks_uri"]), cache_keys=True)
            return self._keys

    def subject(self, token: str) -> str:
        """The configured claim of a valid JWT; raises Refused with the reason otherwise."""
        try:
            key = self._jwks().get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, jwt.PyJWKClientError) as exc:
            raise Refused(f"invalid OIDC token: {exc}") from exc
        value = claims.get(self.settings.claim)
        if not isinstance(value, str) or not value:
            raise Refused(f"the OIDC token has no {self.settings.claim!r} claim")
        return value


class Authenticator:
    """Bearer credential → the person the team server acts as (or None, audited)."""

    def __init__(self, team: TeamService, oidc: OidcVerifier | None = None) -> None:
        self.team = team
        self.oidc = oidc

    def person(self, credential: str) -> str | None:
        """The person's role, or None after auditing why the credential was refused."""
        try:
            return self._person(credential)
        except Refused as exc:
            self._audit_failure(credential, str(exc))
            return None

    def _person(self, credential: str) -> str:
        if credential.startswith(TOKEN_PREFIX):
            role = self.team.store.token_role(credential)
            if role is None:
                raise Refused("unknown or revoked API token")
        elif self.oidc is not None:
            role = self.oidc.subject(credential)
        else:
            raise Refused("not a DevMemory API token (and no OIDC issuer is configured)")
        if not self.team.store.can_act_as(role):
            raise Refused(
                f"{role!r} is not a person this server may act as "
                "(add them with `devmem user add`, then `devmem user server`)"
            )
        return role

    def _audit_failure(self, credential: str, reason: str) -> None:
        # a fingerprint tells repeated attempts apart without keeping the credential
        fingerprint = hashlib.sha256(credential.encode()).hexdigest()[:12]
        log.warning("sign-in refused (%s), credential %s", reason, fingerprint)
        try:
            self.team.store.record("sign_in_failure", reason=reason, credential=fingerprint)
        except DevMemError as exc:  # the refusal stands even when the audit cannot be written
            log.error("could not audit a sign-in failure: %s", exc)
