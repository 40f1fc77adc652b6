/**
 * `redscope import FILE...` (or `-`, stdin): results researchers already have (zgrab2, Shodan,
 * our own JSONL; one record a line or one JSON array) into the store as one scan, classified
 * with the same taxonomy, so `report` and the dashboard treat them like a scan of ours.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { type Command, Option } from "commander";
import { IMPORT_FORMATS, type ImportFormat } from "../sources/import.js";
import { STDIN } from "../sources/input.js";
import { ResolveFileError, readResolveFile } from "../sources/resolve.js";
import { StoreConflictError, StoreDamagedError } from "../store/index.js";
import { ConfigError } from "../usecases/errors.js";
import {
  detectFormats,
  type ImportConfig,
  type ImportSummary,
  type ImportTally,
  label,
  runImport,
} from "../usecases/import.js";
import { checkScanId, fail } from "./errors.js";
import { intelLine, stateTables } from "./format.js";
import { HOST_LIST_DEFAULT, HOST_LIST_HELP, parseHostList, storedHostList } from "./hosts.js";
import { loadEnricherOrFail, openStoreOrFail } from "./open.js";
import { parseIntIn } from "./units.js";
import { VERSION } from "./version.js";

interface ImportFlags {
  format: ImportFormat | "auto";
  port?: string;
  resolve?: string;
  db?: string;
  scanId?: string;
  intelDir?: string;
  intel?: boolean;
  quiet?: boolean;
  hostList?: string;
}

/** Malformed lines shown one by one before they are only counted. */
const MAX_WARNINGS = 20;
const STATUS_EVERY_MS = 500;

export function registerImport(program: Command): void {
  program
    .command("import")
    .description("load zgrab2 redis output, Shodan banners or redscope JSONL into the store")
    .argument(
      "<files...>",
      "input files ('-' = stdin): one JSON record a line, or one JSON array (.gz accepted)",
    )
    .addOption(
      new Option("--format <format>", "input format (auto: from the first record)")
        .choices(["auto", ...IMPORT_FORMATS])
        .default("auto"),
    )
    .option("--port <n>", "port of zgrab2 records that carry none (default 6379)")
    .option(
      "--resolve <file>",
      "addresses of the names zgrab2 probed: lines 'name ip', 'name,ip' or 'ip name…' (hosts file); nothing is resolved",
    )
    .option(
      "--db <path|url>",
      "results store: SQLite file or postgres://… URL (default $REDSCOPE_DB or ~/.local/share/redscope/redscope.db)",
    )
    .option("--scan-id <id>", "scan id to import into (default: a new random id)")
    .option(
      "--intel-dir <dir>",
      "CVE table, cloud ranges and MaxMind DBs (default $REDSCOPE_INTEL_DIR or ~/.local/share/redscope/intel)",
    )
    .option("--no-intel", "no enrichment (CVEs, cloud, ASN/geo)")
    .option("-q, --quiet", "no status line")
    .option("--host-list <n>", HOST_LIST_HELP, HOST_LIST_DEFAULT)
    .action(async (files: string[], flags: ImportFlags) => {
      process.exitCode = await runImportCommand(files, flags);
    });
}

