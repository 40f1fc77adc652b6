/**
 * Issue 17, CVE verdicts for every product: Valkey and KeyDB judged by their own version on their
 * recorded INFO; HELLO-alone verdicts marked ambiguous against real Valkey servers; Debian's
 * packaged 7.0.15 judged "by upstream version; distribution build — backports possible" in the
 * scan and the audit; `intel update` refreshing the CVE table from a local HTTP server.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { serverFactsFromInfo } from "../src/classify/facts.js";
import { parseInfo } from "../src/classify/info.js";
import { hostListSummary } from "../src/cli/format.js";
import { runIntelUpdate } from "../src/cli/intel.js";
import { recording } from "../src/honeypot/personas/tables.js";
import {
  BACKPORTS_WORDING,
  CveMatcher,
  cveTableIn,
  defaultCveTablePath,
  loadCveTable,
} from "../src/intel/cves.js";
import { updateCveTable } from "../src/intel/update.js";
import { type RedisProcess, redisServerVersion, startRedis } from "../src/lab/redis.js";
import type { ProbeResult } from "../src/schema/result.js";
import { SqliteStore } from "../src/store/index.js";
import { runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";

const matcher = new CveMatcher(loadCveTable());
const judgeRecorded = (name: string) =>
  matcher.match(serverFactsFromInfo(parseInfo(recording(name).info)));
const SERVERS = process.env.REDSCOPE_SERVERS ?? "/work/servers";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-cve-products-"));
/** An intel directory without a cves.json: the bundled table. */
const bundledDir = path.join(tmp, "intel-bundled");

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function scanOne(port: number, intelDir = bundledDir): Promise<ProbeResult> {
  const r = await runCli(
    ["scan", `127.0.0.1:${port}`, "--allow-reserved", "-q", "-o", "-", "--no-db"],
    { env: { REDSCOPE_INTEL_DIR: intelDir } },
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n")[0]!) as ProbeResult;
}

describe("Valkey and KeyDB verdicts on their recorded INFO", () => {
  test("valkey-7.2.7: its own version against Valkey's advisories and fix releases", () => {
    const m = judgeRecorded("valkey-7.2.7");
    assert.equal(m.basis, "version");
    assert.equal(m.product, "valkey");
    assert.equal(m.judged, "7.2.7", "valkey_version, not redis_version 7.2.4");
    const byId = new Map(m.cves.map((c) => [c.id, c]));
    assert.equal(byId.get("CVE-2026-23479")?.fixed_in, "7.2.13", "Valkey's own fix release");
    assert.equal(byId.get("CVE-2026-56684")?.fixed_in, "7.2.14", "Valkey's own CVE");
    assert.equal(byId.get("CVE-2025-49844")?.cvss, 10);
    assert.ok(!byId.has("CVE-2024-31449"), "Valkey 7.2.7 fixed it");
    assert.ok(!byId.has("CVE-2023-41056"), "fixed by Redis 7.2.4, before the fork");
    assert.ok(!byId.has("CVE-2026-81934"), "Redis's TLS CVE; Valkey's is CVE-2026-56684");
  });

  test("valkey-8.0.1: the 8.0 line's fix releases", () => {
    const m = judgeRecorded("valkey-8.0.1");
    assert.equal(m.product, "valkey");
    assert.equal(m.judged, "8.0.1");
    const byId = new Map(m.cves.map((c) => [c.id, c]));
    assert.equal(byId.get("CVE-2024-46981")?.fixed_in, "8.0.2");
    assert.equal(byId.get("CVE-2026-63639")?.fixed_in, "8.0.10");
    assert.equal(byId.get("CVE-2026-21863")?.fixed_in, "8.0.7");
    assert.ok(!byId.has("CVE-2024-31449"), "Valkey 8.0.1 fixed it");
    assert.ok(!byId.has("CVE-2026-27623"), "9.0 only");
  });

  test("keydb-6.3.4: the open Lua CVEs are affected and unfixed, not unknown", () => {
    const m = judgeRecorded("keydb-6.3.4");
    assert.equal(m.basis, "version");
    assert.equal(m.product, "keydb");
    assert.equal(m.judged, "6.3.4", "KeyDB's own numbering (there is no Redis 6.3)");
    assert.deepEqual(m.cves.map((c) => c.id).sort(), [
      // Inherited from its Redis 6.2.6 base, without the fix in KeyDB's code.
      "CVE-2022-24834",
      "CVE-2022-36021",
      // The open Lua issues.
      "CVE-2024-31228",
      "CVE-2024-31449",
      "CVE-2024-46981",
      "CVE-2025-46817",
      "CVE-2025-46818",
      "CVE-2025-46819",
      "CVE-2025-49844",
    ]);
    for (const c of m.cves) {
      assert.equal(c.unfixed, true, c.id);
      assert.equal(c.fixed_in, undefined, c.id);
    }
    assert.ok(m.notes?.some((n) => /no KeyDB release fixes these/.test(n)));
    // Fixes KeyDB did take count: 6.3.2 took CVE-2022-35977, 6.3.3 CVE-2023-25155.
    const older = matcher.match({ product: "keydb", version: "6.3.1" });
    assert.equal(older.cves.find((c) => c.id === "CVE-2022-35977")?.fixed_in, "6.3.2");
    assert.equal(older.cves.find((c) => c.id === "CVE-2023-25155")?.fixed_in, "6.3.3");
    assert.ok(!m.cves.some((c) => c.id === "CVE-2021-32675"), "KeyDB 6.3.0 already had it");
  });

  test("a Redis release judged by INFO is not ambiguous", () => {
    const m = judgeRecorded("redis-7.2.4");
    assert.equal(m.product, "redis");
    assert.equal(m.ambiguous, undefined);
    assert.equal(m.backports_possible, undefined, "a source build");
  });
});

const VALKEY8 = path.join(SERVERS, "valkey-8.0.1", "redis-server");
const VALKEY72 = path.join(SERVERS, "valkey-7.2.7", "redis-server");

describe("ambiguity said, not hidden: real Valkey servers over HELLO alone", {
  skip: fs.existsSync(VALKEY8) && fs.existsSync(VALKEY72) ? false : "Valkey builds missing",
}, () => {
  const procs: RedisProcess[] = [];
  after(async () => {
    for (const p of procs) await p.stop();
  });
  const start = async (bin: string, config: string[]) => {
    const p = await startRedis({ host: "127.0.0.1", port: await freePort(), bin, config });
    procs.push(p);
    return p.port;
  };

  test("Valkey 8.0.1, extended-redis-compatibility yes, INFO renamed: Redis 7.2.4, ambiguous", async () => {
    const port = await start(VALKEY8, [
      "protected-mode no",
      "extended-redis-compatibility yes",
      'rename-command INFO ""',
    ]);
    const r = await scanOne(port);
    assert.equal(r.server?.product, "redis", "HELLO says server=redis");
    assert.equal(r.server?.version, "7.2.4");
    assert.equal(r.server?.version_source, "hello");
    assert.ok((r.cves ?? []).length > 0, "still judged");
    assert.match(r.cve_verdict?.ambiguous ?? "", /extended-redis-compatibility yes/);
    assert.match(
      hostListSummary({ results: [r], total: 1 }, "s", 50),
      /ambiguous: may be another product/,
    );
  });

  test("Valkey 7.2.7, INFO renamed: server=redis with Valkey's own version, ambiguous", async () => {
    const port = await start(VALKEY72, ["protected-mode no", 'rename-command INFO ""']);
    const r = await scanOne(port);
    assert.equal(r.server?.product, "redis");
    assert.equal(r.server?.version, "7.2.7");
    assert.match(r.cve_verdict?.ambiguous ?? "", /Valkey 7\.2\.x/);
  });

  test("the same Valkey 8.0.1 with INFO: Valkey by its own version, nothing ambiguous", async () => {
    const port = await start(VALKEY8, ["protected-mode no", "extended-redis-compatibility yes"]);
    const r = await scanOne(port);
    assert.equal(r.server?.product, "valkey");
    assert.equal(r.server?.version, "8.0.1");
    assert.equal(r.server?.version_source, "info");
    assert.equal(r.cve_verdict, undefined);
    assert.ok(r.cves?.some((c) => c.id === "CVE-2026-63639" && c.fixed_in === "8.0.10"));
  });
});

const DEBIAN = "/usr/bin/redis-server";
const SOURCE_7015 = path.join(SERVERS, "redis-7.0.15", "redis-server");

describe("distribution build: Debian's packaged 7.0.15 beside a source build", {
  skip:
    fs.existsSync(DEBIAN) && redisServerVersion(DEBIAN) === "7.0.15" && fs.existsSync(SOURCE_7015)
      ? false
      : "Debian's redis-server 7.0.15 or the source build missing",
}, () => {
  let debian: RedisProcess;
  let source: RedisProcess;
  before(async () => {
    debian = await startRedis({ host: "127.0.0.1", port: await freePort(), bin: DEBIAN });
    source = await startRedis({ host: "127.0.0.1", port: await freePort(), bin: SOURCE_7015 });
  });
  after(async () => {
    await debian?.stop();
    await source?.stop();
  });

  type Finding = { id: string; severity: string; evidence: string };
  async function verFinding(port: number, intelDir = bundledDir): Promise<Finding | undefined> {
    const r = await runCli([
      "audit",
      "-f",
      "json",
      "--timeout",
      "5s",
      "--intel-dir",
      intelDir,
      `redis://127.0.0.1:${port}`,
    ]);
    const { reports } = JSON.parse(r.stdout) as { reports: Array<{ findings: Finding[] }> };
    return reports[0]!.findings.find((f) => f.id === "RS-VER-001");
  }

  test("the scan says backports are possible for the package, not for the source build", async () => {
    const deb = await scanOne(debian.port);
    assert.equal(deb.server?.executable, DEBIAN);
    assert.equal(deb.cve_verdict?.backports_possible, true);
    assert.ok(
      deb.cves?.some((c) => c.id === "CVE-2025-49844"),
      "still listed, by upstream version",
    );
    assert.ok(hostListSummary({ results: [deb], total: 1 }, "s", 50).includes(BACKPORTS_WORDING));
    const src = await scanOne(source.port);
    assert.deepEqual(
      src.cves?.map((c) => c.id),
      deb.cves?.map((c) => c.id),
      "the same upstream version, the same list",
    );
    assert.equal(src.cve_verdict, undefined);
  });

  test("the report's CVE table says how many verdicts are by upstream version of a package", async () => {
    const db = path.join(tmp, "distro.db");
    const env = { REDSCOPE_INTEL_DIR: bundledDir };
    for (const port of [debian.port, source.port]) {
      const r = await runCli(["scan", `127.0.0.1:${port}`, "--allow-reserved", "-q", "--db", db], {
        env,
      });
      assert.equal(r.code, 0, r.stderr);
    }
    // Each scan is its own: the newest (the source build) has no caveat, the Debian one has one.
    const scans = await runCli(["report", "--db", db, "--list"]);
    const ids = [...scans.stdout.matchAll(/^([0-9a-f]{16})\b/gm)].map((m) => m[1]!);
    assert.equal(ids.length, 2, scans.stdout);
    const texts = await Promise.all(ids.map((id) => runCli(["report", "--db", db, id])));
    const notes = texts.map((t) =>
      t.stdout.includes("1 server by upstream version; distribution build — backports possible"),
    );
    assert.deepEqual(notes.sort(), [false, true], texts.map((t) => t.stderr).join(""));
  });

  test("the audit's RS-VER-001: high with the wording for the package, critical for the source build", async () => {
    const deb = await verFinding(debian.port);
    assert.equal(deb?.severity, "high");
    assert.ok(deb?.evidence.includes(BACKPORTS_WORDING), deb?.evidence);
    const src = await verFinding(source.port);
    assert.equal(src?.severity, "critical", "CVE-2025-49844 (10.0) by version");
    assert.ok(!src?.evidence.includes(BACKPORTS_WORDING));
  });

  test("audit judges by the refreshed table in the intel directory", async () => {
    // A newer table that keeps only CVE-2022-24834 (fixed in 7.0.12): 7.0.15 has none left.
    const raw = JSON.parse(fs.readFileSync(defaultCveTablePath(), "utf8"));
    const only = {
      ...raw,
      updated: "2099-01-01",
      cves: raw.cves.filter((c: { id: string }) => c.id === "CVE-2022-24834"),
    };
    const dir = path.join(tmp, "intel-refreshed-audit");
    const served = await serveOnce(JSON.stringify(only));
    try {
      const u = await updateCveTable(dir, { url: served.url });
      assert.ok(u.ok, u.ok ? "" : u.reason);
    } finally {
      served.close();
    }
    assert.equal(await verFinding(source.port, dir), undefined);
    assert.ok(await verFinding(source.port, bundledDir), "the bundled table still finds them");
  });
});

/** One file on 127.0.0.1, for every request; `close` ends it. */
async function serveOnce(
  body: string | Buffer,
  status = 200,
): Promise<{ url: string; close(): void }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cves.json`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe("intel update refreshes the CVE table (never clobbering it)", () => {
  const raw = JSON.parse(fs.readFileSync(defaultCveTablePath(), "utf8"));
  const newer = structuredClone(raw);
  newer.updated = "2099-01-01";
  // A test table: CVE-2026-81934 gets a 7.2 fix so the refresh is visible in a verdict.
  const tls = newer.cves.find((c: { id: string }) => c.id === "CVE-2026-81934");
  tls.affected.find((a: { branch: string }) => a.branch === "7.2").fixed = "7.2.16";

  test("a valid, newer table replaces the old one and every command reads it", async () => {
    const dir = path.join(tmp, "intel-refresh");
    assert.equal(cveTableIn(dir).path, defaultCveTablePath(), "nothing refreshed: bundled");
    const served = await serveOnce(JSON.stringify(newer));
    try {
      const u = await updateCveTable(dir, { url: served.url });
      assert.ok(u.ok, u.ok ? "" : u.reason);
      assert.equal(u.updated, "2099-01-01");
    } finally {
      served.close();
    }
    const { path: file, table } = cveTableIn(dir);
    assert.equal(file, path.join(dir, "cves.json"));
    const m = new CveMatcher(table).match({ product: "redis", version: "7.2.16" });
    assert.ok(!m.cves.some((c) => c.id === "CVE-2026-81934"));
    const cli = await runCli(["intel", "cves", "redis", "7.2.16", "--intel-dir", dir]);
    assert.doesNotMatch(cli.stdout, /CVE-2026-81934/);
    const bundled = await runCli(["intel", "cves", "redis", "7.2.16", "--intel-dir", bundledDir]);
    assert.match(bundled.stdout, /CVE-2026-81934/);
  });

  test("HTTP errors, non-JSON, an invalid or older table: the file in place is kept", async () => {
    const dir = path.join(tmp, "intel-keep");
    const first = await serveOnce(JSON.stringify(newer));
    try {
      assert.ok((await updateCveTable(dir, { url: first.url })).ok);
    } finally {
      first.close();
    }
    const good = fs.readFileSync(path.join(dir, "cves.json"), "utf8");
    const invalid = structuredClone(newer);
    invalid.cves[0].affected[0].fixed = "bogus";
    const older = { ...structuredClone(raw), updated: "2001-01-01" };
    const cases: Array<[string | Buffer, number, RegExp]> = [
      ["unavailable", 503, /HTTP 503/],
      ["{ truncated", 200, /not a valid CVE table/],
      [JSON.stringify(invalid), 200, /not a valid CVE table: .*fixed/],
      [JSON.stringify(older), 200, /older than the table in use/],
    ];
    for (const [body, status, why] of cases) {
      const s = await serveOnce(body, status);
      try {
        const u = await updateCveTable(dir, { url: s.url });
        assert.equal(u.ok, false);
        assert.match(u.ok ? "" : u.reason, why);
        assert.match(u.ok ? "" : u.reason, /the existing file is kept$/);
      } finally {
        s.close();
      }
      assert.equal(fs.readFileSync(path.join(dir, "cves.json"), "utf8"), good);
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")),
        [],
      );
    }
  });

  test("redscope intel update: <mirror>/cves.json, over it $REDSCOPE_CVE_URL, over that --cve-url", async () => {
    // Every URL is on 127.0.0.1: the mirror also stands in for the cloud sources (which fail to
    // parse this body), so nothing leaves the machine.
    const bodies = ["2099-01-01", "2099-02-02", "2099-03-03"].map((updated) =>
      JSON.stringify({ ...newer, updated }),
    );
    const servers = await Promise.all(bodies.map((b) => serveOnce(b)));
    const [mirror, envUrl, flagUrl] = servers.map((x) => x.url);
    const out: string[] = [];
    const io = { out: (t: string) => void out.push(t), err: (t: string) => void out.push(t) };
    const saved = process.env.REDSCOPE_CVE_URL;
    try {
      const base = { mirror: mirror!.replace(/cves\.json$/, ""), timeout: "10s" };
      const dir = path.join(tmp, "intel-cli");
      // The cloud sources fail (not their files): exit 1, but the CVE table is refreshed.
      assert.equal(await runIntelUpdate({ intelDir: dir, ...base }, io), 1);
      assert.match(out.join(""), /^cves\s+ok\s+\d+ entries, updated 2099-01-01/m);
      assert.equal(cveTableIn(dir).table.updated, "2099-01-01");
      process.env.REDSCOPE_CVE_URL = envUrl;
      await runIntelUpdate({ intelDir: dir, ...base }, io);
      assert.equal(cveTableIn(dir).table.updated, "2099-02-02");
      await runIntelUpdate({ intelDir: dir, ...base, cveUrl: flagUrl! }, io);
      assert.equal(cveTableIn(dir).table.updated, "2099-03-03");
    } finally {
      if (saved === undefined) delete process.env.REDSCOPE_CVE_URL;
      else process.env.REDSCOPE_CVE_URL = saved;
      for (const x of servers) x.close();
    }
  });
});

describe("import: a file's CVE list keeps the file's caveats", () => {
  test("a record with its own list keeps it (and no caveat of today); one without gets both", async () => {
    const base = {
      port: 6379,
      transport: "tcp",
      time: "2026-01-01T00:00:00.000Z",
      state: "open",
      server: {
        product: "redis",
        version: "7.0.15",
        redis_version: "7.0.15",
        version_source: "info",
        executable: "/usr/bin/redis-server",
      },
    };
    const file = path.join(tmp, "own.jsonl");
    fs.writeFileSync(
      file,
      [
        {
          ...base,
          ip: "198.51.100.1",
          cves: [{ id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" }],
        },
        { ...base, ip: "198.51.100.2" },
      ]
        .map((x) => JSON.stringify(x))
        .join("\n") + "\n",
    );
    const db = path.join(tmp, "import.db");
    const r = await runCli([
      "import",
      file,
      "--db",
      db,
      "--intel-dir",
      bundledDir,
      "--scan-id",
      "own",
      "-q",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const store = SqliteStore.open(db);
    const rows = new Map<string, ProbeResult>();
    try {
      for await (const x of store.results({ scanId: "own" })) rows.set(x.ip, x);
    } finally {
      await store.close();
    }
    const kept = rows.get("198.51.100.1");
    assert.deepEqual(kept?.cves, [{ id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" }]);
    assert.equal(kept?.cve_verdict, undefined, "today's caveat is not pinned to the file's list");
    const judged = rows.get("198.51.100.2");
    assert.ok((judged?.cves ?? []).length > 1);
    assert.equal(judged?.cve_verdict?.backports_possible, true);
  });
});
