/** `smsrun senders [--json]`: each sender number's rate, when it may send next, and the campaigns using it. */
import { listSenders, type SenderState } from '../../ledger/senders.js';
import { EXIT, type ExitCode } from '../../errors.js';
import { openLedgerFor, type GlobalArgs, type Io } from '../context.js';

export async function sendersCommand(args: GlobalArgs & { json: boolean }, io: Io): Promise<ExitCode> {
  const db = await openLedgerFor(args, io, { read: true });
  const senders = db ? await listSenders(db).finally(() => db.close()) : [];
  io.stdout.write(args.json ? `${JSON.stringify(senders)}\n` : render(senders));
  return EXIT.ok;
}

function render(senders: readonly SenderState[]): string {
  if (senders.length === 0) return 'no sender has sent from this ledger yet\n';
  return senders.map((s) => {
    const budget = s.dueInS > 0 ? `next batch in ${s.dueInS.toFixed(1)}s` : 'may send now';
    const campaigns = s.campaigns.map((c) => `${c.name} (${c.state}, ${c.rate}/s${c.pending > 0 ? `, ${c.pending} batches pending` : ''})`).join(', ');
    return `${s.sender}  ${s.rate}/s  ${budget}  account ${s.account}\n  used by: ${campaigns || 'no campaign'}\n`;
  }).join('');
}
