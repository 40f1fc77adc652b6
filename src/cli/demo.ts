/**
 * `redscope demo`: start a throwaway lab on loopback (recorded replies of real Redis versions,
 * a busy server, max clients, an HTTP server, a silent one, closed addresses, and a real
 * redis-server when one is installed), scan it like any network, print what was found.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { Enricher } from "../intel/enrich.js";
import { type RedisProcess, redisServerPath, startRedis } from "../lab/redis.js";
import { DEMO_CAST, type LabServer, startLabServer } from "../lab/replay.js";
import { firstHosts } from "../report/hosts.js";
import { SqliteStore } from "../store/index.js";
import { emptyTargetInput, parseTargetToken } from "../targets/index.js";
import { Scan } from "../usecases/scan.js";
import { fail } from "./errors.js";
import { hostListSummary, renderTable, summaryTable } from "./format.js";
import { HOST_LIST_DEFAULT, parseHostList } from "./hosts.js";
import { parseIntIn } from "./units.js";
import { VERSION } from "./version.js";

interface DemoFlags {
  net: string;
  port: string;
  output?: string;
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("start a throwaway lab of servers on loopback, scan it, print the results")
    .option("--net <prefix>", "loopback /28 the lab listens on", "127.77.0.0")
    .option("--port <n>", "port the lab listens on (the next free one is used if taken)", "16379")
    .option("-o, --output <file>", "also keep the JSONL results here")
    .action(async (flags: DemoFlags) => {
      process.exitCode = await runDemo(flags);
    });
}

async function startCast(base: number[], port: number): Promise<LabServer[]> {
  const started: LabServer[] = [];
  try {
    for (const [i, member] of DEMO_CAST.entries()) {
      const host = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + i + 1}`;
      started.push(await startLabServer(member.name, member.spec, host, port));
    }
    return started;
  } catch (e) {
    await Promise.all(started.map((s) => s.close()));
    throw e;
  }
}

export async function runDemo(flags: DemoFlags): Promise<number> {
  const base = flags.net.split(".").map(Number);
  if (
    base.length !== 4 ||
    base[0] !== 127 ||
    base.some((o) => !(o >= 0 && o <= 255)) ||
    base[3]! % 16 !== 0
  ) {
    fail(`--net ${flags.net}: must be the start of a /28 inside 127.0.0.0/8, e.g. 127.77.0.0`);
  }
  let port = parseIntIn("--port", flags.port, 1, 65535);
  let lab: LabServer[] | undefined;
  for (let tries = 0; !lab; tries++) {
    try {
      lab = await startCast(base, port);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || tries > 20) throw e;
      port++;
    }
  }
  const real: RedisProcess[] = [];
  const realHost = `${base[0]}.${base[1]}.${base[2]}.${base[3]! + DEMO_CAST.length + 1}`;
  if (redisServerPath()) {
    try {
      real.push(await startRedis({ host: realHost, port, config: ["protected-mode no"] }));
    } catch (e) {
      process.stderr.write(
        `redscope: demo: real redis-server did not start: ${(e as Error).message.split("\n")[0]}\n`,
      );
    }
  }
  // Everything the demo writes stays in its own directory: never the user's store.
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-demo-"));
  const out = flags.output ?? path.join(workDir, "results.jsonl");
  const dbPath = path.join(workDir, "redscope.db");
  // The bundled CVE table only (an empty intel directory): the demo needs no download.
  const enricher = await Enricher.load(path.join(workDir, "intel"));
  const store = SqliteStore.open(dbPath);
  const cidr = `${flags.net}/28`;
  try {
    const rows = lab.map((s) => [`${s.host}:${s.port}`, s.name]);
    if (real.length) rows.push([`${realHost}:${port}`, "real redis-server (installed), open"]);
    rows.push([`other ${cidr} addresses`, "nothing listening"]);
    process.stdout.write(
      `Lab on loopback (${cidr}, port ${port}):\n${renderTable([["address", "server"], ...rows], [false, false])}\n\n`,
    );
    process.stdout.write(
      `Scanning: redscope scan ${cidr} -p ${port} --allow-reserved -o ${out}\n\n`,
    );
    const input = emptyTargetInput();
    parseTargetToken(cidr, input, "");
    const summary = await new Scan({
      input,
      ports: [port],
      allowReserved: true,
      exclude: [],
      concurrency: 64,
      rate: 0,
      budgets: {
        connectTimeoutMs: 1000,
        readTimeoutMs: 1500,
        hostTimeoutMs: 4000,
        maxBytesPerHost: 256 * 1024,
      },
      transport: "tcp",
      output: out,
      seed: 1n,
      enricher,
      store,
      record: { targets: cidr, ports: String(port), options: { demo: true }, toolVersion: VERSION },
    }).run();
    const limit = parseHostList(HOST_LIST_DEFAULT);
    const hosts = await firstHosts(store, summary.scanId, limit);
    process.stdout.write(
      `${summaryTable(summary)}\n${hostListSummary(hosts, summary.scanId, limit, dbPath)}\nresults: ${out}\n` +
        `stored: ${summary.stored ?? 0} rows for scan ${summary.scanId} in ${dbPath} (SQLite)\n` +
        `next: redscope report --db ${dbPath} [-f html -o report.html]\n` +
        `  or: redscope serve --db ${dbPath}   (the dashboard, on http://127.0.0.1:8080/)\n`,
    );
    return 0;
  } finally {
    await store.close();
    await Promise.all([...lab.map((s) => s.close()), ...real.map((r) => r.stop())]);
  }
}
