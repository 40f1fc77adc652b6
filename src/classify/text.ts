/**
 * Reading what a reply says: its error code, its text, an integer in it. What may be kept of
 * such text, and how it is shown, is src/untrusted/text.ts.
 */

import type { RespValue } from "../resp/types.js";

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
