/**
 * Ingest throughput of the results store: the same synthetic results (a realistic mix of open
 * servers with facts and CVEs, auth-required, protected and timeouts) inserted through the
 * Store interface into SQLite (a file in WAL mode) and into PostgreSQL (a throwaway local
 * server, started as the tests start it), in the batches a scan uses. The reference next to
 * them: the same records written as JSONL to a file, the store-less path.
 *
 * Every insert also keeps the report's aggregates (store/aggregates.ts) in its transaction. The
 * default mix has few distinct fact tuples; `--mix internet` stores bench/synthetic.ts's
 * internet mix instead (115 versions in a long tail, hundreds of ASNs, clouds, countries, CVE
 * lists, attack verdicts, replication and signs of compromise): the aggregates' worst case.
 *
 *   node dist/bench/store.js [--rows 200000] [--batch 2000] [--mix uniform|internet]
 *                            [--against OTHER/dist]
 *
 * --against: another build of redscope (its dist directory, e.g. the main branch's) inserting
 * the same batches into a store of its own, interleaved batch by batch with this build's
 * (ABBA order), so a machine whose load changes from second to second slows both alike: the
 * ratio of the two is the cost of what differs (here: keeping the aggregates).
 *
 * Prints a table and one JSON line. Needs Debian's postgresql for the PostgreSQL row.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CveMatcher, loadCveTable } from "../src/intel/cves.js";
import type { ProbeResult } from "../src/schema/result.js";
import { openStore, type Store } from "../src/store/index.js";
import { JsonlSink } from "../src/store/jsonl.js";
import { startPostgres } from "../test/helpers/postgres.js";
import { Synth } from "./synthetic.js";

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: not a positive integer`);
  return v;
}

const ROWS = arg("--rows", 200_000);
const BATCH = arg("--batch", 2000);
const MIX = process.argv.includes("--mix")
  ? process.argv[process.argv.indexOf("--mix") + 1]
  : "uniform";
if (MIX !== "uniform" && MIX !== "internet") throw new Error("--mix: uniform or internet");

/** The report bench's internet mix (bench/synthetic.ts), as one shard of scan "bench". */
function internet(n: number): ProbeResult[] {
  const synth = new Synth(
    1,
    { open: 0.13, protected: 0.09, error: 0.03 },
    new CveMatcher(loadCveTable()),
  );
  const t0 = 1_763_700_000_000;
  return Array.from({ length: n }, (_, i) => ({
    ...synth.result(i, new Date(t0 + i).toISOString()),
    scan_id: "bench",
    shard: "0/1",
  }));
}

