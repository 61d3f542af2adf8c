"""Teams, roles and row-level security of the PostgreSQL store (migration steps 100+).

Who may see and change what is written here, once, as PostgreSQL policies; no application
filter decides it. Every person is a database role granted ``devmem_member``; a request runs as
that role (``SET LOCAL ROLE``), so ``current_user`` inside a policy is the person.

The permission table (the seed's), on ``memories`` and on every table that carries a
``memory_id`` (vectors, text, versions, links, mentions, evidence):

=========  ==========================================================================
create     own; into a team if editor or admin there
read       own; shared with me; a team memory of a team I am in; public = my organisation
update     own; a team memory if editor+; a memory shared with me for writing
delete     own; a team memory if admin
share      own; a team memory if editor+ (moving it to a team, making it public, a share row)
=========  ==========================================================================

Membership checks are SECURITY DEFINER functions with a fixed ``search_path``, so the policies
of ``memories`` do not recurse through ``team_members`` or ``shares``. A function answers only
about a role the session may act as (``pg_has_role(session_user, role, 'MEMBER')``): a person
cannot ask about someone else's teams or shares.
"""

from __future__ import annotations

from core.storage import pg_audit, pg_person_state
from core.storage.pg_auth import AUDITOR, MEMBER, SERVER

ROLES = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{MEMBER}') THEN
    CREATE ROLE {MEMBER} NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SERVER}') THEN
    CREATE ROLE {SERVER} NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{AUDITOR}') THEN
    CREATE ROLE {AUDITOR} NOLOGIN;
  END IF;
