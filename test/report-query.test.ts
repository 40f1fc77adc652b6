/** The one host filter (src/report/query.ts): its syntax, and what it selects in a real store. */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  formatQuery,
  type HostQuery,
  matchingResults,
  parseQuery,
  QueryError,
  scanLookups,
  storeFilter,
  versionMatches,
} from "../src/report/query.js";
import type { ProbeResult } from "../src/schema/result.js";
import { openStore } from "../src/store/index.js";
import { testScan } from "./helpers/scans.js";

/** fast-check makes null-prototype records; the parser makes plain objects. */
const want0 = (q: unknown): HostQuery => JSON.parse(JSON.stringify(q)) as HostQuery;

describe("query syntax", () => {
  test("the issue's example reads as five terms", () => {
    assert.deepEqual(
      parseQuery("state:open product:redis version:<6 country:DE cve:CVE-2025-49844"),
      {
        state: "open",
        product: "redis",
        versionRange: { op: "<", version: "6" },
        country: "DE",
        cve: "CVE-2025-49844",
      },
    );
  });

  test("bare words and quoted phrases are text; quoted values keep their spaces", () => {
    assert.deepEqual(parseQuery(`asn:AS3320 cloud:"Hetzner Online" "redis_version:7" lua`), {
      asn: 3320,
      cloud: "hetzner online",
      text: "redis_version:7 lua",
    });
    assert.deepEqual(parseQuery("version:7.0.15 version:>=7"), {
      version: "7.0.15",
      versionRange: { op: ">=", version: "7" },
    });
  });

  test("bad terms are one-line errors naming the term", () => {
    for (const [q, msg] of [
      ["stat:open", /no such search key: stat/],
      ["state:opened", /no such state: opened/],
      ["cve:2025-1", /not a CVE id/],
      ["asn:ASX", /not an AS number/],
      ["country:Germany", /two-letter/],
      ["version:<seven", /not a version/],
      ["attack:teleport", /no such technique/],
      ["compromise:maybe", /no such sign of compromise/],
      ["x".repeat(1001), /longer than 1000/],
    ] as const) {
      assert.throws(
        () => parseQuery(q),
        (e: Error) => e instanceof QueryError && msg.test(e.message),
        q,
      );
    }
  });

  test("formatQuery writes what parseQuery reads back", () => {
    const word = fc.stringMatching(/^[a-z0-9._-]{1,12}$/);
    const query = fc.record(
      {
        state: fc.constantFrom("open", "auth_required", "closed"),
        product: word,
        version: word,
        versionRange: fc.record({
          op: fc.constantFrom("<", "<=", ">", ">=" as const),
          version: fc.stringMatching(/^(0|[1-9][0-9]?)(\.(0|[1-9][0-9]?)){0,2}$/),
        }),
        country: fc.stringMatching(/^[A-Z]{2}$/),
        asn: fc.integer({ min: 0, max: 4294967295 }),
        cloud: word,
        cve: fc.stringMatching(/^CVE-20[0-9]{2}-[0-9]{4,7}$/),
        compromise: fc.constant("any" as const),
        text: fc.stringMatching(/^[a-z:<>= ]{0,20}[a-z]$/),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(query, (q) => {
        const back = parseQuery(formatQuery(want0(q)));
        const want = JSON.parse(JSON.stringify(q)) as HostQuery;
        if (want.text !== undefined) want.text = want.text.trim();
        assert.deepEqual(back, want);
      }),
      { numRuns: 300 },
    );
  });

  test("versions compare as versions, not as text", () => {
    assert.ok(versionMatches("6.2.16", { op: "<", version: "7" }));
    assert.ok(!versionMatches("7.0.15", { op: "<", version: "7" }));
    assert.ok(versionMatches("7.0.15", { op: ">", version: "7" }));
    assert.ok(versionMatches("10.0.0", { op: ">", version: "9.9" }));
    assert.ok(versionMatches("2.8.24", { op: "<=", version: "2.8.24" }));
    assert.ok(!versionMatches("unknown", { op: "<", version: "99" }));
  });
});

describe("what a query selects in a real store", () => {
  test("state, country, version comparison and CVE, as report --hosts and the dashboard read them", async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-query-"));
    const store = await openStore(path.join(tmp, "q.db"));
    try {
      await store.beginScan(testScan("s", "2026-12-01T00:00:00Z"));
      await store.beginShard({ scanId: "s", shard: "0/1", startedAt: "2026-12-01T00:00:00Z" });
      const versions = ["2.8.24", "5.0.14", "6.2.16", "7.0.15", "7.4.1", "10.1.0"];
      const rows: ProbeResult[] = versions.map((v, i) => ({
        ip: `192.0.2.${i + 1}`,
        port: 6379,
        transport: "tcp",
        time: "2026-12-01T00:00:01.000Z",
        state: "open",
        shard: "0/1",
        country: i % 2 === 0 ? "DE" : "US",
        server: { product: "redis", version: v, redis_version: v },
        ...(v.startsWith("7.0")
          ? { cves: [{ id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" }] }
          : {}),
      }));
      rows.push({
        ...rows[0]!,
        ip: "192.0.2.99",
        state: "closed",
        server: undefined,
      } as ProbeResult);
      delete rows[6]!.server;
      await store.insertResults("s", rows);
      const lookups = scanLookups(store, "s");
      const ips = async (text: string): Promise<string[]> => {
        const f = await storeFilter(parseQuery(text), lookups);
        const out: string[] = [];
        for await (const r of matchingResults(store, "s", f)) out.push(r.ip);
        return out.sort();
      };
      assert.deepEqual(await ips("version:<6"), ["192.0.2.1", "192.0.2.2"]);
      assert.deepEqual(await ips("version:>=7 country:DE"), ["192.0.2.5"]);
      assert.deepEqual(await ips("version:>7.0.15"), ["192.0.2.5", "192.0.2.6"]);
      assert.deepEqual(await ips("cve:CVE-2025-49844"), ["192.0.2.4"]);
      assert.deepEqual(await ips("cve:CVE-2025-49844 version:<7"), []);
      assert.deepEqual(await ips("state:closed"), ["192.0.2.99"]);
      assert.equal((await ips("")).length, 7);
    } finally {
      await store.close();
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
