/**
 * The host list: one line per Redis-protocol server found (what `redscope scan` and `import`
 * print at their end, and `redscope report --hosts` prints for a stored scan), and the
 * per-result export (`report --hosts -f csv|jsonl`, the dashboard's /export) with one column
 * list for CSV and JSONL alike.
 *
 * The export's first columns carry the names Shadowserver's Open-Redis report (`scan_redis`)
 * uses where they mean the same thing, in its order, so pipelines built for those reports read
 * ours: <https://www.shadowserver.org/what-we-do/network-reporting/open-redis-report/>, field
 * list from The-Shadowserver-Foundation/report_schema `reports.json` ("scan_redis": timestamp,
 * severity, ip, protocol, port, hostname, tag, asn, geo, region, city, naics, hostname_source,
 * sector, version, git_sha1, git_dirty_flag, build_id, mode, os, architecture,
 * multiplexing_api, gcc_version, process_id, run_id, uptime, connected_clients). Those we have
 * no value for (severity, tag, region, city, naics, hostname_source, sector) are left out
 * rather than filled with guesses; redscope's own columns follow.
 */
import { stringify } from "csv-stringify/sync";
import { BACKPORTS_WORDING } from "../intel/cves.js";
import {
  attackColumn,
  compromiseColumn,
  NICER_ROW,
  type ProbeResult,
  STATES,
  type State,
} from "../schema/result.js";
import type { SearchReader } from "../store/index.js";
import { terminalText } from "../untrusted/text.js";

/** The states in which a Redis-protocol server answered: those the NICER study has a row for. */
export const REDIS_STATES: readonly State[] = STATES.filter((s) => NICER_ROW[s] !== undefined);

export function isRedisState(state: string): boolean {
  return (REDIS_STATES as readonly string[]).includes(state);
}

/** One line of the host list, as plain (untrusted) strings: the printer escapes them. */
export interface HostRow {
  host: string;
  state: string;
  server: string;
  detail: string;
  cves: string;
  where: string;
}

export const HOST_COLUMNS: ReadonlyArray<[keyof HostRow, string]> = [
  ["host", "host"],
  ["state", "state"],
  ["server", "server"],
  ["detail", "detail"],
  ["cves", "CVEs"],
  ["where", "where"],
];

/** `ip:port`, IPv6 in brackets (`[::1]:6379`), as nmap and URLs write it. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** An AS organisation in the list: long enough to tell, short enough for a line. */
const ORG_CHARS = 28;

function worstCvss(r: ProbeResult): number | undefined {
  let max: number | undefined;
  for (const c of r.cves ?? []) if (c.cvss !== undefined && (max ?? -1) < c.cvss) max = c.cvss;
  return max;
}

/**
 * `14, max CVSS 10` (count, worst CVSS); `0` for a judged version without CVEs; empty when
 * there was no version to judge. `(b)`: a distribution build, backports possible; `(a)`: the
 * product was told by HELLO alone — hostListLegend says so in the audit's words.
 */
function cveCell(r: ProbeResult): string {
  if (r.cves === undefined) return "";
  const max = worstCvss(r);
  let cell = String(r.cves.length);
  if (max !== undefined) cell += `, max CVSS ${max}`;
  const flags = [
    ...(r.cve_verdict?.backports_possible ? ["b"] : []),
    ...(r.cve_verdict?.ambiguous !== undefined ? ["a"] : []),
  ];
  return flags.length > 0 ? `${cell} (${flags.join(",")})` : cell;
}

/** The lines under a list that explain its CVE column, for what the listed results show. */
export function hostListLegend(results: readonly ProbeResult[]): string[] {
  if (!results.some((r) => r.cves !== undefined)) return [];
  const out = ["CVEs: known CVEs by version alone, and the worst CVSS among them"];
  if (results.some((r) => r.cve_verdict?.backports_possible)) out.push(`(b): ${BACKPORTS_WORDING}`);
  if (results.some((r) => r.cve_verdict?.ambiguous !== undefined))
    out.push("(a): ambiguous: may be another product (told by HELLO alone)");
  return out;
}

