/**
 * One run of a campaign, start to finish: load (once), adopt what a dead run left in flight, send every
 * batch (reconciling ambiguous ones), then track until every message is final or the tracking deadline.
 * Running it again on the same job resumes exactly where the ledger says things stand.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Job } from '../campaign/job.js';
import { startLoad, type LoadHandle } from '../campaign/load.js';
import type { Db, Session } from '../ledger/db.js';
import { reacquireRunner, registerRunner, type Runner } from '../ledger/runners.js';
import { LedgerRetry, type LedgerEvent } from '../send/ledger-retry.js';
import { claimAccount, findCampaign, recordEvent, setCampaignState, type CampaignAccount, type CampaignRow } from '../ledger/campaigns.js';
import { CampaignAccountError } from '../ledger/errors.js';
import { countUnsent } from '../ledger/sending.js';
import { prepareAccountSlots, prepareBudgets, type BudgetCaps } from '../ledger/senders.js';
import type { PlivoClient } from '../plivo/client.js';
import { Dispatcher, type Pacing, type SendEvent } from '../send/dispatcher.js';
import { createLimiters, LIST_PER_MINUTE } from '../send/limits.js';
import { ledgerListSlots } from '../track/list-slots.js';
import { Reconciler, type ReconcileEvent } from '../send/reconciler.js';
import { foldTallies } from '../ledger/tallies.js';
import { Stopper } from '../send/stopper.js';
import type { TrackBy } from '../track/planner.js';
import { Tracker, type TrackEvent } from '../track/tracker.js';
import type { ApplyResult, ProviderUpdate } from '../ledger/tracking.js';
import { applyProviderUpdates } from '../ledger/tracking.js';
import { nextSendingAt, setStartAt } from '../ledger/windows.js';
import { refreshOpenings } from '../window/keeper.js';
import { sendWindowOf } from '../window/recipient-zone.js';
import type { SendWindow } from '../window/window.js';
import { cancelledAt, sweepCancelled } from '../ledger/cancel.js';
import { importJobSuppressions, watchCancel, type OptOutPrep } from '../optout/run.js';
import { scrubSuppressed } from '../ledger/suppressions.js';
import { applyInbound, type InboundMessage } from '../optout/inbound.js';
import { listOwner } from '../optout/account.js';
import { Election, type RoleEvent } from './election.js';

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
  start?(apply: (updates: ProviderUpdate[]) => Promise<ApplyResult>, inbound: (m: InboundMessage) => Promise<unknown>): Promise<{ close(): Promise<void> }>;
}

export const DEFAULT_RUN_OPTIONS: RunOptions = {
  requestTimeoutMs: 30_000,
  settleMs: 60_000,
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
  /** Every row is in (after a `loaded` event whose campaign was still `loading`). */
  | { kind: 'load-finished'; campaign: CampaignRow }
  /** Once the load is over: numbers the job's files listed, and recipients suppressed at load or at the run's start. */
  | ({ kind: 'suppressed' } & OptOutPrep)
  | SendEvent
  | LedgerEvent
  | ReconcileEvent
  | TrackEvent
  | RoleEvent
  | { kind: 'tracking'; open: number; deadline: Date }
  /** Nothing may be sent before `until`: the scheduled start (`--at`) or the next opening of a send window. */
  | { kind: 'waiting'; until: Date; zone: string | null };

export interface RunDeps {
  db: Db;
  client: PlivoClient;
  job: Job;
  /** Shared by the campaigns one process runs together (`smsrun run a.json b.json`): see send/departures.ts. */
  pacing?: Pacing | undefined;
  /** With jobs run together: the lowest rate each number, and the account, has among them (it holds for every one). */
  budgetCaps?: BudgetCaps | undefined;
  /** Whom this run sends as; a campaign only ever runs as the account of its first run (sql/007). */
  account: CampaignAccount;
  options: RunOptions;
  stopper: Stopper;
  onEvent?: (e: RunEvent) => void;
  callbacks?: CallbackSetup | undefined;
  /** `--at`: nothing is sent before it (kept in the ledger, so a restarted run still waits). */
  startAt?: Date | undefined;
  /** Where `smsrun cancel` asks this process to cancel, when it holds an embedded ledger. */
  cancelRequestFile?: string | undefined;
}

