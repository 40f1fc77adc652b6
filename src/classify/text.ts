/**
 * Text helpers for attacker-controlled strings. Everything a scanned server says ends up in
 * JSONL, SQL, terminals and the dashboard, so strings leave this module bounded in length and
 * free of control characters. HTML escaping is left to the renderers: `<script>` is kept as
 * text here, because a terminal report must show what the server really said.
 */

import type { RespValue } from "../resp/types.js";

/** Longest `error` / short fact string kept in a result. */
export const MAX_ERROR_CHARS = 256;

/**
 * Code points that must not reach a terminal or a log viewer raw: C0 controls (incl. ESC, CR,
 * LF, TAB), DEL, C1 controls, line/paragraph separators, bidi embedding/override/isolate marks
 * (Trojan Source), zero-width no-break space, and lone surrogates.
 */
export function isUnsafe(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    (cp >= 0x200e && cp <= 0x200f) ||
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0xfeff ||
    (cp >= 0xd800 && cp <= 0xdfff)
  );
}

/** Matches any code point isUnsafe() rejects (kept in step with it; a test checks). */
const UNSAFE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]|\p{Cs}/u;

function escapeCodePoint(cp: number): string {
  return cp <= 0xff
    ? "\\x" + cp.toString(16).padStart(2, "0")
    : "\\u" + cp.toString(16).padStart(4, "0");
}

/**
 * `s` with unsafe code points written as `\xHH` / `\uHHHH`, cut to at most `max` UTF-16 units.
 * An escape is never cut in half. Cost is bounded by `max`, not by `s.length`.
 */
export function safeText(s: string, max = MAX_ERROR_CHARS): string {
  // Almost every string is plain printable text: return it (or its head) without rebuilding
  // it a character at a time. The class is isUnsafe's set; with `u`, \p{Cs} matches only lone
  // surrogates, as the loop below does.
  if (s.length <= max ? !UNSAFE.test(s) : !UNSAFE.test(s.slice(0, max + 1))) {
    if (s.length <= max) return s;
    // Do not cut a surrogate pair in half.
    const cut = s.charCodeAt(max - 1) >= 0xd800 && s.charCodeAt(max - 1) <= 0xdbff ? max - 1 : max;
    return s.slice(0, cut);
  }
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    const piece = isUnsafe(cp) ? escapeCodePoint(cp) : ch;
    if (out.length + piece.length > max) break;
    out += piece;
    if (out.length === max) break;
  }
  return out;
}

/**
 * The error code: the first word of an error reply when it is an upper-case identifier
 * (`NOAUTH`, `DENIED`, `ERR`, …), which is the Redis convention. Anything else — lower-case,
 * punctuation, escape sequences — is reported as the generic `ERR`, so `detail` stays a small
 * safe vocabulary whatever a hostile server sends.
 */
export function errorCode(line: string): string {
  const m = /^[A-Z][A-Z0-9_]{0,31}(?=\s|$)/.exec(line.slice(0, 33));
  return m ? m[0] : "ERR";
}

/** Text of a string-like reply (simple, bulk, verbatim, numbers); undefined for aggregates. */
export function respText(v: RespValue | undefined): string | undefined {
  if (v === undefined) return undefined;
  switch (v.type) {
    case "simple":
    case "error":
      return v.value;
    case "bulk":
      return v.value === null ? undefined : v.value.toString("utf8");
    case "verbatim":
      return stripVerbatimPrefix(v.value.toString("utf8"));
    case "integer":
    case "bignum":
      return v.value.toString();
    case "double":
      return String(v.value);
    case "boolean":
      return v.value ? "true" : "false";
    default:
      return undefined;
  }
}

/**
 * A RESP3 verbatim string is `=<len>\r\ntxt:<payload>`. Decoders normally split the `txt:` part
 * into `format`; should one leave it in the payload, drop it here (INFO never starts with it).
 */
function stripVerbatimPrefix(s: string): string {
  return /^(txt|mkd):/.test(s) ? s.slice(4) : s;
}

/** Non-negative integer from a decimal string, only when it is exact in a JS number. */
export function safeInt(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!/^\d{1,16}$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}
