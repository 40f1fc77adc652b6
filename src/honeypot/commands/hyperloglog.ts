/**
 * HyperLogLog (hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG and PFSELFTEST, on the same
 * "HYLL" strings Redis keeps, byte for byte: MurmurHash64A with Redis's seed, 16384 six-bit
 * registers in the sparse (ZERO/XZERO/VAL opcodes, promoted past hll-sparse-max-bytes) or
 * dense (12,288 bytes) encoding, the cached cardinality in the header, and the estimator of
 * the version: linear counting with a bias polynomial before 4.0, LogLog-Beta in 4.0, Ertl's
 * improved estimator from 5.0. A value is at most 12,304 bytes, as in Redis.
 */
import { arr, simple } from "../../resp/index.js";
import { bulkText, errorReply, integer, OK, outOfMemory, type Reply, wrongType } from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

const P = 14;
const Q = 64 - P;
const REGISTERS = 1 << P;
const HDR = 16;
const DENSE_SIZE = HDR + ((REGISTERS * 6 + 7) >> 3);
const DENSE = 0;
const SPARSE = 1;
/** 0.5 / ln 2 (HLL_ALPHA_INF), as the double the C constant rounds to. */
const ALPHA_INF = 0.7213475204444817;

const NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT = "INVALIDOBJ Corrupted HLL object detected";

// ---- MurmurHash64A ----

const M = 0xc6a4a7935bd1e995n;
const MASK64 = (1n << 64n) - 1n;

function murmur64a(key: Buffer, seed: number): bigint {
  const len = key.length;
  let h = (BigInt(seed) ^ ((BigInt(len) * M) & MASK64)) & MASK64;
  const whole = len - (len & 7);
  for (let i = 0; i < whole; i += 8) {
    let k = key.readBigUInt64LE(i);
    k = (k * M) & MASK64;
    k ^= k >> 47n;
    k = (k * M) & MASK64;
    h ^= k;
    h = (h * M) & MASK64;
  }
  const rest = len & 7;
  if (rest > 0) {
    for (let j = rest - 1; j >= 0; j--) h ^= BigInt(key[whole + j]!) << BigInt(8 * j);
    h = (h * M) & MASK64;
  }
  h ^= h >> 47n;
  h = (h * M) & MASK64;
  h ^= h >> 47n;
  return h;
}

/** hllPatLen: the register an element goes to and the run of zeros (plus one) it counts. */
function patLen(ele: Buffer): [index: number, count: number] {
  let hash = murmur64a(ele, 0xadc83b19);
  const index = Number(hash & BigInt(REGISTERS - 1));
  hash >>= BigInt(P);
  hash |= 1n << BigInt(Q);
  let count = 1;
  while ((hash & 1n) === 0n) {
    count++;
    hash >>= 1n;
  }
  return [index, count];
}

// ---- registers ----

function denseGet(r: Uint8Array, base: number, i: number): number {
  const byte = base + ((i * 6) >> 3);
  const fb = (i * 6) & 7;
  const b0 = r[byte]!;
  const b1 = byte + 1 < r.length ? r[byte + 1]! : 0;
  return ((b0 >> fb) | (b1 << (8 - fb))) & 63;
}

function denseSetRaw(r: Uint8Array, base: number, i: number, v: number): void {
  const byte = base + ((i * 6) >> 3);
  const fb = (i * 6) & 7;
  const fb8 = 8 - fb;
  r[byte] = (r[byte]! & ~(63 << fb)) | ((v << fb) & 0xff);
  if (byte + 1 < r.length) r[byte + 1] = (r[byte + 1]! & ~(63 >> fb8)) | (v >> fb8);
}

/** An HLL being worked on: the header and either the dense registers or sparse opcodes. */
interface Hll {
  header: Uint8Array;
  dense?: Uint8Array;
  sparse?: number[];
}

