/**
 * Telling a lost ledger connection from every other database error. A lost connection is worth waiting
 * out (the server restarts, the network comes back); anything else is a bug or a bad schema and is not.
 * Postgres errors are matched by SQLSTATE class, socket errors by their code; node-postgres reports a
 * connection dropped mid-query as a plain Error with no code, matched by its fixed message.
 */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03']); // admin_shutdown, crash_shutdown, cannot_connect_now
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);
const PG_LOST_MESSAGES = [/^Connection terminated/, /^Client has encountered a connection error/, /timeout exceeded when trying to connect/];

export function isConnectionLost(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || CONNECTION_SQLSTATES.has(code) || SOCKET_CODES.has(code))) return true;
  if (PG_LOST_MESSAGES.some((re) => re.test(err.message))) return true;
  return err.cause !== undefined && isConnectionLost(err.cause);
}
