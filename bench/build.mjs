// Transpiles bench/*.ts into dist/bench/*.js, next to the compiled smsrun it imports ('../ledger/open.js').
// Type-checking is `tsc -p bench/tsconfig.json` (run before this by `npm run bench`); this step only strips
// the types, one file at a time, so no second copy of src/ is ever emitted.
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'dist', 'bench');
// From scratch, so that a benchmark deleted from bench/ cannot linger in dist/bench/ and still be run.
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
for (const name of await readdir(here)) {
  if (!name.endsWith('.ts')) continue;
  const source = await readFile(path.join(here, name), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    fileName: name,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  });
  await writeFile(path.join(out, name.replace(/\.ts$/, '.js')), outputText);
}
