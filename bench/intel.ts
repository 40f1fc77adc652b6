/**
 * Cloud lookup benchmark: parse and index build time, and lookups/s of CloudIndex, next to a naive
 * reference (a Map from each IPv4 /24 to its entry, filled by expanding every prefix).
 *
 * The data set is synthetic because this machine has no internet: files in the providers' own
 * formats with the sizes of the real ones (AWS ≈ 10k entries, Azure ≈ 70k entries counting every
 * tag that lists a prefix, GCP ≈ 1k), realistic prefix lengths, aggregates with more specific
 * prefixes inside, and the same prefix under several tags. A fixed seed makes runs comparable.
 *
 *   npm run build && node dist/bench/intel.js [--lookups N]
 *
 * Prints a table, then one JSON line with every number.
 */
import { performance } from "node:perf_hooks";
import {
  CloudIndex,
  parseAwsIpRanges,
  parseAzureServiceTags,
  parseGcpCloudRanges,
} from "../src/intel/clouds.js";
import { formatIpv4, formatIpv6, parseIpv4 } from "../src/net/ip.js";

const GOAL_LOOKUPS_PER_S = 1_000_000;
const QUERY_POOL = 1 << 16;
/** Queries that fall inside a prefix; the rest are uniform over the space (nearly all misses). */
const HIT_SHARE = 0.5;
const V6_SHARE = 0.2;
const BUILD_REPS = 3;

function parseOptions(argv: string[]): { lookups: number } {
  if (argv.length === 0) return { lookups: 5_000_000 };
  const n = Number(argv[1]);
  if (argv[0] !== "--lookups" || argv.length !== 2 || !Number.isInteger(n) || n < 1000) {
    process.stderr.write("usage: node dist/bench/intel.js [--lookups N (>= 1000)]\n");
    process.exit(2);
  }
  return { lookups: n };
}

/** xorshift32: the same synthetic set on every run. */
let seed = 0x2545f491;
function rand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}
const randInt = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[randInt(xs.length)]!;
/** A length drawn from [weight, min, max] bands. */
function lengthFrom(bands: ReadonlyArray<readonly [number, number, number]>): number {
  let r = rand() * bands.reduce((a, b) => a + b[0], 0);
  for (const [w, lo, hi] of bands) {
    if (r < w) return lo + randInt(hi - lo + 1);
    r -= w;
  }
  return bands[0]![1];
}

interface Net {
  family: 4 | 6;
  value: bigint;
  length: number;
}

const bits = (f: 4 | 6) => (f === 4 ? 32 : 128);
const text = (n: Net) =>
  `${n.family === 4 ? formatIpv4(Number(n.value)) : formatIpv6(n.value)}/${n.length}`;

/** A random network of `length` inside `outer`, aligned to its size. */
function inside(outer: Net, length: number): Net {
  const free = BigInt(length - outer.length);
  const r = BigInt(randInt(2 ** 30)) * BigInt(randInt(2 ** 30)) + BigInt(randInt(2 ** 30));
  const offset = free === 0n ? 0n : r % (1n << free);
  return {
    family: outer.family,
    value: outer.value + (offset << BigInt(bits(outer.family) - length)),
    length,
  };
}

/** Aggregates in the provider's /8s (IPv4) or /24s (IPv6), each with specifics inside. */
function networks(
  count: number,
  family: 4 | 6,
  roots: readonly number[],
  aggregate: readonly [number, number],
  specific: ReadonlyArray<readonly [number, number, number]>,
): Net[][] {
  const out: Net[][] = [];
  let made = 0;
  while (made < count) {
    const rootLen = family === 4 ? 8 : 24;
    const root: Net = {
      family,
      value: BigInt(pick(roots)) << BigInt(bits(family) - rootLen),
      length: rootLen,
    };
    const agg = inside(root, aggregate[0] + randInt(aggregate[1] - aggregate[0] + 1));
    const group = [agg];
    const children = 1 + randInt(20);
    for (let i = 0; i < children && made + group.length < count; i++) {
      group.push(inside(agg, Math.max(agg.length, lengthFrom(specific))));
    }
    made += group.length;
    out.push(group);
  }
  return out;
}

const AWS_V4 = [3, 13, 15, 18, 34, 35, 43, 44, 46, 50, 52, 54, 99];
const AZURE_V4 = [4, 13, 20, 23, 40, 51, 52, 65, 70, 104, 137, 191];
const GCP_V4 = [8, 23, 34, 35, 104, 107, 130, 146];
const AWS_V6 = [0x260010, 0x2a05d0, 0x240669];
const AZURE_V6 = [0x260310, 0x260300, 0x260302];
const GCP_V6 = [0x260019];
const REGIONS = [
  "us-east-1",
  "us-west-2",
  "eu-west-1",
  "ap-northeast-1",
  "eu-central-1",
  "sa-east-1",
];

