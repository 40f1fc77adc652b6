/**
 * The target space: every (address, port) a scan will probe, as an indexable set, so the
 * permutation (cyclic.ts) can pick targets by index without ever listing them.
 *
 * Layout of the index space [0, size):
 *   1. the product: the union of all address ranges (reserved and excluded addresses removed),
 *      as sorted disjoint intervals, IPv4 before IPv6, times the sorted port list. Index
 *      i < productSize is address number ⌊i / ports⌋ of that union, port number i mod ports;
 *   2. then the explicit (address, port) pairs that are not already in the product, sorted
 *      (IPv4 before IPv6, then by address, then port) and deduplicated.
 * The layout depends only on the resulting set, never on the order or spelling of the input;
 * the fingerprint hashes that set, so equal fingerprints mean equal index → target maps.
 *
 * Memory is O(intervals + pairs): a /8 or an IPv6 /64 costs one interval.
 */
import { createHash } from "node:crypto";
import {
  findInterval,
  type Interval,
  mergeIntervals,
  subtractIntervals,
} from "../net/intervals.js";
import { formatIpv4, formatIpv6, type IpFamily, parseIp } from "../net/ip.js";
import { Blocklist, type ReservedAllowance } from "./blocklist.js";
import { TargetSpecError } from "./errors.js";
import type { AddressRange, TargetInput } from "./spec.js";

export interface Target {
  ip: string;
  port: number;
  family: IpFamily;
}

export interface TargetSpaceOptions {
  /**
   * Scan the default blocklist's ranges too (your own private network, say): all of them
   * (true), none (false), or the ranges named.
   */
  allowReserved: ReservedAllowance;
  /** Opt-outs (parseExcludeText): always removed, silently. */
  exclude: readonly AddressRange[];
}

export interface TargetSpace {
  /** Number of (address, port) targets. */
  readonly size: bigint;
  /**
   * Addresses dropped from targets that only partly overlap the default blocklist (`reserved`)
   * or the exclude list (`excluded`; an excluded explicit pair counts one).
   */
  readonly skipped: { reserved: bigint; excluded: bigint };
  /** Distinct addresses in the product part (before multiplying by the ports). */
  readonly addressCount: bigint;
  /** Explicit pairs kept outside the product. */
  readonly pairCount: number;
  /** The sorted port list of the product. */
  readonly ports: readonly number[];
  /** Target number `index`, 0 <= index < size. RangeError outside. */
  at(index: bigint): Target;
  /**
   * Same as at() with a number index, without bigint work for IPv4 — the per-probe path. Only
   * for spaces with size <= Number.MAX_SAFE_INTEGER (see `numberIndexable`).
   */
  atNumber(index: number): Target;
  /** True when size <= 2^53 − 1, so atNumber() and CyclicPermutation.nextNumber() apply. */
  readonly numberIndexable: boolean;
  /** Is (ip, port) one of the targets? For deduplicating results. */
  has(ip: string, port: number): boolean;
  /** Stable hex SHA-256 of the set of targets, for checking a resume file. */
  readonly fingerprint: string;
}

interface FamilyPart {
  family: IpFamily;
  intervals: Interval[];
}

const FINGERPRINT_VERSION = "redscope-target-space/1";

class IntervalTargetSpace implements TargetSpace {
  readonly size: bigint;
  readonly skipped: { reserved: bigint; excluded: bigint };
  readonly addressCount: bigint;
  readonly pairCount: number;
  readonly ports: readonly number[];
  readonly numberIndexable: boolean;
  readonly fingerprint: string;

  private readonly portCount: number;
  private readonly portSet: Uint8Array;
  private readonly v4: Interval[];
  private readonly v6: Interval[];
  /** Product blocks in index order (IPv4 then IPv6). */
  private readonly blockFamily: IpFamily[];
  private readonly blockStart: bigint[];
  /** Addresses before each block, and the total after the last. */
  private readonly blockBefore: bigint[];
  private readonly productSize: bigint;
  /** Sorted unique IPv4 pair keys ip · 65536 + port (< 2^48, exact in a double). */
  private readonly pairs4: Float64Array;
  /** Sorted unique IPv6 pair keys ip << 16 | port. */
  private readonly pairs6: bigint[];
  // Number mirrors of the above for atNumber() (valid when numberIndexable).
  private readonly blockStartNum: Float64Array;
  private readonly blockBeforeNum: Float64Array;
  private readonly productSizeNum: number;

