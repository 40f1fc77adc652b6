/**
 * Which cloud provider (region, service) an address belongs to, from the providers' own published
 * IP range files: AWS ip-ranges.json, Azure Service Tags, Google cloud.json, Oracle
 * public_ip_ranges.json, DigitalOcean's geofeed, Cloudflare's ips-v4/ips-v6, and generic CSV.
 *
 * The files are downloaded data that anyone on the path could have tampered with, so each parser is
 * bounded (a size cap, labels cut short and stripped of control characters) and tolerant: an entry
 * it cannot read is skipped and counted, never fatal. Only a file that is not of its format at all
 * (not JSON, no prefix list) is refused whole, with an IntelFormatError.
 *
 * Lookups run once per scanned host, so the index is built once into sorted disjoint intervals in
 * typed arrays, each labelled with the most specific prefix covering it, and a lookup is a binary
 * search that allocates nothing but returns a shared, frozen match.
 */

import { constants as fsConstants } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { parseIpv4At, parseIpv6At } from "../net/ip.js";
import { labelText, terminalText } from "../untrusted/text.js";

/** What an address is, as far as the providers' files say. Shared and frozen: do not copy per use. */
export interface CloudMatch {
  readonly provider: string;
  readonly region?: string;
  readonly service?: string;
}

/**
 * One published prefix. The network address is four 32-bit words, most significant first; an IPv4
 * address is in w3 (w0–w2 are 0) and its length counts IPv4 bits (0–32).
 */
export interface CloudPrefix {
  readonly family: 4 | 6;
  readonly length: number;
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  readonly match: CloudMatch;
  /** Preference among entries of one file that name the same prefix: higher wins. */
  readonly rank: number;
}

/** What one parser read from one file. */
export interface CloudPrefixSet {
  readonly prefixes: readonly CloudPrefix[];
  /** Entries that were not a usable prefix. */
  readonly skipped: number;
  /** The first few of those, cut short and made printable, so a user can see what was wrong. */
  readonly skippedSamples: readonly string[];
  /** The file's own version tag (syncToken, changeNumber), when it has one. */
  readonly version?: string;
  /** The file's own publication date and the field it came from, when it has one. */
  readonly published?: { readonly date: Date; readonly field: string };
}

export interface ParseOptions {
  /** Larger input is refused whole (default MAX_INTEL_FILE_BYTES). */
  maxBytes?: number;
}

/** A file that is not of the expected format at all, or too large to be one. */
export class IntelFormatError extends Error {}

/**
 * The largest file a parser takes. The real files are a few MB (Azure's Service Tags, the largest,
 * about 4–5 MB); this leaves room for years of growth while bounding what a hostile file can cost.
 */
export const MAX_INTEL_FILE_BYTES = 32 * 1024 * 1024;

/** Labels (providers, regions, services) longer than this are cut: real ones are under 60. */
const MAX_LABEL = 100;
const MAX_SKIPPED_SAMPLES = 3;

// ---------------------------------------------------------------------------------------------
// Addresses and prefixes, parsed with the project's one parser (net/ip.ts), whose core writes
// into caller-owned storage and allocates nothing: the lookup path parses each address.

interface Cidr {
  family: 4 | 6;
  length: number;
  w0: number;
  w1: number;
  w2: number;
  w3: number;
}

const PREFIX_WORDS = new Uint32Array(4);

/**
 * "a.b.c.d/n" or "x:y::/n" (a bare address is a host prefix) → its parts, or undefined. Host bits
 * may be set ("10.1.2.3/8" means 10.0.0.0/8, as most IP libraries read it); the index masks them.
 * An IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/96+n) is the IPv4 prefix it maps, because a lookup of
 * ::ffff:a.b.c.d is a lookup of a.b.c.d.
 */
