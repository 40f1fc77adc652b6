/**
 * Resume after kill -9, as a property: whatever moments a scan is killed at (several times,
 * before its first checkpoint, during a resumed run's first second, right after a checkpoint,
 * between two), running the same command again until it finishes leaves every target exactly
 * once in the JSONL file and in the store (SQLite or PostgreSQL), the two holding the same
 * record for each, and a summary that counts every target.
 *
 * The scanner runs in a network namespace with only `lo`, where one real redis-server listens
 * on 0.0.0.0:6379 (so every 127.x address answers there) and 6380 is closed. Kill points are
 * drawn from a seeded generator (printed with every failure); RESUME_RUNS=n runs n plans per
 * sink instead of 2.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { type RedisProcess, redisServerPath, startRedis } from "../src/lab/redis.js";
import type { ProbeResult } from "../src/schema/result.js";
import { PostgresStore, SqliteStore, type Store } from "../src/store/index.js";
import type { ResumeState } from "../src/targets/resume.js";
import { BIN, parseJsonl, runCli } from "./helpers/cli.js";
import { canMakeNetns, createLoopbackNs } from "./helpers/netns.js";
import { type PgServer, startPostgres } from "./helpers/postgres.js";

const requireAll = process.env.CI === "true";
const ready = canMakeNetns() && redisServerPath() !== undefined;
if (!ready && requireAll) throw new Error("resume tests need root, ip netns and redis-server");

const TARGETS = "127.2.0.0/23";
const PORTS = [6379, 6380];
const TOTAL = 512 * PORTS.length;
const PLANS = Number(process.env.RESUME_RUNS ?? 2);
/** Kills per plan before the run that is left to finish. */
const KILLS = [2, 4] as const;

/** mulberry32: small, seeded, good enough to pick kill points. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where a kill lands: after this many checkpoints of the run (0: any time), then a delay. */
interface KillPoint {
  checkpoints: number;
  delayMs: number;
}

/**
 * The first kill leaves lines and rows past a checkpoint; the second lands in the resumed
 * run's first second, right after its first checkpoint (where a resumed run once forgot what
 * the killed one had finished); the rest anywhere.
 */
function planKills(seed: number): KillPoint[] {
  const r = rng(seed);
  const n = KILLS[0] + Math.floor(r() * (KILLS[1] - KILLS[0] + 1));
  return Array.from({ length: n }, (_, i) =>
    i === 0
      ? { checkpoints: 1 + Math.floor(r() * 2), delayMs: 200 + Math.floor(r() * 800) }
      : i === 1
        ? { checkpoints: 1, delayMs: Math.floor(r() * 300) }
        : { checkpoints: Math.floor(r() * 3), delayMs: Math.floor(r() * 1200) },
  );
}

function allTargets(): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < 512; i++) {
    for (const p of PORTS) out.add(`127.2.${i >> 8}.${i & 255}:${p}`);
  }
  return out;
}

