/**
 * The two database adapters behind the ledger: a real Postgres (`pg` Pool) and the embedded PGlite.
 * Every SQL statement in smsrun runs through `Db`, so the same SQL runs on both.
 *
 * Invariants:
 * - `transaction` runs its callback on one connection and commits or rolls back as a whole.
 * - Results look the same on both engines: int8/count come back as JS numbers (PGlite's default;
 *   we teach `pg` the same), numeric as strings, timestamptz as Date.
 * - Query parameters are never logged: they may hold message texts and phone numbers.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFromStdin, to as copyToStdout } from 'pg-copy-streams';
import type { PGlite, Transaction } from '@electric-sql/pglite';

export interface Queryable {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

/** A transaction's connection: queries, and bulk COPY into a table. */
export interface Tx extends Queryable {
  /**
   * `COPY <target> FROM STDIN` with `data` in COPY's text format (tab-separated, `\N` for null):
   * pg-copy-streams on Postgres, PGlite's `/dev/blob`. One round trip for any number of rows.
   */
  copyFrom(target: string, data: string): Promise<void>;
  /**
   * `COPY (<query>) TO STDOUT …` as a stream of its bytes, sent at once: the server computes its rows while the
   * caller reads something else, and waits (its socket full) until it is read. Read it to its end before the next
   * statement of this transaction; `rowCount` is the rows COPY wrote, once it has ended. Postgres only
   * (pg-copy-streams): PGlite's COPY TO gathers the whole output in one blob, so callers keep a row-by-row path
   * there. COPY takes no parameters: pass values with set_config in the transaction.
   */
  copyOut?: ((copy: string) => CopyOut) | undefined;
}

export type CopyOut = AsyncIterable<Buffer> & { readonly rowCount: number };

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Postgres: the most connections the pool opens (so the most transactions open at once). */
  readonly poolSize?: number | undefined;
  transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * A connection of its own, outside the pool, for session state such as an advisory lock that must live
   * exactly as long as this process. `onLost` fires if the connection drops (the session state is gone).
   */
  openSession(onLost: (err: Error) => void): Promise<Session>;
  close(): Promise<void>;
}

export interface Session extends Queryable {
  close(): Promise<void>;
}

const INT8_OID = 20;

/**
 * Settings for every smsrun connection, sent with the connection (no round trip), after the user's PGOPTIONS.
 * JIT off: smsrun's statements are short, and a claim on a campaign of a million rows is estimated above
 * jit_above_cost, so each claim compiled itself for 0.3 s to do 5 ms of work (docs/decisions.md, "the claim's
 * probe"); a load chunk's statements, planned on temporary tables without statistics, spent a third of their time
 * compiling. A connection string's own `options` replace these (node-postgres gives it precedence).
 */
function sessionOptions(): string {
  return [process.env['PGOPTIONS'], '-c jit=off'].filter((o) => o !== undefined && o !== '').join(' ');
}

/** Connections a process keeps to a Postgres ledger, unless SMSRUN_DB_POOL_SIZE says otherwise. */
export const DEFAULT_POOL_SIZE = 4;

/** `poolSize`: the pool's most connections (claims, records, tracking and reconciliation share them). @default DEFAULT_POOL_SIZE */
export function openPostgres(connectionString: string, poolSize = DEFAULT_POOL_SIZE): Db {
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new TypeError(`openPostgres: poolSize must be a whole number ≥ 1, got ${poolSize}`);
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8_OID) return (value: string) => Number(value);
      return pg.types.getTypeParser(oid, format);
    },
  };
  // keepAlive and a connect timeout turn a silently dead server or network into errors we can wait out
  // (send/ledger-retry.ts), instead of a query hanging until the kernel gives up on the socket.
  const connection = { connectionString, types, keepAlive: true, connectionTimeoutMillis: 10_000, options: sessionOptions() };
  const pool = new pg.Pool({ ...connection, max: poolSize, application_name: 'smsrun' });
  // An idle client losing its connection emits here; without a listener it would crash the process. The
  // pool drops that client, and the next query, on a fresh connection, tells whether the server is back.
  pool.on('error', () => undefined);
  const run = async <Row>(client: pg.Pool | pg.PoolClient | pg.Client, sql: string, params?: readonly unknown[]) =>
    (await client.query(sql, params as unknown[] | undefined)).rows as Row[];
  return {
    kind: 'postgres',
    poolSize,
    query: (sql, params) => run(pool, sql, params),
    async transaction(fn) {
      const client = await pool.connect();
      // A checked-out client whose connection drops between two queries emits 'error'; the pool only
      // listens on idle ones, and an unheard 'error' would crash the process. The failing query reports it.
      const ignore = () => undefined;
      client.on('error', ignore);
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: (sql, params) => run(client, sql, params),
          copyFrom: (target, data) => pipeline(Readable.from([data]), client.query(copyFromStdin(`COPY ${target} FROM STDIN`))),
          copyOut: (copy) => client.query(copyToStdout(copy)),
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', ignore);
        client.release();
      }
    },
    async openSession(onLost) {
      const client = new pg.Client({ ...connection, application_name: 'smsrun-session' });
      let over = false; // closed by us, or lost: onLost fires at most once
      const lost = (err: Error) => {
        if (over) return;
        over = true;
        onLost(err);
      };
      client.on('error', lost);
      client.on('end', () => lost(new Error('the session connection ended')));
      await client.connect();
      return {
        query: (sql, params) => run(client, sql, params),
        async close() {
          over = true;
          await client.end().catch(() => undefined);
        },
      };
    },
    close: () => pool.end(),
  };
}

export function wrapPglite(pglite: PGlite): Db {
  const run = async <Row>(target: PGlite | Transaction, sql: string, params?: readonly unknown[]) =>
    (await target.query<Row>(sql, params as unknown[] | undefined)).rows;
  return {
    kind: 'pglite',
    query: (sql, params) => run(pglite, sql, params),
    transaction: (fn) => pglite.transaction((tx) => fn({
      query: (sql, params) => run(tx, sql, params),
      copyFrom: async (target, data) => { await tx.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([data]) }); },
    })),
    // PGlite is one session in this process; it cannot be lost without the process.
    openSession: async () => ({ query: (sql, params) => run(pglite, sql, params), close: async () => undefined }),
    close: () => pglite.close(),
  };
}
