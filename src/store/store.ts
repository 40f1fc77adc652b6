/**
 * The results store: one interface, two backends (SQLite embedded, PostgreSQL for many
 * machines). Every method is async so the two are interchangeable; SQLite's are synchronous
 * underneath.
 */

import type { AuditReport, AuditRow } from "../schema/audit.js";
import type { HoneypotEventRow, HoneypotSessionRow } from "../schema/honeypot.js";
import { GROUP_COLUMNS, type GroupColumn, type ProbeResult } from "../schema/result.js";
import type { AggregateCount, AggregateExample, AggregateReader } from "./aggregates.js";

/** What a scan (or an import) is, as recorded in `scans`. */
export interface ScanInfo {
  id: string;
  /** `scan`, or `import:redscope` / `import:zgrab2` / `import:shodan`. */
  source: string;
  startedAt: string;
  finishedAt?: string;
  /** Target specification as given (CIDRs, files, `-` for stdin). */
  targets: string;
  ports: string;
  seed?: string;
  /** N of `--shard I/N`; 1 for an unsharded scan. */
  shardCount: number;
  options: Record<string, unknown>;
  counts?: Record<string, number>;
  toolVersion: string;
  /**
   * Fingerprint of the scanned target set (targets/fingerprint.ts): scans with the same one
   * scanned the same space, and trends compare them. Absent for imports, streamed scans and
   * scans stored before it existed.
   */
  targetSpace?: string;
}

export interface ShardInfo {
  scanId: string;
  /** `I/N`. */
  shard: string;
  host?: string;
  startedAt: string;
  finishedAt?: string;
  counts?: Record<string, number>;
  /** A running shard's last report of itself. */
  progress?: ShardProgress;
}

/** How far a running shard is, written by the scan about once a second. */
export interface ShardProgress {
  /** Targets probed. */
  done: number;
  /** Targets in the shard (a streamed scan: known so far). */
  total: number;
  inFlight: number;
  elapsedMs: number;
  /** When it was written (ISO): a shard that stops writing has died. */
  updatedAt: string;
  counts: Record<string, number>;
}

/** The steps a resume checkpoint counts as finished: all below `watermark`, and `doneAbove`. */
export interface CheckpointCover {
  watermark: number;
  doneAbove: readonly number[];
}

/** What the dashboard's search filters on; every field must hold (AND). */
export interface SearchFilter {
  state?: string;
  product?: string;
  version?: string;
  /** Any of these (product, version) pairs: how a CVE becomes a filter. */
  versions?: ReadonlyArray<{ product: string | null; version: string | null }>;
  country?: string;
  asn?: number;
  cloud?: string;
  /** A substring of the record (case-insensitive for ASCII). */
  text?: string;
  /** Any of these `attack` column values (see attackColumnValues). */
  attack?: readonly string[];
  /** Any of these `compromise` column values (see compromiseColumnValues). */
  compromise?: readonly string[];
}

export interface ResultQuery {
  scanId: string;
  state?: string;
  /** Any of these states (with `state`, both must hold). */
  states?: readonly string[];
  /** Only results that carry at least one CVE. */
  withCves?: boolean;
  /** Only open results and results that carry a CVE (either): what a report reads whole. */
  openOrCves?: boolean;
  /** Only results showing signs of compromise. */
  compromised?: boolean;
  shard?: string;
  /** At most this many rows (all when absent). */
  limit?: number;
  /**
   * false: rows in whatever order the database finds cheapest (an aggregation does not care),
   * so a filter on an indexed column does not turn into a walk of the whole scan in ip order.
   */
  ordered?: boolean;
}

export interface GroupCount {
  /** The values of the grouped columns, in the order asked; null where a row has none. */
  key: Array<string | number | null>;
  n: number;
}

/** A target whose row differs between two scans (missing on one side, or another state/version). */
export interface DiffRow {
  ip: string;
  port: number;
  a?: { state: string; product?: string; version?: string };
  b?: { state: string; product?: string; version?: string };
}

/**
 * What a scan (or an import) writes: its record, its shards, its results in batches, its
 * progress (the dashboard's bar), and a resumed shard's rollback to its checkpoint.
 */
