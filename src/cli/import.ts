/**
 * `redscope import FILE...`: results researchers already have (zgrab2, Shodan, our own JSONL)
 * into the store as one scan, classified with the same taxonomy, so `report` and the dashboard
 * treat them like a scan of ours.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { type Command, Option } from "commander";
import type { Enricher } from "../intel/enrich.js";
import type { ProbeResult } from "../schema/result.js";
import {
  detectFileFormat,
  IMPORT_FORMATS,
  type ImportFormat,
  readImport,
} from "../sources/import.js";
import { type Store, StoreConflictError, StoreDamagedError } from "../store/index.js";
import { checkScanId, fail } from "./errors.js";
import { intelLine, stateTable } from "./format.js";
import { loadEnricherOrFail, openStoreOrFail } from "./open.js";
import { parseIntIn } from "./units.js";
import { VERSION } from "./version.js";

interface ImportFlags {
  format: ImportFormat | "auto";
  port?: string;
  db?: string;
  scanId?: string;
  intelDir?: string;
  intel?: boolean;
  quiet?: boolean;
}

/** Rows per insert: one transaction (SQLite) or round trip (PostgreSQL) each. */
const BATCH_ROWS = 2000;
/** Malformed lines shown one by one before they are only counted. */
const MAX_WARNINGS = 20;
/** An import is one unsharded scan. */
const SHARD = "0/1";
const STATUS_EVERY_MS = 500;

