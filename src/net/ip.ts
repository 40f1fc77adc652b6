/**
 * IP address text ⇄ integer: the one parser of the project (targets, intel's range lookups,
 * the honeypot's peers). Its core parses a range of a string into caller-owned storage and
 * allocates nothing; the general API below wraps it. IPv4 values are numbers on the hot path (formatIpv4) and bigints in
 * the general API; IPv6 values are bigints.
 *
 * Parsing is strict on purpose: target lists decide which hosts on the internet get a
 * connection, so anything that inet_aton would read in a surprising way is refused rather than
 * guessed. IPv4 must be four decimal octets without leading zeros ("01.2.3.4" could be octal to
 * one tool and decimal to another; "1.2.3" and "16909060" are inet_aton short forms). IPv6
 * accepts every RFC 4291 text form (`::` once, 1–4 hex digits a group, any case, a trailing
 * dotted quad) but no zone id ("fe80::1%eth0": a zone names a local interface, which has no
 * meaning in a scan list).
 */

export type IpFamily = 4 | 6;

export interface IpValue {
  family: IpFamily;
  value: bigint;
}

export const IPV4_MAX = 0xffff_ffffn;
export const IPV6_MAX = (1n << 128n) - 1n;

/** The largest value of a family (2^32 − 1 or 2^128 − 1). */
export function familyMax(family: IpFamily): bigint {
  return family === 4 ? IPV4_MAX : IPV6_MAX;
}

