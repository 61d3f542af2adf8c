"""`devmem`: the command line over the DevMemory store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from core import (
    KINDS,
    RECOVERY,
    SEARCH_MODES,
    Check,
    CodeAnchor,
    DoctorReport,
    InvalidInput,
    MemoryInput,
    MemoryPatch,
    SearchFilters,
    __version__,
    acting_as,
    export_jsonl,
    export_markdown,
    git_project,
    import_records,
    read_jsonl,
    read_markdown,
)

from . import common
from .common import console, errors, print_json, service
from .render import hits_table, memories_table, memory_detail, write_line

app = typer.Typer(
    help="DevMemory: a developer's long-term memory, local and offline.\n\n"
    "Store decisions, fixes and notes; search them by words and meaning; serve them to AI "
    "assistants (devmem-mcp) and editors (devmem-lsp).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
KindsOpt = Annotated[
    list[str] | None, typer.Option("--kind", "-k", help="Only these kinds (repeatable).")
]
TagsOpt = Annotated[
    list[str] | None, typer.Option("--tag", "-t", help="Only with these tags (repeatable).")
]


def _version(value: bool) -> None:
    if value:
        console.print(f"devmem {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="DEVMEM_DB",
            help="Database file (default: your platform's data folder), or a team store "
            "postgresql://USER@HOST/DB with your own credentials.",
        ),
    ] = None,
    db_read: Annotated[
        str | None,
        typer.Option(
            "--db-read",
            help="A read replica of the team store for searches, listings and the graph "
            "(default: $DEVMEM_DB_READ); writes stay on --db, and reads fall back to it.",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    common.STATE.db = db
    common.STATE.db_read = db_read
    # a team store's audit log names the client: every statement of this command says "cli"
    ctx.with_resource(acting_as(None, client="cli"))


def _filters(
    kind: list[str] | None,
    tag: list[str] | None,
    all_tags: bool,
    project: str | None,
    source: str | None,
    since: str | None,
    until: str | None,
    path: str | None = None,
) -> SearchFilters:
    from core import to_iso

    return SearchFilters(
        kinds=list(kind or []),
        tags=list(tag or []),
        tags_mode="all" if all_tags else "any",
        project=project,
        source=source,
        since=to_iso(since),
        until=to_iso(until),
        path=path,
    )


@app.command()
def add(
    text: Annotated[
        str | None, typer.Argument(help="The memory's text; '-' or nothing reads stdin.")
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", help="A short title (default: the first line).")
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", "-k", help=f"One of {', '.join(KINDS)}, or your own word.")
    ] = "note",
    tags: Annotated[str, typer.Option("--tags", help="Comma-separated tags.")] = "",
    project: Annotated[
        str | None, typer.Option("--project", help="Project (default: this git repository's name).")
    ] = None,
    file: Annotated[
        str | None, typer.Option("--file", help="Anchor to this file (path[:line[-end]]).")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option("--symbol", help="Anchor to this function/class.")
    ] = None,
    visibility: Annotated[
        str, typer.Option("--visibility", help="private, team or public.")
    ] = "private",
    event_at: Annotated[
        str | None,
        typer.Option(
            "--event-at",
            "--when",
            help="When it happened, if not now: ISO date or time (2023-05-08, 2023-05-08T14:30Z).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Remember something: [dim]devmem add "We pin numpy<2 because …" --kind decision --tags deps[/]

    Also available as [bold]devmem remember[/]."""
    content = sys.stdin.read() if text in (None, "-") else text
    with errors():
        inp = MemoryInput(
            content=content or "",
            title=title,
            kind=kind,
            tags=[t for t in tags.split(",") if t],
            project=project if project is not None else git_project(Path.cwd()),
            anchor=_anchor(file, symbol),
            visibility=visibility,
            event_at=event_at,
        )
        result = service().remember(inp)
    print_json(result) if json_out else console.print(write_line(result))


app.command("remember", help="Remember something (the same as add).")(add)


