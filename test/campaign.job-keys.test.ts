/** The job keys that say how to read the CSV: default_country, encoding, delimiter, landlines. */
import { describe, expect, it } from 'vitest';
import { JobFileError } from '../src/errors.js';
import { validateJob } from '../src/campaign/job.js';

const base = { name: 'keys', recipients: 'people.csv', src: '14155550100', text: 'Hi' };

function problems(extra: Record<string, unknown>): string[] {
  try {
    validateJob({ ...base, ...extra }, 'job.json');
  } catch (err) {
    if (err instanceof JobFileError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('default_country', () => {
  it('is upper-cased, and left unset when not given (it then stays out of the content hash)', () => {
    expect(validateJob({ ...base, default_country: 'us' }, 'job.json').default_country).toBe('US');
    expect(validateJob(base, 'job.json').default_country).toBeUndefined();
  });

  it.each([
    ['UK', 'did you mean "GB" (United Kingdom)?'],
    ['Germany', 'did you mean "DE" (Germany)?'],
    ['USA', 'did you mean "US" (United States)?'],
  ])('%j: did you mean', (value, hint) => {
    expect(problems({ default_country: value })).toEqual([
      `default_country: '${value}' is not an ISO 3166-1 alpha-2 country code: ${hint} ` +
      'It says which country national numbers (without + or a country code) belong to, e.g. "US", "GB", "DE", "IN"',
    ]);
  });

  it('an unknown code gets no guess', () => {
    expect(problems({ default_country: 'XX' })).toEqual([
      "default_country: 'XX' is not an ISO 3166-1 alpha-2 country code. It says which country national numbers (without + or a country code) belong to, e.g. \"US\", \"GB\", \"DE\", \"IN\"",
    ]);
  });
});

describe('encoding, delimiter, landlines', () => {
  it('accept what they document', () => {
    const job = validateJob({ ...base, encoding: 'windows-1252', delimiter: '\t', landlines: 'skip' }, 'job.json');
    expect([job.encoding, job.delimiter, job.landlines]).toEqual(['windows-1252', '\t', 'skip']);
  });

  it('refuse the rest, saying what to write', () => {
    expect(problems({ encoding: 'windows-1525', delimiter: 'tab', landlines: 'no' })).toEqual([
      "encoding: 'windows-1525' is not an encoding smsrun knows (did you mean \"windows-1252\"?); name the CSV's encoding, e.g. \"windows-1252\" for a CSV saved by Excel on Windows, or remove the key for UTF-8",
      'delimiter: use ",", ";", "\\t" (a tab) or "|"; without the key it is detected from the header line',
      'landlines: use "send" (the default) or "skip" (landlines are kept in the report as skipped)',
    ]);
  });
});
