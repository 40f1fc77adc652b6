/**
 * What real servers said about themselves (data/tables, recorded by scripts/record-tables.ts
 * from the builds in /work/servers): COMMAND, COMMAND DOCS, CONFIG GET * and INFO, as the raw
 * RESP2 and (6.0+) RESP3 replies, and `<C> HELP` of every container command that answered one.
 * A persona answers COMMAND, CONFIG and HELP from the recording of its version, and its arity checks follow the recorded command table: the recorded server
 * decides, not the honeypot's own command specs (commands/spec.ts keeps `arity` only for
 * versions without a recording).
 *
 * A persona claiming a version that was not recorded uses the recording of the nearest build
 * of its line (recordingFor below is the one place that approximation is made): redis-7.2
 * claiming 7.2.7 answers with 7.2.4's table; redis-8.2 answers with 8.0-m01's, the newest Redis
 * the mirrors have (it reports 7.9.224), which lacks 8.2's newest commands.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { ReplyDecoder } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { installedData } from "../../store/paths.js";
import { versionParts } from "./era.js";

/** One command (or 7.0+ subcommand) as COMMAND describes it. */
export interface RecordedCommand {
  /** Lower-case full name: `get`, `config|get`. */
  name: string;
  /** The name as the server registered it (KeyDB's `KEYDB.MVCCRESTORE`): errors show it. */
  displayName: string;
  arity: number;
  flags: readonly string[];
  first: number;
  last: number;
  step: number;
  /** 6.0+: ACL categories (`@read` …). */
  categories: readonly string[];
  /** 7.0+: key specs as recorded (empty before). */
  keySpecs: readonly KeySpec[];
  /** The entry as COMMAND INFO writes it, per protocol (RESP3 attached when first asked). */
  entry: { 2: RespValue; 3?: RespValue };
  /** 7.0+: subcommands by lower-case name (`get` of `config`). */
  subcommands: ReadonlyMap<string, RecordedCommand>;
}

/** A 7.0+ key spec (server.h keySpec), as COMMAND's tenth field gives it. */
export interface KeySpec {
  flags: readonly string[];
  /** The flags as recorded (GETKEYSANDFLAGS answers them as they are). */
  flagsValue: RespValue;
  begin:
    | { type: "index"; pos: number }
    | { type: "keyword"; keyword: string; startfrom: number }
    | { type: "unknown" };
  find:
    | { type: "range"; lastkey: number; keystep: number; limit: number }
    | { type: "keynum"; keynumidx: number; firstkey: number; keystep: number }
    | { type: "unknown" };
}

export interface Recording {
  /** Build name: `redis-7.2.4`, `valkey-8.0.1`, `keydb-6.3.4`. */
  name: string;
  product: string;
  version: string;
  /** Top-level commands by lower-case name, in the recorded COMMAND order. */
  commands: ReadonlyMap<string, RecordedCommand>;
  /**
   * The whole COMMAND reply for a client of this protocol, as that protocol's recording gave it
   * (a real server's command order can differ between two calls: its dicts rehash as they are
   * used). RESP3 falls back to RESP2 where the version had no HELLO.
   */
  commandReply(proto: 2 | 3): RespValue;
  /** One command's COMMAND INFO entry for a client of this protocol. */
  entry(cmd: RecordedCommand, proto: 2 | 3): RespValue;
  /** 7.0+: COMMAND DOCS as name → docs for a client of this protocol; undefined before. */
  docs(proto: 2 | 3): ReadonlyMap<string, RespValue> | undefined;
  /** CONFIG GET *: name and value, in the recorded order. */
  config: ReadonlyArray<readonly [string, string]>;
  /**
   * What CONFIG SET accepts, read from the tag's config.c by the recording script: standard
   * configs as [name, alias, flags] (6.0+), and before 7.0 the names configSetCommand's own
   * chain handles.
   */
  configRules?: { standard: Array<[string, string | null, string]>; special: string[] };
  /**
   * `<C> HELP` as the build sent it, by lower-case container name (`client`, `xgroup` …): the
   * same bytes in RESP2 and RESP3 (an array of status lines). Only containers whose HELP
   * answered an array are here.
   */
  help: ReadonlyMap<string, Buffer>;
  /** INFO (default sections) and INFO all, as text. */
  info: string;
  infoAll: string;
}

