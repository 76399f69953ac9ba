-- smsrun ledger, version 26: the summary's figures kept as the ledger is written, so that `status` reads a few
-- rows per sender whatever the campaign's size and state.
--
-- Until now the summary (ledger/reports.ts, campaignTally) counted every batch not settled yet, live, batch by
-- batch (sql/019, sql/022): 9.5 s on a personalised 1 000 000-row campaign half sent, a batch per recipient. Here
-- statement triggers on recipients, messages, batches and attempts add each statement's change to per-sender
-- tallies, in the writing transaction: a tally and the rows it counts are committed together or not at all,
-- whoever writes them (any smsrun version, a migration, an operator's SQL). They replace the tallies of settled
-- batches, dropped below.
--
-- Each backend adds to rows of its own (`shard`: its pid), so two transactions never wait on a tally row, and
-- cannot deadlock over several: a backend runs one transaction at a time. A pid used again later adds to the old
-- rows, which is only addition. Readers sum the shards. The figures (per campaign and sender; sender '' for the
-- recipients without one, such as invalid rows):
--   status_tallies   recipients by status: how many, their units (smsrun's count), how many have a message_uuid
--   error_tallies    messages by error code (other than 000) and state
--   sender_tallies   messages: units (Plivo's where known, else the batch's), total_amount, and units and
--                    total_rate × units of those whose rate is known; the latest final time (Plivo's where known);
--                    requests: batches sent at least once (attempts > 0), the recipients and units they were cut
--                    with (size, size × units), the largest of them; the first attempt's start
-- Counts are kept exactly (each statement adds its new rows and takes away its old ones). Three figures only
-- grow: the largest request and the latest final time are the largest seen, the first request the earliest seen
-- (an attempt taken back when every recipient was suppressed at the claim, sending.ts, leaves its start). A
-- request is counted with its batch as cut (size): recipients a reconciliation moves out to a batch of their own
-- stay in the request that carried them, and count again when their new batch is sent.
-- Nothing is counted when rows are deleted: recipients, batches and messages go only with their campaign, whose
-- tallies go with it; attempts only as above.

CREATE TABLE status_tallies (
  campaign_id  integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  sender       text NOT NULL,
  status       text NOT NULL,
  shard        integer NOT NULL,
  n            bigint NOT NULL,
  units        bigint NOT NULL,
  accepted     bigint NOT NULL,
  PRIMARY KEY (campaign_id, sender, status, shard)
);

CREATE TABLE error_tallies (
  campaign_id  integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  sender       text NOT NULL,
  code         text NOT NULL,
  state        text NOT NULL,
  shard        integer NOT NULL,
  n            bigint NOT NULL,
  PRIMARY KEY (campaign_id, sender, code, state, shard)
);

CREATE TABLE sender_tallies (
  campaign_id            integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  sender                 text NOT NULL,
  shard                  integer NOT NULL,
  msg_units              bigint NOT NULL DEFAULT 0,
  amount                 numeric NOT NULL DEFAULT 0,
  priced_units           bigint NOT NULL DEFAULT 0,
  priced_amount          numeric NOT NULL DEFAULT 0,
  last_final_at          timestamptz,
  requests               bigint NOT NULL DEFAULT 0,
  requested              bigint NOT NULL DEFAULT 0,
  requested_units        bigint NOT NULL DEFAULT 0,
  largest_request        integer NOT NULL DEFAULT 0,
  largest_request_units  integer NOT NULL DEFAULT 0,
  first_request_at       timestamptz,
  last_accepted_at       timestamptz,
  PRIMARY KEY (campaign_id, sender, shard)
);

-- Adds rows of sender_tallies' shape (campaign_id, sender and the figures; NULL for a figure left alone) to
-- this backend's shard, in key order.
CREATE FUNCTION smsrun_add_sender_tallies(added sender_tallies[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO sender_tallies AS t (campaign_id, sender, shard, msg_units, amount, priced_units, priced_amount, last_final_at,
                                   requests, requested, requested_units, largest_request, largest_request_units, first_request_at, last_accepted_at)
  SELECT campaign_id, sender, pg_backend_pid(), coalesce(msg_units, 0), coalesce(amount, 0), coalesce(priced_units, 0), coalesce(priced_amount, 0),
         last_final_at, coalesce(requests, 0), coalesce(requested, 0), coalesce(requested_units, 0), coalesce(largest_request, 0),
         coalesce(largest_request_units, 0), first_request_at, last_accepted_at
  FROM unnest(added) ORDER BY campaign_id, sender
  ON CONFLICT (campaign_id, sender, shard) DO UPDATE SET
    msg_units = t.msg_units + excluded.msg_units, amount = t.amount + excluded.amount, priced_units = t.priced_units + excluded.priced_units,
    priced_amount = t.priced_amount + excluded.priced_amount, last_final_at = greatest(t.last_final_at, excluded.last_final_at),
    requests = t.requests + excluded.requests, requested = t.requested + excluded.requested, requested_units = t.requested_units + excluded.requested_units,
    largest_request = greatest(t.largest_request, excluded.largest_request),
    largest_request_units = greatest(t.largest_request_units, excluded.largest_request_units),
    first_request_at = least(t.first_request_at, excluded.first_request_at),
    last_accepted_at = greatest(t.last_accepted_at, excluded.last_accepted_at)
$$;

-- Each trigger function below reads the statement's rows as a set with a sign: its new rows (+1) and, on an
-- UPDATE, its old rows (-1). It is one query text for INSERT and UPDATE, run by EXECUTE, because an INSERT trigger
-- has no old rows to name.

CREATE FUNCTION smsrun_tally_recipients() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cols constant text := 'campaign_id, coalesce(sender, '''') AS sender, status, coalesce(units, 0)::bigint AS units, (message_uuid IS NOT NULL)::int AS accepted';
BEGIN
  EXECUTE format($q$
    INSERT INTO status_tallies AS t (campaign_id, sender, status, shard, n, units, accepted)
    SELECT campaign_id, sender, status, pg_backend_pid(), sum(sign), sum(sign * units), sum(sign * accepted)
    FROM (%s %s) d
    GROUP BY campaign_id, sender, status
    HAVING sum(sign) <> 0 OR sum(sign * units) <> 0 OR sum(sign * accepted) <> 0
    ORDER BY campaign_id, sender, status
    ON CONFLICT (campaign_id, sender, status, shard) DO UPDATE SET
      n = t.n + excluded.n, units = t.units + excluded.units, accepted = t.accepted + excluded.accepted$q$,
    format('SELECT %s, 1 AS sign FROM new_rows', cols),
    CASE TG_OP WHEN 'UPDATE' THEN format('UNION ALL SELECT %s, -1 FROM old_rows', cols) ELSE '' END);
  RETURN NULL;
END
$$;

-- A message's sender and default units are its batch's (one index probe per batch of the statement's messages).
CREATE FUNCTION smsrun_tally_messages() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cols constant text := 'batch_id, state, error_code, units, total_rate, total_amount, final_at, provider_updated_at';
BEGIN
  EXECUTE format($q$
    WITH d AS MATERIALIZED (
      SELECT b.campaign_id, b.sender, m.*, coalesce(m.units, b.units)::bigint AS any_units
      FROM (%s %s) m JOIN batches b ON b.id = m.batch_id),
    errors AS (
      INSERT INTO error_tallies AS t (campaign_id, sender, code, state, shard, n)
      SELECT campaign_id, sender, error_code, state, pg_backend_pid(), sum(sign)
      FROM d WHERE error_code IS NOT NULL AND error_code <> '000'
      GROUP BY campaign_id, sender, error_code, state HAVING sum(sign) <> 0
      ORDER BY campaign_id, sender, error_code, state
      ON CONFLICT (campaign_id, sender, code, state, shard) DO UPDATE SET n = t.n + excluded.n)
    SELECT smsrun_add_sender_tallies(array_agg(ROW(campaign_id, sender, NULL, msg_units, amount, priced_units, priced_amount, last_final_at,
                                                   NULL, NULL, NULL, NULL, NULL, NULL, NULL)::sender_tallies))
    FROM (SELECT campaign_id, sender, sum(sign * any_units) AS msg_units, sum(sign * coalesce(total_amount, 0)) AS amount,
                 coalesce(sum(sign * units) FILTER (WHERE total_rate IS NOT NULL), 0) AS priced_units,
                 coalesce(sum(sign * total_rate * units) FILTER (WHERE total_rate IS NOT NULL), 0) AS priced_amount,
                 max(coalesce(provider_updated_at, final_at)) FILTER (WHERE sign = 1 AND final_at IS NOT NULL) AS last_final_at
          FROM d GROUP BY campaign_id, sender) s
    WHERE s.msg_units <> 0 OR s.amount <> 0 OR s.priced_units <> 0 OR s.priced_amount <> 0 OR s.last_final_at IS NOT NULL
    HAVING count(*) > 0$q$,
    format('SELECT %s, 1 AS sign FROM new_rows', cols),
    CASE TG_OP WHEN 'UPDATE' THEN format('UNION ALL SELECT %s, -1 FROM old_rows', cols) ELSE '' END);
  RETURN NULL;
END
$$;

-- Requests: a batch counts from the statement that takes its attempts above 0 (a claim) and stops counting if
-- they go back to 0 (sending.ts's closeEmptyClaims). A batch inserted gives its sender a row, so that every
-- sender with a batch is listed.
CREATE FUNCTION smsrun_tally_batches() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    SELECT smsrun_add_sender_tallies(array_agg(ROW(campaign_id, sender, NULL, NULL, NULL, NULL, NULL, NULL, requests, requested, requested_units,
                                                   largest_request, largest_request_units, NULL, last_accepted_at)::sender_tallies))
    FROM (SELECT campaign_id, sender, sum(sign) AS requests, sum(sign * size) AS requested, sum(sign * size * units) AS requested_units,
                 max(size) FILTER (WHERE sign = 1) AS largest_request, max(size * units) FILTER (WHERE sign = 1) AS largest_request_units,
                 max(accepted_at) AS last_accepted_at
          FROM (SELECT n.campaign_id, n.sender, n.size::bigint AS size, n.units::bigint AS units, n.accepted_at, %s AS sign FROM new_rows n %s) f
          GROUP BY campaign_id, sender) s
    HAVING count(*) > 0$q$,
    CASE TG_OP WHEN 'UPDATE' THEN 'CASE WHEN (n.attempts > 0) = (o.attempts > 0) THEN 0 WHEN n.attempts > 0 THEN 1 ELSE -1 END' ELSE '(n.attempts > 0)::int' END,
    CASE TG_OP WHEN 'UPDATE' THEN 'JOIN old_rows o ON o.id = n.id WHERE (n.attempts > 0) <> (o.attempts > 0) OR n.accepted_at IS DISTINCT FROM o.accepted_at'
                             ELSE '' END);
  RETURN NULL;
END
$$;

CREATE FUNCTION smsrun_tally_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_add_sender_tallies(array_agg(ROW(campaign_id, sender, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                                  first_request_at, NULL)::sender_tallies))
  FROM (SELECT b.campaign_id, b.sender, min(a.started_at) AS first_request_at
        FROM new_rows a JOIN batches b ON b.id = a.batch_id GROUP BY b.campaign_id, b.sender) s
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;

-- What exists now, in shard 0, with writers held off until this commits (they wait; readers do not), so that no
-- write is counted both here and by a trigger, or by neither.
LOCK TABLE recipients, messages, batches, attempts IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO status_tallies (campaign_id, sender, status, shard, n, units, accepted)
SELECT campaign_id, coalesce(sender, ''), status, 0, count(*), coalesce(sum(units), 0), count(message_uuid)
FROM recipients GROUP BY 1, 2, 3;

INSERT INTO error_tallies (campaign_id, sender, code, state, shard, n)
SELECT b.campaign_id, b.sender, m.error_code, m.state, 0, count(*)
FROM messages m JOIN batches b ON b.id = m.batch_id
WHERE m.error_code IS NOT NULL AND m.error_code <> '000'
GROUP BY 1, 2, 3, 4;

INSERT INTO sender_tallies (campaign_id, sender, shard, msg_units, amount, priced_units, priced_amount, last_final_at,
                            requests, requested, requested_units, largest_request, largest_request_units, first_request_at, last_accepted_at)
SELECT q.campaign_id, q.sender, 0, coalesce(m.msg_units, 0), coalesce(m.amount, 0), coalesce(m.priced_units, 0), coalesce(m.priced_amount, 0),
       m.last_final_at, q.requests, q.requested, q.requested_units, q.largest_request, q.largest_request_units, a.first_request_at, q.last_accepted_at
FROM (SELECT campaign_id, sender, count(*) FILTER (WHERE attempts > 0) AS requests,
             coalesce(sum(size) FILTER (WHERE attempts > 0), 0) AS requested,
             coalesce(sum(size::bigint * units) FILTER (WHERE attempts > 0), 0) AS requested_units,
             coalesce(max(size) FILTER (WHERE attempts > 0), 0) AS largest_request,
             coalesce(max(size * units) FILTER (WHERE attempts > 0), 0) AS largest_request_units,
             max(accepted_at) AS last_accepted_at
      FROM batches GROUP BY 1, 2) q
LEFT JOIN (SELECT b.campaign_id, b.sender, sum(coalesce(m.units, b.units)) AS msg_units, coalesce(sum(m.total_amount), 0) AS amount,
                  coalesce(sum(m.units) FILTER (WHERE m.total_rate IS NOT NULL), 0) AS priced_units,
                  coalesce(sum(m.total_rate * m.units) FILTER (WHERE m.total_rate IS NOT NULL), 0) AS priced_amount,
                  max(coalesce(m.provider_updated_at, m.final_at)) FILTER (WHERE m.final_at IS NOT NULL) AS last_final_at
           FROM messages m JOIN batches b ON b.id = m.batch_id GROUP BY 1, 2) m USING (campaign_id, sender)
LEFT JOIN (SELECT b.campaign_id, b.sender, min(a.started_at) AS first_request_at
           FROM attempts a JOIN batches b ON b.id = a.batch_id GROUP BY 1, 2) a USING (campaign_id, sender);

CREATE TRIGGER recipients_tally_inserted AFTER INSERT ON recipients
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_recipients();
CREATE TRIGGER recipients_tally_updated AFTER UPDATE ON recipients
  REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_recipients();
CREATE TRIGGER messages_tally_inserted AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_messages();
CREATE TRIGGER messages_tally_updated AFTER UPDATE ON messages
  REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_messages();
CREATE TRIGGER batches_tally_inserted AFTER INSERT ON batches
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_batches();
CREATE TRIGGER batches_tally_updated AFTER UPDATE ON batches
  REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_batches();
CREATE TRIGGER attempts_tally_inserted AFTER INSERT ON attempts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_attempts();

-- The tallies of settled batches (sql/019, sql/022) are replaced by the above.
DROP TABLE campaign_tallies;
DROP FUNCTION roll_up_batch_tallies(batch_tallies[]);
DROP TABLE batch_tallies;
