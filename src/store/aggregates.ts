/**
 * The report's aggregates, kept as results are stored (migration 9), so a report reads a few
 * hundred small rows whatever the size of the scan instead of re-reading the scan.
 *
 * Two tables, both per (scan, shard) so a resumed shard's rollback and a shard's own counts work,
 * and a report sums across shards:
 *   - `result_aggregates (scan_id, shard, dim, key, n)`: rows per value of each of the report's
 *     dimensions (DIMENSIONS: state, NICER row, role, worst CVSS, product/version, cloud, ASN,
 *     country, attack/compromise columns, each with the state where a table splits by it) and
 *     of what only the record holds (each CVE id, the CVE caveats, replication pointing
 *     elsewhere). `key` is the JSON array of the dimension's values. Each dimension is a
 *     projection, not the full tuple of every column: the full tuple's distinct values grow with
 *     the scan (ASN × version × country …), a projection's do not.
 *   - `result_examples (scan_id, shard, kind, ip, port, i, detail)`: the rows a report lists
 *     examples of (replication pointing elsewhere; each sign of compromise), whose first ones in
 *     (ip, port) order its primary key reads with a LIMIT.
 *
 * Maintained in app code, per batch, inside the store's insert transaction (SqliteStore and
 * PostgresStore.insertResults, in whatever thread or process writes): the batch is grouped in JS
 * by its fact tuple (a batch of 5,000 results has a few hundred distinct tuples), expanded to the
 * dimensions and upserted as deltas. Per-row SQL triggers would run a dozen upserts per row;
 * measured here, this costs a small fraction of the insert itself (README, "Store ingest"). Only
 * rows actually inserted count (a target the scan holds keeps its row: ON CONFLICT DO NOTHING),
 * and a rollback subtracts the rows it deletes in the same transaction. Deltas are written in
 * sorted key order, so concurrent writers of one shard in PostgreSQL lock in the same order.
 *
 * The same code folds a recount (the old GROUP BY over the columns and the read of the open and
 * CVE rows), which migration 9 uses to backfill existing scans and tests and `report --recount`
 * compare with.
 */
import {
  COMPROMISE_KINDS,
  type GroupColumn,
  type ProbeResult,
  RESULT_COLUMNS,
  type StoredResult,
} from "../schema/result.js";

/** Every column the report's counts come from; a recount groups by all of them at once. */
export const FACT_COLUMNS: GroupColumn[] = [
  "state",
  "nicer",
  "role",
  "max_cvss",
  "product",
  "version",
  "country",
  "asn",
  "as_org",
  "cloud_provider",
  "cloud_region",
  "cloud_service",
  "attack",
  "compromise",
];

/** The report's dimensions over columns: each one's counts are kept per (scan, shard, key). */
export const DIMENSIONS: Record<string, readonly GroupColumn[]> = {
  state: ["state"],
  nicer: ["nicer"],
  role: ["state", "role"],
  max_cvss: ["max_cvss"],
  version: ["product", "version"],
  cloud: ["cloud_provider", "cloud_region", "cloud_service", "state"],
  asn: ["asn", "as_org", "state"],
  country: ["country", "state"],
  attack: ["state", "attack", "compromise"],
};

/** Dimensions counted from the record: each CVE (key [id, cvss]), its caveats, replication. */
export const RECORD_DIMENSIONS = ["cve", "cve_caveat", "replication"] as const;

/** Example kinds: replication pointing elsewhere, and `compromise:KIND` per indicator kind. */
export const REPLICATION_EXAMPLE = "replication";
export const compromiseExample = (kind: string): string => `compromise:${kind}`;

export type FactValue = string | number | null;

/** One aggregate row: rows of `shard` (empty: none) with this dimension's key (JSON). */
export interface AggregateCount {
  shard: string;
  dim: string;
  key: string;
  n: number;
}

/** One example row: `i` numbers a record's several examples of one kind. */
export interface AggregateExample {
  shard: string;
  kind: string;
  ip: string;
  port: number;
  i: number;
  /** JSON (replication: {role, pointsTo}) or the indicator's evidence. */
  detail: string;
}

