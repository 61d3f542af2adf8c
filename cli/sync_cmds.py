"""`devmem sync …`: run connectors (local ones here; account ones in cli/sync_account.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from core import acting_as, pin_mmap_threshold

from .common import console, err_console, errors, print_json, progress_bar, service, to_jsonable

app = typer.Typer(
    help="Import memories from outside sources (git, markdown, console logs, GitHub, Microsoft 365).",
    no_args_is_help=True,
)

DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
MAX_LISTED = 50


def _run_connector(
    connector: Any, *, dry_run: bool, as_json: bool, show_progress: bool = True
) -> None:
    """Run one connector with a progress bar, then print its summary (or JSON)."""
    from connectors.base import SyncContext

    pin_mmap_threshold()  # an import's embedding batches must not pile up in the heap
    svc = service()
    try:
        with (
            errors(),
            acting_as(None, client="connector"),  # a team store's audit names the connector
            progress_bar(f"sync {connector.name}", enabled=show_progress and not as_json) as bar,
        ):
            report = connector.sync(SyncContext(svc, connector.name, dry_run=dry_run, progress=bar))
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: the batches stored so far are kept; run the same command again to resume."
        )
        raise typer.Exit(130) from None
    _print_report(report, getattr(connector, "notes", []), as_json)


def _print_report(report: Any, notes: list[str], as_json: bool) -> None:
    if as_json:
        print_json({**to_jsonable(report), "notes": notes, "summary": report.summary()})
        return
    console.print(report.summary(), highlight=False, soft_wrap=True)
    for line in report.skipped[:MAX_LISTED]:
        console.print(f"  skipped {line}", highlight=False, markup=False, soft_wrap=True)
    for line in notes[:MAX_LISTED]:
        console.print(f"  note: {line}", highlight=False, markup=False, soft_wrap=True)
    hidden = max(0, len(report.skipped) - MAX_LISTED) + max(0, len(notes) - MAX_LISTED)
    if hidden:
        console.print(f"  … and {hidden} more (--json lists them all)", highlight=False)


@app.command("git")
def sync_git(
    path: Annotated[Path, typer.Argument(help="The repository, or any folder inside it.")] = Path(
        "."
    ),
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Leave out REV and its ancestors, or commits before a date (2024-01-31). Remembered for later syncs; `all` lifts it.",
        ),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option("--project", help="Project name (default: the repository's folder name)."),
    ] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a repository's commits: message, author, files and the functions they changed.

    [dim]devmem sync git ~/src/shop --since v1.0[/]  Incremental from the last sync; commits that a
    rebase or force-push removed from every branch are deleted and their replacements added.
    """
    from connectors.git import GitConnector

    _run_connector(
        GitConnector(path, since=since, project=project), dry_run=dry_run, as_json=as_json
    )


@app.command("markdown")
def sync_markdown(
    path: Annotated[
        Path, typer.Argument(help="The folder of notes: an Obsidian vault, docs/adr, a wiki…")
    ],
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep syncing as notes change (Ctrl+C stops).")
    ] = False,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            help="Project name (default: the git repository holding the folder, else the folder's name).",
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import Markdown notes: front matter, wikilinks, long notes split at their headings.

    [dim]devmem sync markdown ~/vault --watch[/]  Unchanged notes (same mtime and size) are not read;
    deleted notes are removed; a renamed note is removed and added.
    """
    from connectors.markdown import MarkdownConnector
    from connectors.markdown import watch as watch_folder
    from core import git_project

    folder = path.expanduser().resolve()
    name = project or git_project(folder) or folder.name

    def once() -> None:
        _run_connector(
            MarkdownConnector(folder, project=name),
            dry_run=dry_run,
            as_json=as_json,
            show_progress=not watch,
        )

    if not watch:
        once()
        return
    err_console.print(f"watching {folder} for changes (Ctrl+C stops)")
    try:
        watch_folder(folder, once)
    except KeyboardInterrupt:
        err_console.print("stopped watching.")


@app.command("console")
def sync_console(
    files: Annotated[
        list[Path],
        typer.Argument(
            help='Capture files (JSON array, {"events": […]}, JSON Lines) or folders of them.'
        ),
    ],
    project: Annotated[
        str | None,
        typer.Option(
            "--project", help="Project name (default: the git repository of the current folder)."
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import browser console errors and warnings: one memory per recurring error, with counts.

    [dim]devmem sync console session.json captures/[/]  Events are grouped by a fingerprint (numbers,
    ids and URLs masked); syncing the same file again counts nothing twice. Format: docs/connectors.md.
    """
    from connectors.console import ConsoleConnector
    from core import git_project

    name = project or git_project(Path.cwd())
    _run_connector(ConsoleConnector(files, project=name), dry_run=dry_run, as_json=as_json)
