"""`devmem graph …`: the knowledge graph (entities, relations, paths, a picture)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Explore the knowledge graph: entities, their neighbours, paths, an HTML picture.",
                  no_args_is_help=True)
