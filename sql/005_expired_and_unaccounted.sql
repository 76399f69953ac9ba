-- smsrun ledger, version 7: messages Plivo never finishes, and recipients no message_uuid reaches.
--
-- Recipient status `expired` (final): its message was still `queued` at Plivo, or Plivo had no record of
-- it (404), when looked at after its message_expiry (the job's, else Plivo's 3 h) plus a margin. Plivo
-- fails a message that waits that long (error 420); smsrun stops waiting for it to say so. Such a verdict,
-- like a `sent` past the receipt cut-off, ranks 2 (sql/003): a later word from Plivo itself (a callback
-- saying `failed` or `delivered`) still replaces it.
ALTER TABLE recipients DROP CONSTRAINT recipients_status_check;
ALTER TABLE recipients ADD CONSTRAINT recipients_status_check CHECK (status IN ('pending', 'sending', 'submitted',
  'delivered', 'undelivered', 'failed', 'rejected', 'sent', 'expired', 'invalid', 'duplicate', 'skipped'));

-- Why a message is final without a final state from Plivo (given up past its expiry); null otherwise,
-- and cleared when Plivo's own final state arrives. Shown as the report's reason.
ALTER TABLE messages ADD COLUMN final_reason text;

-- Accepted batches with `submitted` recipients that tracking cannot link to a message: the 202 held fewer
-- (or more) message_uuids than numbers (cause 'uuid_count'), or every message of the batch whose number
-- was unknown is final and some recipients are still unlinked (cause 'unlinked'). Each such recipient is
-- looked up in Plivo's records by its number (List, to_number) in the window of the batch's attempt:
-- a record found is linked (a new uuid only when no unsettled batch in the ledger could own it); a
-- number missing from two looks a minute apart is `failed` with the reason. settled_at: none left.
-- numbers, uuids: for 'uuid_count', the numbers the 202 accepted (dst less invalid_number) and the uuids it held.
CREATE TABLE unaccounted_batches (
  batch_id       integer PRIMARY KEY REFERENCES batches (id) ON DELETE CASCADE,
  campaign_id    integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  cause          text NOT NULL CHECK (cause IN ('uuid_count', 'unlinked')),
  numbers        integer,
  uuids          integer,
  looks          integer NOT NULL DEFAULT 0,
  first_look_at  timestamptz,
  next_look_at   timestamptz NOT NULL DEFAULT now(),
  settled_at     timestamptz
);
CREATE INDEX unaccounted_open ON unaccounted_batches (campaign_id, next_look_at) WHERE settled_at IS NULL;
