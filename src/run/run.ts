/**
 * One run of a campaign, start to finish: load (once), adopt what a dead run left in flight, send every
 * batch (reconciling ambiguous ones), then track until every message is final or the tracking deadline.
 * Running it again on the same job resumes exactly where the ledger says things stand.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Job } from '../campaign/job.js';
import { startLoad } from '../campaign/load.js';
import type { Db, Session } from '../ledger/db.js';
import { reacquireRunner, registerRunner, type Runner } from '../ledger/runners.js';
import { LedgerRetry, type LedgerEvent } from '../send/ledger-retry.js';
import { findCampaign, recordEvent, setCampaignState, type CampaignRow } from '../ledger/campaigns.js';
import { countUnsent, largestBatch } from '../ledger/sending.js';
import type { PlivoClient } from '../plivo/client.js';
import { Dispatcher, type SendEvent } from '../send/dispatcher.js';
import { createLimiters, LIST_PER_MINUTE } from '../send/limits.js';
import { Reconciler, type ReconcileEvent } from '../send/reconciler.js';
import { Stopper } from '../send/stopper.js';
import type { TrackBy } from '../track/planner.js';
import { Tracker, type TrackEvent } from '../track/tracker.js';
import type { ApplyResult, ProviderUpdate } from '../ledger/tracking.js';
import { applyProviderUpdates } from '../ledger/tracking.js';

export interface RunOptions {
  requestTimeoutMs: number;
  settleMs: number;
  /** How long to keep tracking after the last batch was accepted. */
  trackForMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** How long a lost ledger connection is waited out before the run stops (resumable). */
  ledgerGiveUpMs: number;
  /** The account's List API limit (Plivo: 20 a minute, raised for some accounts on request). */
  listPerMinute: number;
  /** How to read delivery states: the planner's choice per window (auto), or only one API (for comparison). */
  trackBy: TrackBy;
}

/**
 * Status callbacks for this run: `--callback-url` alone (another process, `smsrun webhook`, receives
 * them) or with `--listen` (this process receives them).
 */
export interface CallbackSetup {
  /** The url each request gives Plivo, for a batch. */
  urlFor(campaignId: number, batchId: number): string;
  /** Starts receiving; applies what arrives through `apply`. Absent when another process receives. */
  start?(apply: (updates: ProviderUpdate[]) => Promise<ApplyResult>): Promise<{ close(): Promise<void> }>;
}

export const DEFAULT_RUN_OPTIONS: RunOptions = {
  requestTimeoutMs: 30_000,
  settleMs: 10_000,
  trackForMs: 300_000,
  maxAttempts: 8,
  retryBaseMs: 1000,
  ledgerGiveUpMs: 300_000,
  listPerMinute: LIST_PER_MINUTE,
  trackBy: 'auto',
};

export type RunEvent =
  /** The first chunk is in (sending starts): `campaign.loading` says whether more rows are coming. */
  | { kind: 'loaded'; campaign: CampaignRow; fresh: boolean }
  | { kind: 'load-finished'; campaign: CampaignRow }
  | SendEvent
  | LedgerEvent
  | ReconcileEvent
  | TrackEvent
  | { kind: 'tracking'; open: number; deadline: Date };

export interface RunDeps {
  db: Db;
  client: PlivoClient;
  job: Job;
  options: RunOptions;
  stopper: Stopper;
  onEvent?: (e: RunEvent) => void;
  callbacks?: CallbackSetup | undefined;
}

export interface RunResult {
  campaign: CampaignRow;
  /** True when the campaign had nothing left to send or track before this run started. */
  alreadyDone: boolean;
  /** Messages not final when tracking stopped (`smsrun poll` carries on). */
  openMessages: number;
}

