/**
 * A way past yargs for the plainest `smsrun status` lines: `status [campaign] [--json] [--sandbox] [--watch]
 * [--interval S] [--home DIR]`, each flag at most once. Loading yargs costs about as much as the status read itself
 * (it loads string-width three times, each building an Intl.Segmenter and Unicode property regexes, for help text
 * that status never prints), so main() gives argv to yargs only when quickStatus declines.
 *
 * Invariant: on every argv it accepts, the arguments are exactly those yargs would hand the status command; it
 * declines everything else (--help, --no-json, --json=false, -x, a repeated flag, a second name, `--`, a name yargs
 * would read as a boolean's value, an --interval yargs would refuse), which yargs then parses, with its own messages
 * and exit codes. test/cli.quick-status.test.ts holds both parsers to that on a list of lines.
 */
import type { StatusArgs } from './commands/status.js';

export interface QuickStatus {
  campaign: string | undefined;
  args: StatusArgs;
}

const SWITCHES = new Set(['--json', '--sandbox', '--watch']);
const VALUED = new Set(['--home', '--interval']);
/** A plain decimal number: yargs reads it as Number() does; anything fancier goes to yargs. */
const DECIMAL = /^\d+(\.\d+)?$/;

export function quickStatus(argv: readonly string[]): QuickStatus | undefined {
  if (argv[0] !== 'status') return undefined;
  let campaign: string | undefined;
  const given = new Map<string, string | true>();
  for (let i = 1; i < argv.length; i++) {
    const token = argv[i]!;
    if (!token.startsWith('-')) {
      // yargs takes `true`/`false` after a switch as its value, and may read other words as numbers: leave those to it.
      if (campaign !== undefined || token === '' || token === 'true' || token === 'false') return undefined;
      campaign = token;
      continue;
    }
    const eq = token.indexOf('=');
    const flag = eq < 0 ? token : token.slice(0, eq);
    if (given.has(flag)) return undefined;
    if (SWITCHES.has(flag) && eq < 0) {
      given.set(flag, true);
      continue;
    }
    if (!VALUED.has(flag)) return undefined;
    const value = eq < 0 ? argv[++i] : token.slice(eq + 1);
    if (value === undefined || value === '' || value.startsWith('-')) return undefined;
    given.set(flag, value);
  }
  const interval = given.get('--interval');
  if (interval !== undefined && (typeof interval !== 'string' || !DECIMAL.test(interval) || Number(interval) < 0.2)) return undefined;
  const home = given.get('--home');
  return {
    campaign,
    args: {
      home: typeof home === 'string' ? home : undefined,
      json: given.has('--json'),
      sandbox: given.has('--sandbox'),
      watch: given.has('--watch'),
      interval: interval === undefined ? 2 : Number(interval),
    },
  };
}
