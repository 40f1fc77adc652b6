/**
 * The store's tables, the same in SQLite and PostgreSQL, and their versioned migrations.
 *
 * `results` holds the schema-1 record whole (`record`, JSON) plus, as columns, the fields that
 * reports filter and group on. One row per (scan, ip, port): a resumed or re-run shard inserts
 * a target again and the row already there wins, so a scan never holds a target twice.
 */
import { StoreOpenError } from "./store.js";

export type Dialect = "sqlite" | "postgres";

export interface Migration {
  version: number;
  name: string;
  sql: Record<Dialect, string[]>;
}

/** Timestamps: ISO text in SQLite (sorts as time), timestamptz in PostgreSQL. */
const TIME: Record<Dialect, string> = { sqlite: "TEXT", postgres: "TIMESTAMPTZ" };
const JSON_TYPE: Record<Dialect, string> = { sqlite: "TEXT", postgres: "JSONB" };
const REAL: Record<Dialect, string> = { sqlite: "REAL", postgres: "DOUBLE PRECISION" };
const BIGINT: Record<Dialect, string> = { sqlite: "INTEGER", postgres: "BIGINT" };

function v1(d: Dialect): string[] {
  return [
    `CREATE TABLE scans (
      id TEXT PRIMARY KEY,
      source TEXT NOT NULL,
      started_at ${TIME[d]} NOT NULL,
      finished_at ${TIME[d]},
      targets TEXT NOT NULL,
      ports TEXT NOT NULL,
      seed TEXT,
      shard_count INTEGER NOT NULL DEFAULT 1,
      options ${JSON_TYPE[d]} NOT NULL,
      counts ${JSON_TYPE[d]},
      tool_version TEXT NOT NULL
    )`,
    `CREATE TABLE scan_shards (
      scan_id TEXT NOT NULL REFERENCES scans(id),
      shard TEXT NOT NULL,
      host TEXT,
      started_at ${TIME[d]} NOT NULL,
      finished_at ${TIME[d]},
      counts ${JSON_TYPE[d]},
      PRIMARY KEY (scan_id, shard)
    )`,
    `CREATE TABLE results (
      scan_id TEXT NOT NULL REFERENCES scans(id),
      ip TEXT NOT NULL,
      port INTEGER NOT NULL,
      transport TEXT NOT NULL,
      time ${TIME[d]} NOT NULL,
      state TEXT NOT NULL,
      nicer TEXT,
      detail TEXT,
      product TEXT,
      version TEXT,
      redis_version TEXT,
      role TEXT,
      mode TEXT,
      os TEXT,
      country TEXT,
      asn ${BIGINT[d]},
      as_org TEXT,
      cloud_provider TEXT,
      cloud_region TEXT,
      cloud_service TEXT,
      cve_count INTEGER,
      max_cvss ${REAL[d]},
      shard TEXT,
      record ${JSON_TYPE[d]} NOT NULL,
      PRIMARY KEY (scan_id, ip, port)
    )`,
    "CREATE INDEX results_scan_state ON results (scan_id, state)",
    "CREATE INDEX results_scan_product ON results (scan_id, product, version)",
  ];
}

/**
 * Reports read the servers that carry CVEs whole: a partial index finds them without walking
 * every row of the scan (measured on 1 M results: 3.7 s → 1.4 s, ingest 4% slower). The
 * condition must stay a literal `cve_count > 0` in queries for the index to apply.
 */
const v2 = ["CREATE INDEX results_scan_cves ON results (scan_id, ip, port) WHERE cve_count > 0"];

/**
 * The honeypot's tables: one row per session (the classification and indicators whole in
 * `record`, the columns reports group on beside it) and one per event (connect, command,
 * close), so many sensors can write into one PostgreSQL.
 */
