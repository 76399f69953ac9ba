-- smsrun ledger, version 13: send windows (quiet hours) and a scheduled start.
--
-- recipients.time_zone  with a send window: the recipient's IANA zone, or, when it cannot be told, every
--                       zone it may be in separated by spaces (the window's strictest reading applies:
--                       only times inside it in all of them). NULL without a send window.
-- batches.time_zone     the zone key of its recipients (a batch holds one zone key only); NULL: no window.
-- send_windows          per campaign and zone key, the current or next opening of the window, in UTC:
--                       a batch is claimed only while now() is in [opens_at, closes_at - 5 s) (the 5 s
--                       are Plivo's least message_expiry). The openings are computed by smsrun (Intl's
--                       tz database) and moved on when one closes; a zone key without a row has no window.
-- campaigns.start_at    `run --at`: nothing is sent before it; kept so a run restarted after a crash
--                       while waiting still waits.
--
-- Plain nullable columns without a default: adding them rewrites nothing, whatever the ledger's size.

ALTER TABLE recipients ADD COLUMN time_zone text;
ALTER TABLE batches ADD COLUMN time_zone text;
ALTER TABLE campaigns ADD COLUMN start_at timestamptz;

CREATE TABLE send_windows (
  campaign_id  integer NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
  time_zone    text NOT NULL,
  opens_at     timestamptz NOT NULL,
  closes_at    timestamptz NOT NULL,
  PRIMARY KEY (campaign_id, time_zone)
);