export interface ScanWriter {
  /**
   * Record a scan, or join one that exists (another shard of it, or a re-run). A scan id
   * that exists with other targets, ports, seed or shard count is refused (StoreConflictError).
   */
  beginScan(scan: ScanInfo): Promise<void>;
  beginShard(shard: ShardInfo): Promise<void>;
  /**
   * Insert results; a target the scan already holds keeps its row. `steps[i]` is results[i]'s
   * position in the scan's permutation (what a resume checkpoint counts in). Returns rows inserted.
   */
  insertResults(
    scanId: string,
    results: ProbeResult[],
    steps?: ReadonlyArray<number | undefined>,
  ): Promise<number>;
  /**
   * Take a resumed shard back to its checkpoint: delete the rows whose step the checkpoint does
   * not cover (stored after it was taken; the resumed run probes them again). Rows without a
   * step (imports, streamed scans) are kept. Returns the rows deleted.
   */
  rollbackShard(scanId: string, shard: string, cover: CheckpointCover): Promise<number>;
  /** Mark a shard finished; the scan is finished when all of its shards are. */
  finishShard(scanId: string, shard: string, counts: Record<string, number>): Promise<void>;
  /** Results per state, from the rows themselves (exact after a resume or a re-run). */
  stateCounts(scanId: string, shard?: string): Promise<Record<string, number>>;
  /** Results per NICER row (the records that have one), from the rows themselves. */
  nicerCounts(scanId: string, shard?: string): Promise<Record<string, number>>;
  listShards(scanId: string): Promise<ShardInfo[]>;
  /** A running shard's progress (the scan writes it about once a second). */
  recordShardProgress(scanId: string, shard: string, progress: ShardProgress): Promise<void>;
}

/** What reports read: scans, their counts grouped by facts, records, and diffs. */
export interface ReportReader extends AggregateReader {
  /**
   * The report's aggregates counted afresh from the rows (a GROUP BY over the scan and a read
   * of its open and CVE rows; slow), per shard: what the kept ones must equal.
   */
  recountAggregates(
    scanId: string,
  ): Promise<{ counts: AggregateCount[]; examples: AggregateExample[] }>;
  getScan(id: string): Promise<ScanInfo | undefined>;
  listScans(): Promise<ScanInfo[]>;
  listShards(scanId: string): Promise<ShardInfo[]>;
  /** Results per state, from the rows themselves (exact after a resume or a re-run). */
  stateCounts(scanId: string, shard?: string): Promise<Record<string, number>>;
  /** The records, in (ip, port) order. */
  results(query: ResultQuery): AsyncIterable<ProbeResult>;
  /** Row counts grouped by the given columns, largest first. */
  groupCounts(scanId: string, by: readonly GroupColumn[]): Promise<GroupCount[]>;
  /** Targets whose state or version differ between scans a and b, in (ip, port) order. */
  diff(a: string, b: string): AsyncIterable<DiffRow>;
}

/** What the dashboard's search reads: a scan's rows in insertion order, filtered and counted. */
export interface SearchReader {
  getScan(id: string): Promise<ScanInfo | undefined>;
  /** The first and last `seq` (insertion order) of a scan's rows; undefined when it has none. */
  scanSeqRange(scanId: string): Promise<{ min: number; max: number } | undefined>;
  /** Rows matching `f` with after < seq <= upTo, in seq order, at most `limit`. */
  searchResults(
    scanId: string,
    f: SearchFilter,
    window: { after: number; upTo: number },
    limit: number,
  ): Promise<Array<{ seq: number; result: ProbeResult }>>;
  /** Rows matching `f`, counted up to `cap` (a count past it reads as "at least cap"). */
  countResults(scanId: string, f: SearchFilter, cap: number): Promise<number>;
  /** The records (the versions a CVE's filter is built from). */
  results(query: ResultQuery): AsyncIterable<ProbeResult>;
  /** Every stored result for an address, across scans, newest first (at most `limit`). */
  hostResults(ip: string, limit: number): Promise<ProbeResult[]>;
  /** Rows per distinct value (the (product, version) pairs a version comparison picks from). */
  groupCounts(scanId: string, by: readonly GroupColumn[]): Promise<GroupCount[]>;
}

