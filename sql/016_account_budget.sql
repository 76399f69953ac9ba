-- smsrun ledger, version 16: the job option `account_rate` is paced in the ledger, like the sender numbers.
--
-- account_budgets  one row per account: a GCRA (virtual scheduling) bucket over the account's messages, in
--                  messages (destinations) per second. `rate` is the lowest `account_rate` any campaign still
--                  sending on the account gives (null: no such limit); `tat` its theoretical arrival time. The
--                  claim statement (src/ledger/sending.ts) gives each batch a slot no earlier than the account's
--                  tat and moves tat on by the batch's messages / rate, on the database clock, so every campaign
--                  and process of the account on one database shares the budget. Before this version the
--                  budget was kept in each process (version 14 left it there), so two processes each sent at
--                  the full rate.
CREATE TABLE account_budgets (
  account  text PRIMARY KEY,
  rate     float8 CHECK (rate > 0),
  tat      timestamptz NOT NULL DEFAULT 'epoch'
);
