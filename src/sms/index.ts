export { analyzeText, textLengthProblem, MAX_GSM_LENGTH, MAX_UCS2_LENGTH } from './encoding.js';
export type { Encoding, TextInfo } from './encoding.js';
export { sanitizeDst, dstProblem, sanitizeSrc, srcProblem, toE164 } from './numbers.js';
export { parseRecipientNumber } from './recipient-number.js';
export type { NumberType, ParsedNumber } from './recipient-number.js';
export { compileTemplate, TemplateSyntaxError } from './template.js';
export type { Template, RenderResult } from './template.js';
