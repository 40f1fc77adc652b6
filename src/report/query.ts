/**
 * The one host filter: what `redscope report --hosts` and the dashboard's search select by, and
 * the small query syntax both share, in the form and the URL alike:
 *
 *   state:open product:redis version:<6 country:DE asn:AS3320 cloud:aws cve:CVE-2025-49844
 *   attack:module_load:open compromise:any "some text"
 *
 * Terms are AND-ed. A bare word or a quoted phrase is a substring of the record. `version:`
 * takes a version (exact) or a comparison (`<6`, `>=7.2`, `=7.0.15`): compared as versions
 * (6 means 6.0.0), so 6.2.16 < 7 < 7.0.15. A CVE and a version comparison become the list of
 * (product, version) pairs of the scan that carry it / fall in it, so the store filters on its
 * (product, version) index.
 */
import { coerce, compare, type SemVer } from "semver";
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

export class QueryError extends Error {}

export type VersionOp = "<" | "<=" | ">" | ">=" | "=";

export interface HostQuery {
  state?: string;
  product?: string;
  /** An exact version string (as stored). */
  version?: string;
  /** A version comparison (`version:<6`). */
  versionRange?: { op: VersionOp; version: string };
  country?: string;
  asn?: number;
  cloud?: string;
  cve?: string;
  /** Open servers whose verdict for `technique` is `verdict`. */
  attack?: { technique: AttackTechnique; verdict: AttackVerdict };
  /** Open servers showing this sign of compromise, or any. */
  compromise?: CompromiseKind | "any";
  /** A substring of the record (case-insensitive for ASCII). */
  text?: string;
}

/** The keys of the syntax, in the order a query is written back. */
export const QUERY_KEYS = [
  "state",
  "product",
  "version",
  "country",
  "asn",
  "cloud",
  "cve",
  "attack",
  "compromise",
] as const;
export type QueryKey = (typeof QUERY_KEYS)[number];

/** Longest query text, and longest value of one term, taken from a user. */
export const MAX_QUERY = 1000;
const MAX_VALUE = 200;

/** The comparable form of a version string (`7` → 7.0.0; `7.0.15-rc1` keeps its prerelease). */
function versionOf(v: string): SemVer | undefined {
  return coerce(v, { includePrerelease: true }) ?? undefined;
}

/** Sets one term on `q`; a bad value is a QueryError naming it. */
export function setTerm(q: HostQuery, key: QueryKey, raw: string): void {
  const v = raw.trim().slice(0, MAX_VALUE);
  if (v === "") return;
  switch (key) {
    case "state":
      if (!(STATES as readonly string[]).includes(v)) throw new QueryError(`no such state: ${v}`);
      q.state = v;
      return;
    case "product":
      q.product = v.toLowerCase();
      return;
    case "version": {
      const m = /^(<=|>=|<|>|=)\s*(.+)$/.exec(v);
      if (!m) {
        q.version = v;
        return;
      }
      const version = m[2]!.trim();
      if (!versionOf(version)) throw new QueryError(`not a version: ${version}`);
      if (m[1] === "=" && q.version === undefined) q.version = version;
      else q.versionRange = { op: m[1] as VersionOp, version };
      return;
    }
    case "country":
      if (!/^[A-Za-z]{2}$/.test(v)) throw new QueryError(`not a two-letter country code: ${v}`);
      q.country = v.toUpperCase();
      return;
    case "asn": {
      const n = Number(v.replace(/^AS/i, ""));
      if (!/^(AS)?\d+$/i.test(v) || !Number.isSafeInteger(n) || n > 4294967295)
        throw new QueryError(`not an AS number: ${v}`);
      q.asn = n;
      return;
    }
    case "cloud":
      q.cloud = v.toLowerCase();
      return;
    case "cve":
      if (!/^CVE-\d{4}-\d{4,7}$/i.test(v)) throw new QueryError(`not a CVE id: ${v}`);
      q.cve = v.toUpperCase();
      return;
    case "attack": {
      // technique[:verdict], e.g. module_load:open
      const [technique = "", verdict = "open"] = v.split(":");
      if (!(ATTACK_TECHNIQUES as readonly string[]).includes(technique))
        throw new QueryError(`no such technique: ${v}`);
      if (!(ATTACK_VERDICTS as readonly string[]).includes(verdict))
        throw new QueryError(`no such verdict: ${v}`);
      q.attack = { technique: technique as AttackTechnique, verdict: verdict as AttackVerdict };
      return;
    }
    case "compromise":
      if (v !== "any" && !(COMPROMISE_KINDS as readonly string[]).includes(v))
        throw new QueryError(`no such sign of compromise: ${v}`);
      q.compromise = v as CompromiseKind | "any";
      return;
  }
}

