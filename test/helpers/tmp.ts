/** Temporary directories that a test file removes when it is done (nothing left in the system temp dir). */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const made = new Set<string>();

// Registered when a test file imports this module (during collection), so it runs after that file's last test.
afterAll(async () => {
  await Promise.all([...made].map((dir) => rm(dir, { recursive: true, force: true })));
  made.clear();
});

/** A fresh directory under the system temp dir, removed after the importing test file's last test. */
export async function tempDir(prefix = 'smsrun-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  made.add(dir);
  return dir;
}
