/**
 * Which zone a recipient's send window is read in (job key `send_window`):
 * - a fixed IANA zone: everyone's;
 * - `recipient`: the CSV column named by `timezone_column`, when the row gives one; else the number's
 *   zone (country, and area code where a country has several: see zones.ts); when that leaves several
 *   candidates, all of them, and the window's strictest reading applies.
 */
import type { Job } from '../campaign/job.js';
import { DAYS, nextInterval, parseClock, type SendWindow } from './window.js';
import { isTimeZone, zonesOfNumber } from './zones.js';

/** The job's window in minutes and days; undefined without `send_window`. */
export function sendWindowOf(job: Pick<Job, 'send_window'>): SendWindow | undefined {
  const w = job.send_window;
  if (!w) return undefined;
  return { startMin: parseClock(w.start)!, endMin: parseClock(w.end)!, timezone: w.timezone, days: new Set(w.days ?? DAYS) };
}

export type ZoneResult =
  | { ok: true; key: string; zones: readonly string[]; known: boolean; neverOpen: boolean }
  | { ok: false; reason: string };

/** Reads the zone of one row; zone keys are cached, since a campaign has few distinct ones. */
export class RecipientZones {
  readonly #neverOpen = new Map<string, boolean>();

  constructor(private readonly window: SendWindow, private readonly column: string | undefined, private readonly nowMs = Date.now()) {}

  of(dst: string, columnValue: string | undefined): ZoneResult {
    let zones: readonly string[];
    if (this.window.timezone !== 'recipient') zones = [this.window.timezone];
    else if (columnValue !== undefined && columnValue.trim() !== '') {
      const zone = columnValue.trim();
      if (!isTimeZone(zone)) {
        return { ok: false, reason: `column '${this.column}': '${zone}' is not an IANA time zone (e.g. "America/Chicago"); fix it or leave it empty to use the number's zone` };
      }
      zones = [zone];
    } else zones = zonesOfNumber(dst).zones;
    if (zones.length === 0) zones = ['UTC']; // no prefix in the map (non-geographic numbers): read in UTC
    const key = zones.join(' ');
    let never = this.#neverOpen.get(key);
    if (never === undefined) {
      never = nextInterval(this.window, zones, this.nowMs) === undefined;
      this.#neverOpen.set(key, never);
    }
    return { ok: true, key, zones, known: zones.length === 1, neverOpen: never };
  }
}
