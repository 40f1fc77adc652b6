/**
 * The honeypot against real Redis, with Debian's redis-benchmark, same parameters, one run:
 * PING, SET and GET with and without pipelining, and new connections per second (`-k 0`: a new
 * connection per request). The honeypot runs as an operator runs it: `redscope honeypot` with
 * the redis-7.0-open persona, recording every session and command into a SQLite store.
 *
 *   node dist/bench/honeypot.js [--requests 100000] [--clients 50] [--repeat 3]
 *
 * Each case runs --repeat times against each server, alternating; the median is reported.
 *
 * Goal: at least half of real Redis's figures. Prints a table and one JSON line. Loopback only.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startRedis } from "../src/lab/redis.js";
import { startHoneypot } from "../test/helpers/honeypot-process.js";
import { freePort } from "../test/helpers/ports.js";

function flag(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: a positive integer`);
  return v;
}

const REQUESTS = flag("--requests", 100_000);
const CLIENTS = flag("--clients", 50);
const REPEAT = flag("--repeat", 3);

interface Case {
  name: string;
  args: string[];
}

const CASES: Case[] = [
  { name: "PING", args: ["-t", "ping_mbulk", "-n", String(REQUESTS)] },
  { name: "SET", args: ["-t", "set", "-n", String(REQUESTS)] },
  { name: "GET", args: ["-t", "get", "-n", String(REQUESTS)] },
  { name: "PING, pipeline 16", args: ["-t", "ping_mbulk", "-n", String(REQUESTS * 5), "-P", "16"] },
  { name: "SET, pipeline 16", args: ["-t", "set", "-n", String(REQUESTS * 5), "-P", "16"] },
  { name: "GET, pipeline 16", args: ["-t", "get", "-n", String(REQUESTS * 5), "-P", "16"] },
  // -k 0: every request on a new connection, so this is connections per second.
  {
    name: "new connections (PING, -k 0)",
    args: ["-t", "ping_mbulk", "-n", String(REQUESTS / 5), "-k", "0"],
  },
];

/** requests/s from redis-benchmark's --csv line ("test","rps",…). */
function benchmark(port: number, c: Case): number {
  const r = spawnSync(
    "redis-benchmark",
    ["-h", "127.0.0.1", "-p", String(port), "-c", String(CLIENTS), "--csv", ...c.args],
    { encoding: "utf8", timeout: 300_000 },
  );
  if (r.status !== 0) throw new Error(`redis-benchmark ${c.name}: ${r.stderr || r.stdout}`);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  const m = /^"[^"]*","([\d.]+)"/.exec(line);
  if (!m) throw new Error(`redis-benchmark ${c.name}: unexpected output ${line}`);
  return Number(m[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  if (spawnSync("redis-benchmark", ["--version"]).status !== 0) {
    throw new Error("redis-benchmark not found: apt-get install redis-tools");
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-bench-hp-"));
  const redisPort = await freePort();
  const hpPort = await freePort();
  const redis = await startRedis({
    host: "127.0.0.1",
    port: redisPort,
    config: ["protected-mode no", 'save ""'],
  });
  const db = path.join(dir, "hp.db");
  const hp = await startHoneypot([
    "--listen",
    `127.0.0.1:${hpPort}/redis-7.0-open`,
    "--db",
    db,
    "-q",
    "--max-per-source",
    "1000",
    "--max-sessions",
    "4096",
    // Every benchmark client is 127.0.0.1: one source making millions of requests.
    "--source-bytes",
    "0",
  ]);
  const rows: Array<{ case: string; redis: number; honeypot: number; ratio: number }> = [];
  try {
    for (const c of CASES) {
      const reals: number[] = [];
      const fakes: number[] = [];
      for (let k = 0; k < REPEAT; k++) {
        reals.push(benchmark(redisPort, c));
        fakes.push(benchmark(hpPort, c));
      }
      const real = median(reals);
      const fake = median(fakes);
      rows.push({ case: c.name, redis: real, honeypot: fake, ratio: fake / real });
      process.stderr.write(`bench: ${c.name}: redis ${real}/s, honeypot ${fake}/s\n`);
    }
  } finally {
    await hp.stop();
    await redis.stop();
  }
  const dbMB = fs.statSync(db).size / 1048576;
  fs.rmSync(dir, { recursive: true, force: true });
  const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
  console.log(
    `redis-benchmark, ${CLIENTS} clients, median of ${REPEAT}, ${os.cpus().length} cores; redis-server ${spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout.match(/v=(\S+)/)?.[1] ?? "?"} vs redscope honeypot (redis-7.0-open, recording into SQLite: ${dbMB.toFixed(0)} MB written)`,
  );
  console.log(
    `${"case".padEnd(30)} | ${"redis req/s".padStart(12)} | ${"honeypot req/s".padStart(14)} | share`,
  );
  console.log(`${"-".repeat(30)}-|-${"-".repeat(12)}-|-${"-".repeat(14)}-|------`);
  for (const r of rows) {
    console.log(
      `${r.case.padEnd(30)} | ${fmt(r.redis).padStart(12)} | ${fmt(r.honeypot).padStart(14)} | ${(100 * r.ratio).toFixed(0)}%`,
    );
  }
  const worst = Math.min(...rows.map((r) => r.ratio));
  console.log(
    `goal: every case at least 50% of real Redis: ${worst >= 0.5 ? "met" : "NOT met"} (lowest ${(100 * worst).toFixed(0)}%)`,
  );
  console.log(
    JSON.stringify({
      clients: CLIENTS,
      requests: REQUESTS,
      repeat: REPEAT,
      rows,
      goalMet: worst >= 0.5,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
