import type { DecoderLimits } from "./types.js";

/**
 * What a scanner accepts from a server it does not trust. Real replies to the probe suite are
 * a few KiB (INFO); a MiB of bulk is far above any of them and far below what would hurt a scan
 * running thousands of connections at once.
 */
export const DEFAULT_REPLY_LIMITS: Readonly<DecoderLimits> = Object.freeze({
  maxLineBytes: 64 * 1024,
  maxBulkBytes: 1024 * 1024,
  maxElements: 100_000,
  maxDepth: 32,
});

export function resolveLimits(
  base: Readonly<DecoderLimits>,
  overrides: Partial<DecoderLimits> | undefined,
): DecoderLimits {
  const limits = { ...base };
  for (const key of Object.keys(base) as Array<keyof DecoderLimits>) {
    const value = overrides?.[key];
    if (value !== undefined) limits[key] = value;
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`decoder limit ${name} must be a non-negative integer, got ${value}`);
    }
  }
  return limits;
}
