"""`devmem team | share | token | user | audit`: the team store (PostgreSQL) from the shell.

Each command opens the team service on ``--db`` / ``DEVMEM_DB`` (a ``postgresql://`` URL with
your own credentials), calls one method and prints what happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from core import AUDIT_ACTIONS, TEAM_ROLES, Settings, acting_as, build_service, to_iso

if TYPE_CHECKING:  # the team store's modules need psycopg (the `postgres` extra): loaded on use
    from core import AuditEntry, TeamService

from . import common
from .common import console, errors, fail, print_json, progress_bar

team_app = typer.Typer(help="Teams: create them, list them, manage members and roles.")
token_app = typer.Typer(help="API tokens for the team server (devmem-mcp --http --db …).")
user_app = typer.Typer(help="People of the team store (run by an owner of the database).")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
RoleOpt = Annotated[
    str, typer.Option("--role", "-r", help=f"The team role: {', '.join(TEAM_ROLES)}.")
]


@contextlib.contextmanager
def team_service() -> Iterator[TeamService]:
    """The team service on the store of --db / DEVMEM_DB, closed after the command."""
    if not common.STATE.db:
        fail("Teams need the team store: pass --db postgresql://USER@HOST/DB or set DEVMEM_DB.", 2)
    with errors(), acting_as(None, client="cli"):
        from core import TeamService

        service = TeamService.open(common.STATE.db)
        try:
            yield service
        finally:
            service.close()


@team_app.command("create")
def team_create(name: Annotated[str, typer.Argument(help="The team's name.")]) -> None:
    """Create a team; you become its first admin."""
    with team_service() as svc:
        team = svc.create_team(name)
    console.print(f"team {team.name} created (id {team.id}); you are its admin")


@team_app.command("list")
def team_list(json: JsonOpt = False) -> None:
    """The organisation's teams and your role in each."""
    with team_service() as svc:
        teams = svc.teams()
    if json:
        print_json(teams)
        return
    table = Table("team", "your role", "members")
    for team in teams:
        table.add_row(team.name, team.my_role or "-", str(team.members))
    console.print(table)


@team_app.command("members")
def team_members(team: str, json: JsonOpt = False) -> None:
    """A team's members and their roles."""
    with team_service() as svc:
        members = svc.members(team)
    if json:
        print_json(members)
        return
    table = Table("person", "role")
    for member in members:
        table.add_row(member.person, member.role)
    console.print(table)


@team_app.command("add-member")
def team_add_member(team: str, person: str, role: RoleOpt = "viewer") -> None:
    """Add a person to a team (team admins only)."""
    with team_service() as svc:
        svc.add_member(team, person, role)
    console.print(f"{person} added to {team} as {role}")


@team_app.command("set-role")
def team_set_role(team: str, person: str, role: RoleOpt) -> None:
    """Change a member's role (team admins only)."""
    with team_service() as svc:
        svc.set_role(team, person, role)
    console.print(f"{person} is now {role} in {team}")


@team_app.command("remove-member")
def team_remove_member(team: str, person: str) -> None:
    """Take a person out of a team (team admins only)."""
    with team_service() as svc:
        svc.remove_member(team, person)
    console.print(f"{person} removed from {team}")


def share(
    memory_id: Annotated[str, typer.Argument(help="The memory's id.")],
    team: Annotated[
        str | None, typer.Option("--team", help="Make it a memory of this team.")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Share it with this person.")] = None,
    write: Annotated[bool, typer.Option("--write", help="The person may also change it.")] = False,
    public: Annotated[bool, typer.Option("--public", help="Everyone in the organisation.")] = False,
) -> None:
    """Share a memory with a team, one person (read, or --write) or the organisation."""
    with team_service() as svc:
        done = svc.share(memory_id, team=team, user=user, write=write, public=public)
    console.print(done)


def unshare(
    memory_id: Annotated[str, typer.Argument(help="The memory's id.")],
    team: Annotated[
        str | None, typer.Option("--team", help="No longer a memory of this team (private).")
    ] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="Take back this person's share.")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="No longer public (back to its team, else private).")
    ] = False,
) -> None:
    """Take back a share: from a team, one person or the organisation.

    --team T makes a team memory private again (a public one stays public, without the team);
    --public puts a public memory back to its team, or private when it has none."""
    with team_service() as svc:
        done = svc.unshare(memory_id, team=team, user=user, public=public)
    console.print(done)


