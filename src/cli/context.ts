/**
 * What every command needs from the environment: where the ledger is, and how to reach Plivo
 * (or the built-in simulator with --sandbox). The auth token is passed to the client and nowhere else.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describePlace, ledgerPlace } from '../ledger/place.js';
import type { Db } from '../ledger/db.js';
import { connectHolder, openLedger } from '../ledger/open.js';
import type { SharedLedger } from '../ledger/share.js';
import type { PlivoClient } from '../plivo/client.js';
import { UsageError } from '../errors.js';
import type { Job } from '../campaign/job.js';
import type { CampaignAccount } from '../ledger/campaigns.js';

export interface Io {
  /** Read only by `run`'s confirmation on a terminal. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export interface GlobalArgs {
  home?: string | undefined;
}

/** Where the embedded ledger and the reports live (ledger/place.ts). */
export function smsrunHome(args: GlobalArgs, env: NodeJS.ProcessEnv): string {
  return ledgerPlace(args.home, env).home;
}

/**
 * Opens the ledger for a command, naming it on the command's first line of output (stderr, so that
 * stdout stays the command's data). A command that only reads passes `read: true`: an embedded ledger that
 * does not exist yet is then not created (undefined is returned).
 */
/** SMSRUN_DB_POOL_SIZE: connections to a Postgres ledger (default 4); more helps several campaigns in one process. */
function poolSize(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env['SMSRUN_DB_POOL_SIZE'];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`SMSRUN_DB_POOL_SIZE must be a whole number from 1 to 100, got '${raw}'.`);
  return n;
}

export async function openLedgerFor(args: GlobalArgs, io: Io, opts: { read: true }): Promise<Db | undefined>;
export async function openLedgerFor(args: GlobalArgs, io: Io, opts?: { read?: false }): Promise<Db>;
export async function openLedgerFor(args: GlobalArgs, io: Io, opts: { read?: boolean } = {}): Promise<Db | undefined> {
  const place = ledgerPlace(args.home, io.env);
  if (opts.read && !place.databaseUrl && !existsSync(path.join(place.home, 'ledger'))) {
    io.stderr.write(`${describePlace(place, io.env)} (none there yet)\n`);
    return undefined;
  }
  if (!opts.read) {
    io.stderr.write(`${describePlace(place, io.env)}\n`);
    return openLedger({ databaseUrl: place.databaseUrl, home: place.home, poolSize: poolSize(io.env) });
  }
  let via: string | undefined;
  const db = await openLedger({
    databaseUrl: place.databaseUrl, home: place.home,
    read: { onShared: (pid) => { via = `read through the smsrun process that holds it (pid ${pid})`; } },
  }).catch((err: unknown) => {
    io.stderr.write(`${describePlace(place, io.env)}\n`);
    throw err;
  });
  io.stderr.write(`${describePlace(place, io.env, via)}\n`);
  return db;
}

/**
 * For `suppress`: the ledger, or, while a run holds the embedded one, that run's process, which serves reads
 * and the suppression-list change (ledger/share.ts). Names the ledger, and the holder, on stderr.
 */
export async function openLedgerOrHolder(args: GlobalArgs, io: Io): Promise<{ db: Db; holder?: { pid: number; ledger: SharedLedger } }> {
  const place = ledgerPlace(args.home, io.env);
  const holder = place.databaseUrl ? undefined : await connectHolder(place.home).catch((err: unknown) => {
    io.stderr.write(`${describePlace(place, io.env)}\n`);
    throw err;
  });
  if (holder) {
    io.stderr.write(`${describePlace(place, io.env, `through the smsrun process that holds it (pid ${holder.pid})`)}\n`);
    return { db: holder.ledger, holder };
  }
  io.stderr.write(`${describePlace(place, io.env)}\n`);
  return { db: await openLedger({ databaseUrl: place.databaseUrl, home: place.home }) };
}

export interface PlivoConnection {
  client: PlivoClient;
  /** For checking status-callback signatures only; never printed. */
  authToken: string;
  description: string;
  /** Whom the run sends as, recorded with the campaign and checked on every resume (sql/007). */
  account: CampaignAccount;
  close(): Promise<void>;
}

/** Plivo's API, unless PLIVO_API_URL says otherwise. */
export const PLIVO_API_URL = 'https://api.plivo.com';

/** A client for real Plivo (credentials from the environment), or for an in-process simulator. */
export async function connectPlivo(job: Job | undefined, sandbox: boolean, io: Io, timeoutMs: number, home?: string): Promise<PlivoConnection> {
  // Imported here, not at the top: the commands that only read the ledger (status, export) never load the client
  // and what it imports (libphonenumber-js's metadata, about 90 modules).
  const { PlivoClient } = await import('../plivo/client.js');
  if (sandbox) {
    const { startSimulator } = await import('../sim/index.js');
    const sim = await startSimulator({
      // The sandbox's memory, beside the ledger, so that a resumed sandbox campaign tracks what it sent.
      ...(home && job ? { journal: path.join(home, 'sandbox', `${job.name}.jsonl`) } : {}),
      mps: job?.rate ?? 1,
      mpsCounts: job?.rate_counts ?? 'units',
      deliveryDelayMs: [300, 2000],
    });
    return {
      client: new PlivoClient({ authId: sim.authId, authToken: sim.authToken, baseUrl: sim.url, timeoutMs }),
      authToken: sim.authToken,
      description: `the built-in Plivo simulator at ${sim.url} (--sandbox: nothing leaves this machine)`,
      account: { sandbox: true },
      close: () => sim.close(),
    };
  }
  const authId = io.env['PLIVO_AUTH_ID'];
  const authToken = io.env['PLIVO_AUTH_TOKEN'];
  if (!authId || !authToken) {
    throw new UsageError('PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN must be set to send through Plivo ' +
      '(find them on the Plivo console\'s overview page), or pass --sandbox to try the job on the built-in simulator.');
  }
  const baseUrl = io.env['PLIVO_API_URL'] || undefined;
  // The endpoint as recorded with the campaign: one spelling per server, whatever the trailing slashes.
  const apiUrl = (baseUrl ?? PLIVO_API_URL).replace(/\/+$/, '');
  return {
    account: { sandbox: false, authId, apiUrl },
    client: new PlivoClient({ authId, authToken, timeoutMs, ...(baseUrl ? { baseUrl } : {}) }),
    authToken,
    description: `Plivo at ${baseUrl ?? 'https://api.plivo.com'} as ${authId}`,
    close: async () => undefined,
  };
}
