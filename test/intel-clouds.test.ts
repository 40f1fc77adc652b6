/**
 * Cloud provider lookup: each provider's file format, overlap rules, the interval index against a
 * naive scan, `updateIntel` against a loopback HTTP server, and `intel show` / `intel lookup`.
 * The only network traffic is to 127.0.0.1; the Azure page lookup runs on an injected fetch.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import fc from "fast-check";
import { UsageError } from "../src/cli/errors.js";
import {
  type IntelOutput,
  registerIntelCommand,
  runIntelLookup,
  runIntelShow,
  runIntelUpdate,
} from "../src/cli/intel.js";
import {
  CLOUD_SOURCES,
  CloudIndex,
  type CloudMatch,
  type CloudPrefix,
  type CloudPrefixSet,
  IntelFormatError,
  loadCloudIndex,
  parseAwsIpRanges,
  parseAzureServiceTags,
  parseCidrList,
  parseGcpCloudRanges,
  parseGenericCsv,
  parseGeofeedCsv,
  parseOracleIpRanges,
} from "../src/intel/clouds.js";
import { defaultIntelDir } from "../src/intel/dirs.js";
import { AZURE_DOWNLOAD_PAGE, findAzureServiceTagsLink, updateIntel } from "../src/intel/update.js";
import { formatIpv4, formatIpv6 } from "../src/net/ip.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.resolve(here, "../../test/fixtures/intel");
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), "utf8");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-intel-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function match(provider: string, region?: string, service?: string): CloudMatch {
  return {
    provider,
    ...(region !== undefined ? { region } : {}),
    ...(service !== undefined ? { service } : {}),
  };
}

/** Asserts each address → expected match (undefined: no provider). */
function expectLookups(index: CloudIndex, cases: Array<[string, CloudMatch | undefined]>): void {
  for (const [ip, expected] of cases) assert.deepEqual(index.lookup(ip), expected, ip);
}

