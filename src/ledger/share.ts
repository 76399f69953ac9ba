/**
 * Reading the embedded ledger while a run holds it. PGlite is one process's database, so the process that
 * holds it serves read-only queries on a local socket (a Unix socket in the ledger's home, a named pipe on
 * Windows), and `status` and `export` in another process query through it: live figures, not "in use".
 *
 * Each query runs in a transaction of its own that starts with SET TRANSACTION READ ONLY, through PGlite's
 * own transaction(), so it never interleaves with the holder's transactions and Postgres itself refuses any
 * write. (Why not @electric-sql/pglite-socket: it forwards each wire-protocol message into PGlite's single
 * session between the holder's queries, so a reader's session settings and unnamed statements would be the
 * holder's, and a reader could end up inside the holder's transaction: docs/decisions.md, issue 9.)
 *
 * Protocol: one JSON object per line. Request {id, sql, params}; answer {id, rows} or {id, error, code}.
 * Dates travel as {"$date": iso} and are revived as Date, so rows look the same as from PGlite itself.
 *
 * One write is served besides: a request with `op` is a named operation, never SQL (ledger/share-ops.ts). The
 * only one is 'suppressions', so that `smsrun suppress add|remove|import` works while a run holds the ledger.
 */
import { createHash } from 'node:crypto';
import { chmod, unlink } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { wrapPglite, type Db } from './db.js';
import { HolderCannotWriteError } from './errors.js';
import {
  applySuppressionChange, parseSuppressionChange, SUPPRESSIONS_OP, type SuppressionChange, type SuppressionChangeResult,
} from './share-ops.js';

/** Where the holder of the embedded ledger in `home` listens for readers. */
export function readerSocketPath(home: string, platform = process.platform): string {
  const hash = createHash('sha256').update(path.resolve(home)).digest('hex').slice(0, 16);
  if (platform === 'win32') return `\\\\.\\pipe\\smsrun-${hash}`;
  const inHome = path.join(home, 'ledger.sock');
  // A Unix socket's path is limited to about 104 bytes; a deep home gets one in the temp directory.
  return Buffer.byteLength(inHome) < 100 ? inHome : path.join(os.tmpdir(), `smsrun-${hash}.sock`);
}

export interface ReaderServer {
  close(): Promise<void>;
}

/** Serves read-only queries on the ledger this process holds. Called with the lock held. */
export async function serveReaders(pglite: PGlite, home: string): Promise<ReaderServer> {
  const socketPath = readerSocketPath(home);
  if (process.platform !== 'win32') await unlink(socketPath).catch(() => undefined); // left by a killed holder
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // a reader that went away (export | head)
    eachLine(socket, (line) => void answer(pglite, line).then((out) => { if (socket.writable) socket.write(out); }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  server.on('error', () => undefined);
  if (process.platform !== 'win32') await chmod(socketPath, 0o600).catch(() => undefined); // this user only
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function answer(pglite: PGlite, line: string): Promise<string> {
  let id: unknown = null;
  let op: unknown;
  try {
    const request = JSON.parse(line) as { id: unknown; op?: unknown; sql: string; params?: unknown[] };
    id = request.id;
    if (request.op !== undefined) {
      op = request.op;
      if (op !== SUPPRESSIONS_OP) return encode({ id, op, error: `unknown operation '${String(op)}'`, code: null });
      const result = await applySuppressionChange(wrapPglite(pglite), parseSuppressionChange(request));
      return encode({ id, op, ...result });
    }
    const rows = await pglite.transaction(async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      return (await tx.query(request.sql, request.params)).rows;
    });
    return encode({ id, rows });
  } catch (err) {
    return encode({ id, ...(op !== undefined ? { op } : {}), error: (err as Error).message, code: (err as { code?: string }).code ?? null });
  }
}

/** The ledger through the process that holds it: reads, and the one write it serves. */
export interface SharedLedger extends Db {
  /** Changes an account's suppression list in the holder, in one transaction; rejects HolderCannotWriteError if it is too old to. */
  changeSuppressions(change: SuppressionChange): Promise<SuppressionChangeResult>;
}

interface Reply {
  id: number;
  op?: string;
  rows?: unknown[];
  added?: number;
  removed?: number;
  error?: string;
  code?: string | null;
}

/** A reader's Db on the ledger another process (`pid`) holds; rejects if nobody serves it. */
export async function connectReader(home: string, pid: number): Promise<SharedLedger> {
  const socket = net.connect(readerSocketPath(home));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let next = 0;
  const waiting = new Map<number, { resolve: (reply: Reply) => void; reject: (err: Error) => void }>();
  const failAll = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  socket.on('error', (err) => failAll(err));
  socket.on('close', () => failAll(Object.assign(new Error('the smsrun process holding the ledger stopped'), { code: 'ECONNRESET' })));
  eachLine(socket, (line) => {
    const reply = JSON.parse(line, revive) as Reply;
    const w = waiting.get(reply.id);
    if (!w) return;
    waiting.delete(reply.id);
    w.resolve(reply);
  });
  const ask = (request: Record<string, unknown>) => new Promise<Reply>((resolve, reject) => {
    const id = next++;
    waiting.set(id, { resolve, reject });
    socket.write(encode({ id, ...request }));
  });
  const failure = (reply: Reply) => Object.assign(new Error(reply.error), reply.code ? { code: reply.code } : {});
  const query = async <Row>(sql: string, params?: readonly unknown[]): Promise<Row[]> => {
    const reply = await ask({ sql, params: params ?? [] });
    if (reply.error !== undefined) throw failure(reply);
    return (reply.rows ?? []) as Row[];
  };
  return {
    kind: 'pglite',
    query,
    async changeSuppressions(change) {
      const reply = await ask({ op: SUPPRESSIONS_OP, ...change });
      // An older holder answers as to a read (an empty query: no rows, nothing written); it never echoes `op`.
      if (reply.op !== SUPPRESSIONS_OP) throw new HolderCannotWriteError(home, pid);
      if (reply.error !== undefined) throw failure(reply);
      return { added: reply.added ?? 0, removed: reply.removed ?? 0 };
    },
    // Reads only: each query is a consistent snapshot of its own, which is all status and export need.
    transaction: (fn) => fn({ query, copyFrom: () => Promise.reject(new Error('a reader of a ledger held by another process cannot write')) }),
    openSession: () => Promise.reject(new Error('a reader of a ledger held by another process has no session of its own')),
    close: async () => { socket.end(); socket.destroy(); },
  };
}

function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { $date: raw.toISOString() } : v;
  }) + '\n';
}

function revive(_key: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && '$date' in v && Object.keys(v).length === 1) return new Date((v as { $date: string }).$date);
  return v;
}

function eachLine(socket: net.Socket, onLine: (line: string) => void): void {
  let buffered = '';
  socket.setEncoding('utf8');
  // Split each chunk, not the whole buffer: a long line (a suppression list import) arrives in many chunks.
  socket.on('data', (chunk: string) => {
    const parts = chunk.split('\n');
    if (parts.length === 1) {
      buffered += chunk;
      return;
    }
    const lines = [buffered + parts[0]!, ...parts.slice(1, -1)];
    buffered = parts.at(-1)!;
    for (const line of lines) if (line !== '') onLine(line);
  });
}
