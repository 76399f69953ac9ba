/**
 * `smsrun webhook --callback-url https://… --listen :8080`: a standalone receiver of Plivo's status
 * callbacks (and inbound messages, for STOP / START), recording them in the ledger until Ctrl-C / SIGTERM. For when the process that sends cannot
 * take connections itself; the sends must carry the same --callback-url (see README).
 *
 * Callbacks for messages not recorded yet wait in the ledger's inbox; every second the inbox is applied
 * to what has been recorded since. Ledger writes of this process run one at a time.
 */
import { applyProviderUpdates, applyWaitingCallbacks } from '../../ledger/tracking.js';
import { applyInbound, type InboundMessage } from '../../optout/inbound.js';
import { redactUrl } from '../../ledger/open.js';
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import { Stopper } from '../../send/stopper.js';
import { checkCallbackUrl, parseListen, startReceiver, type Receiver, type ReceiverEvent } from '../../track/receiver.js';
import { openLedgerFor, smsrunHome, type GlobalArgs, type Io } from '../context.js';

export interface WebhookArgs extends GlobalArgs {
  callbackUrl: string;
  listen: string;
}

const INBOX_EVERY_MS = 1000;
const REPORT_EVERY_MS = 10_000;

export async function webhookCommand(args: WebhookArgs, io: Io): Promise<ExitCode> {
  const authToken = io.env['PLIVO_AUTH_TOKEN'];
  if (!authToken) {
    throw new UsageError("PLIVO_AUTH_TOKEN must be set: the webhook checks every callback's signature with it " +
      "(the Plivo console's overview page shows it).");
  }
  const publicUrl = checkCallbackUrl(args.callbackUrl);
  const listen = parseListen(args.listen);
  const db = await openLedgerFor(args, io);
  try {
    const serial = oneAtATime();
    const log = new EventLog(io);
    // Inbound STOP / START change the sending account's suppression list: its auth id names the list.
    const account = io.env['PLIVO_AUTH_ID'] || undefined;
    const receiver = await startReceiver({
      publicUrl, listen, authToken,
      apply: (updates) => serial(() => applyProviderUpdates(db, updates)),
      ...(account ? { inbound: (m: InboundMessage) => serial(() => applyInbound(db, account, m)) } : {}),
      onEvent: (e) => log.add(e),
    });
    const ledger = io.env['DATABASE_URL'] ? `Postgres at ${redactUrl(io.env['DATABASE_URL'])}` : `the embedded ledger in ${smsrunHome(args, io.env)}`;
    io.stdout.write(describeStart(receiver, publicUrl, ledger, account));
    const stopper = new Stopper();
    const stop = () => stopper.stop('interrupted');
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      await Promise.all([
        every(stopper, INBOX_EVERY_MS, () => serial(() => applyWaitingCallbacks(db)).catch((err: unknown) => log.add({ kind: 'failed', reason: `inbox: ${(err as Error).message}` }))),
        every(stopper, REPORT_EVERY_MS, async () => log.flush(receiver)),
      ]);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      await receiver.close();
      // Callbacks answered while closing may have waited for messages recorded meanwhile.
      await serial(() => applyWaitingCallbacks(db)).catch(() => undefined);
    }
    log.flush(receiver);
    io.stdout.write(`stopped: ${formatStats(receiver)}\n`);
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

function describeStart(receiver: Receiver, publicUrl: string, ledger: string, account: string | undefined): string {
  const lines = [
    `smsrun webhook: listening on ${receiver.localUrl} for Plivo status callbacks sent to ${publicUrl}`,
    account
      ? `  inbound messages: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT add the sender to ${account}'s suppression list; START, UNSTOP lift it`
      : '  inbound messages: not recorded (set PLIVO_AUTH_ID to keep opt-outs texted to your numbers)',
    '  checked: PLIVO_AUTH_TOKEN is set (it checks X-Plivo-Signature-V3, or V2 without V3; never printed)',
    `  checked: the callback url; signatures are checked against its origin and path, not the local address`,
    `  checked: the ledger (${ledger}) is open and migrated`,
  ];
  if (publicUrl.startsWith('http:')) lines.push('  note: the callback url is plain http: callbacks are signed, but travel unencrypted');
  lines.push('  Ctrl-C to stop.');
  return lines.join('\n') + '\n';
}

/** Runs `fn` every `ms` until stopped, never two at once. */
async function every(stopper: Stopper, ms: number, fn: () => Promise<unknown>): Promise<void> {
  while (!stopper.stopped) {
    await stopper.sleep(ms);
    if (!stopper.stopped) await fn();
  }
}

/** Serialises ledger writes of this process: callbacks and the inbox sweep never race each other. */
function oneAtATime(): <T>(fn: () => Promise<T>) => Promise<T> {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>) => {
    const next = last.then(fn, fn);
    last = next.catch(() => undefined);
    return next;
  };
}

/** Counts the receiver's refusals and failures by reason, printed every few seconds, not per request. */
class EventLog {
  #reasons = new Map<string, number>();
  #printed = '';

  constructor(private readonly io: Io) {}

  add(e: ReceiverEvent): void {
    if (e.kind === 'applied') return;
    const key = e.kind === 'rejected' ? `rejected (${e.status}): ${e.reason}` : `failed (Plivo will retry): ${e.reason}`;
    this.#reasons.set(key, (this.#reasons.get(key) ?? 0) + 1);
  }

  flush(receiver: Receiver): void {
    const line = formatStats(receiver);
    if (line !== this.#printed) this.io.stderr.write(`callbacks: ${line}\n`);
    this.#printed = line;
    for (const [reason, n] of this.#reasons) this.io.stderr.write(`  ${n} × ${reason}\n`);
    this.#reasons.clear();
  }
}

function formatStats(receiver: Receiver): string {
  const s = receiver.stats;
  return `${s.received} received, ${s.applied} recorded, ${s.rejected} rejected, ${s.failed} failed`;
}