/** `key:value`, `key:"a value"`, bare words and `"quoted phrases"` (text), space-separated. */
const TOKEN = /\s*(?:([A-Za-z]+):(?:"([^"]*)"|(\S*))|"([^"]*)"|(\S+))/y;

/** The query written in the syntax; unknown keys and bad values are a QueryError. */
export function parseQuery(text: string, into: HostQuery = {}): HostQuery {
  if (text.length > MAX_QUERY) throw new QueryError(`query longer than ${MAX_QUERY} characters`);
  const q = into;
  const words: string[] = [];
  TOKEN.lastIndex = 0;
  const src = text.trimEnd();
  while (TOKEN.lastIndex < src.length) {
    const m = TOKEN.exec(src);
    if (!m) break;
    const [, key, quoted, plain, phrase, word] = m;
    if (key !== undefined) {
      const k = key.toLowerCase();
      if (k === "text") words.push(quoted ?? plain ?? "");
      else if ((QUERY_KEYS as readonly string[]).includes(k))
        setTerm(q, k as QueryKey, quoted ?? plain ?? "");
      else throw new QueryError(`no such search key: ${key} (keys: ${QUERY_KEYS.join(", ")})`);
    } else words.push((phrase ?? word ?? "").trim());
  }
  const t = words.filter((w) => w !== "").join(" ");
  if (t !== "") q.text = q.text === undefined ? t : `${q.text} ${t}`;
  return q;
}

/** A term's value as the syntax writes it (quoted when it holds a space or a quote). */
function termValue(v: string): string {
  return /[\s"]/.test(v) || v === "" ? `"${v.replaceAll('"', "")}"` : v;
}

/** The query in the syntax, terms in QUERY_KEYS order, text last: parseQuery reads it back. */
export function formatQuery(q: HostQuery): string {
  const out: string[] = [];
  if (q.state !== undefined) out.push(`state:${q.state}`);
  if (q.product !== undefined) out.push(`product:${termValue(q.product)}`);
  if (q.version !== undefined) out.push(`version:${termValue(q.version)}`);
  if (q.versionRange !== undefined)
    out.push(`version:${q.versionRange.op}${termValue(q.versionRange.version)}`);
  if (q.country !== undefined) out.push(`country:${q.country}`);
  if (q.asn !== undefined) out.push(`asn:AS${q.asn}`);
  if (q.cloud !== undefined) out.push(`cloud:${termValue(q.cloud)}`);
  if (q.cve !== undefined) out.push(`cve:${q.cve}`);
  if (q.attack !== undefined) out.push(`attack:${q.attack.technique}:${q.attack.verdict}`);
  if (q.compromise !== undefined) out.push(`compromise:${q.compromise}`);
  if (q.text !== undefined && q.text !== "") out.push(`"${q.text.replaceAll('"', "")}"`);
  return out.join(" ");
}

/** Whether `version` falls in the comparison; a version that does not read as one never does. */
export function versionMatches(
  version: string,
  range: { op: VersionOp; version: string },
): boolean {
  const a = versionOf(version);
  const b = versionOf(range.version);
  if (!a || !b) return false;
  const c = compare(a, b);
  switch (range.op) {
    case "<":
      return c < 0;
    case "<=":
      return c <= 0;
    case ">":
      return c > 0;
    case ">=":
      return c >= 0;
    case "=":
      return c === 0;
  }
}

export type VersionPair = { product: string | null; version: string | null };

/** What resolving a query needs from the scan: the pairs carrying a CVE, and all pairs seen. */
export interface QueryLookups {
  cveVersions(cve: string): Promise<readonly VersionPair[]>;
  versions(): Promise<readonly VersionPair[]>;
}

/** The (product, version) pairs a scan's rows hold: what a version comparison picks from. */
export async function versionPairs(store: SearchReader, scanId: string): Promise<VersionPair[]> {
  return (await store.groupCounts(scanId, ["product", "version"])).map((g) => ({
    product: g.key[0] === null ? null : String(g.key[0]),
    version: g.key[1] === null ? null : String(g.key[1]),
  }));
}

/** A scan's lookups for one query, each read once and only if the query needs it. */
export function scanLookups(store: SearchReader, scanId: string): QueryLookups {
  let cves: Promise<Map<string, VersionPair[]>> | undefined;
  return {
    cveVersions: async (cve) => {
      cves ??= cveIndex(store.results({ scanId, withCves: true, ordered: false }));
      return (await cves).get(cve) ?? [];
    },
    versions: () => versionPairs(store, scanId),
  };
}

/** The store filter of a query: its CVE and version comparison as (product, version) pairs. */
export async function storeFilter(q: HostQuery, lookups: QueryLookups): Promise<SearchFilter> {
  const f: SearchFilter = {};
  if (q.state !== undefined) f.state = q.state;
  if (q.product !== undefined) f.product = q.product;
  if (q.version !== undefined) f.version = q.version;
  if (q.country !== undefined) f.country = q.country;
  if (q.asn !== undefined) f.asn = q.asn;
  if (q.cloud !== undefined) f.cloud = q.cloud;
  if (q.text !== undefined) f.text = q.text;
  let pairs: readonly VersionPair[] | undefined;
  if (q.cve !== undefined) pairs = await lookups.cveVersions(q.cve);
  if (q.versionRange !== undefined) {
    const range = q.versionRange;
    const inRange = (p: VersionPair): boolean =>
      p.version !== null && versionMatches(p.version, range);
    pairs = (pairs ?? (await lookups.versions())).filter(inRange);
  }
  if (pairs !== undefined) f.versions = pairs;
  if (q.attack !== undefined) f.attack = attackColumnValues(q.attack.technique, q.attack.verdict);
  if (q.compromise !== undefined)
    f.compromise = compromiseColumnValues(q.compromise === "any" ? undefined : q.compromise);
  return f;
}

/** Which (product, version) pairs carry each CVE among `results` (those with CVEs). */
export async function cveIndex(
  results: AsyncIterable<ProbeResult>,
): Promise<Map<string, VersionPair[]>> {
  const seen = new Map<string, Set<string>>();
  const out = new Map<string, VersionPair[]>();
  for await (const r of results) {
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

/** Rows read per store call when a whole scan is walked for a filter. */
const WALK_WINDOW = 65_536;
const WALK_ROWS = 5_000;

/** Every result of a scan matching `f`, in insertion order, a bounded batch at a time. */
export async function* matchingResults(
  store: SearchReader,
  scanId: string,
  f: SearchFilter,
): AsyncIterable<ProbeResult> {
  const range = await store.scanSeqRange(scanId);
  if (!range) return;
  let after = range.min - 1;
  while (after < range.max) {
    const upTo = Math.min(after + WALK_WINDOW, range.max);
    const rows = await store.searchResults(scanId, f, { after, upTo }, WALK_ROWS);
    for (const r of rows) yield r.result;
    after = rows.length >= WALK_ROWS ? rows[rows.length - 1]!.seq : upTo;
  }
}
