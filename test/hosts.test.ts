/**
 * The host list and the per-result export (issue 18): the list at the end of a scan and an
 * import (real redis-server processes on loopback), `redscope report --hosts` with its filters
 * in every format (CSV parsed back by a real CSV parser), bounded memory on a big scan, the
 * terminal's alignment on wide text, and the dashboard's /export over HTTP.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";
import stringWidth from "string-width";
import { hostListSummary, hostListTable } from "../src/cli/format.js";
import { BACKPORTS_WORDING } from "../src/intel/cves.js";
import { type RedisProcess, startRedis } from "../src/lab/redis.js";
import { csvLines, EXPORT_NAMES, exportRecord, hostRow } from "../src/report/hosts.js";
import type { ProbeResult } from "../src/schema/result.js";
import { openStore } from "../src/store/index.js";
import { terminalText } from "../src/untrusted/text.js";
import { BIN, runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";
import { testScan } from "./helpers/scans.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-hosts-"));
const DB = path.join(tmp, "hosts.db");
const ESC = "\u001b[31m";
const FORMULA = "=cmd|' /C calc'!A0";

const T = "2026-12-01T10:00:00.000Z";
const base = { port: 6379, transport: "tcp" as const, time: T, shard: "0/1" };

/** Five Redis-protocol servers (one per kind of row) and three targets that are not. */
function results(): ProbeResult[] {
  return [
    {
      ...base,
      ip: "192.0.2.1",
      state: "open",
      nicer: "Returned version",
      server: {
        product: "redis",
        version: "5.0.7",
        redis_version: "5.0.7",
        git_sha1: "00000000",
        git_dirty: 0,
        build_id: "8d1ee2ab3dd8a3e1",
        mode: "standalone",
        os: FORMULA,
        arch_bits: 64,
        multiplexing_api: "epoll",
        gcc_version: "8.3.0",
        process_id: 4242,
        run_id: "a".repeat(40),
        uptime_s: 86400,
        connected_clients: 3,
        role: "master",
      },
      cves: [{ id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" }],
      country: "DE",
      asn: 3320,
      as_org: "Deutsche Telekom AG",
    },
    {
      ...base,
      ip: "192.0.2.2",
      state: "open",
      nicer: "Returned version",
      server: { product: "valkey", version: "8.0.1", redis_version: "7.2.4" },
      cves: [],
      country: "CN",
      asn: 4134,
      as_org: "中国电信",
      cloud: { provider: "aws", region: "us-east-1", service: "EC2" },
    },
    {
      ...base,
      ip: "2001:db8::3",
      state: "auth_required",
      nicer: "Requires authentication",
      detail: "NOAUTH",
      server: { version_hint: ">=6.0" },
      country: "FR",
      asn: 64500,
      as_org: "Cafe\u0301 Ne\u0301t",
    },
    {
      ...base,
      ip: "192.0.2.4",
      state: "protected",
      nicer: "Running protected",
      detail: `${ESC}DENIED`,
      hostname: "redis.example.org",
    },
    {
      ...base,
      ip: "192.0.2.5",
      transport: "tls",
      state: "open",
      nicer: "Returned version",
      server: {
        product: "redis",
        version: "7.0.15",
        executable: "/usr/bin/redis-server",
      },
      cves: [{ id: "CVE-2025-49844", cvss: 10, fixed_in: "7.0.16" }],
      cve_verdict: { backports_possible: true },
      country: "DE",
      asn: 3320,
      as_org: "Deutsche Telekom AG",
    },
    { ...base, ip: "192.0.2.6", state: "closed" },
    { ...base, ip: "192.0.2.7", state: "timeout" },
    { ...base, ip: "192.0.2.8", state: "not_redis", detail: "http" },
  ];
}

before(async () => {
  const store = await openStore(DB);
  await store.beginScan(testScan("hosts", T));
  await store.insertResults("hosts", results());
  await store.finishShard("hosts", "0/1", await store.stateCounts("hosts"));
  await store.close();
});

after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The host column's lines of a text listing: address → line. */
function lines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of text.split("\n")) {
    const m = /^(\S+:\d+(?:\/tls)?)\s/.exec(l);
    if (m) out.set(m[1]!, l);
  }
  return out;
}

type Row = Record<string, unknown>;
const csvRows = (text: string): Row[] =>
  parse(text, { columns: true, cast: true, comment: "#" }) as Row[];