END $$;
"""

TABLES = """
CREATE TABLE people (
  role_name text PRIMARY KEY,
  org_id text NOT NULL DEFAULT 'default',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE teams (
  id bigserial PRIMARY KEY,
  org_id text NOT NULL DEFAULT 'default',
  name text NOT NULL,
  created_by text NOT NULL DEFAULT current_user,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (org_id, name)
);
CREATE TABLE team_members (
  org_id text NOT NULL DEFAULT 'default',
  team_id bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
  role_name text NOT NULL,
  team_role text NOT NULL CHECK (team_role IN ('admin', 'editor', 'viewer')),
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (team_id, role_name)
);
CREATE INDEX team_members_role ON team_members (role_name);
CREATE TABLE shares (
  org_id text NOT NULL DEFAULT 'default',
  memory_id text COLLATE "C" NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
  grantee_role text NOT NULL,
  can_write boolean NOT NULL DEFAULT false,
  granted_by text NOT NULL DEFAULT current_user,
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (memory_id, grantee_role)
);
CREATE INDEX shares_grantee ON shares (grantee_role);
CREATE TABLE api_tokens (
  id bigserial PRIMARY KEY,
  org_id text NOT NULL DEFAULT 'default',
  role_name text NOT NULL DEFAULT current_user,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
"""

# SECURITY DEFINER: they read team_members / shares / memories without those tables' policies.
HELPERS = """
CREATE FUNCTION devmem_org(p_role text) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce((SELECT org_id FROM people WHERE role_name = p_role), 'default')
$$;

CREATE FUNCTION devmem_teams(p_role text, p_least text) RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(team_id), '{}') FROM team_members
  WHERE role_name = p_role AND pg_has_role(session_user, p_role, 'MEMBER')
    AND CASE p_least
          WHEN 'viewer' THEN true
          WHEN 'editor' THEN team_role IN ('editor', 'admin')
          ELSE team_role = 'admin' END
$$;

CREATE FUNCTION devmem_shared(p_role text, p_write boolean) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT coalesce(array_agg(memory_id), '{}') FROM shares
  WHERE grantee_role = p_role AND (can_write OR NOT p_write)
    AND pg_has_role(session_user, p_role, 'MEMBER')
$$;

-- may p_role change memory p_id (owner; team editor+; write share)? A missing memory: false.
CREATE FUNCTION devmem_may_write(p_id text, p_role text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM memories m
    WHERE m.id = p_id AND pg_has_role(session_user, p_role, 'MEMBER')
      AND (m.owner_role = p_role
           OR (m.visibility <> 'private' AND m.team_id = ANY (devmem_teams(p_role, 'editor')))
           OR p_id = ANY (devmem_shared(p_role, true))))
$$;

-- may p_role share memory p_id (owner; team editor+)?
CREATE FUNCTION devmem_may_share(p_id text, p_role text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (
    SELECT 1 FROM memories m
    WHERE m.id = p_id AND pg_has_role(session_user, p_role, 'MEMBER')
      AND (m.owner_role = p_role
           OR (m.visibility <> 'private' AND m.team_id = ANY (devmem_teams(p_role, 'editor')))))
$$;

CREATE FUNCTION devmem_memory_exists(p_id text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM memories WHERE id = p_id)
$$;

-- Moving a memory to another team or visibility is sharing; the owner never changes.
CREATE FUNCTION devmem_guard_memory() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF current_setting('is_superuser') = 'on' THEN
    RETURN NEW;
  END IF;
  IF NEW.owner_role IS DISTINCT FROM OLD.owner_role THEN
    RAISE EXCEPTION 'a memory''s owner cannot change (memory %)', OLD.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF (NEW.team_id IS DISTINCT FROM OLD.team_id OR NEW.visibility IS DISTINCT FROM OLD.visibility)
     AND NOT (
       (OLD.owner_role = current_user
        OR (OLD.visibility <> 'private'
            AND OLD.team_id = ANY (devmem_teams(current_user, 'editor'))))
       AND (NEW.team_id IS NULL OR NEW.team_id = ANY (devmem_teams(current_user, 'editor'))))
  THEN
    RAISE EXCEPTION 'only the owner or an editor of the team may share memory %', OLD.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER devmem_guard_memory BEFORE UPDATE ON memories
  FOR EACH ROW EXECUTE FUNCTION devmem_guard_memory();

-- The creator of a team becomes its first admin.
CREATE FUNCTION devmem_team_creator() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO team_members (org_id, team_id, role_name, team_role)
  VALUES (NEW.org_id, NEW.id, NEW.created_by, 'admin');
  RETURN NEW;
END $$;
CREATE TRIGGER devmem_team_creator AFTER INSERT ON teams
  FOR EACH ROW EXECUTE FUNCTION devmem_team_creator();

-- A team keeps at least one admin (else nobody could manage it any more).
CREATE FUNCTION devmem_keep_an_admin() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF OLD.team_role = 'admin'
     AND EXISTS (SELECT 1 FROM teams WHERE id = OLD.team_id)
     AND NOT EXISTS (SELECT 1 FROM team_members
                     WHERE team_id = OLD.team_id AND team_role = 'admin'
                       AND role_name <> OLD.role_name) THEN
    RAISE EXCEPTION 'team % would have no admin left: make someone else admin first', OLD.team_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER devmem_keep_an_admin AFTER UPDATE OR DELETE ON team_members
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION devmem_keep_an_admin();

-- The server's token lookup: the role of a live token's hash (and it was used now).
CREATE FUNCTION devmem_token_role(p_hash text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE api_tokens SET last_used_at = now()
  WHERE token_hash = p_hash AND revoked_at IS NULL
  RETURNING role_name
$$;
"""

_MEMORY_READ = """
  owner_role = current_user
  OR (visibility = 'public' AND org_id = (SELECT devmem_org(current_user)))
  OR (visibility <> 'private' AND team_id = ANY ((SELECT devmem_teams(current_user, 'viewer'))::bigint[]))
  OR id = ANY ((SELECT devmem_shared(current_user, false))::text[])
"""

POLICIES = f"""
ALTER TABLE memories ENABLE ROW LEVEL SECURITY;
ALTER TABLE memories FORCE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON memories FOR SELECT USING ({_MEMORY_READ});
CREATE POLICY devmem_create ON memories FOR INSERT WITH CHECK (
  owner_role = current_user
  AND org_id = (SELECT devmem_org(current_user))
  AND (team_id IS NULL OR team_id = ANY ((SELECT devmem_teams(current_user, 'editor'))::bigint[])));
CREATE POLICY devmem_update ON memories FOR UPDATE USING (
  owner_role = current_user
  OR (visibility <> 'private' AND team_id = ANY ((SELECT devmem_teams(current_user, 'editor'))::bigint[]))
  OR id = ANY ((SELECT devmem_shared(current_user, true))::text[]));
CREATE POLICY devmem_delete ON memories FOR DELETE USING (
  owner_role = current_user
  OR (visibility <> 'private' AND team_id = ANY ((SELECT devmem_teams(current_user, 'admin'))::bigint[])));

-- Every other table holding a memory's data (it has a memory_id column): its rows are seen
-- with their memory and written by whoever may write the memory.
DO $$
DECLARE t text;
BEGIN
  FOR t IN
    SELECT c.table_name FROM information_schema.columns c
    JOIN information_schema.tables tb
      ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
    WHERE c.table_schema = current_schema() AND c.column_name = 'memory_id'
      AND tb.table_type = 'BASE TABLE' AND c.table_name NOT IN ('shares', 'audit_log')
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY devmem_read ON %I FOR SELECT USING '
                   '(EXISTS (SELECT 1 FROM memories m WHERE m.id = %I.memory_id))', t, t);
    EXECUTE format('CREATE POLICY devmem_create ON %I FOR INSERT WITH CHECK '
                   '(devmem_may_write(memory_id, current_user))', t);
    EXECUTE format('CREATE POLICY devmem_update ON %I FOR UPDATE USING '
                   '(devmem_may_write(memory_id, current_user))', t);
    -- a memory's rows go with it: whoever deletes the memory (or its orphans) deletes them
    EXECUTE format('CREATE POLICY devmem_delete ON %I FOR DELETE USING '
                   '(devmem_may_write(memory_id, current_user) '
                   'OR NOT devmem_memory_exists(memory_id))', t);
  END LOOP;
END $$;

ALTER TABLE teams ENABLE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON teams FOR SELECT USING (org_id = (SELECT devmem_org(current_user)));
CREATE POLICY devmem_create ON teams FOR INSERT WITH CHECK (
  created_by = current_user AND org_id = (SELECT devmem_org(current_user)));
CREATE POLICY devmem_update ON teams FOR UPDATE
  USING (id = ANY ((SELECT devmem_teams(current_user, 'admin'))::bigint[]));
CREATE POLICY devmem_delete ON teams FOR DELETE
  USING (id = ANY ((SELECT devmem_teams(current_user, 'admin'))::bigint[]));

ALTER TABLE team_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON team_members FOR SELECT USING (
  role_name = current_user OR team_id = ANY ((SELECT devmem_teams(current_user, 'viewer'))::bigint[]));
CREATE POLICY devmem_manage ON team_members FOR ALL
  USING (team_id = ANY ((SELECT devmem_teams(current_user, 'admin'))::bigint[]))
  WITH CHECK (team_id = ANY ((SELECT devmem_teams(current_user, 'admin'))::bigint[]));

ALTER TABLE shares ENABLE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON shares FOR SELECT USING (
  grantee_role = current_user OR devmem_may_share(memory_id, current_user));
CREATE POLICY devmem_manage ON shares FOR ALL
  USING (devmem_may_share(memory_id, current_user))
  WITH CHECK (devmem_may_share(memory_id, current_user) AND granted_by = current_user);

ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY devmem_own ON api_tokens FOR ALL
  USING (role_name = current_user) WITH CHECK (role_name = current_user);

ALTER TABLE people ENABLE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON people FOR SELECT USING (true);
"""

GRANTS = f"""
GRANT USAGE ON SCHEMA public TO {MEMBER};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {MEMBER};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {MEMBER};
REVOKE INSERT, UPDATE, DELETE ON people FROM {MEMBER};
DO $$
BEGIN
  IF to_regclass('schema_migrations') IS NOT NULL THEN
    REVOKE INSERT, UPDATE, DELETE ON schema_migrations FROM devmem_member;
  END IF;
END $$;
REVOKE ALL ON FUNCTION devmem_token_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION devmem_token_role(text) TO {SERVER};
"""

# A person's rows carry their organisation (a person of "acme" writes acme's rows, which the
# memories policy requires): every org_id defaults to the writer's organisation.
ORG_DEFAULTS = """
DO $$
DECLARE t text;
BEGIN
  FOR t IN
    SELECT c.table_name FROM information_schema.columns c
    JOIN information_schema.tables tb
      ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
    WHERE c.table_schema = current_schema() AND c.column_name = 'org_id'
      AND tb.table_type = 'BASE TABLE'
      AND c.table_name NOT IN ('people', 'devmem_changes', 'schema_migrations')
  LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN org_id SET DEFAULT devmem_org(current_user)', t);
  END LOOP;
END $$;
"""

# Under row-level security the planner may use an index for a query's condition only when its
# function is LEAKPROOF (else the condition waits until the policy has been checked, row by
# row): `tsv @@ query` (ts_match_vq) is not marked so, and every text search of a person
# became a scan of all memories (99 ms instead of 12 ms at 10k, worse with size). It is
# leak-proof in fact: it raises no error and has no side effect that depends on the row's
# tsvector. Marking it needs a superuser; on a managed service without one the migration
# says so and text search still works, slower (docs/team.md).
LEAKPROOF = """
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
  ELSE
    RAISE NOTICE 'devmem: ts_match_vq is not LEAKPROOF (needs a superuser): text search under '
      'row-level security scans every memory; ask your provider or run it as a superuser.';
  END IF;
END $$;
"""

# Entity names are private with the memories that name them (issue 16): an entity and its
# aliases are seen only when some memory the reader may see mentions it; a relation when such a
# memory is its evidence and both its ends are seen (a link's relation may end at an entity of
# a memory the reader may not see; graph reads expect every end to exist). memory_entities and
# relation_evidence are under the memories policy themselves, so these EXISTS stay within what
# the reader may read, and no policy refers back to these tables. Writing must still find an
# entity or relation another person's private memory created (invisible to the writer): ids are
# resolved (inserting the missing), aliases added and weights changed by SECURITY DEFINER
# functions that see every row, the unique keys deciding reuse. Persons write these tables
# through them only (no INSERT/UPDATE/DELETE grant: nobody empties another's graph).
GRAPH_PRIVACY = f"""
ALTER TABLE entities ENABLE ROW LEVEL SECURITY;
ALTER TABLE entities FORCE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON entities FOR SELECT USING (
  EXISTS (SELECT 1 FROM memory_entities me WHERE me.entity_id = entities.id));
ALTER TABLE entity_aliases ENABLE ROW LEVEL SECURITY;
ALTER TABLE entity_aliases FORCE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON entity_aliases FOR SELECT USING (
  EXISTS (SELECT 1 FROM memory_entities me WHERE me.entity_id = entity_aliases.entity_id));
ALTER TABLE relations ENABLE ROW LEVEL SECURITY;
ALTER TABLE relations FORCE ROW LEVEL SECURITY;
CREATE POLICY devmem_read ON relations FOR SELECT USING (
  EXISTS (SELECT 1 FROM relation_evidence e WHERE e.relation_id = relations.id)
  AND EXISTS (SELECT 1 FROM memory_entities me WHERE me.entity_id = relations.src_id)
  AND EXISTS (SELECT 1 FROM memory_entities me WHERE me.entity_id = relations.dst_id));
REVOKE INSERT, UPDATE, DELETE ON entities, entity_aliases, relations FROM {MEMBER};

CREATE FUNCTION devmem_entity_ids(p_types text[], p_names text[], p_displays text[])
RETURNS TABLE (id bigint, type text, name text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  INSERT INTO public.entities AS x (type, name, display)
  SELECT * FROM unnest(p_types, p_names, p_displays) ON CONFLICT (type, name) DO NOTHING;
  RETURN QUERY SELECT e.id, e.type::text, e.name::text FROM public.entities e
    JOIN unnest(p_types, p_names) AS w(t, n) ON e.type = w.t AND e.name = w.n;
END $$;

CREATE FUNCTION devmem_relation_ids(p_src bigint[], p_dst bigint[], p_types text[])
RETURNS TABLE (id bigint, src_id bigint, dst_id bigint, type text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
  INSERT INTO public.relations (src_id, dst_id, type, weight)
  SELECT s, d, t, 0 FROM unnest(p_src, p_dst, p_types) AS w(s, d, t)
  ON CONFLICT (src_id, dst_id, type) DO NOTHING;
  RETURN QUERY SELECT r.id, r.src_id, r.dst_id, r.type::text FROM public.relations r
    JOIN unnest(p_src, p_dst, p_types) AS w(s, d, t)
      ON r.src_id = w.s AND r.dst_id = w.d AND r.type = w.t;
END $$;

CREATE FUNCTION devmem_add_aliases(p_aliases text[], p_ids bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  INSERT INTO public.entity_aliases (alias, entity_id)
  SELECT * FROM unnest(p_aliases, p_ids) ON CONFLICT DO NOTHING;
$$;

CREATE FUNCTION devmem_add_weights(p_ids bigint[], p_deltas float8[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  UPDATE public.relations r SET weight = r.weight + w.d
  FROM unnest(p_ids, p_deltas) AS w(id, d) WHERE r.id = w.id;
$$;
"""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (100, ROLES + TABLES),
    (101, HELPERS),
    (102, POLICIES),
    (103, GRANTS),
    (104, ORG_DEFAULTS),
    (105, LEAKPROOF),
    (106, GRAPH_PRIVACY),
    *pg_audit.MIGRATIONS,
    *pg_person_state.MIGRATIONS,
)
