/**
 * The command line: yargs wires each command to a plain function in ./commands and turns what it returns
 * or throws into an exit code (README, "Exit codes"): 0 done, 1 the run stopped on a failure, 2 bad usage
 * or input, 3 the campaign was cancelled (smsrun cancel), 130 interrupted. A user's mistake prints its message, never a stack trace.
 */
import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { suggest } from '../campaign/suggest.js';
import { SmsrunError, EXIT, type ExitCode } from '../errors.js';
import { isConnectionLost } from '../ledger/faults.js';
import type { Io } from './context.js';
import type { RunArgs } from './commands/run.js';
import { SUPPRESS_ACTIONS } from './commands/suppress-actions.js';
import type { TrackBy } from '../track/planner.js';
import { quickStatus } from './quick-status.js';

const runFlags = <T>(y: Argv<T>) => y
  .option('sandbox', { type: 'boolean', default: false, describe: 'send to the built-in Plivo simulator instead of Plivo (nothing leaves this machine)' })
  .option('track-for', { type: 'number', default: 300, describe: 'seconds to keep tracking delivery after the last batch is sent (smsrun poll carries on later)' })
  .option('request-timeout', { type: 'number', default: 30, describe: 'seconds to wait for Plivo to answer a request' })
  .option('settle', { type: 'number', default: 60, describe: "seconds between the two lookups in Plivo's records that must both miss a message before it is sent again (Plivo's index lag is undocumented; lower it only against the simulator)" })
  .option('list-per-minute', { type: 'number', default: 20, describe: "your account's List API limit: Plivo's is 20 a minute; raise it only if Plivo raised yours" })
  .option('track-by', { choices: ['auto', 'list', 'get'] as const, default: 'auto' as const, describe: "how to read delivery states: auto picks the List API or single GETs per time window (list and get force one, to compare)" })
  .option('callback-url', { type: 'string', describe: "the public https url where Plivo should send status callbacks (received by --listen, or by 'smsrun webhook'); polling then only finishes what callbacks did not" })
  .option('listen', { type: 'string', describe: 'receive the status callbacks in this process: [host]:port, like :8080 (behind your proxy or tunnel); needs --callback-url' })
  .option('report', { type: 'string', describe: 'where to write the CSV report at the end (default: $SMSRUN_HOME/reports/<campaign>.csv)' })
  .option('at', { type: 'string', describe: 'send nothing before this time: 2026-12-03T09:00+01:00, or 09:00 for the next 09:00 here (kept in the ledger: a restarted run still waits)' })
  .option('yes', { type: 'boolean', default: false, describe: 'do not ask for confirmation on a terminal' })
  .check((a) => {
    if (!Number.isFinite(a['list-per-minute']) || a['list-per-minute'] < 2) throw new UsageErrorFromYargs('--list-per-minute must be a number, 2 or more');
    for (const key of ['track-for', 'settle'] as const) {
      if (!Number.isFinite(a[key]) || a[key] < 0) throw new UsageErrorFromYargs(`--${key} must be a number of seconds, 0 or more`);
    }
    if (!Number.isFinite(a['request-timeout']) || a['request-timeout'] <= 0) throw new UsageErrorFromYargs('--request-timeout must be a positive number of seconds');
    return true;
  });

const RESOLVE_WARNING = "For batches that 'smsrun resume' cannot settle itself because Plivo's List API keeps failing. " +
  "First look the batch up in Plivo's console (Messaging > Logs: its sender, around the time 'smsrun status' shows).\n\n" +
  'WARNING: --resend texts its recipients again at the next resume: a second text each if Plivo did accept them. ' +
  '--mark-sent never texts them again: nothing reaches them if Plivo did not accept them.\n\n' +
  "Only ambiguous batches can be resolved: a batch in flight belongs to a run (wait for it, or stop it first). " +
  "Each decision is recorded in the ledger's events, with its --note.";