export interface ReplicationLeak {
  ip: string;
  port: number;
  role: string;
  /** Addresses the server names as its replicas or its master. */
  pointsTo: string[];
}

/**
 * An open server that names other machines: a master listing replicas, or a replica naming its
 * master (the NICER anecdote: replication carries the data to wherever those addresses are).
 */
export function replicationLeak(r: ProbeResult): ReplicationLeak | undefined {
  const s = r.server;
  if (!s) return undefined;
  const others = new Set<string>();
  for (const rep of s.replicas ?? []) {
    const addr = rep.port !== undefined ? `${rep.ip}:${rep.port}` : rep.ip;
    if (rep.ip && rep.ip !== r.ip) others.add(addr);
  }
  if (s.master_host && s.master_host !== r.ip) {
    others.add(s.master_port !== undefined ? `${s.master_host}:${s.master_port}` : s.master_host);
  }
  if (others.size === 0) return undefined;
  return { ip: r.ip, port: r.port, role: s.role ?? "unknown", pointsTo: [...others] };
}

/** Where each FACT_COLUMNS column sits in RESULT_COLUMNS (resultRow's values). */
export const FACT_INDEXES: readonly number[] = FACT_COLUMNS.map((name) =>
  RESULT_COLUMNS.findIndex((c) => c.name === name),
);
const SHARD_INDEX = RESULT_COLUMNS.findIndex((c) => c.name === "shard");
const FACT_VALUES = FACT_INDEXES.map(
  (i) => RESULT_COLUMNS[i]!.value as (x: StoredResult) => FactValue,
);

const IDENTITY: readonly number[] = FACT_COLUMNS.map((_, i) => i);

/**
 * A value in a map key: its type and length before it, so no string (a server's, with any
 * characters) can end one value and start the next.
 */
function encode(v: FactValue): string {
  if (v === null) return "|";
  const t = String(v);
  return `${typeof v === "number" ? "#" : "$"}${t.length}:${t}`;
}

/** Each dimension's columns as positions in FACT_COLUMNS. */
const DIMENSION_INDEXES: Array<[string, number[]]> = Object.entries(DIMENSIONS).map(
  ([dim, cols]) => [dim, cols.map((c) => FACT_COLUMNS.indexOf(c))],
);

/** Rows that a report reads whole in a recount: open ones and ones with CVEs. */
export const RECORD_ROWS_SQL = "(state = 'open' OR cve_count > 0)";

/**
 * Deltas of the aggregates, collected from rows added (+1) or removed (−1), then written in one
 * upsert. Rows are grouped by their fact tuple first (one string key per row), and each tuple
 * expanded to the dimensions once.
 */
export class AggregateDelta {
  /** (shard, dimension, values) → count; the key JSON made once per distinct entry. */
  private readonly entries = new Map<string, AggregateCount>();
  /** Per fact column, its values seen in this delta and their codes; the shards' likewise. */
  private readonly interned: Array<Map<FactValue, string>> = FACT_COLUMNS.map(() => new Map());
  private readonly shards = new Map<string, string>();
  /** CVE counts: shard → id → score → count (also listed in `cveList`). */
  private readonly cves = new Map<string, Map<string, Map<number | null, AggregateCount>>>();
  private readonly cveList: AggregateCount[] = [];
  /** Rows per distinct tuple of fact values (keyed by their codes). */
  private readonly tuples = new Map<
    string,
    { shard: string; codes: string[]; values: FactValue[]; n: number }
  >();
  readonly examples: AggregateExample[] = [];

  /** A result row's values as resultRow gives them (the insert already computed them). */
  addRow(row: readonly FactValue[], result: ProbeResult, sign: 1 | -1): void {
    const v = row[SHARD_INDEX];
    const shard = v == null ? "" : String(v);
    this.addFacts(shard, row, sign, FACT_INDEXES);
    this.addRecord(shard, result, sign);
  }

