-- smsrun ledger, version 27: the tally triggers of version 26 count an UPDATE's change without joining its old
-- rows to its new ones.
--
-- Version 26's UPDATE triggers joined the statement's old and new rows (transition tables) to keep only the rows
-- whose counted columns changed. PL/pgSQL plans such a statement once per backend, with the row counts of its
-- first call: after a first update of one row, every later update in that backend joined its old and new rows by
-- a nested loop, quadratic in the rows. A resume's first claim (2 000 recipients) spent 0.8 s in it; a cancel or
-- a receipt pass of a million rows would never have ended.
--
-- Here each trigger adds the new rows with sign +1 and takes the old ones away with sign -1 (UNION ALL), grouped
-- by what is counted: a row whose counted columns did not change cancels itself out within its group, so it
-- still writes nothing, and the work is one aggregate, linear in the rows, whatever the plan. Messages and batches
-- are grouped per row (its key and counted columns), so the changes handed on are those the join gave and sql/026's
-- functions that add them up stay; recipients are summed per sender and status straight away.

-- Messages: grouped per message as well, so a message whose counted columns changed leaves two rows, its old
-- values with sign -1 and its new ones with +1, as sql/026's join gave; an unchanged one leaves none.
CREATE OR REPLACE FUNCTION smsrun_tally_messages_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_tally_message_changes(array_agg(ROW(batch_id, state, error_code, units, total_rate, total_amount, final_at,
                                                     provider_updated_at, sign)::smsrun_message_change))
  FROM (SELECT batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at, sum(sign)::int AS sign
        FROM (SELECT message_uuid, batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at, 1 AS sign FROM new_rows
              UNION ALL
              SELECT message_uuid, batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at, -1 FROM old_rows) c
        GROUP BY message_uuid, batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at
        HAVING sum(sign) <> 0) d
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION smsrun_tally_recipients_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_add_status_tallies(array_agg(ROW(campaign_id, sender, status, NULL, n, units, accepted)::status_tallies))
  FROM (SELECT campaign_id, coalesce(sender, '') AS sender, status, sum(sign) AS n, sum(sign * coalesce(units, 0)) AS units,
               sum(sign * (message_uuid IS NOT NULL)::int) AS accepted
        FROM (SELECT campaign_id, sender, status, units, message_uuid, 1 AS sign FROM new_rows
              UNION ALL
              SELECT campaign_id, sender, status, units, message_uuid, -1 FROM old_rows) c
        GROUP BY 1, 2, 3 HAVING sum(sign) <> 0 OR sum(sign * coalesce(units, 0)) <> 0 OR sum(sign * (message_uuid IS NOT NULL)::int) <> 0) s
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;

-- Batches: a batch counts as a request while its attempts are above 0, so its new row's request less its old
-- row's is what the statement changed. Rows are grouped per batch with their acceptance time, so that a time counts
-- only where the new row holds it and the old did not (`acc`); each group's sign is then -1, 0 or +1, as sql/026's
-- join gave.
CREATE OR REPLACE FUNCTION smsrun_tally_batches_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_tally_batch_changes(array_agg(ROW(campaign_id, sender, size, units, accepted_at, sign)::smsrun_batch_change))
  FROM (SELECT campaign_id, sender, size, units, CASE WHEN sum(acc) > 0 THEN accepted_at END AS accepted_at, sum(sign)::int AS sign
        FROM (SELECT id, campaign_id, sender, size, units, accepted_at, (attempts > 0)::int AS sign, 1 AS acc FROM new_rows
              UNION ALL
              SELECT id, campaign_id, sender, size, units, accepted_at, -(attempts > 0)::int, -1 FROM old_rows) c
        GROUP BY id, campaign_id, sender, size, units, accepted_at
        HAVING sum(sign) <> 0 OR (sum(acc) > 0 AND accepted_at IS NOT NULL)) d
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;
