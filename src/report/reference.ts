/**
 * Published figures a report prints beside a scan's own (`redscope report --reference ID`):
 * bundled data files under data/reference/, each naming its sources. Today: `nicer-2020`, the
 * NICER study's six rows and version table, with the counts of unsecured servers Redis Labs
 * quoted in April 2020. A file is validated whole when loaded: a hand edit that went wrong fails
 * with the field it broke, never as a silently missing figure.
 */
import fs from "node:fs";
import path from "node:path";
import { NICER_ROW } from "../schema/result.js";
import { installedData } from "../store/paths.js";

export interface ReferenceSource {
  id: string;
  /** How a table cell cites it. */
  short: string;
  title: string;
  url: string;
}

export interface PublishedCount {
  source: string;
  /** YYYY, YYYY-MM or YYYY-MM-DD. */
  date: string;
  /** The source gives the date or the count only roughly ("about three years ago", "more than"). */
  approximate?: boolean;
  count: number;
  what: string;
}

export interface Reference {
  id: string;
  /** How a column of its figures is headed ("NICER 2020"). */
  title: string;
  about: string[];
  sources: ReferenceSource[];
  /** The study's six rows, counts by row name, and the Redis nodes they add up to. */
  nicer?: { source: string; date: string; total: number; rows: Record<string, number> };
  /** The study's version table: the versions that cover `coverage`% of `distinct` strings. */
  versions?: {
    source: string;
    product: string;
    distinct: number;
    coverage: number;
    /** What the listed rows add up to: the base of the study's percentages. */
    listed_total: number;
    rows: Array<[string, number]>;
  };
  /** Counts of open (unsecured) servers others published. */
  open_counts?: PublishedCount[];
}

export class PublishedDataError extends Error {
  override name = "PublishedDataError";
}

/** The bundled references' ids: a file `data/reference/<id>.json` each. */
export function referenceIds(): string[] {
  return fs
    .readdirSync(installedData("reference"))
    .filter((f) => f.endsWith(".json"))
    .map((f) => f.slice(0, -".json".length))
    .sort();
}

/** A bundled reference by id; a PublishedDataError names the known ones when there is no such id. */
export function loadReference(id: string): Reference {
  const ids = referenceIds();
  if (!ids.includes(id)) {
    throw new PublishedDataError(
      `no reference ${JSON.stringify(id).slice(0, 60)} (bundled: ${ids.join(", ")})`,
    );
  }
  const file = path.join(installedData("reference"), `${id}.json`);
  return parseReference(JSON.parse(fs.readFileSync(file, "utf8")), `${id}.json`);
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown): v is string => typeof v === "string" && v.trim() !== "";
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const DATE = /^\d{4}(-\d{2}(-\d{2})?)?$/;

/** Validate parsed JSON as a reference; every problem names the field. */
export function parseReference(json: unknown, origin: string): Reference {
  const fail = (where: string, problem: string): never => {
    throw new PublishedDataError(`${origin}: ${where}: ${problem}`);
  };
  if (!isObject(json)) return fail("top level", "expected an object");
  const { id, title, about, sources, nicer, versions, open_counts } = json;
  if (!isText(id) || !isText(title)) fail("id/title", "expected text");
  if (!Array.isArray(about) || !about.every(isText)) fail("about", "expected a list of text");
  if (!Array.isArray(sources) || sources.length === 0) fail("sources", "expected a list");
  const sourceIds = new Set<string>();
  for (const [i, s] of (sources as unknown[]).entries()) {
    if (!isObject(s) || !isText(s.id) || !isText(s.short) || !isText(s.title) || !isText(s.url)) {
      fail(`sources[${i}]`, "expected {id, short, title, url}");
    }
    sourceIds.add((s as Json).id as string);
  }
  const sourced = (where: string, v: unknown): void => {
    if (!isText(v) || !sourceIds.has(v)) fail(where, `source ${JSON.stringify(v)} is not listed`);
  };
  const out: Reference = {
    id: id as string,
    title: title as string,
    about: about as string[],
    sources: sources as ReferenceSource[],
  };
  if (nicer !== undefined) {
    if (!isObject(nicer) || !isObject(nicer.rows)) return fail("nicer", "expected {rows}");
    sourced("nicer.source", nicer.source);
    if (!isText(nicer.date) || !DATE.test(nicer.date))
      fail("nicer.date", "expected YYYY[-MM[-DD]]");
    const names = Object.values(NICER_ROW);
    for (const [k, v] of Object.entries(nicer.rows)) {
      if (!names.includes(k)) fail(`nicer.rows`, `${JSON.stringify(k)} is not a NICER row`);
      if (!isCount(v)) fail(`nicer.rows.${k}`, "expected a count");
    }
    const sum = Object.values(nicer.rows as Record<string, number>).reduce((a, b) => a + b, 0);
    if (nicer.total !== sum) fail("nicer.total", `expected the rows' sum ${sum}`);
    out.nicer = nicer as Reference["nicer"] & object;
  }
  if (versions !== undefined) {
    if (!isObject(versions) || !Array.isArray(versions.rows)) fail("versions", "expected {rows}");
    const v = versions as Json;
    sourced("versions.source", v.source);
    if (!isText(v.product)) fail("versions.product", "expected text");
    if (!isCount(v.distinct) || !isCount(v.listed_total)) fail("versions", "expected counts");
    if (typeof v.coverage !== "number" || v.coverage <= 0 || v.coverage > 100) {
      fail("versions.coverage", "expected a percentage");
    }
    let sum = 0;
    for (const [i, row] of (v.rows as unknown[]).entries()) {
      if (!Array.isArray(row) || row.length !== 2 || !isText(row[0]) || !isCount(row[1])) {
        fail(`versions.rows[${i}]`, "expected [version, count]");
      }
      sum += (row as [string, number])[1];
    }
    if (v.listed_total !== sum) fail("versions.listed_total", `expected the rows' sum ${sum}`);
    out.versions = v as unknown as Reference["versions"] & object;
  }
  if (open_counts !== undefined) {
    if (!Array.isArray(open_counts)) return fail("open_counts", "expected a list");
    for (const [i, c] of open_counts.entries()) {
      const where = `open_counts[${i}]`;
      if (!isObject(c) || !isCount(c.count) || !isText(c.what))
        fail(where, "expected {count, what}");
      sourced(`${where}.source`, (c as Json).source);
      const date = (c as Json).date;
      if (!isText(date) || !DATE.test(date)) fail(`${where}.date`, "expected YYYY[-MM[-DD]]");
    }
    out.open_counts = open_counts as PublishedCount[];
  }
  return out;
}
