import plivo from 'plivo';
import { describe, expect, it } from 'vitest';
import {
  computeV2Signature,
  computeV3Signature,
  validateV2Signature,
  validateV3Signature,
  type SignatureParams,
} from '../src/plivo/signature.js';

const TOKEN = 'my_auth_token';

// The published V3 vector (plivo-api.md).
const V3_URI = 'https://example.com/plivo/status/';
const V3_NONCE = '12345678901234567890';
const V3_PARAMS = {
  MessageUUID: 'db3ce55a-7f1d-11e1-8ea7-1231380bc196',
  From: '14155550000',
  To: '14155550001',
  Status: 'delivered',
  Units: '1',
  TotalRate: '0.00500',
  TotalAmount: '0.00500',
  ErrorCode: '000',
};
const V3_SIGNATURE = 'IYyVChiK6zRfnIquAFflYA4SXI245hJGYonB1klGiDc=';

describe('V2 signatures', () => {
  it('match the published vector', () => {
    expect(computeV2Signature('https://answer.url', '12345', TOKEN)).toBe('ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=');
    expect(validateV2Signature('https://answer.url', '12345', TOKEN, 'ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=')).toBe(true);
  });

  it('ignore the query and fragment', () => {
    expect(computeV2Signature('https://answer.url?a=1#x', '12345', TOKEN)).toBe('ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=');
  });

  it('reject another nonce, token or path', () => {
    const good = computeV2Signature('https://answer.url', '12345', TOKEN);
    expect(validateV2Signature('https://answer.url', '12346', TOKEN, good)).toBe(false);
    expect(validateV2Signature('https://answer.url', '12345', 'other_token', good)).toBe(false);
    expect(validateV2Signature('https://answer.url/x', '12345', TOKEN, good)).toBe(false);
    expect(validateV2Signature('https://answer.url', '12345', TOKEN, '')).toBe(false);
  });

  it('agree with the official SDK', () => {
    for (const uri of ['https://answer.url', 'https://a.example:8443/cb/status/?x=1', 'http://user:pw@h.example/p']) {
      const sig = computeV2Signature(uri, 'n0nce', TOKEN);
      expect(plivo.validateSignature(uri, 'n0nce', sig, TOKEN)).toBe(true);
    }
  });
});

describe('V3 signatures', () => {
  it('match the published vector', () => {
    expect(computeV3Signature('POST', V3_URI, V3_NONCE, TOKEN, V3_PARAMS)).toBe(V3_SIGNATURE);
    expect(validateV3Signature('POST', V3_URI, V3_NONCE, TOKEN, V3_SIGNATURE, V3_PARAMS)).toBe(true);
  });

  it('accept any of several comma-separated signatures', () => {
    const header = `bm90LWEtc2lnbmF0dXJl, ${V3_SIGNATURE}`;
    expect(validateV3Signature('post', V3_URI, V3_NONCE, TOKEN, header, V3_PARAMS)).toBe(true);
  });

  it('reject a changed parameter, nonce or token', () => {
    expect(validateV3Signature('POST', V3_URI, V3_NONCE, TOKEN, V3_SIGNATURE, { ...V3_PARAMS, Status: 'failed' })).toBe(false);
    expect(validateV3Signature('POST', V3_URI, '1', TOKEN, V3_SIGNATURE, V3_PARAMS)).toBe(false);
    expect(validateV3Signature('POST', V3_URI, V3_NONCE, 'x', V3_SIGNATURE, V3_PARAMS)).toBe(false);
    expect(validateV3Signature('GET', V3_URI, V3_NONCE, TOKEN, V3_SIGNATURE, V3_PARAMS)).toBe(false);
  });

  it('reject methods other than GET and POST', () => {
    expect(validateV3Signature('PUT', V3_URI, V3_NONCE, TOKEN, V3_SIGNATURE, V3_PARAMS)).toBe(false);
    expect(() => computeV3Signature('PUT', V3_URI, V3_NONCE, TOKEN)).toThrow(TypeError);
  });

  describe('agree with the official SDK', () => {
    const random = seeded(20240501);
    const cases = Array.from({ length: 40 }, (_, i) => randomCase(random, i));

    it.each(cases)('$method $uri with $paramCount params', ({ method, uri, nonce, token, params }) => {
      const ours = computeV3Signature(method, uri, nonce, token, params);
      expect(plivo.validateV3Signature(method, uri, nonce, token, ours, params)).toBe(true);
      expect(validateV3Signature(method, uri, nonce, token, ours, params)).toBe(true);
    });

    it('including the edge cases: no params, no query, repeated keys', () => {
      const edge: [string, string, SignatureParams][] = [
        ['GET', 'https://h.example/cb', {}],
        ['POST', 'https://h.example/cb', {}],
        ['POST', 'https://h.example/cb?b=2&a=1&a=0', {}],
        ['GET', 'https://h.example/cb?b=2&a=1', { a: ['3', '0'], c: '' }],
        ['POST', 'https://h.example:8080/cb/?z=1', { k: ['b', 'a'], A: 'x' }],
      ];
      for (const [method, uri, params] of edge) {
        const ours = computeV3Signature(method, uri, 'nonce', TOKEN, params);
        expect(plivo.validateV3Signature(method, uri, 'nonce', TOKEN, ours, params as Record<string, string>)).toBe(true);
      }
    });
  });
});

interface RandomCase {
  method: 'GET' | 'POST';
  uri: string;
  nonce: string;
  token: string;
  params: Record<string, string>;
  paramCount: number;
}

function randomCase(random: () => number, i: number): RandomCase {
  const word = (min: number, max: number) => {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
    const n = min + Math.floor(random() * (max - min + 1));
    return Array.from({ length: n }, () => chars[Math.floor(random() * chars.length)]).join('');
  };
  const queryPairs = Array.from({ length: Math.floor(random() * 4) }, () => `${word(1, 6)}=${word(0, 8)}`);
  const query = queryPairs.length > 0 ? `?${queryPairs.join('&')}` : '';
  const params: Record<string, string> = {};
  const paramCount = Math.floor(random() * 6);
  for (let k = 0; k < paramCount; k++) params[word(1, 10)] = word(0, 12);
  return {
    method: i % 2 === 0 ? 'GET' : 'POST',
    uri: `https://${word(1, 8)}.example${random() < 0.3 ? ':8443' : ''}/${word(1, 8)}/${random() < 0.5 ? '' : word(1, 5)}${query}`,
    nonce: word(10, 20),
    token: word(20, 40),
    params,
    paramCount: Object.keys(params).length,
  };
}

/** mulberry32: a fixed seed keeps the "random" cases the same on every run. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
