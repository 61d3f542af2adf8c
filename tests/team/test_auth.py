"""Sign-in for the team server, in process: API tokens (hashed, revocable) and OIDC JWTs
checked against a local issuer's JWKS; every refusal is audited without the credential."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from core import Authenticator, OidcSettings, OidcVerifier, TeamService, acting_as
from tests.team.conftest import AUDIENCE, Issuer, TeamDb


@pytest.fixture(scope="module")
def auth(team_db: TeamDb, issuer: Issuer) -> Iterator[Authenticator]:
    for person in ("tia", "ugo"):
        team_db.add(person)
    owner = TeamService.open(team_db.owner_url)  # the owner may act as everyone: a server here
    yield Authenticator(owner, OidcVerifier(OidcSettings(issuer.url, AUDIENCE)))
    owner.close()


def failures(team_db: TeamDb) -> list[str]:
    with psycopg.connect(team_db.owner_url) as conn:
        rows = conn.execute(
            "SELECT detail->>'reason' FROM audit_log WHERE action = 'sign_in_failure' ORDER BY id"
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_an_api_token_names_its_person_until_revoked(team_db: TeamDb, auth: Authenticator) -> None:
    tia = TeamService.open(team_db.urls["tia"])
    try:
        token_id, token = tia.create_token("ci")
        assert auth.person(token) == team_db.role("tia")
        tia.revoke_token(str(token_id))
        assert auth.person(token) is None
        assert failures(team_db)[-1] == "unknown or revoked API token"
        assert auth.person(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    finally:
        tia.close()


def test_an_oidc_token_is_checked_against_the_issuers_keys(
    team_db: TeamDb, auth: Authenticator, issuer: Issuer
) -> None:
    ugo = team_db.role("ugo")
    assert auth.person(issuer.token(ugo)) == ugo
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "signature": issuer.token(ugo, key=stranger),
        "expired": issuer.token(ugo, exp=int(time.time()) - 30),
        "audience": issuer.token(ugo, aud="someone-else"),
        "issuer": issuer.token(ugo, iss="http://127.0.0.1:1/other"),
        "not a person here": issuer.token("nobody_at_all"),
        "no claim": issuer.token(""),
    }
    before = len(failures(team_db))
    for why, credential in refused.items():
        assert auth.person(credential) is None, why
    reasons = failures(team_db)[before:]
    assert len(reasons) == len(refused)
    assert not any(c in " ".join(reasons) for c in refused.values())  # never the credential


def test_without_an_issuer_only_api_tokens_are_accepted(
    team_db: TeamDb, auth: Authenticator, issuer: Issuer
) -> None:
    tokens_only = Authenticator(auth.team)
    assert tokens_only.person(issuer.token(team_db.role("ugo"))) is None
    assert "no OIDC issuer" in failures(team_db)[-1]


def test_the_audit_row_of_a_failure_names_the_client(team_db: TeamDb, auth: Authenticator) -> None:
    with acting_as(None, client="mcp"):
        assert auth.person("dm_not-a-real-token") is None
    with psycopg.connect(team_db.owner_url) as conn:
        row = conn.execute(
            "SELECT client, length(detail->>'credential') FROM audit_log"
            " WHERE action = 'sign_in_failure' ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert row == ("mcp", 12)