export interface RunResult {
  campaign: CampaignRow;
  /** True when the campaign had nothing left to send or track before this run started. */
  alreadyDone: boolean;
  /** Messages not final when tracking stopped (`smsrun poll` carries on). */
  openMessages: number;
  /** When the campaign was cancelled (`smsrun cancel`), if it was: before this run, or during it. */
  cancelledAt: Date | null;
}

export async function runCampaign(deps: RunDeps): Promise<RunResult> {
  const { stopper, onEvent } = deps;
  // Every ledger call of the run waits out a lost connection; a load cut short is rolled back and redone.
  const ledger = new LedgerRetry(deps.options.ledgerGiveUpMs, onEvent);
  // Sending starts once the first chunk of the CSV is committed; the rest loads meanwhile (campaign/load.ts).
  // The load stops at its next row when the run stops or returns early; a later run goes on after its last commit.
  const loadStop = new AbortController();
  const { load, imported } = await startRunLoad(deps, ledger, AbortSignal.any([stopper.signal, loadStop.signal]));
  try {
    return await sendCampaign(deps, ledger, load, imported);
  } finally {
    loadStop.abort();
    await load.done.catch(() => undefined);
  }
}

/**
 * The load as a run starts it: an existing campaign's account is checked before any more of it loads, and
 * the job's suppress files join the account's list first, so that each chunk is scrubbed as it is written.
 */
async function startRunLoad(deps: RunDeps, ledger: LedgerRetry, signal: AbortSignal): Promise<{ load: LoadHandle; imported: number }> {
  const { db, job } = deps;
  const sandbox = deps.account.sandbox;
  const account = listOwner(deps.account);
  const existing = await ledger.run(() => findCampaign(db, job.name, sandbox));
  if (existing) await ledger.run(() => checkAccount(db, existing, deps.account));
  const imported = existing?.state === 'done' ? 0 : await importJobSuppressions(db, ledger, job, account);
  const load = await ledger.run(() => startLoad(db, job, { sandbox, suppressionAccount: account, retry: (fn) => ledger.run(fn), signal }));
  return { load, imported };
}

