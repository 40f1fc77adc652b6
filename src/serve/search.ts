/**
 * The result search: filters from the query string, a CVE turned into the versions that carry
 * it, and pages found in windows of the scan's insertion order. A window is one indexed range
 * query; windows grow until a page is full or the time budget is spent, so every request
 * answers in about the same time however rare the match, and the page says how far it looked.
 */
import {
  cveIndex,
  type HostQuery,
  MAX_QUERY,
  parseQuery,
  QUERY_KEYS,
  QueryError,
  setTerm,
  storeFilter,
  type VersionPair,
  versionPairs,
} from "../report/query.js";
import type { ProbeResult } from "../schema/result.js";
import type { SearchFilter, SearchReader } from "../store/index.js";
import { Lru } from "./lru.js";

export const PAGE_ROWS = 50;
/** Time a page may spend looking before it answers with what it found so far. */
const BUDGET_MS = 100;
const FIRST_WINDOW = 65_536;
const MAX_WINDOW = 1 << 21;

/** The `scan` value that searches every scan, newest first. */
export const ALL_SCANS = "all";

export interface SearchParams {
  /** A scan id, or ALL_SCANS. */
  scan: string;
  /** The filter, in the one query form `report --hosts` shares (src/report/query.ts). */
  query: HostQuery;
  /** Continue after this position (insertion order) … */
  after?: number;
  /** … of this scan (scan=all: where the previous page stopped). */
  from?: string;
}

/** Longest value taken from a query parameter (the query text has its own bound). */
const MAX_PARAM = 200;

/** A bad search: its message is shown in the form (QueryError is the query syntax's). */
export class SearchInputError extends Error {}

/**
 * The search from a URL's query: `q` in the query syntax (`state:open version:<6 …`), and the
 * single fields the older links and the form's selects use (`state=open`, `cve=…`), merged.
 */
export function parseSearch(q: URLSearchParams): SearchParams {
  const get = (k: string): string | undefined => {
    const v = q.get(k)?.trim();
    return v === undefined || v === "" ? undefined : v.slice(0, k === "q" ? MAX_QUERY : MAX_PARAM);
  };
  const query: HostQuery = {};
  try {
    for (const k of QUERY_KEYS) {
      const v = get(k);
      if (v !== undefined) setTerm(query, k, v);
    }
    const text = get("q");
    if (text !== undefined) parseQuery(text, query);
  } catch (e) {
    if (e instanceof QueryError) throw new SearchInputError(e.message);
    throw e;
  }
  const out: SearchParams = { scan: get("scan") ?? "", query };
  const after = get("after");
  if (after !== undefined) {
    const n = Number(after);
    if (!Number.isSafeInteger(n) || n < 0) throw new SearchInputError(`bad position: ${after}`);
    out.after = n;
  }
  const from = get("from");
  if (from !== undefined) out.from = from;
  return out;
}

export interface SearchPage {
  rows: Array<{ scan: string; seq: number; result: ProbeResult }>;
  /** Where the next page starts (after `after` in `scan`); undefined at the end. */
  next?: { scan: string; after?: number };
  /** Share of the scan's (scans') rows looked through up to the end of this page (0–1). */
  searched: number;
  ms: number;
}

/**
 * Per scan: its insertion-order range, and which (product, version) carry each CVE. A finished
 * scan's are kept; a running scan's are read again after a few seconds.
 */
export class ScanCache {
  private readonly ranges = new Map<string, { at: number; v?: { min: number; max: number } }>();
  /** The CVE indexes of the 16 scans last searched. */
  private readonly cves = new Lru<
    string,
    {
      at: number;
      v: Promise<Map<string, Array<{ product: string | null; version: string | null }>>>;
    }
  >(16);

  /** The (product, version) pairs of the 16 scans last searched by version comparison. */
  private readonly versions = new Lru<string, { at: number; v: Promise<VersionPair[]> }>(16);

  constructor(private readonly store: SearchReader) {}

  private async fresh(scan: string, at: number): Promise<boolean> {
    const s = await this.store.getScan(scan);
    return s?.finishedAt !== undefined || Date.now() - at < 5000;
  }

  async range(scan: string): Promise<{ min: number; max: number } | undefined> {
    const c = this.ranges.get(scan);
    if (c && (await this.fresh(scan, c.at))) return c.v;
    const v = await this.store.scanSeqRange(scan);
    this.ranges.set(scan, { at: Date.now(), ...(v ? { v } : {}) });
    return v;
  }

  /** The store filter of a search: its CVE and version comparison as the pairs they select. */
  async filter(p: SearchParams): Promise<SearchFilter> {
    return storeFilter(p.query, {
      cveVersions: async (cve) => (await this.cveIndex(p.scan)).get(cve) ?? [],
      versions: () => this.versionPairs(p.scan),
    });
  }

