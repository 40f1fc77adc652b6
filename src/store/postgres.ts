/**
 * PostgreSQL backend (pg): the same tables as SQLite, for many scan workers and sensors writing
 * together. A batch of results is one INSERT … SELECT FROM unnest(column arrays): one round
 * trip and one plan per batch, whatever its size.
 */

import os from "node:os";
import pg from "pg";
import { AUDIT_COLUMNS, type AuditRow } from "../schema/audit.js";
import type { Column, ColumnType } from "../schema/columns.js";
import {
  HONEYPOT_EVENT_COLUMNS,
  HONEYPOT_SESSION_COLUMNS,
  type HoneypotEventRow,
  type HoneypotSessionRow,
} from "../schema/honeypot.js";
import {
  type GroupColumn,
  type ProbeResult,
  RESULT_COLUMNS,
  type StoredResult,
} from "../schema/result.js";
import {
  type AggregateCount,
  AggregateDelta,
  type AggregateExample,
  FACT_COLUMNS,
  type FactValue,
  firstValueCounts,
  RECORD_ROWS_SQL,
  sumShards,
} from "./aggregates.js";
import { AGGREGATES_MIGRATION, MIGRATIONS, pendingMigrations, SCHEMA_TABLE } from "./schema.js";
import {
  auditFromRow,
  type CheckpointCover,
  checkGroupColumns,
  conflictMessage,
  type DiffRow,
  diffRow,
  diffSql,
  type GroupCount,
  honeypotEventFromRow,
  honeypotSessionFromRow,
  type ResultQuery,
  type RowDecoder,
  resultFilter,
  type ScanInfo,
  type SearchDialect,
  type SearchFilter,
  type ShardInfo,
  type ShardProgress,
  type Store,
  StoreConflictError,
  StoreOpenError,
  sameScan,
  scanFromRow,
  searchFilterSql,
  shardFromRow,
} from "./store.js";

/** PostgreSQL's type for each column type, for the unnest() arrays of an insert. */
const PG_TYPES: Record<ColumnType, string> = {
  text: "text",
  int: "int",
  bigint: "bigint",
  real: "float8",
  time: "timestamptz",
  json: "jsonb",
};

/**
 * `INSERT … SELECT FROM unnest(one array per column)`: one round trip and one plan per batch,
 * whatever its size; `columnArrays` gives the arrays.
 */
function unnestInsert<In>(table: string, columns: readonly Column<In>[], tail: string): string {
  return `INSERT INTO ${table} (${columns.map((c) => c.name).join(", ")})
  SELECT * FROM unnest(${columns.map((c, i) => `$${i + 1}::${PG_TYPES[c.type]}[]`).join(", ")})
  ${tail}`;
}

/** The rows as one array per column, JSON made safe for jsonb. */
function columnArrays<In>(columns: readonly Column<In>[], rows: readonly In[]): unknown[][] {
  return columns.map((c) =>
    rows.map((r) => {
      const v = c.value(r);
      return c.type === "json" ? jsonbSafe(v as string) : v;
    }),
  );
}

const INSERT_RESULTS = unnestInsert<StoredResult>(
  "results",
  RESULT_COLUMNS,
  // The rows inserted, by their position in the batch (the aggregates count only those).
  "ON CONFLICT (scan_id, ip, port) DO NOTHING RETURNING ip, port",
);
const INSERT_EVENTS = unnestInsert<HoneypotEventRow>(
  "honeypot_events",
  HONEYPOT_EVENT_COLUMNS,
  "ON CONFLICT (session_id, seq) DO NOTHING",
);

/** Rows fetched per round trip when reading results back. */
const PAGE_ROWS = 5000;
/** Any constant: serialises migrations between workers that start together. */
const MIGRATION_LOCK = 0x7265_6473;
/** SQLSTATE 42501: the role lacks a privilege (here: to create or alter the schema). */
const INSUFFICIENT_PRIVILEGE = "42501";

type Row = Record<string, unknown>;

export class PostgresStore implements Store {
  readonly kind = "postgres";

  private constructor(
    private readonly pool: pg.Pool,
    readonly location: string,
  ) {}

