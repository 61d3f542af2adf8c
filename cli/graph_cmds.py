"""`devmem graph …`: the knowledge graph (entities, relations, paths, a picture)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from core import MAX_GRAPH_PICTURE_NODES

from .common import console, errors, fail, print_json, progress_bar, service

# No `no_args_is_help`: the callback prints the help itself, since `--html FILE` alone is a command.
app = typer.Typer(
    help="Explore the knowledge graph: entities, their neighbours, paths, an HTML picture.",
    rich_markup_mode="rich",
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
EntityOpt = Annotated[
    str | None, typer.Option("--entity", "-e", help="Centre the picture on this entity.")
]
DepthOpt = Annotated[
    int, typer.Option("--depth", "-d", min=0, max=6, help="Steps out from --entity.")
]
MaxNodesOpt = Annotated[
    int,
    typer.Option(
        "--max-nodes",
        min=1,
        max=MAX_GRAPH_PICTURE_NODES,
        help="At most this many entities in the picture.",
    ),
]
ARROW = {"out": "→", "in": "←", "": ""}


@app.callback(invoke_without_command=True)
def graph_options(
    ctx: typer.Context,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="FILE",
            help="Write the picture to FILE (as `devmem graph html FILE`).",
        ),
    ] = None,
    entity: EntityOpt = None,
    depth: DepthOpt = 2,
    max_nodes: MaxNodesOpt = 200,
) -> None:
    """[dim]devmem graph --html graph.html --entity kubernetes --depth 2[/]"""
    if ctx.invoked_subcommand is not None:
        if html is not None:
            fail(
                "--html writes the picture on its own; leave out the subcommand "
                f"(or use `devmem graph html {html}`).",
                2,
            )
        return
    if html is None:
        if entity is not None:
            fail("--entity goes with --html FILE (or use `devmem graph show ENTITY`).", 2)
        console.print(ctx.get_help())
        raise typer.Exit()
    _write_html(html, entity, depth, max_nodes)


@app.command("html")
def html_cmd(
    file: Annotated[Path, typer.Argument(help="The HTML file to write.")],
    entity: EntityOpt = None,
    depth: DepthOpt = 2,
    max_nodes: MaxNodesOpt = 200,
) -> None:
    """Write an interactive picture of the graph: one HTML file that works offline."""
    _write_html(file, entity, depth, max_nodes)


def _write_html(file: Path, entity: str | None, depth: int, max_nodes: int) -> None:
    with errors():
        picture = service(embeddings=False).graph_picture(file, entity, depth, max_nodes)
    around = f" around {picture.center}" if picture.center else ""
    console.print(
        f"wrote {file}: {picture.nodes} entities, {picture.edges} relations{around}", soft_wrap=True
    )
    if not picture.nodes:
        console.print("[yellow]The graph is empty: add memories, or run `devmem graph rebuild`.[/]")


@app.command()
def rebuild(json_out: JsonOpt = False) -> None:
    """Re-extract entities and relations from every memory (after an upgrade, or to repair)."""
    with errors():
        svc = service(embeddings=False)
        with progress_bar("graph rebuild") as progress:
            result = svc.rebuild_graph(progress)
    if json_out:
        return print_json(result)
    console.print(
        f"rebuilt the graph of {result.memories:,} memories in {result.seconds:.1f} s: "
        f"{result.entities:,} entities, {result.relations:,} relations",
        soft_wrap=True,
    )


@app.command()
def show(
    entity: Annotated[
        str,
        typer.Argument(
            help="A name or alias (k8s, alice@acme.io, src/app.py); type:name to pick a type."
        ),
    ],
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=100, help="Relations and memories to list.")
    ] = 10,
    json_out: JsonOpt = False,
) -> None:
    """An entity's neighbours, strongest relations and latest memories."""
    with errors():
        view = service(embeddings=False).entity(entity, limit)
    if json_out:
        return print_json(view)
    e = view.entity
    also = [a for a in view.aliases if a not in (e.name.lower(), e.display.lower())]
    console.print(
        f"[bold]{e.display}[/] ({e.type}) · in {e.memory_count} memories"
        + (f" · also: {', '.join(also[:8])}" if also else ""),
        highlight=False,
    )
    relations = Table(
        "neighbour", "type", "relation", "weight", title="Strongest relations", title_justify="left"
    )
    for n in view.neighbours:
        relations.add_row(
            n.entity.display, n.entity.type, f"{ARROW[n.direction]} {n.relation}", f"{n.weight:.2f}"
        )
    memories = Table(
        Column("id", no_wrap=True),
        Column("when", no_wrap=True),
        "kind",
        "title",
        title="Latest memories",
        title_justify="left",
    )
    with errors():
        short = service(embeddings=False).short_ids(m.id for m in view.memories)
    for m in view.memories:
        memories.add_row(short[m.id], (m.event_at or m.created_at)[:10], m.kind, m.title)
    console.print(relations if view.neighbours else "[dim]no relations yet[/]")
    console.print(memories)


@app.command()
def path(
    source: Annotated[str, typer.Argument(help="From this entity…")],
    target: Annotated[str, typer.Argument(help="…to this one.")],
    max_depth: Annotated[
        int, typer.Option("--max-depth", min=1, max=12, help="Longest path to look for.")
    ] = 6,
    json_out: JsonOpt = False,
) -> None:
    """The shortest chain of relations between two entities."""
    with errors():
        steps = service(embeddings=False).entity_path(source, target, max_depth).steps
    if json_out:
        return print_json(steps)
    if not steps:
        console.print(
            f"No path between {source!r} and {target!r} within {max_depth} steps.", soft_wrap=True
        )
        return
    chain = [f"[bold]{steps[0].entity.display}[/]"]
    for s in steps[1:]:
        link = f"—{s.relation}→" if s.direction == "out" else f"←{s.relation}—"
        chain.append(f"[dim]{link}[/] [bold]{s.entity.display}[/] ({s.entity.type})")
    console.print(" ".join(chain), highlight=False, soft_wrap=True)


@app.command()
def stats(
    top: Annotated[
        int, typer.Option("--top", min=1, max=100, help="List this many most mentioned entities.")
    ] = 15,
    json_out: JsonOpt = False,
) -> None:
    """Entity and relation counts by type, and the most mentioned entities."""
    with errors():
        data = service(embeddings=False).graph_overview(top)
    if json_out:
        return print_json(data)
    console.print(
        f"[bold]{data['entities']:,}[/] entities, [bold]{data['relations']:,}[/] relations, "
        f"{data['mentions']:,} mentions"
    )
    console.print(
        "entities: " + ", ".join(f"{k} {v:,}" for k, v in data["entities_by_type"].items())
    )
    console.print(
        "relations: " + ", ".join(f"{k} {v:,}" for k, v in data["relations_by_type"].items())
    )
    table = Table("entity", "type", "memories", title="Most mentioned", title_justify="left")
    for e in data["top_entities"]:
        table.add_row(e.display, e.type, str(e.memory_count))
    console.print(table)