const isZero = (b: number): boolean => (b & 0xc0) === 0;
const isXzero = (b: number): boolean => (b & 0xc0) === 0x40;
const isVal = (b: number): boolean => (b & 0x80) !== 0;
const zeroLen = (b: number): number => (b & 0x3f) + 1;
const xzeroLen = (b: number, b2: number): number => (((b & 0x3f) << 8) | b2) + 1;
const valValue = (b: number): number => ((b >> 2) & 0x1f) + 1;
const valLen = (b: number): number => (b & 3) + 1;
const valSet = (v: number, len: number): number => ((v - 1) << 2) | (len - 1) | 0x80;
const zeroSet = (len: number): number => len - 1;
const xzeroSet = (len: number): [number, number] => [((len - 1) >> 8) | 0x40, (len - 1) & 0xff];

function fresh(): Hll {
  const header = new Uint8Array(HDR);
  header.set([0x48, 0x59, 0x4c, 0x4c, SPARSE]);
  return { header, sparse: [...xzeroSet(REGISTERS)] };
}

function invalidate(h: Hll): void {
  h.header[15]! |= 0x80;
}

function toBytes(h: Hll): Buffer {
  const body = h.dense ?? Uint8Array.from(h.sparse!);
  const out = Buffer.alloc(HDR + body.length);
  out.set(h.header, 0);
  out.set(body, HDR);
  return out;
}

/** isHLLObjectOrReply's checks; the working form, or undefined when not an HLL. */
function parse(v: Buffer, intEncoded: boolean): Hll | undefined {
  if (intEncoded || v.length < HDR) return undefined;
  if (v.toString("latin1", 0, 4) !== "HYLL") return undefined;
  const enc = v[4]!;
  if (enc > SPARSE) return undefined;
  if (enc === DENSE && v.length !== DENSE_SIZE) return undefined;
  const header = Uint8Array.from(v.subarray(0, HDR));
  if (enc === DENSE) return { header, dense: Uint8Array.from(v.subarray(HDR)) };
  return { header, sparse: [...v.subarray(HDR)] };
}

/**
 * The sparse opcodes in order: `run` registers from `from` that hold `v` (VAL opcodes; ZERO and
 * XZERO runs only move on). False when they do not cover exactly 16384 registers, as
 * hllSparseToDense and hllMerge check.
 */
function walkSparse(s: number[], val: (from: number, run: number, v: number) => void): boolean {
  let idx = 0;
  for (let p = 0; p < s.length; ) {
    const b = s[p]!;
    if (isZero(b)) {
      idx += zeroLen(b);
      p++;
    } else if (isXzero(b)) {
      idx += xzeroLen(b, s[p + 1] ?? 0);
      p += 2;
    } else {
      const run = valLen(b);
      if (run + idx > REGISTERS) return false;
      val(idx, run, valValue(b));
      idx += run;
      p++;
    }
  }
  return idx === REGISTERS;
}

/** hllSparseToDense; false when the opcodes do not cover exactly 16384 registers. */
function toDense(h: Hll): boolean {
  if (h.dense !== undefined) return true;
  const dense = new Uint8Array(DENSE_SIZE - HDR);
  const whole = walkSparse(h.sparse!, (from, run, v) => {
    for (let i = from; i < from + run; i++) denseSetRaw(dense, 0, i, v);
  });
  if (!whole) return false;
  h.dense = dense;
  delete h.sparse;
  h.header[4] = DENSE;
  return true;
}

function denseSet(h: Hll, index: number, count: number): number {
  if (count > denseGet(h.dense!, 0, index)) {
    denseSetRaw(h.dense!, 0, index, count);
    return 1;
  }
  return 0;
}

