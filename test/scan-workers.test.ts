/**
 * `scan --workers N`: the same results as one thread, every target exactly once in the JSONL
 * file and in the store whatever happens to a worker (it dies mid-scan, every one dies, the
 * whole process is killed with -9 and resumed), and counts equal to a recount.
 *
 * The scanner runs in a network namespace with only `lo`, where one real redis-server listens
 * on 0.0.0.0:6379 (every 127.x address answers there), 6380 is closed, and 6381 accepts
 * connections and never answers (a socket that listens and stays silent).
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { parseWorkers } from "../src/cli/scan.js";
import { type RedisProcess, redisServerPath, startRedis } from "../src/lab/redis.js";
import type { ProbeResult } from "../src/schema/result.js";
import { SqliteStore } from "../src/store/index.js";
import type { ResumeState } from "../src/targets/resume.js";
import { BIN, parseJsonl, runCli } from "./helpers/cli.js";
import { canMakeNetns, createLoopbackNs } from "./helpers/netns.js";

const requireAll = process.env.CI === "true";
const ready = canMakeNetns() && redisServerPath() !== undefined;
if (!ready && requireAll) throw new Error("worker tests need root, ip netns and redis-server");

const TARGETS = "127.4.0.0/24";
const PORTS = [6379, 6380, 6381];
const TOTAL = 256 * PORTS.length;
const key = (r: { ip: string; port: number }): string => `${r.ip}:${r.port}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function allTargets(): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < 256; i++) for (const p of PORTS) out.add(`127.4.0.${i}:${p}`);
  return out;
}

interface Run {
  code: number | null;
  output: string;
}

describe("scan --workers", {
  skip: ready ? false : "needs root, ip netns and redis-server",
}, () => {
  let ns: ReturnType<typeof createLoopbackNs>;
  let redis: RedisProcess;
  let silent: ChildProcess;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-workers-"));
  const expected = allTargets();

  before(async () => {
    ns = createLoopbackNs("workers");
    redis = await startRedis({
      host: "0.0.0.0",
      port: 6379,
      netns: ns.ns,
      config: ["protected-mode no"],
    });
    // Accepts and never writes: the scan's read budget ends each of these.
    silent = spawn(
      "ip",
      [
        "netns",
        "exec",
        ns.ns,
        process.execPath,
        "-e",
        'require("net").createServer(() => {}).listen(6381, "0.0.0.0", () => console.log("listening"))',
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      silent.stdout?.on("data", (d) => {
        if (String(d).includes("listening")) resolve();
      });
      silent.once("exit", (code) => reject(new Error(`the silent listener exited (${code})`)));
    });
  });
  after(async () => {
    silent?.kill("SIGKILL");
    await redis?.stop();
    ns?.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** The scanner in the namespace (`ip netns exec` execs: the pid is node's). */
  function startScan(
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): { child: ChildProcess; exited: Promise<Run> } {
    const child = spawn("ip", ["netns", "exec", ns.ns, process.execPath, BIN, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let output = "";
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    const exited = new Promise<Run>((resolve) =>
      child.once("close", (code) => resolve({ code, output })),
    );
    return { child, exited };
  }

  const scanArgs = (dir: string, workers: number, extra: string[] = []): string[] => [
    "scan",
    TARGETS,
    "-p",
    PORTS.join(","),
    "--allow-reserved",
    "-q",
    "--no-intel",
    "--read-timeout",
    "300ms",
    "--concurrency",
    "200",
    "--workers",
    String(workers),
    "-o",
    path.join(dir, "r.jsonl"),
    "--db",
    path.join(dir, "r.db"),
    ...extra,
  ];

  /** The file's and the store's records, each target once in each, and the store's counts. */
  async function sinks(dir: string): Promise<{
    file: Map<string, ProbeResult>;
    rows: Map<string, ProbeResult>;
    counts: Record<string, number>;
  }> {
    const lines = parseJsonl(fs.readFileSync(path.join(dir, "r.jsonl"), "utf8"));
    const file = new Map(lines.map((r) => [key(r), r]));
    assert.equal(file.size, lines.length, "a target twice in the file");
    assert.deepEqual(new Set(file.keys()), expected, "the file's targets");
    const store = SqliteStore.open(path.join(dir, "r.db"));
    try {
      const scans = await store.listScans();
      assert.equal(scans.length, 1, "one scan in the store");
      const rows = new Map<string, ProbeResult>();
      for await (const r of store.results({ scanId: scans[0]!.id })) {
        assert.ok(!rows.has(key(r)), `${key(r)} twice in the store`);
        rows.set(key(r), r);
      }
      assert.deepEqual(new Set(rows.keys()), expected, "the store's targets");
      for (const [k, r] of file) {
        assert.deepEqual(
          [rows.get(k)?.state, rows.get(k)?.time],
          [r.state, r.time],
          `${k}: the file and the store differ`,
        );
      }
      const recount: Record<string, number> = {};
      for (const r of rows.values()) recount[r.state] = (recount[r.state] ?? 0) + 1;
      assert.ok(scans[0]!.finishedAt, "the scan is finished");
      assert.deepEqual(scans[0]!.counts, recount, "the scan's counts are a recount of its rows");
      return { file, rows, counts: recount };
    } finally {
      await store.close();
    }
  }

  const identity = (r: ProbeResult): string =>
    [key(r), r.state, r.server?.product ?? "", r.server?.version ?? ""].join(" ");

  test("2 workers find what 1 finds: live, closed and silent ports alike", async () => {
    const found: string[][] = [];
    for (const workers of [1, 2]) {
      const dir = fs.mkdtempSync(path.join(tmp, `same${workers}-`));
      const run = await startScan(scanArgs(dir, workers)).exited;
      assert.equal(run.code, 0, run.output);
      assert.match(run.output, new RegExp(`total\\s+${TOTAL}\\b`), run.output);
      const { file, counts } = await sinks(dir);
      assert.deepEqual(counts, { open: 256, closed: 256, silent: 256 });
      found.push([...file.values()].map(identity).sort());
    }
    assert.deepEqual(found[1], found[0]);
  });

  test("a worker that dies mid-scan is reported; its targets are probed by another, once", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "dies-"));
    const run = await startScan(scanArgs(dir, 2), { REDSCOPE_TEST_WORKER_EXIT_AFTER: "40" }).exited;
    assert.equal(run.code, 0, run.output);
    assert.match(
      run.output,
      /^redscope: warning: scan worker 1 died \(exit code 70\); its \d+ unanswered targets go to worker 3$/m,
    );
    assert.equal(run.output.match(/died/g)?.length, 1, run.output);
    assert.match(run.output, new RegExp(`total\\s+${TOTAL}\\b`), run.output);
    const { counts } = await sinks(dir);
    assert.deepEqual(counts, { open: 256, closed: 256, silent: 256 });
  });

  test("every worker dies: the scan stops with an error, and a resume finishes it, each target once", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "all-"));
    const state = path.join(dir, "r.state");
    const args = scanArgs(dir, 2, ["--resume", state]);
    const failed = await startScan(args, { REDSCOPE_TEST_WORKER_EXIT_AFTER: "30:all" }).exited;
    assert.equal(failed.code, 1, failed.output);
    assert.match(failed.output, /^redscope: every scan worker died \(the last: exit code 70\)/m);
    // 2 workers and 4 replacements, each gone after 30 results: most targets are left.
    assert.equal(failed.output.match(/scan worker \d+ died/g)?.length, 6, failed.output);
    const left = JSON.parse(fs.readFileSync(state, "utf8")) as ResumeState;
    assert.equal(left.complete, false);
    const again = await startScan(args).exited;
    assert.equal(again.code, 0, again.output);
    assert.match(again.output, new RegExp(`total\\s+${TOTAL}\\b`), again.output);
    await sinks(dir);
  });

  test("kill -9 during a --workers 2 --resume scan, twice, then resume: each target once", async () => {
    const dir = fs.mkdtempSync(path.join(tmp, "kill-"));
    const state = path.join(dir, "r.state");
    // Slow enough to be killed part-way: a kill lands after the first checkpoint that moved.
    const args = scanArgs(dir, 2, ["--resume", state, "--rate", "200", "--seed", "19"]);
    for (let kill = 0; kill < 2; kill++) {
      const { child, exited } = startScan(args);
      let ended = false;
      void exited.then(() => {
        ended = true;
      });
      const before = contents(state);
      // Bounded: the scan ends by itself within its own budgets.
      while (!ended && contents(state) === before) await sleep(10);
      while (!ended && !hasResults(contents(state))) await sleep(10);
      child.kill("SIGKILL");
      const run = await exited;
      assert.ok(!ended || run.code === null, `the scan ended before it was killed: ${run.output}`);
    }
    const last = await startScan(args).exited;
    assert.equal(last.code, 0, last.output);
    assert.match(last.output, new RegExp(`total\\s+${TOTAL}\\b`), last.output);
    const resume = JSON.parse(fs.readFileSync(state, "utf8")) as ResumeState;
    assert.equal(resume.complete, true);
    const { counts, file } = await sinks(dir);
    assert.deepEqual(counts, { open: 256, closed: 256, silent: 256 });
    assert.ok([...file.values()].every((r) => r.scan_id === resume.scanId));
  });
});