function awsFile(): string {
  const prefixes: object[] = [];
  const ipv6_prefixes: object[] = [];
  const add = (n: Net, service: string, region: string) => {
    if (n.family === 4)
      prefixes.push({ ip_prefix: text(n), region, service, network_border_group: region });
    else
      ipv6_prefixes.push({ ipv6_prefix: text(n), region, service, network_border_group: region });
  };
  const groups = [
    ...networks(
      5_000,
      4,
      AWS_V4,
      [12, 16],
      [
        [2, 17, 21],
        [6, 22, 24],
        [2, 25, 32],
      ],
    ),
    ...networks(
      1_600,
      6,
      AWS_V6,
      [32, 40],
      [
        [1, 44, 48],
        [2, 56, 56],
        [1, 64, 64],
      ],
    ),
  ];
  for (const group of groups) {
    const region = pick(REGIONS);
    for (const n of group) {
      // Most addresses are listed under AMAZON and again under their service.
      add(n, "AMAZON", region);
      if (rand() < 0.6) add(n, pick(["EC2", "S3", "CLOUDFRONT", "ROUTE53_HEALTHCHECKS"]), region);
    }
  }
  return JSON.stringify({
    syncToken: "1700000000",
    createDate: "2023-11-14-22-13-07",
    prefixes,
    ipv6_prefixes,
  });
}

function azureFile(): string {
  const regions = ["eastus", "westeurope", "southeastasia", "centralus", "uksouth", "japaneast"];
  const services = ["AzureStorage", "AzureSQL", "AzureMonitor", "AzureFrontDoor", "AppService"];
  const tags = new Map<
    string,
    { region: string; systemService: string; addressPrefixes: string[] }
  >();
  const tag = (name: string, region: string, systemService: string) => {
    let t = tags.get(name);
    if (!t) {
      t = { region, systemService, addressPrefixes: [] };
      tags.set(name, t);
    }
    return t.addressPrefixes;
  };
  const groups = [
    ...networks(
      13_500,
      4,
      AZURE_V4,
      [14, 18],
      [
        [3, 19, 24],
        [4, 25, 29],
        [2, 30, 32],
      ],
    ),
    ...networks(
      8_500,
      6,
      AZURE_V6,
      [36, 44],
      [
        [2, 48, 56],
        [3, 60, 64],
        [2, 120, 128],
      ],
    ),
  ];
  for (const group of groups) {
    const region = pick(regions);
    for (const [i, n] of group.entries()) {
      const t = text(n);
      tag("AzureCloud", "", "").push(t);
      tag(`AzureCloud.${region}`, region, "").push(t);
      if (i > 0) {
        const service = pick(services);
        tag(`${service}.${region}`, region, service).push(t);
        if (rand() < 0.3) tag(service, "", service).push(t);
      }
    }
  }
  const values = [...tags].map(([name, properties]) => ({
    name,
    id: name,
    properties: { changeNumber: 1, regionId: 0, platform: "Azure", ...properties },
  }));
  return JSON.stringify({ changeNumber: 301, cloud: "Public", values });
}

