"""How a client finds, checks and starts the per-user engine (`devmem serve`).

Standard library only: ``devmem-mcp``'s relay and the CLI's fast path import this module
and nothing heavy, so a client with a warm engine starts in tens of milliseconds.

    runtime dir   $DEVMEM_RUNTIME_DIR, else $XDG_RUNTIME_DIR/devmem, else /tmp/devmem-$UID
                  (created 0700; refused when owned by someone else or open to others)
    socket        engine-<install>.sock (0600), <install> = a hash of where the code lives,
                  so two installs (two virtualenvs) each have their own engine
    lock          engine-<install>.lock: the engine holds an ``fcntl.flock`` on it while it
                  listens, so two engines started at once end up as one
    version       the package version + a hash of the installed code's files (name, size,
                  mtime), taken by the engine when it starts: when a client connects and
                  the code on disk has changed since, the engine is stale and is replaced

A connection starts with one JSON line from the client (the header) and one JSON line from
the engine (the answer); then the bytes of the chosen protocol follow.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import stat
import sys
import time
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from core.errors import DevMemError

PROTOCOL = 1
ENGINE_ENV = "DEVMEM_ENGINE"  # "off" (or 0/false/no): never use or start an engine
RUNTIME_ENV = "DEVMEM_RUNTIME_DIR"
START_TIMEOUT_S = 20.0
RESTART_AFTER_S = 3.0
# Environment a client forwards to the engine: what decides the store, the model and the
# output (the engine's own environment is the one of whoever started it first).
FORWARDED_ENV = (
    "DEVMEM_DB",
    "DEVMEM_CACHE_DIR",
    "DEVMEM_MODEL",
    "DEVMEM_MODEL_DIR",
    "DEVMEM_EMBEDDINGS",
    "HF_HUB_OFFLINE",
    "NO_COLOR",
    "FORCE_COLOR",
    "TERM",
    "COLORTERM",
    "COLUMNS",
    "LINES",
)
# The packages whose files make up the engine's code (sibling folders of core/; the CLI is
# `cli/` in a checkout and `devmem_cli/` in an installed wheel).
CODE_PACKAGES = ("core", "cli", "devmem_cli", "mcp_server", "lsp_server", "connectors")
_MAX_LINE = 1 << 20
APP = "devmemory"  # as core.config.APP (not imported: core.config loads the service)


class EngineUnavailable(DevMemError):
    """The engine cannot be used (switched off, unsafe runtime folder, no Unix sockets…)."""

    code = "engine_unavailable"


class StaleEngine(EngineUnavailable):
    """The running engine runs other code than is installed now; it is being replaced."""

    code = "engine_stale"


def engine_enabled(env: Mapping[str, str]) -> bool:
    """False when ``DEVMEM_ENGINE`` says off (off, 0, false, no) or Unix sockets are missing."""
    wanted = env.get(ENGINE_ENV, "on").strip().lower() not in ("off", "0", "false", "no")
    return wanted and hasattr(socket, "AF_UNIX")


def engine_serves(env: Mapping[str, str], db: str | None) -> bool:
    """Whether this client should use the engine: it is on, and the store is a local file
    (a ``postgresql://`` store is opened by the client itself, with its own credentials)."""
    store = db or env.get("DEVMEM_DB") or ""
    return engine_enabled(env) and "://" not in store


def runtime_dir(env: Mapping[str, str]) -> Path:
    """Where the socket and the lock live (not created here; see :func:`secure_runtime_dir`)."""
    if env.get(RUNTIME_ENV):
        return Path(env[RUNTIME_ENV]).expanduser()
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "devmem"
    return Path("/tmp") / f"devmem-{os.getuid()}"


def secure_runtime_dir(env: Mapping[str, str]) -> Path:
    """The runtime folder, created 0700; raises EngineUnavailable when it is not safe to use."""
    folder = runtime_dir(env)
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError as exc:
        raise EngineUnavailable(
            f"cannot create the engine folder {folder}: {exc.strerror}.",
            hint=f"Set {RUNTIME_ENV} to a folder you own, or {ENGINE_ENV}=off.",
        ) from exc
    check_owned(folder, info, "folder")
    if not stat.S_ISDIR(info.st_mode):
        raise EngineUnavailable(
            f"{folder} is not a folder.", hint=f"Remove it or set {RUNTIME_ENV}."
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)  # ours but open to others (e.g. made by hand): close it
    return folder


def check_owned(path: Path, info: os.stat_result, what: str) -> None:
    """Refuse a path someone else owns (another user could read or impersonate the engine)."""
    if info.st_uid != os.getuid():
        raise EngineUnavailable(
            f"the engine {what} {path} belongs to user id {info.st_uid}, not to you "
            f"({os.getuid()}); refusing to use it.",
            hint=f"Remove it, or set {RUNTIME_ENV} to a folder you own.",
        )
    if stat.S_ISLNK(info.st_mode):
        raise EngineUnavailable(
            f"the engine {what} {path} is a symbolic link; refusing to use it.",
            hint=f"Remove it, or set {RUNTIME_ENV} to a folder you own.",
        )


def _code_root() -> Path:
    return Path(__file__).resolve().parent.parent


def install_key() -> str:
    """A short name for this install (where its code lives)."""
    return f"{zlib.crc32(str(_code_root()).encode()):08x}"


def socket_path(env: Mapping[str, str]) -> Path:
    return runtime_dir(env) / f"engine-{install_key()}.sock"


def lock_path(env: Mapping[str, str]) -> Path:
    return runtime_dir(env) / f"engine-{install_key()}.lock"


def log_path(env: Mapping[str, str]) -> Path:
    return runtime_dir(env) / f"engine-{install_key()}.log"


def code_version() -> str:
    """A hash of the installed code (every ``.py`` file's name, size and mtime).

    The engine takes it when it starts, and again when a client connects to see whether the
    code changed since; clients never need it, so they do not pay for it.
    """
    import contextlib
    import hashlib

    digest = hashlib.sha256()
    root = _code_root()
    for package in CODE_PACKAGES:
        for path in sorted(_python_files(root / package)):
            with contextlib.suppress(OSError):
                info = path.stat()
                digest.update(
                    f"{path.relative_to(root)}:{info.st_size}:{info.st_mtime_ns}\n".encode()
                )
    return digest.hexdigest()[:12]


def _python_files(folder: Path) -> Iterator[Path]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
            yield from _python_files(Path(entry.path))
        elif entry.name.endswith(".py"):
            yield Path(entry.path)


class Header:
    """What a client says first: who it is, which store, where it runs."""

    FIELDS = ("kind", "cwd", "db", "env", "args", "protocol")

    def __init__(
        self,
        kind: str,  # mcp | lsp | cli | status | stop
        cwd: str | None = None,
        db: str | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        protocol: int = PROTOCOL,
    ) -> None:
        self.kind = kind
        self.cwd = cwd if cwd is not None else os.getcwd()
        self.db = db
        self.env = dict(env or {})
        self.args = list(args or [])
        self.protocol = protocol

    @classmethod
    def make(
        cls, kind: str, env: Mapping[str, str], db: str | None, args: list[str] | None = None
    ) -> Header:
        forwarded = {k: env[k] for k in FORWARDED_ENV if k in env}
        forwarded.update(_store_defaults(forwarded))
        for key in ("DEVMEM_DB", "DEVMEM_CACHE_DIR", "DEVMEM_MODEL_DIR"):
            if forwarded.get(key):
                forwarded[key] = _absolute(forwarded[key])
        return cls(kind=kind, db=_absolute(db) if db else db, env=forwarded, args=args)

    def encode(self) -> bytes:
        return json.dumps({name: getattr(self, name) for name in self.FIELDS}).encode() + b"\n"

    @classmethod
    def decode(cls, line: bytes) -> Header:
        raw = json.loads(line)
        if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
            raise ValueError("the header is not a JSON object with a kind")
        return cls(**{k: raw[k] for k in cls.FIELDS if k in raw})


def _absolute(location: str) -> str:
    """A path as this client means it (the engine runs elsewhere); URLs as they are."""
    if "://" in location:
        return location
    return str(Path(location).expanduser().absolute())


def _store_defaults(env: Mapping[str, str]) -> dict[str, str]:
    """The store and cache folders as this client sees them (its own platform folders), so
    that the engine opens exactly the store the client would open in-process."""
    import platformdirs

    found: dict[str, str] = {}
    if not env.get("DEVMEM_DB"):
        found["DEVMEM_DB"] = str(Path(platformdirs.user_data_dir(APP)) / "memories.db")
    if not env.get("DEVMEM_CACHE_DIR"):
        found["DEVMEM_CACHE_DIR"] = platformdirs.user_cache_dir(APP)
    return found


def read_line(sock: socket.socket) -> bytes:
    """One line from ``sock``, reading nothing past its newline (the rest is the protocol's)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = sock.recv(4096, socket.MSG_PEEK)
        if not chunk:
            raise ConnectionError("the engine closed the connection")
        end = chunk.find(b"\n")
        take = sock.recv(end + 1 if end >= 0 else len(chunk))
        chunks.append(take)
        size += len(take)
        if end >= 0:
            return b"".join(chunks)
        if size > _MAX_LINE:
            raise ConnectionError("the engine's answer line is too long")


def open_connection(env: Mapping[str, str], header: Header) -> tuple[socket.socket, dict[str, Any]]:
    """A connection to a running engine of the right version (started when none runs).

    Raises EngineUnavailable when the engine is off or cannot be started.
    """
    if not engine_enabled(env):
        raise EngineUnavailable(f"the engine is switched off ({ENGINE_ENV}=off).")
    secure_runtime_dir(env)
    deadline = time.monotonic() + START_TIMEOUT_S
    next_start = 0.0
    while True:
        try:
            return handshake(env, header)
        except StaleEngine:
            pass  # the old engine stops listening at once; the next round starts ours
        except (FileNotFoundError, ConnectionError):
            pass  # none listens, or one died as we connected
        if time.monotonic() >= next_start:
            # Again after a while: an engine started while a dying one still held the lock
            # has given up at once (another engine seemed to run).
            start_engine(env)
            next_start = time.monotonic() + RESTART_AFTER_S
        if time.monotonic() > deadline:
            raise EngineUnavailable(
                f"the engine did not start within {START_TIMEOUT_S:.0f} s.",
                hint=f"See {log_path(env)}, or set {ENGINE_ENV}=off.",
            )
        time.sleep(0.02)


def handshake(env: Mapping[str, str], header: Header) -> tuple[socket.socket, dict[str, Any]]:
    """Connect, send the header, read the answer (raises StaleEngine on a version mismatch)."""
    path = socket_path(env)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
        check_owned(path, os.lstat(path), "socket")
        sock.sendall(header.encode())
        answer = json.loads(read_line(sock))
    except BaseException:
        sock.close()
        raise
    if answer.get("stale"):
        sock.close()
        raise StaleEngine(
            f"the engine runs {answer.get('version')}, the installed code has changed since."
        )
    if not answer.get("ok"):
        sock.close()
        raise EngineUnavailable(str(answer.get("error") or "the engine refused the connection."))
    return sock, answer


def engine_command() -> list[str]:
    """How to start the engine: the ``devmem`` script next to this interpreter, else on PATH."""
    import shutil

    beside = Path(sys.executable).parent / "devmem"
    found = str(beside) if beside.exists() else shutil.which("devmem")
    if found is None:
        raise EngineUnavailable(
            "cannot find the devmem command to start the engine.",
            hint=f"Put devmem on PATH, or set {ENGINE_ENV}=off.",
        )
    return [found, "serve"]


def start_engine(env: Mapping[str, str]) -> None:
    """Start `devmem serve` detached; does not wait for it to listen.

    Detached as daemons are: a short-lived middle process starts it in a new session and
    exits, so the engine is no child of this client (a client never has to reap it, and
    its end never leaves a zombie here). Its output goes to the owner-only log.
    """
    folder = secure_runtime_dir(env)
    command = engine_command()
    child_env = dict(env)
    child_env[RUNTIME_ENV] = str(folder)
    log = os.open(log_path(env), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        middle = os.fork()
        if middle == 0:  # pragma: no cover - runs in the middle process
            _spawn_and_exit(command, child_env, log)
        _, code = os.waitpid(middle, 0)
    finally:
        os.close(log)
    if code != 0:
        raise EngineUnavailable(
            "could not start the engine.", hint=f"See {log_path(env)}, or set {ENGINE_ENV}=off."
        )


def _spawn_and_exit(command: list[str], env: dict[str, str], log: int) -> None:
    import subprocess

    try:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            cwd="/",
            start_new_session=True,
            close_fds=True,
        )
    except BaseException:
        os._exit(1)
    os._exit(0)


def request(env: Mapping[str, str], kind: str) -> dict[str, Any] | None:
    """A control request (status, stop) to a running engine; None when none runs."""
    if not engine_enabled(env):
        return None
    try:
        sock, answer = handshake(env, Header.make(kind, env, None))
    except (OSError, EngineUnavailable, ValueError):
        return None
    with sock:
        return answer


# ---- the relays' copy loop (mcp_server/relay.py, lsp_server/relay.py) -------------------
def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (a pipe may take it in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def watch_engine(selector: selectors.BaseSelector, sock: socket.socket | None) -> None:
    """Make ``selector`` watch exactly the current engine socket (data "engine")."""
    for key in list(selector.get_map().values()):
        if key.data == "engine" and key.fileobj is not sock:
            selector.unregister(key.fileobj)
    if sock is not None and sock not in {k.fileobj for k in selector.get_map().values()}:
        selector.register(sock, selectors.EVENT_READ, "engine")
