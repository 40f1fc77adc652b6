/**
 * The results store: one interface, two backends (SQLite embedded, PostgreSQL for many
 * machines). Every method is async so the two are interchangeable; SQLite's are synchronous
 * underneath.
 */
import type { ProbeResult } from "../classify/result.js";

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
}

export interface ShardInfo {
  scanId: string;
  /** `I/N`. */
  shard: string;
  host?: string;
  startedAt: string;
  finishedAt?: string;
  counts?: Record<string, number>;
}

export interface ResultQuery {
  scanId: string;
  state?: string;
  shard?: string;
  /** At most this many rows (all when absent). */
  limit?: number;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** Path, or the URL without its password: safe to print. */
  readonly location: string;
  /**
   * Record a scan, or join one that exists (another shard of it, or a re-run). A scan id
   * that exists with other targets, ports, seed or shard count is refused (StoreConflictError).
   */
  beginScan(scan: ScanInfo): Promise<void>;
  beginShard(shard: ShardInfo): Promise<void>;
  /** Insert results; a target the scan already holds keeps its row. Returns rows inserted. */
  insertResults(scanId: string, results: ProbeResult[]): Promise<number>;
  /** Mark a shard finished; the scan is finished when all of its shards are. */
  finishShard(scanId: string, shard: string, counts: Record<string, number>): Promise<void>;
  /** Results per state, from the rows themselves (exact after a resume or a re-run). */
  stateCounts(scanId: string, shard?: string): Promise<Record<string, number>>;
  getScan(id: string): Promise<ScanInfo | undefined>;
  listScans(): Promise<ScanInfo[]>;
  listShards(scanId: string): Promise<ShardInfo[]>;
  /** The records, in (ip, port) order. */
  results(query: ResultQuery): AsyncIterable<ProbeResult>;
  /** The migration version the database is at. */
  schemaVersion(): Promise<number>;
  close(): Promise<void>;
}

/** The store refused a write that contradicts what it holds; the message says what to do. */
export class StoreConflictError extends Error {}

/** Problems opening a store (bad path, unreachable server, newer schema): one line for the user. */
export class StoreOpenError extends Error {}

/** The identity of a scan: two runs may share an id only when these agree. */
export function sameScan(a: ScanInfo, b: ScanInfo): string | undefined {
  if (a.targets !== b.targets) return "targets";
  if (a.ports !== b.ports) return "ports";
  if ((a.seed ?? "") !== (b.seed ?? "")) return "seed";
  if (a.shardCount !== b.shardCount) return "shard count";
  if (a.source !== b.source) return "source";
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
  return s;
}
