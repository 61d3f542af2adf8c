"""The team service: teams, members, shares, API tokens, people and the audit log.

Everything here works on a PostgreSQL team store and runs as the person the connection (or
``acting_as``) names; the database's row-level security decides what is allowed, so this
layer validates input, names things, and says what to do when something is refused.

    service = TeamService.open("postgresql://alice@db.example/devmem")
    service.create_team("payments")
    service.add_member("payments", "bob", "editor")
    service.share("01J…", team="payments")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from core.errors import InvalidInput, NotFound
from core.storage.pg_audit import ACTIONS, AuditEntry
from core.storage.pg_auth import TEAM_ROLES
from core.storage.pg_db import Database
from core.storage.pg_team import Member, Team, TeamStore, TokenInfo

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$")
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _team_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise InvalidInput(
            f"Bad team name {name!r}: use 1-63 letters, digits, '.', '_', '-' or '@'."
        )
    return name


def person_name(name: str) -> str:
    """A person's role name: lower-case letters, digits and '_' (a PostgreSQL role)."""
    if not _ROLE.match(name):
        raise InvalidInput(
            f"Bad person name {name!r}: use lower-case letters, digits and '_' "
            "(it is their PostgreSQL role), starting with a letter."
        )
    if name.startswith(("pg_", "devmem_")):
        raise InvalidInput(f"{name!r} is reserved; choose another name.")
    return name


_AGO = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str | datetime | None, now: datetime | None = None) -> datetime | None:
    """``30m``, ``2h``, ``7d``, ``1w`` ago, or an ISO date/time (UTC when it names no zone)."""
    if text is None or isinstance(text, datetime):
        return text
    now = now or datetime.now(UTC)
    ago = _AGO.match(text.strip().lower())
    if ago:
        return now - timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"Bad --since {text!r}: use 30m, 2h, 7d, 1w or a date like 2026-12-01."
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _team_role(role: str) -> str:
    if role not in TEAM_ROLES:
        raise InvalidInput(f"Unknown team role {role!r}: use one of {', '.join(TEAM_ROLES)}.")
    return role