/** What the honeypot writes (sensors) and its report and the dashboard read. */
export interface HoneypotStore {
  /** Honeypot sessions: inserted when they start, replaced when they end (same id). */
  upsertHoneypotSessions(rows: HoneypotSessionRow[]): Promise<void>;
  /** Honeypot events; an event already stored (same session and seq) is kept. */
  insertHoneypotEvents(rows: HoneypotEventRow[]): Promise<number>;
  /** Sessions that started in [from, to) (ISO times), oldest first. */
  honeypotSessions(range?: { from?: string; to?: string }): AsyncIterable<HoneypotSessionRow>;
  /** A session's events in order; the first `limit` when given (a visitor decides how many). */
  honeypotEvents(sessionId: string, limit?: number): Promise<HoneypotEventRow[]>;
  /** Honeypot sessions, newest first, started before `before` (ISO) when given. */
  recentHoneypotSessions(limit: number, before?: string): Promise<HoneypotSessionRow[]>;
  getHoneypotSession(id: string): Promise<HoneypotSessionRow | undefined>;
}

/** Audit reports (`redscope audit --db`), kept and listed. */
export interface AuditStore {
  saveAudit(row: AuditRow): Promise<void>;
  /** Audits, newest first. */
  listAudits(limit: number): Promise<AuditRow[]>;
  getAudit(id: string): Promise<AuditRow | undefined>;
}

/**
 * The results store: one interface, two backends (SQLite embedded, PostgreSQL for many
 * machines). Each consumer depends on the part it uses.
 */
export interface Store extends ScanWriter, ReportReader, SearchReader, HoneypotStore, AuditStore {
  readonly kind: "sqlite" | "postgres";
  /** Path, or the URL without its password: safe to print. */
  readonly location: string;
  /** The migration version the database is at. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}

/** The store refused a write that contradicts what it holds; the message says what to do. */
export class StoreConflictError extends Error {}

/** Problems opening a store (bad path, unreachable server, newer schema): one line for the user. */
export class StoreOpenError extends Error {}

/**
 * The store's file is damaged (SQLite found a page or header it cannot read): the one line names
 * the file and how to check it. Nothing is deleted or rewritten to get past it.
 */
export class StoreDamagedError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(
      `the SQLite store ${file} is damaged (${detail}): check it with sqlite3 ${shellWord(file)} 'PRAGMA integrity_check'`,
    );
  }
}

/** `s` as one word of a shell command. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/** The identity of a scan: two runs may share an id only when these agree. */
export function sameScan(a: ScanInfo, b: ScanInfo): string | undefined {
  if (a.targets !== b.targets) return "targets";
  if (a.ports !== b.ports) return "ports";
  if ((a.seed ?? "") !== (b.seed ?? "")) return "seed";
  if (a.shardCount !== b.shardCount) return "shard count";
  if (a.source !== b.source) return "source";
  // Workers of one scan given different target files would mix two spaces under one id.
  if (a.targetSpace !== undefined && b.targetSpace !== undefined && a.targetSpace !== b.targetSpace)
    return "target space (the targets, after excludes and the blocklist)";
  return undefined;
}

export function conflictMessage(id: string, field: string): string {
  return `scan id ${id} already exists in the store with different ${field}; choose another --scan-id`;
}

type Row = Record<string, unknown>;

/** How a backend's column values read back: timestamps and JSON differ between the two. */
export interface RowDecoder {
  time(v: unknown): string;
  json<T>(v: unknown): T | undefined;
}

export function scanFromRow(row: Row, d: RowDecoder): ScanInfo {
  const s: ScanInfo = {
    id: String(row.id),
    source: String(row.source),
    startedAt: d.time(row.started_at),
    targets: String(row.targets),
    ports: String(row.ports),
    shardCount: Number(row.shard_count),
    options: d.json<Record<string, unknown>>(row.options) ?? {},
    toolVersion: String(row.tool_version),
  };
  if (row.finished_at != null) s.finishedAt = d.time(row.finished_at);
  if (row.seed != null) s.seed = String(row.seed);
  if (row.target_space != null) s.targetSpace = String(row.target_space);
  const counts = d.json<Record<string, number>>(row.counts);
  if (counts) s.counts = counts;
  return s;
}

