"""Streamable HTTP: loopback by default, a bearer token otherwise, and an Origin check always.

The MCP transport spec asks servers to validate ``Origin`` (a web page must not reach a
local server through DNS rebinding), to bind to localhost when running locally, and to
authenticate connections. :class:`Guard` does the first and the last in front of the SDK's
streamable HTTP app: a foreign ``Origin`` gets 403, a missing or wrong token gets 401.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)
PATH = "/mcp"


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


MIN_TOKEN_CHARS = 32
MIN_TOKEN_DISTINCT = 12
MAKE_TOKEN = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'


def token_problem(token: str) -> str | None:
    """Why ``token`` is too weak to guard a server others can reach (None when it is fine).

    32+ characters drawn from a dozen or more different ones: any generated token passes
    (`secrets.token_urlsafe(32)`, `openssl rand -hex 32`); words, repeats and short strings
    that a guesser tries first do not."""
    if len(token) < MIN_TOKEN_CHARS:
        return f"it has {len(token)} characters; at least {MIN_TOKEN_CHARS} are needed"
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        return f"it uses only {len(set(token))} different characters; a random one uses more"
    return None


def origin_allowed(origin: str, extra: Sequence[str] = ()) -> bool:
    """A loopback http(s) origin (any port), or one listed with ``--allow-origin``."""
    if origin.rstrip("/") in {o.rstrip("/") for o in extra}:
        return True
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and is_loopback(parts.hostname or "")
    )


class Guard:
    """ASGI middleware: Origin check (403), then bearer token check (401) when a token is set."""

    def __init__(
        self, app: ASGIApp, token: str | None, allowed_origins: Sequence[str] = ()
    ) -> None:
        self.app = app
        self._token = token.encode() if token else None
        self._origins = tuple(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan events pass through
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None and not origin_allowed(origin, self._origins):
            log.warning("refused a request from Origin %r", origin)
            await _deny(
                send,
                403,
                f"Origin {origin!r} is not allowed: only local pages may call this "
                "server (start it with --allow-origin to add one).",
            )
            return
        if self._token is not None and not self._authorised(headers.get("authorization")):
            await _deny(
                send,
                401,
                "Missing or wrong bearer token: send 'Authorization: Bearer <DEVMEM_MCP_TOKEN>'.",
                {"www-authenticate": 'Bearer realm="devmemory"'},
            )
            return
        await self.app(scope, receive, send)

    def _authorised(self, header: str | None) -> bool:
        scheme, _, value = (header or "").partition(" ")
        presented = value.strip().encode()
        assert self._token is not None
        # compare_digest even for a wrong scheme, so timing says nothing about the token
        same = hmac.compare_digest(presented, self._token)
        return scheme.lower() == "bearer" and same


async def _deny(send: Send, status: int, message: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": message}}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def app(mcp: Any, host: str, token: str | None, allowed_origins: Sequence[str] = ()) -> ASGIApp:
    """The SDK's streamable HTTP app at ``/mcp``, behind :class:`Guard`."""
    from mcp.server.transport_security import TransportSecuritySettings

    if is_loopback(host):
        # The SDK's own Host/Origin check (DNS-rebinding protection) for a loopback bind.
        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=[
                "127.0.0.1:*",
                "localhost:*",
                "[::1]:*",
                "127.0.0.1",
                "localhost",
                "[::1]",
            ],
            allowed_origins=[
                f"{scheme}://{name}{port}"
                for scheme in ("http", "https")
                for name in ("127.0.0.1", "localhost", "[::1]")
                for port in (":*", "")
            ]
            + list(allowed_origins),
        )
    else:
        # Bound to a network address, the Host header is whatever name clients use: the token
        # (required on such a bind) and the Origin check above do the protecting.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    inner = mcp.streamable_http_app(
        streamable_http_path=PATH, transport_security=security, host=host
    )
    return Guard(inner, token, allowed_origins)


def serve(
    mcp: Any,
    host: str,
    port: int,
    token: str | None,
    allowed_origins: Sequence[str] = (),
    log_level: str = "info",
) -> None:
    """Serve until interrupted."""
    import uvicorn

    from core import install_redaction

    config = uvicorn.Config(
        app(mcp, host, token, allowed_origins),
        host=host,
        port=port,
        log_level=log_level.lower(),
        lifespan="on",
    )
    install_redaction()  # uvicorn adds its handlers (access log included) in Config()
    log.info(
        "DevMemory MCP server on http://%s:%d%s (token %s)",
        host,
        port,
        PATH,
        "required" if token else "not required",
    )
    uvicorn.Server(config).run()
