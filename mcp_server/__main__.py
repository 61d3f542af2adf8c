"""``devmem-mcp``: the DevMemory MCP server (stdio by default, ``--http`` for streamable HTTP).

The composition root: the only place that reads the environment and the command line.
Logs go to stderr; on stdio, stdout carries the protocol and nothing else.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core import __version__, engine_serves

if TYPE_CHECKING:
    from core import MemoryService
    from mcp_server.server import TeamAuth

DEFAULT_PORT = 8765
TOKEN_ENV = "DEVMEM_MCP_TOKEN"
MODEL_WAIT_S = 600.0


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="devmem-mcp",
        description="DevMemory MCP server: your developer memory for AI assistants.",
        epilog=f"Environment: DEVMEM_DB (the store), {TOKEN_ENV} (bearer token for --http), "
        "DEVMEM_ENGINE=off (serve in this process instead of through `devmem serve`).",
    )
    p.add_argument(
        "--db",
        help="the store: a SQLite file, or postgresql://… (with --http: a team server where "
        "each person signs in with an API token or OIDC JWT) (default: $DEVMEM_DB, else the "
        "platform data dir)",
    )
    p.add_argument(
        "--db-read",
        help="a read replica of a postgresql:// store for searches, listings and the graph "
        "(default: $DEVMEM_DB_READ); writes stay on --db, and reads fall back to it",
    )
    p.add_argument(
        "--project",
        help="the current project (default: the client's root folder's, else "
        "the working directory's git repository)",
    )
    p.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help=f"--http address (default 127.0.0.1; any other needs ${TOKEN_ENV})",
    )
    p.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"--http port (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="--http: also accept requests from this browser Origin (repeatable)",
    )
    p.add_argument(
        "--oidc-issuer",
        metavar="URL",
        help="team server: also accept OIDC bearer JWTs from this issuer (checked with its JWKS)",
    )
    p.add_argument(
        "--oidc-audience",
        metavar="AUD",
        help="team server: the JWTs' audience (default: --public-url)",
    )
    p.add_argument(
        "--oidc-claim",
        default="preferred_username",
        help="team server: the JWT claim naming the person (default preferred_username)",
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="team server: the URL clients use (default http://HOST:PORT)",
    )
    p.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    )
    p.add_argument("--version", action="version", version=f"devmem-mcp {__version__}")
    return p.parse_args(argv)


def _relayed_args(args: argparse.Namespace) -> list[str]:
    """The options the engine's MCP server needs (the store travels in the header)."""
    relayed = ["--log-level", args.log_level]
    return [*relayed, "--project", args.project] if args.project else relayed


def open_service(
    env: Mapping[str, str], db: str | None, db_read: str | None = None
) -> MemoryService:
    """Settings from the environment → the service (its model loads in the background)."""
    from core import Settings, build_service

    return build_service(Settings.from_env(env, db, db_read))


def detect_project(path: Path | None) -> str | None:
    """The git repository name of ``path`` (None: of the working directory)."""
    from core import git_project

    return git_project(path or Path.cwd())


def _freeze_when_model_ready(service: MemoryService) -> None:
    """On the warm-up thread: once the model is loaded, exempt everything that lives as long
    as the process (SDK, core, model) from garbage collection, so that a full collection —
    ~100 ms with all of it tracked — never stalls a tool call."""
    service.embedder.wait(MODEL_WAIT_S)
    gc.freeze()


def _team(args: argparse.Namespace, env: Mapping[str, str]) -> TeamAuth | None:
    """The team server's sign-in when serving a PostgreSQL store over HTTP, else None."""
    db = args.db or env.get("DEVMEM_DB")
    if not args.http or not db:
        return None
    from mcp_server.team import is_team_store, team_auth  # the team modules need the extra

    if not is_team_store(db):
        return None
    public_url = args.public_url or f"http://{args.host}:{args.port}"
    return team_auth(db, public_url, args.oidc_issuer, args.oidc_audience, args.oidc_claim)


def main(argv: Sequence[str] | None = None) -> int:
    # Importing the SDK builds ~600 pydantic models and no garbage worth collecting: the
    # collector would spend ~40 ms of the start-up on it. Back on (frozen) before serving.
    gc.disable()
    try:
        args = parse(argv)
        env = dict(os.environ)
        if not args.http and engine_serves(env, args.db):
            # A thin relay to the per-user engine (it holds the SDK, the store and the model);
            # None: the engine cannot start, and this process serves in-process instead.
            from mcp_server.relay import relay_main

            code = relay_main(env, args.db, _relayed_args(args))
            if code is not None:
                return code
        import logging

        from mcp_server.logs import redact_log_handlers

        log = logging.getLogger("devmem.mcp")
        logging.basicConfig(
            stream=sys.stderr,
            level=args.log_level,
            format="%(asctime)s devmem-mcp %(levelname)s %(name)s: %(message)s",
        )
        token = env.get(TOKEN_ENV) or None
        try:
            team = _team(args, env)
        except Exception as exc:  # a DevMemError (store unreachable, bad credentials): one line
            print(f"devmem-mcp: cannot serve the team store: {exc}", file=sys.stderr)
            return 2
        if args.http and team is None:
            from mcp_server.http import MAKE_TOKEN, is_loopback, token_problem

            if not is_loopback(args.host) and not token:
                print(
                    f"devmem-mcp: refusing to serve {args.host} without a token: set {TOKEN_ENV} "
                    "(clients then send 'Authorization: Bearer <token>'), or bind to 127.0.0.1.",
                    file=sys.stderr,
                )
                return 2
            if token and (problem := token_problem(token)):
                if not is_loopback(args.host):
                    print(
                        f"devmem-mcp: refusing to serve {args.host} with a weak {TOKEN_ENV}: {problem}. "
                        f"Generate one with: {MAKE_TOKEN}",
                        file=sys.stderr,
                    )
                    return 2
                log.warning(
                    "%s is weak (%s); generate one with: %s", TOKEN_ENV, problem, MAKE_TOKEN
                )
        from mcp_server.runtime import LazyService
        from mcp_server.server import build_server

        lazy = LazyService(
            lambda: open_service(env, args.db, args.db_read), on_warm=_freeze_when_model_ready
        )
        mcp = build_server(
            lazy, args.project, detect_project=detect_project, log_level=args.log_level, team=team
        )
        redact_log_handlers()  # after build_server: the SDK may add its own handler there
        gc.freeze()
    finally:
        gc.enable()
    try:
        if args.http:
            from mcp_server.http import serve

            lazy.warm_up()  # a long-running HTTP server opens its store right away
            # a team server checks each request's own credential (the SDK's verifier)
            shared_token = None if team else token
            serve(mcp, args.host, args.port, shared_token, args.allow_origin, args.log_level)
        else:
            mcp.run("stdio")
    except KeyboardInterrupt:
        pass
    finally:
        lazy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
