/**
 * Product and version fingerprint, and the ServerFacts of the result record, from INFO and the
 * HELLO 3 map (versions.md §3 and "Parser recommendations").
 *
 * Product order (first match wins):
 *  1. Valkey     `server_name:valkey` or `valkey_version` → version = valkey_version.
 *                `redis_version` (fixed at 7.2.x) is kept in redis_version, never used as version.
 *  2. Dragonfly  `dragonfly_version:df-v1.2.3` → version "1.2.3".
 *  3. Garnet     `garnet_version` or `server_name:garnet` → version = garnet_version.
 *  4. KeyDB      `# KeyDB` section, `mvcc_depth`, `storage_provider`, `availability_zone`, or
 *                `features` containing `cluster_mget` → version = redis_version (KeyDB's own).
 *  5. Other Redis-protocol servers that name themselves (`kvrocks_version`, `pika_version`,
 *     `redict_version`, `upstash_version`, `memurai_version`, or a `server_name` that is not
 *     redis) → product "unknown", no version: their redis_version is a compatibility value and
 *     must not be matched against Redis CVEs. redis_version is still reported.
 *  6. MSOpenTech Windows port: `os:Windows…`, `multiplexing_api:WinSock_IOCP`, or a redis_version
 *     no upstream release has (major ≤ 3 with a patch ≥ 100: 2.8.2400, 3.0.504, 3.2.100).
 *  7. AWS ElastiCache `os:Amazon ElastiCache` → version = redis_version.
 *  8. redis          `redis_version`.
 * With no INFO (renamed) the HELLO map decides: `server` (`redis`/`valkey`/other), and
 * `dragonfly_version` / `garnet_version` when present. Valkey 7.2 answers HELLO with
 * server=redis and its own version, so HELLO-only Valkey 7.2 reads as redis (unavoidable).
 */

import type { RespValue } from "../resp/types.js";
import type { ModuleFact, Product, ReplicaFact, ServerFacts } from "../schema/result.js";
import { MAX_ERROR_CHARS, safeText } from "../untrusted/text.js";
import type { ParsedInfo } from "./info.js";
import { respText, safeInt } from "./text.js";

/** Bounds on how much of a (possibly hostile) INFO ends up in one result record. */
export const FACT_LIMITS = {
  replicas: 256,
  keyspace: 1024,
  modules: 128,
  listeners: 32,
  pathChars: 512,
  versionChars: 64,
};

/** Redis-protocol servers outside the Product list that announce themselves in INFO. */
const OTHER_PRODUCT_KEYS = [
  "kvrocks_version",
  "pika_version",
  "redict_version",
  "upstash_version",
  "memurai_version",
];

const KEYDB_KEYS = ["mvcc_depth", "storage_provider", "availability_zone"];

/**
 * Every INFO key read by identifyFromInfo, serverFactsFromInfo and looksLikeInfo (besides the
 * structured slaveN/dbN/module/masterN/listenerN lines): the scanner parses INFO with this
 * filter. A key read below must be listed here (a test checks the facts match a full parse).
 */
export const FACT_KEYS: ReadonlySet<string> = new Set([
  "server_name",
  "redis_version",
  "valkey_version",
  "dragonfly_version",
  "garnet_version",
  "features",
  ...KEYDB_KEYS,
  ...OTHER_PRODUCT_KEYS,
  "os",
  "multiplexing_api",
  "redis_mode",
  "server_mode",
  "arch_bits",
  "role",
  "run_id",
  "tcp_port",
  "uptime_in_seconds",
  "connected_clients",
  "used_memory",
  "maxmemory",
  "master_host",
  "master_port",
  "config_file",
  "executable",
  "mem_allocator",
  "redis_git_sha1",
  "redis_git_dirty",
  "redis_build_id",
  "gcc_version",
  "process_id",
]);

export interface ProductId {
  product?: Product;
  version?: string;
}

/** The HELLO 3 reply as key → value (map, or a flat RESP2 array of pairs). */
export function helloFields(hello: RespValue | undefined): Map<string, RespValue> | undefined {
  if (hello === undefined || (hello.type !== "map" && hello.type !== "array")) return undefined;
  const out = pairs(hello);
  // A HELLO map names the server and its version; anything else is not a HELLO reply.
  return out !== undefined && (out.has("server") || out.has("version")) ? out : undefined;
}

