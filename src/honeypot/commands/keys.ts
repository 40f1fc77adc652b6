/**
 * Generic key commands (db.c, expire.c, object.c's OBJECT): DEL, UNLINK, EXISTS, TYPE, KEYS,
 * SCAN, RANDOMKEY, RENAME, RENAMENX, MOVE, SWAPDB, COPY, TOUCH, EXPIRE and its variants, TTL,
 * PTTL, PERSIST, OBJECT.
 * They work on any type of value in the session's keyspace.
 */
import { arr, bulk, simple } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { DATABASES, globMatch, WRONG_TYPE } from "../keyspace.js";
import type { Era } from "../personas/era.js";
import { encodingOf } from "./encoding.js";
import { intArg, parseInt64 } from "./integers.js";
import {
  bulkText,
  errorReply,
  integer,
  notInteger,
  nullBulk,
  OK,
  outOfMemory,
  type Reply,
  syntaxError,
  textArray,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

function del(c: CommandContext): Reply {
  let n = 0;
  for (let i = 1; i < c.args.length; i++) if (c.keyspace.delete(c.state.db, c.arg(i))) n++;
  if (n > 0) wrote(c, n);
  return integer(n);
}

function exists(c: CommandContext): Reply {
  let n = 0;
  for (let i = 1; i < c.args.length; i++) if (c.keyspace.exists(c.state.db, c.arg(i))) n++;
  return integer(n);
}

function type(c: CommandContext): Reply {
  return simple(c.keyspace.typeOf(c.state.db, c.arg(1)));
}

function keys(c: CommandContext): Reply {
  return textArray(c.keyspace.keys(c.state.db, c.arg(1)));
}

/** HSCAN/SSCAN/ZSCAN of a missing key: cursor 0, nothing. */
const EMPTY_SCAN: Reply = arr([bulk("0"), arr([])]);

/**
 * HSCAN/SSCAN/ZSCAN key cursor [MATCH p] [COUNT n]: the cursor checked, then the key (`lookup`:
 * the collection, missing, or WRONG_TYPE), then the options; one step over `elements` (each one
 * or more reply items, the first matched against MATCH). A small encoding (anything but
 * `bigEncoding`: listpack, intset) comes whole in one call with cursor 0, as Redis returns it;
 * a hash table COUNT elements from the cursor on.
 */
export function collectionScan<T>(
  c: CommandContext,
  bigEncoding: string,
  lookup: () => T | undefined | typeof WRONG_TYPE,
  elements: (value: T, small: boolean) => ReadonlyArray<readonly [string, ...Buffer[]]>,
): Reply {
  const cursor = scanCursor(c, 2);
  if (typeof cursor !== "number") return cursor;
  const value = lookup();
  if (value === WRONG_TYPE) return wrongType();
  if (value === undefined) return EMPTY_SCAN;
  const opts = scanOptions(c, 3, false);
  if (!("count" in opts)) return opts;
  const small = encodingOf(c, c.arg(1)) !== bigEncoding;
  const all = elements(value, small);
  const from = small ? 0 : cursor;
  const to = small ? all.length : Math.min(all.length, from + opts.count);
  const out: RespValue[] = [];
  for (let i = from; i < to; i++) {
    const [name, ...rest] = all[i]!;
    if (!opts.match(name)) continue;
    out.push(bulkText(name));
    for (const b of rest) out.push(bulk(b));
  }
  return arr([bulk(String(to >= all.length ? 0 : to)), arr(out)]);
}

/** SCAN's cursor (parseScanCursorOrReply): a decimal number, else the error reply. */
export function scanCursor(c: CommandContext, i: number): number | Reply {
  const cursor = parseInt64(c.arg(i));
  if (cursor === undefined || cursor < 0n) return errorReply("ERR invalid cursor");
  return Number(cursor);
}

export interface ScanOptions {
  count: number;
  /** Absent for no MATCH, or MATCH "*". */
  pattern?: string;
  type?: string;
  match(s: string): boolean;
}

/**
 * scanGenericCommand's options from argument `first` on: COUNT n (≥ 1), MATCH pattern, and
 * for SCAN (6.0+) TYPE; anything else is a syntax error.
 */
export function scanOptions(
  c: CommandContext,
  first: number,
  allowType: boolean,
): ScanOptions | Reply {
  const o: ScanOptions = { count: 10, match: () => true };
  for (let i = first; i < c.args.length; i += 2) {
    const opt = c.arg(i).toUpperCase();
    if (i + 1 >= c.args.length) return syntaxError();
    if (opt === "COUNT") {
      const n = intArg(c, i + 1);
      if (n === undefined) return notInteger();
      if (n < 1) return syntaxError();
      o.count = n;
    } else if (opt === "MATCH") {
      const p = c.arg(i + 1);
      if (p === "*") delete o.pattern;
      else o.pattern = p;
    } else if (opt === "TYPE" && allowType && c.era.at("6.0")) o.type = c.arg(i + 1).toLowerCase();
    else return syntaxError();
  }
  const pattern = o.pattern;
  if (pattern !== undefined) o.match = (s) => globMatch(pattern, s);
  return o;
}

function scan(c: CommandContext): Reply {
  const cursor = scanCursor(c, 1);
  if (typeof cursor !== "number") return cursor;
  const o = scanOptions(c, 2, true);
  if (!("count" in o)) return o;
  const db = c.state.db;
  const { next, keys: matched } = c.keyspace.scan(db, cursor, o.count, o.pattern, undefined);
  // TYPE looks each matched key up as lookupKeyRead does (INFO keyspace_hits), then filters;
  // Valkey 8 reads the type from the key's entry itself.
  const looksUp = o.type !== undefined && !c.era.valkey8;
  if (looksUp) for (let i = 0; i < matched.length; i++) c.persona.countLookup(true);
  const found =
    o.type === undefined ? matched : matched.filter((k) => c.keyspace.typeOf(db, k) === o.type);
  return arr([bulk(String(next)), textArray(found)]);
}

/** MOVE key db: to another database where the key is not (0 when missing or taken). */
function move(c: CommandContext): Reply {
  const n = parseInt64(c.arg(2));
  const before7 = c.era.before("6.2");
  if (n === undefined || n < -2147483648n || n > 2147483647n) {
    return errorReply(
      before7 ? "ERR index out of range" : "ERR value is not an integer or out of range",
    );
  }
  const to = Number(n);
  if (to < 0 || to >= DATABASES) {
    return errorReply(before7 ? "ERR index out of range" : "ERR DB index is out of range");
  }
  if (to === c.state.db) return errorReply(SAME_OBJECT);
  if (!c.keyspace.move(c.state.db, to, c.arg(1))) return integer(0);
  wrote(c);
  return integer(1);
}

const SAME_OBJECT = "ERR source and destination objects are the same";

/** getIntFromObjectOrReply then a database number; the error reply when not. */
function dbArg(c: CommandContext, i: number, notInt: string): number | Reply {
  const n = parseInt64(c.arg(i));
  if (n === undefined || n < -2147483648n || n > 2147483647n) return errorReply(notInt);
  return Number(n);
}

function swapdb(c: CommandContext): Reply {
  const a = dbArg(c, 1, "ERR invalid first DB index");
  if (typeof a !== "number") return a;
  const b = dbArg(c, 2, "ERR invalid second DB index");
  if (typeof b !== "number") return b;
  if (a < 0 || a >= DATABASES || b < 0 || b >= DATABASES) {
    return errorReply("ERR DB index is out of range");
  }
  c.keyspace.swap(a, b);
  wrote(c);
  return OK;
}

function copy(c: CommandContext): Reply {
  let toDb = c.state.db;
  let replace = false;
  for (let j = 3; j < c.args.length; j++) {
    const opt = c.arg(j).toLowerCase();
    if (opt === "replace") replace = true;
    else if (opt === "db" && c.args.length - j - 1 >= 1) {
      const n = dbArg(c, j + 1, "ERR value is not an integer or out of range");
      if (typeof n !== "number") return n;
      if (n < 0 || n >= DATABASES) return errorReply("ERR DB index is out of range");
      toDb = n;
      j++;
    } else return syntaxError();
  }
  if (toDb === c.state.db && c.arg(1) === c.arg(2)) return errorReply(SAME_OBJECT);
  const r = c.keyspace.copy(c.state.db, c.arg(1), toDb, c.arg(2), replace);
  if (r === "missing" || r === "exists") return integer(0);
  if (!r) return outOfMemory();
  wrote(c);
  return integer(1);
}

function randomkey(c: CommandContext): Reply {
  const key = c.keyspace.randomKey(c.state.db, Math.random);
  return key === undefined ? nullBulk() : bulkText(key);
}

function renameGeneric(nx: boolean) {
  return (c: CommandContext): Reply => {
    const db = c.state.db;
    const from = c.arg(1);
    const to = c.arg(2);
    // Before 3.2 the same key on both sides was refused before anything was looked up.
    if (from === to && c.era.before("3.2")) return errorReply(SAME_OBJECT);
    if (!c.keyspace.exists(db, from)) return errorReply("ERR no such key");
    if (nx && c.keyspace.exists(db, to)) return integer(0);
    c.keyspace.rename(db, from, to);
    wrote(c);
    return nx ? integer(1) : OK;
  };
}

function expireGeneric(unitMs: number, absolute: boolean) {
  return (c: CommandContext): Reply => {
    const n = intArg(c, 2);
    if (n === undefined) return notInteger();
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    for (let i = 3; i < c.args.length; i++) {
      const opt = c.arg(i).toUpperCase();
      if (opt === "NX") nx = true;
      else if (opt === "XX") xx = true;
      else if (opt === "GT") gt = true;
      else if (opt === "LT") lt = true;
      else return errorReply(`ERR Unsupported option ${c.arg(i)}`);
    }
    if (nx && (xx || gt || lt)) {
      return errorReply("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if (gt && lt) return errorReply("ERR GT and LT options at the same time are not compatible");
    const db = c.state.db;
    const key = c.arg(1);
    if (!c.keyspace.exists(db, key)) return integer(0);
    const at = absolute ? n * unitMs : c.now() + n * unitMs;
    const current = c.keyspace.ttlMs(db, key);
    const has = current >= 0;
    const currentAt = has ? c.now() + current : Infinity;
    if ((nx && has) || (xx && !has) || (gt && at <= currentAt) || (lt && at >= currentAt)) {
      return integer(0);
    }
    c.keyspace.setExpiry(db, key, at);
    wrote(c);
    return integer(1);
  };
}

function ttlGeneric(ms: boolean) {
  return (c: CommandContext): Reply => {
    const t = c.keyspace.ttlMs(c.state.db, c.arg(1));
    if (t < 0) return integer(t);
    return integer(ms ? t : Math.floor((t + 500) / 1000));
  };
}

/** EXPIRETIME / PEXPIRETIME (7.0+): the absolute expiry, -2 no key, -1 no expiry. */
function expiretimeGeneric(ms: boolean) {
  return (c: CommandContext): Reply => {
    const t = c.keyspace.ttlMs(c.state.db, c.arg(1));
    if (t < 0) return integer(t);
    const at = c.now() + t;
    return integer(ms ? at : Math.floor((at + 500) / 1000));
  };
}

function persist(c: CommandContext): Reply {
  const db = c.state.db;
  const key = c.arg(1);
  if (!c.keyspace.hasExpiry(db, key)) return integer(0);
  c.keyspace.setExpiry(db, key, undefined);
  wrote(c);
  return integer(1);
}

function objectEncoding(c: CommandContext): Reply {
  const enc = encodingOf(c, c.arg(2));
  return enc === undefined ? nullBulk() : bulk(enc);
}

function objectNumber(pick: (c: CommandContext) => number) {
  return (c: CommandContext): Reply =>
    c.keyspace.exists(c.state.db, c.arg(2)) ? integer(pick(c)) : nullBulk();
}

function objectFreq(c: CommandContext): Reply {
  if (!c.keyspace.exists(c.state.db, c.arg(2))) return nullBulk();
  return errorReply(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note " +
      "that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
  );
}

/**
 * OBJECT's own error before 5.0 (for unknown subcommands and wrong arguments alike): 4.0.3
 * named the subcommand, 4.0 listed FREQ.
 */
const objectSyntaxError = (sub: string, era: Era): string => {
  if (era.at("4.0.3")) {
    return `ERR Unknown subcommand or wrong number of arguments for '${sub}'. Try OBJECT help`;
  }
  return era.at("4.0")
    ? "ERR Syntax error. Try OBJECT (refcount|encoding|idletime|freq)"
    : "ERR Syntax error. Try OBJECT (refcount|encoding|idletime)";
};

export const KEY_COMMANDS: CommandSpec[] = inCategory("keyspace", [
  { name: "del", arity: -2, keys: [1, -1, 1], flags: ["write"], handler: del },
  { name: "unlink", arity: -2, since: "4.0", keys: [1, -1, 1], flags: ["write"], handler: del },
  {
    name: "exists",
    arity: [
      ["2.8", 2],
      ["3.0.3", -2],
    ],
    keys: [1, -1, 1],
    handler: exists,
  },
  { name: "type", arity: 2, handler: type },
  { name: "keys", arity: 2, keys: [0, 0, 0], handler: keys },
  { name: "scan", arity: -2, keys: [0, 0, 0], handler: scan },
  { name: "randomkey", arity: 1, keys: [0, 0, 0], handler: randomkey },
  { name: "move", arity: 3, flags: ["write"], handler: move },
  { name: "swapdb", arity: 3, since: "4.0", keys: [0, 0, 0], flags: ["write"], handler: swapdb },
  {
    name: "copy",
    arity: -3,
    since: "6.2",
    keys: [1, 2, 1],
    flags: ["write", "denyoom"],
    handler: copy,
  },
  { name: "touch", arity: -2, since: "3.2.1", keys: [1, -1, 1], handler: exists },
  { name: "rename", arity: 3, keys: [1, 2, 1], flags: ["write"], handler: renameGeneric(false) },
  { name: "renamenx", arity: 3, keys: [1, 2, 1], flags: ["write"], handler: renameGeneric(true) },
  {
    name: "expire",
    arity: [
      ["2.8", 3],
      ["7.0", -3],
    ],
    flags: ["write"],
    handler: expireGeneric(1000, false),
  },
  {
    name: "pexpire",
    arity: [
      ["2.8", 3],
      ["7.0", -3],
    ],
    flags: ["write"],
    handler: expireGeneric(1, false),
  },
  {
    name: "expireat",
    arity: [
      ["2.8", 3],
      ["7.0", -3],
    ],
    flags: ["write"],
    handler: expireGeneric(1000, true),
  },
  {
    name: "pexpireat",
    arity: [
      ["2.8", 3],
      ["7.0", -3],
    ],
    flags: ["write"],
    handler: expireGeneric(1, true),
  },
  { name: "ttl", arity: 2, handler: ttlGeneric(false) },
  { name: "pttl", arity: 2, handler: ttlGeneric(true) },
  { name: "expiretime", arity: 2, since: "7.0", handler: expiretimeGeneric(false) },
  { name: "pexpiretime", arity: 2, since: "7.0", handler: expiretimeGeneric(true) },
  { name: "persist", arity: 2, flags: ["write"], handler: persist },
  {
    name: "object",
    arity: -2,
    keys: [2, 2, 1],
    subcommands: {
      encoding: { arity: 3, handler: objectEncoding },
      refcount: { arity: 3, handler: objectNumber(() => 1) },
      idletime: { arity: 3, handler: objectNumber(() => 0) },
      freq: { arity: 3, since: "4.0", handler: objectFreq },
    },
    legacyErrors: { unknown: objectSyntaxError, arity: objectSyntaxError },
  },
]);
