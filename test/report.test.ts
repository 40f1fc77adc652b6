/**
 * `redscope report`: the tables are right (coverage cut, NICER rows, places per state, exposure,
 * trends, diff), the same from SQLite and PostgreSQL, and every format keeps hostile strings
 * inert.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";
import { buildDiff, buildReport, classifyChange } from "../src/report/build.js";
import { parseReference } from "../src/report/reference.js";
import { renderCsv, renderMarkdown, renderText } from "../src/report/render.js";
import { reportTables } from "../src/report/tables.js";
import type { ProbeResult } from "../src/schema/result.js";
import { openStore, type Store } from "../src/store/index.js";
import { runCli } from "./helpers/cli.js";
import { type PgServer, startPostgres } from "./helpers/postgres.js";
import { testScan } from "./helpers/scans.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-report-"));
const DB = path.join(tmp, "report.db");
let pg: PgServer;
let pgUrl = "";

const HOSTILE = "\u001b[31m<script>alert(1)</script>|=cmd|' /C calc'!A0";

/**
 * 100 targets: 40 open (versions 7.0.15 ×20, 6.2.6 ×10, 5.0.7 ×5, 4.0.14 ×3, 3.2.12 ×1, plus one
 * Valkey 8.0.1), 30 auth, 10 protected, 20 timeouts.
 */
function results(): ProbeResult[] {
  const out: ProbeResult[] = [];
  const versions = [
    ...Array(20).fill("7.0.15"),
    ...Array(10).fill("6.2.6"),
    ...Array(5).fill("5.0.7"),
    ...Array(3).fill("4.0.14"),
    "3.2.12",
  ] as string[];
  for (let i = 0; i < 100; i++) {
    const base = {
      ip: `192.0.2.${i}`,
      port: 6379,
      transport: "tcp" as const,
      time: "2026-11-21T10:00:00.000Z",
      shard: "0/1",
    };
    if (i < 39) {
      const r: ProbeResult = {
        ...base,
        state: "open",
        nicer: "Returned version",
        server: { product: "redis", version: versions[i], role: i < 35 ? "master" : "slave" },
        cloud: {
          provider: "aws",
          // One region name a spreadsheet would run as a formula.
          region: i < 30 ? "us-east-1" : i === 38 ? '=HYPERLINK("http://x")' : "eu-west-1",
          service: "EC2",
        },
        asn: 16509,
        as_org: "AMAZON-02",
        country: "US",
      };
      if (versions[i] === "7.0.15") {
        r.cves = [{ id: "CVE-2025-49844", cvss: 10, fixed_in: "7.2.11" }];
      }
      if (i === 0) r.server!.replicas = [{ ip: "10.1.2.3", port: 6379, state: "online" }];
      if (i === 36) {
        r.server!.master_host = "10.9.9.9";
        r.server!.master_port = 6379;
      }
      out.push(r);
    } else if (i === 39) {
      out.push({
        ...base,
        state: "open",
        nicer: "Returned version",
        server: { product: "valkey", version: "8.0.1", redis_version: "7.2.4", role: "master" },
        as_org: HOSTILE,
        asn: 64512,
        country: "NL",
      });
    } else if (i < 70) {
      out.push({
        ...base,
        state: "auth_required",
        nicer: "Requires authentication",
        detail: "NOAUTH",
      });
    } else if (i < 80) {
      out.push({ ...base, state: "protected", nicer: "Running protected", detail: "DENIED" });
    } else {
      out.push({ ...base, state: "timeout", detail: "connect_timeout" });
    }
  }
  return out;
}

async function seed(store: Store): Promise<void> {
  await store.beginScan(testScan("older", "2026-10-01T00:00:00.000Z"));
  // The older scan: ten fewer open servers (they were auth-protected then), one still open that
  // is now remediated, one at another version.
  const old = results().map((r, i): ProbeResult => {
    if (i >= 29 && i < 39)
      return { ...r, state: "auth_required" as const, server: undefined, cves: undefined };
    if (i === 40)
      return { ...r, state: "open" as const, server: { product: "redis", version: "6.0.9" } };
    if (i === 1) return { ...r, server: { ...r.server!, version: "6.2.6" }, cves: undefined };
    return r;
  });
  await store.insertResults("older", old);
  await store.finishShard("older", "0/1", await store.stateCounts("older"));
  await store.beginScan(testScan("newer", "2026-11-21T00:00:00.000Z"));
  await store.insertResults("newer", results());
  await store.finishShard("newer", "0/1", await store.stateCounts("newer"));
}