  /** A result, its columns computed as the insert computes them. */
  addResult(scanId: string, result: ProbeResult, sign: 1 | -1): void {
    const x: StoredResult = { scanId, result };
    this.addFacts(
      result.shard ?? "",
      FACT_VALUES.map((f) => f(x)),
      sign,
    );
    this.addRecord(result.shard ?? "", result, sign);
  }

  /**
   * `n` rows (negative: removed) with these FACT_COLUMNS values (`at`: where each of them is
   * in `values`; by default in order). Each value becomes a short code of this delta (its
   * column's n-th distinct value), and the row is counted under its whole tuple of codes: most
   * rows of a scan share their tuple with many others (an auth_required row is its place: ASN,
   * country, cloud), so a row costs one key of codes and one lookup, and each distinct tuple is
   * spread over the dimensions once, in counts().
   */
  addFacts(
    shard: string,
    values: readonly FactValue[],
    n: number,
    at: readonly number[] = IDENTITY,
  ): void {
    let k = this.shardCode(shard);
    const codes: string[] = [];
    for (let c = 0; c < IDENTITY.length; c++) {
      const v = values[at[c]!] ?? null;
      const known = this.interned[c]!;
      let code = known.get(v);
      if (code === undefined) {
        code = `${known.size},`;
        known.set(v, code);
      }
      codes.push(code);
      k += code;
    }
    const t = this.tuples.get(k);
    if (t) t.n += n;
    else {
      const tuple: FactValue[] = [];
      for (let c = 0; c < IDENTITY.length; c++) tuple.push(values[at[c]!] ?? null);
      this.tuples.set(k, { shard, codes, values: tuple, n });
    }
  }

  /** The distinct tuples counted into the dimensions (a dimension's key: its columns' codes). */
  private spread(): AggregateCount[] {
    const entries = new Map<string, AggregateCount>();
    for (const t of this.tuples.values()) {
      if (t.n === 0) continue;
      const shardCode = this.shardCode(t.shard);
      for (const [dim, idx] of DIMENSION_INDEXES) {
        let k = shardCode + dim;
        for (const i of idx) k += t.codes[i];
        const e = entries.get(k);
        if (e) e.n += t.n;
        else {
          const key = JSON.stringify(idx.map((i) => t.values[i] ?? null));
          entries.set(k, { shard: t.shard, dim, key, n: t.n });
        }
      }
    }
    return [...entries.values()];
  }

  private shardCode(shard: string): string {
    let code = this.shards.get(shard);
    if (code === undefined) {
      code = `${this.shards.size}:`;
      this.shards.set(shard, code);
    }
    return code;
  }

  /** A record dimension's key: the shard's code, the name, each value encoded (see encode). */
  private count(shard: string, dim: string, values: readonly FactValue[], n: number): void {
    let k = `${this.shardCode(shard)}${dim}=`;
    for (const v of values) k += encode(v);
    const e = this.entries.get(k);
    if (e) e.n += n;
    else this.entries.set(k, { shard, dim, key: JSON.stringify(values), n });
  }

