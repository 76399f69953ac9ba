-- smsrun ledger, version 8: the user's own CSV columns, kept for the delivery report.
--
-- campaigns.csv_columns  the CSV's header as read (trimmed), in file order. NULL for a campaign loaded
--                        before this version: its report then carries smsrun's columns only.
-- recipients.fields      the row's fields as read, in header order (after undoing the report's own
--                        formula escaping, so a report loaded back renders the same texts). NULL for
--                        campaigns loaded before this version.
--
-- Plain nullable columns without a default: adding them rewrites nothing, whatever the ledger's size.

ALTER TABLE campaigns ADD COLUMN csv_columns text[];
ALTER TABLE recipients ADD COLUMN fields text[];
