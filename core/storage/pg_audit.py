"""The append-only audit log of the PostgreSQL store (migration steps 110+) and its reading.

Who did what, to which memory or team, from which client, when. Rows are written by triggers
on ``memories``, ``shares``, ``team_members`` and ``teams`` running as the person (so ``actor``
is the person, forced by a BEFORE INSERT trigger: nobody can write a row in someone else's
name), by the team server for sign-in failures, and for reads and searches when the session
setting ``devmem.audit_reads`` is on. Nobody is granted UPDATE, DELETE or TRUNCATE, and
triggers refuse them even to the table's owner. The client comes from the session setting
``devmem.client`` (mcp, lsp, cli, connector), else the connection's ``application_name``.

A person reads their own rows; a team admin also the team's; ``devmem_auditor`` reads all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.storage.pg_auth import AUDITOR, MEMBER, SERVER

ACTIONS = (
    "create",
    "update",
    "delete",
    "share",
    "unshare",
    "team_create",
    "team_delete",
    "role_change",
    "member_add",
    "member_remove",
    "sign_in_failure",
    "read",
    "search",
)

TABLE = """
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  org_id text NOT NULL DEFAULT devmem_org(current_user),
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor text NOT NULL DEFAULT current_user,
  action text NOT NULL,
  memory_id text,
  team_id bigint,
  client text,
  detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);

CREATE FUNCTION devmem_client() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('devmem.client', true), ''),
                  nullif(current_setting('application_name', true), ''), 'unknown')
$$;

-- Nobody writes a row in someone else's name or another time.
CREATE FUNCTION devmem_audit_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.actor := current_user;
  NEW.at := clock_timestamp();
  NEW.client := coalesce(NEW.client, devmem_client());
  RETURN NEW;
END $$;
CREATE TRIGGER devmem_audit_stamp BEFORE INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION devmem_audit_stamp();

CREATE FUNCTION devmem_audit_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: rows cannot be changed or removed'
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER devmem_audit_frozen BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION devmem_audit_frozen();
CREATE TRIGGER devmem_audit_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION devmem_audit_frozen();
"""

# Trigger functions run as the person (SECURITY INVOKER): the row's actor is who acted.
TRIGGERS = """
CREATE FUNCTION devmem_audit_memory() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  INSERT INTO audit_log (org_id, action, memory_id, team_id, detail)
  VALUES (r.org_id,
          CASE TG_OP WHEN 'INSERT' THEN 'create' ELSE lower(TG_OP) END, r.id, r.team_id,
          CASE WHEN TG_OP = 'UPDATE'
                    AND (NEW.team_id IS DISTINCT FROM OLD.team_id
                         OR NEW.visibility IS DISTINCT FROM OLD.visibility)
               THEN jsonb_build_object('visibility', NEW.visibility, 'was', OLD.visibility)
               ELSE '{}'::jsonb END);
  RETURN NULL;
END $$;
CREATE TRIGGER devmem_audit_memory AFTER INSERT OR UPDATE OR DELETE ON memories
  FOR EACH ROW EXECUTE FUNCTION devmem_audit_memory();

CREATE FUNCTION devmem_audit_share() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  INSERT INTO audit_log (org_id, action, memory_id, detail)
  VALUES (r.org_id, CASE WHEN TG_OP = 'DELETE' THEN 'unshare' ELSE 'share' END, r.memory_id,
          jsonb_build_object('grantee', r.grantee_role, 'write', r.can_write));
  RETURN NULL;
END $$;
CREATE TRIGGER devmem_audit_share AFTER INSERT OR UPDATE OR DELETE ON shares
  FOR EACH ROW EXECUTE FUNCTION devmem_audit_share();

CREATE FUNCTION devmem_audit_member() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  INSERT INTO audit_log (org_id, action, team_id, detail)
  VALUES (r.org_id,
          CASE TG_OP WHEN 'INSERT' THEN 'member_add' WHEN 'UPDATE' THEN 'role_change'
                     ELSE 'member_remove' END,
          r.team_id, jsonb_build_object('member', r.role_name, 'role', r.team_role));
  RETURN NULL;
