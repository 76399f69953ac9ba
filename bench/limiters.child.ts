/**
 * Child of bench/scale.ts, run with --expose-gc: the heap that smsrun's limiters take for N senders. Since
 * issue 11 a sender's budget is a ledger row (sender_budgets), not an in-process limiter: this measures what is
 * left in the process (createLimiters, as a run makes it), which no longer grows with the senders.
 * Prints { bytesPerSender, heapMb }.
 */
import { createLimiters } from '../send/limits.js';

const n = Number(process.argv[2] ?? '10000');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
const before = heap();
const limiters = createLimiters({});
const after = heap();
process.stdout.write(JSON.stringify({ bytesPerSender: (after - before) / n, heapMb: after / 2 ** 20 }) + '\n');
await limiters.stop();
