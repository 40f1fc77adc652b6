/**
 * intel/cves: the data file loads and validates, and the matcher's verdicts per (product,
 * version). Expected CVE sets were worked out by hand from versions.md §1, row by row, not by
 * running the matcher.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  CveMatcher,
  type CveSubject,
  CveTableError,
  defaultCveTablePath,
  loadCveTable,
  parseCveTable,
} from "../src/intel/cves.js";
import type { Product } from "../src/schema/result.js";

const table = loadCveTable();
const matcher = new CveMatcher(table);

/** A 64-bit jemalloc build with no module list: the facts a typical INFO gives. */
function redis(version: string, over: Partial<CveSubject> = {}): CveSubject {
  return { product: "redis", version, arch_bits: 64, mem_allocator: "jemalloc-5.3.0", ...over };
}

const ids = (facts: readonly { id: string }[]): string[] => facts.map((f) => f.id).sort();
/** "2026-66373" is CVE-2026-66373; an id that already names its scheme (REDSCOPE-…) is kept. */
const cve = (...n: string[]): string[] => n.map((x) => (/^[A-Z]/.test(x) ? x : `CVE-${x}`)).sort();

// Rows every Lua-era server below 6.2 carries (2.6+ "all versions" and Lua CVEs).
const OLD_COMMON = [
  "2021-32626",
  "2021-32628",
  "2021-32687",
  "2021-32675",
  "2021-41099",
  "2022-24735",
  "2022-24736",
  "2022-24834",
  "2022-35977",
  "2022-36021",
  "2023-25155",
  "2023-28856",
  "2023-45145",
  "2024-31449",
  "2024-31228",
  "2024-46981",
  "2025-21605",
  "2025-32023",
  "2025-48367",
  "2025-49844",
  "2025-46817",
  "2025-46818",
  "2025-46819",
  "2026-25243",
];
const LATE_7X = [
  "2024-46981",
  "2024-51741",
  "2025-21605",
  "2025-32023",
  "2025-48367",
  "2025-49844",
  "2025-46817",
  "2025-46818",
  "2025-46819",
  "2026-25243",
  "2026-23631",
  "2026-81934",
  "2026-66373",
];

const EXPECTED: [string, string[]][] = [
  [
    "2.8.23",
    [
      ...OLD_COMMON,
      "2015-8080",
      "2016-10517",
      "2018-11218",
      "2018-11219",
      "2019-10192",
      "2019-10193",
      "2020-14147",
    ],
  ],
  ["3.2.12", [...OLD_COMMON, "2019-10192", "2019-10193", "2020-14147", "2021-32672"]],
  ["4.0.14", [...OLD_COMMON, "2020-14147", "2021-32672"]],
  ["5.0.7", [...OLD_COMMON, "2020-14147", "2021-32672", "2021-32627", "2026-66373"]],
  [
    "6.0.9",
    [
      ...OLD_COMMON,
      "2021-29477",
      "2021-32625",
      "2021-32627",
      "2021-32672",
      "2026-81934",
      "2026-66373",
    ],
  ],
  [
    "6.2.6",
    [
      "2022-24735",
      "2022-24736",
      "2022-24834",
      "2022-35977",
      "2022-36021",
      "2023-25155",
      "2023-22458",
      "2023-28856",
      "2023-45145",
      "2024-31449",
      "2024-31228",
      "2024-46981",
      "2025-21605",
      "2025-32023",
      "2025-48367",
      "2025-49844",
      "2025-46817",
      "2025-46818",
      "2025-46819",
      "2026-25243",
      "2026-81934",
      "2026-66373",
    ],
  ],
  ["7.0.15", [...LATE_7X, "2024-31449", "2024-31227", "2024-31228", "REDSCOPE-redis-15594"]],
  [
    "7.2.4",
    [...LATE_7X, "2024-31449", "2024-31227", "2024-31228", "2026-23479", "REDSCOPE-redis-15594"],
  ],
  ["7.2.14", ["2026-81934", "2026-66373", "REDSCOPE-redis-15594"]],
  [
    "7.4.1",
    [
      ...LATE_7X,
      "2026-23479",
      "REDSCOPE-redis-15594",
      "REDSCOPE-redis-15478",
      "REDSCOPE-redis-slot-info",
    ],
  ],
  [
    "8.0.2",
    [
      "2025-32023",
      "2025-48367",
      "2025-49844",
      "2025-46817",
      "2025-46818",
      "2025-46819",
      "2026-23479",
      "2026-25243",
      "2026-23631",
      "2026-81934",
      "2026-66373",
    ],
  ],
  ["8.2.2", ["2025-62507", "2026-23479", "2026-25243", "2026-23631", "2026-81934", "2026-66373"]],
  ["8.6.3", ["2026-81934", "2026-66373"]],
];

