/**
 * What a report says, computed from the store: the NICER state table and redscope's finer one,
 * the version table cut at a coverage threshold, clouds / ASNs / countries per state, exposure
 * facts (roles, replication pointing elsewhere, CVEs, end-of-life branches), trends across scans
 * of the same targets, and the diff of two scans. Renderers only format this; they compute
 * nothing. Everything counted comes from the store's aggregates (store/aggregates.ts), kept as
 * results are stored: a report reads a few hundred small rows whatever the size of the scan.
 * `recount` builds the same report from the rows themselves (the slow path, to check them).
 */
import type { GroupColumn, State } from "../schema/result.js";
import {
  type AggregateCount,
  type AggregateReader,
  AggregateSnapshot,
  DIMENSIONS,
  REPLICATION_EXAMPLE,
  type ReplicationLeak,
} from "../store/aggregates.js";
import type { DiffRow, ReportReader, ScanInfo } from "../store/index.js";
import { type AttackSummary, attackSummary } from "./attack.js";
import { eolBranch } from "./eol.js";
import { type NicerCounts, nicerCounts } from "./nicer.js";
import type { Reference } from "./reference.js";

export type { StateRow } from "./nicer.js";

export interface ReportOptions {
  /** Cut the version table where the cumulative share reaches this percentage. */
  coverage: number;
  /** Rows kept in the cloud, ASN, country, CVE and leak tables. */
  top: number;
  /** Published figures to print beside this scan's (`--reference`). */
  reference?: Reference;
}

export const DEFAULT_REPORT_OPTIONS: ReportOptions = { coverage: 90, top: 20 };

export interface VersionRow {
  version: string;
  count: number;
  percent: number;
  cumulative: number;
}

export interface ProductVersions {
  product: string;
  /** Servers of this product with a known version. */
  total: number;
  rows: VersionRow[];
  /** What the coverage cut left out. */
  omitted: { versions: number; count: number };
}

export interface PlaceRow {
  /** provider / region / service, or ASN and organisation, or country. */
  key: string[];
  total: number;
  byState: Partial<Record<State, number>>;
}

export { FACT_COLUMNS, replicationLeak } from "../store/aggregates.js";
export type { ReplicationLeak };

export interface Exposure {
  openByRole: Array<{ role: string; count: number }>;
  replication: { count: number; examples: ReplicationLeak[] };
  cves: Array<{ id: string; cvss?: number; servers: number }>;
  /** Servers whose CVE list is by upstream version of a distribution build / told by HELLO alone. */
  cveCaveats?: { backportsPossible: number; ambiguous: number };
  worstCvss: Array<{ band: string; servers: number }>;
  eol: Array<{ product: string; branch: string; lastRelease: string; servers: number }>;
}

export interface TrendPoint {
  scanId: string;
  startedAt: string;
  counts: Record<string, number>;
}

export interface DiffReport {
  a: string;
  b: string;
  summary: {
    newlyOpen: number;
    remediated: number;
    changedState: number;
    changedVersion: number;
    appeared: number;
    disappeared: number;
  };
  /** The first rows, in (ip, port) order; `truncated` when there were more. */
  rows: Array<DiffRow & { change: DiffChange }>;
  truncated: boolean;
}

export type DiffChange =
  | "newly_open"
  | "remediated"
  | "changed_state"
  | "changed_version"
  | "appeared"
  | "disappeared";

/** The NICER rows and redscope's states (see nicer.ts), then every other table's facts. */
export interface Report extends NicerCounts {
  generatedAt: string;
  scan: ScanInfo;
  versions: { coverage: number; products: ProductVersions[] };
  clouds: PlaceRow[];
  asns: PlaceRow[];
  countries: PlaceRow[];
  exposure: Exposure;
  /** Open servers by what an attacker can do, and those showing signs of compromise. */
  attack: AttackSummary;
  trends: TrendPoint[];
  diff?: DiffReport;
  /** Published figures printed beside this scan's. */
  reference?: Reference;
}

const pct = (n: number, total: number): number => (total > 0 ? (100 * n) / total : 0);

