/**
 * The job file: what a campaign sends, to whom, from which numbers and how fast.
 * Every key is documented in README.md ("Job file reference"); keep the two in step.
 * Validation reports every problem at once, each with its key and how to fix it; an unknown key is an
 * error, so a typo such as `batchsize` cannot silently fall back to a default.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import iconv from 'iconv-lite';
import { getCountries, isSupportedCountry } from 'libphonenumber-js/max';
import { z } from 'zod';
import { JobFileError } from '../errors.js';
import { sanitizeSrc, srcProblem } from '../sms/numbers.js';
import { compileTemplate, TemplateSyntaxError } from '../sms/template.js';
import { suggest } from './suggest.js';

const CAMPAIGN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const jobSchema = z.strictObject({
  name: z.string().regex(CAMPAIGN_NAME, 'use 1-100 letters, digits, ".", "_" or "-", starting with a letter or digit'),
  recipients: z.string().min(1, 'give the path of the recipients CSV, relative to the job file'),
  src: z.union([z.string().min(1), z.array(z.string().min(1)).min(1, 'list at least one sender number')]).optional(),
  powerpack_uuid: z.string().min(1).optional(),
  text: z.string().optional(),
  rate: z.number().positive('must be a positive number of messages per second per src').default(1),
  rate_counts: z.enum(['units', 'messages']).default('units'),
  account_rate: z.number().positive('must be a positive number of messages per second').optional(),
  batch_size: z.number().int('must be a whole number').min(1).max(1000, 'Plivo accepts at most 1000 destinations per request').default(100),
  dst_column: z.string().min(1).default('phone'),
  type: z.enum(['sms', 'mms']).default('sms'),
  media_urls: z.array(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })).min(1).max(10, 'Plivo allows at most 10 media URLs').optional(),
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL for status callbacks' }).optional(),
  method: z.enum(['GET', 'POST']).default('POST'),
  // `false` and `content_only` make Plivo mask the numbers in its records, and smsrun needs them to prove
  // whether a request whose answer was lost was accepted: without them it could text people twice.
  log: z.union([z.literal(true), z.literal('number_only')], {
    error: 'use true or "number_only": false and "content_only" hide the numbers in Plivo\'s records, which smsrun needs to make sure nobody is texted twice',
  }).default(true),
  trackable: z.boolean().default(false),
  message_expiry: z.number().int().min(5).max(10799, 'Plivo accepts 5 to 10799 seconds').optional(),
  receipt_cutoff_hours: z.number().positive('must be a positive number of hours').default(72),
  // The keys below have no default on purpose: a key that is not set does not enter the campaign's content
  // hash, so campaigns loaded before the key existed keep their identity (src/campaign/load.ts).
  default_country: z.string().transform(countryCode).optional(),
  encoding: z.string().refine((e) => iconv.encodingExists(e), { error: (i) => encodingProblem(String(i.input)) }).optional(),
  delimiter: z.enum([',', ';', '\t', '|'], { error: 'use ",", ";", "\\t" (a tab) or "|"; without the key it is detected from the header line' }).optional(),
  landlines: z.enum(['send', 'skip'], { error: 'use "send" (the default) or "skip" (landlines are kept in the report as skipped)' }).optional(),
  // Not a content key: suppression lists grow between runs, and every run reads them again (src/optout/).
  suppress: z.array(z.string().min(1, 'give the path of a suppression list, relative to the job file'), {
    error: 'use a list of CSV files of numbers not to text, relative to the job file, e.g. ["optouts.csv"]',
  }).optional(),
});

export type JobFields = z.infer<typeof jobSchema>;

/** A validated job, with its paths resolved and its senders sanitised. */
export interface Job extends JobFields {
  readonly jobFile: string;
  readonly recipientsPath: string;
  /** Sender keys: sanitised src numbers, or a single `powerpack:<uuid>`. */
  readonly senders: readonly string[];
  /** Rebuilt from the ledger (`smsrun resume`): the campaign is loaded, its CSV is not read again. */
  readonly fromLedger?: boolean;
}

