/**
 * The streamed load (issue 12), through the real CLI on every ledger: sending starts before the last row is
 * in; a load killed by SIGKILL resumes where the ledger says, every row once and duplicates decided in file
 * order; a CSV changed under a partly loaded campaign is refused; a ledger loaded before sql/015 keeps working;
 * each chunk is scrubbed against the suppression list and cut by time zone; recipients keep their references.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadJobFile } from '../src/campaign/job.js';
import { chunkRows, loadCampaign } from '../src/campaign/load.js';
import { openPostgres, wrapPglite, type Db } from '../src/ledger/db.js';
import { finalizeLoad, insertCampaign, insertRecipients } from '../src/ledger/load.js';
import { migrate, readMigrations } from '../src/ledger/migrate.js';
import { addSuppressions } from '../src/ledger/suppressions.js';
import { claimNext } from './helpers/campaigns.js';
import { startSimulator, type Simulator } from '../src/sim/index.js';
import { killLeftovers, runCli, simEnv, startCli } from './helpers/cli.js';
import { usNumber } from './helpers/csv.js';
import { createTestLedger, LEDGER_KINDS, ledgerRows, type TestLedger } from './helpers/ledgers.js';
import { tempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

/**
 * No tracking: these tests are about the load and what was sent (judged at the simulator), not delivery states
 * (e2e.tracking's subject). Tracking 4 500 messages for up to 5 s took 30-40 s of each run on PGlite.
 */
const FAST = ['--track-for', '0', '--settle', '0'];
/**
 * Through the CLI (every test sends what it loads): three chunks, the first, a doubled one and part of a third
 * (campaign/load.ts `chunkRows`). Sending while loading, resuming a killed load and duplicates across a chunk
 * boundary need no more; every further row only costs a message to send and track.
 */
const ROWS = chunkRows(0) + chunkRows(1) + 1500;
/**
 * The CSV is held after this row, inside the third chunk, until the test lets it go: two chunks are in. Not
 * inside the second: the first chunk's 998 valid rows are a partial batch (batch_size 1000) that waits for the
 * next chunk (ledger/load-chunks.ts), so nothing could be sent while the file was held.
 */
const HOLD = chunkRows(0) + chunkRows(1) + 500;
/** In-process, without sending: every chunk size up to the fourth (1000, 2000, 4000, then the rest). */
const BIG_ROWS = chunkRows(0) + chunkRows(1) + chunkRows(2) + 5000;

let sim: Simulator;
beforeAll(async () => { sim = await startSimulator({ limits: false, mps: 2000, deliveryDelayMs: [5, 20], seed: 12 }); });
afterAll(async () => {
  killLeftovers();
  await sim?.close();
});

/**
 * A list of `rows` rows: row r (1-based) texts usNumber(r), except: row 3 repeats row 1 (same chunk), the
 * first row of the second chunk repeats the last of the first (across a chunk boundary), row rows − 100
 * repeats row 2 (in the last chunk, long after it), row 7 is not a number and row rows − 200 repeats it
 * (neither is a duplicate of anything valid).
 */
function list(rows: number) {
  const duplicates = new Map([[3, 1], [chunkRows(0) + 1, chunkRows(0)], [rows - 100, 2]]);
  const invalid = [7, rows - 200];
  const numberOf = (row: number): string => invalid.includes(row) ? 'not-a-number' : usNumber(duplicates.get(row) ?? row);
  return { rows, duplicates, invalid, numberOf, uniqueValid: rows - duplicates.size - invalid.length };
}
const SMALL = list(ROWS);
const DUPLICATES = SMALL.duplicates;
const LINES = ['phone,name', ...Array.from({ length: ROWS }, (_, i) => `${SMALL.numberOf(i + 1)},n${i + 1}`)];
const CSV = LINES.join('\n') + '\n';

/**
 * The CSV as a named pipe, of which only the first `rows` rows are written until `rest()`: the load is held
 * in the middle of the file for as long as the test wants, whatever the machine's speed.
 */
