/**
 * A synthetic internet scan for benchmarks: results in the mix internet scans see (75%
 * auth_required, 13% open with a long tail of 115 versions and their real CVE lists from the
 * bundled table, 9% protected, 3% errors; cloud / ASN / country on most rows), seeded, so every
 * run stores the same rows. Used by bench/report.ts and bench/serve.ts.
 */

import { compromiseIndicators } from "../src/intel/compromise.js";
import type { CveMatcher } from "../src/intel/cves.js";
import { assessAttack, LUA_CVE_IDS } from "../src/intel/exposure.js";
import {
  NICER_ROW,
  type ProbeResult,
  type Product,
  type ServerFacts,
} from "../src/schema/result.js";
import type { ScanInfo, Store } from "../src/store/index.js";

/**
 * `--rows N` (default 1,000,000, at least 1,000) and `--keep DIR` of the large-store benches.
 * `--rows` may list growing sizes (`1000000,3000000`): `sizes` has them all, `rows` the first.
 */
export function benchSize(defaultRows = "1000000"): {
  rows: number;
  sizes: number[];
  keep: string | undefined;
} {
  const flag = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const sizes = (flag("--rows") ?? defaultRows).split(",").map(Number);
  if (sizes.some((n, i) => !Number.isInteger(n) || n < 1000 || (i > 0 && n <= sizes[i - 1]!)))
    throw new Error("--rows: integers of at least 1000, growing (1000000,3000000)");
  return { rows: sizes[0]!, sizes, keep: flag("--keep") };
}

/** Rows per insert, as a scan's store sink batches them. */
const BATCH = 5000;

/** mulberry32: small, fast and seedable, so every run stores the same million rows. */
export function prng(seed: number): () => number {
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
export interface Mix {
  open: number;
  protected: number;
  error: number;
}

/** Addresses spread over the whole space, a bijection of the index: both scans share targets. */
export function ipOf(i: number): string {
  const n = (Math.imul(i, 0x9e3779b1) + 0x2f6b_1d03) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export class Synth {
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

    // About one open server in 256 has the rogue-master tool's module loaded (drawn from the
    // run id, so the other facts stay as they were).
    if (s.run_id.startsWith("00")) s.modules = [{ name: "system", ver: "1" }];

    const out: ProbeResult = { ...base, state: "open", server: s };
    const m = this.cves.match(s);
    // As enrichment writes it: a judged version carries its list (maybe empty), others none;
    // attack verdicts, and signs of compromise as an import gets them (no scan space to check
    // masters against: every public master counts).
    if (m.basis !== "none") out.cves = m.cves.map((c) => ({ ...c }));
    const attack = assessAttack(out, m, { isLua: (id) => LUA_CVE_IDS.has(id) });
    if (attack) out.attack = attack;
    const signs = compromiseIndicators(out);
    if (signs.length > 0) out.compromise = signs;
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

export const TARGETS = "0.0.0.0/0";
export const PORTS = "6379";

/** Stores a whole scan as a scan does: batches into the store, then the shard finished. */
export async function storeScan(
  store: Store,
  scan: ScanInfo,
  rows: number,
  synth: Synth,
): Promise<void> {
  await store.beginScan(scan);
  await store.beginShard({ scanId: scan.id, shard: "0/1", startedAt: scan.startedAt });
  await storeRows(store, scan, 0, rows, rows, synth);
  await store.finishShard(scan.id, "0/1", await store.stateCounts(scan.id, "0/1"));
}

/**
 * Results `from` … `to − 1` of a scan of `total`, in the batches a scan's store sink writes
 * (`synth` draws in order: a scan stored in parts holds the rows one call would store).
 */
export async function storeRows(
  store: Store,
  scan: ScanInfo,
  from: number,
  to: number,
  total: number,
  synth: Synth,
): Promise<void> {
  const t0 = Date.parse(scan.startedAt);
  // A full-space scan at ~100k addresses/s: answers arrive over about 10 hours.
  const spacing = (10 * 3600_000) / total;
  let batch: ProbeResult[] = [];
  for (let i = from; i < to; i++) {
    const r = synth.result(i, new Date(t0 + i * spacing).toISOString());
    r.scan_id = scan.id;
    r.shard = "0/1";
    batch.push(r);
    if (batch.length === BATCH || i === to - 1) {
      await store.insertResults(scan.id, batch);
      batch = [];
    }
  }
}

export function scanInfo(id: string, startedAt: string, seed: string): ScanInfo {
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