  /** What only the record tells: CVEs, their caveats, replication and compromise examples. */
  addRecord(shard: string, r: ProbeResult, sign: 1 | -1): void {
    if (r.cves !== undefined && r.cves.length > 0) {
      if (r.cve_verdict?.backports_possible)
        this.count(shard, "cve_caveat", ["backports_possible"], sign);
      if (r.cve_verdict?.ambiguous !== undefined)
        this.count(shard, "cve_caveat", ["ambiguous"], sign);
      // The most frequent record facts (an old version carries dozens of CVEs): nested maps,
      // no key built per CVE.
      let byId = this.cves.get(shard);
      if (byId === undefined) {
        byId = new Map();
        this.cves.set(shard, byId);
      }
      for (const c of r.cves) {
        let byScore = byId.get(c.id);
        if (byScore === undefined) {
          byScore = new Map();
          byId.set(c.id, byScore);
        }
        const cvss = c.cvss ?? null;
        const e = byScore.get(cvss);
        if (e) e.n += sign;
        else {
          const key = JSON.stringify([c.id, cvss]);
          const entry = { shard, dim: "cve", key, n: sign as number };
          byScore.set(cvss, entry);
          this.cveList.push(entry);
        }
      }
    }
    if (r.state !== "open") return;
    const example = (kind: string, i: number, detail: string): void => {
      // Removing one needs only its key; the detail is what an insert writes.
      this.examples.push({ shard, kind, ip: r.ip, port: r.port, i, detail });
    };
    const leak = replicationLeak(r);
    if (leak) {
      this.count(shard, "replication", [], sign);
      example(REPLICATION_EXAMPLE, 0, JSON.stringify({ role: leak.role, pointsTo: leak.pointsTo }));
    }
    let i = 0;
    for (const c of r.compromise ?? []) {
      // Only the kinds a report lists (an imported record may carry any string).
      if ((COMPROMISE_KINDS as readonly string[]).includes(c.kind)) {
        example(compromiseExample(c.kind), i, String(c.evidence ?? ""));
      }
      i++;
    }
  }

  /** The non-zero deltas, in (shard, dim, key) order: writers lock rows in one order. */
  counts(): AggregateCount[] {
    return [...this.spread(), ...this.entries.values(), ...this.cveList]
      .filter((c) => c.n !== 0)
      .sort((a, b) => cmp(a.shard, b.shard) || cmp(a.dim, b.dim) || cmp(a.key, b.key));
  }

  get empty(): boolean {
    return (
      this.tuples.size === 0 &&
      this.entries.size === 0 &&
      this.cveList.length === 0 &&
      this.examples.length === 0
    );
  }
}

/** Byte order of UTF-16 code units: the same in every locale (keys are compared, not shown). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A scan's aggregates as a report reads them: counts summed over shards per (dim, key), zeros
 * left out, and the first examples of a kind in (ip, port) order.
 */
export interface AggregateReader {
  aggregateCounts(scanId: string, shard?: string): Promise<AggregateCount[]>;
  aggregateExamples(scanId: string, kind: string, limit: number): Promise<AggregateExample[]>;
}

/** Aggregates held in memory (a recount): the same reads as the stored ones. */
export class AggregateSnapshot implements AggregateReader {
  constructor(
    private readonly counts: readonly AggregateCount[],
    private readonly examples: readonly AggregateExample[],
  ) {}

  async aggregateCounts(_scanId: string, shard?: string): Promise<AggregateCount[]> {
    return sumShards(this.counts.filter((c) => shard === undefined || c.shard === shard));
  }

  async aggregateExamples(
    _scanId: string,
    kind: string,
    limit: number,
  ): Promise<AggregateExample[]> {
    return this.examples
      .filter((e) => e.kind === kind)
      .sort((a, b) => cmp(a.ip, b.ip) || a.port - b.port || a.i - b.i)
      .slice(0, limit);
  }
}

/** Per-shard counts summed to (dim, key) (shard ""), zeros left out, sorted. */
export function sumShards(counts: readonly AggregateCount[]): AggregateCount[] {
  const out = new Map<string, AggregateCount>();
  for (const c of counts) {
    const k = `${c.dim}\u0000${c.key}`;
    const e = out.get(k);
    if (e) e.n += c.n;
    else out.set(k, { shard: "", dim: c.dim, key: c.key, n: c.n });
  }
  return [...out.values()]
    .filter((c) => c.n !== 0)
    .sort((a, b) => cmp(a.dim, b.dim) || cmp(a.key, b.key));
}

/** One dimension's counts per value of its first column, nulls left out (state/NICER counts). */
export function firstValueCounts(
  counts: readonly AggregateCount[],
  dim: string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of counts) {
    if (c.dim !== dim || c.n === 0) continue;
    const [v] = JSON.parse(c.key) as FactValue[];
    if (v != null) out[String(v)] = (out[String(v)] ?? 0) + c.n;
  }
  return out;
}
