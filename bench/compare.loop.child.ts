/**
 * Alternative (a) of bench/compare.ts: what a user writes in ten minutes. Read the CSV, and for each row
 * send one message with the official `plivo` SDK, senders taken in turn, then sleep 1/rate. No ledger: a
 * crash loses where it was (start again and everyone before is texted twice); no retry, no 429 handling
 * (an error is counted and the row skipped); no delivery tracking.
 * argv: <csv> <srcs,comma,separated> <aggregate msg/s>; env PLIVO_API_URL, PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN.
 * Prints { sent, failed }.
 */
import { createReadStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'csv-parse';
import plivo from 'plivo';

const [csv, srcList, rateArg] = process.argv.slice(2);
const authId = process.env['PLIVO_AUTH_ID'] ?? '';
const client = new plivo.Client(authId, process.env['PLIVO_AUTH_TOKEN'] ?? '', { url: `${process.env['PLIVO_API_URL']}/v1/Account/${authId}` });
const srcs = (srcList ?? '').split(',');
const gapMs = 1000 / Number(rateArg);
let i = 0;
let failed = 0;
for await (const row of createReadStream(csv ?? '').pipe(parse({ columns: true })) as AsyncIterable<Record<string, string>>) {
  const text = `Hi ${row['first_name']}, your ${row['city']} order is ready. Code ${row['code']}. Reply STOP to opt out.`;
  const src = srcs[i++ % srcs.length]!;
  try {
    await client.messages.create(src, row['phone'], text);
  } catch {
    failed++;
  }
  await sleep(gapMs);
}
process.stdout.write(JSON.stringify({ sent: i - failed, failed }) + '\n');
