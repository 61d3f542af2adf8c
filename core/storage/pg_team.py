"""Teams, members, shares, tokens, people and the audit log: the SQL of the team layer.

Every method runs in one transaction of :class:`core.storage.pg_db.Database` (so as the
person ``acting_as`` names, or the URL's login role): row-level security decides what it
may do; this module only turns the database's refusals into errors that say what to do.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from core.errors import AccessDenied, InvalidInput, NotFound
from core.storage import pg_audit, pg_auth
from core.storage.pg_db import Database


@dataclass(frozen=True)
class Team:
    """A team, with the asking person's role in it (None: not a member)."""

    id: int
    name: str
    my_role: str | None
    members: int


@dataclass(frozen=True)
class Member:
    """A person in a team, with their team role."""

    person: str
    role: str


@dataclass(frozen=True)
class TokenInfo:
    """An API token as listed (its secret is never stored)."""

    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@contextlib.contextmanager
def _refusals(what: str) -> Iterator[None]:
    """The database's refusals as errors that say what to do."""
    try:
        yield
    except psycopg.errors.InsufficientPrivilege as exc:
        raise AccessDenied(
            f"Not allowed to {what}: {_first_line(exc)}.",
            hint="Ask an admin of the team (or the memory's owner) for the right role.",
        ) from exc
    except psycopg.errors.UniqueViolation as exc:
        raise InvalidInput(f"Cannot {what}: it exists already.") from exc
    except (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation) as exc:
        raise InvalidInput(f"Cannot {what}: {_first_line(exc)}.") from exc
    except psycopg.errors.DependentObjectsStillExist as exc:  # a team that holds memories
        hint = exc.diag.message_hint or "Move what depends on it first."
        raise InvalidInput(f"Cannot {what}: {_first_line(exc)}.", hint=hint) from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