function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  const end = slash < 0 ? text.length : slash;
  let length = -1;
  if (slash >= 0) {
    const digits = text.length - slash - 1;
    if (digits < 1 || digits > 3 || (digits > 1 && text.charCodeAt(slash + 1) === 48)) return;
    length = 0;
    for (let i = slash + 1; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) return;
      length = length * 10 + (c - 48);
    }
  }
  const v4 = parseIpv4At(text, 0, end);
  if (v4 >= 0) {
    if (length > 32) return;
    return { family: 4, length: length < 0 ? 32 : length, w0: 0, w1: 0, w2: 0, w3: v4 };
  }
  const w = PREFIX_WORDS;
  if (!parseIpv6At(text, 0, end, w)) return;
  if (length < 0) length = 128;
  if (length > 128) return;
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff && length >= 96) {
    return { family: 4, length: length - 96, w0: 0, w1: 0, w2: 0, w3: w[3]! };
  }
  return { family: 6, length, w0: w[0]!, w1: w[1]!, w2: w[2]!, w3: w[3]! };
}

// ---------------------------------------------------------------------------------------------
// Parsing the providers' files.

/** A printable, bounded label, or undefined for anything else (non-strings, empty text). */
function label(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const s = labelText(v, MAX_LABEL);
  return s === "" ? undefined : s;
}

function matchKey(provider: string, region: string | undefined, service: string | undefined) {
  // Labels hold no control characters, so NUL cannot occur inside one.
  return `${provider}\u0000${region ?? ""}\u0000${service ?? ""}`;
}

function frozenMatch(provider: string, region?: string, service?: string): CloudMatch {
  const m: { provider: string; region?: string; service?: string } = { provider };
  if (region !== undefined) m.region = region;
  if (service !== undefined) m.service = service;
  return Object.freeze(m);
}

/** Collects one file's prefixes; one match object per distinct label triple. */
class PrefixCollector {
  readonly prefixes: CloudPrefix[] = [];
  private skipped = 0;
  private readonly samples: string[] = [];
  private readonly matches = new Map<string, CloudMatch>();

  /** `entry` is what a skipped-entry sample shows when `cidr` is not even text. */
  add(
    cidr: unknown,
    provider: string,
    region: unknown,
    service: unknown,
    rank: number,
    entry?: unknown,
  ): void {
    const c = typeof cidr === "string" ? parseCidr(cidr.trim()) : undefined;
    if (c === undefined) {
      this.skip(typeof cidr === "string" ? cidr : (entry ?? cidr));
      return;
    }
    const r = label(region);
    const s = label(service);
    const key = matchKey(provider, r, s);
    let match = this.matches.get(key);
    if (match === undefined) {
      match = frozenMatch(provider, r, s);
      this.matches.set(key, match);
    }
    this.prefixes.push({
      family: c.family,
      length: c.length,
      w0: c.w0,
      w1: c.w1,
      w2: c.w2,
      w3: c.w3,
      match,
      rank,
    });
  }

  skip(entry: unknown): void {
    this.skipped++;
    if (this.samples.length < MAX_SKIPPED_SAMPLES) {
      const text = typeof entry === "string" ? entry : (JSON.stringify(entry) ?? String(entry));
      this.samples.push(terminalText(text.slice(0, 80), 80));
    }
  }

  finish(version: unknown, published: CloudPrefixSet["published"]): CloudPrefixSet {
    const set: {
      prefixes: CloudPrefix[];
      skipped: number;
      skippedSamples: string[];
      version?: string;
      published?: CloudPrefixSet["published"];
    } = { prefixes: this.prefixes, skipped: this.skipped, skippedSamples: this.samples };
    const v = label(typeof version === "number" ? String(version) : version);
    if (v !== undefined) set.version = v;
    if (published !== undefined) set.published = published;
    return set;
  }
}

