import type { Column } from "./columns.js";

/**
 * The result record, schema version 1 (DESIGN.md "Result record"). Field names are the public
 * contract: JSONL lines, SQL tables, reports and the dashboard read exactly these. Absent facts
 * are omitted, never null-filled.
 */

export const SCHEMA_VERSION = 1;

/** Every probed (ip, port) gets exactly one state. */
export const STATES = [
  "open",
  "auth_required",
  "protected",
  "ip_restricted",
  "busy",
  "error",
  "not_redis",
  "silent",
  "closed",
  "timeout",
] as const;
export type State = (typeof STATES)[number];

/** The NICER report's row for each state (a fixed mapping; absent for states it did not count). */
export const NICER_ROW: Partial<Record<State, string>> = {
  auth_required: "Requires authentication",
  open: "Returned version",
  protected: "Running protected",
  error: "Encountered error",
  ip_restricted: "IP whitelisting",
  busy: "Reported busy",
};

export type Product =
  | "redis"
  | "valkey"
  | "keydb"
  | "dragonfly"
  | "garnet"
  | "msopentech"
  | "elasticache"
  | "unknown";

export interface ReplicaFact {
  ip: string;
  port?: number;
  state?: string;
}

export interface ModuleFact {
  name: string;
  ver?: string;
}

export interface ServerFacts {
  product?: Product;
  /** The product's own version (Valkey's valkey_version, Dragonfly's df-v…, KeyDB's, Redis's). */
  version?: string;
  /** What INFO said in redis_version (a compatibility value on Valkey, Dragonfly, Garnet). */
  redis_version?: string;
  /** Pre-auth evidence of the version era, for servers that did not run INFO for us. */
  version_hint?: string;
  /** Named forks/ports reveal their own version field; kept apart for reports. */
  valkey_version?: string;
  /**
   * Where product and version were read: INFO, or the HELLO map alone (INFO renamed, refused or
   * missing). HELLO alone can be faked by another product (Valkey answers as server=redis).
   */
  version_source?: "info" | "hello";
  mode?: string;
  os?: string;
  arch_bits?: number;
  role?: string;
  run_id?: string;
  uptime_s?: number;
  connected_clients?: number;
  used_memory?: number;
  maxmemory?: number;
  replicas?: ReplicaFact[];
  master_host?: string;
  master_port?: number;
  keyspace?: Record<string, { keys: number; expires: number }>;
  modules?: ModuleFact[];
  config_file?: string;
  executable?: string;
  /** 7.2+ `listenerN:` lines disclose bind addresses. */
  listeners?: string[];
  mem_allocator?: string;
  /** Protocol the server agreed to after HELLO (2 or 3). */
  proto?: number;
}

export interface TlsFacts {
  subject?: string;
  issuer?: string;
  valid_from?: string;
  valid_to?: string;
  sans?: string[];
  fingerprint_sha256?: string;
  protocol?: string;
  cipher?: string;
  self_signed?: boolean;
}

export interface CveFact {
  id: string;
  cvss?: number;
  fixed_in?: string;
  /** No release of the product fixes it (e.g. KeyDB's open Lua CVEs). */
  unfixed?: boolean;
}

/** What a CVE verdict rests on, where a reader must weigh it; absent when there is nothing to add. */
export interface CveVerdictFacts {
  /** The product was told by evidence another product can give (HELLO alone); the reason. */
  ambiguous?: string;
  /**
   * A distribution's package (executable under /usr/bin): judged by upstream version; the
   * distribution may have backported fixes without changing the version.
   */
  backports_possible?: boolean;
}

export interface ProbeResult {
  ip: string;
  port: number;
  transport: "tcp" | "tls";
  /** ISO 8601 time the probe started. */
  time: string;
  state: State;
  nicer?: string;
  /** Sub-reason: NOAUTH, DENIED, LOADING, MAXCLIENTS, NOPERM, http, ssh, tls, reset, … */
  detail?: string;
  /** First error line exactly as received, truncated. */
  error?: string;
  server?: ServerFacts;
  tls?: TlsFacts;
  /** Hostname the target was given as, when it was given as a name. */
  hostname?: string;
  /** Milliseconds from connect start to the end of the exchange. */
  rtt_ms?: number;
  cves?: CveFact[];
  cve_verdict?: CveVerdictFacts;
  cloud?: { provider: string; region?: string; service?: string };
  asn?: number;
  as_org?: string;
  country?: string;
  scan_id?: string;
  shard?: string;
}

