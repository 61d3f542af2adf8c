"""The console connector: browser console captures as ``log`` memories, one per recurring error.

Errors and warnings are grouped by fingerprint (``connectors.console_parse``): a memory
per fingerprint and project, with the occurrence count, first and last seen, up to five
pages and an example message and stack.

Identity and cursor
    external id ``<project>:<fingerprint>``; the cursor (scope = project) keeps, per
    capture file, its content hash and what it contributed to each fingerprint. A memory
    is the sum of the contributions of the files that still exist, so:
Idempotence
    syncing the same file again changes nothing (same hash); a file that grew or was
    rewritten replaces its own contribution (never double counted); the same content
    under another name is recognised and not counted twice.
Deletions
    a capture file that no longer exists takes its counts with it; a fingerprint left with
    no occurrence is deleted.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from connectors.base import SyncContext, SyncReport
from connectors.common import BATCH_SIZE, apply_checked, clip, dump_cursor, load_cursor
from connectors.console_parse import Group, Grouped, group_events, open_capture
from connectors.safety import digest, escape_reason, file_kind_reason, open_regular
from core import MemoryInput

MAX_FILE_BYTES = 25 * 1024 * 1024
SUFFIXES = (".json", ".jsonl", ".ndjson")
MAX_PROBLEMS_LISTED = 20
MAX_CAPTURES_LISTED = 10


def capture_files(paths: Sequence[Path], skip: Any) -> list[Path]:
    """The files to read: each file given, and the captures (*.json, *.jsonl…) in each folder."""
    out: list[Path] = []
    for given in paths:
        path = given.expanduser()
        if path.is_dir():
            root = path.resolve()
            for f in sorted(root.rglob("*")):
                if not f.name.lower().endswith(SUFFIXES) or any(
                    p.startswith(".") for p in f.relative_to(root).parts
                ):
                    continue
                reason = escape_reason(f, root) or _kind_reason(f)
                if reason:
                    skip(str(f), reason)
                elif f.is_file():
                    out.append(f.resolve())
        elif path.is_file():
            out.append(path.resolve())
        else:
            skip(str(given), _kind_reason(path) or "no such file or folder")
    return list(dict.fromkeys(out))


def _kind_reason(path: Path) -> str | None:
    """Why ``path`` (a FIFO, a socket…) is not read; None for a file, a folder or nothing."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    return None if stat.S_ISDIR(mode) else file_kind_reason(mode)


def _contribution(g: Group) -> dict[str, Any]:
    return {
        "n": g.count,
        "first": g.first,
        "last": g.last,
        "urls": g.urls,
        "level": g.level,
        "norm": g.normalised,
        "func": g.function,
    }


