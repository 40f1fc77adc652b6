/**
 * How long `redscope report` takes on a large store, next to the same aggregations done by the
 * sqlite3 shell on the same file. A fresh SQLite store gets a scan of synthetic results in the mix
 * internet scans see (75% auth_required, 13% open with a long tail of 115 versions and their real
 * CVE lists from the bundled table, 9% protected, 3% errors; cloud / ASN / country on most rows),
 * plus an older, smaller scan of the same targets so the trend has two points. Then, 3 runs each,
 * median wall time:
 *   - the CLI as a user runs it (`redscope report SCAN --format json|text -o FILE --db FILE`), and
 *     its startup alone (`report --list`);
 *   - buildReport in-process, timed per store call, to split startup from aggregation;
 *   - `sqlite3 FILE < report.sql`: each part of the report as one SQL statement (`.timer on`).
 * The goal: the whole report in under 10 s on this machine.
 *
 *   node dist/bench/report.js [--rows 1000000] [--keep DIR]
 *
 * --keep DIR writes the store, the SQL script and both reports into DIR and leaves them there
 * (for sqlite3 or `node --cpu-prof` afterwards); without it a temp dir is used and removed.
 * Prints a table and one JSON line. Needs Debian's sqlite3 on PATH.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import {
  NICER_ROW,
  type ProbeResult,
  type Product,
  type ServerFacts,
} from "../src/classify/result.js";
import { CveMatcher, loadCveTable } from "../src/intel/cves.js";
import { buildReport, FACT_COLUMNS, type Report } from "../src/report/build.js";
import { renderJson, renderText } from "../src/report/render.js";
import {
  type GroupColumn,
  openStore,
  type ResultQuery,
  type ScanInfo,
  type Store,
} from "../src/store/index.js";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const ROWS = Number(flag("--rows") ?? 1_000_000);
if (!Number.isInteger(ROWS) || ROWS < 1000) throw new Error("--rows: an integer of at least 1000");
const KEEP = flag("--keep");
const BATCH = 5000;
const RUNS = 3;
const GOAL_S = 10;
const BIN = fileURLToPath(new URL("../src/cli/bin.js", import.meta.url));

// ---------- synthetic results ----------

/** mulberry32: small, fast and seedable, so every run stores the same million rows. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** u in [0, 1) → an item, drawn with the given weights (binary search on the cumulative sum). */
function weighted<T>(items: readonly T[], weights: readonly number[]): (u: number) => T {
  const cum: number[] = [];
  let sum = 0;
  for (const w of weights) {
    sum += w;
    cum.push(sum);
  }
  return (u) => {
    const x = u * sum;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid]! > x) hi = mid;
      else lo = mid + 1;
    }
    return items[lo]!;
  };
}

/** Long-tailed: the k-th item (most common first) has weight 1/k^s. */
function zipf<T>(items: readonly T[], s = 1.05): (u: number) => T {
  return weighted(
    items,
    items.map((_, k) => 1 / (k + 1) ** s),
  );
}

/**
 * What exposed servers report, most common first: distro-packaged old Redis dominates (3.2.12,
 * 5.0.7, 4.0.9, 6.0.16 …), the archived Windows port (`win:`) is surprisingly frequent, forks
 * are a thin tail.
 */
const VERSIONS = `3.2.12 5.0.7 4.0.9 6.0.16 win:3.2.100 6.2.6 5.0.14 7.0.11 3.0.6 7.2.4 4.0.14 6.2.7
  5.0.3 2.8.4 7.0.15 6.2.14 win:3.0.504 5.0.5 6.0.6 7.2.5 4.0.10 6.2.13 3.2.8 5.0.9 4.0.11 7.4.1
  6.0.9 win:2.8.2400 6.2.12 7.0.12 3.2.11 5.0.4 valkey:8.0.1 4.0.6 6.2.5 7.2.3 2.8.17 5.0.8 3.2.9
  6.0.5 7.0.5 keydb:6.3.2 6.2.11 4.0.8 7.2.7 5.0.6 6.2.16 3.2.1 7.4.2 2.8.19 5.0.12 6.0.8 4.0.2
  valkey:7.2.5 7.0.8 3.0.7 6.2.10 8.0.2 5.0.10 3.2.6 6.0.10 7.2.6 4.0.12 2.8.23 6.2.4 7.0.4
  valkey:8.1.1 3.2.4 5.0.13 6.2.1 7.4.0 6.0.20 4.0.1 keydb:6.2.2 3.2.10 7.2.0 5.0.0 8.0.0 3.0.5
  6.2.17 7.0.0 2.8.9 valkey:8.0.2 3.2.3 7.2.8 6.2.18 8.0.1 3.0.2 7.4.3 6.0.15 win:2.8.2104 3.2.0
  7.0.10 8.2.0 2.8.24 keydb:6.3.4 8.2.1 3.0.0 8.0.3 7.2.1 win:3.0.500 valkey:8.1.3 8.2.2 3.2.13
  5.0.1 4.0.4 6.0.3 2.8.13 keydb:6.3.1 7.0.2 3.0.3 6.2.2 4.0.13 5.0.2 2.8.21`
  .trim()
  .split(/\s+/)
  .map((s) => {
    const m = /^(?:(win|valkey|keydb):)?(\d+\.\d+\.\d+)$/.exec(s);
    if (!m) throw new Error(`bad version ${s}`);
    const product: Product = m[1] === "win" ? "msopentech" : ((m[1] ?? "redis") as Product);
    return { product, version: m[2]! };
  });

