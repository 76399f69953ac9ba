-- smsrun ledger: a campaign belongs to one Plivo account, or to the sandbox (issue 9).
--
-- campaigns.sandbox  true for a campaign run on the built-in simulator (--sandbox). A sandbox campaign and a
--                    real one of the same name are two campaigns: a sandbox trial leaves the real one untouched.
-- campaigns.auth_id  the Plivo auth id a real campaign runs as, recorded by its first run; a run with other
--                    credentials is refused. NULL for a sandbox campaign, and for a campaign loaded before this
--                    version until its next run records the account it is resumed with.
-- campaigns.api_url  the API endpoint it runs against (https://api.plivo.com unless PLIVO_API_URL said otherwise),
--                    recorded and checked with auth_id.
--
-- Campaigns loaded before this version count as real ones (sandbox = false): a real resume never texts anyone
-- twice, whereas taking a real campaign for a sandbox one could.

ALTER TABLE campaigns ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
ALTER TABLE campaigns ADD COLUMN auth_id text;
ALTER TABLE campaigns ADD COLUMN api_url text;
ALTER TABLE campaigns DROP CONSTRAINT campaigns_name_key;
CREATE UNIQUE INDEX campaigns_name_sandbox ON campaigns (name, sandbox);