const resolveFlags = <T>(y: Argv<T>) => y
  .positional('campaign', { type: 'string', demandOption: true })
  .option('batch', { type: 'number', array: true, describe: "an ambiguous batch's number, from 'smsrun status' (repeat for several)" })
  .option('all', { type: 'boolean', describe: 'every ambiguous batch of the campaign' })
  .option('resend', { type: 'boolean', describe: 'Plivo did NOT accept it: send it again at the next resume (a second text if Plivo did)' })
  .option('mark-sent', { type: 'boolean', describe: "Plivo DID accept it: record its recipients as final 'sent', untracked (never texted if Plivo did not)" })
  .option('note', { type: 'string', describe: 'why, for the audit trail (what you saw in the console, a ticket)' })
  .conflicts('resend', 'mark-sent')
  .conflicts('batch', 'all')
  .check((a) => {
    if ((a.resend === true) === (a['mark-sent'] === true)) throw new UsageErrorFromYargs('give exactly one of --resend and --mark-sent');
    if (a.all !== true && (a.batch === undefined || a.batch.length === 0)) throw new UsageErrorFromYargs("name the batches with --batch N (see 'smsrun status <campaign>'), or give --all");
    for (const id of a.batch ?? []) {
      if (!Number.isInteger(id) || id <= 0) throw new UsageErrorFromYargs("--batch takes the batch numbers 'smsrun status <campaign>' lists (whole numbers above 0)");
    }
    return true;
  })
  .epilog(RESOLVE_WARNING);

const COMMANDS = ['run', 'resume', 'plan', 'status', 'senders', 'export', 'resolve', 'poll', 'sim', 'webhook', 'suppress', 'cancel', 'retry'];

const processIo = (): Io => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });

/**
 * Runs one command line. The plainest `status` lines skip yargs (quick-status.ts: loading yargs cost as much as
 * the status read); everything else, help and every mistake included, goes through yargs.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const quick = quickStatus(argv);
  return guarded(io, quick
    ? () => import('./commands/status.js').then((m) => m.statusCommand(quick.campaign, quick.args, io))
    : () => parseWithYargs(argv, io));
}

/** main without the status shortcut: what the shortcut must agree with (test/cli.quick-status.test.ts). */
export async function mainWithYargs(argv: string[], io: Io = processIo()): Promise<number> {
  return guarded(io, () => parseWithYargs(argv, io));
}

