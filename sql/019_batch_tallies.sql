-- smsrun ledger, version 19: tallies of settled batches, so that `status` on a big campaign reads little.
--
-- The summary (report/summary.ts) counts recipients by status and sender, and sums messages' units, amounts
-- and error codes. Scanning a 1 000 000-row campaign for that took seconds. A batch whose figures can no
-- longer change is counted once, into batch_tallies; the summary adds the tallies to a live count of the
-- batches not tallied yet (the campaign's open part). Nothing on the send path writes here: the summary itself
-- keeps what it finds settled (ledger/reports.ts, campaignTally), and this migration tallies what exists.
--
-- Settled (nothing can change the batch's figures any more):
--   a batch: accepted or failed; none of its recipients pending, sending or submitted; every message of it final
--     with a receipt (final_at set and a state other than queued or sent: a final `sent` or `queued` is smsrun's
--     own cut-off, which a late receipt may still overrule, ledger/tracking.ts); no open unaccounted lookup.
--   the campaign's recipients without a batch (invalid, duplicate, skipped): once its load has ended.
-- One row per batch (batch_id NULL: the recipients without a batch, a row per sender value).
--
-- statuses/counts/units   recipients by status: how many, and their units (smsrun's count)
-- recipients, recipient_units  their sums (what the requests of the batch carried)
-- accepted                recipients with a message_uuid
-- msg_units, amount       the batch's messages: units (Plivo's where known, else the batch's), total_amount
-- priced_units/amount     units and total_rate × units of the messages whose rate is known
-- err_codes/states/counts error codes other than 000 of its messages, with their state
-- first_request_at        its first attempt's start; last_final_at its messages' latest final time
CREATE TABLE batch_tallies (
  campaign_id       integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  batch_id          integer REFERENCES batches (id) ON DELETE CASCADE,
  sender            text,
  attempts          integer NOT NULL,
  statuses          text[] NOT NULL,
  counts            integer[] NOT NULL,
  units             integer[] NOT NULL,
  recipients        integer NOT NULL,
  recipient_units   integer NOT NULL,
  accepted          integer NOT NULL,
  msg_units         integer NOT NULL,
  amount            numeric NOT NULL,
  priced_units      integer NOT NULL,
  priced_amount     numeric NOT NULL,
  err_codes         text[] NOT NULL,
  err_states        text[] NOT NULL,
  err_counts        integer[] NOT NULL,
  first_request_at  timestamptz,
  last_final_at     timestamptz
);
CREATE UNIQUE INDEX batch_tallies_key ON batch_tallies (campaign_id, coalesce(batch_id, 0), coalesce(sender, ''));
-- batches are deleted with their campaign; this keeps that cascade from scanning batch_tallies
CREATE INDEX batch_tallies_batch ON batch_tallies (batch_id);

-- Existing campaigns: their settled batches, and their recipients without a batch once loaded, tallied now
-- (the rule above, as ledger/reports.ts's LIVE_TALLIES and KEEP_SETTLED apply it from now on).
INSERT INTO batch_tallies (campaign_id, batch_id, sender, attempts, statuses, counts, units, recipients, recipient_units, accepted, msg_units, amount, priced_units,
                           priced_amount, err_codes, err_states, err_counts, first_request_at, last_final_at)
SELECT b.campaign_id, b.id, b.sender, b.attempts, rc.statuses, rc.counts, rc.units, rc.recipients, rc.recipient_units, rc.accepted, mc.msg_units, mc.amount, mc.priced_units,
       mc.priced_amount, ec.err_codes, ec.err_states, ec.err_counts, (SELECT min(a.started_at) FROM attempts a WHERE a.batch_id = b.id), mc.last_final_at
FROM batches b
CROSS JOIN LATERAL (
  SELECT coalesce(array_agg(s.status), '{}') AS statuses, coalesce(array_agg(s.n), '{}') AS counts, coalesce(array_agg(s.units), '{}') AS units,
         coalesce(sum(s.n), 0)::int AS recipients, coalesce(sum(s.units), 0)::int AS recipient_units,
         coalesce(sum(s.accepted), 0)::int AS accepted, coalesce(bool_and(s.status NOT IN ('pending', 'sending', 'submitted')), true) AS closed
  FROM (SELECT r.status, count(*)::int AS n, coalesce(sum(r.units), 0)::int AS units, count(r.message_uuid)::int AS accepted
        FROM recipients r WHERE r.batch_id = b.id GROUP BY r.status) s) rc
CROSS JOIN LATERAL (
  SELECT coalesce(sum(coalesce(m.units, b.units)), 0)::int AS msg_units, coalesce(sum(m.total_amount), 0) AS amount,
         coalesce(sum(m.units) FILTER (WHERE m.total_rate IS NOT NULL), 0)::int AS priced_units,
         coalesce(sum(m.total_rate * m.units) FILTER (WHERE m.total_rate IS NOT NULL), 0) AS priced_amount,
         max(coalesce(m.provider_updated_at, m.final_at)) FILTER (WHERE m.final_at IS NOT NULL) AS last_final_at,
         coalesce(bool_and(m.final_at IS NOT NULL AND m.state NOT IN ('queued', 'sent')), true) AS final
  FROM messages m WHERE m.batch_id = b.id) mc
CROSS JOIN LATERAL (
  SELECT coalesce(array_agg(e.code), '{}') AS err_codes, coalesce(array_agg(e.state), '{}') AS err_states, coalesce(array_agg(e.n), '{}') AS err_counts
  FROM (SELECT m.error_code AS code, m.state, count(*)::int AS n FROM messages m
        WHERE m.batch_id = b.id AND m.error_code IS NOT NULL AND m.error_code <> '000' GROUP BY 1, 2) e) ec
WHERE b.status IN ('accepted', 'failed') AND rc.closed AND mc.final
  AND NOT EXISTS (SELECT 1 FROM unaccounted_batches u WHERE u.batch_id = b.id AND u.settled_at IS NULL);

INSERT INTO batch_tallies (campaign_id, batch_id, sender, attempts, statuses, counts, units, recipients, recipient_units, accepted, msg_units, amount, priced_units,
                           priced_amount, err_codes, err_states, err_counts, first_request_at, last_final_at)
SELECT u.campaign_id, NULL, u.sender, 0, array_agg(u.status), array_agg(u.n), array_agg(u.units), sum(u.n)::int, sum(u.units)::int, sum(u.accepted)::int,
       0, 0, 0, 0, '{}', '{}', '{}', NULL, NULL
FROM (SELECT r.campaign_id, r.sender, r.status, count(*)::int AS n, coalesce(sum(r.units), 0)::int AS units, count(r.message_uuid)::int AS accepted
      FROM recipients r JOIN campaigns c ON c.id = r.campaign_id AND NOT c.loading
      WHERE r.batch_id IS NULL GROUP BY 1, 2, 3) u
GROUP BY u.campaign_id, u.sender;
