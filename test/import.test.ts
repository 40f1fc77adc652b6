/**
 * `redscope import`: zgrab2 redis output, Shodan banners and our own JSONL become records of the
 * same taxonomy, bad lines are reported by number without losing the good ones, and the CLI
 * puts exactly those records into the store once. Fixtures under test/fixtures/import/ are
 * built from the recorded server replies in data/replies/ (INFO texts, NOAUTH and DENIED lines)
 * in the shapes zgrab2 and Shodan write.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import zlib from "node:zlib";
import type { ProbeResult } from "../src/schema/result.js";
import {
  detectFileFormat,
  detectFormat,
  type ImportLine,
  type ImportOptions,
  readImport,
} from "../src/sources/import.js";
import { SqliteStore } from "../src/store/index.js";
import { type CliRun, runCli } from "./helpers/cli.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, "../..");
const FIXTURES = path.join(ROOT, "test", "fixtures", "import");
const ZGRAB2 = path.join(FIXTURES, "zgrab2-redis.jsonl");
const SHODAN = path.join(FIXTURES, "shodan-redis.jsonl");
const SHODAN_GZ = path.join(FIXTURES, "shodan-redis.json.gz");
const REDSCOPE = path.join(FIXTURES, "redscope.jsonl");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-import-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function readAll(file: string, opts: ImportOptions): Promise<ImportLine[]> {
  const out: ImportLine[] = [];
  for await (const l of readImport(file, opts)) out.push(l);
  return out;
}

async function records(file: string, opts: ImportOptions): Promise<Map<string, ProbeResult>> {
  const byIp = new Map<string, ProbeResult>();
  for (const l of await readAll(file, opts)) {
    assert.equal(l.error, undefined, `line ${l.line}: ${l.error}`);
    byIp.set(l.record!.ip, l.record!);
  }
  return byIp;
}

function writeLines(name: string, lines: string[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const firstLine = (file: string): string => fs.readFileSync(file, "utf8").split("\n")[0]!;

// ---------- the CLI, as a user runs it ----------

function importCli(args: string[]): Promise<CliRun> {
  return runCli(["import", ...args], {
    cwd: ROOT,
    env: { REDSCOPE_DB: path.join(tmp, "never-used.db") },
  });
}

async function storedRows(db: string, scanId: string): Promise<ProbeResult[]> {
  const store = SqliteStore.open(db);
  try {
    const rows: ProbeResult[] = [];
    for await (const r of store.results({ scanId })) rows.push(r);
    return rows;
  } finally {
    await store.close();
  }
}

const byTarget = (a: ProbeResult, b: ProbeResult): number =>
  a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port;

// ---------- formats ----------

describe("zgrab2", () => {
  test("every status and reply kind classifies as our scanner would", async () => {
    const r = await records(ZGRAB2, { format: "zgrab2" });
    const expect: Array<[string, Partial<ProbeResult>, string?, string?]> = [
      ["198.51.100.10", { state: "open", nicer: "Returned version" }, "redis", "5.0.8"],
      ["198.51.100.11", { state: "auth_required", detail: "NOAUTH" }],
      ["198.51.100.12", { state: "open" }, "redis", "5.0.8"], // PING renamed, INFO answered
      ["198.51.100.13", { state: "error", detail: "UNKNOWN_COMMAND" }], // all renamed
      ["198.51.100.14", { state: "protected", detail: "DENIED" }], // DENIED, then EOF
      ["198.51.100.15", { state: "busy", detail: "MAXCLIENTS" }],
      ["198.51.100.16", { state: "timeout", detail: "connect_timeout" }],
      ["198.51.100.17", { state: "closed", detail: "refused" }], // reported as connection-timeout
      ["198.51.100.18", { state: "silent", detail: "read_timeout" }],
      ["198.51.100.19", { state: "not_redis", detail: "unknown", error: "invalid data" }],
      ["2001:db8::6380", { state: "open", transport: "tls", port: 6380 }, "redis", "5.0.8"],
    ];
    assert.equal(r.size, expect.length);
    for (const [ip, fields, product, version] of expect) {
      const rec = r.get(ip);
      assert.ok(rec, ip);
      for (const [k, v] of Object.entries(fields)) {
        assert.equal(rec[k as keyof ProbeResult], v, `${ip} ${k}`);
      }
      assert.equal(rec.server?.product, product, `${ip} product`);
      assert.equal(rec.server?.version, version, `${ip} version`);
      assert.equal(rec.time, "2026-03-02T10:15:00.000Z");
    }
    assert.equal(r.get("198.51.100.11")!.error, "NOAUTH Authentication required.");
    assert.match(r.get("198.51.100.14")!.error!, /^DENIED Redis is running in protected mode/);
    assert.equal(
      r.get("198.51.100.17")!.error,
      "dial tcp 198.51.100.17:6379: connect: connection refused",
    );
    assert.equal(r.get("2001:db8::6380")!.hostname, "cache.example.net");
    // INFO is parsed again, in full: zgrab2's own fields are not used.
    assert.equal(r.get("198.51.100.10")!.server?.used_memory, 912152);
    assert.equal(r.get("198.51.100.10")!.transport, "tcp");
  });

  test("records without a port take --port (6379 by default); a port in the record wins", async () => {
    const dflt = await records(ZGRAB2, { format: "zgrab2" });
    const given = await records(ZGRAB2, { format: "zgrab2", port: 7001 });
    assert.equal(dflt.get("198.51.100.10")!.port, 6379);
    assert.equal(given.get("198.51.100.10")!.port, 7001);
    assert.equal(given.get("2001:db8::6380")!.port, 6380);
  });

  test("empty replies, a reset after PING, decoder errors after replies, targets not probed", async () => {
    const zg = (ip: string, mod: object): string =>
      JSON.stringify({ ip, data: { redis: { timestamp: "2026-03-02T10:15:00+01:00", ...mod } } });
    const file = writeLines("zgrab2-edge.jsonl", [
      // omitempty drops an empty reply: INFO's slot is "" and NONEXISTENT still lines up
      zg("192.0.2.1", {
        status: "success",
        result: { ping_response: "PONG", nonexistent_response: "(Error: ERR unknown command)" },
      }),
      zg("192.0.2.2", {
        status: "io-timeout",
        result: { ping_response: "PONG" },
        error: "read tcp 10.0.0.2:1->192.0.2.2:6379: read: connection reset by peer",
      }),
      zg("192.0.2.3", {
        status: "unknown-error",
        result: { ping_response: "PONG" },
        error: "invalid data",
      }),
      zg("192.0.2.4", { status: "blocklisted-target" }),
      zg("192.0.2.5", { status: "io-timeout", error: "EOF" }),
      zg("192.0.2.6", { status: "handshake-error", error: "remote error: tls: handshake failure" }),
    ]);
    const lines = await readAll(file, { format: "zgrab2" });
    const rec = (i: number) => lines[i]!.record!;
    assert.deepEqual([rec(0).state, rec(0).detail], ["open", "INFO_UNPARSED"]);
    assert.equal(rec(0).time, "2026-03-02T09:15:00.000Z");
    assert.deepEqual([rec(1).state, rec(1).detail], ["open", "NO_INFO"]);
    assert.deepEqual(
      [rec(2).state, rec(2).detail, rec(2).error],
      ["error", "PROTOCOL", "invalid data"],
    );
    assert.deepEqual(lines[3], {
      line: 4,
      error: "zgrab2 status blocklisted-target: the target was not probed",
    });
    assert.deepEqual([rec(4).state, rec(4).detail], ["silent", "closed"]);
    assert.deepEqual([rec(5).state, rec(5).detail], ["error", "tls_handshake"]);
  });
});

describe("Shodan", () => {
  test("banners classify; ASN, organisation, country and cloud are kept", async () => {
    const r = await records(SHODAN, { format: "shodan" });
    assert.equal(r.size, 5);
    const open = r.get("203.0.113.20")!;
    assert.deepEqual(
      [open.state, open.server?.product, open.server?.version, open.transport, open.port],
      ["open", "redis", "7.4.1", "tcp", 6379],
    );
    // Shodan writes UTC without a zone, with microseconds.
    assert.equal(open.time, "2026-02-27T08:41:12.345Z");
    assert.equal(open.asn, 16509);
    assert.equal(open.as_org, "Amazon.com, Inc.");
    assert.equal(open.country, "US");
    assert.deepEqual(open.cloud, { provider: "Amazon", region: "us-east-1", service: "EC2" });
    // The `# Keys` section holds key names, not INFO: `module:…` / `redis_version:…` keys
    // must not turn into facts.
    assert.deepEqual(open.server?.keyspace, { db0: { keys: 5, expires: 0 } });
    assert.equal(open.server?.modules, undefined);
    assert.equal(open.server?.redis_version, "7.4.1");

    const noauth = r.get("203.0.113.21")!;
    assert.deepEqual([noauth.state, noauth.detail], ["auth_required", "NOAUTH"]);
    assert.equal(noauth.cloud, undefined);
    const denied = r.get("203.0.113.22")!;
    assert.deepEqual([denied.state, denied.detail], ["protected", "DENIED"]);
    assert.equal(denied.country, undefined); // country_code null
    const valkey = r.get("203.0.113.23")!;
    assert.deepEqual(
      [valkey.state, valkey.server?.product, valkey.server?.version, valkey.server?.redis_version],
      ["open", "valkey", "8.0.1", "7.2.4"],
    );
    const alibaba = r.get("203.0.113.24")!;
    assert.deepEqual([alibaba.state, alibaba.detail], ["ip_restricted", "ILLEGAL_ADDRESS"]);
    assert.deepEqual(alibaba.cloud, { provider: "Alibaba", region: "cn-hangzhou" });
  });

  test("a gzipped download is read as is", async () => {
    const r = await records(SHODAN_GZ, { format: "auto" });
    assert.deepEqual(
      [...r.values()].map((x) => [x.ip, x.state, x.server?.version]),
      [
        ["192.0.2.30", "open", "5.0.8"],
        ["192.0.2.31", "auth_required", undefined],
      ],
    );
  });

  test("a truncated .gz keeps the lines before the cut and reports the cut", async () => {
    const whole = zlib.gzipSync(fs.readFileSync(SHODAN));
    const file = path.join(tmp, "cut.json.gz");
    // Long enough that the first banners (the big 7.4.1 INFO comes first) are decompressed.
    fs.writeFileSync(file, whole.subarray(0, whole.length - 200));
    const lines = await readAll(file, { format: "shodan" });
    assert.ok(lines.filter((l) => l.record).length >= 1);
    const last = lines[lines.length - 1]!;
    assert.match(last.error ?? "", /^read error: /);
  });

  test("non-Redis banners and other transports", async () => {
    const banner = (ip: string, extra: object): string =>
      JSON.stringify({
        ip_str: ip,
        port: 6379,
        transport: "tcp",
        timestamp: "2026-03-01T00:00:00",
        ...extra,
      });
    const file = writeLines("shodan-edge.jsonl", [
      banner("192.0.2.40", { data: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" }),
      banner("192.0.2.41", { data: "-ERR unknown\r\n", transport: "udp" }),
      banner("192.0.2.42", { data: "-NOAUTH Authentication required.\r\n", ssl: { cipher: {} } }),
      banner("192.0.2.43", { data: "-NOAUTH x\r\n", asn: "16509" }),
    ]);
    const lines = await readAll(file, { format: "shodan" });
    assert.deepEqual([lines[0]!.record!.state, lines[0]!.record!.detail], ["not_redis", "http"]);
    assert.equal(lines[1]!.error, 'transport "udp": not a Redis probe');
    assert.deepEqual(
      [lines[2]!.record!.state, lines[2]!.record!.transport],
      ["auth_required", "tls"],
    );
    assert.equal(lines[3]!.error, 'asn: expected an AS number like "AS16509"');
  });
});

describe("redscope JSONL", () => {
  test("our records come back as written, without the original scan's id and shard", async () => {
    const original = fs
      .readFileSync(REDSCOPE, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ProbeResult);
    const lines = await readAll(REDSCOPE, { format: "redscope" });
    assert.equal(lines.length, original.length);
    for (const [i, l] of lines.entries()) {
      const { scan_id: _id, shard: _shard, ...rest } = original[i]!;
      assert.deepEqual(l.record, rest);
    }
  });

  test("known fields are type-checked, unknown ones dropped, strings made safe", async () => {
    const base = { ip: "192.0.2.50", port: 6379, transport: "tcp", time: "2026-01-01T00:00:00Z" };
    const file = writeLines("redscope-edge.jsonl", [
      JSON.stringify({
        ...base,
        state: "error",
        error: "ERR \u001b[31mred\u001b[0m",
        server: { os: "Linux\u202e", keyspace: { "db0\u0007": { keys: 1, expires: 0 } } },
        surprise: { anything: true },
      }),
      JSON.stringify({ ...base, state: "pwned" }),
      JSON.stringify({ ...base, state: "open", asn: "16509" }),
      JSON.stringify({ ...base, ip: "::FFFF:192.0.2.50", port: 6380, state: "open" }),
      JSON.stringify({ ...base, state: "closed", attempts: 3 }),
      JSON.stringify({ ...base, state: "closed", attempts: 0 }),
    ]);
    const lines = await readAll(file, { format: "redscope" });
    assert.deepEqual(lines[0]!.record, {
      ...base,
      time: "2026-01-01T00:00:00.000Z",
      state: "error",
      error: "ERR \\x1b[31mred\\x1b[0m",
      server: { os: "Linux\\u202e", keyspace: { "db0\\x07": { keys: 1, expires: 0 } } },
    });
    assert.equal(lines[1]!.error, 'state: unknown state "pwned"');
    assert.equal(lines[2]!.error, "asn: expected an AS number");
    // Addresses are stored in canonical form, so one target is one row however it was spelled.
    assert.equal(lines[3]!.record!.ip, "::ffff:192.0.2.50");
    // A scan's --retries count comes back with its record.
    assert.equal(lines[4]!.record!.attempts, 3);
    assert.match(lines[5]!.error ?? "", /^attempts: expected a whole number/);
  });
});

// ---------- detection and malformed input ----------

describe("format detection", () => {
  test("by the shape of a line, and of a file's first recognisable line", async () => {
    assert.equal(detectFormat(firstLine(ZGRAB2)), "zgrab2");
    assert.equal(detectFormat(firstLine(SHODAN)), "shodan");
    assert.equal(detectFormat(firstLine(REDSCOPE)), "redscope");
    assert.equal(detectFormat('{"hello":"world"}'), undefined);
    assert.equal(detectFormat("not json"), undefined);
    assert.equal(await detectFileFormat(SHODAN_GZ), "shodan");
    const late = writeLines("late.jsonl", ["", "{oops", firstLine(ZGRAB2)]);
    assert.equal(await detectFileFormat(late), "zgrab2");
    // With auto, lines before the first recognisable one are reported, the rest imported.
    const lines = await readAll(late, { format: "auto" });
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.line, 2);
    assert.match(lines[0]!.error!, /^bad JSON: /);
    assert.equal(lines[1]!.record?.ip, "198.51.100.10");
    // A format given by hand that does not fit says what the lines look like.
    const wrong = await readAll(SHODAN, { format: "zgrab2" });
    assert.equal(wrong[0]!.error, "not a zgrab2 record: it looks like shodan");
  });
});

describe("malformed lines", () => {
  test("are reported with their line numbers; the good lines around them are imported", async () => {
    const good = fs.readFileSync(ZGRAB2, "utf8").trim().split("\n");
    const rec = JSON.parse(good[1]!) as { ip: string; data: { redis: Record<string, unknown> } };
    const variant = (f: (r: typeof rec) => void): string => {
      const copy = JSON.parse(JSON.stringify(rec)) as typeof rec;
      f(copy);
      return JSON.stringify(copy);
    };
    const long = `{"ip":"192.0.2.9","pad":"${"A".repeat(2 * 1024 * 1024)}"}`;
    const file = writeLines("malformed.jsonl", [
      good[0]!, // 1
      '{"ip":"192.0.2.1","data":', // 2 cut short
      variant((r) => (r.ip = "256.1.2.3")), // 3
      good[2]!, // 4
      variant((r) => (r.data.redis.status = 5)), // 5
      long, // 6: 2 MiB, the cap is set to 1 MiB
      variant((r) => delete r.data.redis.timestamp), // 7
      "", // 8 empty lines are no records
      variant((r) => (r.data.redis.timestamp = "yesterday")), // 9
      "[1,2,3]", // 10
      good[3]!, // 11
    ]);
    const lines = await readAll(file, { format: "zgrab2", maxLineBytes: 1024 * 1024 });
    const errors = lines.filter((l) => l.error).map((l) => [l.line, l.error]);
    assert.deepEqual(
      errors.slice(0, 1).map(([n]) => n),
      [2],
    );
    assert.match(String(errors[0]![1]), /^bad JSON: /);
    assert.deepEqual(errors.slice(1), [
      [3, 'ip: not an IP address: "256.1.2.3"'],
      [5, "data.redis.status: expected a string"],
      [6, `line too long: ${long.length} bytes (at most 1048576)`],
      [7, "data.redis.timestamp: missing"],
      [9, 'data.redis.timestamp: not an ISO 8601 time: "yesterday"'],
      [10, "not a JSON object"],
    ]);
    assert.deepEqual(
      lines.filter((l) => l.record).map((l) => [l.line, l.record!.ip]),
      [
        [1, "198.51.100.10"],
        [4, "198.51.100.12"],
        [11, "198.51.100.13"],
      ],
    );
  });

  test("a line far over the cap is skipped without being held in memory", async () => {
    const file = path.join(tmp, "huge.jsonl");
    const fd = fs.openSync(file, "w");
    fs.writeSync(fd, `${firstLine(SHODAN)}\n{"x":"`);
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 40; i++) fs.writeSync(fd, chunk);
    fs.writeSync(fd, `"}\n${firstLine(SHODAN).replace("203.0.113.20", "203.0.113.99")}`);
    fs.closeSync(fd);
    // Retained buffers, not garbage waiting for a collection: collect before each sample.
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const held = (): number => {
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const before = held();
    let peak = before;
    const lines: ImportLine[] = [];
    for await (const l of readImport(file, { format: "shodan", maxLineBytes: 4 * 1024 * 1024 })) {
      peak = Math.max(peak, held());
      lines.push(l);
    }
    assert.deepEqual(
      lines.map((l) => l.record?.ip ?? l.error),
      [
        "203.0.113.20",
        `line too long: ${40 * 1024 * 1024 + 8} bytes (at most 4194304)`,
        "203.0.113.99",
      ],
    );
    assert.ok(peak - before < 16 * 1024 * 1024, `buffers grew by ${peak - before} bytes`);
  });
});

// ---------- the command ----------

describe("redscope import", () => {
  test("stores exactly the records read, once; a second import adds no duplicates", async () => {
    const db = path.join(tmp, "once.db");
    const first = await importCli([ZGRAB2, "--db", db, "--scan-id", "zg-once", "--no-intel"]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, "");
    assert.match(first.stdout, /11 records read, 11 imported, 0 duplicates, 0 malformed/);
    assert.match(first.stdout, /^protected +1 +9\.09% +Running protected$/m);
    assert.match(first.stdout, /^total +11 +100\.00%$/m);

    const expected = [...(await records(ZGRAB2, { format: "zgrab2" })).values()]
      .map((r) => ({ ...r, scan_id: "zg-once", shard: "0/1" }))
      .sort(byTarget);
    assert.deepEqual((await storedRows(db, "zg-once")).sort(byTarget), expected);

    const again = await importCli([ZGRAB2, "--db", db, "--scan-id", "zg-once", "--no-intel"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /11 records read, 0 imported, 11 duplicates, 0 malformed/);
    assert.equal((await storedRows(db, "zg-once")).length, 11);

    const store = SqliteStore.open(db);
    try {
      const scan = await store.getScan("zg-once");
      assert.equal(scan?.source, "import:zgrab2");
      assert.equal(scan?.targets, ZGRAB2);
      assert.equal(scan?.ports, "");
      assert.equal(scan?.shardCount, 1);
      assert.ok(scan?.finishedAt, "the import's one shard is finished, so is the scan");
      assert.equal(scan?.counts?.open, 3);
    } finally {
      await store.close();
    }
  });

  test("a random scan id, Shodan gz and redscope files, and intel only where the file has none", async () => {
    const intel = path.join(tmp, "intel");
    fs.mkdirSync(path.join(intel, "custom"), { recursive: true });
    fs.writeFileSync(
      path.join(intel, "custom", "lab.csv"),
      "cidr,provider,region,service\n203.0.113.0/24,labcloud,lab-1,redis\n",
    );
    const db = path.join(tmp, "shodan.db");
    const run = await importCli([SHODAN, "--db", db, "--intel-dir", intel, "-q"]);
    assert.equal(run.code, 0, run.stderr);
    const id = /scan ([0-9a-f]{16}) \(import:shodan\)/.exec(run.stdout)?.[1];
    assert.ok(id, run.stdout);
    const rows = new Map((await storedRows(db, id)).map((r) => [r.ip, r]));
    // Shodan saw Amazon there; our lab file says otherwise: the file's value stays.
    assert.equal(rows.get("203.0.113.20")!.cloud?.provider, "Amazon");
    // No cloud in the banner: our intel fills it in. CVEs always come from our table.
    assert.deepEqual(rows.get("203.0.113.21")!.cloud, {
      provider: "labcloud",
      region: "lab-1",
      service: "redis",
    });
    assert.ok((rows.get("203.0.113.20")!.cves ?? []).length > 0);

    const gz = await importCli([SHODAN_GZ, "--db", db, "--no-intel", "--scan-id", "gz"]);
    assert.equal(gz.code, 0, gz.stderr);
    assert.match(gz.stdout, /2 records read, 2 imported/);
    const own = await importCli([REDSCOPE, "--db", db, "--no-intel", "--scan-id", "own"]);
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, /4 records read, 4 imported/);
    assert.deepEqual(
      (await storedRows(db, "own")).map((r) => [r.ip, r.state, r.scan_id, r.shard]),
      [
        ["192.0.2.110", "open", "own", "0/1"],
        ["192.0.2.111", "auth_required", "own", "0/1"],
        ["192.0.2.114", "protected", "own", "0/1"],
        ["192.0.2.116", "timeout", "own", "0/1"],
      ],
    );
  });

  test("malformed lines go to stderr as FILE:LINE (20 at most), the rest is imported", async () => {
    const good = firstLine(SHODAN);
    const lines = [good];
    for (let i = 0; i < 25; i++) lines.push(`{"broken": ${i}`);
    lines.push(good.replace("203.0.113.20", "203.0.113.77"));
    const file = writeLines("many-bad.jsonl", lines);
    const db = path.join(tmp, "bad.db");
    const run = await importCli([file, "--db", db, "--no-intel", "--format", "shodan"]);
    assert.equal(run.code, 0, run.stderr);
    const listed = run.stderr.split("\n").filter((l) => l.startsWith(`${file}:`));
    assert.equal(listed.length, 20);
    assert.match(listed[0]!, new RegExp(`^${file.replace(/[.]/g, "\\.")}:2: bad JSON: `));
    assert.match(run.stderr, /further malformed lines are only counted/);
    assert.match(run.stdout, /27 records read, 2 imported, 0 duplicates, 25 malformed/);
    assert.match(run.stdout, /25 malformed lines were skipped .*the good lines were imported/);
  });

  test("bad flags and unreadable or mixed files: one line, exit 2, nothing written", async () => {
    const db = path.join(tmp, "untouched.db");
    const cases: Array<[string[], RegExp]> = [
      [[path.join(tmp, "nope.jsonl")], /^redscope: cannot read .*nope\.jsonl: ENOENT$/],
      [[tmp], /it is a directory/],
      [[ZGRAB2, "--port", "0"], /invalid --port "0": must be between 1 and 65535/],
      [[SHODAN, "--port", "7000"], /--port is for zgrab2 files/],
      [[ZGRAB2, "--scan-id", "no spaces"], /--scan-id "no spaces": use 1-64 letters/],
      [[ZGRAB2, "--format", "csv"], /argument 'csv' is invalid/],
      [[ZGRAB2, SHODAN], /different formats \(.*zgrab2.*shodan.*\): import them separately/],
      [[writeLines("junk.jsonl", ['{"a":1}', "nope"])], /cannot tell the format of .*junk/],
    ];
    for (const [args, message] of cases) {
      const run = await importCli([...args, "--db", db, "--no-intel"]);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr.trim(), message);
      assert.equal(run.stderr.trim().split("\n").length, 1);
      assert.equal(run.stdout, "");
    }
    assert.equal(fs.existsSync(db), false);
  });

  test("a file of which not one line is good (a wrong --format) exits 1 and records no scan", async () => {
    const db = path.join(tmp, "wrongformat.db");
    const good = await importCli([ZGRAB2, "--db", db, "--no-intel", "--scan-id", "before"]);
    assert.equal(good.code, 0, good.stderr);
    const run = await importCli([SHODAN, "--format", "zgrab2", "--db", db, "--no-intel"]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /redscope: nothing imported: all 5 records of .*shodan-redis\.jsonl were malformed; no scan was recorded/,
    );
    assert.match(run.stderr, /not a zgrab2 record: it looks like shodan/);
    // Junk on stdin, and an empty stdin: no scan either.
    const junk = await runCli(["import", "-", "--db", db, "--no-intel"], { stdin: "junk\n" });
    assert.equal(junk.code, 2, junk.stderr);
    assert.match(junk.stderr, /redscope: cannot tell the format of stdin: give --format/);
    const empty = await runCli(["import", "-", "--db", db, "--no-intel"], { stdin: "" });
    assert.equal(empty.code, 1, empty.stderr);
    assert.match(empty.stderr, /nothing imported: stdin holds no records; no scan was recorded/);
    const bad = await runCli(["import", "-", "--db", db, "--format", "shodan", "--no-intel"], {
      stdin: `${firstLine(ZGRAB2)}\n`,
    });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /^stdin:1: not a shodan record: it looks like zgrab2$/m);

    const store = SqliteStore.open(db);
    try {
      assert.deepEqual(
        (await store.listScans()).map((x) => x.id),
        ["before"],
      );
    } finally {
      await store.close();
    }
    // So `report` still reports the scan before the failed imports.
    const report = await runCli(["report", "--db", db]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /\bbefore\b/);
    assert.match(report.stdout, /^total +11 +100\.00%$/m);
  });

  test("a scan id that exists with other files is refused before anything is written", async () => {
    const db = path.join(tmp, "conflict.db");
    assert.equal((await importCli([ZGRAB2, "--db", db, "--no-intel", "--scan-id", "x"])).code, 0);
    const run = await importCli([REDSCOPE, "--db", db, "--no-intel", "--scan-id", "x"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /scan id x already exists .* different targets/);
    assert.equal((await storedRows(db, "x")).length, 11);
  });
});

// ---------- stdin and JSON arrays ----------

describe("stdin and JSON arrays", () => {
  const shodanRows = (): unknown[] =>
    fs
      .readFileSync(SHODAN, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));

  test("a Shodan JSON array, pretty-printed (jq -s) or on one line, reads as its JSONL does", async () => {
    const jsonl = [...(await records(SHODAN, { format: "shodan" })).values()];
    const pretty = path.join(tmp, "shodan-array.json");
    fs.writeFileSync(pretty, JSON.stringify(shodanRows(), null, 2));
    const compact = path.join(tmp, "shodan-array-compact.json.gz");
    fs.writeFileSync(compact, zlib.gzipSync(`\ufeff ${JSON.stringify(shodanRows())}\n`));
    for (const file of [pretty, compact]) {
      assert.equal(await detectFileFormat(file), "shodan");
      assert.deepEqual([...(await records(file, { format: "auto" })).values()], jsonl, file);
    }
    // Errors name the line the element starts on.
    const lines = await readAll(pretty, { format: "shodan" });
    assert.deepEqual(
      lines.map((l) => l.line),
      [2, ...lines.slice(1).map((l) => l.line)],
    );
    assert.ok(lines[1]!.line > 2);
  });

  test("array elements: bare values, strings with brackets, a cut array, text after it", async () => {
    const banner = shodanRows()[1] as Record<string, unknown>;
    const tricky = { ...banner, isp: 'a "quoted" [org] {x}, y\\' };
    const file = path.join(tmp, "odd-array.json");
    fs.writeFileSync(file, `[\n${JSON.stringify(tricky)}, 42, "str" ,\n[1,[2]]\n]\n`);
    const lines = await readAll(file, { format: "shodan" });
    assert.equal(lines[0]!.record?.as_org, 'a "quoted" [org] {x}, y\\');
    assert.deepEqual(
      lines.slice(1).map((l) => [l.line, l.error]),
      [
        [2, "not a JSON object"],
        [2, "not a JSON object"],
        [3, "not a JSON object"],
      ],
    );
    const cut = path.join(tmp, "cut-array.json");
    fs.writeFileSync(cut, `[${JSON.stringify(banner)},\n${JSON.stringify(banner).slice(0, 50)}`);
    const cutLines = await readAll(cut, { format: "shodan" });
    assert.equal(cutLines[0]!.record?.ip, "203.0.113.21");
    assert.deepEqual(cutLines[1], {
      line: 2,
      error: "the JSON array is cut short: this record is incomplete",
    });
    const after = path.join(tmp, "after-array.json");
    fs.writeFileSync(after, `[${JSON.stringify(banner)}]\n{"more":1}\n`);
    const afterLines = await readAll(after, { format: "shodan" });
    assert.deepEqual(afterLines[1], { line: 2, error: "text after the JSON array" });
  });

  test("an array element over the cap is skipped and reported, never held", async () => {
    const file = path.join(tmp, "huge-array.json");
    const fd = fs.openSync(file, "w");
    const banner = JSON.stringify(shodanRows()[1]);
    fs.writeSync(fd, `[${banner},\n{"x":"`);
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    for (let i = 0; i < 40; i++) fs.writeSync(fd, chunk);
    fs.writeSync(fd, `"},\n${banner.replace("203.0.113.21", "203.0.113.98")}]`);
    fs.closeSync(fd);
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const held = (): number => {
      gc();
      return process.memoryUsage().arrayBuffers;
    };
    const before = held();
    let peak = before;
    const out: string[] = [];
    for await (const l of readImport(file, { format: "shodan", maxLineBytes: 4 * 1024 * 1024 })) {
      peak = Math.max(peak, held());
      out.push(l.record?.ip ?? `${l.line}: ${l.error}`);
    }
    assert.deepEqual(out, [
      "203.0.113.21",
      `2: record too long: ${40 * 1024 * 1024 + 8} bytes (at most 4194304)`,
      "203.0.113.98",
    ]);
    assert.ok(peak - before < 16 * 1024 * 1024, `buffers grew by ${peak - before} bytes`);
  });

  test("redscope import - reads stdin, gzipped or not, its format told as it streams", async () => {
    const db = path.join(tmp, "stdin.db");
    const zg = await runCli(["import", "-", "--db", db, "--no-intel", "--scan-id", "zg-in"], {
      cwd: ROOT,
      stdin: fs.readFileSync(ZGRAB2, "utf8"),
    });
    assert.equal(zg.code, 0, zg.stderr);
    assert.match(zg.stdout, /^stdin \(zgrab2\): 11 records read, 11 imported/m);
    assert.match(zg.stdout, /scan zg-in \(import:zgrab2\)/);
    assert.equal((await storedRows(db, "zg-in")).length, 11);

    const array = await runCli(["import", "-", "--db", db, "--no-intel", "--scan-id", "sh-in"], {
      stdin: JSON.stringify(shodanRows(), null, 1),
    });
    assert.equal(array.code, 0, array.stderr);
    assert.match(array.stdout, /^stdin \(shodan\): 5 records read, 5 imported/m);
    const store = SqliteStore.open(db);
    try {
      const scan = await store.getScan("sh-in");
      assert.equal(scan?.source, "import:shodan");
      assert.equal(scan?.targets, "-");
    } finally {
      await store.close();
    }

    // --port on stdin that turns out not to be zgrab2: a usage error, nothing written.
    const port = await runCli(["import", "-", "--db", db, "--port", "7000", "--scan-id", "p"], {
      stdin: fs.readFileSync(SHODAN, "utf8"),
    });
    assert.equal(port.code, 2, port.stderr);
    assert.match(port.stderr, /^redscope: --port is for zgrab2 records; this input is shodan$/m);
    assert.equal((await storedRows(db, "p")).length, 0);
    const mixed = await runCli(["import", "-", ZGRAB2, "--db", db]);
    assert.equal(mixed.code, 2);
    assert.match(mixed.stderr, /read stdin alone/);
  });

  test("format detection reads a few lines and closes the file it opened", async () => {
    const big = path.join(tmp, "many.jsonl");
    fs.writeFileSync(big, `${fs.readFileSync(SHODAN, "utf8").repeat(400)}`);
    const array = path.join(tmp, "many.json");
    fs.writeFileSync(array, JSON.stringify(shodanRows(), null, 2));
    const open = (): number => fs.readdirSync("/proc/self/fd").length;
    const before = open();
    for (let i = 0; i < 50; i++) {
      assert.equal(await detectFileFormat(big), "shodan");
      assert.equal(await detectFileFormat(SHODAN_GZ), "shodan");
      assert.equal(await detectFileFormat(array), "shodan");
    }
    // 150 files opened: a leak would hold about that many descriptors.
    assert.ok(open() - before < 10, `${open() - before} descriptors more than before`);
  });

  test("gzip on stdin", async () => {
    const db = path.join(tmp, "stdin-gz.db");
    const { spawn } = await import("node:child_process");
    const { BIN } = await import("./helpers/cli.js");
    const p = spawn(process.execPath, [BIN, "import", "-", "--db", db, "--no-intel"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.stdin.end(fs.readFileSync(SHODAN_GZ));
    const code = await new Promise((r) => p.on("close", r));
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^stdin \(shodan\): 2 records read, 2 imported/m);
  });
});
