/** `redscope report`: stored scans as tables, Markdown, CSV, JSON or one self-contained HTML file. */
import fs from "node:fs";
import { type Command, Option } from "commander";
import { buildDiff, buildReport, type Report } from "../report/build.js";
import { buildHoneypotReport, type HoneypotReport, honeypotTables } from "../report/honeypot.js";
import { renderHoneypotHtml, renderHtml, renderTablesHtml } from "../report/html.js";
import { loadReference, PublishedDataError, type Reference } from "../report/reference.js";
import {
  renderCsv,
  renderCsvTables,
  renderJson,
  renderMarkdown,
  renderMarkdownTables,
  renderText,
  renderTextTables,
} from "../report/render.js";
import { type Cell, diffTables, table } from "../report/tables.js";
import { defaultDbPath, type ScanInfo, type Store } from "../store/index.js";
import { fail } from "./errors.js";
import { openStoreOrFail } from "./open.js";
import { parseIntIn } from "./units.js";

const FORMATS = ["text", "md", "csv", "json", "html"] as const;
type Format = (typeof FORMATS)[number];

interface ReportFlags {
  db?: string;
  format: Format;
  output?: string;
  coverage: string;
  top: string;
  diff?: string[];
  list?: boolean;
  honeypot?: boolean;
  since?: string;
  until?: string;
  reference?: string;
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("the NICER tables, versions, clouds, exposure, trends and diffs of stored scans")
    .argument("[scan-id]", "the scan to report on (default: the newest in the store)")
    .addOption(
      new Option("-f, --format <format>", "output format").choices(FORMATS).default("text"),
    )
    .option("-o, --output <file>", "write the report to a file (default: stdout)")
    .option(
      "--db <path|url>",
      "results store: SQLite file or postgres://… URL (default $REDSCOPE_DB or ~/.local/share/redscope/redscope.db)",
    )
    .option("--coverage <percent>", "cut the version table at this cumulative share", "90")
    .option("--top <n>", "rows in the cloud, ASN, country, CVE and replication tables", "20")
    .option("--diff <scans...>", "compare two scans: --diff SCAN_A SCAN_B")
    .option("--list", "list the scans in the store")
    .option(
      "--reference <id>",
      "print published figures beside this scan's: nicer-2020 (the NICER study's tables and the Shodan counts Redis quoted in 2020)",
    )
    .option("--honeypot", "the honeypot's sessions instead of a scan")
    .option("--since <date>", "with --honeypot: sessions from this day or time (UTC)")
    .option("--until <date>", "with --honeypot: sessions before this day or time (UTC)")
    .action(async (scanId: string | undefined, flags: ReportFlags) => {
      process.exitCode = await runReport(scanId, flags);
    });
}

export async function runReport(scanId: string | undefined, flags: ReportFlags): Promise<number> {
  const coverage = parseIntIn("--coverage", flags.coverage, 1, 100);
  const top = parseIntIn("--top", flags.top, 1, 100_000);
  if (flags.diff !== undefined && flags.diff.length !== 2) {
    fail(`--diff takes two scan ids (before, after), not ${flags.diff.length}`);
  }
  if (flags.diff && scanId !== undefined) fail("give either a scan id or --diff A B, not both");
  if (!flags.honeypot && (flags.since !== undefined || flags.until !== undefined)) {
    fail("--since and --until go with --honeypot");
  }
  if (flags.honeypot && (scanId !== undefined || flags.diff)) {
    fail("--honeypot reports the honeypot's sessions: no scan id or --diff with it");
  }
  if (flags.honeypot && flags.reference !== undefined) {
    fail("--reference goes with a scan's report, not --honeypot");
  }
  let reference: Reference | undefined;
  if (flags.reference !== undefined) {
    try {
      reference = loadReference(flags.reference);
    } catch (e) {
      if (e instanceof PublishedDataError) fail(`--reference: ${e.message}`);
      throw e;
    }
  }
  const options = { coverage, top, ...(reference ? { reference } : {}) };
  const range: { from?: string; to?: string } = {};
  if (flags.since !== undefined) range.from = isoDate("--since", flags.since);
  if (flags.until !== undefined) range.to = isoDate("--until", flags.until);
  const dbSpec = flags.db ?? defaultDbPath();
  if (!/^postgres(ql)?:\/\//i.test(dbSpec) && !fs.existsSync(dbSpec.replace(/^sqlite:/, ""))) {
    fail(`no store at ${dbSpec}: run a scan first, or pass --db`);
  }
  const store = await openStoreOrFail(dbSpec);
  try {
    if (flags.list) {
      write(flags.output, scanList(await store.listScans(), flags.format));
      return 0;
    }
    if (flags.honeypot) {
      const h = await buildHoneypotReport(store, range, top);
      write(flags.output, renderHoneypot(h, flags.format));
      return 0;
    }
    let report: Report;
    if (flags.diff) {
      const [a, b] = flags.diff as [string, string];
      const before = await scanOrFail(store, a);
      const after = await scanOrFail(store, b);
      report = await buildReport(store, after, options);
      report.diff = await buildDiff(store, before.id, after.id);
    } else {
      const scan = scanId !== undefined ? await scanOrFail(store, scanId) : await newestScan(store);
      report = await buildReport(store, scan, options);
    }
    write(flags.output, render(report, flags.format, flags.diff !== undefined));
    return 0;
  } finally {
    await store.close();
  }
}

