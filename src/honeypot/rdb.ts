/**
 * Redis's RDB format (rdb.c), the one encoder and decoder of values as a server writes them: a
 * whole file (what a master sends a replica after +FULLRESYNC, what redis-check-rdb reads) and
 * one value (DUMP's payload, what RESTORE reads). Values are written in the encoding a real
 * server of the persona's version would hold them in, so that DUMP's bytes are the real
 * server's: 7.0+ keeps small hashes and list nodes as listpacks, sets of integers as intsets,
 * 7.2+ small sets as listpacks; strings of an integer as INT8/16/32, longer than 20 bytes LZF
 * compressed when that saves 4 bytes or more. Before 7.0 the generic types (a list, set or hash
 * written element by element) are written: every version loads them, though their DUMP bytes
 * differ from that version's ziplists.
 *
 * Each value type is one case in `writeValue` and one in `readValue` (zsets and streams are
 * added there). Reading is of hostile bytes: every length is checked against what is left
 * before anything is allocated, element counts are capped, and nothing can loop past the end.
 */

import { formatG17, scoreText } from "./commands/doubles.js";
import { parseInt64 } from "./commands/integers.js";
import type { RedisValue } from "./keyspace.js";
import type { Era } from "./personas/era.js";
import { SortedSet } from "./sorted-set.js";

// ---- CRC64 (crc64.c: Jones polynomial, reflected, as Redis checks RDB files and DUMP) ----

const CRC_TABLE: bigint[] = (() => {
  const poly = 0x95ac9329ac4bc9b5n; // 0xad93d23594c935a9 reflected
  const table: bigint[] = [];
  for (let i = 0n; i < 256n; i++) {
    let crc = i;
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
    table.push(crc);
  }
  return table;
})();

/** Redis's crc64(0, data): the checksum ending an RDB file and a DUMP payload. */
export function crc64(data: Uint8Array, crc = 0n): bigint {
  let c = crc;
  for (let i = 0; i < data.length; i++) {
    c = CRC_TABLE[Number((c ^ BigInt(data[i]!)) & 0xffn)]! ^ (c >> 8n);
  }
  return c;
}

// ---- LZF (lzf_c.c / lzf_d.c with Redis's settings: HLOG 16, VERY_FAST) ----

const HSIZE = 1 << 16;
const MAX_LIT = 1 << 5;
const MAX_OFF = 1 << 13;
const MAX_REF = (1 << 8) + (1 << 3);

/** lzf_compress into at most `outLen` bytes; 0 when it does not fit (as the C code). */
export function lzfCompress(input: Uint8Array, outLen: number): Buffer | undefined {
  const inLen = input.length;
  if (inLen === 0 || outLen <= 0) return undefined;
  // Offsets of positions (0 means none, as LZF_HSLOT_BIAS makes it in Redis's build).
  const htab = new Int32Array(HSIZE);
  const out = Buffer.alloc(outLen + 1);
  let ip = 0;
  let op = 0;
  let lit = 0;
  op++;
  const idx = (h: number): number => ((h >>> 8) - Math.imul(h, 5)) & (HSIZE - 1);
  let hval = (input[0]! << 8) | (input[1] ?? 0);
  while (ip < inLen - 2) {
    hval = ((hval << 8) | input[ip + 2]!) >>> 0;
    const slot = idx(hval);
    const ref = htab[slot]!;
    htab[slot] = ip;
    const off = ip - ref - 1;
    if (
      ref > 0 &&
      off < MAX_OFF &&
      off >= 0 &&
      input[ref + 2] === input[ip + 2] &&
      input[ref] === input[ip] &&
      input[ref + 1] === input[ip + 1]
    ) {
      let len = 2;
      let maxlen = inLen - ip - len;
      if (maxlen > MAX_REF) maxlen = MAX_REF;
      if (op + 3 + 1 >= outLen && op - (lit === 0 ? 1 : 0) + 3 + 1 >= outLen) return undefined;
      out[op - lit - 1] = lit - 1;
      op -= lit === 0 ? 1 : 0;
      // As the C code: up to 16 steps unchecked against maxlen when it is over 16, then on.
      let stopped = false;
      if (maxlen > 16) {
        for (let k = 0; k < 16; k++) {
          len++;
          if (input[ref + len] !== input[ip + len]) {
            stopped = true;
            break;
          }
        }
      }
      if (!stopped) {
        do len++;
        while (len < maxlen && input[ref + len] === input[ip + len]);
      }
      len -= 2;
      ip++;
      if (len < 7) out[op++] = (off >> 8) + (len << 5);
      else {
        out[op++] = (off >> 8) + (7 << 5);
        out[op++] = len - 7;
      }
      out[op++] = off & 0xff;
      lit = 0;
      op++;
      ip += len + 1;
      if (ip >= inLen - 2) break;
      ip -= 2;
      hval = (input[ip]! << 8) | input[ip + 1]!;
      hval = ((hval << 8) | input[ip + 2]!) >>> 0;
      htab[idx(hval)] = ip;
      ip++;
      hval = ((hval << 8) | input[ip + 2]!) >>> 0;
      htab[idx(hval)] = ip;
      ip++;
    } else {
      if (op >= outLen) return undefined;
      lit++;
      out[op++] = input[ip++]!;
      if (lit === MAX_LIT) {
        out[op - lit - 1] = lit - 1;
        lit = 0;
        op++;
      }
    }
  }
  if (op + 3 > outLen) return undefined;
  while (ip < inLen) {
    lit++;
    out[op++] = input[ip++]!;
    if (lit === MAX_LIT) {
      out[op - lit - 1] = lit - 1;
      lit = 0;
      op++;
    }
  }
  out[op - lit - 1] = lit - 1;
  op -= lit === 0 ? 1 : 0;
  return out.subarray(0, op);
}

