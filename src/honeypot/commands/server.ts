/**
 * Server commands (Redis's "server" group: server.c, config.c, rdb.c, db.c, object.c, latency.c,
 * slowlog.c): INFO, CONFIG, SAVE and BGSAVE, LASTSAVE, SHUTDOWN, DEBUG, TIME, LATENCY, SLOWLOG,
 * and DBSIZE, FLUSHDB, FLUSHALL and MEMORY, which work on the keyspace (their ACL category is
 * @keyspace). Nothing is executed: SAVE writes no file and SHUTDOWN stops nothing; CONFIG SET
 * dir and SAVE report their effect for the recorder, as file-write attacks are made of them.
 */
import { arr, bulk, simple, verbatim } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { globMatch } from "../keyspace.js";
import {
  type ConfigSpec,
  configSpec,
  invalidValueReason,
  normalizeValue,
  resolveDir,
} from "../personas/config.js";
import {
  latencyDoctorText,
  memoryDoctorText,
  SHUTDOWN_FAILED,
  SYNTAX_ERROR,
} from "../personas/texts.js";
import { debug } from "./debug.js";
import { doubleReply } from "./doubles.js";
import { memoryUsage } from "./encoding.js";
import {
  bulkText,
  EMPTY_ARRAY,
  errorReply,
  integer,
  nullBulk,
  OK,
  pairsMap,
  type Reply,
  replyPairs,
  syntaxError,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

function info(c: CommandContext): Reply {
  if (!c.era.multiSectionInfo && c.args.length > 2) return syntaxError();
  const names = c.args.slice(1).map((a) => a.toString("latin1").toLowerCase());
  const text = c.info(names);
  return c.state.proto === 3
    ? verbatim(Buffer.from(text, "latin1"))
    : bulk(Buffer.from(text, "latin1"));
}

/**
 * CONFIG GET: the version's parameters (its recorded list and order) matching the pattern, with
 * the session's values. Before 7.0 one pattern, matched without case against each name; 7.0+
 * several, each name at most once, and a name without glob characters is looked up directly
 * (aliases too) and echoed as the client wrote it (configGetCommand).
 */
function configGet(c: CommandContext): Reply {
  const pairs: Array<[string, RespValue]> = [];
  const seen = new Set<string>();
  const rec = c.persona.recording!;
  for (let i = 2; i < c.args.length; i++) {
    const pattern = c.arg(i);
    if (c.era.at("7.0") && !/[[*?]/.test(pattern)) {
      const spec = configSpec(rec, pattern);
      if (spec === undefined || seen.has(spec.name)) continue;
      const value = c.state.config.get(spec.name) ?? c.state.config.get(spec.alias ?? "");
      if (value === undefined) continue;
      seen.add(spec.name);
      pairs.push([pattern, bulkText(value)]);
      continue;
    }
    const lower = pattern.toLowerCase();
    for (const [name, value] of c.state.config) {
      if (seen.has(name) || !globMatch(lower, name)) continue;
      seen.add(name);
      // KeyDB lists tls-allowlist as an array of its entries (configGetCommand).
      const shown =
        c.era.keydb && name === "tls-allowlist"
          ? arr(
              value
                .split(" ")
                .filter((w) => w !== "")
                .map((w) => bulkText(w)),
            )
          : bulkText(value);
      pairs.push([name, shown]);
    }
  }
  return pairsMap(pairs);
}

/** Longest CONFIG SET value a session keeps. */
const CONFIG_VALUE_BYTES = 4096;

/** CONFIG SET's error for one parameter as 7.0+ words it. */
function configSetFailed(name: string, reason: string): Reply {
  return errorReply(`ERR CONFIG SET failed (possibly related to argument '${name}') - ${reason}`);
}

/** Redis's pathIsBaseName: no directory separator of either kind. */
function isBaseName(name: string): boolean {
  return !name.includes("/") && !name.includes("\\");
}

/**
 * CONFIG SET name value [name value …] (several pairs 7.0+, atomically: every name is checked
 * — unknown, immutable, protected, duplicate, in that order per pair, the first problem winning
 * — then every value, and nothing is changed unless all pass, as configSetCommand does). Which
 * parameters are immutable or protected is the version's own (config.c of its tag, recorded).
 */
function configSet(c: CommandContext): Reply {
  const era = c.era;
  const rec = c.persona.recording!;
  if ((c.args.length - 2) % 2 !== 0) return syntaxError();
  const wanted: Array<{ spec: ConfigSpec; given: string; value: string }> = [];
  for (let i = 2; i < c.args.length; i += 2) {
    const spec = configSpec(rec, c.arg(i));
    if (spec === undefined || (spec.immutable && era.before("7.0"))) {
      return errorReply(
        era.at("7.0")
          ? `ERR Unknown option or number of arguments for CONFIG SET - '${c.arg(i)}'`
          : `ERR Unsupported CONFIG parameter: ${c.arg(i)}`,
      );
    }
    if (spec.immutable) return configSetFailed(c.arg(i), "can't set immutable config");
    if (
      spec.protectedConfig &&
      era.protectedConfigs &&
      c.state.config.get("enable-protected-configs") !== "yes"
    ) {
      return configSetFailed(c.arg(i), "can't set protected config");
    }
    if (wanted.some((w) => w.spec === spec))
      return configSetFailed(c.arg(i), "duplicate parameter");
    wanted.push({ spec, given: c.arg(i), value: c.arg(i + 1) });
  }
  const updates: Array<[string, string]> = [];
  for (const { spec, given, value } of wanted) {
    // 7.0+ names the parameter by its canonical name once the value is what failed.
    const shown = era.at("7.0") ? spec.name : given;
    if (spec.name === "dir") {
      const own = [c.persona.paths.dir];
      const target = resolveDir(c.state.config.get("dir") ?? "/", value, own);
      if (target === undefined) {
        return era.at("7.0")
          ? configSetFailed(shown, "No such file or directory")
          : errorReply("ERR Changing directory: No such file or directory");
      }
      updates.push(["dir", target]);
      continue;
    }
    if (spec.name === "dbfilename" && !isBaseName(value)) {
      const reason = "dbfilename can't be a path, just a filename";
      if (era.at("7.0")) return configSetFailed(shown, reason);
      return errorReply(
        era.at("6.0")
          ? `ERR Invalid argument '${value}' for CONFIG SET 'dbfilename' - ${reason}`
          : `ERR ${reason}`,
      );
    }
    const why = invalidValueReason(spec, value, era);
    if (why !== undefined) {
      if (era.at("7.0")) return configSetFailed(shown, why);
      const suffix = era.at("6.0") ? ` - ${why}` : "";
      return errorReply(`ERR Invalid argument '${value}' for CONFIG SET '${given}'${suffix}`);
    }
    const stored = normalizeValue(spec, value);
    updates.push([spec.name, stored]);
    if (spec.alias !== undefined) updates.push([spec.alias, stored]);
  }
  // Values are kept to a bounded length: ~200 parameters × a 64 KB argument each would
  // otherwise hold megabytes per session. Nothing an attack sets comes near it. Only names the
  // version lists are kept (an alias it does not list is not added).
  for (const [name, value] of updates) {
    if (c.state.config.get(name) !== undefined) {
      c.state.config.set(name, value.slice(0, CONFIG_VALUE_BYTES));
    }
  }
  const [first] = updates;
  if (first !== undefined) c.effect = { kind: "config_set", key: first[0], value: first[1] };
  return OK;
}

function configRewrite(c: CommandContext): Reply {
  return c.persona.paths.configFile === ""
    ? errorReply("ERR The server is running without a config file")
    : OK;
}

function save(status: string) {
  return (c: CommandContext): Reply => {
    if (c.fullName === "bgsave" && c.args.length === 2 && c.arg(1).toUpperCase() !== "SCHEDULE") {
      return syntaxError();
    }
    const s = c.state;
    s.lastSave = c.now();
    s.dirty = 0;
    s.saves++;
    c.effect = {
      kind: "save",
      dir: s.config.get("dir") ?? "",
      dbfilename: s.config.get("dbfilename") ?? "dump.rdb",
    };
    return status === "OK" ? OK : simple(status);
  };
}

function lastsave(c: CommandContext): Reply {
  return integer(Math.floor((c.state.lastSave ?? c.persona.startedAt) / 1000));
}

/**
 * SHUTDOWN: a honeypot cannot stop and stay up, so it answers as a server whose final save
 * failed does (common on hosts whose dir an attacker moved) and keeps running.
 */
function shutdown(c: CommandContext): Reply {
  for (let i = 1; i < c.args.length; i++) {
    const opt = c.arg(i).toUpperCase();
    if (!["NOSAVE", "SAVE", "NOW", "FORCE", "ABORT"].includes(opt)) return syntaxError();
    if (c.era.before("7.0") && !["NOSAVE", "SAVE"].includes(opt)) return syntaxError();
  }
  return errorReply(SHUTDOWN_FAILED);
}

function dbsize(c: CommandContext): Reply {
  return integer(c.keyspace.size(c.state.db));
}

function flushGeneric(all: boolean) {
  return (c: CommandContext): Reply => {
    if (c.args.length > 2) return syntaxError();
    if (c.args.length === 2) {
      const mode = c.arg(1).toUpperCase();
      if (!(mode === "ASYNC" || (mode === "SYNC" && c.era.at("6.2")))) return syntaxError();
    }
    const keys = c.keyspace.flush(all ? "all" : c.state.db);
    // A write per key removed; FLUSHALL one more before 7.0 (flushallCommand's dirty++).
    wrote(c, keys + (all && c.era.before("7.0") ? 1 : 0));
    c.effect = { kind: "flush", keys };
    return OK;
  };
}

/** MEMORY USAGE key [SAMPLES n]: the estimate of encoding.ts (SAMPLES changes nothing). */
function memoryUsageCommand(c: CommandContext): Reply {
  if (c.args.length > 3 && (c.args.length !== 5 || c.arg(3).toUpperCase() !== "SAMPLES")) {
    return syntaxError();
  }
  const bytes = memoryUsage(c, c.arg(2));
  return bytes === undefined ? nullBulk() : integer(bytes);
}

/** LATENCY DOCTOR: the persona logs no latency event, so the monitor's setting decides. */
function latencyDoctor(c: CommandContext): Reply {
  const threshold = c.state.config.get("latency-monitor-threshold") ?? "0";
  return bulkText(latencyDoctorText(c.era, threshold !== "0"));
}

/** The persona's INFO memory section as numbers (its memory model: one place). */
function memoryInfo(c: CommandContext): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of c.info(["memory"]).matchAll(/^(\w+):(\d+(?:\.\d+)?)\r?$/gm)) {
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

function memoryDoctor(c: CommandContext): Reply {
  const info = memoryInfo(c);
  const used = info.get("used_memory") ?? 0;
  return bulkText(memoryDoctorText(c.era, used, info.get("used_memory_peak") ?? used));
}

/**
 * A database's dict overhead as getMemoryOverheadData counts it: a dictEntry (24 bytes) per
 * entry and a pointer per bucket (a power of two, at least 4), plus for the main dict an robj
 * header per key (16 bytes, KeyDB's 24); 7.4+ (and Valkey 8) keep each in a kvstore, 216 bytes more, and
 * 64 for the dict it allocates once it holds anything.
 */
function dictOverhead(n: number, robj: number, kvstore: boolean): number {
  const table = n === 0 ? 0 : n * (24 + robj) + Math.max(4, 2 ** Math.ceil(Math.log2(n))) * 8;
  if (!kvstore) return table;
  return 216 + (n > 0 ? 64 : 0) + table;
}

/**
 * MEMORY STATS (memoryCommand and getMemoryOverheadData in object.c): the fields and their
 * order as each version prints them, the values from the persona's INFO memory and keyspace,
 * so the two agree. Ratios are C floats written by addReplyDouble.
 */
function memoryStats(c: CommandContext): Reply {
  const era = c.era;
  const info = memoryInfo(c);
  const n = (k: string): number => info.get(k) ?? 0;
  const used = n("used_memory");
  const peak = Math.max(used, n("used_memory_peak"));
  const startup = n("used_memory_startup");
  const net = Math.max(1, used - startup);
  const dbs: Array<[number, number, number]> = [];
  let keys = 0;
  for (const m of c.info(["keyspace"]).matchAll(/^db(\d+):keys=(\d+),expires=(\d+)/gm)) {
    dbs.push([Number(m[1]), Number(m[2]), Number(m[3])]);
    keys += Number(m[2]);
  }
  const int = (v: number): Reply => integer(Math.round(v));
  const dbl = (v: number): Reply => doubleReply(era, c.state.proto, Math.fround(v));
  const fields: Array<[string, Reply]> = [
    ["peak.allocated", int(peak)],
    ["total.allocated", int(used)],
    ["startup.allocated", int(startup)],
    ["replication.backlog", int(n("mem_replication_backlog"))],
    ["clients.slaves", int(n("mem_clients_slaves"))],
    ["clients.normal", int(n("mem_clients_normal"))],
  ];
  if (era.at("7.0")) fields.push(["cluster.links", int(n("mem_cluster_links"))]);
  fields.push(["aof.buffer", int(n("mem_aof_buffer"))]);
  if (era.at("5.0")) {
    const lua = era.at("7.0") ? n("used_memory_scripts_eval") : n("used_memory_scripts");
    fields.push(["lua.caches", int(lua)]);
  }
  if (era.at("7.0")) fields.push(["functions.caches", int(n("used_memory_functions"))]);
  const kvstore = era.at("7.4") || (era.valkey && !era.version.startsWith("7."));
  for (const [db, k, expires] of dbs) {
    const inner: Array<[string, Reply]> = [
      ["overhead.hashtable.main", int(dictOverhead(k, era.keydb ? 24 : 16, kvstore))],
      ["overhead.hashtable.expires", int(dictOverhead(expires, 0, kvstore))],
    ];
    if (era.at("7.0") && !kvstore) inner.push(["overhead.hashtable.slot-to-keys", int(0)]);
    fields.push([`db.${db}`, replyPairs(inner, c.state.proto)]);
  }
  if (kvstore) {
    fields.push(["overhead.db.hashtable.lut", int(dbs.length > 0 ? 256 : 0)]);
    fields.push(["overhead.db.hashtable.rehashing", int(0)]);
  }
  fields.push(["overhead.total", int(n("used_memory_overhead"))]);
  if (kvstore) fields.push(["db.dict.rehashing.count", int(0)]);
  fields.push(
    ["keys.count", int(keys)],
    ["keys.bytes-per-key", int(keys > 0 ? Math.floor(net / keys) : 0)],
    ["dataset.bytes", int(n("used_memory_dataset"))],
    ["dataset.percentage", dbl((n("used_memory_dataset") * 100) / net)],
    ["peak.percentage", dbl((used * 100) / peak)],
  );
  const rss = n("used_memory_rss");
  if (era.before("5.0")) {
    fields.push(["fragmentation", dbl(rss / Math.max(1, used))]);
  } else {
    const allocated = n("allocator_allocated") || used;
    const active = n("allocator_active") || allocated;
    const resident = n("allocator_resident") || active;
    fields.push(
      ["allocator.allocated", int(allocated)],
      ["allocator.active", int(active)],
      ["allocator.resident", int(resident)],
    );
    if (kvstore) fields.push(["allocator.muzzy", int(n("allocator_muzzy"))]);
    fields.push(
      ["allocator-fragmentation.ratio", dbl(active / allocated)],
      ["allocator-fragmentation.bytes", int(active - allocated)],
      ["allocator-rss.ratio", dbl(resident / active)],
      ["allocator-rss.bytes", int(resident - active)],
      ["rss-overhead.ratio", dbl(rss / resident)],
      ["rss-overhead.bytes", int(rss - resident)],
      ["fragmentation", dbl(rss / Math.max(1, used))],
      ["fragmentation.bytes", int(rss - used)],
    );
  }
  return replyPairs(fields, c.state.proto);
}

export const SERVER_COMMANDS: CommandSpec[] = inCategory("admin", [
  { name: "info", arity: -1, handler: info },
  {
    name: "config",
    arity: -2,
    subcommands: {
      get: { arity: -3, arityBefore7: 3, handler: configGet },
      set: { arity: -4, arityBefore7: 4, handler: configSet },
      resetstat: {
        arity: 2,
        handler: (c) => {
          c.persona.resetStats(c.now());
          return OK;
        },
      },
      rewrite: { arity: 2, handler: configRewrite },
    },
    legacyErrors: {
      unknown: () => "ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE",
      arity: (sub) => `ERR Wrong number of arguments for CONFIG ${sub}`,
    },
  },
  { name: "save", arity: 1, handler: save("OK") },
  {
    name: "bgsave",
    arity: [
      ["2.8", 1],
      ["3.2.2", -1],
    ],
    handler: save("Background saving started"),
  },
  {
    name: "bgrewriteaof",
    arity: 1,
    handler: () => simple("Background append only file rewriting started"),
  },
  { name: "lastsave", arity: 1, handler: lastsave },
  { name: "shutdown", arity: -1, handler: shutdown },
  // 7.0+ refuses it unless enable-debug-command allows it (session.ts); before, it answers.
  { name: "debug", arity: -2, gated: "DEBUG", handler: debug },
  {
    name: "time",
    arity: 1,
    handler: (c) => {
      const now = c.now();
      const usec = (now % 1000) * 1000 + Math.floor(Math.random() * 1000);
      return arr([bulk(String(Math.floor(now / 1000))), bulk(String(usec))]);
    },
  },
  {
    name: "latency",
    arity: -2,
    subcommands: {
      latest: { arity: 2, handler: () => EMPTY_ARRAY },
      history: { arity: 3, handler: () => EMPTY_ARRAY },
      reset: { arity: -2, handler: () => integer(0) },
      doctor: { arity: 2, handler: latencyDoctor },
    },
    // Before 5.0 latencyCommand's chain ended in shared.syntaxerr (no HELP either).
    legacyErrors: { unknown: () => SYNTAX_ERROR, arity: () => SYNTAX_ERROR },
  },
  {
    name: "slowlog",
    arity: -2,
    subcommands: {
      get: { arity: -2, handler: () => EMPTY_ARRAY },
      len: { arity: 2, handler: () => integer(0) },
      reset: { arity: 2, handler: () => OK },
    },
    legacyErrors: {
      unknown: () => "ERR Unknown SLOWLOG subcommand or wrong # of args. Try GET, RESET, LEN.",
      arity: () => "ERR Unknown SLOWLOG subcommand or wrong # of args. Try GET, RESET, LEN.",
    },
  },
  { name: "dbsize", arity: 1, category: "keyspace", keys: [0, 0, 0], handler: dbsize },
  {
    name: "flushdb",
    arity: [
      ["2.8", 1],
      ["4.0", -1],
    ],
    category: "keyspace",
    keys: [0, 0, 0],
    flags: ["write"],
    handler: flushGeneric(false),
  },
  {
    name: "flushall",
    arity: [
      ["2.8", 1],
      ["4.0", -1],
    ],
    category: "keyspace",
    keys: [0, 0, 0],
    flags: ["write"],
    handler: flushGeneric(true),
  },
  {
    name: "memory",
    arity: -2,
    since: "4.0",
    category: "keyspace",
    keys: [2, 2, 1],
    subcommands: {
      usage: { arity: -3, handler: memoryUsageCommand },
      doctor: { arity: 2, handler: memoryDoctor },
      stats: { arity: 2, handler: memoryStats },
      "malloc-stats": {
        arity: 2,
        handler: () => bulk("Stats not supported for the current allocator"),
      },
      purge: { arity: 2, handler: () => OK },
    },
  },
]);