/**
 * The report of a scan, from the store's aggregates; with `recount`, from its rows (one GROUP BY
 * over the fact columns and one read of the open and CVE rows: what every report did before the
 * aggregates, and what they must equal).
 */
export async function buildReport(
  store: ReportReader,
  scan: ScanInfo,
  opts: ReportOptions = DEFAULT_REPORT_OPTIONS,
  how: { recount?: boolean } = {},
): Promise<Report> {
  const id = scan.id;
  let source: AggregateReader = store;
  if (how.recount) {
    const r = await store.recountAggregates(id);
    source = new AggregateSnapshot(r.counts, r.examples);
  }
  const all = await source.aggregateCounts(id);
  const facts = new Facts(all);
  const counts = nicerCounts({
    states: Object.fromEntries(firstOf(facts.sum(["state"]))),
    nicer: Object.fromEntries(firstOf(facts.sum(["nicer"]))),
  });

  return {
    generatedAt: new Date().toISOString(),
    scan,
    ...counts,
    versions: { coverage: opts.coverage, products: versionTable(facts, opts.coverage) },
    clouds: places(facts, ["cloud_provider", "cloud_region", "cloud_service"], opts.top),
    asns: places(facts, ["asn", "as_org"], opts.top),
    countries: places(facts, ["country"], opts.top),
    exposure: await exposure(source, id, facts, opts.top),
    attack: await attackSummary(source, id, facts.sum(["state", "attack", "compromise"])),
    trends: await trends(store, scan),
    ...(opts.reference ? { reference: opts.reference } : {}),
  };
}

/** A one-column sum as (value, count) pairs, nulls left out. */
function firstOf(sums: Map<Key, number>): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [k, n] of sums) {
    const [v] = JSON.parse(k) as Array<string | null>;
    if (v != null) out.push([String(v), n]);
  }
  return out;
}

type Key = string;
const key = (values: ReadonlyArray<string | number | null>): Key => JSON.stringify(values);

/** The aggregates, each summed down to the columns a table asks for. */
class Facts {
  private readonly byDim = new Map<
    string,
    Array<{ key: Array<string | number | null>; n: number }>
  >();
  constructor(counts: readonly AggregateCount[]) {
    for (const c of counts) {
      const list = this.byDim.get(c.dim) ?? [];
      list.push({ key: JSON.parse(c.key) as Array<string | number | null>, n: c.n });
      this.byDim.set(c.dim, list);
    }
  }

  /** A record dimension's (cve, cve_caveat, replication) rows as they are. */
  rows(dim: string): Array<{ key: Array<string | number | null>; n: number }> {
    return this.byDim.get(dim) ?? [];
  }

  /**
   * Counts per distinct value of `columns` (a JSON key of the values, nulls included), from the
   * smallest dimension that has them all.
   */
  sum(columns: readonly GroupColumn[]): Map<Key, number> {
    const dims = Object.entries(DIMENSIONS)
      .filter(([, cols]) => columns.every((c) => cols.includes(c)))
      .sort((a, b) => a[1].length - b[1].length);
    const found = dims[0];
    if (!found) throw new Error(`no aggregate has ${columns.join(", ")}`);
    const [dim, cols] = found;
    const idx = columns.map((c) => cols.indexOf(c));
    const out = new Map<Key, number>();
    for (const g of this.rows(dim)) {
      const k = key(idx.map((i) => g.key[i] ?? null));
      out.set(k, (out.get(k) ?? 0) + g.n);
    }
    return out;
  }
}

function versionTable(facts: Facts, coverage: number): ProductVersions[] {
  const byProduct = new Map<string, Array<{ version: string; count: number }>>();
  for (const [k, n] of facts.sum(["product", "version"])) {
    const [product, version] = JSON.parse(k) as Array<string | null>;
    if (product == null || version == null) continue;
    const list = byProduct.get(product) ?? [];
    list.push({ version, count: n });
    byProduct.set(product, list);
  }
  const out: ProductVersions[] = [];
  for (const [product, list] of byProduct) {
    list.sort((a, b) => b.count - a.count || compareVersions(b.version, a.version));
    const total = list.reduce((a, v) => a + v.count, 0);
    const rows: VersionRow[] = [];
    let running = 0;
    for (const v of list) {
      // Cut after the row that reaches the threshold: "thirty of them cover 90%".
      if (rows.length > 0 && pct(running, total) >= coverage) break;
      running += v.count;
      rows.push({
        version: v.version,
        count: v.count,
        percent: pct(v.count, total),
        cumulative: pct(running, total),
      });
    }
    out.push({
      product,
      total,
      rows,
      omitted: { versions: list.length - rows.length, count: total - running },
    });
  }
  return out.sort((a, b) => b.total - a.total);
}

