/**
 * Bit commands on strings (bitops.c): SETBIT, GETBIT, BITCOUNT (BYTE|BIT from 7.0), BITPOS,
 * BITOP, BITFIELD (3.2+) and BITFIELD_RO (6.2+). Bit 0 is the most significant bit of the
 * first byte. A string grown by a write is charged to the keyspace before it is built, so a
 * far offset is refused (-OOM) instead of allocated. Of a value kept only in part (longer
 * than the request reader's prefix), the bytes not kept read as zeros.
 */

import { arr } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { WRONG_TYPE } from "../keyspace.js";
import { grownAllocation } from "./encoding.js";
import { parseInt64 } from "./integers.js";
import {
  errorReply,
  integer,
  notInteger,
  nullBulk,
  outOfMemory,
  type Reply,
  syntaxError,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

const OFFSET_ERR = "ERR bit offset is not an integer or out of range";
const TYPE_ERR =
  "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
/** proto-max-bulk-len: offsets whose byte is past it are refused. */
const MAX_BULK = 512n * 1024n * 1024n;

/** getBitOffsetFromArgument: a bit offset, `#n` meaning n × bits where allowed. */
function bitOffset(text: string, hashBits = 0): bigint | undefined {
  const hash = text.startsWith("#") && hashBits > 0;
  let n = parseInt64(hash ? text.slice(1) : text);
  if (n === undefined) return undefined;
  if (hash) n = BigInt.asIntN(64, n * BigInt(hashBits));
  if (n < 0n || n >> 3n >= MAX_BULK) return undefined;
  return n;
}

/** The string at key as bytes (an int-encoded one as its digits), or a WRONGTYPE reply. */
function stringAt(c: CommandContext, key: string): Buffer | undefined | Reply {
  const v = c.keyspace.getString(c.state.db, key);
  return v === WRONG_TYPE ? wrongType() : v;
}

const isReply = (x: unknown): x is Reply =>
  typeof x === "object" && x !== null && !Buffer.isBuffer(x) && "type" in x;

/** The full length of the string at key (what STRLEN says). */
function lengthAt(c: CommandContext, key: string): number {
  const n = c.keyspace.stringLength(c.state.db, key);
  return n === WRONG_TYPE ? 0 : n;
}

/**
 * lookupStringForBitCommand: the string at key grown with zeros to hold byte `byte`, stored
 * back (TTL kept); undefined, with an -OOM reply, when the keyspace refuses it.
 */
function grownString(
  c: CommandContext,
  key: string,
  old: Buffer | undefined,
  byte: number,
): Buffer | Reply {
  const need = byte + 1;
  const stored = c.keyspace.lookup(c.state.db, key);
  // Written in place once raw-encoded (as Redis's dbUnshareStringValue leaves it).
  if (old !== undefined && need <= old.length && stored?.type === "string" && stored.raw) {
    return old;
  }
  const size = Math.max(need, old?.length ?? 0);
  if (!c.keyspace.fits(size - (old?.length ?? 0))) return outOfMemory();
  const length = old === undefined ? 0 : lengthAt(c, key);
  const out = Buffer.alloc(size);
  old?.copy(out);
  const raw = grownAllocation(length, undefined, Math.max(need, length));
  const opts: { keepTtl: boolean; length?: number; raw: number } = { keepTtl: true, raw };
  if (length > size) opts.length = length;
  if (!c.keyspace.setString(c.state.db, key, out, opts)) return outOfMemory();
  return c.keyspace.getString(c.state.db, key) as Buffer;
}

function setbit(c: CommandContext): Reply {
  const offset = bitOffset(c.arg(2));
  if (offset === undefined) return errorReply(OFFSET_ERR);
  const on = parseInt64(c.arg(3));
  if (on === undefined || (on !== 0n && on !== 1n)) {
    return errorReply("ERR bit is not an integer or out of range");
  }
  const key = c.arg(1);
  const old = stringAt(c, key);
  if (isReply(old)) return old;
  const byte = Number(offset >> 3n);
  const buf = grownString(c, key, old, byte);
  if (isReply(buf)) return buf;
  const bit = 7 - Number(offset & 7n);
  const was = (buf[byte]! >> bit) & 1;
  if (on === 1n) buf[byte]! |= 1 << bit;
  else buf[byte]! &= ~(1 << bit);
  wrote(c);
  return integer(was);
}

function getbit(c: CommandContext): Reply {
  const offset = bitOffset(c.arg(2));
  if (offset === undefined) return errorReply(OFFSET_ERR);
  const v = stringAt(c, c.arg(1));
  if (isReply(v)) return v;
  if (v === undefined) return integer(0);
  const byte = Number(offset >> 3n);
  if (byte >= v.length) return integer(0);
  return integer((v[byte]! >> (7 - Number(offset & 7n))) & 1);
}

/** Set bits in one byte. */
function popcount(b: number): number {
  b -= (b >> 1) & 0x55;
  b = (b & 0x33) + ((b >> 2) & 0x33);
  return (b + (b >> 4)) & 0x0f;
}

const byteAt = (v: Buffer, i: number): number => (i < v.length ? v[i]! : 0);
const bitAt = (v: Buffer, i: number): number => (byteAt(v, i >> 3) >> (7 - (i & 7))) & 1;

/** The [start, end] range of BITCOUNT/BITPOS in bits, after Redis's index rules. */
function bitRange(
  start0: bigint,
  end0: bigint,
  length: number,
  isBit: boolean,
): [number, number] | undefined {
  const total = BigInt(length) * (isBit ? 8n : 1n);
  let start = start0;
  let end = end0;
  if (start < 0n) start = total + start;
  if (end < 0n) end = total + end;
  if (start < 0n) start = 0n;
  if (end < 0n) end = 0n;
  if (end >= total) end = total - 1n;
  if (start > end) return undefined;
  return isBit ? [Number(start), Number(end)] : [Number(start) * 8, Number(end) * 8 + 7];
}

function bitcount(c: CommandContext): Reply {
  const argc = c.args.length;
  // Valkey 8 made the end optional (BITCOUNT key start) and reads the unit before the end.
  const valkey8 = c.era.valkey8;
  // 7.4 and Valkey 8 read the arguments before the key; earlier versions the key first.
  const argsFirst = c.era.at("7.4") || valkey8;
  const ranged = argc === 4 || (argc === 5 && c.era.at("7.0")) || (argc === 3 && valkey8);
  if (!ranged && argc !== 2) {
    if (argsFirst) return syntaxError();
  }
  let v: Buffer | undefined;
  const lookup = (): Reply | undefined => {
    const found = stringAt(c, c.arg(1));
    if (isReply(found)) return found;
    v = found;
    return undefined;
  };
  if (!argsFirst) {
    const err = lookup();
    if (err !== undefined) return err;
    if (v === undefined) return integer(0);
    if (!ranged && argc !== 2) return syntaxError();
  }
  if (!ranged) {
    if (argsFirst) {
      const err = lookup();
      if (err !== undefined) return err;
    }
    const length = v === undefined ? 0 : lengthAt(c, c.arg(1));
    if (v === undefined || length === 0) return integer(0);
    return integer(countBits(v, 0, length * 8 - 1));
  }
  const start = parseInt64(c.arg(2));
  if (start === undefined) return notInteger();
  let isBit = false;
  const unit = (): Reply | undefined => {
    const u = c.arg(4).toLowerCase();
    if (u === "bit") isBit = true;
    else if (u !== "byte") return syntaxError();
    return undefined;
  };
  if (valkey8 && argc === 5) {
    const err = unit();
    if (err !== undefined) return err;
  }
  let end: bigint | undefined;
  if (argc >= 4) {
    end = parseInt64(c.arg(3));
    if (end === undefined) return notInteger();
  }
  if (argsFirst && !valkey8 && argc === 5) {
    const err = unit();
    if (err !== undefined) return err;
  }
  if (argsFirst) {
    const err = lookup();
    if (err !== undefined) return err;
  }
  const length = v === undefined ? 0 : lengthAt(c, c.arg(1));
  end ??= BigInt(length) - 1n;
  if (start < 0n && end < 0n && start > end) return integer(0);
  if (!argsFirst && argc === 5) {
    const err = unit();
    if (err !== undefined) return err;
  }
  const range = bitRange(start, end, length, isBit);
  if (range === undefined || v === undefined) return integer(0);
  return integer(countBits(v, range[0], range[1]));
}

/** Set bits from bit `lo` to bit `hi` inclusive. */
function countBits(v: Buffer, lo: number, hi: number): number {
  let n = 0;
  let i = lo;
  for (; i <= hi && (i & 7) !== 0; i++) n += bitAt(v, i);
  for (; i + 7 <= hi; i += 8) n += popcount(byteAt(v, i >> 3));
  for (; i <= hi; i++) n += bitAt(v, i);
  return n;
}

function bitpos(c: CommandContext): Reply {
  const bit = parseInt64(c.arg(2));
  if (bit === undefined) return notInteger();
  if (bit !== 0n && bit !== 1n) return errorReply("ERR The bit argument must be 1 or 0.");
  const want = Number(bit);
  const v = stringAt(c, c.arg(1));
  if (isReply(v)) return v;
  if (v === undefined) return integer(want ? -1 : 0);
  const length = lengthAt(c, c.arg(1));
  const argc = c.args.length;
  let endGiven = false;
  let range: [number, number] | undefined;
  if (argc === 4 || argc === 5 || (argc === 6 && c.era.at("7.0"))) {
    const start = parseInt64(c.arg(3));
    if (start === undefined) return notInteger();
    let isBit = false;
    if (argc === 6) {
      const unit = c.arg(5).toLowerCase();
      if (unit === "bit") isBit = true;
      else if (unit !== "byte") return syntaxError();
    }
    let end: bigint;
    if (argc >= 5) {
      const e = parseInt64(c.arg(4));
      if (e === undefined) return notInteger();
      end = e;
      endGiven = true;
    } else end = isBit ? BigInt(length) * 8n + 7n : BigInt(length) - 1n;
    range = bitRange(start, end, length, isBit);
  } else if (argc === 3) {
    range = length === 0 ? undefined : [0, length * 8 - 1];
  } else return syntaxError();
  if (range === undefined) return integer(-1);
  const [lo, hi] = range;
  for (let i = lo; i <= hi; i++) {
    // Whole bytes that cannot hold the bit are skipped.
    if ((i & 7) === 0 && i + 7 <= hi && byteAt(v, i >> 3) === (want ? 0 : 0xff)) {
      i += 7;
      continue;
    }
    if (bitAt(v, i) === want) return integer(i);
  }
  if (want === 1 || endGiven) return integer(-1);
  return integer(hi + 1);
}

function bitop(c: CommandContext): Reply {
  const op = c.arg(1).toLowerCase();
  if (op !== "and" && op !== "or" && op !== "xor" && op !== "not") return syntaxError();
  if (op === "not" && c.args.length !== 4) {
    return errorReply("ERR BITOP NOT must be called with a single source key.");
  }
  const srcs: Buffer[] = [];
  let maxlen = 0;
  for (let i = 3; i < c.args.length; i++) {
    const v = stringAt(c, c.arg(i));
    if (isReply(v)) return v;
    const b = v ?? Buffer.alloc(0);
    srcs.push(b);
    maxlen = Math.max(maxlen, v === undefined ? 0 : lengthAt(c, c.arg(i)));
  }
  const db = c.state.db;
  const dest = c.arg(2);
  if (maxlen === 0) {
    if (c.keyspace.delete(db, dest)) wrote(c);
    return integer(0);
  }
  if (!c.keyspace.fits(maxlen)) return outOfMemory();
  const res = Buffer.alloc(maxlen);
  for (let j = 0; j < maxlen; j++) {
    let out = byteAt(srcs[0]!, j);
    if (op === "not") out = ~out & 0xff;
    for (let i = 1; i < srcs.length; i++) {
      const b = byteAt(srcs[i]!, j);
      if (op === "and") out &= b;
      else if (op === "or") out |= b;
      else out ^= b;
    }
    res[j] = out;
  }
  if (!c.keyspace.setString(db, dest, res)) return outOfMemory();
  wrote(c);
  return integer(maxlen);
}

// ---- BITFIELD ----

type Overflow = "wrap" | "sat" | "fail";

interface FieldOp {
  op: "get" | "set" | "incrby";
  signed: boolean;
  bits: number;
  offset: bigint;
  value: bigint;
  overflow: Overflow;
}

function fieldType(text: string): { signed: boolean; bits: number } | undefined {
  const signed = text[0] === "i";
  if (!signed && text[0] !== "u") return undefined;
  const n = parseInt64(text.slice(1));
  if (n === undefined || n < 1n || (signed && n > 64n) || (!signed && n > 63n)) return undefined;
  return { signed, bits: Number(n) };
}

function readField(v: Buffer | undefined, offset: bigint, bits: number): bigint {
  let out = 0n;
  if (v === undefined) return out;
  const base = Number(offset);
  for (let i = 0; i < bits; i++) out = (out << 1n) | BigInt(bitAt(v, base + i));
  return out;
}

function writeField(v: Buffer, offset: bigint, bits: number, value: bigint): void {
  const base = Number(offset);
  for (let i = 0; i < bits; i++) {
    const on = (value >> BigInt(bits - 1 - i)) & 1n;
    const pos = base + i;
    const byte = pos >> 3;
    const mask = 1 << (7 - (pos & 7));
    if (on) v[byte]! |= mask;
    else v[byte]! &= ~mask;
  }
}

/** The new value after adding `incr` to `value`, or undefined for FAIL on overflow. */
function overflowed(value: bigint, incr: bigint, f: FieldOp): bigint | undefined {
  const sum = value + incr;
  const max = f.signed ? (1n << BigInt(f.bits - 1)) - 1n : (1n << BigInt(f.bits)) - 1n;
  const min = f.signed ? -max - 1n : 0n;
  if (sum >= min && sum <= max) return sum;
  if (f.overflow === "fail") return undefined;
  if (f.overflow === "sat") return sum > max ? max : min;
  return f.signed ? BigInt.asIntN(f.bits, sum) : BigInt.asUintN(f.bits, sum);
}

function bitfieldGeneric(readOnly: boolean) {
  return (c: CommandContext): Reply => {
    const ops: FieldOp[] = [];
    let overflow: Overflow = "wrap";
    let writes = false;
    let highest = 0n;
    for (let j = 2; j < c.args.length; j++) {
      const rem = c.args.length - j - 1;
      const sub = c.arg(j).toLowerCase();
      let op: FieldOp["op"];
      if (sub === "get" && rem >= 2) op = "get";
      else if (sub === "set" && rem >= 3) op = "set";
      else if (sub === "incrby" && rem >= 3) op = "incrby";
      else if (sub === "overflow" && rem >= 1) {
        const t = c.arg(++j).toLowerCase();
        if (t !== "wrap" && t !== "sat" && t !== "fail") {
          return errorReply("ERR Invalid OVERFLOW type specified");
        }
        overflow = t;
        continue;
      } else return syntaxError();
      const type = fieldType(c.arg(j + 1));
      if (type === undefined) return errorReply(TYPE_ERR);
      const offset = bitOffset(c.arg(j + 2), type.bits);
      if (offset === undefined) return errorReply(OFFSET_ERR);
      let value = 0n;
      if (op !== "get") {
        writes = true;
        const end = offset + BigInt(type.bits) - 1n;
        if (end > highest) highest = end;
        const n = parseInt64(c.arg(j + 3));
        if (n === undefined) return notInteger();
        value = n;
      }
      ops.push({ op, ...type, offset, value, overflow });
      j += op === "get" ? 2 : 3;
    }
    const key = c.arg(1);
    const old = stringAt(c, key);
    if (isReply(old)) return old;
    let buf = old;
    if (writes) {
      if (readOnly) return errorReply("ERR BITFIELD_RO only supports the GET subcommand");
      const grown = grownString(c, key, old, Number(highest >> 3n));
      if (isReply(grown)) return grown;
      buf = grown;
    }
    const out: RespValue[] = [];
    let changed = false;
    for (const f of ops) {
      const raw = readField(buf, f.offset, f.bits);
      let current = f.signed ? BigInt.asIntN(f.bits, raw) : raw;
      // Before 6.0 a negative i64 read back as -1 (the sign fill shifted by 64, which x86 takes
      // as a shift by 0).
      if (f.signed && f.bits === 64 && current < 0n && c.era.before("6.0")) current = -1n;
      if (f.op === "get") {
        out.push({ type: "integer", value: current });
        continue;
      }
      let next: bigint | undefined;
      if (f.op === "incrby") next = overflowed(current, f.value, f);
      else {
        const v = f.signed ? f.value : BigInt.asUintN(64, f.value);
        next = overflowed(v, 0n, f);
      }
      if (next === undefined) {
        out.push(nullBulk());
        continue;
      }
      out.push({ type: "integer", value: f.op === "incrby" ? next : current });
      writeField(buf!, f.offset, f.bits, BigInt.asUintN(f.bits, next));
      changed = true;
    }
    if (changed) wrote(c);
    return arr(out);
  };
}

export const BIT_COMMANDS: CommandSpec[] = inCategory("bitmap", [
  { name: "setbit", arity: 4, flags: ["write", "denyoom"], handler: setbit },
  { name: "getbit", arity: 3, handler: getbit },
  { name: "bitcount", arity: -2, handler: bitcount },
  { name: "bitpos", arity: -3, since: "2.8.7", handler: bitpos },
  {
    name: "bitop",
    arity: -4,
    keys: [2, -1, 1],
    flags: ["write", "denyoom"],
    handler: bitop,
  },
  {
    name: "bitfield",
    arity: -2,
    since: "3.2",
    flags: ["write", "denyoom"],
    handler: bitfieldGeneric(false),
  },
  { name: "bitfield_ro", arity: -2, since: "6.0", handler: bitfieldGeneric(true) },
]);
