/**
 * Beyond counting: what an attacker can do with each open server, and the signs of compromise
 * it shows. Real servers on loopback (Debian's 7.0.15, an older Redis, Valkey, KeyDB) are
 * scanned as a user scans them; each verdict is then held against what the same server does
 * when sent the command (CONFIG SET dir, MODULE LOAD) by a separate client — never by the scan,
 * which stays read-only. Outside masters and malicious modules come from constructed INFO texts
 * on a lab server (a real server is never pointed at a non-loopback address); campaign keys from
 * the Shodan import fixture. Then the report, in every format, and the store's columns.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "csv-parse/sync";
import { compromiseIndicators } from "../src/intel/compromise.js";
import { loadCveTable } from "../src/intel/cves.js";
import { isLuaCve, LUA_CVE_IDS } from "../src/intel/exposure.js";
import { type RedisProcess, startRedis } from "../src/lab/redis.js";
import { type LabServer, startLabServer } from "../src/lab/replay.js";
import {
  type AttackFact,
  attackColumn,
  attackColumnValues,
  compromiseColumnValues,
  type ProbeResult,
} from "../src/schema/result.js";
import { readImport } from "../src/sources/import.js";
import { SqliteStore } from "../src/store/index.js";
import { parseJsonl, runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, "../..");
const SHODAN = path.join(ROOT, "test", "fixtures", "import", "shodan-redis.jsonl");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-exposure-"));
// No cloud or geo data: only the bundled CVE table.
const intel = path.join(tmp, "intel");
fs.mkdirSync(intel);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SERVERS = {
  debian: "/usr/bin/redis-server",
  redis5: "/work/servers/redis-5.0.14/redis-server",
  redis32: "/work/servers/redis-3.2.12/redis-server",
  valkey: "/work/servers/valkey-8.0.1/valkey-server",
  keydb: "/work/servers/keydb-6.3.4/keydb-server",
} as const;
const missing = Object.values(SERVERS).filter((b) => !fs.existsSync(b));

function verdicts(r: ProbeResult | undefined): Record<string, string> {
  return Object.fromEntries((r?.attack ?? []).map((a: AttackFact) => [a.technique, a.verdict]));
}

/** A separate client (redis-cli), not the scan: what the server does when really asked. */
function ask(port: number, ...args: string[]): string {
  const r = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], {
    encoding: "utf8",
    timeout: 10_000,
  });
  return `${r.stdout}${r.stderr}`.trim();
}

async function scan(targets: string, ports: number[], db: string): Promise<ProbeResult[]> {
  const r = await runCli(
    ["scan", targets, "-p", ports.join(","), "--allow-reserved", "-q", "-o", "-", "--db", db],
    { env: { REDSCOPE_INTEL_DIR: intel } },
  );
  assert.equal(r.code, 0, r.stderr);
  return parseJsonl(r.stdout);
}