END $$;
CREATE TRIGGER devmem_audit_member AFTER INSERT OR UPDATE OR DELETE ON team_members
  FOR EACH ROW EXECUTE FUNCTION devmem_audit_member();

CREATE FUNCTION devmem_audit_team() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  INSERT INTO audit_log (org_id, action, team_id, detail)
  VALUES (r.org_id, CASE TG_OP WHEN 'DELETE' THEN 'team_delete' ELSE 'team_create' END,
          r.id, jsonb_build_object('name', r.name));
  RETURN NULL;
END $$;
CREATE TRIGGER devmem_audit_team AFTER INSERT OR DELETE ON teams
  FOR EACH ROW EXECUTE FUNCTION devmem_audit_team();
"""

POLICIES = f"""
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON audit_log FOR SELECT USING (
  actor = current_user
  OR team_id = ANY ((SELECT devmem_teams(current_user, 'admin'))::bigint[])
  OR pg_has_role(current_user, '{AUDITOR}', 'MEMBER'));
CREATE POLICY devmem_append ON audit_log FOR INSERT WITH CHECK (actor = current_user);
REVOKE ALL ON audit_log FROM PUBLIC, {MEMBER};
GRANT SELECT, INSERT ON audit_log TO {MEMBER};
GRANT SELECT ON audit_log TO {AUDITOR};
GRANT INSERT ON audit_log TO {SERVER};
GRANT USAGE ON SEQUENCE audit_log_id_seq TO {SERVER};
GRANT USAGE ON SEQUENCE audit_log_id_seq TO {MEMBER};
"""

# Reads and searches, when the owner turns them on for the database:
#   ALTER DATABASE devmem SET devmem.audit_reads = on;   (new sessions pick it up)
# One row per read memory; a search is one row with the ids it returned (never the query
# text: it may hold what the person was looking for, which the audit need not keep).
ACCESS = """
CREATE FUNCTION devmem_audit_reads_on() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('devmem.audit_reads', true), 'off') IN ('on', 'true', '1')
$$;
CREATE FUNCTION devmem_audit_access(p_action text, p_ids text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT devmem_audit_reads_on() THEN
    RETURN;
  END IF;
  IF p_action = 'search' THEN
    INSERT INTO audit_log (action, detail)
    VALUES ('search', jsonb_build_object('ids', to_jsonb(p_ids)));
  ELSE
    INSERT INTO audit_log (action, memory_id) SELECT p_action, unnest(p_ids);
  END IF;
END $$;
"""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (110, TABLE),
    (111, TRIGGERS),
    (112, POLICIES),
    (113, ACCESS),
)

READS_ON = "SELECT devmem_audit_reads_on()"
ACCESSED = "SELECT devmem_audit_access(%s, %s)"

INSERT = (
    "INSERT INTO audit_log (action, memory_id, team_id, client, detail) VALUES (%s, %s, %s, %s, %s)"
)


@dataclass(frozen=True)
class AuditEntry:
    """One audited action."""

    at: datetime
    actor: str
    action: str
    memory_id: str | None
    team_id: int | None
    client: str | None
    detail: dict[str, Any]


def select(
    user: str | None, actions: Sequence[str], since: datetime | None, limit: int
) -> tuple[str, list[Any]]:
    """The query for audit rows (newest first) of ``user``, of these ``actions``, after ``since``."""
    where: list[str] = []
    params: list[Any] = []
    if user:
        where.append("actor = %s")
        params.append(user)
    if actions:
        where.append("action = ANY(%s)")
        params.append(list(actions))
    if since is not None:
        where.append("at >= %s")
        params.append(since)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    sql = (
        "SELECT at, actor, action, memory_id, team_id, client, detail FROM audit_log "
        f"{clause} ORDER BY at DESC, id DESC LIMIT %s"
    )
    return sql, [*params, limit]


def entry(row: Sequence[Any]) -> AuditEntry:
    """An :class:`AuditEntry` from a row of :func:`select`."""
    at, actor, action, memory_id, team_id, client, detail = row
    return AuditEntry(at, actor, action, memory_id, team_id, client, dict(detail or {}))