/** The list's line for one result. */
export function hostRow(r: ProbeResult): HostRow {
  const s = r.server;
  const product = s?.product !== undefined && s.product !== "unknown" ? s.product : "";
  const version = s?.version ?? (s?.version_hint !== undefined ? `~${s.version_hint}` : "");
  const where: string[] = [];
  if (r.country) where.push(r.country);
  if (r.asn !== undefined) where.push(`AS${r.asn}`);
  if (r.as_org) where.push(terminalText(r.as_org, ORG_CHARS));
  if (r.cloud) {
    where.push(
      [r.cloud.provider, r.cloud.region, r.cloud.service].filter((x) => x !== undefined).join("/"),
    );
  }
  return {
    host: `${hostPort(r.ip, r.port)}${r.transport === "tls" ? "/tls" : ""}`,
    state: r.state,
    server: [product, version].filter((x) => x !== "").join(" "),
    detail: r.detail ?? "",
    cves: cveCell(r),
    where: where.join(" "),
  };
}

/** Numeric order of addresses (IPv4 before IPv6), then port: the order a list is read in. */
export function compareHosts(a: ProbeResult, b: ProbeResult): number {
  const ka = addressKey(a.ip);
  const kb = addressKey(b.ip);
  return ka < kb ? -1 : ka > kb ? 1 : a.port - b.port;
}

function addressKey(ip: string): string {
  if (!ip.includes(":")) {
    const parts = ip.split(".").map((x) => Number(x).toString(16).padStart(2, "0"));
    return `4${parts.join("")}`;
  }
  return `6${ip}`;
}

/** The first servers of a scan's host list, and how many there are in all. */
export interface HostList {
  results: ProbeResult[];
  total: number;
}

/**
 * A scan's Redis-protocol servers: the count (from the store's per-state counts) and the first
 * `limit` of them by address (numeric order; never more than `limit` records are read).
 */
export async function firstHosts(
  store: SearchReader,
  scanId: string,
  limit: number,
): Promise<HostList> {
  let total = 0;
  for (const g of await store.groupCounts(scanId, ["state"])) {
    if (isRedisState(String(g.key[0]))) total += g.n;
  }
  if (total === 0 || limit <= 0) return { results: [], total };
  const results: ProbeResult[] = [];
  for await (const r of store.results({ scanId, states: REDIS_STATES, limit })) results.push(r);
  return { results: results.sort(compareHosts), total };
}

// ---------------------------------------------------------------------------------------------
// The per-result export

type Value = string | number | undefined;

export interface ExportColumn {
  name: string;
  value: (r: ProbeResult) => Value;
}

const joined = (xs: readonly string[] | undefined): string | undefined =>
  xs && xs.length > 0 ? xs.join(" ") : undefined;