const key = (r: { ip: string; port: number }): string => `${r.ip}:${r.port}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("kill -9 at random points, resume to the end: every target once, in every sink", {
  skip: ready ? false : "needs root, ip netns and redis-server",
}, () => {
  let ns: ReturnType<typeof createLoopbackNs>;
  let redis: RedisProcess;
  let pg: PgServer;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-resume-"));
  const expected = allTargets();

  before(async () => {
    ns = createLoopbackNs("resume");
    redis = await startRedis({
      host: "0.0.0.0",
      port: 6379,
      netns: ns.ns,
      config: ["protected-mode no"],
    });
    pg = await startPostgres();
  });
  after(async () => {
    await redis?.stop();
    await pg?.stop();
    ns?.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** The scanner in the namespace; its pid is node's (`ip netns exec` execs). */
  function startScan(args: string[]): { child: ChildProcess; exited: Promise<number | null> } {
    const child = spawn("ip", ["netns", "exec", ns.ns, process.execPath, BIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d) => (out += d));
    child.stderr?.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => {
        (child as ChildProcess & { output?: string }).output = out;
        resolve(code);
      }),
    );
    return { child, exited };
  }

  /** Wait for `n` checkpoints that moved (the resume file's content changed), or the end. */
  async function checkpoints(state: string, n: number, done: () => boolean): Promise<void> {
    let seen = 0;
    let last = contents(state);
    while (seen < n && !done()) {
      await sleep(10);
      const now = contents(state);
      if (now !== last) {
        seen++;
        last = now;
      }
    }
  }

  async function killedRun(args: string[], state: string, at: KillPoint): Promise<void> {
    const { child, exited } = startScan(args);
    let ended = false;
    void exited.then(() => {
      ended = true;
    });
    await checkpoints(state, at.checkpoints, () => ended);
    await Promise.race([sleep(at.delayMs), exited]);
    child.kill("SIGKILL");
    await exited;
  }

  async function storeRows(store: Store, scanId: string): Promise<Map<string, ProbeResult>> {
    const rows = new Map<string, ProbeResult>();
    for await (const r of store.results({ scanId })) {
      assert.ok(!rows.has(key(r)), `${key(r)} twice in the store`);
      rows.set(key(r), r);
    }
    return rows;
  }

  const sinks = [
    { name: "-o only", file: true, db: undefined },
    { name: "SQLite only", file: false, db: "sqlite" },
    { name: "-o and SQLite", file: true, db: "sqlite" },
    { name: "PostgreSQL only", file: false, db: "postgres" },
    { name: "-o and PostgreSQL", file: true, db: "postgres" },
  ] as const;

  for (const [s, sink] of sinks.entries()) {
    for (let plan = 0; plan < PLANS; plan++) {
      const seed = 1000 * (s + 1) + plan;
      const kills = planKills(seed);
      test(`${sink.name}, plan ${seed}: ${kills.length} kills`, async () => {
        const dir = fs.mkdtempSync(path.join(tmp, `p${seed}-`));
        const out = path.join(dir, "r.jsonl");
        const state = path.join(dir, "r.state");
        let db: string | undefined;
        if (sink.db === "sqlite") db = path.join(dir, "r.db");
        if (sink.db === "postgres") db = await pg.database(`resume_${seed}`, "socket");
        const args = [
          "scan",
          TARGETS,
          "-p",
          PORTS.join(","),
          "--allow-reserved",
          "-q",
          "--no-intel",
          "--seed",
          String(seed),
          "--rate",
          "600",
          "--resume",
          state,
          ...(sink.file ? ["-o", out] : []),
          ...(db ? ["--db", db] : ["--no-db"]),
        ];
        const why = `plan ${seed}, kills ${JSON.stringify(kills)}`;
        for (const at of kills) await killedRun(args, state, at);

        const last = startScan(args);
        const code = await last.exited;
        const output = (last.child as ChildProcess & { output?: string }).output ?? "";
        assert.equal(code, 0, `${why}: ${output}`);
        assert.match(output, new RegExp(`total\\s+${TOTAL}\\b`), `${why}: summary ${output}`);
        const resume = JSON.parse(fs.readFileSync(state, "utf8")) as ResumeState;
        assert.equal(resume.complete, true, why);

        let fileRows: Map<string, ProbeResult> | undefined;
        if (sink.file) {
          const lines = parseJsonl(fs.readFileSync(out, "utf8"));
          fileRows = new Map(lines.map((r) => [key(r), r]));
          assert.equal(fileRows.size, lines.length, `${why}: a target twice in the file`);
          assert.deepEqual(new Set(fileRows.keys()), expected, `${why}: the file's targets`);
          assert.ok(
            lines.every((r) => r.scan_id === resume.scanId),
            why,
          );
        }
        if (db) {
          const store =
            sink.db === "postgres" ? await PostgresStore.open(db) : SqliteStore.open(db);
          try {
            const scans = await store.listScans();
            assert.deepEqual(
              scans.map((x) => x.id),
              [resume.scanId],
              `${why}: one scan in the store`,
            );
            assert.ok(scans[0]?.finishedAt, `${why}: the scan is finished`);
            const rows = await storeRows(store, resume.scanId);
            assert.deepEqual(new Set(rows.keys()), expected, `${why}: the store's targets`);
            // The same probe in both: the store and the file agree record for record.
            for (const [k, r] of fileRows ?? []) {
              const stored = rows.get(k);
              assert.deepEqual(
                [stored?.state, stored?.time],
                [r.state, r.time],
                `${why}: ${k} differs between the file and the store`,
              );
            }
            const counts = scans[0]?.counts ?? {};
            assert.equal(
              Object.values(counts).reduce((a, b) => a + b, 0),
              TOTAL,
              `${why}: the scan's counts`,
            );
          } finally {
            await store.close();
          }
        }
        assert.ok(!fs.existsSync(`${state}.lock`), `${why}: the lock is released`);
      });
    }
  }
});

function contents(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

describe("resume: one run at a time, and a finished checkpoint finishes the store too", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-resume-edge-"));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const base = ["scan", "127.9.0.0/22", "-p", "1", "--allow-reserved", "-q", "--no-intel"];

  test("a second run on the same resume file is refused while the first runs", async () => {
    const state = path.join(tmp, "lock.state");
    const args = [...base, "-o", path.join(tmp, "lock.jsonl"), "--resume", state, "--no-db"];
    const first = spawn(process.execPath, [BIN, ...args, "--rate", "100"], { stdio: "ignore" });
    const exited = new Promise((r) => first.once("exit", r));
    while (!fs.existsSync(state)) await sleep(20);
    const second = await runCli(args);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `^redscope: resume file \\S+lock\\.state is in use by another redscope \\(\\S+ pid ${first.pid}\\)`,
      ),
    );
    first.kill("SIGKILL");
    await exited;
    // The killed run's lock is left behind; its process is gone, so the next run takes it over.
    assert.ok(fs.existsSync(`${state}.lock`));
    const third = await runCli([...args, "--rate", "0"]);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /total\s+1024\b/);
    assert.ok(!fs.existsSync(`${state}.lock`));
  });

  test("killed after its last checkpoint, before the store heard: the next run finishes the shard", async () => {
    const state = path.join(tmp, "done.state");
    const db = path.join(tmp, "done.db");
    const args = [...base, "--resume", state, "--db", db];
    const full = await runCli(args);
    assert.equal(full.code, 0, full.stderr);
    // What a kill between the two steps leaves: a complete checkpoint, an unfinished shard.
    const raw = new Database(db);
    raw.exec("UPDATE scan_shards SET finished_at = NULL, counts = NULL");
    raw.exec("UPDATE scans SET finished_at = NULL, counts = NULL");
    raw.close();
    const again = await runCli(args);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already complete/);
    assert.match(again.stdout, /total\s+1024\b/);
    const store = SqliteStore.open(db);
    try {
      const [scan] = await store.listScans();
      assert.ok(scan?.finishedAt, "the scan is finished");
      assert.deepEqual(scan?.counts, { closed: 1024 });
    } finally {
      await store.close();
    }
  });
});
