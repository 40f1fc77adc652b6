/**
 * Keyspace commands: strings, keys and TTLs, lists, hashes, sets, databases. Replies and error
 * texts are Redis 7.0's (checked against a real 7.0.15 by the differential test) with the
 * earlier wordings where a version changed them.
 */
import { arr, bulk, simple } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { DATABASES, OUT_OF_MEMORY, WRONG_TYPE } from "../keyspace.js";
import {
  arityText,
  dbNotIntegerText,
  dbOutOfRangeText,
  invalidExpireText,
  NOT_FLOAT,
  NOT_INTEGER,
  OOM,
  OUT_OF_RANGE_POSITIVE,
  SYNTAX_ERROR,
  WRONGTYPE,
} from "../personas/texts.js";
import { addLongDouble, formatLongDouble, parseLongDouble } from "./long-double.js";
import {
  bulkText,
  EMPTY_ARRAY,
  errorReply,
  integer,
  nullArray,
  nullBulk,
  OK,
  pairsMap,
  type Reply,
  textArray,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory } from "./spec.js";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** Redis's string2ll: an optional minus, no plus, no leading zeros, within int64. */
function parseInt64(text: string): bigint | undefined {
  if (!/^(0|-?[1-9][0-9]{0,19})$/.test(text)) return undefined;
  const n = BigInt(text);
  return n > INT64_MAX || n < INT64_MIN ? undefined : n;
}

/** An integer argument that fits a JS number (counts, indexes, TTLs). */
function intArg(c: CommandContext, i: number): number | undefined {
  const n = parseInt64(c.arg(i));
  return n === undefined ? undefined : Number(n);
}

const wrongType = (): Reply => errorReply(WRONGTYPE);
const notInteger = (): Reply => errorReply(NOT_INTEGER);
const syntax = (): Reply => errorReply(SYNTAX_ERROR);
const oom = (): Reply => errorReply(OOM);

/** A successful write: counts toward the next SAVE. */
function wrote(c: CommandContext, n = 1): void {
  c.state.dirty += n;
}

function lookupCounted(c: CommandContext, found: boolean): void {
  c.persona.countLookup(found);
}

// ---- strings ----

function get(c: CommandContext): Reply {
  const v = c.keyspace.getString(c.state.db, c.arg(1));
  if (v === WRONG_TYPE) return wrongType();
  lookupCounted(c, v !== undefined);
  return v === undefined ? nullBulk() : bulk(v);
}

interface SetOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  expiresAt?: number;
}

/** SET's options, or the error reply they deserve. */
function parseSetOptions(c: CommandContext): SetOptions | Reply {
  const o: SetOptions = { nx: false, xx: false, get: false, keepTtl: false };
  let expiry: { unit: string; at: number } | undefined;
  for (let i = 3; i < c.args.length; i++) {
    const opt = c.arg(i).toUpperCase();
    const hasNext = i + 1 < c.args.length;
    if (opt === "NX" && !o.xx) o.nx = true;
    else if (opt === "XX" && !o.nx) o.xx = true;
    else if (opt === "GET" && c.era.at("6.2") && (!o.nx || c.era.at("7.0"))) o.get = true;
    else if (opt === "KEEPTTL" && c.era.at("6.0") && expiry === undefined) o.keepTtl = true;
    else if (
      (opt === "EX" || opt === "PX" || ((opt === "EXAT" || opt === "PXAT") && c.era.at("6.2"))) &&
      hasNext &&
      expiry === undefined &&
      !o.keepTtl
    ) {
      const n = intArg(c, ++i);
      if (n === undefined) return notInteger();
      if (n <= 0) return errorReply(invalidExpireText(c.era, "set"));
      const now = c.now();
      const at =
        opt === "EX" ? now + n * 1000 : opt === "PX" ? now + n : opt === "EXAT" ? n * 1000 : n;
      expiry = { unit: opt, at };
    } else return syntax();
  }
  if (o.get && o.nx && c.era.before("7.0")) return syntax();
  if (expiry !== undefined) o.expiresAt = expiry.at;
  return o;
}