/** The one column list of the per-result export (CSV header, JSONL keys), in order. */
export const EXPORT_COLUMNS: readonly ExportColumn[] = [
  // Shadowserver's Open-Redis names (see the comment at the top), in its order.
  { name: "timestamp", value: (r) => r.time },
  { name: "ip", value: (r) => r.ip },
  // Shadowserver's protocol is the transport layer: TLS runs over tcp too (see `transport`).
  { name: "protocol", value: () => "tcp" },
  { name: "port", value: (r) => r.port },
  { name: "hostname", value: (r) => r.hostname },
  { name: "asn", value: (r) => r.asn },
  { name: "geo", value: (r) => r.country },
  { name: "version", value: (r) => r.server?.version },
  { name: "git_sha1", value: (r) => r.server?.git_sha1 },
  { name: "git_dirty_flag", value: (r) => r.server?.git_dirty },
  { name: "build_id", value: (r) => r.server?.build_id },
  { name: "mode", value: (r) => r.server?.mode },
  { name: "os", value: (r) => r.server?.os },
  { name: "architecture", value: (r) => r.server?.arch_bits },
  { name: "multiplexing_api", value: (r) => r.server?.multiplexing_api },
  { name: "gcc_version", value: (r) => r.server?.gcc_version },
  { name: "process_id", value: (r) => r.server?.process_id },
  { name: "run_id", value: (r) => r.server?.run_id },
  { name: "uptime", value: (r) => r.server?.uptime_s },
  { name: "connected_clients", value: (r) => r.server?.connected_clients },
  // redscope's own.
  { name: "transport", value: (r) => r.transport },
  { name: "state", value: (r) => r.state },
  { name: "nicer", value: (r) => r.nicer },
  { name: "detail", value: (r) => r.detail },
  { name: "error", value: (r) => r.error },
  { name: "product", value: (r) => r.server?.product },
  { name: "redis_version", value: (r) => r.server?.redis_version },
  { name: "version_hint", value: (r) => r.server?.version_hint },
  { name: "version_source", value: (r) => r.server?.version_source },
  { name: "role", value: (r) => r.server?.role },
  { name: "master_host", value: (r) => r.server?.master_host },
  { name: "master_port", value: (r) => r.server?.master_port },
  { name: "replicas", value: (r) => r.server?.replicas?.length },
  { name: "used_memory", value: (r) => r.server?.used_memory },
  { name: "maxmemory", value: (r) => r.server?.maxmemory },
  { name: "mem_allocator", value: (r) => r.server?.mem_allocator },
  { name: "modules", value: (r) => joined(r.server?.modules?.map((m) => m.name)) },
  { name: "config_file", value: (r) => r.server?.config_file },
  { name: "executable", value: (r) => r.server?.executable },
  { name: "as_org", value: (r) => r.as_org },
  { name: "cloud_provider", value: (r) => r.cloud?.provider },
  { name: "cloud_region", value: (r) => r.cloud?.region },
  { name: "cloud_service", value: (r) => r.cloud?.service },
  { name: "cve_count", value: (r) => r.cves?.length },
  { name: "max_cvss", value: (r) => worstCvss(r) },
  { name: "cves", value: (r) => joined(r.cves?.map((c) => c.id)) },
  {
    name: "cve_caveat",
    value: (r) =>
      joined([
        ...(r.cve_verdict?.backports_possible ? ["backports_possible"] : []),
        ...(r.cve_verdict?.ambiguous !== undefined ? ["ambiguous"] : []),
      ]),
  },
  { name: "attack", value: (r) => attackColumn(r.attack) ?? undefined },
  { name: "compromise", value: (r) => compromiseColumn(r.compromise) ?? undefined },
  { name: "tls_subject", value: (r) => r.tls?.subject },
  { name: "tls_fingerprint_sha256", value: (r) => r.tls?.fingerprint_sha256 },
  { name: "rtt_ms", value: (r) => r.rtt_ms },
  { name: "scan_id", value: (r) => r.scan_id },
  { name: "shard", value: (r) => r.shard },
];

export const EXPORT_NAMES: readonly string[] = EXPORT_COLUMNS.map((c) => c.name);

/** A result as the export's object: the columns in order, absent values left out (as JSONL). */
export function exportRecord(r: ProbeResult): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const c of EXPORT_COLUMNS) {
    const v = c.value(r);
    if (v !== undefined) out[c.name] = v;
  }
  return out;
}

/**
 * A CSV cell: numbers stay numbers; text loses control characters (a CSV is read with cat and
 * less too), and a cell a spreadsheet would run as a formula (= + - @, tab, CR) gets a leading
 * apostrophe (OWASP's CSV injection advice). A lone "-" is no formula and stays.
 */
export function csvSafe(v: Value | null): string | number {
  if (v === undefined || v === null) return "";
  if (typeof v === "number") return Number.isFinite(v) ? v : "";
  const clean = terminalText(v, Number.POSITIVE_INFINITY);
  return /^[\t\r]/.test(v) || (clean.length > 1 && /^[=+\-@]/.test(clean)) ? `'${clean}` : clean;
}

/** Rows as RFC 4180 CSV (CRLF line ends), every cell through csvSafe. */
export function csvLines(rows: ReadonlyArray<ReadonlyArray<Value | null>>): string {
  if (rows.length === 0) return "";
  return stringify(
    rows.map((row) => row.map(csvSafe)),
    { record_delimiter: "windows" },
  );
}

/** The export's CSV header line. */
export function exportCsvHeader(): string {
  return csvLines([EXPORT_NAMES]);
}

/** Results as export CSV lines (no header). */
export function exportCsvRows(results: readonly ProbeResult[]): string {
  return csvLines(results.map((r) => EXPORT_COLUMNS.map((c) => c.value(r))));
}

/** Results as export JSONL lines. */
export function exportJsonl(results: readonly ProbeResult[]): string {
  let out = "";
  for (const r of results) out += `${JSON.stringify(exportRecord(r))}\n`;
  return out;
}
