/**
 * `plan --rate-card FILE`: the price of one unit (segment) by destination country, to estimate a campaign's
 * cost. A CSV with a header naming two columns, `country` (ISO 3166-1 alpha-2, e.g. US, GB) and
 * `price_per_unit` (a decimal in the account's currency); other columns are ignored, so a copy of Plivo's
 * published pricing with those two columns added works as is.
 */
import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { UsageError } from '../errors.js';

export type RateCard = ReadonlyMap<string, number>;

export async function readRateCard(file: string): Promise<RateCard> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${file}: cannot read the rate card (${(err as NodeJS.ErrnoException).code}); check the path given to --rate-card.`, { cause: err });
  }
  const rows = parse(text, { skip_empty_lines: true, bom: true, relax_column_count: true }) as string[][];
  const header = (rows[0] ?? []).map((h) => h.trim().toLowerCase());
  const countryAt = header.indexOf('country');
  const priceAt = header.indexOf('price_per_unit');
  if (countryAt < 0 || priceAt < 0) {
    throw new UsageError(`${file}:1: a rate card needs the columns 'country' (ISO code, e.g. US) and 'price_per_unit' (e.g. 0.0055); its header is: ${header.join(', ')}`);
  }
  const card = new Map<string, number>();
  rows.slice(1).forEach((row, i) => {
    const country = (row[countryAt] ?? '').trim().toUpperCase();
    const price = Number((row[priceAt] ?? '').trim());
    if (!/^[A-Z]{2}$/.test(country) || !Number.isFinite(price) || price < 0) {
      throw new UsageError(`${file}:${i + 2}: expected a two-letter country code and a price per unit, got '${row[countryAt] ?? ''}', '${row[priceAt] ?? ''}'`);
    }
    card.set(country, price);
  });
  return card;
}
