import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // End-to-end tests spawn the CLI and a simulator; two cores, so keep files from starving each other.
    maxWorkers: 2,
  },
});
