"""Security: secrets are caught before storage and kept out of logs, the HTTP transport lets no
one in without the token or from a foreign web page, connectors stay in their folder, and
credential files are owner-only.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import random
import re
import string
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.embeddings import UnavailableEmbedder
from core.models import MemoryInput
from core.redact import redact
from core.service import MemoryService
from tests.reliability.helpers import (
    DEVMEM_LSP,
    DEVMEM_MCP,
    RawLsp,
    RawMcp,
    RpcError,
    cli,
    git_repo,
    server_env,
)

pytestmark = (
    pytest.mark.slow
)  # end to end (processes, stores on disk): `make test-fast` leaves it out

CORPUS = Path(__file__).resolve().parents[1] / "data" / "secrets"


def _decode(line: str) -> str:
    r"""Corpus lines write a newline as \n and a backslash as \\."""
    return re.sub(r"\\(\\|n)", lambda m: "\\" if m.group(1) == "\\" else "\n", line)


def _corpus(name: str) -> list[str]:
    text = (CORPUS / name).read_text(encoding="utf-8")
    return [_decode(line) for line in text.splitlines() if line and not line.startswith("# ")]


def _db_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


# ---- redaction, measured through the store ------------------------------------------------
def test_redaction_corpus_through_the_store(tmp_path, figures):
    secrets = [line.split("\t", 1) for line in _corpus("secrets.txt")]
    clean = _corpus("non_secrets.txt")
    db = tmp_path / "memories.db"
    svc = MemoryService.open(db, UnavailableEmbedder("text only"))
    try:
        found = svc.remember_many(
            [MemoryInput(content=text, project=f"s{i}") for i, (_, text) in enumerate(secrets)]
        )
        kept = svc.remember_many(
            [MemoryInput(content=text, project=f"n{i}") for i, text in enumerate(clean)]
        )
        detected = [
            kind in {n.kind for n in r.redactions}
            for (kind, _), r in zip(secrets, found, strict=True)
        ]
        false_pos = [
            text
            for text, r in zip(clean, kept, strict=True)
            if r.redactions or svc.get(r.memory.id).content != text
        ]
    finally:
        svc.close()
    stored = _db_bytes(db)  # content, title, versions, FTS index, WAL: the secret is nowhere
    spans = {text[r.start : r.end] for _, text in secrets for r in redact(text).redactions}
    leaked = [
        s for s in spans if len(s) >= 8 and (s.encode() in stored or s.lower().encode() in stored)
    ]

    n, m = len(secrets), len(clean)
    figures["security: redaction corpus"] = (
        f"detected {sum(detected)}/{n} real-format secrets ({sum(detected) / n:.1%}), false positives "
        f"{len(false_pos)}/{m} look-alikes ({len(false_pos) / m:.1%}), {len(leaked)} detected "
        f"secrets found in the database file"
    )
    assert n >= 100 and m >= 100
    assert sum(detected) / n >= 0.97, [
        t[:60] for (_, t), d in zip(secrets, detected, strict=True) if not d
    ]
    assert len(false_pos) / m <= 0.03, false_pos
    assert leaked == []


# ---- HTTP transport ------------------------------------------------------------------------
TOKEN = "tok-" + "".join(random.Random(3).choices(string.ascii_letters + string.digits, k=40))
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "security", "version": "0"},
    },
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for row in fh.readlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                addr, _, hexport = local.partition(":")
                if state == "0A" and int(hexport, 16) == port:
                    found.append(addr)
    return found


def _loopback_hex(addr: str) -> bool:
    if len(addr) == 8:  # IPv4, little-endian: 127.x.x.x ends with 7F
        return addr.endswith("7F")
    return addr == "00000000000000000000000001000000"  # ::1


def test_http_needs_the_token_checks_origin_and_binds_to_loopback(tmp_path, model_cache, figures):
    env = server_env(
        tmp_path / "memories.db", model_cache, embeddings=False, DEVMEM_MCP_TOKEN=TOKEN
    )
    port = _free_port()
    proc = subprocess.Popen(
        [DEVMEM_MCP, "--http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        _wait_listening(proc, port)

        def post(**headers: str) -> httpx.Response:
            return httpx.post(url, json=INIT, headers={**HEADERS, **headers}, timeout=20)

        cases = {
            "no token": (post(), 401),
            "wrong token": (post(authorization="Bearer wrong"), 401),
            "token plus a character": (post(authorization=f"Bearer {TOKEN}x"), 401),
            "token less a character": (post(authorization=f"Bearer {TOKEN[:-1]}"), 401),
            "empty bearer": (post(authorization="Bearer"), 401),
            "wrong scheme": (post(authorization=f"Basic {TOKEN}"), 401),
            "right token": (post(authorization=f"Bearer {TOKEN}"), 200),
            "foreign Origin": (
                post(authorization=f"Bearer {TOKEN}", origin="http://evil.example"),
                403,
            ),
            "Origin null": (post(authorization=f"Bearer {TOKEN}", origin="null"), 403),
            "local Origin": (
                post(authorization=f"Bearer {TOKEN}", origin="http://localhost:5173"),
                200,
            ),
            "rebound Host": (post(authorization=f"Bearer {TOKEN}", host="evil.example"), 421),
        }
        wrong = {
            k: (r.status_code, want) for k, (r, want) in cases.items() if r.status_code != want
        }
        assert wrong == {}
        assert cases["no token"][0].headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in cases["wrong token"][0].text
        addresses = _listening(port)
        assert addresses and all(_loopback_hex(a) for a in addresses), addresses
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=20)
    assert TOKEN not in stderr
    refused = subprocess.run(
        [DEVMEM_MCP, "--http", "--host", "0.0.0.0", "--port", str(port)],
        env={**env, "DEVMEM_MCP_TOKEN": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "DEVMEM_MCP_TOKEN" in refused.stderr
    figures["security: HTTP"] = (
        f"{len(cases)} auth/Origin/Host cases as required (401/403/421), "
        "listens on loopback only, refuses 0.0.0.0 without a token"
    )


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(proc: subprocess.Popen[str], port: int, timeout: float = 60) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the server did not listen")


async def test_the_token_is_compared_in_constant_time(monkeypatch):
    """Every check goes through hmac.compare_digest, whatever the presented value."""
    from mcp_server import http

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(http.hmac, "compare_digest", spy)
    reached: list[bool] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    guard = http.Guard(inner, TOKEN)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for value in (None, "Bearer x", f"Bearer {TOKEN[:-1]}y", f"Basic {TOKEN}", f"Bearer {TOKEN}"):
        headers = [(b"authorization", value.encode())] if value is not None else []
        await guard(
            {"type": "http", "headers": headers, "method": "POST", "path": "/mcp"}, None, send
        )
    assert len(calls) == 5 and all(b == TOKEN.encode() for _, b in calls)
    assert reached == [True]  # only the right token got through
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [401] * 4


# ---- connectors stay in their folder ------------------------------------------------------
def test_connectors_refuse_paths_outside_their_folder(tmp_path, text_env, figures):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.md").write_text("# Private\n\nOUTSIDE-MARKER-md must never be imported.\n")
    (outside / "capture.json").write_text(
        json.dumps(
            [
                {
                    "level": "error",
                    "text": "OUTSIDE-MARKER-console boom",
                    "timestamp": "2025-01-01T00:00:00Z",
                }
            ]
        )
    )
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "inside.md").write_text(
        "# Inside\n\nSee [the private note](../outside/private.md) and ![[../outside/private]].\n"
    )
    (vault / "link-to-file.md").symlink_to(outside / "private.md")
    (vault / "link-to-dir").symlink_to(outside, target_is_directory=True)
    captures = tmp_path / "captures"
    captures.mkdir()
    (captures / "escape.json").symlink_to(outside / "capture.json")
    (captures / "dir").symlink_to(outside, target_is_directory=True)

    md = cli(text_env, "sync", "markdown", str(vault), "--json")
    console = cli(text_env, "sync", "console", str(captures), "--json")
    assert md.returncode == 0 and console.returncode == 0, md.stderr + console.stderr
    skipped = json.loads(md.stdout)["skipped"] + json.loads(console.stdout)["skipped"]
    with_reason = [s for s in skipped if "outside" in s]
    assert len(with_reason) >= 3, skipped  # the file link, the folder link, the capture link
    stored = _db_bytes(Path(text_env["DEVMEM_DB"]))
    assert b"OUTSIDE-MARKER" not in stored
    assert b"Inside" in stored  # the note inside was imported
    figures["security: connectors"] = (
        f"{len(with_reason)} symlinks/.. escapes refused with a reason, 0 read"
    )


# ---- credential files ----------------------------------------------------------------------
def test_the_token_cache_is_owner_only_even_with_a_permissive_umask(tmp_path):
    from connectors.m365.auth import TokenStore

    old = os.umask(0)
    try:
        cache = tmp_path / "fresh" / "m365_token_cache.json"
        store = TokenStore(cache, encrypted=False)
        for content in ('{"AccessToken": {}}', '{"RefreshToken": {"k": {"secret": "s3cr3t"}}}'):
            store.persistence.save(content)
            assert cache.stat().st_mode & 0o777 == 0o600
        assert cache.parent.stat().st_mode & 0o777 == 0o700
        leftovers = [p for p in cache.parent.iterdir() if p.name.startswith(f".{cache.name}.")]
        assert leftovers == []  # the atomic writes' temporary files are gone
    finally:
        os.umask(old)


# ---- no secret in any log -------------------------------------------------------------------
def _fake_secrets() -> dict[str, str]:
    rng = random.Random(99)
    upper32 = string.ascii_uppercase + "234567"
    alnum = string.ascii_letters + string.digits
    body = "\n".join("".join(rng.choices(alnum + "+/", k=64)) for _ in range(6))
    return {
        "aws": "AKIA" + "".join(rng.choices(upper32, k=16)),
        "github": "ghp_" + "".join(rng.choices(alnum, k=36)),
        "key": f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----",
        "password": "postgres://deploy:"
        + "".join(rng.choices(alnum, k=18))
        + "@db.internal:5432/app",
    }


def _needles(secrets: dict[str, str]) -> list[str]:
    """What must not appear: each secret, and the inside of the key and of the password."""
    out = [secrets["aws"], secrets["github"], secrets["key"].splitlines()[2]]
    out.append(secrets["password"].split(":")[2].split("@")[0])
    return out


async def test_no_secret_reaches_a_log_or_the_store(tmp_path, model_cache, figures):
    secrets = _fake_secrets()
    note = (
        f"Deploy notes. AWS key {secrets['aws']}, GitHub token {secrets['github']}, "
        f"database {secrets['password']}.\n\n{secrets['key']}\n"
    )
    db = tmp_path / "memories.db"
    env = server_env(db, model_cache, embeddings=False, DEVMEM_LOG="DEBUG")
    logs = tmp_path / "logs"
    logs.mkdir()
    await _mcp_with_secrets(env, logs, note, secrets)
    await _lsp_with_secrets(env, logs, tmp_path, note, secrets)
    outputs = _cli_with_secrets(env, tmp_path, note, secrets)

    texts = {p.name: p.read_text(errors="replace") for p in logs.iterdir()}
    texts.update(outputs)
    cache_files = [
        p
        for p in Path(env["DEVMEM_CACHE_DIR"]).rglob("*")
        if p.is_file() and p.suffix in (".md", ".log", ".txt")
    ]
    texts.update({str(p): p.read_text(errors="replace") for p in cache_files})
    leaks = [
        (name, needle[:12])
        for name, text in texts.items()
        for needle in _needles(secrets)
        if needle.lower() in text.lower()
    ]
    stored = _db_bytes(db).lower()
    in_store = [n[:12] for n in _needles(secrets) if n.lower().encode() in stored]
    figures["security: logs"] = (
        f"{len(_needles(secrets))} secrets through MCP, LSP and CLI at DEBUG: "
        f"{len(leaks)} found in {len(texts)} logs/outputs, {len(in_store)} in the store"
    )
    assert sum(len(t) for t in texts.values()) > 1000  # the logs were really written, at DEBUG
    assert leaks == []
    assert in_store == []


async def _mcp_with_secrets(
    env: dict[str, str], logs: Path, note: str, secrets: dict[str, str]
) -> None:
    mcp = await RawMcp.spawn(
        [DEVMEM_MCP, "--project", "sec", "--log-level", "DEBUG"], env, logs / "mcp.log"
    )
    try:
        await mcp.initialize()
        made = await mcp.tool("remember", {"content": note, "kind": "decision"})
        assert not made.get("isError") and made["structuredContent"]["redactions"]
        for args in ({"query": secrets["github"]}, {"query": f"where is {secrets['aws']} used"}):
            await mcp.tool("recall", args)
        for bad in (
            {"content": f"{secrets['github']} \x00"},
            {"content": "x", "kind": secrets["github"]},
        ):
            assert (await mcp.tool("remember", bad)).get("isError")
        assert (await mcp.tool("get_memory", {"id": secrets["aws"]})).get("isError")
        await mcp.tool(
            "update_memory",
            {
                "id": made["structuredContent"]["memory"]["id"],
                "content": note + "\nRotated: " + secrets["github"],
            },
        )
    finally:
        await mcp.close()


async def _lsp_with_secrets(
    env: dict[str, str], logs: Path, tmp_path: Path, note: str, secrets: dict[str, str]
) -> None:
    repo = git_repo(
        tmp_path / "repo", {"deploy.py": f"KEY = '{secrets['aws']}'\n\n\ndef deploy():\n    pass\n"}
    )
    lsp = await RawLsp.spawn(
        [DEVMEM_LSP, "--db", env["DEVMEM_DB"], "--log-level", "DEBUG"],
        env,
        logs / "lsp.log",
        cwd=repo,
    )
    try:
        await lsp.initialize(repo)
        uri = await lsp.open(repo / "deploy.py")
        await lsp.command(
            "devmem.remember",
            {
                "content": note,
                "uri": uri,
                "range": {
                    "start": {"line": 0, "character": 0},
                    "end": {"line": 0, "character": 30},
                },
            },
        )
        await lsp.hover(uri, 0, 8)
        await lsp.command("devmem.search", {"query": secrets["github"]})
        for bad in (
            {"content": secrets["github"], "kind": secrets["github"]},
            {"content": f"{secrets['aws']}\x00"},
        ):
            with pytest.raises(RpcError):
                await lsp.command("devmem.remember", bad)
        with pytest.raises(RpcError):
            await lsp.command("devmem.open", {"id": secrets["aws"]})
        await asyncio.sleep(0.5)
    finally:
        await lsp.shutdown()


def _cli_with_secrets(
    env: dict[str, str], tmp_path: Path, note: str, secrets: dict[str, str]
) -> dict[str, str]:
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "deploy.md").write_text(f"---\ntoken: {secrets['github']}\n---\n{note}")
    # (A command line that names a secret as an argument gets it echoed in its own error
    # message, as any CLI does; that is the user's terminal, not a log, so not run here.)
    runs = {
        "cli add": cli(env, "add", "-", input=note),
        "cli search": cli(env, "search", secrets["github"]),
        "cli sync": cli(env, "sync", "markdown", str(vault), "--json"),
        "cli export": cli(env, "export", "-"),
        "cli list": cli(env, "list"),
    }
    assert runs["cli sync"].returncode == 0, runs["cli sync"].stderr
    return {name: run.stdout + run.stderr for name, run in runs.items()}
