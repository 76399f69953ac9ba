-- smsrun ledger, version 23: recipients and batches check what they reference once per statement, not once per
-- row.
--
-- recipients.campaign_id, recipients.batch_id and batches.campaign_id lose their foreign keys (sql/001). A foreign
-- key is a row trigger: each inserted row ran a query and locked the row it names (for recipients the same campaign
-- row every time); the three were about 30 % of a streamed load's database CPU (docs/decisions.md, "Issue 12: load
-- CPU (2026-12-02, evening)"). What they guaranteed is kept, by triggers:
--   - an INSERT (one check per statement, on its rows as a transition table) fails with SQLSTATE 23503
--     (foreign_key_violation) unless every campaign_id it wrote names a campaign and every batch_id a batch, and
--     it locks those campaigns (the recipients' own and their batches') FOR KEY SHARE until it commits, as the
--     campaign key did: a concurrent DELETE of the campaign waits;
--   - a batch can only go with its campaign (the delete below) or by a direct DELETE, which nothing in smsrun
--     does (its id never changes: an UPDATE of it is refused): that DELETE first locks the batches' campaigns FOR UPDATE (so it waits for every uncommitted insert
--     that checked a batch of theirs) and then fails if a recipient still names a batch it deleted;
--   - an UPDATE that changes campaign_id or batch_id (retry's and a chunk's carried rows set batch_id; nothing
--     sets campaign_id) is checked row by row, locking the row it names FOR KEY SHARE; an UPDATE whose SET list
--     names neither does not fire the trigger at all, so the send path's status updates pay nothing;
--   - deleting a campaign deletes its recipients, then its batches (was ON DELETE CASCADE). The trigger's name
--     sorts after the foreign keys' own triggers (RI_ConstraintTrigger_…), so the campaign's messages are
--     deleted by their cascade first, and the batches they reference can go.
-- messages.batch_id keeps its foreign key.

ALTER TABLE recipients DROP CONSTRAINT recipients_campaign_id_fkey;
ALTER TABLE recipients DROP CONSTRAINT recipients_batch_id_fkey;
ALTER TABLE batches DROP CONSTRAINT batches_campaign_id_fkey;

CREATE FUNCTION smsrun_campaigns_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ids integer[];
  locked integer;
  missing integer;
BEGIN
  SELECT array_agg(DISTINCT campaign_id) INTO ids FROM new_rows;
  SELECT count(*) INTO locked FROM (SELECT 1 FROM campaigns WHERE id = ANY (ids) FOR KEY SHARE) c;
  IF locked < coalesce(cardinality(ids), 0) THEN
    SELECT i INTO missing FROM unnest(ids) i WHERE NOT EXISTS (SELECT 1 FROM campaigns WHERE id = i) LIMIT 1;
    RAISE EXCEPTION 'insert or update on table "%" names campaign %, which does not exist', TG_TABLE_NAME, missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

-- One index probe of batches per row (a hash join would read every batch of every campaign, each chunk).
-- The batches' campaigns are locked first and the batches looked for after: once a campaign is held, neither
-- it nor a batch of it can be deleted until this transaction ends (a direct DELETE of batches locks their
-- campaign first), so what the second look finds stays true; a batch deleted between the two looks is found
-- missing by the second.
CREATE FUNCTION smsrun_recipient_batches_exist() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
  missing integer;
  owners integer[];
BEGIN
  SELECT array_agg(DISTINCT b.campaign_id) INTO owners
  FROM new_rows n JOIN batches b ON b.id = n.batch_id;
  PERFORM 1 FROM campaigns WHERE id = ANY (owners) FOR KEY SHARE;
  SELECT min(n.batch_id) INTO missing
  FROM new_rows n
  WHERE n.batch_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = n.batch_id);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert or update on table "recipients" names batch %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION smsrun_batch_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.batch_id IS NOT NULL THEN
    PERFORM 1 FROM batches WHERE id = NEW.batch_id FOR KEY SHARE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'update on table "recipients" names batch %, which does not exist', NEW.batch_id
        USING ERRCODE = 'foreign_key_violation';
    END IF;
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION smsrun_batches_unreferenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  named integer;
BEGIN
  -- Waits for every uncommitted insert that checked a batch of these campaigns (they hold them FOR KEY SHARE),
  -- so the check below sees their rows.
  PERFORM 1 FROM campaigns WHERE id IN (SELECT campaign_id FROM old_rows) FOR UPDATE;
  SELECT r.batch_id INTO named FROM recipients r WHERE r.batch_id IN (SELECT id FROM old_rows) LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'delete on table "batches" leaves batch % named by recipients', named
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION smsrun_batch_id_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'a batch''s id does not change (batch %)', OLD.id USING ERRCODE = 'foreign_key_violation';
END
$$;

CREATE FUNCTION smsrun_campaign_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM campaigns WHERE id = NEW.campaign_id FOR KEY SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'update on table "%" names campaign %, which does not exist', TG_TABLE_NAME, NEW.campaign_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION smsrun_delete_campaign_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM recipients WHERE campaign_id = OLD.id;
  DELETE FROM batches WHERE campaign_id = OLD.id;
  RETURN NULL;
END
$$;

CREATE TRIGGER recipients_campaign_inserted AFTER INSERT ON recipients
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_campaigns_exist();
CREATE TRIGGER batches_campaign_inserted AFTER INSERT ON batches
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_campaigns_exist();
CREATE TRIGGER recipients_batch_inserted AFTER INSERT ON recipients
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_recipient_batches_exist();
CREATE TRIGGER recipients_batch_updated AFTER UPDATE OF batch_id ON recipients
  FOR EACH ROW WHEN (OLD.batch_id IS DISTINCT FROM NEW.batch_id) EXECUTE FUNCTION smsrun_batch_exists();
CREATE TRIGGER batches_id_updated AFTER UPDATE OF id ON batches
  FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION smsrun_batch_id_fixed();
CREATE TRIGGER batches_deleted AFTER DELETE ON batches
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_batches_unreferenced();
CREATE TRIGGER recipients_campaign_updated AFTER UPDATE OF campaign_id ON recipients
  FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id) EXECUTE FUNCTION smsrun_campaign_exists();
CREATE TRIGGER batches_campaign_updated AFTER UPDATE OF campaign_id ON batches
  FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id) EXECUTE FUNCTION smsrun_campaign_exists();
CREATE TRIGGER campaigns_delete_rows AFTER DELETE ON campaigns
  FOR EACH ROW EXECUTE FUNCTION smsrun_delete_campaign_rows();