/** Numeric-aware comparison of dotted versions, for stable tie order. */
function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

function places(facts: Facts, columns: GroupColumn[], top: number): PlaceRow[] {
  const rows = new Map<string, PlaceRow>();
  for (const [k, n] of facts.sum([...columns, "state"])) {
    const values = JSON.parse(k) as Array<string | number | null>;
    const placeKey = values.slice(0, columns.length);
    // Rows with none of the place columns are addresses the intel knows nothing about.
    if (placeKey[0] == null) continue;
    const label = placeKey.map((v) => (v == null ? "" : String(v)));
    const id = JSON.stringify(label);
    const row = rows.get(id) ?? { key: label, total: 0, byState: {} };
    const st = String(values[columns.length]) as State;
    row.byState[st] = (row.byState[st] ?? 0) + n;
    row.total += n;
    rows.set(id, row);
  }
  return [...rows.values()].sort((a, b) => b.total - a.total).slice(0, top);
}

const CVSS_BANDS: Array<[string, number]> = [
  ["critical (9.0–10)", 9],
  ["high (7.0–8.9)", 7],
  ["medium (4.0–6.9)", 4],
  ["low (0.1–3.9)", 0.1],
];

async function exposure(
  store: AggregateReader,
  scanId: string,
  facts: Facts,
  top: number,
): Promise<Exposure> {
  const openByRole: Exposure["openByRole"] = [];
  for (const [k, n] of facts.sum(["state", "role"])) {
    const [state, role] = JSON.parse(k) as Array<string | null>;
    if (state === "open") openByRole.push({ role: role ?? "unknown", count: n });
  }
  openByRole.sort((a, b) => b.count - a.count || (a.role < b.role ? -1 : 1));

  // What only records tell (CVE ids, caveats, replication pointing elsewhere) is counted
  // as they are stored; the replication examples are the first rows of their own table.
  const cves = new Map<string, { id: string; cvss?: number; servers: number }>();
  for (const { key: k, n } of facts.rows("cve")) {
    const [cveId, cvss] = k;
    const e = cves.get(String(cveId)) ?? { id: String(cveId), servers: 0 };
    // One id has one score; should two records disagree, the higher is said.
    if (typeof cvss === "number" && (e.cvss === undefined || cvss > e.cvss)) e.cvss = cvss;
    e.servers += n;
    cves.set(e.id, e);
  }
  const caveats = { backportsPossible: 0, ambiguous: 0 };
  for (const { key: k, n } of facts.rows("cve_caveat")) {
    if (k[0] === "backports_possible") caveats.backportsPossible += n;
    if (k[0] === "ambiguous") caveats.ambiguous += n;
  }
  const leakCount = facts.rows("replication").reduce((a, r) => a + r.n, 0);
  const examples: ReplicationLeak[] = [];
  for (const e of await store.aggregateExamples(scanId, REPLICATION_EXAMPLE, top)) {
    const d = JSON.parse(e.detail) as { role?: unknown; pointsTo?: unknown };
    examples.push({
      ip: e.ip,
      port: e.port,
      role: typeof d.role === "string" ? d.role : "unknown",
      pointsTo: Array.isArray(d.pointsTo) ? d.pointsTo.map(String) : [],
    });
  }

  const worst = facts.sum(["max_cvss"]);
  const worstCvss = CVSS_BANDS.map(([band, floor], i) => {
    const ceiling = i === 0 ? Number.POSITIVE_INFINITY : (CVSS_BANDS[i - 1]?.[1] ?? 0);
    let servers = 0;
    for (const [k, n] of worst) {
      const [v] = JSON.parse(k) as Array<number | null>;
      if (typeof v === "number" && v >= floor && v < ceiling) servers += n;
    }
    return { band, servers };
  }).filter((b) => b.servers > 0);

  const eol = new Map<string, Exposure["eol"][number]>();
  for (const [k, n] of facts.sum(["product", "version"])) {
    const [product, version] = JSON.parse(k) as Array<string | null>;
    if (product == null || version == null) continue;
    const branch = eolBranch(product, version);
    if (!branch) continue;
    const id = `${product} ${branch.branch}`;
    const e = eol.get(id) ?? {
      product,
      branch: branch.branch,
      lastRelease: branch.lastRelease,
      servers: 0,
    };
    e.servers += n;
    eol.set(id, e);
  }

  return {
    openByRole,
    replication: { count: leakCount, examples },
    cves: [...cves.values()]
      .sort(
        (a, b) => b.servers - a.servers || (b.cvss ?? 0) - (a.cvss ?? 0) || (a.id < b.id ? -1 : 1),
      )
      .slice(0, top),
    ...(caveats.backportsPossible + caveats.ambiguous > 0 ? { cveCaveats: caveats } : {}),
    worstCvss,
    eol: [...eol.values()].sort((a, b) => b.servers - a.servers),
  };
}

