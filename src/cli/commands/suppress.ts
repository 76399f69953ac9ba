/**
 * `smsrun suppress add|import|remove|list|export`: the account's suppression list (numbers never texted).
 * The account is PLIVO_AUTH_ID, or the --sandbox list. While a run holds the embedded ledger, every action goes
 * through that process (ledger/share.ts): the list is read through it, and changed by it.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { CountryCode } from 'libphonenumber-js/max';
import { isSupportedCountry } from 'libphonenumber-js/max';
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import type { Db } from '../../ledger/db.js';
import { applySuppressionChange, type SuppressionChange } from '../../ledger/share-ops.js';
import { suppressionPage, type Suppression } from '../../ledger/suppressions.js';
import { suppressionAccount } from '../../optout/account.js';
import { EXPORT_HEADER, exportLine, readSuppressionFile } from '../../optout/files.js';
import { parseRecipientNumber } from '../../sms/recipient-number.js';
import { openLedgerOrHolder, type GlobalArgs, type Io } from '../context.js';

import { SUPPRESS_ACTIONS } from './suppress-actions.js';

export { SUPPRESS_ACTIONS };
export type SuppressAction = (typeof SUPPRESS_ACTIONS)[number];

export interface SuppressArgs extends GlobalArgs {
  action: SuppressAction;
  /** Numbers (add, remove) or one file (import). */
  items: string[];
  sandbox: boolean;
  reason?: string | undefined;
  defaultCountry?: string | undefined;
  out?: string | undefined;
}

const PAGE = 1000;

export async function suppressCommand(args: SuppressArgs, io: Io): Promise<ExitCode> {
  const account = suppressionAccount(args.sandbox, io.env);
  const country = countryOf(args.defaultCountry);
  // Read and check the input before opening the ledger: a typo changes nothing.
  const input = await inputOf(args, country);
  const { db, holder } = await openLedgerOrHolder(args, io);
  // While a run holds the embedded ledger, that process applies the change (ledger/share-ops.ts) and its
  // claim-time check refuses the numbers from its next batch on.
  const change = (c: SuppressionChange) => (holder ? holder.ledger.changeSuppressions(c) : applySuppressionChange(db, c));
  const via = holder ? `, through the running smsrun process (pid ${holder.pid}), which will not text them` : '';
  try {
    switch (args.action) {
      case 'add':
      case 'import': {
        const { added } = await change({ account, add: input, remove: [] });
        io.stdout.write(`${account}: ${added} number(s) added to the suppression list` +
          `${input.length > added ? `, ${input.length - added} already on it (kept as they were)` : ''}${via}\n`);
        return EXIT.ok;
      }
      case 'remove': {
        const { removed } = await change({ account, add: [], remove: input.map((s) => s.number) });
        io.stdout.write(`${account}: ${removed} number(s) removed from the suppression list` +
          `${input.length > removed ? `, ${input.length - removed} were not on it` : ''}` +
          `${holder ? `, through the running smsrun process (pid ${holder.pid})` : ''}\n`);
        return EXIT.ok;
      }
      case 'list':
        await eachPage(db, account, (rows) => {
          for (const r of rows) io.stdout.write(`+${r.number}  ${r.created_at.toISOString()}  ${r.source}  ${r.reason}\n`);
        });
        return EXIT.ok;
      case 'export':
        await exportList(db, account, args.out, io);
        return EXIT.ok;
    }
  } finally {
    await db.close();
  }
}

async function inputOf(args: SuppressArgs, country: CountryCode | undefined) {
  const reason = args.reason ?? (args.action === 'import' ? undefined : 'added by hand (smsrun suppress add)');
  if (args.action === 'import') {
    if (args.items.length !== 1) throw new UsageError('smsrun suppress import takes one file: smsrun suppress import optouts.csv');
    const file = args.items[0]!;
    return readSuppressionFile(file, { source: `import:${file}`, defaultReason: reason ?? `imported from ${file}`, defaultCountry: country });
  }
  if (args.action === 'add' || args.action === 'remove') {
    if (args.items.length === 0) throw new UsageError(`smsrun suppress ${args.action} takes the numbers, e.g. smsrun suppress ${args.action} +14155550123`);
    return args.items.map((raw) => {
      const parsed = parseRecipientNumber(raw, country);
      if (!parsed.ok) throw new UsageError(`${parsed.reason}; write it in E.164 (+14155550123), or give --default-country for national numbers`);
      return { number: parsed.dst, reason: reason!, source: 'manual' };
    });
  }
  if (args.items.length > 0) throw new UsageError(`smsrun suppress ${args.action} takes no numbers (got ${args.items.join(' ')})`);
  return [];
}

function countryOf(code: string | undefined): CountryCode | undefined {
  if (code === undefined) return undefined;
  const upper = code.trim().toUpperCase();
  if (!isSupportedCountry(upper)) throw new UsageError(`--default-country takes an ISO 3166-1 alpha-2 code such as US, GB or IN, not '${code}'`);
  return upper;
}

async function eachPage(db: Db, account: string, fn: (rows: Suppression[]) => void | Promise<void>): Promise<void> {
  let after = '';
  for (;;) {
    const rows = await suppressionPage(db, account, after, PAGE);
    if (rows.length === 0) return;
    await fn(rows);
    after = rows.at(-1)!.number;
  }
}

/** CSV (number as +E.164, reason, source, created_at), which `suppress import` reads back. */
async function exportList(db: Db, account: string, out: string | undefined, io: Io): Promise<void> {
  const stream = out ? createWriteStream(out) : io.stdout;
  const write = async (s: string) => {
    if (!stream.write(s)) await once(stream, 'drain');
  };
  await write(EXPORT_HEADER);
  await eachPage(db, account, async (rows) => {
    for (const r of rows) await write(exportLine([`+${r.number}`, r.reason, r.source, r.created_at.toISOString()]));
  });
  if (out) {
    stream.end();
    await finished(stream);
  }
}
