--! no-transaction
-- smsrun ledger, version 10: lean hot tables. Runs outside a transaction (see src/ledger/migrate.ts): every
-- index change is CONCURRENTLY, so that upgrading a shared Postgres does not block the campaigns running on
-- it, and every statement can run again after a crash (IF EXISTS).
--
-- HOT updates. A recipient's status changes three or four times in its life (pending, sending, submitted,
-- delivered) and an attempt's once or twice. Postgres rewrites an updated row in place on its page (a HOT
-- update: no new entry in any index) only when no index covers a changed column, in its key, expressions
-- or predicate, and the page has room. So:
--   recipients_status (campaign_id, status) goes: every status change wrote a new entry into all four of
--     recipients' indexes. What read it (counts by status for a campaign) now reads the campaign's rows by
--     the primary key, or its open batches (batches' own open-set index) and recipients_batch.
--   attempts_open (status) WHERE status IN ('in_flight', 'ambiguous') goes: no query reads attempts by
--     status alone (they are read by batch_id, through UNIQUE (batch_id, attempt_no)), and its predicate
--     made every attempt's status change a non-HOT update.
--   No index on recipients or attempts names a column that changes after the row's batch is cut (status,
--     message_uuid, reason; finished_at, http_status, api_id, message_uuids, error).
-- Fillfactor leaves room on each page for the new versions of its rows: a recipient's row grows by its
-- message_uuid and a longer status, an attempt's by its answer (up to a uuid per recipient of the batch).
-- It applies to pages written from now on; existing pages are not rewritten (that would lock the table).
DROP INDEX CONCURRENTLY IF EXISTS recipients_status;
DROP INDEX CONCURRENTLY IF EXISTS attempts_open;
ALTER TABLE recipients SET (fillfactor = 80);
ALTER TABLE attempts SET (fillfactor = 70);