  static async open(url: string): Promise<PostgresStore> {
    const location = redactUrl(url);
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      application_name: `redscope@${os.hostname()}`.slice(0, 63),
      connectionTimeoutMillis: 10_000,
    });
    // An idle client that errors (server restart) must not crash the process; the next query fails.
    pool.on("error", () => {});
    try {
      await migrate(pool);
    } catch (e) {
      await pool.end().catch(() => {});
      if (e instanceof StoreOpenError) throw e;
      throw new StoreOpenError(`cannot open PostgreSQL store ${location}: ${(e as Error).message}`);
    }
    return new PostgresStore(pool, location);
  }

  async beginScan(scan: ScanInfo): Promise<void> {
    // Workers of one sharded scan start together: the first insert wins, the others join it.
    await this.pool.query(
      `INSERT INTO scans (id, source, started_at, targets, ports, seed, shard_count, options, tool_version, target_space)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
      [
        scan.id,
        scan.source,
        scan.startedAt,
        scan.targets,
        scan.ports,
        scan.seed ?? null,
        scan.shardCount,
        JSON.stringify(scan.options),
        scan.toolVersion,
        scan.targetSpace ?? null,
      ],
    );
    const existing = await this.getScan(scan.id);
    const differs = existing ? sameScan(existing, scan) : undefined;
    if (differs) throw new StoreConflictError(conflictMessage(scan.id, differs));
  }

  async beginShard(s: ShardInfo): Promise<void> {
    await this.pool.query(
      `INSERT INTO scan_shards (scan_id, shard, host, started_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (scan_id, shard) DO UPDATE SET host = excluded.host, finished_at = NULL`,
      [s.scanId, s.shard, s.host ?? null, s.startedAt],
    );
  }

  async insertResults(
    scanId: string,
    results: ProbeResult[],
    steps?: ReadonlyArray<number | undefined>,
  ): Promise<number> {
    if (results.length === 0) return 0;
    const rows = results.map((result, i) => ({ scanId, result, step: steps?.[i] }));
    const arrays = columnArrays(RESULT_COLUMNS, rows);
    // One transaction: the rows and the aggregates of the rows inserted (RETURNING names them;
    // a target held already keeps its row and its counts). Shards of one scan write disjoint
    // aggregate rows (the shard is in their key), so concurrent workers do not wait on each other.
    return this.transaction(async (c) => {
      const res = await c.query(INSERT_RESULTS, arrays);
      const inserted = new Set(
        (res.rows as Array<{ ip: string; port: number }>).map((r) => `${r.port} ${r.ip}`),
      );
      const delta = new AggregateDelta();
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!.result;
        if (!inserted.has(`${r.port} ${r.ip}`)) continue;
        // A batch holding a target twice inserts it once: count it once.
        inserted.delete(`${r.port} ${r.ip}`);
        delta.addRow(
          arrays.map((col) => col[i] as FactValue),
          r,
          1,
        );
      }
      await applyDelta(c, scanId, delta, 1);
      return res.rowCount ?? 0;
    });
  }

  async rollbackShard(scanId: string, shard: string, cover: CheckpointCover): Promise<number> {
    // The rows deleted come back (RETURNING) and leave the aggregates in the same transaction.
    return this.transaction(async (c) => {
      const res = await c.query({
        text: `DELETE FROM results WHERE scan_id = $1 AND shard = $2 AND step >= $3
         AND step <> ALL($4::bigint[])
         RETURNING shard, ${FACT_COLUMNS.join(", ")}, ${RECORD_ROWS_SQL} AS whole, record`,
        values: [scanId, shard, cover.watermark, cover.doneAbove],
        rowMode: "array",
      });
      const delta = new AggregateDelta();
      for (const r of res.rows as unknown[][]) {
        const rowShard = r[0] == null ? "" : String(r[0]);
        delta.addFacts(rowShard, factValues(r.slice(1, 1 + FACT_COLUMNS.length)), -1);
        if (r[1 + FACT_COLUMNS.length] === true) {
          delta.addRecord(rowShard, r[2 + FACT_COLUMNS.length] as ProbeResult, -1);
        }
      }
      await applyDelta(c, scanId, delta, -1);
      return res.rowCount ?? 0;
    });
  }

  async finishShard(scanId: string, shard: string, counts: Record<string, number>): Promise<void> {
    await this.transaction(async (c) => {
      await c.query(
        "UPDATE scan_shards SET finished_at = now(), counts = $1 WHERE scan_id = $2 AND shard = $3",
        [JSON.stringify(counts), scanId, shard],
      );
      // Lock the scan row: two shards finishing together must not both miss the last one.
      const scan = await c.query("SELECT shard_count FROM scans WHERE id = $1 FOR UPDATE", [
        scanId,
      ]);
      const done = await c.query(
        "SELECT count(*)::int AS n FROM scan_shards WHERE scan_id = $1 AND finished_at IS NOT NULL",
        [scanId],
      );
      const need = Number(scan.rows[0]?.shard_count ?? Number.POSITIVE_INFINITY);
      if (Number(done.rows[0]?.n ?? 0) >= need) {
        const total = await countsOf(c, scanId);
        await c.query("UPDATE scans SET finished_at = now(), counts = $1 WHERE id = $2", [
          JSON.stringify(total),
          scanId,
        ]);
      }
    });
  }

  async stateCounts(scanId: string, shard?: string): Promise<Record<string, number>> {
    return countsOf(this.pool, scanId, shard);
  }

  async nicerCounts(scanId: string, shard?: string): Promise<Record<string, number>> {
    return countsOf(this.pool, scanId, shard, "nicer");
  }

  async aggregateCounts(scanId: string, shard?: string): Promise<AggregateCount[]> {
    return aggregateCountsOf(this.pool, scanId, shard);
  }

  async aggregateExamples(
    scanId: string,
    kind: string,
    limit: number,
  ): Promise<AggregateExample[]> {
    const res = await this.pool.query(
      `SELECT shard, kind, ip, port, i, detail FROM result_examples WHERE scan_id = $1 AND kind = $2
       ORDER BY ip, port, i LIMIT $3`,
      [scanId, kind, limit],
    );
    return res.rows as AggregateExample[];
  }

  async recountAggregates(
    scanId: string,
  ): Promise<{ counts: AggregateCount[]; examples: AggregateExample[] }> {
    const delta = await recount(this.pool, scanId);
    return { counts: delta.counts(), examples: delta.examples };
  }

  async getScan(id: string): Promise<ScanInfo | undefined> {
    const res = await this.pool.query("SELECT * FROM scans WHERE id = $1", [id]);
    const row = res.rows[0] as Row | undefined;
    return row ? scanFromRow(row, DECODE) : undefined;
  }

  async listScans(): Promise<ScanInfo[]> {
    const res = await this.pool.query("SELECT * FROM scans ORDER BY started_at, id");
    return (res.rows as Row[]).map((r) => scanFromRow(r, DECODE));
  }

  async listShards(scanId: string): Promise<ShardInfo[]> {
    const res = await this.pool.query(
      "SELECT * FROM scan_shards WHERE scan_id = $1 ORDER BY shard",
      [scanId],
    );
    return (res.rows as Row[]).map((r) => shardFromRow(r, DECODE));
  }

  /** Keyset pages on the primary key: constant memory however many rows the scan has. */
  async *results(q: ResultQuery): AsyncIterable<ProbeResult> {
    // Unordered reads page on the key too: that bounds memory, and the filter still uses
    // its index to find the rows of each page.
    let after: [string, number] | undefined;
    let left = q.limit ?? Number.POSITIVE_INFINITY;
    while (left > 0) {
      const { where, args } = resultFilter(q, (n) => `$${n}`);
      if (after) {
        args.push(after[0], after[1]);
        where.push(`(ip COLLATE "C", port) > ($${args.length - 1}, $${args.length})`);
      }
      const page = Math.min(PAGE_ROWS, left);
      args.push(page);
      const res = await this.pool.query(
        `SELECT ip, port, record FROM results WHERE ${where.join(" AND ")}
         ORDER BY ip COLLATE "C", port LIMIT $${args.length}`,
        args,
      );
      for (const row of res.rows as Array<{ ip: string; port: number; record: ProbeResult }>) {
        yield row.record;
      }
      if (res.rows.length < page) return;
      const last = res.rows[res.rows.length - 1] as { ip: string; port: number };
      after = [last.ip, last.port];
      left -= res.rows.length;
    }
  }

  async groupCounts(scanId: string, by: readonly GroupColumn[]): Promise<GroupCount[]> {
    checkGroupColumns(by);
    const cols = by.join(", ");
    const res = await this.pool.query({
      text: `SELECT ${cols}, count(*)::bigint AS n FROM results WHERE scan_id = $1 GROUP BY ${cols} ORDER BY n DESC, ${cols}`,
      values: [scanId],
      rowMode: "array",
    });
    return (res.rows as Array<Array<string | number | null>>).map((r) => ({
      // bigint columns (asn) arrive as strings: make them numbers like SQLite's.
      key: r.slice(0, by.length).map((v, i) => (by[i] === "asn" && v !== null ? Number(v) : v)),
      n: Number(r[by.length]),
    }));
  }

  async *diff(a: string, b: string): AsyncIterable<DiffRow> {
    // Differences between two scans are a small share of them: one query, read whole.
    const res = await this.pool.query(diffSql("$1", "$2", "IS DISTINCT FROM", ' COLLATE "C"'), [
      a,
      b,
    ]);
    for (const r of res.rows as Array<Record<string, unknown>>) yield diffRow(r);
  }

  async upsertHoneypotSessions(rows: HoneypotSessionRow[]): Promise<void> {
    if (rows.length === 0) return;
    const cols = HONEYPOT_SESSION_COLUMNS.map((c) => c.name);
    const sql = `INSERT INTO honeypot_sessions (${cols.join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")})
       ON CONFLICT (id) DO UPDATE SET ${cols
         .filter((c) => c !== "id")
         .map((c) => `${c} = excluded.${c}`)
         .join(", ")}`;
    await this.transaction(async (c) => {
      // One row at a time: a batch may hold a session twice (its start and end rows).
      for (const r of rows) {
        await c.query(
          sql,
          columnArrays(HONEYPOT_SESSION_COLUMNS, [r]).map((v) => v[0]),
        );
      }
    });
  }

  async insertHoneypotEvents(rows: HoneypotEventRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const res = await this.pool.query(INSERT_EVENTS, columnArrays(HONEYPOT_EVENT_COLUMNS, rows));
    return res.rowCount ?? 0;
  }

  async *honeypotSessions(
    range: { from?: string; to?: string } = {},
  ): AsyncIterable<HoneypotSessionRow> {
    const where: string[] = [];
    const args: string[] = [];
    if (range.from !== undefined) {
      args.push(range.from);
      where.push(`started_at >= $${args.length}`);
    }
    if (range.to !== undefined) {
      args.push(range.to);
      where.push(`started_at < $${args.length}`);
    }
    const res = await this.pool.query(
      `SELECT * FROM honeypot_sessions ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY started_at, id`,
      args,
    );
    for (const row of res.rows as Row[]) yield honeypotSessionFromRow(row, DECODE);
  }

  async honeypotEvents(sessionId: string, limit?: number): Promise<HoneypotEventRow[]> {
    // LIMIT NULL: no limit.
    const res = await this.pool.query(
      "SELECT * FROM honeypot_events WHERE session_id = $1 ORDER BY seq LIMIT $2",
      [sessionId, limit ?? null],
    );
    return (res.rows as Row[]).map((r) => honeypotEventFromRow(r, DECODE));
  }

  async recordShardProgress(scanId: string, shard: string, p: ShardProgress): Promise<void> {
    await this.pool.query(
      "UPDATE scan_shards SET progress = $1 WHERE scan_id = $2 AND shard = $3 AND finished_at IS NULL",
      [JSON.stringify(p), scanId, shard],
    );
  }

  async scanSeqRange(scanId: string): Promise<{ min: number; max: number } | undefined> {
    const res = await this.pool.query(
      "SELECT min(seq) AS min, max(seq) AS max FROM results WHERE scan_id = $1",
      [scanId],
    );
    const r = res.rows[0] as { min: string | null; max: string | null } | undefined;
    return r?.min == null || r.max == null ? undefined : { min: Number(r.min), max: Number(r.max) };
  }

  async searchResults(
    scanId: string,
    f: SearchFilter,
    window: { after: number; upTo: number },
    limit: number,
  ): Promise<Array<{ seq: number; result: ProbeResult }>> {
    const { where, args } = searchFilterSql(scanId, f, SEARCH);
    args.push(window.after, window.upTo, limit);
    const n = args.length;
    const res = await this.pool.query(
      `SELECT seq, record FROM results WHERE ${where.join(" AND ")}
       AND seq > $${n - 2} AND seq <= $${n - 1} ORDER BY seq LIMIT $${n}`,
      args,
    );
    return (res.rows as Array<{ seq: string; record: ProbeResult }>).map((r) => ({
      seq: Number(r.seq),
      result: r.record,
    }));
  }

  async countResults(scanId: string, f: SearchFilter, cap: number): Promise<number> {
    const { where, args } = searchFilterSql(scanId, f, SEARCH);
    args.push(cap);
    const res = await this.pool.query(
      `SELECT count(*)::int AS n FROM (SELECT 1 FROM results WHERE ${where.join(" AND ")} LIMIT $${args.length}) x`,
      args,
    );
    return Number(res.rows[0]?.n ?? 0);
  }

  async hostResults(ip: string, limit: number): Promise<ProbeResult[]> {
    const res = await this.pool.query(
      "SELECT record FROM results WHERE ip = $1 ORDER BY time DESC LIMIT $2",
      [ip, limit],
    );
    return (res.rows as Array<{ record: ProbeResult }>).map((r) => r.record);
  }

  async saveAudit(a: AuditRow): Promise<void> {
    await this.pool.query(
      `INSERT INTO audits (${AUDIT_COLUMNS.map((c) => c.name).join(", ")})
       VALUES (${AUDIT_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")}) ON CONFLICT (id) DO NOTHING`,
      AUDIT_COLUMNS.map((c) => {
        const v = c.value(a);
        return c.type === "json" ? jsonbSafe(v as string) : v;
      }),
    );
  }

  async listAudits(limit: number): Promise<AuditRow[]> {
    const res = await this.pool.query("SELECT * FROM audits ORDER BY time DESC, id LIMIT $1", [
      limit,
    ]);
    return (res.rows as Row[]).map((r) => auditFromRow(r, DECODE));
  }

  async getAudit(id: string): Promise<AuditRow | undefined> {
    const res = await this.pool.query("SELECT * FROM audits WHERE id = $1", [id]);
    const row = res.rows[0] as Row | undefined;
    return row ? auditFromRow(row, DECODE) : undefined;
  }

  async recentHoneypotSessions(limit: number, before?: string): Promise<HoneypotSessionRow[]> {
    const res =
      before === undefined
        ? await this.pool.query(
            "SELECT * FROM honeypot_sessions ORDER BY started_at DESC, id DESC LIMIT $1",
            [limit],
          )
        : await this.pool.query(
            "SELECT * FROM honeypot_sessions WHERE started_at < $1 ORDER BY started_at DESC, id DESC LIMIT $2",
            [before, limit],
          );
    return (res.rows as Row[]).map((r) => honeypotSessionFromRow(r, DECODE));
  }

  async getHoneypotSession(id: string): Promise<HoneypotSessionRow | undefined> {
    const res = await this.pool.query("SELECT * FROM honeypot_sessions WHERE id = $1", [id]);
    const row = res.rows[0] as Row | undefined;
    return row ? honeypotSessionFromRow(row, DECODE) : undefined;
  }

  async schemaVersion(): Promise<number> {
    const res = await this.pool.query(`SELECT max(version) AS v FROM ${SCHEMA_TABLE}`);
    return Number(res.rows[0]?.v ?? 0);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async transaction<T>(f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, f);
  }
}

async function inTransaction<T>(pool: pg.Pool, f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    const out = await f(c);
    await c.query("COMMIT");
    return out;
  } catch (e) {
    await c.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/**
 * Brings the schema up to date. A store already current is only read: scanning workers may run as
 * a role with no right to create or alter anything (deploy/postgres/roles.sql), and such a role
 * opens a current store without one DDL statement. Only an owner role migrates.
 */
async function migrate(pool: pg.Pool): Promise<void> {
  const current = await schemaAt(pool);
  if (current !== undefined && pendingMigrations(current).length === 0) return;
  try {
    await inTransaction(pool, async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await c.query(
        `CREATE TABLE IF NOT EXISTS ${SCHEMA_TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`,
      );
      const res = await c.query(`SELECT max(version) AS v FROM ${SCHEMA_TABLE}`);
      const at = Number(res.rows[0]?.v ?? 0);
      for (const m of pendingMigrations(at)) {
        for (const stmt of m.sql.postgres) await c.query(stmt);
        if (m.version === AGGREGATES_MIGRATION) await backfillAggregates(c);
        await c.query(
          `INSERT INTO ${SCHEMA_TABLE} (version, name, applied_at) VALUES ($1, $2, now())`,
          [m.version, m.name],
        );
      }
    });
  } catch (e) {
    if ((e as { code?: string }).code !== INSUFFICIENT_PRIVILEGE) throw e;
    const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
    throw new StoreOpenError(
      `the PostgreSQL store's schema is at version ${current ?? 0} and this redscope needs ${latest}, ` +
        `but this role may not change it (${(e as Error).message}): run any redscope command once ` +
        "with the owner role's URL (e.g. redscope report --list --db OWNER_URL), then scan again",
    );
  }
}

/** The schema's version, or undefined when the store has no schema table yet. */
async function schemaAt(pool: pg.Pool): Promise<number | undefined> {
  const exists = await pool.query("SELECT to_regclass($1) IS NOT NULL AS ok", [SCHEMA_TABLE]);
  if (exists.rows[0]?.ok !== true) return undefined;
  const res = await pool.query(`SELECT max(version) AS v FROM ${SCHEMA_TABLE}`);
  return Number(res.rows[0]?.v ?? 0);
}

/**
 * Rows per value of `column` (nulls left out), of a scan or one of its shards: from the
 * aggregates, which count exactly the rows held (see SqliteStore.countsSync).
 */
async function countsOf(
  q: pg.Pool | pg.PoolClient,
  scanId: string,
  shard?: string,
  column: "state" | "nicer" = "state",
): Promise<Record<string, number>> {
  return firstValueCounts(await aggregateCountsOf(q, scanId, shard, column), column);
}

async function aggregateCountsOf(
  q: pg.Pool | pg.PoolClient,
  scanId: string,
  shard?: string,
  dim?: string,
): Promise<AggregateCount[]> {
  const args: string[] = [scanId];
  const where = ["scan_id = $1"];
  if (shard !== undefined) {
    args.push(shard);
    where.push(`shard = $${args.length}`);
  }
  if (dim !== undefined) {
    args.push(dim);
    where.push(`dim = $${args.length}`);
  }
  const res = await q.query(
    `SELECT dim, key, sum(n)::bigint AS n FROM result_aggregates WHERE ${where.join(" AND ")}
     GROUP BY dim, key HAVING sum(n) <> 0`,
    args,
  );
  return sumShards(
    (res.rows as Array<{ dim: string; key: string; n: string }>).map((r) => ({
      shard: shard ?? "",
      dim: r.dim,
      key: r.key,
      n: Number(r.n),
    })),
  ).map((c) => ({ ...c, shard: shard ?? "" }));
}

/** Fact column values as read back: bigint (asn) arrives as a string, as SQLite's as a number. */
function factValues(values: unknown[]): FactValue[] {
  return values.map((v, i) =>
    v == null ? null : FACT_COLUMNS[i] === "asn" ? Number(v) : (v as FactValue),
  );
}

/**
 * Writes a delta of the aggregates in the caller's transaction: counts upserted in the delta's
 * key order (one statement, rows locked in that order: two writers of one shard cannot
 * deadlock); examples inserted (`sign` 1) or deleted (−1).
 */
async function applyDelta(
  c: pg.PoolClient,
  scanId: string,
  delta: AggregateDelta,
  sign: 1 | -1,
): Promise<void> {
  if (delta.empty) return;
  const counts = delta.counts();
  if (counts.length > 0) {
    await c.query(
      `INSERT INTO result_aggregates (scan_id, shard, dim, key, n)
       SELECT $1, shard, dim, key, n FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[])
         WITH ORDINALITY AS d(shard, dim, key, n, o) ORDER BY o
       ON CONFLICT (scan_id, shard, dim, key) DO UPDATE SET n = result_aggregates.n + excluded.n`,
      [
        scanId,
        counts.map((x) => x.shard),
        counts.map((x) => x.dim),
        counts.map((x) => x.key),
        counts.map((x) => x.n),
      ],
    );
  }
  const ex = delta.examples;
  if (ex.length === 0) return;
  const cols = [
    ex.map((e) => e.kind),
    ex.map((e) => e.ip),
    ex.map((e) => e.port),
    ex.map((e) => e.i),
  ];
  if (sign === 1) {
    await c.query(
      `INSERT INTO result_examples (scan_id, kind, ip, port, i, shard, detail)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[])
       ON CONFLICT (scan_id, kind, ip, port, i) DO NOTHING`,
      [
        scanId,
        ...cols,
        ex.map((e) => e.shard), // text refuses NUL (evidence read from an imported record may hold one)
        ex.map((e) => e.detail.replaceAll("\u0000", "\\x00")),
      ],
    );
    return;
  }
  await c.query(
    `DELETE FROM result_examples e USING unnest($2::text[], $3::text[], $4::int[], $5::int[]) AS d(kind, ip, port, i)
     WHERE e.scan_id = $1 AND e.kind = d.kind AND e.ip = d.ip AND e.port = d.port AND e.i = d.i`,
    [scanId, ...cols],
  );
  await c.query("DELETE FROM result_aggregates WHERE scan_id = $1 AND n = 0", [scanId]);
}

/** A scan's aggregates counted afresh from its rows (see the SQLite store's recount). */
async function recount(q: pg.Pool | pg.PoolClient, scanId: string): Promise<AggregateDelta> {
  const delta = new AggregateDelta();
  const cols = FACT_COLUMNS.join(", ");
  const groups = await q.query({
    text: `SELECT shard, ${cols}, count(*)::bigint FROM results WHERE scan_id = $1 GROUP BY shard, ${cols}`,
    values: [scanId],
    rowMode: "array",
  });
  for (const g of groups.rows as unknown[][]) {
    delta.addFacts(
      g[0] == null ? "" : String(g[0]),
      factValues(g.slice(1, 1 + FACT_COLUMNS.length)),
      Number(g[1 + FACT_COLUMNS.length]),
    );
  }
  // Keyset pages: constant memory however many open rows the scan has.
  let after: [string, number] | undefined;
  for (;;) {
    const args: unknown[] = [scanId, PAGE_ROWS];
    let more = "";
    if (after) {
      args.push(after[0], after[1]);
      more = ` AND (ip COLLATE "C", port) > ($3, $4)`;
    }
    const res = await q.query(
      `SELECT ip, port, shard, record FROM results WHERE scan_id = $1 AND ${RECORD_ROWS_SQL}${more}
       ORDER BY ip COLLATE "C", port LIMIT $2`,
      args,
    );
    const rows = res.rows as Array<{
      ip: string;
      port: number;
      shard: string | null;
      record: ProbeResult;
    }>;
    for (const r of rows) delta.addRecord(r.shard ?? "", r.record, 1);
    if (rows.length < PAGE_ROWS) return delta;
    const last = rows[rows.length - 1]!;
    after = [last.ip, last.port];
  }
}

/** Migration 9: every stored scan's aggregates, counted from its rows (once, at upgrade). */
async function backfillAggregates(c: pg.PoolClient): Promise<void> {
  const scans = await c.query("SELECT id FROM scans ORDER BY id");
  for (const { id } of scans.rows as Array<{ id: string }>) {
    await applyDelta(c, id, await recount(c, id), 1);
  }
}

/**
 * jsonb refuses the escape \u0000 (and text columns refuse NUL). Classified strings never hold
 * one, but imported data might: such a record is rewritten with NUL shown as the text `\x00`.
 */
function jsonbSafe(json: string): string {
  if (!json.includes("\\u0000")) return json;
  return JSON.stringify(JSON.parse(json), (_k, v: unknown) =>
    typeof v === "string" ? v.replaceAll("\u0000", "\\x00") : v,
  );
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparsable URL)";
  }
}

const SEARCH: SearchDialect = {
  placeholder: (n) => `$${n}`,
  recordLike: (p) => `record::text ILIKE ${p} ESCAPE '\\'`,
};

/** pg returns timestamptz as Date and jsonb already parsed. */
const DECODE: RowDecoder = {
  time: (v) => (v instanceof Date ? v.toISOString() : String(v)),
  json: <T>(v: unknown) =>
    v == null ? undefined : ((typeof v === "string" ? JSON.parse(v) : v) as T),
};