function checkSize(text: string, what: string, opts: ParseOptions): void {
  const max = opts.maxBytes ?? MAX_INTEL_FILE_BYTES;
  // UTF-16 units never outnumber the UTF-8 bytes they came from.
  if (text.length > max) throw new IntelFormatError(`${what}: larger than the ${max}-byte cap`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function jsonRoot(text: string, what: string, opts: ParseOptions): Record<string, unknown> {
  checkSize(text, what, opts);
  let root: unknown;
  try {
    root = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (e) {
    const why = terminalText((e as Error).message.slice(0, 120), 120);
    throw new IntelFormatError(`${what}: not valid JSON (${why})`);
  }
  if (!isObject(root)) throw new IntelFormatError(`${what}: not a JSON object`);
  return root;
}

/** "2024-01-05-20-13-12" (AWS) or "2024-01-05T20:13:12.123456" (Google, Oracle), read as UTC. */
function utcTimestamp(v: unknown, field: string): CloudPrefixSet["published"] {
  if (typeof v !== "string") return undefined;
  const m = /^(\d{4})-(\d\d)-(\d\d)[T -](\d\d)[:-](\d\d)[:-](\d\d)/.exec(v);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls "02-30" over into March; a field that does so is not a date.
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    return undefined;
  }
  return { date, field };
}

/** A syncToken that is a Unix time (AWS: seconds, Google: milliseconds). */
function epochTimestamp(v: unknown, unitMs: number, field: string): CloudPrefixSet["published"] {
  if (typeof v !== "string" || !/^\d{1,16}$/.test(v)) return undefined;
  const date = new Date(Number(v) * unitMs);
  return Number.isNaN(date.getTime()) ? undefined : { date, field };
}

/**
 * AWS ip-ranges.json: `prefixes[].ip_prefix` and `ipv6_prefixes[].ipv6_prefix`, each with region
 * and service. Every address is listed under service "AMAZON" and again under its specific service
 * (EC2, CLOUDFRONT, …) where it has one: the specific service is preferred.
 */
export function parseAwsIpRanges(text: string, opts: ParseOptions = {}): CloudPrefixSet {
  const what = "AWS ip-ranges.json";
  const root = jsonRoot(text, what, opts);
  const lists = [
    [root["prefixes"], "ip_prefix"],
    [root["ipv6_prefixes"], "ipv6_prefix"],
  ] as const;
  if (!lists.some(([list]) => Array.isArray(list))) {
    throw new IntelFormatError(`${what}: no "prefixes" or "ipv6_prefixes" list`);
  }
  const c = new PrefixCollector();
  for (const [list, key] of lists) {
    if (!Array.isArray(list)) continue;
    for (const e of list) {
      if (!isObject(e)) c.skip(e);
      else c.add(e[key], "aws", e["region"], e["service"], e["service"] === "AMAZON" ? 0 : 1, e);
    }
  }
  return c.finish(
    root["syncToken"],
    utcTimestamp(root["createDate"], "createDate") ??
      epochTimestamp(root["syncToken"], 1000, "syncToken"),
  );
}

/**
 * Azure Service Tags (ServiceTags_Public_YYYYMMDD.json): `values[].properties` with region,
 * systemService and addressPrefixes. Tags overlap heavily: one address is in "AzureCloud", in
 * "AzureCloud.eastus" and in "Storage.EastUS". A tag that names both a region and a service is
 * preferred, then one with a region, then one with a service; the generic "AzureCloud" (neither)
 * comes last. The file has no date of its own, only a changeNumber.
 */
export function parseAzureServiceTags(text: string, opts: ParseOptions = {}): CloudPrefixSet {
  const what = "Azure Service Tags";
  const root = jsonRoot(text, what, opts);
  const values = root["values"];
  if (!Array.isArray(values)) throw new IntelFormatError(`${what}: no "values" list`);
  const c = new PrefixCollector();
  for (const tag of values) {
    const props = isObject(tag) ? tag["properties"] : undefined;
    const prefixes = isObject(props) ? props["addressPrefixes"] : undefined;
    if (!isObject(props) || !Array.isArray(prefixes)) {
      c.skip(tag);
      continue;
    }
    const region = label(props["region"]);
    const service = label(props["systemService"]);
    const rank = (region !== undefined ? 2 : 0) + (service !== undefined ? 1 : 0);
    for (const p of prefixes) c.add(p, "azure", region, service, rank);
  }
  return c.finish(root["changeNumber"], undefined);
}

/** Google cloud.json: `prefixes[]` with ipv4Prefix or ipv6Prefix, service and scope (the region). */
export function parseGcpCloudRanges(text: string, opts: ParseOptions = {}): CloudPrefixSet {
  const what = "Google cloud.json";
  const root = jsonRoot(text, what, opts);
  const prefixes = root["prefixes"];
  if (!Array.isArray(prefixes)) throw new IntelFormatError(`${what}: no "prefixes" list`);
  const c = new PrefixCollector();
  for (const e of prefixes) {
    if (!isObject(e)) c.skip(e);
    else c.add(e["ipv4Prefix"] ?? e["ipv6Prefix"], "gcp", e["scope"], e["service"], 0, e);
  }
  return c.finish(
    root["syncToken"],
    utcTimestamp(root["creationTime"], "creationTime") ??
      epochTimestamp(root["syncToken"], 1, "syncToken"),
  );
}

/** Oracle public_ip_ranges.json: `regions[]` with region and `cidrs[]` of cidr and tags (OCI, OSN, …). */
export function parseOracleIpRanges(text: string, opts: ParseOptions = {}): CloudPrefixSet {
  const what = "Oracle public_ip_ranges.json";
  const root = jsonRoot(text, what, opts);
  const regions = root["regions"];
  if (!Array.isArray(regions)) throw new IntelFormatError(`${what}: no "regions" list`);
  const c = new PrefixCollector();
  for (const r of regions) {
    const cidrs = isObject(r) ? r["cidrs"] : undefined;
    if (!isObject(r) || !Array.isArray(cidrs)) {
      c.skip(r);
      continue;
    }
    for (const e of cidrs) {
      if (!isObject(e)) {
        c.skip(e);
        continue;
      }
      const tags = Array.isArray(e["tags"]) ? e["tags"].filter((t) => typeof t === "string") : [];
      c.add(e["cidr"], "oracle", r["region"], tags.join(","), 0, e);
    }
  }
  return c.finish(
    undefined,
    utcTimestamp(root["last_updated_timestamp"], "last_updated_timestamp"),
  );
}

/**
 * One CSV record (RFC 4180 quoting, one line) → fields, or undefined when a quote is unbalanced.
 * Geofeeds are RFC 4180 CSV, and a city may be quoted for its comma ("Washington, D.C.").
 */
function csvFields(line: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (line.charCodeAt(i) === 34) {
      let v = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        v += line.slice(i, q);
        i = q + 1;
        if (line.charCodeAt(i) !== 34) break;
        v += '"';
        i++;
      }
      fields.push(v);
      if (i === line.length) return fields;
      if (line.charCodeAt(i) !== 44) return undefined;
      i++;
    } else {
      const comma = line.indexOf(",", i);
      if (comma < 0) {
        fields.push(line.slice(i));
        return fields;
      }
      fields.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

/** Non-blank lines that are not `#` comments. */
function* dataLines(text: string): Generator<string> {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (const raw of body.split("\n")) {
    const line = raw.trim();
    if (line !== "" && !line.startsWith("#")) yield line;
  }
}

/**
 * An RFC 8805 geofeed (DigitalOcean publishes its ranges as one): `prefix,country,region,city,
 * postal`. The region becomes "ISO 3166-2 region (or country) city", e.g. "NL-NH Amsterdam".
 */
export function parseGeofeedCsv(
  text: string,
  provider = "digitalocean",
  opts: ParseOptions = {},
): CloudPrefixSet {
  checkSize(text, `${provider} geofeed`, opts);
  const c = new PrefixCollector();
  for (const line of dataLines(text)) {
    const f = csvFields(line);
    if (f === undefined) {
      c.skip(line);
      continue;
    }
    const place = [label(f[2]) ?? label(f[1]), label(f[3])].filter((x) => x !== undefined);
    c.add(f[0], provider, place.join(" "), undefined, 0);
  }
  return c.finish(undefined, undefined);
}

/** One CIDR a line (Cloudflare's ips-v4 and ips-v6). */
export function parseCidrList(
  text: string,
  provider = "cloudflare",
  opts: ParseOptions = {},
): CloudPrefixSet {
  checkSize(text, `${provider} list`, opts);
  const c = new PrefixCollector();
  for (const line of dataLines(text)) c.add(line, provider, undefined, undefined, 0);
  return c.finish(undefined, undefined);
}

/**
 * `cidr,provider,region,service` for every other provider, and for one's own overrides. Region and
 * service may be empty; a first line "cidr,provider,…" is a header. `#` starts a comment line.
 */
export function parseGenericCsv(text: string, opts: ParseOptions = {}): CloudPrefixSet {
  checkSize(text, "CSV", opts);
  const c = new PrefixCollector();
  let first = true;
  for (const line of dataLines(text)) {
    const f = csvFields(line);
    if (first && f?.[0]?.trim().toLowerCase() === "cidr") {
      first = false;
      continue;
    }
    first = false;
    const provider = label(f?.[1]);
    if (f === undefined || provider === undefined) c.skip(line);
    else c.add(f[0], provider, f[2], f[3], 0);
  }
  return c.finish(undefined, undefined);
}

// ---------------------------------------------------------------------------------------------
// The index.

/** 32-bit mask of the first `bits` bits of a word (bits may be out of 0..32). */
function wordMask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

/** Frozen matches by label triple; id 0 is "no provider". */
class MatchTable {
  readonly list: (CloudMatch | undefined)[] = [undefined];
  private readonly ids = new Map<string, number>();

  id(provider: string, region: string | undefined, service: string | undefined): number {
    const key = matchKey(provider, region, service);
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.list.length;
      this.list.push(frozenMatch(provider, region, service));
      this.ids.set(key, id);
    }
    return id;
  }
}

/**
 * Equal prefixes, sorted best first: the first one's source wins; within that source the highest
 * rank wins, and labels it lacks come from the other entries of that source and provider (Azure's
 * "AzureCloud.eastus" and "Storage" naming one prefix say together: eastus, AzureStorage).
 */
function resolveGroup(
  prefixes: readonly CloudPrefix[],
  sources: readonly number[],
  order: readonly number[],
  from: number,
  to: number,
  table: MatchTable,
): number {
  const best = prefixes[order[from]!]!.match;
  const source = sources[order[from]!];
  let { region, service } = best;
  for (let k = from + 1; k < to && (region === undefined || service === undefined); k++) {
    const i = order[k]!;
    if (sources[i] !== source) break;
    const m = prefixes[i]!.match;
    if (m.provider !== best.provider) continue;
    region ??= m.region;
    service ??= m.service;
  }
  return table.id(best.provider, region, service);
}

/**
 * Prefixes of one family → sorted boundaries (four words each, as 128-bit positions) and the match
 * id from each boundary on. IPv4 is built as ::a.b.c.d/96+n so one sweep serves both families.
 */
function buildIntervals(
  prefixes: readonly CloudPrefix[],
  sources: readonly number[],
  family: 4 | 6,
  table: MatchTable,
): { words: number[]; values: number[] } {
  const n = prefixes.length;
  const start = new Uint32Array(n * 4);
  const end = new Uint32Array(n * 4);
  const bits = new Uint8Array(n);
  // The sort key: the network and length exactly for IPv4, the top 53 bits for IPv6.
  const key = new Float64Array(n);
  const max = family === 4 ? 32 : 128;
  const w = new Uint32Array(4);
  for (let i = 0; i < n; i++) {
    const p = prefixes[i]!;
    const len = (family === 4 ? 96 : 0) + Math.min(Math.max(p.length | 0, 0), max);
    bits[i] = len;
    w[0] = family === 4 ? 0 : p.w0;
    w[1] = family === 4 ? 0 : p.w1;
    w[2] = family === 4 ? 0 : p.w2;
    w[3] = p.w3;
    for (let k = 0; k < 4; k++) {
      const mask = wordMask(len - 32 * k);
      start[i * 4 + k] = (w[k]! & mask) >>> 0;
      end[i * 4 + k] = (w[k]! | ~mask) >>> 0;
    }
    key[i] =
      family === 4
        ? start[i * 4 + 3]! * 256 + len
        : start[i * 4]! * 2 ** 21 + (start[i * 4 + 1]! >>> 11);
  }
  const cmpStart = (a: number, b: number): number => {
    for (let k = 0; k < 4; k++) {
      const d = start[a * 4 + k]! - start[b * 4 + k]!;
      if (d !== 0) return d;
    }
    return 0;
  };
  // Enclosing prefixes before the ones they enclose; equal prefixes best first. The sort is
  // stable, so file order breaks the remaining ties.
  const order: number[] = new Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort(
    (a, b) =>
      key[a]! - key[b]! ||
      cmpStart(a, b) ||
      bits[a]! - bits[b]! ||
      sources[a]! - sources[b]! ||
      prefixes[b]!.rank - prefixes[a]!.rank,
  );

  // Boundaries, starting with "nothing" at address 0. A boundary at the position of the last one
  // replaces its value, and one that repeats the value before it is dropped, so the list stays
  // strictly increasing and every interval differs from its neighbours.
  const words = [0, 0, 0, 0];
  const values = [0];
  const emit = (w0: number, w1: number, w2: number, w3: number, value: number): void => {
    const last = values.length - 1;
    const b = last * 4;
    if (words[b] === w0 && words[b + 1] === w1 && words[b + 2] === w2 && words[b + 3] === w3) {
      values[last] = value;
      if (last > 0 && values[last - 1] === value) {
        values.pop();
        words.length -= 4;
      }
      return;
    }
    if (values[last] === value) return;
    words.push(w0, w1, w2, w3);
    values.push(value);
  };
  // The open prefixes, outermost first: their last address and match id.
  const openEnd: number[] = [];
  const openValue: number[] = [];
  const close = (): void => {
    openValue.pop();
    const e = openEnd.length - 4;
    let w3 = openEnd[e + 3]! + 1;
    let w2 = openEnd[e + 2]!;
    let w1 = openEnd[e + 1]!;
    let w0 = openEnd[e]!;
    openEnd.length = e;
    if (w3 > 0xffffffff) {
      w3 = 0;
      if (++w2 > 0xffffffff) {
        w2 = 0;
        if (++w1 > 0xffffffff) {
          w1 = 0;
          if (++w0 > 0xffffffff) return; // it ended at the last address of the space
        }
      }
    }
    emit(w0, w1, w2, w3, openValue.length > 0 ? openValue[openValue.length - 1]! : 0);
  };
  const endsBefore = (i: number): boolean => {
    const e = openEnd.length - 4;
    for (let k = 0; k < 4; k++) {
      const a = openEnd[e + k]!;
      const s = start[i * 4 + k]!;
      if (a !== s) return a < s;
    }
    return false;
  };

  for (let g = 0; g < n; ) {
    const first = order[g]!;
    let next = g + 1;
    while (next < n && bits[order[next]!] === bits[first] && cmpStart(order[next]!, first) === 0) {
      next++;
    }
    const value = resolveGroup(prefixes, sources, order, g, next, table);
    while (openValue.length > 0 && endsBefore(first)) close();
    // Prefixes nest or are disjoint: whatever is still open encloses this one.
    const b = first * 4;
    emit(start[b]!, start[b + 1]!, start[b + 2]!, start[b + 3]!, value);
    openEnd.push(end[b]!, end[b + 1]!, end[b + 2]!, end[b + 3]!);
    openValue.push(value);
    g = next;
  }
  while (openValue.length > 0) close();
  return { words, values };
}

const LOOKUP_WORDS = new Uint32Array(4);

/**
 * Longest-prefix lookup over every loaded source. Among equal prefixes, the source given first wins,
 * then the preferred entry of that source (see each parser).
 */
export class CloudIndex {
  private constructor(
    /** Interval starts, ascending; IPv4 one word each, IPv6 four. */
    private readonly starts4: Uint32Array,
    private readonly values4: Int32Array,
    private readonly starts6: Uint32Array,
    private readonly values6: Int32Array,
    private readonly matches: readonly (CloudMatch | undefined)[],
    /** Prefixes the index was built from. */
    readonly prefixCount: number,
  ) {}

  /** Sets in order of precedence: for equal prefixes, an earlier set wins over a later one. */
  static build(sets: readonly { readonly prefixes: readonly CloudPrefix[] }[]): CloudIndex {
    const by = {
      4: { prefixes: [] as CloudPrefix[], sources: [] as number[] },
      6: { prefixes: [] as CloudPrefix[], sources: [] as number[] },
    };
    let count = 0;
    sets.forEach((set, source) => {
      for (const p of set.prefixes) {
        const f = by[p.family];
        f.prefixes.push(p);
        f.sources.push(source);
        count++;
      }
    });
    const table = new MatchTable();
    const v4 = buildIntervals(by[4].prefixes, by[4].sources, 4, table);
    const v6 = buildIntervals(by[6].prefixes, by[6].sources, 6, table);
    // IPv4 positions are ::a.b.c.d; one past 255.255.255.255 is outside IPv4 and dropped.
    let n4 = v4.values.length;
    if (n4 > 1 && v4.words[(n4 - 1) * 4 + 2] !== 0) n4--;
    const starts4 = new Uint32Array(n4);
    for (let i = 0; i < n4; i++) starts4[i] = v4.words[i * 4 + 3]!;
    return new CloudIndex(
      starts4,
      Int32Array.from(v4.values.slice(0, n4)),
      Uint32Array.from(v6.words),
      Int32Array.from(v6.values),
      Object.freeze(table.list),
      count,
    );
  }

  /** Disjoint intervals per family (the index's size; at most 2 × prefixes + 1). */
  get intervals(): { v4: number; v6: number } {
    return { v4: this.starts4.length, v6: this.values6.length };
  }

  /** An IPv4 or IPv6 address (IPv4-mapped IPv6 looks up as IPv4); undefined also for non-addresses. */
  lookup(ip: string): CloudMatch | undefined {
    const v4 = parseIpv4At(ip, 0, ip.length);
    if (v4 >= 0) return this.lookupIpv4(v4);
    const w = LOOKUP_WORDS;
    if (!parseIpv6At(ip, 0, ip.length, w)) return undefined;
    if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return this.lookupIpv4(w[3]!);
    return this.lookupIpv6(w[0]!, w[1]!, w[2]!, w[3]!);
  }

  /** An IPv4 address as a 32-bit unsigned number. */
  lookupIpv4(value: number): CloudMatch | undefined {
    const s = this.starts4;
    // starts4[0] is 0: the answer is the last start at or below the address.
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (s[mid]! <= value) lo = mid;
      else hi = mid - 1;
    }
    return this.matches[this.values4[lo]!];
  }

  /** An IPv6 address as four big-endian 32-bit words. */
  lookupIpv6(w0: number, w1: number, w2: number, w3: number): CloudMatch | undefined {
    const s = this.starts6;
    let lo = 0;
    let hi = this.values6.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      const b = mid * 4;
      let atOrBelow: boolean;
      if (s[b] !== w0) atOrBelow = s[b]! < w0;
      else if (s[b + 1] !== w1) atOrBelow = s[b + 1]! < w1;
      else if (s[b + 2] !== w2) atOrBelow = s[b + 2]! < w2;
      else atOrBelow = s[b + 3]! <= w3;
      if (atOrBelow) lo = mid;
      else hi = mid - 1;
    }
    return this.matches[this.values6[lo]!];
  }
}

