/**
 * The scan order: a pseudo-random permutation of [0, size) generated lazily, with zmap's
 * cyclic-group method (zmap src/cyclic.c, src/shard.c), in O(1) memory whatever the size.
 *
 * For a prime p, the multiplicative group (Z/pZ)* = {1, …, p−1} is cyclic: for a primitive root
 * g, the sequence x, x·g, x·g², … (mod p) visits every element exactly once in p−1 steps, from
 * any start x. Element v stands for index v − 1; elements with v − 1 >= size are skipped. p is
 * the smallest prime of PRIME_GROUPS (one just above each 2^k) with p − 1 >= size, so fewer
 * than half the steps are skipped, and each step costs one modular multiplication.
 *
 * Seed → order, a stable contract (a resume file or N shard machines rely on it; changing any
 * of this changes every order and must change SEED_DERIVATION_VERSION):
 *   1. PRNG: splitmix64 over bigint, state = seed mod 2^64. Each draw: state += 0x9e3779b97f4a7c15;
 *      z = state; z = (z ^ z>>30)·0xbf58476d1ce4e5b9; z = (z ^ z>>27)·0x94d049bb133111eb;
 *      output z ^ z>>31 (all mod 2^64).
 *   2. uniform(n): draw m = ⌈(bits(n) + 64) / 64⌉ words, concatenate them (first draw most
 *      significant), reduce mod n (bias below 2^-64).
 *   3. The group: p = first PRIME_GROUPS prime with p − 1 >= size; Q = p − 1; r = its stored
 *      (smallest) primitive root.
 *   4. Exponent e = 1 + uniform(Q − 1), redrawn until gcd(e, Q) = 1; generator g = r^e mod p
 *      (a primitive root, since r^e generates the group iff gcd(e, Q) = 1).
 *   5. Start element x0 = 1 + uniform(Q). Step t of the full cycle is x0·g^t mod p.
 *   6. Shard I of N covers steps [⌊Q·I/N⌋, ⌊Q·(I+1)/N⌋): contiguous, disjoint, together the
 *      whole cycle. Its first element is x0·g^⌊Q·I/N⌋ mod p (fast exponentiation).
 * position counts the steps this shard has taken (skipped elements included), so resuming at a
 * position is x = first·g^position: exact, with no need to replay.
 *
 * Arithmetic: for p < 2^40 the state is a number and x·g mod p is computed without leaving the
 * exact-double range: g is split into c-bit chunks (c = 51 − bits(p)), and Horner's rule
 * r ← (r·2^c + x·chunk) mod p keeps every sum a below 2^52 (each term is below 2^51). The
 * reduction a mod p = a − ⌊a/p⌋·p is exact: with m = ⌊a/p⌋ + 1, fl(a/p) could only round up to
 * m if m − a/p < ulp(m)/2 <= m·2^-53, i.e. if m·p > 2^53; but m·p <= a + p < 2^52 + 2^40.
 * Above 2^40, bigint.
 */
import { randomBytes } from "node:crypto";
import { bitLength, gcd, modPow } from "./bigmath.js";
import { quote, TargetSpecError } from "./errors.js";
import { PRIME_GROUPS, type PrimeGroup } from "./primes.js";

export const SEED_DERIVATION_VERSION = 1;

export interface Shard {
  /** 0-based: 0 <= index < count. */
  index: number;
  count: number;
}

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 (Steele, Lea & Flood 2014) over bigint: deterministic, tiny, good enough here. */
export class SplitMix64 {
  private state: bigint;
  constructor(seed: bigint) {
    this.state = BigInt.asUintN(64, seed);
  }
  next(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK64;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    return z ^ (z >> 31n);
  }
  /** Uniform in [0, n) (n >= 1), see step 2 of the module comment. */
  uniform(n: bigint): bigint {
    const words = Math.ceil((bitLength(n) + 64) / 64);
    let w = 0n;
    for (let i = 0; i < words; i++) w = (w << 64n) | this.next();
    return w % n;
  }
}

