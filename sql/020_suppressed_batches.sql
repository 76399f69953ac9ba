-- smsrun ledger, version 20: a batch closed without a request because none of its recipients was left to send.
--
-- batches.status, new:
--   suppressed  never sent: at its claim every recipient still to send was on the account's suppression list
--               (each recipient is `suppressed`, with its reason). Final, like `accepted` and `failed`; it was
--               `failed` before, which a reader took for a send failure.
--
-- Existing ledgers: the batches closed that way before (recognised by the reason the claim wrote) become
-- `suppressed` too.
ALTER TABLE batches DROP CONSTRAINT batches_status_check;
ALTER TABLE batches ADD CONSTRAINT batches_status_check
  CHECK (status IN ('pending', 'in_flight', 'ambiguous', 'accepted', 'failed', 'suppressed'));

UPDATE batches SET status = 'suppressed', last_error = 'not sent: every recipient was suppressed at the claim'
WHERE status = 'failed' AND last_error = 'not sent: every recipient suppressed or cancelled';
