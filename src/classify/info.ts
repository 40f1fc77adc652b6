/**
 * INFO parser for every layout seen from 2.0 to 8.x and the forks (versions.md §4):
 * - lines are `key:value`, split on the FIRST colon only (`config_file:C:\Program Files\…`);
 * - `# Section` headers exist from 2.6 on; 2.0–2.4 output has none (`sectionless`);
 * - keys can repeat (`module:` once per module); values can be empty;
 * - many values are `k=v,k=v` lists; lists may hold `[…]` groups that contain commas
 *   (`usedby=[a|b]`, `options=[…]`) and may repeat a key (`listener0:name=tcp,bind=*,bind=-::*`);
 * - `slaveN` has two forms: 2.6 `ip,port,state` and 2.8+ `ip=…,port=…,state=…,offset=…,lag=…`.
 * Unknown keys are kept. One pass over the text, no regex backtracking on values, so the cost
 * is linear in the input; the input and the number of lines kept are capped as a second guard
 * (the engine already caps a reply at about 1 MiB).
 */

import { safeInt } from "./text.js";

/** Inputs longer than this are cut before parsing (the engine delivers at most ~1 MiB). */
export const MAX_INFO_CHARS = 8 * 1024 * 1024;
/** Lines beyond this are not kept (`truncated` is set). */
export const MAX_INFO_LINES = 1_000_000;

export type SubFields = Array<[string, string]>;

export interface InfoEntry {
  /** Section header the line appeared under, as written (`Server`, `KeyDB`); undefined before any header. */
  section: string | undefined;
  key: string;
  value: string;
  /**
   * `k=v,…` sub-fields, for the keys read structurally (slaveN, dbN, module, masterN, listenerN
   * and others starting with those letters) when the value looks like such a list. Keys may
   * repeat. Other lines: call parseSubfields(value).
   */
  sub?: SubFields;
}

export interface InfoReplica {
  ip: string;
  port?: number;
  state?: string;
  offset?: number;
  lag?: number;
  /** `legacy` = 2.6 `ip,port,state`; `kv` = 2.8+ `ip=…,port=…`. */
  format: "legacy" | "kv";
}

export interface InfoKeyspace {
  keys: number;
  expires: number;
  avg_ttl?: number;
  subexpiry?: number;
}

export interface InfoModule {
  name: string;
  ver?: string;
  sub: SubFields;
}

export interface InfoListener {
  /** N of `listenerN`. */
  index: number;
  /** The value as written, e.g. `name=tcp,bind=*,bind=-::*,port=6379`. */
  raw: string;
  sub: SubFields;
}

export interface InfoSentinelMaster {
  index: number;
  name?: string;
  status?: string;
  /** `ip:port` of the monitored master. */
  address?: string;
  slaves?: number;
  sentinels?: number;
  sub: SubFields;
}

export interface ParsedInfo {
  /** Every `key:value` line, in order (empty after a filtered parse). */
  entries: InfoEntry[];
  /** First value of each key. */
  fields: Map<string, string>;
  /** All values, in order, for keys that occur more than once (`module`, …). */
  repeated: Map<string, string[]>;
  /** Section name as written → its keys (first value wins). Sectionless lines are not in here. */
  sections: Map<string, Map<string, string>>;
  /** No `# Section` header at all: the 2.0–2.4 layout. */
  sectionless: boolean;
  replicas: InfoReplica[];
  /** `dbN` → counts. */
  keyspace: Map<string, InfoKeyspace>;
  modules: InfoModule[];
  listeners: InfoListener[];
  /** Sentinel's `masterN:name=…,status=…,address=ip:port,slaves=…,sentinels=…`. */
  sentinelMasters: InfoSentinelMaster[];
  /** Lines that were neither a header, blank, nor `key:value`. */
  skipped: number;
  /** The input or the line count hit a cap. */
  truncated: boolean;
}

/** A value is parsed as `k=v` list when it starts with an identifier followed by `=`. */
const KV_START = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}=/;

/**
 * Split `k=v,k=v` on top-level commas (commas inside `[…]` belong to the value) and each part
 * on its first `=`. Parts without `=` are kept with an empty value. Linear in `value.length`.
 */
