/**
 * Scripting commands (eval.c, script_lua.c): EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT. Scripts
 * run for real, in a sandboxed, bounded Lua VM (lua.ts; the environment in lua-prelude.ts):
 * KEYS/ARGV, redis.call/pcall into the session's own command handlers against its keyspace,
 * the conversions between Lua and RESP both ways as script_lua.c makes them, the error texts
 * of the version (7.0+: `script: <sha>, on @user_script:<line>.`; before: `Error running
 * script (call to f_<sha>): …`). A script past its step bound ends as SCRIPT KILL ends one,
 * with the version's error reply (recorded as the `script_steps` limit); the connection lives.
 */
import { createHash } from "node:crypto";
import { arr, bulk, int, map, nil, ReplyDecoder, simple } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { CjsonError, type CjsonValue, cjsonDecode } from "../cjson-decode.js";
import { globMatch } from "../keyspace.js";
import {
  hostFunction,
  LUA_REGISTRYINDEX,
  LUA_RIDX_GLOBALS,
  LUA_TBOOLEAN,
  LUA_TNIL,
  LUA_TNUMBER,
  LUA_TSTRING,
  LUA_TTABLE,
  type LuaState,
  loadTrusted,
  withState,
} from "../lua.js";
import { PRELUDE } from "../lua-prelude.js";
import { as51Message, as51Source, unrename } from "../lua51.js";
import { NOT_INTEGER, noGlobalText } from "../personas/texts.js";
import { parseInteger } from "./integers.js";
import { encodeReply, errorReply, OK, type Reply } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

function sha1(text: Buffer | string): string {
  return createHash("sha1").update(text).digest("hex");
}

/**
 * Script bodies a source keeps for EVALSHA / SCRIPT EXISTS, in bytes: the oldest are forgotten
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
      c.releaseShared(scriptBytes(kept));
      held -= kept.length;
    }
    // Kept while the world's memory share allows (EVALSHA of one not kept: NOSCRIPT).
    if (c.holdShared(scriptBytes(body))) scripts.set(digest, body);
  }
  c.effect = { kind: "script", sha1: digest };
  return digest;
}

/** Commands scripts may not call (CMD_NOSCRIPT in 7.0's table), by name or `container|sub`. */
export const NOSCRIPT: ReadonlySet<string> = new Set(
  (
    "auth hello quit reset wait blmove blpop brpop brpoplpush bzpopmax bzpopmin blmpop bzmpop " +
    "psubscribe punsubscribe ssubscribe subscribe sunsubscribe unsubscribe eval evalsha " +
    "evalsha_ro eval_ro fcall fcall_ro bgrewriteaof bgsave debug failover monitor psync " +
    "replconf replicaof role save shutdown slaveof sync discard exec multi unwatch watch " +
    "client script function acl config latency module"
  ).split(" "),
);

/** Most bytes a script's reply may take (more: the connection closes, as past an output limit). */
const MAX_SCRIPT_REPLY = 8 * 1024 * 1024;
/** Deepest Lua table a reply converts (Redis stops at the Lua stack's limit). */
const MAX_REPLY_DEPTH = 200;

interface Run {
  c: CommandContext;
  /** The script client's protocol (redis.setresp). */
  resp: 2 | 3;
  readOnly: boolean;
  v7: boolean;
  /** What a CVE-2022-0543 io.popen / os.execute asked to run (first one). */
  command?: string;
}

let run: Run | undefined;

