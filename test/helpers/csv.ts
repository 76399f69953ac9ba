import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { tempDir } from './tmp.js';

/** Writes a job file and its CSV into a fresh directory (removed after the test file); returns the job file's path. */
export async function writeJob(job: Record<string, unknown>, csv: string): Promise<string> {
  const dir = await tempDir('smsrun-job-');
  await writeFile(path.join(dir, 'recipients.csv'), csv);
  const file = path.join(dir, 'job.json');
  await writeFile(file, JSON.stringify({ recipients: 'recipients.csv', ...job }, null, 2));
  return file;
}

export function parseReport(csv: string): Record<string, string>[] {
  return parse(csv, { columns: true, skip_empty_lines: true }) as Record<string, string>[];
}

/** Sequential valid US numbers: 1415 555 0000 + i (avoiding the simulator's special endings unless asked). */
export function usNumber(i: number): string {
  return `1415${String(5_000_000 + i).padStart(7, '0')}`;
}

/** Like usNumber, but never ending in 97–99 (the simulator's undelivered, failed and no-receipt numbers). */
export function deliveredNumber(i: number): string {
  return usNumber(Math.floor(i / 97) * 100 + (i % 97));
}