export async function runImportCommand(files: string[], flags: ImportFlags): Promise<number> {
  // Flags and files are checked first: bad input never creates a database or a scan.
  const port = flags.port !== undefined ? parseIntIn("--port", flags.port, 1, 65535) : undefined;
  const scanId =
    flags.scanId ?? process.env.REDSCOPE_SCAN_ID ?? crypto.randomBytes(8).toString("hex");
  checkScanId(scanId);
  const hostListLimit = parseHostList(flags.hostList);
  const stdin = files.includes(STDIN);
  if (stdin && files.length > 1) fail("read stdin alone: redscope import - (files as arguments)");
  if (!stdin) for (const f of files) checkReadable(f);
  // stdin is read once: its format is told from its first recognised record, as it streams.
  const format = flags.format === "auto" && !stdin ? await detectFormats(files) : flags.format;
  if (format !== "auto" && format !== "zgrab2") {
    if (port !== undefined) {
      fail(`--port is for zgrab2 files, which carry no port; ${format} records have their own`);
    }
    if (flags.resolve !== undefined) {
      fail(
        `--resolve is for zgrab2 files, which may carry only a name; ${format} records have an ip`,
      );
    }
  }
  let resolve: Map<string, string | null> | undefined;
  if (flags.resolve !== undefined) {
    try {
      resolve = await readResolveFile(flags.resolve);
    } catch (e) {
      if (e instanceof ResolveFileError) fail(e.message);
      throw e;
    }
  }

  const enricher = await loadEnricherOrFail(flags);
  const store = await openStoreOrFail(flags.db);
  const showStatus = flags.quiet !== true && process.stderr.isTTY === true;
  let lastStatus = 0;
  let malformed = 0;
  const cfg: ImportConfig = {
    files,
    format,
    scanId,
    store,
    toolVersion: VERSION,
    onMalformed: (file, line, error) => {
      const n = ++malformed;
      if (n <= MAX_WARNINGS) process.stderr.write(`${label(file)}:${line}: ${error}\n`);
      if (n === MAX_WARNINGS) {
        process.stderr.write("redscope: further malformed lines are only counted\n");
      }
    },
  };
  if (port !== undefined) cfg.port = port;
  if (resolve !== undefined) cfg.resolve = resolve;
  if (stdin) cfg.stdin = process.stdin;
  if (enricher) cfg.enricher = enricher;
  if (showStatus) {
    cfg.onProgress = (file, tally, ms) => {
      if (ms - lastStatus < STATUS_EVERY_MS) return;
      lastStatus = ms;
      process.stderr.write(`\r\x1b[2K${statusLine(file, tally, ms)}`);
    };
  }
  let summary: ImportSummary;
  try {
    summary = await runImport(cfg);
  } catch (e) {
    if (e instanceof StoreConflictError) fail(e.message);
    if (e instanceof StoreDamagedError || e instanceof ConfigError) throw e;
    // Not the user's input: exit 1. Whole batches are in; the scan is left unfinished.
    process.stderr.write(`redscope: store ${store.location}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    if (showStatus) process.stderr.write("\r\x1b[2K");
    await store.close();
  }
  const { tally, counts, nicer, elapsedMs: ms } = summary;
  const names = files.map(label).join(", ");
  if (!summary.recorded) {
    // Not one good record: a wrong file or a wrong --format. Nothing was written, so the newest
    // scan in the store is still the one before.
    process.stderr.write(
      tally.read === 0
        ? `redscope: nothing imported: ${names} holds no records; no scan was recorded\n`
        : `redscope: nothing imported: all ${tally.malformed} records of ${names} were malformed; no scan was recorded\n`,
    );
    return 1;
  }
  const out = process.stdout;
  out.write(
    `${names} (${summary.format}): ${tally.read} record${tally.read === 1 ? "" : "s"} read, ${tally.imported} imported, ` +
      `${tally.valid - tally.imported} duplicates, ${tally.malformed} malformed\n`,
  );
  out.write(`${stateTables({ states: counts, nicer })}\n`);
  out.write(
    `scan ${scanId} (import:${summary.format}) in ${store.location}; ${(ms / 1000).toFixed(1)} s` +
      `${ms > 0 ? `, ${Math.round((tally.read * 1000) / ms)} records/s` : ""}\n`,
  );
  out.write(
    enricher
      ? `${intelLine(enricher.status)}; values from the file kept\n`
      : "intel: not enriched (--no-intel)\n",
  );
  if (tally.imported > 0) out.write(await storedHostList(flags.db, scanId, hostListLimit));
  if (tally.unresolved > 0) {
    out.write(
      `note: ${tally.unresolved} record${tally.unresolved === 1 ? " has" : "s have"} a name and no address ` +
        `(zgrab2 kept only the name${resolve ? ", and --resolve had no single address for it" : ""}): ` +
        "stored with ip (name); give --resolve FILE to map names to addresses\n",
    );
  }
  if (tally.malformed > 0) {
    out.write(
      `note: ${tally.malformed} malformed line${tally.malformed === 1 ? " was" : "s were"} skipped ` +
        "(listed on stderr); the good lines were imported\n",
    );
  }
  return 0;
}

function checkReadable(file: string): void {
  try {
    if (fs.statSync(file).isDirectory()) fail(`cannot read ${file}: it is a directory`);
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    fail(`cannot read ${file}: ${code}`);
  }
}

function statusLine(file: string, t: ImportTally, ms: number): string {
  const rate = ms > 0 ? Math.round((t.read * 1000) / ms) : 0;
  return `${label(file)}: ${t.read.toLocaleString("en-US")} read, ${t.valid.toLocaleString("en-US")} valid, ${t.malformed} malformed (${rate.toLocaleString("en-US")}/s)`;
}