/** The HELLO reply, or the map helloFields() already made of it. */
export type Hello = RespValue | Map<string, RespValue>;

function helloMap(hello: Hello | undefined): Map<string, RespValue> | undefined {
  return hello instanceof Map ? hello : helloFields(hello);
}

/** Key → value of a map, or of a flat array of pairs; first occurrence of a key wins. */
function pairs(v: RespValue): Map<string, RespValue> | undefined {
  const out = new Map<string, RespValue>();
  if (v.type === "map") {
    for (const [k, val] of v.value) {
      const key = respText(k);
      if (key !== undefined && !out.has(key)) out.set(key, val);
    }
    return out;
  }
  if (v.type === "array" && v.value !== null && v.value.length % 2 === 0) {
    for (let i = 0; i + 1 < v.value.length; i += 2) {
      const key = respText(v.value[i]);
      const val = v.value[i + 1];
      if (key !== undefined && val !== undefined && !out.has(key)) out.set(key, val);
    }
    return out;
  }
  return undefined;
}

/** `df-v1.27.1` / `v1.27.1` → `1.27.1`. */
function dragonflyVersion(v: string): string {
  return v.replace(/^df-/i, "").replace(/^v(?=\d)/i, "");
}

function cleanVersion(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = safeText(v.trim(), FACT_LIMITS.versionChars);
  return t.length > 0 ? t : undefined;
}

/** Windows-port version numbers: upstream 2.x/3.x never had a patch level ≥ 100. */
function isWindowsPortVersion(v: string | undefined): boolean {
  const m = v === undefined ? null : /^([0-3])\.(\d+)\.(\d+)$/.exec(v.trim());
  return m !== null && Number(m[3]) >= 100;
}

/** Product and product version from INFO alone (undefined product: INFO named nothing). */
export function identifyFromInfo(info: ParsedInfo): ProductId {
  const f = info.fields;
  const get = (k: string): string | undefined => {
    const v = f.get(k);
    return v === undefined ? undefined : v.trim();
  };
  const serverName = get("server_name")?.toLowerCase();
  const redisVersion = get("redis_version");

  const valkey = get("valkey_version");
  if (valkey !== undefined || serverName === "valkey") {
    return { product: "valkey", version: cleanVersion(valkey) };
  }
  const df = get("dragonfly_version");
  if (df !== undefined)
    return { product: "dragonfly", version: cleanVersion(dragonflyVersion(df)) };
  const garnet = get("garnet_version");
  if (garnet !== undefined || serverName === "garnet") {
    return { product: "garnet", version: cleanVersion(garnet) };
  }
  if (
    info.sections.has("KeyDB") ||
    KEYDB_KEYS.some((k) => f.has(k)) ||
    /(^|,)\s*cluster_mget\s*(,|$)/.test(get("features") ?? "")
  ) {
    return { product: "keydb", version: cleanVersion(redisVersion) };
  }
  if (
    OTHER_PRODUCT_KEYS.some((k) => f.has(k)) ||
    (serverName !== undefined && serverName !== "" && serverName !== "redis")
  ) {
    return { product: "unknown" };
  }
  const os = get("os") ?? "";
  if (
    /^windows\b/i.test(os) ||
    /^winsock_iocp$/i.test(get("multiplexing_api") ?? "") ||
    isWindowsPortVersion(redisVersion)
  ) {
    return { product: "msopentech", version: cleanVersion(redisVersion) };
  }
  if (/^amazon elasticache\b/i.test(os)) {
    return { product: "elasticache", version: cleanVersion(redisVersion) };
  }
  if (redisVersion !== undefined) return { product: "redis", version: cleanVersion(redisVersion) };
  return {};
}

/** Product and version from the HELLO map alone. */
export function identifyFromHello(hello: Map<string, RespValue>): ProductId {
  const df = respText(hello.get("dragonfly_version"));
  if (df !== undefined)
    return { product: "dragonfly", version: cleanVersion(dragonflyVersion(df)) };
  const garnet = respText(hello.get("garnet_version"));
  if (garnet !== undefined) return { product: "garnet", version: cleanVersion(garnet) };
  const server = respText(hello.get("server"))?.trim().toLowerCase();
  const version = cleanVersion(respText(hello.get("version")));
  if (server === "valkey") return { product: "valkey", version };
  if (server === "keydb") return { product: "keydb", version };
  if (server === undefined || server === "redis") return { product: "redis", version };
  return { product: "unknown" };
}

