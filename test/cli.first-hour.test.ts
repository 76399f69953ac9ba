/** What a new user meets in the first hour: --version, "did you mean", clear refusals, quiet pipes, honest progress. */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { openLedger } from '../src/ledger/open.js';
import { Progress } from '../src/cli/progress.js';
import { killLeftovers, ROOT, runCli, startCli } from './helpers/cli.js';
import { claimedCampaign } from './helpers/campaigns.js';
import { usNumber, writeJob } from './helpers/csv.js';
import { createTestLedger } from './helpers/ledgers.js';
import { waitFor } from './helpers/wait.js';

afterAll(() => killLeftovers());

describe('the command line', () => {
  it('smsrun --version prints the version', async () => {
    const r = await runCli(['--version'], {});
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version);
  });

  it('a mistyped command or flag gets "did you mean"', async () => {
    const command = await runCli(['sttaus'], {});
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("Unknown argument: sttaus (did you mean 'status'?)");
    const flag = await runCli(['status', '--jsn'], {});
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown argument: jsn (did you mean '--json'?)");
  });

  it('plan with a missing CSV exits 2 naming the file, no stack trace', async () => {
    const job = await writeJob({ name: 'no-csv', src: '14155550100', text: 'hi', recipients: 'missing.csv' }, '');
    const r = await runCli(['plan', job], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing\.csv: cannot read the recipients CSV \(no such file\)/);
    expect(r.stderr).not.toMatch(/^\s+at\s/m);
  });

  it('sim on a busy port says the port is taken', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      const r = await runCli(['sim', '--port', String(port)], {});
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is taken`);
    } finally {
      server.close();
    }
  });

  it('export … | head exits quietly when the reader stops reading', { timeout: 300_000 }, async () => {
    const ledger = await createTestLedger('pglite');
    try {
      const db = await openLedger({ home: ledger.home });
      let name: string;
      try {
        name = (await claimedCampaign(db, Array.from({ length: 3000 }, (_, i) => usNumber(i)), { batchSize: 1000 })).name;
      } finally {
        await db.close();
      }
      const run = startCli(['export', name], ledger.env);
      await waitFor('the first rows', () => run.out.stdout.length > 0);
      run.child.stdout!.destroy(); // what head does once it has its lines
      const r = await run.done;
      expect(r.stderr).not.toContain('EPIPE');
      expect(r.stderr).not.toContain('lost the ledger connection');
      expect(r.code).toBe(0);
    } finally {
      await ledger.dispose();
    }
  });
});

describe('progress', () => {
  it("keeps this run's counts apart from the campaign's totals", async () => {
    let written = '';
    const out = { write: (s: string) => { written += s; return true; }, isTTY: false } as unknown as NodeJS.WritableStream;
    const progress = new Progress(out, 10, 60_000);
    progress.start(10, 30); // a resume: 30 sent by earlier runs, 10 left
    progress.onEvent({ kind: 'accepted', size: 2, rejected: 0 } as never);
    progress.stop();
    expect(written).toContain('this run: sent 2/10');
    expect(written).toContain('campaign: 32/40 sent');
  });
});