function set(c: CommandContext): Reply {
  const o = parseSetOptions(c);
  if ("type" in o) return o;
  const db = c.state.db;
  const key = c.arg(1);
  // Only GET, NX and XX look at what is there (a plain SET is the hot path).
  let previous: Reply | null = null;
  if (o.get) {
    const old = c.keyspace.getString(db, key);
    if (old === WRONG_TYPE) return wrongType();
    previous = old === undefined ? nullBulk() : bulk(old);
  }
  if (o.nx || o.xx) {
    const exists = c.keyspace.exists(db, key);
    if ((o.nx && exists) || (o.xx && !exists)) return previous ?? nullBulk();
  }
  const opts: { expiresAt?: number; keepTtl?: boolean; length: number } = {
    keepTtl: o.keepTtl,
    length: c.argLength(2),
  };
  if (o.expiresAt !== undefined) opts.expiresAt = o.expiresAt;
  if (!c.keyspace.setString(db, key, c.args[2]!, opts)) return oom();
  wrote(c);
  return previous ?? OK;
}

function setnx(c: CommandContext): Reply {
  if (c.keyspace.exists(c.state.db, c.arg(1))) return integer(0);
  if (!c.keyspace.setString(c.state.db, c.arg(1), c.args[2]!, { length: c.argLength(2) }))
    return oom();
  wrote(c);
  return integer(1);
}

function setWithTtl(unitMs: number, name: string) {
  return (c: CommandContext): Reply => {
    const n = intArg(c, 2);
    if (n === undefined) return notInteger();
    if (n <= 0) return errorReply(invalidExpireText(c.era, name));
    if (
      !c.keyspace.setString(c.state.db, c.arg(1), c.args[3]!, {
        expiresAt: c.now() + n * unitMs,
        length: c.argLength(3),
      })
    ) {
      return oom();
    }
    wrote(c);
    return OK;
  };
}

function getset(c: CommandContext): Reply {
  const old = c.keyspace.getString(c.state.db, c.arg(1));
  if (old === WRONG_TYPE) return wrongType();
  if (!c.keyspace.setString(c.state.db, c.arg(1), c.args[2]!, { length: c.argLength(2) }))
    return oom();
  wrote(c);
  return old === undefined ? nullBulk() : bulk(old);
}

function getdel(c: CommandContext): Reply {
  const old = c.keyspace.getString(c.state.db, c.arg(1));
  if (old === WRONG_TYPE) return wrongType();
  if (old === undefined) return nullBulk();
  c.keyspace.delete(c.state.db, c.arg(1));
  wrote(c);
  return bulk(old);
}

function mget(c: CommandContext): Reply {
  const out: RespValue[] = [];
  // One key asked for 65,536 times: a reply far larger than the request, checked first.
  let bytes = 0;
  for (let i = 1; i < c.args.length; i++) {
    const v = c.keyspace.getString(c.state.db, c.arg(i));
    if (v !== undefined && v !== WRONG_TYPE) bytes += v.length + 16;
    out.push(v === undefined || v === WRONG_TYPE ? nullBulk() : bulk(v));
  }
  return c.replyFits(bytes) ? arr(out) : c.overLimit();
}

function msetGeneric(nx: boolean) {
  return (c: CommandContext): Reply => {
    if (c.args.length % 2 === 0) {
      return errorReply(
        c.era.at("7.0")
          ? arityText(c.fullName)
          : `ERR wrong number of arguments for ${nx ? "MSETNX" : "MSET"}`,
      );
    }
    if (nx) {
      for (let i = 1; i < c.args.length; i += 2) {
        if (c.keyspace.exists(c.state.db, c.arg(i))) return integer(0);
      }
    }
    for (let i = 1; i < c.args.length; i += 2) {
      const length = c.argLength(i + 1);
      if (!c.keyspace.setString(c.state.db, c.arg(i), c.args[i + 1]!, { length })) return oom();
      wrote(c);
    }
    return nx ? integer(1) : OK;
  };
}

function append(c: CommandContext): Reply {
  const db = c.state.db;
  const key = c.arg(1);
  const old = c.keyspace.lookup(db, key);
  if (old !== undefined && old.type !== "string") return wrongType();
  let length = c.argLength(2);
  if (old === undefined) {
    if (!c.keyspace.setString(db, key, c.args[2]!, { length })) return oom();
  } else {
    // Past a cut the bytes are unknown: what was kept stays, the length grows all the same.
    const oldLength = old.length ?? old.value.length;
    const value = old.length === undefined ? Buffer.concat([old.value, c.args[2]!]) : old.value;
    length = oldLength + length;
    const raw = grownAllocation(oldLength, old.raw ?? rawAllocation(c, key), length);
    if (!c.keyspace.setString(db, key, value, { keepTtl: true, raw, length })) return oom();
  }
  wrote(c);
  return integer(length);
}