describe("loaders on the providers' formats", () => {
  test("AWS: counts, the specific service over AMAZON, nesting, IPv6, date", () => {
    const set = parseAwsIpRanges(fixture("aws-ip-ranges.json"));
    assert.equal(set.prefixes.length, 28);
    assert.equal(set.skipped, 5);
    assert.deepEqual(set.skippedSamples.slice(0, 2), ["52.95.300.0/24", "10.0.0.0/33"]);
    assert.equal(set.version, "1700000000");
    assert.deepEqual(set.published, {
      date: new Date("2023-11-14T22:13:07Z"),
      field: "createDate",
    });
    expectLookups(CloudIndex.build([set]), [
      ["3.5.141.7", match("aws", "ap-northeast-2", "S3")], // AMAZON listed first
      ["13.34.37.70", match("aws", "ap-southeast-4", "EC2")], // EC2 listed first
      ["52.95.110.5", match("aws", "us-east-1", "ROUTE53_HEALTHCHECKS")],
      ["52.95.1.1", match("aws", "us-east-1", "AMAZON")], // only the enclosing /16
      ["54.239.0.15", match("aws", "GLOBAL", "CLOUDFRONT")],
      ["54.239.0.16", undefined],
      ["99.77.130.9", match("aws", "eu-west-1", "AMAZON")], // the /24 inside a GLOBAL /18
      ["99.77.129.9", match("aws", "GLOBAL", "AMAZON")],
      ["150.222.11.87", match("aws", "eu-west-1", "AMAZON")],
      ["150.222.11.88", undefined],
      ["52.95.111.1", match("aws", "us-east-1", "AMAZON")], // its own entry was malformed
      ["2600:1f14::1", match("aws", "us-west-2", "EC2")],
      ["2600:1f18:4000::1", match("aws", "us-east-1", "EC2")],
      ["2600:1f18:1::1", match("aws", "us-east-1", "AMAZON")],
      ["2600:1f18:8000::1", undefined],
      ["2406:da00:ff00::ffff", match("aws", "us-east-1", "ROUTE53_HEALTHCHECKS")],
    ]);
  });

  test("Azure: region+service tags over AzureCloud, merged tags, no inheritance from wider prefixes", () => {
    const set = parseAzureServiceTags(fixture("azure-service-tags.json"));
    assert.equal(set.prefixes.length, 26);
    assert.equal(set.skipped, 4);
    assert.equal(set.version, "301");
    assert.equal(set.published, undefined);
    const eastStorage = match("azure", "eastus", "AzureStorage");
    expectLookups(CloudIndex.build([set]), [
      ["20.42.0.10", eastStorage], // "Storage" comes first in the file; Storage.EastUS wins
      ["20.42.5.200", eastStorage],
      ["20.42.64.1", match("azure", "eastus")], // AzureCloud.eastus over AzureCloud
      ["104.40.1.1", match("azure", "westeurope", "AzureSQL")], // AzureCloud.westeurope + Sql
      ["13.64.1.9", match("azure", undefined, "AzureFrontDoor")],
      ["13.64.250.1", match("azure", undefined, "AzureSQL")],
      ["13.64.9.9", match("azure")],
      ["51.105.66.130", match("azure", "westeurope", "AzureMonitor")],
      ["51.105.66.200", match("azure", "westeurope", "AzureMonitor")],
      ["51.105.65.1", match("azure", "westeurope")],
      ["2603:1030:20e::5", eastStorage],
      ["2603:1030:2ff::1", match("azure", "eastus")],
      ["2603:1020:200:1::1", match("azure", undefined, "AzureFrontDoor")],
      ["2603:1020:206:1::1b7", match("azure", "westeurope", "AzureMonitor")],
      ["2603:1020:206:1::1b8", match("azure", "westeurope")],
    ]);
  });

  test("Google cloud.json: scope as region, IPv6, date, a prefix without an address", () => {
    const set = parseGcpCloudRanges(fixture("gcp-cloud.json"));
    assert.equal(set.prefixes.length, 18);
    assert.equal(set.skipped, 1);
    assert.equal(set.published?.field, "creationTime");
    assert.equal(set.published?.date.toISOString(), "2023-11-15T06:33:20.000Z");
    expectLookups(CloudIndex.build([set]), [
      ["34.81.255.255", match("gcp", "asia-east1", "Google Cloud")],
      ["34.83.0.1", match("gcp", "us-west1", "Google Cloud")], // padded with a space in the file
      ["2600:1900:400f:ffff::1", match("gcp", "us-central1", "Google Cloud")],
      ["2600:1901:0:1::", match("gcp", "global", "Google Cloud")],
      ["35.186.128.0", undefined],
    ]);
  });

  test("Oracle: tags as service, malformed regions and cidrs skipped", () => {
    const set = parseOracleIpRanges(fixture("oracle-public-ip-ranges.json"));
    assert.equal(set.prefixes.length, 12);
    assert.equal(set.skipped, 3);
    assert.equal(set.published?.field, "last_updated_timestamp");
    expectLookups(CloudIndex.build([set]), [
      ["134.70.9.1", match("oracle", "us-phoenix-1", "OSN,OBJECT_STORAGE")],
      ["150.136.200.1", match("oracle", "us-ashburn-1", "OCI")],
      ["2603:c020:1::1", match("oracle", "us-phoenix-1", "OCI")],
      ["138.1.16.1", undefined],
    ]);
  });

  test("DigitalOcean geofeed: place as region, a quoted city, broken lines skipped", () => {
    const set = parseGeofeedCsv(fixture("digitalocean.csv"));
    assert.equal(set.prefixes.length, 19);
    assert.equal(set.skipped, 2);
    expectLookups(CloudIndex.build([set]), [
      ["5.101.97.1", match("digitalocean", "NL-NH Amsterdam")],
      ["134.209.1.1", match("digitalocean", "US-DC Washington, D.C.")],
      ["2a03:b0c0:3::1", match("digitalocean", "DE-HE Frankfurt")],
      ["45.55.64.1", undefined],
    ]);
  });

  test("Cloudflare lists and generic CSV (header, comments, empty fields)", () => {
    const cf = [
      parseCidrList(fixture("cloudflare-ips-v4.txt")),
      parseCidrList(fixture("cloudflare-ips-v6.txt")),
    ];
    assert.deepEqual(
      cf.map((s) => [s.prefixes.length, s.skipped]),
      [
        [15, 0],
        [7, 0],
      ],
    );
    const csv = parseGenericCsv(fixture("custom/lab.csv"));
    assert.equal(csv.prefixes.length, 4);
    assert.equal(csv.skipped, 3);
    expectLookups(CloudIndex.build([...cf, csv]), [
      ["104.23.255.255", match("cloudflare")],
      ["2606:4700::6810:84e5", match("cloudflare")],
      ["198.51.100.7", match("acme-hosting")],
      ["2001:db8:1ff::1", match("acme-hosting", "lab", "ipv6-lab")],
      ["192.0.2.1", undefined],
    ]);
  });

  test("hostile text: control characters and bidi overrides stripped, labels bounded", () => {
    const text = JSON.stringify({
      prefixes: [
        {
          ip_prefix: "192.0.2.0/24",
          region: "us-east-1\u001b[31m\u202e",
          service: `EC2${"x".repeat(10_000)}`,
        },
      ],
    });
    const m = CloudIndex.build([parseAwsIpRanges(text)]).lookup("192.0.2.9");
    assert.equal(m?.region, "us-east-1[31m");
    assert.equal(m?.service?.length, 100);
  });

  test("whole-file errors: not JSON, wrong shape, over the cap", () => {
    const cases: Array<[() => CloudPrefixSet, RegExp]> = [
      [() => parseAwsIpRanges('{"prefixes": [{"ip_prefix": "3.5.140.0/22"'), /not valid JSON/],
      [() => parseAwsIpRanges("[]"), /not a JSON object/],
      [() => parseAwsIpRanges('{"syncToken": "1"}'), /no "prefixes" or "ipv6_prefixes"/],
      [() => parseAzureServiceTags('{"values": {}}'), /no "values" list/],
      [() => parseGcpCloudRanges("null"), /not a JSON object/],
      [() => parseOracleIpRanges("{}"), /no "regions" list/],
      [() => parseCidrList("10.0.0.0/8\n".repeat(20), "cloudflare", { maxBytes: 64 }), /cap/],
      [() => parseGenericCsv("x".repeat(100), { maxBytes: 64 }), /64-byte cap/],
    ];
    for (const [parse, re] of cases) {
      assert.throws(parse, (e: unknown) => e instanceof IntelFormatError && re.test(e.message));
    }
  });
});

