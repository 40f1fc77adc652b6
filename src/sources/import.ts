/**
 * Importing results that researchers already have: our own JSONL, zgrab2's `redis` module output
 * and Shodan banners (`shodan download … product:redis`). Every record is classified with the
 * same taxonomy as a scan, so an imported row and a scanned row mean the same thing.
 *
 * Everything in these files was written, at some point, by a scanned server (or by whoever
 * handed the file over): lines are capped in length while reading (a longer line is reported,
 * never buffered), strings that reach a record go through safeText, and a line that does not
 * validate is reported with its line number while the lines around it are still imported.
 *
 * An input is a file or stdin, in JSONL or as one JSON array of records (sources/input.ts).
 * The formats themselves: sources/zgrab2.ts, sources/shodan.ts, sources/redscope.ts.
 */
import type { ProbeResult } from "../schema/result.js";
import { safeText } from "../untrusted/text.js";
import { isObj, Unimportable } from "./fields.js";
import { jsonTexts, openInput } from "./input.js";
import { fromRedscope } from "./redscope.js";
import type { NameMap } from "./resolve.js";
import { fromShodan } from "./shodan.js";
import { fromZgrab2 } from "./zgrab2.js";

export const IMPORT_FORMATS = ["redscope", "zgrab2", "shodan"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** Longest line accepted (bytes, without the newline); a Shodan banner with INFO and keys fits. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** zgrab2 writes no port unless its input named one: the module's default is assumed. */
export const DEFAULT_ZGRAB2_PORT = 6379;
/** Non-empty lines looked at to tell a file's format before giving up. */
export const DETECT_LINES = 1000;

export interface ImportOptions {
  format: ImportFormat | "auto";
  /** Port for zgrab2 records that carry none (default 6379). */
  port?: number;
  /** Line cap in bytes (default MAX_LINE_BYTES); the cap of a JSON array's elements too. */
  maxLineBytes?: number;
  /** Addresses of the names zgrab2 probed without writing the address (--resolve). */
  resolve?: NameMap;
}

/** One non-empty input line: a record, or why it was not imported (one line, safe to print). */
export interface ImportLine {
  /** The line (of an array: the line its element starts on). */
  line: number;
  record?: ProbeResult;
  /** The format the record was read in (with `auto`, the first recognised line's). */
  format?: ImportFormat;
  error?: string;
  /** `auto` found no known shape in the first DETECT_LINES lines: reading stopped here. */
  undetected?: true;
}

// ---------- format detection ----------

function shapeOf(v: unknown): ImportFormat | undefined {
  if (!isObj(v)) return undefined;
  if (typeof v.data === "string" && ("ip_str" in v || "_shodan" in v || "port" in v)) {
    return "shodan";
  }
  if (isObj(v.data)) {
    for (const m of Object.values(v.data))
      if (isObj(m) && typeof m.status === "string") return "zgrab2";
  }
  if (typeof v.state === "string" && "ip" in v && "port" in v) return "redscope";
  return undefined;
}

/** The format a JSON line is in, by its shape; undefined when it is none of ours. */
export function detectFormat(line: string): ImportFormat | undefined {
  try {
    return shapeOf(JSON.parse(line));
  } catch {
    return undefined;
  }
}

/** The format of the first recognisable record among the first non-empty ones of a file. */
export async function detectFileFormat(
  file: string,
  maxLineBytes = MAX_LINE_BYTES,
): Promise<ImportFormat | undefined> {
  let seen = 0;
  for await (const l of jsonTexts(await openInput(file), maxLineBytes)) {
    if (l.text !== undefined && l.text.trim() === "") continue;
    const f = l.text === undefined ? undefined : detectFormat(l.text);
    if (f !== undefined || ++seen >= DETECT_LINES) return f;
  }
  return undefined;
}

// ---------- reading records ----------

/**
 * The records of one input (a file name, or a stream such as stdin), line by line or element by
 * element. Empty lines are skipped; every other line yields a record or an error. With `auto`,
 * the first line of a known shape fixes the format; when none of the first DETECT_LINES
 * non-empty lines has one, a last line says so (`undetected`) and reading stops.
 */
export async function* readImport(
  source: string | AsyncIterable<Buffer>,
  opts: ImportOptions,
): AsyncGenerator<ImportLine> {
  let format = opts.format === "auto" ? undefined : opts.format;
  const port = opts.port ?? DEFAULT_ZGRAB2_PORT;
  const max = opts.maxLineBytes ?? MAX_LINE_BYTES;
  let unknown = 0;
  for await (const l of jsonTexts(await openInput(source), max)) {
    if (format === undefined && unknown >= DETECT_LINES) {
      yield {
        line: l.line,
        error: `no redscope, zgrab2 or Shodan record in the first ${DETECT_LINES} lines`,
        undetected: true,
      };
      return;
    }
    if (l.text === undefined) {
      unknown++;
      yield { line: l.line, error: l.error ?? "unreadable line" };
      continue;
    }
    if (l.text.trim() === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(l.text);
    } catch (e) {
      unknown++;
      yield { line: l.line, error: safeText(`bad JSON: ${(e as Error).message}`, 200) };
      continue;
    }
    format ??= shapeOf(v);
    let item: ImportLine;
    try {
      if (format === undefined) {
        unknown++;
        throw new Unimportable("not a redscope, zgrab2 or Shodan record");
      }
      item = { line: l.line, record: toRecord(format, v, port, opts.resolve), format };
    } catch (e) {
      if (!(e instanceof Unimportable)) throw e;
      // A file given the wrong format fails on every line: say what it looks like instead.
      const looks = opts.format === "auto" ? undefined : shapeOf(v);
      const reason =
        looks !== undefined && looks !== format
          ? `not a ${format} record: it looks like ${looks}`
          : e.message;
      item = { line: l.line, error: safeText(reason, 200) };
    }
    yield item;
  }
}

function toRecord(
  format: ImportFormat,
  v: unknown,
  port: number,
  resolve: NameMap | undefined,
): ProbeResult {
  if (!isObj(v)) throw new Unimportable("not a JSON object");
  switch (format) {
    case "redscope":
      return fromRedscope(v);
    case "zgrab2":
      return fromZgrab2(v, port, resolve);
    case "shodan":
      return fromShodan(v);
  }
}
