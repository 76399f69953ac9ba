/**
 * The sandbox simulator's memory across runs: every accepted message and every state change is appended to a
 * JSON-lines file beside the ledger, so that a resumed `--sandbox` campaign finds the messages its earlier run
 * sent (and tracks them to the end) instead of asking a fresh, empty simulator about them until the deadline.
 *
 * Lines are appended synchronously, before the create request is answered: a run killed at any moment never
 * has a message uuid in its ledger that the journal lacks.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { MessageRecord, SimState } from './message.js';

type Line =
  | { accepted: MessageRecord }
  | { uuid: string; state: SimState; errorCode: string | null; atUs: number };

export class SimJournal {
  constructor(private readonly file: string) {
    mkdirSync(path.dirname(file), { recursive: true });
  }

  /** The messages recorded so far, in acceptance order, each in its last recorded state. */
  read(): MessageRecord[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const byUuid = new Map<string, MessageRecord>();
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      let line: Line;
      try {
        line = JSON.parse(raw) as Line;
      } catch {
        continue; // a line cut short by a kill: the message it announced was never answered
      }
      if ('accepted' in line) {
        byUuid.set(line.accepted.uuid, line.accepted);
      } else {
        const m = byUuid.get(line.uuid);
        if (!m) continue;
        m.state = line.state;
        m.errorCode = line.errorCode;
        m.updatedAtUs = line.atUs;
        if (line.state === 'sent') m.sentAtUs = line.atUs;
        m.history.push({ state: line.state, atUs: line.atUs });
      }
    }
    return [...byUuid.values()];
  }

  accepted(m: MessageRecord): void {
    this.#append({ accepted: m });
  }

  changed(m: MessageRecord): void {
    this.#append({ uuid: m.uuid, state: m.state, errorCode: m.errorCode, atUs: m.updatedAtUs });
  }

  #append(line: Line): void {
    appendFileSync(this.file, JSON.stringify(line) + '\n');
  }
}
