/**
 * Importing results researchers already have (zgrab2, Shodan, our own JSONL) as one scan of the
 * store: every record classified with the scan's taxonomy and enriched, so reports and the
 * dashboard treat it like a scan of ours. The CLI checks flags and prints; this runs.
 */
import type { Enricher } from "../intel/enrich.js";
import { type ProbeResult, unresolvedName } from "../schema/result.js";
import {
  detectFileFormat,
  type ImportFormat,
  type ImportOptions,
  readImport,
} from "../sources/import.js";
import { STDIN } from "../sources/input.js";
import type { NameMap } from "../sources/resolve.js";
import type { Store } from "../store/index.js";
import { ConfigError } from "./errors.js";
import { ScanRecord } from "./record.js";

/** An import is one unsharded scan. */
const SHARD = "0/1";

export interface ImportConfig {
  /** Files, or `-` alone: the records come from `stdin`. */
  files: string[];
  /** `auto` only for stdin, which cannot be read twice: its first recognised record decides. */
  format: ImportFormat | "auto";
  /** The bytes of `-` (the CLI passes process.stdin). */
  stdin?: AsyncIterable<Buffer>;
  /** Port for zgrab2 records that carry none. */
  port?: number;
  /** Addresses of the names zgrab2 probed without writing the address (--resolve). */
  resolve?: NameMap;
  scanId: string;
  store: Store;
  enricher?: Enricher;
  toolVersion: string;
  /** A line that was not imported, with why (one line, safe to print). */
  onMalformed?: (file: string, line: number, error: string) => void;
  /** Called after each record read, with the running tally (the caller paces its output). */
  onProgress?: (file: string, tally: ImportTally, elapsedMs: number) => void;
}

export interface ImportTally {
  read: number;
  valid: number;
  imported: number;
  malformed: number;
  /** Valid records with a name and no address (zgrab2 `domain` without `ip` or --resolve entry). */
  unresolved: number;
}

export interface ImportSummary {
  tally: ImportTally;
  /** The format read (stdin's, as its records showed). */
  format: ImportFormat;
  /** False when not one record was good: no scan was recorded, the store is as it was. */
  recorded: boolean;
  /** The scan's results per state, from the store. */
  counts: Record<string, number>;
  /** The scan's results per NICER row, from the store. */
  nicer: Record<string, number>;
  elapsedMs: number;
}