async function pipedCsv(file: string, rows: number): Promise<{ rest(): Promise<void>; abandon(): void }> {
  execFileSync('mkfifo', [file]);
  const out = createWriteStream(file);
  out.on('error', () => undefined); // the reader killed: nothing more to write
  out.write(LINES.slice(0, rows + 1).join('\n') + '\n');
  return {
    rest: () => new Promise<void>((resolve) => out.end(LINES.slice(rows + 1).join('\n') + '\n', resolve)),
    abandon: () => out.destroy(),
  };
}
const UNIQUE_VALID = SMALL.uniqueValid;

async function writeCampaign(dir: string, name: string, src: string, o: { csv?: boolean; rate?: number } = {}): Promise<{ job: string; csv: string }> {
  const csv = path.join(dir, `${name}.csv`);
  if (o.csv !== false) await writeFile(csv, CSV);
  const job = path.join(dir, `${name}.json`);
  await writeFile(job, JSON.stringify({ name, recipients: `${name}.csv`, src, text: 'Doors open at 9', rate: o.rate ?? 100_000, batch_size: 1000 }));
  return { job, csv };
}

function sentTo(src: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of sim.messages()) if (m.from === src) counts.set(m.to, (counts.get(m.to) ?? 0) + 1);
  return counts;
}

async function expectLoadedOnce(ledger: TestLedger, name: string): Promise<void> {
  const [c] = await ledgerRows<{ id: number; loading: boolean; total_rows: number; n: number; max: number }>(ledger,
    `SELECT c.id, c.loading, c.total_rows, count(r.*)::int AS n, max(r.row_no) AS max
     FROM campaigns c JOIN recipients r ON r.campaign_id = c.id WHERE c.name = $1 GROUP BY c.id`, [name]);
  expect(c).toMatchObject({ loading: false, total_rows: ROWS, n: ROWS, max: ROWS });
  const odd = await ledgerRows<{ row_no: number; status: string; reason: string | null }>(ledger,
    `SELECT row_no, status, reason FROM recipients WHERE campaign_id = $1 AND status IN ('duplicate', 'invalid') ORDER BY row_no`, [c!.id]);
  const expected = [...[...DUPLICATES.keys()].map((r) => [r, 'duplicate']), ...SMALL.invalid.map((r) => [r, 'invalid'])]
    .sort((a, b) => Number(a[0]) - Number(b[0]));
  expect(odd.map((r) => [r.row_no, r.status])).toEqual(expected);
  for (const r of odd.filter((o) => o.status === 'duplicate')) expect(r.reason).toBe(`same number as row ${DUPLICATES.get(r.row_no)}: sent once`);
  const [batched] = await ledgerRows<{ unbatched: number; mismatched: number }>(ledger,
    `SELECT count(*) FILTER (WHERE r.status <> 'duplicate' AND r.status <> 'invalid' AND r.batch_id IS NULL)::int AS unbatched,
            (SELECT count(*)::int FROM batches b WHERE b.campaign_id = $1
               AND b.size <> (SELECT count(*) FROM recipients x WHERE x.batch_id = b.id)) AS mismatched
     FROM recipients r WHERE r.campaign_id = $1`, [c!.id]);
  expect(batched).toEqual({ unbatched: 0, mismatched: 0 });
}

