/**
 * The report's aggregates (store/aggregates.ts) equal a full recount of the rows, in SQLite and
 * PostgreSQL, after everything that changes a scan's rows: sharded batches, duplicate inserts
 * (a batch again, a target twice in one batch, one target from two shards), rollbacks of a
 * resumed shard and the rows probed again, concurrent writer processes, imports, the backfill of
 * migration 9, and a real scan killed with SIGKILL and resumed. After each, the report's JSON
 * built from the aggregates is the one built from the recount, and the state counts are a
 * GROUP BY of the rows.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { redisServerPath, startRedis } from "../src/lab/redis.js";
import { buildReport, type Report } from "../src/report/build.js";
import { COMPROMISE_KINDS, type ProbeResult } from "../src/schema/result.js";
import {
  AggregateSnapshot,
  compromiseExample,
  REPLICATION_EXAMPLE,
  sumShards,
} from "../src/store/aggregates.js";
import { openStore, type ScanInfo, type Store } from "../src/store/index.js";
import { aggregateResults } from "./helpers/aggregates-data.js";
import { BIN, runCli } from "./helpers/cli.js";
import { canMakeNetns, createLoopbackNs } from "./helpers/netns.js";
import { type PgServer, startPostgres } from "./helpers/postgres.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-aggregates-"));
let server: PgServer;

before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const KINDS = [REPLICATION_EXAMPLE, ...COMPROMISE_KINDS.map(compromiseExample)];

function scanInfo(id: string, shardCount: number): ScanInfo {
  return {
    id,
    source: "scan",
    startedAt: "2026-11-01T00:00:00.000Z",
    targets: "0.0.0.0/0",
    ports: "6379",
    seed: "7",
    shardCount,
    options: {},
    toolVersion: "test",
  };
}

const results = aggregateResults;

const shardOf = (i: number, shards: number): string => `${i % shards}/${shards}`;

/** Rows per state by a GROUP BY of the rows themselves. */
async function rowStates(store: Store, scanId: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const g of await store.groupCounts(scanId, ["state"])) out[String(g.key[0])] = g.n;
  return out;
}

/** The report's JSON without its time: what two builds of one scan must agree on. */
function reportJson(r: Report): unknown {
  const { generatedAt: _, ...rest } = r;
  return JSON.parse(JSON.stringify(rest));
}

/**
 * Every aggregate of the scan (per shard and summed) and every example equal the recount; the
 * report from them equals the report from the recount (with every example listed, and with the
 * default cut); the state counts equal the rows'. Returns the report for further checks.
 */
async function assertExact(store: Store, scanId: string, why = ""): Promise<Report> {
  const re = await store.recountAggregates(scanId);
  const shards = [...new Set(re.counts.map((c) => c.shard))];
  for (const shard of shards) {
    assert.deepEqual(
      await store.aggregateCounts(scanId, shard),
      sumShards(re.counts.filter((c) => c.shard === shard)).map((c) => ({ ...c, shard })),
      `${why} shard ${shard}`,
    );
  }
  assert.deepEqual(await store.aggregateCounts(scanId), sumShards(re.counts), `${why} summed`);
  const snapshot = new AggregateSnapshot(re.counts, re.examples);
  for (const kind of KINDS) {
    assert.deepEqual(
      await store.aggregateExamples(scanId, kind, 1e9),
      await snapshot.aggregateExamples(scanId, kind, 1e9),
      `${why} examples ${kind}`,
    );
  }
  assert.deepEqual(await store.stateCounts(scanId), await rowStates(store, scanId), why);
  const scan = await store.getScan(scanId);
  assert.ok(scan);
  let kept: Report | undefined;
  for (const opts of [
    { coverage: 100, top: 100_000 },
    { coverage: 90, top: 20 },
  ]) {
    const fromAggregates = await buildReport(store, scan, opts);
    const fromRows = await buildReport(store, scan, opts, { recount: true });
    assert.deepEqual(reportJson(fromAggregates), reportJson(fromRows), `${why} report`);
    kept ??= fromAggregates;
  }
  return kept!;
}