async function sendCampaign(deps: RunDeps, ledger: LedgerRetry, load: LoadHandle, imported: number): Promise<RunResult> {
  const { db, job, stopper, onEvent } = deps;
  const { campaign, loaded } = load;
  await ledger.run(() => checkAccount(db, campaign, deps.account));
  onEvent?.({ kind: 'loaded', campaign, fresh: loaded });
  const cancelled = await ledger.run(() => cancelledAt(db, campaign.id));
  if (campaign.state === 'done') return { campaign, alreadyDone: true, openMessages: 0, cancelledAt: cancelled };
  if (cancelled !== null) {
    // Cancelled part way through its load: the rest of the rows are loaded (the report has every CSV row) and
    // swept with the others; nothing is claimed meanwhile.
    await load.done;
    await ledger.run(() => db.transaction((tx) => sweepCancelled(tx, campaign.id, cancelled)));
    return { campaign, alreadyDone: true, openMessages: 0, cancelledAt: cancelled };
  }
  // Rows committed before this run (a resume) meet numbers listed since; the load scrubs its own chunks.
  const scrubbed = await ledger.run(() => scrubSuppressed(db, campaign.id, listOwner(deps.account)));
  const loading = load.done.then(async () => {
    const now = campaign.loading ? await ledger.run(() => findCampaign(db, job.name, campaign.sandbox)) : undefined;
    if (now && !now.loading) onEvent?.({ kind: 'load-finished', campaign: now }); // not when interrupted part way
    onEvent?.({ kind: 'suppressed', imported, scrubbed: scrubbed + load.suppressed() });
  }, (err: unknown) => stopper.fail(err));

  const owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  if (deps.startAt) await ledger.run(() => setStartAt(db, campaign.id, deps.startAt!));
  const runner = await ledger.run(() => holdRunner(db, owner, campaign.id, stopper));
  await ledger.run(() => recordEvent(db, campaign.id, 'run_started', { owner, fresh: loaded }));
  // Budgets are the account's (its numbers, its request and List windows), shared by all its campaigns and processes.
  const account = listOwner(deps.account);
  await ledger.run(() => prepareBudgets(db, account, campaign.id, deps.options.listPerMinute, deps.budgetCaps));
  const limiters = createLimiters({ listPerMinute: deps.options.listPerMinute, ledger: { db, account } });
  const common = { db, client: deps.client, campaignId: campaign.id, limiters, stopper, ledger };
  const callbacks = deps.callbacks;
  const dispatcher = new Dispatcher({
    ...common, job, owner, account, onEvent, loading: load.loading, ...(deps.pacing ? { pacing: deps.pacing } : {}),
    ...(callbacks ? { callbackUrl: (batchId: number) => callbacks.urlFor(campaign.id, batchId) } : {}),
    options: {
      leaseMs: 2 * deps.options.requestTimeoutMs + 60_000,
      maxAttempts: deps.options.maxAttempts,
      retryBaseMs: deps.options.retryBaseMs,
      requestTimeoutMs: deps.options.requestTimeoutMs,
    },
  });
  // One process per campaign reconciles and tracks (ledger/roles.ts); the others send and stand by.
  const election = new Election({ db, campaignId: campaign.id, wanted: ['reconcile', 'track'], onEvent, onError: (err) => stopper.fail(err) });
  const reconciler = new Reconciler({
    ...common, owner, onEvent, role: election.role('reconcile'),
    options: { requestTimeoutMs: deps.options.requestTimeoutMs, confirmAbsentMs: deps.options.settleMs, maxFailures: 3, maxAbsent: deps.options.maxAttempts },
  });
  const tracker = new Tracker({
    ...common, options: trackerOptions(deps.options, job.receipt_cutoff_hours, callbacks !== undefined), onEvent, role: election.role('track'),
    listSlots: ledgerListSlots(db, account, deps.options.listPerMinute),
  });
  const receiver = await callbacks?.start?.((updates) => ledger.run(() => applyProviderUpdates(db, updates)),
    (m) => ledger.run(() => applyInbound(db, listOwner(deps.account), m)));
  const watchEnd = new Stopper();
  const watching = watchCancel({ db, ledger, stopper, campaignId: campaign.id, requestFile: deps.cancelRequestFile, end: watchEnd })
    .catch((err: unknown) => stopper.fail(err));

  try {
    await election.start();
    let sendingDone = false;
    let deadline = Infinity;
    const window = sendWindowOf(job);
    const sending = Promise.all([
      dispatcher.run(), reconciler.run(() => dispatcher.active),
      keepWindows({ db, campaignId: campaign.id, window, stopper, ledger, onEvent }, () => dispatcher.active),
    ]).finally(() => {
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
    watchEnd.stop('run over');
    await watching;
    if (stopper.error !== undefined) throw stopper.error;
    if (!stopper.stopped && open === 0) await ledger.run(() => setCampaignState(db, campaign.id, 'done'));
    const cancelledAtEnd = await ledger.run(() => cancelledAt(db, campaign.id));
    // A batch put back to `pending` after the cancel (a retryable answer, a reconciliation) is cancelled too.
    if (cancelledAtEnd !== null) await ledger.run(() => db.transaction((tx) => sweepCancelled(tx, campaign.id, cancelledAtEnd)));
    await ledger.run(() => recordEvent(db, campaign.id, 'run_stopped', { owner, reason: stopper.reason ?? 'finished', open }));
    // The tally rows this run's connections wrote, folded into one per sender and status (ledger/tallies.ts)
    await ledger.run(() => foldTallies(db, campaign.id));
    return { campaign: (await ledger.run(() => findCampaign(db, campaign.name, campaign.sandbox)))!, alreadyDone: false, openMessages: open, cancelledAt: cancelledAtEnd };
  } finally {
    watchEnd.stop('run over');
    await election.stop();
    await receiver?.close();
    await limiters.stop();
    await runner.release();
  }
}

/** Refuses to run a real campaign as another account, or against another endpoint, than it was started with. */
export async function checkAccount(db: Db, campaign: CampaignRow, account: CampaignAccount): Promise<void> {
  if (account.sandbox) return;
  const row = await claimAccount(db, campaign.id, account);
  if (row.auth_id !== account.authId || row.api_url !== account.apiUrl) {
    throw new CampaignAccountError(campaign.name, { authId: row.auth_id!, apiUrl: row.api_url! }, account);
  }
}

function trackerOptions(o: RunOptions, receiptCutoffHours: number, callbacks: boolean) {
  return { receiptCutoffMs: receiptCutoffHours * 3_600_000, trackBy: o.trackBy, callbacks, listPerSecond: o.listPerMinute / 60 };
}

interface WindowDeps {
  db: Db;
  campaignId: number;
  window: SendWindow | undefined;
  stopper: Stopper;
  ledger: LedgerRetry;
  onEvent?: ((e: RunEvent) => void) | undefined;
}

/**
 * While sending goes on: moves each zone's send-window opening on when it closes (the claim reads them),
 * and says when nothing can be sent until a later time (a window opening, or the scheduled start).
 */
async function keepWindows(deps: WindowDeps, active: () => boolean): Promise<void> {
  const { db, campaignId, window, stopper, ledger, onEvent } = deps;
  let announced = 0;
  do {
    if (window) await ledger.run(() => refreshOpenings(db, campaignId, window));
    const next = await ledger.run(() => nextSendingAt(db, campaignId));
    if (next && next.at.getTime() !== announced) onEvent?.({ kind: 'waiting', until: next.at, zone: next.zone });
    announced = next?.at.getTime() ?? 0;
    await stopper.sleep(WINDOW_CHECK_MS);
  } while (!stopper.stopped && active());
}

/** How often openings are checked: a closed window's next opening is written within this. */
const WINDOW_CHECK_MS = 1000;

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
  await ledger.run(() => checkAccount(db, campaign, deps.account));
  const account = listOwner(deps.account);
  await ledger.run(() => prepareAccountSlots(db, account, deps.options.listPerMinute));
  const limiters = createLimiters({ listPerMinute: deps.options.listPerMinute, ledger: { db, account } });
  const receiver = await deps.callbacks?.start?.((updates) => ledger.run(() => applyProviderUpdates(db, updates)),
    (m) => ledger.run(() => applyInbound(db, listOwner(deps.account), m)));
  // A run of the campaign, or another poll, may be tracking it: only the holder of the `track` role asks Plivo.
  const election = new Election({ db, campaignId: campaign.id, wanted: ['track'], onEvent, onError: (err) => stopper.fail(err) });
  try {
    await election.start();
    const tracker = new Tracker({
      db, client: deps.client, campaignId: campaign.id, limiters, stopper, onEvent, ledger, role: election.role('track'),
      listSlots: ledgerListSlots(db, account, deps.options.listPerMinute),
      options: trackerOptions(deps.options, deps.receiptCutoffHours, deps.callbacks !== undefined),
    });
    const deadline = Date.now() + deps.options.trackForMs;
    const { open } = await tracker.run(() => true, () => Date.now() >= deadline);
    if (stopper.error !== undefined) throw stopper.error;
    if (open === 0 && !stopper.stopped && (await ledger.run(() => countUnsent(db, campaign.id))) === 0) {
      await ledger.run(() => setCampaignState(db, campaign.id, 'done'));
    }
    return { campaign: (await ledger.run(() => findCampaign(db, campaign.name, campaign.sandbox)))!, alreadyDone: false, openMessages: open, cancelledAt: null };
  } finally {
    await election.stop();
    await receiver?.close();
    await limiters.stop();
  }
}
