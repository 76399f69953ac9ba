-- smsrun ledger, version 23: recipients and batches check their campaign once per statement, not once per row.
--
-- recipients.campaign_id and batches.campaign_id lose their foreign keys (sql/001). A foreign key is a row
-- trigger: each inserted row ran a query for the same campaign row, and with recipients.batch_id's key these
-- checks were about 30 % of a streamed load's database CPU (docs/decisions.md, "Issue 12: load CPU, evening").
-- What the two keys guaranteed is kept, by triggers:
--   - an INSERT (one check per statement, on its rows as a transition table) fails with SQLSTATE 23503
--     (foreign_key_violation) unless every campaign_id it wrote names a campaign, and it locks those campaigns
--     FOR KEY SHARE until it commits, as the foreign key did: a concurrent DELETE of the campaign waits;
--   - an UPDATE that changes campaign_id is checked the same way, row by row (nothing in smsrun sets it; an
--     UPDATE whose SET list does not name campaign_id does not fire the trigger at all, so the send path's
--     status updates pay nothing);
--   - deleting a campaign deletes its recipients, then its batches (was ON DELETE CASCADE). The trigger's name
--     sorts after the foreign keys' own triggers (RI_ConstraintTrigger_…), so the campaign's messages are
--     deleted by their cascade first, and the batches they reference can go.
-- recipients.batch_id keeps its foreign key (a per-row lookup of a different batch each time).

ALTER TABLE recipients DROP CONSTRAINT recipients_campaign_id_fkey;
ALTER TABLE batches DROP CONSTRAINT batches_campaign_id_fkey;

CREATE FUNCTION smsrun_campaigns_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  missing integer;
BEGIN
  SELECT n.campaign_id INTO missing
  FROM (SELECT DISTINCT campaign_id FROM new_rows) n
  LEFT JOIN (SELECT id FROM campaigns WHERE id IN (SELECT campaign_id FROM new_rows) FOR KEY SHARE) c ON c.id = n.campaign_id
  WHERE c.id IS NULL
  LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'insert or update on table "%" names campaign %, which does not exist', TG_TABLE_NAME, missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
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
CREATE TRIGGER recipients_campaign_updated AFTER UPDATE OF campaign_id ON recipients
  FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id) EXECUTE FUNCTION smsrun_campaign_exists();
CREATE TRIGGER batches_campaign_updated AFTER UPDATE OF campaign_id ON batches
  FOR EACH ROW WHEN (OLD.campaign_id IS DISTINCT FROM NEW.campaign_id) EXECUTE FUNCTION smsrun_campaign_exists();
CREATE TRIGGER campaigns_delete_rows AFTER DELETE ON campaigns
  FOR EACH ROW EXECUTE FUNCTION smsrun_delete_campaign_rows();
