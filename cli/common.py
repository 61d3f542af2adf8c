"""What every `devmem` command shares: opening the service, output, errors, progress."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from core import (
    DevMemError,
    MemoryService,
    ProgressCallback,
    ProgressEvent,
    Settings,
    build_service,
)

console = Console()
err_console = Console(stderr=True)


@dataclasses.dataclass
class State:
    """Options given before the command (`devmem --db X search …`)."""

    db: str | None = None
    db_read: str | None = None
    service: MemoryService | None = None


STATE = State()


def service(*, embeddings: bool = True) -> MemoryService:
    """The service for this run, opened once (the CLI's composition root)."""
    if STATE.service is None:
        env = dict(os.environ)
        if not embeddings:
            env["DEVMEM_EMBEDDINGS"] = "0"
        try:
            STATE.service = build_service(Settings.from_env(env, STATE.db, STATE.db_read))
        except DevMemError as exc:
            fail(exc)
    return STATE.service


def fail(exc: DevMemError | str, code: int = 1) -> NoReturn:
    """One clear line on stderr (plus the hint) and a non-zero exit."""
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def errors() -> Iterator[None]:
    """Turn DevMemory errors into one line and exit code 1 (2 for bad input)."""
    try:
        yield
    except DevMemError as exc:
        fail(exc, 2 if exc.code in ("invalid_input", "content_too_large") else 1)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, tuples → plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), ensure_ascii=False, indent=2) + "\n")


@contextlib.contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[ProgressCallback]:
    """A rich progress bar fed by core ProgressEvents (silent when not a terminal / disabled)."""
    if not enabled or not err_console.is_terminal:
        yield _quiet
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}"),
    )
    with Progress(*columns, console=err_console, transient=False) as bar:
        task = bar.add_task(description, total=None, message="")

        def update(event: ProgressEvent) -> None:
            bar.update(
                task,
                completed=event.done,
                total=event.total,
                # "reindex · reindex" says nothing twice: the stage only when it adds something
                description=description
                if event.stage in ("", description)
                else f"{description} · {event.stage}",
                message=event.message[:60],
            )

        yield update


def _quiet(_: ProgressEvent) -> None:
    return None


Command = Callable[..., Any]
