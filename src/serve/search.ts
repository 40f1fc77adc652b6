/**
 * The result search: filters from the query string, a CVE turned into the versions that carry
 * it, and pages found in windows of the scan's insertion order. A window is one indexed range
 * query; windows grow until a page is full or the time budget is spent, so every request
 * answers in about the same time however rare the match, and the page says how far it looked.
 */
import {
  ATTACK_TECHNIQUES,
  ATTACK_VERDICTS,
  type AttackTechnique,
  type AttackVerdict,
  attackColumnValues,
  COMPROMISE_KINDS,
  type CompromiseKind,
  compromiseColumnValues,
  type ProbeResult,
  STATES,
} from "../schema/result.js";
import type { SearchFilter, SearchReader } from "../store/index.js";
import { Lru } from "./lru.js";

export const PAGE_ROWS = 50;
/** Time a page may spend looking before it answers with what it found so far. */
const BUDGET_MS = 100;
const FIRST_WINDOW = 65_536;
const MAX_WINDOW = 1 << 21;

export interface SearchParams {
  scan: string;
  filter: SearchFilter;
  cve?: string;
  /** Open servers whose verdict for `technique` is `verdict` ("exploitable"). */
  attack?: { technique: AttackTechnique; verdict: AttackVerdict };
  /** Open servers showing this sign of compromise, or any. */
  compromise?: CompromiseKind | "any";
  /** Continue after this position (insertion order). */
  after?: number;
}

/** Longest value taken from a query parameter. */
const MAX_PARAM = 200;

export class SearchInputError extends Error {}

/** The search form's fields from a URL's query (unknown states, bad numbers: an error). */
export function parseSearch(q: URLSearchParams): SearchParams {
  const get = (k: string): string | undefined => {
    const v = q.get(k)?.trim();
    return v === undefined || v === "" ? undefined : v.slice(0, MAX_PARAM);
  };
  const filter: SearchFilter = {};
  const state = get("state");
  if (state !== undefined) {
    if (!(STATES as readonly string[]).includes(state))
      throw new SearchInputError(`no such state: ${state}`);
    filter.state = state;
  }
  for (const k of ["product", "version", "country", "cloud"] as const) {
    const v = get(k);
    if (v !== undefined) filter[k] = k === "country" ? v.toUpperCase() : v;
  }
  const asn = get("asn");
  if (asn !== undefined) {
    const n = Number(asn.replace(/^AS/i, ""));
    if (!Number.isInteger(n) || n < 0 || n > 4294967295)
      throw new SearchInputError(`not an AS number: ${asn}`);
    filter.asn = n;
  }
  const text = get("q");
  if (text !== undefined) filter.text = text;
  const out: SearchParams = { scan: get("scan") ?? "", filter };
  const cve = get("cve");
  if (cve !== undefined) {
    if (!/^CVE-\d{4}-\d{4,7}$/i.test(cve)) throw new SearchInputError(`not a CVE id: ${cve}`);
    out.cve = cve.toUpperCase();
  }
  const attack = get("attack");
  if (attack !== undefined) {
    // technique:verdict, e.g. module_load:open
    const [technique, verdict = "open"] = attack.split(":");
    if (!(ATTACK_TECHNIQUES as readonly string[]).includes(technique ?? "")) {
      throw new SearchInputError(`no such technique: ${attack}`);
    }
    if (!(ATTACK_VERDICTS as readonly string[]).includes(verdict)) {
      throw new SearchInputError(`no such verdict: ${attack}`);
    }
    out.attack = {
      technique: technique as AttackTechnique,
      verdict: verdict as AttackVerdict,
    };
  }
  const compromise = get("compromise");
  if (compromise !== undefined) {
    if (compromise !== "any" && !(COMPROMISE_KINDS as readonly string[]).includes(compromise)) {
      throw new SearchInputError(`no such sign of compromise: ${compromise}`);
    }
    out.compromise = compromise as CompromiseKind | "any";
  }
  const after = get("after");
  if (after !== undefined) {
    const n = Number(after);
    if (!Number.isSafeInteger(n) || n < 0) throw new SearchInputError(`bad position: ${after}`);
    out.after = n;
  }
  return out;
}

