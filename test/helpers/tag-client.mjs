/**
 * Loaded into a CLI under test with `NODE_OPTIONS=--import=<this file>` (see clientTagEnv in cli.ts): every
 * request the process makes carries `User-Agent: smsrun-test/<SMSRUN_TEST_CLIENT>`, so the simulator's
 * readLog tells two processes' traffic apart. Plain JavaScript: Node loads it before any TypeScript.
 */
const tag = process.env.SMSRUN_TEST_CLIENT;
const original = globalThis.fetch;
globalThis.fetch = (input, init = {}) =>
  original(input, { ...init, headers: { ...init.headers, 'User-Agent': `smsrun-test/${tag}` } });
