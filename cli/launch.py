"""The `devmem` entry point: commands that need the model run in the warm engine.

``devmem search …`` (and the other read commands in :data:`ENGINE_COMMANDS`) connect to the
engine, hand it this process's stdin, stdout and stderr (SCM_RIGHTS over the Unix socket)
and wait for its exit code: the engine runs the very same command, in-process, writing to
this terminal (its width and colours, or the pipe). Everything else, and every command when
the engine cannot start, runs here as before. Importing this module costs almost nothing:
typer, rich and the service load only on the in-process path.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping, Sequence

from core import (
    EngineHeader,
    EngineUnavailable,
    engine_serves,
    open_engine_connection,
    read_engine_line,
)

ENGINE_COMMANDS = frozenset({"search", "show", "list", "stats"})
_VALUE_OPTIONS = frozenset({"--db"})


def engine_args(argv: Sequence[str]) -> tuple[str | None, bool]:
    """(``--db`` value, whether the command should run in the engine) for ``argv``."""
    db: str | None = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in _VALUE_OPTIONS:
            db = argv[i + 1] if i + 1 < len(argv) else None
            i += 2
            continue
        if arg.startswith("--db="):
            db = arg.split("=", 1)[1]
        elif not arg.startswith("-"):
            return db, arg in ENGINE_COMMANDS and not ({"--help", "-h"} & set(argv))
        else:
            return db, False  # --version, --help, an unknown global option: the full CLI
        i += 1
    return db, False


def _terminal_env(env: Mapping[str, str]) -> dict[str, str]:
    """The client's environment plus its terminal size (the engine has no terminal)."""
    out = dict(env)
    if os.isatty(1) and "COLUMNS" not in env:
        try:
            size = os.get_terminal_size(1)
        except OSError:  # a terminal that will not say: the engine's default width
            return out
        out.update(COLUMNS=str(size.columns), LINES=str(size.lines))
    return out


def run_in_engine(argv: Sequence[str], env: Mapping[str, str]) -> int | None:
    """The command's exit code, run by the engine; None when it cannot (after one notice)."""
    db, wanted = engine_args(argv)
    if not wanted or not engine_serves(env, db):
        return None
    header = EngineHeader.make("cli", _terminal_env(env), db, list(argv))
    try:
        sock, _ = open_engine_connection(env, header)
    except EngineUnavailable as exc:
        print(f"devmem: working without the engine: {exc}", file=sys.stderr)
        return None
    with sock:
        sys.stdout.flush()
        socket.send_fds(sock, [b"F"], [0, 1, 2])
        try:
            return int(json.loads(read_engine_line(sock))["exit"])
        except (OSError, ValueError, KeyError):
            print("devmem: the engine stopped during the command; run it again.", file=sys.stderr)
            return 1


def main() -> None:
    code = run_in_engine(sys.argv[1:], os.environ)
    if code is not None:
        sys.exit(code)
    from .main import main as full_cli

    full_cli()