function v3(d: Dialect): string[] {
  return [
    `CREATE TABLE honeypot_sessions (
      id TEXT PRIMARY KEY,
      sensor TEXT NOT NULL,
      listener TEXT NOT NULL,
      persona TEXT NOT NULL,
      src_ip TEXT NOT NULL,
      src_port INTEGER NOT NULL,
      started_at ${TIME[d]} NOT NULL,
      ended_at ${TIME[d]},
      bytes_in ${BIGINT[d]} NOT NULL,
      bytes_out ${BIGINT[d]} NOT NULL,
      commands INTEGER NOT NULL,
      classes TEXT NOT NULL,
      record ${JSON_TYPE[d]} NOT NULL
    )`,
    "CREATE INDEX honeypot_sessions_started ON honeypot_sessions (started_at)",
    "CREATE INDEX honeypot_sessions_src ON honeypot_sessions (src_ip)",
    `CREATE TABLE honeypot_events (
      session_id TEXT NOT NULL,
      seq INTEGER NOT NULL,
      time ${TIME[d]} NOT NULL,
      kind TEXT NOT NULL,
      name TEXT,
      record ${JSON_TYPE[d]} NOT NULL,
      PRIMARY KEY (session_id, seq)
    )`,
  ];
}

/**
 * What the dashboard reads: a scan's rows in insertion order (`seq`: SQLite's rowid, a
 * PostgreSQL identity column), so a search pages through any filter with an index range; the
 * facts it filters on indexed; one host across scans; a running shard's progress; and audits.
 * SQLite's secondary indexes end in the rowid already, PostgreSQL's name `seq` last.
 */
function v4(d: Dialect): string[] {
  const seq = d === "sqlite" ? "" : ", seq";
  return [
    ...(d === "postgres"
      ? [
          "ALTER TABLE results ADD COLUMN seq BIGINT GENERATED ALWAYS AS IDENTITY",
          "CREATE INDEX results_scan_seq ON results (scan_id, seq)",
          "DROP INDEX results_scan_state",
          "CREATE INDEX results_scan_state ON results (scan_id, state, seq)",
          "DROP INDEX results_scan_product",
          "CREATE INDEX results_scan_product ON results (scan_id, product, version, seq)",
        ]
      : []),
    `CREATE INDEX results_scan_country ON results (scan_id, country${seq})`,
    `CREATE INDEX results_scan_asn ON results (scan_id, asn${seq})`,
    `CREATE INDEX results_scan_cloud ON results (scan_id, cloud_provider${seq})`,
    "CREATE INDEX results_ip ON results (ip, port)",
    `ALTER TABLE scan_shards ADD COLUMN progress ${JSON_TYPE[d]}`,
    `CREATE TABLE audits (
      id TEXT PRIMARY KEY,
      target TEXT NOT NULL,
      time ${TIME[d]} NOT NULL,
      worst TEXT,
      findings INTEGER NOT NULL,
      record ${JSON_TYPE[d]} NOT NULL
    )`,
    "CREATE INDEX audits_time ON audits (time)",
  ];
}

/**
 * Resume: each scan row keeps its step in the scan's permutation, so a resumed shard can drop
 * exactly the rows its checkpoint does not cover (they are probed again) and the store, the
 * JSONL file and the checkpoint agree by construction. Imports and streamed scans have none.
 */
function v5(d: Dialect): string[] {
  return [`ALTER TABLE results ADD COLUMN step ${BIGINT[d]}`];
}

/**
 * Audits: how many checks passed, failed and were not checked, so lists show at a glance an audit
 * that could not check everything (NULL in rows kept before: the dashboard counts their record).
 */
const v6 = [
  "ALTER TABLE audits ADD COLUMN passed INTEGER",
  "ALTER TABLE audits ADD COLUMN failed INTEGER",
  "ALTER TABLE audits ADD COLUMN not_checked INTEGER",
];

/**
 * What an attacker can do with each open server and the signs of compromise it shows (the
 * `attack` and `compromise` columns of RESULT_COLUMNS): reports count by them and the dashboard
 * filters on them. Only open servers have them, so the indexes are partial and small.
 */
