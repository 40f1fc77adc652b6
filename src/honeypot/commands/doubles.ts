/**
 * C doubles as Redis reads and writes them (sorted-set scores, weights, BITFIELD is integers
 * only): glibc's strtod for reading, and for writing "%.17g" up to 7.0 (addReplyDouble) or
 * 7.2's d2string (integers printed as integers, else fpconv's shortest round-trip digits).
 */
import type { Era } from "../personas/era.js";
import type { Reply } from "./reply.js";

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const HEX = /^([+-]?)0[xX]((?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+))(?:[pP]([+-]?\d+))?/;
const SPECIAL = /^([+-]?)(inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)/i;

export interface Strtod {
  value: number;
  /** Characters consumed (0: nothing parsed, strtod's eptr == s). */
  end: number;
  /** errno ERANGE: the text overflows or underflows a double. */
  range: boolean;
}

/** glibc strtod over latin1 text: leading white space, decimal, hex, inf/infinity, nan. */
export function strtod(text: string): Strtod {
  let i = 0;
  while (i < text.length && " \t\n\v\f\r".includes(text[i]!)) i++;
  const s = text.slice(i);
  const hex = HEX.exec(s);
  if (hex !== null) {
    const [whole, sign, body, exp] = hex;
    const [intPart, frac = ""] = body!.split(".");
    let v = 0;
    for (const ch of `${intPart}${frac}`) v = v * 16 + Number.parseInt(ch, 16);
    v *= 2 ** (Number(exp ?? 0) - 4 * frac.length);
    return { value: sign === "-" ? -v : v, end: i + whole.length, range: !Number.isFinite(v) };
  }
  const special = SPECIAL.exec(s);
  if (special !== null) {
    const neg = special[1] === "-";
    const isNan = special[2]!.toLowerCase().startsWith("nan");
    const value = isNan ? Number.NaN : neg ? -Infinity : Infinity;
    return { value, end: i + special[0].length, range: false };
  }
  const dec = DECIMAL.exec(s);
  if (dec === null) return { value: 0, end: 0, range: false };
  const value = Number(dec[0]);
  const digitsNonZero = /[1-9]/.test(dec[0].replace(/[eE].*$/, ""));
  const range = !Number.isFinite(value) || (value === 0 && digitsNonZero);
  return { value, end: i + dec[0].length, range };
}

/** Redis's string2d (getDoubleFromObject): the whole text, no leading space, not NaN. */
export function parseDouble(text: string): number | undefined {
  if (text.length === 0 || " \t\n\v\f\r".includes(text[0]!)) return undefined;
  const r = strtod(text);
  if (r.end !== text.length || r.range || Number.isNaN(r.value)) return undefined;
  return r.value;
}

/** Decimal digits and exponent of |x| at `precision` significant digits (or shortest). */
function digitsOf(x: number, precision?: number): { digits: string; exp: number } {
  const t = Math.abs(x).toExponential(precision === undefined ? undefined : precision - 1);
  const [mant, e] = t.split("e");
  return { digits: mant!.replace(".", ""), exp: Number(e) };
}

/** printf("%.17g"). */
export function formatG17(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  if (x === 0) return `${sign}0`;
  const { digits, exp } = digitsOf(x, 17);
  if (exp < -4 || exp >= 17) {
    const mant = `${digits[0]}.${digits.slice(1)}`.replace(/0+$/, "").replace(/\.$/, "");
    const e = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? "-" : "+"}${e < 10 ? `0${e}` : e}`;
  }
  let text: string;
  if (exp >= 0) {
    const intPart = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    text = `${intPart}.${digits.slice(exp + 1)}`;
  } else text = `0.${"0".repeat(-exp - 1)}${digits}`;
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  return `${sign}${text}`;
}

/** fpconv_dtoa's emit_digits over the shortest round-trip digits. */
function fpconv(x: number): string {
  const neg = x < 0;
  let { digits, exp: e10 } = digitsOf(x);
  let ndigits = digits.length;
  const K = e10 - ndigits + 1;
  const exp = Math.abs(K + ndigits - 1);
  const sign = neg ? "-" : "";
  if (K >= 0 && exp < ndigits + 7) return `${sign}${digits}${"0".repeat(K)}`;
  if (K < 0 && (K > -7 || exp < 4)) {
    const offset = ndigits - Math.abs(K);
    if (offset <= 0) return `${sign}0.${"0".repeat(-offset)}${digits}`;
    return `${sign}${digits.slice(0, offset)}.${digits.slice(offset)}`;
  }
  ndigits = Math.min(ndigits, 18 - (neg ? 1 : 0));
  digits = digits.slice(0, ndigits);
  let out = digits[0]!;
  if (ndigits > 1) out += `.${digits.slice(1)}`;
  const e = K + ndigits - 1;
  return `${sign}${out}e${e < 0 ? "-" : "+"}${Math.abs(exp)}`;
}

/** 7.2's d2string. */
export function d2string(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0" : "0";
  const half = 2 ** 62; // LLONG_MAX/2 as a double
  if (x >= -half && x <= half && Number.isInteger(x)) return BigInt(x).toString();
  return fpconv(x);
}

/** A score as addReplyDouble writes it in this version. */
export function scoreText(era: Era, x: number): string {
  return era.at("7.2") ? d2string(x) : formatG17(x);
}

/** addReplyDouble: a bulk string in RESP2, a `,` double in RESP3. */
export function doubleReply(era: Era, proto: 2 | 3, x: number): Reply {
  const text = scoreText(era, x);
  const bytes = proto === 3 ? `,${text}\r\n` : `$${text.length}\r\n${text}\r\n`;
  return { type: "raw", bytes: Buffer.from(bytes, "latin1") };
}
