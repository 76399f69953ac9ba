/**
 * `smsrun status [campaign] [--sandbox] [--json] [--watch [--interval s]]`: counts per state, delivery rate, cost and units,
 * sending time against the fastest the job's rates allow, error codes, ETA and anything ambiguous.
 * `--watch` refreshes it until every campaign shown is done, or Ctrl-C: redrawn in place on a terminal, a new
 * block (a JSON line with --json) each time it changes otherwise. A name means the real campaign when a real
 * and a sandbox one share it, else whichever exists; --sandbox means the sandbox one (and, without a name,
 * lists the sandbox campaigns only).
 */
import { listCampaigns } from '../../ledger/campaigns.js';
import type { Db } from '../../ledger/db.js';
import { UnknownCampaignError } from '../../ledger/errors.js';
import { isConnectionLost } from '../../ledger/faults.js';
import { EXIT, type ExitCode } from '../../errors.js';
import { formatSummary, summarize, type Summary } from '../../report/summary.js';
import { openLedgerFor, type GlobalArgs, type Io } from '../context.js';
import { campaignNamed } from '../campaign-world.js';

export interface StatusArgs extends GlobalArgs {
  json: boolean;
  /** The sandbox campaign of that name (sql/007); without a name, only sandbox campaigns. */
  sandbox?: boolean | undefined;
  watch?: boolean | undefined;
  /** Seconds between refreshes with --watch. */
  interval?: number | undefined;
}

export async function statusCommand(name: string | undefined, args: StatusArgs, io: Io): Promise<ExitCode> {
  const db = await openLedgerFor(args, io, { read: true });
  if (!db) {
    if (name !== undefined) throw new UnknownCampaignError(name);
    io.stdout.write(render([], name, args.json));
    return EXIT.ok;
  }
  try {
    if (!args.watch) {
      io.stdout.write(render(await read(db, name, args.sandbox === true), name, args.json));
      return EXIT.ok;
    }
    return await watch(db, name, args, io);
  } finally {
    await db.close();
  }
}

async function read(db: Db, name: string | undefined, sandbox: boolean): Promise<Summary[]> {
  const campaigns = name === undefined
    ? (await listCampaigns(db)).filter((c) => !sandbox || c.sandbox)
    : [await campaignNamed(db, name, { sandbox, verb: 'show', read: true })];
  // A sandbox campaign is marked: one of the same name may be the real one (sql/007).
  return Promise.all(campaigns.map(async (c) => {
    const summary = await summarize(db, c);
    return c.sandbox ? { ...summary, sandbox: true } : summary;
  }));
}

function formatMarked(s: Summary & { sandbox?: boolean }): string {
  const text = formatSummary(s);
  const head = `campaign ${s.campaign}:`;
  return s.sandbox && text.startsWith(head) ? `campaign ${s.campaign} (sandbox):${text.slice(head.length)}` : text;
}

function render(summaries: Summary[], name: string | undefined, json: boolean): string {
  if (json) return JSON.stringify(name === undefined ? summaries : summaries[0], null, 2) + '\n';
  if (summaries.length === 0) return 'no campaigns in this ledger yet: smsrun run <job.json> starts one.\n';
  return summaries.map(formatMarked).join('\n\n') + '\n';
}

const CLEAR = '\x1b[H\x1b[2J';

async function watch(db: Db, name: string | undefined, args: StatusArgs, io: Io): Promise<ExitCode> {
  const everyMs = Math.max(200, (args.interval ?? 2) * 1000);
  const tty = io.stdout.isTTY === true && !args.json;
  let stopped = false;
  let wake = () => undefined as void;
  const stop = () => { stopped = true; wake(); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    let last = '';
    for (;;) {
      let summaries: Summary[] | undefined;
      try {
        summaries = await read(db, name, args.sandbox === true);
      } catch (err) {
        if (!isConnectionLost(err)) throw err;
        io.stderr.write(`lost the ledger connection (${(err as Error).message}); trying again in ${everyMs / 1000}s\n`);
      }
      if (summaries?.length === 0) {
        io.stdout.write(render(summaries, name, args.json)); // an empty ledger: nothing to watch
        return EXIT.ok;
      }
      if (summaries) {
        const finished = summaries.every((s) => s.state === 'done');
        const text = args.json ? JSON.stringify(name === undefined ? summaries : summaries[0]) + '\n' : render(summaries, name, false);
        if (tty) {
          io.stdout.write(`${CLEAR}${text}\n${finished ? 'done.' : `refreshed ${new Date().toISOString()}, every ${everyMs / 1000}s; Ctrl-C to stop`}\n`);
        } else if (text !== last) {
          io.stdout.write(args.json ? text : `${last === '' ? '' : '\n'}-- ${new Date().toISOString()}\n${text}`);
        }
        last = text;
        if (finished) return EXIT.ok;
      }
      if (stopped) return EXIT.ok;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, everyMs);
        wake = () => { clearTimeout(timer); resolve(); };
      });
      if (stopped) return EXIT.ok;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