// ---------------------------------------------------------------------------------------------
// The intel directory.

/** A provider's file in the intel directory: its name there and its parser. */
export interface CloudSourceFile {
  readonly id: string;
  readonly file: string;
  readonly parse: (text: string, opts?: ParseOptions) => CloudPrefixSet;
}

/**
 * The files `loadCloudIndex` reads from the intel directory, under these names whatever the
 * provider calls them; `redscope intel update` writes them. Any `custom/*.csv` is read as well.
 */
export const CLOUD_SOURCES = [
  { id: "aws", file: "aws-ip-ranges.json", parse: parseAwsIpRanges },
  { id: "azure", file: "azure-service-tags.json", parse: parseAzureServiceTags },
  { id: "gcp", file: "gcp-cloud.json", parse: parseGcpCloudRanges },
  { id: "oracle", file: "oracle-public-ip-ranges.json", parse: parseOracleIpRanges },
  {
    id: "digitalocean",
    file: "digitalocean.csv",
    parse: (text: string, opts?: ParseOptions) => parseGeofeedCsv(text, "digitalocean", opts),
  },
  {
    id: "cloudflare-v4",
    file: "cloudflare-ips-v4.txt",
    parse: (text: string, opts?: ParseOptions) => parseCidrList(text, "cloudflare", opts),
  },
  {
    id: "cloudflare-v6",
    file: "cloudflare-ips-v6.txt",
    parse: (text: string, opts?: ParseOptions) => parseCidrList(text, "cloudflare", opts),
  },
] as const satisfies readonly CloudSourceFile[];