  constructor(
    parts: { v4: Interval[]; v6: Interval[] },
    ports: number[],
    pairs4: Float64Array,
    pairs6: bigint[],
    skipped: { reserved: bigint; excluded: bigint },
  ) {
    this.v4 = parts.v4;
    this.v6 = parts.v6;
    this.ports = ports;
    this.portCount = ports.length;
    this.portSet = new Uint8Array(65536);
    for (const p of ports) this.portSet[p] = 1;
    this.pairs4 = pairs4;
    this.pairs6 = pairs6;
    this.skipped = skipped;

    const blocks: FamilyPart[] = [
      { family: 4, intervals: this.v4 },
      { family: 6, intervals: this.v6 },
    ];
    this.blockFamily = [];
    this.blockStart = [];
    this.blockBefore = [];
    let before = 0n;
    for (const { family, intervals } of blocks) {
      for (const r of intervals) {
        this.blockFamily.push(family);
        this.blockStart.push(r.start);
        this.blockBefore.push(before);
        before += r.end - r.start + 1n;
      }
    }
    this.blockBefore.push(before);
    this.addressCount = before;
    this.productSize = before * BigInt(this.portCount);
    this.pairCount = pairs4.length + pairs6.length;
    this.size = this.productSize + BigInt(this.pairCount);
    this.numberIndexable = this.size <= BigInt(Number.MAX_SAFE_INTEGER);

    const n = this.blockStart.length;
    this.blockStartNum = new Float64Array(n);
    this.blockBeforeNum = new Float64Array(n + 1);
    this.productSizeNum = Number(this.productSize);
    for (let i = 0; i < n; i++) {
      this.blockStartNum[i] = this.blockFamily[i] === 4 ? Number(this.blockStart[i]!) : Number.NaN;
      this.blockBeforeNum[i] = Number(this.blockBefore[i]!);
    }
    this.blockBeforeNum[n] = Number(this.blockBefore[n]!);
    this.fingerprint = this.computeFingerprint();
  }

  at(index: bigint): Target {
    if (index < 0n || index >= this.size) {
      throw new RangeError(`target index ${index} outside [0, ${this.size})`);
    }
    if (this.numberIndexable) return this.atNumber(Number(index));
    if (index < this.productSize) {
      const ports = BigInt(this.portCount);
      const address = index / ports;
      const port = this.ports[Number(index % ports)]!;
      let lo = 0;
      let hi = this.blockStart.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (this.blockBefore[mid]! <= address) lo = mid;
        else hi = mid - 1;
      }
      const value = this.blockStart[lo]! + (address - this.blockBefore[lo]!);
      const family = this.blockFamily[lo]!;
      return {
        ip: family === 4 ? formatIpv4(Number(value)) : formatIpv6(value),
        port,
        family,
      };
    }
    // Pairs are counted in numbers (they are held in memory), so this index fits one.
    return this.pairAt(Number(index - this.productSize));
  }

  atNumber(index: number): Target {
    if (!(index >= 0 && index < this.productSizeNum + this.pairCount) || !this.numberIndexable) {
      throw new RangeError(
        `target index ${index} outside [0, ${this.size}) or not number-indexable`,
      );
    }
    if (index < this.productSizeNum) {
      const address = Math.floor(index / this.portCount);
      const port = this.ports[index - address * this.portCount]!;
      const before = this.blockBeforeNum;
      let lo = 0;
      let hi = this.blockStartNum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (before[mid]! <= address) lo = mid;
        else hi = mid - 1;
      }
      const offset = address - before[lo]!;
      if (this.blockFamily[lo] === 4) {
        return { ip: formatIpv4(this.blockStartNum[lo]! + offset), port, family: 4 };
      }
      return { ip: formatIpv6(this.blockStart[lo]! + BigInt(offset)), port, family: 6 };
    }
    return this.pairAt(index - this.productSizeNum);
  }

  private pairAt(j: number): Target {
    if (j < this.pairs4.length) {
      const key = this.pairs4[j]!;
      const ip = Math.floor(key / 65536);
      return { ip: formatIpv4(ip), port: key - ip * 65536, family: 4 };
    }
    const key = this.pairs6[j - this.pairs4.length]!;
    return { ip: formatIpv6(key >> 16n), port: Number(key & 0xffffn), family: 6 };
  }

  has(ip: string, port: number): boolean {
    const parsed = parseIp(ip);
    if (parsed === undefined || !Number.isInteger(port) || port < 1 || port > 65535) return false;
    const { family, value } = parsed;
    if (this.portSet[port] === 1 && findInterval(family === 4 ? this.v4 : this.v6, value) >= 0) {
      return true;
    }
    if (family === 4) return sortedIncludes(this.pairs4, Number(value) * 65536 + port);
    return sortedIncludes(this.pairs6, (value << 16n) | BigInt(port));
  }

  private computeFingerprint(): string {
    const hash = createHash("sha256");
    hash.update(`${FINGERPRINT_VERSION}\nports ${this.ports.join(",")}\n`);
    for (const [family, list] of [
      [4, this.v4],
      [6, this.v6],
    ] as const) {
      for (const r of list)
        hash.update(`${family} ${r.start.toString(16)}-${r.end.toString(16)}\n`);
    }
    for (const key of this.pairs4) hash.update(`p4 ${key.toString(16)}\n`);
    for (const key of this.pairs6) hash.update(`p6 ${key.toString(16)}\n`);
    return hash.digest("hex");
  }
}

