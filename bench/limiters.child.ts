/**
 * Child of bench/scale.ts, run with --expose-gc: the heap that smsrun's limiters take for N senders,
 * measured around the very calls a run makes (createLimiters, then one Bottleneck.Group key per sender).
 * Prints { bytesPerSender, heapMb }.
 */
import { createLimiters } from '../send/limits.js';

const n = Number(process.argv[2] ?? '10000');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const heap = () => { gc(); gc(); return process.memoryUsage().heapUsed; };
const limiters = createLimiters({ rate: 1, maxBatchCost: 100, maxBatchSize: 100 });
const before = heap();
for (let i = 0; i < n; i++) limiters.senders.key(`1415300${String(i).padStart(4, '0')}`);
const after = heap();
process.stdout.write(JSON.stringify({ bytesPerSender: (after - before) / n, heapMb: after / 2 ** 20 }) + '\n');
await limiters.stop();