describe("report --hosts", () => {
  test("text: the Redis-protocol servers only, escaped, with the CVE legend", async () => {
    const r = await runCli(["report", "--db", DB, "--hosts"]);
    assert.equal(r.code, 0, r.stderr);
    const byHost = lines(r.stdout);
    assert.deepEqual([...byHost.keys()].sort(), [
      "192.0.2.1:6379",
      "192.0.2.2:6379",
      "192.0.2.4:6379",
      "192.0.2.5:6379/tls",
      "[2001:db8::3]:6379",
    ]);
    assert.match(
      byHost.get("192.0.2.1:6379")!,
      /open\s+redis 5\.0\.7\s+1, max CVSS 10\s+DE AS3320 Deutsche Telekom AG/,
    );
    assert.match(byHost.get("192.0.2.5:6379/tls")!, /1, max CVSS 10 \(b\)/);
    assert.match(byHost.get("[2001:db8::3]:6379")!, /auth_required\s+~>=6\.0\s+NOAUTH/);
    assert.ok(!r.stdout.includes("\u001b"), "no escape sequence reaches the terminal");
    assert.match(byHost.get("192.0.2.4:6379")!, /protected\s+\?\[31mDENIED/);
    assert.match(r.stdout, /^5 Redis-protocol servers$/m);
    assert.ok(r.stdout.includes(BACKPORTS_WORDING));
  });

  test("filters: --query and the single flags, through the one query parser", async () => {
    const hosts = async (...args: string[]): Promise<string[]> => {
      const r = await runCli(["report", "--db", DB, "--hosts", "-f", "jsonl", ...args]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout
        .split("\n")
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { ip: string }).ip)
        .sort();
    };
    // A state outside the Redis-protocol ones is listed when asked for (--state closed).
    const cases: Array<[string[], string[]]> = [
      [
        ["--state", "open"],
        ["192.0.2.1", "192.0.2.2", "192.0.2.5"],
      ],
      [["--version", "<6"], ["192.0.2.1"]],
      [
        ["--version", ">=7"],
        ["192.0.2.2", "192.0.2.5"],
      ],
      [["--product", "valkey"], ["192.0.2.2"]],
      [
        ["--cve", "cve-2025-49844"],
        ["192.0.2.1", "192.0.2.5"],
      ],
      [["--country", "cn"], ["192.0.2.2"]],
      [
        ["--asn", "AS3320"],
        ["192.0.2.1", "192.0.2.5"],
      ],
      [["--cloud", "aws"], ["192.0.2.2"]],
      [["--query", "state:open country:DE version:>=7"], ["192.0.2.5"]],
      [
        ["--query", "state:open", "--country", "DE"],
        ["192.0.2.1", "192.0.2.5"],
      ],
      [["--state", "closed"], ["192.0.2.6"]],
      [
        ["--scan", "hosts", "--query", "Telekom"],
        ["192.0.2.1", "192.0.2.5"],
      ],
    ];
    const got = await Promise.all(cases.map(([args]) => hosts(...args)));
    for (const [i, [args, expected]] of cases.entries())
      assert.deepEqual(got[i], expected, args.join(" "));
    // Bad input: one line, exit 2.
    const bad = [
      ["--hosts", "--state", "nope"],
      ["--hosts", "--query", "colour:red"],
      ["--hosts", "--version", "<banana"],
      ["--hosts", "--asn", "AS12x"],
      ["--hosts", "-f", "html"],
      ["--hosts", "--diff", "a", "b"],
      // The filters and -f jsonl go with --hosts.
      ["--state", "open"],
      ["-f", "jsonl"],
      ["--query", "state:open"],
    ];
    const runs = await Promise.all(bad.map((b) => runCli(["report", "--db", DB, ...b])));
    for (const [i, r] of runs.entries()) {
      assert.equal(r.code, 2, `${bad[i]!.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
    const none = await runCli(["report", "--db", DB, "--hosts", "--scan", "nope"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no scan "nope"/);
  });

  test("CSV: Shadowserver's Open-Redis names first, parsed back equal, formulas disarmed", async () => {
    const r = await runCli(["report", "--db", DB, "--hosts", "-f", "csv"]);
    assert.equal(r.code, 0, r.stderr);
    const header = r.stdout.split("\r\n")[0]!.split(",");
    assert.deepEqual(header, [...EXPORT_NAMES]);
    assert.deepEqual(header.slice(0, 20), [
      "timestamp",
      "ip",
      "protocol",
      "port",
      "hostname",
      "asn",
      "geo",
      "version",
      "git_sha1",
      "git_dirty_flag",
      "build_id",
      "mode",
      "os",
      "architecture",
      "multiplexing_api",
      "gcc_version",
      "process_id",
      "run_id",
      "uptime",
      "connected_clients",
    ]);
    const rows = parse(r.stdout, { columns: true }) as Array<Record<string, string>>;
    assert.equal(rows.length, 5);
    const byIp = new Map(rows.map((x) => [x.ip, x]));
    const one = byIp.get("192.0.2.1")!;
    assert.deepEqual(
      [
        one.timestamp,
        one.protocol,
        one.port,
        one.asn,
        one.geo,
        one.version,
        one.git_sha1,
        one.git_dirty_flag,
        one.build_id,
        one.architecture,
        one.multiplexing_api,
        one.gcc_version,
        one.process_id,
        one.uptime,
        one.connected_clients,
        one.state,
        one.product,
        one.cves,
        one.max_cvss,
      ],
      [
        T,
        "tcp",
        "6379",
        "3320",
        "DE",
        "5.0.7",
        "00000000",
        "0",
        "8d1ee2ab3dd8a3e1",
        "64",
        "epoll",
        "8.3.0",
        "4242",
        "86400",
        "3",
        "open",
        "redis",
        "CVE-2025-49844",
        "10",
      ],
    );
    assert.equal(one.os, `'${FORMULA}`, "a formula cell gets a leading apostrophe");
    assert.equal(byIp.get("192.0.2.2")!.as_org, "中国电信");
    assert.equal(byIp.get("192.0.2.4")!.hostname, "redis.example.org");
    assert.equal(byIp.get("192.0.2.4")!.detail, "?[31mDENIED");
    assert.equal(byIp.get("192.0.2.5")!.transport, "tls");
    assert.equal(byIp.get("192.0.2.5")!.cve_caveat, "backports_possible");
    // Numbers are unquoted numbers; absent facts are empty cells.
    const typed = csvRows(r.stdout).find((x) => x.ip === "192.0.2.1")!;
    assert.equal(typed.port, 6379);
    assert.equal(typed.uptime, 86400);
    assert.equal(csvRows(r.stdout).find((x) => x.ip === "192.0.2.4")!.version, "");
  });

  test("JSONL and JSON: the same columns, absent facts left out", async () => {
    const jsonl = await runCli(["report", "--db", DB, "--hosts", "-f", "jsonl"]);
    const records = jsonl.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(records.length, 5);
    for (const rec of records) {
      const keys = Object.keys(rec);
      assert.deepEqual(
        keys,
        EXPORT_NAMES.filter((k) => keys.includes(k)),
        "in the column list's order",
      );
    }
    const one = records.find((x) => x.ip === "192.0.2.1")!;
    assert.equal(one.process_id, 4242);
    assert.equal(one.os, FORMULA, "JSON keeps the value as it is (no spreadsheet runs it)");
    assert.ok(!("hostname" in one));
    const csv = parse((await runCli(["report", "--db", DB, "--hosts", "-f", "csv"])).stdout, {
      columns: true,
    }) as Array<Record<string, string>>;
    for (const rec of records) {
      const row = csv.find((x) => x.ip === rec.ip)!;
      for (const k of EXPORT_NAMES) {
        const v = rec[k];
        if (k === "os" && typeof v === "string" && v.startsWith("=")) continue;
        // CSV cells lose control characters (JSON escapes them as \u001b).
        assert.equal(row[k], v === undefined ? "" : terminalText(String(v), 1e9), `${rec.ip} ${k}`);
      }
    }
    const json = JSON.parse((await runCli(["report", "--db", DB, "--hosts", "-f", "json"])).stdout);
    assert.equal(json.count, 5);
    assert.equal(json.scan.id, "hosts");
    assert.deepEqual(json.hosts, records);
  });

  test("Markdown and -o FILE", async () => {
    const file = path.join(tmp, "hosts.md");
    const r = await runCli(["report", "--db", DB, "--hosts", "-f", "md", "-o", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const md = fs.readFileSync(file, "utf8");
    assert.match(md, /^\| host \| state \| server \| detail \| CVEs \| where \|$/m);
    assert.match(md, /^\| 192\.0\.2\.1:6379 \| open \| redis 5\.0\.7 \|/m);
    assert.ok(!md.includes("\u001b"));
  });
});

describe("the terminal aligns by display width", () => {
  test("中国电信, a combining mark and ASCII line up", () => {
    const rs = results().slice(0, 3);
    const text = hostListTable(rs.map(hostRow));
    const ls = text.split("\n").filter((l) => /^\S+:\d+/.test(l));
    assert.equal(ls.length, 3);
    // The column after `where` does not exist; check the start of each column by display width.
    const starts = (l: string, cell: string): number => stringWidth(l.slice(0, l.indexOf(cell)));
    const cells = rs.map(hostRow);
    for (const col of ["state", "where"] as const) {
      const at = ls.map((l, i) => starts(l, cells[i]![col]));
      assert.equal(new Set(at).size, 1, `${col} starts at ${at.join(", ")}:\n${text}`);
    }
    // And a plain table with a wide cell in the middle column: the last column lines up.
    const t = hostListTable([
      { host: "a", state: "open", server: "中国电信", detail: "x", cves: "", where: "end" },
      { host: "b", state: "open", server: "Cafe\u0301", detail: "x", cves: "", where: "end" },
      { host: "c", state: "open", server: "redis 7", detail: "x", cves: "", where: "end" },
    ]);
    const ends = t
      .split("\n")
      .slice(2)
      .map((l) => stringWidth(l.slice(0, l.lastIndexOf("x"))));
    assert.equal(new Set(ends).size, 1, t);
  });

  test("csvLines: RFC 4180 quoting and the formula rule, read back by csv-parse", () => {
    const cells = ["=1+1", "+x", "-y", "@z", "-", "a,b", 'q"q', "\tTab", "ok", 7, -3.5];
    const text = csvLines([cells]);
    assert.ok(text.endsWith("\r\n"));
    const [back] = parse(text) as string[][];
    assert.deepEqual(back, [
      "'=1+1",
      "'+x",
      "'-y",
      "'@z",
      "-",
      "a,b",
      'q"q',
      "'?Tab",
      "ok",
      "7",
      "-3.5",
    ]);
  });

  test("the export record: one column list", () => {
    const rec = exportRecord(results()[0]!);
    assert.deepEqual(
      Object.keys(rec),
      EXPORT_NAMES.filter((k) => k in rec),
    );
    assert.equal(rec.geo, "DE");
    assert.equal(rec.architecture, 64);
  });
});

describe("the host list at the end of a scan and an import (real redis-server)", () => {
  const servers: RedisProcess[] = [];
  before(async () => {
    for (const config of [
      ["protected-mode no"],
      ["protected-mode no"],
      ["requirepass s3cret-s3cret"],
    ]) {
      servers.push(await startRedis({ host: "127.0.0.1", port: await freePort(), config }));
    }
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  test("scan: one line per server up to --host-list, then the command for the rest", async () => {
    const db = path.join(tmp, "scan.db");
    const jsonl = path.join(tmp, "scan.jsonl");
    const ports = servers.map((s) => s.port).join(",");
    const closed = await freePort();
    const r = await runCli([
      "scan",
      "127.0.0.1",
      "-p",
      `${ports},${closed}`,
      "--allow-reserved",
      "--db",
      db,
      "-o",
      jsonl,
      "--no-intel",
      "-q",
      "--host-list",
      "2",
      "--scan-id",
      "endlist",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Redis-protocol servers \(3, the first 2\):/);
    const listed = [...lines(r.stdout).keys()];
    assert.equal(listed.length, 2, r.stdout);
    assert.match(
      r.stdout,
      new RegExp(
        `1 more in the store: redscope report --hosts --scan endlist --db ${db.replace(/[.]/g, "\\.")}`,
      ),
    );
    // The list comes after the NICER tables.
    assert.ok(r.stdout.indexOf("Redis-protocol servers (3") > r.stdout.indexOf("NICER row"));
    assert.ok(!r.stdout.includes(`:${closed} `), "the closed port is not listed");

    // Every one of them in the store, with the build facts INFO gives.
    const all = await runCli(["report", "--db", db, "--hosts", "--scan", "endlist", "-f", "jsonl"]);
    const recs = all.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(recs.length, 3);
    for (const s of servers.slice(0, 2)) {
      const rec = recs.find((x) => x.port === s.port)!;
      assert.equal(rec.state, "open");
      assert.equal(rec.process_id, s.proc.pid, "INFO's process_id is the server's pid");
      assert.equal(rec.multiplexing_api, "epoll");
      assert.match(String(rec.git_sha1), /^[0-9a-f]{8}$/);
      assert.match(String(rec.build_id), /^[0-9a-f]+$/);
      assert.equal(typeof rec.git_dirty_flag, "number");
      assert.match(String(rec.gcc_version), /^\d+\.\d+/);
    }
    assert.equal(recs.find((x) => x.port === servers[2]!.port)!.state, "auth_required");

    const none = await runCli([
      "scan",
      "127.0.0.1",
      "-p",
      ports,
      "--allow-reserved",
      "--db",
      db,
      "--no-intel",
      "-q",
      "--host-list",
      "0",
    ]);
    assert.equal(none.code, 0, none.stderr);
    assert.doesNotMatch(none.stdout, /Redis-protocol servers \(/);
    const bad = await runCli([
      "scan",
      "127.0.0.1",
      "-p",
      ports,
      "--allow-reserved",
      "--db",
      db,
      "--host-list",
      "many",
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--host-list/);

    // An import of the same results prints the same list.
    const imp = await runCli([
      "import",
      jsonl,
      "--db",
      path.join(tmp, "import.db"),
      "--no-intel",
      "-q",
      "--scan-id",
      "imported",
    ]);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /Redis-protocol servers \(3\):/);
    assert.equal(lines(imp.stdout).size, 3, imp.stdout);
    assert.ok(imp.stdout.indexOf("Redis-protocol servers (3") > imp.stdout.indexOf("NICER row"));
  });

  test("the summary's words: none found, and the legend only for what is listed", () => {
    assert.equal(
      hostListSummary({ results: [], total: 0 }, "x", 50),
      "Redis-protocol servers: none found",
    );
    const r = results()[1]!;
    const text = hostListSummary({ results: [r], total: 1 }, "x", 50);
    assert.ok(!text.includes(BACKPORTS_WORDING));
    assert.doesNotMatch(text, /more in the store/);
  });
});

describe("report --hosts on a big scan: memory stays bounded", () => {
  const N = 60_000;
  const big = path.join(tmp, "big.db");
  before(async () => {
    const store = await openStore(big);
    await store.beginScan(testScan("big", T, { targets: "10.0.0.0/8" }));
    const batch: ProbeResult[] = [];
    for (let i = 0; i < N; i++) {
      batch.push({
        ...base,
        ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        state: i % 4 === 3 ? "closed" : "open",
        nicer: "Returned version",
        server: {
          product: "redis",
          version: "6.2.6",
          run_id: i.toString(16).padStart(40, "0"),
          os: "Linux 5.15.0-91-generic x86_64",
          modules: Array.from({ length: 8 }, (_, k) => ({
            name: `module-${k}-${"x".repeat(60)}`,
            ver: "1",
          })),
          keyspace: { db0: { keys: i, expires: 0 } },
        },
      });
      if (batch.length === 5000) await store.insertResults("big", batch.splice(0));
    }
    await store.finishShard("big", "0/1", await store.stateCounts("big"));
    await store.close();
  });

  test(`${N} results streamed to a CSV file within a 48 MB heap`, async () => {
    // Held whole, these records take over 100 MB of heap (measured: 200,000 of them, 370 MB),
    // so a listing that kept the scan would die of "heap out of memory" under this limit.
    const out = path.join(tmp, "big.csv");
    const child: ChildProcess = spawn(
      process.execPath,
      ["--max-old-space-size=48", BIN, "report", "--db", big, "--hosts", "-f", "csv", "-o", out],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    assert.equal(code, 0, err.slice(-2000));
    let rows = 0;
    const text = fs.readFileSync(out, "utf8");
    for (let i = text.indexOf("\r\n"); i !== -1; i = text.indexOf("\r\n", i + 2)) rows++;
    assert.equal(rows, 1 + (N * 3) / 4, "a header and every open server");
  });
});

describe("the dashboard's /export (real redscope serve, over HTTP)", () => {
  const TOKEN = "hosts-test-token-0123456789";
  let child: ChildProcess;
  let url = "";
  let session = "";
  before(async () => {
    // An older scan beside "hosts" (which stays the newest), for the export across scans.
    const store = await openStore(DB);
    await store.beginScan(testScan("older", "2026-11-01T10:00:00.000Z"));
    await store.insertResults("older", [
      {
        ...base,
        ip: "198.51.100.9",
        state: "open",
        country: "DE",
        server: { product: "redis", version: "6.2.16" },
      },
    ]);
    await store.finishShard("older", "0/1", await store.stateCounts("older"));
    await store.close();
    child = spawn(
      process.execPath,
      [BIN, "serve", "--db", DB, "--listen", "127.0.0.1:0", "--token", TOKEN, "--export-rows", "6"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const started = new Promise<string>((resolve, reject) => {
      const seen = (d: Buffer): void => {
        out += d;
        const m = /dashboard on (\S+) over/.exec(out);
        if (m) resolve(m[1]!.replace(/\/$/, ""));
      };
      child.stdout!.on("data", seen);
      child.stderr!.on("data", seen);
      child.once("exit", () => reject(new Error(`serve exited: ${out}`)));
    });
    url = await started;
    const form = await fetch(`${url}/login`);
    const loginCookie = /redscope_login=[^;]+/.exec(form.headers.get("set-cookie") ?? "")![0];
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const ok = await fetch(`${url}/login`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: loginCookie },
      body: new URLSearchParams({ csrf, token: TOKEN }).toString(),
    });
    assert.equal(ok.status, 303);
    session = ok.headers
      .getSetCookie()
      .find((c) => c.startsWith("redscope_session="))!
      .split(";")[0]!;
  });
  after(async () => {
    if (child.exitCode === null) {
      const closed = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await closed;
    }
  });
  const get = (p: string, cookie = session) =>
    fetch(`${url}${p}`, { headers: { cookie }, redirect: "manual" });

  test("CSV of a search: a download, the same rows and values as report --hosts", async () => {
    const res = await get(
      `/export?scan=hosts&q=${encodeURIComponent("state:open country:DE")}&format=csv`,
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/csv; charset=utf-8");
    assert.equal(
      res.headers.get("content-disposition"),
      'attachment; filename="redscope-hosts.csv"',
    );
    assert.equal(res.headers.get("x-redscope-truncated"), null);
    const rows = csvRows(await res.text());
    assert.deepEqual(rows.map((r) => r.ip).sort(), ["192.0.2.1", "192.0.2.5"]);
    const cli = csvRows(
      (
        await runCli([
          "report",
          "--db",
          DB,
          "--hosts",
          "--query",
          "state:open country:DE",
          "-f",
          "csv",
        ])
      ).stdout,
    );
    assert.deepEqual(
      rows.sort((a, b) => String(a.ip).localeCompare(String(b.ip))),
      cli.sort((a, b) => String(a.ip).localeCompare(String(b.ip))),
    );
    // The single fields of the search form work too.
    const single = csvRows(await (await get("/export?scan=hosts&cve=CVE-2025-49844")).text());
    assert.deepEqual(single.map((r) => r.ip).sort(), ["192.0.2.1", "192.0.2.5"]);
  });

  test("JSONL, the row cap said in a header and the last line, and bad requests", async () => {
    const res = await get("/export?scan=hosts&format=jsonl");
    assert.equal(res.status, 200);
    assert.equal(
      res.headers.get("content-disposition"),
      'attachment; filename="redscope-hosts.jsonl"',
    );
    assert.equal(res.headers.get("x-redscope-truncated"), "first 6 rows");
    const ls = (await res.text())
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.equal(ls.length, 7);
    assert.deepEqual(ls.at(-1), {
      truncated: true,
      rows: 6,
      note: "cut at the first 6 rows: narrow the query, or use redscope report --hosts",
    });
    const csv = await (await get("/export?scan=hosts")).text();
    assert.match(csv, /\r\n# cut at the first 6 rows/);
    assert.equal(csvRows(csv).length, 6);

    assert.equal((await get("/export?scan=hosts", "")).status, 303, "log in first");
    assert.equal((await get("/export?scan=hosts&format=xml")).status, 400);
    assert.equal((await get("/export?format=csv")).status, 400);
    assert.equal((await get("/export?scan=nope")).status, 404);
    // A search across every scan exports too, newest scan first, each row with its scan.
    const all = csvRows(
      await (await get(`/export?scan=all&q=${encodeURIComponent("state:open country:DE")}`)).text(),
    );
    assert.deepEqual(
      all.map((r) => [r.scan_id, r.ip]),
      [
        ["hosts", "192.0.2.1"],
        ["hosts", "192.0.2.5"],
        ["older", "198.51.100.9"],
      ],
    );
    assert.equal((await get("/export?scan=hosts&q=colour:red")).status, 400);
  });
});
