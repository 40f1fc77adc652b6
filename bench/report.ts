/**
 * How long `redscope report` takes on a large store, next to the same aggregations done by the
 * sqlite3 shell on the same file. A fresh SQLite store gets a scan of synthetic results in the mix
 * internet scans see (75% auth_required, 13% open with a long tail of 115 versions and their real
 * CVE lists from the bundled table, 9% protected, 3% errors; cloud / ASN / country on most rows),
 * plus an older, smaller scan of the same targets so the trend has two points. Then, 3 runs each,
 * median wall time:
 *   - the CLI as a user runs it (`redscope report SCAN --format json|text -o FILE --db FILE`), and
 *     its startup alone (`report --list`);
 *   - buildReport in-process, timed per store call, to split startup from aggregation;
 *   - `sqlite3 FILE < report.sql`: each part of the report as one SQL statement (`.timer on`).
 * The goal: the whole report in under 10 s on this machine.
 *
 *   node dist/bench/report.js [--rows 1000000] [--keep DIR]
 *
 * --keep DIR writes the store, the SQL script and both reports into DIR and leaves them there
 * (for sqlite3 or `node --cpu-prof` afterwards); without it a temp dir is used and removed.
 * Prints a table and one JSON line. Needs Debian's sqlite3 on PATH.
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
import type { GroupColumn, ProbeResult } from "../src/schema/result.js";
import { openStore, type ResultQuery, type Store } from "../src/store/index.js";
import { benchSize, PORTS, Synth, scanInfo, storeScan, TARGETS } from "./synthetic.js";

const { rows: ROWS, keep: KEEP } = benchSize();
const RUNS = 3;
const GOAL_S = 10;
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
      // One GROUP BY over every column a table counts by; redscope sums it down in JS to the
      // state, NICER, version, cloud, ASN, country, role and worst-CVSS tables.
      name: "fact counts (states … worst CVSS)",
      calls: [`groupCounts(${FACT_COLUMNS.join(",")})`],
      sql: group(FACT_COLUMNS.join(", ")),
    },
    {
      // One read of the open rows and the rows with CVEs. replicationLeak in SQL: a replica or
      // master address other than the server's own; the window count is the total, the rows the
      // first examples in (ip, port) order. Then the CVE counts per id.
      name: "open and CVE rows: replication check, CVE counts",
      calls: ["results(openOrCves)"],
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
      // examples are read from the rows that show a sign of compromise (a partial index).
      name: "signs of compromise: examples",
      calls: ["results(compromised)"],
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
 * The store, with the time of each call added up under a key naming it (groupCounts(state),
 * results(open), …). A results() pass is timed from the call to the end of the iteration, so it
 * includes JSON.parse of every record and buildReport's work on it.
 */
