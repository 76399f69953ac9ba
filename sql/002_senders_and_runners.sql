-- smsrun ledger, version 2: sharing a campaign between processes.
--
-- sender_leases  one row per (campaign, sender): the process that may send from it now. Only the lease's
--                owner sends from a sender, so N processes on one campaign never multiply its rate. A lease
--                is renewed while its owner runs, released when it stops, and taken over when it expires or
--                its owner is dead (see runners).
--                last_claim_at is when a batch of this sender was last claimed, by anyone: a new owner starts
--                with the tokens a bucket left empty at that moment would have earned since, so a handover
--                (or a resumed run after a crash) never adds a second burst.
-- runners        every process that ran a campaign: who it was, when it started and last showed life. On
--                Postgres a runner is alive while it holds a session advisory lock on its owner id; on the
--                embedded ledger only one process can be open, so every other runner is dead.

CREATE TABLE sender_leases (
  campaign_id    integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  sender         text NOT NULL,
  owner          text,
  expires_at     timestamptz NOT NULL DEFAULT now(),
  last_claim_at  timestamptz,
  PRIMARY KEY (campaign_id, sender)
);

CREATE TABLE runners (
  owner          text PRIMARY KEY,
  campaign_id    integer REFERENCES campaigns (id) ON DELETE CASCADE,
  host           text NOT NULL,
  pid            integer NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  stopped_at     timestamptz
);
