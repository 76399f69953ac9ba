/**
 * Small HTTP helpers: Plivo-shaped answers, Basic auth, routes.
 */

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export function newApiId(): string {
  return randomUUID();
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Plivo's error body: `{"api_id", "error": "<sentence>"}`. */
export function sendError(res: ServerResponse, status: number, sentence: string): void {
  sendJson(res, status, { api_id: newApiId(), error: sentence });
}

const REASONS: Readonly<Record<number, string>> = {
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Temporarily Unavailable',
};

/** A load balancer's HTML error page: what a client gets when it must not expect JSON. */
export function sendHtmlError(res: ServerResponse, status: number): void {
  if (res.destroyed || res.headersSent) return;
  const title = `${status} ${REASONS[status] ?? 'Error'}`;
  const html = `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
  res.writeHead(status, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(html) });
  res.end(html);
}

export type Credentials = { id: string; token: string } | null;

/** The Basic credentials of a request, or null when there are none (or they are unreadable). */
export function basicCredentials(req: IncomingMessage): Credentials {
  const header = req.headers.authorization;
  const m = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!m?.[1]) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { id: decoded.slice(0, colon), token: decoded.slice(colon + 1) };
}

export function clientIp(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '';
  return ip.startsWith('::ffff:') ? ip.slice('::ffff:'.length) : ip;
}

export type Route =
  | { kind: 'create' | 'list'; accountId: string }
  | { kind: 'get'; accountId: string; uuid: string }
  | { kind: 'inspect'; what: 'messages' | 'accept-log' | 'stats' | 'callbacks' }
  | { kind: 'not-found' }
  | { kind: 'method-not-allowed' };

const MESSAGES = /^\/v1\/Account\/([^/]+)\/Message\/?$/;
const ONE_MESSAGE = /^\/v1\/Account\/([^/]+)\/Message\/([^/]+)\/?$/;
const INSPECT = /^\/__sim\/(messages|accept-log|stats|callbacks)\/?$/;

export function route(method: string, pathname: string): Route {
  let m = MESSAGES.exec(pathname);
  if (m?.[1]) {
    if (method === 'POST') return { kind: 'create', accountId: m[1] };
    if (method === 'GET') return { kind: 'list', accountId: m[1] };
    return { kind: 'method-not-allowed' };
  }
  m = ONE_MESSAGE.exec(pathname);
  if (m?.[1] && m[2]) {
    if (method === 'GET') return { kind: 'get', accountId: m[1], uuid: m[2] };
    return { kind: 'method-not-allowed' };
  }
  m = INSPECT.exec(pathname);
  if (m?.[1]) {
    if (method === 'GET') return { kind: 'inspect', what: m[1] as 'messages' | 'accept-log' | 'stats' | 'callbacks' };
    return { kind: 'method-not-allowed' };
  }
  return { kind: 'not-found' };
}