before(async () => {
  const store = await openStore(DB);
  await seed(store);
  await store.close();
  pg = await startPostgres();
  pgUrl = await pg.database("report");
  const p = await openStore(pgUrl);
  await seed(p);
  await p.close();
});

after(async () => {
  await pg?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function reportOf(where: string, coverage = 90) {
  const store = await openStore(where);
  try {
    const s = await store.getScan("newer");
    return await buildReport(store, s!, { coverage, top: 20 });
  } finally {
    await store.close();
  }
}

describe("report: the tables", () => {
  test("state tables: the NICER rows and the finer states, with percentages", async () => {
    const r = await reportOf(DB);
    assert.equal(r.total, 100);
    // The study's six rows in its order, zero rows too, as shares of the 80 Redis nodes found.
    assert.equal(r.nicerTotal, 80);
    assert.deepEqual(
      r.nicer.map((s) => [s.nicer, s.count, s.percent]),
      [
        ["Requires authentication", 30, 37.5],
        ["Returned version", 40, 50],
        ["Running protected", 10, 12.5],
        ["Encountered error", 0, 0],
        ["IP whitelisting", 0, 0],
        ["Reported busy", 0, 0],
      ],
    );
    const table = reportTables(r).find((t) => t.id === "nicer")!;
    assert.equal(table.rows.length, 6);
    assert.match(table.note ?? "", /percent of the 80 Redis nodes found/);
    assert.match(
      table.note ?? "",
      /100 targets probed, 0 not Redis, 0 silent, 0 closed, 20 timed out/,
    );
    assert.deepEqual(
      r.states.map((s) => [s.state, s.count, s.percent]),
      [
        ["open", 40, 40],
        ["auth_required", 30, 30],
        ["protected", 10, 10],
        ["timeout", 20, 20],
      ],
    );
  });

  test("version table: per product, by count, cut where the cumulative share reaches --coverage", async () => {
    const r = await reportOf(DB, 90);
    const redis = r.versions.products.find((p) => p.product === "redis")!;
    assert.equal(redis.total, 39);
    // 20 + 10 + 5 = 35 of 39 = 89.7% < 90: the cut comes after 4.0.14 (38 = 97.4%).
    assert.deepEqual(
      redis.rows.map((v) => [v.version, v.count, Number(v.cumulative.toFixed(1))]),
      [
        ["7.0.15", 20, 51.3],
        ["6.2.6", 10, 76.9],
        ["5.0.7", 5, 89.7],
        ["4.0.14", 3, 97.4],
      ],
    );
    assert.deepEqual(redis.omitted, { versions: 1, count: 1 });
    const valkey = r.versions.products.find((p) => p.product === "valkey")!;
    assert.deepEqual(
      valkey.rows.map((v) => v.version),
      ["8.0.1"],
      "forks apart, by their own version",
    );
    const half = await reportOf(DB, 50);
    assert.deepEqual(
      half.versions.products.find((p) => p.product === "redis")!.rows.map((v) => v.version),
      ["7.0.15"],
    );
  });

  test("clouds, ASNs and countries per state", async () => {
    const r = await reportOf(DB);
    assert.deepEqual(r.clouds[0], {
      key: ["aws", "us-east-1", "EC2"],
      total: 30,
      byState: { open: 30 },
    });
    assert.deepEqual(r.asns[0]?.key, ["16509", "AMAZON-02"]);
    assert.deepEqual(
      r.countries.map((c) => [c.key[0], c.total]),
      [
        ["US", 39],
        ["NL", 1],
      ],
    );
  });

  test("exposure: roles, replication pointing elsewhere, CVEs, worst CVSS, end of life", async () => {
    const e = (await reportOf(DB)).exposure;
    assert.deepEqual(e.openByRole, [
      { role: "master", count: 36 },
      { role: "slave", count: 4 },
    ]);
    assert.equal(e.replication.count, 2);
    assert.deepEqual(
      e.replication.examples.map((x) => [x.ip, x.pointsTo]),
      [
        ["192.0.2.0", ["10.1.2.3:6379"]],
        ["192.0.2.36", ["10.9.9.9:6379"]],
      ],
    );
    assert.deepEqual(e.cves, [{ id: "CVE-2025-49844", cvss: 10, servers: 20 }]);
    assert.deepEqual(e.worstCvss, [{ band: "critical (9.0–10)", servers: 20 }]);
    assert.deepEqual(
      e.eol.map((x) => [x.branch, x.servers]),
      [
        ["7.0", 20],
        ["5.0", 5],
        ["4.0", 3],
        ["3.2", 1],
      ],
    );
  });

  test("trends: every scan of the same targets, oldest first", async () => {
    const r = await reportOf(DB);
    assert.deepEqual(
      r.trends.map((t) => [t.scanId, t.counts.open]),
      [
        ["older", 31],
        ["newer", 40],
      ],
    );
  });

  test("diff: newly open, remediated, changed state and version", async () => {
    const store = await openStore(DB);
    try {
      const d = await buildDiff(store, "older", "newer");
      assert.deepEqual(d.summary, {
        newlyOpen: 10,
        remediated: 1,
        changedState: 0,
        changedVersion: 1,
        appeared: 0,
        disappeared: 0,
      });
      assert.equal(d.rows.find((x) => x.ip === "192.0.2.40")?.change, "remediated");
      assert.equal(d.rows.find((x) => x.ip === "192.0.2.1")?.change, "changed_version");
    } finally {
      await store.close();
    }
    assert.equal(classifyChange({ ip: "x", port: 1, b: { state: "open" } }), "appeared");
    assert.equal(classifyChange({ ip: "x", port: 1, a: { state: "open" } }), "disappeared");
    assert.equal(
      classifyChange({ ip: "x", port: 1, a: { state: "timeout" }, b: { state: "protected" } }),
      "changed_state",
    );
  });

  test("PostgreSQL gives the same report as SQLite", async () => {
    const a = await reportOf(DB);
    const b = await reportOf(pgUrl);
    const strip = (r: typeof a) => ({ ...r, generatedAt: "", scan: { ...r.scan, finishedAt: "" } });
    assert.deepEqual(strip(b), strip(a));
  });
});

describe("report: formats keep hostile strings inert", () => {
  test("terminal: no escape sequence reaches the screen", async () => {
    const text = renderText(await reportOf(DB));
    assert.ok(!text.includes("\u001b"), "ESC removed");
    assert.match(text, /\?\[31m<script>/);
  });

  test("Markdown: pipes and markup escaped", async () => {
    const md = renderMarkdown(await reportOf(DB));
    assert.ok(!md.includes("<script>"));
    assert.match(md, /\\<script\\>alert\(1\)\\<\/script\\>\\\|=cmd\\\|/);
  });

  test("CSV: one tidy long table, numbers as numbers, quoted, and no cell starts a formula", async () => {
    const csv = renderCsv(await reportOf(DB));
    // Parsed back by a real CSV parser: every row has the header's columns.
    const rows = parse(csv, { columns: true, cast: true }) as Array<Record<string, unknown>>;
    assert.equal(Object.keys(rows[0]!)[0], "table");
    const asn = rows.find((r) => r.table === "asns" && r.asn === 64512)!;
    assert.equal(asn.organisation, "?[31m<script>alert(1)</script>|=cmd|' /C calc'!A0");
    assert.equal(asn.total, 1);
    const formula = rows.find((r) => r.table === "clouds" && r.service === "EC2" && r.total === 1)!;
    assert.equal(formula.region, `'=HYPERLINK("http://x")`);
    // Shares are numbers from 0 to 100 in columns named for it; counts are numbers.
    const open = rows.find((r) => r.table === "states" && r.state === "open")!;
    assert.equal(open.count, 40);
    assert.equal(open.percent, 40);
    const v = rows.find((r) => r.table === "versions-redis" && r.version === "7.0.15")!;
    assert.equal(v.percent, 51.28);
    assert.equal(v["cumulative percent"], 51.28);
    for (const r of rows) {
      for (const [k, cell] of Object.entries(r)) {
        assert.ok(typeof cell !== "string" || !/^[=+@\t\r]/.test(cell), `${k}: ${cell}`);
        if (/percent|^count$|^total$/.test(k))
          assert.ok(cell === "" || typeof cell === "number", `${k}: ${cell}`);
      }
    }
  });
});

describe("redscope report (CLI)", () => {
  test("text by default for the newest scan; --list; every format to a file", async () => {
    const r = await runCli(["report", "--db", DB]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^redscope report: scan newer \(scan\)/);
    // The study's sentence: "112 different version strings; thirty of them cover 90%".
    assert.match(r.stdout, /Versions: redis, 5 different version strings; 4 of them cover 90%/);
    assert.match(r.stdout, /percent of the 39 redis servers whose version was read/);
    assert.match(r.stdout, /Trend: 2 scans of the same target space/);
    const list = await runCli(["report", "--list", "--db", DB]);
    assert.match(list.stdout, /older\s+scan\s+2026-10-01/);
    // Every listing honours -f.
    const listJson = JSON.parse(
      (await runCli(["report", "--list", "--db", DB, "-f", "json"])).stdout,
    );
    assert.deepEqual(
      listJson.scans.map((x: { id: string }) => x.id),
      ["older", "newer"],
    );
    const listCsv = (await runCli(["report", "--list", "--db", DB, "-f", "csv"])).stdout;
    assert.match(
      listCsv,
      /^table,scan,source,started,finished,targets,ports,results\r\nscans,older,scan,/,
    );
    const listHtml = (await runCli(["report", "--list", "--db", DB, "-f", "html"])).stdout;
    assert.match(listHtml, /^<!DOCTYPE html>[\s\S]*<td>older<\/td>/);
    for (const format of ["md", "csv", "json"]) {
      const file = path.join(tmp, `r.${format}`);
      const w = await runCli(["report", "older", "--db", DB, "-f", format, "-o", file]);
      assert.equal(w.code, 0, w.stderr);
      assert.ok(fs.statSync(file).size > 500, format);
    }
    // Not a regular file: written to, never replaced.
    const devnull = await runCli(["report", "--db", DB, "-f", "json", "-o", "/dev/null"]);
    assert.equal(devnull.code, 0, devnull.stderr);
    assert.ok(fs.statSync("/dev/null").isCharacterDevice(), "/dev/null is still a device");
    const json = JSON.parse(fs.readFileSync(path.join(tmp, "r.json"), "utf8"));
    assert.equal(json.scan.id, "older");
  });

  test("--diff A B prints the changes", async () => {
    const r = await runCli(["report", "--db", DB, "--diff", "older", "newer"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /newly open\s+10/);
    assert.match(r.stdout, /192\.0\.2\.40:6379\s+remediated\s+open redis 6\.0\.9\s+auth_required/);
  });

  test("--reference nicer-2020: the study's figures beside this scan's, in every format", async () => {
    const text = await runCli(["report", "--db", DB, "--reference", "nicer-2020"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /NICER row\s+count\s+percent\s+NICER 2020 count\s+NICER 2020 percent/,
    );
    assert.match(text.stdout, /Requires authentication\s+30\s+37\.50%\s+77050\s+74\.95%/);
    assert.match(text.stdout, /Reported busy\s+0\s+0\.00%\s+11\s+0\.01%/);
    assert.match(text.stdout, /Redis nodes found\s+80\s+100\.00%\s+102801\s+100\.00%/);
    // The version table: the study's count and share beside each version it listed.
    assert.match(text.stdout, /4\.0\.14\s+3\s+7\.69%\s+97\.44%\s+160\s+1\.48%/);
    assert.match(text.stdout, /7\.0\.15\s+20\s+51\.28%\s+51\.28%\s+-\s+-/);
    assert.match(text.stdout, /NICER 2020: 112 different version strings, 30 of them cover 90%/);
    // The published counts of open servers, each with its source.
    assert.match(text.stdout, /this scan: open \(no authentication\)\s+2026-11-21\s+40\s+redscope/);
    for (const n of ["13590", "9916", "17443", "8000"])
      assert.match(text.stdout, new RegExp(`\\s${n}\\s`));
    assert.match(
      text.stdout,
      /https:\/\/www\.rapid7\.com\/blog\/post\/2020\/11\/30\/nicer-protocol-deep-dive-internet-exposure-of-redis\//,
    );
    assert.match(text.stdout, /https:\/\/redis\.io\/blog\/fewer-unsecured-redis-servers/);

    const csv = await runCli(["report", "--db", DB, "--reference", "nicer-2020", "-f", "csv"]);
    const csvRows = parse(csv.stdout, { columns: true, cast: true }) as Array<
      Record<string, unknown>
    >;
    const auth = csvRows.find(
      (r) => r.table === "nicer" && r["NICER row"] === "Requires authentication",
    )!;
    assert.deepEqual(
      [auth.count, auth.percent, auth["NICER 2020 count"], auth["NICER 2020 percent"]],
      [30, 37.5, 77050, 74.95],
    );
    const shodan = csvRows.find(
      (r) =>
        r.table === "published" && r.figure === "Shodan: unsecured Redis servers ('a year later')",
    )!;
    assert.deepEqual([shodan.date, shodan.servers], ["~2018", 17443]);
    const md = await runCli(["report", "--db", DB, "--reference", "nicer-2020", "-f", "md"]);
    assert.match(md.stdout, /\| Returned version \| 40 \| 50\.00% \| 13590 \| 13\.22% \|/);
    const json = JSON.parse(
      (await runCli(["report", "--db", DB, "--reference", "nicer-2020", "-f", "json"])).stdout,
    );
    assert.equal(json.reference.nicer.total, 102801);
    assert.equal(json.reference.versions.distinct, 112);
    assert.deepEqual(
      json.reference.open_counts.map((c: { count: number }) => c.count),
      [9916, 17443, 8000],
    );
    // HTML: the published counts are a series of the trend chart, on the same time axis.
    const html = await runCli(["report", "--db", DB, "--reference", "nicer-2020", "-f", "html"]);
    assert.equal(html.code, 0, html.stderr);
    assert.match(html.stdout, /open, published \(NICER 2020\)/);
    assert.match(html.stdout, />~?2018</);
    // Without --reference none of it.
    const plain = await runCli(["report", "--db", DB, "-f", "csv"]);
    assert.doesNotMatch(plain.stdout, /NICER 2020|^published,/m);
  });

  test("a reference file that went wrong fails with the field it broke", () => {
    const good = JSON.parse(
      fs.readFileSync(
        path.join(import.meta.dirname, "../../data/reference/nicer-2020.json"),
        "utf8",
      ),
    );
    assert.equal(parseReference(good, "x.json").nicer?.total, 102801);
    const broken = structuredClone(good);
    broken.nicer.rows["Returned version"] = 13591;
    assert.throws(
      () => parseReference(broken, "x.json"),
      /x\.json: nicer\.total: expected the rows' sum 102802/,
    );
    const unsourced = structuredClone(good);
    unsourced.open_counts[0].source = "nowhere";
    assert.throws(() => parseReference(unsourced, "x.json"), /open_counts\[0\]\.source/);
    const row = structuredClone(good);
    row.nicer.rows["Protected"] = 1;
    assert.throws(() => parseReference(row, "x.json"), /"Protected" is not a NICER row/);
  });

  test("bad input: one line, exit 2", async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ["report", "--db", DB, "--reference", "nicer-2019"],
        /no reference "nicer-2019" \(bundled: nicer-2020\)/,
      ],
      [["report", "nosuch", "--db", DB], /no scan "nosuch" in /],
      [["report", "--db", DB, "--diff", "older"], /--diff takes two scan ids/],
      [["report", "--db", DB, "--coverage", "0"], /--coverage/],
      [["report", "--db", DB, "-f", "pdf"], /argument 'pdf' is invalid/],
      [["report", "--db", path.join(tmp, "none.db")], /no store at .*none\.db: run a scan first/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1);
    }
    assert.ok(!fs.existsSync(path.join(tmp, "none.db")), "a report never creates a store");
  });
});
