"""The team server end to end: `devmem-mcp --http --db postgresql://…` as a subprocess, people
signing in with an API token or an OIDC JWT (a local issuer on 127.0.0.1 with its JWKS), each
through a real MCP client session; every tool runs as that person, so row-level security
decides what each one sees."""

from __future__ import annotations

import json
import secrets
import time

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from psycopg import sql

from core import TeamService
from tests.mcp.mcp_helpers import call, call_error, http_server, http_session
from tests.team.conftest import AUDIENCE, Issuer, TeamDb, with_login

pytestmark = pytest.mark.slow  # processes and servers: `make test-fast` leaves it out

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-http", "version": "0"},
    },
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


@pytest.fixture(scope="module")
def server_url(team_db: TeamDb) -> str:
    """The team server's own login role: no BYPASSRLS, may act as each person."""
    role, password = team_db.role("srv"), secrets.token_urlsafe(16)
    with psycopg.connect(team_db.owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    for person in ("ava", "ray"):
        team_db.add(person)
    owner = TeamService.open(team_db.owner_url)
    owner.add_server(role)
    owner.close()
    return with_login(team_db.owner_url, user=role, password=password)


def env_for(db: str) -> dict[str, str]:
    import os

    keep = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "HOME") if k in os.environ}
    return keep | {"DEVMEM_DB": db, "DEVMEM_EMBEDDINGS": "0"}


def bearer(credential: str) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}"}


async def test_two_people_each_see_only_what_they_may(
    team_db: TeamDb, issuer: Issuer, server_url: str
) -> None:
    ava = TeamService.open(team_db.urls["ava"])
    ava_token = ava.create_token("laptop")[1]
    ray_jwt = issuer.token(team_db.role("ray"))
    args = ("--oidc-issuer", issuer.url, "--oidc-audience", AUDIENCE, "--project", "ops")
    with http_server(env_for(server_url), *args) as url:
        async with http_session(url, bearer(ava_token)) as session:
            note = "Ava's private note: the deploy key rotates on the first Monday"
            ava_id = (await call(session, "remember", content=note, kind="note"))["memory"]["id"]
            assert [h["id"] for h in (await call(session, "recall", query="deploy key"))["hits"]]
        async with http_session(url, bearer(ray_jwt)) as session:
            found = await call(session, "recall", query="deploy key rotates")
            assert ava_id not in [h["id"] for h in found["hits"]]
            assert "not_found" in await call_error(session, "get_memory", id=ava_id)
            ray_note = "Ray's runbook: the deploy key lives in the vault"
            ray_id = (await call(session, "remember", content=ray_note))["memory"]["id"]
        async with http_session(url, bearer(ava_token)) as session:
            hits = (await call(session, "recall", query="deploy key vault"))["hits"]
            assert ray_id not in [h["id"] for h in hits]
        ava.share(ava_id, user=team_db.role("ray"))
        async with http_session(url, bearer(ray_jwt)) as session:
            shared = await call(session, "get_memory", id=ava_id)
            assert "first Monday" in json.dumps(shared)
            assert "access_denied" in await call_error(session, "forget", id=ava_id)  # read only
    ava.close()
    with team_db.connect("ava") as conn:  # still there for its owner
        assert conn.execute("SELECT 1 FROM memories WHERE id = %s", (ava_id,)).fetchone()
    with psycopg.connect(team_db.owner_url) as conn:
        rows = conn.execute(
            "SELECT actor, action, client FROM audit_log WHERE memory_id = %s ORDER BY id",
            (ava_id,),
        ).fetchall()
    assert rows[0] == (team_db.role("ava"), "create", "mcp")


async def test_bad_credentials_get_401_and_are_audited(
    team_db: TeamDb, issuer: Issuer, server_url: str
) -> None:
    ava = TeamService.open(team_db.urls["ava"])
    token_id, revoked = ava.create_token("old")
    ava.revoke_token(str(token_id))
    ava.close()
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "unknown token": "dm_" + secrets.token_urlsafe(32),
        "revoked token": revoked,
        "forged signature": issuer.token(team_db.role("ray"), key=other_key),
        "expired": issuer.token(team_db.role("ray"), exp=int(time.time()) - 60),
        "wrong audience": issuer.token(team_db.role("ray"), aud="another-app"),
        "unknown person": issuer.token("mallory"),
    }
    args = ("--oidc-issuer", issuer.url, "--oidc-audience", AUDIENCE)
    with http_server(env_for(server_url), *args) as url:
        assert httpx.post(url, json=INIT, headers=HEADERS, timeout=10).status_code == 401
        for why, credential in refused.items():
            answer = httpx.post(url, json=INIT, headers=HEADERS | bearer(credential), timeout=10)
            assert answer.status_code == 401, why
        ok = httpx.post(url, json=INIT, headers=HEADERS | bearer(issuer.token(team_db.role("ray"))))
        assert ok.status_code == 200
    with psycopg.connect(team_db.owner_url) as conn:
        failures = conn.execute(
            "SELECT detail->>'reason', client FROM audit_log WHERE action = 'sign_in_failure'"
        ).fetchall()
        stored = conn.execute("SELECT string_agg(detail::text, ' ') FROM audit_log").fetchone()
    assert len(failures) >= len(refused) and {c for _, c in failures} == {"mcp"}
    assert any("revoked" in r for r, _ in failures) and any(
        "expired" in r.lower() for r, _ in failures
    )
    assert stored is not None and not any(c in stored[0] for c in refused.values())
