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

-- The functions below are PL/pgSQL with static statements, so that each backend plans them once and reuses the
-- plans (a query text built per call and run by EXECUTE was planned at every write: about 1 ms each).
--
-- The smsrun_add_* functions add rows of a tally table's shape (the shard and any figure left NULL are ignored:
-- NULL adds nothing) to this backend's shard, in key order.
CREATE FUNCTION smsrun_add_status_tallies(added status_tallies[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO status_tallies AS t (campaign_id, sender, status, shard, n, units, accepted)
  SELECT campaign_id, sender, status, pg_backend_pid(), n, units, accepted FROM unnest(added) ORDER BY campaign_id, sender, status
  ON CONFLICT (campaign_id, sender, status, shard) DO UPDATE SET
    n = t.n + excluded.n, units = t.units + excluded.units, accepted = t.accepted + excluded.accepted;
END
$$;

CREATE FUNCTION smsrun_add_error_tallies(added error_tallies[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO error_tallies AS t (campaign_id, sender, code, state, shard, n)
  SELECT campaign_id, sender, code, state, pg_backend_pid(), n FROM unnest(added) ORDER BY campaign_id, sender, code, state
  ON CONFLICT (campaign_id, sender, code, state, shard) DO UPDATE SET n = t.n + excluded.n;
END
$$;

CREATE FUNCTION smsrun_add_sender_tallies(added sender_tallies[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
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
    last_accepted_at = greatest(t.last_accepted_at, excluded.last_accepted_at);
END
$$;

-- Recipients: an INSERT counts its rows in; an UPDATE counts the rows whose counted columns changed out (old) and
-- in (new), so that an update of other columns (a reason, a batch_id) writes nothing.
CREATE FUNCTION smsrun_tally_recipients_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_add_status_tallies(array_agg(ROW(campaign_id, sender, status, NULL, n, units, accepted)::status_tallies))
  FROM (SELECT campaign_id, coalesce(sender, '') AS sender, status, count(*) AS n, coalesce(sum(units), 0) AS units, count(message_uuid) AS accepted
        FROM new_rows GROUP BY 1, 2, 3) s
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION smsrun_tally_recipients_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_add_status_tallies(array_agg(ROW(campaign_id, sender, status, NULL, n, units, accepted)::status_tallies))
  FROM (SELECT campaign_id, sender, status, sum(sign) AS n, sum(sign * units) AS units, sum(sign * accepted) AS accepted
        FROM (SELECT x.campaign_id, coalesce(x.sender, '') AS sender, x.status, coalesce(x.units, 0) AS units,
                     (x.message_uuid IS NOT NULL)::int AS accepted, x.sign
              FROM new_rows n JOIN old_rows o ON o.campaign_id = n.campaign_id AND o.row_no = n.row_no
              CROSS JOIN LATERAL (VALUES (n.campaign_id, n.sender, n.status, n.units, n.message_uuid, 1),
                                         (o.campaign_id, o.sender, o.status, o.units, o.message_uuid, -1))
                                 x(campaign_id, sender, status, units, message_uuid, sign)
              WHERE (n.sender, n.status, n.units, n.message_uuid IS NULL) IS DISTINCT FROM (o.sender, o.status, o.units, o.message_uuid IS NULL)) d
        GROUP BY 1, 2, 3 HAVING sum(sign) <> 0 OR sum(sign * units) <> 0 OR sum(sign * accepted) <> 0) s
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;

-- Messages: their figures per sender, and their error codes, from the messages' counted columns with a sign (+1
-- counted in, -1 out). A message's sender and default units are its batch's (one index probe per message). An
-- UPDATE counts only the messages whose counted columns changed: a tracking pass's polls and next look write nothing.
CREATE TYPE smsrun_message_change AS (batch_id integer, state text, error_code text, units integer, total_rate numeric, total_amount numeric,
                                      final_at timestamptz, provider_updated_at timestamptz, sign integer);

CREATE FUNCTION smsrun_tally_message_changes(changes smsrun_message_change[]) RETURNS void LANGUAGE plpgsql AS $$
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
                       max(coalesce(provider_updated_at, final_at)) FILTER (WHERE sign = 1 AND final_at IS NOT NULL) AS last_final_at
                FROM d GROUP BY 1, 2) x
          WHERE msg_units <> 0 OR amount <> 0 OR priced_units <> 0 OR priced_amount <> 0 OR last_final_at IS NOT NULL)
  INTO errors, sums;
  IF errors IS NOT NULL THEN PERFORM smsrun_add_error_tallies(errors); END IF;
  IF sums IS NOT NULL THEN PERFORM smsrun_add_sender_tallies(sums); END IF;
END
$$;

CREATE FUNCTION smsrun_tally_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_tally_message_changes(array_agg(ROW(n.batch_id, n.state, n.error_code, n.units, n.total_rate, n.total_amount, n.final_at,
                                                     n.provider_updated_at, 1)::smsrun_message_change))
  FROM new_rows n HAVING count(*) > 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION smsrun_tally_messages_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_tally_message_changes(array_agg(x.c))
  FROM new_rows n JOIN old_rows o ON o.message_uuid = n.message_uuid
  CROSS JOIN LATERAL (VALUES
    (ROW(n.batch_id, n.state, n.error_code, n.units, n.total_rate, n.total_amount, n.final_at, n.provider_updated_at, 1)::smsrun_message_change),
    (ROW(o.batch_id, o.state, o.error_code, o.units, o.total_rate, o.total_amount, o.final_at, o.provider_updated_at, -1)::smsrun_message_change)) x(c)
  WHERE (n.batch_id, n.state, n.error_code, n.units, n.total_rate, n.total_amount, n.final_at, n.provider_updated_at)
        IS DISTINCT FROM (o.batch_id, o.state, o.error_code, o.units, o.total_rate, o.total_amount, o.final_at, o.provider_updated_at)
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;

-- Batches: requests count from the statement that takes a batch's attempts above 0 (a claim) and stop counting if
-- they go back to 0 (sending.ts's closeEmptyClaims), with a sign as for messages; the latest acceptance. A batch
-- inserted gives its sender a row (sign 0 if never attempted), so that every sender with a batch is listed.
CREATE TYPE smsrun_batch_change AS (campaign_id integer, sender text, size bigint, units bigint, accepted_at timestamptz, sign integer);

CREATE FUNCTION smsrun_tally_batch_changes(changes smsrun_batch_change[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_add_sender_tallies(array_agg(ROW(campaign_id, sender, NULL, NULL, NULL, NULL, NULL, NULL, requests, requested, requested_units,
                                                  largest_request, largest_request_units, NULL, last_accepted_at)::sender_tallies))
  FROM (SELECT campaign_id, sender, sum(sign) AS requests, sum(sign * size) AS requested, sum(sign * size * units) AS requested_units,
               max(size) FILTER (WHERE sign = 1) AS largest_request, max(size * units) FILTER (WHERE sign = 1) AS largest_request_units,
               max(accepted_at) AS last_accepted_at
        FROM unnest(changes) GROUP BY 1, 2) s
  HAVING count(*) > 0;
END
$$;

CREATE FUNCTION smsrun_tally_batches_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_tally_batch_changes(array_agg(ROW(n.campaign_id, n.sender, n.size, n.units, n.accepted_at, (n.attempts > 0)::int)::smsrun_batch_change))
  FROM new_rows n HAVING count(*) > 0;
  RETURN NULL;
END
$$;

CREATE FUNCTION smsrun_tally_batches_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_tally_batch_changes(array_agg(ROW(n.campaign_id, n.sender, n.size, n.units, n.accepted_at,
    CASE WHEN (n.attempts > 0) = (o.attempts > 0) THEN 0 WHEN n.attempts > 0 THEN 1 ELSE -1 END)::smsrun_batch_change))
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE (n.attempts > 0) <> (o.attempts > 0) OR n.accepted_at IS DISTINCT FROM o.accepted_at
  HAVING count(*) > 0;
  RETURN NULL;
END
$$;

-- Attempts: the first request's start.
CREATE FUNCTION smsrun_tally_attempts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM smsrun_add_sender_tallies(array_agg(ROW(campaign_id, sender, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                                  first_request_at, NULL)::sender_tallies))
  FROM (SELECT b.campaign_id, b.sender, min(a.started_at) AS first_request_at
        FROM new_rows a JOIN batches b ON b.id = a.batch_id GROUP BY 1, 2) s
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
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_recipients_inserted();
CREATE TRIGGER recipients_tally_updated AFTER UPDATE ON recipients
  REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_recipients_updated();
CREATE TRIGGER messages_tally_inserted AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_messages_inserted();
CREATE TRIGGER messages_tally_updated AFTER UPDATE ON messages
  REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_messages_updated();
CREATE TRIGGER batches_tally_inserted AFTER INSERT ON batches
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_batches_inserted();
CREATE TRIGGER batches_tally_updated AFTER UPDATE ON batches
  REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_batches_updated();
CREATE TRIGGER attempts_tally_inserted AFTER INSERT ON attempts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION smsrun_tally_attempts_inserted();

-- The tallies of settled batches (sql/019, sql/022) are replaced by the above.
DROP TABLE campaign_tallies;
DROP FUNCTION roll_up_batch_tallies(batch_tallies[]);
DROP TABLE batch_tallies;
