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
-- still writes nothing, and the work is one aggregate, linear in the rows, whatever the plan. Batches' size and
-- units never change once cut, so their requests count the same as before. The figures that only grow (the
-- largest request, the latest acceptance) are now taken over every new row rather than the changed ones: the
-- rows that did not change were seen when they did, and the tallies keep the largest seen.

-- Messages: the change of a group of identical rows is their net count (`sign`), so the latest final time is
-- taken from groups counted in (sign > 0).
CREATE OR REPLACE FUNCTION smsrun_tally_message_changes(changes smsrun_message_change[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  errors error_tallies[];
  sums sender_tallies[];
BEGIN
  WITH d AS MATERIALIZED (
    SELECT b.campaign_id, b.sender, m.sign, m.state, m.error_code, m.units, m.total_rate, m.total_amount, m.final_at, m.provider_updated_at,
           coalesce(m.units, b.units)::bigint AS any_units
    FROM unnest(changes) m JOIN batches b ON b.id = m.batch_id)
  SELECT (SELECT array_agg(ROW(campaign_id, sender, error_code, state, NULL, n)::error_tallies)
          FROM (SELECT campaign_id, sender, error_code, state, sum(sign) AS n FROM d WHERE error_code IS NOT NULL AND error_code <> '000'
                GROUP BY 1, 2, 3, 4 HAVING sum(sign) <> 0) x),
         (SELECT array_agg(ROW(campaign_id, sender, NULL, msg_units, amount, priced_units, priced_amount, last_final_at,
                               NULL, NULL, NULL, NULL, NULL, NULL, NULL)::sender_tallies)
          FROM (SELECT campaign_id, sender, sum(sign * any_units) AS msg_units, sum(sign * coalesce(total_amount, 0)) AS amount,
                       coalesce(sum(sign * units) FILTER (WHERE total_rate IS NOT NULL), 0) AS priced_units,
                       coalesce(sum(sign * total_rate * units) FILTER (WHERE total_rate IS NOT NULL), 0) AS priced_amount,
                       max(coalesce(provider_updated_at, final_at)) FILTER (WHERE sign > 0 AND final_at IS NOT NULL) AS last_final_at
                FROM d GROUP BY 1, 2) x
          WHERE msg_units <> 0 OR amount <> 0 OR priced_units <> 0 OR priced_amount <> 0 OR last_final_at IS NOT NULL)
  INTO errors, sums;
  IF errors IS NOT NULL THEN PERFORM smsrun_add_error_tallies(errors); END IF;
  IF sums IS NOT NULL THEN PERFORM smsrun_add_sender_tallies(sums); END IF;
END
$$;

CREATE OR REPLACE FUNCTION smsrun_tally_messages_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_tally_message_changes(array_agg(ROW(batch_id, state, error_code, units, total_rate, total_amount, final_at,
                                                     provider_updated_at, sign)::smsrun_message_change))
  FROM (SELECT batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at, sum(sign)::int AS sign
        FROM (SELECT batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at, 1 AS sign FROM new_rows
              UNION ALL
              SELECT batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at, -1 FROM old_rows) c
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 HAVING sum(sign) <> 0) d
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

-- Batches: a batch counts as a request while its attempts are above 0, so the new rows' requests less the old
-- rows' are what the statement changed. Rows are grouped with their acceptance time as well, so that a time
-- counts only where the new rows hold it and the old ones did not (`acc`). A group stands for rows of the same
-- size and units, so its sign is their net count: the largest request is taken from groups counted in (sign > 0).
CREATE OR REPLACE FUNCTION smsrun_tally_batch_changes(changes smsrun_batch_change[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_add_sender_tallies(array_agg(ROW(campaign_id, sender, NULL, NULL, NULL, NULL, NULL, NULL, requests, requested, requested_units,
                                                  largest_request, largest_request_units, NULL, last_accepted_at)::sender_tallies))
  FROM (SELECT campaign_id, sender, sum(sign) AS requests, sum(sign * size) AS requested, sum(sign * size * units) AS requested_units,
               max(size) FILTER (WHERE sign > 0) AS largest_request, max(size * units) FILTER (WHERE sign > 0) AS largest_request_units,
               max(accepted_at) AS last_accepted_at
        FROM unnest(changes) GROUP BY 1, 2) s
  HAVING count(*) > 0;
END
$$;

CREATE OR REPLACE FUNCTION smsrun_tally_batches_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_tally_batch_changes(array_agg(ROW(campaign_id, sender, size, units, accepted_at, sign)::smsrun_batch_change))
  FROM (SELECT campaign_id, sender, size, units, CASE WHEN sum(acc) > 0 THEN accepted_at END AS accepted_at, sum(sign)::int AS sign
        FROM (SELECT campaign_id, sender, size, units, accepted_at, (attempts > 0)::int AS sign, 1 AS acc FROM new_rows
              UNION ALL
              SELECT campaign_id, sender, size, units, accepted_at, -(attempts > 0)::int, -1 FROM old_rows) c
        GROUP BY campaign_id, sender, size, units, accepted_at
        HAVING sum(sign) <> 0 OR (sum(acc) > 0 AND accepted_at IS NOT NULL)) d
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;
