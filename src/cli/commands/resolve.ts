/**
 * `smsrun resolve <campaign> (--batch N ... | --all) (--resend | --mark-sent) [--note TEXT]`: the operator's
 * decision on ambiguous batches that reconciliation could not settle. Nothing here guesses: the operator
 * has checked Plivo's console, and each decision is recorded in the ledger's events (ledger/resolve.ts).
 */
import os from 'node:os';
import { findCampaign } from '../../ledger/campaigns.js';
import { UnknownCampaignError } from '../../ledger/errors.js';
import { ambiguousBatches } from '../../ledger/reports.js';
import { checkResolvable, resolveBatch, type Decision, type Resolution } from '../../ledger/resolve.js';
import { EXIT, type ExitCode } from '../../errors.js';
import { openLedgerFor, type GlobalArgs, type Io } from '../context.js';

export interface ResolveArgs extends GlobalArgs {
  /** The batches to resolve; undefined with `all`. */
  batches: readonly number[] | undefined;
  all: boolean;
  decision: Decision;
  note?: string | undefined;
}

export async function resolveCommand(name: string, args: ResolveArgs, io: Io): Promise<ExitCode> {
  const db = await openLedgerFor(args, io);
  try {
    const campaign = await findCampaign(db, name);
    if (!campaign) throw new UnknownCampaignError(name);
    let ids: number[];
    if (args.all) {
      const unsettled = await ambiguousBatches(db, campaign.id);
      for (const b of unsettled.filter((x) => x.status === 'in_flight')) {
        io.stderr.write(`batch ${b.id} is in flight (a run may own it): left alone. Wait for the run, or see 'smsrun resolve --help'.\n`);
      }
      ids = unsettled.filter((b) => b.status === 'ambiguous').map((b) => b.id);
      if (ids.length === 0) {
        io.stdout.write(`campaign '${name}' has no ambiguous batches: nothing to resolve.\n`);
        return EXIT.ok;
      }
    } else {
      ids = [...new Set(args.batches ?? [])];
      // All or nothing: a typo in one --batch changes none of them.
      await checkResolvable(db, campaign, ids);
    }
    const by = operator(io.env);
    const done: Resolution[] = [];
    for (const id of ids) {
      const r = await resolveBatch(db, campaign, id, args.decision, { by, note: args.note });
      done.push(r);
      io.stdout.write(`${describe(r)}\n`);
    }
    io.stdout.write(`${nextStep(name, done)}\n`);
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

function describe(r: Resolution): string {
  const what = `batch ${r.batchId} (${r.recipients} recipient${r.recipients === 1 ? '' : 's'} from ${r.sender})`;
  return r.decision === 'resend'
    ? `${what}: marked not accepted by Plivo; its recipients are pending again and will be sent.`
    : `${what}: marked sent; its recipients are final 'sent' with no message_uuid, so their delivery cannot be tracked.`;
}

function nextStep(name: string, done: readonly Resolution[]): string {
  return done.some((r) => r.decision === 'resend')
    ? `next: 'smsrun resume ${name}' sends the batches marked for resending and carries on the campaign.`
    : `next: 'smsrun resume ${name}' carries on the campaign; the recipients marked sent are not texted again.`;
}

/** Who decided, for the audit trail: the OS user and host of this process. */
function operator(env: NodeJS.ProcessEnv): string {
  let user: string | undefined;
  try {
    user = os.userInfo().username;
  } catch {
    user = env['USER'] ?? env['LOGNAME'];
  }
  return `${user ?? 'unknown'}@${os.hostname()}`;
}