/** `%.17g` (the reply of a Lua double as RESP3 and RESP2 give it). */
function fmt17g(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 17) {
    const [m, e] = x.toExponential(16).split("e") as [string, string];
    const mant = m.includes(".") ? m.replace(/\.?0+$/, "") : m;
    const n = Number(e);
    return `${mant}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const fixed = x.toFixed(Math.max(0, 16 - exp));
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}

/** A number argument of redis.call as Redis turns it into a string. */
function numberArg(state: LuaState, i: number, v7: boolean): string {
  if (state.isInteger(i)) return state.toBytes(i)!.toString("latin1");
  const x = state.toNumber(i);
  // 7.0 writes the shortest text that reads back the same (fpconv_dtoa); before, %.17g.
  if (!v7) return fmt17g(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e17) return String(x);
  return String(x).replace("e+", "e");
}

/** luaPushErrorBuff: {err = "<CODE> <msg>"} from "-CODE msg" or "msg". */
function pushErrorTable(state: LuaState, text: string, ignoreStats = false): void {
  let code = "ERR";
  let msg = text;
  if (text.startsWith("-")) {
    const sp = text.indexOf(" ");
    if (sp < 0) msg = text.slice(1);
    else {
      code = text.slice(1, sp);
      msg = text.slice(sp + 1);
    }
  }
  msg = msg.replace(/^[\r\n]+|[\r\n]+$/g, "");
  state.newTable();
  state.pushString(`${code} ${msg}`);
  state.setField(-2, "err");
  if (ignoreStats) {
    state.pushBoolean(true);
    state.setField(-2, "ignore_error_stats_update");
  }
}

/** redisProtocolToLuaType: a reply as the script sees it. */
function pushReply(state: LuaState, v: RespValue, depth = 0): void {
  if (!state.checkStack(4) || depth > MAX_REPLY_DEPTH) {
    state.pushNil();
    return;
  }
  switch (v.type) {
    case "integer":
      state.pushInteger(Number(v.value));
      return;
    case "bulk":
      if (v.value === null) state.pushBoolean(false);
      else state.pushBytes(v.value);
      return;
    case "simple":
      state.newTable();
      state.pushString(v.value);
      state.setField(-2, "ok");
      return;
    case "error":
      state.newTable();
      state.pushString(v.value);
      state.setField(-2, "err");
      return;
    case "array":
    case "set":
    case "push": {
      if (v.value === null) {
        state.pushBoolean(false);
        return;
      }
      state.newTable();
      if (v.type === "set") {
        state.newTable();
        for (const item of v.value) {
          pushReply(state, item, depth + 1);
          state.pushBoolean(true);
          m_rawset(state);
        }
        state.setField(-2, "set");
        return;
      }
      v.value.forEach((item, i) => {
        pushReply(state, item, depth + 1);
        state.rawSetI(-2, i + 1);
      });
      return;
    }
    case "map":
      state.newTable();
      state.newTable();
      for (const [k, val] of v.value) {
        pushReply(state, k, depth + 1);
        pushReply(state, val, depth + 1);
        m_rawset(state);
      }
      state.setField(-2, "map");
      return;
    case "null":
      state.pushNil();
      return;
    case "boolean":
      state.pushBoolean(v.value);
      return;
    case "double":
      state.newTable();
      state.pushNumber(v.value);
      state.setField(-2, "double");
      return;
    case "bignum":
      state.newTable();
      state.pushString(v.value.toString());
      state.setField(-2, "big_number");
      return;
    case "verbatim":
      state.newTable();
      state.newTable();
      state.pushString(v.format);
      state.setField(-2, "format");
      state.pushBytes(v.value);
      state.setField(-2, "string");
      state.setField(-2, "verbatim_string");
      return;
    default:
      state.pushNil();
  }
}

/** t[k] = v with t, k, v on top (pops k and v). */
function m_rawset(state: LuaState): void {
  state.rawSet(-3);
}

/** redis.call / redis.pcall. */
function redisCall(state: LuaState, raise: boolean): number {
  const r = run!;
  const argc = state.top();
  // Before 3.2 these two are returned as error tables, never raised (luaRedisGenericCommand).
  const raiseArgs = raise && r.c.era.at("3.2");
  if (argc === 0) {
    return refuse(
      state,
      r,
      raiseArgs,
      "Please specify at least one argument for this redis lib call",
    );
  }
  const args: Buffer[] = [];
  for (let i = 1; i <= argc; i++) {
    const t = state.type(i);
    if (t === LUA_TNUMBER) args.push(Buffer.from(numberArg(state, i, r.v7), "latin1"));
    else if (t === LUA_TSTRING) args.push(state.toBytes(i)!);
    else {
      return refuse(
        state,
        r,
        raiseArgs,
        "Lua redis lib command arguments must be strings or integers",
      );
    }
  }
  const where = r.v7 ? "" : state.where();
  state.setTop(0);
  const reply = r.c.scriptCall(args, r.readOnly);
  if ("error" in reply) return refuse(state, r, raise, reply.error, where);
  const bytes = encodeReply(reply, r.resp);
  const [value] = new ReplyDecoder({
    maxBulkBytes: MAX_SCRIPT_REPLY,
    maxElements: 1 << 20,
    maxDepth: 64,
  }).push(bytes);
  if (value === undefined) {
    state.pushNil();
    return 1;
  }
  if (raise && value.type === "error") {
    // 7.0 raises the error table; before, luaRaiseError raised its text.
    if (r.v7) pushErrorTable(state, `-${value.value}`, true);
    else state.pushString(value.value);
    return state.error();
  }
  pushReply(state, value);
  return 1;
}

/** Redis 7's words as Valkey 8 rewrote them (valkey-io/valkey src/script_lua.c). */
const VALKEY_8: Record<string, string> = {
  "Please specify at least one argument for this redis lib call":
    "Please specify at least one argument for this call",
  "Lua redis lib command arguments must be strings or integers":
    "Command arguments must be strings or integers",
  "redis.log() requires two arguments or more.": "server.log() requires two arguments or more.",
  "Invalid debug level.": "Invalid log level.",
  "redis.setresp() requires one argument.": "server.setresp() requires one argument.",
  "redis.set_repl() requires two arguments.": "server.set_repl() requires one argument.",
};

/** 7.0's words for a refused redis.call, as versions before 7.0 worded them. */
const BEFORE_7: Record<string, string> = {
  "Please specify at least one argument for this redis lib call":
    "Please specify at least one argument for redis.call()",
  "Lua redis lib command arguments must be strings or integers":
    "Lua redis() command arguments must be strings or integers",
  "Unknown Redis command called from script": "Unknown Redis command called from Lua script",
  "Wrong number of args calling Redis command from script":
    "Wrong number of args calling Redis command From Lua script",
  "This Redis command is not allowed from script": "This Redis command is not allowed from scripts",
};

/**
 * redis.call refused: the error table (7.0: {err = "ERR <text>"}; before: luaPushError's
 * {err = "@user_script: <line>: <text>"}), raised (call) or returned (pcall).
 */
function refuse(state: LuaState, r: Run, raise: boolean, text: string, where?: string): number {
  if (r.v7) {
    pushErrorTable(state, r.c.era.valkey8 ? (VALKEY_8[text] ?? text) : text, true);
    return raise ? state.error() : 1;
  }
  const at = where ?? state.where();
  const msg = `${at}${BEFORE_7[text] ?? text}`;
  if (raise) {
    state.pushString(msg);
    return state.error();
  }
  state.newTable();
  state.pushString(msg);
  state.setField(-2, "err");
  return 1;
}

/**
 * A Lua function behind a C function (a closure over it): how the prelude's stand-ins for
 * Redis's C libraries keep the caller's frame when a script tail-calls them (`return
 * struct.pack(…)`), so their errors carry the script's line as luaL_error's do.
 */
const TRAMPOLINE = hostFunction((s) => {
  const n = s.top();
  s.pushValue(LUA_REGISTRYINDEX - 1);
  s.insert(1);
  s.call(n, -1);
  return s.top();
});

const HOST = {
  wrap: hostFunction((s) => {
    s.pushValue(1);
    s.pushClosure(TRAMPOLINE, 1);
    return 1;
  }),
  call: hostFunction((s) => redisCall(s, true)),
  pcall: hostFunction((s) => redisCall(s, false)),
  sha1hex: hostFunction((s) => {
    if (s.top() !== 1) return raiseText(s, "wrong number of arguments");
    const b = s.type(1) === LUA_TNUMBER ? Buffer.from(numberText(s, 1)) : (s.toBytes(1) ?? "");
    s.pushString(sha1(b));
    return 1;
  }),
  log: hostFunction((s) => {
    const argc = s.top();
    if (argc < 2) return raiseText(s, "redis.log() requires two arguments or more.");
    if (s.type(1) !== LUA_TNUMBER)
      return raiseText(s, "First argument must be a number (log level).");
    const level = s.toNumber(1);
    if (level < 0 || level > 3) return raiseText(s, "Invalid debug level.");
    return 0;
  }),
  setresp: hostFunction((s) => {
    if (s.top() !== 1) return raiseText(s, "redis.setresp() requires one argument.");
    const n = s.toNumber(1);
    if (n !== 2 && n !== 3) return raiseText(s, "RESP version must be 2 or 3.");
    run!.resp = n;
    return 0;
  }),
  set_repl: hostFunction((s) => {
    if (s.top() !== 1) return raiseText(s, "redis.set_repl() requires two arguments.");
    const n = s.toNumber(1);
    if (!(n >= 0 && n <= 3 && Number.isInteger(n))) {
      return raiseText(
        s,
        "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
      );
    }
    return 0;
  }),
  noglobalset: hostFunction((s) => {
    const name = s.toBytes(2)?.toString("latin1") ?? "?";
    return s.errorAt(`Script attempted to create global variable '${name}'`);
  }),
  noglobal: hostFunction((s) => {
    const name = s.toBytes(2)?.toString("latin1") ?? "?";
    return s.errorAt(noGlobalText(run!.c.era, name));
  }),
  // Lua 5.1's dofile (Redis before 3.2): no file is ever read; /etc/passwd fails as its first
  // line (`root:x:0:0:…`) fails to compile, every other path is missing.
  dofile: hostFunction((s) => {
    if (s.top() === 0 || s.type(1) === LUA_TNIL) return 0;
    const path = s.type(1) === LUA_TNUMBER ? numberText(s, 1) : s.toBytes(1)?.toString("latin1");
    if (path === undefined || (s.type(1) !== LUA_TSTRING && s.type(1) !== LUA_TNUMBER)) {
      return s.errorAt(`bad argument #1 to 'dofile' (string expected, got ${typeName(s, 1)})`);
    }
    s.pushString(
      path === "/etc/passwd"
        ? "/etc/passwd:1: function arguments expected near ':'"
        : `cannot open ${path}: No such file or directory`,
    );
    return s.error();
  }),
  as51Source: hostFunction((s) => {
    s.pushBytes(as51Source(s.toBytes(1) ?? Buffer.alloc(0)));
    return 1;
  }),
  as51Message: hostFunction((s) => {
    s.pushString(as51Message(s.toBytes(1)?.toString("latin1") ?? "", Buffer.alloc(0), false));
    return 1;
  }),
  newproxy: hostFunction((s) => {
    s.pushUserdata(s.toBoolean(1));
    return 1;
  }),
  readonly: hostFunction((s) => s.errorAt("Attempt to modify a readonly table")),
  exec: hostFunction((s) => {
    const r = run!;
    r.command ??= (s.toBytes(1) ?? Buffer.alloc(0)).toString("latin1");
    return 0;
  }),
  clock: hostFunction((s) => {
    // The process's CPU seconds, as os.clock() reads them.
    const { user, system } = process.cpuUsage();
    s.pushNumber((user + system) / 1e6);
    return 1;
  }),
  time: hostFunction((s) => {
    s.pushInteger(Math.floor(run!.c.now() / 1000));
    return 1;
  }),
  cjson_decode: hostFunction((s) => {
    if (s.top() !== 1) return s.errorAt("bad argument #1 to 'decode' (expected 1 argument)");
    const t = s.type(1);
    if (t !== LUA_TSTRING && t !== LUA_TNUMBER) {
      return s.errorAt(`bad argument #1 to 'decode' (string expected, got ${typeName(s, 1)})`);
    }
    const text = t === LUA_TNUMBER ? Buffer.from(numberText(s, 1), "latin1") : s.toBytes(1)!;
    let value: CjsonValue;
    try {
      value = cjsonDecode(text);
    } catch (e) {
      if (!(e instanceof CjsonError)) throw e;
      return s.errorAt(e.message);
    }
    s.setTop(0);
    pushCjson(s, value);
    return 1;
  }),
};

