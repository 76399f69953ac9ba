/**
 * When a claimed request leaves the process. The claim (ledger/sending.ts `claimDue`) gives each batch its
 * slot on the database clock: the earliest time its sender's budget allows it. The process claims a little
 * ahead (the lookahead) and holds the request until that slot, mapped to its own clock, so the spacing the
 * ledger decided is the spacing at departure, not the claim's round trip plus whatever the event loop did.
 *
 * Two rules, each only ever later than the ledger:
 *   - the database clock is mapped with the offset measured on the claims whose round trip was shortest
 *     (DbClock): its error is at most half that round trip;
 *   - per sender, a request never leaves before the previous one's planned departure plus its spacing
 *     (cost / rate), so a change in the measured offset between two claims cannot bring two departures
 *     closer than the rate. Planned, not actual, departures are chained: a timer that fires late does not
 *     push every later request of the sender back.
 */

/** Offset samples kept: the best of the last few claims, so a slow round trip does not move the mapping. */
const SAMPLES = 16;

/** Maps the database clock to this process's clock (Date.now()). */
export class DbClock {
  readonly #samples: { offsetMs: number; rttMs: number }[] = [];

  /** A claim sent at `sentAt` and answered at `answeredAt` (local) ran at `dbNowMs` (database). */
  sample(sentAt: number, answeredAt: number, dbNowMs: number): void {
    this.#samples.push({ offsetMs: dbNowMs - (sentAt + answeredAt) / 2, rttMs: answeredAt - sentAt });
    if (this.#samples.length > SAMPLES) this.#samples.shift();
  }

  /** Local time (ms since the epoch) of a database time; the identity until the first sample. */
  toLocal(dbMs: number): number {
    let best: { offsetMs: number; rttMs: number } | undefined;
    for (const s of this.#samples) if (!best || s.rttMs < best.rttMs) best = s;
    return dbMs - (best?.offsetMs ?? 0);
  }
}

/** Per sender, the planned departures: never closer than the spacing, never before the ledger's slot. */
export class Departures {
  readonly #next = new Map<string, number>();

  /** The local time at which a request of `sender` with ledger slot `slotLocalMs` and spacing `intervalMs` leaves. */
  plan(sender: string, slotLocalMs: number, intervalMs: number): number {
    const at = Math.max(slotLocalMs, this.#next.get(sender) ?? -Infinity);
    this.#next.set(sender, at + intervalMs);
    return at;
  }
}