/** lzf_decompress into exactly `outLen` bytes; undefined for a malformed stream. */
export function lzfDecompress(input: Uint8Array, outLen: number): Buffer | undefined {
  const out = Buffer.alloc(outLen);
  let ip = 0;
  let op = 0;
  while (ip < input.length) {
    const ctrl = input[ip++]!;
    if (ctrl < 32) {
      const n = ctrl + 1;
      if (op + n > outLen || ip + n > input.length) return undefined;
      out.set(input.subarray(ip, ip + n), op);
      op += n;
      ip += n;
    } else {
      let len = ctrl >> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (len === 7) {
        if (ip >= input.length) return undefined;
        len += input[ip++]!;
      }
      if (ip >= input.length) return undefined;
      ref -= input[ip++]!;
      len += 2;
      if (op + len > outLen || ref < 0) return undefined;
      for (let i = 0; i < len; i++) out[op++] = out[ref++]!;
    }
  }
  return op === outLen ? out : undefined;
}

// ---- versions and type numbers (rdb.h) ----

export const RDB_TYPE = {
  string: 0,
  list: 1,
  set: 2,
  zset: 3,
  hash: 4,
  zset2: 5,
  listZiplist: 10,
  setIntset: 11,
  zsetZiplist: 12,
  hashZiplist: 13,
  listQuicklist: 14,
  hashListpack: 16,
  zsetListpack: 17,
  listQuicklist2: 18,
  setListpack: 20,
} as const;

const OP = {
  aux: 0xfa,
  resizeDb: 0xfb,
  expireMs: 0xfc,
  expireSec: 0xfd,
  selectDb: 0xfe,
  eof: 0xff,
  idle: 0xf8,
  freq: 0xf9,
  moduleAux: 0xf7,
  function2: 0xf5,
} as const;

/** The RDB format version a server of this version writes (RDB_VERSION). */
export function rdbVersion(era: Era): number {
  if (era.at("7.4") && !era.valkey) return 12;
  if (era.at("7.2")) return 11;
  if (era.at("7.0")) return 10;
  if (era.at("5.0")) return 9;
  if (era.at("4.0")) return 8;
  if (era.at("3.2")) return 7;
  return 6;
}

// ---- writing ----

class Writer {
  private chunks: Buffer[] = [];
  length = 0;

  bytes(b: Uint8Array): void {
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
    this.chunks.push(buf);
    this.length += buf.length;
  }

  byte(n: number): void {
    this.bytes(Buffer.from([n & 0xff]));
  }

  /** rdbSaveLen: 6, 14, 32 or 64 bits. */
  len(n: number): void {
    if (n < 1 << 6) this.byte(n);
    else if (n < 1 << 14) this.bytes(Buffer.from([0x40 | (n >> 8), n & 0xff]));
    else if (n <= 0xffffffff) {
      const b = Buffer.alloc(5);
      b[0] = 0x80;
      b.writeUInt32BE(n, 1);
      this.bytes(b);
    } else {
      const b = Buffer.alloc(9);
      b[0] = 0x81;
      b.writeBigUInt64BE(BigInt(n), 1);
      this.bytes(b);
    }
  }

  /** rdbSaveRawString: an integer encoding, LZF when it saves space, else length + bytes. */
  string(s: Buffer, compress = true): void {
    if (s.length <= 11) {
      const n = parseInt64(s.toString("latin1"));
      if (n !== undefined && n >= -(2n ** 31n) && n < 2n ** 31n) {
        const v = Number(n);
        if (v >= -128 && v <= 127) this.bytes(Buffer.from([0xc0, v & 0xff]));
        else if (v >= -32768 && v <= 32767) {
          const b = Buffer.alloc(3);
          b[0] = 0xc1;
          b.writeInt16LE(v, 1);
          this.bytes(b);
        } else {
          const b = Buffer.alloc(5);
          b[0] = 0xc2;
          b.writeInt32LE(v, 1);
          this.bytes(b);
        }
        return;
      }
    }
    if (compress && s.length > 20) {
      const packed = lzfCompress(s, s.length - 4);
      if (packed !== undefined) {
        this.byte(0xc3);
        this.len(packed.length);
        this.len(s.length);
        this.bytes(packed);
        return;
      }
    }
    this.len(s.length);
    this.bytes(s);
  }

