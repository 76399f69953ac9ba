-- smsrun ledger, version 15: a campaign loaded in committed chunks, sent while it loads (issue 12).
--
-- The CSV is streamed into the ledger in chunks of rows, each committed on its own (COPY into a staging
-- table, then `batches` and `recipients` written once each, set-based). Sending starts after the first
-- chunk. What a crashed load leaves is exactly its committed chunks, and these columns say where it stopped:
--
-- campaigns.loading        true from the first chunk until the last one commits. Existing campaigns: false.
-- campaigns.loaded_rows    CSV data rows committed so far (row_no 1..loaded_rows are in `recipients`);
--                          a resumed load skips them and goes on with row loaded_rows + 1. NULL: a campaign
--                          loaded whole (before this version, or a `smsrun retry` copy).
-- campaigns.expected_rows  the row count estimated from the file's size while it loads ("about M rows").
-- campaigns.load_chain     a hash chain over the committed rows' text (sha256(previous chain || chunk's
--                          raw rows)), started from the job's content keys and the header: a resumed load
--                          recomputes it over the rows it skips and refuses a CSV that changed before the
--                          rows it loads.
-- campaigns.dealt          valid recipients dealt to senders so far: the round-robin goes on from there.
-- campaigns.max_batch_cost the largest batch cost (destinations × units with `rate_counts: units`) the load
--                          may cut, fixed by the first chunk: the senders' buckets are sized before the whole
--                          list is read, so a later, longer text is cut into smaller batches to fit.
--
-- During the load `content_hash` and `csv_sha256` are provisional ('loading:<job keys hash>'); the last
-- chunk writes the whole file's. Existing campaigns are complete: their columns keep these defaults.
--
-- recipients keeps its foreign keys (to campaigns and batches): a chunk's rows are checked by them like any
-- insert. Plain columns with constant defaults: adding them rewrites nothing, whatever the ledger's size.

ALTER TABLE campaigns ADD COLUMN loading boolean NOT NULL DEFAULT false;
ALTER TABLE campaigns ADD COLUMN loaded_rows integer;
ALTER TABLE campaigns ADD COLUMN expected_rows integer;
ALTER TABLE campaigns ADD COLUMN load_chain text;
ALTER TABLE campaigns ADD COLUMN dealt integer NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN max_batch_cost integer;