/** Runs a command, turning what it throws into an exit code and its message (README, "Exit codes"). */
async function guarded(io: Io, command: () => Promise<ExitCode>): Promise<number> {
  // `smsrun export … | head`: the reader closing stdout ends the command quietly, not as a lost ledger.
  let stdoutClosed = false;
  const onStdoutError = (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') stdoutClosed = true; };
  io.stdout.on('error', onStdoutError);
  try {
    return await command();
  } catch (err) {
    if (stdoutClosed || (isBrokenPipe(err) && (io.stdout as { destroyed?: boolean }).destroyed === true)) return EXIT.ok;
    return reportError(err, io);
  } finally {
    io.stdout.off('error', onStdoutError);
  }
}

async function parseWithYargs(argv: string[], io: Io): Promise<ExitCode> {
  // Loaded here, not at the top: the status shortcut never needs it.
  const { default: yargs } = await import('yargs');
  let exitCode: ExitCode = EXIT.ok;
  const set = (p: Promise<ExitCode>) => p.then((code) => { exitCode = code; });
  const parser = yargs(argv)
    .scriptName('smsrun')
    .usage('$0 <command> [options]\n\nCrash-safe bulk SMS/MMS campaigns through Plivo. Docs: README.md')
    .option('home', { type: 'string', describe: 'where the embedded ledger and reports live (env SMSRUN_HOME; default: your data directory, ~/.local/share/smsrun on Linux, or an older ./.smsrun found in this folder); ignored for the ledger when DATABASE_URL is set' })
    .command('run <jobs..>', 'send a campaign from a job file, track it, print the summary and write the report; several job files run together in one process, sharing their numbers\' rates', (y) => runFlags(y.positional('jobs', { type: 'string', array: true, demandOption: true, describe: 'the job file(s) (JSON)' })),
      (a) => set(import('./commands/run.js').then((m) => m.runCommand(a.jobs, runArgs(a), io))))
    .command('resume <campaign>', 'carry on a campaign from the ledger (the same as running its job again)', (y) => runFlags(y.positional('campaign', { type: 'string', demandOption: true })),
      (a) => set(import('./commands/run.js').then((m) => m.resumeCommand(a.campaign, runArgs(a), io))))
    .command('plan <job>', 'the whole plan of a campaign: refused rows and why, encoding, units, cost, requests, windows, earliest finish; sends nothing', (y) => y.positional('job', { type: 'string', demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'print the plan as JSON, with every refused row' })
      .option('out', { type: 'string', describe: 'write every refused row (line, row, dst, reason, detail) to this CSV file' })
      .option('rate-card', { type: 'string', describe: 'a CSV of prices per unit by country (columns country, price_per_unit) for the cost estimate' })
      .option('at', { type: 'string', describe: 'plan for a start at this time (as run --at)' })
      .option('sandbox', { type: 'boolean', default: false, describe: "count suppressed rows against the list of --sandbox runs instead of PLIVO_AUTH_ID's" }),
      (a) => set(import('./commands/plan.js').then((m) => m.planCommand(a.job, { home: a.home, sandbox: a.sandbox, json: a.json, out: a.out, rateCard: a['rate-card'], at: a.at }, io))))
    .command('status [campaign]', 'counts per state, delivery rate, cost, sending time, error codes, ambiguous batches', (y) => y.positional('campaign', { type: 'string' })
      .option('json', { type: 'boolean', default: false })
      .option('watch', { type: 'boolean', default: false, describe: 'refresh until the campaign is done (Ctrl-C stops watching)' })
      .option('interval', { type: 'number', default: 2, describe: 'seconds between refreshes with --watch' })
      .option('sandbox', { type: 'boolean', default: false, describe: 'the sandbox campaign of that name (without a name: the sandbox campaigns only); without it, a name means the real campaign when both exist' })
      .check((a) => {
        if (!Number.isFinite(a.interval) || a.interval < 0.2) throw new UsageErrorFromYargs('--interval must be a number of seconds, 0.2 or more');
        return true;
      }),
      (a) => set(import('./commands/status.js').then((m) => m.statusCommand(a.campaign, { home: a.home, json: a.json, sandbox: a.sandbox, watch: a.watch, interval: a.interval }, io))))
    .command('senders', "each sender number's rate (the lowest of the campaigns sending from it), when it may send next, and the campaigns using it",
      (y) => y.option('json', { type: 'boolean', default: false }),
      (a) => set(import('./commands/senders.js').then((m) => m.sendersCommand({ home: a.home, json: a.json }, io))))
    .command('export <campaign>', 'write the delivery report: one row per CSV row (csv, jsonl), or a page to look at (html)', (y) => y.positional('campaign', { type: 'string', demandOption: true })
      .option('format', { choices: ['csv', 'jsonl', 'html'] as const, describe: 'default: from the --out extension, else csv' })
      .option('out', { type: 'string', describe: 'output file (default: standard output)' })
      .option('only', { type: 'string', array: true, describe: 'only rows with these statuses, e.g. --only failed,undelivered' })
      .option('columns', { type: 'string', array: true, describe: 'only these columns, in this order, e.g. --columns row,dst,status,name' })
      .option('text', { type: 'boolean', default: false, describe: 'add the text each row was sent (left out otherwise)' })
      .option('mask', { type: 'boolean', default: false, describe: "mask destination numbers (+141XXXXX528), as Plivo does for log=false" })
      .option('sandbox', { type: 'boolean', default: false, describe: 'the sandbox campaign of that name; without it, the real one when both exist' }),
      (a) => set(import('./commands/export.js').then((m) => m.exportCommand(a.campaign, {
        home: a.home, sandbox: a.sandbox, format: a.format, out: a.out, only: a.only, columns: commaList(a.columns), text: a.text, mask: a.mask,
      }, io))))
    .command('resolve <campaign>', "settle ambiguous batches by hand, after checking Plivo's console (read --help first)", (y) => resolveFlags(y),
      (a) => set(import('./commands/resolve.js').then((m) => m.resolveCommand(a.campaign, {
        home: a.home, batches: a.batch, all: a.all === true, decision: a.resend === true ? 'resend' : 'mark-sent', note: a.note,
      }, io))))
    .command('poll <campaign>', "follow a campaign's messages until they are final", (y) => runFlags(y.positional('campaign', { type: 'string', demandOption: true })),
      (a) => set(import('./commands/poll.js').then((m) => m.pollCommand(a.campaign, runArgs(a), io))))
    .command('sim', 'run the Plivo simulator as a server', (y) => y
      .option('port', { type: 'number', default: 8099 })
      .option('host', { type: 'string', default: '127.0.0.1' })
      .option('mps', { type: 'number', default: 1, describe: 'messages per second each sender queue drains at' }),
      (a) => set(import('./commands/sim.js').then((m) => m.simCommand({ port: a.port, host: a.host, mps: a.mps }, io))))
    .command('webhook', "receive Plivo's status callbacks into the ledger until Ctrl-C (needs PLIVO_AUTH_TOKEN)", (y) => y
      .option('callback-url', { type: 'string', demandOption: true, describe: 'the public https url Plivo calls (as given to smsrun run --callback-url); signatures are checked against it' })
      .option('listen', { type: 'string', default: ':8080', describe: 'where to listen: [host]:port, like :8080 or 127.0.0.1:8080 (behind your proxy or tunnel)' })
      .epilog('Checks X-Plivo-Signature-V3 (V2 only when V3 is absent) with PLIVO_AUTH_TOKEN and answers 403 to a bad or missing one. ' +
        'Answers 200 only once a callback is recorded (else 503, and Plivo retries). Callbacks that arrive before their message is ' +
        'recorded wait in the ledger and are applied within a second of it. Works on DATABASE_URL, or on the embedded ledger when no ' +
        'other smsrun process has it open.'),
      (a) => set(import('./commands/webhook.js').then((m) => m.webhookCommand({ home: a.home, callbackUrl: a['callback-url'], listen: a.listen }, io))))
    .command('suppress <action> [items..]', 'the suppression list (numbers never texted) of the account in PLIVO_AUTH_ID, or of --sandbox: add NUMBER…, import FILE, remove NUMBER…, list, export', (y) => y
      .positional('action', { choices: SUPPRESS_ACTIONS, demandOption: true })
      .positional('items', { type: 'string', array: true, describe: 'numbers (add, remove) or a CSV file (import)' })
      .option('sandbox', { type: 'boolean', default: false, describe: 'the list of --sandbox runs instead of the Plivo account\'s' })
      .option('reason', { type: 'string', describe: 'why (add, import: for rows without a reason column)' })
      .option('default-country', { type: 'string', describe: 'how to read national numbers, e.g. US' })
      .option('out', { type: 'string', describe: 'export: the CSV file to write (default: standard output)' })
      .epilog('A CSV to import has a column named number, phone, dst, e164, mobile or to (and optionally reason), or one number a line. ' +
        'Export writes number, reason, source, created_at, which import reads back. Opt-outs also arrive by themselves: Plivo error 200, ' +
        'and STOP texted to your numbers (smsrun webhook, run --listen).'),
      (a) => set(import('./commands/suppress.js').then((m) => m.suppressCommand({
        home: a.home, action: a.action, items: (a.items ?? []).map(String), sandbox: a.sandbox, reason: a.reason,
        defaultCountry: a['default-country'], out: a.out,
      }, io))))
    .command('cancel <campaign>', 'stop a campaign for good: pending recipients become cancelled; a run of it stops within seconds (exit 3)', (y) => y
      .positional('campaign', { type: 'string', demandOption: true })
      .option('sandbox', { type: 'boolean', default: false, describe: 'cancel the sandbox campaign of that name (a run --sandbox); without it, the real one' }),
      (a) => set(import('./commands/cancel.js').then((m) => m.cancelCommand(a.campaign, { home: a.home, sandbox: a.sandbox }, io))))
    .command('retry <campaign>', 'make a new campaign of the recipients that failed (send it with smsrun resume); nobody reached is texted again', (y) => y
      .positional('campaign', { type: 'string', demandOption: true })
      .option('only', { type: 'string', array: true, describe: 'statuses to retry (default failed,undelivered,expired; also rejected, cancelled)' })
      .option('name', { type: 'string', describe: 'the new campaign\'s name (default <campaign>-retryN)' })
      .option('sandbox', { type: 'boolean', default: false, describe: 'retry the sandbox campaign of that name (the retry is a sandbox campaign too); without it, the real one' }),
      (a) => set(import('./commands/retry.js').then((m) => m.retryCommand(a.campaign, { home: a.home, only: a.only, name: a.name, sandbox: a.sandbox }, io))))
    .demandCommand(1, 'name a command: smsrun run jobs/example.json --sandbox tries the example')
    .strict()
    .help()
    .version(VERSION)
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageErrorFromYargs(didYouMean(msg, argv, parser));
    });
  await parser.parseAsync();
  return exitCode;
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function isBrokenPipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

