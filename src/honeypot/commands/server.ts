/**
 * Connection, server and administration commands: what scanners and attack chains send
 * (AUTH, HELLO, INFO, CONFIG, SAVE, SLAVEOF, MODULE, EVAL, CLIENT …). Nothing is executed:
 * SAVE writes no file, SLAVEOF opens no connection, MODULE LOAD loads nothing, EVAL runs no
 * Lua. Each reports its effect for the recorder and answers as the persona's version would.
 */
import { createHash } from "node:crypto";
import { arr, bulk, encodeValue, int, simple, verbatim } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { globMatch } from "../keyspace.js";
import { configSpec, invalidValueReason, normalizeValue, resolveDir } from "../personas/config.js";
import type { Era } from "../personas/era.js";
import {
  arityText,
  CLIENT_NAME_INVALID,
  helloNoAuthText,
  MODULE_LOAD_FAILED,
  NOT_INTEGER,
  noPasswordSetText,
  SHUTDOWN_FAILED,
  SYNTAX_ERROR,
  wrongPasswordText,
} from "../personas/texts.js";
import {
  bulkText,
  EMPTY_ARRAY,
  errorReply,
  integer,
  nullBulk,
  OK,
  pairsMap,
  type Reply,
  statusLines,
  textArray,
} from "./reply.js";
import {
  arityAt,
  type CommandCategory,
  type CommandContext,
  type CommandSpec,
  inCategory,
  type KeyPositions,
} from "./spec.js";

const syntax = (): Reply => errorReply(SYNTAX_ERROR);

function parseInteger(text: string): number | undefined {
  return /^(0|-?[1-9][0-9]{0,15})$/.test(text) ? Number(text) : undefined;
}

// ---- connection ----

function ping(c: CommandContext): Reply {
  if (c.args.length > 2) return errorReply(arityText(c.fullName));
  const subscribed = c.state.proto === 2 && c.state.channels.size + c.state.patterns.size > 0;
  if (subscribed) return arr([bulk("pong"), bulk(c.args[1] ?? Buffer.alloc(0))]);
  return c.args.length === 2 ? bulk(c.args[1]!) : simple("PONG");
}

function echo(c: CommandContext): Reply {
  return bulk(c.args[1]!);
}

function quit(c: CommandContext): Reply {
  c.close = true;
  return OK;
}

/**
 * Is this (user, password) the persona's? Open personas let the default user in with any
 * password (nopass); password personas only with the operator's acceptPassword.
 */
function passwordMatches(c: CommandContext, user: string, password: string): boolean {
  if (user !== "default") return false;
  if (c.persona.auth !== "password") return true;
  return c.persona.acceptPassword !== undefined && password === c.persona.acceptPassword;
}

function auth(c: CommandContext): Reply {
  const era = c.era;
  if (era.acl && c.args.length > 3) return syntax();
  const user = c.args.length === 3 ? c.arg(1) : undefined;
  const password = c.arg(c.args.length - 1);
  const record = (ok: boolean): void => {
    c.effect =
      user === undefined
        ? { kind: "auth", password, ok }
        : { kind: "auth", username: user, password, ok };
  };
  if (user === undefined && c.persona.auth !== "password") {
    record(false);
    return errorReply(noPasswordSetText(era));
  }
  const ok = passwordMatches(c, user ?? "default", password);
  record(ok);
  if (!ok) return errorReply(wrongPasswordText(era));
  c.state.authenticated = true;
  return OK;
}

