import { PGlite } from '@electric-sql/pglite';
const db = await PGlite.create('/tmp/i11-try/home/ledger');
for (const q of ["select account, sender, rate, tat, now() from sender_budgets", "select status, count(*), min(next_attempt_at), max(next_attempt_at) from batches group by 1", "select kind, count(*) filter (where free_at > now()) busy, count(*) from account_slots group by 1", "select status, count(*) from attempts group by 1"]) console.log((await db.query(q)).rows);