/** The one format of all the files (a scan records one source), or the user's error. */
export async function detectFormats(files: string[]): Promise<ImportFormat> {
  const found = new Map<ImportFormat, string>();
  for (const f of files) {
    let format: ImportFormat | undefined;
    try {
      format = await detectFileFormat(f);
    } catch (e) {
      throw new ConfigError(
        `cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    if (format === undefined) {
      throw new ConfigError(
        `cannot tell the format of ${f}: give --format redscope, zgrab2 or shodan`,
      );
    }
    if (!found.has(format)) found.set(format, f);
  }
  if (found.size > 1) {
    const list = [...found].map(([format, f]) => `${f} is ${format}`).join(", ");
    throw new ConfigError(`the files are in different formats (${list}): import them separately`);
  }
  return [...found.keys()][0]!;
}

/**
 * Read every file (or stdin) into the store as scan `scanId`. Nothing is written before the
 * first good record: an import of which no record is good (a wrong file, a wrong --format, an
 * unreadable stream) leaves no scan behind, so `report` still picks the scan before it. A bad
 * record later on is counted and skipped, and the good ones around it are kept. A store that
 * fails throws StoreWriteError (whole batches are in; the scan is left unfinished); a
 * conflicting scan id StoreConflictError (at the first good record, before any row); a stream
 * whose format cannot be told, or whose format does not fit --port or --resolve, ConfigError.
 */
export async function runImport(cfg: ImportConfig): Promise<ImportSummary> {
  const t0 = Date.now();
  let record: ScanRecord | undefined;
  let format = cfg.format === "auto" ? undefined : cfg.format;
  const begin = async (f: ImportFormat): Promise<ScanRecord> => {
    if (f !== "zgrab2" && (cfg.port !== undefined || cfg.resolve !== undefined)) {
      const flag = cfg.port !== undefined ? "--port" : "--resolve";
      throw new ConfigError(`${flag} is for zgrab2 records; this input is ${f}`);
    }
    return ScanRecord.begin(
      cfg.store,
      {
        id: cfg.scanId,
        source: `import:${f}`,
        startedAt: new Date(t0).toISOString(),
        targets: cfg.files.join(" "),
        ports: cfg.port === undefined ? "" : String(cfg.port),
        shardCount: 1,
        options: { format: f, intel: cfg.enricher !== undefined },
        toolVersion: cfg.toolVersion,
      },
      SHARD,
    );
  };
  const tally: ImportTally = { read: 0, valid: 0, imported: 0, malformed: 0, unresolved: 0 };
  for (const file of cfg.files) {
    const opts: ImportOptions = { format: format ?? "auto" };
    if (cfg.port !== undefined) opts.port = cfg.port;
    if (cfg.resolve !== undefined) opts.resolve = cfg.resolve;
    const source = file === STDIN ? (cfg.stdin ?? process.stdin) : file;
    for await (const l of readImport(source, opts)) {
      if (l.undetected) {
        throw new ConfigError(
          `cannot tell the format of ${label(file)}: ${l.error}; give --format redscope, zgrab2 or shodan`,
        );
      }
      tally.read++;
      if (l.record === undefined) {
        tally.malformed++;
        cfg.onMalformed?.(file, l.line, l.error ?? "unreadable");
      } else {
        format ??= l.format;
        record ??= await begin(format ?? "redscope");
        tally.valid++;
        const r = l.record;
        if (unresolvedName(r.ip) !== undefined) tally.unresolved++;
        r.scan_id = cfg.scanId;
        r.shard = SHARD;
        if (cfg.enricher) enrichKeepingSource(cfg.enricher, r);
        record.write(r);
        // The file is read no faster than the store takes its rows.
        if (record.congested) await record.flush();
      }
      cfg.onProgress?.(file, tally, Date.now() - t0);
    }
  }
  if (format === undefined && tally.read > 0) {
    // stdin with `auto`, and not one line of a known shape: the user's to fix, as for a file.
    throw new ConfigError(
      `cannot tell the format of ${cfg.files.map(label).join(", ")}: give --format redscope, zgrab2 or shodan`,
    );
  }
  const summary: ImportSummary = {
    tally,
    format: format ?? "redscope",
    recorded: record !== undefined,
    counts: {},
    nicer: {},
    elapsedMs: 0,
  };
  if (record !== undefined) {
    await record.finish(true);
    tally.imported = record.inserted;
    summary.counts = await cfg.store.stateCounts(cfg.scanId);
    summary.nicer = await cfg.store.nicerCounts(cfg.scanId);
  }
  summary.elapsedMs = Date.now() - t0;
  return summary;
}

/** How an input is named in messages. */
export function label(file: string): string {
  return file === STDIN ? "stdin" : file;
}

/**
 * What the file says about the address (Shodan's ASN, organisation, country and cloud, a
 * redscope record's CVEs) was true when the source saw it; our intel is today's. So the file's
 * values stay and enrichment only fills in what the file did not have.
 */
function enrichKeepingSource(enricher: Enricher, r: ProbeResult): void {
  const { cloud, asn, as_org, country, cves, cve_verdict } = r;
  enricher.enrich(r);
  if (cloud !== undefined) r.cloud = cloud;
  if (asn !== undefined) r.asn = asn;
  if (as_org !== undefined) r.as_org = as_org;
  if (country !== undefined) r.country = country;
  if (cves !== undefined) {
    // The file's list goes with the file's caveats (or none), never today's.
    r.cves = cves;
    if (cve_verdict !== undefined) r.cve_verdict = cve_verdict;
    else delete r.cve_verdict;
  }
}
