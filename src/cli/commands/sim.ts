/** `smsrun sim --port N`: the Plivo simulator as a server, for trying smsrun (or any Plivo client) out. */
import { EXIT, UsageError, type ExitCode } from '../../errors.js';
import type { Io } from '../context.js';

export interface SimArgs {
  port: number;
  host: string;
  mps: number;
}

export async function simCommand(args: SimArgs, io: Io): Promise<ExitCode> {
  const { startSimulator } = await import('../../sim/index.js');
  const authId = io.env['PLIVO_AUTH_ID'];
  const authToken = io.env['PLIVO_AUTH_TOKEN'];
  const sim = await startSimulator({
    host: args.host, port: args.port, mps: args.mps,
    ...(authId && authToken ? { authId, authToken } : {}),
  }).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new UsageError(`port ${args.port} on ${args.host} is taken (another 'smsrun sim' or another server is listening there): ` +
        'stop it, or pass another --port.', { cause: err });
    }
    if (code === 'EACCES') throw new UsageError(`port ${args.port} on ${args.host} needs privileges: pass a --port above 1023.`, { cause: err });
    throw err;
  });
  io.stdout.write(`Plivo simulator listening on ${sim.url}\n`);
  if (authId && authToken) {
    io.stdout.write(`credentials: PLIVO_AUTH_ID=${sim.authId} and the PLIVO_AUTH_TOKEN from your environment\n`);
  } else {
    // Made-up credentials for a local toy server: printing them is the point.
    io.stdout.write(`credentials (made up for this session):\n  export PLIVO_AUTH_ID=${sim.authId}\n  export PLIVO_AUTH_TOKEN=${sim.authToken}\n`);
  }
  io.stdout.write(`  export PLIVO_API_URL=${sim.url}\nCtrl-C to stop.\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await sim.close();
  return EXIT.ok;
}
