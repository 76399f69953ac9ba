-- smsrun ledger, version 4: recipients a job chose not to text.
--
-- Recipient status (added)
--   never sent: skipped   a landline (a fixed-line number), with the job's `landlines: "skip"`; `reason` says so.
--                         Kept like `invalid` and `duplicate`: every CSV row stays in the ledger and the report.
--
-- `dst` is now the E.164 number without `+` as Plivo is sent it (read from what the CSV wrote, which stays in
-- `raw_dst`), so one person written two ways is one recipient. Rows loaded before keep their sanitised `dst`.

ALTER TABLE recipients DROP CONSTRAINT recipients_status_check;
ALTER TABLE recipients ADD CONSTRAINT recipients_status_check CHECK (status IN ('pending', 'sending', 'submitted',
  'delivered', 'undelivered', 'failed', 'rejected', 'sent', 'invalid', 'duplicate', 'skipped'));
