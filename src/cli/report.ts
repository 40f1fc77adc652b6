/** `redscope report`: stored scans as tables, Markdown, CSV, JSON or one self-contained HTML file. */
import { once } from "node:events";
import fs from "node:fs";
import { type Command, Option } from "commander";
import { buildDiff, buildReport, type Report } from "../report/build.js";
import { buildHoneypotReport, type HoneypotReport, honeypotTables } from "../report/honeypot.js";
import {
  EXPORT_NAMES,
  exportCsvHeader,
  exportCsvRows,
  exportJsonl,
  exportRecord,
  HOST_COLUMNS,
  hostListLegend,
  hostRow,
  isRedisState,
} from "../report/hosts.js";
import { renderHoneypotHtml, renderHtml, renderTablesHtml } from "../report/html.js";
import {
  formatQuery,
  type HostQuery,
  matchingResults,
  parseQuery,
  QueryError,
  type QueryKey,
  scanLookups,
  setTerm,
  storeFilter,
} from "../report/query.js";
import { loadReference, PublishedDataError, type Reference } from "../report/reference.js";
import {
  mdCell,
  renderCsv,
  renderCsvTables,
  renderJson,
  renderMarkdown,
  renderMarkdownTables,
  renderText,
  renderTextTables,
} from "../report/render.js";
import { type Cell, diffTables, table } from "../report/tables.js";
import type { ProbeResult } from "../schema/result.js";
import { defaultDbPath, type ScanInfo, type Store } from "../store/index.js";
import { terminalText } from "../untrusted/text.js";
import { fail } from "./errors.js";
import { hostListTable } from "./format.js";
import { openStoreOrFail } from "./open.js";
import { parseIntIn } from "./units.js";

const FORMATS = ["text", "md", "csv", "jsonl", "json", "html"] as const;
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
  recount?: boolean;
  hosts?: boolean;
  scan?: string;
  query?: string;
  state?: string;
  product?: string;
  version?: string;
  cve?: string;
  country?: string;
  asn?: string;
  cloud?: string;
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
    .option(
      "--recount",
      "count from the scan's rows instead of the counts kept as results were stored (slow: reads the scan; to check them)",
    )
    .option(
      "--hosts",
      "one line per Redis-protocol server of the scan (-f csv|jsonl: every field, Shadowserver's column names)",
    )
    .option("--scan <id>", "the scan (same as the scan-id argument; default: the newest)")
    .option("--query <query>", `with --hosts: a filter, e.g. 'state:open version:<6 country:DE'`)
    .option(
      "--state <state>",
      "with --hosts: this state only (any state; default: all Redis-protocol ones)",
    )
    .option("--product <product>", "with --hosts: redis, valkey, keydb, …")
    .option("--version <version>", "with --hosts: a version (7.0.15) or a comparison (<6, >=7.2)")
    .option("--cve <id>", "with --hosts: servers whose version carries this CVE")
    .option("--country <cc>", "with --hosts: two-letter country code")
    .option("--asn <asn>", "with --hosts: AS number (AS3320 or 3320)")
    .option("--cloud <provider>", "with --hosts: cloud provider (aws, gcp, azure, …)")
    .option("--honeypot", "the honeypot's sessions instead of a scan")
    .option("--since <date>", "with --honeypot: sessions from this day or time (UTC)")
    .option("--until <date>", "with --honeypot: sessions before this day or time (UTC)")
    .action(async (scanId: string | undefined, flags: ReportFlags) => {
      process.exitCode = await runReport(scanId, flags);
    });
}

