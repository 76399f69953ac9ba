/**
 * `smsrun cancel <campaign>`: stops a campaign for good (ledger/cancel.ts). A run of it, in any process,
 * notices within about a second, lets its requests in flight finish and be recorded, and exits 3.
 *
 * On the embedded ledger, a running `smsrun run` holds the ledger: cancel then leaves a request file in
 * SMSRUN_HOME/cancel-requests/, which that run picks up and records itself, and waits for the ledger to be
 * free to confirm it. `--sandbox` cancels the sandbox campaign of that name; without it, only a real one is
 * cancelled (a name that only a sandbox campaign has is refused, naming the flag).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cancelCampaign } from '../../ledger/cancel.js';
import type { Db } from '../../ledger/db.js';
import { LedgerLockedError } from '../../ledger/errors.js';
import { EXIT, RunFailedError, type ExitCode } from '../../errors.js';
import { cancelRequestFile } from '../../optout/run.js';
import { openLedgerFor, smsrunHome, type GlobalArgs, type Io } from '../context.js';
import { campaignNamed } from '../campaign-world.js';

/** How long cancel waits for a run holding the embedded ledger to pick up its request and stop. */
const WAIT_FOR_RUN_MS = 60_000;

export interface CancelArgs extends GlobalArgs {
  /** The sandbox campaign of that name (sql/007). */
  sandbox?: boolean | undefined;
}

export async function cancelCommand(name: string, args: CancelArgs, io: Io): Promise<ExitCode> {
  const sandbox = args.sandbox === true;
  const db = await openOrAsk(name, args, io);
  try {
    const campaign = await campaignNamed(db, name, { sandbox, verb: 'cancel' });
    const r = await cancelCampaign(db, campaign.id, `${os.userInfo().username}@${os.hostname()}`);
    if (!io.env['DATABASE_URL']) await rm(cancelRequestFile(smsrunHome(args, io.env), name, sandbox), { force: true });
    io.stdout.write(`${r.fresh ? 'cancelled' : 'already cancelled'}: campaign '${name}' (${r.cancelledAt.toISOString()}). ` +
      `${r.recipients} recipient(s) not sent became 'cancelled'; nothing more of it will be sent.\n`);
    if (r.unsettled > 0) {
      io.stdout.write(`  ${r.unsettled} recipient(s) are in requests whose answer is not recorded yet: they may have been texted ` +
        `('smsrun status ${name}' shows them once settled).\n`);
    }
    io.stdout.write(`  A run of it stops within seconds (exit code 3). To text the recipients it did not reach later: smsrun retry ${name} --only cancelled${sandbox ? ' --sandbox' : ''}\n`);
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

/** The ledger, or, when a run holds the embedded one, a request to that run, then the ledger once it is free. */
async function openOrAsk(name: string, args: CancelArgs, io: Io): Promise<Db> {
  try {
    return await openLedgerFor(args, io);
  } catch (err) {
    if (!(err instanceof LedgerLockedError) || io.env['DATABASE_URL']) throw err;
  }
  const file = cancelRequestFile(smsrunHome(args, io.env), name, args.sandbox === true);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${new Date().toISOString()} ${os.userInfo().username}@${os.hostname()}\n`);
  io.stderr.write(`another smsrun process holds the embedded ledger: asked it to cancel '${name}'; waiting for it to stop…\n`);
  const deadline = Date.now() + WAIT_FOR_RUN_MS;
  while (Date.now() < deadline) {
    await sleep(250);
    try {
      return await openLedgerFor(args, io);
    } catch (err) {
      if (!(err instanceof LedgerLockedError)) throw err;
    }
  }
  const again = `smsrun cancel ${name}${args.sandbox ? ' --sandbox' : ''}`;
  throw new RunFailedError(`the process holding the embedded ledger did not stop within ${WAIT_FOR_RUN_MS / 1000} s (it may not be running '${name}'). ` +
    `The request is kept in ${file}: a run of '${name}' cancels it as soon as it starts. Run '${again}' again once the ledger is free to confirm.`);
}
