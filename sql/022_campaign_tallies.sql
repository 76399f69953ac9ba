-- smsrun ledger, version 22: the tallies of settled batches rolled up per campaign and sender, so that `status`
-- on a finished campaign reads a row per sender instead of a tally per batch (10 000 for a million rows).
--
-- campaign_tallies holds, per campaign and sender, the sum of that sender's rows of batch_tallies (sql/019): what
-- the summary (ledger/reports.ts, campaignTally) adds to the live count of the batches not tallied yet. It is kept
-- by a trigger on batch_tallies, in the transaction that inserts the tallies, so whoever inserts them (the summary,
-- an older smsrun still running while this migration lands, a later migration) keeps the rollup with them: a
-- tally and its share of the rollup are committed together or not at all, and concurrent inserts of the same
-- campaign queue on its rollup rows (an UPDATE re-reads the row another transaction changed before adding to it).
-- batch_tallies rows are inserted once (ON CONFLICT DO NOTHING) and never updated; they are deleted only with
-- their campaign, which deletes its rollup too. Nothing on the send path writes either table.
--
-- sender                  the batches' sender; NULL for the recipients without one (invalid rows...)
-- batches                 tallies of batches rolled up here (the summary compares their sum with the
--                         campaign's batches: equal, nothing is left to count live)
-- unbatched               tallies of recipients without a batch (batch_id NULL) rolled up here
-- statuses/counts/units   recipients by status, as in batch_tallies, summed per status (sorted by status)
-- recipients, accepted, msg_units, amount, priced_units, priced_amount   sums of batch_tallies' columns
-- requested/requested_units  recipients and units of the batches sent at least once (attempts > 0)
-- requests                those batches; largest_request/_units their largest
-- err_codes/states/counts error codes by code and state, summed
-- first_request_at        the earliest first_request_at; last_final_at the latest last_final_at
CREATE TABLE campaign_tallies (
  campaign_id            integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  sender                 text,
  batches                integer NOT NULL DEFAULT 0,
  unbatched              integer NOT NULL DEFAULT 0,
  statuses               text[] NOT NULL DEFAULT '{}',
  counts                 integer[] NOT NULL DEFAULT '{}',
  units                  integer[] NOT NULL DEFAULT '{}',
  recipients             integer NOT NULL DEFAULT 0,
  accepted               integer NOT NULL DEFAULT 0,
  msg_units              integer NOT NULL DEFAULT 0,
  amount                 numeric NOT NULL DEFAULT 0,
  requested              integer NOT NULL DEFAULT 0,
  requested_units        integer NOT NULL DEFAULT 0,
  requests               integer NOT NULL DEFAULT 0,
  largest_request        integer NOT NULL DEFAULT 0,
  largest_request_units  integer NOT NULL DEFAULT 0,
  priced_units           integer NOT NULL DEFAULT 0,
  priced_amount          numeric NOT NULL DEFAULT 0,
  err_codes              text[] NOT NULL DEFAULT '{}',
  err_states             text[] NOT NULL DEFAULT '{}',
  err_counts             integer[] NOT NULL DEFAULT '{}',
  first_request_at       timestamptz,
  last_final_at          timestamptz
);
-- the same key as batch_tallies' rows without a batch (a sender of '' and none are one)
CREATE UNIQUE INDEX campaign_tallies_key ON campaign_tallies (campaign_id, coalesce(sender, ''));

-- Adds `added` (rows of batch_tallies) to the rollup, one campaign and sender at a time in key order (two
-- transactions adding to the same rows take their locks in the same order). The row is made empty first if it
-- is missing, then updated: in READ COMMITTED an UPDATE that finds the row changed by a transaction that
-- committed meanwhile waits for it and adds to the new version, so no addition is lost.
CREATE FUNCTION roll_up_batch_tallies(added batch_tallies[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  d record;
BEGIN
  FOR d IN
    WITH a AS (SELECT * FROM unnest(added))
    SELECT f.*, st.statuses, st.counts, st.units, er.err_codes, er.err_states, er.err_counts
    FROM (SELECT campaign_id, sender, count(batch_id)::int AS batches, (count(*) - count(batch_id))::int AS unbatched,
                 sum(recipients)::int AS recipients, sum(accepted)::int AS accepted, sum(msg_units)::int AS msg_units, sum(amount) AS amount,
                 coalesce(sum(recipients) FILTER (WHERE attempts > 0), 0)::int AS requested,
                 coalesce(sum(recipient_units) FILTER (WHERE attempts > 0), 0)::int AS requested_units,
                 count(*) FILTER (WHERE attempts > 0 AND batch_id IS NOT NULL)::int AS requests,
                 coalesce(max(recipients) FILTER (WHERE attempts > 0), 0)::int AS largest_request,
                 coalesce(max(recipient_units) FILTER (WHERE attempts > 0), 0)::int AS largest_request_units,
                 sum(priced_units)::int AS priced_units, sum(priced_amount) AS priced_amount,
                 min(first_request_at) AS first_request_at, max(last_final_at) AS last_final_at
          FROM a GROUP BY campaign_id, sender) f
    CROSS JOIN LATERAL (
      SELECT coalesce(array_agg(x.status ORDER BY x.status), '{}') AS statuses, coalesce(array_agg(x.n ORDER BY x.status), '{}') AS counts,
             coalesce(array_agg(x.u ORDER BY x.status), '{}') AS units
      FROM (SELECT s.status, sum(s.n)::int AS n, sum(s.u)::int AS u
            FROM a, unnest(a.statuses, a.counts, a.units) AS s(status, n, u)
            WHERE a.campaign_id = f.campaign_id AND a.sender IS NOT DISTINCT FROM f.sender GROUP BY s.status) x) st
    CROSS JOIN LATERAL (
      SELECT coalesce(array_agg(x.code ORDER BY x.code, x.state), '{}') AS err_codes, coalesce(array_agg(x.state ORDER BY x.code, x.state), '{}') AS err_states,
             coalesce(array_agg(x.n ORDER BY x.code, x.state), '{}') AS err_counts
      FROM (SELECT e.code, e.state, sum(e.n)::int AS n
            FROM a, unnest(a.err_codes, a.err_states, a.err_counts) AS e(code, state, n)
            WHERE a.campaign_id = f.campaign_id AND a.sender IS NOT DISTINCT FROM f.sender GROUP BY e.code, e.state) x) er
    ORDER BY f.campaign_id, coalesce(f.sender, '')
  LOOP
    INSERT INTO campaign_tallies (campaign_id, sender) VALUES (d.campaign_id, d.sender)
    ON CONFLICT (campaign_id, (coalesce(sender, ''))) DO NOTHING;
    UPDATE campaign_tallies c SET
      batches = c.batches + d.batches, unbatched = c.unbatched + d.unbatched,
      (statuses, counts, units) = (
        SELECT coalesce(array_agg(y.status ORDER BY y.status), '{}'), coalesce(array_agg(y.n ORDER BY y.status), '{}'), coalesce(array_agg(y.u ORDER BY y.status), '{}')
        FROM (SELECT x.status, sum(x.n)::int AS n, sum(x.u)::int AS u
              FROM (SELECT * FROM unnest(c.statuses, c.counts, c.units) UNION ALL SELECT * FROM unnest(d.statuses, d.counts, d.units)) AS x(status, n, u)
              GROUP BY x.status) y),
      recipients = c.recipients + d.recipients, accepted = c.accepted + d.accepted, msg_units = c.msg_units + d.msg_units, amount = c.amount + d.amount,
      requested = c.requested + d.requested, requested_units = c.requested_units + d.requested_units, requests = c.requests + d.requests,
      largest_request = greatest(c.largest_request, d.largest_request), largest_request_units = greatest(c.largest_request_units, d.largest_request_units),
      priced_units = c.priced_units + d.priced_units, priced_amount = c.priced_amount + d.priced_amount,
      (err_codes, err_states, err_counts) = (
        SELECT coalesce(array_agg(y.code ORDER BY y.code, y.state), '{}'), coalesce(array_agg(y.state ORDER BY y.code, y.state), '{}'),
               coalesce(array_agg(y.n ORDER BY y.code, y.state), '{}')
        FROM (SELECT x.code, x.state, sum(x.n)::int AS n
              FROM (SELECT * FROM unnest(c.err_codes, c.err_states, c.err_counts) UNION ALL SELECT * FROM unnest(d.err_codes, d.err_states, d.err_counts)) AS x(code, state, n)
              GROUP BY x.code, x.state) y),
      first_request_at = least(c.first_request_at, d.first_request_at), last_final_at = greatest(c.last_final_at, d.last_final_at)
    WHERE c.campaign_id = d.campaign_id AND coalesce(c.sender, '') = coalesce(d.sender, '');
  END LOOP;
END $$;

CREATE FUNCTION batch_tallies_roll_up() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM roll_up_batch_tallies(ARRAY(SELECT a::batch_tallies FROM added a));
  RETURN NULL;
END $$;

-- Created before the existing tallies are rolled up: it locks batch_tallies against inserts until this migration
-- commits, so a tally inserted meanwhile is rolled up by the trigger, after, never missed nor added twice.
CREATE TRIGGER batch_tallies_roll_up AFTER INSERT ON batch_tallies REFERENCING NEW TABLE AS added
  FOR EACH STATEMENT EXECUTE FUNCTION batch_tallies_roll_up();

SELECT roll_up_batch_tallies(array_agg(t)) FROM batch_tallies t GROUP BY t.campaign_id ORDER BY t.campaign_id;
