/**
 * Where the ledger is. A Postgres ledger is wherever DATABASE_URL says. The embedded one is one per user,
 * in the platform's data directory, so that a job started from another folder finds the same campaigns
 * (a ledger under the current folder texted everyone again from the next folder). `--home` and
 * SMSRUN_HOME choose another place. A `./.smsrun` ledger left by an older smsrun in the current folder
 * is still used, and the run says so: nobody loses a campaign by upgrading.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface LedgerPlace {
  /** Where the embedded ledger lives, and reports are written (also with DATABASE_URL). */
  home: string;
  databaseUrl?: string | undefined;
  /** Why this place: told on the command's first line. */
  chosenBy: 'DATABASE_URL' | '--home' | 'SMSRUN_HOME' | 'legacy' | 'default';
}

/** The folder an older smsrun kept its ledger in, under the folder it was started from. */
export const LEGACY_HOME = '.smsrun';

export function ledgerPlace(home: string | undefined, env: NodeJS.ProcessEnv, cwd = process.cwd()): LedgerPlace {
  const explicit = home ?? (env['SMSRUN_HOME'] || undefined);
  const chosenHome = explicit !== undefined ? path.resolve(cwd, explicit) : defaultHome(env, cwd);
  const databaseUrl = env['DATABASE_URL'] || undefined;
  const chosenBy: LedgerPlace['chosenBy'] = databaseUrl ? 'DATABASE_URL'
    : home !== undefined ? '--home'
      : explicit !== undefined ? 'SMSRUN_HOME'
        : chosenHome === path.resolve(cwd, LEGACY_HOME) ? 'legacy' : 'default';
  return { home: chosenHome, databaseUrl, chosenBy };
}

function defaultHome(env: NodeJS.ProcessEnv, cwd: string): string {
  const legacy = path.resolve(cwd, LEGACY_HOME);
  if (existsSync(path.join(legacy, 'ledger'))) return legacy;
  return userDataDir(env, process.platform);
}

/** The per-user data directory for smsrun: XDG on Linux and the BSDs, the usual places on macOS and Windows. */
export function userDataDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  const home = env['HOME'] || env['USERPROFILE'] || os.homedir();
  if (platform === 'win32') return path.win32.join(env['LOCALAPPDATA'] || path.win32.join(home, 'AppData', 'Local'), 'smsrun');
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Application Support', 'smsrun');
  const xdg = env['XDG_DATA_HOME'];
  // The XDG spec: a relative XDG_DATA_HOME is invalid and must be ignored.
  return path.posix.join(xdg && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(home, '.local', 'share'), 'smsrun');
}

/** The per-user cache directory for smsrun (what may be deleted at any time): XDG on Linux, the usual places elsewhere. */
export function userCacheDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string {
  const home = env['HOME'] || env['USERPROFILE'] || os.homedir();
  if (platform === 'win32') return path.win32.join(env['LOCALAPPDATA'] || path.win32.join(home, 'AppData', 'Local'), 'smsrun', 'cache');
  if (platform === 'darwin') return path.posix.join(home, 'Library', 'Caches', 'smsrun');
  const xdg = env['XDG_CACHE_HOME'];
  return path.posix.join(xdg && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(home, '.cache'), 'smsrun');
}

/** The line naming the ledger that a command opens, printed first. */
export function describePlace(place: LedgerPlace, env: NodeJS.ProcessEnv, via?: string): string {
  if (place.databaseUrl) return `ledger: ${redactUrl(place.databaseUrl)} (DATABASE_URL)`;
  const why = {
    '--home': ' (--home)',
    SMSRUN_HOME: ' (SMSRUN_HOME)',
    legacy: ` (found in this folder, where smsrun before 0.2 kept it; it is used as before. The default is now ${userDataDir(env, process.platform)}: see CHANGELOG.md)`,
    default: '',
    DATABASE_URL: '',
  }[place.chosenBy];
  return `ledger: ${path.join(place.home, 'ledger')}${why}${via ? `, ${via}` : ''}`;
}

/** A connection string with its password masked, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable DATABASE_URL)';
  }
}