export type CloudSourceId = (typeof CLOUD_SOURCES)[number]["id"];

/** Generic CSV files (`cidr,provider,region,service`) go in this subdirectory. */
export const CUSTOM_SOURCE_DIR = "custom";

/** One source file as `intel show` reports it. */
export interface CloudSourceStatus {
  /** "aws", …, or "custom/NAME.csv". */
  readonly id: string;
  readonly path: string;
  readonly state: "loaded" | "missing" | "error";
  readonly bytes?: number;
  /** Prefixes read (a prefix listed under several tags counts once per tag). */
  readonly loaded: number;
  readonly skipped: number;
  readonly skippedSamples: readonly string[];
  readonly version?: string;
  /** The file's own date where it has one, else its modification time. */
  readonly date?: Date;
  /** Where the date came from: the file's field ("createDate", …) or "mtime". */
  readonly dateFrom?: string;
  readonly error?: string;
}

export interface LoadedCloudIndex {
  readonly index: CloudIndex;
  /** Every known source (missing ones too), then the custom CSV files. */
  readonly sources: readonly CloudSourceStatus[];
}

/**
 * Reads whichever of these exist in `dir`: aws-ip-ranges.json, azure-service-tags.json,
 * gcp-cloud.json, oracle-public-ip-ranges.json, digitalocean.csv, cloudflare-ips-v4.txt,
 * cloudflare-ips-v6.txt (CLOUD_SOURCES), and every `custom/*.csv` as generic CSV.
 * A file that cannot be read or parsed is reported in its status and left out; the rest still load.
 * Custom files take precedence over the providers' files for equal prefixes: they are one's own
 * corrections.
 */