function short(v: string | undefined, max = MAX_ERROR_CHARS): string | undefined {
  if (v === undefined) return undefined;
  const t = safeText(v.trim(), max);
  return t.length > 0 ? t : undefined;
}

function helloModules(v: RespValue | undefined): ModuleFact[] | undefined {
  if (v === undefined) return undefined;
  const items = v.type === "array" ? (v.value ?? []) : v.type === "set" ? v.value : [];
  const out: ModuleFact[] = [];
  for (const item of items) {
    const m = pairs(item);
    const name = short(respText(m?.get("name")), 128);
    if (name === undefined) continue;
    const mod: ModuleFact = { name };
    const ver = short(respText(m?.get("ver")), FACT_LIMITS.versionChars);
    if (ver !== undefined) mod.ver = ver;
    out.push(mod);
    if (out.length >= FACT_LIMITS.modules) break;
  }
  return out;
}

/** ServerFacts from the HELLO map alone (INFO renamed, refused or missing). */
export function factsFromHello(hello: Hello): ServerFacts {
  const h = helloMap(hello);
  if (h === undefined) return {};
  const facts: ServerFacts = {};
  const id = identifyFromHello(h);
  if (id.product !== undefined) facts.product = id.product;
  if (id.version !== undefined) facts.version = id.version;
  if (id.version !== undefined) facts.version_source = "hello";
  applyHello(facts, h);
  return facts;
}

/** Fill what HELLO tells and INFO did not. */
function applyHello(facts: ServerFacts, h: Map<string, RespValue>): void {
  const proto = safeInt(respText(h.get("proto")));
  if (proto !== undefined) facts.proto = proto;
  if (facts.mode === undefined) {
    const mode = short(respText(h.get("mode")), 64);
    if (mode !== undefined) facts.mode = mode;
  }
  if (facts.role === undefined) {
    const role = short(respText(h.get("role")), 64);
    if (role !== undefined) facts.role = role;
  }
  if (facts.modules === undefined) {
    const mods = helloModules(h.get("modules"));
    if (mods !== undefined && mods.length > 0) facts.modules = mods;
  }
}

/**
 * ServerFacts from a parsed INFO, completed by the HELLO 3 map when there is one. Absent facts
 * are omitted. Numbers are kept only when exact (safe integers), so 8 GiB of used_memory stays
 * 8589934592 and an absurd 2^60 is dropped rather than rounded.
 */
