/**
 * One suite, both backends: a SQLite file and a real PostgreSQL server started here. Whatever
 * a report or the dashboard reads must come back the same from either.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import pg from "pg";
import { AUDIT_COLUMNS } from "../src/schema/audit.js";
import { type ProbeResult, RESULT_COLUMNS } from "../src/schema/result.js";
import {
  openStore,
  type ScanInfo,
  type Store,
  StoreConflictError,
  StoreOpenError,
} from "../src/store/index.js";
import { MIGRATIONS } from "../src/store/schema.js";
import { type PgServer, startPostgres } from "./helpers/postgres.js";

/** The schema version a new store is at: the last migration's. */
const LATEST = MIGRATIONS.at(-1)!.version;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-store-"));
let server: PgServer;

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function scanInfo(id: string, over: Partial<ScanInfo> = {}): ScanInfo {
  return {
    id,
    source: "scan",
    startedAt: "2026-11-21T10:00:00.000Z",
    targets: "127.4.0.0/22",
    ports: "6379",
    seed: "42",
    shardCount: 1,
    options: { rate: 1000 },
    toolVersion: "0.1.0",
    ...over,
  };
}

function result(i: number, over: Partial<ProbeResult> = {}): ProbeResult {
  const r: ProbeResult = {
    ip: `10.0.${i >> 8}.${i & 255}`,
    port: 6379,
    transport: "tcp",
    time: "2026-11-21T10:00:01.000Z",
    state: i % 3 === 0 ? "open" : i % 3 === 1 ? "auth_required" : "timeout",
    shard: "0/1",
    ...over,
  };
  if (r.state === "open" && !over.server) {
    r.nicer = "Returned version";
    r.server = { product: "redis", version: "7.0.15", redis_version: "7.0.15", role: "master" };
    r.cves = [
      { id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" },
      { id: "CVE-2024-31449", cvss: 7, fixed_in: "7.2.6" },
    ];
    r.cloud = { provider: "aws", region: "eu-west-1", service: "EC2" };
    r.asn = 16509;
    r.as_org = "AMAZON-02";
    r.country = "IE";
  }
  return r;
}

async function all(store: Store, q: Parameters<Store["results"]>[0]): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for await (const r of store.results(q)) out.push(r);
  return out;
}