describe("attack verdicts on real servers", {
  skip: missing.length > 0 ? `missing ${missing}` : false,
}, () => {
  const procs: RedisProcess[] = [];
  const port: Record<keyof typeof SERVERS | "replica", number> = {
    debian: 0,
    redis5: 0,
    redis32: 0,
    valkey: 0,
    keydb: 0,
    replica: 0,
  };
  let results = new Map<number, ProbeResult>();
  const db = path.join(tmp, "real.db");

  before(async () => {
    for (const [name, bin] of Object.entries(SERVERS) as Array<[keyof typeof SERVERS, string]>) {
      port[name] = await freePort();
      procs.push(await startRedis({ host: "127.0.0.1", port: port[name], bin }));
    }
    // A replica of a loopback master: a reserved address is never an "outside" master.
    port.replica = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: port.replica,
        bin: SERVERS.debian,
        config: [`replicaof 127.0.0.1 ${port.debian}`],
      }),
    );
    const list = await scan("127.0.0.1", Object.values(port), db);
    results = new Map(list.map((r) => [r.port, r]));
  });

  after(async () => {
    for (const p of procs) await p.stop();
  });

  test("Debian's 7.0.15: file write and MODULE LOAD blocked by default, as the server does", () => {
    const r = results.get(port.debian);
    assert.equal(r?.server?.version, "7.0.15");
    assert.deepEqual(verdicts(r), {
      config_write: "blocked",
      module_load: "blocked",
      rogue_master: "open",
      lua_cve: "open",
    });
    const lua = r?.attack?.find((a) => a.technique === "lua_cve");
    assert.ok(lua?.cves?.includes("CVE-2025-49844"), lua?.reason);
    assert.ok(!lua?.cves?.includes("CVE-2022-0543"), "a distro-only CVE is never claimed");
    assert.match(lua?.reason ?? "", /backported/);
    assert.match(
      r?.attack?.find((a) => a.technique === "rogue_master")?.leads_to ?? "",
      /no file write or module load by default/,
    );
    // The server agrees.
    assert.match(ask(port.debian, "CONFIG", "SET", "dir", os.tmpdir()), /protected config/);
    assert.match(
      ask(port.debian, "MODULE", "LOAD", "/nonexistent.so"),
      /MODULE command not allowed/,
    );
  });

  test("Redis 5.0.14: open to file write, MODULE LOAD and the rogue-master chain", () => {
    const r = results.get(port.redis5);
    assert.equal(r?.server?.version, "5.0.14");
    assert.deepEqual(verdicts(r), {
      config_write: "open",
      module_load: "open",
      rogue_master: "open",
      lua_cve: "open",
    });
    const rogue = r?.attack?.find((a) => a.technique === "rogue_master");
    assert.match(rogue?.leads_to ?? "", /MODULE LOAD: code execution/);
    const dir = procs[1]!.dir;
    assert.equal(ask(port.redis5, "CONFIG", "SET", "dir", dir), "OK");
    // The command ran (it only failed to find the file).
    assert.match(
      ask(port.redis5, "MODULE", "LOAD", "/nonexistent.so"),
      /Error loading the extension/,
    );
  });

  test("Redis 3.2.12: file write open, no MODULE command at all", () => {
    const r = results.get(port.redis32);
    assert.deepEqual([verdicts(r).config_write, verdicts(r).module_load], ["open", "blocked"]);
    assert.match(
      r?.attack?.find((a) => a.technique === "module_load")?.reason ?? "",
      /no MODULE command/,
    );
    assert.match(ask(port.redis32, "MODULE", "LOAD", "/nonexistent.so"), /unknown command/i);
  });

  test("Valkey keeps the protected configs; KeyDB 6.3 (Redis 6 based) does not", () => {
    const v = results.get(port.valkey);
    assert.equal(v?.server?.product, "valkey");
    assert.deepEqual([verdicts(v).config_write, verdicts(v).module_load], ["blocked", "blocked"]);
    assert.match(ask(port.valkey, "CONFIG", "SET", "dir", os.tmpdir()), /protected config/);
    assert.match(ask(port.valkey, "MODULE", "LOAD", "/nonexistent.so"), /not allowed/);

    const k = results.get(port.keydb);
    assert.equal(k?.server?.product, "keydb");
    assert.deepEqual([verdicts(k).config_write, verdicts(k).module_load], ["open", "open"]);
    assert.equal(ask(port.keydb, "CONFIG", "SET", "dir", procs[4]!.dir), "OK");
    assert.match(ask(port.keydb, "MODULE", "LOAD", "/nonexistent.so"), /Error loading/);
  });

  test("a replica of a loopback master shows no sign of compromise; the store has the columns", async () => {
    const r = results.get(port.replica);
    assert.equal(r?.server?.role, "slave");
    assert.equal(r?.server?.master_host, "127.0.0.1");
    assert.equal(r?.compromise, undefined);
    for (const x of results.values()) assert.equal(x.compromise, undefined, `${x.port}`);

    const store = SqliteStore.open(db);
    try {
      const [s] = await store.listScans();
      const page = await store.searchResults(
        s!.id,
        { attack: attackColumnValues("module_load", "open") },
        { after: 0, upTo: Number.MAX_SAFE_INTEGER },
        50,
      );
      assert.deepEqual(page.map((x) => x.result.port).sort(), [port.redis5, port.keydb].sort());
      assert.equal(
        await store.countResults(s!.id, { compromise: compromiseColumnValues() }, 100),
        0,
      );
    } finally {
      await store.close();
    }
  });
});

// ---------- constructed INFO: signs of compromise ----------

const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const HOSTILE_PATH = "/dev/shm/.x/<script>alert(1)</script>.conf";
/** A 6.2.16 replica of a public address on a rogue-master port, with the tool's module loaded. */
const ROGUE_INFO = [
  "# Server",
  "redis_version:6.2.16",
  "redis_mode:standalone",
  "os:Linux 5.15.0 x86_64",
  "arch_bits:64",
  "executable:/usr/bin/redis-server",
  `config_file:${HOSTILE_PATH}`,
  "",
  "# Replication",
  "role:slave",
  "master_host:8.218.234.50",
  "master_port:8886",
  "master_link_status:down",
  "",
  "# Modules",
  "module:name=system,ver=1,api=1,filters=0,usedby=[],using=[],options=[]",
  "",
].join("\r\n");

