/**
 * Integers as handlers read them from arguments and stored values.
 */
import type { CommandContext } from "./spec.js";

export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);

/** Redis's string2ll: an optional minus, no plus, no leading zeros, within int64. */
export function parseInt64(text: string): bigint | undefined {
  if (!/^(0|-?[1-9][0-9]{0,19})$/.test(text)) return undefined;
  const n = BigInt(text);
  return n > INT64_MAX || n < INT64_MIN ? undefined : n;
}

/** An integer argument that fits a JS number (counts, indexes, TTLs). */
export function intArg(c: CommandContext, i: number): number | undefined {
  const n = parseInt64(c.arg(i));
  return n === undefined ? undefined : Number(n);
}

/**
 * A decimal integer of at most 16 digits (exact in a JS number), as the connection, replication
 * and scripting commands read theirs (protocol versions, ports, client ids, numkeys).
 */
export function parseInteger(text: string): number | undefined {
  return /^(0|-?[1-9][0-9]{0,15})$/.test(text) ? Number(text) : undefined;
}