/** The smallest group whose p − 1 >= size; TargetSpecError when the space is too large. */
export function groupFor(size: bigint): PrimeGroup {
  let lo = 0;
  let hi = PRIME_GROUPS.length - 1;
  const largest = PRIME_GROUPS[hi]!;
  if (largest.prime - 1n < size) {
    throw new TargetSpecError(
      `target space too large: ${size} targets (at most 2^${largest.bits})`,
    );
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (PRIME_GROUPS[mid]!.prime - 1n >= size) hi = mid;
    else lo = mid + 1;
  }
  return PRIME_GROUPS[lo]!;
}

interface CycleParams {
  group: PrimeGroup;
  generator: bigint;
  start: bigint;
}

function deriveCycle(size: bigint, seed: bigint): CycleParams {
  const group = groupFor(size);
  const q = group.prime - 1n;
  const rng = new SplitMix64(seed);
  let e: bigint;
  do e = 1n + rng.uniform(q - 1n);
  while (gcd(e, q) !== 1n);
  const generator = modPow(group.root, e, group.prime);
  const start = 1n + rng.uniform(q);
  return { group, generator, start };
}

const NUMBER_MODE_MAX_BITS = 40;
const MODE_DONE = 0;
const MODE_NUMBER = 1;
const MODE_BIGINT = 2;

export class CyclicPermutation {
  readonly size: bigint;
  readonly shard: Readonly<Shard>;
  /** The group's prime and this seed's generator (for logs and the resume file). */
  readonly prime: bigint;
  readonly generator: bigint;
  /** Steps in this shard's part of the cycle (skipped elements included). */
  readonly length: bigint;
  /** This shard's first element. */
  private readonly first: bigint;

  private mode: number;
  private pos = 0;
  private readonly len: number;

  // number mode
  private x = 0;
  private readonly p: number = 0;
  private readonly sizeNum: number = 0;
  /** Chunks of g, most significant first, each < 2^chunkBits. */
  private readonly chunks: number[] = [];
  private readonly chunkScale: number = 1;

  // bigint mode
  private xb = 0n;
  private readonly pb: bigint;
  private readonly gb: bigint;

  constructor(size: bigint, seed: bigint, shard: Shard = { index: 0, count: 1 }) {
    if (size < 0n) throw new RangeError("permutation size must be >= 0");
    checkShard(shard);
    this.size = size;
    this.shard = { index: shard.index, count: shard.count };
    const cycle = deriveCycle(size, seed);
    const p = cycle.group.prime;
    const q = p - 1n;
    const from = (q * BigInt(shard.index)) / BigInt(shard.count);
    const to = (q * BigInt(shard.index + 1)) / BigInt(shard.count);
    this.prime = p;
    this.generator = cycle.generator;
    this.length = to - from;
    this.len = this.length <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(this.length) : Infinity;
    this.first = (cycle.start * modPow(cycle.generator, from, p)) % p;
    this.pb = p;
    this.gb = cycle.generator;

    const bits = bitLength(p);
    if (bits <= NUMBER_MODE_MAX_BITS) {
      this.mode = MODE_NUMBER;
      this.p = Number(p);
      this.sizeNum = Number(size);
      const c = 51 - bits;
      const chunkCount = Math.ceil(bits / c);
      const g = cycle.generator;
      for (let i = chunkCount - 1; i >= 0; i--) {
        this.chunks.push(Number((g >> BigInt(i * c)) & ((1n << BigInt(c)) - 1n)));
      }
      this.chunkScale = 2 ** c;
    } else {
      this.mode = MODE_BIGINT;
    }
    this.seek(0);
    if (size === 0n || this.length === 0n) this.mode = MODE_DONE;
  }

  /**
   * A permutation that continues exactly after `position` steps of the same (size, seed,
   * shard): what a resumed scan uses. RangeError when position is beyond this shard.
   */
  static resumeAt(
    size: bigint,
    seed: bigint,
    shard: Shard | undefined,
    position: number | bigint,
  ): CyclicPermutation {
    const perm = new CyclicPermutation(size, seed, shard);
    const pos = BigInt(position);
    if (pos < 0n || pos > perm.length) {
      throw new RangeError(`resume position ${position} outside [0, ${perm.length}]`);
    }
    perm.seek(Number(pos));
    if (pos === perm.length) perm.mode = MODE_DONE;
    return perm;
  }

  /** Steps taken in this shard (exact up to 2^53), monotonic; what a resume file stores. */
  get position(): number {
    return this.pos;
  }