export async function loadCloudIndex(
  dir: string,
  opts: ParseOptions = {},
): Promise<LoadedCloudIndex> {
  const customDir = path.join(dir, CUSTOM_SOURCE_DIR);
  let custom: string[] = [];
  try {
    custom = (await fs.readdir(customDir))
      .filter((name) => name.endsWith(".csv") && !name.startsWith("."))
      .sort();
  } catch {
    // no custom directory: nothing custom to load
  }
  const [customResults, providerResults] = await Promise.all([
    Promise.all(
      custom.map((name) =>
        loadSource(
          `${CUSTOM_SOURCE_DIR}/${name}`,
          path.join(customDir, name),
          parseGenericCsv,
          opts,
        ),
      ),
    ),
    Promise.all(CLOUD_SOURCES.map((s) => loadSource(s.id, path.join(dir, s.file), s.parse, opts))),
  ]);
  const sets = [...customResults, ...providerResults].flatMap((r) => (r.set ? [r.set] : []));
  return {
    index: CloudIndex.build(sets),
    sources: [...providerResults, ...customResults].map((r) => r.status),
  };
}

async function loadSource(
  id: string,
  file: string,
  parse: CloudSourceFile["parse"],
  opts: ParseOptions,
): Promise<{ status: CloudSourceStatus; set?: CloudPrefixSet }> {
  const status = { id, path: file, loaded: 0, skipped: 0, skippedSamples: [] };
  const max = opts.maxBytes ?? MAX_INTEL_FILE_BYTES;
  let handle: fs.FileHandle;
  try {
    // Non-blocking: a FIFO planted under a known name must not hang the open.
    handle = await fs.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { status: { ...status, state: "missing" } };
    return { status: { ...status, state: "error", error: `cannot open: ${code ?? String(e)}` } };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return { status: { ...status, state: "error", error: "not a regular file" } };
    if (st.size > max) {
      const error = `${st.size} bytes, larger than the ${max}-byte cap`;
      return { status: { ...status, state: "error", bytes: st.size, error } };
    }
    const set = parse(await handle.readFile("utf8"), opts);
    const dated = set.published
      ? { date: set.published.date, dateFrom: set.published.field }
      : { date: st.mtime, dateFrom: "mtime" };
    return {
      set,
      status: {
        ...status,
        ...dated,
        state: "loaded",
        bytes: st.size,
        loaded: set.prefixes.length,
        skipped: set.skipped,
        skippedSamples: set.skippedSamples,
        ...(set.version !== undefined ? { version: set.version } : {}),
      },
    };
  } catch (e) {
    const error = e instanceof IntelFormatError ? e.message : `cannot read: ${String(e)}`;
    return { status: { ...status, state: "error", error } };
  } finally {
    await handle.close();
  }
}
