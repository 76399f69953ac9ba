/**
 * Alternative (b) of bench/compare.ts: a Postgres job queue (pg-boss 10) with one job per message, as its
 * README suggests: enqueue a job per CSV row, and a worker that fetches a second's worth of jobs at a time
 * and sends each with the official `plivo` SDK, then sleeps 1/rate (pg-boss has no rate limiter; one
 * worker sending one job at a time keeps the pace). The queue
 * survives a crash, but a job whose request left just before one is retried after its expiry: that
 * recipient is texted twice (at-least-once). No bulk requests, no per-sender pacing beyond the sleep, no
 * delivery tracking.
 * argv: <csv> <srcs,comma,separated> <aggregate msg/s>; env DATABASE_URL, PLIVO_API_URL, PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN.
 * Prints { sent, failed }.
 */
import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse';
import PgBoss from 'pg-boss';
import plivo from 'plivo';

interface Sms { src: string; dst: string; text: string }

const [csv, srcList, rateArg] = process.argv.slice(2);
const authId = process.env['PLIVO_AUTH_ID'] ?? '';
const client = new plivo.Client(authId, process.env['PLIVO_AUTH_TOKEN'] ?? '', { url: `${process.env['PLIVO_API_URL']}/v1/Account/${authId}` });
const srcs = (srcList ?? '').split(',');
const gapMs = 1000 / Number(rateArg);
const QUEUE = 'sms';

const boss = new PgBoss({ connectionString: process.env['DATABASE_URL'] ?? '', max: 4 });
boss.on('error', (err: Error) => process.stderr.write(`pg-boss: ${err.message}\n`));
await boss.start();
await boss.createQueue(QUEUE);

let i = 0;
let chunk: PgBoss.JobInsert<Sms>[] = [];
for await (const row of createReadStream(csv ?? '').pipe(parse({ columns: true })) as AsyncIterable<Record<string, string>>) {
  const text = `Hi ${row['first_name']}, your ${row['city']} order is ready. Code ${row['code']}. Reply STOP to opt out.`;
  chunk.push({ name: QUEUE, data: { src: srcs[i++ % srcs.length]!, dst: row['phone'] ?? '', text } });
  if (chunk.length === 1000) {
    await boss.insert(chunk);
    chunk = [];
  }
}
if (chunk.length > 0) await boss.insert(chunk);

let sent = 0;
let failed = 0;
// A fetch takes one second's worth of jobs: with one job per fetch, the worker waits out its polling
// interval (0.5 s at least in pg-boss 10) between jobs, 2 messages a second.
await boss.work<Sms>(QUEUE, { batchSize: Math.ceil(Number(rateArg)), pollingIntervalSeconds: 0.5 }, async (jobs) => {
  for (const job of jobs) {
    try {
      await client.messages.create(job.data.src, job.data.dst, job.data.text);
      sent++;
    } catch (err) {
      failed++;
      throw err; // pg-boss retries it (retryLimit)
    }
    await sleep(gapMs);
  }
});
// Done when no job is created, retrying or active.
while ((await boss.getQueueSize(QUEUE, { before: 'completed' })) > 0) await sleep(250);
await boss.stop({ graceful: true, wait: true });
process.stdout.write(JSON.stringify({ sent, failed }) + '\n');
