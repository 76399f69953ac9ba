-- smsrun ledger, version 1. Migrations are numbered and append-only: never edit an applied file.
--
-- Glossary
--   campaign   one job file's run, identified by its `name`. Its recipients are loaded once, atomically.
--   sender     what a batch is sent from: a `src` number, or `powerpack:<uuid>`. Each has its own rate limiter.
--   batch      recipients sharing a sender and a rendered text, sent in one request as a `<`-joined dst.
--   attempt    one request for one batch. Written (in_flight) and committed BEFORE the request leaves.
--   message    one message_uuid Plivo gave us, with the provider's last known state.
--
-- Recipient status
--   pending     valid, not sent yet (or its batch will be retried)
--   sending     in a batch whose attempt is in flight or ambiguous: it MAY have been accepted
--   submitted   accepted by Plivo; the provider's state is in `provider_state` (queued, sent)
--   final:      delivered | undelivered | failed | rejected | sent (no receipt before the cut-off)
--   never sent: invalid (with `reason`) | duplicate (same number as an earlier row)
--   failed without a message_uuid means Plivo refused the request (`reason` holds its error).
--
-- Batch status
--   pending -> in_flight -> accepted | pending (retryable, after next_attempt_at) | failed (permanent)
--   in_flight -> ambiguous (the request may have been accepted) -> reconciled: accepted | pending
--   (when only some of its messages are found, the batch is accepted and the absent recipients move to a new batch)
--   An ambiguous batch is never resent before reconciliation proves its messages absent.
--
-- Attempt status
--   in_flight -> accepted | failed_retryable | failed_permanent | ambiguous -> (reconciled) accepted | absent

CREATE TABLE campaigns (
  id            serial PRIMARY KEY,
  name          text NOT NULL UNIQUE,
  job           jsonb NOT NULL,
  job_file      text NOT NULL,
  csv_file      text NOT NULL,
  csv_sha256    text NOT NULL,
  content_hash  text NOT NULL,
  senders       text[] NOT NULL,
  state         text NOT NULL DEFAULT 'sending' CHECK (state IN ('sending', 'tracking', 'done')),
  total_rows    integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz,
  finished_at   timestamptz
);

CREATE TABLE batches (
  id                serial PRIMARY KEY,
  campaign_id       integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  sender            text NOT NULL,
  text              text,
  units             integer NOT NULL,
  size              integer NOT NULL,
  status            text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'in_flight', 'ambiguous', 'accepted', 'failed')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  lease_owner       text,
  lease_expires_at  timestamptz,
  last_error        text,
  accepted_at       timestamptz
);
CREATE INDEX batches_ready ON batches (campaign_id, sender, status, id);

CREATE TABLE recipients (
  campaign_id     integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  row_no          integer NOT NULL,
  line_no         integer NOT NULL,
  raw_dst         text,
  dst             text,
  sender          text,
  text            text,
  units           integer,
  status          text NOT NULL CHECK (status IN ('pending', 'sending', 'submitted', 'delivered', 'undelivered',
                    'failed', 'rejected', 'sent', 'invalid', 'duplicate')),
  reason          text,
  batch_id        integer REFERENCES batches (id),
  message_uuid    text,
  PRIMARY KEY (campaign_id, row_no)
);
CREATE INDEX recipients_batch ON recipients (batch_id);
CREATE INDEX recipients_dst ON recipients (campaign_id, dst);
CREATE INDEX recipients_status ON recipients (campaign_id, status);

CREATE TABLE attempts (
  id               serial PRIMARY KEY,
  batch_id         integer NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  attempt_no       integer NOT NULL,
  owner            text NOT NULL,
  status           text NOT NULL DEFAULT 'in_flight'
                   CHECK (status IN ('in_flight', 'accepted', 'failed_retryable', 'failed_permanent', 'ambiguous', 'absent')),
  started_at       timestamptz NOT NULL DEFAULT now(),
  finished_at      timestamptz,
  http_status      integer,
  api_id           text,
  message_uuids    text[],
  invalid_numbers  text[],
  error            text,
  UNIQUE (batch_id, attempt_no)
);
CREATE INDEX attempts_open ON attempts (status) WHERE status IN ('in_flight', 'ambiguous');

CREATE TABLE messages (
  message_uuid    text PRIMARY KEY,
  campaign_id     integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  batch_id        integer NOT NULL REFERENCES batches (id),
  to_number       text,
  state           text NOT NULL DEFAULT 'queued',
  error_code      text,
  units           integer,
  total_rate      numeric(12, 5),
  total_amount    numeric(12, 5),
  message_time    timestamptz,
  submitted_at    timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz,
  final_at        timestamptz,
  next_poll_at    timestamptz NOT NULL DEFAULT now(),
  polls           integer NOT NULL DEFAULT 0,
  callback_seq    integer NOT NULL DEFAULT 0
);
CREATE INDEX messages_due ON messages (campaign_id, next_poll_at) WHERE final_at IS NULL;
CREATE INDEX messages_batch ON messages (batch_id);

CREATE TABLE events (
  id           serial PRIMARY KEY,
  campaign_id  integer REFERENCES campaigns (id) ON DELETE CASCADE,
  at           timestamptz NOT NULL DEFAULT now(),
  kind         text NOT NULL,
  detail       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_campaign ON events (campaign_id, id);