function v7(d: Dialect): string[] {
  const seq = d === "sqlite" ? "" : ", seq";
  return [
    "ALTER TABLE results ADD COLUMN attack TEXT",
    "ALTER TABLE results ADD COLUMN compromise TEXT",
    `CREATE INDEX results_scan_attack ON results (scan_id, attack${seq}) WHERE attack IS NOT NULL`,
    `CREATE INDEX results_scan_compromise ON results (scan_id, compromise${seq}) WHERE compromise IS NOT NULL`,
  ];
}

/**
 * Trends compare scans of the same target space, not of the same spelling of it: each scan keeps
 * the fingerprint of its target set (targets/fingerprint.ts), indexed for that lookup.
 */
const v8 = [
  "ALTER TABLE scans ADD COLUMN target_space TEXT",
  "CREATE INDEX scans_target_space ON scans (target_space)",
];

/**
 * The report's aggregates, kept as results are stored (store/aggregates.ts): counts per scan,
 * shard, dimension and key, and the rows a report lists examples of. The migration backfills
 * them from the rows already stored (each backend runs AGGREGATES_MIGRATION's backfill right
 * after this DDL, in the same transaction).
 */
function v9(d: Dialect): string[] {
  // PostgreSQL: byte order for ip, so the primary key reads examples in the order reports print.
  const ip = d === "postgres" ? 'TEXT COLLATE "C"' : "TEXT";
  return [
    `CREATE TABLE result_aggregates (
      scan_id TEXT NOT NULL REFERENCES scans(id),
      shard TEXT NOT NULL,
      dim TEXT NOT NULL,
      key TEXT NOT NULL,
      n ${BIGINT[d]} NOT NULL,
      PRIMARY KEY (scan_id, shard, dim, key)
    )`,
    `CREATE TABLE result_examples (
      scan_id TEXT NOT NULL REFERENCES scans(id),
      kind TEXT NOT NULL,
      ip ${ip} NOT NULL,
      port INTEGER NOT NULL,
      i INTEGER NOT NULL,
      shard TEXT NOT NULL,
      detail TEXT NOT NULL,
      PRIMARY KEY (scan_id, kind, ip, port, i)
    )`,
  ];
}

/** The migration whose DDL each backend follows with a backfill of the aggregates. */
export const AGGREGATES_MIGRATION = 9;

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "scans, shards and results",
    sql: { sqlite: v1("sqlite"), postgres: v1("postgres") },
  },
  { version: 2, name: "index of results with CVEs", sql: { sqlite: v2, postgres: v2 } },
  {
    version: 3,
    name: "honeypot sessions and events",
    sql: { sqlite: v3("sqlite"), postgres: v3("postgres") },
  },
  {
    version: 4,
    name: "dashboard: search order and indexes, host history, shard progress, audits",
    sql: { sqlite: v4("sqlite"), postgres: v4("postgres") },
  },
  {
    version: 5,
    name: "a scan row's step in the permutation (resume)",
    sql: { sqlite: v5("sqlite"), postgres: v5("postgres") },
  },
  {
    version: 6,
    name: "audits: checks passed, failed, not checked",
    sql: { sqlite: v6, postgres: v6 },
  },
  {
    version: 7,
    name: "open servers: attack verdicts and signs of compromise",
    sql: { sqlite: v7("sqlite"), postgres: v7("postgres") },
  },
  {
    version: 8,
    name: "scans: fingerprint of the target space (trends)",
    sql: { sqlite: v8, postgres: v8 },
  },
  {
    version: 9,
    name: "report aggregates per scan and shard, and example rows",
    sql: { sqlite: v9("sqlite"), postgres: v9("postgres") },
  },
];

export const SCHEMA_TABLE = "schema_migrations";

/** The migrations a database at version `at` still needs; a newer database is refused. */
export function pendingMigrations(at: number): Migration[] {
  const latest = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;
  if (at > latest) {
    throw new StoreOpenError(
      `the store is at schema version ${at}, newer than this redscope knows (${latest}): upgrade redscope`,
    );
  }
  return MIGRATIONS.filter((m) => m.version > at);
}