export function parseSubfields(value: string): SubFields {
  const out: SubFields = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= value.length; i++) {
    const c = i < value.length ? value.charCodeAt(i) : 44; /* virtual trailing comma */
    if (c === 91 /* [ */) depth++;
    else if (c === 93 /* ] */ && depth > 0) depth--;
    else if (c === 44 /* , */ && (depth === 0 || i === value.length)) {
      if (i > start) {
        const part = value.slice(start, i);
        const eq = part.indexOf("=");
        out.push(eq < 0 ? [part, ""] : [part.slice(0, eq), part.slice(eq + 1)]);
      }
      start = i + 1;
    }
  }
  return out;
}

/** First value of `key` in sub-fields. */
export function subGet(sub: SubFields, key: string): string | undefined {
  for (const [k, v] of sub) if (k === key) return v;
  return undefined;
}

/** First letters of the keys `structured()` reads: slaveN, dbN, module, masterN, listenerN. */
const STRUCTURED_FIRST = new Set([..."sdml"].map((c) => c.charCodeAt(0)));
const SLAVE_KEY = /^slave(\d+)$/;
const DB_KEY = /^db(\d+)$/;
const LISTENER_KEY = /^listener(\d+)$/;
const SENTINEL_MASTER_KEY = /^master(\d+)$/;

/**
 * Sections a filtered parse skips: Redis puts no fact the scanner reads in them (a test checks
 * that filtered and full parses give the same facts on every recorded and sample INFO).
 */
const FACTLESS_SECTIONS = new Set([
  "Persistence",
  "Stats",
  "CPU",
  "Commandstats",
  "Errorstats",
  "Latencystats",
  "Debug",
  "Keysizes",
]);

/** The keys `structured()` reads: slaveN, dbN, masterN, listenerN (the \d+ is added) and module. */
const STRUCTURED_KEYS = ["slave\0", "db\0", "master\0", "listener\0", "module"];

/**
 * Alternatives as a prefix tree (`s(?:erver_name|lave\d+)`), so the regex engine rejects a line
 * on its first characters instead of trying every key in turn. A NUL in a key stands for `\d+`.
 */
export function trieSource(words: string[]): string {
  const groups = new Map<string, string[]>();
  let empty = false;
  for (const w of words) {
    if (w.length === 0) empty = true;
    else groups.set(w[0]!, [...(groups.get(w[0]!) ?? []), w.slice(1)]);
  }
  const alts = [...groups].map(([c, rest]) => {
    const head = c === "\0" ? "\\d+" : c.replace(/[^A-Za-z0-9_]/g, (x) => `\\${x}`);
    return head + trieSource(rest);
  });
  if (alts.length === 0) return "";
  if (empty) return `(?:${alts.join("|")})?`;
  return alts.length === 1 ? alts[0]! : `(?:${alts.join("|")})`;
}

/**
 * For a filtered parse: a regex that finds, natively, only the lines worth reading — section
 * headers, lines whose key is wanted or structured, and lines led by white space (the slow path
 * decides those). Other lines are never copied out of the text.
 */
const selectors = new WeakMap<ReadonlySet<string>, { first: RegExp; next: RegExp }>();

/**
 * Two forms of one pattern: `first` (sticky) for the line at offset 0, `next` for every later
 * line, anchored on its "\n". A literal first character lets the regex engine skip ahead to
 * line breaks; `^` with the `m` flag made it try every position (measured: about twice as slow).
 */
function selector(only: ReadonlySet<string>): { first: RegExp; next: RegExp } {
  let re = selectors.get(only);
  if (re === undefined) {
    const keys = trieSource([...only, ...STRUCTURED_KEYS]);
    const line = `(?:#|[\\t ]|${keys}:)[^\\n]*`;
    re = { first: new RegExp(line, "y"), next: new RegExp(`\\n${line}`, "g") };
    selectors.set(only, re);
  }
  return re;
}

/**
 * Parse an INFO text. With `only`, lines whose key is neither in it nor one of the structured
 * keys (slaveN, dbN, module, masterN, listenerN) are passed over without being copied, and
 * `sections` tells which sections exist but not their keys (use `fields`): the scanner reads a
 * few dozen facts from ~200 lines per server, and this is its hot path.
 */