interface RecordingFile {
  server: string;
  version: string;
  replies: Record<string, string>;
  config_rules?: Recording["configRules"];
}

/** The builds recorded in data/tables, by name (no file is read until one is asked for). */
function recordedNames(): string[] {
  let dir: string;
  try {
    dir = installedData("tables");
  } catch {
    return [];
  }
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".json.gz"))
    .map((f) => f.slice(0, -".json.gz".length))
    .sort();
}

let names: string[] | undefined;
const loaded = new Map<string, Recording>();

function decode(b64: string): RespValue {
  const bytes = Buffer.from(b64, "base64");
  const [value] = new ReplyDecoder({
    maxBulkBytes: bytes.length,
    maxLineBytes: bytes.length,
    maxElements: bytes.length,
    maxDepth: 64,
  }).push(bytes);
  if (value === undefined) throw new Error("a recorded reply is incomplete");
  return value;
}

function text(v: RespValue | undefined): string {
  if (v === undefined) return "";
  if (v.type === "bulk" || v.type === "verbatim") return v.value?.toString("latin1") ?? "";
  if (v.type === "simple") return v.value;
  if (v.type === "integer") return String(v.value);
  return "";
}

export function items(v: RespValue | undefined): RespValue[] {
  if (v === undefined) return [];
  if (v.type === "array") return v.value ?? [];
  if (v.type === "set") return v.value;
  if (v.type === "map") return v.value.flat();
  return [];
}

/** A map, or RESP2's flat array of pairs, as a lookup by key text. */
export function pairs(v: RespValue | undefined): Map<string, RespValue> {
  const out = new Map<string, RespValue>();
  const list = items(v);
  for (let i = 0; i + 1 < list.length; i += 2) out.set(text(list[i]), list[i + 1]!);
  return out;
}

function num(v: RespValue | undefined): number {
  return v?.type === "integer" ? Number(v.value) : Number(text(v));
}

function keySpec(v: RespValue): KeySpec {
  const m = pairs(v);
  const bs = pairs(m.get("begin_search"));
  const bsSpec = pairs(bs.get("spec"));
  const fk = pairs(m.get("find_keys"));
  const fkSpec = pairs(fk.get("spec"));
  const begin: KeySpec["begin"] =
    text(bs.get("type")) === "index"
      ? { type: "index", pos: num(bsSpec.get("index")) }
      : text(bs.get("type")) === "keyword"
        ? {
            type: "keyword",
            keyword: text(bsSpec.get("keyword")),
            startfrom: num(bsSpec.get("startfrom")),
          }
        : { type: "unknown" };
  const find: KeySpec["find"] =
    text(fk.get("type")) === "range"
      ? {
          type: "range",
          lastkey: num(fkSpec.get("lastkey")),
          keystep: num(fkSpec.get("keystep")),
          limit: num(fkSpec.get("limit")),
        }
      : text(fk.get("type")) === "keynum"
        ? {
            type: "keynum",
            keynumidx: num(fkSpec.get("keynumidx")),
            firstkey: num(fkSpec.get("firstkey")),
            keystep: num(fkSpec.get("keystep")),
          }
        : { type: "unknown" };
  const flagsValue = m.get("flags") ?? { type: "array", value: [] };
  return { flags: items(flagsValue).map(text), flagsValue, begin, find };
}

function command(entry: RespValue): RecordedCommand {
  const f = items(entry);
  const subs = new Map<string, RecordedCommand>();
  for (const s of items(f[9])) {
    const sub = command(s);
    subs.set(sub.name.slice(sub.name.indexOf("|") + 1), sub);
  }
  return {
    name: text(f[0]).toLowerCase(),
    displayName: text(f[0]),
    arity: num(f[1]),
    flags: items(f[2]).map(text),
    first: num(f[3]),
    last: num(f[4]),
    step: num(f[5]),
    categories: items(f[6]).map(text),
    keySpecs: items(f[8]).map(keySpec),
    entry: { 2: entry },
    subcommands: subs,
  };
}

