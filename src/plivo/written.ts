/**
 * When a request's bytes were actually written to the socket. `fetch` resolves long after, and a busy event
 * loop (an embedded ledger's synchronous statements, a loaded machine) can hold a request between the call
 * and the write for hundreds of ms; pacing measured at the call would then let two requests of one number
 * reach Plivo together (send/departures.ts). Node's fetch is undici, which publishes
 * `undici:request:bodySent` once a request is on the wire; a request is told apart by a header of ours
 * (x-smsrun-send, a sequence number: it carries nothing about the campaign).
 */
import { subscribe } from 'node:diagnostics_channel';

export const WRITTEN_HEADER = 'x-smsrun-send';

const waiting = new Map<string, () => void>();
let next = 0;
let subscribed = false;

/** The header value our request carries, or undefined when the message is not one of ours. */
function ours(message: unknown): string | undefined {
  const headers = (message as { request?: { headers?: unknown } } | null)?.request?.headers;
  if (Array.isArray(headers)) {
    const i = headers.findIndex((h) => String(h).toLowerCase() === WRITTEN_HEADER);
    return i >= 0 ? String(headers[i + 1]) : undefined;
  }
  if (typeof headers === 'string') return new RegExp(`^${WRITTEN_HEADER}: *(\\S+)`, 'im').exec(headers)?.[1];
  return undefined;
}

/**
 * A header to send with a request, and `done()` to call when its exchange is over. `onWritten` is called once
 * the request is on the wire (when the transport tells, as Node's fetch does), else never: callers treat the
 * end of the exchange as the latest it can have been written.
 */
export function watchWritten(onWritten: () => void): { header: [string, string]; done(): void } {
  if (!subscribed) {
    subscribe('undici:request:bodySent', (message) => {
      const id = ours(message);
      const cb = id === undefined ? undefined : waiting.get(id);
      if (cb) {
        waiting.delete(id!);
        cb();
      }
    });
    subscribed = true;
  }
  const id = String(++next);
  waiting.set(id, onWritten);
  return { header: [WRITTEN_HEADER, id], done: () => void waiting.delete(id) };
}