export function parseInfo(input: string, only?: ReadonlySet<string>): ParsedInfo {
  let text = input;
  let truncated = false;
  if (text.length > MAX_INFO_CHARS) {
    text = text.slice(0, MAX_INFO_CHARS);
    truncated = true;
  }
  const info: ParsedInfo = {
    entries: [],
    fields: new Map(),
    repeated: new Map(),
    sections: new Map(),
    sectionless: true,
    replicas: [],
    keyspace: new Map(),
    modules: [],
    listeners: [],
    sentinelMasters: [],
    skipped: 0,
    truncated,
  };
  const state: LineState = { section: undefined, sectionFields: undefined, filtered: false };
  let lines = 0;
  if (only !== undefined) {
    const { first, next } = selector(only);
    state.filtered = true;
    // test(), not exec(): no match array per line. A match spans one line (after the "\n" that
    // `next` starts with), so the line starts after the last "\n" before the match's end.
    first.lastIndex = 0;
    next.lastIndex = 0;
    const take = (end: number): void => {
      const start = text.lastIndexOf("\n", end - 1) + 1;
      let stop = end;
      if (stop > start && text.charCodeAt(stop - 1) === 13 /* \r */) stop--;
      const c = text.charCodeAt(start);
      const colon = c === 35 /* # */ || c <= 32 ? -1 : text.indexOf(":", start);
      if (colon < 0 || colon >= stop) {
        takeLine(info, state, text.slice(start, stop));
        return;
      }
      // The selector matched `key:` at the line start: a plain fact line. Only the structured
      // keys need the entry object and the sub-field split; the rest are one Map entry.
      const key = text.slice(start, colon);
      const value = text.slice(colon + 1, stop);
      addField(info, key, value);
      if (STRUCTURED_FIRST.has(c)) structured(info, entryOf(state, key, value));
    };
    if (first.test(text)) take(first.lastIndex);
    while (next.test(text)) {
      if (++lines > MAX_INFO_LINES) {
        info.truncated = true;
        break;
      }
      take(next.lastIndex);
      // Sections that hold no fact (counters, CPU, persistence) are jumped over whole: about
      // half of a default INFO. Their header is still recorded.
      if (state.section !== undefined && FACTLESS_SECTIONS.has(state.section)) {
        const header = text.indexOf("\n#", next.lastIndex);
        next.lastIndex = header < 0 ? text.length : header;
        state.section = undefined;
      }
    }
    return info;
  }
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    let end = nl;
    if (end > pos && text.charCodeAt(end - 1) === 13 /* \r */) end--;
    const start = pos;
    pos = nl + 1;
    if (++lines > MAX_INFO_LINES) {
      info.truncated = true;
      break;
    }
    takeLine(info, state, text.slice(start, end));
  }
  return info;
}

interface LineState {
  section: string | undefined;
  sectionFields: Map<string, string> | undefined;
  /** A filtered parse records which sections exist, not their keys (see parseInfo). */
  filtered: boolean;
}

/** The per-section map of a filtered parse: never written to. */
const NO_FIELDS: Map<string, string> = new Map();

/** One INFO line (without its line break) into `info`. */
function takeLine(info: ParsedInfo, state: LineState, line: string): void {
  if (line.length === 0) return;
  // Only lines that start with white space can be blank; trimming every line would allocate.
  if (line.charCodeAt(0) <= 32 && line.trim().length === 0) return;
  if (line.charCodeAt(0) === 35 /* # */) {
    state.section = line.slice(1).trim();
    info.sectionless = false;
    state.sectionFields = info.sections.get(state.section);
    if (state.sectionFields === undefined) {
      state.sectionFields = state.filtered ? NO_FIELDS : new Map();
      info.sections.set(state.section, state.sectionFields);
    }
    return;
  }
  const colon = line.indexOf(":");
  if (colon <= 0) {
    info.skipped++;
    return;
  }
  let key = line.slice(0, colon);
  if (key.charCodeAt(0) <= 32 || key.charCodeAt(key.length - 1) <= 32) key = key.trim();
  const value = line.slice(colon + 1);
  if (key.length === 0) {
    info.skipped++;
    return;
  }
  const entry = entryOf(state, key, value);
  // A filtered parse is read through `fields` and the structured lists only.
  if (!state.filtered) info.entries.push(entry);
  addField(info, key, value);
  if (state.sectionFields !== undefined && !state.filtered && !state.sectionFields.has(key)) {
    state.sectionFields.set(key, value);
  }
  structured(info, entry);
}

function entryOf(state: LineState, key: string, value: string): InfoEntry {
  const entry: InfoEntry = { section: state.section, key, value };
  // Sub-fields are split only for the keys whose structure we read (most lines are scalars).
  if (STRUCTURED_FIRST.has(key.charCodeAt(0)) && KV_START.test(value)) {
    entry.sub = parseSubfields(value);
  }
  return entry;
}