/** The report counts what the data holds: the checks above compared something. */
function assertVaried(r: Report, caveats = true): void {
  assert.ok(r.exposure.replication.count > 0, "replication leaks");
  assert.ok(r.exposure.cves.length > 0, "CVEs");
  if (caveats) {
    assert.ok((r.exposure.cveCaveats?.backportsPossible ?? 0) > 0, "backport caveats");
    assert.ok((r.exposure.cveCaveats?.ambiguous ?? 0) > 0, "ambiguous caveats");
  }
  assert.ok(r.attack.compromise.kinds.length > 0, "signs of compromise");
  assert.ok(r.attack.assessed > 0, "attack verdicts");
  assert.ok(r.asns.length > 0 && r.countries.length > 0 && r.clouds.length > 0, "places");
  assert.ok(r.versions.products.length > 0, "versions");
}

async function rawSql(where: string, statements: string[]): Promise<void> {
  if (!where.startsWith("postgres")) {
    const db = new Database(where);
    try {
      for (const sql of statements) db.exec(sql);
    } finally {
      db.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: where });
  await c.connect();
  try {
    for (const sql of statements) await c.query(sql);
  } finally {
    await c.end();
  }
}

const backends: Array<[string, (name: string) => Promise<string>]> = [
  ["sqlite", async (name) => path.join(tmp, `${name}.db`)],
  ["postgres", (name) => server.database(name)],
];

