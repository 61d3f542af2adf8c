"""Language server under a real editor's load (issue 21), used by ``lsp_latency.py``:

* ``--long-line``: hover p95 at random columns of a file whose first line is 500 KB (45k
  ``"#rrggbb"`` strings), hovers on another file while each of those is in flight, and a
  hover on another file while a 4 MB Python file is re-parsed after an edit (goal: hover
  p95 ≤ 50 ms, other files unaffected);
* ``--big-lens``: code lenses of a 5.2 MB file with 50k definitions: the first request, a
  repeat on the unchanged document (goal ≤ 50 ms) and the request after an edit.

Each drives the real `devmem-lsp` over stdio with the bench's JSON-RPC client, on a store
of a few hundred memories anchored to (and naming) the generated files' functions.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path
from typing import Any

LONG_LINE_STRINGS = 45_000
BIG_DEFINITIONS = 50_000


def long_line_text() -> str:
    colours = ", ".join(f'"#{i * 37 % 0xFFFFFF:06x}"' for i in range(LONG_LINE_STRINGS))
    return f"PALETTE = [{colours}]\n\n\ndef shade(colour, amount):\n    return colour\n"


def big_python(definitions: int = BIG_DEFINITIONS) -> str:
    return "".join(
        f"def handle_{i}(event, context):\n"
        f"    total = event.amount + context.offset + {i}\n    return total\n\n"
        for i in range(definitions)
    )


def store_for(db: Path, path: str, text: str, n: int = 300) -> None:
    """``n`` memories without vectors, one in three anchored to a function of ``text``,
    the rest naming one."""
    from core.anchors import fingerprint
    from core.embeddings import UnavailableEmbedder
    from core.models import CodeAnchor, MemoryInput
    from core.service import MemoryService

    if db.exists():
        return
    lines = text.splitlines()
    defs = [i for i, ln in enumerate(lines, start=1) if ln.startswith("def ")]
    rng = random.Random(3)
    inputs = []
    for i in range(n):
        line = rng.choice(defs)
        name = lines[line - 1][4:].split("(")[0]
        anchor = (
            CodeAnchor(path, line, line + 1, name, None, fingerprint(lines[line - 1 : line + 1]))
            if i % 3 == 0
            else None
        )
        inputs.append(
            MemoryInput(
                f"Memory {i}: `{name}` drops events when the queue is full.",
                project="shop",
                anchor=anchor,
            )
        )
    svc = MemoryService.open(db, UnavailableEmbedder("bench store"))
    svc.remember_many(inputs)
    svc.close()


async def _session(lat: Any, db: Path, cache: Path, repo: Path, files: dict[str, str]) -> Any:
    env = {
        **os.environ,
        "DEVMEM_DB": str(db),
        "DEVMEM_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "DEVMEM_ENGINE": "off",  # the in-process server (bench/footprint.py: the engine)
    }
    client = await lat.Client.start(env)
    root = repo.as_uri()
    await client.request(
        "initialize",
        {
            "processId": os.getpid(),
            "rootUri": root,
            "workspaceFolders": [{"uri": root, "name": "shop"}],
            "capabilities": {},
            "initializationOptions": {"diagnostics": {"enabled": False}},
        },
    )
    client.notify("initialized", {})
    for name, text in files.items():
        path = repo / "src" / name
        path.write_text(text)
        client.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": path.as_uri(),
                    "languageId": "python",
                    "version": 1,
                    "text": text,
                }
            },
        )
    await lat.wait_for_model(client)
    return client


async def _hover(client: Any, uri: str, line: int, character: int) -> Any:
    return await client.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
    )


async def long_line(
    lat: Any, workdir: Path, cache: Path, repo: Path, hovers: int = 200
) -> dict[str, Any]:
    text, big = long_line_text(), big_python(40_000)
    store_for(workdir / "load-long-line.db", "src/palette.py", text, 30)
    client = await _session(
        lat,
        workdir / "load-long-line.db",
        cache,
        repo,
        {"palette.py": text, "big_handlers.py": big},
    )
    uri, big_uri = ((repo / "src" / n).as_uri() for n in ("palette.py", "big_handlers.py"))
    other = (repo / "src" / "billing.py").as_uri()
    other_lines = (repo / "src" / "billing.py").read_text().splitlines()
    width = len(text.splitlines()[0])
    rng = random.Random(5)
    await _hover(client, uri, 0, 10)
    await client.request("textDocument/codeLens", {"textDocument": {"uri": big_uri}})
    alone, on_line, beside = [], [], []
    for _ in range(hovers):
        other_at = (rng.randrange(len(other_lines)), 8)
        alone.append((await lat.timed(_hover(client, other, *other_at)))[0])
        pending = asyncio.ensure_future(lat.timed(_hover(client, uri, 0, rng.randrange(width))))
        beside.append((await lat.timed(_hover(client, other, *other_at)))[0])
        on_line.append((await pending)[0])
    during_parse = await _during_parse(lat, client, big_uri, other, other_lines, rng)
    await client.close()
    return {
        "line_kb": round(width / 1024),
        "hover_long_line": lat.summary(on_line),
        "other_file_alone": lat.summary(alone),
        "other_file_meanwhile": lat.summary(beside),
        "other_file_during_4mb_parse": during_parse,
    }


async def _during_parse(
    lat: Any,
    client: Any,
    big_uri: str,
    other: str,
    other_lines: list[str],
    rng: random.Random,
    rounds: int = 10,
) -> dict[str, float]:
    """A hover on another file right after an edit of a 4 MB Python file whose lenses (and
    so a parse of the new version) were asked for."""
    times = []
    for version in range(2, 2 + rounds):
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": big_uri, "version": version},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 0},
                            "end": {"line": 0, "character": 0},
                        },
                        "text": "#",
                    }
                ],
            },
        )
        lens = asyncio.ensure_future(
            client.request("textDocument/codeLens", {"textDocument": {"uri": big_uri}})
        )
        await asyncio.sleep(0.05)  # the parse has started
        times.append(
            (await lat.timed(_hover(client, other, rng.randrange(len(other_lines)), 8)))[0]
        )
        await lens
    return lat.summary(times)


async def big_lens(
    lat: Any, workdir: Path, cache: Path, repo: Path, repeats: int = 30
) -> dict[str, Any]:
    text = big_python()
    store_for(workdir / "load-big-lens.db", "src/handlers.py", text)
    client = await _session(lat, workdir / "load-big-lens.db", cache, repo, {"handlers.py": text})
    uri = (repo / "src" / "handlers.py").as_uri()
    lens = {"textDocument": {"uri": uri}}
    first_ms, found = await lat.timed(client.request("textDocument/codeLens", lens))
    repeat = [
        (await lat.timed(client.request("textDocument/codeLens", lens)))[0] for _ in range(repeats)
    ]
    after_edit = []
    for version in range(2, 7):
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 0},
                            "end": {"line": 0, "character": 0},
                        },
                        "text": "#",
                    }
                ],
            },
        )
        after_edit.append((await lat.timed(client.request("textDocument/codeLens", lens)))[0])
    hover_after_edit = []  # the file stops parsing at its end: every keystroke is a new version
    for version in range(7, 12):
        client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [
                    {
                        "range": {
                            "start": {"line": 0, "character": 0},
                            "end": {"line": 0, "character": 0},
                        },
                        "text": "def broken(:\n",
                    }
                ],
            },
        )
        hover_after_edit.append((await lat.timed(_hover(client, uri, 4 * version, 6)))[0])
    await client.close()
    return {
        "file_mb": round(len(text) / 1e6, 1),
        "definitions": BIG_DEFINITIONS,
        "lenses": len(found or []),
        "first_ms": round(first_ms, 1),
        "repeat": lat.summary(repeat),
        "after_edit": lat.summary(after_edit),
        "hover_after_keystroke_unparsable": lat.summary(hover_after_edit),
    }


def report(name: str, figures: dict[str, Any]) -> str:
    lines = [name]
    for key, value in figures.items():
        if isinstance(value, dict):
            lines.append(
                f"  {key:<28} p50 {value['p50_ms']:>8.2f} ms  p95 {value['p95_ms']:>8.2f} ms  "
                f"max {value['max_ms']:>8.2f} ms  (n={value['n']})"
            )
        else:
            lines.append(f"  {key:<28} {value}")
    return "\n".join(lines)