function gcpFile(): string {
  const prefixes: object[] = [];
  const scopes = ["us-central1", "europe-west4", "asia-east1", "global"];
  const groups = [
    ...networks(800, 4, GCP_V4, [14, 16], [[1, 17, 22]]),
    ...networks(200, 6, GCP_V6, [32, 40], [[1, 44, 48]]),
  ];
  for (const n of groups.flat()) {
    const key = n.family === 4 ? "ipv4Prefix" : "ipv6Prefix";
    prefixes.push({ [key]: text(n), service: "Google Cloud", scope: pick(scopes) });
  }
  return JSON.stringify({
    syncToken: "1700030000000",
    creationTime: "2023-11-15T06:33:20",
    prefixes,
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Lookups of the query pool, cycled `n` times in all; the checksum keeps the work alive. */
function timeLookups(n: number, lookup: (i: number) => unknown): { perS: number; hits: number } {
  let hits = 0;
  for (let i = 0; i < 200_000; i++) if (lookup(i & (QUERY_POOL - 1)) !== undefined) hits++;
  hits = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) if (lookup(i & (QUERY_POOL - 1)) !== undefined) hits++;
  return { perS: n / ((performance.now() - t0) / 1000), hits };
}

function main(): void {
  const { lookups } = parseOptions(process.argv.slice(2));
  const files = { aws: awsFile(), azure: azureFile(), gcp: gcpFile() };

  const tParse = performance.now();
  const sets = [
    parseAwsIpRanges(files.aws),
    parseAzureServiceTags(files.azure),
    parseGcpCloudRanges(files.gcp),
  ];
  const parseMs = performance.now() - tParse;
  const entries = sets.map((s) => s.prefixes.length);
  const buildTimes: number[] = [];
  let index = CloudIndex.build(sets);
  for (let r = 0; r < BUILD_REPS; r++) {
    const t = performance.now();
    index = CloudIndex.build(sets);
    buildTimes.push(performance.now() - t);
  }
  const buildMs = median(buildTimes);

  // Query pool: hits inside random prefixes, misses anywhere; some IPv6.
  const all = sets.flatMap((s) => s.prefixes);
  const queries: string[] = [];
  const queryV4: number[] = [];
  while (queries.length < QUERY_POOL) {
    const v6 = rand() < V6_SHARE;
    const family = v6 ? 6 : 4;
    let value: bigint;
    if (rand() < HIT_SHARE) {
      let p = pick(all);
      while (p.family !== family) p = pick(all);
      const base = v6
        ? (BigInt(p.w0) << 96n) | (BigInt(p.w1) << 64n) | (BigInt(p.w2) << 32n) | BigInt(p.w3)
        : BigInt(p.w3);
      value = inside({ family, value: base, length: p.length }, bits(family)).value;
    } else {
      value = v6
        ? (BigInt(0x2000 + randInt(0x2000)) << 112n) | BigInt(randInt(2 ** 30))
        : BigInt(randInt(2 ** 32));
    }
    queries.push(v6 ? formatIpv6(value) : formatIpv4(Number(value)));
    if (!v6) queryV4.push(Number(value));
  }
  const v4Only = Uint32Array.from({ length: QUERY_POOL }, (_, i) => queryV4[i % queryV4.length]!);
  const v4Text = Array.from({ length: QUERY_POOL }, (_, i) => formatIpv4(v4Only[i]!));

  const mixed = timeLookups(lookups, (i) => index.lookup(queries[i]!));
  const v4Strings = timeLookups(lookups, (i) => index.lookup(v4Text[i]!));
  const v4Numbers = timeLookups(lookups, (i) => index.lookupIpv4(v4Only[i]!));

  // Reference: every IPv4 prefix expanded into its /24s, shortest first so specifics overwrite.
  // It cannot tell apart prefixes longer than /24 and holds one entry per /24 covered.
  const tRef = performance.now();
  const byBlock = new Map<number, object>();
  const v4Prefixes = all.filter((p) => p.family === 4).sort((a, b) => a.length - b.length);
  for (const p of v4Prefixes) {
    const first = Math.floor(p.w3 / 256);
    const count = p.length >= 24 ? 1 : 2 ** (24 - p.length);
    const start = first - (first % count);
    for (let b = start; b < start + count; b++) byBlock.set(b, p.match);
  }
  const refBuildMs = performance.now() - tRef;
  const reference = timeLookups(lookups, (i) => {
    // The same kind of allocation-free text parse as the index, then one Map probe.
    const n = parseIpv4(v4Text[i]!);
    return n === undefined ? undefined : byBlock.get(Math.floor(n / 256));
  });

  const iv = index.intervals;
  const rows: Array<[string, string]> = [
    ["data", "SYNTHETIC (this machine has no internet): sizes and shapes of the real files"],
    [
      "source entries",
      `aws ${entries[0]}, azure ${entries[1]}, gcp ${entries[2]} (v4+v6, with duplicates)`,
    ],
    ["file bytes", `aws ${files.aws.length}, azure ${files.azure.length}, gcp ${files.gcp.length}`],
    ["parse", `${parseMs.toFixed(0)} ms (all three files)`],
    [
      "index build",
      `${buildMs.toFixed(0)} ms (median of ${BUILD_REPS}) → ${iv.v4} IPv4 + ${iv.v6} IPv6 intervals`,
    ],
    [
      "lookup(string), mixed",
      `${fmt(mixed.perS)}/s (${(100 * V6_SHARE).toFixed(0)}% IPv6, ${((100 * mixed.hits) / lookups).toFixed(0)}% hits)`,
    ],
    ["lookup(string), IPv4", `${fmt(v4Strings.perS)}/s`],
    ["lookupIpv4(number)", `${fmt(v4Numbers.perS)}/s`],
    [
      "reference Map /24",
      `${fmt(reference.perS)}/s IPv4 strings; ${byBlock.size} keys, built in ${refBuildMs.toFixed(0)} ms; inexact past /24`,
    ],
    [
      "goal",
      `${fmt(GOAL_LOOKUPS_PER_S)}/s: ${mixed.perS >= GOAL_LOOKUPS_PER_S ? "met" : "NOT met"}`,
    ],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) process.stdout.write(`${k.padEnd(width)}  ${v}\n`);
  process.stdout.write(
    `${JSON.stringify({
      bench: "intel-clouds",
      synthetic: true,
      lookups,
      entries: { aws: entries[0], azure: entries[1], gcp: entries[2] },
      intervals: iv,
      parse_ms: round(parseMs),
      build_ms: round(buildMs),
      lookups_per_s: {
        mixed: Math.round(mixed.perS),
        ipv4_string: Math.round(v4Strings.perS),
        ipv4_number: Math.round(v4Numbers.perS),
      },
      reference: {
        kind: "Map of IPv4 /24",
        lookups_per_s: Math.round(reference.perS),
        keys: byBlock.size,
        build_ms: round(refBuildMs),
      },
      goal_lookups_per_s: GOAL_LOOKUPS_PER_S,
      goal_met: mixed.perS >= GOAL_LOOKUPS_PER_S,
    })}\n`,
  );
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

main();
