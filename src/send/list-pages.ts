/**
 * Reading every page of one List query within the List API's and the account's budgets. A throttled or
 * failed page is asked again (up to PAGE_ATTEMPTS times) before the listing fails. A listing is complete
 * or it is an error: a run that stops before the last page makes it throw ListingStoppedError, never
 * return, because a caller that reads "no record" from a partial listing would send a message twice.
 */
import { PlivoApiError, type ListFilter, type ListPage, type PlivoClient } from '../plivo/client.js';
import { backoffMs } from './backoff.js';
import type { Limiters } from './limits.js';
import type { Stopper } from './stopper.js';

const PAGE_ATTEMPTS = 5;

/** The List calls of Plivo's client (a fake in tests). */
export type ListClient = Pick<PlivoClient, 'listMessages' | 'listNext'>;

export interface ListDeps {
  client: ListClient;
  limiters: Limiters;
  stopper: Stopper;
}

/**
 * The run stopped before the listing's last page: what was read proves nothing about what was not. A
 * `retryable` PlivoApiError, so every caller already treats it as "no answer from the List API this time".
 */
export class ListingStoppedError extends PlivoApiError {
  constructor(pagesRead: number) {
    super('retryable', `the listing was cut short after ${pagesRead} page(s) because the run is stopping; nothing can be concluded from it`);
  }
}

/** Calls `onPage` with each page in turn; throws ListingStoppedError if the run stops before the last one. */
export async function listPages(deps: ListDeps, filter: ListFilter, priority: number, onPage: (page: ListPage) => Promise<void> | void): Promise<void> {
  const { client, stopper } = deps;
  let page = await listedPage(deps, priority, () => client.listMessages(filter));
  let read = 1;
  await onPage(page);
  while (page.next) {
    if (stopper.stopped) throw new ListingStoppedError(read);
    const next = page.next;
    page = await listedPage(deps, priority, () => client.listNext(next));
    read++;
    await onPage(page);
  }
}

async function listedPage(deps: ListDeps, priority: number, call: () => Promise<ListPage>): Promise<ListPage> {
  const { limiters, stopper } = deps;
  for (let attempt = 1; ; attempt++) {
    try {
      return await limiters.listRequests.schedule({ priority }, () => limiters.requests.schedule({ priority }, call));
    } catch (err) {
      const transient = err instanceof PlivoApiError && (err.kind === 'retryable' || err.kind === 'throttled');
      if (!transient || attempt >= PAGE_ATTEMPTS || stopper.stopped) throw err;
      await stopper.sleep(err.retryAfterMs ?? backoffMs(attempt, 500, 10_000));
    }
  }
}