  done(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

const text = (s: string): Buffer => Buffer.from(s, "latin1");

/** What rdbSaveRawString writes for these bytes, in bytes (RDB's length of a packed node). */
export function savedStringLength(s: Buffer): number {
  const w = new Writer();
  w.string(s);
  return w.done().length;
}

/** What rdbSaveLen writes for n, in bytes. */
export function savedLenLength(n: number): number {
  return n < 1 << 6 ? 1 : n < 1 << 14 ? 2 : n <= 0xffffffff ? 5 : 9;
}

/**
 * One ziplist entry (ziplist.c, before 7.0) after an entry of `prevlen` bytes: a string of at
 * most 31 bytes that is an integer takes its integer encoding (zipTryEncoding).
 */
export function ziplistEntry(prevlen: number, e: Buffer): Buffer {
  const prev =
    prevlen < 254 ? Buffer.from([prevlen]) : Buffer.concat([Buffer.from([0xfe]), u32le(prevlen)]);
  const n = e.length > 0 && e.length < 32 ? parseInt64(e.toString("latin1")) : undefined;
  let body: Buffer;
  if (n !== undefined) {
    if (n >= 0n && n <= 12n) body = Buffer.from([0xf1 + Number(n)]);
    else if (n >= -128n && n <= 127n) body = Buffer.from([0xfe, Number(n) & 0xff]);
    else if (n >= -32768n && n <= 32767n) {
      body = Buffer.alloc(3);
      body[0] = 0xc0;
      body.writeInt16LE(Number(n), 1);
    } else if (n >= -8388608n && n <= 8388607n) {
      body = Buffer.alloc(4);
      body[0] = 0xf0;
      body.writeIntLE(Number(n), 1, 3);
    } else if (n >= -2147483648n && n <= 2147483647n) {
      body = Buffer.alloc(5);
      body[0] = 0xd0;
      body.writeInt32LE(Number(n), 1);
    } else {
      body = Buffer.alloc(9);
      body[0] = 0xe0;
      body.writeBigInt64LE(n, 1);
    }
  } else {
    const l = e.length;
    const head =
      l <= 0x3f
        ? Buffer.from([l])
        : l <= 0x3fff
          ? Buffer.from([0x40 | (l >> 8), l & 0xff])
          : Buffer.from([0x80, (l >>> 24) & 0xff, (l >>> 16) & 0xff, (l >>> 8) & 0xff, l & 0xff]);
    body = Buffer.concat([head, e]);
  }
  return Buffer.concat([prev, body]);
}

/** A ziplist's header (zlbytes, zltail, zllen) and end byte. */
export const ZIPLIST_OVERHEAD = 11;

/** One ziplist (before 7.0) of these elements. */
export function ziplist(elements: readonly Buffer[]): Buffer {
  const entries: Buffer[] = [];
  let prevlen = 0;
  let tail = 10;
  for (const e of elements) {
    const entry = ziplistEntry(prevlen, e);
    if (entries.length > 0) tail += prevlen;
    entries.push(entry);
    prevlen = entry.length;
  }
  const bytes = ZIPLIST_OVERHEAD + entries.reduce((n, x) => n + x.length, 0);
  const head = Buffer.alloc(10);
  head.writeUInt32LE(bytes, 0);
  head.writeUInt32LE(tail, 4);
  head.writeUInt16LE(Math.min(elements.length, 0xffff), 8);
  return Buffer.concat([head, ...entries, Buffer.from([0xff])]);
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** One listpack (listpack.c) of these elements, integers in their integer encodings. */
export function listpack(elements: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  let total = 6 + 1;
  for (const e of elements) {
    let enc: Buffer;
    const n = e.length <= 20 ? parseInt64(e.toString("latin1")) : undefined;
    if (n !== undefined) {
      if (n >= 0n && n <= 127n) enc = Buffer.from([Number(n)]);
      else if (n >= -4096n && n <= 4095n) {
        const v = n < 0n ? Number(n) + (1 << 13) : Number(n);
        enc = Buffer.from([(v >> 8) | 0xc0, v & 0xff]);
      } else if (n >= -32768n && n <= 32767n) {
        enc = Buffer.alloc(3);
        enc[0] = 0xf1;
        enc.writeInt16LE(Number(n), 1);
      } else if (n >= -(2n ** 23n) && n < 2n ** 23n) {
        enc = Buffer.alloc(4);
        enc[0] = 0xf2;
        enc.writeIntLE(Number(n), 1, 3);
      } else if (n >= -(2n ** 31n) && n < 2n ** 31n) {
        enc = Buffer.alloc(5);
        enc[0] = 0xf3;
        enc.writeInt32LE(Number(n), 1);
      } else {
        enc = Buffer.alloc(9);
        enc[0] = 0xf4;
        enc.writeBigInt64LE(n, 1);
      }
    } else if (e.length < 64) enc = Buffer.concat([Buffer.from([0x80 | e.length]), e]);
    else if (e.length < 4096) {
      enc = Buffer.concat([Buffer.from([(e.length >> 8) | 0xe0, e.length & 0xff]), e]);
    } else {
      const h = Buffer.alloc(5);
      h[0] = 0xf0;
      h.writeUInt32LE(e.length, 1);
      enc = Buffer.concat([h, e]);
    }
    const l = enc.length;
    const back =
      l <= 127
        ? [l]
        : l < 16383
          ? [l >> 7, (l & 127) | 128]
          : l < 2097151
            ? [l >> 14, ((l >> 7) & 127) | 128, (l & 127) | 128]
            : l < 268435455
              ? [l >> 21, ((l >> 14) & 127) | 128, ((l >> 7) & 127) | 128, (l & 127) | 128]
              : [
                  Math.floor(l / 2 ** 28),
                  ((l >> 21) & 127) | 128,
                  ((l >> 14) & 127) | 128,
                  ((l >> 7) & 127) | 128,
                  (l & 127) | 128,
                ];
    parts.push(enc, Buffer.from(back));
    total += l + back.length;
  }
  const head = Buffer.alloc(6);
  head.writeUInt32LE(total, 0);
  head.writeUInt16LE(Math.min(elements.length, 65535), 4);
  return Buffer.concat([head, ...parts, Buffer.from([0xff])], total);
}

/** An intset (intset.c) of these integers: the smallest width that holds them all, sorted. */
function intset(values: bigint[]): Buffer {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const fits = (bits: bigint): boolean =>
    sorted.every((v) => v >= -(2n ** (bits - 1n)) && v < 2n ** (bits - 1n));
  const width = fits(16n) ? 2 : fits(32n) ? 4 : 8;
  const b = Buffer.alloc(8 + width * sorted.length);
  b.writeUInt32LE(width, 0);
  b.writeUInt32LE(sorted.length, 4);
  sorted.forEach((v, i) => {
    if (width === 2) b.writeInt16LE(Number(v), 8 + i * 2);
    else if (width === 4) b.writeInt32LE(Number(v), 8 + i * 4);
    else b.writeBigInt64LE(v, 8 + i * 8);
  });
  return b;
}

/** list-max-listpack-size -2: a quicklist node holds at most 8 KB of listpack. */
const QUICKLIST_NODE_BYTES = 8192;
/** hash-max-listpack-entries/-value, set-max-intset-entries, set-max-listpack-*. */
const HASH_SMALL = { entries: 512, value: 64 };
const SET_INTSET = 512;
const SET_LISTPACK = { entries: 128, value: 64 };

/** A list as 7.0's quicklist holds it: listpacks of up to 8 KB (a bigger element alone). */
function quicklistNodes(list: readonly Buffer[]): Buffer[][] {
  const nodes: Buffer[][] = [];
  let node: Buffer[] = [];
  let size = 7;
  for (const e of list) {
    const cost = e.length + 11;
    if (node.length > 0 && size + cost > QUICKLIST_NODE_BYTES) {
      nodes.push(node);
      node = [];
      size = 7;
    }
    node.push(e);
    size += cost;
  }
  if (node.length > 0) nodes.push(node);
  return nodes;
}

/** The type byte, as rdbSaveObjectType + rdbSaveObject write them. */
function writeValue(w: Writer, v: RedisValue, era: Era): void {
  const modern = era.at("7.0");
  switch (v.type) {
    case "string":
      w.byte(RDB_TYPE.string);
      return;
    case "list":
      if (modern) {
        w.byte(RDB_TYPE.listQuicklist2);
        return;
      }
      w.byte(RDB_TYPE.list);
      return;
    case "hash":
      w.byte(modern && hashIsSmall(v.value) ? RDB_TYPE.hashListpack : RDB_TYPE.hash);
      return;
    case "set": {
      const members = [...v.value];
      const ints = members.map((m) => parseInt64(m));
      if (members.length <= SET_INTSET && ints.every((n) => n !== undefined)) {
        w.byte(RDB_TYPE.setIntset);
      } else if (era.at("7.2") && setIsSmall(members)) w.byte(RDB_TYPE.setListpack);
      else w.byte(RDB_TYPE.set);
      return;
    }
    case "zset":
      w.byte(
        modern && zsetIsSmall(v.value)
          ? RDB_TYPE.zsetListpack
          : rdbVersion(era) >= 8
            ? RDB_TYPE.zset2
            : RDB_TYPE.zset,
      );
      return;
    case "stream":
      throw new RdbUnsupported("stream");
  }
}

/** zset-max-listpack-entries 128 and zset-max-listpack-value 64, Redis's defaults. */
function zsetIsSmall(z: SortedSet): boolean {
  const members = z.members();
  return members.length <= 128 && members.every((m) => m.length <= 64);
}

/**
 * A value this encoder does not write (streams): DUMP of it answers as of a missing key, and
 * an RDB for a replica leaves the key out.
 */
export class RdbUnsupported extends Error {}

function hashIsSmall(h: Map<string, Buffer>): boolean {
  if (h.size > HASH_SMALL.entries) return false;
  for (const [f, v] of h)
    if (f.length > HASH_SMALL.value || v.length > HASH_SMALL.value) return false;
  return true;
}

function setIsSmall(members: string[]): boolean {
  return (
    members.length <= SET_LISTPACK.entries && members.every((m) => m.length <= SET_LISTPACK.value)
  );
}

/** The body of the value (after its type byte). */
function writeBody(w: Writer, v: RedisValue, era: Era): void {
  const modern = era.at("7.0");
  switch (v.type) {
    case "string":
      w.string(v.value);
      return;
    case "list": {
      if (!modern) {
        w.len(v.value.length);
        for (const e of v.value) w.string(e);
        return;
      }
      const nodes = quicklistNodes(v.value);
      w.len(nodes.length);
      for (const n of nodes) {
        w.len(2); // QUICKLIST_NODE_CONTAINER_PACKED
        w.string(listpack(n));
      }
      return;
    }
    case "hash":
      if (modern && hashIsSmall(v.value)) {
        w.string(listpack([...v.value].flatMap(([f, val]) => [text(f), val])));
        return;
      }
      w.len(v.value.size);
      for (const [f, val] of v.value) {
        w.string(text(f));
        w.string(val);
      }
      return;
    case "set": {
      const members = [...v.value];
      const ints = members.map((m) => parseInt64(m));
      if (members.length <= SET_INTSET && ints.every((n) => n !== undefined)) {
        w.string(intset(ints as bigint[]));
      } else if (era.at("7.2") && setIsSmall(members)) {
        w.string(listpack(members.map(text)));
      } else {
        w.len(members.length);
        for (const m of members) w.string(text(m));
      }
      return;
    }
    case "zset": {
      const z = v.value;
      const members = z.members();
      if (modern && zsetIsSmall(z)) {
        // zzlInsertAt: the member, then its score as d2string prints it.
        w.string(listpack(members.flatMap((m) => [text(m), text(scoreText(era, z.score(m)!))])));
        return;
      }
      // rdbSaveObject walks the skiplist from its tail: the highest score first.
      w.len(members.length);
      const binary = rdbVersion(era) >= 8;
      for (let i = members.length - 1; i >= 0; i--) {
        const m = members[i]!;
        const score = z.score(m)!;
        w.string(text(m));
        if (binary) {
          const b = Buffer.alloc(8);
          b.writeDoubleLE(score, 0);
          w.bytes(b);
        } else if (Number.isNaN(score)) w.byte(253);
        else if (score === Number.POSITIVE_INFINITY) w.byte(254);
        else if (score === Number.NEGATIVE_INFINITY) w.byte(255);
        else {
          const t = text(formatG17(score));
          w.byte(t.length);
          w.bytes(t);
        }
      }
      return;
    }
    case "stream":
      throw new RdbUnsupported("stream");
  }
}

function footer(w: Writer, version: number): Buffer {
  const v = Buffer.alloc(2);
  v.writeUInt16LE(version, 0);
  w.bytes(v);
  const body = w.done();
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(crc64(body), 0);
  return Buffer.concat([body, crc]);
}

/** DUMP's payload: type, value, the RDB version (2 bytes LE) and the CRC64 (8 bytes LE). */
export function dumpPayload(v: RedisValue, era: Era): Buffer {
  const w = new Writer();
  writeValue(w, v, era);
  writeBody(w, v, era);
  return footer(w, rdbVersion(era));
}

export interface RdbKey {
  key: string;
  value: RedisValue;
  expiresAt?: number;
}

export interface RdbDatabase {
  db: number;
  keys: RdbKey[];
}

export interface RdbFileOptions {
  era: Era;
  /** The version string written as redis-ver (valkey-ver: Valkey 8+). */
  version: string;
  verName?: "redis-ver" | "valkey-ver";
  ctimeSeconds: number;
  usedMem: number;
  /** The replication fields a master writes for its replicas (4.0+). */
  repl?: { streamDb: number; replid: string; offset: number };
}

/** A whole RDB file (rdbSaveRio) of these databases, as the version writes it. */
export function rdbFile(dbs: readonly RdbDatabase[], opts: RdbFileOptions): Buffer {
  const { era } = opts;
  const version = rdbVersion(era);
  const w = new Writer();
  w.bytes(text(`REDIS${String(version).padStart(4, "0")}`));
  if (version >= 7) {
    const aux = (k: string, v: string): void => {
      w.byte(OP.aux);
      w.string(text(k));
      w.string(text(v));
    };
    aux(opts.verName ?? "redis-ver", opts.version);
    aux("redis-bits", "64");
    aux("ctime", String(opts.ctimeSeconds));
    aux("used-mem", String(opts.usedMem));
    if (version >= 8) {
      if (opts.repl !== undefined) {
        aux("repl-stream-db", String(opts.repl.streamDb));
        aux("repl-id", opts.repl.replid);
        aux("repl-offset", String(opts.repl.offset));
      }
      aux(version >= 10 ? "aof-base" : "aof-preamble", "0");
    }
  }
  for (const { db, keys: all } of dbs) {
    // Streams are left out (RdbUnsupported): the replica gets the rest of the keyspace.
    const keys = all.filter((k) => k.value.type !== "stream");
    if (keys.length === 0) continue;
    w.byte(OP.selectDb);
    w.len(db);
    if (version >= 7) {
      w.byte(OP.resizeDb);
      w.len(keys.length);
      w.len(keys.filter((k) => k.expiresAt !== undefined).length);
    }
    for (const k of keys) {
      if (k.expiresAt !== undefined) {
        w.byte(OP.expireMs);
        const t = Buffer.alloc(8);
        t.writeBigInt64LE(BigInt(Math.round(k.expiresAt)), 0);
        w.bytes(t);
      }
      writeValue(w, k.value, era);
      w.string(text(k.key));
      writeBody(w, k.value, era);
    }
  }
  w.byte(OP.eof);
  const body = w.done();
  const crc = Buffer.alloc(8);
  crc.writeBigUInt64LE(crc64(body), 0);
  return Buffer.concat([body, crc]);
}

// ---- reading (RESTORE) ----

export class RdbFormatError extends Error {}

/** Elements one value read may have: the keyspace's own caps are far below. */
const MAX_ELEMENTS = 1 << 20;

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  get left(): number {
    return this.buf.length - this.pos;
  }

  take(n: number): Buffer {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.left) throw new RdbFormatError("short");
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  byte(): number {
    return this.take(1)[0]!;
  }

  /** rdbLoadLen; `encoded` when it is a string's special encoding (0xC0…). */
  len(): { n: number; encoded: boolean } {
    const b = this.byte();
    const kind = b >> 6;
    if (kind === 0) return { n: b & 0x3f, encoded: false };
    if (kind === 1) return { n: ((b & 0x3f) << 8) | this.byte(), encoded: false };
    if (kind === 3) return { n: b & 0x3f, encoded: true };
    if (b === 0x80) return { n: this.take(4).readUInt32BE(0), encoded: false };
    if (b === 0x81) {
      const n = this.take(8).readBigUInt64BE(0);
      if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new RdbFormatError("length");
      return { n: Number(n), encoded: false };
    }
    throw new RdbFormatError("length");
  }

  count(): number {
    const { n, encoded } = this.len();
    if (encoded || n > MAX_ELEMENTS) throw new RdbFormatError("count");
    return n;
  }

  string(): Buffer {
    const { n, encoded } = this.len();
    if (!encoded) return Buffer.from(this.take(n));
    if (n === 0) return text(String(this.take(1).readInt8(0)));
    if (n === 1) return text(String(this.take(2).readInt16LE(0)));
    if (n === 2) return text(String(this.take(4).readInt32LE(0)));
    if (n === 3) {
      const clen = this.count();
      const { n: ulen, encoded: e } = this.len();
      if (e || ulen > this.buf.length * 256 + 64 || ulen > 512 * 1024 * 1024) {
        throw new RdbFormatError("lzf length");
      }
      const out = lzfDecompress(this.take(clen), ulen);
      if (out === undefined) throw new RdbFormatError("lzf");
      return out;
    }
    throw new RdbFormatError("encoding");
  }
}

/** The elements of a listpack blob. */
function readListpack(lp: Buffer): Buffer[] {
  if (lp.length < 7 || lp.readUInt32LE(0) !== lp.length || lp[lp.length - 1] !== 0xff) {
    throw new RdbFormatError("listpack header");
  }
  const out: Buffer[] = [];
  let p = 6;
  const need = (n: number): void => {
    if (p + n > lp.length - 1) throw new RdbFormatError("listpack entry");
  };
  while (p < lp.length - 1) {
    const b = lp[p]!;
    let head: number;
    let body: Buffer;
    if (b < 0x80) {
      head = 1;
      body = text(String(b));
    } else if ((b & 0xc0) === 0x80) {
      const n = b & 0x3f;
      need(1 + n);
      head = 1 + n;
      body = Buffer.from(lp.subarray(p + 1, p + 1 + n));
    } else if ((b & 0xe0) === 0xc0) {
      need(2);
      let v = ((b & 0x1f) << 8) | lp[p + 1]!;
      if (v >= 1 << 12) v -= 1 << 13;
      head = 2;
      body = text(String(v));
    } else if ((b & 0xf0) === 0xe0) {
      need(2);
      const n = ((b & 0x0f) << 8) | lp[p + 1]!;
      need(2 + n);
      head = 2 + n;
      body = Buffer.from(lp.subarray(p + 2, p + 2 + n));
    } else if (b === 0xf0) {
      need(5);
      const n = lp.readUInt32LE(p + 1);
      need(5 + n);
      head = 5 + n;
      body = Buffer.from(lp.subarray(p + 5, p + 5 + n));
    } else if (b >= 0xf1 && b <= 0xf4) {
      const size = [2, 3, 4, 8][b - 0xf1]!;
      need(1 + size);
      head = 1 + size;
      const v = size === 8 ? lp.readBigInt64LE(p + 1) : BigInt(lp.readIntLE(p + 1, size));
      body = text(String(v));
    } else throw new RdbFormatError("listpack encoding");
    const backlen =
      head <= 127 ? 1 : head < 16383 ? 2 : head < 2097151 ? 3 : head < 268435455 ? 4 : 5;
    need(head + backlen);
    p += head + backlen;
    out.push(body);
    if (out.length > MAX_ELEMENTS) throw new RdbFormatError("listpack size");
  }
  return out;
}

/** The elements of a ziplist blob (the pre-7.0 small encodings). */
function readZiplist(zl: Buffer): Buffer[] {
  if (zl.length < 11 || zl.readUInt32LE(0) !== zl.length || zl[zl.length - 1] !== 0xff) {
    throw new RdbFormatError("ziplist header");
  }
  const out: Buffer[] = [];
  let p = 10;
  const end = zl.length - 1;
  const need = (n: number): void => {
    if (p + n > end) throw new RdbFormatError("ziplist entry");
  };
  while (p < end) {
    need(1);
    p += zl[p] === 0xfe ? 5 : 1;
    need(1);
    const b = zl[p]!;
    if (b >> 6 === 0) {
      need(1 + (b & 0x3f));
      out.push(Buffer.from(zl.subarray(p + 1, p + 1 + (b & 0x3f))));
      p += 1 + (b & 0x3f);
    } else if (b >> 6 === 1) {
      need(2);
      const n = ((b & 0x3f) << 8) | zl[p + 1]!;
      need(2 + n);
      out.push(Buffer.from(zl.subarray(p + 2, p + 2 + n)));
      p += 2 + n;
    } else if (b === 0x80) {
      need(5);
      const n = zl.readUInt32BE(p + 1);
      need(5 + n);
      out.push(Buffer.from(zl.subarray(p + 5, p + 5 + n)));
      p += 5 + n;
    } else {
      const sizes: Record<number, number> = { 192: 2, 208: 4, 224: 8, 240: 3, 254: 1 };
      const size = sizes[b];
      if (size !== undefined) {
        need(1 + size);
        const v = size === 8 ? zl.readBigInt64LE(p + 1) : BigInt(zl.readIntLE(p + 1, size));
        out.push(text(String(v)));
        p += 1 + size;
      } else if (b >= 0xf1 && b <= 0xfd) {
        out.push(text(String((b & 0x0f) - 1)));
        p += 1;
      } else throw new RdbFormatError("ziplist encoding");
    }
    if (out.length > MAX_ELEMENTS) throw new RdbFormatError("ziplist size");
  }
  return out;
}

function readIntset(b: Buffer): string[] {
  if (b.length < 8) throw new RdbFormatError("intset");
  const width = b.readUInt32LE(0);
  const n = b.readUInt32LE(4);
  if ((width !== 2 && width !== 4 && width !== 8) || b.length !== 8 + width * n) {
    throw new RdbFormatError("intset");
  }
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = 8 + i * width;
    out.push(
      String(
        width === 2 ? b.readInt16LE(at) : width === 4 ? b.readInt32LE(at) : b.readBigInt64LE(at),
      ),
    );
  }
  return out;
}

function pairs(items: Buffer[]): Map<string, Buffer> {
  if (items.length % 2 !== 0) throw new RdbFormatError("odd pairs");
  const h = new Map<string, Buffer>();
  for (let i = 0; i < items.length; i += 2) h.set(items[i]!.toString("latin1"), items[i + 1]!);
  return h;
}

/** One value of this RDB type (rdbLoadObject). */
function readValue(r: Reader, type: number): RedisValue {
  switch (type) {
    case RDB_TYPE.string:
      return { type: "string", value: r.string() };
    case RDB_TYPE.list: {
      const n = r.count();
      const value: Buffer[] = [];
      for (let i = 0; i < n; i++) value.push(r.string());
      return { type: "list", value };
    }
    case RDB_TYPE.listZiplist:
      return { type: "list", value: readZiplist(r.string()) };
    case RDB_TYPE.listQuicklist:
    case RDB_TYPE.listQuicklist2: {
      const nodes = r.count();
      const value: Buffer[] = [];
      for (let i = 0; i < nodes; i++) {
        if (type === RDB_TYPE.listQuicklist) value.push(...readZiplist(r.string()));
        else {
          const container = r.count();
          if (container === 1) value.push(r.string());
          else if (container === 2) value.push(...readListpack(r.string()));
          else throw new RdbFormatError("quicklist container");
        }
        if (value.length > MAX_ELEMENTS) throw new RdbFormatError("list size");
      }
      if (value.length === 0) throw new RdbFormatError("empty list");
      return { type: "list", value };
    }
    case RDB_TYPE.set: {
      const n = r.count();
      const value = new Set<string>();
      for (let i = 0; i < n; i++) value.add(r.string().toString("latin1"));
      return { type: "set", value };
    }
    case RDB_TYPE.setIntset:
      return { type: "set", value: new Set(readIntset(r.string())) };
    case RDB_TYPE.setListpack:
      return {
        type: "set",
        value: new Set(readListpack(r.string()).map((b) => b.toString("latin1"))),
      };
    case RDB_TYPE.hash: {
      const n = r.count();
      const items: Buffer[] = [];
      for (let i = 0; i < n; i++) items.push(r.string(), r.string());
      return { type: "hash", value: pairs(items) };
    }
    case RDB_TYPE.hashZiplist:
      return { type: "hash", value: pairs(readZiplist(r.string())) };
    case RDB_TYPE.hashListpack:
      return { type: "hash", value: pairs(readListpack(r.string())) };
    case RDB_TYPE.zset:
    case RDB_TYPE.zset2: {
      const n = r.count();
      const value = new SortedSet();
      for (let i = 0; i < n; i++) {
        const member = r.string().toString("latin1");
        value.set(member, type === RDB_TYPE.zset2 ? r.take(8).readDoubleLE(0) : readDoubleText(r));
      }
      return { type: "zset", value };
    }
    case RDB_TYPE.zsetZiplist:
    case RDB_TYPE.zsetListpack: {
      const items =
        type === RDB_TYPE.zsetListpack ? readListpack(r.string()) : readZiplist(r.string());
      const value = new SortedSet();
      for (let i = 0; i + 1 < items.length; i += 2) {
        const score = Number(items[i + 1]!.toString("latin1"));
        if (Number.isNaN(score)) throw new RdbFormatError("zset score");
        value.set(items[i]!.toString("latin1"), score);
      }
      return { type: "zset", value };
    }
    default:
      throw new RdbFormatError(`type ${type}`);
  }
}

/** rdbLoadDoubleValue: a length byte and the digits, or 253/254/255 for nan/inf/-inf. */
function readDoubleText(r: Reader): number {
  const n = r.byte();
  if (n === 253) return Number.NaN;
  if (n === 254) return Number.POSITIVE_INFINITY;
  if (n === 255) return Number.NEGATIVE_INFINITY;
  const score = Number(r.take(n).toString("latin1"));
  if (Number.isNaN(score)) throw new RdbFormatError("zset score");
  return score;
}

/** Which types a server of this RDB version reads (each came with the version noted). */
function readsType(type: number, version: number): boolean {
  if (type === RDB_TYPE.listQuicklist) return version >= 7;
  if (type === RDB_TYPE.hashListpack || type === RDB_TYPE.listQuicklist2) return version >= 10;
  if (type === RDB_TYPE.setListpack) return version >= 11;
  if (type === RDB_TYPE.zsetListpack) return version >= 10;
  if (type === RDB_TYPE.zset2) return version >= 8;
  return true;
}

/**
 * verifyDumpPayload: the footer's RDB version is one this version reads and the CRC64 matches.
 * False is "DUMP payload version or checksum are wrong".
 */
export function verifyDump(payload: Buffer, era: Era): boolean {
  if (payload.length < 10) return false;
  const version = payload.readUInt16LE(payload.length - 10);
  if (version > rdbVersion(era)) return false;
  const crc = payload.readBigUInt64LE(payload.length - 8);
  return crc64(payload.subarray(0, payload.length - 8)) === crc;
}

/** The value of a verified DUMP payload, or undefined for "Bad data format". */
export function readDump(payload: Buffer, era: Era): RedisValue | undefined {
  const r = new Reader(payload.subarray(0, payload.length - 10));
  try {
    const type = r.byte();
    if (!readsType(type, rdbVersion(era))) return undefined;
    const value = readValue(r, type);
    // Empty collections are refused as a corrupt payload (rdbLoadObject's empty-key check).
    if (
      value.type !== "string" &&
      (value.type === "list"
        ? value.value.length
        : value.type === "stream"
          ? value.value.entries.length
          : value.value.size) === 0
    ) {
      return undefined;
    }
    return value;
  } catch (e) {
    if (e instanceof RdbFormatError || e instanceof RangeError) return undefined;
    throw e;
  }
}