/** Bits in an address of the family. */
export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** The network of `value/prefix` (host bits cleared) as an inclusive range. */
export function cidrRange(
  family: IpFamily,
  value: bigint,
  prefix: number,
): { start: bigint; end: bigint } {
  const hostBits = BigInt(familyBits(family) - prefix);
  const mask = (1n << hostBits) - 1n;
  const start = value & ~mask & familyMax(family);
  return { start, end: start | mask };
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Strict dotted quad in s[from, to) → 32-bit unsigned number, or -1. Allocates nothing: the
 * lookup paths (cloud ranges, every probe's address) parse with it.
 */
export function parseIpv4At(s: string, from: number, to: number): number {
  const n = to - from;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let leadingZero = false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (leadingZero) return -1; // "01" could be octal to another tool
      if (digits === 0 && c === 48) leadingZero = true;
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      leadingZero = false;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

const GROUPS = new Uint32Array(8);

/**
 * RFC 4291 text in s[from, to) → four big-endian 32-bit words in `out`; false when malformed.
 * Allocates nothing (the words go into caller-owned storage).
 */
export function parseIpv6At(s: string, from: number, to: number, out: Uint32Array): boolean {
  const len = to - from;
  if (len < 2 || len > 45) return false;
  const g = GROUPS;
  let n = 0;
  let gap = -1;
  let i = from;
  if (s.charCodeAt(i) === 58) {
    if (s.charCodeAt(i + 1) !== 58) return false;
    gap = 0;
    i += 2;
  }
  while (i < to) {
    let v = 0;
    let j = i;
    // Five digits at most: the fifth only proves the group too long.
    while (j < to && j - i < 5) {
      const d = hexDigit(s.charCodeAt(j));
      if (d < 0) break;
      v = v * 16 + d;
      j++;
    }
    if (j < to && s.charCodeAt(j) === 46) {
      // A dotted quad ends the address and fills two groups.
      const v4 = parseIpv4At(s, i, to);
      if (v4 < 0 || n > 6) return false;
      g[n++] = v4 >>> 16;
      g[n++] = v4 & 0xffff;
      break;
    }
    if (j === i || j - i > 4 || n === 8) return false;
    g[n++] = v;
    if (j === to) break;
    if (s.charCodeAt(j) !== 58) return false;
    j++;
    if (j < to && s.charCodeAt(j) === 58) {
      if (gap >= 0) return false;
      gap = n;
      j++;
    } else if (j === to) {
      return false; // a trailing single colon
    }
    i = j;
  }
  if (gap < 0) {
    if (n !== 8) return false;
  } else {
    if (n > 7) return false; // "::" stands for at least one zero group
    const tail = n - gap;
    for (let k = 7, m = n - 1; k >= 8 - tail; k--, m--) g[k] = g[m]!;
    for (let k = gap; k < 8 - tail; k++) g[k] = 0;
  }
  for (let k = 0; k < 4; k++) out[k] = g[2 * k]! * 65536 + g[2 * k + 1]!;
  return true;
}

/** Strict dotted quad → 32-bit unsigned number, or undefined. */
export function parseIpv4(s: string): number | undefined {
  const v = parseIpv4At(s, 0, s.length);
  return v < 0 ? undefined : v;
}

const WORDS = new Uint32Array(4);

/** RFC 4291 text → 128-bit bigint, or undefined. */
export function parseIpv6(s: string): bigint | undefined {
  if (!parseIpv6At(s, 0, s.length, WORDS)) return undefined;
  // Assemble in 32-bit words: four bigint operations instead of eight.
  let value = 0n;
  for (let i = 0; i < 4; i++) value = (value << 32n) | BigInt(WORDS[i]!);
  return value;
}

/** Either family; undefined when `s` is neither a strict IPv4 nor an IPv6 address. */
export function parseIp(s: string): IpValue | undefined {
  if (s.includes(":")) {
    const v6 = parseIpv6(s);
    return v6 === undefined ? undefined : { family: 6, value: v6 };
  }
  const v4 = parseIpv4(s);
  return v4 === undefined ? undefined : { family: 4, value: BigInt(v4) };
}

/**
 * A socket's address text as the peer's own address: what a dual-stack socket reports for an
 * IPv4 peer (`::ffff:a.b.c.d`, any case) is `a.b.c.d`; any other text is returned as it is.
 * The text form of unmapIpv4, for the per-connection path (no parse, no bigint).
 */
export function peerAddress(text: string): string {
  return text.length > 7 &&
    text.charCodeAt(0) === 58 &&
    text.slice(0, 7).toLowerCase() === "::ffff:" &&
    text.includes(".", 7)
    ? text.slice(7)
    : text;
}

/**
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for an IPv4
 * peer) as the IPv4 address it maps; any other address as it is.
 */
export function unmapIpv4(ip: IpValue): IpValue {
  return ip.family === 6 && ip.value >> 32n === 0xffffn
    ? { family: 4, value: ip.value & IPV4_MAX }
    : ip;
}

const OCTET: string[] = Array.from({ length: 256 }, (_, i) => String(i));

/** 32-bit unsigned number → dotted quad. The per-probe path: no bigint, no allocation but the string. */
export function formatIpv4(n: number): string {
  return (
    OCTET[n >>> 24]! +
    "." +
    OCTET[(n >>> 16) & 255]! +
    "." +
    OCTET[(n >>> 8) & 255]! +
    "." +
    OCTET[n & 255]!
  );
}

/**
 * 128-bit bigint → RFC 5952 canonical text: lower-case hex, no leading zeros, the longest run
 * (first if tied) of two or more zero groups written as "::", and IPv4-mapped addresses
 * (::ffff:0:0/96) with a dotted quad (RFC 5952 section 5).
 */
export function formatIpv6(value: bigint): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 4; i++) {
    const word = Number(BigInt.asUintN(32, value >> BigInt(96 - 32 * i)));
    g[2 * i] = word >>> 16;
    g[2 * i + 1] = word & 0xffff;
  }
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return "::ffff:" + formatIpv4(g[6]! * 65536 + g[7]!);
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) =>
    g
      .slice(from, to)
      .map((x) => x.toString(16))
      .join(":");
  if (bestStart < 0) return hex(0, 8);
  return hex(0, bestStart) + "::" + hex(bestStart + bestLen, 8);
}

/** Address value → canonical text. Throws RangeError for a value outside the family. */
export function formatIp(family: IpFamily, value: bigint): string {
  if (value < 0n || value > familyMax(family)) {
    throw new RangeError(`not an IPv${family} address value: ${value}`);
  }
  return family === 4 ? formatIpv4(Number(value)) : formatIpv6(value);
}

/**
 * The network an address belongs to at a prefix length per family, as `network/bits` text:
 * "198.51.100.7" at 24 → "198.51.100.0/24", "2001:db8:1:2::5" at 64 → "2001:db8:1:2::/64".
 * Counting by it treats a block one party holds as one (an IPv6 host usually has a /64 to
 * itself). Text that is not an address is returned as it is.
 */
export function addressPrefix(text: string, v4Bits: number, v6Bits: number): string {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) {
    // Number arithmetic on the per-connection path: no bigint for IPv4.
    const size = 2 ** (32 - v4Bits);
    return `${formatIpv4(v4 - (v4 % size))}/${v4Bits}`;
  }
  const v6 = text.includes(":") ? parseIpv6(text) : undefined;
  if (v6 === undefined) return text;
  return `${formatIpv6(cidrRange(6, v6, v6Bits).start)}/${v6Bits}`;
}

/** An endpoint as written on command lines and in target files: `ip:port`, `[v6]:port`. */
export function endpointText(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}
