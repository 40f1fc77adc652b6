/**
 * Importing results researchers already have (zgrab2, Shodan, our own JSONL) as one scan of the
 * store: every record classified with the scan's taxonomy and enriched, so reports and the
 * dashboard treat it like a scan of ours. The CLI checks flags and prints; this runs.
 */
import type { Enricher } from "../intel/enrich.js";
import type { ProbeResult } from "../schema/result.js";
import { detectFileFormat, type ImportFormat, readImport } from "../sources/import.js";
import type { Store } from "../store/index.js";
import { ConfigError } from "./errors.js";
import { ScanRecord } from "./record.js";

/** An import is one unsharded scan. */
const SHARD = "0/1";

export interface ImportConfig {
  files: string[];
  format: ImportFormat;
  /** Port for zgrab2 records that carry none. */
  port?: number;
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
}

export interface ImportSummary {
  tally: ImportTally;
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
 * Read every file into the store as scan `scanId`. A store that fails throws StoreWriteError
 * (whole batches are in; the scan is left unfinished); a conflicting scan id StoreConflictError.
 */
export async function runImport(cfg: ImportConfig): Promise<ImportSummary> {
  const t0 = Date.now();
  const record = await ScanRecord.begin(
    cfg.store,
    {
      id: cfg.scanId,
      source: `import:${cfg.format}`,
      startedAt: new Date(t0).toISOString(),
      targets: cfg.files.join(" "),
      ports: cfg.port === undefined ? "" : String(cfg.port),
      shardCount: 1,
      options: { format: cfg.format, intel: cfg.enricher !== undefined },
      toolVersion: cfg.toolVersion,
    },
    SHARD,
  );
  const tally: ImportTally = { read: 0, valid: 0, imported: 0, malformed: 0 };
  for (const file of cfg.files) {
    const opts =
      cfg.port === undefined ? { format: cfg.format } : { format: cfg.format, port: cfg.port };
    for await (const l of readImport(file, opts)) {
      tally.read++;
      if (l.record === undefined) {
        tally.malformed++;
        cfg.onMalformed?.(file, l.line, l.error ?? "unreadable");
      } else {
        tally.valid++;
        const r = l.record;
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
  await record.finish(true);
  tally.imported = record.inserted;
  const counts = await cfg.store.stateCounts(cfg.scanId);
  const nicer = await cfg.store.nicerCounts(cfg.scanId);
  return { tally, counts, nicer, elapsedMs: Date.now() - t0 };
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