function synthetic(n: number): ProbeResult[] {
  const out: ProbeResult[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `${11 + (i >>> 24)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
    const base = {
      ip,
      port: 6379,
      transport: "tcp" as const,
      time: new Date(1_763_700_000_000 + i).toISOString(),
      scan_id: "bench",
      shard: "0/1",
      rtt_ms: 20 + (i % 200),
    };
    const kind = i % 10;
    if (kind < 3) {
      out.push({
        ...base,
        state: "open",
        nicer: "Returned version",
        server: {
          product: "redis",
          version: ["7.0.15", "6.2.6", "5.0.7", "7.2.4"][i % 4],
          redis_version: "7.0.15",
          mode: "standalone",
          os: "Linux 5.15.0-1051-aws x86_64",
          arch_bits: 64,
          role: "master",
          run_id: "d27115b9d30b85402bc26d1aa56d78f0833fc03c",
          uptime_s: 86_400 + i,
          connected_clients: 3,
          used_memory: 1_556_640 + i,
          maxmemory: 0,
          keyspace: { db0: { keys: i % 1000, expires: 0 } },
          executable: "/usr/bin/redis-server",
          mem_allocator: "jemalloc-5.3.0",
        },
        cves: [
          { id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" },
          { id: "CVE-2025-21605", cvss: 7.5, fixed_in: "7.2.8" },
          { id: "CVE-2024-31449", cvss: 7, fixed_in: "7.2.6" },
        ],
        cloud: { provider: "aws", region: "us-east-1", service: "EC2" },
        asn: 14618,
        as_org: "AMAZON-AES",
        country: "US",
      });
    } else if (kind < 6) {
      out.push({
        ...base,
        state: "auth_required",
        nicer: "Requires authentication",
        detail: "NOAUTH",
        error: "NOAUTH Authentication required.",
        server: { version_hint: "6.0+" },
        asn: 4134,
        country: "CN",
      });
    } else if (kind < 7) {
      out.push({
        ...base,
        state: "protected",
        nicer: "Protected mode",
        detail: "DENIED",
        error: "DENIED Redis is running in protected mode because protected mode is enabled",
      });
    } else {
      out.push({ ...base, state: "timeout", detail: "connect_timeout" });
    }
  }
  return out;
}

async function ingest(store: Store, rows: ProbeResult[]): Promise<number> {
  await store.beginScan({
    id: "bench",
    source: "scan",
    startedAt: new Date().toISOString(),
    targets: "bench",
    ports: "6379",
    shardCount: 1,
    options: {},
    toolVersion: "bench",
  });
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < rows.length; i += BATCH) {
    n += await store.insertResults("bench", rows.slice(i, i + BATCH));
  }
  const s = (performance.now() - t0) / 1000;
  if (n !== rows.length) throw new Error(`inserted ${n} of ${rows.length}`);
  return s;
}

const AGAINST = process.argv.includes("--against")
  ? path.resolve(process.argv[process.argv.indexOf("--against") + 1] ?? "")
  : undefined;

/** This build's and another's store, fed the same batches in turn; seconds spent by each. */
async function interleaved(
  ours: Store,
  theirs: Store,
  rows: ProbeResult[],
): Promise<{ ours: number; theirs: number }> {
  const spent = { ours: 0, theirs: 0 };
  const info = {
    id: "bench",
    source: "scan",
    startedAt: new Date().toISOString(),
    targets: "bench",
    ports: "6379",
    shardCount: 1,
    options: {},
    toolVersion: "bench",
  };
  await ours.beginScan(info);
  await theirs.beginScan(info);
  for (let i = 0, k = 0; i < rows.length; i += BATCH, k++) {
    const batch = rows.slice(i, i + BATCH);
    // ABBA: neither side always goes first (a cache warmed by the other, a burst of load).
    const order = k % 2 === 0 ? (["ours", "theirs"] as const) : (["theirs", "ours"] as const);
    for (const side of order) {
      const t0 = performance.now();
      const n = await (side === "ours" ? ours : theirs).insertResults("bench", batch);
      spent[side] += (performance.now() - t0) / 1000;
      if (n !== batch.length) throw new Error(`${side}: inserted ${n} of ${batch.length}`);
    }
  }
  return spent;
}

async function main(): Promise<void> {
  const rows = MIX === "internet" ? internet(ROWS) : synthetic(ROWS);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-bench-store-"));
  const figures: Array<{ backend: string; seconds: number; perSec: number; note: string }> = [];
  try {
    // Reference: the JSONL sink, the path a scan takes with --no-db.
    const jsonl = new JsonlSink(
      { path: path.join(dir, "ref.jsonl"), append: false },
      { onFailure: "stop" },
    );
    let t0 = performance.now();
    for (const r of rows) jsonl.write(r);
    jsonl.flushSync();
    await jsonl.close();
    let s = (performance.now() - t0) / 1000;
    figures.push({ backend: "JSONL file (reference)", seconds: s, perSec: ROWS / s, note: "" });

    const sqlite = await openStore(path.join(dir, "bench.db"));
    s = await ingest(sqlite, rows);
    await sqlite.close();
    const size = fs.statSync(path.join(dir, "bench.db")).size;
    figures.push({
      backend: "SQLite (WAL, synchronous=NORMAL)",
      seconds: s,
      perSec: ROWS / s,
      note: `${(size / 1048576).toFixed(0)} MB file`,
    });

    let pgNote = "";
    try {
      const server = await startPostgres();
      try {
        const pg = await openStore(await server.database("bench"));
        t0 = performance.now();
        s = await ingest(pg, rows);
        await pg.close();
        figures.push({
          backend: "PostgreSQL 15 (local, fsync off)",
          seconds: s,
          perSec: ROWS / s,
          note: "unnest() batch insert",
        });
      } finally {
        await server.stop();
      }
    } catch (e) {
      pgNote = `PostgreSQL row skipped: ${(e as Error).message}`;
    }

    const ab: Array<{ backend: string; ours: number; theirs: number; ratio: number }> = [];
    if (AGAINST) {
      const other = (await import(path.join(AGAINST, "src/store/index.js"))) as {
        openStore: typeof openStore;
      };
      const a = await openStore(path.join(dir, "ours.db"));
      const b = await other.openStore(path.join(dir, "theirs.db"));
      const sq = await interleaved(a, b, rows);
      await a.close();
      await b.close();
      ab.push({ backend: "SQLite", ...sq, ratio: sq.theirs / sq.ours });
      try {
        const server = await startPostgres();
        try {
          const pa = await openStore(await server.database("ours"));
          const pb = await other.openStore(await server.database("theirs"));
          const pq = await interleaved(pa, pb, rows);
          await pa.close();
          await pb.close();
          ab.push({ backend: "PostgreSQL", ...pq, ratio: pq.theirs / pq.ours });
        } finally {
          await server.stop();
        }
      } catch (e) {
        pgNote += ` A/B PostgreSQL skipped: ${(e as Error).message}`;
      }
    }

    const w = [34, 9, 12];
    console.log(
      `store ingest: ${ROWS.toLocaleString("en-US")} results (${MIX} mix) in batches of ${BATCH}, ${os.cpus().length} cores, Node ${process.version}`,
    );
    console.log(
      `${"backend".padEnd(w[0]!)} | ${"seconds".padStart(w[1]!)} | ${"results/s".padStart(w[2]!)} | note`,
    );
    console.log(`${"-".repeat(w[0]!)}-|-${"-".repeat(w[1]!)}-|-${"-".repeat(w[2]!)}-|-----`);
    for (const f of figures) {
      console.log(
        `${f.backend.padEnd(w[0]!)} | ${f.seconds.toFixed(2).padStart(w[1]!)} | ${Math.round(f.perSec).toLocaleString("en-US").padStart(w[2]!)} | ${f.note}`,
      );
    }
    if (pgNote) console.log(pgNote);
    for (const x of ab) {
      console.log(
        `interleaved with ${AGAINST}: ${x.backend} ${Math.round(ROWS / x.ours).toLocaleString("en-US")} results/s here, ${Math.round(ROWS / x.theirs).toLocaleString("en-US")} there: this build ${x.ratio.toFixed(3)}× as fast`,
      );
    }
    console.log(
      JSON.stringify({ rows: ROWS, batch: BATCH, mix: MIX, figures, against: AGAINST, ab }),
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