def _anchor(file: str | None, symbol: str | None) -> CodeAnchor | None:
    if not file:
        return None
    path, _, lines = file.partition(":")
    start, _, end = lines.partition("-")
    return CodeAnchor(
        path=path,
        start_line=int(start) if start.isdigit() else None,
        end_line=int(end) if end.isdigit() else None,
        symbol=symbol,
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for (any text is safe).")],
    mode: Annotated[
        str, typer.Option("--mode", "-m", help=f"One of {', '.join(SEARCH_MODES)}.")
    ] = "hybrid",
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many hits.")] = 10,
    kind: KindsOpt = None,
    tag: TagsOpt = None,
    all_tags: Annotated[
        bool, typer.Option("--all-tags", help="Require every --tag, not any.")
    ] = False,
    project: Annotated[str | None, typer.Option("--project", help="Only this project.")] = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Only from this source (user, assistant, git…).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Not before this date (ISO).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Not after this date (ISO).")] = None,
    related: Annotated[bool, typer.Option("--related", help="Also show related entities.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Search memories by words, meaning and entities."""
    with errors():
        svc = service()
        svc.embedder.wait(30)  # a one-shot command can wait for the model; servers do not
        result = svc.recall(
            query,
            mode=mode,
            limit=limit,
            include_related=related,
            filters=_filters(kind, tag, all_tags, project, source, since, until),
        )
    if json_out:
        return print_json(result)
    for notice in result.notices:
        console.print(f"[yellow]{notice}[/]")
    if not result.hits:
        console.print("No memories match. Try other words, `--mode text`, or fewer filters.")
        return
    with errors():
        shown = svc.short_ids(hit.memory.id for hit in result.hits)
    console.print(hits_table(result, shown, console.width))
    if result.related_entities:
        console.print(
            "related: " + ", ".join(f"{e.display} ({e.type})" for e in result.related_entities)
        )


@app.command()
def show(
    memory_id: Annotated[str, typer.Argument(help="The memory's id (or a unique prefix).")],
    versions: Annotated[
        bool, typer.Option("--versions", help="Also show its version history.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show one memory in full."""
    with errors():
        svc = service(embeddings=False)
        memory = svc.get(memory_id)
        history = svc.versions(memory_id) if versions else []
        links = svc.links(memory_id)
        short = svc.short_ids(i for link in links for i in (link.source_id, link.target_id))
    if json_out:
        return print_json({"memory": memory, "links": links, "versions": history})
    console.print(memory_detail(memory))
    for link in links:
        console.print(
            f"[dim]link:[/] {short[link.source_id]} —{link.type}→ {short[link.target_id]}"
        )
    for v in history:
        flag = " [yellow](pending review)[/]" if v.pending else ""
        console.print(f"[dim]v{v.version}[/] {v.changed_at} by {v.changed_by}{flag}: {v.title}")


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option("--limit", "-n")] = 20,
    offset: Annotated[int, typer.Option("--offset")] = 0,
    kind: KindsOpt = None,
    tag: TagsOpt = None,
    project: Annotated[str | None, typer.Option("--project")] = None,
    source: Annotated[str | None, typer.Option("--source")] = None,
    path: Annotated[
        str | None, typer.Option("--path", help="Anchored to this file (or folder/).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List memories, newest first."""
    with errors():
        svc = service(embeddings=False)
        page = svc.list(
            _filters(kind, tag, False, project, source, None, None, path),
            limit=limit,
            offset=offset,
        )
    if json_out:
        return print_json(page)
    with errors():
        shown = svc.short_ids(m.id for m in page.memories)
    console.print(memories_table(page.memories, shown, console.width))
    more = f"; next page: --offset {page.next_offset}" if page.next_offset is not None else ""
    console.print(f"[dim]{len(page.memories)} of {page.total}{more}[/]")


@app.command()
def edit(
    memory_id: Annotated[str, typer.Argument(help="The memory's id (or a unique prefix).")],
    text: Annotated[
        str | None, typer.Option("--text", help="New content ('-' reads stdin).")
    ] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    kind: Annotated[str | None, typer.Option("--kind")] = None,
    tags: Annotated[
        str | None, typer.Option("--tags", help="Comma-separated; replaces the tags.")
    ] = None,
    visibility: Annotated[str | None, typer.Option("--visibility")] = None,
    accept: Annotated[
        int | None, typer.Option("--accept", help="Apply this pending version.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a memory (a new version is kept), or accept a pending version."""
    content = sys.stdin.read() if text == "-" else text
    with errors():
        svc = service()
        if accept is not None:
            result = svc.accept_pending(memory_id, accept)
        else:
            patch = MemoryPatch(
                content=content,
                title=title,
                kind=kind,
                visibility=visibility,
                tags=[t for t in tags.split(",") if t] if tags is not None else None,
            )
            result = svc.update(memory_id, patch, source="user")
    print_json(result) if json_out else console.print(write_line(result))


@app.command()
def forget(
    memory_id: Annotated[str, typer.Argument(help="The memory's id (or a unique prefix).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a memory, with its history, links and index entries."""
    with errors():
        svc = service(embeddings=False)
        memory = svc.get(memory_id)
        if (
            not yes
            and sys.stdin.isatty()
            and not typer.confirm(f"Forget {memory.id} “{memory.title}”?")
        ):
            raise typer.Exit(1)
        removed = svc.forget(memory_id)
    console.print(f"forgot {removed.id}  {removed.title}")


@app.command()
def link(
    source_id: Annotated[str, typer.Argument(help="From this memory…")],
    target_id: Annotated[str, typer.Argument(help="…to this one.")],
    link_type: Annotated[
        str, typer.Option("--type", help="related, supersedes, depends_on, implements, references.")
    ] = "related",
    remove: Annotated[bool, typer.Option("--remove", help="Remove the link instead.")] = False,
) -> None:
    """Link two memories (typed)."""
    with errors():
        svc = service(embeddings=False)
        if remove:
            console.print(f"removed {svc.unlink(source_id, target_id, link_type)} link(s)")
            return
        made = svc.link(source_id, target_id, link_type)
    console.print(f"linked {made.source_id} —{made.type}→ {made.target_id}")


@app.command()
def stats(json_out: JsonOpt = False) -> None:
    """Counts by kind, project and source; database size; model status."""
    with errors():
        data = service(embeddings=False).stats()
    if json_out:
        return print_json(data)
    console.print(
        f"[bold]{data['memories']}[/] memories, {data['vectors']} vectors, {data['links']} links, "
        f"{data['entities']} entities, {data['relations']} relations"
    )
    console.print(
        f"database: {data['db_path']} ({data['db_bytes'] / 1e6:.1f} MB, schema v{data['schema_version']})"
    )
    if replica := data.get("read_replica"):
        state = f"lag {replica['lag_s']:.1f} s" if replica["answering"] else "not answering"
        console.print(f"read replica: {replica['location']} ({state})")
    for key in ("by_kind", "by_project", "by_source"):
        if data[key]:
            console.print(
                f"{key.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in data[key].items())
            )


@app.command()
def doctor(
    check: Annotated[
        bool, typer.Option("--check", help="Also verify integrity and index consistency.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Check the model, sqlite-vec and the database, and say what to do about problems."""
    report = _doctor_report(check)
    if json_out:
        print_json(report)
    else:
        for c in report.checks:
            mark = "[green]✓[/]" if c.ok else "[red]✗[/]"
            console.print(
                f"{mark} {c.name}: {c.detail}"
                + (f"\n    [yellow]→ {c.fix}[/]" if not c.ok and c.fix else "")
            )
        console.print(
            "[green]All good.[/]" if report.ok else "[red]Some checks failed; see the → lines.[/]"
        )
        for line in _engine_lines():
            console.print(line, highlight=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


def _engine_lines() -> list[str]:
    """The engine, as `devmem serve status` shows it (doctor never starts one)."""
    import os

    from core import ENGINE_ENV, engine_enabled, engine_request

    from .serve_cmds import describe

    if not engine_enabled(os.environ):
        return [f"engine: off ({ENGINE_ENV}); every command works in its own process"]
    info = engine_request(os.environ, "status")
    if info is None:
        return ["engine: not running (clients start it when they need it)"]
    return describe(info)


def _doctor_report(check: bool) -> DoctorReport:
    """Doctor must work on the stores it is meant to diagnose: one that will not open
    becomes a failed check with the recovery steps, not an error pointing back here."""
    import os

    from core import DevMemError, Settings, StoreError, build_service, shown_location

    settings = Settings.from_env(dict(os.environ), common.STATE.db, common.STATE.db_read)
    try:
        svc = build_service(settings)
        common.STATE.service = svc
        with errors():
            return svc.doctor(check=check)
    except StoreError as exc:
        failed = Check(
            "database", False, f"{shown_location(settings.db_path)}: {exc.message}", RECOVERY
        )
        return DoctorReport([failed])
    except DevMemError as exc:
        common.fail(exc)


@app.command()
def reindex(
    missing: Annotated[
        bool, typer.Option("--missing", help="Only embed memories that have no vector.")
    ] = False,
    text: Annotated[
        bool, typer.Option("--text", help="Rebuild the full-text index instead.")
    ] = False,
) -> None:
    """Re-embed memories (after a model change) or rebuild the full-text index."""
    with errors():
        svc = service()
        if text:
            console.print(f"full-text index rebuilt for {svc.reindex_text()} memories")
            return
        with common.progress_bar("reindex") as progress:
            count = svc.reindex(full=not missing, progress=progress)
    console.print(f"embedded {count} memories with {svc.embedder.identity}")


@app.command()
def export(
    dest: Annotated[
        str, typer.Argument(help="A .jsonl file ('-' for stdout), or a folder with --markdown.")
    ] = "-",
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Write a folder of Markdown files with front matter.")
    ] = False,
    project: Annotated[str | None, typer.Option("--project")] = None,
) -> None:
    """Export memories as JSON Lines or Markdown (a round trip through import loses nothing)."""
    with errors():
        svc = service(embeddings=False)
        filters = SearchFilters(project=project) if project else None
        if markdown:
            count = export_markdown(svc, Path(dest), filters)
        elif dest == "-":
            count = export_jsonl(svc, sys.stdout, filters)
        else:
            with open(dest, "w", encoding="utf-8") as out:
                count = export_jsonl(svc, out, filters)
    common.err_console.print(f"exported {count} memories")


@app.command("import")
def import_(
    src: Annotated[
        str, typer.Argument(help="A .jsonl file ('-' for stdin), or a folder with --markdown.")
    ],
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Read a folder of Markdown files.")
    ] = False,
) -> None:
    """Import memories exported by `devmem export` (already present ids are left alone)."""
    with errors():
        _check_import_source(src, markdown)
        svc = service()
        skipped: list[str] = []
        if markdown:  # a bad file is skipped with its reason; the good ones are imported
            imported, present = import_records(svc, read_markdown(Path(src)), skipped)
        else:
            try:
                stream = sys.stdin if src == "-" else open(src, encoding="utf-8")
            except OSError as exc:
                raise InvalidInput(f"cannot read {src}: {exc.strerror or exc}.") from None
            with stream:
                imported, present = import_records(svc, read_jsonl(stream))
    for reason in skipped:  # one line each on stderr; the exit status says some were left out
        common.err_console.print(
            f"[bold yellow]skipped:[/] {reason}", soft_wrap=True, highlight=False
        )
    console.print(
        f"imported {imported}, already present {present}"
        + (f", skipped {len(skipped)}" if skipped else "")
    )
    if skipped:
        raise typer.Exit(1)


def _check_import_source(src: str, markdown: bool) -> None:
    """A folder needs --markdown and --markdown needs a folder: say so before touching the store."""
    path = Path(src)
    if markdown and not path.is_dir():
        raise InvalidInput(
            f"{src} is not a folder.",
            hint="--markdown reads a folder of .md files; for a .jsonl file drop --markdown.",
        )
    if not markdown and src != "-" and path.is_dir():
        raise InvalidInput(
            f"{src} is a folder.",
            hint="To import a folder of Markdown files add --markdown: "
            f"`devmem import --markdown {src}`; otherwise pass a .jsonl file.",
        )


@app.command()
def backup(dest: Annotated[str, typer.Argument(help="The backup file to create.")]) -> None:
    """Copy the database safely while it is in use (SQLite online backup)."""
    with errors():
        path = service(embeddings=False).backup(Path(dest))
    console.print(f"backup written to {path}")


def _register_subcommands() -> None:
    from . import graph_cmds, m365_cmds, serve_cmds, sync_account, sync_cmds, team_cmds

    sync_account.register(sync_cmds.app)
    app.add_typer(serve_cmds.app, name="serve")
    app.add_typer(sync_cmds.app, name="sync")
    app.add_typer(m365_cmds.app, name="m365")
    app.add_typer(graph_cmds.app, name="graph")
    team_cmds.register(app)


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
