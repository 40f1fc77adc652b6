/**
 * How long `redscope report` takes on a large store, next to the sqlite3 shell recounting the
 * same facts from the rows. A fresh SQLite store gets a scan of synthetic results in the mix
 * internet scans see (75% auth_required, 13% open with a long tail of 115 versions and their real
 * CVE lists from the bundled table, 9% protected, 3% errors; cloud / ASN / country on most rows),
 * plus an older, smaller scan of the same targets so the trend has two points. The report reads
 * the aggregates the store keeps as results are stored (store/aggregates.ts), so its time should
 * not grow with the scan: `--rows 1000000,3000000` measures at 1 M, then stores 2 M more results
 * into the same scan and measures again. At each size, 3 runs each, median wall time:
 *   - the CLI as a user runs it (`redscope report SCAN --format json|text -o FILE --db FILE`), and
 *     its startup alone (`report --list`);
 *   - buildReport in-process, timed per store call, to split startup from aggregation;
 *   - the reference: `sqlite3 FILE < report.sql`, each part of the report recounted from the
 *     rows as one SQL statement (`.timer on`): what every report did before the aggregates;
 *   - once: redscope's own recount (`buildReport(…, { recount: true })`, what `report --recount`
 *     would run), whose JSON must equal the report's from the aggregates.
 * The goal: the whole report in under 1 s at 1 M results, and about the same at 3 M.
 *
 *   node dist/bench/report.js [--rows 1000000[,3000000]] [--keep DIR] [--backfill]
 *
 * --backfill also times migration 9's backfill of the aggregates at the first size (the
 * aggregates dropped, the store opened again). --keep DIR writes the store, the SQL script and
 * both reports into DIR and leaves them there (for sqlite3 or `node --cpu-prof` afterwards);
 * without it a temp dir is used and removed. Prints a table per size and one JSON line. Needs
 * Debian's sqlite3 on PATH.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { CveMatcher, loadCveTable } from "../src/intel/cves.js";
import { buildReport, FACT_COLUMNS, type Report } from "../src/report/build.js";
import { renderJson, renderText } from "../src/report/render.js";
import { openStore, type ScanInfo, type Store } from "../src/store/index.js";
import { benchSize, PORTS, Synth, scanInfo, storeRows, storeScan, TARGETS } from "./synthetic.js";

const { sizes: SIZES, keep: KEEP } = benchSize();
const BACKFILL = process.argv.includes("--backfill");
const RUNS = 3;
const GOAL_S = 1;
const BIN = fileURLToPath(new URL("../src/cli/bin.js", import.meta.url));

// ---------- the report's parts, in redscope and in SQL ----------

interface Step {
  name: string;
  /** The store calls buildReport makes for it (see timedStore). */
  calls: string[];
  /** The same work in SQL: one statement or several (timed together). */
  sql: string | string[];
}

function steps(scanId: string): Step[] {
  const where = `WHERE scan_id = '${scanId}'`;
  const group = (cols: string): string =>
    `SELECT ${cols}, count(*) AS n FROM results ${where} GROUP BY ${cols} ORDER BY n DESC, ${cols};`;
  return [
    {
      // redscope: one read of the scan's aggregates (every count of the report, the CVE ones
      // included). The recount: one GROUP BY over every column a table counts by.
      name: "fact counts (states … worst CVSS)",
      calls: ["aggregateCounts"],
      sql: group(FACT_COLUMNS.join(", ")),
    },
    {
      // redscope: the first replication examples (their count came with the aggregates). The
      // recount: replicationLeak in SQL over the open rows, a replica or master address other
      // than the server's own; the window count is the total, the rows the first examples in
      // (ip, port) order. Then the CVE counts per id, from the rows with CVEs.
      name: "replication check, CVE counts",
      calls: ["aggregateExamples(replication)"],
      sql: [
        `SELECT 'leak', count(*) OVER () AS total, ip, port, coalesce(record ->> '$.server.role', 'unknown')
  FROM results AS r ${where} AND state = 'open' AND (
    coalesce(nullif(record ->> '$.server.master_host', ''), ip) <> ip
    OR EXISTS (SELECT 1 FROM json_each(r.record, '$.server.replicas') AS rep
               WHERE coalesce(rep.value ->> '$.ip', '') NOT IN ('', r.ip)))
  ORDER BY ip, port LIMIT 20;`,
        `SELECT c.value ->> '$.id' AS cve, max(c.value ->> '$.cvss') AS cvss, count(*) AS servers
  FROM results, json_each(results.record, '$.cves') AS c ${where} AND cve_count > 0
  GROUP BY cve ORDER BY servers DESC, cvss DESC, cve;`,
      ],
    },
    {
      // The attacker's view: verdicts and indicator kinds come with the fact counts; the
      // examples: redscope's first per kind, the recount's from the rows that show one.
      name: "signs of compromise: examples",
      calls: ["aggregateExamples(compromise)"],
      sql: `SELECT ip, port, record ->> '$.compromise' FROM results ${where} AND compromise IS NOT NULL LIMIT 50000;`,
    },
    {
      name: "trends (scans of the same targets)",
      calls: ["listScans", "stateCounts"],
      sql: `SELECT id, started_at, counts FROM scans WHERE targets = '${TARGETS}' AND ports = '${PORTS}' AND source = 'scan' ORDER BY started_at;`,
    },
  ];
}