export interface SearchPage {
  rows: Array<{ seq: number; result: ProbeResult }>;
  /** Where the next page starts; undefined when the scan was searched to its end. */
  next?: number;
  /** Share of the scan's rows looked through up to the end of this page (0–1). */
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

  /** The store filter of a search: its CVE, if any, as the versions that carry it. */
  async filter(p: SearchParams): Promise<SearchFilter> {
    const f: SearchFilter = { ...p.filter };
    if (p.cve !== undefined) f.versions = (await this.cveIndex(p.scan)).get(p.cve) ?? [];
    if (p.attack !== undefined) {
      f.attack = attackColumnValues(p.attack.technique, p.attack.verdict);
    }
    if (p.compromise !== undefined) {
      f.compromise = compromiseColumnValues(p.compromise === "any" ? undefined : p.compromise);
    }
    return f;
  }

  /** Which (product, version) pairs carry each CVE in the scan's stored results. */
  async cveIndex(
    scan: string,
  ): Promise<Map<string, Array<{ product: string | null; version: string | null }>>> {
    let c = this.cves.get(scan);
    if (!c || !(await this.fresh(scan, c.at))) {
      c = { at: Date.now(), v: this.buildCveIndex(scan) };
      this.cves.set(scan, c);
    }
    return c.v;
  }

  private async buildCveIndex(
    scan: string,
  ): Promise<Map<string, Array<{ product: string | null; version: string | null }>>> {
    const seen = new Map<string, Set<string>>();
    const out = new Map<string, Array<{ product: string | null; version: string | null }>>();
    for await (const r of this.store.results({ scanId: scan, withCves: true, ordered: false })) {
      const product = r.server?.product ?? null;
      const version = r.server?.version ?? null;
      const key = `${product}\u0000${version}`;
      for (const c of r.cves ?? []) {
        let keys = seen.get(c.id);
        if (!keys) {
          keys = new Set();
          seen.set(c.id, keys);
          out.set(c.id, []);
        }
        if (!keys.has(key)) {
          keys.add(key);
          out.get(c.id)!.push({ product, version });
        }
      }
    }
    return out;
  }
}

export async function searchPage(
  store: SearchReader,
  cache: ScanCache,
  p: SearchParams,
): Promise<SearchPage> {
  const t0 = performance.now();
  const range = await cache.range(p.scan);
  if (!range) return { rows: [], searched: 1, ms: performance.now() - t0 };
  const filter = await cache.filter(p);
  const total = range.max - range.min + 1;
  let after = Math.max(p.after ?? range.min - 1, range.min - 1);
  let window = FIRST_WINDOW;
  const rows: SearchPage["rows"] = [];
  for (;;) {
    const upTo = Math.min(after + window, range.max);
    const t1 = performance.now();
    const found = await store.searchResults(
      p.scan,
      filter,
      { after, upTo },
      PAGE_ROWS - rows.length,
    );
    const spent = performance.now() - t1;
    rows.push(...found);
    after = rows.length >= PAGE_ROWS ? rows[rows.length - 1]!.seq : upTo;
    const end = after >= range.max;
    const left = BUDGET_MS - (performance.now() - t0);
    if (rows.length >= PAGE_ROWS || end || left < 10) {
      const page: SearchPage = {
        rows,
        searched: Math.min(1, (after - range.min + 1) / total),
        ms: performance.now() - t0,
      };
      if (!end) page.next = after;
      return page;
    }
    // The next window is what the time left reads at the pace of this one (an index finds
    // rare rows fast: its windows grow; a text filter reads every row: they shrink to fit).
    const pace = window / Math.max(spent, 0.5);
    window = Math.max(1024, Math.min(MAX_WINDOW, Math.floor(pace * left * 0.8)));
  }
}
