/**
 * What every command needs from the environment: where the ledger is, and how to reach Plivo
 * (or the built-in simulator with --sandbox). The auth token is passed to the client and nowhere else.
 */
import path from 'node:path';
import type { Db } from '../ledger/db.js';
import { openLedger } from '../ledger/open.js';
import { PlivoClient } from '../plivo/client.js';
import { UsageError } from '../errors.js';
import type { Job } from '../campaign/job.js';

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

export function smsrunHome(args: GlobalArgs, env: NodeJS.ProcessEnv): string {
  return path.resolve(args.home ?? env['SMSRUN_HOME'] ?? '.smsrun');
}

export function openLedgerFor(args: GlobalArgs, io: Io): Promise<Db> {
  return openLedger({
    databaseUrl: io.env['DATABASE_URL'] || undefined,
    home: smsrunHome(args, io.env),
  });
}

export interface PlivoConnection {
  client: PlivoClient;
  /** For checking status-callback signatures only; never printed. */
  authToken: string;
  description: string;
  close(): Promise<void>;
}

/** A client for real Plivo (credentials from the environment), or for an in-process simulator. */
export async function connectPlivo(job: Job | undefined, sandbox: boolean, io: Io, timeoutMs: number): Promise<PlivoConnection> {
  if (sandbox) {
    const { startSimulator } = await import('../sim/index.js');
    const sim = await startSimulator({
      mps: job?.rate ?? 1,
      mpsCounts: job?.rate_counts ?? 'units',
      deliveryDelayMs: [300, 2000],
    });
    return {
      client: new PlivoClient({ authId: sim.authId, authToken: sim.authToken, baseUrl: sim.url, timeoutMs }),
      authToken: sim.authToken,
      description: `the built-in Plivo simulator at ${sim.url} (--sandbox: nothing leaves this machine)`,
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
  return {
    client: new PlivoClient({ authId, authToken, timeoutMs, ...(baseUrl ? { baseUrl } : {}) }),
    authToken,
    description: `Plivo at ${baseUrl ?? 'https://api.plivo.com'} as ${authId}`,
    close: async () => undefined,
  };
}