/** Attach the RESP3 entries of a command (and its subcommands) to its RESP2 description. */
function attachResp3(commands: ReadonlyMap<string, RecordedCommand>, reply3: RespValue): void {
  for (const e of items(reply3)) {
    const f = items(e);
    const cmd = commands.get(text(f[0]).toLowerCase());
    if (cmd === undefined) continue;
    cmd.entry[3] = e;
    for (const s of items(f[9])) {
      const name = text(items(s)[0]).toLowerCase();
      const sub = cmd.subcommands.get(name.slice(name.indexOf("|") + 1));
      if (sub !== undefined) sub.entry[3] = s;
    }
  }
}

/**
 * Reads a recording. The RESP2 command table is decoded at once (arity checks need it); the
 * RESP3 table and COMMAND DOCS (most of the file) only when a client first asks for them.
 */
function load(name: string): Recording {
  const file = path.join(installedData("tables"), `${name}.json.gz`);
  const data = JSON.parse(zlib.gunzipSync(fs.readFileSync(file)).toString("utf8")) as RecordingFile;
  const r = data.replies;
  const reply2 = decode(r.command!);
  const commands = new Map<string, RecordedCommand>();
  for (const e of items(reply2)) {
    const c = command(e);
    commands.set(c.name, c);
  }
  let reply3: RespValue | undefined;
  const resp3 = (): RespValue | undefined => {
    if (reply3 === undefined && r["command@3"] !== undefined) {
      reply3 = decode(r["command@3"]);
      attachResp3(commands, reply3);
    }
    return reply3;
  };
  const docs = new Map<2 | 3, ReadonlyMap<string, RespValue>>();
  const docsFor = (proto: 2 | 3): ReadonlyMap<string, RespValue> | undefined => {
    const key =
      proto === 3 && r["command_docs@3"] !== undefined ? "command_docs@3" : "command_docs";
    const b64 = r[key];
    if (b64 === undefined) return undefined;
    const p = key === "command_docs" ? 2 : 3;
    let m = docs.get(p);
    if (m === undefined) {
      m = pairs(decode(b64));
      docs.set(p, m);
    }
    return m;
  };
  const configList = items(decode(r.config_get!));
  const config: Array<[string, string]> = [];
  for (let i = 0; i + 1 < configList.length; i += 2) {
    config.push([text(configList[i]), text(configList[i + 1])]);
  }
  const recording: Recording = {
    name,
    product: data.server,
    version: data.version,
    commands,
    commandReply: (proto) => (proto === 3 ? (resp3() ?? reply2) : reply2),
    entry: (cmd, proto) => {
      if (proto === 3) resp3();
      return proto === 3 && cmd.entry[3] !== undefined ? cmd.entry[3] : cmd.entry[2];
    },
    docs: docsFor,
    config,
    help: new Map(
      Object.entries(r)
        .filter(([key]) => key.startsWith("help:"))
        .map(([key, b64]) => [key.slice("help:".length), Buffer.from(b64, "base64")]),
    ),
    info: text(decode(r.info!)),
    infoAll: text(decode(r.info_all!)),
  };
  if (data.config_rules !== undefined) recording.configRules = data.config_rules;
  return recording;
}

/** The recording of one build by name (`redis-7.2.4`), read once. */
export function recording(name: string): Recording {
  let r = loaded.get(name);
  if (r === undefined) {
    r = load(name);
    loaded.set(name, r);
  }
  return r;
}

/**
 * The build whose recording a persona of `product` claiming `version` answers with: the same
 * major.minor (Valkey: the same major) at the nearest patch level, else the newest build of the
 * product below the version (redis-8.2 → 8.0-m01), else none. This is the one place where a
 * claimed version borrows another build's table.
 */
export function recordingFor(product: string, version: string): string | undefined {
  names ??= recordedNames();
  const [major, minor, patch] = versionParts(version);
  let best: { name: string; score: number } | undefined;
  for (const name of names) {
    const dash = name.indexOf("-");
    if (name.slice(0, dash) !== product) continue;
    const [M, m, p] = versionParts(name.slice(dash + 1));
    const sameLine = M === major && (product === "valkey" || m === minor);
    const below = M * 1e6 + m * 1e3 + p <= major * 1e6 + minor * 1e3 + patch;
    if (!sameLine && !below) continue;
    // Same line first (by patch distance), then the newest build below the version.
    const score = sameLine
      ? Math.abs(m - minor) * 1000 + Math.abs(p - patch)
      : 1e9 - (M * 1e6 + m * 1e3 + p);
    if (best === undefined || score < best.score) best = { name, score };
  }
  return best?.name;
}