export async function loadJobFile(jobFile: string): Promise<Job> {
  let raw: string;
  try {
    raw = await readFile(jobFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new JobFileError(jobFile, [code === 'ENOENT' ? 'file not found: check the path' : `cannot read it (${code})`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new JobFileError(jobFile, [`not valid JSON: ${(err as Error).message}`]);
  }
  return validateJob(parsed, jobFile);
}

export function validateJob(input: unknown, jobFile: string): Job {
  const result = jobSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    const badKeys = new Set(result.error.issues.map((i) => String(i.path[0] ?? '')));
    throw new JobFileError(jobFile, [...result.error.issues.flatMap(describeIssue), ...crossFieldProblemsOfRest(input, badKeys)]);
  }
  const fields = result.data;
  const problems = crossFieldProblems(fields);
  if (problems.length > 0) throw new JobFileError(jobFile, problems);
  const srcs = fields.src === undefined ? [] : Array.isArray(fields.src) ? fields.src : [fields.src];
  const senders = fields.powerpack_uuid ? [`powerpack:${fields.powerpack_uuid}`] : [...new Set(srcs.map(sanitizeSrc))];
  return {
    ...fields,
    jobFile,
    recipientsPath: path.resolve(path.dirname(jobFile), fields.recipients),
    senders,
  };
}

/** The job a campaign was loaded with, as the ledger keeps it (for `resume` and `poll`). */
export function jobFromLedger(c: { job: Record<string, unknown>; job_file: string; csv_file: string; senders: string[] }): Job {
  const fields = jobSchema.parse(c.job);
  return { ...fields, jobFile: c.job_file, recipientsPath: c.csv_file, senders: c.senders, fromLedger: true };
}

/** The cross-key problems among the keys that passed the schema, so one try reports every problem. */
function crossFieldProblemsOfRest(input: unknown, badKeys: ReadonlySet<string>): string[] {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return [];
  const kept = Object.fromEntries(Object.entries(input).filter(([k]) => !badKeys.has(k) && k in jobSchema.shape));
  const partial = jobSchema.partial().safeParse(kept);
  if (!partial.success) return [];
  return crossFieldProblems({ type: 'sms', ...partial.data } as JobFields, badKeys);
}

/** Problems between keys. A check that involves one of the `unknown` keys (already reported as bad) is skipped. */
function crossFieldProblems(job: JobFields, unknown: ReadonlySet<string> = new Set()): string[] {
  const problems: string[] = [];
  const known = (...keys: string[]) => keys.every((k) => !unknown.has(k));
  if (known('src', 'powerpack_uuid') && (job.src === undefined) === (job.powerpack_uuid === undefined)) {
    problems.push('src / powerpack_uuid: give exactly one of them (a sender number or a list of them, or a Powerpack UUID)');
  }
  const srcs = job.src === undefined ? [] : Array.isArray(job.src) ? job.src : [job.src];
  for (const [i, raw] of srcs.entries()) {
    const problem = srcProblem(sanitizeSrc(raw));
    if (problem) problems.push(`src${Array.isArray(job.src) ? `[${i}]` : ''}: ${problem}`);
  }
  if (known('type', 'text') && job.type === 'sms' && (job.text === undefined || job.text.trim() === '')) {
    problems.push('text: an SMS needs a text (a template: {{column}} inserts that CSV column)');
  }
  if (known('type', 'media_urls') && job.type === 'mms' && job.media_urls === undefined) {
    problems.push('media_urls: an MMS needs 1 to 10 media URLs (or set "type": "sms")');
  }
  if (known('type', 'media_urls') && job.type === 'sms' && job.media_urls !== undefined) {
    problems.push('media_urls: only an MMS carries media; set "type": "mms" or remove media_urls');
  }
  if (job.text !== undefined) {
    try {
      compileTemplate(job.text);
    } catch (err) {
      if (!(err instanceof TemplateSyntaxError)) throw err;
      problems.push(`text: ${err.message}`);
    }
  }
  return problems;
}

const KNOWN_KEYS = Object.keys(jobSchema.shape);

/** Upper-cased ISO 3166-1 alpha-2, or an issue that says what was meant ("UK" is "GB"). */
function countryCode(value: string, ctx: z.core.$RefinementCtx<string>): string {
  const code = value.trim().toUpperCase();
  if (isSupportedCountry(code)) return code;
  const guess = guessCountry(value);
  ctx.addIssue({
    code: 'custom',
    input: value,
    message: `'${value}' is not an ISO 3166-1 alpha-2 country code${guess ? `: did you mean "${guess}" (${regionName(guess)})? ` : '. '}` +
      'It says which country national numbers (without + or a country code) belong to, e.g. "US", "GB", "DE", "IN"',
  });
  return z.NEVER;
}

/** Codes people write for a country that ISO spells otherwise. */
const COUNTRY_ALIASES: Readonly<Record<string, string>> = { UK: 'GB', EN: 'GB', USA: 'US', EL: 'GR', GBR: 'GB', DEU: 'DE', FRA: 'FR', IND: 'IN', CAN: 'CA', AUS: 'AU' };

function guessCountry(value: string): string | undefined {
  const upper = value.trim().toUpperCase();
  if (COUNTRY_ALIASES[upper]) return COUNTRY_ALIASES[upper];
  const name = value.trim().toLowerCase();
  return getCountries().find((c) => regionName(c).toLowerCase() === name);
}

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

function regionName(code: string): string {
  return regionNames.of(code) ?? code;
}

/** The encodings a CSV is likely to be in, for "did you mean". */
const COMMON_ENCODINGS = ['utf-8', 'utf-16le', 'utf-16be', 'windows-1252', 'windows-1250', 'windows-1251', 'iso-8859-1', 'iso-8859-2', 'iso-8859-15', 'macintosh', 'shift_jis', 'gb18030', 'big5', 'euc-kr', 'koi8-r', 'cp850'];

function encodingProblem(value: string): string {
  const guess = suggest(value, COMMON_ENCODINGS);
  return `'${value}' is not an encoding smsrun knows${guess ? ` (did you mean "${guess}"?)` : ''}; ` +
    'name the CSV\'s encoding, e.g. "windows-1252" for a CSV saved by Excel on Windows, or remove the key for UTF-8';
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const guess = suggest(key, KNOWN_KEYS);
      return `${key}: unknown key${guess ? ` (did you mean '${guess}'?)` : ''}; remove it or fix its spelling. Known keys: ${KNOWN_KEYS.join(', ')}`;
    });
  }
  const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'invalid_type' && issue.input === undefined) return [`${key}: required`];
  return [`${key}: ${issue.message}`];
}
