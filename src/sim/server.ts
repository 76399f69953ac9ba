/**
 * The HTTP side: every request goes through the same pipeline
 *
 *   route → Basic auth → catch up due events → account limits → faults
 *         → handler → (latency) → answer
 *
 * so that 401s cost no limit budget, throttling is decided before any work,
 * and reads see the state as of the moment they are answered.
 *
 * Auth: no credentials → 401 `{"error": "authentication credentials were not
 * provided"}` (no api_id, as Plivo); wrong credentials, or a path naming
 * another account → 401 `{"api_id", "error": "authentication failed"}`.
 * `/__sim/*` (inspection) needs the same credentials but no limits or faults.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { nowMs } from './clock.js';
import type { SimCore } from './core.js';
import { parseSendRequest } from './create.js';
import { ApiError } from './errors.js';
import {
  basicCredentials,
  clientIp,
  newApiId,
  route,
  sendError,
  sendHtmlError,
  sendJson,
  type Route,
} from './http.js';
import type { RequestKind } from './limits.js';
import { parseListQuery } from './list.js';
import { snapshot } from './message.js';
import { toMdr } from './mdr.js';
import { parseBody, readBody } from './params.js';
import { bump } from './stats.js';

export function requestHandler(core: SimCore): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(core, req, res).catch((error: unknown) => {
      // The client went away mid-request (its timeout, or close()): nothing to answer, and no simulator bug.
      if (req.destroyed && !res.headersSent && !(error instanceof ApiError)) return;
      if (error instanceof ApiError) {
        sendError(res, error.status, error.sentence);
        return;
      }
      core.recordInternalError(error);
      sendError(res, 500, 'internal simulator error');
    });
  };
}

async function handle(core: SimCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const arrivalMs = nowMs();
  const url = new URL(req.url ?? '/', 'http://simulator');
  const r = route(req.method ?? 'GET', url.pathname);

  if (r.kind === 'inspect') {
    await readBody(req);
    if (!authorized(core, req, res, null)) return;
    inspect(core, r.what, res);
    return;
  }

  core.stats.requests++;
  res.on('finish', () => bump(core.stats.byStatus, String(res.statusCode)));
  const kind = limitKind(r);
  bump(core.stats.byEndpoint, kind);
  if (!authorized(core, req, res, 'accountId' in r ? r.accountId : null)) {
    req.resume();
    return;
  }
  core.scheduler.runDue();
  if (r.kind === 'get' || r.kind === 'list') core.readLog.push({ kind: r.kind, at: arrivalMs, client: req.headers['user-agent'] ?? null });

  const admission = core.limiter.admit(kind, arrivalMs);
  if (!admission.ok) {
    req.resume();
    core.stats.throttled++;
    core.stats.throttledBy[admission.reason]++;
    sendError(res, 429, 'too many requests');
    return;
  }
  res.on('close', admission.release);
  if (res.closed) admission.release();

  if (r.kind === 'create' || r.kind === 'get' || r.kind === 'list') {
    const fault = core.faults.before(r.kind === 'create' ? 'create' : 'read');
    if (fault === 'drop') {
      core.stats.injected.dropBeforeAccept++;
      drop(core, req);
      return;
    }
    if (fault === '429') {
      req.resume();
      core.stats.injected.rate429++;
      sendError(res, 429, 'too many requests');
      return;
    }
    if (fault === '5xx') {
      req.resume();
      core.stats.injected.rate5xx++;
      sendHtmlError(res, core.faults.serverErrorStatus());
      return;
    }
  }

  const body = await readBody(req);
  switch (r.kind) {
    case 'create':
      await create(core, req, res, body, arrivalMs);
      return;
    case 'get':
      await latency(core);
      getOne(core, res, r.uuid);
      return;
    case 'list':
      await latency(core);
      await slowList(core);
      list(core, res, url.searchParams);
      return;
    case 'method-not-allowed':
      throw new ApiError(405, 'method not allowed');
    case 'not-found':
      throw new ApiError(404, 'not found');
  }
}

async function create(core: SimCore, req: IncomingMessage, res: ServerResponse, body: string, arrivalMs: number) {
  const send = parseSendRequest(parseBody(body, req.headers['content-type']), core.opts.unallocated);
  const apiId = newApiId();
  const uuids = core.accept(send, { arrivalMs, requesterIp: clientIp(req), apiId });
  const after = core.faults.afterAccept();
  if (after === 'drop') {
    core.stats.injected.dropAfterAccept++;
    drop(core, req);
    return;
  }
  await latency(core);
  if (after === '5xx') {
    // Plivo's API answered with its own error body, yet the messages are queued (and will be sent).
    core.stats.injected.rate5xxAfterAccept++;
    sendError(res, core.faults.apiErrorStatus(), 'an unexpected error occurred, please retry');
    return;
  }
  const answer: Record<string, unknown> = { api_id: apiId, message: 'message(s) queued', message_uuid: uuids };
  if (send.invalid.length > 0) answer.invalid_number = send.invalid;
  sendJson(res, 202, answer);
}

function getOne(core: SimCore, res: ServerResponse, uuid: string): void {
  core.scheduler.runDue();
  const m = core.find(uuid);
  if (!m) throw new ApiError(404, 'not found');
  sendJson(res, 200, { api_id: newApiId(), ...toMdr(m, core.opts) });
}

function list(core: SimCore, res: ServerResponse, query: URLSearchParams): void {
  const q = parseListQuery(query);
  core.scheduler.runDue();
  const page = core.list(q);
  sendJson(res, 200, { api_id: newApiId(), meta: page.meta, objects: page.objects.map((m) => toMdr(m, core.opts)) });
}

function inspect(core: SimCore, what: 'messages' | 'accept-log' | 'stats' | 'callbacks', res: ServerResponse): void {
  core.scheduler.runDue();
  switch (what) {
    case 'messages':
      return sendJson(res, 200, core.messages.map(snapshot));
    case 'accept-log':
      return sendJson(res, 200, core.acceptLog);
    case 'stats':
      return sendJson(res, 200, core.currentStats());
    case 'callbacks':
      return sendJson(res, 200, core.callbacks.log());
  }
}

function authorized(core: SimCore, req: IncomingMessage, res: ServerResponse, pathAccount: string | null): boolean {
  const creds = basicCredentials(req);
  if (creds === null) {
    core.stats.unauthorized++;
    sendJson(res, 401, { error: 'authentication credentials were not provided' });
    return false;
  }
  const { authId, authToken } = core.opts;
  if (creds.id !== authId || creds.token !== authToken || (pathAccount !== null && pathAccount !== authId)) {
    core.stats.unauthorized++;
    sendError(res, 401, 'authentication failed');
    return false;
  }
  return true;
}

/** Destroys the connection without an answer: the client cannot tell what happened. */
function drop(core: SimCore, req: IncomingMessage): void {
  bump(core.stats.byStatus, 'dropped');
  req.socket.destroy();
}

async function latency(core: SimCore): Promise<void> {
  const ms = core.faults.latencyMs();
  if (ms > 0) await sleep(ms);
}

async function slowList(core: SimCore): Promise<void> {
  const ms = core.faults.slowListMs();
  if (ms === 0) return;
  core.stats.injected.slowList++;
  await sleep(ms);
}

function limitKind(r: Route): RequestKind {
  return r.kind === 'create' || r.kind === 'get' || r.kind === 'list' ? r.kind : 'other';
}
