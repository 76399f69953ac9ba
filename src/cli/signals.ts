import type { Stopper } from '../send/stopper.js';
import type { Io } from './context.js';

/**
 * Ctrl-C / SIGTERM: stop taking new batches and let requests in flight finish and be recorded.
 * A second Ctrl-C exits at once (still safe: the ledger's write-ahead rows make the next run reconcile).
 */
export function onInterrupt(stopper: Stopper, io: Io): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (stopper.stopped && stopper.reason === 'interrupted') {
      io.stderr.write(`\n${signal} again: exiting now; the next run will reconcile anything left in flight.\n`);
      process.exit(130);
    }
    io.stderr.write(`\n${signal}: finishing the requests in flight, then stopping (Ctrl-C again to exit at once)...\n`);
    stopper.stop('interrupted');
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
