/**
 * The store's writer thread: a scan's rows reach a SQLite file only through it (never through
 * the main thread's connection), `flush` is a barrier another connection can see, `inserted`
 * stays exact, a full disk stops a real scan with one line and exit 1, and a thread that dies
 * fails what waits instead of losing it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import type { ProbeResult } from "../src/schema/result.js";
import { SqliteStore, type Store } from "../src/store/index.js";
import { StoreWriteError } from "../src/store/sink.js";
import { WriterThread, WriterThreadDied } from "../src/store/writer-thread.js";
import { ScanRecord } from "../src/usecases/record.js";
import { BIN } from "./helpers/cli.js";
import { testScan } from "./helpers/scans.js";

let tmp = "";
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "i19-writer-test-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function result(i: number, state = i % 3 === 0 ? "open" : "closed"): ProbeResult {
  const r: ProbeResult = {
    ip: `192.0.2.${i & 255}`,
    port: 1000 + (i >>> 8),
    transport: "tcp",
    time: new Date(1_763_700_000_000 + i).toISOString(),
    scan_id: "w",
    shard: "0/1",
    state,
  } as ProbeResult;
  return r;
}

/** The store with every insertResults and recordShardProgress call on this (the main) thread counted. */
function counting(store: SqliteStore): { store: Store; calls: () => number } {
  let calls = 0;
  const proxy = new Proxy(store, {
    get(target, key) {
      const v: unknown = Reflect.get(target, key, target);
      if (key === "insertResults" || key === "recordShardProgress") {
        return (...args: unknown[]) => {
          calls++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { store: proxy as Store, calls: () => calls };
}

describe("the store's writer thread", () => {
  test("a scan's rows go through the thread: none through the main thread's store, counts exact", async () => {
    const file = path.join(tmp, "record.db");
    const main = SqliteStore.open(file);
    const { store, calls } = counting(main);
    const record = await ScanRecord.begin(store, testScan("w", "2026-12-05T00:00:00Z"), "0/1");
    const N = 5000;
    for (let i = 0; i < N; i++) record.write(result(i), i);
    // Half of the first thousand again: already held, not counted.
    for (let i = 0; i < 1000; i += 2) record.write(result(i), i);
    const progress = {
      done: N,
      total: N,
      inFlight: 0,
      elapsedMs: 1,
      updatedAt: "2026-12-05T00:00:01Z",
      counts: { open: 1 },
    };
    await record.progress(progress);
    assert.deepEqual((await main.listShards("w"))[0]?.progress, progress);
    await record.flush();
    // The barrier: another connection (the main thread's) sees every row written before it.
    const seen = main as unknown as { stateCounts(s: string): Promise<Record<string, number>> };
    const held = Object.values(await seen.stateCounts("w")).reduce((a, b) => a + b, 0);
    assert.equal(held, N);
    assert.equal(record.inserted, N);
    const exact = await record.finish(true);
    assert.equal(calls(), 0, "insertResults or recordShardProgress ran on the main thread");
    const db = new Database(file, { readonly: true });
    const recount = Object.fromEntries(
      (
        db
          .prepare("SELECT state, count(*) AS n FROM results WHERE scan_id = 'w' GROUP BY state")
          .all() as Array<{ state: string; n: number }>
      ).map((r) => [r.state, r.n]),
    );
    const steps = db
      .prepare("SELECT count(DISTINCT step) AS n FROM results WHERE scan_id = 'w'")
      .get() as { n: number };
    db.close();
    assert.deepEqual(exact, recount);
    assert.equal(steps.n, N);
    await main.close();
  });

  test("a rollback before the writes, a finish after the last commit: rows as a recount says", async () => {
    const file = path.join(tmp, "order.db");
    const main = SqliteStore.open(file);
    const first = await ScanRecord.begin(main, testScan("o", "2026-12-05T00:00:00Z"), "0/1");
    for (let i = 0; i < 3000; i++) first.write(result(i), i);
    await first.finish(false);
    // A resumed run: back to a checkpoint at step 1000, then the rest again.
    const again = await ScanRecord.begin(main, testScan("o", "2026-12-05T00:00:00Z"), "0/1");
    assert.equal(await again.rollback({ watermark: 1000, doneAbove: [] }), 2000);
    for (let i = 1000; i < 3000; i++) again.write(result(i), i);
    const exact = await again.finish(true);
    assert.equal(again.inserted, 2000);
    assert.equal(
      Object.values(exact).reduce((a, b) => a + b, 0),
      3000,
    );
    const shard = (await main.listShards("o"))[0];
    assert.ok(shard?.finishedAt);
    assert.deepEqual(shard?.counts, exact);
    await main.close();
  });

  test("a write error in the thread stops the sink with the store's message", async () => {
    const file = path.join(tmp, "readonly.db");
    const main = SqliteStore.open(file);
    const record = await ScanRecord.begin(main, testScan("r", "2026-12-05T00:00:00Z"), "0/1");
    // Another connection holds the write lock past the busy timeout? Too slow for a test: the
    // thread's connection is made to refuse writes instead (a read-only file once opened).
    const db = new Database(file);
    db.exec(
      "CREATE TRIGGER refuse BEFORE INSERT ON results BEGIN SELECT RAISE(ABORT, 'refused by trigger'); END",
    );
    db.close();
    for (let i = 0; i < 10; i++) record.write(result(i), i);
    await assert.rejects(record.flush(), (e: unknown) => {
      assert.ok(e instanceof StoreWriteError, String(e));
      assert.match(
        (e as Error).message,
        /^writing results to the store failed: refused by trigger$/,
      );
      return true;
    });
    await main.close();
  });

  test("a thread that dies fails what waits and what comes after", async () => {
    const file = path.join(tmp, "dies.db");
    await SqliteStore.open(file).close();
    const thread = new WriterThread(file);
    assert.equal(await thread.insertResults("none", JSON.stringify({ results: [], steps: [] })), 0);
    // Ended while idle (a thread ended inside a SQLite call can take the process with it:
    // better-sqlite3 throws into an isolate that is going away).
    await thread.terminate();
    await assert.rejects(
      thread.insertResults("none", JSON.stringify({ results: [result(1)], steps: [1] })),
      (e: unknown) => {
        assert.ok(e instanceof WriterThreadDied, String(e));
        assert.match((e as Error).message, /^the store's writer thread exited \(code 1\)$/);
        return true;
      },
    );
    assert.ok(thread.error instanceof WriterThreadDied);
    const check = new Database(file, { readonly: true });
    assert.equal((check.prepare("SELECT count(*) AS n FROM results").get() as { n: number }).n, 0);
    check.close();
  });
});

/** mount(2) in a mount namespace of its own: a tiny tmpfs nobody else sees. */
const canUnshare =
  process.getuid?.() === 0 &&
  spawnSync("unshare", ["-m", "--propagation", "private", "true"]).status === 0;

describe("a real scan onto a full disk", {
  skip: !canUnshare && "needs root and unshare -m",
}, () => {
  test("stops with one line and exit 1; the store is left as it was at its last commit", () => {
    const dir = path.join(tmp, "mnt");
    fs.mkdirSync(dir);
    // In a private mount namespace: a 2 MB tmpfs, the store created by a first small scan,
    // the disk filled up to about 160 KB, then a scan of 4,096 closed loopback ports.
    const script = [
      "set -u",
      `mount -t tmpfs -o size=2m tmpfs ${dir}`,
      `node ${BIN} scan 127.0.0.1 -p 1 --allow-reserved -q --db ${dir}/s.db --no-intel --scan-id first >/dev/null 2>&1 || { echo setup failed; exit 9; }`,
      `dd if=/dev/zero of=${dir}/fill bs=4096 2>/dev/null || true`,
      `truncate -s -163840 ${dir}/fill`,
      `node ${BIN} scan 127.0.0.1 -p 40000-44095 --allow-reserved -q --db ${dir}/s.db --no-intel --scan-id full --concurrency 200 >${dir}/../out 2>${dir}/../err`,
      "echo rc=$?",
    ].join("\n");
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c", script], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.match(r.stdout, /rc=1\n/, `${r.stdout} ${r.stderr}`);
    const err = fs.readFileSync(path.join(tmp, "err"), "utf8");
    const lines = err.trim().split("\n");
    assert.equal(lines.length, 1, err);
    assert.match(
      lines[0] ?? "",
      /^redscope: writing results to the store failed: database or disk is full$/,
    );
  });
});