/** The sds allocation of a raw-encoded string Redis made for SET (undefined for int/embstr). */
function rawAllocation(c: CommandContext, key: string): number | undefined {
  const length = c.keyspace.stringLength(c.state.db, key);
  if (length === WRONG_TYPE || encodingOf(c, key) !== "raw") return undefined;
  return sdsBytes(length);
}

/**
 * sdsMakeRoomFor: the string stays put while its allocation has room; else it is reallocated
 * with twice the needed length (one more MB past 1 MB). int/embstr are first copied to a
 * type-5 sds, which has no spare room.
 */
function grownAllocation(
  oldLength: number,
  allocated: number | undefined,
  newLength: number,
): number {
  if (allocated !== undefined && allocated - sdsHeader(oldLength) - 1 >= newLength)
    return allocated;
  const room = newLength < 1024 * 1024 ? newLength * 2 : newLength + 1024 * 1024;
  return allocation(sdsHeader(room) + room + 1);
}

function strlen(c: CommandContext): Reply {
  const n = c.keyspace.stringLength(c.state.db, c.arg(1));
  return n === WRONG_TYPE ? wrongType() : integer(n);
}

function getrange(c: CommandContext): Reply {
  const start = intArg(c, 2);
  const end = intArg(c, 3);
  if (start === undefined || end === undefined) return notInteger();
  const v = c.keyspace.getString(c.state.db, c.arg(1));
  // The range is taken on the length sent; of a cut value only the kept bytes come back.
  const len = c.keyspace.stringLength(c.state.db, c.arg(1));
  if (v === WRONG_TYPE || len === WRONG_TYPE) return wrongType();
  if (v === undefined || len === 0) return bulk(Buffer.alloc(0));
  if (start < 0 && end < 0 && start > end) return bulk(Buffer.alloc(0));
  let from = start < 0 ? Math.max(0, len + start) : start;
  let to = end < 0 ? len + end : Math.min(end, len - 1);
  if (to < 0) to = 0;
  if (from > to || len === 0) return bulk(Buffer.alloc(0));
  if (from < 0) from = 0;
  return bulk(v.subarray(from, to + 1));
}

function incrGeneric(sign: 1 | -1, byArg: boolean) {
  return (c: CommandContext): Reply => {
    let by = 1n;
    if (byArg) {
      const n = parseInt64(c.arg(2));
      if (n === undefined) return notInteger();
      by = n;
    }
    const db = c.state.db;
    const key = c.arg(1);
    const old = c.keyspace.getString(db, key);
    if (old === WRONG_TYPE) return wrongType();
    const current = old === undefined ? 0n : parseInt64(old.toString("latin1"));
    if (current === undefined) return notInteger();
    const next = current + by * BigInt(sign);
    if (next > INT64_MAX || next < INT64_MIN) {
      return errorReply("ERR increment or decrement would overflow");
    }
    if (!c.keyspace.setString(db, key, Buffer.from(next.toString()), { keepTtl: true }))
      return oom();
    wrote(c);
    return { type: "integer", value: next };
  };
}

function incrbyfloat(c: CommandContext): Reply {
  const by = parseLongDouble(c.arg(2));
  if (by === undefined) return errorReply(NOT_FLOAT);
  const db = c.state.db;
  const key = c.arg(1);
  const old = c.keyspace.getString(db, key);
  if (old === WRONG_TYPE) return wrongType();
  const current =
    old === undefined ? parseLongDouble("0") : parseLongDouble(old.toString("latin1"));
  if (current === undefined) return errorReply(NOT_FLOAT);
  const next = by === "inf" || current === "inf" ? undefined : addLongDouble(current, by);
  if (next === undefined) return errorReply("ERR increment would produce NaN or Infinity");
  const text = formatLongDouble(next);
  if (!c.keyspace.setString(db, key, Buffer.from(text), { keepTtl: true })) return oom();
  wrote(c);
  return bulk(text);
}

// ---- keys ----

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