function contents(file: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/** A checkpoint that covers some results (its counts are not empty). */
function hasResults(text: string): boolean {
  try {
    const s = JSON.parse(text) as ResumeState;
    return Object.values(s.counts).some((n) => n > 0);
  } catch {
    return false;
  }
}

describe("scan --workers: usage", () => {
  test("a bad count is a usage error (exit 2), said in one line", async () => {
    for (const bad of ["0", "65", "two", "2.5"]) {
      const run = await runCli([
        "scan",
        "127.0.0.1",
        "--allow-reserved",
        "--no-db",
        "-o",
        "-",
        "--workers",
        bad,
      ]);
      assert.equal(run.code, 2, `${bad}: ${run.stderr}`);
      assert.match(run.stderr, /^redscope: invalid --workers "[^"]*": /);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.equal(run.stdout, "");
    }
  });

  test("auto: one thread at the default concurrency and rate, or with 1 core to spare; never more than the connections", () => {
    assert.equal(parseWorkers("auto", 1000, 1000), 1);
    assert.equal(parseWorkers("auto", 50, 0), 1);
    const cores = os.availableParallelism();
    assert.equal(parseWorkers("auto", 100_000, 0), Math.max(1, Math.min(cores - 1, 64)));
    assert.equal(parseWorkers("auto", 100_000, 4000), 1);
    assert.equal(parseWorkers("8", 3, 0), 3);
    assert.equal(parseWorkers("2", 1000, 1000), 2);
  });
});