/** Binary search in ascending keys (numbers or bigints compare alike). */
function sortedIncludes<K extends number | bigint>(keys: ArrayLike<K>, key: K): boolean {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const k = keys[mid]!;
    if (k < key) lo = mid + 1;
    else if (k > key) hi = mid - 1;
    else return true;
  }
  return false;
}

function validPorts(ports: readonly number[]): number[] {
  for (const p of ports) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new TargetSpecError(`invalid port "${p}": ports are 1-65535`);
    }
  }
  return [...new Set(ports)].sort((a, b) => a - b);
}

/**
 * Builds the target space from parsed targets (hostnames already resolved by the caller into
 * ranges and pairs) and the port list.
 *
 * A target (range or pair) lying entirely inside the default blocklist is refused with a
 * TargetSpecError unless opts.allowReserved; targets that only partly overlap it lose the
 * reserved addresses silently (counted in skipped.reserved). Excluded addresses are always
 * dropped silently (skipped.excluded).
 */
export function buildTargetSpace(
  input: TargetInput,
  ports: readonly number[],
  opts: TargetSpaceOptions,
): TargetSpace {
  if (input.hostnames.length > 0) {
    throw new Error("buildTargetSpace: resolve hostnames into ranges and pairs first");
  }
  const portList = validPorts(ports);
  const blocklist = new Blocklist(opts.allowReserved);
  for (const r of input.ranges) {
    const refusal = blocklist.refusal(r.source, r.family, r.start, r.end);
    if (refusal !== undefined) throw new TargetSpecError(refusal);
  }
  for (const p of input.pairs) {
    const refusal = blocklist.refusal(p.source, p.family, p.ip, p.ip);
    if (refusal !== undefined) throw new TargetSpecError(refusal);
  }

  let reserved = 0n;
  let excluded = 0n;
  const product: { v4: Interval[]; v6: Interval[] } = { v4: [], v6: [] };
  const excludes: { v4: Interval[]; v6: Interval[] } = { v4: [], v6: [] };
  for (const family of [4, 6] as const) {
    let set = mergeIntervals(input.ranges.filter((r) => r.family === family));
    const blocked = subtractIntervals(set, blocklist.intervals(family));
    set = blocked.rest;
    reserved += blocked.removed;
    const exclude = mergeIntervals(opts.exclude.filter((r) => r.family === family));
    const cut = subtractIntervals(set, exclude);
    excluded += cut.removed;
    product[family === 4 ? "v4" : "v6"] = cut.rest;
    excludes[family === 4 ? "v4" : "v6"] = exclude;
  }

  for (const p of input.pairs) {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      throw new TargetSpecError(`invalid port in target ${p.source}: ports are 1-65535`);
    }
  }
  const portSet = new Set(portList);
  const keep = (family: IpFamily, ip: bigint, port: number): boolean => {
    const key = family === 4 ? "v4" : "v6";
    if (findInterval(excludes[key], ip) >= 0) {
      excluded++;
      return false;
    }
    return !(portSet.has(port) && findInterval(product[key], ip) >= 0);
  };

  const keys4 = [
    ...new Set(input.pairs.filter((p) => p.family === 4).map((p) => Number(p.ip) * 65536 + p.port)),
  ].sort((a, b) => a - b);
  const pairs4 = Float64Array.from(
    keys4.filter((k) => keep(4, BigInt(Math.floor(k / 65536)), k % 65536)),
  );
  const keys6 = [
    ...new Set(
      input.pairs.filter((p) => p.family === 6).map((p) => (p.ip << 16n) | BigInt(p.port)),
    ),
  ].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const pairs6 = keys6.filter((k) => keep(6, k >> 16n, Number(k & 0xffffn)));

  return new IntervalTargetSpace(product, portList, pairs4, pairs6, { reserved, excluded });
}
