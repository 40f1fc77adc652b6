/**
 * How a real server of the persona's version would hold a value: the encoding OBJECT ENCODING
 * names (object.c), and the bytes its allocations take on a jemalloc build (sds.c, listpack.c,
 * dict.c) for MEMORY USAGE and for what APPEND grows a string to.
 */
import { WRONG_TYPE } from "../keyspace.js";
import { parseInt64 } from "./integers.js";
import type { CommandContext } from "./spec.js";

/** The internal encoding a real server of this version would report. */
export function encodingOf(c: CommandContext, key: string): string | undefined {
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
      if (era.at("3.2")) return "quicklist";
      // Before quicklists: a ziplist while small (list-max-ziplist-entries/-value).
      return small(
        value.value.length,
        value.value.map((b) => b.length),
        512,
        64,
      )
        ? "ziplist"
        : "linkedlist";
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
    case "zset": {
      const members = value.value.members();
      const entries = Number(
        c.state.config.get(
          era.at("7.0") ? "zset-max-listpack-entries" : "zset-max-ziplist-entries",
        ) ?? "128",
      );
      const bytes = Number(
        c.state.config.get(era.at("7.0") ? "zset-max-listpack-value" : "zset-max-ziplist-value") ??
          "64",
      );
      if (
        !small(
          members.length,
          members.map((m) => m.length),
          entries,
          bytes,
        )
      )
        return "skiplist";
      return era.at("7.0") ? "listpack" : "ziplist";
    }
  }
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

/** The sds allocation of a raw-encoded string Redis made for SET (undefined for int/embstr). */
export function rawAllocation(c: CommandContext, key: string): number | undefined {
  const length = c.keyspace.stringLength(c.state.db, key);
  if (length === WRONG_TYPE || encodingOf(c, key) !== "raw") return undefined;
  return sdsBytes(length);
}

/**
 * sdsMakeRoomFor: the string stays put while its allocation has room; else it is reallocated
 * with twice the needed length (one more MB past 1 MB). int/embstr are first copied to a
 * type-5 sds, which has no spare room.
 */
export function grownAllocation(
  oldLength: number,
  allocated: number | undefined,
  newLength: number,
): number {
  if (allocated !== undefined && allocated - sdsHeader(oldLength) - 1 >= newLength)
    return allocated;
  const room = newLength < 1024 * 1024 ? newLength * 2 : newLength + 1024 * 1024;
  return allocation(sdsHeader(room) + room + 1);
}

/**
 * MEMORY USAGE as Redis 7.0 computes it on a jemalloc build: the value's structures (object
 * header, encoding, elements) plus the key's sds and its dict entry (24 bytes). How the key is
 * counted follows each version's memoryCommand: 4.0 took sdsAllocSize of the request's
 * argument (an embstr's sds8, no type 5), 5.0 sdsAllocSize of the stored key (sds5 below 32
 * bytes, not rounded to the allocator), 6.0+ the allocator's size of the stored key. KeyDB's
 * object header is 24 bytes (its MVCC stamp), not 16. Other encodings differ between versions;
 * their numbers here are the same estimate.
 */
export function memoryUsage(c: CommandContext, key: string): number | undefined {
  const value = c.keyspace.lookup(c.state.db, key);
  if (value === undefined) return undefined;
  const keySds = c.era.before("5.0")
    ? sdsHeader(key.length) + key.length + 1
    : c.era.before("6.0")
      ? sdsHeader(key.length, true) + key.length + 1
      : sdsBytes(key.length, true);
  const keyBytes = keySds + 24;
  const encoding = encodingOf(c, key);
  const header = c.era.keydb ? 24 : 16;
  let bytes = header;
  switch (value.type) {
    case "string": {
      const len = value.length ?? value.value.length;
      if (encoding === "embstr") bytes = allocation(header + 3 + len + 1);
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
    case "zset": {
      const members = value.value.members();
      if (encoding === "skiplist") {
        // The dict plus a skiplist node (score, backward pointer, ~1.33 levels) per member.
        bytes += 16 + dictBytes(members.map((m) => sdsBytes(m.length) + 40));
      } else {
        bytes += listpackBytes(members.flatMap((m) => [m, String(value.value.score(m))]));
      }
      break;
    }
  }
  return bytes + keyBytes;
}
