/**
 * parseRecipientNumber as a table: what each way of writing a number is read as, with and without
 * default_country, and why a number is refused. Every case of issue 9's first bullet is here both ways.
 */
import { describe, expect, it } from 'vitest';
import type { CountryCode } from 'libphonenumber-js/max';
import { parseRecipientNumber } from '../src/sms/recipient-number.js';

type Read = [raw: string, defaultCountry: CountryCode | undefined, dst: string, country: string | null, type: string];
type Refused = [raw: string, defaultCountry: CountryCode | undefined, reason: RegExp];

const NATIONAL_WITHOUT_COUNTRY = /reads as a national number .*the job has no "default_country".*set "default_country"/;

function expectRead([raw, country, dst, iso, type]: Read): void {
  expect(parseRecipientNumber(raw, country)).toEqual({ ok: true, dst, country: iso, type });
}

function expectRefused([raw, country, reason]: Refused): void {
  const got = parseRecipientNumber(raw, country);
  expect(got.ok).toBe(false);
  if (!got.ok) {
    expect(got.reason.startsWith(`'${raw}' `)).toBe(true);
    expect(got.reason).toMatch(reason);
  }
}

describe("the issue's numbers that went to the wrong country", () => {
  it.each<Refused>([
    ['(415) 555-0135', undefined, /\(4155550135: it starts with an area code in parentheses\)/],
    ['212-555-0142', undefined, /\(2125550142: only 10 digits and no \+/],
    ['(650) 555 0141', undefined, /\(6505550141: it starts with an area code in parentheses\)/],
    ['9876543214', undefined, /\(9876543214: only 10 digits and no \+/],
    ['4155550100', undefined, /\(4155550100: only 10 digits and no \+/],
  ])('without default_country %j is refused, showing what was read and naming default_country', (raw, country, reason) => {
    expectRefused([raw, country, reason]);
    expectRefused([raw, country, NATIONAL_WITHOUT_COUNTRY]);
  });

  it.each<Read>([
    ['(415) 555-0135', 'US', '14155550135', 'US', 'fixed_line_or_mobile'],
    ['212-555-0142', 'US', '12125550142', 'US', 'fixed_line_or_mobile'],
    ['(650) 555 0141', 'US', '16505550141', 'US', 'fixed_line_or_mobile'],
    ['9876543214', 'IN', '919876543214', 'IN', 'mobile'],
  ])('with default_country %j (%s) is %s', (...c) => expectRead(c));

  it('an Indian number read with the wrong default_country is refused, not sent to +1', () => {
    expectRefused(['9876543214', 'US', /^'9876543214' is not a valid US number \(read as \+1 9876543214, not a number in use in US\)$/]);
  });

  it.each<CountryCode | undefined>([undefined, 'US', 'GB'])('+44 (0)20 … drops the trunk 0 (default_country %s)', (country) => {
    expectRead(['+44 (0)20 7946 0958', country, '442079460958', 'GB', 'fixed_line']);
  });

  it('4155550100 and +1 415 555 0100 are one person with default_country US', () => {
    expectRead(['4155550100', 'US', '14155550100', 'US', 'fixed_line_or_mobile']);
    expectRead(['+1 415 555 0100', 'US', '14155550100', 'US', 'fixed_line_or_mobile']);
    expectRead(['+1 415 555 0100', undefined, '14155550100', 'US', 'fixed_line_or_mobile']);
  });
});

describe('national numbers read with default_country', () => {
  it.each<Read>([
    ['(415) 692-0134', 'US', '14156920134', 'US', 'fixed_line_or_mobile'],
    ['415.692.0136', 'US', '14156920136', 'US', 'fixed_line_or_mobile'],
    ['1 (415) 692-0138', 'US', '14156920138', 'US', 'fixed_line_or_mobile'],
    ['011 44 7400 123456', 'US', '447400123456', 'GB', 'mobile'],
    ['07911 123457', 'GB', '447911123457', 'GG', 'mobile'],
    ['07400 123456', 'GB', '447400123456', 'GB', 'mobile'],
    ['020 7946 0958', 'GB', '442079460958', 'GB', 'fixed_line'],
    ['00 44 7400 123456', 'GB', '447400123456', 'GB', 'mobile'],
    ['030 12345678', 'DE', '493012345678', 'DE', 'fixed_line'],
    ['0151 23456789', 'DE', '4915123456789', 'DE', 'mobile'],
    ['15123456789', 'DE', '4915123456789', 'DE', 'mobile'],
    ['06 12 34 56 78', 'FR', '33612345678', 'FR', 'mobile'],
    ['01 23 45 67 89', 'FR', '33123456789', 'FR', 'fixed_line'],
    ['0033 6 12 34 56 78', 'FR', '33612345678', 'FR', 'mobile'],
    ['98765 43214', 'IN', '919876543214', 'IN', 'mobile'],
    ['09876543214', 'IN', '919876543214', 'IN', 'mobile'],
    ['011 2345 6789', 'IN', '911123456789', 'IN', 'fixed_line'],
  ])('%j with %s is %s', (...c) => expectRead(c));

  it.each<Read>([
    ['14156920137', 'GB', '14156920137', 'US', 'fixed_line_or_mobile'],
    ['919876543214', 'US', '919876543214', 'IN', 'mobile'],
    ['447400123456', 'FR', '447400123456', 'GB', 'mobile'],
    ['00 44 7400 123456', 'US', '447400123456', 'GB', 'mobile'],
  ])('%j, not valid as a %s number, is tried as international: %s', (...c) => expectRead(c));

  it.each<Refused>([
    ['07400 12345', 'GB', /^'07400 12345' is not a valid GB number \(read as \+44 740012345, not a number in use in GB\)$/],
    ['1415555', 'US', /^'1415555' is not a valid US number/],
    ['0612345', 'FR', /^'0612345' is not a valid FR number \(read as \+33 0612345, too short for FR\)$/],
    ['99912345678', 'US', /is not a valid US number .*, nor a valid international number \(read as \+99912345678, and no country has that code\)$/],
  ])('%j with %s is refused', (...c) => expectRefused(c));
});

describe('international numbers, with or without default_country', () => {
  it.each<CountryCode | undefined>([undefined, 'US', 'DE'])('default_country %s', (country) => {
    for (const read of [
      ['+1 415 692 0137', country, '14156920137', 'US', 'fixed_line_or_mobile'],
      ['tel:+1-415-692-0137', country, '14156920137', 'US', 'fixed_line_or_mobile'],
      ['TEL:+44-7400-123456;isub=1', country, '447400123456', 'GB', 'mobile'],
      ['+49 (0)151 23456789', country, '4915123456789', 'DE', 'mobile'],
      ['+33 (0)6 12 34 56 78', country, '33612345678', 'FR', 'mobile'],
      ['+91-98765-43214', country, '919876543214', 'IN', 'mobile'],
      ['+39 06 1234 5678', country, '390612345678', 'IT', 'fixed_line'],
      ['+1 416 555 0123', country, '14165550123', 'CA', 'fixed_line_or_mobile'],
      ['+800 1234 5678', country, '80012345678', null, 'toll_free'],
    ] satisfies Read[]) expectRead(read);
  });

  it.each<Read>([
    ['14156920137', undefined, '14156920137', 'US', 'fixed_line_or_mobile'],
    ['1 415 692 0137', undefined, '14156920137', 'US', 'fixed_line_or_mobile'],
    ['1-415-692-0137', undefined, '14156920137', 'US', 'fixed_line_or_mobile'],
    ['447400123456', undefined, '447400123456', 'GB', 'mobile'],
    ['44 7400 123456', undefined, '447400123456', 'GB', 'mobile'],
    ['44 (0)20 7946 0958', undefined, '442079460958', 'GB', 'fixed_line'],
    ['919876543214', undefined, '919876543214', 'IN', 'mobile'],
    ['33612345678', undefined, '33612345678', 'FR', 'mobile'],
    ['00 44 7400 123456', undefined, '447400123456', 'GB', 'mobile'],
    ['0049 30 12345678', undefined, '493012345678', 'DE', 'fixed_line'],
  ])("Plivo's format and 00 without default_country: %j is %s", (...c) => expectRead(c));

  it.each<Refused>([
    ['011 44 7400 123456', undefined, /\(011447400123456: it starts with 0, a trunk or an international prefix\)/],
    ['07400 123456', undefined, /\(07400123456: it starts with 0/],
    ['0151 23456789', undefined, /\(015123456789: it starts with 0/],
    ['06 12 34 56 78', undefined, /\(0612345678: it starts with 0/],
    ['151 23456789', undefined, /\(15123456789: its first group, 151, is not a country code\)/],
    ['4474 0012 3456', undefined, /its first group, 4474, is not a country code/],
  ])('without default_country %j reads as national and is refused', (raw, country, reason) => {
    expectRefused([raw, country, reason]);
    expectRefused([raw, country, NATIONAL_WITHOUT_COUNTRY]);
  });

  it.each<Refused>([
    ['+1 415 555 010', undefined, /^'\+1 415 555 010' is not a valid phone number \(read as \+1 415555010, too short for \+1\)$/],
    ['+44 7400 1234567', undefined, /\(read as \+44 74001234567, too long for \+44\)$/],
    ['+999 1234', 'US', /\(read as \+9991234, and no country has that code\)$/],
    ['141555503081234', undefined, /^'141555503081234' is not a valid number: read with its country code first it is \+1 41555503081234, too long for \+1; if it is written as a national number, set "default_country"/],
    ['+49 791 4363752896', undefined, /^'\+49 791 4363752896' is \+497914363752896, 15 digits: Plivo accepts at most 14$/],
  ])('%j (default_country %s) is refused', (...c) => expectRefused(c));
});

describe('what spreadsheets and copy-paste add is cleaned', () => {
  it.each<Read>([
    ['  +44\u00a07400\u00a0123456 ', undefined, '447400123456', 'GB', 'mobile'],
    ['+44\u202f7400\u2007123456', undefined, '447400123456', 'GB', 'mobile'],
    ['+44\u200b7400\u200c123\u200d456\ufeff', undefined, '447400123456', 'GB', 'mobile'],
    ['\u202a+49 151 23456789\u202c', undefined, '4915123456789', 'DE', 'mobile'],
    ["'+447400123456", undefined, '447400123456', 'GB', 'mobile'],
    ["'07400 123456", 'GB', '447400123456', 'GB', 'mobile'],
    ['＋４４ ７４００ １２３４５６', undefined, '447400123456', 'GB', 'mobile'],
    ['０６ １２ ３４ ５６ ７８', 'FR', '33612345678', 'FR', 'mobile'],
    ['（415）692－0134', 'US', '14156920134', 'US', 'fixed_line_or_mobile'],
    ['+1 415–692—0137', undefined, '14156920137', 'US', 'fixed_line_or_mobile'],
    ['+1 415 692\u22120137', undefined, '14156920137', 'US', 'fixed_line_or_mobile'],
    ['+61 412/345/678', undefined, '61412345678', 'AU', 'mobile'],
  ])('%j (default_country %s) is %s', (...c) => expectRead(c));
});

describe('what is never a number', () => {
  it.each<Refused>([
    ['1-800-FLOWERS', 'US', /^'1-800-FLOWERS' contains letters: write the number in digits/],
    ['abc5550302', undefined, /contains letters/],
    ['1415#5550100', undefined, /^'1415#5550100' contains '#'/],
    ['+44 7400 123456 +1', undefined, /contains '\+'/],
    ['+1 415 555 0100 x12', undefined, /has an extension, which cannot receive a text/],
    ['+1 415 555 0100 ext. 7', undefined, /has an extension/],
    ['tel:+14155550100;ext=7', undefined, /has an extension/],
    ['1.41556E+10', undefined, /is in scientific notation, as Excel shows long numbers, and its last digits are lost/],
    ['14155550100.0', undefined, /ends in a decimal point/],
    ['+', undefined, /^'\+' has no digits$/],
    ['\u200b', 'US', /has no digits$/],
  ])('%j is refused', (...c) => expectRefused(c));
});