/** A decoded cjson value onto the stack (depth bounded by the decoder). */
function pushCjson(s: LuaState, v: CjsonValue): void {
  s.checkStack(4);
  if (v === null) s.pushLightNull();
  else if (typeof v === "boolean") s.pushBoolean(v);
  else if (typeof v === "number") s.pushNumber(v);
  else if (Buffer.isBuffer(v)) s.pushBytes(v);
  else if ("array" in v) {
    s.newTable(0, 0);
    v.array.forEach((item, i) => {
      pushCjson(s, item);
      s.rawSetI(-2, i + 1);
    });
  } else {
    s.newTable(0, 0);
    for (const [k, item] of v.object) {
      s.pushBytes(k);
      pushCjson(s, item);
      s.rawSet(-3);
    }
  }
}

const TYPE_NAMES = ["nil", "boolean", "userdata", "number", "string", "table", "function"];

/** lua_typename of the value at i. */
function typeName(s: LuaState, i: number): string {
  const t = s.type(i);
  return t === 8 ? "thread" : (TYPE_NAMES[t] ?? "userdata");
}

function numberText(s: LuaState, i: number): string {
  if (s.isInteger(i)) return s.toBytes(i)!.toString("latin1");
  const x = s.toNumber(i);
  return Number.isInteger(x) && Math.abs(x) < 1e15 ? String(x) : fmt17g(x);
}