/** What a `results` row is made of: the record, its scan, and its step in the permutation. */
export interface StoredResult {
  scanId: string;
  result: ProbeResult;
  /** Position in the scan's permutation (resume); absent for imports and streamed scans. */
  step?: number;
}

function worstCvss(r: ProbeResult): number | null {
  let max: number | null = null;
  for (const c of r.cves ?? []) if (c.cvss !== undefined && (max ?? -1) < c.cvss) max = c.cvss;
  return max;
}

/**
 * The `results` table: the record whole (`record`, JSON, always last) and, as columns, the facts
 * reports filter and group on. The SQL insert, PostgreSQL's array types and the report's group
 * columns are all derived from this one list.
 */
export const RESULT_COLUMNS = [
  { name: "scan_id", type: "text", value: (x) => x.scanId },
  { name: "ip", type: "text", value: (x) => x.result.ip },
  { name: "port", type: "int", value: (x) => x.result.port },
  { name: "transport", type: "text", group: true, value: (x) => x.result.transport },
  { name: "time", type: "time", value: (x) => x.result.time },
  { name: "state", type: "text", group: true, value: (x) => x.result.state },
  { name: "nicer", type: "text", group: true, value: (x) => x.result.nicer ?? null },
  { name: "detail", type: "text", group: true, value: (x) => x.result.detail ?? null },
  { name: "product", type: "text", group: true, value: (x) => x.result.server?.product ?? null },
  { name: "version", type: "text", group: true, value: (x) => x.result.server?.version ?? null },
  {
    name: "redis_version",
    type: "text",
    group: true,
    value: (x) => x.result.server?.redis_version ?? null,
  },
  { name: "role", type: "text", group: true, value: (x) => x.result.server?.role ?? null },
  { name: "mode", type: "text", group: true, value: (x) => x.result.server?.mode ?? null },
  { name: "os", type: "text", value: (x) => x.result.server?.os ?? null },
  { name: "country", type: "text", group: true, value: (x) => x.result.country ?? null },
  { name: "asn", type: "bigint", group: true, value: (x) => x.result.asn ?? null },
  { name: "as_org", type: "text", group: true, value: (x) => x.result.as_org ?? null },
  {
    name: "cloud_provider",
    type: "text",
    group: true,
    value: (x) => x.result.cloud?.provider ?? null,
  },
  { name: "cloud_region", type: "text", group: true, value: (x) => x.result.cloud?.region ?? null },
  {
    name: "cloud_service",
    type: "text",
    group: true,
    value: (x) => x.result.cloud?.service ?? null,
  },
  { name: "cve_count", type: "int", value: (x) => x.result.cves?.length ?? null },
  { name: "max_cvss", type: "real", group: true, value: (x) => worstCvss(x.result) },
  { name: "shard", type: "text", value: (x) => x.result.shard ?? null },
  { name: "step", type: "bigint", value: (x) => x.step ?? null },
  {
    name: "record",
    type: "json",
    value: (x) =>
      JSON.stringify(x.result.scan_id === x.scanId ? x.result : { ...x.result, scan_id: x.scanId }),
  },
] as const satisfies readonly Column<StoredResult>[];

export type ResultColumn = (typeof RESULT_COLUMNS)[number]["name"];

/** Columns a report may group on: the indexed facts of `results`, never free SQL. */
export type GroupColumn = Extract<(typeof RESULT_COLUMNS)[number], { group: true }>["name"];
export const GROUP_COLUMNS: readonly GroupColumn[] = RESULT_COLUMNS.flatMap((c) =>
  "group" in c ? [c.name] : [],
);

/** A result as the row values of RESULT_COLUMNS, in their order (the record as JSON text, last). */
export function resultRow(row: StoredResult): Array<string | number | null> {
  return RESULT_COLUMNS.map((c) => c.value(row));
}
