/**
 * Reconciliation cost (issue 10 item 11): List requests per ambiguous batch, and the minutes 50 ambiguous
 * batches take to settle under Plivo's 20 List requests a minute, at 1, 20 and 100 msg/s per sender.
 *
 * The Reconciler runs for real against a Postgres ledger holding 50 ambiguous batches spread evenly over a
 * sender's traffic, and an in-process Plivo holding that traffic (every message the sender sent in the
 * period, not only ours). Half of the 50 were accepted (their records are there), half never reached Plivo
 * (found absent twice, a minute apart). The clock is moved by hand, so the figure in minutes is the List
 * budget's: each round's requests ÷ 20, and at least the minute between the two listings of an absent batch.
 *
 * Two kinds of ambiguity: the answer was lost (a cut connection: the window runs a request timeout past it),
 * and Plivo's API answered 5xx with its JSON body and api_id (the window ends at the answer).
 */
import { randomUUID } from 'node:crypto';
import { openLedger } from '../ledger/open.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../ledger/load.js';
import { prepareBudgets } from '../ledger/senders.js';
import { claimDue, recordAmbiguous } from '../ledger/sending.js';
import { countUnsettledBatches } from '../ledger/reconcile.js';
import type { ListFilter, ListPage } from '../plivo/client.js';
import { listQuery } from '../plivo/list.js';
import type { Mdr } from '../plivo/types.js';
import { LedgerRetry } from '../send/ledger-retry.js';
import { createLimiters } from '../send/limits.js';
import { Reconciler } from '../send/reconciler.js';
import { Stopper } from '../send/stopper.js';
import { tempDatabase } from './fixtures.js';
import type { BenchContext, Benchmark, Figure, Section } from './lib.js';

const SENDER = '14152000001';
const AMBIGUOUS = 50;
const LIST_PER_MINUTE = 20;
const REQUEST_TIMEOUT_MS = 30_000;

/** Plivo's List API over an array: newest first, 20 a page, exact filters, a Date header. */
class ListOnly {
  requests = 0;
  constructor(private readonly records: Mdr[], private readonly now: () => number) {
    records.sort((a, b) => b.messageTime.getTime() - a.messageTime.getTime());
  }
  async listMessages(filter: ListFilter): Promise<ListPage> {
    return this.#page(filter, 0);
  }
  async listNext(next: string): Promise<ListPage> {
    const { f, offset } = JSON.parse(next) as { f: Record<string, string>; offset: number };
    const filter = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, k.startsWith('message_time') ? new Date(v) : v])) as ListFilter;
    return this.#page(filter, offset);
  }
  #page(filter: ListFilter, offset: number): ListPage {
    this.requests++;
    const q = new URLSearchParams(listQuery(filter).slice(1));
    const from = filter.message_time__gte!.getTime();
    const to = filter.message_time__lte!.getTime();
    const dst = q.get('to_number')?.slice(1);
    const all = this.records.filter((r) => r.messageTime.getTime() >= from && r.messageTime.getTime() <= to && (dst === undefined || r.toNumber === dst));
    const now = this.now();
    return {
      objects: all.slice(offset, offset + 20), unreadable: [], totalCount: all.length,
      next: offset + 20 < all.length ? JSON.stringify({ f: filter, offset: offset + 20 }) : null,
      answered: { sentAt: now, receivedAt: now + 20, date: Math.floor(now / 1000) * 1000 },
    };
  }
}

interface Result { requestsPerBatch: number; minutes: number }

/** How the 50 batches became ambiguous. */
type Ambiguity = 'lost' | 'answered';