const COUNTRIES = `CN US DE HK SG KR JP FR NL RU IN BR GB CA VN ID TW AU IE SE PL IT ES TR UA TH
  MY IR ZA AR MX CL CO FI CH AT CZ RO BG IL AE SA PK BD PH NZ NO DK BE PT`
  .trim()
  .split(/\s+/);

interface Asn {
  asn: number;
  org: string;
  country: string;
}

/** Networks that host exposed servers outside the clouds, most common first. */
const ISP_ASNS: Asn[] = (
  [
    [4134, "CHINANET-BACKBONE", "CN"],
    [4837, "CHINA UNICOM China169 Backbone", "CN"],
    [24940, "Hetzner Online GmbH", "DE"],
    [16276, "OVH SAS", "FR"],
    [9808, "China Mobile Communications Group Co., Ltd.", "CN"],
    [63949, "Akamai Connected Cloud", "US"],
    [20473, "AS-VULTR", "US"],
    [51167, "Contabo GmbH", "DE"],
    [4766, "Korea Telecom", "KR"],
    [3462, "Data Communication Business Group", "TW"],
    [7922, "COMCAST-7922", "US"],
    [8560, "IONOS SE", "DE"],
    [12876, "SCALEWAY S.A.S.", "FR"],
    [45899, "VNPT Corp", "VN"],
    [7552, "Viettel Group", "VN"],
    [17974, "PT Telekomunikasi Indonesia", "ID"],
    [9829, "National Internet Backbone", "IN"],
    [55836, "Reliance Jio Infocomm Limited", "IN"],
    [28573, "Claro NXT Telecomunicacoes Ltda", "BR"],
    [12389, "Rostelecom", "RU"],
    [3320, "Deutsche Telekom AG", "DE"],
    [4713, "NTT Communications Corporation", "JP"],
    [2516, "KDDI CORPORATION", "JP"],
    [9318, "SK Broadband Co Ltd", "KR"],
    [4760, "HKT Limited", "HK"],
    [9299, "Philippine Long Distance Telephone Company", "PH"],
    [8151, "UNINET", "MX"],
    [7018, "ATT-INTERNET4", "US"],
    [701, "UUNET", "US"],
    [3215, "Orange S.A.", "FR"],
    [36352, "AS-COLOCROSSING", "US"],
    [53667, "PONYNET", "US"],
    [9009, "M247 Europe SRL", "RO"],
    [49505, "JSC Selectel", "RU"],
    [197695, "Domain names registrar REG.RU, Ltd", "RU"],
    [58461, "CT-HangZhou-IDC", "CN"],
    [4808, "China Unicom Beijing Province Network", "CN"],
    [56040, "China Mobile communications corporation", "CN"],
    [23724, "IDC, China Telecommunications Corporation", "CN"],
    [4812, "China Telecom (Group)", "CN"],
  ] as const
)
  .map(([asn, org, country]): Asn => ({ asn, org, country }))
  // The long tail: 150 small hosters and ISPs, spread over the countries.
  .concat(
    Array.from({ length: 150 }, (_, k) => ({
      asn: 131_072 + 37 * k,
      org: `NET-HOSTING-${k + 1}`,
      country: COUNTRIES[(7 * k) % COUNTRIES.length]!,
    })),
  );

interface Cloud {
  provider: string;
  service?: string;
  asns: Asn[];
  regions: Array<[region: string, country: string]>;
}