@team_app.command("delete")
def team_delete(
    name: Annotated[str, typer.Argument(help="The team's name.")],
    move_to_owner: Annotated[
        bool,
        typer.Option(
            "--move-to-owner",
            help="First give the team's memories back to their owners: team memories become "
            "private, public ones stay public.",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a team (its admins only); its members and roles go with it, and it is audited.

    Refused while the team holds memories (team or public): pass --move-to-owner to give
    them back to their owners in the same step. Nobody's memory is deleted."""
    if not yes and not typer.confirm(f"Delete team {name}?"):
        fail("Nothing deleted.", 1)
    with team_service() as svc:
        moved = svc.delete_team(name, move_to_owner=move_to_owner)
    console.print(f"team {name} deleted; {moved} memories given back to their owners")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="What the token is for (a machine, a tool).")],
) -> None:
    """Issue an API token for the team server; it is printed once and stored only hashed."""
    with team_service() as svc:
        token_id, token = svc.create_token(name)
    console.print(f"token {token_id} ({name}); keep it now, it is not shown again:")
    typer.echo(token)


@token_app.command("list")
def token_list(json: JsonOpt = False) -> None:
    """Your tokens: names and dates (never the secrets)."""
    with team_service() as svc:
        tokens = svc.tokens()
    if json:
        print_json(_with_times(tokens))
        return
    table = Table("id", "name", "created", "last used", "revoked")
    for t in tokens:
        table.add_row(
            str(t.id), t.name, to_iso(t.created_at), to_iso(t.last_used_at) or "-",
            to_iso(t.revoked_at) or "-",
        )  # fmt: skip
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    id_or_name: Annotated[str, typer.Argument(help="The token's id or name.")],
) -> None:
    """Revoke a token: the server refuses it from now on."""
    with team_service() as svc:
        count = svc.revoke_token(id_or_name)
    console.print(f"{count} token(s) revoked")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The person's name (their PostgreSQL role).")],
    org: Annotated[str, typer.Option("--org", help="Their organisation.")] = "default",
    server_role: Annotated[
        str | None, typer.Option("--server-role", help="Let the team server act as them.")
    ] = None,
) -> None:
    """Create a person's login role with a new password (printed once)."""
    with team_service() as svc:
        password = svc.add_person(name, org, server_role)
    console.print(f"{name} added; their password (shown once):")
    typer.echo(password)


@user_app.command("server")
def user_server(
    role: Annotated[str, typer.Argument(help="The team server's login role.")],
) -> None:
    """Let the team server's login role look up tokens and act as every person."""
    with team_service() as svc:
        svc.add_server(role)
    console.print(f"{role} can now serve the team store (it has no BYPASSRLS)")


def audit(
    user: Annotated[str | None, typer.Option("--user", help="Only this person's actions.")] = None,
    action: Annotated[
        list[str] | None,
        typer.Option("--action", help=f"Only these actions: {', '.join(AUDIT_ACTIONS)}."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="30m, 2h, 7d, 1w or a date (2026-12-01).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 100,
    json: JsonOpt = False,
) -> None:
    """The audit log you may read (yours; your teams' as admin), newest first."""
    with team_service() as svc:
        entries = svc.audit(user=user, actions=action or (), since=since, limit=limit)
    if json:
        print_json(_with_times(entries))
        return
    console.print(_audit_table(entries))


def _with_times(rows: Sequence[object]) -> list[dict[str, Any]]:
    """Dataclass rows as JSON-ready dicts, times in ISO 8601."""
    out = []
    for row in rows:
        fields = dataclasses.asdict(row)  # type: ignore[call-overload]
        out.append({k: to_iso(v) if isinstance(v, datetime) else v for k, v in fields.items()})
    return out


def _audit_table(entries: list[AuditEntry]) -> Table:
    table = Table("when", "who", "action", "memory / team", "client", "detail")
    for e in entries:
        target = e.memory_id or (f"team {e.team_id}" if e.team_id is not None else "-")
        detail = ", ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
        table.add_row(to_iso(e.at), e.actor, e.action, target, e.client or "-", detail)
    return table


def migrate(
    to: Annotated[
        str, typer.Option("--to", help="The team store: postgresql://YOU@HOST/DB (your login).")
    ],
) -> None:
    """Copy your personal store (--db) into the team store as your private memories.

    Memories already there (by id) are left alone: run it again to resume after an interruption."""
    import os

    from core import migrate_store

    if not to.startswith(("postgresql://", "postgres://")):
        fail("--to must be a team store URL: postgresql://YOU@HOST/DB.", 2)
    source = common.service()
    with errors():
        env = {k: v for k, v in os.environ.items() if k != "DEVMEM_DB_READ"}  # another store's
        target = build_service(Settings.from_env(env, to))
        try:
            with progress_bar("migrating") as progress:
                result = migrate_store(source, target, progress)
        finally:
            target.close()
    console.print(
        f"{result.copied} memories copied, {result.already_there} already in the team store "
        f"(of {result.total})"
    )


def register(app: typer.Typer) -> None:
    """Add the team commands to the `devmem` app."""
    app.add_typer(team_app, name="team")
    app.add_typer(token_app, name="token")
    app.add_typer(user_app, name="user")
    app.command("share")(share)
    app.command("unshare")(unshare)
    app.command("audit")(audit)
    app.command("migrate")(migrate)
