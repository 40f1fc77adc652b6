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
  /** Build facts INFO gives (`redis_git_sha1`, `redis_git_dirty`, `redis_build_id`, …). */
  git_sha1?: string;
  git_dirty?: number;
  build_id?: string;
  gcc_version?: string;
  multiplexing_api?: string;
  process_id?: number;
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
  /**
   * Key names an import carried (Shodan's `# Keys` section), bounded in count and length and
   * cleaned as untrusted text; a scan never reads keys (it sends no KEYS or SCAN).
   */
  keys?: string[];
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

/** What an attacker can do with an open server, as far as its version and build defaults tell. */
export const ATTACK_TECHNIQUES = [
  "config_write",
  "module_load",
  "rogue_master",
  "lua_cve",
] as const;
export type AttackTechnique = (typeof ATTACK_TECHNIQUES)[number];

export const TECHNIQUE_LABEL: Record<AttackTechnique, string> = {
  config_write: "file write (CONFIG SET dir/dbfilename)",
  module_load: "MODULE LOAD",
  rogue_master: "rogue-master replication (SLAVEOF/REPLICAOF)",
  lua_cve: "Lua CVEs of its version (EVAL)",
};

/** open: open to it by default; blocked: blocked by default; unknown: the facts do not tell. */
export const ATTACK_VERDICTS = ["open", "blocked", "unknown"] as const;
export type AttackVerdict = (typeof ATTACK_VERDICTS)[number];

export const VERDICT_LABEL: Record<AttackVerdict, string> = {
  open: "open to",
  blocked: "blocked by default",
  unknown: "unknown",
};

export interface AttackFact {
  technique: AttackTechnique;
  verdict: AttackVerdict;
  /** Why, from the facts (product, version, mode, build): never more than they give. */
  reason: string;
  /** What the technique leads to on this version, when it is open. */
  leads_to?: string;
  /** The Lua CVEs the verdict rests on (lua_cve only). */
  cves?: string[];
}

/** Signs of compromise visible in what the server said: indicators, never certainty. */
export const COMPROMISE_KINDS = [
  "malicious_module",
  "outside_master",
  "suspicious_path",
  "campaign_key",
] as const;
export type CompromiseKind = (typeof COMPROMISE_KINDS)[number];

export const COMPROMISE_LABEL: Record<CompromiseKind, string> = {
  malicious_module: "module named like a known malicious module",
  outside_master: "replica of an outside master",
  suspicious_path: "config file or executable in a suspicious place",
  campaign_key: "key names left by known campaigns",
};

export interface CompromiseIndicator {
  kind: CompromiseKind;
  /** What the server showed (its own words: untrusted text, cut). */
  evidence: string;
  /** Why it is an indicator, and what it may also be. */
  why: string;
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
  /** Connections tried (`scan --retries`): absent when the first one was answered. */
  attempts?: number;
  cves?: CveFact[];
  cve_verdict?: CveVerdictFacts;
  /** Open servers: each technique's verdict (enrichment; needs the version facts). */
  attack?: AttackFact[];
  /** Open servers: signs of compromise in what they showed; absent when there are none. */
  compromise?: CompromiseIndicator[];
  cloud?: { provider: string; region?: string; service?: string };
  asn?: number;
  as_org?: string;
  country?: string;
  scan_id?: string;
  shard?: string;
}

/**
 * `ip` of a record whose source probed a name and kept no address (zgrab2 run on a domain, with
 * no `ip` in its output and no `import --resolve` entry for the name): the name in parentheses,
 * `(cache.example.net)`; the name itself is in `hostname`. Why this form: the store's key is
 * (scan, ip, port) with ip NOT NULL, so ip must be present and must tell apart the names probed
 * on one port (an empty ip would merge them into one row, dropping all but the first); it must
 * never be taken for an address (a made-up one would be placed in a country and a cloud, and
 * could be scanned) nor for a name a scanner or resolver would accept — "(" is valid in
 * neither. So intel lookups find nothing, a diff of two imports still matches a name to itself,
 * and anything that reads ip as an address refuses it instead of guessing.
 */
export function unresolvedIp(name: string): string {
  return `(${name})`;
}

/** Whether `ip` is unresolvedIp's form (no address known), and the name it holds. */
export function unresolvedName(ip: string): string | undefined {
  return ip.length > 2 && ip.startsWith("(") && ip.endsWith(")") ? ip.slice(1, -1) : undefined;
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
 * The `attack` column: every technique's verdict in ATTACK_TECHNIQUES order, as
 * `config_write=open module_load=blocked …` — a few dozen distinct values, so reports count by
 * it and the dashboard filters on it through an index (see attackColumnValues).
 */
export function attackColumn(list: readonly AttackFact[] | undefined): string | null {
  if (!list || list.length === 0) return null;
  const by = new Map(list.map((a) => [a.technique, a.verdict] as const));
  return ATTACK_TECHNIQUES.map((t) => `${t}=${by.get(t) ?? "unknown"}`).join(" ");
}

/** Every `attack` column value in which `technique` has `verdict` (for an indexed IN filter). */
export function attackColumnValues(technique: AttackTechnique, verdict: AttackVerdict): string[] {
  let out: string[][] = [[]];
  for (const t of ATTACK_TECHNIQUES) {
    const vs = t === technique ? [verdict] : ATTACK_VERDICTS;
    out = out.flatMap((prefix) => vs.map((v) => [...prefix, `${t}=${v}`]));
  }
  return out.map((parts) => parts.join(" "));
}

/** The `compromise` column: the indicator kinds a result shows, in COMPROMISE_KINDS order. */
export function compromiseColumn(list: readonly CompromiseIndicator[] | undefined): string | null {
  if (!list || list.length === 0) return null;
  const kinds = new Set(list.map((c) => c.kind));
  return COMPROMISE_KINDS.filter((k) => kinds.has(k)).join(" ") || null;
}

/** Every `compromise` column value that includes `kind` (all of them when absent). */
export function compromiseColumnValues(kind?: CompromiseKind): string[] {
  const out: string[] = [];
  for (let mask = 1; mask < 1 << COMPROMISE_KINDS.length; mask++) {
    const kinds = COMPROMISE_KINDS.filter((_, i) => mask & (1 << i));
    if (kind === undefined || kinds.includes(kind)) out.push(kinds.join(" "));
  }
  return out;
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
  { name: "attack", type: "text", group: true, value: (x) => attackColumn(x.result.attack) },
  {
    name: "compromise",
    type: "text",
    group: true,
    value: (x) => compromiseColumn(x.result.compromise),
  },
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
