import type { Queryable } from './db.js';

export type CampaignState = 'sending' | 'tracking' | 'done';

export interface CampaignRow {
  id: number;
  name: string;
  job: Record<string, unknown>;
  job_file: string;
  csv_file: string;
  csv_sha256: string;
  content_hash: string;
  senders: string[];
  state: CampaignState;
  total_rows: number;
  created_at: Date;
  sent_at: Date | null;
  finished_at: Date | null;
  /** The CSV's header as loaded; null for campaigns loaded before the ledger kept it (sql/006). */
  csv_columns: string[] | null;
  /** A campaign of the built-in simulator (--sandbox); a real one of the same name is another campaign (sql/007). */
  sandbox: boolean;
  /** The Plivo account and endpoint a real campaign runs against; null until its first run (sql/007). */
  auth_id: string | null;
  api_url: string | null;
  /** True while a streamed load is not over (sql/009); sending may already be under way. */
  loading: boolean;
  /** CSV rows committed so far (null: a campaign loaded whole before sql/009). */
  loaded_rows: number | null;
  /** While loading: the row count estimated from the file's size. */
  expected_rows: number | null;
  /** The largest batch cost the load cuts (sql/009); null for campaigns loaded before. */
  max_batch_cost: number | null;
}

/** Whom a run sends as: the sandbox, or a Plivo account at an API endpoint. */
export type CampaignAccount = { sandbox: true } | { sandbox: false; authId: string; apiUrl: string };

/**
 * The campaign of that name: the sandbox one or the real one when `sandbox` says which, else the real one
 * if there is one, else the sandbox one (for commands that only read, like status and export).
 */
export async function findCampaign(db: Queryable, name: string, sandbox?: boolean): Promise<CampaignRow | undefined> {
  const [row] = sandbox === undefined
    ? await db.query<CampaignRow>('SELECT * FROM campaigns WHERE name = $1 ORDER BY sandbox LIMIT 1', [name])
    : await db.query<CampaignRow>('SELECT * FROM campaigns WHERE name = $1 AND sandbox = $2', [name, sandbox]);
  return row;
}

/**
 * Records the account a real campaign runs as, on its first run (or the first after sql/007), and returns the
 * campaign as it now stands: the caller compares what it returns with the account it sends as.
 */
export async function claimAccount(db: Queryable, campaignId: number, account: CampaignAccount): Promise<CampaignRow> {
  if (!account.sandbox) {
    await db.query('UPDATE campaigns SET auth_id = $2, api_url = $3 WHERE id = $1 AND auth_id IS NULL', [campaignId, account.authId, account.apiUrl]);
  }
  const [row] = await db.query<CampaignRow>('SELECT * FROM campaigns WHERE id = $1', [campaignId]);
  return row!;
}

export async function listCampaigns(db: Queryable): Promise<CampaignRow[]> {
  return db.query<CampaignRow>('SELECT * FROM campaigns ORDER BY created_at DESC');
}

export async function setCampaignState(db: Queryable, id: number, state: CampaignState): Promise<void> {
  await db.query(
    `UPDATE campaigns SET state = $2,
       sent_at = CASE WHEN $2 <> 'sending' THEN coalesce(sent_at, now()) ELSE sent_at END,
       finished_at = CASE WHEN $2 = 'done' THEN coalesce(finished_at, now()) ELSE NULL END
     WHERE id = $1`,
    [id, state],
  );
}

/** The campaign's audit trail: runs started and stopped, reconciliations, operator decisions. */
export async function recordEvent(db: Queryable, campaignId: number, kind: string, detail: object = {}): Promise<void> {
  await db.query('INSERT INTO events (campaign_id, kind, detail) VALUES ($1, $2, $3)', [campaignId, kind, JSON.stringify(detail)]);
}

