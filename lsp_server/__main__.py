"""`devmem-lsp`: the composition root of the language server.

    devmem-lsp                     stdio (what editors start)
    devmem-lsp --tcp --port 2087   TCP, for debugging with a client that connects
    devmem-lsp --version           prints `devmem-lsp 0.1.0`

Logs go to stderr (stdout carries the protocol). ``--db`` beats the client's
``database.path`` setting, which beats ``DEVMEM_DB``, which beats the per-user default.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import replace

from lsp_server import __version__


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="devmem-lsp", description="DevMemory language server.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("--stdio", action="store_true", help="talk over stdin/stdout (the default)")
    p.add_argument("--tcp", action="store_true", help="listen on TCP instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    p.add_argument("--db", help="database file (overrides the client setting and DEVMEM_DB)")
    p.add_argument(
        "--db-read",
        help="a read replica of a postgresql:// store for searches (default: $DEVMEM_DB_READ)",
    )
    p.add_argument(
        "--poll",
        type=float,
        default=2.0,
        help="seconds between checks for other processes' writes (0: off)",
    )
    p.add_argument(
        "--log-level",
        default=os.environ.get("DEVMEM_LOG", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (default INFO; env DEVMEM_LOG)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # a team store's audit log names the client: libpq sends it as application_name (read by
    # the audit when no devmem.client is set; the editor's worker threads need no context)
    os.environ.setdefault("PGAPPNAME", "lsp")
    if args.version:
        print(f"devmem-lsp {__version__}")
        return
    from core import engine_serves

    if not args.tcp and engine_serves(os.environ, args.db):
        # A thin relay to the per-user engine (it holds pygls, the store and the model);
        # None: the engine cannot start, and this process serves in-process instead.
        from lsp_server.relay import relay_main

        relayed = ["--poll", str(args.poll)] + (["--db-pinned"] if args.db else [])
        if relay_main(os.environ, args.db, relayed) is not None:
            return
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLogger().level))
    # A worker parsing a big file keeps the interpreter lock for 5 ms slices by default; 1 ms
    # slices let the event loop answer other files meanwhile (a hover during a 4 MB parse:
    # p50 145 -> 48 ms, issue 21).
    sys.setswitchinterval(0.001)

    from core import MemoryService, Settings, build_service
    from lsp_server.app import build_server
    from lsp_server.backend import Backend

    settings = Settings.from_env(os.environ, args.db, args.db_read)

    def open_service(db_path: str | None) -> MemoryService:
        chosen = (
            settings
            if db_path is None
            else replace(settings, db_path=Settings.from_env({}, db_path).db_path, db_read=None)
        )
        return build_service(chosen)

    backend = Backend(open_service)
    server = build_server(
        backend,
        docs_dir=settings.cache_dir / "memories",
        db_pinned=args.db is not None,
        poll_interval=args.poll,
    )
    from core import install_redaction
    from lsp_server.lifecycle import end_process

    install_redaction()
    log = logging.getLogger("lsp_server")
    server.protocol.on_exit = lambda code: end_process(code, backend)
    try:
        if args.tcp:
            log.info("devmem-lsp %s listening on %s:%d", __version__, args.host, args.port)
            server.start_tcp(args.host, args.port)
        else:
            log.info("devmem-lsp %s ready on stdio", __version__)
            server.start_io()
    finally:
        # The client closed our input without `exit` (or the transport failed): end as
        # `exit` would, without waiting for worker threads.
        end_process(0, backend)


if __name__ == "__main__":
    main()
