/**
 * Keeps a campaign's send-window openings current in the ledger while it runs: each zone key's current or
 * next opening is computed here (Intl) and written to `send_windows`, where the claim reads it
 * (ledger/windows.ts windowOpen). When an opening closes, the next one is written. Every process running
 * the campaign computes the same openings, so writing them twice is harmless.
 */
import type { Db } from '../ledger/db.js';
import { saveOpenings, zonesToRefresh, MIN_EXPIRY_SECONDS, type Opening } from '../ledger/windows.js';
import { nextInterval, type SendWindow } from './window.js';

/** Far enough that a zone key whose window never opens (none is loaded so) is never sent to. */
const NEVER = new Date('9999-01-01T00:00:00Z');

export async function refreshOpenings(db: Db, campaignId: number, window: SendWindow): Promise<number> {
  const { zones, now } = await zonesToRefresh(db, campaignId);
  const openings: Opening[] = zones.map((zone) => {
    const next = nextInterval(window, zone.split(' '), now.getTime(), MIN_EXPIRY_SECONDS * 1000);
    return next ? { zone, opensAt: new Date(next.opensAt), closesAt: new Date(next.closesAt) } : { zone, opensAt: NEVER, closesAt: NEVER };
  });
  await saveOpenings(db, campaignId, openings);
  return openings.length;
}

/**
 * The message_expiry a request carries: the job's, cut to the seconds left in the window, so Plivo cannot
 * deliver a message after its window closes. Undefined when the job sets none and no cut is needed.
 */
export function cutExpiry(jobExpiry: number | undefined, windowClosesAt: Date | null, nowMs: number): number | undefined {
  if (windowClosesAt === null) return jobExpiry;
  const left = Math.floor((windowClosesAt.getTime() - nowMs) / 1000);
  const limit = jobExpiry ?? PLIVO_DEFAULT_EXPIRY;
  if (left >= limit) return jobExpiry;
  return Math.max(MIN_EXPIRY_SECONDS, left);
}

/** Plivo's message_expiry when a request gives none: 3 hours. */
const PLIVO_DEFAULT_EXPIRY = 10_800;
