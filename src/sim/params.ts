/**
 * Request bodies and parameters.
 *
 * Every SDK sends JSON; curl users and older integrations send form-encoded
 * bodies; the node SDK sends `""` (or nothing) as the body of a GET. All are
 * accepted. A parameter may arrive as a string, a number or a boolean (JSON),
 * and a list (media_urls) as a JSON array, a JSON-encoded string or repeated
 * form fields.
 */

import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors.js';

export type Params = Record<string, unknown>;

// 1000 numbers of 14 digits and a 1600-character text are ~20 kB; this is generous.
const MAX_BODY_BYTES = 1_000_000;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function parseBody(body: string, contentType: string | undefined): Params {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (body.trim() === '') return {};
  if (type === 'application/x-www-form-urlencoded') return fromForm(body);
  if (type === 'application/json' || type === '') {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      if (type === '') return fromForm(body);
      throw new ApiError(400, 'request body is not valid JSON');
    }
    if (value === '' || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new ApiError(400, 'request body must be a JSON object');
    }
    return value as Params;
  }
  throw new ApiError(415, `unsupported content type '${type}': send application/json or application/x-www-form-urlencoded`);
}

function fromForm(body: string): Params {
  const params: Params = {};
  for (const [key, value] of new URLSearchParams(body)) {
    const prev = params[key];
    if (prev === undefined) params[key] = value;
    else params[key] = Array.isArray(prev) ? [...(prev as unknown[]), value] : [prev, value];
  }
  return params;
}

/** A scalar parameter as a string; undefined when absent or null. */
export function stringParam(params: Params, key: string): string | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new ApiError(400, `${key} parameter must be a single value`);
}

/** A list parameter; undefined when absent. */
export function listParam(params: Params, key: string): string[] | undefined {
  const value = params[key];
  if (value === undefined || value === null) return undefined;
  if (Array.isArray(value)) return value.map((v) => String(v));
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(trimmed);
        if (Array.isArray(parsed)) return parsed.map((v) => String(v));
      } catch {
        // Not JSON after all: a single value that happens to start with '['.
      }
    }
    return [value];
  }
  throw new ApiError(400, `${key} parameter must be a list`);
}