describe("cves.json", () => {
  it("loads, validates and keeps the research table's entries", () => {
    assert.match(table.updated, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(table.sources.length > 0);
    assert.equal(table.cves.length, 71);
    assert.equal(new Set(table.cves.map((c) => c.id)).size, table.cves.length);
    const byId = new Map(table.cves.map((c) => [c.id, c]));
    // Combined rows are split.
    for (const id of cve("2018-11218", "2018-11219", "2025-46817", "2025-46818", "2025-46819")) {
      assert.ok(byId.has(id), id);
    }
    assert.deepEqual(
      table.cves
        .filter((c) => c.unauthenticated)
        .map((c) => c.id)
        .sort(),
      cve("2021-32675", "2025-21605", "2025-48367", "2026-81934", "2026-21863", "2026-27623"),
    );
    assert.deepEqual(
      table.cves
        .filter((c) => c.client_side)
        .map((c) => c.id)
        .sort(),
      cve("2013-7458", "2018-12326", "2021-32762", "2025-27151"),
    );
    assert.equal(byId.get("CVE-2022-0543")?.distro_only, "debian");
    assert.equal(byId.get("CVE-2021-41099")?.cvss, undefined, "'–' in the notes: no score");
    assert.equal(byId.get("CVE-2025-49844")?.cvss, 10);
  });

  it("rejects a malformed entry with a message naming it", () => {
    const raw = JSON.parse(fs.readFileSync(defaultCveTablePath(), "utf8"));
    const at = raw.cves.findIndex((c: { id: string }) => c.id === "CVE-2021-32675");
    const broken = structuredClone(raw);
    broken.cves[at].affected[0].fixed = "6.2";
    assert.throws(
      () => parseCveTable(broken),
      (e: unknown) =>
        e instanceof CveTableError &&
        e.message.includes(`cves[${at}] (CVE-2021-32675)`) &&
        e.message.includes("affected[0]") &&
        e.message.includes("fixed"),
    );
    const typo = structuredClone(raw);
    typo.cves[at].clientside = false;
    assert.throws(() => parseCveTable(typo), /CVE-2021-32675.*unknown key "clientside"/);
    const offBranch = structuredClone(raw);
    offBranch.cves[at].affected.at(-1).fixed = "7.0.1";
    assert.throws(() => parseCveTable(offBranch), /CVE-2021-32675.*not on branch 6\.2/);
    const twice = structuredClone(raw);
    twice.cves[at + 1].id = "CVE-2021-32675";
    assert.throws(() => parseCveTable(twice), /duplicate id/);
    assert.throws(() => parseCveTable([]), CveTableError);
    assert.throws(() => parseCveTable({ ...raw, cves: [null] }), /cves\[0\]: expected an object/);
  });

  it("checks the product ranges and advisory ids", () => {
    const raw = JSON.parse(fs.readFileSync(defaultCveTablePath(), "utf8"));
    const at = raw.cves.findIndex((c: { id: string }) => c.id === "CVE-2026-63639");
    const product = structuredClone(raw);
    product.cves[at].affected[0].product = "dragonfly";
    assert.throws(() => parseCveTable(product), /CVE-2026-63639.*product must be one of/);
    const twice = structuredClone(raw);
    twice.cves[at].affected.push({ ...twice.cves[at].affected[0] });
    assert.throws(() => parseCveTable(twice), /valkey branch 7\.2 listed twice/);
    // The same branch number for two products is two ranges, not a repeat.
    assert.ok(
      table.cves.some(
        (c) =>
          c.affected.some((r) => r.product === undefined && r.branch === "7.2") &&
          c.affected.some((r) => r.product === "valkey" && r.branch === "7.2"),
      ),
    );
    const ids = structuredClone(raw);
    ids.cves[at].id = "GHSA-fq2f-crmw-q97r";
    assert.equal(parseCveTable(ids).cves[at]?.id, "GHSA-fq2f-crmw-q97r");
    ids.cves[at].id = "GHSA-nope";
    assert.throws(() => parseCveTable(ids), /id must look like/);
    ids.cves[at].id = "REDSCOPE-valkey-4574";
    assert.equal(parseCveTable(ids).cves[at]?.id, "REDSCOPE-valkey-4574");
  });

  it("names the file when it is not JSON", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "redscope-cves-")), "bad.json");
    fs.writeFileSync(file, "{ not json");
    assert.throws(
      () => loadCveTable(file),
      (e: unknown) => e instanceof CveTableError && e.message.startsWith(file),
    );
  });
});

