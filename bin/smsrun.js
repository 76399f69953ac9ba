#!/usr/bin/env node
// The published entry point: the compiled CLI (built by `npm run build`, which `npm ci` runs through `prepare`).
import module from 'node:module';

// Node 22.8+ keeps the code it compiles for these modules on disk (in the OS temp dir unless NODE_COMPILE_CACHE
// names one; NODE_DISABLE_COMPILE_CACHE=1 turns it off), so a later start skips compiling them, as TypeScript's
// own tsc does. Node 20 has no such cache. Before the import below, so that main and everything it loads are cached.
module.enableCompileCache?.();

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