/** hllSparseSet: 1 changed, 0 not, -1 corrupt; promotes to dense when it must. */
function sparseSet(h: Hll, index: number, count: number, maxBytes: number): number {
  const promote = (): number => {
    if (!toDense(h)) return -1;
    return denseSet(h, index, count);
  };
  if (count > 32) return promote();
  const s = h.sparse!;
  let end = s.length;
  let p = 0;
  let first = 0;
  let prev = -1;
  let span = 0;
  while (p < end) {
    const b = s[p]!;
    let oplen = 1;
    if (isZero(b)) span = zeroLen(b);
    else if (isVal(b)) span = valLen(b);
    else {
      span = xzeroLen(b, s[p + 1] ?? 0);
      oplen = 2;
    }
    if (index <= first + span - 1) break;
    prev = p;
    p += oplen;
    first += span;
  }
  if (span === 0 || p >= end) return -1;
  const b = s[p]!;
  const zero = isZero(b);
  const xzero = isXzero(b);
  const val = !zero && !xzero;
  const runlen = zero ? zeroLen(b) : xzero ? xzeroLen(b, s[p + 1] ?? 0) : valLen(b);
  let done = false;
  if (val) {
    if (valValue(b) >= count) return 0;
    if (runlen === 1) {
      s[p] = valSet(count, 1);
      done = true;
    }
  }
  if (!done && zero && runlen === 1) {
    s[p] = valSet(count, 1);
    done = true;
  }
  if (!done) {
    const seq: number[] = [];
    const last = first + span - 1;
    const pushZeros = (len: number): void => {
      if (len > 64) seq.push(...xzeroSet(len));
      else seq.push(zeroSet(len));
    };
    if (zero || xzero) {
      if (index !== first) pushZeros(index - first);
      seq.push(valSet(count, 1));
      if (index !== last) pushZeros(last - index);
    } else {
      const cur = valValue(b);
      if (index !== first) seq.push(valSet(cur, index - first));
      seq.push(valSet(count, 1));
      if (index !== last) seq.push(valSet(cur, last - index));
    }
    const oldlen = xzero ? 2 : 1;
    const delta = seq.length - oldlen;
    if (delta > 0 && HDR + s.length + delta > maxBytes) return promote();
    s.splice(p, oldlen, ...seq);
    end += delta;
  }
  // Merge adjacent VAL opcodes of the same value, up to 5 opcodes from the one before.
  p = Math.max(prev, 0);
  let scan = 5;
  while (p < end && scan--) {
    const x = s[p]!;
    if (isXzero(x)) {
      p += 2;
      continue;
    }
    if (isZero(x)) {
      p++;
      continue;
    }
    if (p + 1 < end && isVal(s[p + 1]!)) {
      const v1 = valValue(x);
      const v2 = valValue(s[p + 1]!);
      if (v1 === v2) {
        const len = valLen(x) + valLen(s[p + 1]!);
        if (len <= 4) {
          s[p + 1] = valSet(v1, len);
          s.splice(p, 1);
          end--;
          continue;
        }
      }
    }
    p++;
  }
  invalidate(h);
  return 1;
}

function add(h: Hll, ele: Buffer, maxBytes: number): number {
  const [index, count] = patLen(ele);
  return h.dense !== undefined ? denseSet(h, index, count) : sparseSet(h, index, count, maxBytes);
}

/** hllMerge into `max` (one byte per register); false when corrupt. */
function mergeInto(max: Uint8Array, h: Hll): boolean {
  if (h.dense !== undefined) {
    for (let i = 0; i < REGISTERS; i++) {
      const v = denseGet(h.dense, 0, i);
      if (v > max[i]!) max[i] = v;
    }
    return true;
  }
  return walkSparse(h.sparse!, (from, run, v) => {
    for (let i = from; i < from + run; i++) if (v > max[i]!) max[i] = v;
  });
}

// ---- estimators ----

/** The registers in the order hllCount's sums visit them, as [value, run] pairs. */
type Source =
  | { kind: "dense"; r: Uint8Array }
  | { kind: "sparse"; s: number[] }
  | { kind: "raw"; r: Uint8Array };

