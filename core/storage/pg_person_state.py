"""Migration steps 120+: what belongs to one person in a team store, and deleting a team.

- **Connector cursors per person** (120). ``sync_state`` was one row per connector and scope
  for the whole store, so bob's ``devmem sync git`` resumed from alice's cursor and skipped
  what she had already imported (into her private memories, which bob cannot see). A row now
  belongs to the role that wrote it (``role_name``, forced by row-level security), and an
  imported memory is unique per owner (``owner_role, source, external_id``): two people
  syncing the same source each keep their own cursor and their own copies. Cursors written
  before this step stay with the role that ran the migration (the store's owner).
- **Deleting a team** (121). A team is deleted by its admins (the ``teams`` delete policy);
  this trigger refuses while the team still holds memories others can see (team or public
  visibility), so a deletion never strands or silently privatises them: the admin moves them
  back to their owners first (``devmem team delete NAME --move-to-owner`` does both in one
  transaction). Private memories only remember the team id, which grants nothing and is never
  reused. The deletion itself is audited (``team_delete``) by the audit triggers. Giving the
  memories back is a SECURITY DEFINER function that checks the caller administers the team:
  the admin could not update them into someone else's private memories themselves.
"""

from __future__ import annotations

SYNC_STATE_PER_PERSON = """
ALTER TABLE sync_state ADD COLUMN role_name text NOT NULL DEFAULT current_user;
ALTER TABLE sync_state DROP CONSTRAINT sync_state_pkey;
ALTER TABLE sync_state ADD PRIMARY KEY (role_name, connector, scope);
ALTER TABLE sync_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE sync_state FORCE ROW LEVEL SECURITY;
CREATE POLICY devmem_own ON sync_state FOR ALL
  USING (role_name = current_user) WITH CHECK (role_name = current_user);
DROP INDEX IF EXISTS memories_external;
CREATE UNIQUE INDEX memories_external ON memories (owner_role, source, external_id)
  WHERE external_id IS NOT NULL;
"""

TEAM_DELETE = """
CREATE FUNCTION devmem_team_emptied() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n bigint;
BEGIN
  SELECT count(*) INTO n FROM memories WHERE team_id = OLD.id AND visibility <> 'private';
  IF n > 0 THEN
    RAISE EXCEPTION 'team % still holds % memories', OLD.name, n
      USING ERRCODE = 'dependent_objects_still_exist',
            HINT = 'Give them back to their owners first (devmem team delete NAME --move-to-owner).';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER devmem_team_emptied BEFORE DELETE ON teams
  FOR EACH ROW EXECUTE FUNCTION devmem_team_emptied();
-- Giving a team's memories back to their owners (private, no team) before deleting it: the
-- team's admin may not update a memory that becomes private to someone else (the new row
-- must stay visible to the updater), so a SECURITY DEFINER function does it after checking
-- that the caller (p_role, a role this session may act as) administers the team. It needs an
-- owner that bypasses row-level security, as the graph's definer functions do.
CREATE FUNCTION devmem_give_back(p_team bigint, p_role text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE n bigint;
BEGIN
  IF NOT p_team = ANY (devmem_teams(p_role, 'admin')) THEN
    RAISE EXCEPTION 'only an admin of team % may give its memories back', p_team
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  UPDATE memories SET team_id = NULL,
    visibility = CASE visibility WHEN 'public' THEN 'public' ELSE 'private' END
  WHERE team_id = p_team AND visibility <> 'private';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- The guard of step 101, now also letting through the tables' owner (current_user inside a
-- SECURITY DEFINER function of the owner, such as devmem_give_back): the owner can alter the
-- table anyway; a person is never its owner.
CREATE OR REPLACE FUNCTION devmem_guard_memory() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
BEGIN
  IF current_setting('is_superuser') = 'on'
     OR pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'USAGE')
  THEN
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
"""

MIGRATIONS: tuple[tuple[int, str], ...] = (
    (120, SYNC_STATE_PER_PERSON),
    (121, TEAM_DELETE),
)
