/**
 * startSimulator: a Plivo Message API on a local port, for tests,
 * `smsrun run --sandbox` and `smsrun sim --port N`.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallbackAttempt } from './callbacks.js';
import type { InboundAttempt, ReplyOptions } from './inbound.js';
import { SimCore } from './core.js';
import { SimJournal } from './journal.js';
import type { SimMessage } from './message.js';
import { checkLimits, resolveOptions, type Faults, type Limits, type SimOptions } from './options.js';
import type { AcceptEntry } from './pacing.js';
import { requestHandler } from './server.js';
import type { ReadEntry, SimStats } from './stats.js';

export interface Simulator {
  /** Base URL, e.g. http://127.0.0.1:PORT; clients append /v1/Account/{authId}/… */
  readonly url: string;
  readonly port: number;
  readonly authId: string;
  readonly authToken: string;
  /** The seed in use (given or drawn), to repeat a run. */
  readonly seed: number;
  /** Every accepted message, in acceptance order. Live records: their state moves on. */
  messages(): readonly SimMessage[];
  message(uuid: string): SimMessage | undefined;
  /** One entry per accepted create request, for rate measurements (see maxWindowExcess). */
  acceptLog(): readonly AcceptEntry[];
  /** Every GET and List request, in arrival order, with its client (User-Agent). */
  readLog(): readonly ReadEntry[];
  /** Every finished callback attempt, in completion order. */
  callbackLog(): readonly CallbackAttempt[];
  /** Resolves when no callback is waiting or in flight (scheduled retries aside). */
  callbacksIdle(): Promise<void>;
  stats(): SimStats;
  faults(): Faults;
  setFaults(change: Partial<Faults>): void;
  setLimits(limits: Limits | false): void;
  /**
   * `from` texts `text` to one of the account's numbers: a signed inbound-message callback to `url` (or the
   * inboundUrl option). STOP-like texts opt `from` out (later messages to it fail with error 200), START
   * lifts it. Resolves with the receiver's answer.
   */
  reply(from: string, text: string, o?: ReplyOptions): Promise<InboundAttempt>;
  /** Every inbound message posted, in order. */
  inboundLog(): readonly InboundAttempt[];
  /** Numbers that currently fail with error 200. */
  optedOut(): readonly string[];
  /** Test hook: moves a message's message_time `ms` into the past (the List API's 24-hour window). */
  backdate(uuid: string, ms: number): void;
  close(): Promise<void>;
}

export async function startSimulator(options: SimOptions = {}): Promise<Simulator> {
  const opts = resolveOptions(options);
  const journal = options.journal === undefined ? undefined : new SimJournal(options.journal);
  const core = new SimCore(opts, journal);
  if (journal) core.restore(journal.read());
  const server = createServer(requestHandler(core));
  // Longer than any client's idle keep-alive, so the server never closes a
  // socket the client is about to reuse (an ECONNRESET Plivo does not cause).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await listen(server, opts.port, opts.host);
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | undefined;

  return {
    url: `http://${hostForUrl}:${port}`,
    port,
    authId: opts.authId,
    authToken: opts.authToken,
    seed: opts.seed,
    messages: () => {
      core.scheduler.runDue();
      return core.messages.slice();
    },
    message: (uuid) => {
      core.scheduler.runDue();
      return core.find(uuid);
    },
    acceptLog: () => core.acceptLog.slice(),
    readLog: () => core.readLog.slice(),
    callbackLog: () => core.callbacks.log().slice(),
    callbacksIdle: () => core.callbacks.idle(),
    stats: () => core.currentStats(),
    faults: () => core.faults.current,
    setFaults: (change) => core.faults.set(change),
    setLimits: (limits) => core.limiter.set(checkLimits(limits)),
    backdate: (uuid, ms) => core.backdate(uuid, ms),
    reply: (from, text, o) => core.reply(from, text, o),
    inboundLog: () => core.inboundLog.slice(),
    optedOut: () => [...core.optedOut],
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        core.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
