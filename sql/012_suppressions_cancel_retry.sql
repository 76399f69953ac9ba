-- smsrun ledger, version 12: opt-outs (the suppression list), cancelled campaigns and retries.
--
-- suppressions         numbers that must not be texted, per account: the Plivo auth id that sends
--                      (`MA…` / `SA…`), or 'sandbox' for --sandbox runs. `number` is E.164 without '+',
--                      as recipients.dst. `source`: 'manual' (smsrun suppress add), 'import:<file>',
--                      'job:<file>' (the job's "suppress" files), 'error_200' (Plivo reported the
--                      recipient opted out), 'inbound' (the recipient texted STOP). START / UNSTOP from
--                      the number deletes its row.
-- campaigns.suppression_account  the account whose list applies to the campaign: set by every run
--                      (the account it sends through), read by the claim-time check and by error 200.
-- campaigns.cancelled_at  set by `smsrun cancel`: nothing of the campaign is claimed again.
-- campaigns.retry_of   the campaign a `smsrun retry` campaign was made from.
--
-- Recipient status, new:
--   suppressed  never sent: the number is on the account's suppression list (at load, or at claim time)
--   cancelled   never sent: the campaign was cancelled while it was pending
CREATE TABLE suppressions (
  account     text NOT NULL,
  number      text NOT NULL,
  reason      text NOT NULL,
  source      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account, number)
);

ALTER TABLE campaigns ADD COLUMN suppression_account text;
ALTER TABLE campaigns ADD COLUMN cancelled_at timestamptz;
ALTER TABLE campaigns ADD COLUMN retry_of integer REFERENCES campaigns (id);

ALTER TABLE recipients DROP CONSTRAINT recipients_status_check;
ALTER TABLE recipients ADD CONSTRAINT recipients_status_check CHECK (status IN ('pending', 'sending', 'submitted',
  'delivered', 'undelivered', 'failed', 'rejected', 'sent', 'expired', 'invalid', 'duplicate', 'skipped',
  'suppressed', 'cancelled'));
