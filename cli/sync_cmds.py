"""`devmem sync …`: run connectors (local ones here; account ones in cli/sync_account.py)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Import memories from outside sources (git, markdown, console logs, GitHub, Microsoft 365).",
                  no_args_is_help=True)