function render(r: Report, format: Format, diffOnly: boolean): string {
  switch (format) {
    case "md":
      return renderMarkdown(r);
    case "csv":
      return renderCsv(r);
    case "json":
      return renderJson(r);
    case "html":
      return renderHtml(r);
    default:
      // On a terminal a diff is what was asked for: its two tables, not the whole report.
      if (diffOnly && r.diff) return renderTextTables(diffTables(r.diff));
      return renderText(r);
  }
}

function renderHoneypot(h: HoneypotReport, format: Format): string {
  const tables = honeypotTables(h);
  const span =
    `sessions ${h.from ? `from ${h.from} ` : ""}${h.to ? `until ${h.to}` : h.from ? "" : "of all time"}`.trim();
  switch (format) {
    case "md":
      return renderMarkdownTables("redscope report: honeypot", [span], tables);
    case "csv":
      return renderCsvTables(tables);
    case "json":
      return `${JSON.stringify(h, null, 2)}\n`;
    case "html":
      return renderHoneypotHtml(h, span, new Date().toISOString());
    default:
      return `redscope report: honeypot, ${span}\n\n${renderTextTables(tables)}`;
  }
}

/** A day (YYYY-MM-DD, taken as 00:00 UTC) or a full ISO time, as ISO. */
function isoDate(flag: string, v: string): string {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00.000Z` : v;
  const t = Date.parse(day);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) {
    fail(`${flag} ${JSON.stringify(v).slice(0, 40)}: use YYYY-MM-DD or an ISO 8601 time`);
  }
  return new Date(t).toISOString();
}

async function scanOrFail(store: Store, id: string): Promise<ScanInfo> {
  const scan = await store.getScan(id);
  if (!scan) fail(`no scan ${JSON.stringify(id).slice(0, 80)} in ${store.location} (see --list)`);
  return scan;
}

async function newestScan(store: Store): Promise<ScanInfo> {
  const scans = await store.listScans();
  const newest = scans[scans.length - 1];
  if (!newest) fail(`no scan in ${store.location} yet: run redscope scan or redscope import`);
  return newest;
}

/** The scans in the store, in any format (JSON: the scan records whole). */
function scanList(scans: ScanInfo[], format: Format): string {
  if (format === "json") return `${JSON.stringify({ scans }, null, 2)}\n`;
  const rows: Cell[][] = scans.map((s) => [
    s.id,
    s.source,
    s.startedAt.slice(0, 19),
    s.finishedAt?.slice(0, 19) ?? "-",
    s.targets,
    s.ports,
    s.counts ? Object.values(s.counts).reduce((a, b) => a + b, 0) : "-",
  ]);
  const t = table(
    "scans",
    "Scans in the store",
    [
      ["scan", false],
      ["source", false],
      ["started", false],
      ["finished", false],
      ["targets", false],
      ["ports", false],
      ["results", true],
    ],
    rows,
  );
  switch (format) {
    case "csv":
      return renderCsvTables([t]);
    case "md":
      return renderMarkdownTables("redscope: scans in the store", [], [t]);
    case "html":
      return renderTablesHtml("redscope: scans in the store", [t]);
    default:
      return renderTextTables([t]);
  }
}

/**
 * A report file is written whole or not at all: a temp file renamed over the target. Not so
 * for what is not a regular file (/dev/null, a FIFO): renaming over it would replace it.
 */
function write(output: string | undefined, text: string): void {
  if (output === undefined || output === "-") {
    process.stdout.write(text);
    return;
  }
  const existing = fs.statSync(output, { throwIfNoEntry: false });
  if (existing && !existing.isFile()) {
    try {
      fs.writeFileSync(output, text);
    } catch (e) {
      fail(`cannot write ${output}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    return;
  }
  const tmp = `${output}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, output);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    fail(`cannot write ${output}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}
