/**
 * String commands (t_string.c): GET, SET and its options, SETNX, SETEX, PSETEX, GETSET, GETDEL,
 * MGET, MSET, MSETNX, APPEND, STRLEN, GETRANGE, INCR/DECR[BY] and INCRBYFLOAT.
 */
import { arr, bulk } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { WRONG_TYPE } from "../keyspace.js";
import { arityText, invalidExpireText, NOT_FLOAT } from "../personas/texts.js";
import { grownAllocation, rawAllocation } from "./encoding.js";
import { INT64_MAX, INT64_MIN, intArg, parseInt64 } from "./integers.js";
import { addLongDouble, formatLongDouble, parseLongDouble } from "./long-double.js";
import {
  errorReply,
  integer,
  notInteger,
  nullBulk,
  OK,
  outOfMemory,
  type Reply,
  syntaxError,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

function get(c: CommandContext): Reply {
  const v = c.keyspace.getString(c.state.db, c.arg(1));
  if (v === WRONG_TYPE) return wrongType();
  c.persona.countLookup(v !== undefined);
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
    } else return syntaxError();
  }
  if (o.get && o.nx && c.era.before("7.0")) return syntaxError();
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
  if (!c.keyspace.setString(db, key, c.args[2]!, opts)) return outOfMemory();
  wrote(c);
  return previous ?? OK;
}

function setnx(c: CommandContext): Reply {
  if (c.keyspace.exists(c.state.db, c.arg(1))) return integer(0);
  if (!c.keyspace.setString(c.state.db, c.arg(1), c.args[2]!, { length: c.argLength(2) }))
    return outOfMemory();
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
      return outOfMemory();
    }
    wrote(c);
    return OK;
  };
}

function getset(c: CommandContext): Reply {
  const old = c.keyspace.getString(c.state.db, c.arg(1));
  if (old === WRONG_TYPE) return wrongType();
  if (!c.keyspace.setString(c.state.db, c.arg(1), c.args[2]!, { length: c.argLength(2) }))
    return outOfMemory();
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
      if (!c.keyspace.setString(c.state.db, c.arg(i), c.args[i + 1]!, { length }))
        return outOfMemory();
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
    if (!c.keyspace.setString(db, key, c.args[2]!, { length })) return outOfMemory();
  } else {
    // Past a cut the bytes are unknown: what was kept stays, the length grows all the same.
    const oldLength = old.length ?? old.value.length;
    const value = old.length === undefined ? Buffer.concat([old.value, c.args[2]!]) : old.value;
    length = oldLength + length;
    const raw = grownAllocation(oldLength, old.raw ?? rawAllocation(c, key), length);
    if (!c.keyspace.setString(db, key, value, { keepTtl: true, raw, length })) return outOfMemory();
  }
  wrote(c);
  return integer(length);
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
      return outOfMemory();
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
  if (!c.keyspace.setString(db, key, Buffer.from(text), { keepTtl: true })) return outOfMemory();
  wrote(c);
  return bulk(text);
}

export const STRING_COMMANDS: CommandSpec[] = inCategory("string", [
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
]);
