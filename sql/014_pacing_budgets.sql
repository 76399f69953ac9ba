-- smsrun ledger, version 14: pacing lives in the ledger, shared by every campaign and process on one database.
--
-- sender_budgets  one row per (account, sender number): a GCRA (virtual scheduling) bucket. `tat` is the
--                 sender's theoretical arrival time. The claim statement (src/ledger/sending.ts) takes a batch
--                 of the sender once tat is within a short lookahead of now(), gives the batch the slot
--                 greatest(tat, now()) and moves tat to slot + cost / rate, on the database clock; the process
--                 holds the request until its slot. `rate` is the lowest rate any campaign still sending from
--                 the number gives it (a carrier counts the number, not the campaign). A restart finds tat where
--                 it stood; a dead process leaves nothing behind but a tat that time overtakes.
-- account_slots   the account's request window (kind 'request': 300 slots, Plivo's 300 requests per 5 s) and
--                 List window (kind 'list': 20 slots, 20 a minute). A request takes a free slot (free_at <= now(),
--                 FOR UPDATE SKIP LOCKED) and holds it for the window's length from its slot, and again from when
--                 its answer is recorded, so no sliding window ever holds more requests than there are slots,
--                 whichever process sent them.
--
-- sender_leases (version 2) is gone: any process may claim any sender's next batch when its time comes.
-- batches_ready indexed every batch ever sent; the open ones are what the hot path reads.
CREATE TABLE sender_budgets (
  account  text NOT NULL,
  sender   text NOT NULL,
  rate     float8 NOT NULL CHECK (rate > 0),
  tat      timestamptz NOT NULL DEFAULT 'epoch',
  PRIMARY KEY (account, sender)
);

CREATE TABLE account_slots (
  account  text NOT NULL,
  kind     text NOT NULL CHECK (kind IN ('request', 'list')),
  slot     integer NOT NULL,
  free_at  timestamptz NOT NULL DEFAULT 'epoch',
  PRIMARY KEY (account, kind, slot)
);

DROP TABLE sender_leases;

DROP INDEX batches_ready;
CREATE INDEX batches_campaign ON batches (campaign_id);
CREATE INDEX batches_pending ON batches (campaign_id, sender, id) WHERE status = 'pending';
CREATE INDEX batches_unsettled ON batches (campaign_id, lease_owner) WHERE status IN ('in_flight', 'ambiguous');
