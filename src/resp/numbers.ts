/**
 * Number syntax of RESP lines, parsed straight from the received bytes (no string per header on
 * the fast path). Each parser returns a sentinel instead of throwing so that the decoder, which
 * knows the stream offset and the error code, reports the failure.
 */

const MINUS = 0x2d;
const PLUS = 0x2b;
const ZERO = 0x30;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A length or count as Redis's string2ll reads it: `0`, or `[1-9][0-9]*`, optionally after `-`.
 * No `+`, no spaces, no leading zeros, no `-0`. NaN when malformed. Beyond 2^53 the value loses
 * precision but stays above every limit it is compared with, which is all a length is used for.
 */
export function parseLength(buf: Buffer, from: number, to: number): number {
  let p = from;
  let negative = false;
  if (p < to && buf[p] === MINUS) {
    negative = true;
    p++;
  }
  if (p === to) return Number.NaN;
  if (buf[p] === ZERO) return p + 1 === to && !negative ? 0 : Number.NaN;
  let value = 0;
  for (; p < to; p++) {
    const digit = buf[p]! - ZERO;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** A `:` integer: optional sign, decimal digits, within signed 64 bits (RESP's range). */
export function parseInteger(buf: Buffer, from: number, to: number): bigint | null {
  let p = from;
  const sign = buf[p];
  if (sign === MINUS || sign === PLUS) p++;
  if (p === to) return null;
  while (p < to - 1 && buf[p] === ZERO) p++; // leading zeros must not count against the width
  if (to - p > 19) return null; // 2^63 has 19 digits: anything wider is out of range
  let small = 0;
  for (let q = p; q < to; q++) {
    const digit = buf[q]! - ZERO;
    if (digit < 0 || digit > 9) return null;
    small = small * 10 + digit;
  }
  if (to - p <= 15) return BigInt(sign === MINUS ? -small : small); // exact in a double
  const value = BigInt(buf.toString("latin1", from, to));
  return value < INT64_MIN || value > INT64_MAX ? null : value;
}

const BIGNUM = /^[+-]?\d+$/;

/** A RESP3 `(` big number: any width (the line limit bounds it). */
export function parseBignum(buf: Buffer, from: number, to: number): bigint | null {
  const text = buf.toString("latin1", from, to);
  return BIGNUM.test(text) ? BigInt(text) : null;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITY = /^([+-]?)inf$/i;
const NOT_A_NUMBER = /^[+-]?nan$/i;

/** A RESP3 `,` double: decimal or exponent notation, or inf / -inf / nan as Redis writes them. */
export function parseDouble(buf: Buffer, from: number, to: number): number | null {
  const text = buf.toString("latin1", from, to);
  if (DECIMAL.test(text)) return Number(text);
  const inf = INFINITY.exec(text);
  if (inf) return inf[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  return NOT_A_NUMBER.test(text) ? Number.NaN : null;
}

/**
 * How Redis writes a double as text (RESP3 `,` and the RESP2 bulk fallback): shortest
 * round-trip digits, `inf`, `-inf`, `nan`, and a signed zero kept as `-0`.
 */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  if (Object.is(value, -0)) return "-0";
  return String(value);
}