/** luaPushError + luaError: raise {err = "ERR <text>"}. */
function raiseText(s: LuaState, text: string): number {
  if (run!.v7) pushErrorTable(s, run!.c.era.valkey8 ? (VALKEY_8[text] ?? text) : text);
  else s.pushString(text);
  return s.error();
}

/**
 * redisLrand48's state (48 bits) per keyspace: it lives as long as the server does, so every
 * connection sharing a keyspace draws from one sequence, from rand.c's initial state.
 */
const RANDOM_STATE = new WeakMap<object, number>();
const LRAND48_INITIAL = 0x1234abcd330e;
/** redisSrand48(0). */
const LRAND48_SEED_0 = 0x330e;

/** Keep the script's PRNG state (the getter is at stack index 3). */
function saveRandom(s: LuaState, c: CommandContext): void {
  if (!c.era.at("7.0")) return;
  s.pushValue(3);
  if (s.pcall(0, 1, 0) === 0 && s.isInteger(-1)) {
    RANDOM_STATE.set(c.keyspace, Number(s.toBytes(-1)!.toString("latin1")));
  }
  s.pop();
}

/** Build the environment: libraries, prelude, KEYS/ARGV; leaves handler and env on the stack. */
function prepare(
  s: LuaState,
  c: CommandContext,
  keys: Buffer[],
  argv: Buffer[],
  globals = true,
): void {
  s.openLibs();
  if (loadTrusted(s, PRELUDE, "=[C]") !== 0) throw new Error(`prelude: ${s.toBytes(-1)}`);
  s.newTable();
  for (const [name, fn] of Object.entries(HOST)) {
    s.pushFunction(fn);
    s.setField(-2, name);
  }
  s.pushLightNull();
  s.setField(-2, "null");
  const era = c.era;
  const [a, b, d] = era.version.split(".").map((x) => Number.parseInt(x, 10) || 0);
  const features: Record<string, boolean | number | string> = {
    v7: era.at("7.0"),
    readonly: era.at("6.2.7"),
    strict: era.before("6.2.7"),
    resp3: era.at("6.0"),
    handlerLine: era.at("6.2.7") ? 9 : 8,
    vulnerable: cve20220543(c),
    version: era.version,
    versionNum: ((a ?? 0) << 16) | ((b ?? 0) << 8) | (d ?? 0),
    // 7.0 draws from one sequence for the server's life; before, each script starts it anew.
    seed: era.at("7.0") ? (RANDOM_STATE.get(c.keyspace) ?? LRAND48_INITIAL) : LRAND48_SEED_0,
    // os (only os.clock): Redis 7.4, Valkey 8.
    osClock: (era.product === "redis" && era.at("7.4")) || era.valkey8,
    serverAlias: era.valkey8,
    v32: era.at("3.2"),
    v50: era.at("5.0"),
    // Where %p addresses fall: glibc's heap (a source build, MALLOC=libc) or jemalloc's.
    heapBase: c.persona.layout === "source" ? 0x556d9b800000 : 0x7fef16a00000,
    // lua_struct.c: 2.8–3.0 ship struct.c 1.4 (no offset check, `c0' quoted); the size
    // overflow check came with 5.0.8 (CVE-2020-14147).
    structOld: era.before("3.2"),
    structOverflow: era.at("5.0.8"),
    print: era.before("7.0"),
    dofile: era.before("3.2"),
    // Debian's 7.0 package (built on its own Lua 5.1) has no getfenv, setfenv, newproxy.
    fenv: !(c.persona.layout === "debian" && era.at("7.0")),
  };
  s.newTable();
  for (const [k, v] of Object.entries(features)) {
    if (typeof v === "boolean") s.pushBoolean(v);
    else if (typeof v === "number") s.pushInteger(v);
    else s.pushString(v);
    s.setField(-2, k);
  }
  if (s.pcall(2, 4, 0) !== 0) throw new Error(`prelude: ${s.toBytes(-1)}`);
  // Functions get their keys and arguments as parameters, not as globals.
  if (!globals) return;
  // KEYS and ARGV go into the globals table raw, as Redis sets them from C.
  s.rawGetI(LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
  for (const [name, items] of [
    ["KEYS", keys],
    ["ARGV", argv],
  ] as const) {
    s.pushString(name);
    s.newTable(items.length, 0);
    items.forEach((item, i) => {
      s.pushBytes(item);
      s.rawSetI(-2, i + 1);
    });
    s.rawSet(-3);
  }
  s.pop();
}

/**
 * Whether the persona's build is open to CVE-2022-0543: Debian's and Ubuntu's packages of
 * Redis before the 2022 fixes (5:5.0.14-1+deb10u2, 5:6.0.16-1+deb11u2) exposed `package`.
 */
function cve20220543(c: CommandContext): boolean {
  return c.persona.layout === "debian" && c.era.product === "redis" && c.era.before("6.0");
}

/**
 * An error reply made with addReplyErrorFormat and a format ending in a newline: 6.0+ trims
 * the newline, before it became a space.
 */
function formatted(c: CommandContext, text: string): Reply {
  return errorReply(c.era.at("6.0") ? text : `${text} `);
}

/** The compile error reply of the version. */
function compileError(s: LuaState, c: CommandContext, body: Buffer): Reply {
  const text = as51Message(s.toBytes(-1)?.toString("latin1") ?? "", body, !c.era.at("6.2.7"));
  return formatted(c, `ERR Error compiling script (new function): ${text}`);
}

/**
 * Compile a script as the version does: the body itself (6.2.7+, after a 7.0 shebang line), or
 * before 6.2.7 inside `function f_<sha>() … end` (here an anonymous function returned by the
 * chunk: the same lines and the same compile errors). 0 when it compiled.
 */
function compile(s: LuaState, c: CommandContext, body: Buffer): number {
  if (c.era.at("6.2.7")) {
    return s.load(
      as51Source(body.subarray(body[0] === 0x23 ? shebangEnd(body) : 0)),
      "@user_script",
    );
  }
  return s.load(
    // 2.8 closed the function on the body's last line; 3.0 on a line of its own.
    Buffer.concat([
      Buffer.from("return function() "),
      as51Source(body),
      Buffer.from(c.era.at("3.0") ? "\nend" : " end"),
    ]),
    "@user_script",
  );
}

/** SCRIPT LOAD: compile only. */
function compiles(c: CommandContext, body: Buffer): Reply | undefined {
  return withState((s) => {
    s.openLibs();
    return compile(s, c, body) === 0 ? undefined : compileError(s, c, body);
  });
}

/** What runs: an EVAL body, or a function of a library (FCALL). */
type Target =
  | { kind: "eval"; body: Buffer; digest: string }
  | { kind: "function"; library: Library; name: string };

/** Run a script and answer its reply (or the error) in the client's protocol. */
function runScript(
  c: CommandContext,
  target: Target,
  keys: Buffer[],
  argv: Buffer[],
  readOnly: boolean,
): Reply {
  const outer = run;
  const r: Run = { c, resp: 2, readOnly, v7: c.era.at("7.0") };
  run = r;
  const label = target.kind === "eval" ? target.digest : target.name;
  try {
    return withState((s) => {
      prepare(s, c, keys, argv, target.kind === "eval");
      // Stack: 1 error handler, 2 the environment, 3 the PRNG state getter, 4 runLibrary.
      let status: number;
      if (target.kind === "eval") {
        if (compile(s, c, target.body) !== 0) return compileError(s, c, target.body);
        s.pushValue(2);
        s.setUpvalue(-2, 1);
        // Before 6.2.7 the chunk returns the script's function.
        if (!c.era.at("6.2.7") && s.pcall(0, 1, 0) !== 0) return compileError(s, c, target.body);
        status = s.pcall(0, 1, 1);
      } else {
        const loaded = loadLibrary(s, target.library.code);
        if (typeof loaded === "string") return errorReply(`ERR ${loaded}`);
        // Stack: … callbacks, flags.
        s.pop();
        s.getField(-1, target.name);
        pushArray(s, keys);
        pushArray(s, argv);
        status = s.pcall(2, 1, 1);
      }
      if (r.command !== undefined) c.effect = { kind: "script", sha1: label, command: r.command };
      if (s.stepsExceeded) {
        // Ended as SCRIPT KILL ends a script: the error reply, the connection lives.
        c.effect = {
          kind: "script",
          sha1: label,
          ...(r.command === undefined ? {} : { command: r.command }),
          limit: "script_steps",
        };
        return runError(s, c, label, status);
      }
      if (status !== 0) {
        const reply = runError(s, c, label, status);
        saveRandom(s, c);
        return reply;
      }
      const out: Buffer[] = [];
      const budget = { bytes: 0 };
      if (!toRedis(s, r, c.state.proto, out, budget, 0)) return c.overLimit();
      saveRandom(s, c);
      return { type: "raw", bytes: Buffer.concat(out) };
    });
  } finally {
    run = outer;
  }
}

function pushArray(s: LuaState, items: readonly Buffer[]): void {
  s.newTable(items.length, 0);
  items.forEach((item, i) => {
    s.pushBytes(item);
    s.rawSetI(-2, i + 1);
  });
}

/**
 * Compile a library's code (after its #! line, as "@user_function") and run it with the
 * load-time API: leaves its callbacks and their flags on the stack, or returns the error text.
 */
function loadLibrary(s: LuaState, code: Buffer): string | undefined {
  if (s.load(as51Source(code), "@user_function") !== 0) {
    return `Error compiling function: ${as51Message(s.toBytes(-1)?.toString("latin1") ?? "", code, false)}`;
  }
  s.pushValue(2);
  s.setUpvalue(-2, 1);
  s.pushValue(4);
  s.pushValue(-2);
  if (s.pcall(1, 2, 0) !== 0) {
    if (run?.c !== undefined && s.stepsExceeded) return "FUNCTION LOAD timeout";
    const msg = s.toBytes(-1)?.toString("latin1") ?? "";
    return `Error registering functions: ERR ${msg}`;
  }
  return undefined;
}

// ---------- FUNCTION (7.0+) ----------

/** A loaded library: its code (from the #! line) and its functions' flags. */
interface Library {
  name: string;
  /** The whole payload as loaded (FUNCTION LIST WITHCODE). */
  payload: Buffer;
  /** The code run: the payload from its first newline on (line numbers kept). */
  code: Buffer;
  functions: Map<string, string[]>;
}

/** Libraries per keyspace (functions are the server's, so a source's connections share them). */
const LIBRARIES = new WeakMap<object, Map<string, Library>>();
/** Most libraries and payload bytes kept per keyspace. */
const MAX_LIBRARIES = 64;
const MAX_LIBRARY_BYTES = 512 * 1024;

function librariesOf(c: CommandContext): Map<string, Library> {
  let libs = LIBRARIES.get(c.keyspace);
  if (libs === undefined) {
    libs = new Map();
    LIBRARIES.set(c.keyspace, libs);
  }
  return libs;
}

function findFunction(c: CommandContext, name: string): Library | undefined {
  for (const lib of librariesOf(c).values()) if (lib.functions.has(name)) return lib;
  return undefined;
}

/** functionExtractLibMetaData: engine and name from the `#!lua name=…` line. */
function libraryMetadata(payload: Buffer): { engine: string; name: string; code: Buffer } | string {
  if (payload[0] !== 0x23 || payload[1] !== 0x21) return "Missing library metadata";
  const nl = payload.indexOf(0x0a);
  if (nl < 0) return "Invalid library metadata";
  const parts = payload
    .toString("latin1", 0, nl)
    .split(/[ \t\r]+/)
    .filter((p) => p !== "");
  if (parts.length === 0) return "Invalid library metadata";
  const engine = parts[0]!.slice(2);
  let name: string | undefined;
  for (const part of parts.slice(1)) {
    if (/^name=/i.test(part)) {
      if (name !== undefined) {
        return "Invalid metadata value, name argument was given multiple times";
      }
      name = part.slice(5);
      continue;
    }
    return `Invalid metadata value given: ${part}`;
  }
  if (name === undefined) return "Library name was not given";
  return { engine, name, code: payload.subarray(nl) };
}

const NAME_RE = /^[A-Za-z0-9_]+$/;

function functionLoad(c: CommandContext): Reply {
  let replace = false;
  let at = 2;
  while (at < c.args.length - 1) {
    const opt = c.arg(at++);
    if (opt.toLowerCase() === "replace") {
      replace = true;
      continue;
    }
    return errorReply(`ERR Unknown option given: ${opt}`);
  }
  if (at >= c.args.length) return errorReply("ERR Function code is missing");
  const payload = c.args[at]!;
  c.effect = { kind: "script", sha1: sha1(payload) };
  const md = libraryMetadata(payload);
  if (typeof md === "string") return errorReply(`ERR ${md}`);
  if (!NAME_RE.test(md.name)) {
    return errorReply(
      "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
    );
  }
  if (md.engine.toLowerCase() !== "lua") return errorReply(`ERR Engine '${md.engine}' not found`);
  const libs = librariesOf(c);
  const old = libs.get(md.name);
  if (old !== undefined && !replace) return errorReply(`ERR Library '${md.name}' already exists`);
  const outer = run;
  const r: Run = { c, resp: 2, readOnly: false, v7: true };
  run = r;
  let functions: Map<string, string[]> | string;
  try {
    functions = withState((s) => {
      prepare(s, c, [], [], false);
      const failed = loadLibrary(s, md.code);
      if (failed !== undefined) return failed;
      const out = new Map<string, string[]>();
      s.pushNil();
      while (s.next(-2)) {
        const name = s.toBytes(-2)?.toString("latin1") ?? "";
        const flags: string[] = [];
        for (let i = 1; s.rawGetI(-1, i) === LUA_TSTRING; i++) {
          flags.push(s.toBytes(-1)!.toString("latin1"));
          s.pop();
        }
        s.pop(2);
        out.set(name, flags);
      }
      return out;
    });
  } finally {
    run = outer;
  }
  if (typeof functions === "string") return errorReply(`ERR ${functions}`);
  if (functions.size === 0) return errorReply("ERR No functions registered");
  for (const name of functions.keys()) {
    const owner = findFunction(c, name);
    if (owner !== undefined && owner !== old)
      return errorReply(`ERR Function ${name} already exists`);
  }
  let bytes = payload.length;
  for (const lib of libs.values()) if (lib !== old) bytes += lib.payload.length;
  if (bytes > MAX_LIBRARY_BYTES || (old === undefined && libs.size >= MAX_LIBRARIES)) {
    return errorReply(OOM_TEXT);
  }
  if (!c.hold(payload.length + 200)) return errorReply(OOM_TEXT);
  if (old !== undefined) c.release(old.payload.length + 200);
  libs.set(md.name, { name: md.name, payload, code: md.code, functions });
  wrote(c);
  return bulk(Buffer.from(md.name, "latin1"));
}

const OOM_TEXT = "OOM command not allowed when used memory > 'maxmemory'.";

function fcallGeneric(readOnly: boolean): (c: CommandContext) => Reply {
  return (c) => {
    const name = c.arg(1);
    const library = findFunction(c, name);
    if (library === undefined) return errorReply("ERR Function not found");
    const n = parseInteger(c.arg(2));
    if (n === undefined) return errorReply("ERR Bad number of keys provided");
    if (n > c.args.length - 3) {
      return errorReply("ERR Number of keys can't be greater than number of args");
    }
    if (n < 0) return errorReply("ERR Number of keys can't be negative");
    const flags = library.functions.get(name)!;
    const noWrites = flags.includes("no-writes");
    if (readOnly && !noWrites) {
      return errorReply("ERR Can not execute a script with write flag using *_ro command.");
    }
    c.effect = { kind: "script", sha1: sha1(library.payload) };
    return runScript(
      c,
      { kind: "function", library, name },
      c.args.slice(3, 3 + n),
      c.args.slice(3 + n),
      readOnly || noWrites,
    );
  };
}

function functionList(c: CommandContext): Reply {
  let withCode = false;
  let pattern: string | undefined;
  for (let i = 2; i < c.args.length; i++) {
    const a = c.arg(i).toLowerCase();
    if (!withCode && a === "withcode") {
      withCode = true;
      continue;
    }
    if (pattern === undefined && a === "libraryname") {
      if (i >= c.args.length - 1) return errorReply("ERR library name argument was not given");
      pattern = c.arg(++i);
      continue;
    }
    return errorReply(`ERR Unknown argument ${c.arg(i)}`);
  }
  const out: RespValue[] = [];
  for (const lib of librariesOf(c).values()) {
    if (pattern !== undefined && !globMatch(pattern.toLowerCase(), lib.name.toLowerCase()))
      continue;
    const pairs: Array<[RespValue, RespValue]> = [
      [bulk("library_name"), bulk(Buffer.from(lib.name, "latin1"))],
      [bulk("engine"), bulk("LUA")],
      [
        bulk("functions"),
        arr(
          [...lib.functions].map(([name, flags]) =>
            map([
              [bulk("name"), bulk(Buffer.from(name, "latin1"))],
              [bulk("description"), nil()],
              [bulk("flags"), { type: "set", value: flags.map((f) => simple(f)) }],
            ]),
          ),
        ),
      ],
    ];
    if (withCode) pairs.push([bulk("library_code"), bulk(lib.payload)]);
    out.push(map(pairs));
  }
  return arr(out);
}

function functionDelete(c: CommandContext): Reply {
  const libs = librariesOf(c);
  const lib = libs.get(c.arg(2));
  if (lib === undefined) return errorReply("ERR Library not found");
  libs.delete(lib.name);
  c.release(lib.payload.length + 200);
  wrote(c);
  return OK;
}

function functionFlush(c: CommandContext): Reply {
  if (c.args.length === 3 && !/^(sync|async)$/i.test(c.arg(2))) {
    return errorReply("ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
  }
  const libs = librariesOf(c);
  for (const lib of libs.values()) c.release(lib.payload.length + 200);
  libs.clear();
  wrote(c);
  // 7.4 builds a new Lua engine for the emptied functions context: its client takes an id.
  if (c.era.at("7.4")) c.persona.internalClient();
  return OK;
}

function functionStats(c: CommandContext): Reply {
  const libs = librariesOf(c);
  let functions = 0;
  for (const lib of libs.values()) functions += lib.functions.size;
  return map([
    [bulk("running_script"), nil()],
    [
      bulk("engines"),
      map([
        [
          bulk("LUA"),
          map([
            [bulk("libraries_count"), int(libs.size)],
            [bulk("functions_count"), int(functions)],
          ]),
        ],
      ]),
    ],
  ]);
}

/** A body starting with `#!` (7.0 shebang flags): the first line is not code. */
function shebangEnd(body: Buffer): number {
  if (body[1] !== 0x21) return 0;
  const nl = body.indexOf(0x0a);
  return nl < 0 ? body.length : nl;
}

/** The reply for a script that raised an error. */
function runError(s: LuaState, c: CommandContext, digest: string, status: number): Reply {
  if (c.era.at("7.0")) {
    if (s.type(-1) !== LUA_TTABLE) {
      const msg = s.toBytes(-1)?.toString("latin1") ?? "execution failure";
      return formatted(c, `ERR Error running script ${digest}, ${msg.slice(0, 100)}`);
    }
    s.getField(-1, "err");
    let msg = unrename(s.toBytes(-1)?.toString("latin1") ?? "");
    s.pop();
    s.getField(-1, "source");
    const source = s.type(-1) === LUA_TSTRING ? s.toBytes(-1)!.toString("latin1") : undefined;
    s.pop();
    s.getField(-1, "line");
    const line = s.type(-1) === LUA_TNUMBER ? numberText(s, -1) : undefined;
    s.pop();
    if (line !== undefined && source !== undefined) {
      msg += ` script: ${digest}, on ${source}:${line}.`;
    }
    return errorReply(msg);
  }
  const msg =
    status === 4 ? "not enough memory" : unrename(s.toBytes(-1)?.toString("latin1") ?? "");
  return formatted(c, `ERR Error running script (call to f_${digest}): ${msg}`);
}

const CRLF = "\r\n";

/** luaReplyToRedisReply: the value on top (popped) as RESP bytes for a client of `proto`. */
function toRedis(
  s: LuaState,
  r: Run,
  proto: 2 | 3,
  out: Buffer[],
  budget: { bytes: number },
  depth: number,
): boolean {
  const push = (b: Buffer | string): boolean => {
    const buf = typeof b === "string" ? Buffer.from(b, "latin1") : b;
    budget.bytes += buf.length;
    if (budget.bytes > MAX_SCRIPT_REPLY || !r.c.replyFits(budget.bytes)) return false;
    out.push(buf);
    return true;
  };
  if (!s.checkStack(4) || depth > MAX_REPLY_DEPTH) {
    s.pop();
    return push("-ERR reached lua stack limit\r\n");
  }
  const t = s.type(-1);
  let ok = true;
  switch (t) {
    case LUA_TSTRING: {
      const b = s.toBytes(-1)!;
      ok = push(`$${b.length}${CRLF}`) && push(b) && push(CRLF);
      break;
    }
    case LUA_TBOOLEAN: {
      const v = s.toBoolean(-1);
      if (r.resp === 2) ok = push(v ? ":1\r\n" : proto === 3 ? "_\r\n" : "$-1\r\n");
      else ok = push(proto === 3 ? (v ? "#t\r\n" : "#f\r\n") : v ? ":1\r\n" : ":0\r\n");
      break;
    }
    case LUA_TNUMBER:
      ok = push(`:${luaNumberToInteger(s)}${CRLF}`);
      break;
    case LUA_TTABLE:
      return tableToRedis(s, r, proto, out, budget, depth, push);
    default:
      ok = push(proto === 3 ? "_\r\n" : "$-1\r\n");
  }
  s.pop();
  return ok;
}

/** (long long)lua_tonumber(): truncated, C's out-of-range conversion for NaN and huge values. */
function luaNumberToInteger(s: LuaState): string {
  if (s.isInteger(-1)) return s.toBytes(-1)!.toString("latin1");
  const x = s.toNumber(-1);
  if (!Number.isFinite(x) || Math.abs(x) >= 2 ** 63) return "-9223372036854775808";
  return BigInt(Math.trunc(x)).toString();
}

function tableToRedis(
  s: LuaState,
  r: Run,
  proto: 2 | 3,
  out: Buffer[],
  budget: { bytes: number },
  depth: number,
  push: (b: Buffer | string) => boolean,
): boolean {
  const field = (name: string): number => s.rawGetField(-1, name);
  // {err = …}
  if (field("err") === LUA_TSTRING) {
    s.pop();
    s.getField(-1, "err");
    const msg = s.toBytes(-1)!.toString("latin1");
    s.pop(2);
    return push(`-${msg.replace(/[\r\n]/g, " ")}\r\n`);
  }
  s.pop();
  if (field("ok") === LUA_TSTRING) {
    const msg = s.toBytes(-1)!.toString("latin1");
    s.pop(2);
    return push(`+${msg.replace(/[\r\n]/g, " ")}\r\n`);
  }
  s.pop();
  // The RESP3 shapes arrived in 6.0: before, such tables are arrays like any other.
  if (!r.c.era.at("6.0")) return arrayToRedis(s, r, proto, out, budget, depth, push);
  if (field("double") === LUA_TNUMBER) {
    const d = fmt17g(s.toNumber(-1));
    s.pop(2);
    return proto === 3 ? push(`,${d}${CRLF}`) : push(`$${d.length}${CRLF}${d}${CRLF}`);
  }
  s.pop();
  if (field("big_number") === LUA_TSTRING) {
    const n = s
      .toBytes(-1)!
      .toString("latin1")
      .replace(/[\r\n]/g, " ");
    s.pop(2);
    return proto === 3 ? push(`(${n}${CRLF}`) : push(`$${n.length}${CRLF}${n}${CRLF}`);
  }
  s.pop();
  if (field("verbatim_string") === LUA_TTABLE) {
    if (s.rawGetField(-1, "format") === LUA_TSTRING) {
      const format = s.toBytes(-1)!.toString("latin1");
      if (s.rawGetField(-2, "string") === LUA_TSTRING) {
        const str = s.toBytes(-1)!;
        s.pop(4);
        if (proto === 3) {
          return (
            push(`=${str.length + 4}${CRLF}${format.slice(0, 3).padEnd(3, " ")}:`) &&
            push(str) &&
            push(CRLF)
          );
        }
        return push(`$${str.length}${CRLF}`) && push(str) && push(CRLF);
      }
      s.pop();
    }
    s.pop();
  }
  s.pop();
  for (const kind of ["map", "set"] as const) {
    if (field(kind) === LUA_TTABLE) {
      const parts: Buffer[] = [];
      let n = 0;
      s.pushNil();
      while (s.next(-2)) {
        if (kind === "map") {
          s.pushValue(-2);
          if (!toRedis(s, r, proto, parts, budget, depth + 1)) return false;
          if (!toRedis(s, r, proto, parts, budget, depth + 1)) return false;
        } else {
          s.pop();
          s.pushValue(-1);
          if (!toRedis(s, r, proto, parts, budget, depth + 1)) return false;
        }
        n++;
      }
      s.pop(2);
      const head =
        proto === 3
          ? `${kind === "map" ? "%" : "~"}${n}${CRLF}`
          : `*${kind === "map" ? n * 2 : n}${CRLF}`;
      return push(head) && append(out, parts);
    }
    s.pop();
  }
  return arrayToRedis(s, r, proto, out, budget, depth, push);
}

/** A Lua table as an array: t[1], t[2] … up to the first nil. */
function arrayToRedis(
  s: LuaState,
  r: Run,
  proto: 2 | 3,
  out: Buffer[],
  budget: { bytes: number },
  depth: number,
  push: (b: Buffer | string) => boolean,
): boolean {
  const parts: Buffer[] = [];
  let n = 0;
  for (let j = 1; ; j++) {
    if (s.rawGetI(-1, j) === LUA_TNIL) {
      s.pop();
      break;
    }
    if (!toRedis(s, r, proto, parts, budget, depth + 1)) return false;
    n++;
  }
  s.pop();
  return push(`*${n}${CRLF}`) && append(out, parts);
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

function evalGeneric(readOnly: boolean): (c: CommandContext) => Reply {
  return (c) => {
    const split = splitKeys(c);
    if ("type" in split) return split;
    const digest = rememberScript(c, c.arg(1));
    return runScript(
      c,
      { kind: "eval", body: c.args[1]!, digest },
      split.keys,
      split.argv,
      readOnly,
    );
  };
}

function evalshaGeneric(readOnly: boolean): (c: CommandContext) => Reply {
  return (c) => {
    const split = splitKeys(c);
    if ("type" in split) return split;
    const digest = c.arg(1).toLowerCase();
    const body = c.state.scripts.get(digest);
    if (body === undefined) {
      return errorReply(
        c.era.valkey8
          ? "NOSCRIPT No matching script."
          : "NOSCRIPT No matching script. Please use EVAL.",
      );
    }
    c.effect = { kind: "script", sha1: digest };
    return runScript(
      c,
      { kind: "eval", body: Buffer.from(body, "latin1"), digest },
      split.keys,
      split.argv,
      readOnly,
    );
  };
}

function scriptLoad(c: CommandContext): Reply {
  const refused = compiles(c, c.args[2]!);
  if (refused !== undefined) {
    c.effect = { kind: "script", sha1: sha1(c.args[2]!) };
    return refused;
  }
  return bulk(rememberScript(c, c.arg(2)));
}

export const SCRIPTING_COMMANDS: CommandSpec[] = inCategory("scripting", [
  { name: "eval", arity: -3, handler: evalGeneric(false) },
  { name: "evalsha", arity: -3, handler: evalshaGeneric(false) },
  { name: "eval_ro", arity: -3, since: "7.0", handler: evalGeneric(true) },
  { name: "fcall", arity: -3, since: "7.0", handler: fcallGeneric(false) },
  { name: "fcall_ro", arity: -3, since: "7.0", handler: fcallGeneric(true) },
  {
    name: "function",
    arity: -2,
    since: "7.0",
    subcommands: {
      load: { arity: -3, handler: functionLoad },
      list: { arity: -2, handler: functionList },
      delete: { arity: 3, handler: functionDelete },
      flush: { arity: -2, handler: functionFlush },
      stats: { arity: 2, handler: functionStats },
      kill: {
        arity: 2,
        handler: () => errorReply("NOTBUSY No scripts in execution right now."),
      },
    },
  },
  { name: "evalsha_ro", arity: -3, since: "7.0", handler: evalshaGeneric(true) },
  {
    name: "script",
    arity: -2,
    subcommands: {
      load: { arity: 3, handler: scriptLoad },
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
          for (const body of c.state.scripts.values()) c.releaseShared(scriptBytes(body));
          c.state.scripts.clear();
          // Before 7.0 the flush counted as a write, so that it was propagated.
          if (c.era.before("7.0")) wrote(c);
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
]);

/** Move an aggregate's parts (already counted) after its header. */
function append(out: Buffer[], parts: Buffer[]): true {
  for (const p of parts) out.push(p);
  return true;
}
