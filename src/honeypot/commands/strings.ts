/**
 * String commands (t_string.c): GET, SET and its options, SETNX, SETEX, PSETEX, GETSET, GETDEL,
 * GETEX, MGET, MSET, MSETNX, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, LCS, INCR/DECR[BY] and
 * INCRBYFLOAT.
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
  pairsMap,
  type Reply,
  syntaxError,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

function get(c: CommandContext): Reply {
  const v = c.keyspace.getString(c.state.db, c.arg(1));
  if (v === WRONG_TYPE) return wrongType();
  return v === undefined ? nullBulk() : bulk(v);
}

interface SetOptions {
  nx: boolean;
  xx: boolean;
  get: boolean;
  keepTtl: boolean;
  expiresAt?: number;
}

/**
 * SET's options, or the error reply they deserve. The expire value is read after every option
 * was accepted (setGenericCommand / getExpireMillisecondsOrReply), so a syntax error later in
 * the line wins over a bad number. Before 3.2 options were not checked against each other:
 * NX with XX, or EX twice (the last wins), were accepted.
 */
function parseSetOptions(c: CommandContext): SetOptions | Reply {
  const o: SetOptions = { nx: false, xx: false, get: false, keepTtl: false };
  const loose = c.era.before("3.2");
  let expiry: { unit: string; at: number } | undefined;
  let expiryArg: { unit: string; i: number } | undefined;
  for (let i = 3; i < c.args.length; i++) {
    const opt = c.arg(i).toUpperCase();
    const hasNext = i + 1 < c.args.length;
    if (opt === "NX" && (!o.xx || loose)) o.nx = true;
    else if (opt === "XX" && (!o.nx || loose)) o.xx = true;
    else if (opt === "GET" && c.era.at("6.2") && (!o.nx || c.era.at("7.0"))) o.get = true;
    else if (opt === "KEEPTTL" && c.era.at("6.0") && expiryArg === undefined) o.keepTtl = true;
    else if (
      (opt === "EX" || opt === "PX" || ((opt === "EXAT" || opt === "PXAT") && c.era.at("6.2"))) &&
      hasNext &&
      (expiryArg === undefined || loose) &&
      !o.keepTtl
    ) {
      expiryArg = { unit: opt, i: ++i };
    } else return syntaxError();
  }
  if (o.get && o.nx && c.era.before("7.0")) return syntaxError();
  if (expiryArg !== undefined) {
    const n = intArg(c, expiryArg.i);
    if (n === undefined) return notInteger();
    if (n <= 0) return errorReply(invalidExpireText(c.era, "set"));
    const now = c.now();
    const opt = expiryArg.unit;
    const at =
      opt === "EX" ? now + n * 1000 : opt === "PX" ? now + n : opt === "EXAT" ? n * 1000 : n;
    expiry = { unit: opt, at };
  }
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

function setrange(c: CommandContext): Reply {
  const offset = intArg(c, 2);
  if (offset === undefined) return notInteger();
  if (offset < 0) return errorReply("ERR offset is out of range");
  const db = c.state.db;
  const key = c.arg(1);
  const value = c.args[3]!;
  const old = c.keyspace.lookup(db, key);
  if (old !== undefined && old.type !== "string") return wrongType();
  const oldLength = old === undefined ? 0 : (old.length ?? old.value.length);
  if (value.length === 0) return integer(oldLength);
  if (offset + value.length > 512 * 1024 * 1024) {
    return errorReply(
      c.era.at("6.0")
        ? "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
        : "ERR string exceeds maximum allowed size (512MB)",
    );
  }
  const kept = old?.value ?? Buffer.alloc(0);
  const size = Math.max(kept.length, offset + value.length);
  // Built only once the keyspace could hold it: a far offset is -OOM, not an allocation.
  if (!c.keyspace.fits(size - kept.length)) return outOfMemory();
  const out = Buffer.alloc(size);
  kept.copy(out);
  value.copy(out, offset);
  const length = Math.max(oldLength, offset + value.length);
  const opts: { keepTtl: boolean; raw: number; length?: number } = {
    keepTtl: true,
    raw: grownAllocation(oldLength, old?.type === "string" ? old.raw : undefined, length),
  };
  if (length > size) opts.length = length;
  if (!c.keyspace.setString(db, key, out, opts)) return outOfMemory();
  wrote(c);
  return integer(length);
}

/** GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST] (6.2+). */
function getex(c: CommandContext): Reply {
  let unit: string | undefined;
  let persist = false;
  let valueIdx = -1;
  for (let i = 2; i < c.args.length; i++) {
    const opt = c.arg(i).toUpperCase();
    const hasNext = i + 1 < c.args.length;
    if (opt === "PERSIST" && unit === undefined) persist = true;
    else if (
      (opt === "EX" || opt === "PX" || opt === "EXAT" || opt === "PXAT") &&
      !persist &&
      (unit === undefined || unit === opt) &&
      hasNext
    ) {
      unit = opt;
      valueIdx = ++i;
    } else return syntaxError();
  }
  const db = c.state.db;
  const key = c.arg(1);
  const v = c.keyspace.getString(db, key);
  if (v === undefined) return nullBulk();
  if (v === WRONG_TYPE) return wrongType();
  let at: number | undefined;
  if (unit !== undefined) {
    const n = intArg(c, valueIdx);
    if (n === undefined) return notInteger();
    if (n <= 0) return errorReply(invalidExpireText(c.era, "getex"));
    const now = c.now();
    at = unit === "EX" ? now + n * 1000 : unit === "PX" ? now + n : unit === "EXAT" ? n * 1000 : n;
  }
  const reply = bulk(v);
  if (at !== undefined) {
    c.keyspace.setExpiry(db, key, at);
    wrote(c);
  } else if (persist && c.keyspace.hasExpiry(db, key)) {
    c.keyspace.setExpiry(db, key, undefined);
    wrote(c);
  }
  return reply;
}

/** Cells of LCS's table past which it answers as a server that cannot allocate them. */
const LCS_MAX_CELLS = 4 * 1024 * 1024;

/** LCS a b [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN] (7.0+). */
function lcs(c: CommandContext): Reply {
  const va = c.keyspace.lookup(c.state.db, c.arg(1));
  const vb = c.keyspace.lookup(c.state.db, c.arg(2));
  if ((va && va.type !== "string") || (vb && vb.type !== "string")) {
    return errorReply("ERR The specified keys must contain string values");
  }
  const a = va?.type === "string" ? va.value : Buffer.alloc(0);
  const b = vb?.type === "string" ? vb.value : Buffer.alloc(0);
  let getLen = false;
  let getIdx = false;
  let withMatchLen = false;
  let minMatchLen = 0n;
  for (let j = 3; j < c.args.length; j++) {
    const opt = c.arg(j).toUpperCase();
    const more = c.args.length - 1 - j;
    if (opt === "IDX") getIdx = true;
    else if (opt === "LEN") getLen = true;
    else if (opt === "WITHMATCHLEN") withMatchLen = true;
    else if (opt === "MINMATCHLEN" && more > 0) {
      const n = parseInt64(c.arg(++j));
      if (n === undefined) return notInteger();
      minMatchLen = n < 0n ? 0n : n;
    } else return syntaxError();
  }
  if (getLen && getIdx) {
    return errorReply("ERR If you want both the length and indexes, please just use IDX.");
  }
  const alen = a.length;
  const blen = b.length;
  if ((alen + 1) * (blen + 1) > LCS_MAX_CELLS) {
    return errorReply("ERR Insufficient memory, failed allocating transient memory for LCS");
  }
  const w = blen + 1;
  const t = new Uint32Array((alen + 1) * w);
  for (let i = 1; i <= alen; i++) {
    for (let j = 1; j <= blen; j++) {
      t[i * w + j] =
        a[i - 1] === b[j - 1]
          ? t[(i - 1) * w + j - 1]! + 1
          : Math.max(t[(i - 1) * w + j]!, t[i * w + j - 1]!);
    }
  }
  const total = t[alen * w + blen]!;
  if (getLen) return integer(total);
  const result = Buffer.alloc(total);
  const matches: RespValue[] = [];
  let idx = total;
  let aStart = alen;
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  let i = alen;
  let j = blen;
  while (i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result[idx - 1] = a[i - 1]!;
      if (aStart === alen) {
        aStart = i - 1;
        aEnd = i - 1;
        bStart = j - 1;
        bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else emit = true;
      if (aStart === 0 || bStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      if (t[(i - 1) * w + j]! > t[i * w + j - 1]!) i--;
      else j--;
      if (aStart !== alen) emit = true;
    }
    const matchLen = aEnd - aStart + 1;
    if (emit) {
      if (getIdx && (minMatchLen === 0n || BigInt(matchLen) >= minMatchLen)) {
        const m: RespValue[] = [
          arr([integer(aStart), integer(aEnd)]),
          arr([integer(bStart), integer(bEnd)]),
        ];
        if (withMatchLen) m.push(integer(matchLen));
        matches.push(arr(m));
      }
      aStart = alen;
    }
  }
  if (getIdx) {
    return pairsMap([
      ["matches", arr(matches)],
      ["len", integer(total)],
    ]);
  }
  return bulk(result);
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
  { name: "substr", arity: 4, handler: getrange },
  { name: "setrange", arity: 4, flags: ["write", "denyoom"], handler: setrange },
  { name: "getex", arity: -2, since: "6.2", flags: ["write"], handler: getex },
  { name: "lcs", arity: -3, since: "7.0", keys: [1, 2, 1], handler: lcs },
  { name: "incr", arity: 2, flags: ["write", "denyoom"], handler: incrGeneric(1, false) },
  { name: "decr", arity: 2, flags: ["write", "denyoom"], handler: incrGeneric(-1, false) },
  { name: "incrby", arity: 3, flags: ["write", "denyoom"], handler: incrGeneric(1, true) },
  { name: "decrby", arity: 3, flags: ["write", "denyoom"], handler: incrGeneric(-1, true) },
  { name: "incrbyfloat", arity: 3, flags: ["write", "denyoom"], handler: incrbyfloat },
]);
