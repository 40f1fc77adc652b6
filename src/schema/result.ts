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
  cloud?: { provider: string; region?: string; service?: string };
  asn?: number;
  as_org?: string;
  country?: string;
  scan_id?: string;
  shard?: string;
}