  /** True once this shard's part of the cycle is exhausted. */
  get done(): boolean {
    return this.mode === MODE_DONE || this.pos >= this.len;
  }

  private seek(position: number): void {
    const x = (this.first * modPow(this.gb, BigInt(position), this.pb)) % this.pb;
    this.pos = position;
    this.xb = x;
    if (this.mode === MODE_NUMBER) this.x = Number(x);
  }

  /** The next index into the space, or undefined when this shard is exhausted. */
  next(): bigint | undefined {
    if (this.mode === MODE_NUMBER) {
      const i = this.nextNumber();
      return i < 0 ? undefined : BigInt(i);
    }
    if (this.mode === MODE_DONE) return undefined;
    const p = this.pb;
    const g = this.gb;
    const size = this.size;
    let x = this.xb;
    let pos = this.pos;
    const len = this.len;
    while (pos < len) {
      const index = x - 1n;
      x = (x * g) % p;
      pos++;
      if (index < size) {
        this.xb = x;
        this.pos = pos;
        return index;
      }
    }
    this.xb = x;
    this.pos = pos;
    this.mode = MODE_DONE;
    return undefined;
  }

  /**
   * next() as a number, -1 when exhausted: the per-probe path for spaces of at most 2^53 − 1
   * targets (TargetSpace.numberIndexable), with no bigint work when p < 2^40.
   */
  nextNumber(): number {
    if (this.mode !== MODE_NUMBER) {
      if (this.size > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new RangeError("nextNumber() needs a space of at most 2^53 - 1 targets; use next()");
      }
      const i = this.next();
      return i === undefined ? -1 : Number(i);
    }
    const p = this.p;
    const size = this.sizeNum;
    const chunks = this.chunks;
    const scale = this.chunkScale;
    const len = this.len;
    let x = this.x;
    let pos = this.pos;
    while (pos < len) {
      const index = x - 1;
      // x = x·g mod p by Horner over the chunks of g; see the module comment for why every
      // value here is an exact integer and Math.floor(a / p) is the exact quotient.
      let r = 0;
      for (let k = 0; k < chunks.length; k++) {
        const a = r * scale + x * chunks[k]!;
        r = a - Math.floor(a / p) * p;
      }
      x = r;
      pos++;
      if (index < size) {
        this.x = x;
        this.pos = pos;
        return index;
      }
    }
    this.x = x;
    this.pos = pos;
    this.mode = MODE_DONE;
    return -1;
  }
}

function checkShard(shard: Shard): void {
  const { index, count } = shard;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new TargetSpecError(`invalid shard count ${count}: must be at least 1`);
  }
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new TargetSpecError(`invalid shard ${index}/${count}: the index must be 0-${count - 1}`);
  }
}

/** "I/N" (0-based, like zmap's --shard/--shards) → shard; TargetSpecError when malformed. */
export function parseShard(s: string): Shard {
  const m = /^\s*([0-9]{1,9})\s*\/\s*([0-9]{1,9})\s*$/.exec(s);
  if (m === null) {
    throw new TargetSpecError(
      `invalid shard ${quote(s)}: expected I/N with 0 <= I < N, e.g. 0/4 for the first of 4`,
    );
  }
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1)
    throw new TargetSpecError(`invalid shard ${quote(s)}: the shard count must be at least 1`);
  if (index >= count) {
    throw new TargetSpecError(
      `invalid shard ${quote(s)}: the index must be 0-${count - 1} (shards are numbered from 0)`,
    );
  }
  return { index, count };
}

/** A seed: decimal or 0x-hex, 0 .. 2^64 − 1; TargetSpecError when malformed. */
export function parseSeed(s: string): bigint {
  const t = s.trim();
  if (/^[0-9]{1,20}$/.test(t) || /^0x[0-9a-f]{1,16}$/i.test(t)) {
    const seed = BigInt(t);
    if (seed <= MASK64) return seed;
  }
  throw new TargetSpecError(
    `invalid seed ${quote(s)}: expected a number 0-18446744073709551615 (decimal or 0x hex)`,
  );
}

/** A fresh random 64-bit seed (to be recorded so the scan can be resumed or sharded). */
export function randomSeed(): bigint {
  return randomBytes(8).readBigUInt64BE();
}
