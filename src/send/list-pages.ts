/**
 * Reading every page of one List query within the List API's and the account's budgets. A throttled or
 * failed page is asked again (up to PAGE_ATTEMPTS times) before the listing fails.
 */
import { PlivoApiError, type ListFilter, type ListPage, type PlivoClient } from '../plivo/client.js';
import { backoffMs } from './backoff.js';
import type { Limiters } from './limits.js';
import type { Stopper } from './stopper.js';

const PAGE_ATTEMPTS = 5;

export interface ListDeps {
  client: PlivoClient;
  limiters: Limiters;
  stopper: Stopper;
}

/** Calls `onPage` with each page in turn; stops early if the run stops. */
export async function listPages(deps: ListDeps, filter: ListFilter, priority: number, onPage: (page: ListPage) => Promise<void> | void): Promise<void> {
  const { client, stopper } = deps;
  let page = await listedPage(deps, priority, () => client.listMessages(filter));
  await onPage(page);
  while (page.next && !stopper.stopped) {
    const next = page.next;
    page = await listedPage(deps, priority, () => client.listNext(next));
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
