-- smsrun ledger, version 9: a campaign loaded in committed chunks, sent while it loads.
--
-- The CSV is streamed into the ledger in chunks of rows, each committed on its own (COPY into a staging
-- table, then `recipients` and `batches` written once each, set-based). Sending starts after the first
-- chunk. What a crashed load leaves is exactly its committed chunks, and these columns say where it stopped:
--
-- campaigns.loading        true from the first chunk until the last one commits. Existing campaigns: false.
-- campaigns.loaded_rows    CSV data rows committed so far (row_no 1..loaded_rows are in `recipients`);
--                          a resumed load skips them and goes on with row loaded_rows + 1.
-- campaigns.expected_rows  the row count estimated from the file's size at the start ("about M rows").
-- campaigns.load_chain     a hash chain over the committed rows' text (sha256(previous chain || chunk's
--                          raw rows)) and the job's content keys: a resumed load recomputes it over the rows
--                          it skips and refuses a CSV that changed before reaching the rows it loads.
-- campaigns.dealt          valid recipients dealt to senders so far: round-robin goes on from there.
-- campaigns.max_batch_cost the largest batch cost (destinations × units with `rate_counts: units`) the load
--                          may cut, fixed by the first chunk: the senders' buckets are sized before the whole
--                          list is read, so a later, longer text is cut into smaller batches to fit.
--
-- During the load `content_hash` and `csv_sha256` are provisional ('loading:<job keys hash>'); the last
-- chunk writes the whole file's. Existing campaigns are complete: their columns keep these defaults.
--
-- recipients' foreign keys go: they cost an index probe and a trigger call per inserted row (a third of a
-- 1 000 000-row load). The load writes a chunk's batches and its recipients in one transaction and checks
-- the set (every batch's size equals the recipients given it); nothing deletes campaigns or batches.

ALTER TABLE campaigns ADD COLUMN loading boolean NOT NULL DEFAULT false;
ALTER TABLE campaigns ADD COLUMN loaded_rows integer;
ALTER TABLE campaigns ADD COLUMN expected_rows integer;
ALTER TABLE campaigns ADD COLUMN load_chain text;
ALTER TABLE campaigns ADD COLUMN dealt integer NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN max_batch_cost integer;

ALTER TABLE recipients DROP CONSTRAINT IF EXISTS recipients_campaign_id_fkey;
ALTER TABLE recipients DROP CONSTRAINT IF EXISTS recipients_batch_id_fkey;