/** Register histogram (5.0+), and whether sparse opcodes cover the wrong count. */
function histogram(src: Source): { histo: number[]; invalid: boolean } {
  const histo = new Array<number>(64).fill(0);
  if (src.kind === "sparse") {
    let idx = 0;
    const s = src.s;
    for (let p = 0; p < s.length; ) {
      const b = s[p]!;
      if (isZero(b)) {
        const n = zeroLen(b);
        idx += n;
        histo[0]! += n;
        p++;
      } else if (isXzero(b)) {
        const n = xzeroLen(b, s[p + 1] ?? 0);
        idx += n;
        histo[0]! += n;
        p += 2;
      } else {
        const n = valLen(b);
        idx += n;
        histo[valValue(b)]! += n;
        p++;
      }
    }
    return { histo, invalid: idx !== REGISTERS };
  }
  for (let i = 0; i < REGISTERS; i++) {
    histo[src.kind === "raw" ? src.r[i]! : denseGet(src.r, 0, i)]!++;
  }
  return { histo, invalid: false };
}

function sigma(x0: number): number {
  if (x0 === 1) return Number.POSITIVE_INFINITY;
  let x = x0;
  let zPrime: number;
  let y = 1;
  let z = x;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function tau(x0: number): number {
  if (x0 === 0 || x0 === 1) return 0;
  let x = x0;
  let zPrime: number;
  let y = 1.0;
  let z = 1 - x;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  } while (zPrime !== z);
  return z / 3;
}

/** llroundl: half away from zero. */
const llround = (x: number): number => (x < 0 ? -Math.round(-x) : Math.round(x));

/** The sum of 2^-register and the count of zero registers, in hllCount's (pre-5.0) order. */
function powerSum(src: Source): { E: number; ez: number; invalid: boolean } {
  const PE = (v: number): number => 1 / 2 ** v;
  let E = 0;
  let ez = 0;
  if (src.kind === "dense") {
    for (let j = 0; j < REGISTERS; j += 16) {
      const r: number[] = [];
      for (let k = 0; k < 16; k++) {
        const v = denseGet(src.r, 0, j + k);
        if (v === 0) ez++;
        r.push(PE(v));
      }
      E +=
        r[0]! +
        r[1]! +
        (r[2]! + r[3]!) +
        (r[4]! + r[5]!) +
        (r[6]! + r[7]!) +
        (r[8]! + r[9]!) +
        (r[10]! + r[11]!) +
        (r[12]! + r[13]!) +
        (r[14]! + r[15]!);
    }
    return { E, ez, invalid: false };
  }
  if (src.kind === "raw") {
    for (let i = 0; i < REGISTERS; i++) {
      const v = src.r[i]!;
      if (v) E += PE(v);
      else ez++;
    }
    return { E: E + ez, ez, invalid: false };
  }
  let idx = 0;
  const s = src.s;
  for (let p = 0; p < s.length; ) {
    const b = s[p]!;
    if (isZero(b)) {
      const n = zeroLen(b);
      idx += n;
      ez += n;
      p++;
    } else if (isXzero(b)) {
      const n = xzeroLen(b, s[p + 1] ?? 0);
      idx += n;
      ez += n;
      p += 2;
    } else {
      const n = valLen(b);
      idx += n;
      E += PE(valValue(b)) * n;
      p++;
    }
  }
  return { E: E + ez, ez, invalid: idx !== REGISTERS };
}

/** hllCount of the version; invalid when sparse opcodes are corrupt. */
function count(c: CommandContext, src: Source): { card: bigint; invalid: boolean } {
  const m = REGISTERS;
  if (c.era.at("5.0")) {
    const { histo, invalid } = histogram(src);
    let z = m * tau((m - histo[Q + 1]!) / m);
    for (let j = Q; j >= 1; --j) {
      z += histo[j]!;
      z *= 0.5;
    }
    z += m * sigma(histo[0]! / m);
    return { card: BigInt(llround((ALPHA_INF * m * m) / z)), invalid };
  }
  const { E: sum, ez, invalid } = powerSum(src);
  const alpha = 0.7213 / (1 + 1.079 / m);
  if (c.era.at("4.0")) {
    const zl = Math.log(ez + 1);
    const beta =
      -0.370393911 * ez +
      0.070471823 * zl +
      0.17393686 * zl ** 2 +
      0.16339839 * zl ** 3 +
      -0.09237745 * zl ** 4 +
      0.03738027 * zl ** 5 +
      -0.005384159 * zl ** 6 +
      0.00042419 * zl ** 7;
    return { card: BigInt(llround(alpha * m * (m - ez) * (1 / (sum + beta)))), invalid };
  }
  let E = (1 / sum) * alpha * m * m;
  if (E < m * 2.5 && ez !== 0) E = m * Math.log(m / ez);
  else if (E < 72000) {
    const bias =
      5.9119 * 1.0e-18 * (E * E * E * E) -
      1.4253 * 1.0e-12 * (E * E * E) +
      1.294 * 1.0e-7 * (E * E) -
      5.2921 * 1.0e-3 * E +
      83.3216;
    E -= E * (bias / 100);
  }
  return { card: BigInt(Math.trunc(E)), invalid };
}