export function serverFactsFromInfo(info: ParsedInfo, hello?: Hello): ServerFacts {
  const f = info.fields;
  const h = helloMap(hello);
  const facts: ServerFacts = {};

  let id = identifyFromInfo(info);
  let source: "info" | "hello" = "info";
  if (h !== undefined) {
    const hid = identifyFromHello(h);
    if (id.product === undefined) {
      id = hid;
      source = "hello";
    }
    // Valkey 8 names itself in HELLO even where INFO keeps a Redis-compatible face.
    else if (id.product === "redis" && hid.product === "valkey") id = hid;
    else if (id.version === undefined && id.product === hid.product) {
      id = { ...id, version: hid.version };
      source = "hello";
    }
  }
  // An INFO that names no product at all still came from some Redis-protocol server.
  if (id.product === undefined && looksLikeInfo(info)) id = { product: "unknown" };
  if (id.product !== undefined) facts.product = id.product;
  if (id.version !== undefined) {
    facts.version = id.version;
    facts.version_source = source;
  }

  const redisVersion = cleanVersion(f.get("redis_version"));
  if (redisVersion !== undefined) facts.redis_version = redisVersion;
  const valkeyVersion = cleanVersion(f.get("valkey_version"));
  if (valkeyVersion !== undefined) facts.valkey_version = valkeyVersion;

  const mode = short(f.get("redis_mode") ?? f.get("server_mode"), 64);
  if (mode !== undefined) facts.mode = mode;
  const os = short(f.get("os"));
  if (os !== undefined) facts.os = os;
  const archBits = safeInt(f.get("arch_bits"));
  if (archBits !== undefined) facts.arch_bits = archBits;
  const role = short(f.get("role"), 64);
  if (role !== undefined) facts.role = role;
  const runId = short(f.get("run_id"), 64);
  if (runId !== undefined) facts.run_id = runId;

  // Build facts, as Shadowserver's Open-Redis report exports them (src/report/hosts.ts).
  const gitSha1 = short(f.get("redis_git_sha1"), 64);
  if (gitSha1 !== undefined) facts.git_sha1 = gitSha1;
  const buildId = short(f.get("redis_build_id"), 64);
  if (buildId !== undefined) facts.build_id = buildId;
  const gcc = short(f.get("gcc_version"), 64);
  if (gcc !== undefined) facts.gcc_version = gcc;
  const mux = short(f.get("multiplexing_api"), 64);
  if (mux !== undefined) facts.multiplexing_api = mux;

  const numbers: Array<[keyof ServerFacts, string]> = [
    ["git_dirty", "redis_git_dirty"],
    ["process_id", "process_id"],
    ["uptime_s", "uptime_in_seconds"],
    ["connected_clients", "connected_clients"],
    ["used_memory", "used_memory"],
    ["maxmemory", "maxmemory"],
  ];
  for (const [fact, key] of numbers) {
    const n = safeInt(f.get(key));
    if (n !== undefined) (facts as Record<string, unknown>)[fact] = n;
  }

  if (info.replicas.length > 0) {
    const replicas: ReplicaFact[] = [];
    for (const r of info.replicas.slice(0, FACT_LIMITS.replicas)) {
      const rep: ReplicaFact = { ip: short(r.ip, 128) ?? "" };
      if (r.port !== undefined) rep.port = r.port;
      const state = short(r.state, 64);
      if (state !== undefined) rep.state = state;
      replicas.push(rep);
    }
    facts.replicas = replicas;
  }
  const masterHost = short(f.get("master_host"));
  if (masterHost !== undefined) facts.master_host = masterHost;
  const masterPort = safeInt(f.get("master_port"));
  if (masterPort !== undefined) facts.master_port = masterPort;

  if (info.keyspace.size > 0) {
    const keyspace: Record<string, { keys: number; expires: number }> = {};
    let n = 0;
    for (const [db, ks] of info.keyspace) {
      if (n++ >= FACT_LIMITS.keyspace) break;
      keyspace[db] = { keys: ks.keys, expires: ks.expires };
    }
    facts.keyspace = keyspace;
  }

  if (info.modules.length > 0) {
    const modules: ModuleFact[] = [];
    for (const m of info.modules.slice(0, FACT_LIMITS.modules)) {
      const mod: ModuleFact = { name: short(m.name, 128) ?? "" };
      const ver = short(m.ver, FACT_LIMITS.versionChars);
      if (ver !== undefined) mod.ver = ver;
      modules.push(mod);
    }
    facts.modules = modules;
  }

  const configFile = short(f.get("config_file"), FACT_LIMITS.pathChars);
  if (configFile !== undefined) facts.config_file = configFile;
  const executable = short(f.get("executable"), FACT_LIMITS.pathChars);
  if (executable !== undefined) facts.executable = executable;

  if (info.listeners.length > 0) {
    facts.listeners = info.listeners
      .slice(0, FACT_LIMITS.listeners)
      .map((l) => safeText(l.raw.trim(), MAX_ERROR_CHARS));
  }
  const allocator = short(f.get("mem_allocator"), 64);
  if (allocator !== undefined) facts.mem_allocator = allocator;

  if (h !== undefined) applyHello(facts, h);
  return facts;
}

/**
 * Does this text look like an INFO reply at all? A version key, a `# Server` section, or at
 * least two of the classic keys. A honeypot or proxy answering INFO with something else is
 * then not taken for a version read.
 */
export function looksLikeInfo(info: ParsedInfo): boolean {
  const f = info.fields;
  if (
    f.has("redis_version") ||
    f.has("valkey_version") ||
    f.has("dragonfly_version") ||
    f.has("garnet_version") ||
    OTHER_PRODUCT_KEYS.some((k) => f.has(k)) ||
    info.sections.has("Server")
  ) {
    return true;
  }
  let n = 0;
  for (const k of [
    "os",
    "arch_bits",
    "role",
    "run_id",
    "tcp_port",
    "uptime_in_seconds",
    "used_memory",
  ]) {
    if (f.has(k) && ++n >= 2) return true;
  }
  return false;
}