const CLOUDS: Cloud[] = [
  {
    provider: "aws",
    service: "EC2",
    asns: [
      { asn: 16509, org: "AMAZON-02", country: "US" },
      { asn: 14618, org: "AMAZON-AES", country: "US" },
    ],
    regions: [
      ["us-east-1", "US"],
      ["us-west-2", "US"],
      ["eu-central-1", "DE"],
      ["ap-southeast-1", "SG"],
      ["ap-northeast-1", "JP"],
      ["eu-west-1", "IE"],
      ["ap-south-1", "IN"],
    ],
  },
  {
    provider: "alibaba",
    asns: [
      { asn: 37963, org: "Hangzhou Alibaba Advertising Co.,Ltd.", country: "CN" },
      { asn: 45102, org: "Alibaba US Technology Co., Ltd.", country: "US" },
    ],
    regions: [
      ["cn-hangzhou", "CN"],
      ["cn-beijing", "CN"],
      ["cn-shanghai", "CN"],
      ["cn-shenzhen", "CN"],
      ["cn-hongkong", "HK"],
      ["ap-southeast-1", "SG"],
    ],
  },
  {
    provider: "tencent",
    asns: [
      { asn: 45090, org: "Shenzhen Tencent Computer Systems Company Limited", country: "CN" },
      { asn: 132203, org: "Tencent Building, Kejizhongyi Avenue", country: "CN" },
    ],
    regions: [
      ["ap-guangzhou", "CN"],
      ["ap-shanghai", "CN"],
      ["ap-beijing", "CN"],
      ["ap-hongkong", "HK"],
    ],
  },
  {
    provider: "gcp",
    service: "Google Cloud",
    asns: [{ asn: 396982, org: "GOOGLE-CLOUD-PLATFORM", country: "US" }],
    regions: [
      ["us-central1", "US"],
      ["europe-west1", "BE"],
      ["asia-east1", "TW"],
      ["asia-northeast1", "JP"],
    ],
  },
  {
    provider: "azure",
    asns: [{ asn: 8075, org: "MICROSOFT-CORP-MSN-AS-BLOCK", country: "US" }],
    regions: [
      ["eastus", "US"],
      ["westeurope", "NL"],
      ["southeastasia", "SG"],
    ],
  },
  {
    provider: "digitalocean",
    asns: [{ asn: 14061, org: "DIGITALOCEAN-ASN", country: "US" }],
    regions: [
      ["US US-NJ North Bergen", "US"],
      ["DE DE-HE Frankfurt", "DE"],
      ["SG SG-01 Singapore", "SG"],
      ["NL NL-NH Amsterdam", "NL"],
    ],
  },
  {
    provider: "oracle",
    service: "OCI",
    asns: [{ asn: 31898, org: "ORACLE-BMC-31898", country: "US" }],
    regions: [
      ["us-ashburn-1", "US"],
      ["ap-seoul-1", "KR"],
    ],
  },
];

const LINUX = [
  "Linux 3.10.0-1160.el7.x86_64 x86_64",
  "Linux 4.15.0-213-generic x86_64",
  "Linux 5.4.0-150-generic x86_64",
  "Linux 5.15.0-1051-aws x86_64",
  "Linux 4.19.0-26-amd64 x86_64",
  "Linux 5.10.0-28-cloud-amd64 x86_64",
  "Linux 6.8.0-45-generic x86_64",
  "Linux 6.1.0-18-arm64 aarch64",
];

/** Why `error` rows are errors, most common first (the classifier's details and texts). */
const ERRORS: Array<{ detail: string; error?: string; hint?: string }> = [
  { detail: "reset" },
  { detail: "INCOMPLETE" },
  {
    detail: "UNKNOWN_COMMAND",
    error: "ERR unknown command 'PING', with args beginning with: ",
    hint: ">=7.0",
  },
  { detail: "PROTOCOL", error: "protocol error bulk_too_large at byte 1" },
  {
    detail: "NOPERM",
    error: "NOPERM User default has no permissions to run the 'ping' command",
    hint: ">=7.2",
  },
  { detail: "UNEXPECTED" },
  { detail: "ERR", error: "ERR Proxy error: backend unavailable" },
];

/** What the pre-auth errors told about the version of a NOAUTH server (none: no hint). */
const AUTH_HINTS = [">=2.8", undefined, "6.0-7.0", ">=7.2", "2.8-4.0.10"];

const DENIED_7 =
  "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the";
const DENIED_32 =
  "DENIED Redis is running in protected mode because protected mode is enabled, no bind address was specified, no authentication password is requested to clients. In this mode connections are only accepted from the loopback interface. If you want to connect from exter";
