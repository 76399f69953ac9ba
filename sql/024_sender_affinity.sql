-- smsrun ledger, version 24: a sender stays with the process that sends from it (issue 11).
--
-- sender_budgets.pacer, new: which process (its pacing: one per process, shared by the campaigns it runs; see
--   src/send/dispatcher.ts `newPacing`) claimed the sender's last batch; null before any claim that named one.
--   The claim statement (src/ledger/sending.ts) lets another process take the sender only once its time is
--   HANDOVER_MS past (the process that claimed it would have claimed it by then if it were alive and on time),
--   so a sender's consecutive requests almost always leave from one process, whose departure gate spaces them
--   by when they actually left. A hand-over happens only to a sender overdue by that margin, so the previous
--   process's last request, even if it left late, is that margin away from the next one.
ALTER TABLE sender_budgets ADD COLUMN pacer text;