export function shardFromRow(row: Row, d: RowDecoder): ShardInfo {
  const s: ShardInfo = {
    scanId: String(row.scan_id),
    shard: String(row.shard),
    startedAt: d.time(row.started_at),
  };
  if (row.host != null) s.host = String(row.host);
  if (row.finished_at != null) s.finishedAt = d.time(row.finished_at);
  const counts = d.json<Record<string, number>>(row.counts);
  if (counts) s.counts = counts;
  const progress = d.json<ShardProgress>(row.progress);
  if (progress) s.progress = progress;
  return s;
}

/** What differs between the backends' search SQL. */
export interface SearchDialect {
  placeholder: (n: number) => string;
  /** A case-insensitive LIKE of the record as text, for a placeholder. */
  recordLike: (p: string) => string;
}

/** `%x%` for LIKE, with the pattern characters of x taken literally (ESCAPE '\\'). */
export function likePattern(x: string): string {
  return `%${x.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The filter names a fact the results table has an index for (beside the scan id). */
export function indexedFilter(f: SearchFilter): boolean {
  return (
    f.state !== undefined ||
    f.product !== undefined ||
    f.country !== undefined ||
    f.asn !== undefined ||
    f.cloud !== undefined ||
    f.versions !== undefined ||
    f.attack !== undefined ||
    f.compromise !== undefined
  );
}

/** The WHERE clause of a search; `args` start with the scan id. */
export function searchFilterSql(
  scanId: string,
  f: SearchFilter,
  d: SearchDialect,
): { where: string[]; args: unknown[] } {
  const args: unknown[] = [scanId];
  const where = [`scan_id = ${d.placeholder(1)}`];
  const p = (v: unknown): string => {
    args.push(v);
    return d.placeholder(args.length);
  };
  const eq: Array<[string, unknown]> = [
    ["state", f.state],
    ["product", f.product],
    ["version", f.version],
    ["country", f.country],
    ["asn", f.asn],
    ["cloud_provider", f.cloud],
  ];
  for (const [col, v] of eq) if (v !== undefined) where.push(`${col} = ${p(v)}`);
  if (f.versions !== undefined) {
    // One term per product, its versions as an IN list: each term is one range of the
    // (product, version) index, where a term per pair makes planners give up on it.
    const byProduct = new Map<string | null, Set<string | null>>();
    for (const x of f.versions) {
      const set = byProduct.get(x.product) ?? new Set();
      set.add(x.version);
      byProduct.set(x.product, set);
    }
    const terms = [...byProduct].map(([product, versions]) => {
      // Placeholders in the order they appear: the product's first.
      const productSql = product === null ? "product IS NULL" : `product = ${p(product)}`;
      const known = [...versions].filter((v): v is string => v !== null);
      const vs = [
        ...(known.length > 0 ? [`version IN (${known.map((v) => p(v)).join(", ")})`] : []),
        ...(versions.has(null) ? ["version IS NULL"] : []),
      ];
      return `(${productSql} AND (${vs.join(" OR ")}))`;
    });
    where.push(terms.length > 0 ? `(${terms.join(" OR ")})` : "FALSE");
  }
  // Fixed lists of short values, each an index range of the partial indexes (v6).
  for (const [col, values] of [
    ["attack", f.attack],
    ["compromise", f.compromise],
  ] as const) {
    if (values === undefined) continue;
    where.push(values.length > 0 ? `${col} IN (${values.map((v) => p(v)).join(", ")})` : "FALSE");
  }
  if (f.text !== undefined && f.text !== "") where.push(d.recordLike(p(likePattern(f.text))));
  return { where, args };
}

export function auditFromRow(row: Row, d: RowDecoder): AuditRow {
  const out: AuditRow = {
    id: String(row.id),
    target: String(row.target),
    time: d.time(row.time),
    findings: Number(row.findings),
    // Read back as stored; its readers still check its shape (the strings came from servers).
    record: d.json<AuditReport>(row.record) ?? { target: "", findings: [], notChecked: [] },
  };
  if (row.worst != null) out.worst = String(row.worst);
  if (row.passed != null) out.passed = Number(row.passed);
  if (row.failed != null) out.failed = Number(row.failed);
  if (row.not_checked != null) out.notChecked = Number(row.not_checked);
  return out;
}

/** Both backends build the same WHERE clause; only the placeholder syntax differs. */
export function resultFilter(
  q: ResultQuery,
  placeholder: (n: number) => string,
): { where: string[]; args: unknown[] } {
  const args: unknown[] = [q.scanId];
  const where = [`scan_id = ${placeholder(1)}`];
  const add = (sql: (p: string) => string, v: unknown): void => {
    args.push(v);
    where.push(sql(placeholder(args.length)));
  };
  if (q.state !== undefined) add((p) => `state = ${p}`, q.state);
  if (q.shard !== undefined) add((p) => `shard = ${p}`, q.shard);
  if (q.states !== undefined) {
    const ps = q.states.map((st) => {
      args.push(st);
      return placeholder(args.length);
    });
    where.push(ps.length > 0 ? `state IN (${ps.join(", ")})` : "FALSE");
  }
  if (q.withCves) where.push("cve_count > 0");
  if (q.openOrCves) where.push("(state = 'open' OR cve_count > 0)");
  if (q.compromised) where.push("compromise IS NOT NULL");
  return { where, args };
}

export function checkGroupColumns(by: readonly GroupColumn[]): void {
  for (const c of by) {
    if (!(GROUP_COLUMNS as readonly string[]).includes(c))
      throw new Error(`not a group column: ${c}`);
  }
}

/** DiffRow from the joined columns (a_state, a_product, …), as both backends select them. */
export function diffRow(r: Record<string, unknown>): DiffRow {
  const side = (p: "a" | "b"): DiffRow["a"] => {
    const state = r[`${p}_state`];
    if (state == null) return undefined;
    const out: NonNullable<DiffRow["a"]> = { state: String(state) };
    if (r[`${p}_product`] != null) out.product = String(r[`${p}_product`]);
    if (r[`${p}_version`] != null) out.version = String(r[`${p}_version`]);
    return out;
  };
  const row: DiffRow = { ip: String(r.ip), port: Number(r.port) };
  const a = side("a");
  const b = side("b");
  if (a) row.a = a;
  if (b) row.b = b;
  return row;
}

/**
 * The diff as one FULL OUTER JOIN of the two scans' rows; `distinct` is the dialect's
 * null-safe inequality (SQLite `IS NOT`, PostgreSQL `IS DISTINCT FROM`).
 */
export function diffSql(p1: string, p2: string, distinct: string, collate: string): string {
  const side = (alias: string, param: string): string =>
    `(SELECT ip, port, state, product, version FROM results WHERE scan_id = ${param}) ${alias}`;
  return `SELECT coalesce(a.ip, b.ip) AS ip, coalesce(a.port, b.port) AS port,
      a.state AS a_state, a.product AS a_product, a.version AS a_version,
      b.state AS b_state, b.product AS b_product, b.version AS b_version
    FROM ${side("a", p1)} FULL OUTER JOIN ${side("b", p2)} ON a.ip = b.ip AND a.port = b.port
    WHERE a.ip IS NULL OR b.ip IS NULL OR a.state ${distinct} b.state OR a.version ${distinct} b.version
    ORDER BY coalesce(a.ip, b.ip)${collate}, coalesce(a.port, b.port)`;
}

export function honeypotSessionFromRow(
  row: Record<string, unknown>,
  d: RowDecoder,
): HoneypotSessionRow {
  const out: HoneypotSessionRow = {
    id: String(row.id),
    sensor: String(row.sensor),
    listener: String(row.listener),
    persona: String(row.persona),
    srcIp: String(row.src_ip),
    srcPort: Number(row.src_port),
    startedAt: d.time(row.started_at),
    bytesIn: Number(row.bytes_in),
    bytesOut: Number(row.bytes_out),
    commands: Number(row.commands),
    classes: String(row.classes),
    // Read back as stored; its readers still check its shape (the strings came from visitors).
    record: d.json<HoneypotSessionRow["record"]>(row.record) ?? {},
  };
  if (row.ended_at != null) out.endedAt = d.time(row.ended_at);
  return out;
}

export function honeypotEventFromRow(
  row: Record<string, unknown>,
  d: RowDecoder,
): HoneypotEventRow {
  const out: HoneypotEventRow = {
    sessionId: String(row.session_id),
    seq: Number(row.seq),
    time: d.time(row.time),
    kind: String(row.kind),
    record: d.json<Record<string, unknown>>(row.record) ?? {},
  };
  if (row.name != null) out.name = String(row.name);
  return out;
}