async function once(ctx: BenchContext, rate: number, how: Ambiguity): Promise<Result> {
  const seconds = ctx.short ? 200 : 1000;
  const batchSize = rate === 1 ? 1 : 10;
  const batches = (rate * seconds) / batchSize;
  const every = Math.floor(batches / AMBIGUOUS);
  const t0 = Date.now() - seconds * 1000 - 300_000;
  const database = await tempDatabase(ctx.postgresUrl, 'reconcile');
  const db = await openLedger({ databaseUrl: database.url, home: '/nonexistent-bench-home' });
  try {
    // The 50 ambiguous batches' recipients; the rest of the traffic exists only at "Plivo".
    const ours = Array.from({ length: AMBIGUOUS * batchSize }, (_, i) => String(14153000000 + i));
    const id = await db.transaction(async (tx) => {
      const name = `bench-${randomUUID().slice(0, 8)}`;
      const campaignId = await insertCampaign(tx, { name, job: { name }, jobFile: 'j', csvFile: 'c', csvSha256: '-', contentHash: '-', senders: [SENDER] });
      await insertRecipients(tx, campaignId, ours.map((dst, i) => ({ rowNo: i + 1, lineNo: i + 2, rawDst: dst, dst, text: 'hi', units: 1, status: 'pending' as const, reason: null, country: null, numberType: null })));
      await finalizeLoad(tx, campaignId, [SENDER], batchSize);
      return campaignId;
    });
    await prepareBudgets(db, 'bench', id, LIST_PER_MINUTE);
    const records: Mdr[] = [];
    const mdr = (to: string, at: number): Mdr => ({
      messageUuid: randomUUID(), messageTime: new Date(at), direction: 'outbound', state: 'queued', type: 'sms',
      fromNumber: SENDER, toNumber: to, units: 1, totalRate: '0.00500', totalAmount: '0.00500', errorCode: null,
    });
    for (let k = 0; ; k++) {
      // Setup, not pacing: the number's budget and the account window are held wide open for each claim.
      await db.query(`UPDATE sender_budgets SET rate = 1e9, tat = 'epoch' WHERE account = 'bench'`);
      await db.query(`UPDATE account_slots SET free_at = 'epoch' WHERE account = 'bench'`);
      const [claim] = (await claimDue(db, { account: 'bench', campaignId: id, owner: 'bench', leaseMs: 600_000, max: 1, requestTimeoutMs: REQUEST_TIMEOUT_MS })).batches;
      if (!claim) break;
      if (how === 'lost') await recordAmbiguous(db, claim, 'bench: answer lost (ECONNRESET)');
      else await recordAmbiguous(db, claim, 'bench: HTTP 503 (an unexpected error occurred)', 503, `api-${k}`);
      const at = t0 + k * every * (batchSize / rate) * 1000;
      await db.query(`UPDATE attempts SET started_at = $2, finished_at = $3 WHERE id = $1`, [claim.attemptId, new Date(at), new Date(at + 200)]);
      if (k % 2 === 0) for (const dst of claim.dsts) records.push(mdr(dst, at + 100));
    }
    for (let i = 0; i < rate * seconds; i++) records.push(mdr(String(14154000000 + i), t0 + (i / rate) * 1000 + 37));
    let offset = 0;
    const clock = { now: () => Date.now() + offset };
    const plivo = new ListOnly(records, clock.now);
    const limiters = createLimiters({ listPerMinute: 1_000_000 });
    const reconciler = new Reconciler({
      db, client: plivo, campaignId: id, owner: 'bench', ledger: new LedgerRetry(60_000), limiters, stopper: new Stopper(), clock,
      options: { requestTimeoutMs: REQUEST_TIMEOUT_MS, maxFailures: 3 },
    });
    let minutes = 0;
    try {
      for (let round = 0; round < 10 && (await countUnsettledBatches(db, id)) > 0; round++) {
        const before = plivo.requests;
        await reconciler.pass();
        const spent = (plivo.requests - before) / LIST_PER_MINUTE;
        minutes += round === 0 ? spent : Math.max(1, spent); // the second listing waits a minute after the first
        offset += 61_000;
      }
    } finally {
      await limiters.stop();
    }
    const left = await countUnsettledBatches(db, id);
    if (left > 0) throw new Error(`${left} batch(es) still ambiguous after 10 rounds`);
    return { requestsPerBatch: plivo.requests / AMBIGUOUS, minutes };
  } finally {
    await db.close();
    await database.drop();
  }
}

export const benchmark: Benchmark = {
  id: 'reconcile',
  title: 'Reconciliation: List requests and minutes to settle 50 ambiguous batches',
  order: 45,
  async run(ctx): Promise<Section> {
    const figures: Figure[] = [];
    for (const how of ['lost', 'answered'] as const) {
      const kind = how === 'lost' ? 'answer lost' : "5xx from Plivo's API";
      for (const rate of [1, 20, 100]) {
        const r = await once(ctx, rate, how);
        ctx.log(`   ${kind}, ${rate} msg/s: ${r.requestsPerBatch.toFixed(2)} List requests per batch, ${r.minutes.toFixed(1)} min`);
        figures.push({ label: `${kind}, ${rate} msg/s per sender: List requests per ambiguous batch`, value: r.requestsPerBatch, unit: 'requests', digits: 2 });
        figures.push({ label: `${kind}, ${rate} msg/s per sender: minutes to settle 50 ambiguous batches`, value: r.minutes, unit: 'min', digits: 1 });
      }
    }
    return {
      id: 'reconcile',
      title: this.title,
      command: `npm run bench -- --only reconcile${ctx.short ? ' --short' : ''}`,
      what: `The Reconciler (src/send/reconciler.ts) against a Postgres ledger holding ${AMBIGUOUS} ambiguous batches spread evenly over
${ctx.short ? 200 : 1000} s of one sender's traffic at 1, 20 and 100 msg/s (batches of 1 number at 1 msg/s, of 10 otherwise; request timeout
30 s), and an in-process List API holding all that traffic. Half the batches were accepted, half never reached Plivo (each is listed twice, a
minute apart, before it is sent again). The clock is moved by hand: minutes are the List budget's (20 requests a minute), each round's requests
÷ 20, the confirming round at least one minute. Two kinds of ambiguity: the answer was lost (a cut connection, 200 ms after the claim), and
Plivo's API answered 503 with its JSON error body and api_id.`,
      figures,
      notes: 'Windows are narrowed to the measured skew (about 2 s a side here). A lost answer\'s window runs a request timeout (30 s) past it; ' +
        "an answer from Plivo's API ends it at the answer, so its window is ~5 s. One sender's overlapping windows are listed together " +
        '(regrouped once a listing has measured the skew); a group whose window holds more pages than numbers is looked up one `to_number` ' +
        "at a time, without the first page once the sender's traffic is known. So at 20 msg/s and more a lost answer costs one request per " +
        'number per listing, and an absent batch is listed twice: 1.5 × 10 numbers is the floor of Plivo\'s List API, not of smsrun.',
    };
  },
};
