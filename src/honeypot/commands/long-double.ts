/**
 * INCRBYFLOAT's arithmetic as Redis does it on x86-64: C `long double` (80-bit extended, a
 * 64-bit mantissa) parsed with strtold and printed with "%.17Lf" with trailing zeros cut. A JS
 * double would print 0.1 + 0.2 as 0.30000000000000004 where Redis prints 0.3, so values are
 * exact binary fractions here (BigInt mantissa × 2^exponent), rounded to 64 bits like the FPU.
 */

/** A finite long double: (-1)^negative × mantissa × 2^exponent, mantissa 0 or in [2^63, 2^64). */
export interface LongDouble {
  negative: boolean;
  mantissa: bigint;
  exponent: number;
}

const BITS = 64n;
/** Largest binary exponent of an 80-bit long double (its maximum is just under 2^16384). */
const MAX_EXPONENT = 16384;

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

/** num/den (both > 0) rounded half-to-even to an integer. */
function roundDiv(num: bigint, den: bigint): bigint {
  const q = num / den;
  const twice = (num % den) * 2n;
  if (twice > den || (twice === den && q % 2n === 1n)) return q + 1n;
  return q;
}

/** p/q × sign rounded to 64 significant bits; undefined on overflow (±inf). */
function fromRational(negative: boolean, p: bigint, q: bigint): LongDouble | undefined {
  if (p === 0n) return { negative: false, mantissa: 0n, exponent: 0 };
  let exponent = bitLength(p) - bitLength(q) - Number(BITS);
  const scaled = (e: number): bigint =>
    e >= 0 ? roundDiv(p, q << BigInt(e)) : roundDiv(p << BigInt(-e), q);
  let m = scaled(exponent);
  while (m < 1n << (BITS - 1n)) m = scaled(--exponent);
  while (m >= 1n << BITS) m = scaled(++exponent);
  if (exponent + Number(BITS) > MAX_EXPONENT) return undefined;
  return { negative, mantissa: m, exponent };
}

export type ParsedLongDouble = LongDouble | "inf";

/**
 * strtold over the whole text, as getLongDoubleFromObject accepts it: decimal with optional
 * exponent, or inf/infinity (NaN and anything else are refused).
 */
export function parseLongDouble(text: string): ParsedLongDouble | undefined {
  if (/^[+-]?inf(inity)?$/i.test(text)) return "inf";
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d{1,6}))?$/.exec(text);
  if (m === null || (m[2] === "" && (m[3] ?? "") === "")) return undefined;
  const digits = BigInt(`${m[2]}${m[3] ?? ""}` || "0");
  const exp10 = Number(m[4] ?? 0) - (m[3] ?? "").length;
  if (digits === 0n) return { negative: false, mantissa: 0n, exponent: 0 };
  // Beyond these a long double over- or underflows: strtold's ERANGE, which Redis refuses.
  const magnitude = exp10 + digits.toString().length;
  if (magnitude > 4933 || magnitude < -4950) return undefined;
  const p = exp10 >= 0 ? digits * 10n ** BigInt(exp10) : digits;
  const q = exp10 >= 0 ? 1n : 10n ** BigInt(-exp10);
  return fromRational(m[1] === "-", p, q);
}

/** a + b rounded to a long double; undefined when it overflows. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble | undefined {
  const low = Math.min(a.exponent, b.exponent);
  const term = (x: LongDouble): bigint => {
    const v = x.mantissa << BigInt(x.exponent - low);
    return x.negative ? -v : v;
  };
  const sum = term(a) + term(b);
  if (sum === 0n) return { negative: false, mantissa: 0n, exponent: 0 };
  const negative = sum < 0n;
  const magnitude = negative ? -sum : sum;
  return low >= 0
    ? fromRational(negative, magnitude << BigInt(low), 1n)
    : fromRational(negative, magnitude, 1n << BigInt(-low));
}

/** "%.17Lf" with the trailing zeros (and a bare point) removed, "-0" made "0". */
export function formatLongDouble(x: LongDouble): string {
  const scale = 10n ** 17n;
  const fixed =
    x.exponent >= 0
      ? (x.mantissa << BigInt(x.exponent)) * scale
      : roundDiv(x.mantissa * scale, 1n << BigInt(-x.exponent));
  const digits = fixed.toString().padStart(18, "0");
  let text = `${digits.slice(0, -17)}.${digits.slice(-17)}`.replace(/0+$/, "").replace(/\.$/, "");
  if (x.negative && text !== "0") text = `-${text}`;
  return text;
}