/**
 * The store, with the time of each call added up under a key naming it (aggregateCounts,
 * aggregateExamples(replication), …).
 */
function timedStore(store: Store, spent: Map<string, number>): Store {
  return new Proxy(store, {
    get(target, prop) {
      const v: unknown = Reflect.get(target, prop);
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        // aggregateExamples by kind (the compromise kinds together); other calls by name.
        const key =
          prop === "aggregateExamples"
            ? `aggregateExamples(${String(args[1]).split(":")[0]})`
            : String(prop);
        const t0 = performance.now();
        const done = (): void => {
          spent.set(key, (spent.get(key) ?? 0) + (performance.now() - t0) / 1000);
        };
        const out: unknown = v.apply(target, args);
        if (out instanceof Promise) return out.finally(done);
        done();
        return out;
      };
    },
  });
}

// ---------- measuring ----------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Wall seconds of a command run to completion; its stdout is returned for checks. */
function timeCommand(
  cmd: string,
  args: string[],
  stdin: "ignore" | number = "ignore",
): { seconds: number; stdout: string } {
  const t0 = performance.now();
  const p = spawnSync(cmd, args, {
    stdio: [stdin, "pipe", "pipe"],
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const seconds = (performance.now() - t0) / 1000;
  if (p.error) throw p.error;
  if (p.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${p.status}: ${p.stderr.slice(0, 500)}`);
  }
  return { seconds, stdout: p.stdout };
}

const s2 = (x: number): string => x.toFixed(2);

/** The report's JSON without its time: a report from the aggregates must equal the recount's. */
function comparable(r: Report): string {
  const { generatedAt: _, ...rest } = r;
  return JSON.stringify(rest);
}

interface SizeFigures {
  rows: number;
  loadSeconds: number;
  dbMB: number;
  aggregateRows: number;
  exampleRows: number;
  cli: { startup: number; json: number; text: number; runs: Record<"json" | "text", number[]> };
  inProcess: {
    buildReport: number;
    outsideCalls: number;
    runs: number[];
    render: Record<"json" | "text", number[]>;
  };
  steps: Array<{ step: string; redscope: number; sqlite3: number }>;
  sqlite3: { total: number; runs: number[] };
  recountSeconds: number;
  goalMet: boolean;
}

/** Everything measured at one size of the scan (the store as it is now). */
async function measure(
  dir: string,
  db: string,
  scanId: string,
  rows: number,
  loadS: number,
): Promise<SizeFigures> {
  const dbMB = fs.statSync(db).size / 1048576;
  const raw = new Database(db, { readonly: true });
  const count = (table: string): number =>
    (
      raw.prepare(`SELECT count(*) AS n FROM ${table} WHERE scan_id = ?`).get(scanId) as {
        n: number;
      }
    ).n;
  const aggregateRows = count("result_aggregates");
  const exampleRows = count("result_examples");
  raw.close();
  console.log(
    `\n${rows.toLocaleString("en-US")} results: stored in ${s2(loadS)} s (not measured); ${dbMB.toFixed(0)} MB; the scan's aggregates: ${aggregateRows.toLocaleString("en-US")} rows, ${exampleRows.toLocaleString("en-US")} example rows`,
  );

  // Reports go to files in the bench dir: the same path a user's -o FILE takes.
  const cli = (args: string[]): number => timeCommand(process.execPath, [BIN, ...args]).seconds;
  const startup = median(
    Array.from({ length: RUNS }, () =>
      cli(["report", "--list", "--db", db, "-o", path.join(dir, "list.txt")]),
    ),
  );
  const cliRuns: Record<"json" | "text", number[]> = { json: [], text: [] };
  // Interleaved, so a burst of load from elsewhere falls on both formats alike.
  for (let i = 0; i < RUNS; i++) {
    for (const format of ["json", "text"] as const) {
      const out = path.join(dir, `report.${format === "json" ? "json" : "txt"}`);
      cliRuns[format].push(cli(["report", scanId, "--format", format, "-o", out, "--db", db]));
    }
  }

  const plan = steps(scanId);
  const inProcess: number[] = [];
  const perStep: Array<Map<string, number>> = [];
  let report: Report | undefined;
  const renderS: Record<"json" | "text", number[]> = { json: [], text: [] };
  let scan: ScanInfo | undefined;
  for (let i = 0; i < RUNS; i++) {
    const spent = new Map<string, number>();
    const s = await openStore(db);
    scan = await s.getScan(scanId);
    if (!scan) throw new Error(`scan ${scanId} missing`);
    let t0 = performance.now();
    report = await buildReport(timedStore(s, spent), scan);
    inProcess.push((performance.now() - t0) / 1000);
    await s.close();
    perStep.push(spent);
    t0 = performance.now();
    renderJson(report);
    renderS.json.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    renderText(report);
    renderS.text.push((performance.now() - t0) / 1000);
  }
  if (!report || !scan) throw new Error("no report");

  // redscope's own recount, once: slow, and its report must be the aggregates' report.
  const s = await openStore(db);
  const t0 = performance.now();
  const recounted = await buildReport(s, scan, undefined, { recount: true });
  const recountSeconds = (performance.now() - t0) / 1000;
  await s.close();
  if (comparable(recounted) !== comparable(report)) {
    throw new Error("the report from the aggregates differs from the report from a recount");
  }

  const script = path.join(dir, "report.sql");
  const statements = plan.map((p) => (typeof p.sql === "string" ? [p.sql] : p.sql));
  fs.writeFileSync(script, `.timer on\n${statements.flat().join("\n")}\n`);
  const sqlRuns: Array<{ total: number; steps: number[] }> = [];
  let sqlOut = "";
  for (let i = 0; i < RUNS; i++) {
    const fd = fs.openSync(script, "r");
    try {
      const { seconds, stdout } = timeCommand("sqlite3", [db], fd);
      const times = [...stdout.matchAll(/^Run Time: real ([\d.]+)/gm)].map((m) => Number(m[1]));
      const expected = statements.flat().length;
      if (times.length !== expected) {
        throw new Error(`sqlite3 timed ${times.length} statements, expected ${expected}`);
      }
      // Each step's statements, added up.
      let at = 0;
      const stepTimes = statements.map((st) => {
        const t = times.slice(at, at + st.length).reduce((a, b) => a + b, 0);
        at += st.length;
        return t;
      });
      sqlRuns.push({ total: seconds, steps: stepTimes });
      sqlOut = stdout;
    } finally {
      fs.closeSync(fd);
    }
  }
  // The SQL must compute what buildReport computes, or the comparison is of different work:
  // the two JSON steps are checked (json_each has an `id` column of its own, easily grouped
  // by mistake).
  const leaks = Number(/^leak\|(\d+)\|/m.exec(sqlOut)?.[1] ?? 0);
  if (leaks !== report.exposure.replication.count) {
    throw new Error(`replication: sqlite3 ${leaks}, redscope ${report.exposure.replication.count}`);
  }
  const top = report.exposure.cves[0];
  const topSql = top && new RegExp(`^${top.id}\\|[^|]*\\|(\\d+)$`, "m").exec(sqlOut)?.[1];
  if (top && Number(topSql) !== top.servers) {
    throw new Error(`${top.id}: sqlite3 ${topSql} servers, redscope ${top.servers}`);
  }

  const rowsOut = plan.map((p, k) => ({
    step: p.name,
    redscope: median(perStep.map((m) => p.calls.reduce((a, c) => a + (m.get(c) ?? 0), 0))),
    sqlite3: median(sqlRuns.map((r) => r.steps[k]!)),
  }));
  const known = new Set(plan.flatMap((p) => p.calls));
  const unplanned = [...new Set(perStep.flatMap((m) => [...m.keys()]))].filter(
    (k) => !known.has(k),
  );
  if (unplanned.length > 0) {
    // buildReport changed: its new calls get a row so the split still adds up.
    rowsOut.push({
      step: `other: ${unplanned.join(" ")}`,
      redscope: median(perStep.map((m) => unplanned.reduce((a, c) => a + (m.get(c) ?? 0), 0))),
      sqlite3: Number.NaN,
    });
  }
  const buildS = median(inProcess);
  // Per run, then the median: a difference of medians can come out negative.
  const outsideCalls = median(
    inProcess.map((t, i) => t - [...perStep[i]!.values()].reduce((a, b) => a + b, 0)),
  );
  const sqlTotal = median(sqlRuns.map((r) => r.total));
  const json = median(cliRuns.json);
  const text = median(cliRuns.text);
  const worst = Math.max(json, text);

  const open = report.states.find((x) => x.state === "open")?.count ?? 0;
  const versions = report.versions.products.reduce(
    (a, p) => a + p.rows.length + p.omitted.versions,
    0,
  );
  console.log(
    `data: ${report.total.toLocaleString("en-US")} results, ${open.toLocaleString("en-US")} open, ${versions} product versions, ${report.exposure.replication.count.toLocaleString("en-US")} replication leaks, ${report.trends.length} trend points`,
  );
  const w = [36, 9, 8];
  const line = (a: string, b: string, c: string): void =>
    console.log(`${a.padEnd(w[0]!)} | ${b.padStart(w[1]!)} | ${c.padStart(w[2]!)}`);
  line("step", "redscope", "sqlite3");
  console.log(`${"-".repeat(w[0]!)}-|-${"-".repeat(w[1]!)}-|-${"-".repeat(w[2]!)}`);
  for (const r of rowsOut)
    line(r.step, s2(r.redscope), Number.isNaN(r.sqlite3) ? "-" : s2(r.sqlite3));
  line("JS outside store calls", s2(outsideCalls), "");
  line("buildReport in-process / sqlite3 run", s2(buildS), s2(sqlTotal));
  line("render json (in-process)", s2(median(renderS.json)), "");
  line("render text (in-process)", s2(median(renderS.text)), "");
  line("CLI startup (report --list)", s2(startup), "");
  line("CLI report --format json", s2(json), "");
  line("CLI report --format text", s2(text), "");
  line("redscope recount (once, in-process)", s2(recountSeconds), "");
  console.log(
    `goal: whole report < ${GOAL_S} s: ${worst < GOAL_S ? "met" : "NOT met"} (${s2(worst)} s; the sqlite3 recount ${s2(sqlTotal)} s, ${s2(sqlTotal / worst)}× as long)`,
  );
  return {
    rows,
    loadSeconds: loadS,
    dbMB,
    aggregateRows,
    exampleRows,
    cli: { startup, json, text, runs: cliRuns },
    inProcess: { buildReport: buildS, outsideCalls, runs: inProcess, render: renderS },
    steps: rowsOut,
    sqlite3: { total: sqlTotal, runs: sqlRuns.map((r) => r.total) },
    recountSeconds,
    goalMet: worst < GOAL_S,
  };
}

/**
 * Migration 9 on a store of the first size: the aggregates dropped, the store opened again
 * (the backfill runs in the open), and the aggregates checked against the ones kept on insert.
 */
async function backfill(db: string, scanId: string): Promise<number> {
  let s = await openStore(db);
  const kept = JSON.stringify(await s.aggregateCounts(scanId));
  await s.close();
  const raw = new Database(db);
  raw.exec(
    "DROP TABLE result_aggregates; DROP TABLE result_examples; DELETE FROM schema_migrations WHERE version >= 9",
  );
  raw.close();
  const t0 = performance.now();
  s = await openStore(db);
  const seconds = (performance.now() - t0) / 1000;
  const again = JSON.stringify(await s.aggregateCounts(scanId));
  await s.close();
  if (again !== kept) throw new Error("the backfilled aggregates differ from the ones kept");
  return seconds;
}

async function main(): Promise<void> {
  const dir = KEEP ?? fs.mkdtempSync(path.join(os.tmpdir(), "redscope-bench-report-"));
  fs.mkdirSync(dir, { recursive: true });
  const db = path.join(dir, "report-bench.db");
  if (fs.existsSync(db)) throw new Error(`${db} exists: the bench needs a fresh store`);
  try {
    const matcher = new CveMatcher(loadCveTable());
    const scanId = "report-bench-2";
    // The newer scan ran over the last 10 hours (the store stamps it finished now). The older
    // one, three months before, got a tenth of the answers, a little more of them open.
    const hour = 3600_000;
    const now = Math.floor(Date.now() / hour) * hour;
    const older = scanInfo("report-bench-1", new Date(now - 90 * 24 * hour).toISOString(), "1");
    const newer = scanInfo(scanId, new Date(now - 10 * hour).toISOString(), "2");
    const last = SIZES[SIZES.length - 1]!;

    // The shell and the bundled SQLite differ: their planners may pick different indexes.
    const shell = timeCommand("sqlite3", ["--version"]).stdout.split(" ")[0];
    const bundled = new Database(":memory:");
    const { v } = bundled.prepare("SELECT sqlite_version() AS v").get() as { v: string };
    bundled.close();
    console.log(
      `report on ${os.cpus().length} cores, Node ${process.version}, SQLite ${v} (redscope) and ${shell} (sqlite3); ${RUNS} runs each, median seconds, warm page cache; load ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(" ")}`,
    );

    let t0 = performance.now();
    let store = await openStore(db);
    const olderRows = Math.floor(SIZES[0]! / 10);
    await storeScan(
      store,
      older,
      olderRows,
      new Synth(1, { open: 0.16, protected: 0.08, error: 0.03 }, matcher),
    );
    const synth = new Synth(2, { open: 0.13, protected: 0.09, error: 0.03 }, matcher);
    await store.beginScan(newer);
    await store.beginShard({ scanId, shard: "0/1", startedAt: newer.startedAt });
    let stored = 0;
    const figures: SizeFigures[] = [];
    let backfillSeconds: number | undefined;
    for (const size of SIZES) {
      // The scan grows: the rows are those one scan of `last` results would hold first.
      await storeRows(store, newer, stored, size, last, synth);
      stored = size;
      if (size === last) {
        await store.finishShard(scanId, "0/1", await store.stateCounts(scanId, "0/1"));
      }
      await store.close();
      const loadS = (performance.now() - t0) / 1000;
      if (BACKFILL && backfillSeconds === undefined) {
        backfillSeconds = await backfill(db, scanId);
        console.log(
          `migration 9's backfill of ${(size + olderRows).toLocaleString("en-US")} stored results: ${s2(backfillSeconds)} s`,
        );
      }
      figures.push(await measure(dir, db, scanId, size, loadS));
      t0 = performance.now();
      store = await openStore(db);
    }
    await store.close();
    if (figures.length > 1) {
      const a = figures[0]!;
      const z = figures[figures.length - 1]!;
      const worst = (f: SizeFigures): number => Math.max(f.cli.json, f.cli.text);
      console.log(
        `\n${z.rows.toLocaleString("en-US")} results against ${a.rows.toLocaleString("en-US")}: the report ${s2(worst(z) / worst(a))}× as long (${s2(worst(a))} → ${s2(worst(z))} s), the sqlite3 recount ${s2(z.sqlite3.total / a.sqlite3.total)}× (${s2(a.sqlite3.total)} → ${s2(z.sqlite3.total)} s)`,
      );
    }
    console.log(
      JSON.stringify({
        sizes: SIZES,
        olderRows,
        ...(backfillSeconds !== undefined ? { backfillSeconds } : {}),
        figures,
        goalSeconds: GOAL_S,
        goalMet: figures.every((f) => f.goalMet),
      }),
    );
    if (KEEP) console.log(`kept in ${dir}: report-bench.db, report.sql, report.json, report.txt`);
  } finally {
    if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