const sourceOf = (h: Hll): Source =>
  h.dense !== undefined ? { kind: "dense", r: h.dense } : { kind: "sparse", s: h.sparse! };

// ---- commands ----

/** The HLL at key: undefined when missing, or the error reply (wrong type, not an HLL). */
function hllAt(c: CommandContext, key: string): Hll | undefined | Reply {
  const v = c.keyspace.lookup(c.state.db, key);
  if (v === undefined) return undefined;
  if (v.type !== "string") return wrongType();
  const intEncoded = v.value.length <= 20 && /^(0|-?[1-9][0-9]*)$/.test(v.value.toString("latin1"));
  return parse(v.value, intEncoded) ?? errorReply(NOT_HLL);
}

const isReply = (x: unknown): x is Reply =>
  typeof x === "object" && x !== null && "type" in x && !("header" in x);

function store(c: CommandContext, key: string, h: Hll): boolean {
  const existed = c.keyspace.exists(c.state.db, key);
  return c.keyspace.setString(c.state.db, key, toBytes(h), existed ? { keepTtl: true } : {});
}

const maxSparse = (c: CommandContext): number =>
  Number(c.state.config.get("hll-sparse-max-bytes") ?? "3000");

function pfadd(c: CommandContext): Reply {
  const key = c.arg(1);
  const found = hllAt(c, key);
  if (isReply(found)) return found;
  let updated = 0;
  const h = found ?? fresh();
  if (found === undefined) updated++;
  const maxBytes = maxSparse(c);
  for (let j = 2; j < c.args.length; j++) {
    const r = add(h, c.args[j]!, maxBytes);
    if (r === -1) return errorReply(CORRUPT);
    if (r === 1) updated++;
  }
  if (updated === 0) return integer(0);
  invalidate(h);
  if (!store(c, key, h)) return outOfMemory();
  // 6.2+: a write per register changed; before, one per PFADD that changed any.
  wrote(c, c.era.at("6.2") ? updated : 1);
  return integer(1);
}

function pfcount(c: CommandContext): Reply {
  if (c.args.length > 2) {
    const max = new Uint8Array(REGISTERS);
    for (let j = 1; j < c.args.length; j++) {
      const h = hllAt(c, c.arg(j));
      if (isReply(h)) return h;
      if (h === undefined) continue;
      if (!mergeInto(max, h)) return errorReply(CORRUPT);
    }
    return { type: "integer", value: count(c, { kind: "raw", r: max }).card };
  }
  const key = c.arg(1);
  const h = hllAt(c, key);
  if (isReply(h)) return h;
  if (h === undefined) return integer(0);
  if ((h.header[15]! & 0x80) === 0) {
    let card = 0n;
    for (let i = 7; i >= 0; i--) card = (card << 8n) | BigInt(h.header[8 + i]!);
    return { type: "integer", value: card };
  }
  const { card, invalid } = count(c, sourceOf(h));
  if (invalid) return errorReply(CORRUPT);
  for (let i = 0; i < 8; i++) h.header[8 + i] = Number((card >> BigInt(8 * i)) & 0xffn);
  if (!store(c, key, h)) return outOfMemory();
  wrote(c);
  return { type: "integer", value: card };
}

