/**
 * A parsed number's validity and type, decided exactly as libphonenumber-js's own `isValid()` and `getType()`
 * decide them (its `helpers/getNumberType.js` and `isValid.js`, version 1.13.16, pinned in package.json), but
 * with each numbering plan's patterns compiled once.
 *
 * Why: libphonenumber-js matches a pattern with `new RegExp('^(?:' + pattern + ')$')` on every call
 * (`helpers/matchesEntirely.js`), so each `isValid()` and each `getType()` compiles the plan's national
 * pattern and its type patterns again: half of a load's JavaScript time on a 200 000-row list went there.
 * The patterns come from the library's exported `Metadata` class (`nationalNumberPattern()`, `type(t)`,
 * `hasTypes()`, the methods its own helpers call), so the verdicts follow the metadata the library ships.
 * test/sms.number-type.test.ts checks the verdicts against the library's on many numbers of every country:
 * an upgrade of libphonenumber-js that changes these rules fails there.
 */
import { Metadata, type NumberType, type PhoneNumber, type PhoneNumberType } from 'libphonenumber-js/max';

/** The parts of the library's `Metadata` its own validity and type helpers use (not in its typings). */
interface PlanMetadata {
  selectNumberingPlan(countryOrCallingCode: string): void;
  nationalNumberPattern(): string;
  hasTypes(): boolean;
  type(type: string): { pattern(): string; possibleLengths(): number[] | undefined } | undefined;
}

interface TypePattern {
  type: PhoneNumberType;
  pattern: RegExp;
  lengths: readonly number[] | undefined;
}

/** One numbering plan's patterns, compiled. */
interface Plan {
  national: RegExp;
  hasTypes: boolean;
  fixedLine: TypePattern | undefined;
  /** What a fixed-line match is: FIXED_LINE_OR_MOBILE when the plan's mobile pattern is missing or empty. */
  fixedLineOr: 'FIXED_LINE_OR_MOBILE' | undefined;
  mobile: TypePattern | undefined;
  /** The other types, in the library's order (NON_FIXED_LINE_PHONE_TYPES). */
  others: readonly TypePattern[];
}

const NON_FIXED_LINE_TYPES = ['MOBILE', 'PREMIUM_RATE', 'TOLL_FREE', 'SHARED_COST', 'VOIP', 'PERSONAL_NUMBER', 'PAGER', 'UAN', 'VOICEMAIL'] as const;

const metadata = new Metadata() as unknown as PlanMetadata;
/** By country (GB) or, for a non-geographic number, by calling code (800): a few hundred at most. */
const plans = new Map<string, Plan>();

function entirely(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`);
}

function planOf(key: string): Plan {
  let plan = plans.get(key);
  if (plan) return plan;
  metadata.selectNumberingPlan(key);
  const typed = (type: PhoneNumberType): TypePattern | undefined => {
    const t = metadata.type(type);
    // As isNumberTypeEqualTo: a type without a pattern never matches.
    if (!t || !t.pattern()) return undefined;
    return { type, pattern: entirely(t.pattern()), lengths: t.possibleLengths() };
  };
  const mobile = metadata.type('MOBILE');
  plan = {
    national: entirely(metadata.nationalNumberPattern()),
    hasTypes: metadata.hasTypes(),
    fixedLine: typed('FIXED_LINE'),
    fixedLineOr: !mobile || mobile.pattern() === '' ? 'FIXED_LINE_OR_MOBILE' : undefined,
    mobile: typed('MOBILE'),
    others: NON_FIXED_LINE_TYPES.map(typed).filter((t): t is TypePattern => t !== undefined),
  };
  plans.set(key, plan);
  return plan;
}

function matches(t: TypePattern | undefined, national: string): boolean {
  if (!t) return false;
  if (t.lengths && !t.lengths.includes(national.length)) return false;
  return t.pattern.test(national);
}

/** What validity and type depend on: a library PhoneNumber, or the fast path's reading (sms/international.ts). */
export type NumberParts = Pick<PhoneNumber, 'number' | 'countryCallingCode' | 'nationalNumber'> & { country?: string | undefined };

function planKey(number: Omit<NumberParts, 'number'>): string | undefined {
  return number.country ?? number.countryCallingCode ?? undefined;
}

/** `number.getType()`, with compiled patterns. */
export function numberType(number: Omit<NumberParts, 'number'>): NumberType {
  const key = planKey(number);
  if (key === undefined) return undefined;
  const plan = planOf(key);
  const national = number.nationalNumber;
  if (!plan.national.test(national)) return undefined;
  if (matches(plan.fixedLine, national)) {
    if (plan.fixedLineOr) return plan.fixedLineOr;
    return matches(plan.mobile, national) ? 'FIXED_LINE_OR_MOBILE' : 'FIXED_LINE';
  }
  return plan.others.find((t) => matches(t, national))?.type;
}

/** `number.isValid()`, with compiled patterns; false without a number. */
export function isValidNumber<N extends NumberParts>(number: N | undefined): number is N {
  if (number === undefined) return false;
  const key = planKey(number);
  if (key === undefined) return false;
  const plan = planOf(key);
  return plan.hasTypes ? numberType(number) !== undefined : plan.national.test(number.nationalNumber);
}
