/**
 * When a claimed request leaves the process. The claim (ledger/sending.ts `claimDue`) gives each batch its
 * slot on the database clock: the earliest time its sender's budget allows it. The process claims a little
 * ahead (the lookahead) and holds the request until that slot, mapped to its own clock, so the spacing the
 * ledger decided is the spacing at departure, not the claim's round trip plus whatever the event loop did.
 *
 * Two rules, each only ever stricter than the ledger:
 *   - the database clock is mapped with the offset measured on the claims whose round trip was shortest
 *     (DbClock): its error is at most half that round trip;
 *   - per sender, requests leave one at a time in slot order, and each no sooner than its spacing (cost /
 *     rate) after the one before actually left (less TIMER_SLACK_MS): "left" is when its bytes were written
 *     to the socket (plivo/written.ts), or, if the transport does not say, when its exchange ended. A timer
 *     that fires late, or a request held between the fetch call and the write (a busy event loop, a stall,
 *     an embedded ledger's long statement), therefore never lets two requests of one number reach Plivo
 *     together: the later one waits its spacing again. This gate is the in-process scheduler per sender; it
 *     may only delay what the ledger allows, never send what it does not.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Offset samples kept: the best of the last few claims, so a slow round trip does not move the mapping. */
const SAMPLES = 16;

/**
 * A request whose timer fired up to this late still chains the next one from its planned time, so ordinary
 * timer lateness does not slow a sender down; later than this, the next one is spaced from when it left.
 * Two requests of a sender thus never leave less than spacing − TIMER_SLACK_MS apart.
 */
export const TIMER_SLACK_MS = 10;

/**
 * Maps the database clock to this process's clock (Date.now()). A claim ran on the database from `dbStartMs`
 * (its `now()`) to about `dbEndMs` (`clock_timestamp()` as its answer was made), inside the local interval from
 * sending it to reading its answer; the offset is the difference of the two intervals' midpoints, wrong by at
 * most half of what the round trip adds to the statement's run time. Taking the statement's start alone (as
 * before) made that error half the whole round trip, and one-sided: measured on two processes at load 8, the
 * mapping was 1–27 ms late against ≈ 0.6 ms for a bare `SELECT clock_timestamp()` (docs/decisions.md, "Issue 11:
 * two processes on one number, measured").
 */
export class DbClock {
  readonly #samples: { offsetMs: number; errorMs: number }[] = [];

  /** A claim sent at `sentAt` and answered at `answeredAt` (local) ran from `dbStartMs` to `dbEndMs` (database). */
  sample(sentAt: number, answeredAt: number, dbStartMs: number, dbEndMs = dbStartMs): void {
    const run = Math.min(Math.max(0, dbEndMs - dbStartMs), answeredAt - sentAt);
    this.#samples.push({ offsetMs: (dbStartMs + dbStartMs + run) / 2 - (sentAt + answeredAt) / 2, errorMs: (answeredAt - sentAt - run) / 2 });
    if (this.#samples.length > SAMPLES) this.#samples.shift();
  }

  /** Local time (ms since the epoch) of a database time; the identity until the first sample. */
  toLocal(dbMs: number): number {
    let best: { offsetMs: number; errorMs: number } | undefined;
    for (const s of this.#samples) if (!best || s.errorMs < best.errorMs) best = s;
    return dbMs - (best?.offsetMs ?? 0);
  }
}

interface SenderTurn {
  /** Settles once the last request queued for this sender has left: the next one waits for it. */
  turn: Promise<void>;
  /** The earliest local time the next request may leave. */
  tat: number;
}

/** Call once the request has left (written, or its exchange over), with the local time; later calls do nothing. */
export type Left = (at: number) => void;

/** Per sender, the departure gate (see the file's comment). */
export class Departures {
  readonly #senders = new Map<string, SenderTurn>();

  /**
   * Resolves when a request of `sender` whose ledger slot is `slotLocalMs` (local clock) may leave, with the
   * function to call when it has left. The sender's next request waits for that call: call it in every case.
   */
  wait(sender: string, slotLocalMs: number, intervalMs: number): Promise<Left> {
    let s = this.#senders.get(sender);
    if (!s) this.#senders.set(sender, (s = { turn: Promise.resolve(), tat: -Infinity }));
    const state = s;
    let left: Left = () => undefined;
    const gone = new Promise<number>((resolve) => {
      let once = false;
      left = (at) => {
        if (once) return;
        once = true;
        resolve(at);
      };
    });
    const mayLeave = state.turn.then(async () => {
      const at = Math.max(slotLocalMs, state.tat);
      const wait = at - Date.now();
      if (wait > 0) await sleep(wait);
      return at;
    });
    state.turn = mayLeave.then(async (at) => {
      state.tat = Math.max(at, (await gone) - TIMER_SLACK_MS) + intervalMs;
    });
    return mayLeave.then(() => left);
  }
}