function timedStore(store: Store, spent: Map<string, number>): Store {
  const add = (key: string, t0: number): void => {
    spent.set(key, (spent.get(key) ?? 0) + (performance.now() - t0) / 1000);
  };
  async function* timedResults(q: ResultQuery): AsyncIterable<ProbeResult> {
    const key = `results(${q.openOrCves ? "openOrCves" : q.withCves ? "withCves" : q.compromised ? "compromised" : (q.states ?? [q.state ?? "all"]).join("|")})`;
    const t0 = performance.now();
    try {
      yield* store.results(q);
    } finally {
      add(key, t0);
    }
  }
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "results") return timedResults;
      if (prop === "groupCounts") {
        return async (scanId: string, by: readonly GroupColumn[]) => {
          const t0 = performance.now();
          try {
            return await target.groupCounts(scanId, by);
          } finally {
            add(`groupCounts(${by.join(",")})`, t0);
          }
        };
      }
      if (prop === "listScans" || prop === "stateCounts") {
        return async (...args: [string, string?]) => {
          const t0 = performance.now();
          try {
            return prop === "listScans"
              ? await target.listScans()
              : await target.stateCounts(...args);
          } finally {
            add(prop, t0);
          }
        };
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === "function" ? v.bind(target) : v;
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

    let t0 = performance.now();
    const store = await openStore(db);
    const olderRows = Math.floor(ROWS / 10);
    await storeScan(
      store,
      older,
      olderRows,
      new Synth(1, { open: 0.16, protected: 0.08, error: 0.03 }, matcher),
    );
    await storeScan(
      store,
      newer,
      ROWS,
      new Synth(2, { open: 0.13, protected: 0.09, error: 0.03 }, matcher),
    );
    await store.close();
    const loadS = (performance.now() - t0) / 1000;
    const dbMB = fs.statSync(db).size / 1048576;
    console.log(
      `load: ${ROWS.toLocaleString("en-US")} + ${olderRows.toLocaleString("en-US")} results in ${s2(loadS)} s (${dbMB.toFixed(0)} MB); not part of the measurement`,
    );

    // Reports go to files in the bench dir: the same path a user's -o FILE takes.
    const cli = (args: string[]): number => timeCommand(process.execPath, [BIN, ...args]).seconds;
    const startup = median(
      Array.from({ length: RUNS }, () =>
        cli(["report", "--list", "--db", db, "-o", path.join(dir, "list.txt")]),
      ),
    );
    const cliRuns: Record<"json" | "text", number[]> = { json: [], text: [] };
    for (const format of ["json", "text"] as const) {
      for (let i = 0; i < RUNS; i++) {
        const out = path.join(dir, `report.${format === "json" ? "json" : "txt"}`);
        cliRuns[format].push(cli(["report", scanId, "--format", format, "-o", out, "--db", db]));
      }
    }

    const plan = steps(scanId);
    const inProcess: number[] = [];
    const perStep: Array<Map<string, number>> = [];
    let report: Report | undefined;
    const renderS: Record<"json" | "text", number[]> = { json: [], text: [] };
    for (let i = 0; i < RUNS; i++) {
      const spent = new Map<string, number>();
      const s = await openStore(db);
      const scan = await s.getScan(scanId);
      if (!scan) throw new Error(`scan ${scanId} missing`);
      t0 = performance.now();
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
    if (!report) throw new Error("no report");

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
        const steps = statements.map((st) => {
          const t = times.slice(at, at + st.length).reduce((a, b) => a + b, 0);
          at += st.length;
          return t;
        });
        sqlRuns.push({ total: seconds, steps });
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
      throw new Error(
        `replication: sqlite3 ${leaks}, redscope ${report.exposure.replication.count}`,
      );
    }
    const top = report.exposure.cves[0];
    const topSql = top && new RegExp(`^${top.id}\\|[^|]*\\|(\\d+)$`, "m").exec(sqlOut)?.[1];
    if (top && Number(topSql) !== top.servers) {
      throw new Error(`${top.id}: sqlite3 ${topSql} servers, redscope ${top.servers}`);
    }

    const rows = plan.map((p, k) => ({
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
      rows.push({
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

    const open = report.states.find((s) => s.state === "open")?.count ?? 0;
    const versions = report.versions.products.reduce(
      (a, p) => a + p.rows.length + p.omitted.versions,
      0,
    );
    console.log(
      `data: ${report.total.toLocaleString("en-US")} results, ${open.toLocaleString("en-US")} open, ${versions} product versions, ${report.exposure.replication.count.toLocaleString("en-US")} replication leaks, ${report.trends.length} trend points`,
    );
    // The two columns run different SQLite releases, whose planners may pick different indexes.
    const shell = timeCommand("sqlite3", ["--version"]).stdout.split(" ")[0];
    const bundled = new Database(":memory:");
    const { v } = bundled.prepare("SELECT sqlite_version() AS v").get() as { v: string };
    bundled.close();
    console.log(
      `report on ${os.cpus().length} cores, Node ${process.version}, SQLite ${v} (redscope) and ${shell} (sqlite3); ${RUNS} runs each, median seconds, warm page cache`,
    );
    const w = [36, 9, 8];
    const line = (a: string, b: string, c: string): void =>
      console.log(`${a.padEnd(w[0]!)} | ${b.padStart(w[1]!)} | ${c.padStart(w[2]!)}`);
    line("step", "redscope", "sqlite3");
    console.log(`${"-".repeat(w[0]!)}-|-${"-".repeat(w[1]!)}-|-${"-".repeat(w[2]!)}`);
    for (const r of rows)
      line(r.step, s2(r.redscope), Number.isNaN(r.sqlite3) ? "-" : s2(r.sqlite3));
    line("JS outside store calls", s2(outsideCalls), "");
    line("buildReport in-process / sqlite3 run", s2(buildS), s2(sqlTotal));
    line("render json (in-process)", s2(median(renderS.json)), "");
    line("render text (in-process)", s2(median(renderS.text)), "");
    line("CLI startup (report --list)", s2(startup), "");
    line("CLI report --format json", s2(json), "");
    line("CLI report --format text", s2(text), "");
    console.log(
      `goal: whole report < ${GOAL_S} s: ${worst < GOAL_S ? "met" : "NOT met"} (${s2(worst)} s, ${s2(worst / sqlTotal)}× sqlite3)`,
    );
    console.log(
      JSON.stringify({
        rows: ROWS,
        olderRows,
        loadSeconds: loadS,
        dbMB,
        cli: { startup, json, text, runs: cliRuns },
        inProcess: { buildReport: buildS, outsideCalls, runs: inProcess, render: renderS },
        steps: rows,
        sqlite3: { total: sqlTotal, runs: sqlRuns.map((r) => r.total) },
        goalSeconds: GOAL_S,
        goalMet: worst < GOAL_S,
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
