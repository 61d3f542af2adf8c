"""A team store on the test PostgreSQL server: a fresh database migrated by its owner, and
people (login roles with their own passwords) who connect with their own credentials."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from core import TeamService
from tests import pgserver

NOW = "2026-12-07T12:00:00Z"
AUDIENCE = "devmem-team"


def with_login(
    url: str, *, user: str | None = None, password: str | None = None, dbname: str | None = None
) -> str:
    """``url`` (postgresql://user:password@host/db?query) with another login or database."""
    parts = urlsplit(url)
    old_user, _, old_password = parts.netloc.rpartition("@")[0].partition(":")
    host = parts.netloc.rpartition("@")[2]
    login = quote(user if user is not None else unquote(old_user), safe="")
    secret = password if password is not None else unquote(old_password)
    netloc = f"{login}:{quote(secret, safe='')}@{host}" if secret else f"{login}@{host}"
    path = f"/{dbname}" if dbname is not None else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, ""))


@dataclass
class TeamDb:
    """The owner's URL of a migrated team store, and a URL per person."""

    owner_url: str
    suffix: str = field(default_factory=lambda: secrets.token_hex(3))
    urls: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    def role(self, person: str) -> str:
        return f"{person}_{self.suffix}"

    def add(self, person: str, org: str = "default", server_role: str | None = None) -> str:
        """Create ``person`` (a login role with a fresh password); returns their URL."""
        owner = TeamService.open(self.owner_url)
        try:
            password = owner.add_person(self.role(person), org, server_role)
        finally:
            owner.close()
        self.passwords[person] = password
        self.urls[person] = with_login(self.owner_url, user=self.role(person), password=password)
        return self.urls[person]

    def connect(self, person: str) -> psycopg.Connection[Any]:
        """``person``'s own connection (autocommit: each statement on its own)."""
        return psycopg.connect(self.urls[person], autocommit=True)


@pytest.fixture(scope="module")
def team_db() -> Iterator[TeamDb]:
    url = pgserver.shared().fresh_database("team")
    TeamService.open(url).close()  # opening migrates: storage steps, then the team layer's
    yield TeamDb(url)


def add_memory(
    conn: psycopg.Connection[Any],
    memory_id: str,
    content: str,
    *,
    team_id: int | None = None,
    visibility: str = "private",
) -> None:
    """A memory row written with raw SQL (as the connection's person)."""
    conn.execute(
        "INSERT INTO memories (id, visibility, team_id, title, content, content_hash, kind,"
        " source, provenance, created_at, updated_at) "
        "VALUES (%s, %s, %s, %s, %s, md5(%s), 'note', 'user', 3, %s, %s)",
        (memory_id, visibility, team_id, content[:40], content, content, NOW, NOW),
    )


def add_children(conn: psycopg.Connection[Any], memory_id: str) -> None:
    """A vector and a version of a memory (raw SQL)."""
    conn.execute(
        "INSERT INTO memory_vectors (memory_id, model, embedding) VALUES (%s, 'm', '[1,0,0]')",
        (memory_id,),
    )
    conn.execute(
        "INSERT INTO memory_versions (memory_id, version, title, content, changed_at,"
        " changed_by) SELECT id, 1, title, content, %s, 'user' FROM memories WHERE id = %s",
        (NOW, memory_id),
    )


@dataclass
class Issuer:
    url: str
    key: rsa.RSAPrivateKey

    def token(self, subject: str, *, key: rsa.RSAPrivateKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "iat": now, "exp": now + 300}
        body |= {"preferred_username": subject, **claims}
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    """A tiny OIDC issuer: discovery document and JWKS on 127.0.0.1."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk |= {"kid": "k1", "use": "sig", "alg": "RS256"}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            documents = {
                "/.well-known/openid-configuration": {"issuer": base, "jwks_uri": base + "/jwks"},
                "/jwks": {"keys": [jwk]},
            }
            body = json.dumps(documents.get(self.path, {})).encode()
            self.send_response(200 if self.path in documents else 404)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield Issuer(f"http://127.0.0.1:{httpd.server_address[1]}", key)
    httpd.shutdown()
