/**
 * The load's worker thread (campaign/load-source.ts starts it): runs loadRows (campaign/load-rows.ts) over
 * the job's CSV and posts each piece to the thread that writes the ledger, at most AHEAD chunks ahead of what
 * that thread has taken, so memory stays flat when the ledger is the slower side.
 *
 * Messages in: `start` (how many rows the ledger has), then one `take` per chunk the other side has taken.
 * Messages out: the header, the chunks, or one `error` (campaign/load-source.ts revives it).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadRows, type LoadRowsSpec } from './load-rows.js';
import { AHEAD, serializeError, type FromWorker, type ToWorker, type WorkerInput } from './load-source.js';

const port = parentPort!;
const input = workerData as WorkerInput;
let taken = 0;
let posted = 0;
let wake: (() => void) | undefined;
let started: ((skipUntil: number) => void) | undefined;
const skipUntil = new Promise<number>((resolve) => { started = resolve; });

port.on('message', (m: ToWorker) => {
  if (m.kind === 'start') started?.(m.skipUntil);
  else taken++;
  wake?.();
});

const post = (m: FromWorker) => port.postMessage(m);

try {
  const spec: LoadRowsSpec = { job: input.job, jobHash: input.jobHash, skipUntil: await skipUntil };
  for await (const piece of loadRows(spec)) {
    if (piece.kind === 'chunk') {
      while (posted - taken >= AHEAD) await new Promise<void>((resolve) => { wake = resolve; });
      posted++;
    }
    post(piece);
  }
} catch (err) {
  post({ kind: 'error', error: serializeError(err) });
}
// Nothing more to hear: the thread ends once its last message is out.
port.removeAllListeners('message');