class TeamStore:
    """The team layer's reads and writes on one PostgreSQL store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- teams ---------------------------------------------------------------------------
    def create_team(self, name: str) -> Team:
        with self.db.tx() as conn, _refusals(f"create team {name!r}"):
            row = conn.execute(
                "INSERT INTO teams (name, org_id) VALUES (%s, devmem_org(current_user)) "
                "RETURNING id",
                (name,),
            ).fetchone()
        assert row is not None
        return Team(int(row[0]), name, "admin", 1)

    def teams(self) -> list[Team]:
        with self.db.tx() as conn:
            rows = conn.execute(
                "SELECT t.id, t.name, "
                " (SELECT team_role FROM team_members m"
                "   WHERE m.team_id = t.id AND m.role_name = current_user),"
                " (SELECT count(*) FROM team_members m WHERE m.team_id = t.id) "
                "FROM teams t ORDER BY t.name"
            ).fetchall()
        return [Team(int(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]

    def team_id(self, conn: psycopg.Connection[Any], name: str) -> int:
        row = conn.execute("SELECT id FROM teams WHERE name = %s", (name,)).fetchone()
        if row is None:
            raise NotFound(f"No team named {name!r}.", hint="`devmem team list` shows the teams.")
        return int(row[0])

    def members(self, team: str) -> list[Member]:
        with self.db.tx() as conn:
            team_id = self.team_id(conn, team)
            rows = conn.execute(
                "SELECT role_name, team_role FROM team_members WHERE team_id = %s "
                "ORDER BY role_name",
                (team_id,),
            ).fetchall()
        return [Member(str(r[0]), str(r[1])) for r in rows]

    def add_member(self, team: str, person: str, role: str) -> None:
        with self.db.tx() as conn, _refusals(f"add {person!r} to team {team!r}"):
            team_id = self.team_id(conn, team)
            if conn.execute(pg_auth.PERSON_EXISTS, (person,)).fetchone() is None:
                raise NotFound(
                    f"No person {person!r} in this store.",
                    hint="An owner adds people with `devmem user add NAME`.",
                )
            conn.execute(
                "INSERT INTO team_members (team_id, org_id, role_name, team_role) "
                "SELECT id, org_id, %s, %s FROM teams WHERE id = %s",
                (person, role, team_id),
            )

    def set_role(self, team: str, person: str, role: str) -> None:
        with self.db.tx() as conn, _refusals(f"change {person!r}'s role in team {team!r}"):
            team_id = self.team_id(conn, team)
            changed = conn.execute(
                "UPDATE team_members SET team_role = %s WHERE team_id = %s AND role_name = %s",
                (role, team_id, person),
            ).rowcount
            self._changed(changed, person, team)

    def remove_member(self, team: str, person: str) -> None:
        with self.db.tx() as conn, _refusals(f"remove {person!r} from team {team!r}"):
            team_id = self.team_id(conn, team)
            changed = conn.execute(
                "DELETE FROM team_members WHERE team_id = %s AND role_name = %s",
                (team_id, person),
            ).rowcount
            self._changed(changed, person, team)

    def delete_team(self, team: str, move_to_owner: bool) -> int:
        """Delete a team (its admins only); with ``move_to_owner`` its memories first go back
        to their owners (team → private; public stays public, without the team), all in one
        transaction. Returns how many memories were moved. The database refuses a team that
        still holds memories (devmem_team_emptied) and a person who is not its admin."""
        with self.db.tx() as conn, _refusals(f"delete team {team!r}"):
            team_id = self.team_id(conn, team)
            moved = 0
            if move_to_owner:
                row = conn.execute(
                    "SELECT devmem_give_back(%s, current_user)", (team_id,)
                ).fetchone()
                moved = int(row[0]) if row else 0
            deleted = conn.execute("DELETE FROM teams WHERE id = %s", (team_id,)).rowcount
            if deleted == 0:  # RLS: only the team's admins see the row to delete
                raise AccessDenied(
                    f"Not allowed to delete team {team!r}: only its admins may.",
                    hint="`devmem team members NAME` shows who its admins are.",
                )
        return moved

    @staticmethod
    def _changed(rows: int, person: str, team: str) -> None:
        # RLS hides the rows of teams one does not administer: 0 rows is "not allowed" or "absent"
        if rows == 0:
            raise AccessDenied(
                f"{person!r} is not a member of team {team!r} that you administer.",
                hint="`devmem team list` shows your role in each team; only admins manage members.",
            )

    # ---- shares --------------------------------------------------------------------------
    def share_with_team(self, memory_id: str, team: str, visibility: str) -> None:
        with self.db.tx() as conn, _refusals(f"share memory {memory_id} with team {team!r}"):
            team_id = self.team_id(conn, team)
            changed = conn.execute(
                "UPDATE memories SET team_id = %s, visibility = %s WHERE id = %s",
                (team_id, visibility, memory_id),
            ).rowcount
            self._visible(changed, memory_id)

    def share_with_person(self, memory_id: str, person: str, write: bool) -> None:
        with self.db.tx() as conn, _refusals(f"share memory {memory_id} with {person!r}"):
            if conn.execute(pg_auth.PERSON_EXISTS, (person,)).fetchone() is None:
                raise NotFound(f"No person {person!r} in this store.")
            added = conn.execute(
                "INSERT INTO shares (memory_id, org_id, grantee_role, can_write) "
                "SELECT id, org_id, %s, %s FROM memories WHERE id = %s "
                "ON CONFLICT (memory_id, grantee_role) DO UPDATE SET can_write = excluded.can_write",
                (person, write, memory_id),
            ).rowcount
            self._visible(added, memory_id)

    def share_public(self, memory_id: str) -> None:
        with self.db.tx() as conn, _refusals(f"make memory {memory_id} public"):
            changed = conn.execute(
                "UPDATE memories SET visibility = 'public' WHERE id = %s", (memory_id,)
            ).rowcount
            self._visible(changed, memory_id)

    def unshare(self, memory_id: str, person: str) -> bool:
        with self.db.tx() as conn, _refusals(f"unshare memory {memory_id}"):
            return (
                conn.execute(
                    "DELETE FROM shares WHERE memory_id = %s AND grantee_role = %s",
                    (memory_id, person),
                ).rowcount
                > 0
            )

    def unshare_team(self, memory_id: str, team: str) -> None:
        """A team memory of ``team`` back to private (a public one stays public, teamless)."""
        with self.db.tx() as conn, _refusals(f"unshare memory {memory_id} from team {team!r}"):
            team_id = self.team_id(conn, team)
            changed = conn.execute(
                "UPDATE memories SET team_id = NULL, visibility = CASE visibility"
                " WHEN 'public' THEN 'public' ELSE 'private' END"
                " WHERE id = %s AND team_id = %s AND visibility <> 'private'",
                (memory_id, team_id),
            ).rowcount
            self._unshared(changed, memory_id, f"shared with team {team!r}")

    def unshare_public(self, memory_id: str) -> None:
        """A public memory back to its team (if it has one), else private."""
        with self.db.tx() as conn, _refusals(f"make memory {memory_id} no longer public"):
            changed = conn.execute(
                "UPDATE memories SET visibility = CASE WHEN team_id IS NULL THEN 'private'"
                " ELSE 'team' END WHERE id = %s AND visibility = 'public'",
                (memory_id,),
            ).rowcount
            self._unshared(changed, memory_id, "public")

    @staticmethod
    def _unshared(rows: int, memory_id: str, state: str) -> None:
        if rows == 0:  # RLS and the guard trigger hide or refuse what one may not change
            raise NotFound(
                f"Memory {memory_id} is not {state}, or you may not change its sharing.",
                hint="Its owner or an editor of its team may; `devmem show ID` shows its sharing.",
            )

    @staticmethod
    def _visible(rows: int, memory_id: str) -> None:
        if rows == 0:
            raise NotFound(
                f"No memory {memory_id} that you may share.",
                hint="You can share your own memories and, as an editor, your team's.",
            )

    # ---- tokens and people ---------------------------------------------------------------
    def create_token(self, name: str) -> tuple[int, str]:
        token = pg_auth.new_token()
        with self.db.tx() as conn, _refusals(f"create token {name!r}"):
            row = conn.execute(pg_auth.TOKEN_CREATE, (name, pg_auth.hash_token(token))).fetchone()
        assert row is not None
        return int(row[0]), token

    def revoke_token(self, id_or_name: str) -> int:
        with self.db.tx() as conn:
            rows = conn.execute(pg_auth.TOKEN_REVOKE, (id_or_name, id_or_name)).fetchall()
        if not rows:
            raise NotFound(
                f"No live token {id_or_name!r} of yours.", hint="`devmem token list` shows them."
            )
        return len(rows)

    def tokens(self) -> list[TokenInfo]:
        with self.db.tx() as conn:
            rows = conn.execute(pg_auth.TOKEN_LIST).fetchall()
        return [TokenInfo(int(r[0]), str(r[1]), r[2], r[3], r[4]) for r in rows]

    def token_role(self, token: str) -> str | None:
        """The person a live token belongs to (the server's lookup), or None."""
        with self.db.tx() as conn:
            row = conn.execute(pg_auth.TOKEN_ROLE, (pg_auth.hash_token(token),)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def can_act_as(self, person: str) -> bool:
        """Whether ``person`` was added to the store and this login may act as them."""
        with self.db.tx() as conn:
            row = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM people p JOIN pg_roles r ON r.rolname = p.role_name"
                " WHERE p.role_name = %s AND pg_has_role(current_user, r.oid, 'MEMBER'))",
                (person,),
            ).fetchone()
        return bool(row and row[0])

    def add_person(self, name: str, org: str, server_role: str | None) -> str:
        """Create a person's login role (run by an owner with CREATEROLE); returns the password."""
        password = pg_auth.new_password()
        with self.db.tx() as conn, _refusals(f"add person {name!r}"):
            conn.execute(pg_auth.create_person(name, password))
            conn.execute(pg_auth.PERSON_ADD, (name, org))
            if server_role:
                conn.execute(pg_auth.grant_to_server(name, server_role))
        return password

    def add_server(self, server_role: str) -> None:
        """Let ``server_role`` look tokens up and act as every person already added."""
        with self.db.tx() as conn, _refusals(f"make {server_role!r} the team server's role"):
            conn.execute(pg_auth.make_server(server_role))
            for (person,) in conn.execute("SELECT role_name FROM people").fetchall():
                conn.execute(pg_auth.grant_to_server(str(person), server_role))

    # ---- audit ---------------------------------------------------------------------------
    def audit(
        self, user: str | None, actions: Sequence[str], since: datetime | None, limit: int
    ) -> list[pg_audit.AuditEntry]:
        query, params = pg_audit.select(user, actions, since, limit)
        with self.db.tx() as conn:
            return [pg_audit.entry(r) for r in conn.execute(query, params).fetchall()]

    def record(self, action: str, memory_id: str | None = None, **detail: Any) -> None:
        """Append an audit row in the current person's name (sign-in failures, reads)."""
        with self.db.tx() as conn:
            conn.execute(pg_audit.INSERT, (action, memory_id, None, None, json.dumps(detail)))
