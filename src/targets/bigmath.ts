/**
 * Small bigint number theory for the permutation: modular exponentiation, gcd, a Miller–Rabin
 * primality test and a primitive-root check. Used at setup time only (a handful of calls per
 * scan), never per target, so clarity wins over speed here.
 */

/** base^exp mod m, for exp >= 0 and m >= 1. */
export function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  if (m === 1n) return 0n;
  let result = 1n;
  let b = ((base % m) + m) % m;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return result;
}

export function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

/** Number of bits needed to write n (0 for 0). */
export function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/**
 * Bases that make Miller–Rabin deterministic for every n < 3.3 · 10^24 (about 2^81); above that
 * the test is probabilistic with an error below 4^-20.
 */
const MR_BASES = [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n, 23n, 29n, 31n, 37n, 41n];
const MR_EXTRA_BASES = [43n, 47n, 53n, 59n, 61n, 67n, 71n];

export function isProbablePrime(n: bigint): boolean {
  if (n < 2n) return false;
  for (const p of MR_BASES) {
    if (n === p) return true;
    if (n % p === 0n) return false;
  }
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  const bases = n < 3317044064679887385961981n ? MR_BASES : MR_BASES.concat(MR_EXTRA_BASES);
  next: for (const a of bases) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) continue next;
    }
    return false;
  }
  return true;
}

/**
 * True when g generates the whole multiplicative group mod the prime p, given the distinct
 * prime factors of p − 1: g^((p−1)/q) ≠ 1 for every such q.
 */
export function isPrimitiveRoot(g: bigint, p: bigint, factors: readonly bigint[]): boolean {
  if (g % p === 0n) return false;
  const order = p - 1n;
  for (const q of factors) {
    if (modPow(g, order / q, p) === 1n) return false;
  }
  return true;
}