/**
 * Do two scans belong to one trend? Scans that both stored the fingerprint of their target space
 * compare by it (the same set of targets, however written or ordered); a scan stored without one
 * (an import, a streamed scan, an older store) compares by its targets and ports as written.
 */
export function sameTargetSpace(a: ScanInfo, b: ScanInfo): boolean {
  if (a.source !== b.source) return false;
  if (a.targetSpace !== undefined && b.targetSpace !== undefined) {
    return a.targetSpace === b.targetSpace;
  }
  return a.targets === b.targets && a.ports === b.ports;
}

/** Every scan of the same target space, oldest first: the series the trend chart draws. */
async function trends(store: ReportReader, scan: ScanInfo): Promise<TrendPoint[]> {
  const same = (await store.listScans()).filter((s) => sameTargetSpace(s, scan));
  const out: TrendPoint[] = [];
  for (const s of same) {
    out.push({
      scanId: s.id,
      startedAt: s.startedAt,
      counts: s.counts ?? (await store.stateCounts(s.id)),
    });
  }
  return out.sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : 0));
}

/** Rows listed in a diff report; the summary counts all of them. */
const MAX_DIFF_ROWS = 1000;

export async function buildDiff(store: ReportReader, a: string, b: string): Promise<DiffReport> {
  const summary = {
    newlyOpen: 0,
    remediated: 0,
    changedState: 0,
    changedVersion: 0,
    appeared: 0,
    disappeared: 0,
  };
  const rows: DiffReport["rows"] = [];
  let truncated = false;
  for await (const d of store.diff(a, b)) {
    const change = classifyChange(d);
    summary[CHANGE_KEY[change]]++;
    if (rows.length < MAX_DIFF_ROWS) rows.push({ ...d, change });
    else truncated = true;
  }
  return { a, b, summary, rows, truncated };
}

const CHANGE_KEY: Record<DiffChange, keyof DiffReport["summary"]> = {
  newly_open: "newlyOpen",
  remediated: "remediated",
  changed_state: "changedState",
  changed_version: "changedVersion",
  appeared: "appeared",
  disappeared: "disappeared",
};

/**
 * Open is the exposure that matters: becoming open, or ceasing to be, comes before any other
 * change. A target only one scan probed says nothing about the other: appeared / disappeared.
 */
export function classifyChange(d: DiffRow): DiffChange {
  if (!d.a) return "appeared";
  if (!d.b) return "disappeared";
  const wasOpen = d.a.state === "open";
  const isOpen = d.b.state === "open";
  if (isOpen && !wasOpen) return "newly_open";
  if (wasOpen && !isOpen) return "remediated";
  if (d.a.state !== d.b.state) return "changed_state";
  return "changed_version";
}