describe.each(LEDGER_KINDS)('the streamed load on %s', (kind) => {
  let ledger: TestLedger;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    dir = await tempDir('smsrun-load-');
    env = { ...ledger.env, ...simEnv(sim) };
  });
  afterAll(async () => { await ledger?.dispose(); });

  it('sends its first request before the last row is loaded', async () => {
    const src = kind === 'pglite' ? '14155550701' : '14155550702';
    const { job, csv } = await writeCampaign(dir, 'early', src, { csv: false });
    // The file stops inside the third chunk until the first message has reached Plivo: the load cannot be over by then.
    const pipe = await pipedCsv(csv, HOLD);
    const run = startCli(['run', job, ...FAST], env, dir);
    try {
      await waitFor('a first message while the CSV is still being written', () => sentTo(src).size > 0 || run.child.exitCode !== null, { timeoutMs: 240_000 });
      expect(run.out.stderr).toContain('sending starts with the first 1000');
      // `status` reads through the running process on the embedded ledger.
      const status = await runCli(['status', 'early'], env, dir);
      expect(status.code, status.stderr).toBe(0);
      const loading = /loading: (\d+) of about (\d+) rows/.exec(status.stdout);
      expect(loading, status.stdout).not.toBeNull();
      expect(Number(loading![1])).toBeLessThan(ROWS);
      await pipe.rest();
    } finally {
      pipe.abandon();
    }
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`loaded ${ROWS} rows`);
    await expectLoadedOnce(ledger, 'early');
    const sent = sentTo(src);
    expect(sent.size).toBe(UNIQUE_VALID);
    expect([...sent.values()].every((n) => n === 1)).toBe(true);
  }, 300_000);

  it('a load killed by SIGKILL: a changed CSV is refused, the original resumes; every row once, duplicates in file order', async () => {
    const src = kind === 'pglite' ? '14155550703' : '14155550704';
    const { job, csv } = await writeCampaign(dir, 'killed', src, { csv: false });
    const pipe = await pipedCsv(csv, HOLD);
    const run = startCli(['run', job, ...FAST], env, dir);
    await waitFor('the first chunk committed (or the run to end)', () => run.out.stderr.includes('sending starts with the first') || run.child.exitCode !== null, { timeoutMs: 240_000 });
    expect(run.out.stderr).toContain('sending starts with the first');
    run.child.kill('SIGKILL');
    await run.done;
    pipe.abandon();
    await rm(csv);
    const [partial] = await ledgerRows<{ loading: boolean; loaded_rows: number }>(ledger, `SELECT loading, loaded_rows FROM campaigns WHERE name = 'killed'`);
    expect(partial!.loading).toBe(true);
    expect(partial!.loaded_rows).toBeGreaterThanOrEqual(chunkRows(0));
    expect(partial!.loaded_rows).toBeLessThan(HOLD);

    // Row 2 changed: it is among the rows loaded before the kill, so the resumed load refuses the file.
    await writeFile(csv, CSV.replace(`\n${usNumber(2)},n2\n`, `\n${usNumber(ROWS + 5)},n2\n`));
    const refused = await runCli(['run', job, ...FAST], env, dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`campaign 'killed' was partly loaded (${partial!.loaded_rows} rows)`);
    const [still] = await ledgerRows<{ loaded_rows: number }>(ledger, `SELECT loaded_rows FROM campaigns WHERE name = 'killed'`);
    expect(still!.loaded_rows).toBe(partial!.loaded_rows);

    // `resume` by name finishes the load too: the job comes from the ledger, the rows from the restored file.
    await writeFile(csv, CSV);
    const resumed = await runCli(['resume', 'killed', ...FAST], env, dir);
    expect(resumed.code, resumed.stderr).toBe(0);
    await expectLoadedOnce(ledger, 'killed');
    const sent = sentTo(src);
    expect(sent.size).toBe(UNIQUE_VALID);
    expect([...sent.values()].every((n) => n === 1)).toBe(true);
  }, 300_000);

  it('cancelled during a streamed run: exit 3; run again, every row is in the ledger, none pending, nothing more sent', async () => {
    const src = kind === 'pglite' ? '14155550708' : '14155550709';
    // 100 a second: the rest of the list takes about 45 s to send, so the cancel, asked once the first message
    // has arrived, lands while the run is still sending (a CLI start takes seconds on a busy machine; the run
    // does not track, FAST). It costs nothing when the cancel comes soon: the run stops then.
    const { job, csv } = await writeCampaign(dir, 'cancelled', src, { csv: false, rate: 100 });
    const pipe = await pipedCsv(csv, HOLD);
    const run = startCli(['run', job, ...FAST], env, dir);
    try {
      await waitFor('a first message while the CSV is still being written', () => sentTo(src).size > 0 || run.child.exitCode !== null, { timeoutMs: 240_000 });
      // On the embedded ledger `cancel` waits for the run to let the ledger go, and the run's load reads the
      // file up to its next row before it stops: the rest of the file is written once the cancel is asked.
      // (So the load may finish before the cancel is seen: whether the rerun has rows left to load is left to
      // the machine's timing; either way nothing may be left pending or sent again.)
      const cancel = startCli(['cancel', 'cancelled'], env, dir);
      await pipe.rest();
      const cancelled = await cancel.done;
      expect(cancelled.code, cancelled.stderr).toBe(0);
      const stopped = await run.done;
      expect(stopped.code, stopped.stderr).toBe(3);
    } finally {
      pipe.abandon();
    }
    const sentBefore = sentTo(src);
    await rm(csv);
    await writeFile(csv, CSV);
    const again = await runCli(['run', job, ...FAST], env, dir);
    expect(again.code, again.stderr).toBe(3);
    expect(sentTo(src)).toEqual(sentBefore);
    const [c] = await ledgerRows<{ loading: boolean; total_rows: number; pending: number; cancelled: number }>(ledger,
      `SELECT c.loading, c.total_rows, count(*) FILTER (WHERE r.status = 'pending')::int AS pending,
              count(*) FILTER (WHERE r.status = 'cancelled')::int AS cancelled
       FROM campaigns c JOIN recipients r ON r.campaign_id = c.id WHERE c.name = 'cancelled' GROUP BY c.id`);
    expect(c).toMatchObject({ loading: false, total_rows: ROWS, pending: 0 });
    expect(c!.cancelled).toBe(UNIQUE_VALID - sentBefore.size);
  }, 300_000);

  it('a ledger loaded before sql/015 migrates, its campaign sends, and a new list loads beside it', async () => {
    const fresh = await createTestLedger(kind);
    const open = async (): Promise<Db> => fresh.databaseUrl ? openPostgres(fresh.databaseUrl) : wrapPglite(await PGlite.create(path.join(fresh.home, 'ledger')));
    try {
      const db = await open();
      await migrate(db, (await readMigrations()).filter((m) => m.version < 15));
      const oldId = await db.transaction(async (tx) => {
        const id = await insertCampaign(tx, { name: 'old', job: { name: 'old' }, jobFile: 'j', csvFile: 'c', csvSha256: '-', contentHash: '-', senders: ['14155550705'] });
        await insertRecipients(tx, id, [1, 2, 3].map((i) => ({ rowNo: i, lineNo: i + 1, rawDst: usNumber(i), dst: usNumber(i), text: 'hi', units: 1, status: 'pending' as const, reason: null, country: null, numberType: null })));
        await finalizeLoad(tx, id, ['14155550705'], 2);
        return id;
      });
      await migrate(db);
      const [old] = await db.query<{ loading: boolean; loaded_rows: number | null; total_rows: number }>('SELECT loading, loaded_rows, total_rows FROM campaigns WHERE id = $1', [oldId]);
      expect(old).toEqual({ loading: false, loaded_rows: null, total_rows: 3 });
      const { job } = await writeCampaign(dir, 'beside', '14155550706');
      const { campaign } = await loadCampaign(db, await loadJobFile(job));
      expect(campaign).toMatchObject({ loading: false, total_rows: ROWS });
      // The old campaign's batches are claimed as before (its recipients lost no foreign key they relied on).
      const claimed = await claimNext(db, oldId, { owner: 'owner' });
      expect(claimed!.dsts.sort()).toEqual([usNumber(1), usNumber(2)]);
      await db.close();
      await expectLoadedOnce(fresh, 'beside');
    } finally {
      await fresh.dispose();
    }
  }, 300_000);
});