export async function runCampaign(deps: RunDeps): Promise<RunResult> {
  const { db, job, stopper, onEvent } = deps;
  // Every ledger call of the run waits out a lost connection; a load cut short is rolled back and redone.
  const ledger = new LedgerRetry(deps.options.ledgerGiveUpMs, onEvent);
  // Sending starts once the first chunk of the CSV is committed; the rest loads meanwhile (campaign/load.ts).
  const load = await ledger.run(() => startLoad(db, job, { retry: (fn) => ledger.run(fn), signal: stopper.signal }));
  const { campaign, loaded } = load;
  onEvent?.({ kind: 'loaded', campaign, fresh: loaded });
  if (campaign.state === 'done') return { campaign, alreadyDone: true, openMessages: 0 };
  const loading = load.done.then(
    async () => { if (campaign.loading) onEvent?.({ kind: 'load-finished', campaign: (await findCampaign(db, job.name)) ?? campaign }); },
    (err: unknown) => stopper.fail(err));

  const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const runner = await ledger.run(() => holdRunner(db, owner, campaign.id, stopper));
  await ledger.run(() => recordEvent(db, campaign.id, 'run_started', { owner, fresh: loaded }));
  const largest = await ledger.run(() => largestBatch(db, campaign.id, job.rate_counts === 'units'));
  if (campaign.max_batch_cost !== null) {
    // Still loading: batches not cut yet are bounded by the cap the first chunk fixed (ledger/load.ts).
    largest.cost = Math.max(largest.cost, campaign.max_batch_cost);
    largest.size = Math.max(largest.size, job.batch_size);
  }
  const limiters = createLimiters({
    rate: job.rate, maxBatchCost: largest.cost, maxBatchSize: largest.size, accountRate: job.account_rate,
    listPerMinute: deps.options.listPerMinute,
  });
  const common = { db, client: deps.client, campaignId: campaign.id, limiters, stopper, ledger };
  const callbacks = deps.callbacks;
  const dispatcher = new Dispatcher({
    ...common, job, owner, onEvent, loading: load.loading,
    ...(callbacks ? { callbackUrl: (batchId: number) => callbacks.urlFor(campaign.id, batchId) } : {}),
    options: {
      leaseMs: 2 * deps.options.requestTimeoutMs + 60_000,
      senderLeaseMs: SENDER_LEASE_MS,
      maxAttempts: deps.options.maxAttempts,
      retryBaseMs: deps.options.retryBaseMs,
    },
  });
  const reconciler = new Reconciler({
    ...common, owner, onEvent,
    options: { requestTimeoutMs: deps.options.requestTimeoutMs, settleMs: deps.options.settleMs, maxFailures: 3 },
  });
  const tracker = new Tracker({ ...common, options: trackerOptions(deps.options, job.receipt_cutoff_hours, callbacks !== undefined), onEvent });
  const receiver = await callbacks?.start?.((updates) => ledger.run(() => applyProviderUpdates(db, updates)));

  try {
    let sendingDone = false;
    let deadline = Infinity;
    const sending = Promise.all([dispatcher.run(), reconciler.run(() => dispatcher.active)]).finally(() => {
      sendingDone = true;
      deadline = Date.now() + deps.options.trackForMs;
    });
    const tracking = tracker.run(() => sendingDone, () => Date.now() >= deadline);
    await sending.catch((err: unknown) => stopper.fail(err));
    await loading;
    if (!stopper.stopped) {
      await ledger.run(() => setCampaignState(db, campaign.id, 'tracking'));
      onEvent?.({ kind: 'tracking', open: -1, deadline: new Date(deadline) });
    }
    const { open } = await tracking.catch((err: unknown) => {
      stopper.fail(err);
      return { open: -1 };
    });
    if (stopper.error !== undefined) throw stopper.error;
    if (!stopper.stopped && open === 0) await ledger.run(() => setCampaignState(db, campaign.id, 'done'));
    await ledger.run(() => recordEvent(db, campaign.id, 'run_stopped', { owner, reason: stopper.reason ?? 'finished', open }));
    return { campaign: (await ledger.run(() => findCampaign(db, campaign.name)))!, alreadyDone: false, openMessages: open };
  } finally {
    await receiver?.close();
    await limiters.stop();
    await runner.release();
  }
}

function trackerOptions(o: RunOptions, receiptCutoffHours: number, callbacks: boolean) {
  return { receiptCutoffMs: receiptCutoffHours * 3_600_000, trackBy: o.trackBy, callbacks, listPerSecond: o.listPerMinute / 60 };
}

/** A sender lease outlives a lost ledger connection by this much before another process may take it. */
const SENDER_LEASE_MS = 30_000;

/**
 * Registers this process as a runner, holding its liveness lock (ledger/runners.ts). If that session is
 * lost, other processes may take us for dead; our claims and records are guarded by our leases, so that
 * is safe, and the lock is taken again as soon as the database answers.
 */
async function holdRunner(db: Db, owner: string, campaignId: number, stopper: Stopper): Promise<Runner> {
  let sessions: Session[] = [];
  let retaking = false;
  const retake = async (): Promise<void> => {
    if (retaking) return;
    retaking = true;
    try {
      while (!stopper.stopped) {
        try {
          sessions.push(await reacquireRunner(db, owner, () => void retake()));
          return;
        } catch {
          await stopper.sleep(1000);
        }
      }
    } finally {
      retaking = false;
    }
  };
  const runner = await registerRunner(db, owner, campaignId, () => void retake());
  return {
    owner,
    async release() {
      await Promise.all(sessions.map((s) => s.close()));
      sessions = [];
      await runner.release();
    },
  };
}

/** `smsrun poll`: only the tracking part, for a campaign whose sending is over (or stopped). */
export async function trackCampaign(deps: Omit<RunDeps, 'job'> & { campaign: CampaignRow; receiptCutoffHours: number }): Promise<RunResult> {
  const { db, campaign, stopper, onEvent } = deps;
  const ledger = new LedgerRetry(deps.options.ledgerGiveUpMs, onEvent);
  const limiters = createLimiters({ rate: 1, maxBatchCost: 1, maxBatchSize: 1, listPerMinute: deps.options.listPerMinute });
  const receiver = await deps.callbacks?.start?.((updates) => ledger.run(() => applyProviderUpdates(db, updates)));
  try {
    const tracker = new Tracker({
      db, client: deps.client, campaignId: campaign.id, limiters, stopper, onEvent, ledger,
      options: trackerOptions(deps.options, deps.receiptCutoffHours, deps.callbacks !== undefined),
    });
    const deadline = Date.now() + deps.options.trackForMs;
    const { open } = await tracker.run(() => true, () => Date.now() >= deadline);
    if (stopper.error !== undefined) throw stopper.error;
    if (open === 0 && !stopper.stopped && (await ledger.run(() => countUnsent(db, campaign.id))) === 0) {
      await ledger.run(() => setCampaignState(db, campaign.id, 'done'));
    }
    return { campaign: (await ledger.run(() => findCampaign(db, campaign.name)))!, alreadyDone: false, openMessages: open };
  } finally {
    await receiver?.close();
    await limiters.stop();
  }
}