for (const [kind, location] of backends) {
  describe(`aggregates: ${kind}`, () => {
    test("sharded batches, duplicates, rollbacks and the rows probed again", async () => {
      const store = await openStore(await location("batches"));
      try {
        const id = "agg-batches";
        const SHARDS = 3;
        await store.beginScan(scanInfo(id, SHARDS));
        const all = results(3000, 1);
        const byShard = new Map<string, Array<{ r: ProbeResult; step: number }>>();
        all.forEach((r, i) => {
          const shard = shardOf(i, SHARDS);
          r.scan_id = id;
          r.shard = shard;
          const list = byShard.get(shard) ?? [];
          list.push({ r, step: i });
          byShard.set(shard, list);
        });
        for (let s = 0; s < SHARDS; s++) {
          await store.beginShard({
            scanId: id,
            shard: shardOf(s, SHARDS),
            startedAt: "2026-11-01T00:00:00.000Z",
          });
        }
        // Batches of the shards interleaved; every fourth batch written twice; one batch with a
        // target twice in it.
        const insert = (batch: Array<{ r: ProbeResult; step: number }>): Promise<number> =>
          store.insertResults(
            id,
            batch.map((x) => x.r),
            batch.map((x) => x.step),
          );
        for (let b = 0; b * 250 < 1000; b++) {
          for (const list of byShard.values()) {
            const batch = list.slice(b * 250, (b + 1) * 250);
            if (b === 1) batch.push(batch[0]!);
            const n = await insert(batch);
            assert.equal(n, b === 1 ? batch.length - 1 : batch.length);
            if (b % 4 === 0) assert.equal(await insert(batch), 0, "a batch again adds nothing");
          }
        }
        // A target of shard 0 offered by shard 1 (a resumed run of another shard): the row
        // there wins, and its counts stay shard 0's.
        const stray = { ...all[0]!, shard: shardOf(1, SHARDS) };
        assert.equal(await store.insertResults(id, [stray], [0]), 0);
        let report = await assertExact(store, id, "after the batches");
        assertVaried(report);
        assert.equal(report.total, 3000);

        // Shard 1 resumes from a checkpoint at step 1500 with 1603 and 1606 done above it.
        const cover = { watermark: 1500, doneAbove: [1603, 1606] };
        const gone = await store.rollbackShard(id, shardOf(1, SHARDS), cover);
        const expected = byShard
          .get(shardOf(1, SHARDS))!
          .filter((x) => x.step >= 1500 && !cover.doneAbove.includes(x.step)).length;
        assert.equal(gone, expected);
        assert.ok(gone > 400);
        report = await assertExact(store, id, "after the rollback");
        assert.equal(report.total, 3000 - gone);
        assert.deepEqual(
          await store.stateCounts(id, shardOf(1, SHARDS)),
          Object.fromEntries(
            Object.entries(
              byShard
                .get(shardOf(1, SHARDS))!
                .filter((x) => x.step < 1500 || cover.doneAbove.includes(x.step))
                .reduce<Record<string, number>>((a, x) => {
                  a[x.r.state] = (a[x.r.state] ?? 0) + 1;
                  return a;
                }, {}),
            ).sort(),
          ),
        );
        // The same rollback again deletes nothing and changes nothing.
        assert.equal(await store.rollbackShard(id, shardOf(1, SHARDS), cover), 0);
        // The resumed run probes them again (answers differ now: another synthetic draw).
        const again = results(3000, 2).map((r, i) => ({
          ...r,
          scan_id: id,
          shard: shardOf(i, SHARDS),
        }));
        const redo = byShard
          .get(shardOf(1, SHARDS))!
          .filter((x) => x.step >= 1500 && !cover.doneAbove.includes(x.step))
          .map((x) => ({ r: again[x.step]!, step: x.step }));
        assert.equal(await insert(redo), gone);
        report = await assertExact(store, id, "after the rows probed again");
        assert.equal(report.total, 3000);
        // Another scan in the same store has its own aggregates.
        await store.beginScan(scanInfo("agg-other", 1));
        await store.insertResults(
          "agg-other",
          results(50, 3).map((r) => ({ ...r, scan_id: "agg-other", shard: "0/1" })),
        );
        assert.equal((await assertExact(store, "agg-other")).total, 50);
        assert.equal((await assertExact(store, id)).total, 3000);
      } finally {
        await store.close();
      }
    });

    test("migration 9 backfills the aggregates of a store made before it", async () => {
      const where = await location("backfill");
      let store = await openStore(where);
      const before: unknown[] = [];
      try {
        for (const [id, shards] of [
          ["agg-b1", 1],
          ["agg-b2", 2],
        ] as const) {
          await store.beginScan(scanInfo(id, shards));
          await store.insertResults(
            id,
            results(800, shards).map((r, i) => ({ ...r, scan_id: id, shard: shardOf(i, shards) })),
          );
          before.push(await store.aggregateCounts(id), await store.aggregateCounts(id, "1/2"));
        }
      } finally {
        await store.close();
      }
      // The store as version 8 left it: rows, no aggregates.
      await rawSql(where, [
        "DROP TABLE result_aggregates",
        "DROP TABLE result_examples",
        "DELETE FROM schema_migrations WHERE version >= 9",
      ]);
      store = await openStore(where);
      try {
        assert.equal(await store.schemaVersion(), 9);
        const now: unknown[] = [];
        for (const id of ["agg-b1", "agg-b2"]) {
          now.push(await store.aggregateCounts(id), await store.aggregateCounts(id, "1/2"));
          assertVaried(await assertExact(store, id, `backfilled ${id}`));
        }
        assert.deepEqual(now, before);
      } finally {
        await store.close();
      }
    });

    test("writer processes inserting shards of one scan at once, overlapping targets", async () => {
      const where = await location("concurrent");
      const id = "agg-concurrent";
      const WRITERS = 4;
      const store = await openStore(where);
      await store.beginScan(scanInfo(id, WRITERS));
      await store.close();
      // Each writer stores its shard (targets i ≡ w mod 4) and a fifth of its neighbour's
      // targets under its own shard: whichever inserts a target first keeps it.
      const script = `
        import { openStore } from ${JSON.stringify(path.resolve(here, "../src/store/index.js"))};
        import { aggregateResults } from ${JSON.stringify(path.resolve(here, "helpers/aggregates-data.js"))};
        const [where, id, w, n] = process.argv.slice(1);
        const store = await openStore(where);
        const all = aggregateResults(4000, 5);
        const mine = [];
        all.forEach((r, i) => {
          if (i % n === Number(w) || (i % n === (Number(w) + 1) % n && i % 5 === 0))
            mine.push({ ...r, scan_id: id, shard: w + "/" + n });
        });
        for (let k = 0; k < mine.length; k += 100) await store.insertResults(id, mine.slice(k, k + 100));
        await store.close();
      `;
      const children: ChildProcess[] = [];
      const exits = Array.from({ length: WRITERS }, (_, w) => {
        const child = spawn(
          process.execPath,
          ["--input-type=module", "-e", script, where, id, String(w), String(WRITERS)],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
        children.push(child);
        let err = "";
        child.stderr?.on("data", (d) => (err += d));
        return new Promise<string>((resolve) =>
          child.once("exit", (code) => resolve(code === 0 ? "" : `writer ${w}: ${code} ${err}`)),
        );
      });
      const failures = (await Promise.all(exits)).filter((e) => e !== "");
      assert.deepEqual(failures, []);
      const s = await openStore(where);
      try {
        const report = await assertExact(s, id, "concurrent writers");
        assert.equal(report.total, 4000);
        assertVaried(report);
      } finally {
        await s.close();
      }
    });

    test("imports (twice: the second adds nothing)", async () => {
      const where = await location("import");
      const file = path.join(tmp, `import-${kind}.jsonl`);
      fs.writeFileSync(
        file,
        `${results(1500, 9)
          .map((r) => JSON.stringify(r))
          .join("\n")}\n`,
      );
      for (let i = 0; i < 2; i++) {
        const run = await runCli(
          ["import", file, "--scan-id", "agg-import", "--db", where, "--host-list", "0"],
          { timeoutMs: 120_000 },
        );
        assert.equal(run.code, 0, run.stderr);
      }
      const store = await openStore(where);
      try {
        const report = await assertExact(store, "agg-import", "import");
        assert.equal(report.total, 1500);
        // An import enriches again: the CVE verdicts are its own.
        assertVaried(report, false);
      } finally {
        await store.close();
      }
    });
  });
}

const scanReady = canMakeNetns() && redisServerPath() !== undefined;
if (!scanReady && process.env.CI === "true") {
  throw new Error("the aggregates' resume test needs root, ip netns and redis-server");
}

describe("aggregates: a real scan killed with SIGKILL and resumed", {
  skip: scanReady ? false : "needs root, ip netns and redis-server",
}, () => {
  let ns: ReturnType<typeof createLoopbackNs>;
  let redis: Awaited<ReturnType<typeof startRedis>>;
  before(async () => {
    ns = createLoopbackNs(`agg${process.pid}`);
    redis = await startRedis({
      host: "0.0.0.0",
      port: 6379,
      netns: ns.ns,
      config: ["protected-mode no"],
    });
  });
  after(async () => {
    await redis?.stop();
    ns?.destroy();
  });

  for (const kind of ["sqlite", "postgres"]) {
    test(kind, async () => {
      const dir = fs.mkdtempSync(path.join(tmp, `scan-${kind}-`));
      const state = path.join(dir, "r.state");
      const db =
        kind === "sqlite" ? path.join(dir, "r.db") : await server.database("scan", "socket");
      const args = [
        "scan",
        "127.3.0.0/23",
        "-p",
        "6379,6380",
        "--allow-reserved",
        "-q",
        "--no-intel",
        "--seed",
        "19",
        "--rate",
        "800",
        "--resume",
        state,
        "--scan-id",
        "agg-scan",
        "--db",
        db,
      ];
      // Killed once rows are stored past a checkpoint, then run to its end; in the namespace,
      // whose only interface is lo.
      const inNs = (): ChildProcess =>
        spawn("ip", ["netns", "exec", ns.ns, process.execPath, BIN, ...args], {
          stdio: ["ignore", "ignore", "pipe"],
        });
      const child = inNs();
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      let ended = false;
      void exited.then(() => {
        ended = true;
      });
      let last = "";
      let changes = 0;
      // Bounded: the checkpoint moves twice, or the scan ends, or 60 s of 10 ms polls.
      for (let i = 0; i < 6000 && changes < 2 && !ended; i++) {
        await new Promise((r) => setTimeout(r, 10));
        const now = fs.existsSync(state) ? fs.readFileSync(state, "utf8") : "";
        if (now !== last) {
          changes++;
          last = now;
        }
      }
      child.kill("SIGKILL");
      await exited;
      assert.equal(changes, 2, "the scan ended before it was killed: nothing was rolled back");
      const finish = inNs();
      let err = "";
      finish.stderr?.on("data", (d) => (err += d));
      const code = await new Promise<number | null>((resolve) => finish.once("exit", resolve));
      assert.equal(code, 0, err);
      const store = await openStore(db);
      try {
        const report = await assertExact(store, "agg-scan", `${kind} resumed`);
        assert.equal(report.total, 1024);
        assert.equal(report.states.find((s) => s.state === "open")?.count, 512);
      } finally {
        await store.close();
      }
    });
  }
});