/** Client names are printable ASCII without spaces (CLIENT SETNAME's rule). */
function validName(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

function hello(c: CommandContext): Reply {
  const era = c.era;
  let proto = c.state.proto;
  if (c.args.length >= 2) {
    const v = parseInteger(c.arg(1));
    if (v === undefined)
      return errorReply("ERR Protocol version is not an integer or out of range");
    if (v < 2 || v > 3) return errorReply("NOPROTO unsupported protocol version");
    proto = v as 2 | 3;
  }
  let authPair: [string, string] | undefined;
  let name: string | undefined;
  for (let i = 2; i < c.args.length; i++) {
    const opt = c.arg(i).toUpperCase();
    const left = c.args.length - i - 1;
    if (opt === "AUTH" && left >= 2) {
      authPair = [c.arg(i + 1), c.arg(i + 2)];
      i += 2;
    } else if (opt === "SETNAME" && left >= 1) {
      name = c.arg(++i);
    } else {
      return errorReply(`ERR Syntax error in HELLO option '${c.arg(i)}'`);
    }
  }
  if (authPair !== undefined) {
    const [user, password] = authPair;
    const ok = passwordMatches(c, user, password);
    c.effect = { kind: "auth", username: user, password, ok };
    if (!ok) return errorReply(wrongPasswordText(era));
    c.state.authenticated = true;
  }
  if (!c.state.authenticated) return errorReply(helloNoAuthText(era));
  if (name !== undefined) {
    if (!validName(name)) return errorReply(CLIENT_NAME_INVALID);
    c.state.name = name;
  }
  c.state.proto = proto;
  const fields = c.persona.helloFields(
    proto,
    c.client.id,
    c.state.replication.master !== undefined,
  );
  const pairs: Array<[string, RespValue]> = fields.map(([k, v]) => [
    k,
    typeof v === "number" ? int(v) : bulk(v),
  ]);
  pairs.push(["modules", EMPTY_ARRAY]);
  return pairsMap(pairs);
}

/** RESET (6.2+): back to a fresh connection's state, authentication included. */
function reset(c: CommandContext): Reply {
  const s = c.state;
  s.proto = 2;
  s.db = 0;
  s.name = "";
  for (const name of [...s.channels, ...s.patterns]) c.release(subscriptionBytes(name));
  s.channels.clear();
  s.patterns.clear();
  s.authenticated = c.persona.auth !== "password";
  return simple("RESET");
}

// ---- INFO ----

function info(c: CommandContext): Reply {
  if (!c.era.multiSectionInfo && c.args.length > 2) return syntax();
  const names = c.args.slice(1).map((a) => a.toString("latin1").toLowerCase());
  const text = c.info(names);
  return c.state.proto === 3
    ? verbatim(Buffer.from(text, "latin1"))
    : bulk(Buffer.from(text, "latin1"));
}

// ---- CONFIG ----

function configGet(c: CommandContext): Reply {
  const patterns = c.args.slice(2).map((a) => a.toString("latin1").toLowerCase());
  const pairs: Array<[string, RespValue]> = [];
  for (const [name, value] of c.state.config) {
    if (patterns.some((p) => globMatch(p, name))) pairs.push([name, bulkText(value)]);
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

function configSet(c: CommandContext): Reply {
  const era = c.era;
  if ((c.args.length - 2) % 2 !== 0) return syntax();
  const updates: Array<[string, string]> = [];
  for (let i = 2; i < c.args.length; i += 2) {
    const name = c.arg(i).toLowerCase();
    const value = c.arg(i + 1);
    const spec = configSpec(era, name);
    if (spec === undefined || (spec.immutable && !era.at("7.0"))) {
      return errorReply(
        era.at("7.0")
          ? `ERR Unknown option or number of arguments for CONFIG SET - '${c.arg(i)}'`
          : `ERR Unsupported CONFIG parameter: ${c.arg(i)}`,
      );
    }
    if (spec.immutable) return configSetFailed(c.arg(i), "can't set immutable config");
    if (spec.protectedConfig && era.protectedConfigs) {
      return configSetFailed(c.arg(i), "can't set protected config");
    }
    if (name === "dir") {
      const own = [c.persona.paths.dir];
      const target = resolveDir(c.state.config.get("dir") ?? "/", value, own);
      if (target === undefined) {
        return era.at("7.0")
          ? configSetFailed(c.arg(i), "No such file or directory")
          : errorReply("ERR Changing directory: No such file or directory");
      }
      updates.push([name, target]);
      continue;
    }
    if (name === "dbfilename" && !isBaseName(value)) {
      const reason = "dbfilename can't be a path, just a filename";
      if (era.at("7.0")) return configSetFailed(c.arg(i), reason);
      return errorReply(
        era.at("6.0")
          ? `ERR Invalid argument '${value}' for CONFIG SET 'dbfilename' - ${reason}`
          : `ERR ${reason}`,
      );
    }
    const why = invalidValueReason(spec, value);
    if (why !== undefined) {
      if (era.at("7.0")) return configSetFailed(c.arg(i), why);
      const suffix = era.at("6.0") ? ` - ${why}` : "";
      return errorReply(`ERR Invalid argument '${value}' for CONFIG SET '${c.arg(i)}'${suffix}`);
    }
    updates.push([name, normalizeValue(spec, value)]);
  }
  // Values are kept to a bounded length: ~190 parameters × a 64 KB argument each would
  // otherwise hold megabytes per session. Nothing an attack sets comes near it.
  for (const [name, value] of updates) c.state.config.set(name, value.slice(0, CONFIG_VALUE_BYTES));
  const [first] = updates;
  if (first !== undefined) c.effect = { kind: "config_set", key: first[0], value: first[1] };
  return OK;
}

function configRewrite(c: CommandContext): Reply {
  return c.persona.paths.configFile === ""
    ? errorReply("ERR The server is running without a config file")
    : OK;
}

const CONFIG_HELP = [
  "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
  "SET <directive> <value>",
  "    Set the configuration <directive> to <value>.",
  "RESETSTAT",
  "    Reset statistics reported by the INFO command.",
  "REWRITE",
  "    Rewrite the configuration file.",
  "HELP",
  "    Prints this help.",
];

// ---- CLIENT ----

/**
 * An address as Redis formats it: `ip:port`, IPv6 in brackets. An IPv4 peer on a dual-stack
 * socket (`::ffff:a.b.c.d`) is shown as IPv4: Redis listens on separate v4 and v6 sockets.
 */
function formatAddr(ip: string, port: number): string {
  const plain = ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
  return plain.includes(":") ? `[${plain}]:${port}` : `${plain}:${port}`;
}

/** One CLIENT LIST / CLIENT INFO line, with the fields of the persona's version. */
function clientLine(c: CommandContext, command: string): string {
  const era = c.era;
  const s = c.state;
  const now = c.now();
  const local = c.client.local ?? {
    ip:
      c.client.peer.ip.startsWith("127.") || c.client.peer.ip === "::1"
        ? c.client.peer.ip
        : "0.0.0.0",
    port: c.client.listenerPort,
  };
  const f: Array<[string, string | number]> = [
    ["id", c.client.id],
    ["addr", formatAddr(c.client.peer.ip, c.client.peer.port)],
  ];
  if (era.at("6.2")) f.push(["laddr", formatAddr(local.ip, local.port)]);
  f.push(
    ["fd", 8 + (c.client.id % 23)],
    ["name", s.name],
    ["age", Math.floor((now - s.createdAt) / 1000)],
    ["idle", 0],
    ["flags", s.channels.size + s.patterns.size > 0 ? "P" : "N"],
  );
  if (era.valkey) f.push(["capa", ""]);
  f.push(["db", s.db], ["sub", s.channels.size], ["psub", s.patterns.size]);
  if (era.at("7.0")) f.push(["ssub", 0]);
  f.push(["multi", -1]);
  if (era.at("7.4")) f.push(["watch", 0]);
  f.push(["qbuf", era.at("6.0") ? 26 : 0], ["qbuf-free", era.at("7.0") ? 20448 : 32742]);
  if (era.at("6.2")) f.push(["argv-mem", 10]);
  if (era.at("7.0")) f.push(["multi-mem", 0], ["rbs", 1024], ["rbp", 0]);
  f.push(["obl", 0], ["oll", 0], ["omem", 0]);
  if (era.at("6.2")) f.push(["tot-mem", era.at("7.0") ? 22298 : 61466]);
  f.push(["events", "r"], ["cmd", command]);
  if (era.acl) f.push(["user", "default"]);
  if (era.at("6.2")) f.push(["redir", -1]);
  if (era.at("7.0")) f.push(["resp", s.proto]);
  if (era.at("7.2")) f.push(["lib-name", ""], ["lib-ver", ""]);
  return f.map(([k, v]) => `${k}=${v}`).join(" ");
}

function clientList(c: CommandContext): Reply {
  if (c.args.length > 2 && c.era.before("5.0")) return syntax();
  const command = c.era.subcommandTable ? "client|list" : "client";
  return bulk(Buffer.from(`${clientLine(c, command)}\n`, "latin1"));
}

function clientInfo(c: CommandContext): Reply {
  return bulk(Buffer.from(`${clientLine(c, "client|info")}\n`, "latin1"));
}

function clientSetname(c: CommandContext): Reply {
  const name = c.arg(2);
  if (!validName(name)) return errorReply(CLIENT_NAME_INVALID);
  c.state.name = name;
  return OK;
}

function clientGetname(c: CommandContext): Reply {
  return c.state.name === "" ? nullBulk() : bulkText(c.state.name);
}

/** CLIENT KILL: only this very connection can be found; killing it closes it. */
function clientKill(c: CommandContext): Reply {
  const self = formatAddr(c.client.peer.ip, c.client.peer.port);
  if (c.args.length === 3) {
    if (c.arg(2) !== self) return errorReply("ERR No such client");
    c.close = true;
    return OK;
  }
  if ((c.args.length - 2) % 2 !== 0) return syntax();
  let matches = true;
  for (let i = 2; i < c.args.length; i += 2) {
    const filter = c.arg(i).toUpperCase();
    const value = c.arg(i + 1);
    if (filter === "ID") {
      const id = parseInteger(value);
      if (id === undefined) return errorReply("ERR client-id should be greater than 0");
      matches &&= id === c.client.id;
    } else if (filter === "ADDR") matches &&= value === self;
    else if (filter === "SKIPME") matches &&= value.toLowerCase() === "no";
    else if (filter === "TYPE" || filter === "USER" || filter === "LADDR" || filter === "MAXAGE") {
      matches = false;
    } else return syntax();
  }
  if (matches) c.close = true;
  return integer(matches ? 1 : 0);
}

const legacyClientError = (_sub: string, era: Era): string =>
  era.before("3.2")
    ? "ERR Syntax error, try CLIENT (LIST | KILL ip:port | GETNAME | SETNAME connection-name)"
    : "ERR Syntax error, try CLIENT (LIST | KILL | GETNAME | SETNAME | PAUSE | REPLY)";

// ---- replication and persistence ----

function replicaof(c: CommandContext): Reply {
  const host = c.arg(1);
  const portText = c.arg(2);
  const r = c.state.replication;
  if (host.toLowerCase() === "no" && portText.toLowerCase() === "one") {
    if (r.master !== undefined) {
      // Promotion: a new history id, the old one kept as the secondary (as 4.0+ does).
      delete r.master;
      r.replid2 = r.replid;
      r.replid = createHash("sha1").update(`${r.replid}${c.now()}`).digest("hex");
      r.secondReplOffset = 1;
    }
    c.effect = { kind: "replicaof", host: "NO ONE", port: 0 };
    return OK;
  }
  const port = parseInteger(portText);
  if (c.era.at("7.0")) {
    if (port === undefined || port < 0 || port > 65535)
      return errorReply("ERR Invalid master port");
  } else if (port === undefined) {
    return errorReply(NOT_INTEGER);
  }
  if (r.master !== undefined && r.master.host === host && r.master.port === port) {
    return simple("OK Already connected to specified master");
  }
  r.master = { host, port: port! };
  c.effect = { kind: "replicaof", host, port: port! };
  return OK;
}

function role(c: CommandContext): Reply {
  const master = c.state.replication.master;
  if (master === undefined) return arr([bulk("master"), int(0), EMPTY_ARRAY]);
  return arr([bulk("slave"), bulkText(master.host), int(master.port), bulk("connect"), int(-1)]);
}

function save(status: string) {
  return (c: CommandContext): Reply => {
    if (c.fullName === "bgsave" && c.args.length === 2 && c.arg(1).toUpperCase() !== "SCHEDULE") {
      return syntax();
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
    if (!["NOSAVE", "SAVE", "NOW", "FORCE", "ABORT"].includes(opt)) return syntax();
    if (c.era.before("7.0") && !["NOSAVE", "SAVE"].includes(opt)) return syntax();
  }
  return errorReply(SHUTDOWN_FAILED);
}

// ---- MODULE ----

function moduleLoad(c: CommandContext): Reply {
  c.effect = { kind: "module_load", path: c.arg(2) };
  return errorReply(MODULE_LOAD_FAILED);
}

// ---- scripting ----

function sha1(text: Buffer | string): string {
  return createHash("sha1").update(text).digest("hex");
}

/**
 * Script bodies a session keeps for EVALSHA / SCRIPT EXISTS, in bytes: the oldest are forgotten
 * past it (an EVALSHA of one then gets NOSCRIPT, as after a SCRIPT FLUSH).
 */
const SCRIPT_BYTES = 1024 * 1024;

/** What a script body kept costs the session's memory share. */
const scriptBytes = (body: string): number => body.length + 120;

function rememberScript(c: CommandContext, body: string): string {
  const digest = sha1(Buffer.from(body, "latin1"));
  const scripts = c.state.scripts;
  if (!scripts.has(digest) && body.length <= SCRIPT_BYTES) {
    let held = body.length;
    for (const kept of scripts.values()) held += kept.length;
    for (const [sha, kept] of scripts) {
      if (held <= SCRIPT_BYTES) break;
      scripts.delete(sha);
      c.release(scriptBytes(kept));
      held -= kept.length;
    }
    // Kept while the session's memory share allows (EVALSHA of one not kept: NOSCRIPT).
    if (c.hold(scriptBytes(body))) scripts.set(digest, body);
  }
  c.effect = { kind: "script", sha1: digest };
  return digest;
}

/**
 * The script with string literals and comments blanked (newlines kept), so that a name inside
 * a string ('os') is not taken for code.
 */
function codeOnly(body: string): string {
  return body.replace(LUA_STRINGS_AND_COMMENTS, (m) => m.replace(/[^\n]/g, " "));
}

/** The script without its comments (string literals kept as they are). */
function withoutComments(body: string): string {
  return body.replace(LUA_STRINGS_AND_COMMENTS, (m) => (m.startsWith("--") ? "" : m));
}

const LUA_STRINGS_AND_COMMENTS =
  /--\[(=*)\[[\s\S]*?\]\1\]|--[^\n]*|\[(=*)\[[\s\S]*?\]\2\]|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g;

/** Globals Redis's Lua sandbox does not have, which exploit scripts reach for first. */
const MISSING_GLOBALS = /(?<![\w.:])(package|io|os|loadfile|dofile|require)(?![\w])/;

/**
 * What a script "returns" without running it: the error a sandboxed server gives for the
 * globals exploits use, the value of a lone `return <literal>` (numbers, strings, booleans,
 * nil, KEYS[i], ARGV[i], flat tables of those), else nil.
 */
function scriptReply(
  c: CommandContext,
  body: string,
  digest: string,
  keys: Buffer[],
  argv: Buffer[],
): Reply {
  const missing = MISSING_GLOBALS.exec(codeOnly(body));
  if (missing !== null) {
    const line = body.slice(0, missing.index).split("\n").length;
    const name = missing[1]!;
    if (c.era.at("7.0")) {
      return errorReply(
        `ERR user_script:${line}: Script attempted to access nonexistent global variable '${name}' script: ${digest}, on @user_script:${line}.`,
      );
    }
    return errorReply(
      `ERR Error running script (call to f_${digest}): @enable_strict_lua:15: user_script:${line}: Script attempted to access nonexistent global variable '${name}' `,
    );
  }
  const m = /^\s*return\s+([\s\S]*?)\s*;?\s*$/.exec(withoutComments(body));
  if (m === null) return nullBulk();
  const value = luaLiteral(m[1]!, keys, argv);
  return value === undefined ? nullBulk() : value;
}

const LUA_ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b" };

/** A Lua literal as Redis converts a script's return value (numbers truncate to integers). */
function luaLiteral(expr: string, keys: Buffer[], argv: Buffer[]): RespValue | undefined {
  const e = expr.trim();
  if (/^-?\d+(\.\d+)?$/.test(e)) return int(Math.trunc(Number(e)));
  if (e === "true") return int(1);
  if (e === "false" || e === "nil") return nullBulk();
  const str = /^'((?:[^'\\]|\\.)*)'$|^"((?:[^"\\]|\\.)*)"$/.exec(e);
  if (str !== null) {
    const text = (str[1] ?? str[2] ?? "").replace(
      /\\(.)/g,
      (_, ch: string) => LUA_ESCAPES[ch] ?? ch,
    );
    return bulk(Buffer.from(text, "latin1"));
  }
  const ref = /^(KEYS|ARGV)\[(\d+)\]$/.exec(e);
  if (ref !== null) {
    const item = (ref[1] === "KEYS" ? keys : argv)[Number(ref[2]) - 1];
    return item === undefined ? nullBulk() : bulk(item);
  }
  const table = /^\{([\s\S]*)\}$/.exec(e);
  if (table !== null) {
    const items: RespValue[] = [];
    for (const part of table[1]!.split(",")) {
      if (part.trim() === "") continue;
      const v = luaLiteral(part, keys, argv);
      // A nil ends a Lua array as Redis converts it.
      if (v === undefined || v.type === "null") break;
      items.push(v);
    }
    return arr(items);
  }
  return undefined;
}

/** EVAL / EVALSHA's numkeys, or the error it deserves. */
function splitKeys(c: CommandContext): { keys: Buffer[]; argv: Buffer[] } | Reply {
  const n = parseInteger(c.arg(2));
  if (n === undefined) return errorReply(NOT_INTEGER);
  if (n < 0) return errorReply("ERR Number of keys can't be negative");
  if (n > c.args.length - 3)
    return errorReply("ERR Number of keys can't be greater than number of args");
  return { keys: c.args.slice(3, 3 + n), argv: c.args.slice(3 + n) };
}

function evalScript(c: CommandContext): Reply {
  const split = splitKeys(c);
  if ("type" in split) return split;
  const body = c.arg(1);
  const digest = rememberScript(c, body);
  return scriptReply(c, body, digest, split.keys, split.argv);
}

function evalsha(c: CommandContext): Reply {
  const split = splitKeys(c);
  if ("type" in split) return split;
  const digest = c.arg(1).toLowerCase();
  const body = c.state.scripts.get(digest);
  if (body === undefined) {
    return errorReply(
      c.era.valkey
        ? "NOSCRIPT No matching script."
        : "NOSCRIPT No matching script. Please use EVAL.",
    );
  }
  c.effect = { kind: "script", sha1: digest };
  return scriptReply(c, body, digest, split.keys, split.argv);
}

// ---- pub/sub ----

/** Most channels and patterns one session holds (the replies still count every request). */
const MAX_SUBSCRIPTIONS = 10_000;

/** What a channel or pattern name kept costs the session's memory share. */
const subscriptionBytes = (name: string): number => name.length + 64;

function subscribeGeneric(kind: "subscribe" | "psubscribe") {
  return (c: CommandContext): Reply => {
    const set = kind === "subscribe" ? c.state.channels : c.state.patterns;
    const replies: Buffer[] = [];
    for (let i = 1; i < c.args.length; i++) {
      const name = c.arg(i);
      // Past the count or the session's memory share a name is answered, not kept.
      if (set.size < MAX_SUBSCRIPTIONS && !set.has(name) && c.hold(subscriptionBytes(name))) {
        set.add(name);
      }
      const count = c.state.channels.size + c.state.patterns.size;
      replies.push(pushReply(c, [bulk(kind), bulk(c.args[i]!), int(count)]));
    }
    return { type: "raw", bytes: Buffer.concat(replies) };
  };
}

function unsubscribeGeneric(kind: "unsubscribe" | "punsubscribe") {
  return (c: CommandContext): Reply => {
    const set = kind === "unsubscribe" ? c.state.channels : c.state.patterns;
    const names = c.args.length > 1 ? c.args.slice(1).map((a) => a.toString("latin1")) : [...set];
    const replies: Buffer[] = [];
    if (names.length === 0) {
      const count = c.state.channels.size + c.state.patterns.size;
      replies.push(pushReply(c, [bulk(kind), nullBulk(), int(count)]));
    }
    for (const name of names) {
      if (set.delete(name)) c.release(subscriptionBytes(name));
      const count = c.state.channels.size + c.state.patterns.size;
      replies.push(pushReply(c, [bulk(kind), bulkText(name), int(count)]));
    }
    return { type: "raw", bytes: Buffer.concat(replies) };
  };
}

/** A pub/sub message: RESP3 push (`>`), RESP2 array. */
function pushReply(c: CommandContext, items: RespValue[]): Buffer {
  return encodeValue({ type: "push", value: items }, c.state.proto);
}

// ---- ACL ----

/** The default user as ACL LIST shows it: nopass on open personas, else the password's hash. */
function aclUserLine(c: CommandContext): string {
  const secret =
    c.persona.auth === "password"
      ? `#${createHash("sha256")
          .update(c.state.config.get("requirepass") ?? "")
          .digest("hex")}`
      : "nopass";
  const channels = c.era.at("6.2") ? " &*" : "";
  return `user default on ${secret} ~*${channels} +@all`;
}

// ---- COMMAND ----

/** The flags and ACL categories COMMAND INFO shows for a command of this kind. */
function describe(spec: CommandSpec, era: Era): { flags: string[]; categories: string[] } {
  switch (spec.category) {
    case "pubsub":
      return {
        flags: ["pubsub", "noscript", "loading", "stale"],
        categories: ["@pubsub", "@slow"],
      };
    case "scripting":
      return { flags: ["noscript", "stale", "skip_monitor"], categories: ["@slow", "@scripting"] };
    case "connection": {
      const flags = ["noscript", "loading", "stale", "fast"];
      if (spec.flags?.includes("noauth") && era.acl)
        flags.push(era.at("7.0") ? "no_auth" : "no-auth");
      return { flags, categories: ["@fast", "@connection"] };
    }
    case "admin":
      return {
        flags: ["admin", "noscript", "loading", "stale"],
        categories: ["@admin", "@slow", "@dangerous"],
      };
    default: {
      const group = `@${spec.category}`;
      return spec.flags?.includes("write")
        ? {
            flags: spec.flags.includes("denyoom") ? ["write", "denyoom"] : ["write"],
            categories: ["@write", group, "@slow"],
          }
        : { flags: ["readonly", "fast"], categories: ["@read", group, "@fast"] };
    }
  }
}

/** Key positions of a command: its own, else one key first for data commands, else none. */
function keyPositions(spec: CommandSpec): KeyPositions {
  if (spec.keys !== undefined) return spec.keys;
  return DATA_CATEGORIES.has(spec.category) ? [1, 1, 1] : [0, 0, 0];
}

const DATA_CATEGORIES: ReadonlySet<CommandCategory> = new Set([
  "string",
  "list",
  "hash",
  "set",
  "keyspace",
]);

/** One COMMAND INFO entry in the version's shape (6 fields; 7 with ACL categories; 10 in 7.0+). */
function commandEntry(
  spec: CommandSpec,
  era: Era,
  fullName = spec.name,
  arity = arityAt(spec.arity, era),
): RespValue {
  const { flags, categories } = describe(spec, era);
  const [first, last, step] = fullName.includes("|") ? [0, 0, 0] : keyPositions(spec);
  const fields: RespValue[] = [
    bulk(fullName),
    int(arity),
    arr(flags.map((f) => simple(f))),
    int(first),
    int(last),
    int(step),
  ];
  if (era.acl) fields.push(arr(categories.map((c) => simple(c))));
  if (era.at("7.0")) {
    const subs = fullName.includes("|")
      ? []
      : Object.entries(spec.subcommands ?? {}).map(([sub, s]) =>
          commandEntry(spec, era, `${spec.name}|${sub}`, s.arity),
        );
    fields.push(arr([]), arr([]), arr(subs));
  }
  return arr(fields);
}

function commandAll(c: CommandContext): Reply {
  return arr([...c.commands.values()].map((spec) => commandEntry(spec, c.era)));
}

function commandInfo(c: CommandContext): Reply {
  return arr(
    c.args.slice(2).map((a) => {
      const spec = c.commands.get(a.toString("latin1").toLowerCase());
      return spec === undefined ? nullBulk() : commandEntry(spec, c.era);
    }),
  );
}

// ---- the table ----

const LATENCY_DOCTOR =
  "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You " +
  'may use "CONFIG SET latency-monitor-threshold <milliseconds>." in order to enable it. If we ' +
  "weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";

export const SERVER_COMMANDS: CommandSpec[] = inCategory("admin", [
  { name: "ping", arity: -1, category: "connection", flags: ["pubsub"], handler: ping },
  { name: "echo", arity: 2, category: "connection", handler: echo },
  { name: "quit", arity: -1, category: "connection", flags: ["noauth", "pubsub"], handler: quit },
  {
    name: "auth",
    category: "connection",
    arity: [
      ["2.8", 2],
      ["6.0", -2],
    ],
    flags: ["noauth"],
    handler: auth,
  },
  {
    name: "hello",
    category: "connection",
    arity: [
      ["6.0", -2],
      ["6.2", -1],
    ],
    since: "6.0",
    flags: ["noauth"],
    handler: hello,
  },
  {
    name: "reset",
    arity: 1,
    since: "6.2",
    category: "connection",
    flags: ["noauth", "pubsub"],
    handler: reset,
  },
  { name: "info", arity: -1, handler: info },
  {
    name: "config",
    arity: -2,
    subcommands: {
      get: { arity: -3, arityBefore7: 3, handler: configGet },
      set: { arity: -4, arityBefore7: 4, handler: configSet },
      resetstat: { arity: 2, handler: () => OK },
      rewrite: { arity: 2, handler: configRewrite },
      help: { arity: 2, since: "5.0", handler: () => statusLines(CONFIG_HELP) },
    },
    legacyErrors: {
      unknown: () => "ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE",
      arity: (sub) => `ERR Wrong number of arguments for CONFIG ${sub}`,
    },
  },
  {
    name: "client",
    category: "connection",
    arity: -2,
    subcommands: {
      list: { arity: -2, handler: clientList },
      info: { arity: 2, since: "6.2", handler: clientInfo },
      setname: { arity: 3, handler: clientSetname },
      getname: { arity: 2, handler: clientGetname },
      id: { arity: 2, since: "5.0", handler: (c) => integer(c.client.id) },
      kill: { arity: -3, handler: clientKill },
      "no-evict": { arity: 3, since: "7.0", handler: () => OK },
      setinfo: { arity: 4, since: "7.2", handler: () => OK },
    },
    legacyErrors: { unknown: legacyClientError, arity: legacyClientError },
  },
  {
    name: "command",
    arity: -1,
    handler: commandAll,
    subcommands: {
      count: { arity: 2, since: "2.8.13", handler: (c) => integer(c.commands.size) },
      info: { arity: -3, since: "2.8.13", handler: commandInfo },
      list: { arity: -2, since: "7.0", handler: (c) => textArray([...c.commands.keys()]) },
    },
  },
  {
    name: "module",
    arity: -2,
    since: "4.0",
    subcommands: {
      list: { arity: 2, handler: () => EMPTY_ARRAY },
      load: { arity: -3, gated: "MODULE", handler: moduleLoad },
      loadex: { arity: -3, since: "7.0", gated: "MODULE", handler: moduleLoad },
      unload: {
        arity: 3,
        gated: "MODULE",
        handler: () => errorReply("ERR Error unloading module: no such module with that name"),
      },
    },
  },
  { name: "slaveof", arity: 3, handler: replicaof },
  { name: "replicaof", arity: 3, since: "5.0", handler: replicaof },
  { name: "role", arity: 1, since: "2.8.12", handler: role },
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
  // Before 7.0 a server exposed to the internet that answers DEBUG is rare: hardening guides
  // rename it away, which is what the persona shows (unknown command). 7.0+ gates it.
  { name: "debug", arity: -2, since: "7.0", gated: "DEBUG", handler: () => OK },
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
    name: "wait",
    arity: 3,
    handler: (c) => {
      const replicas = parseInteger(c.arg(1));
      const timeout = parseInteger(c.arg(2));
      if (replicas === undefined || timeout === undefined) return errorReply(NOT_INTEGER);
      if (timeout < 0) return errorReply("ERR timeout is negative");
      return integer(0);
    },
  },
  {
    name: "latency",
    arity: -2,
    subcommands: {
      latest: { arity: 2, handler: () => EMPTY_ARRAY },
      history: { arity: 3, handler: () => EMPTY_ARRAY },
      reset: { arity: -2, handler: () => integer(0) },
      doctor: { arity: 2, handler: () => bulk(LATENCY_DOCTOR) },
    },
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
  { name: "publish", arity: 3, category: "pubsub", handler: () => integer(0) },
  {
    name: "subscribe",
    arity: -2,
    category: "pubsub",
    flags: ["pubsub"],
    handler: subscribeGeneric("subscribe"),
  },
  {
    name: "psubscribe",
    arity: -2,
    category: "pubsub",
    flags: ["pubsub"],
    handler: subscribeGeneric("psubscribe"),
  },
  {
    name: "unsubscribe",
    arity: -1,
    category: "pubsub",
    flags: ["pubsub"],
    handler: unsubscribeGeneric("unsubscribe"),
  },
  {
    name: "punsubscribe",
    category: "pubsub",
    arity: -1,
    flags: ["pubsub"],
    handler: unsubscribeGeneric("punsubscribe"),
  },
  { name: "eval", arity: -3, category: "scripting", handler: evalScript },
  { name: "evalsha", arity: -3, category: "scripting", handler: evalsha },
  {
    name: "script",
    category: "scripting",
    arity: -2,
    subcommands: {
      load: { arity: 3, handler: (c) => bulk(rememberScript(c, c.arg(2))) },
      exists: {
        arity: -3,
        handler: (c) =>
          arr(
            c.args
              .slice(2)
              .map((a) => int(c.state.scripts.has(a.toString("latin1").toLowerCase()) ? 1 : 0)),
          ),
      },
      flush: {
        arity: -2,
        handler: (c) => {
          for (const body of c.state.scripts.values()) c.release(scriptBytes(body));
          c.state.scripts.clear();
          return OK;
        },
      },
      kill: { arity: 2, handler: () => errorReply("NOTBUSY No scripts in execution right now.") },
    },
    legacyErrors: {
      unknown: () => "ERR Unknown SCRIPT subcommand or wrong # of args.",
      arity: () => "ERR Unknown SCRIPT subcommand or wrong # of args.",
    },
  },
  {
    name: "acl",
    arity: -2,
    since: "6.0",
    subcommands: {
      whoami: { arity: 2, handler: () => bulk("default") },
      users: { arity: 2, handler: () => textArray(["default"]) },
      list: { arity: 2, handler: (c) => textArray([aclUserLine(c)]) },
    },
  },
]);