/** Statements run behind the store's back; the rows of the last one are returned. */
async function rawSql(where: string, statements: string[]): Promise<unknown[]> {
  let rows: unknown[] = [];
  if (!where.startsWith("postgres://")) {
    const db = new Database(where);
    try {
      for (const sql of statements) {
        const st = db.prepare(sql);
        if (st.reader) rows = st.all();
        else {
          st.run();
          rows = [];
        }
      }
    } finally {
      db.close();
    }
    return rows;
  }
  const c = new pg.Client({ connectionString: where });
  await c.connect();
  try {
    for (const sql of statements) rows = (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
  return rows;
}

const backends: Array<[string, (name: string) => Promise<string>]> = [
  ["sqlite", async (name) => path.join(tmp, `${name}.db`)],
  ["postgres", (name) => server.database(name)],
];

for (const [kind, location] of backends) {
  describe(`store: ${kind}`, () => {
    test("migrates a new database once; reopening keeps it", async () => {
      const where = await location("migrate");
      const a = await openStore(where);
      assert.equal(a.kind, kind);
      assert.equal(await a.schemaVersion(), LATEST);
      await a.close();
      const b = await openStore(where);
      assert.equal(await b.schemaVersion(), LATEST);
      assert.deepEqual(await b.listScans(), []);
      await b.close();
      // A store made by version 1 of the schema is brought up to date when opened.
      await rawSql(where, [
        "DROP TABLE result_aggregates",
        "DROP TABLE result_examples",
        "DROP INDEX results_scan_cves",
        "DROP TABLE honeypot_events",
        "DROP TABLE honeypot_sessions",
        "DROP TABLE audits",
        "DROP INDEX results_scan_country",
        "DROP INDEX results_scan_asn",
        "DROP INDEX results_scan_cloud",
        "DROP INDEX results_ip",
        "ALTER TABLE scan_shards DROP COLUMN progress",
        "ALTER TABLE results DROP COLUMN step",
        "DROP INDEX results_scan_attack",
        "DROP INDEX results_scan_compromise",
        "ALTER TABLE results DROP COLUMN attack",
        "ALTER TABLE results DROP COLUMN compromise",
        "DROP INDEX scans_target_space",
        "ALTER TABLE scans DROP COLUMN target_space",
        // PostgreSQL's state and product indexes end in seq: they go with it, as in version 1.
        ...(kind === "postgres"
          ? [
              "ALTER TABLE results DROP COLUMN seq",
              "CREATE INDEX results_scan_state ON results (scan_id, state)",
              "CREATE INDEX results_scan_product ON results (scan_id, product, version)",
            ]
          : []),
        "DELETE FROM schema_migrations WHERE version >= 2",
      ]);
      const c = await openStore(where);
      assert.equal(await c.schemaVersion(), LATEST);
      await c.close();
      assert.deepEqual(await rawSql(where, ["SELECT max(version) AS n FROM schema_migrations"]), [
        { n: LATEST },
      ]);
    });

    test("the migrations make exactly the columns the schema's list names", async () => {
      const where = await location("columns");
      await (await openStore(where)).close();
      const rows = (await rawSql(where, [
        kind === "sqlite"
          ? "SELECT name FROM pragma_table_info('results')"
          : "SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'results'",
      ])) as Array<{ name: string }>;
      // PostgreSQL's insertion order (`seq`) is the store's own, not a fact of the record.
      const names = rows.map((r) => r.name).filter((n) => n !== "seq");
      assert.deepEqual(new Set(names), new Set(RESULT_COLUMNS.map((c) => c.name)));
      const audits = (await rawSql(where, [
        kind === "sqlite"
          ? "SELECT name FROM pragma_table_info('audits')"
          : "SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'audits'",
      ])) as Array<{ name: string }>;
      assert.deepEqual(
        new Set(audits.map((r) => r.name)),
        new Set(AUDIT_COLUMNS.map((c) => c.name)),
      );
    });

    test("a database from a newer redscope is refused with a clear message", async () => {
      const where = await location("newer");
      await (await openStore(where)).close();
      await rawSql(where, [
        kind === "sqlite"
          ? "INSERT INTO schema_migrations VALUES (99, 'future', 'x')"
          : "INSERT INTO schema_migrations VALUES (99, 'future', now())",
      ]);
      await assert.rejects(openStore(where), (e: Error) => {
        assert.ok(e instanceof StoreOpenError);
        assert.match(
          e.message,
          new RegExp(`schema version 99, newer than this redscope knows \\(${LATEST}\\)`),
        );
        return true;
      });
    });

    test("results round-trip whole; a target is stored once; counts come from the rows", async () => {
      const store = await openStore(await location("roundtrip"));
      try {
        await store.beginScan(scanInfo("s1"));
        await store.beginShard({ scanId: "s1", shard: "0/1", startedAt: "2026-11-21T10:00:00Z" });
        const rows = Array.from({ length: 30 }, (_, i) => result(i));
        assert.equal(await store.insertResults("s1", rows.slice(0, 20)), 20);
        // A resumed run sends some targets again: the first row stays, the rest go in.
        const again = rows.slice(10).map((r) => ({ ...r, state: "error" as const }));
        assert.equal(await store.insertResults("s1", again), 10);
        const back = await all(store, { scanId: "s1" });
        assert.equal(back.length, 30);
        const byIp = new Map(back.map((r) => [r.ip, r]));
        // Rows 10–19 were there already and stay as first written; 20–29 came with the re-run.
        for (const r of [...rows.slice(0, 20), ...again.slice(10)]) {
          assert.deepEqual(byIp.get(r.ip), { ...r, scan_id: "s1" }, r.ip);
        }
        assert.deepEqual(await store.stateCounts("s1"), {
          open: 7,
          auth_required: 7,
          timeout: 6,
          error: 10,
        });
        assert.equal((await all(store, { scanId: "s1", state: "open" })).length, 7);
        assert.equal((await all(store, { scanId: "s1", limit: 7 })).length, 7);
      } finally {
        await store.close();
      }
    });

    test("a resumed shard goes back to its checkpoint: rows it does not cover are deleted", async () => {
      const store = await openStore(await location("rollback"));
      try {
        await store.beginScan(scanInfo("r1"));
        await store.beginShard({ scanId: "r1", shard: "0/1", startedAt: "2026-11-21T10:00:00Z" });
        const rows = Array.from({ length: 12 }, (_, i) => ({ ...result(i), shard: "0/1" }));
        // Steps 0–11; and a row of another shard at a high step, and one without a step.
        assert.equal(
          await store.insertResults(
            "r1",
            rows,
            rows.map((_, i) => i),
          ),
          12,
        );
        await store.insertResults("r1", [{ ...result(20), shard: "1/2" }], [9]);
        await store.insertResults("r1", [{ ...result(21), shard: "0/1" }]);
        // Covered: every step below 5, and 7 and 10 above it.
        const deleted = await store.rollbackShard("r1", "0/1", {
          watermark: 5,
          doneAbove: [7, 10],
        });
        assert.equal(deleted, 5, "steps 5, 6, 8, 9 and 11");
        const left = (await all(store, { scanId: "r1" })).map((r) => r.ip).sort();
        const ip = (i: number) => result(i).ip;
        assert.deepEqual(left, [0, 1, 2, 3, 4, 7, 10, 20, 21].map(ip).sort());
        assert.equal(await store.rollbackShard("r1", "0/1", { watermark: 0, doneAbove: [] }), 7);
      } finally {
        await store.close();
      }
    });

    test("hostile strings are data, never SQL", async () => {
      const store = await openStore(await location("hostile"));
      try {
        await store.beginScan(scanInfo("h'; DROP TABLE results; --"));
        const evil: ProbeResult = {
          ip: "10.9.9.9",
          port: 6379,
          transport: "tcp",
          time: "2026-11-21T10:00:01.000Z",
          state: "error",
          error: "'); DROP TABLE scans; -- \" <script>alert(1)</script> \u202e ünï 💥",
          server: { product: "unknown", os: "Robert'); DROP TABLE students;--" },
        };
        assert.equal(await store.insertResults("h'; DROP TABLE results; --", [evil]), 1);
        const [back] = await all(store, { scanId: "h'; DROP TABLE results; --" });
        assert.equal(back?.error, evil.error);
        assert.equal(back?.server?.os, evil.server?.os);
        assert.equal((await store.listScans()).length, 1);
      } finally {
        await store.close();
      }
    });

    test("NUL in an imported string is kept as text, not refused", async () => {
      const store = await openStore(await location("nul"));
      try {
        await store.beginScan(scanInfo("n1"));
        const r = result(1, { error: "a\u0000b" });
        assert.equal(await store.insertResults("n1", [r]), 1);
        const [back] = await all(store, { scanId: "n1" });
        assert.ok(back?.error === "a\u0000b" || back?.error === "a\\x00b", back?.error);
      } finally {
        await store.close();
      }
    });

    test("a scan id in use with other targets is refused; the same scan is joined", async () => {
      const store = await openStore(await location("conflict"));
      try {
        await store.beginScan(scanInfo("c1"));
        await store.beginScan(scanInfo("c1")); // another worker of the same scan
        for (const [field, over] of [
          ["ports", { ports: "6380" }],
          ["seed", { seed: "7" }],
          ["targets", { targets: "127.5.0.0/22" }],
          ["shard count", { shardCount: 4 }],
        ] as const) {
          await assert.rejects(store.beginScan(scanInfo("c1", over)), (e: Error) => {
            assert.ok(e instanceof StoreConflictError);
            assert.match(e.message, new RegExp(`different ${field}; choose another --scan-id`));
            return true;
          });
        }
      } finally {
        await store.close();
      }
    });

    test("a sharded scan is finished when its last shard is", async () => {
      const store = await openStore(await location("shards"));
      try {
        await store.beginScan(scanInfo("m1", { shardCount: 2 }));
        for (const shard of ["0/2", "1/2"]) {
          await store.beginShard({
            scanId: "m1",
            shard,
            host: "w",
            startedAt: "2026-11-21T10:00:00Z",
          });
        }
        await store.insertResults("m1", [result(0, { shard: "0/2" }), result(1, { shard: "1/2" })]);
        await store.finishShard("m1", "0/2", { open: 1 });
        assert.equal((await store.getScan("m1"))?.finishedAt, undefined);
        await store.finishShard("m1", "1/2", { auth_required: 1 });
        const scan = await store.getScan("m1");
        assert.ok(scan?.finishedAt);
        assert.deepEqual(scan?.counts, { open: 1, auth_required: 1 });
        assert.deepEqual(await store.stateCounts("m1", "1/2"), { auth_required: 1 });
        const shards = await store.listShards("m1");
        assert.deepEqual(
          shards.map((s) => [s.shard, s.host, Boolean(s.finishedAt)]),
          [
            ["0/2", "w", true],
            ["1/2", "w", true],
          ],
        );
      } finally {
        await store.close();
      }
    });

    test("many rows read back in (ip, port) order, page after page", async () => {
      const store = await openStore(await location("paging"));
      try {
        await store.beginScan(scanInfo("p1"));
        const n = 12_345;
        const rows = Array.from({ length: n }, (_, i) => result(i, { port: 6379 + (i % 2) }));
        for (let i = 0; i < n; i += 2000) {
          await store.insertResults("p1", rows.slice(i, i + 2000));
        }
        const back = await all(store, { scanId: "p1" });
        assert.equal(back.length, n);
        const keys = back.map((r) => `${r.ip}|${r.port}`);
        assert.equal(new Set(keys).size, n);
        const sorted = [...back].sort((a, b) =>
          a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port,
        );
        assert.deepEqual(
          keys,
          sorted.map((r) => `${r.ip}|${r.port}`),
        );
      } finally {
        await store.close();
      }
    });

    test("group counts, filters and the diff of two scans", async () => {
      const store = await openStore(await location("aggregate"));
      try {
        await store.beginScan(scanInfo("g1"));
        await store.beginScan(scanInfo("g2", { seed: "43" }));
        const first = Array.from({ length: 30 }, (_, i) => result(i));
        await store.insertResults("g1", first);
        // The second scan: target 0 remediated (open → auth), 1 newly open, 3 upgraded, 29 gone,
        // 30 new; the rest unchanged.
        const second = first.slice(0, 29).map((r, i) => {
          if (i === 0)
            return result(0, { state: "auth_required", server: { version_hint: ">=7.2" } });
          if (i === 1)
            return result(1, { state: "open", server: { product: "redis", version: "7.4.1" } });
          if (i === 3) return result(3, { server: { product: "redis", version: "7.2.4" } });
          return r;
        });
        second.push(result(30, { state: "timeout" }));
        await store.insertResults("g2", second);

        const byState = await store.groupCounts("g1", ["state"]);
        assert.deepEqual(
          byState.map((g) => [g.key[0], g.n]),
          [
            ["auth_required", 10],
            ["open", 10],
            ["timeout", 10],
          ],
          "largest first, ties in key order",
        );
        const versions = await store.groupCounts("g1", ["product", "version", "state"]);
        assert.deepEqual(
          versions.find((g) => g.key[0] === "redis"),
          { key: ["redis", "7.0.15", "open"], n: 10 },
        );
        const asns = await store.groupCounts("g1", ["asn", "country"]);
        assert.ok(
          asns.some((g) => g.key[0] === 16509 && g.key[1] === "IE" && g.n === 10),
          JSON.stringify(asns),
        );
        await assert.rejects(
          store.groupCounts("g1", ["record" as never]),
          /not a group column: record/,
        );

        assert.equal((await all(store, { scanId: "g1", states: ["open", "timeout"] })).length, 20);
        assert.equal((await all(store, { scanId: "g1", withCves: true })).length, 10);
        assert.equal((await all(store, { scanId: "g1", states: [] })).length, 0);

        const diff = [];
        for await (const d of store.diff("g1", "g2")) diff.push(d);
        const ip = (i: number) => result(i).ip;
        assert.deepEqual(
          diff.map((d) => [
            d.ip,
            d.a?.state ?? null,
            d.b?.state ?? null,
            d.a?.version ?? null,
            d.b?.version ?? null,
          ]),
          [
            [ip(0), "open", "auth_required", "7.0.15", null],
            [ip(1), "auth_required", "open", null, "7.4.1"],
            [ip(29), "timeout", null, null, null],
            [ip(3), "open", "open", "7.0.15", "7.2.4"],
            [ip(30), null, "timeout", null, null],
          ].sort((x, y) => (String(x[0]) < String(y[0]) ? -1 : 1)),
        );
      } finally {
        await store.close();
      }
    });

    test("honeypot sessions (upserted as they end) and events (each stored once)", async () => {
      const store = await openStore(await location("honeypot"));
      try {
        const session = {
          id: "s-1",
          sensor: "sensor-a",
          listener: "0.0.0.0:6379",
          persona: "redis-7.0-open",
          srcIp: "198.51.100.7",
          srcPort: 40000,
          startedAt: "2026-11-21T10:00:00.000Z",
          bytesIn: 0,
          bytesOut: 0,
          commands: 0,
          classes: "",
          record: {},
        };
        await store.upsertHoneypotSessions([session]);
        await store.upsertHoneypotSessions([
          {
            ...session,
            endedAt: "2026-11-21T10:00:05.000Z",
            bytesIn: 120,
            bytesOut: 900,
            commands: 3,
            classes: "file_write_ssh,scan",
            // Any shape round-trips (what is stored is read back defensively).
            record: { passwords: ["'; DROP TABLE x; --"], note: "a\u0000b" } as never,
          },
          { ...session, id: "s-2", startedAt: "2026-11-22T00:00:00.000Z" },
        ]);
        const events = [0, 1, 2].map((seq) => ({
          sessionId: "s-1",
          seq,
          time: "2026-11-21T10:00:01.000Z",
          kind: seq === 0 ? "connect" : "command",
          ...(seq > 0 ? { name: "CONFIG" } : {}),
          record: { args: ["SET", "dir", "/root/.ssh"] },
        }));
        assert.equal(await store.insertHoneypotEvents(events), 3);
        assert.equal(await store.insertHoneypotEvents(events), 0, "a replayed batch adds nothing");
        const all = [];
        for await (const x of store.honeypotSessions()) all.push(x);
        assert.deepEqual(
          all.map((x) => [x.id, x.commands, x.classes, x.endedAt ?? null]),
          [
            ["s-1", 3, "file_write_ssh,scan", "2026-11-21T10:00:05.000Z"],
            ["s-2", 0, "", null],
          ],
        );
        assert.deepEqual((all[0]?.record as Record<string, unknown> | undefined)?.passwords, [
          "'; DROP TABLE x; --",
        ]);
        const day = [];
        for await (const x of store.honeypotSessions({ from: "2026-11-22T00:00:00.000Z" })) {
          day.push(x.id);
        }
        assert.deepEqual(day, ["s-2"]);
        // The first events only, when asked: a visitor decides how many a session has.
        assert.deepEqual(
          (await store.honeypotEvents("s-1", 2)).map((e) => e.seq),
          [0, 1],
        );
        const back = await store.honeypotEvents("s-1");
        assert.deepEqual(
          back.map((e) => [e.seq, e.kind, e.name ?? null, e.record.args]),
          [
            [0, "connect", null, ["SET", "dir", "/root/.ssh"]],
            [1, "command", "CONFIG", ["SET", "dir", "/root/.ssh"]],
            [2, "command", "CONFIG", ["SET", "dir", "/root/.ssh"]],
          ],
        );
      } finally {
        await store.close();
      }
    });

    test("dashboard reads: search windows and filters, capped counts, one host, progress, audits", async () => {
      const where = await location("dashboard");
      const store = await openStore(where);
      try {
        await store.beginScan(scanInfo("d1"));
        await store.beginShard({ scanId: "d1", shard: "0/1", startedAt: "2026-11-21T10:00:00Z" });
        // Stored in an order that is not the addresses' order: search pages in stored order.
        const rows = Array.from({ length: 300 }, (_, k) => result((k * 7) % 300));
        rows[10]!.detail = "100%_sure\\";
        await store.insertResults("d1", rows.slice(0, 150));
        await store.insertResults("d1", rows.slice(150));
        const range = await store.scanSeqRange("d1");
        assert.ok(range && range.max - range.min === 299, JSON.stringify(range));
        assert.equal(await store.scanSeqRange("nope"), undefined);

        // Every open row, 40 at a time, in stored order: the pages join up with no gap or repeat.
        const seen: string[] = [];
        let after = range!.min - 1;
        for (;;) {
          const page = await store.searchResults(
            "d1",
            { state: "open" },
            { after, upTo: range!.max },
            40,
          );
          if (page.length === 0) break;
          seen.push(...page.map((p) => p.result.ip));
          after = page[page.length - 1]!.seq;
        }
        const open = rows.filter((r) => r.state === "open").map((r) => r.ip);
        assert.deepEqual(seen, open);
        // A window holds only its part.
        const firstHalf = await store.searchResults(
          "d1",
          { state: "open" },
          { after: range!.min - 1, upTo: range!.min + 149 },
          1000,
        );
        assert.deepEqual(
          firstHalf.map((p) => p.result.ip),
          rows
            .slice(0, 150)
            .filter((r) => r.state === "open")
            .map((r) => r.ip),
        );
        const all = { after: range!.min - 1, upTo: range!.max };
        const only = async (f: Parameters<Store["searchResults"]>[1]): Promise<number> =>
          (await store.searchResults("d1", f, all, 1000)).length;
        assert.equal(await only({ country: "IE", asn: 16509, cloud: "aws" }), 100);
        assert.equal(await only({ product: "redis", version: "7.0.15" }), 100);
        assert.equal(await only({ versions: [{ product: "redis", version: "7.0.15" }] }), 100);
        assert.equal(await only({ versions: [{ product: null, version: null }] }), 200);
        assert.equal(await only({ versions: [] }), 0);
        assert.equal(await only({ country: "DE" }), 0);
        // Text: a substring of the record, case-insensitive, with LIKE's own characters literal.
        assert.equal(await only({ text: "amazon-02" }), 100);
        assert.equal(await only({ text: "100%_sure" }), 1);
        assert.equal(await only({ text: "100%-sure" }), 0);
        assert.equal(await only({ text: "0%_s" }), 1);
        assert.equal(await only({ text: "sure\\" }), 1, "a backslash is literal too");
        assert.equal(await store.countResults("d1", { state: "open" }, 1000), 100);
        assert.equal(await store.countResults("d1", { state: "open" }, 30), 30);
        assert.equal(await store.countResults("d1", {}, 10_000), 300);

        // One host across scans, newest first.
        await store.beginScan(scanInfo("d2", { startedAt: "2026-11-22T10:00:00.000Z" }));
        await store.insertResults("d2", [result(3, { time: "2026-11-22T10:00:01.000Z" })]);
        const host = await store.hostResults(result(3).ip, 10);
        assert.deepEqual(
          host.map((h) => [h.scan_id ?? "", h.time]),
          [
            ["d2", "2026-11-22T10:00:01.000Z"],
            ["d1", "2026-11-21T10:00:01.000Z"],
          ],
        );

        // A running shard's progress, until it finishes.
        const progress = {
          done: 150,
          total: 300,
          inFlight: 3,
          elapsedMs: 1200,
          updatedAt: "2026-11-21T10:00:02.000Z",
          counts: { open: 50 },
        };
        await store.recordShardProgress("d1", "0/1", progress);
        assert.deepEqual((await store.listShards("d1"))[0]?.progress, progress);
        await store.finishShard("d1", "0/1", await store.stateCounts("d1", "0/1"));
        await store.recordShardProgress("d1", "0/1", { ...progress, done: 1 });
        assert.equal((await store.listShards("d1"))[0]?.progress?.done, 150);

        // Audits, newest first.
        for (const [id, time] of [
          ["a1", "2026-11-21T09:00:00.000Z"],
          ["a2", "2026-11-21T11:00:00.000Z"],
        ] as const) {
          await store.saveAudit({
            id,
            target: "redis://127.0.0.1:6379",
            time,
            worst: "critical",
            findings: 2,
            record: { target: "redis://127.0.0.1:6379", findings: [], notChecked: [] },
          });
        }
        assert.deepEqual(
          (await store.listAudits(10)).map((a) => a.id),
          ["a2", "a1"],
        );
        assert.deepEqual((await store.getAudit("a1"))?.record, {
          target: "redis://127.0.0.1:6379",
          findings: [],
          notChecked: [],
        });
        assert.equal(await store.getAudit("a3"), undefined);
      } finally {
        await store.close();
      }
    });

    test("two writers at once (two processes' worth of connections) both land", async () => {
      const where = await location("writers");
      const a = await openStore(where);
      const b = await openStore(where);
      try {
        await Promise.all([a.beginScan(scanInfo("w1")), b.beginScan(scanInfo("w1"))]);
        const rows = Array.from({ length: 4000 }, (_, i) => result(i));
        await Promise.all([
          a.insertResults(
            "w1",
            rows.filter((_, i) => i % 2 === 0),
          ),
          b.insertResults(
            "w1",
            rows.filter((_, i) => i % 2 === 1),
          ),
        ]);
        const counts = await a.stateCounts("w1");
        assert.equal(
          Object.values(counts).reduce((x, y) => x + y, 0),
          4000,
        );
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