class ConsoleConnector:
    """Sync console captures into one project (see the module docstring)."""

    name = "console"

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        project: str | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.paths = list(paths)
        self.project = project
        self.max_file_bytes = max_file_bytes
        self.batch_size = batch_size
        self.notes: list[str] = []

    def sync(self, ctx: SyncContext) -> SyncReport:
        key = self.project or "-"
        old: dict[str, Any] = load_cursor(ctx, key).get("files", {})
        # A capture that is gone takes its counts with it (deletion at the source).
        state = {p: v for p, v in old.items() if Path(p).is_file()}
        changed = set(old) - set(state)
        examples: dict[str, Group] = {}
        files = capture_files(self.paths, ctx.skip)
        for n, path in enumerate(files, start=1):
            if self._read(ctx, path, state, examples):
                changed.add(str(path))
            ctx.tick("captures", n, len(files), path.name)
        if not changed:
            return ctx.report
        fps = sorted(
            {fp for p in changed for v in (old.get(p), state.get(p)) if v for fp in v["groups"]}
        )
        self._write(ctx, key, fps, state, examples)
        return ctx.report

    def _read(
        self, ctx: SyncContext, path: Path, state: dict[str, Any], examples: dict[str, Group]
    ) -> bool:
        """Read one capture into ``state``; True when its contribution changed."""
        handle, reason = open_regular(path, self.max_file_bytes)
        if handle is None:
            ctx.skip(str(path), reason or "unreadable")
            return False
        with handle:
            sha, replaced, binary = digest(handle)
            if binary:
                ctx.skip(str(path), "binary file (contains NUL bytes); not text")
                return False
            if state.get(str(path), {}).get("sha") == sha:
                return False
            twin = next(
                (p for p, v in state.items() if v.get("sha") == sha and p != str(path)), None
            )
            if twin:
                self.notes.append(f"{path}: same content as {twin}, already counted")
                return False
            handle.seek(0)
            grouped = self._parse(ctx, path, handle, str(path) in state)
        if grouped is None:
            return False
        self._report_problems(ctx, path, grouped.problems)
        if replaced:
            self.notes.append(f"{path}: invalid UTF-8 bytes replaced by U+FFFD")
        if grouped.ignored:
            self.notes.append(f"{path}: {grouped.ignored} log/info/debug events left out")
        state[str(path)] = {
            "sha": sha,
            "groups": {fp: _contribution(g) for fp, g in grouped.groups.items()},
        }
        for fp, g in grouped.groups.items():
            if fp not in examples or (g.first and (examples[fp].first or "~") > g.first):
                examples[fp] = g
        return True

    def _parse(self, ctx: SyncContext, path: Path, handle: BinaryIO, known: bool) -> Grouped | None:
        """The capture's events grouped, or None when the file is skipped (with the reason)."""
        kept = "; the counts of its previous version are kept" if known else ""
        try:
            cap = open_capture(handle)
            grouped = group_events(cap)
        except (ValueError, TypeError, RecursionError) as exc:
            # Parsing is a function of this file alone: what it trips on skips this file only.
            ctx.skip(str(path), f"could not be read ({type(exc).__name__}: {exc}){kept}")
            return None
        if cap.fatal:
            ctx.skip(str(path), cap.fatal + kept)
            return None
        return grouped

    def _report_problems(self, ctx: SyncContext, path: Path, problems: list[str]) -> None:
        for p in problems[:MAX_PROBLEMS_LISTED]:
            ctx.skip(f"{path.name} {p.split(':', 1)[0]}", p.split(":", 1)[-1].strip())
        more = len(problems) - MAX_PROBLEMS_LISTED
        if more > 0:
            ctx.skip(
                path.name,
                f"{more} more malformed lines/events skipped (the first "
                f"{MAX_PROBLEMS_LISTED} are listed)",
            )

    def _write(
        self,
        ctx: SyncContext,
        key: str,
        fps: list[str],
        state: dict[str, Any],
        examples: dict[str, Group],
    ) -> None:
        inputs: list[MemoryInput] = []
        deletions: list[str] = []
        for fp in fps:
            inp = self._input(ctx, key, fp, state, examples.get(fp))
            if inp is None:
                deletions.append(f"{key}:{fp}")
            else:
                inputs.append(inp)
        cursor = (key, dump_cursor({"files": state}))
        # Memories are a pure function of the files, so batches before the last (which
        # carries the cursor) can be re-applied by a resumed run with the same result.
        for start in range(0, len(inputs), self.batch_size):
            last = start + self.batch_size >= len(inputs)
            apply_checked(
                ctx,
                inputs[start : start + self.batch_size],
                deletions if last else (),
                cursor if last else None,
            )
        if not inputs:
            apply_checked(ctx, [], deletions, cursor)

    def _input(
        self, ctx: SyncContext, key: str, fp: str, state: dict[str, Any], example: Group | None
    ) -> MemoryInput | None:
        parts = [(p, v["groups"][fp]) for p, v in sorted(state.items()) if fp in v["groups"]]
        count = sum(int(c["n"]) for _, c in parts)
        if count == 0:
            return None
        firsts = [c["first"] for _, c in parts if c["first"]]
        lasts = [c["last"] for _, c in parts if c["last"]]
        urls = list(dict.fromkeys(u for _, c in parts for u in c["urls"]))[:5]
        info = parts[0][1]
        stored = ctx.service.find_external("console", f"{key}:{fp}")
        old_meta = stored.metadata if stored else {}
        message = example.example if example else old_meta.get("example", info["norm"])
        stack = example.stack if example else old_meta.get("stack")
        meta = {
            "fingerprint": fp,
            "level": info["level"],
            "normalised": info["norm"],
            "function": info["func"],
            "count": count,
            "first_seen": min(firsts, default=None),
            "last_seen": max(lasts, default=None),
            "urls": urls,
            "example": message,
            "stack": stack,
            "captures": [p for p, _ in parts][:MAX_CAPTURES_LISTED],
        }
        return MemoryInput(
            content=_content(meta),
            title=clip(f"{info['level'].capitalize()}: {info['norm']}", 160),
            kind="log",
            tags=["console", info["level"]],
            project=None if key == "-" else key,
            source="console",
            external_id=f"{key}:{fp}",
            source_url=Path(parts[0][0]).as_uri(),
            event_at=meta["last_seen"],
            metadata=meta,
        )


def _content(meta: dict[str, Any]) -> str:
    lines = [f"Console {meta['level']}: {meta['example']}"]
    if meta["function"]:
        lines.append(f"  at {meta['function']}")
    seen = f"Seen {meta['count']:,} time{'s' if meta['count'] != 1 else ''}"
    if meta["first_seen"]:
        seen += f", first {meta['first_seen']}, last {meta['last_seen']}"
    if meta["urls"]:
        seen += f", on {', '.join(meta['urls'])}"
    lines.append(seen + ".")
    if meta["stack"]:
        lines += ["Stack (example):", meta["stack"]]
    return "\n".join(lines)
