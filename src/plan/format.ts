/** The plan as text, for `smsrun plan` and for the confirmation `run` asks on a terminal. */
import { formatDuration } from '../report/summary.js';
import type { Job } from '../campaign/job.js';
import type { Plan, RefusalReason } from './collect.js';

const REASON_TITLES: Record<RefusalReason, string> = {
  invalid: 'invalid rows', duplicate: 'duplicate numbers (sent once)', suppressed: 'suppressed (opted out)',
  outside_window: 'outside any window', landline: 'landlines skipped',
};

function counts(c: Record<string, number>): string {
  return Object.entries(c).map(([k, n]) => `${k} ${n}`).join(', ');
}

function when(iso: string): string {
  return iso.replace('T', ' ').replace(/:\d\d\.\d{3}Z$/, ' UTC');
}

/** Which lists the suppressed count comes from, and the ledger's when it was not read. */
function suppressionSources(s: NonNullable<Plan['suppression']>): string {
  const files = s.jobFiles.files > 0 ? `${s.jobFiles.numbers} number(s) in the job's ${s.jobFiles.files} suppress file(s)` : "no suppress file in the job";
  const ledger = s.ledger.consulted
    ? `${s.ledger.numbers} number(s) on the list of ${s.ledger.account} in ${s.ledger.ledger}`
    : `the ledger's list was not consulted: ${s.ledger.why}`;
  return `${files}; ${ledger}`;
}

export function formatPlan(plan: Plan, job: Job, o: { details: boolean }): string {
  const out: string[] = [`plan for campaign '${plan.campaign}' (nothing sent, nothing written):`];
  const refusedCounts = (['suppressed', 'outside_window'] as const).filter((k) => plan.reasons[k].count > 0).map((k) => `, ${plan.reasons[k].count} ${k.replace('_', ' ')}`).join('');
  out.push(`  rows ${plan.rows}: ${plan.valid} to send, ${plan.invalid} invalid, ${plan.duplicate} duplicate` +
    (plan.reasons.landline.count > 0 ? `, ${plan.reasons.landline.count} skipped (landlines)` : '') + refusedCounts);
  if (plan.suppression) out.push(`  suppression: ${suppressionSources(plan.suppression)}`);
  if (plan.rows > plan.invalid) {
    out.push(`  by country: ${counts(plan.countries)}`, `  by number type: ${counts(plan.types)}`);
  }
  if (plan.landlines > 0) {
    out.push(job.landlines === 'skip'
      ? `  ${plan.landlines} landline(s) (fixed-line numbers) will be skipped, as the job's "landlines": "skip" says`
      : `  ${plan.landlines} landline(s) (fixed-line numbers) will be sent to; most cannot receive a text: set "landlines": "skip" to skip them`);
  }
  out.push(`  ${plan.units} units from ${plan.senders} sender(s) at ${job.rate}/s each (${job.rate_counts}), in ${plan.batchesUpperBound ? 'at most' : 'about'} ${plan.batches} request(s)`);
  out.push(`  sending takes at least ${formatDuration(plan.estimatedSeconds)}`);
  if (plan.ucs2.recipients > 0) {
    out.push(`  ${plan.ucs2.recipients} recipient(s) get a UCS-2 text (70 characters a unit instead of 160) because of: ` +
      plan.ucs2.characters.slice(0, 10).map((c) => `'${c.char}' ${c.code} (${c.recipients})`).join(', ') +
      (plan.gsmReplace.enabled ? '' : '; "gsm_replace": true replaces look-alikes such as curly quotes and dashes'));
  }
  if (plan.gsmReplace.enabled) {
    out.push(`  gsm_replace: ${plan.gsmReplace.recipientsChanged} text(s) changed, ${plan.gsmReplace.unitsBefore} units without it, ${plan.gsmReplace.unitsAfter} with it` +
      ` (${plan.gsmReplace.unitsBefore - plan.gsmReplace.unitsAfter} saved)`);
  }
  if (plan.cost) {
    const unpriced = Object.keys(plan.cost.unpriced).length > 0 ? `; no price for ${counts(plan.cost.unpriced)} unit(s): add them to the rate card` : '';
    out.push(`  cost: about ${plan.cost.total} (from the ${plan.cost.source})${unpriced}`);
  } else {
    out.push('  cost: unknown: set "price_per_unit" in the job or give --rate-card FILE');
  }
  if (plan.window) {
    out.push(`  send window: ${plan.window.description} in ${plan.window.timezone === 'recipient' ? "each recipient's time zone" : plan.window.timezone}`);
    for (const z of plan.window.zones.slice(0, 5)) {
      out.push(`    ${z.known ? z.zone : `zone not known (strictest of ${z.zone.split(' ').join(', ')})`}: ${z.recipients}, ${z.opensAt ? `open from ${when(z.opensAt)}` : 'never open'}`);
    }
    if (plan.window.zones.length > 5) out.push(`    … and ${plan.window.zones.length - 5} more zone(s)`);
  }
  out.push(`  starts ${when(plan.startAt)}; earliest finish ${plan.earliestFinish ? when(plan.earliestFinish) : 'not within two months (the window is too narrow)'}`);
  if (o.details) {
    if (plan.firstRecipients.length > 0) out.push('  first recipients:');
    for (const r of plan.firstRecipients) out.push(`    line ${r.line}: +${r.dst} (${r.units} unit(s), ${r.encoding}): ${JSON.stringify(r.text)}`);
    for (const [reason, entry] of Object.entries(plan.reasons) as [RefusalReason, Plan['reasons'][RefusalReason]][]) {
      if (entry.count === 0) continue;
      out.push(`  ${REASON_TITLES[reason]}` + (entry.count > entry.first.length ? ` (first ${entry.first.length} of ${entry.count})` : '') + ':');
      for (const r of entry.first) out.push(`    row ${r.row}: ${r.detail}`);
    }
  }
  return out.join('\n') + '\n';
}
