/**
 * The signature headers Plivo puts on a callback. The simulator's account is
 * its own main account, so the `-Ma-` variants (signed with the main account's
 * token) equal the plain ones.
 */

import { computeV2Signature, computeV3Signature } from '../plivo/signature.js';
import type { Rng } from './rng.js';

const NONCE_ALPHABET = '0123456789';
const NONCE_LENGTH = 20;

/**
 * `url` is the url as called (for GET, with the callback fields in its query);
 * `params` the form fields of a POST ({} for GET).
 */
export function signatureHeaders(
  method: 'GET' | 'POST',
  url: string,
  params: Record<string, string>,
  authToken: string,
  rng: Rng,
): Record<string, string> {
  const v3Nonce = rng.chars(NONCE_ALPHABET, NONCE_LENGTH);
  const v2Nonce = rng.chars(NONCE_ALPHABET, NONCE_LENGTH);
  const v3 = computeV3Signature(method, url, v3Nonce, authToken, params);
  const v2 = computeV2Signature(url, v2Nonce, authToken);
  return {
    'X-Plivo-Signature-V3': v3,
    'X-Plivo-Signature-Ma-V3': v3,
    'X-Plivo-Signature-V3-Nonce': v3Nonce,
    'X-Plivo-Signature-V2': v2,
    'X-Plivo-Signature-Ma-V2': v2,
    'X-Plivo-Signature-V2-Nonce': v2Nonce,
  };
}