  /** The scan's (product, version) pairs: a group-by of the whole scan, made once per scan. */
  private async versionPairs(scan: string): Promise<VersionPair[]> {
    let c = this.versions.get(scan);
    if (!c || !(await this.fresh(scan, c.at))) {
      c = { at: Date.now(), v: versionPairs(this.store, scan) };
      this.versions.set(scan, c);
    }
    return c.v;
  }

  /** Which (product, version) pairs carry each CVE in the scan's stored results. */
  async cveIndex(scan: string): Promise<Map<string, VersionPair[]>> {
    let c = this.cves.get(scan);
    if (!c || !(await this.fresh(scan, c.at))) {
      c = {
        at: Date.now(),
        v: cveIndex(this.store.results({ scanId: scan, withCves: true, ordered: false })),
      };
      this.cves.set(scan, c);
    }
    return c.v;
  }
}

/** One scan's rows matching `filter` after `after`, in windows, until `want` or `deadline`. */
async function searchScan(
  store: SearchReader,
  scan: string,
  filter: SearchFilter,
  range: { min: number; max: number },
  from: number,
  want: number,
  deadline: number,
): Promise<{ rows: SearchPage["rows"]; after: number; end: boolean }> {
  let after = Math.max(from, range.min - 1);
  let window = FIRST_WINDOW;
  const rows: SearchPage["rows"] = [];
  for (;;) {
    const upTo = Math.min(after + window, range.max);
    const t1 = performance.now();
    const found = await store.searchResults(scan, filter, { after, upTo }, want - rows.length);
    const spent = performance.now() - t1;
    for (const r of found) rows.push({ scan, ...r });
    after = rows.length >= want ? rows[rows.length - 1]!.seq : upTo;
    const end = after >= range.max;
    const left = deadline - performance.now();
    if (rows.length >= want || end || left < 10) return { rows, after, end };
    // The next window is what the time left reads at the pace of this one (an index finds
    // rare rows fast: its windows grow; a text filter reads every row: they shrink to fit).
    const pace = window / Math.max(spent, 0.5);
    window = Math.max(1024, Math.min(MAX_WINDOW, Math.floor(pace * left * 0.8)));
  }
}

/**
 * A page of results: in one scan, or (scan=all) in every scan, newest scan first, each in
 * insertion order. Either way one time budget bounds the page; the cursor is (scan, seq).
 */
export async function searchPage(
  store: SearchReader,
  cache: ScanCache,
  p: SearchParams,
  /** Scan ids, newest first: the order scan=all walks. */
  newestFirst: readonly string[] = [p.scan],
): Promise<SearchPage> {
  const t0 = performance.now();
  const deadline = t0 + BUDGET_MS;
  const all = p.scan === ALL_SCANS;
  const scans = all ? newestFirst : [p.scan];
  // A cursor into a scan no longer listed starts over from the newest.
  const at = all && p.from !== undefined ? scans.indexOf(p.from) : 0;
  let i = Math.max(0, at);
  const ranges = await Promise.all(scans.map((s) => cache.range(s)));
  const size = (r: { min: number; max: number } | undefined): number => (r ? r.max - r.min + 1 : 0);
  const total = ranges.reduce((a, r) => a + size(r), 0);
  let before = ranges.slice(0, i).reduce((a, r) => a + size(r), 0);
  const rows: SearchPage["rows"] = [];
  let after = at < 0 ? -1 : (p.after ?? -1);
  for (; i < scans.length; i++) {
    const scan = scans[i]!;
    const range = ranges[i];
    if (!range) {
      after = -1;
      continue;
    }
    const filter = await cache.filter({ ...p, scan });
    const got = await searchScan(
      store,
      scan,
      filter,
      range,
      after,
      PAGE_ROWS - rows.length,
      deadline,
    );
    rows.push(...got.rows);
    const seen = before + Math.min(size(range), Math.max(0, got.after - range.min + 1));
    const page = (next: SearchPage["next"]): SearchPage => {
      const out: SearchPage = {
        rows,
        searched: total === 0 ? 1 : Math.min(1, seen / total),
        ms: performance.now() - t0,
      };
      if (next) out.next = next;
      return out;
    };
    if (!got.end) return page({ scan, after: got.after });
    before += size(range);
    after = -1;
    const more = i + 1 < scans.length;
    if (rows.length >= PAGE_ROWS || performance.now() > deadline - 10 || !more)
      return page(more ? { scan: scans[i + 1]! } : undefined);
  }
  return { rows, searched: 1, ms: performance.now() - t0 };
}