describe("CveMatcher: Redis by version", () => {
  for (const [version, expected] of EXPECTED) {
    it(`redis ${version}`, () => {
      const m = matcher.match(redis(version));
      assert.equal(m.basis, "version");
      assert.equal(m.judged, version);
      assert.deepEqual(ids(m.cves), cve(...expected));
    });
  }

  it("points fixed_in at the branch's fix, or the lowest fix on a later branch", () => {
    const fixedIn = (version: string, id: string): string | undefined =>
      matcher.match(redis(version)).cves.find((c) => c.id === id)?.fixed_in;
    assert.equal(fixedIn("2.8.23", "CVE-2015-8080"), "2.8.24");
    assert.equal(fixedIn("6.2.6", "CVE-2022-24735"), "6.2.7");
    assert.equal(fixedIn("5.0.7", "CVE-2022-24834"), "6.0.20");
    assert.equal(fixedIn("7.0.15", "CVE-2025-49844"), "7.2.11");
    assert.equal(fixedIn("7.2.4", "CVE-2026-23479"), "7.2.14");
    assert.equal(fixedIn("7.2.13", "CVE-2026-23479"), "7.2.14");
    assert.equal(fixedIn("7.2.14", "CVE-2026-66373"), "7.2.15");
    assert.equal(fixedIn("6.2.20", "CVE-2026-81934"), "6.2.24");
    assert.equal(fixedIn("8.0.2", "CVE-2026-23479"), "8.2.6");
    assert.equal(fixedIn("2.6.17", "CVE-2015-4335"), "2.8.21");
  });

  it("sorts by cvss, highest first, then by id", () => {
    assert.deepEqual(
      matcher.match(redis("7.4.1")).cves.map((c) => [c.id, c.cvss]),
      [
        ["CVE-2025-49844", 10],
        ["CVE-2026-81934", 9.8],
        ["CVE-2026-23479", 7.7],
        ["CVE-2026-25243", 7.7],
        ["CVE-2025-21605", 7.5],
        ["CVE-2025-48367", 7.5],
        ["CVE-2026-66373", 7.5],
        ["CVE-2024-46981", 7],
        ["CVE-2025-32023", 7],
        ["CVE-2025-46817", 7],
        ["CVE-2025-46819", 6.3],
        ["CVE-2026-23631", 6.1],
        ["CVE-2025-46818", 6],
        ["CVE-2024-51741", 4.4],
        ["REDSCOPE-redis-15478", undefined],
        ["REDSCOPE-redis-15594", undefined],
        ["REDSCOPE-redis-slot-info", undefined],
      ],
    );
    const tail = matcher.match(redis("6.2.6")).cves.filter((c) => c.cvss === undefined);
    assert.deepEqual(
      tail.map((c) => c.id),
      cve("2022-24735", "2022-24736", "2022-36021", "2023-22458", "2023-25155"),
    );
    assert.equal(matcher.match(redis("6.2.6")).cves.at(-1)?.id, "CVE-2023-25155");
  });

  it("never reports client-side CVEs for a scanned server", () => {
    for (const v of ["3.2.0", "4.0.9", "6.2.5", "7.2.8"]) {
      const all = [...matcher.match(redis(v)).cves, ...(matcher.match(redis(v)).possible ?? [])];
      for (const id of cve("2013-7458", "2018-12326", "2021-32762", "2025-27151")) {
        assert.ok(!all.some((c) => c.id === id), `${id} on ${v}`);
      }
    }
  });

  it("never claims CVE-2022-0543 from a version; Redis 2.8–6.0 list it as possible", () => {
    const versions = [...EXPECTED.map(([v]) => v), "5.0.14", "6.0.16", "4.0.9"];
    for (const product of ["redis", "elasticache", "msopentech"] as Product[]) {
      for (const version of versions) {
        const m = matcher.match({ product, version });
        assert.ok(!m.cves.some((c) => c.id === "CVE-2022-0543"), `${product} ${version}`);
      }
    }
    const m = matcher.match(redis("5.0.7"));
    assert.deepEqual(m.possible, [{ id: "CVE-2022-0543", cvss: 10 }]);
    assert.ok(m.notes?.some((n) => n.startsWith("CVE-2022-0543: only Debian/Ubuntu")));
    assert.equal(matcher.match(redis("7.0.15")).possible, undefined);
    assert.equal(matcher.match({ ...redis("5.0.7"), product: "elasticache" }).possible, undefined);
  });

  it("uses build facts: drops CVEs the build rules out, lists unseen ones as possible", () => {
    const unseen = matcher.match({ product: "redis", version: "5.0.7" });
    assert.deepEqual(
      ids(unseen.possible ?? []),
      cve("2021-3470", "2021-21309", "2021-32761", "2022-0543"),
    );
    assert.ok(unseen.notes?.some((n) => /CVE-2021-21309, CVE-2021-32761: .*32-bit/.test(n)));
    const bits32 = matcher.match(redis("5.0.7", { arch_bits: 32, mem_allocator: "libc" }));
    for (const id of cve("2021-3470", "2021-21309", "2021-32761")) {
      assert.ok(
        bits32.cves.some((c) => c.id === id),
        id,
      );
    }
    const bloom = { name: "bf", ver: "80200" };
    const withBloom = matcher.match(redis("8.2.2", { modules: [bloom] }));
    assert.ok(withBloom.cves.some((c) => c.id === "CVE-2026-25589"));
    assert.ok(withBloom.cves.some((c) => c.id === "CVE-2026-62356"));
    assert.ok(!withBloom.cves.some((c) => c.id === "CVE-2026-25588"), "no timeseries loaded");
    assert.equal(withBloom.possible, undefined);
    assert.deepEqual(
      ids(matcher.match(redis("8.2.2")).possible ?? []),
      cve("2026-25588", "2026-25589", "2026-62356"),
    );
    assert.deepEqual(ids(matcher.match(redis("8.6.3")).possible ?? []), cve("2026-62356"));
  });
});