export async function runReport(scanId: string | undefined, flags: ReportFlags): Promise<number> {
  if (flags.scan !== undefined) {
    if (scanId !== undefined && scanId !== flags.scan)
      fail("give the scan once: an argument or --scan");
    scanId = flags.scan;
  }
  const query = hostQueryOrFail(flags);
  if (flags.hosts) {
    if (flags.diff || flags.honeypot || flags.list || flags.reference !== undefined) {
      fail(
        "--hosts lists one scan's servers: no --diff, --honeypot, --list or --reference with it",
      );
    }
    if (flags.format === "html") fail("--hosts: -f text, md, csv, jsonl or json");
  } else {
    if (query !== undefined) fail("--query and the filter flags go with --hosts");
    if (flags.format === "jsonl") fail("-f jsonl is the per-result export: it goes with --hosts");
  }
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
    if (flags.hosts) {
      const scan = scanId !== undefined ? await scanOrFail(store, scanId) : await newestScan(store);
      return await writeHostList(store, scan, query ?? {}, flags);
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
      report = await buildReport(store, after, options, { recount: flags.recount === true });
      report.diff = await buildDiff(store, before.id, after.id);
    } else {
      const scan = scanId !== undefined ? await scanOrFail(store, scanId) : await newestScan(store);
      report = await buildReport(store, scan, options, { recount: flags.recount === true });
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

/** The --hosts filter from --query and the single flags (one parser: setTerm); none given: undefined. */
function hostQueryOrFail(flags: ReportFlags): HostQuery | undefined {
  const singles: Array<[QueryKey, string | undefined]> = [
    ["state", flags.state],
    ["product", flags.product],
    ["version", flags.version],
    ["cve", flags.cve],
    ["country", flags.country],
    ["asn", flags.asn],
    ["cloud", flags.cloud],
  ];
  if (flags.query === undefined && singles.every(([, v]) => v === undefined)) return undefined;
  const q: HostQuery = {};
  try {
    for (const [k, v] of singles) if (v !== undefined) setTerm(q, k, v);
    if (flags.query !== undefined) parseQuery(flags.query, q);
  } catch (e) {
    if (e instanceof QueryError) fail(`--query: ${e.message}`);
    throw e;
  }
  return q;
}

/** Results written out per this many rows: memory stays bounded whatever the scan's size. */
const HOST_BATCH = 1000;

/**
 * `report --hosts`: the scan's matching results streamed out a batch at a time (never the
 * whole scan in memory), in the store's insertion order. Without a state in the query, the
 * Redis-protocol states only.
 */
async function writeHostList(
  store: Store,
  scan: ScanInfo,
  query: HostQuery,
  flags: ReportFlags,
): Promise<number> {
  const filter = await storeFilter(query, scanLookups(store, scan.id));
  const out = await openOutput(flags.output);
  const format = flags.format;
  const q = formatQuery(query);
  const title = `redscope report --hosts: scan ${scan.id} (${scan.source}), started ${scan.startedAt}${q ? `, query ${q}` : ""}`;
  const widths: number[] = [];
  const legend: ProbeResult[] = [];
  let n = 0;
  let batch: ProbeResult[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const first = n === batch.length;
    switch (format) {
      case "csv":
        await out.write(exportCsvRows(batch));
        break;
      case "jsonl":
        await out.write(exportJsonl(batch));
        break;
      case "json":
        await out.write(
          batch
            .map((r, i) => `${first && i === 0 ? "" : ",\n"}${JSON.stringify(exportRecord(r))}`)
            .join(""),
        );
        break;
      case "md":
        await out.write(
          `${batch.map((r) => `| ${HOST_COLUMNS.map(([k]) => mdCell(hostRow(r)[k])).join(" | ")} |`).join("\n")}\n`,
        );
        break;
      default:
        await out.write(`${hostListTable(batch.map(hostRow), { widths, header: first })}\n`);
    }
    batch = [];
  };
  switch (format) {
    case "csv":
      await out.write(exportCsvHeader());
      break;
    case "json":
      await out.write(
        `{"scan":${JSON.stringify(scan)},"query":${JSON.stringify(q)},"columns":${JSON.stringify(EXPORT_NAMES)},"hosts":[\n`,
      );
      break;
    case "md":
      await out.write(
        `# ${mdCell(title)}\n\n| ${HOST_COLUMNS.map(([, t]) => t).join(" | ")} |\n|${HOST_COLUMNS.map(() => "---").join("|")}|\n`,
      );
      break;
    case "text":
      await out.write(`${terminalText(title, 1000)}\n\n`);
  }
  try {
    for await (const r of matchingResults(store, scan.id, filter)) {
      if (query.state === undefined && !isRedisState(r.state)) continue;
      n++;
      batch.push(r);
      if (
        (r.cves !== undefined && !legend.some((x) => x.cves !== undefined)) ||
        (r.cve_verdict?.backports_possible &&
          !legend.some((x) => x.cve_verdict?.backports_possible)) ||
        (r.cve_verdict?.ambiguous !== undefined &&
          !legend.some((x) => x.cve_verdict?.ambiguous !== undefined))
      )
        legend.push(r);
      if (batch.length >= HOST_BATCH) await flush();
    }
    await flush();
    if (format === "json") await out.write(`\n],"count":${n}}\n`);
    if (format === "text" || format === "md") {
      const servers = query.state === undefined || isRedisState(query.state);
      const what = servers ? "Redis-protocol server" : "result";
      const lines = [n === 0 ? `no ${what}s match` : `${n} ${what}${n === 1 ? "" : "s"}`];
      lines.push(...hostListLegend(legend));
      await out.write(
        format === "md"
          ? `\n${lines.map((l) => mdCell(l)).join("\n\n")}\n`
          : `${lines.join("\n")}\n`,
      );
    }
    await out.close();
  } catch (e) {
    out.abort();
    throw e;
  }
  return 0;
}

interface Output {
  write(text: string): Promise<void>;
  close(): Promise<void>;
  abort(): void;
}

/**
 * Where a streamed listing goes: stdout (waiting when the pipe is full), or a file written as
 * a temp file renamed over it at the end, as `write` does for whole reports.
 */
async function openOutput(output: string | undefined): Promise<Output> {
  if (output === undefined || output === "-") {
    return {
      write: async (text) => {
        if (!process.stdout.write(text)) await once(process.stdout, "drain");
      },
      close: async () => {},
      abort: () => {},
    };
  }
  const existing = fs.statSync(output, { throwIfNoEntry: false });
  const direct = existing !== undefined && !existing.isFile();
  const target = direct ? output : `${output}.tmp-${process.pid}`;
  let fd: number;
  try {
    fd = fs.openSync(target, "w");
  } catch (e) {
    fail(`cannot write ${output}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const failed = (e: unknown): never => {
    fs.closeSync(fd);
    if (!direct) fs.rmSync(target, { force: true });
    fail(`cannot write ${output}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  };
  return {
    write: async (text) => {
      try {
        fs.writeSync(fd, text);
      } catch (e) {
        failed(e);
      }
    },
    close: async () => {
      try {
        fs.closeSync(fd);
        if (!direct) fs.renameSync(target, output);
      } catch (e) {
        if (!direct) fs.rmSync(target, { force: true });
        fail(`cannot write ${output}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    },
    abort: () => {
      fs.closeSync(fd);
      if (!direct) fs.rmSync(target, { force: true });
    },
  };
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
