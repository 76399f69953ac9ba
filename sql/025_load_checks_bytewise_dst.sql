--! no-transaction
-- smsrun ledger, version 25: two costs of every loaded recipient row cut (issue 12; docs/decisions.md, "Issue 12:
-- load, Postgres side (2026-12-03)"). Runs outside a transaction (see src/ledger/migrate.ts) for its
-- CREATE INDEX CONCURRENTLY; every statement can run again after a crash.
--
-- 1. The recipients insert's batch check (sql/023) looks at `batches` once per row instead of twice. It locked
--    the campaigns of the rows' batches, then looked for the batches again after the lock (so that a batch
--    deleted between the two looks is found missing). The rows' own campaigns are nearly always their batches'
--    (a load, a retry): they are locked first, and one look after that lock both finds the batches and tells
--    whether any belongs to another campaign. Only then are those campaigns locked and the batches looked for
--    once more, as before. What is refused, and what is locked until the insert commits, are unchanged.
CREATE OR REPLACE FUNCTION smsrun_recipient_batches_exist() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
  own integer[];
  others integer[];
  missing integer;
BEGIN
  SELECT array_agg(DISTINCT campaign_id) INTO own FROM new_rows;
  PERFORM 1 FROM campaigns WHERE id = ANY (own) FOR KEY SHARE;
  -- one index probe of batches per row, after the lock: a batch of a locked campaign found here stays
  SELECT min(n.batch_id) FILTER (WHERE b.id IS NULL), array_agg(DISTINCT b.campaign_id) FILTER (WHERE b.campaign_id <> ALL (own))
    INTO missing, others
  FROM new_rows n LEFT JOIN batches b ON b.id = n.batch_id
  WHERE n.batch_id IS NOT NULL;
  IF others IS NOT NULL THEN
    -- batches of campaigns not locked before the look: locked now, and looked for again
    PERFORM 1 FROM campaigns WHERE id = ANY (others) FOR KEY SHARE;
    SELECT min(n.batch_id) INTO missing
    FROM new_rows n
    WHERE n.batch_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM batches b WHERE b.id = n.batch_id);
  END IF;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert or update on table "recipients" names batch %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END
$$;

-- 2. recipients_dst compares numbers bytewise (COLLATE "C"). Under a language collation (en_US.UTF-8, or
--    C.UTF-8, which Postgres 15 does not know to be bytewise) every comparison of its descent called strcoll:
--    each loaded row's insert, and each chunk's duplicate probe (one per row). Only equality is ever asked of
--    it, which is the same under either collation. A query uses it only if it compares `dst COLLATE "C"`: the
--    chunk's duplicate probe (ledger/load-chunks.ts), the scrub (ledger/suppressions.ts) and retry's
--    already-reached numbers (ledger/retry.ts) do.
DROP INDEX CONCURRENTLY IF EXISTS recipients_dst_bytes;
CREATE INDEX CONCURRENTLY recipients_dst_bytes ON recipients (campaign_id, dst COLLATE "C");
DROP INDEX CONCURRENTLY IF EXISTS recipients_dst;
