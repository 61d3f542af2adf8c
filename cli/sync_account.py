"""`devmem sync github OWNER/REPO` and `devmem sync m365`: the account connectors.

This is their entry point: it reads the environment (tokens, API URLs, the Microsoft app
registration), builds the HTTP client and the connector, and prints the report.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Annotated

import httpx
import typer

from connectors.base import SyncContext, SyncReport
from connectors.github import API_URL, GitHubConnector, token_from
from connectors.m365.auth import M365Auth, M365Settings
from connectors.m365.graph import GRAPH_URL
from connectors.m365.sync import AREAS, M365Connector
from core import acting_as, pin_mmap_threshold

from .common import console, err_console, errors, print_json, progress_bar, service, to_jsonable

DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the report as JSON.")]
TIMEOUT = httpx.Timeout(60.0, connect=15.0)
MAX_LISTED = 50


def register(app: typer.Typer) -> None:
    """Add the `github` and `m365` commands to the `devmem sync` app."""
    app.command("github")(github)
    app.command("m365")(m365)


def github(
    repo: Annotated[str, typer.Argument(help="The repository, as OWNER/REPO.")],
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="Re-read everything (and drop issues deleted or transferred on GitHub)."
        ),
    ] = False,
    project: Annotated[
        str | None,
        typer.Option(
            "--project", help="Project name (default: REPO, as the git connector names a clone)."
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Import a GitHub repository's issues, pull requests, comments and review comments.

    The token comes from GITHUB_TOKEN, GH_TOKEN or the gh CLI's login; it is never stored.
    Example: [dim]devmem sync github psf/requests[/]
    """
    token = token_from(os.environ)
    if not token and not json_out:
        err_console.print(
            "[yellow]No GitHub token (GITHUB_TOKEN, GH_TOKEN or `gh auth login`): "
            "public repositories only, 60 requests per hour.[/]"
        )
    api = os.environ.get("DEVMEM_GITHUB_API", "").strip() or API_URL
    with _interruptible(), errors():
        pin_mmap_threshold()  # an import's embedding batches must not pile up in the heap
        svc = service()
        with (
            httpx.Client(timeout=TIMEOUT) as client,
            acting_as(None, client="connector"),
            progress_bar(f"github {repo}", enabled=not json_out) as bar,
        ):
            connector = GitHubConnector(
                client, repo, token=token, api_url=api, full=full, project=project
            )
            report = connector.sync(SyncContext(svc, connector.name, dry_run=dry_run, progress=bar))
    show_report(report, json_out)


def m365(
    mail: Annotated[
        bool, typer.Option("--mail", help="Outlook mail (inbox and sent items).")
    ] = False,
    calendar: Annotated[
        bool, typer.Option("--calendar", help="Calendar events (a year back, six months ahead).")
    ] = False,
    teams: Annotated[
        bool, typer.Option("--teams", help="Teams chats and channel messages.")
    ] = False,
    files: Annotated[
        bool,
        typer.Option("--files", help="OneDrive files (text, Markdown, Word, PowerPoint, Excel)."),
    ] = False,
    dry_run: DryRunOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Import Microsoft 365 mail, meetings, Teams messages and files (all four when none is named).

    Sign in first with [dim]devmem m365 login[/].
    """
    chosen = [name for name, on in zip(AREAS, (mail, calendar, teams, files), strict=True) if on]
    settings = M365Settings.from_env(os.environ)
    graph_url = os.environ.get("DEVMEM_GRAPH_URL", "").strip() or GRAPH_URL
    with _interruptible(), errors():
        pin_mmap_threshold()  # an import's embedding batches must not pile up in the heap
        svc = service()
        with (
            httpx.Client(timeout=TIMEOUT) as client,
            acting_as(None, client="connector"),
            progress_bar("m365", enabled=not json_out) as bar,
        ):
            connector = M365Connector(
                client, M365Auth(settings, client), graph_url=graph_url, areas=chosen or AREAS
            )
            report = connector.sync(SyncContext(svc, connector.name, dry_run=dry_run, progress=bar))
    show_report(report, json_out)


def show_report(report: SyncReport, json_out: bool) -> None:
    """The summary line, then what was skipped and why (as `devmem sync git` prints it)."""
    if json_out:
        print_json({**to_jsonable(report), "summary": report.summary()})
        return
    console.print(report.summary(), highlight=False)
    for line in report.skipped[:MAX_LISTED]:
        console.print(f"  skipped {line}", highlight=False, markup=False, soft_wrap=True)
    if len(report.skipped) > MAX_LISTED:
        console.print(
            f"  … and {len(report.skipped) - MAX_LISTED} more (use --json to see all)",
            highlight=False,
        )


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: the pages stored so far are kept; run the same command again to resume."
        )
        raise typer.Exit(130) from None