describe.each(LEDGER_KINDS)('each chunk on %s', (kind) => {
  let ledger: TestLedger;
  let db: Db;
  let dir: string;
  beforeAll(async () => {
    ledger = await createTestLedger(kind);
    dir = await tempDir('smsrun-chunks-');
    db = ledger.databaseUrl ? openPostgres(ledger.databaseUrl) : wrapPglite(await PGlite.create(path.join(ledger.home, 'ledger')));
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await ledger?.dispose();
  });

  it('is scrubbed against the suppression list and cut by time zone; recipients keep their references', async () => {
    const zones = ['America/New_York', 'Europe/Paris', 'Asia/Tokyo'];
    const csv = path.join(dir, 'zones.csv');
    const big = list(BIG_ROWS);
    await writeFile(csv, ['phone,name,tz', ...Array.from({ length: BIG_ROWS }, (_, i) => `${big.numberOf(i + 1)},n${i + 1},${zones[i % 3]}`)].join('\n') + '\n');
    const jobPath = path.join(dir, 'zones.json');
    await writeFile(jobPath, JSON.stringify({
      name: 'zones', recipients: 'zones.csv', src: '14155550707', text: 'Doors open at 9', rate: 100, batch_size: 500,
      send_window: { start: '00:00', end: '23:59', timezone: 'recipient' }, timezone_column: 'tz',
    }));
    // One listed number in the first chunk (rows 1-1000), one in the third (3001-7000), one in the last.
    const listed = [500, 5000, BIG_ROWS - 1];
    await addSuppressions(db, 'acct', listed.map((r) => ({ number: usNumber(r), reason: 'asked', source: 'manual' })));
    const { campaign } = await loadCampaign(db, await loadJobFile(jobPath), { suppressionAccount: 'acct' });
    expect(campaign).toMatchObject({ loading: false, total_rows: BIG_ROWS, suppression_account: 'acct' });

    const suppressed = await db.query<{ row_no: number; reason: string; batch_id: number | null }>(
      `SELECT row_no, reason, batch_id FROM recipients WHERE campaign_id = $1 AND status = 'suppressed' ORDER BY row_no`, [campaign.id]);
    expect(suppressed.map((r) => r.row_no)).toEqual(listed);
    for (const r of suppressed) {
      expect(r.reason).toMatch(/^on the suppression list \(manual, .*\): asked$/);
      expect(r.batch_id).toBeNull(); // written once, never batched
    }
    const [cut] = await db.query<{ unbatched: number; mixed: number; oversized: number; missing: number }>(
      `SELECT (SELECT count(*)::int FROM recipients WHERE campaign_id = $1 AND status = 'pending' AND batch_id IS NULL) AS unbatched,
              (SELECT count(*)::int FROM recipients r JOIN batches b ON b.id = r.batch_id
                WHERE r.campaign_id = $1 AND (b.time_zone IS DISTINCT FROM r.time_zone OR b.sender <> r.sender)) AS mixed,
              (SELECT count(*)::int FROM batches WHERE campaign_id = $1 AND size > 500) AS oversized,
              (SELECT count(*)::int FROM recipients WHERE campaign_id = $1 AND status = 'pending' AND time_zone IS NULL) AS missing`,
      [campaign.id]);
    expect(cut).toEqual({ unbatched: 0, mixed: 0, oversized: 0, missing: 0 });
    const byZone = await db.query<{ time_zone: string; rows: number }>(
      `SELECT time_zone, sum(size)::int AS rows FROM batches WHERE campaign_id = $1 GROUP BY time_zone ORDER BY time_zone`, [campaign.id]);
    expect(byZone.reduce((n, z) => n + z.rows, 0)).toBe(big.uniqueValid - listed.length);
    expect(byZone.map((z) => z.time_zone)).toEqual([...zones].sort());

    const keys = await db.query<{ def: string }>(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'recipients'::regclass AND contype = 'f' ORDER BY 1`);
    expect(keys).toEqual([]);
    // Its references are checked per statement since sql/023 (test/ledger.campaign-refs.test.ts); its tallies are
    // kept per statement since sql/026 (test/report.tally-live.test.ts).
    const checks = await db.query<{ tgname: string }>(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'recipients'::regclass AND NOT tgisinternal ORDER BY 1`);
    expect(checks.map((t) => t.tgname)).toEqual(['recipients_batch_inserted', 'recipients_batch_updated', 'recipients_campaign_inserted', 'recipients_campaign_updated',
      'recipients_tally_inserted', 'recipients_tally_updated']);
  }, 300_000);
});

