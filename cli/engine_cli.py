"""The engine's CLI side: run one `devmem` command on the client's own stdin/stdout/stderr.

The client (``cli/launch.py``) passes its three descriptors over the socket; the command
runs here with the warm service, writing straight to the client's terminal or pipe, and
the exit code goes back as one JSON line. Commands run one at a time: the CLI's state
(the chosen store, the consoles, ``sys.stdout``) is process-wide.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

import anyio
import anyio.to_thread

from core import EngineHeader, Settings

from . import common
from .engine_stores import Stores

_TERMINAL_ENV = ("COLUMNS", "LINES", "TERM", "NO_COLOR", "FORCE_COLOR", "COLORTERM")
_one_at_a_time = threading.Lock()


async def serve_cli(
    stores: Stores, settings: Settings, header: EngineHeader, stream: Any, cli: Callable[..., Any]
) -> None:
    """Receive the client's descriptors, run its command, send back the exit code."""
    _, fds = await stream.receive_fds(1, 3)
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        await stream.send(b'{"exit": 1, "error": "expected stdin, stdout and stderr"}\n')
        return
    code = await anyio.to_thread.run_sync(run_command, stores, settings, header, fds, cli)
    await stream.send(json.dumps({"exit": code}).encode() + b"\n")


def run_command(
    stores: Stores,
    settings: Settings,
    header: EngineHeader,
    fds: list[int],
    cli: Callable[..., Any],
) -> int:
    """Run ``devmem <header.args>`` (``cli``: the devmem command, given by ``devmem serve``, so
    the engine does not import the app that contains it) with the client's descriptors; its
    exit code."""
    with _one_at_a_time, _client_stdio(fds), _client_terminal(header.env):
        common.console.__init__()  # type: ignore[misc]  # re-detect width and colours
        common.err_console.__init__(stderr=True)  # type: ignore[misc]
        common.STATE.db = header.db
        common.STATE.service = stores.service(settings)
        try:
            cli(args=header.args, prog_name="devmem", standalone_mode=True)
            return 0
        except SystemExit as exit_:
            return _exit_code(exit_.code)
        except Exception as exc:  # a bug in a command must not take the engine down
            print(f"devmem: internal error in the engine: {exc!r}", file=sys.stderr)
            return 1
        finally:
            common.STATE.service = None
            common.STATE.db = None


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


@contextlib.contextmanager
def _client_stdio(fds: list[int]) -> Iterator[None]:
    """sys.stdin/stdout/stderr are the client's for the command (then closed: ours are dups)."""
    saved = sys.stdin, sys.stdout, sys.stderr
    files: list[IO[str]] = [
        os.fdopen(fds[0], "r", encoding="utf-8", errors="replace"),
        os.fdopen(fds[1], "w", encoding="utf-8", errors="replace"),
        os.fdopen(fds[2], "w", encoding="utf-8", errors="replace"),
    ]
    sys.stdin, sys.stdout, sys.stderr = files
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        for f in files:
            with contextlib.suppress(OSError):
                f.close()  # flushes what the command wrote


@contextlib.contextmanager
def _client_terminal(env: Mapping[str, str]) -> Iterator[None]:
    """The client's terminal settings (size, colour wishes) in the environment for the command."""
    saved = {k: os.environ.get(k) for k in _TERMINAL_ENV}
    for key in _TERMINAL_ENV:
        if key in env:
            os.environ[key] = env[key]
        else:
            os.environ.pop(key, None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