/** yargs' "Unknown argument: sttaus" with a guess: a command in the command's place, else an option. */
function didYouMean(msg: string, argv: readonly string[], y: Argv): string {
  const unknown = /^Unknown arguments?: ([^,\s]+)/.exec(msg)?.[1];
  if (!unknown) return msg;
  const dashes = argv.find((a) => a.replace(/^-+/, '').split('=')[0] === unknown)?.match(/^-*/)?.[0] ?? '';
  const options = Object.keys((y as unknown as { getOptions?: () => { key: Record<string, unknown> } })?.getOptions?.().key ?? {});
  const guess = dashes === '' && argv[0] === unknown ? suggest(unknown, COMMANDS) : suggest(unknown, options.filter((o) => o.length > 1));
  if (!guess) return msg;
  return `${msg} (did you mean '${dashes === '' && argv[0] === unknown ? guess : `--${guess}`}'?)`;
}

class UsageErrorFromYargs extends SmsrunError {
  constructor(message: string) {
    super(`${message}\nRun 'smsrun --help' for the commands and options.`, EXIT.usage);
  }
}

/** `--columns a,b --columns c` → ['a', 'b', 'c']. */
function commaList(values: string[] | undefined): string[] | undefined {
  return values?.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

function runArgs(a: {
  home?: string | undefined; sandbox: boolean; 'track-for': number; 'request-timeout': number; settle: number; 'list-per-minute': number;
  'track-by': TrackBy; 'callback-url'?: string | undefined; listen?: string | undefined; report?: string | undefined;
  at?: string | undefined; yes: boolean;
}): RunArgs {
  return {
    home: a.home, sandbox: a.sandbox, trackFor: a['track-for'], requestTimeout: a['request-timeout'], settle: a.settle,
    listPerMinute: a['list-per-minute'], trackBy: a['track-by'], callbackUrl: a['callback-url'], listen: a.listen, report: a.report,
    at: a.at, yes: a.yes,
  };
}

function reportError(err: unknown, io: Io): number {
  if (err instanceof SmsrunError) {
    io.stderr.write(`smsrun: ${err.message}\n`);
    return err.exitCode;
  }
  if (isConnectionLost(err)) {
    io.stderr.write(`smsrun: lost the ledger connection (${(err as Error).message}). Nothing was lost: run the same command again once the database is back.\n`);
    return EXIT.failure;
  }
  io.stderr.write(`smsrun: unexpected error (a bug; please report it with this trace):\n${(err as Error)?.stack ?? String(err)}\n`);
  return EXIT.failure;
}
