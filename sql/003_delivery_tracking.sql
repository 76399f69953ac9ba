-- smsrun ledger, version 3: delivery tracking by the List API, single GETs and signed status callbacks.
--
-- Message rank (what an update may never go back on): queued 0 < sent 1 < sent-final (no receipt before
-- the cut-off) 2 < any other final state 3. A record read later can be older news than a callback already
-- applied, and Plivo's callbacks can arrive late, twice or out of order: an update is applied only when
-- it ranks higher, or ranks the same and is newer (a higher callback Sequence, or a poll).

-- When the message's request left: Plivo's message_time lies between this and submitted_at (clocks
-- aside), which is the window tracking lists it in.
ALTER TABLE messages ADD COLUMN sent_after timestamptz;
UPDATE messages m SET sent_after = coalesce(
  (SELECT min(a.started_at) FROM attempts a WHERE a.batch_id = m.batch_id AND a.status = 'accepted'), m.submitted_at);
ALTER TABLE messages ALTER COLUMN sent_after SET DEFAULT now();
ALTER TABLE messages ALTER COLUMN sent_after SET NOT NULL;
-- How the message's final state became known: get | list | callback (a `sent` past the cut-off is final by a poll).
ALTER TABLE messages ADD COLUMN final_via text;
-- Plivo's time of the message's last state change (message_updated_time, or the callback's report time).
ALTER TABLE messages ADD COLUMN provider_updated_at timestamptz;
CREATE INDEX messages_sent_after ON messages (campaign_id, sent_after);

-- Callbacks that arrived before the 202 that carried their message was recorded (or for a batch still
-- being reconciled). They are applied once the message is in `messages`. They never count as evidence
-- in reconciliation: only the List API's records do. Rows whose message never shows up (a callback for
-- something sent outside smsrun, or a batch resolved by hand) are pruned after 7 days.
CREATE TABLE callback_inbox (
  message_uuid  text NOT NULL,
  sequence      integer NOT NULL,
  campaign_id   integer,
  batch_id      integer,
  state         text NOT NULL,
  to_number     text,
  error_code    text,
  units         integer,
  total_rate    numeric(12, 5),
  total_amount  numeric(12, 5),
  message_time  timestamptz,
  provider_updated_at timestamptz,
  received_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_uuid, sequence)
);