const DENIED_VALKEY =
  "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Valkey you may adopt one of the";

/** Shares of the states; auth_required is the rest. */
interface Mix {
  open: number;
  protected: number;
  error: number;
}

/** Addresses spread over the whole space, a bijection of the index: both scans share targets. */
function ipOf(i: number): string {
  const n = (Math.imul(i, 0x9e3779b1) + 0x2f6b_1d03) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

class Synth {
  private readonly rand: () => number;
  private readonly version = zipf(VERSIONS);
  private readonly linux = zipf(LINUX, 0.8);
  private readonly isp = zipf(ISP_ASNS);
  private readonly cloud = zipf(CLOUDS, 1.2);
  private readonly error = zipf(ERRORS);
  private readonly authHint = zipf(AUTH_HINTS, 0.9);

  constructor(
    seed: number,
    private readonly mix: Mix,
    private readonly cves: CveMatcher,
  ) {
    this.rand = prng(seed);
  }

  result(i: number, time: string): ProbeResult {
    const r = this.rand;
    const ip = ipOf(i);
    const base = {
      ip,
      port: 6379,
      transport: "tcp" as const,
      time,
      rtt_ms: 5 + Math.floor(r() * 300),
    };
    const u = r();
    let out: ProbeResult;
    if (u < this.mix.open) out = this.open(ip, base);
    else if (u < this.mix.open + this.mix.protected) out = this.protectedResult(base);
    else if (u < this.mix.open + this.mix.protected + this.mix.error) out = this.errorResult(base);
    else {
      out = {
        ...base,
        state: "auth_required",
        detail: "NOAUTH",
        error: "NOAUTH Authentication required.",
      };
      const hint = this.authHint(r());
      if (hint !== undefined) out.server = { version_hint: hint };
    }
    const nicer = NICER_ROW[out.state];
    // As the classifier sets it: an open server counts as "Returned version" only with one.
    if (nicer !== undefined && (out.state !== "open" || out.server?.version !== undefined)) {
      out.nicer = nicer;
    }
    return Object.assign(out, this.place());
  }

  private protectedResult(base: Omit<ProbeResult, "state">): ProbeResult {
    const u = this.rand();
    if (u < 0.05) {
      return {
        ...base,
        state: "protected",
        detail: "DENIED",
        error: DENIED_VALKEY,
        server: { product: "valkey", version_hint: ">=8.0" },
      };
    }
    const modern = u < 0.45;
    return {
      ...base,
      state: "protected",
      detail: "DENIED",
      error: modern ? DENIED_7 : DENIED_32,
      server: { version_hint: modern ? ">=7.0" : "3.2-6.2" },
    };
  }

  private errorResult(base: Omit<ProbeResult, "state">): ProbeResult {
    const e = this.error(this.rand());
    const out: ProbeResult = { ...base, state: "error", detail: e.detail };
    if (e.error !== undefined) out.error = e.error;
    if (e.hint !== undefined) out.server = { version_hint: e.hint };
    return out;
  }

  private open(ip: string, base: Omit<ProbeResult, "state">): ProbeResult {
    const r = this.rand;
    if (r() < 0.02) {
      // INFO renamed away or denied by ACL: open, but no version and so no NICER row.
      const renamed = r() < 0.7;
      const out: ProbeResult = {
        ...base,
        state: "open",
        detail: renamed ? "INFO_RENAMED" : "NOPERM",
        server: { product: "redis", mode: "standalone", role: "master", proto: 3 },
      };
      out.error = renamed
        ? "ERR unknown command 'INFO', with args beginning with: "
        : "NOPERM User default has no permissions to run the 'info' command";
      return out;
    }
    const { product, version } = this.version(r());
    const major = Number(version.split(".")[0]);
    const s: ServerFacts = { product, version };
    if (product === "valkey") {
      s.redis_version = version.startsWith("7.") ? version : "7.2.4";
      s.valkey_version = version;
    } else {
      s.redis_version = version;
    }
    const mode = r();
    s.mode = mode < 0.93 ? "standalone" : mode < 0.99 ? "cluster" : "sentinel";
    s.os = product === "msopentech" ? "Windows" : this.linux(r());
    s.arch_bits = r() < 0.02 ? 32 : 64;
    s.run_id = Array.from({ length: 5 }, () =>
      Math.floor(r() * 2 ** 32)
        .toString(16)
        .padStart(8, "0"),
    ).join("");
    s.uptime_s = Math.floor(r() ** 2 * 30_000_000);
    s.connected_clients = 1 + Math.floor(r() ** 3 * 200);
    s.used_memory = 800_000 + Math.floor(r() ** 4 * 4e9);
    s.maxmemory = r() < 0.85 ? 0 : 2 ** (28 + Math.floor(r() * 6));
    s.mem_allocator =
      r() < 0.05
        ? "libc"
        : major < 4
          ? "jemalloc-3.6.0"
          : major < 6
            ? "jemalloc-4.0.3"
            : major < 7
              ? "jemalloc-5.1.0"
              : "jemalloc-5.3.0";
    if (major >= 5 && r() < 0.6) s.executable = "/usr/bin/redis-server";
    if (r() < 0.3) s.config_file = "/etc/redis/redis.conf";
    s.proto = major >= 6 && product !== "msopentech" ? 3 : 2;

    // Replication: a master listing replicas, or a replica naming its master. Private and
    // loopback addresses count: the report lists any address that is not the server's own.
    if (r() < 0.1) {
      s.role = "slave";
      const w = r();
      s.master_host =
        w < 0.5
          ? `10.${Math.floor(r() * 256)}.0.${1 + Math.floor(r() * 250)}`
          : w < 0.8
            ? ipOf(Math.floor(r() * 2 ** 31))
            : w < 0.9
              ? "127.0.0.1"
              : ip;
      s.master_port = r() < 0.8 ? 6379 : 8886;
    } else {
      s.role = "master";
      if (r() < 0.06) {
        const own = r() < 0.2;
        s.replicas = Array.from({ length: 1 + Math.floor(r() * 2) }, (_, k) => ({
          ip: own ? ip : `172.16.${Math.floor(r() * 256)}.${1 + Math.floor(r() * 250)}`,
          port: own ? 6380 + k : 6379,
          state: "online",
        }));
      }
    }
    if (r() < 0.65) {
      s.keyspace = { db0: { keys: Math.floor(1 / (r() + 0.0005)), expires: Math.floor(r() * 10) } };
      if (r() < 0.1) s.keyspace.db1 = { keys: 1 + Math.floor(r() * 50), expires: 0 };
    }

    const out: ProbeResult = { ...base, state: "open", server: s };
    const m = this.cves.match(s);
    // As enrichment writes it: a judged version carries its list (maybe empty), others none.
    if (m.basis !== "none") out.cves = m.cves.map((c) => ({ ...c }));
    return out;
  }

  /** Cloud / ASN / country as the intel lookups give them; some addresses are unknown to it. */
  private place(): Pick<ProbeResult, "cloud" | "asn" | "as_org" | "country"> {
    const r = this.rand;
    if (r() < 0.04) return {};
    if (r() < 0.3) {
      const c = this.cloud(r());
      const [region, country] = c.regions[Math.floor(r() * c.regions.length)]!;
      const a = c.asns[Math.floor(r() * c.asns.length)]!;
      const cloud: NonNullable<ProbeResult["cloud"]> = { provider: c.provider, region };
      if (c.service !== undefined) cloud.service = c.service;
      return { cloud, asn: a.asn, as_org: a.org, country };
    }
    const a = this.isp(r());
    return { asn: a.asn, as_org: a.org, country: a.country };
  }
}

const TARGETS = "0.0.0.0/0";
const PORTS = "6379";

/** Stores a whole scan as a scan does: batches into the store, then the shard finished. */
async function storeScan(store: Store, scan: ScanInfo, rows: number, synth: Synth): Promise<void> {
  await store.beginScan(scan);
  await store.beginShard({ scanId: scan.id, shard: "0/1", startedAt: scan.startedAt });
  const t0 = Date.parse(scan.startedAt);
  // A full-space scan at ~100k addresses/s: answers arrive over about 10 hours.
  const spacing = (10 * 3600_000) / rows;
  let batch: ProbeResult[] = [];
  for (let i = 0; i < rows; i++) {
    const r = synth.result(i, new Date(t0 + i * spacing).toISOString());
    r.scan_id = scan.id;
    r.shard = "0/1";
    batch.push(r);
    if (batch.length === BATCH || i === rows - 1) {
      await store.insertResults(scan.id, batch);
      batch = [];
    }
  }
  await store.finishShard(scan.id, "0/1", await store.stateCounts(scan.id, "0/1"));
}

function scanInfo(id: string, startedAt: string, seed: string): ScanInfo {
  return {
    id,
    source: "scan",
    startedAt,
    targets: TARGETS,
    ports: PORTS,
    seed,
    shardCount: 1,
    options: { rate: 100_000 },
    toolVersion: "bench",
  };
}

// ---------- the report's parts, in redscope and in SQL ----------

interface Step {
  name: string;
  /** The store calls buildReport makes for it (see timedStore). */
  calls: string[];
  sql: string;
}

function steps(scanId: string): Step[] {
  const where = `WHERE scan_id = '${scanId}'`;
  const group = (cols: string): string =>
    `SELECT ${cols}, count(*) AS n FROM results ${where} GROUP BY ${cols} ORDER BY n DESC, ${cols};`;
  return [
    {
      // One GROUP BY over every column a table counts by; redscope sums it down in JS to the
      // state, NICER, version, cloud, ASN, country, role and worst-CVSS tables.
      name: "fact counts (states … worst CVSS)",
      calls: [`groupCounts(${FACT_COLUMNS.join(",")})`],
      sql: group(FACT_COLUMNS.join(", ")),
    },
    {
      // replicationLeak in SQL: a replica or master address other than the server's own. The
      // window count is the total; the rows are the first examples in (ip, port) order.
      name: "replication check (open rows)",
      calls: ["results(open)"],
      sql: `SELECT 'leak', count(*) OVER () AS total, ip, port, coalesce(record ->> '$.server.role', 'unknown')
  FROM results AS r ${where} AND state = 'open' AND (
    coalesce(nullif(record ->> '$.server.master_host', ''), ip) <> ip
    OR EXISTS (SELECT 1 FROM json_each(r.record, '$.server.replicas') AS rep
               WHERE coalesce(rep.value ->> '$.ip', '') NOT IN ('', r.ip)))
  ORDER BY ip, port LIMIT 20;`,
    },
    {
      name: "CVE counts per id",
      calls: ["results(withCves)"],
      sql: `SELECT c.value ->> '$.id' AS cve, max(c.value ->> '$.cvss') AS cvss, count(*) AS servers
  FROM results, json_each(results.record, '$.cves') AS c ${where} AND cve_count > 0
  GROUP BY cve ORDER BY servers DESC, cvss DESC, cve;`,
    },
    {
      name: "trends (scans of the same targets)",
      calls: ["listScans", "stateCounts"],
      sql: `SELECT id, started_at, counts FROM scans WHERE targets = '${TARGETS}' AND ports = '${PORTS}' AND source = 'scan' ORDER BY started_at;`,
    },
  ];
}

/**
 * The store, with the time of each call added up under a key naming it (groupCounts(state),
 * results(open), …). A results() pass is timed from the call to the end of the iteration, so it
 * includes JSON.parse of every record and buildReport's work on it.
 */
function timedStore(store: Store, spent: Map<string, number>): Store {
  const add = (key: string, t0: number): void => {
    spent.set(key, (spent.get(key) ?? 0) + (performance.now() - t0) / 1000);
  };
  async function* timedResults(q: ResultQuery): AsyncIterable<ProbeResult> {
    const key = `results(${q.withCves ? "withCves" : (q.states ?? [q.state ?? "all"]).join("|")})`;
    const t0 = performance.now();
    try {
      yield* store.results(q);
    } finally {
      add(key, t0);
    }
  }
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "results") return timedResults;
      if (prop === "groupCounts") {
        return async (scanId: string, by: readonly GroupColumn[]) => {
          const t0 = performance.now();
          try {
            return await target.groupCounts(scanId, by);
          } finally {
            add(`groupCounts(${by.join(",")})`, t0);
          }
        };
      }
      if (prop === "listScans" || prop === "stateCounts") {
        return async (...args: [string, string?]) => {
          const t0 = performance.now();
          try {
            return prop === "listScans"
              ? await target.listScans()
              : await target.stateCounts(...args);
          } finally {
            add(prop, t0);
          }
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

// ---------- measuring ----------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Wall seconds of a command run to completion; its stdout is returned for checks. */
function timeCommand(
  cmd: string,
  args: string[],
  stdin: "ignore" | number = "ignore",
): { seconds: number; stdout: string } {
  const t0 = performance.now();
  const p = spawnSync(cmd, args, {
    stdio: [stdin, "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (p.error) throw p.error;
  if (p.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${p.status}: ${p.stderr.slice(0, 500)}`);
  }
  return { seconds, stdout: p.stdout };
}

const s2 = (x: number): string => x.toFixed(2);

async function main(): Promise<void> {
  const dir = KEEP ?? fs.mkdtempSync(path.join(os.tmpdir(), "redscope-bench-report-"));
  fs.mkdirSync(dir, { recursive: true });
  const db = path.join(dir, "report-bench.db");
  if (fs.existsSync(db)) throw new Error(`${db} exists: the bench needs a fresh store`);
  try {
    const matcher = new CveMatcher(loadCveTable());
    const scanId = "report-bench-2";
    // The newer scan ran over the last 10 hours (the store stamps it finished now). The older
    // one, three months before, got a tenth of the answers, a little more of them open.
    const hour = 3600_000;
    const now = Math.floor(Date.now() / hour) * hour;
    const older = scanInfo("report-bench-1", new Date(now - 90 * 24 * hour).toISOString(), "1");
    const newer = scanInfo(scanId, new Date(now - 10 * hour).toISOString(), "2");

    let t0 = performance.now();
    const store = await openStore(db);
    const olderRows = Math.floor(ROWS / 10);
    await storeScan(
      store,
      older,
      olderRows,
      new Synth(1, { open: 0.16, protected: 0.08, error: 0.03 }, matcher),
    );
    await storeScan(
      store,
      newer,
      ROWS,
      new Synth(2, { open: 0.13, protected: 0.09, error: 0.03 }, matcher),
    );
    await store.close();
    const loadS = (performance.now() - t0) / 1000;
    const dbMB = fs.statSync(db).size / 1048576;
    console.log(
      `load: ${ROWS.toLocaleString("en-US")} + ${olderRows.toLocaleString("en-US")} results in ${s2(loadS)} s (${dbMB.toFixed(0)} MB); not part of the measurement`,
    );

    // Reports go to files in the bench dir: the same path a user's -o FILE takes.
    const cli = (args: string[]): number => timeCommand(process.execPath, [BIN, ...args]).seconds;
    const startup = median(
      Array.from({ length: RUNS }, () =>
        cli(["report", "--list", "--db", db, "-o", path.join(dir, "list.txt")]),
      ),
    );
    const cliRuns: Record<"json" | "text", number[]> = { json: [], text: [] };
    for (const format of ["json", "text"] as const) {
      for (let i = 0; i < RUNS; i++) {
        const out = path.join(dir, `report.${format === "json" ? "json" : "txt"}`);
        cliRuns[format].push(cli(["report", scanId, "--format", format, "-o", out, "--db", db]));
      }
    }

    const plan = steps(scanId);
    const inProcess: number[] = [];
    const perStep: Array<Map<string, number>> = [];
    let report: Report | undefined;
    const renderS: Record<"json" | "text", number[]> = { json: [], text: [] };
    for (let i = 0; i < RUNS; i++) {
      const spent = new Map<string, number>();
      const s = await openStore(db);
      const scan = await s.getScan(scanId);
      if (!scan) throw new Error(`scan ${scanId} missing`);
      t0 = performance.now();
      report = await buildReport(timedStore(s, spent), scan);
      inProcess.push((performance.now() - t0) / 1000);
      await s.close();
      perStep.push(spent);
      t0 = performance.now();
      renderJson(report);
      renderS.json.push((performance.now() - t0) / 1000);
      t0 = performance.now();
      renderText(report);
      renderS.text.push((performance.now() - t0) / 1000);
    }
    if (!report) throw new Error("no report");

    const script = path.join(dir, "report.sql");
    fs.writeFileSync(script, `.timer on\n${plan.map((p) => p.sql).join("\n")}\n`);
    const sqlRuns: Array<{ total: number; steps: number[] }> = [];
    let sqlOut = "";
    for (let i = 0; i < RUNS; i++) {
      const fd = fs.openSync(script, "r");
      try {
        const { seconds, stdout } = timeCommand("sqlite3", [db], fd);
        const times = [...stdout.matchAll(/^Run Time: real ([\d.]+)/gm)].map((m) => Number(m[1]));
        if (times.length !== plan.length) {
          throw new Error(`sqlite3 timed ${times.length} statements, expected ${plan.length}`);
        }
        sqlRuns.push({ total: seconds, steps: times });
        sqlOut = stdout;
      } finally {
        fs.closeSync(fd);
      }
    }
    // The SQL must compute what buildReport computes, or the comparison is of different work:
    // the two JSON steps are checked (json_each has an `id` column of its own, easily grouped
    // by mistake).
    const leaks = Number(/^leak\|(\d+)\|/m.exec(sqlOut)?.[1] ?? 0);
    if (leaks !== report.exposure.replication.count) {
      throw new Error(
        `replication: sqlite3 ${leaks}, redscope ${report.exposure.replication.count}`,
      );
    }
    const top = report.exposure.cves[0];
    const topSql = top && new RegExp(`^${top.id}\\|[^|]*\\|(\\d+)$`, "m").exec(sqlOut)?.[1];
    if (top && Number(topSql) !== top.servers) {
      throw new Error(`${top.id}: sqlite3 ${topSql} servers, redscope ${top.servers}`);
    }

    const rows = plan.map((p, k) => ({
      step: p.name,
      redscope: median(perStep.map((m) => p.calls.reduce((a, c) => a + (m.get(c) ?? 0), 0))),
      sqlite3: median(sqlRuns.map((r) => r.steps[k]!)),
    }));
    const known = new Set(plan.flatMap((p) => p.calls));
    const unplanned = [...new Set(perStep.flatMap((m) => [...m.keys()]))].filter(
      (k) => !known.has(k),
    );
    if (unplanned.length > 0) {
      // buildReport changed: its new calls get a row so the split still adds up.
      rows.push({
        step: `other: ${unplanned.join(" ")}`,
        redscope: median(perStep.map((m) => unplanned.reduce((a, c) => a + (m.get(c) ?? 0), 0))),
        sqlite3: Number.NaN,
      });
    }
    const buildS = median(inProcess);
    // Per run, then the median: a difference of medians can come out negative.
    const outsideCalls = median(
      inProcess.map((t, i) => t - [...perStep[i]!.values()].reduce((a, b) => a + b, 0)),
    );
    const sqlTotal = median(sqlRuns.map((r) => r.total));
    const json = median(cliRuns.json);
    const text = median(cliRuns.text);
    const worst = Math.max(json, text);

    const open = report.states.find((s) => s.state === "open")?.count ?? 0;
    const versions = report.versions.products.reduce(
      (a, p) => a + p.rows.length + p.omitted.versions,
      0,
    );
    console.log(
      `data: ${report.total.toLocaleString("en-US")} results, ${open.toLocaleString("en-US")} open, ${versions} product versions, ${report.exposure.replication.count.toLocaleString("en-US")} replication leaks, ${report.trends.length} trend points`,
    );
    // The two columns run different SQLite releases, whose planners may pick different indexes.
    const shell = timeCommand("sqlite3", ["--version"]).stdout.split(" ")[0];
    const bundled = new Database(":memory:");
    const { v } = bundled.prepare("SELECT sqlite_version() AS v").get() as { v: string };
    bundled.close();
    console.log(
      `report on ${os.cpus().length} cores, Node ${process.version}, SQLite ${v} (redscope) and ${shell} (sqlite3); ${RUNS} runs each, median seconds, warm page cache`,
    );
    const w = [36, 9, 8];
    const line = (a: string, b: string, c: string): void =>
      console.log(`${a.padEnd(w[0]!)} | ${b.padStart(w[1]!)} | ${c.padStart(w[2]!)}`);
    line("step", "redscope", "sqlite3");
    console.log(`${"-".repeat(w[0]!)}-|-${"-".repeat(w[1]!)}-|-${"-".repeat(w[2]!)}`);
    for (const r of rows)
      line(r.step, s2(r.redscope), Number.isNaN(r.sqlite3) ? "-" : s2(r.sqlite3));
    line("JS outside store calls", s2(outsideCalls), "");
    line("buildReport in-process / sqlite3 run", s2(buildS), s2(sqlTotal));
    line("render json (in-process)", s2(median(renderS.json)), "");
    line("render text (in-process)", s2(median(renderS.text)), "");
    line("CLI startup (report --list)", s2(startup), "");
    line("CLI report --format json", s2(json), "");
    line("CLI report --format text", s2(text), "");
    console.log(
      `goal: whole report < ${GOAL_S} s: ${worst < GOAL_S ? "met" : "NOT met"} (${s2(worst)} s, ${s2(worst / sqlTotal)}× sqlite3)`,
    );
    console.log(
      JSON.stringify({
        rows: ROWS,
        olderRows,
        loadSeconds: loadS,
        dbMB,
        cli: { startup, json, text, runs: cliRuns },
        inProcess: { buildReport: buildS, outsideCalls, runs: inProcess, render: renderS },
        steps: rows,
        sqlite3: { total: sqlTotal, runs: sqlRuns.map((r) => r.total) },
        goalSeconds: GOAL_S,
        goalMet: worst < GOAL_S,
      }),
    );
    if (KEEP) console.log(`kept in ${dir}: report-bench.db, report.sql, report.json, report.txt`);
  } finally {
    if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