describe("CveMatcher: products", () => {
  it("judges ElastiCache by its engine version, with a note", () => {
    const m = matcher.match({ ...redis("6.2.6"), product: "elasticache" });
    assert.equal(m.basis, "version");
    assert.deepEqual(ids(m.cves), ids(matcher.match(redis("6.2.6")).cves));
    assert.ok(m.notes?.some((n) => n.includes("AWS may patch")));
  });

  it("judges the Windows port as the upstream release it was built from", () => {
    const w = (version: string) => matcher.match({ ...redis(version), product: "msopentech" });
    const m = w("3.0.504");
    assert.equal(m.basis, "upstream_build");
    assert.equal(m.judged, "3.0.5");
    assert.deepEqual(
      ids(m.cves),
      cve(
        ...OLD_COMMON,
        "2015-8080",
        "2016-10517",
        "2018-11218",
        "2018-11219",
        "2019-10192",
        "2019-10193",
        "2020-14147",
      ),
    );
    assert.ok(
      m.cves.some((c) => c.id === "CVE-2015-8080"),
      "lacks the 3.0.6 lua_struct fix",
    );
    assert.equal(w("3.2.100").judged, "3.2.1");
    assert.ok(
      w("3.2.100").cves.some((c) => c.id === "CVE-2016-8339"),
      "predates 3.2.4",
    );
    assert.equal(w("2.8.2400").judged, "2.8.24");
    assert.ok(!w("2.8.2400").cves.some((c) => c.id === "CVE-2015-8080"), "2.8.24 has the fix");
  });

  it("never judges forks and reimplementations by redis_version", () => {
    // Valkey and KeyDB are judged by their own version only (see "CveMatcher: Valkey and KeyDB").
    const cases: CveSubject[] = [
      { product: "valkey", redis_version: "7.2.4" },
      { product: "keydb", redis_version: "6.3.4" },
      { product: "dragonfly", version: "1.27.1", redis_version: "7.4.0" },
      { product: "garnet", version: "1.0.60", redis_version: "7.4.3" },
      { product: "unknown", redis_version: "5.0.7" },
      { redis_version: "5.0.7" },
    ];
    for (const server of cases) {
      const m = matcher.match(server);
      assert.equal(m.basis, "none", JSON.stringify(server));
      assert.deepEqual(m.cves, []);
      assert.equal(m.possible, undefined);
      assert.ok((m.notes ?? []).length > 0, "says why");
    }
    assert.match(matcher.match(cases[2]!).notes?.[0] ?? "", /Dragonfly/);
  });
});