describe("index", () => {
  test("IPv4-mapped IPv6 looks up as IPv4; odd text is no address", () => {
    const index = CloudIndex.build([parseAwsIpRanges(fixture("aws-ip-ranges.json"))]);
    const r53 = match("aws", "us-east-1", "ROUTE53_HEALTHCHECKS");
    expectLookups(index, [
      ["::ffff:52.95.110.5", r53],
      ["::FFFF:345f:6e05", r53],
      ["0:0:0:0:0:ffff:52.95.110.5", r53],
      ["2600:1F14:0000:0000:0000:0000:0000:0001", match("aws", "us-west-2", "EC2")],
    ]);
    for (const bad of [
      "",
      "52.95.110",
      "052.95.110.5",
      "52.95.110.5 ",
      "2600:1f14::1%eth0",
      "2600:1f14::1::",
      "1:2:3:4:5:6:7:8:9",
      "1::2:3:4:5:6:7:8",
      "::ffff:52.95.110.5.1",
      "12345::",
      "[2600:1f14::1]",
    ]) {
      assert.equal(index.lookup(bad), undefined, JSON.stringify(bad));
    }
  });

  test("matches are shared and frozen; an empty index answers undefined", () => {
    const index = CloudIndex.build([parseGcpCloudRanges(fixture("gcp-cloud.json"))]);
    const a = index.lookup("34.80.0.1");
    assert.ok(a && Object.isFrozen(a));
    assert.equal(index.lookup("34.81.2.3"), a);
    const empty = CloudIndex.build([]);
    assert.equal(empty.lookup("0.0.0.0"), undefined);
    assert.equal(empty.lookup("::"), undefined);
    assert.deepEqual(empty.intervals, { v4: 1, v6: 1 });
  });

  test("property: the interval index answers like a linear scan over the prefixes", () => {
    interface Entry {
      prefix: CloudPrefix;
      source: number;
      seq: number;
    }
    const value = (p: CloudPrefix): bigint =>
      p.family === 4
        ? BigInt(p.w3)
        : (BigInt(p.w0) << 96n) | (BigInt(p.w1) << 64n) | (BigInt(p.w2) << 32n) | BigInt(p.w3);
    /** The top 96 bits of an IPv4-mapped address (::ffff:a.b.c.d). */
    const MAPPED = 0xffffn;
    /** The rules as the documentation states them, one prefix at a time. */
    const naive = (entries: Entry[], family: 4 | 6, x: bigint): CloudMatch | undefined => {
      if (family === 6 && x >> 32n === MAPPED) return naive(entries, 4, x & 0xffff_ffffn);
      const bits = family === 4 ? 32 : 128;
      const hits = entries.filter((e) => {
        if (e.prefix.family !== family) return false;
        const shift = BigInt(bits - e.prefix.length);
        return x >> shift === value(e.prefix) >> shift;
      });
      hits.sort(
        (a, b) =>
          b.prefix.length - a.prefix.length ||
          a.source - b.source ||
          b.prefix.rank - a.prefix.rank ||
          a.seq - b.seq,
      );
      const best = hits[0];
      if (best === undefined) return undefined;
      let { region, service } = best.prefix.match;
      for (const h of hits.slice(1)) {
        if (h.prefix.length !== best.prefix.length || h.source !== best.source) break;
        if (h.prefix.match.provider !== best.prefix.match.provider) continue;
        region ??= h.prefix.match.region;
        service ??= h.prefix.match.service;
      }
      return match(best.prefix.match.provider, region, service);
    };

    const word = fc.integer({ min: 0, max: 0xffff_ffff });
    // Few distinct high bits, so that prefixes nest and collide often.
    const network = fc.oneof(
      fc
        .record({
          family: fc.constant<4 | 6>(4),
          w: fc.tuple(fc.constantFrom(0, 10, 127, 255), fc.integer({ min: 0, max: 0xff_ffff })),
          length: fc.oneof(
            fc.nat(8),
            fc.integer({ min: 8, max: 24 }),
            fc.integer({ min: 24, max: 32 }),
          ),
        })
        .map(({ family, w, length }) => ({
          family,
          words: [0, 0, 0, w[0] * 2 ** 24 + w[1]],
          length,
        })),
      fc.record({
        family: fc.constant<4 | 6>(6),
        words: fc.tuple(
          fc.constantFrom(0, 0x2001_0db8, 0xffff_ffff),
          fc.constantFrom(0, 1, 0xffff_ffff),
          word,
          word,
        ),
        length: fc.oneof(
          fc.nat(32),
          fc.integer({ min: 32, max: 64 }),
          fc.integer({ min: 64, max: 128 }),
        ),
      }),
    );
    const labels = fc.record({
      provider: fc.constantFrom("p0", "p1"),
      region: fc.option(fc.constantFrom("r1", "r2"), { nil: undefined }),
      service: fc.option(fc.constantFrom("s1", "s2"), { nil: undefined }),
      rank: fc.nat(3),
    });
    const textForms = fc.constantFrom("canonical", "full", "upper", "mapped");

    const toText = (family: 4 | 6, x: bigint, form: string): string => {
      if (family === 4) {
        if (form === "mapped") return `::ffff:${formatIpv4(Number(x))}`;
        return formatIpv4(Number(x));
      }
      if (form === "full") {
        return x.toString(16).padStart(32, "0").match(/.{4}/g)!.join(":");
      }
      return form === "upper" ? formatIpv6(x).toUpperCase() : formatIpv6(x);
    };

    fc.assert(
      fc.property(
        fc.array(network, { minLength: 1, maxLength: 25 }),
        fc.array(fc.tuple(fc.nat(), labels, fc.nat(2)), { minLength: 1, maxLength: 60 }),
        fc.array(fc.tuple(fc.nat(), fc.bigInt({ min: -2n, max: 1n << 40n }), word), {
          maxLength: 30,
        }),
        textForms,
        (networks, picks, randomQueries, form) => {
          const sets: CloudPrefix[][] = [[], [], []];
          const entries: Entry[] = [];
          for (const [i, l, source] of picks) {
            const n = networks[i % networks.length]!;
            const [w0, w1, w2, w3] = n.words as [number, number, number, number];
            const prefix: CloudPrefix = {
              family: n.family,
              length: n.length,
              w0,
              w1,
              w2,
              w3,
              rank: l.rank,
              match: match(l.provider, l.region, l.service),
            };
            entries.push({ prefix, source, seq: sets[source]!.length });
            sets[source]!.push(prefix);
          }
          const index = CloudIndex.build(sets.map((prefixes) => ({ prefixes })));
          // Every prefix's edges, inside and just outside, plus addresses near the networks.
          const queries: Array<[4 | 6, bigint]> = [];
          for (const e of entries) {
            const bits = e.prefix.family === 4 ? 32 : 128;
            const max = (1n << BigInt(bits)) - 1n;
            const size = 1n << BigInt(bits - e.prefix.length);
            const start = (value(e.prefix) / size) * size;
            for (const x of [start - 1n, start, start + size - 1n, start + size]) {
              if (x >= 0n && x <= max) queries.push([e.prefix.family, x]);
            }
          }
          for (const [i, delta, w] of randomQueries) {
            const n = networks[i % networks.length]!;
            const bits = n.family === 4 ? 32 : 128;
            const max = (1n << BigInt(bits)) - 1n;
            let x = n.words.reduce((acc, v) => (acc << 32n) | BigInt(v), 0n) & max;
            x = (x + delta + BigInt(w)) & max;
            queries.push([n.family, x]);
          }
          for (const [family, x] of queries) {
            const text = toText(family, x, form);
            assert.deepEqual(index.lookup(text), naive(entries, family, x), text);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("intel directory", () => {
  test("loadCloudIndex: every fixture, dates, counts, custom CSV before the providers", async () => {
    const { index, sources } = await loadCloudIndex(FIXTURES);
    const byId = new Map(sources.map((s) => [s.id, s]));
    assert.deepEqual(
      sources.map((s) => [s.id, s.state, s.loaded, s.skipped]),
      [
        ["aws", "loaded", 28, 5],
        ["azure", "loaded", 26, 4],
        ["gcp", "loaded", 18, 1],
        ["oracle", "loaded", 12, 3],
        ["digitalocean", "loaded", 19, 2],
        ["cloudflare-v4", "loaded", 15, 0],
        ["cloudflare-v6", "loaded", 7, 0],
        ["custom/lab.csv", "loaded", 4, 3],
      ],
    );
    assert.equal(byId.get("aws")?.dateFrom, "createDate");
    assert.equal(byId.get("oracle")?.date?.toISOString(), "2023-11-13T19:55:47.000Z");
    assert.equal(byId.get("azure")?.dateFrom, "mtime");
    assert.equal(byId.get("azure")?.version, "301");
    assert.equal(index.prefixCount, 129);
    expectLookups(index, [
      ["52.95.245.1", match("aws", "us-east-1", "our-redis-fleet")], // custom wins an equal prefix
      ["34.80.10.5", match("acme-hosting", "tw-lab")], // a more specific custom prefix
      ["34.80.10.16", match("gcp", "asia-east1", "Google Cloud")],
      ["20.42.0.10", match("azure", "eastus", "AzureStorage")],
      ["2a06:98c0::1", match("cloudflare")],
      ["::ffff:134.70.9.1", match("oracle", "us-phoenix-1", "OSN,OBJECT_STORAGE")],
      ["8.8.8.8", undefined],
    ]);
  });

  test("a broken, oversized or odd file is reported and left out; the rest load", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "broken-"));
    fs.copyFileSync(
      path.join(FIXTURES, "aws-ip-ranges.json"),
      path.join(dir, "aws-ip-ranges.json"),
    );
    fs.writeFileSync(path.join(dir, "azure-service-tags.json"), "<html>Access denied</html>");
    fs.mkdirSync(path.join(dir, "gcp-cloud.json"));
    fs.writeFileSync(path.join(dir, "cloudflare-ips-v4.txt"), "10.0.0.0/8\n".repeat(2000));
    const { index, sources } = await loadCloudIndex(dir, { maxBytes: 16 * 1024 });
    const state = Object.fromEntries(sources.map((s) => [s.id, [s.state, s.error ?? ""]]));
    assert.equal(state["aws"]?.[0], "loaded");
    assert.match(state["azure"]?.[1] ?? "", /^Azure Service Tags: not valid JSON/);
    assert.deepEqual(state["gcp"], ["error", "not a regular file"]);
    assert.match(state["cloudflare-v4"]?.[1] ?? "", /22000 bytes, larger than the 16384-byte cap/);
    assert.deepEqual(state["oracle"], ["missing", ""]);
    assert.equal(index.prefixCount, 28);
  });

  test("defaultIntelDir: REDSCOPE_INTEL_DIR, else an absolute XDG_DATA_HOME, else ~/.local/share", () => {
    assert.equal(defaultIntelDir({ REDSCOPE_INTEL_DIR: "/srv/intel" }, "/home/u"), "/srv/intel");
    assert.equal(
      defaultIntelDir({ XDG_DATA_HOME: "/data", REDSCOPE_INTEL_DIR: "" }, "/home/u"),
      "/data/redscope/intel",
    );
    for (const env of [{}, { XDG_DATA_HOME: "relative/dir" }]) {
      assert.equal(defaultIntelDir(env, "/home/u"), "/home/u/.local/share/redscope/intel");
    }
  });
});

describe("updateIntel against a loopback server", () => {
  type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
  const routes = new Map<string, Handler>();
  let server: http.Server;
  let base = "";
  const requested: string[] = [];

  const serve =
    (body: string | Buffer, status = 200): Handler =>
    (_req, res) => {
      res.writeHead(status, { "content-length": Buffer.byteLength(body) });
      res.end(body);
    };

  before(async () => {
    server = http.createServer((req, res) => {
      requested.push(req.url ?? "");
      const handler = routes.get(req.url ?? "");
      if (handler) handler(req, res);
      else serve("not found", 404)(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mirror/`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    routes.clear();
    for (const s of CLOUD_SOURCES) {
      routes.set(`/mirror/${s.file}`, serve(fs.readFileSync(path.join(FIXTURES, s.file))));
    }
  });

  const leftovers = (dir: string): string[] =>
    fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"));

  test("all sources: each file written whole, one ok result per source", async () => {
    const dir = path.join(tmp, "update-ok");
    const results = await updateIntel(dir, { baseUrl: base });
    assert.deepEqual(
      results.map((r) => [r.source, r.ok]),
      CLOUD_SOURCES.map((s) => [s.id, true]),
    );
    for (const s of CLOUD_SOURCES) {
      assert.equal(
        fs.readFileSync(path.join(dir, s.file), "utf8"),
        fixture(s.file),
        `${s.file} written as served`,
      );
    }
    const aws = results[0]!;
    assert.ok(aws.ok);
    assert.deepEqual(
      [aws.prefixes, aws.skipped, aws.bytes],
      [28, 5, fixture("aws-ip-ranges.json").length],
    );
    assert.equal(aws.url, `${base}aws-ip-ranges.json`);
    assert.deepEqual(leftovers(dir), []);
  });

  test("HTTP 500, truncated JSON, a cut connection, over the cap, an HTML page: old files kept", async () => {
    const dir = path.join(tmp, "update-bad");
    await updateIntel(dir, { baseUrl: base });
    const before = new Map(
      CLOUD_SOURCES.map((s) => [s.id, fs.readFileSync(path.join(dir, s.file))]),
    );
    const gcp = fixture("gcp-cloud.json");
    const oracle = fixture("oracle-public-ip-ranges.json");
    routes.set("/mirror/aws-ip-ranges.json", serve("internal error", 500));
    routes.set("/mirror/gcp-cloud.json", serve(gcp.slice(0, gcp.length / 2)));
    routes.set("/mirror/oracle-public-ip-ranges.json", (_req, res) => {
      // Promises the whole file, sends half, and hangs up.
      res.writeHead(200, { "content-length": oracle.length });
      res.write(oracle.slice(0, oracle.length / 2), () => res.destroy());
    });
    routes.set(
      "/mirror/digitalocean.csv",
      serve("5.101.96.0/21,NL,NL-NH,Amsterdam,1098\n".repeat(400)),
    );
    routes.set("/mirror/cloudflare-ips-v4.txt", (_req, res) => {
      // No content-length: the cap is found while reading.
      res.writeHead(200);
      for (let i = 0; i < 100; i++) res.write("10.0.0.0/8\n".repeat(100));
      res.end();
    });
    routes.set(
      "/mirror/cloudflare-ips-v6.txt",
      serve("<html><body>Please enable cookies</body></html>"),
    );

    const results = await updateIntel(dir, { baseUrl: base, maxBytes: 8 * 1024 });
    const reason = Object.fromEntries(results.map((r) => [r.source, r.ok ? "ok" : r.reason]));
    assert.match(
      reason["aws"]!,
      /^HTTP 500 from .*aws-ip-ranges\.json; the existing file is kept$/,
    );
    assert.match(reason["gcp"]!, /^Google cloud\.json: not valid JSON/);
    assert.match(reason["oracle"]!, /existing file is kept/);
    assert.notEqual(reason["oracle"], "ok");
    assert.match(reason["digitalocean"]!, /larger than the 8192-byte cap/);
    assert.match(reason["cloudflare-v4"]!, /larger than the 8192-byte cap/);
    assert.match(
      reason["cloudflare-v6"]!,
      /no usable prefix in the download \(1 malformed entries\)/,
    );
    assert.equal(reason["azure"], "ok");
    for (const s of CLOUD_SOURCES) {
      assert.deepEqual(fs.readFileSync(path.join(dir, s.file)), before.get(s.id), `${s.file} kept`);
    }
    assert.deepEqual(leftovers(dir), []);
  });

  test("a server that never answers: timed out, nothing written", async () => {
    const dir = path.join(tmp, "update-timeout");
    routes.set("/mirror/gcp-cloud.json", () => {});
    const results = await updateIntel(dir, { baseUrl: base, timeoutMs: 300 });
    const gcp = results.find((r) => r.source === "gcp")!;
    assert.equal(gcp.ok, false);
    assert.ok(!gcp.ok && /^timed out after 0\.3 s/.test(gcp.reason), JSON.stringify(gcp));
    assert.equal(fs.existsSync(path.join(dir, "gcp-cloud.json")), false);
  });

  test("Azure: the file is found on the download page; without a link the result says so", async () => {
    const file =
      "https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_20231113.json";
    let page = `<html><a href="${file.replace("20231113", "20231106")}">older</a><script>
      window.__DLCDetails__={"dlcDetailsView":{"downloadFile":[{"url":${JSON.stringify(file).replace(/\//g, "\\/")}}]}}
      </script></html>`;
    const fetched: string[] = [];
    // Only the Azure source is looked at; the fake answers 404 to every other URL, off the network.
    const fakeFetch = (async (input: string | URL | Request) => {
      const url = String(input);
      fetched.push(url);
      if (url === AZURE_DOWNLOAD_PAGE) return new Response(page);
      if (url === file) return new Response(fixture("azure-service-tags.json"));
      return new Response("", { status: 404 });
    }) as typeof fetch;
    const dir = path.join(tmp, "update-azure");
    let azure = (await updateIntel(dir, { fetch: fakeFetch })).find((r) => r.source === "azure")!;
    assert.deepEqual([azure.ok, azure.url], [true, file]);
    assert.ok(fetched.includes(AZURE_DOWNLOAD_PAGE) && fetched.includes(file));
    const saved = path.join(dir, "azure-service-tags.json");
    assert.equal(fs.statSync(saved).mtime.toISOString(), "2023-11-13T00:00:00.000Z");

    page = "<html>This download is no longer available</html>";
    azure = (await updateIntel(dir, { fetch: fakeFetch })).find((r) => r.source === "azure")!;
    assert.ok(!azure.ok);
    assert.match(
      azure.reason,
      /^no ServiceTags_Public_YYYYMMDD\.json link found on https:\/\/www\.microsoft\.com\/.*download the file by hand .*; the existing file is kept$/,
    );
  });

  test("findAzureServiceTagsLink: the newest well-formed link on Microsoft's host only", () => {
    const link = (host: string, date: string) =>
      `${host}/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63/ServiceTags_Public_${date}.json`;
    const ms = "https://download.microsoft.com";
    const html = [
      link(ms, "20231106"),
      link(ms, "20231120"),
      link("http://download.microsoft.com", "20990101"),
      link("https://download.microsoft.com.evil.example", "20990102"),
      link(ms, "20991341"),
    ].join(" ");
    assert.deepEqual(findAzureServiceTagsLink(html), {
      url: link(ms, "20231120"),
      date: new Date("2023-11-20T00:00:00Z"),
    });
    assert.equal(findAzureServiceTagsLink(link(ms, "2023112")), undefined);
  });
});

describe("redscope intel (dist/src/cli/intel.js)", () => {
  const capture = (): IntelOutput & { stdout: string; stderr: string } => {
    const io = {
      stdout: "",
      stderr: "",
      out: (t: string) => {
        io.stdout += t;
      },
      err: (t: string) => {
        io.stderr += t;
      },
    };
    return io;
  };
  const program = (io: IntelOutput): Command => {
    const p = new Command("redscope").exitOverride();
    registerIntelCommand(p, io);
    return p;
  };
  after(() => {
    process.exitCode = undefined;
  });

  test("intel lookup: a row per address, '-' where nothing matches", async () => {
    const io = capture();
    await program(io).parseAsync(
      ["intel", "lookup", "52.95.110.5", "2603:1030:20e::5", "192.0.2.1", "--intel-dir", FIXTURES],
      { from: "user" },
    );
    const rows = io.stdout.trim().split("\n").slice(2);
    assert.deepEqual(
      rows.map((r) => r.split(/\s{2,}/)),
      [
        // No MaxMind DB in the fixtures: ASN, organisation and country are "-".
        ["52.95.110.5", "aws", "us-east-1", "ROUTE53_HEALTHCHECKS", "-", "-", "-"],
        ["2603:1030:20e::5", "azure", "eastus", "AzureStorage", "-", "-", "-"],
        ["192.0.2.1", "-", "-", "-", "-", "-", "-"],
      ],
    );
    assert.equal(io.stderr, "");
  });

  test("intel lookup: a bad address is a usage error before anything is read", async () => {
    const io = capture();
    await assert.rejects(
      runIntelLookup(["52.95.110.5", "52.95.110"], { intelDir: FIXTURES }, io),
      (e: unknown) => e instanceof UsageError && /not an IP address: "52\.95\.110"/.test(e.message),
    );
    assert.equal(io.stdout, "");
  });

  test("intel lookup without data warns and answers '-'", async () => {
    const io = capture();
    const code = await runIntelLookup(["1.1.1.1"], { intelDir: path.join(tmp, "empty") }, io);
    assert.equal(code, 0);
    assert.match(io.stderr, /warning: no cloud ranges in .*empty: run "redscope intel update"/);
    assert.match(io.stdout, /1\.1\.1\.1\s+-\s+-\s+-/);
  });

  test("intel show: sources, counts, dates, skipped examples", async () => {
    const io = capture();
    assert.equal(await runIntelShow({ intelDir: FIXTURES }, io), 0);
    assert.match(
      io.stdout,
      /^aws\s+loaded\s+28\s+5\s+2023-11-14\s+createDate\s+aws-ip-ranges\.json$/m,
    );
    assert.match(
      io.stdout,
      /^azure\s+loaded\s+26\s+4\s+\d{4}-\d\d-\d\d\s+mtime\s+azure-service-tags\.json$/m,
    );
    assert.match(io.stdout, /^custom\/lab\.csv\s+loaded\s+4\s+3\s+.*custom\/lab\.csv$/m);
    assert.match(
      io.stdout,
      /^aws: 5 malformed entries skipped, e\.g\. "52\.95\.300\.0\/24", "10\.0\.0\.0\/33"/m,
    );
    assert.match(io.stdout, /^index: 129 prefixes in \d+ IPv4 and \d+ IPv6 intervals$/m);

    const empty = capture();
    await runIntelShow({ intelDir: path.join(tmp, "nothing-here") }, empty);
    assert.match(empty.stdout, /^aws\s+missing\s+aws-ip-ranges\.json$/m);
    assert.match(empty.stdout, /no cloud ranges loaded: run "redscope intel update"/);
  });

  test("intel update --mirror: a line per source; exit 1 when one fails", async () => {
    let server: http.Server | undefined;
    try {
      server = http.createServer((req, res) => {
        const name = path.basename(req.url ?? "");
        const known = CLOUD_SOURCES.some((s) => s.file === name) && name !== "gcp-cloud.json";
        res.writeHead(known ? 200 : 503);
        res.end(known ? fs.readFileSync(path.join(FIXTURES, name)) : "unavailable");
      });
      await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
      const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/intel`;
      const io = capture();
      const dir = path.join(tmp, "cli-update");
      assert.equal(await runIntelUpdate({ intelDir: dir, mirror, timeout: "10s" }, io), 1);
      const lines = io.stdout.trim().split("\n");
      assert.equal(lines.length, CLOUD_SOURCES.length + 2, "one line per source and the CVE table");
      assert.match(lines[0]!, /^aws\s+ok\s+28 prefixes, 5 KiB, 5 malformed skipped$/);
      assert.match(
        lines[2]!,
        /^gcp\s+failed\s+HTTP 503 from http:\/\/127\.0\.0\.1:\d+\/intel\/gcp-cloud\.json$/,
      );
      assert.match(
        lines.at(-2)!,
        /^cves\s+failed\s+HTTP 503 from http:\/\/127\.0\.0\.1:\d+\/intel\/cves\.json$/,
      );
      assert.equal(lines.at(-1), `intel directory: ${dir}`);
      await assert.rejects(
        runIntelUpdate({ intelDir: dir, mirror: "ftp://x" }, io),
        (e: unknown) => e instanceof UsageError && /--mirror/.test(e.message),
      );
    } finally {
      server?.closeAllConnections();
      server?.close();
    }
  });
});
