/**
 * The confirmation `run` asks on a terminal before a new campaign's first text: the plan summary, then
 * "Send? [y/N]". Not asked when standard input is not a terminal (scripts, CI) or with --yes.
 */
import { createInterface } from 'node:readline/promises';
import type { Io } from './context.js';

export function shouldConfirm(io: Io, yes: boolean): boolean {
  return !yes && io.stdin?.isTTY === true;
}

/** True for y / yes (any case); anything else, or the end of input, is no. */
export async function confirm(io: Io, question: string): Promise<boolean> {
  const rl = createInterface({ input: io.stdin!, output: io.stderr, terminal: false });
  try {
    io.stderr.write(question);
    const answer = await Promise.race([rl.question(''), new Promise<string>((resolve) => rl.once('close', () => resolve('')))]);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
