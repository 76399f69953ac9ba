-- smsrun ledger: reconciliation windows and absence confirmed twice (issue 10, items 1, 4 and 7).
--
-- attempts.request_timeout_ms  the request timeout the attempt ran under. Its reconciliation window ends
--                              that long after the attempt ended, whatever a later run's timeout is.
--                              NULL for attempts written before this version: the window then uses the
--                              larger of the current timeout and smsrun's default (30 s).
-- attempts.absent_seen_at      when the first listing that missed some of the attempt's messages began.
--                              An ambiguous batch is sent again (wholly or in part) only when a second
--                              listing, at least a minute later, misses them too.
--
-- Plain nullable columns without a default: adding them rewrites nothing.

ALTER TABLE attempts ADD COLUMN request_timeout_ms integer;
ALTER TABLE attempts ADD COLUMN absent_seen_at timestamptz;
