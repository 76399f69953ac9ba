-- smsrun ledger, version 21: a batch closed without a request because its campaign was cancelled.
--
-- batches.status, new:
--   cancelled  never sent: `smsrun cancel` closed it while it was still pending (its recipients are `cancelled`).
--              Final, like `accepted`, `failed` and `suppressed`; it was `failed` before, which a reader of the
--              export's batch_status column took for a send failure (sql/020 did the same for suppressed batches).
--
-- Existing ledgers: the batches closed that way before (recognised by the reason the cancel wrote) become
-- `cancelled` too.
ALTER TABLE batches DROP CONSTRAINT batches_status_check;
ALTER TABLE batches ADD CONSTRAINT batches_status_check
  CHECK (status IN ('pending', 'in_flight', 'ambiguous', 'accepted', 'failed', 'suppressed', 'cancelled'));

UPDATE batches SET status = 'cancelled'
WHERE status = 'failed' AND last_error = 'not sent: the campaign was cancelled';