describe("signs of compromise in INFO, and the report", () => {
  let lab: LabServer;
  let labPort = 0;
  const db = path.join(tmp, "signs.db");
  let scanId = "";

  before(async () => {
    labPort = await freePort("127.88.1.1");
    lab = await startLabServer(
      "rogue replica",
      { kind: "every-command", reply: bulk(ROGUE_INFO) },
      "127.88.1.1",
      labPort,
    );
  });
  after(async () => {
    await lab?.close();
  });

  test("a replica of an outside master, a `system` module and a config file in a hidden dir", async () => {
    const [r] = await scan("127.88.1.1", [labPort], db);
    assert.equal(r?.state, "open");
    const kinds = (r?.compromise ?? []).map((c) => c.kind);
    assert.deepEqual(kinds, ["malicious_module", "outside_master", "suspicious_path"]);
    const master = r!.compromise!.find((c) => c.kind === "outside_master")!;
    assert.equal(master.evidence, "role slave, master_host 8.218.234.50:8886");
    // The scan knows its space: the master is not one of its targets.
    assert.match(master.why, /not one of this scan's targets/);
    assert.match(master.why, /port 8886 is a rogue-master tool's default/);
    assert.match(r!.compromise!.find((c) => c.kind === "malicious_module")!.evidence, /system/);
    // 6.2: open to everything the chain needs.
    assert.deepEqual(verdicts(r), {
      config_write: "open",
      module_load: "open",
      rogue_master: "open",
      lua_cve: "open",
    });
    const store = SqliteStore.open(db);
    try {
      scanId = (await store.listScans())[0]!.id;
    } finally {
      await store.close();
    }
  });

  test("the report's two tables, in every format; the server's words escaped", async () => {
    const out = async (format: string): Promise<string> => {
      const r = await runCli(["report", scanId, "--db", db, "--format", format]);
      assert.equal(r.code, 0, r.stderr);
      return r.stdout;
    };
    const text = await out("text");
    assert.match(text, /Open servers by what an attacker can do/);
    assert.match(text, /^MODULE LOAD +1 +0 +0$/m);
    assert.match(text, /^file write \(CONFIG SET dir\/dbfilename\) +1 +0 +0$/m);
    assert.match(text, /Open servers showing signs of compromise/);
    assert.match(text, /replica of an outside master +1 +127\.88\.1\.1:\d+ role slave/);
    assert.match(text, /indicators in what they showed, not proof/);

    const md = await out("md");
    assert.match(md, /## Open servers showing signs of compromise/);
    assert.ok(!md.includes("<script>"), "Markdown: markup escaped");

    const csv = await out("csv");
    // One tidy long table (a `table` column), read back by a real CSV parser.
    const rows = parse(csv, { columns: true, cast: true }) as Array<Record<string, unknown>>;
    const mod = rows.find((r) => r.table === "attack" && r.technique === "MODULE LOAD")!;
    assert.deepEqual([mod["open to"], mod["blocked by default"], mod.unknown], [1, 0, 0]);
    const sign = rows.find(
      (r) =>
        r.table === "compromise" && r.indicator === "module named like a known malicious module",
    )!;
    assert.equal(sign.servers, 1);

    const json = JSON.parse(await out("json"));
    assert.equal(json.attack.open, 1);
    assert.equal(json.attack.compromise.servers, 1);
    assert.deepEqual(
      json.attack.compromise.kinds.map((k: { kind: string }) => k.kind),
      ["malicious_module", "outside_master", "suspicious_path"],
    );

    const html = await out("html");
    assert.match(html, /<section id="compromise">/);
    assert.ok(!html.includes("<script>alert(1)"), "HTML: the config path is escaped");
    assert.ok(html.includes("&lt;script&gt;alert(1)"));
  });
});

// ---------- Shodan's # Keys ----------

describe("Shodan import: the # Keys section kept and checked", () => {
  test("backup1, backup2 and crackit are campaign keys; the keys stay out of INFO facts", async () => {
    const db = path.join(tmp, "shodan.db");
    const r = await runCli(["import", SHODAN, "--db", db, "--format", "shodan"], {
      cwd: ROOT,
      env: { REDSCOPE_INTEL_DIR: intel },
    });
    assert.equal(r.code, 0, r.stderr);
    const store = SqliteStore.open(db);
    const rows: ProbeResult[] = [];
    try {
      const [s] = await store.listScans();
      for await (const x of store.results({ scanId: s!.id })) rows.push(x);
    } finally {
      await store.close();
    }
    const open = rows.find((x) => x.ip === "203.0.113.20")!;
    assert.deepEqual(open.server?.keys, [
      "backup1",
      "backup2",
      "crackit",
      "module:name=evil,ver=1",
      "redis_version:9.9.9",
    ]);
    assert.equal(open.server?.modules, undefined);
    assert.deepEqual(open.compromise, [
      {
        kind: "campaign_key",
        evidence: "keys backup1, backup2, crackit",
        why: open.compromise?.[0]?.why,
      },
    ]);
    assert.equal(verdicts(open).config_write, "blocked");
    // Valkey 8.0.1 from Shodan: blocked by its own defaults, no keys section, no signs.
    const valkey = rows.find((x) => x.ip === "203.0.113.23")!;
    assert.deepEqual([verdicts(valkey).config_write, valkey.compromise], ["blocked", undefined]);
    // Servers that were not open get no verdicts.
    assert.equal(rows.find((x) => x.ip === "203.0.113.21")?.attack, undefined);
  });

  test("a huge # Keys section is kept bounded: 64 names, each cut and cleaned", async () => {
    const keys = [
      `${"k".repeat(5000)}`,
      "bad\u001b[31mkey",
      ...Array.from({ length: 2000 }, (_, i) => `key${i}`),
    ];
    const info = `# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n\r\n# Keys\r\n${keys.join("\r\n")}\r\n`;
    const file = path.join(tmp, "keys.jsonl");
    fs.writeFileSync(
      file,
      `${JSON.stringify({ ip_str: "198.51.100.7", port: 6379, transport: "tcp", timestamp: "2026-03-01T00:00:00", data: info })}\n`,
    );
    const lines = [];
    for await (const l of readImport(file, { format: "shodan" })) lines.push(l);
    const kept = lines[0]?.record?.server?.keys ?? [];
    assert.equal(kept.length, 64);
    assert.ok(kept.every((k) => k.length <= 128));
    assert.equal(kept[1], "bad\\x1b[31mkey");
    assert.equal(kept[63], "key61");
  });
});

// ---------- the rules themselves ----------

describe("indicator rules", () => {
  const replica = (master: string, port = 6379): ProbeResult => ({
    ip: "198.51.100.9",
    port: 6379,
    transport: "tcp",
    time: "2026-03-01T00:00:00.000Z",
    state: "open",
    server: {
      product: "redis",
      version: "7.2.4",
      role: "slave",
      master_host: master,
      master_port: port,
    },
  });

  test("an outside master: checked against the scan's space when there is one", () => {
    const r = replica("8.8.4.4");
    assert.equal(compromiseIndicators(r, { inScanSpace: () => true }).length, 0);
    assert.match(
      compromiseIndicators(r, { inScanSpace: () => false })[0]!.why,
      /not one of this scan's targets/,
    );
    assert.match(compromiseIndicators(r)[0]!.why, /not checked against a scan space/);
    for (const reserved of ["10.1.2.3", "192.168.0.1", "fd00::1", "127.0.0.1", "redis.internal"]) {
      assert.deepEqual(compromiseIndicators(replica(reserved)), [], reserved);
    }
  });

  test("every Lua CVE of the bundled table is tagged, and only those", () => {
    const table = loadCveTable();
    const byText = table.cves.filter((c) => /\bLua\b|\bEVAL\b/.test(c.summary)).map((c) => c.id);
    for (const id of byText) assert.ok(LUA_CVE_IDS.has(id), id);
    for (const id of LUA_CVE_IDS) {
      const e = table.cves.find((c) => c.id === id);
      assert.ok(e === undefined || isLuaCve(e), id);
    }
    assert.ok(!isLuaCve({ id: "CVE-2023-41056", summary: "Buffer resize miscalculation" }));
  });

  test("the attack column and its filter values agree", () => {
    const col = attackColumn([
      { technique: "config_write", verdict: "open", reason: "" },
      { technique: "module_load", verdict: "blocked", reason: "" },
      { technique: "rogue_master", verdict: "open", reason: "" },
      { technique: "lua_cve", verdict: "unknown", reason: "" },
    ]);
    assert.equal(col, "config_write=open module_load=blocked rogue_master=open lua_cve=unknown");
    assert.ok(attackColumnValues("module_load", "blocked").includes(col!));
    assert.ok(!attackColumnValues("module_load", "open").includes(col!));
    assert.equal(attackColumnValues("lua_cve", "open").length, 27);
    assert.equal(compromiseColumnValues().length, 15);
    assert.equal(compromiseColumnValues("campaign_key").length, 8);
  });
});