export function registerImport(program: Command): void {
  program
    .command("import")
    .description("load zgrab2 redis output, Shodan banners or redscope JSONL into the store")
    .argument("<files...>", "input files, one JSON record a line (.gz accepted)")
    .addOption(
      new Option("--format <format>", "input format (auto: from the first record)")
        .choices(["auto", ...IMPORT_FORMATS])
        .default("auto"),
    )
    .option("--port <n>", "port of zgrab2 records that carry none (default 6379)")
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
  for (const f of files) checkReadable(f);
  const format = flags.format === "auto" ? await detectFormats(files) : flags.format;
  if (port !== undefined && format !== "zgrab2") {
    fail(`--port is for zgrab2 files, which carry no port; ${format} records have their own`);
  }

  const enricher = await loadEnricherOrFail(flags);
  const store = await openStoreOrFail(flags.db);
  try {
    const run = { files, format, scanId, quiet: flags.quiet === true, enricher };
    return await importInto(store, port === undefined ? run : { ...run, port });
  } catch (e) {
    if (e instanceof StoreConflictError) fail(e.message);
    if (!(e instanceof StoreFailure)) throw e;
    // Not the user's input: exit 1. Whole batches are in; the scan is left unfinished.
    process.stderr.write(`redscope: store ${store.location}: ${e.message}\n`);
    return 1;
  } finally {
    await store.close();
  }
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

/** One format for all files: a scan records one source. */
async function detectFormats(files: string[]): Promise<ImportFormat> {
  const found = new Map<ImportFormat, string>();
  for (const f of files) {
    let format: ImportFormat | undefined;
    try {
      format = await detectFileFormat(f);
    } catch (e) {
      fail(`cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (format === undefined) {
      fail(`cannot tell the format of ${f}: give --format redscope, zgrab2 or shodan`);
    }
    if (!found.has(format)) found.set(format, f);
  }
  if (found.size > 1) {
    const list = [...found].map(([format, f]) => `${f} is ${format}`).join(", ");
    fail(`the files are in different formats (${list}): import them separately`);
  }
  return [...found.keys()][0]!;
}

/** A store operation failed (disk full, server gone): not something the user typed. */
class StoreFailure extends Error {}

/**
 * The store's answer; its errors become StoreFailure, except a conflict (the user's --scan-id)
 * and a damaged file (said as such).
 */
async function viaStore<T>(op: Promise<T>): Promise<T> {
  try {
    return await op;
  } catch (e) {
    if (e instanceof StoreConflictError || e instanceof StoreDamagedError) throw e;
    throw new StoreFailure((e as Error).message);
  }
}

interface ImportRun {
  files: string[];
  format: ImportFormat;
  port?: number;
  scanId: string;
  quiet: boolean;
  enricher: Enricher | undefined;
}

interface Tally {
  read: number;
  valid: number;
  imported: number;
  malformed: number;
}

async function importInto(store: Store, run: ImportRun): Promise<number> {
  const t0 = Date.now();
  const { scanId } = run;
  await viaStore(
    store.beginScan({
      id: scanId,
      source: `import:${run.format}`,
      startedAt: new Date(t0).toISOString(),
      targets: run.files.join(" "),
      ports: run.port === undefined ? "" : String(run.port),
      shardCount: 1,
      options: { format: run.format, intel: run.enricher !== undefined },
      toolVersion: VERSION,
    }),
  );
  await viaStore(store.beginShard({ scanId, shard: SHARD, startedAt: new Date(t0).toISOString() }));

  const tally: Tally = { read: 0, valid: 0, imported: 0, malformed: 0 };
  const showStatus = !run.quiet && process.stderr.isTTY === true;
  let lastStatus = 0;
  let batch: ProbeResult[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    tally.imported += await viaStore(store.insertResults(scanId, rows));
  };

  for (const file of run.files) {
    const opts =
      run.port === undefined ? { format: run.format } : { format: run.format, port: run.port };
    for await (const l of readImport(file, opts)) {
      tally.read++;
      if (l.record === undefined) {
        if (++tally.malformed <= MAX_WARNINGS) {
          process.stderr.write(`${file}:${l.line}: ${l.error}\n`);
        }
        if (tally.malformed === MAX_WARNINGS) {
          process.stderr.write("redscope: further malformed lines are only counted\n");
        }
        continue;
      }
      tally.valid++;
      const r = l.record;
      r.scan_id = scanId;
      r.shard = SHARD;
      if (run.enricher) enrichKeepingSource(run.enricher, r);
      batch.push(r);
      if (batch.length >= BATCH_ROWS) await flush();
      if (showStatus && Date.now() - lastStatus >= STATUS_EVERY_MS) {
        lastStatus = Date.now();
        process.stderr.write(`\r\x1b[2K${statusLine(file, tally, lastStatus - t0)}`);
      }
    }
  }
  await flush();
  if (showStatus) process.stderr.write("\r\x1b[2K");
  const shardCounts = await viaStore(store.stateCounts(scanId, SHARD));
  await viaStore(store.finishShard(scanId, SHARD, shardCounts));
  const counts = await viaStore(store.stateCounts(scanId));
  const ms = Date.now() - t0;

  const out = process.stdout;
  out.write(
    `${run.files.join(", ")} (${run.format}): ${tally.read} records read, ${tally.imported} imported, ` +
      `${tally.valid - tally.imported} duplicates, ${tally.malformed} malformed\n`,
  );
  out.write(`${stateTable(counts)}\n`);
  out.write(
    `scan ${scanId} (import:${run.format}) in ${store.location}; ${(ms / 1000).toFixed(1)} s` +
      `${ms > 0 ? `, ${Math.round((tally.read * 1000) / ms)} records/s` : ""}\n`,
  );
  out.write(
    run.enricher
      ? `${intelLine(run.enricher.status)}; values from the file kept\n`
      : "intel: not enriched (--no-intel)\n",
  );
  if (tally.malformed > 0 && tally.valid === 0) {
    // Not one good line: a wrong file or a wrong --format. Say so in the exit status.
    process.stderr.write(
      `redscope: nothing imported: all ${tally.malformed} lines were malformed\n`,
    );
    return 1;
  }
  if (tally.malformed > 0) {
    out.write(
      `note: ${tally.malformed} malformed line${tally.malformed === 1 ? " was" : "s were"} skipped ` +
        "(listed on stderr); the good lines were imported\n",
    );
  }
  return 0;
}

/**
 * What the file says about the address (Shodan's ASN, organisation, country and cloud, a
 * redscope record's CVEs) was true when the source saw it; our intel is today's. So the file's
 * values stay and enrichment only fills in what the file did not have.
 */
function enrichKeepingSource(enricher: Enricher, r: ProbeResult): void {
  const { cloud, asn, as_org, country, cves } = r;
  enricher.enrich(r);
  if (cloud !== undefined) r.cloud = cloud;
  if (asn !== undefined) r.asn = asn;
  if (as_org !== undefined) r.as_org = as_org;
  if (country !== undefined) r.country = country;
  if (cves !== undefined) r.cves = cves;
}

function statusLine(file: string, t: Tally, ms: number): string {
  const rate = ms > 0 ? Math.round((t.read * 1000) / ms) : 0;
  return `${file}: ${t.read.toLocaleString("en-US")} read, ${t.valid.toLocaleString("en-US")} valid, ${t.malformed} malformed (${rate.toLocaleString("en-US")}/s)`;
}
