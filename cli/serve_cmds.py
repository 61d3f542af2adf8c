"""`devmem serve [--idle S] | serve status | serve stop`: run, inspect or stop the engine."""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Annotated, Any

import typer

from core import engine_log_path, engine_request, engine_socket_path

from .common import console, fail, print_json

app = typer.Typer(
    help="The per-user engine: one warm process (store, model, caches) for every client.",
    invoke_without_command=True,
)
STOP_WAIT_S = 10.0


@app.callback()
def serve(
    ctx: typer.Context,
    idle: Annotated[
        float,
        typer.Option(
            "--idle",
            envvar="DEVMEM_ENGINE_IDLE",
            help="Exit after this many seconds without clients (an engine started on demand"
            " takes DEVMEM_ENGINE_IDLE).",
            min=1,
        ),
    ] = 900.0,
) -> None:
    """Run the engine in the foreground (clients start it on demand; you rarely need to)."""
    if ctx.invoked_subcommand is not None:
        return
    from core import DevMemError

    from .engine import Engine

    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("DEVMEM_LOG", "INFO").upper(),
        format="%(asctime)s devmem-engine %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLogger().level))
    from core import install_redaction

    install_redaction()
    try:
        code = Engine(os.environ, ctx.find_root().command, idle).run()
    except DevMemError as exc:
        fail(exc)
    # As devmem-lsp does (lsp_server/lifecycle.py): the stores are closed and the socket is
    # gone; a normal interpreter exit would join ONNX Runtime's threads (seconds, or a crash
    # while the model still loads). Committed data is in SQLite's WAL either way.
    logging.shutdown()
    os._exit(code)


@app.command()
def status(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Is the engine running? Its pid, version, uptime, memory, stores and model."""
    info = engine_request(os.environ, "status")
    if json_out:
        print_json(info or {"running": False})
        return
    if info is None:
        console.print(f"engine: not running (socket {engine_socket_path(os.environ)})")
        raise typer.Exit(1)
    for line in describe(info):
        console.print(line, highlight=False, soft_wrap=True)


def describe(info: dict[str, Any]) -> list[str]:
    """``serve status`` and ``doctor`` lines for a running engine."""
    clients = ", ".join(f"{k} {v}" for k, v in sorted(info.get("clients", {}).items())) or "none"
    models = info.get("models") or []
    loaded = ", ".join(f"{m['model']} ({'loaded' if m['ready'] else 'loading'})" for m in models)
    return [
        f"engine: running, pid {info['pid']}, version {info['version']}"
        + (" (retiring)" if info.get("retired") else ""),
        f"  uptime {info['uptime_s']:.0f} s, RSS {info['rss_mb']:.0f} MB, "
        f"exits after {info['idle_after_s']:.0f} s without clients",
        f"  clients now: {clients}; stores open: {len(info.get('stores', []))}",
        f"  model: {loaded or 'not loaded'} (loads: {info.get('model_loads', 0)})",
        f"  socket {info['socket']}, log {engine_log_path(os.environ)}",
    ]


@app.command()
def stop() -> None:
    """Stop the engine (clients start a new one when they next need it)."""
    info = engine_request(os.environ, "stop")
    if info is None:
        console.print("engine: not running")
        return
    deadline = time.monotonic() + STOP_WAIT_S
    while engine_request(os.environ, "status") is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    console.print(f"engine: stopped (pid {info['pid']})")