describe("CveMatcher: hostile and odd versions", () => {
  it("gives no verdict, never a throw", () => {
    const versions = [
      "7.0.0\u001b[31m",
      "",
      "99999999999999999999.1.1",
      "7.0",
      "7.2-rc3",
      "7.0.0-rc1",
      " 7.0.0",
      "v7.0.0",
      "07.0.0",
      "__proto__",
    ];
    for (const version of versions) {
      const m = matcher.match({ product: "redis", version });
      assert.equal(m.basis, "none", JSON.stringify(version));
      assert.deepEqual(m.cves, []);
    }
    for (const product of ["__proto__", "constructor", "toString"]) {
      assert.equal(matcher.match({ product: product as Product, version: "5.0.7" }).basis, "none");
    }
    assert.equal(matcher.match(undefined).basis, "none");
    const wrongTypes = { product: "redis", version: 7, modules: "bf", arch_bits: "32" };
    assert.equal(matcher.match(wrongTypes as unknown as CveSubject).basis, "none");
  });

  it("does not judge pre-releases or versions below the table's floor", () => {
    const rc = matcher.match(redis("7.1.241"));
    assert.equal(rc.basis, "none");
    assert.match(rc.notes?.[0] ?? "", /pre-release/);
    const old = matcher.match(redis("2.4.17"));
    assert.equal(old.basis, "none");
    assert.match(old.notes?.[0] ?? "", /older than 2\.6\.0/);
  });

  it("says when a branch is newer than the table", () => {
    const m = matcher.match(redis("9.0.0"));
    assert.equal(m.basis, "version");
    assert.deepEqual(m.cves, []);
    assert.ok(m.notes?.some((n) => n.includes("newer than every Redis branch")));
    const newest = matcher.match(redis("8.10.0")).notes ?? [];
    assert.ok(!newest.some((n) => n.includes("newer than every")));
    const valkey = matcher.match({ product: "valkey", version: "10.0.0" });
    assert.ok(valkey.notes?.some((n) => n.includes("newer than every Valkey branch")));
  });

  it("survives arbitrary facts", () => {
    const product = fc.constantFrom<Product | undefined>(
      "redis",
      "elasticache",
      "msopentech",
      "valkey",
      undefined,
    );
    const version = fc.oneof(
      fc.string(),
      fc.tuple(fc.nat(20), fc.nat(20), fc.nat(5000)).map(([a, b, c]) => `${a}.${b}.${c}`),
    );
    fc.assert(
      fc.property(product, version, fc.option(fc.constantFrom(32, 64, 0)), (p, v, bits) => {
        const m = matcher.match({ product: p, version: v, arch_bits: bits ?? undefined });
        assert.ok(["version", "upstream_build", "none"].includes(m.basis));
        assert.ok(!m.cves.some((c) => c.id === "CVE-2022-0543"));
      }),
    );
  });
});

describe("CveMatcher: memo", () => {
  it("shares frozen results and stays bounded", () => {
    const small = new CveMatcher(table, 2);
    const first = small.match(redis("6.2.6"));
    assert.equal(small.match(redis("6.2.6")), first);
    assert.throws(() => (first.cves as unknown[]).push({ id: "CVE-0000-0000" }), TypeError);
    small.match(redis("7.0.15"));
    small.match(redis("7.2.4"));
    const again = small.match(redis("6.2.6"));
    assert.notEqual(again, first, "evicted, then judged afresh");
    assert.deepEqual(again, first);
    // Build facts are part of the key.
    assert.notEqual(small.match(redis("6.2.6", { arch_bits: 32 })), again);
  });
});