function scan(c: CommandContext): Reply {
  const cursor = parseInt64(c.arg(1));
  if (cursor === undefined || cursor < 0n) return errorReply("ERR invalid cursor");
  let count = 10;
  let pattern: string | undefined;
  let keyType: string | undefined;
  for (let i = 2; i < c.args.length; i += 2) {
    const opt = c.arg(i).toUpperCase();
    if (i + 1 >= c.args.length) return syntax();
    if (opt === "COUNT") {
      const n = intArg(c, i + 1);
      if (n === undefined) return notInteger();
      if (n < 1) return syntax();
      count = n;
    } else if (opt === "MATCH") pattern = c.arg(i + 1);
    else if (opt === "TYPE" && c.era.at("6.0")) keyType = c.arg(i + 1).toLowerCase();
    else return syntax();
  }
  const { next, keys: found } = c.keyspace.scan(
    c.state.db,
    Number(cursor),
    count,
    pattern,
    keyType,
  );
  return arr([bulk(String(next)), textArray(found)]);
}

function dbsize(c: CommandContext): Reply {
  return integer(c.keyspace.size(c.state.db));
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

function persist(c: CommandContext): Reply {
  const db = c.state.db;
  const key = c.arg(1);
  if (!c.keyspace.hasExpiry(db, key)) return integer(0);
  c.keyspace.setExpiry(db, key, undefined);
  wrote(c);
  return integer(1);
}

function select(c: CommandContext): Reply {
  const n = parseInt64(c.arg(1));
  if (n === undefined) return errorReply(dbNotIntegerText(c.era));
  if (n < 0n || n >= BigInt(DATABASES)) return errorReply(dbOutOfRangeText(c.era));
  c.state.db = Number(n);
  return OK;
}

function flushGeneric(all: boolean) {
  return (c: CommandContext): Reply => {
    if (c.args.length > 2) return syntax();
    if (c.args.length === 2) {
      const mode = c.arg(1).toUpperCase();
      if (!(mode === "ASYNC" || (mode === "SYNC" && c.era.at("6.2")))) return syntax();
    }
    c.keyspace.flush(all ? "all" : c.state.db);
    wrote(c);
    c.effect = { kind: "flush" };
    return OK;
  };
}

// ---- lists ----

function pushGeneric(left: boolean, onlyIfExists: boolean) {
  return (c: CommandContext): Reply => {
    const db = c.state.db;
    const key = c.arg(1);
    if (onlyIfExists && !c.keyspace.exists(db, key)) {
      return c.keyspace.typeOf(db, key) === "none" ? integer(0) : wrongType();
    }
    const n = c.keyspace.listPush(db, key, c.args.slice(2), left);
    if (n === WRONG_TYPE) return wrongType();
    if (n === OUT_OF_MEMORY) return oom();
    wrote(c, c.args.length - 2);
    return integer(n);
  };
}

function lrange(c: CommandContext): Reply {
  const start = intArg(c, 2);
  const stop = intArg(c, 3);
  if (start === undefined || stop === undefined) return notInteger();
  const list = c.keyspace.getList(c.state.db, c.arg(1));
  if (list === WRONG_TYPE) return wrongType();
  if (list === undefined) return EMPTY_ARRAY;
  const len = list.length;
  const from = start < 0 ? Math.max(0, len + start) : start;
  const to = Math.min(stop < 0 ? len + stop : stop, len - 1);
  if (from > to || from >= len) return EMPTY_ARRAY;
  return arr(list.slice(from, to + 1).map((b) => bulk(b)));
}

function llen(c: CommandContext): Reply {
  const list = c.keyspace.getList(c.state.db, c.arg(1));
  if (list === WRONG_TYPE) return wrongType();
  return integer(list?.length ?? 0);
}

function lindex(c: CommandContext): Reply {
  const index = intArg(c, 2);
  if (index === undefined) return notInteger();
  const list = c.keyspace.getList(c.state.db, c.arg(1));
  if (list === WRONG_TYPE) return wrongType();
  const item = list?.[index < 0 ? list.length + index : index];
  return item === undefined ? nullBulk() : bulk(item);
}

function popGeneric(left: boolean) {
  return (c: CommandContext): Reply => {
    let count: number | undefined;
    if (c.args.length === 3) {
      const n = intArg(c, 2);
      if (n === undefined || n < 0) return errorReply(OUT_OF_RANGE_POSITIVE);
      count = n;
    }
    const db = c.state.db;
    const key = c.arg(1);
    const list = c.keyspace.getList(db, key);
    if (list === WRONG_TYPE) return wrongType();
    if (list === undefined) return count === undefined ? nullBulk() : nullArray(c.state.proto);
    if (count === 0) return EMPTY_ARRAY;
    const taken = c.keyspace.listPop(db, key, count ?? 1, left);
    if (taken === undefined || taken === WRONG_TYPE) return nullBulk();
    wrote(c);
    return count === undefined ? bulk(taken[0]!) : arr(taken.map((b) => bulk(b)));
  };
}

// ---- hashes ----

function hset(c: CommandContext): Reply {
  if (c.args.length % 2 === 1) return errorReply(arityText(c.fullName));
  const pairs: Array<[string, Buffer]> = [];
  for (let i = 2; i < c.args.length; i += 2) pairs.push([c.arg(i), c.args[i + 1]!]);
  const n = c.keyspace.hashSet(c.state.db, c.arg(1), pairs);
  if (n === WRONG_TYPE) return wrongType();
  if (n === OUT_OF_MEMORY) return oom();
  wrote(c);
  return c.fullName === "hmset" ? OK : integer(n);
}

function hsetnx(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  if (hash?.has(c.arg(2))) return integer(0);
  const n = c.keyspace.hashSet(c.state.db, c.arg(1), [[c.arg(2), c.args[3]!]]);
  if (n === OUT_OF_MEMORY) return oom();
  wrote(c);
  return integer(1);
}

function hget(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  const v = hash?.get(c.arg(2));
  return v === undefined ? nullBulk() : bulk(v);
}

function hmget(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  const out: RespValue[] = [];
  let bytes = 0;
  for (let i = 2; i < c.args.length; i++) {
    const v = hash?.get(c.arg(i));
    if (v !== undefined) bytes += v.length + 16;
    out.push(v === undefined ? nullBulk() : bulk(v));
  }
  return c.replyFits(bytes) ? arr(out) : c.overLimit();
}

function hgetall(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  return pairsMap([...(hash ?? new Map<string, Buffer>())].map(([k, v]) => [k, bulk(v)]));
}

function hdel(c: CommandContext): Reply {
  const fields: string[] = [];
  for (let i = 2; i < c.args.length; i++) fields.push(c.arg(i));
  const n = c.keyspace.hashDelete(c.state.db, c.arg(1), fields);
  if (n === WRONG_TYPE) return wrongType();
  if (n > 0) wrote(c, n);
  return integer(n);
}

function hashRead(pick: (hash: Map<string, Buffer>, c: CommandContext) => Reply, empty: Reply) {
  return (c: CommandContext): Reply => {
    const hash = c.keyspace.getHash(c.state.db, c.arg(1));
    if (hash === WRONG_TYPE) return wrongType();
    return hash === undefined ? empty : pick(hash, c);
  };
}

function hincrby(c: CommandContext): Reply {
  const by = parseInt64(c.arg(3));
  if (by === undefined) return notInteger();
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  const old = hash?.get(c.arg(2));
  const current = old === undefined ? 0n : parseInt64(old.toString("latin1"));
  if (current === undefined) return errorReply("ERR hash value is not an integer");
  const next = current + by;
  if (next > INT64_MAX || next < INT64_MIN) {
    return errorReply("ERR increment or decrement would overflow");
  }
  const n = c.keyspace.hashSet(c.state.db, c.arg(1), [[c.arg(2), Buffer.from(next.toString())]]);
  if (n === OUT_OF_MEMORY) return oom();
  wrote(c);
  return { type: "integer", value: next };
}

// ---- sets ----

/** Members in the order SMEMBERS gives them: an intset is sorted, the rest kept as inserted. */
function setOrder(c: CommandContext, members: Set<string>): string[] {
  const all = [...members];
  const maxIntset = Number(c.state.config.get("set-max-intset-entries") ?? "512");
  const ints = all.map((m) => parseInt64(m));
  if (all.length <= maxIntset && ints.every((n) => n !== undefined)) {
    return all
      .map((m, i) => [m, ints[i]!] as const)
      .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .map(([m]) => m);
  }
  return all;
}

function sadd(c: CommandContext): Reply {
  const members: string[] = [];
  for (let i = 2; i < c.args.length; i++) members.push(c.arg(i));
  const n = c.keyspace.setAdd(c.state.db, c.arg(1), members);
  if (n === WRONG_TYPE) return wrongType();
  if (n === OUT_OF_MEMORY) return oom();
  if (n > 0) wrote(c, n);
  return integer(n);
}

function srem(c: CommandContext): Reply {
  const members: string[] = [];
  for (let i = 2; i < c.args.length; i++) members.push(c.arg(i));
  const n = c.keyspace.setRemove(c.state.db, c.arg(1), members);
  if (n === WRONG_TYPE) return wrongType();
  if (n > 0) wrote(c, n);
  return integer(n);
}

function smembers(c: CommandContext): Reply {
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  const items = members === undefined ? [] : setOrder(c, members).map(bulkText);
  return { type: "set", value: items };
}

function scard(c: CommandContext): Reply {
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  return integer(members?.size ?? 0);
}

function sismember(c: CommandContext): Reply {
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  return integer(members?.has(c.arg(2)) ? 1 : 0);
}

// ---- OBJECT / MEMORY ----

/** The internal encoding a real server of this version would report. */
function encodingOf(c: CommandContext, key: string): string | undefined {
  const value = c.keyspace.lookup(c.state.db, key);
  if (value === undefined) return undefined;
  const era = c.era;
  const small = (n: number, bytes: Iterable<number>, maxEntries: number, maxValue: number) =>
    n <= maxEntries && [...bytes].every((b) => b <= maxValue);
  switch (value.type) {
    case "string": {
      if (value.raw !== undefined) return "raw";
      const text = value.value.toString("latin1");
      if (value.value.length <= 20 && parseInt64(text) !== undefined) return "int";
      if (era.before("3.0")) return "raw";
      return value.value.length <= (era.at("3.2") ? 44 : 39) ? "embstr" : "raw";
    }
    case "list":
      if (
        era.at("7.2") &&
        small(
          value.value.length,
          value.value.map((b) => b.length),
          128,
          64,
        )
      ) {
        return "listpack";
      }
      return era.at("3.2") ? "quicklist" : "ziplist";
    case "hash": {
      const lengths = [...value.value].flatMap(([f, v]) => [f.length, v.length]);
      if (!small(value.value.size, lengths, 512, 64)) return "hashtable";
      return era.at("7.0") ? "listpack" : "ziplist";
    }
    case "set": {
      const members = [...value.value];
      if (members.length <= 512 && members.every((m) => parseInt64(m) !== undefined))
        return "intset";
      if (
        era.at("7.2") &&
        small(
          members.length,
          members.map((m) => m.length),
          128,
          64,
        )
      ) {
        return "listpack";
      }
      return "hashtable";
    }
  }
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

/** jemalloc's size class for an allocation of n bytes (8, 16, then four classes per doubling). */
function allocation(n: number): number {
  if (n <= 8) return 8;
  if (n <= 128) return Math.ceil(n / 16) * 16;
  const spacing = 2 ** Math.floor(Math.log2(n - 1)) / 4;
  return Math.ceil(n / spacing) * spacing;
}

/** An sds header by length: type 8, 16, 32 or 64 (type 5, one byte, only where allowed). */
function sdsHeader(length: number, allowType5 = false): number {
  return length < 32 && allowType5 ? 1 : length < 256 ? 3 : length < 65_536 ? 5 : 9;
}

/** An sds string's allocation: header, the bytes, the NUL. */
function sdsBytes(length: number, allowType5 = false): number {
  return allocation(sdsHeader(length, allowType5) + length + 1);
}

/** Bytes a listpack entry takes (encoding, data, back-length). */
function listpackEntry(item: string): number {
  const n = parseInt64(item);
  let size: number;
  if (n !== undefined) {
    const v = n < 0n ? -n : n;
    size =
      n >= 0n && n <= 127n
        ? 1
        : v < 4096n
          ? 2
          : v < 32768n
            ? 3
            : v < 8388608n
              ? 4
              : v < 2147483648n
                ? 5
                : 9;
  } else {
    size =
      item.length < 64 ? 1 + item.length : item.length < 4096 ? 2 + item.length : 5 + item.length;
  }
  return size + (size < 128 ? 1 : size < 16384 ? 2 : 3);
}

function listpackBytes(items: Iterable<string>): number {
  let n = 7;
  for (const item of items) n += listpackEntry(item);
  return allocation(n);
}

/** A dict: the struct, its bucket array (a power of two ≥ 4), and per entry dictEntry + sds. */
function dictBytes(sizes: number[]): number {
  const slots = Math.max(4, 2 ** Math.ceil(Math.log2(Math.max(1, sizes.length))));
  return 56 + slots * 8 + sizes.reduce((n, s) => n + 24 + s, 0);
}

/**
 * MEMORY USAGE as Redis 7.0 computes it on a jemalloc build: the value's structures (object
 * header, encoding, elements) plus the key's sds and its dict entry. Other versions encode
 * differently; their numbers here are the same estimate.
 */
function memoryUsage(c: CommandContext): Reply {
  if (c.args.length > 3 && (c.args.length !== 5 || c.arg(3).toUpperCase() !== "SAMPLES")) {
    return syntax();
  }
  const key = c.arg(2);
  const value = c.keyspace.lookup(c.state.db, key);
  if (value === undefined) return nullBulk();
  const keyBytes = sdsBytes(key.length, true) + 24;
  const encoding = encodingOf(c, key);
  let bytes = 16;
  switch (value.type) {
    case "string": {
      const len = value.length ?? value.value.length;
      if (encoding === "embstr") bytes = allocation(16 + 3 + len + 1);
      else if (encoding === "raw") bytes += value.raw ?? sdsBytes(len);
      break;
    }
    case "list":
      bytes += 48 + 32 + listpackBytes(value.value.map((b) => b.toString("latin1")));
      break;
    case "hash":
      bytes +=
        encoding === "hashtable"
          ? dictBytes([...value.value].map(([f, v]) => sdsBytes(f.length) + sdsBytes(v.length)))
          : listpackBytes([...value.value].flatMap(([f, v]) => [f, v.toString("latin1")]));
      break;
    case "set": {
      const members = [...value.value];
      if (encoding === "intset") {
        const width = members.some((m) => {
          const n = parseInt64(m)!;
          return n > 2147483647n || n < -2147483648n;
        })
          ? 8
          : members.some((m) => {
                const n = parseInt64(m)!;
                return n > 32767n || n < -32768n;
              })
            ? 4
            : 2;
        bytes += allocation(8 + members.length * width);
      } else if (encoding === "listpack") bytes += listpackBytes(members);
      else bytes += dictBytes(members.map((m) => sdsBytes(m.length, true)));
      break;
    }
  }
  return integer(bytes + keyBytes);
}

/** OBJECT's own error before 5.0 (for unknown subcommands and wrong arguments alike). */
const objectSyntaxError = (): string => "ERR Syntax error. Try OBJECT (refcount|encoding|idletime)";

export const KEY_COMMANDS: CommandSpec[] = [
  ...inCategory("string", [
    { name: "get", arity: 2, handler: get },
    { name: "set", arity: -3, flags: ["write", "denyoom"], handler: set },
    { name: "setnx", arity: 3, flags: ["write", "denyoom"], handler: setnx },
    { name: "setex", arity: 4, flags: ["write", "denyoom"], handler: setWithTtl(1000, "setex") },
    { name: "psetex", arity: 4, flags: ["write", "denyoom"], handler: setWithTtl(1, "psetex") },
    { name: "getset", arity: 3, flags: ["write", "denyoom"], handler: getset },
    { name: "getdel", arity: 2, since: "6.2", flags: ["write"], handler: getdel },
    { name: "mget", arity: -2, keys: [1, -1, 1], handler: mget },
    {
      name: "mset",
      arity: -3,
      keys: [1, -1, 2],
      flags: ["write", "denyoom"],
      handler: msetGeneric(false),
    },
    {
      name: "msetnx",
      arity: -3,
      keys: [1, -1, 2],
      flags: ["write", "denyoom"],
      handler: msetGeneric(true),
    },
    { name: "append", arity: 3, flags: ["write", "denyoom"], handler: append },
    { name: "strlen", arity: 2, handler: strlen },
    { name: "getrange", arity: 4, handler: getrange },
    { name: "incr", arity: 2, flags: ["write", "denyoom"], handler: incrGeneric(1, false) },
    { name: "decr", arity: 2, flags: ["write", "denyoom"], handler: incrGeneric(-1, false) },
    { name: "incrby", arity: 3, flags: ["write", "denyoom"], handler: incrGeneric(1, true) },
    { name: "decrby", arity: 3, flags: ["write", "denyoom"], handler: incrGeneric(-1, true) },
    { name: "incrbyfloat", arity: 3, flags: ["write", "denyoom"], handler: incrbyfloat },
  ]),
  ...inCategory("keyspace", [
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
    { name: "dbsize", arity: 1, keys: [0, 0, 0], handler: dbsize },
    { name: "randomkey", arity: 1, keys: [0, 0, 0], handler: randomkey },
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
    { name: "persist", arity: 2, flags: ["write"], handler: persist },
    { name: "select", arity: 2, category: "connection", handler: select },
    {
      name: "flushdb",
      arity: [
        ["2.8", 1],
        ["4.0", -1],
      ],
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
      keys: [0, 0, 0],
      flags: ["write"],
      handler: flushGeneric(true),
    },
  ]),
  ...inCategory("list", [
    { name: "lpush", arity: -3, flags: ["write", "denyoom"], handler: pushGeneric(true, false) },
    { name: "rpush", arity: -3, flags: ["write", "denyoom"], handler: pushGeneric(false, false) },
    {
      name: "lpushx",
      arity: [
        ["2.8", 3],
        ["4.0", -3],
      ],
      flags: ["write", "denyoom"],
      handler: pushGeneric(true, true),
    },
    {
      name: "rpushx",
      arity: [
        ["2.8", 3],
        ["4.0", -3],
      ],
      flags: ["write", "denyoom"],
      handler: pushGeneric(false, true),
    },
    { name: "lrange", arity: 4, handler: lrange },
    { name: "llen", arity: 2, handler: llen },
    { name: "lindex", arity: 3, handler: lindex },
    {
      name: "lpop",
      arity: [
        ["2.8", 2],
        ["6.2", -2],
      ],
      flags: ["write"],
      handler: popGeneric(true),
    },
    {
      name: "rpop",
      arity: [
        ["2.8", 2],
        ["6.2", -2],
      ],
      flags: ["write"],
      handler: popGeneric(false),
    },
  ]),
  ...inCategory("hash", [
    {
      name: "hset",
      arity: [
        ["2.8", 4],
        ["4.0", -4],
      ],
      flags: ["write", "denyoom"],
      handler: hset,
    },
    { name: "hsetnx", arity: 4, flags: ["write", "denyoom"], handler: hsetnx },
    { name: "hmset", arity: -4, flags: ["write", "denyoom"], handler: hset },
    { name: "hget", arity: 3, handler: hget },
    { name: "hmget", arity: -3, handler: hmget },
    { name: "hgetall", arity: 2, handler: hgetall },
    { name: "hdel", arity: -3, flags: ["write"], handler: hdel },
    { name: "hlen", arity: 2, handler: hashRead((h) => integer(h.size), integer(0)) },
    {
      name: "hexists",
      arity: 3,
      handler: hashRead((h, c) => integer(h.has(c.arg(2)) ? 1 : 0), integer(0)),
    },
    { name: "hkeys", arity: 2, handler: hashRead((h) => textArray([...h.keys()]), EMPTY_ARRAY) },
    {
      name: "hvals",
      arity: 2,
      handler: hashRead((h) => arr([...h.values()].map((v) => bulk(v))), EMPTY_ARRAY),
    },
    { name: "hincrby", arity: 4, flags: ["write", "denyoom"], handler: hincrby },
  ]),
  ...inCategory("set", [
    { name: "sadd", arity: -3, flags: ["write", "denyoom"], handler: sadd },
    { name: "srem", arity: -3, flags: ["write"], handler: srem },
    { name: "smembers", arity: 2, handler: smembers },
    { name: "scard", arity: 2, handler: scard },
    { name: "sismember", arity: 3, handler: sismember },
  ]),
  ...inCategory("keyspace", [
    {
      name: "object",
      arity: -2,
      keys: [2, 2, 1],
      subcommands: {
        encoding: { arity: 3, handler: objectEncoding },
        refcount: { arity: 3, handler: objectNumber(() => 1) },
        idletime: { arity: 3, handler: objectNumber(() => 0) },
        freq: { arity: 3, since: "4.0", handler: objectFreq },
        help: {
          arity: 2,
          since: "5.0",
          handler: () =>
            arr(
              [
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
                "HELP",
                "    Prints this help.",
              ].map((l) => simple(l)),
            ),
        },
      },
      legacyErrors: { unknown: objectSyntaxError, arity: objectSyntaxError },
    },
    {
      name: "memory",
      arity: -2,
      since: "4.0",
      keys: [2, 2, 1],
      subcommands: {
        usage: { arity: -3, handler: memoryUsage },
        doctor: {
          arity: 2,
          handler: () =>
            bulk(
              "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.",
            ),
        },
        malloc_stats: {
          arity: 2,
          handler: () => bulk("Stats not supported for the current allocator"),
        },
        purge: { arity: 2, handler: () => OK },
      },
    },
  ]),
];