class TeamService:
    """Teams, shares, tokens, people and audit on one PostgreSQL team store."""

    def __init__(self, store: TeamStore) -> None:
        self.store = store

    @classmethod
    def open(cls, url: str) -> TeamService:
        """The service on the team store at ``url`` (a ``postgresql://`` URL with the
        person's own credentials; libpq's PGPASSFILE and service files work)."""
        if not url.startswith(("postgresql://", "postgres://")):
            raise InvalidInput(
                "Teams need a PostgreSQL team store.",
                hint="Pass --db postgresql://USER@HOST/DB (or set DEVMEM_DB).",
            )
        return cls(TeamStore(Database(url, pool_max=2)))

    def close(self) -> None:
        self.store.db.close()

    # teams
    def create_team(self, name: str) -> Team:
        """Create a team; its creator becomes its first admin."""
        return self.store.create_team(_team_name(name))

    def teams(self) -> list[Team]:
        """The organisation's teams, with your role in each."""
        return self.store.teams()

    def members(self, team: str) -> list[Member]:
        """A team's members (visible to its members)."""
        return self.store.members(_team_name(team))

    def add_member(self, team: str, person: str, role: str = "viewer") -> None:
        """Add a person to a team (team admins only)."""
        self.store.add_member(_team_name(team), person_name(person), _team_role(role))

    def set_role(self, team: str, person: str, role: str) -> None:
        """Change a member's role (team admins only; a team keeps one admin at least)."""
        self.store.set_role(_team_name(team), person_name(person), _team_role(role))

    def remove_member(self, team: str, person: str) -> None:
        """Take a person out of a team (team admins only)."""
        self.store.remove_member(_team_name(team), person_name(person))

    def delete_team(self, team: str, *, move_to_owner: bool = False) -> int:
        """Delete a team (its admins only). A team that still holds team or public memories
        is refused unless ``move_to_owner``: then each goes back to its owner first (a team
        memory becomes private; a public one stays public). Members and shares of the team go
        with it; the deletion is audited. Returns how many memories were moved."""
        return self.store.delete_team(_team_name(team), move_to_owner)

    # shares
    def share(
        self,
        memory_id: str,
        *,
        team: str | None = None,
        user: str | None = None,
        write: bool = False,
        public: bool = False,
    ) -> str:
        """Share a memory with a team (it becomes a team memory), one person (read, or
        write with ``write``), or the whole organisation (``public``). Returns what was done."""
        memory_id = memory_id.strip().upper()
        if sum(x is not None for x in (team, user)) + int(public) != 1:
            raise InvalidInput("Share with exactly one of --team, --user or --public.")
        if user is not None:
            self.store.share_with_person(memory_id, person_name(user), write)
            return f"shared {memory_id} with {user} ({'read and write' if write else 'read'})"
        if team is not None:
            self.store.share_with_team(memory_id, _team_name(team), "team")
            return f"shared {memory_id} with team {team}"
        self.store.share_public(memory_id)
        return f"made {memory_id} public to the organisation"

    def unshare(
        self,
        memory_id: str,
        *,
        team: str | None = None,
        user: str | None = None,
        public: bool = False,
    ) -> str:
        """Take back a share: from a team (the memory becomes private again; a public one stays
        public), from one person, or from the organisation (a public memory goes back to its
        team, else private). Returns what was done.

        Raises:
            NotFound: the memory is not shared that way, or you may not change its sharing."""
        memory_id = memory_id.strip().upper()
        if sum(x is not None for x in (team, user)) + int(public) != 1:
            raise InvalidInput("Unshare from exactly one of --team, --user or --public.")
        if user is not None:
            if not self.store.unshare(memory_id, person_name(user)):
                raise NotFound(
                    f"Memory {memory_id} is not shared with {user}.",
                    hint="Only the memory's owner or an editor of its team may unshare it.",
                )
            return f"unshared {memory_id} from {user}"
        if team is not None:
            self.store.unshare_team(memory_id, _team_name(team))
            return f"{memory_id} is no longer shared with team {team}"
        self.store.unshare_public(memory_id)
        return f"{memory_id} is no longer public"

    # tokens and people
    def create_token(self, name: str) -> tuple[int, str]:
        """A new API token for the team server: (id, token). The token is shown only now."""
        if not name.strip():
            raise InvalidInput("Give the token a name (e.g. the machine or tool using it).")
        return self.store.create_token(name.strip())

    def revoke_token(self, id_or_name: str) -> int:
        """Revoke your token(s) by id or name; returns how many."""
        return self.store.revoke_token(id_or_name.strip())

    def tokens(self) -> list[TokenInfo]:
        """Your tokens (never their secrets)."""
        return self.store.tokens()

    def add_person(self, name: str, org: str = "default", server_role: str | None = None) -> str:
        """Create a person (a PostgreSQL login role); returns their password, shown once."""
        return self.store.add_person(person_name(name), org, server_role)

    def add_server(self, server_role: str) -> None:
        """Make ``server_role`` the team server's login role (it can act as every person)."""
        self.store.add_server(person_name(server_role))

    # audit
    def audit(
        self,
        user: str | None = None,
        actions: Sequence[str] = (),
        since: str | datetime | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Audit rows you may read (yours; your teams' if admin; all as auditor), newest first."""
        unknown = sorted(set(actions) - set(ACTIONS))
        if unknown:
            raise InvalidInput(
                f"Unknown audit action(s) {', '.join(unknown)}: use {', '.join(ACTIONS)}."
            )
        if not 1 <= limit <= 10_000:
            raise InvalidInput("limit must be between 1 and 10000.")
        return self.store.audit(user, actions, parse_since(since), limit)