function pfmerge(c: CommandContext): Reply {
  const max = new Uint8Array(REGISTERS);
  let useDense = false;
  for (let j = 1; j < c.args.length; j++) {
    const h = hllAt(c, c.arg(j));
    if (isReply(h)) return h;
    if (h === undefined) continue;
    if (h.dense !== undefined) useDense = true;
    if (!mergeInto(max, h)) return errorReply(CORRUPT);
  }
  const key = c.arg(1);
  const found = hllAt(c, key);
  const h = found === undefined || isReply(found) ? fresh() : found;
  // Before 4.0 the target was always made dense and every register written.
  if (c.era.before("4.0")) {
    if (!toDense(h)) return errorReply(CORRUPT);
    for (let j = 0; j < REGISTERS; j++) denseSetRaw(h.dense!, 0, j, max[j]!);
  } else {
    if (useDense && !toDense(h)) return errorReply(CORRUPT);
    const maxBytes = maxSparse(c);
    for (let j = 0; j < REGISTERS; j++) {
      if (max[j] === 0) continue;
      if (h.dense !== undefined) denseSet(h, j, max[j]!);
      else sparseSet(h, j, max[j]!, maxBytes);
    }
  }
  invalidate(h);
  if (!store(c, key, h)) return outOfMemory();
  wrote(c);
  return OK;
}

function pfdebug(c: CommandContext): Reply {
  const cmd = c.arg(1);
  const key = c.arg(2);
  const h = hllAt(c, key);
  if (h === undefined) return errorReply("ERR The specified key does not exist");
  if (isReply(h)) return h;
  const arity = (): Reply =>
    errorReply(`ERR Wrong number of arguments for the '${cmd}' subcommand`);
  switch (cmd.toLowerCase()) {
    case "getreg": {
      if (c.args.length !== 3) return arity();
      if (h.sparse !== undefined) {
        if (!toDense(h)) return errorReply(CORRUPT);
        if (!store(c, key, h)) return outOfMemory();
        wrote(c);
      }
      const out: Reply[] = [];
      for (let j = 0; j < REGISTERS; j++) out.push(integer(denseGet(h.dense!, 0, j)));
      return arr(out as never);
    }
    case "decode": {
      if (c.args.length !== 3) return arity();
      if (h.sparse === undefined) return errorReply("ERR HLL encoding is not sparse");
      const parts: string[] = [];
      const s = h.sparse;
      for (let p = 0; p < s.length; ) {
        const b = s[p]!;
        if (isZero(b)) {
          parts.push(`z:${zeroLen(b)}`);
          p++;
        } else if (isXzero(b)) {
          parts.push(`Z:${xzeroLen(b, s[p + 1] ?? 0)}`);
          p += 2;
        } else {
          parts.push(`v:${valValue(b)},${valLen(b)}`);
          p++;
        }
      }
      return bulkText(parts.join(" "));
    }
    case "encoding":
      if (c.args.length !== 3) return arity();
      return simple(h.dense !== undefined ? "dense" : "sparse");
    case "todense": {
      if (c.args.length !== 3) return arity();
      if (h.dense !== undefined) return integer(0);
      if (!toDense(h)) return errorReply(CORRUPT);
      if (!store(c, key, h)) return outOfMemory();
      wrote(c);
      return integer(1);
    }
    default:
      return errorReply(`ERR Unknown PFDEBUG subcommand '${cmd}'`);
  }
}

export const HYPERLOGLOG_COMMANDS: CommandSpec[] = inCategory("hyperloglog", [
  { name: "pfadd", arity: -2, flags: ["write", "denyoom"], handler: pfadd },
  { name: "pfcount", arity: -2, keys: [1, -1, 1], handler: pfcount },
  {
    name: "pfmerge",
    arity: -2,
    keys: [1, -1, 1],
    flags: ["write", "denyoom"],
    handler: pfmerge,
  },
  // The self test only reports; nothing of it is run here.
  { name: "pfselftest", arity: 1, keys: [0, 0, 0], handler: () => OK },
  {
    name: "pfdebug",
    arity: [
      ["2.8", -3],
      ["7.0", 3],
    ],
    keys: [2, 2, 1],
    flags: ["write", "denyoom"],
    handler: pfdebug,
  },
]);
