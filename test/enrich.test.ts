/**
 * Enrichment end to end, as a user runs it: `redscope scan --intel-dir DIR` against recorded
 * servers on loopback, with a cloud CSV and MaxMind databases (built here) that cover 127/8.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { type LabServer, startLabServer } from "../src/lab/replay.js";
import { SqliteStore } from "../src/store/index.js";
import { parseJsonl, runCli } from "./helpers/cli.js";
import { buildMmdb } from "./helpers/mmdb.js";
import { freePort } from "./helpers/ports.js";

const VALKEY_INFO = [
  "# Server",
  "redis_version:7.2.4",
  "server_name:valkey",
  "valkey_version:8.0.1",
  "redis_mode:standalone",
  "",
].join("\r\n");
const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-enrich-"));
const intel = path.join(tmp, "intel");
const servers: LabServer[] = [];
let port = 0;

before(async () => {
  fs.mkdirSync(path.join(intel, "custom"), { recursive: true });
  fs.writeFileSync(
    path.join(intel, "custom", "lab.csv"),
    "cidr,provider,region,service\n127.0.0.0/8,labcloud,loopback-1,redis\n127.88.0.2/32,othercloud,,\n",
  );
  fs.writeFileSync(
    path.join(intel, "GeoLite2-ASN.mmdb"),
    buildMmdb(
      [
        {
          network: "127.0.0.0/8",
          data: { autonomous_system_number: 64512, autonomous_system_organization: "LAB-AS" },
        },
      ],
      { databaseType: "GeoLite2-ASN", ipv4MappedAlias: true },
    ),
  );
  fs.writeFileSync(
    path.join(intel, "GeoLite2-Country.mmdb"),
    buildMmdb([{ network: "127.88.0.0/16", data: { country: { iso_code: "NL" } } }], {
      databaseType: "GeoLite2-Country",
    }),
  );
  port = await freePort("127.88.0.1");
  servers.push(
    await startLabServer(
      "7.0.15",
      { kind: "replay", fixture: "redis-7.0.15-open" },
      "127.88.0.1",
      port,
    ),
    // Valkey 8 as it answers INFO: redis_version is a compatibility value, never judged.
    await startLabServer(
      "valkey 8",
      { kind: "every-command", reply: bulk(VALKEY_INFO) },
      "127.88.0.2",
      port,
    ),
    await startLabServer(
      "6.2.16 auth",
      { kind: "replay", fixture: "redis-6.2.16-requirepass" },
      "127.88.0.3",
      port,
    ),
  );
});

after(async () => {
  for (const s of servers) await s.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("scan --intel-dir", () => {
  test("open Redis gets its CVEs, every answering server its cloud, ASN and country", async () => {
    const db = path.join(tmp, "rs.db");
    const r = await runCli(
      ["scan", "127.88.0.1-127.88.0.4", "-p", String(port), "--allow-reserved", "-q", "-o", "-"],
      { env: { REDSCOPE_INTEL_DIR: intel, REDSCOPE_DB: db } },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /intel: CVE table of \d{4}-\d\d-\d\d \(\d+ CVEs\); clouds custom\/lab\.csv/,
    );
    const byIp = new Map(parseJsonl(r.stdout).map((x) => [x.ip, x]));

    const redis = byIp.get("127.88.0.1");
    assert.equal(redis?.server?.version, "7.0.15");
    const ids = redis?.cves?.map((c) => c.id) ?? [];
    // 7.0 is end of life: RediShell (2025) is fixed only on later branches.
    assert.ok(ids.includes("CVE-2025-49844"), ids.join(" "));
    assert.equal(redis?.cves?.find((c) => c.id === "CVE-2025-49844")?.fixed_in, "7.2.11");
    assert.ok(!ids.includes("CVE-2022-0543"), "a distro-only CVE is never claimed from a version");
    assert.deepEqual(redis?.cloud, {
      provider: "labcloud",
      region: "loopback-1",
      service: "redis",
    });
    assert.equal(redis?.asn, 64512);
    assert.equal(redis?.as_org, "LAB-AS");
    assert.equal(redis?.country, "NL");

    const valkey = byIp.get("127.88.0.2");
    assert.equal(valkey?.server?.product, "valkey");
    // Valkey is judged by its own version (8.0.1) against its own ranges, never by redis_version.
    const valkeyIds = (valkey?.cves ?? []).map((c) => c.id);
    assert.ok(valkeyIds.includes("CVE-2026-63639"), "Valkey's own advisory");
    assert.equal(valkey?.cves?.find((c) => c.id === "CVE-2026-23479")?.fixed_in, "8.0.8");
    assert.ok(!valkeyIds.includes("CVE-2026-81934"), "Redis's TLS CVE id is not Valkey's");
    assert.deepEqual(valkey?.cloud, { provider: "othercloud" }, "the most specific prefix wins");

    const auth = byIp.get("127.88.0.3");
    assert.equal(auth?.state, "auth_required");
    assert.equal(auth?.cves, undefined, "no version, no verdict");
    assert.equal(auth?.asn, 64512);

    const closed = byIp.get("127.88.0.4");
    assert.equal(closed?.state, "closed");
    assert.equal(closed?.cloud, undefined, "nothing answered: nothing to place");

    // The store has the enriched record and the columns reports group on.
    const store = SqliteStore.open(db);
    try {
      const [scan] = await store.listScans();
      const rows = [];
      for await (const x of store.results({ scanId: scan!.id, state: "open" })) rows.push(x);
      assert.deepEqual(rows.find((x) => x.ip === "127.88.0.1")?.cves, redis?.cves);
    } finally {
      await store.close();
    }
  });

  test("intel show and intel lookup see the same data", async () => {
    const show = await runCli(["intel", "show", "--intel-dir", intel]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /CVE table: \d+ CVEs, updated \d{4}-\d\d-\d\d/);
    assert.match(show.stdout, /MaxMind asn: GeoLite2-ASN, built \d{4}-\d\d-\d\d, IPv6/);
    assert.match(show.stdout, /MaxMind country: GeoLite2-Country/);
    const look = await runCli(["intel", "lookup", "127.88.0.1", "::1", "--intel-dir", intel]);
    assert.equal(look.code, 0, look.stderr);
    const rows = look.stdout
      .trim()
      .split("\n")
      .slice(2)
      .map((r) => r.split(/\s{2,}/));
    assert.deepEqual(rows, [
      ["127.88.0.1", "labcloud", "loopback-1", "redis", "64512", "LAB-AS", "NL"],
      ["::1", "-", "-", "-", "-", "-", "-"],
    ]);
  });

  test("intel cves says what a version alone cannot tell", async () => {
    const r = await runCli(["intel", "cves", "redis", "5.0.7", "--intel-dir", intel]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^redis 5\.0\.7: basis version/);
    assert.match(r.stdout, /CVE-2021-32675\s+7\.5\s+5\.0\.14\n/);
    assert.match(r.stdout, /CVE-2022-0543\s+10\s+\S+\s+possible/);
    assert.match(r.stdout, /note: CVE-2022-0543: only Debian\/Ubuntu/);
    const v = await runCli(["intel", "cves", "valkey", "8.0.1", "--intel-dir", intel]);
    assert.match(v.stdout, /^valkey 8\.0\.1: basis version/);
    assert.match(v.stdout, /CVE-2026-63639\s+8\.8\s+8\.0\.10\s*\n/);
    const k = await runCli(["intel", "cves", "keydb", "6.3.4", "--intel-dir", intel]);
    assert.match(k.stdout, /CVE-2025-49844\s+10\s+-\s+unfixed/);
    const bad = await runCli(["intel", "cves", "nosuch", "1.0.0"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^redscope: unknown product "nosuch"/);
  });

  test("--no-intel adds nothing", async () => {
    const r = await runCli(
      ["scan", `127.88.0.1:${port}`, "--allow-reserved", "-q", "-o", "-", "--no-intel", "--no-db"],
      { env: { REDSCOPE_INTEL_DIR: intel } },
    );
    assert.equal(r.code, 0, r.stderr);
    const [x] = parseJsonl(r.stdout);
    assert.equal(x?.state, "open");
    assert.equal(x?.cves, undefined);
    assert.equal(x?.cloud, undefined);
    assert.doesNotMatch(r.stderr, /intel:/);
  });
});