function addField(info: ParsedInfo, key: string, value: string): void {
  const first = info.fields.get(key);
  if (first === undefined) {
    info.fields.set(key, value);
    return;
  }
  const all = info.repeated.get(key);
  if (all) all.push(value);
  else info.repeated.set(key, [first, value]);
}

/** Fill the structured views for the lines that carry them. */
function structured(info: ParsedInfo, entry: InfoEntry): void {
  const { key, value, sub } = entry;
  const c = key.charCodeAt(0);
  if (c === 115 /* s */) {
    if (SLAVE_KEY.test(key)) {
      const r = parseReplica(value, sub);
      if (r) info.replicas.push(r);
    }
  } else if (c === 100 /* d */) {
    const m = DB_KEY.exec(key);
    if (m && sub) {
      const keys = safeInt(subGet(sub, "keys"));
      if (keys !== undefined) {
        const ks: InfoKeyspace = { keys, expires: safeInt(subGet(sub, "expires")) ?? 0 };
        const ttl = safeInt(subGet(sub, "avg_ttl"));
        if (ttl !== undefined) ks.avg_ttl = ttl;
        const subexp = safeInt(subGet(sub, "subexpiry"));
        if (subexp !== undefined) ks.subexpiry = subexp;
        if (!info.keyspace.has(key)) info.keyspace.set(key, ks);
      }
    }
  } else if (c === 109 /* m */) {
    if (key === "module") {
      if (sub) {
        const name = subGet(sub, "name");
        if (name !== undefined && name.length > 0) {
          const mod: InfoModule = { name, sub };
          const ver = subGet(sub, "ver");
          if (ver !== undefined) mod.ver = ver;
          info.modules.push(mod);
        }
      }
    } else {
      const m = SENTINEL_MASTER_KEY.exec(key);
      // Sentinel's `masterN:name=…,address=…` (in `# Sentinel`); `master_host` and friends do
      // not match the key pattern. The section is not required: only Sentinel writes these keys.
      if (m && sub) {
        if (subGet(sub, "name") !== undefined || subGet(sub, "address") !== undefined) {
          const sm: InfoSentinelMaster = { index: Number(m[1]), sub };
          const name = subGet(sub, "name");
          if (name !== undefined) sm.name = name;
          const status = subGet(sub, "status");
          if (status !== undefined) sm.status = status;
          const address = subGet(sub, "address");
          if (address !== undefined) sm.address = address;
          const slaves = safeInt(subGet(sub, "slaves"));
          if (slaves !== undefined) sm.slaves = slaves;
          const sentinels = safeInt(subGet(sub, "sentinels"));
          if (sentinels !== undefined) sm.sentinels = sentinels;
          info.sentinelMasters.push(sm);
        }
      }
    }
  } else if (c === 108 /* l */) {
    const m = LISTENER_KEY.exec(key);
    if (m) info.listeners.push({ index: Number(m[1]), raw: value, sub: sub ?? [] });
  }
}

/**
 * `slaveN` value in either form. The legacy form is split from the right so an IPv6 address
 * (which contains colons, and after the first-colon split may start with `:`) stays whole.
 */
function parseReplica(value: string, sub: SubFields | undefined): InfoReplica | undefined {
  if (sub && subGet(sub, "ip") !== undefined) {
    const r: InfoReplica = { ip: subGet(sub, "ip") ?? "", format: "kv" };
    const port = safeInt(subGet(sub, "port"));
    if (port !== undefined) r.port = port;
    const state = subGet(sub, "state");
    if (state !== undefined) r.state = state;
    const offset = safeInt(subGet(sub, "offset"));
    if (offset !== undefined) r.offset = offset;
    const lag = safeInt(subGet(sub, "lag"));
    if (lag !== undefined) r.lag = lag;
    return r;
  }
  const last = value.lastIndexOf(",");
  if (last < 0) return value.length > 0 ? { ip: value, format: "legacy" } : undefined;
  const prev = value.lastIndexOf(",", last - 1);
  if (prev < 0) {
    const r: InfoReplica = { ip: value.slice(0, last), format: "legacy" };
    const port = safeInt(value.slice(last + 1));
    if (port !== undefined) r.port = port;
    return r;
  }
  const r: InfoReplica = { ip: value.slice(0, prev), format: "legacy" };
  const port = safeInt(value.slice(prev + 1, last));
  if (port !== undefined) r.port = port;
  const state = value.slice(last + 1);
  if (state.length > 0) r.state = state;
  return r;
}
