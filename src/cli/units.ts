import { fail } from "./errors.js";

/** "500ms", "5s", "2m", or a bare number of seconds → milliseconds. */
export function parseDuration(flag: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) fail(`invalid ${flag} "${s}": use a duration like 500ms, 5s or 2m`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const ms =
    unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n * 3_600_000;
  if (!(ms >= 1) || ms > 86_400_000) fail(`invalid ${flag} "${s}": must be between 1ms and 24h`);
  return Math.round(ms);
}

/** "65536", "64k", "1m", "2g" (binary multiples) → bytes, within [min, max]. */
export function parseBytes(flag: string, s: string, min = 64, max = 1024 ** 3): number {
  const m = /^(\d+)([kmg]i?b?)?$/i.exec(s.trim());
  if (!m) fail(`invalid ${flag} "${s}": use a size like 65536, 64k or 1m`);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "")[0]?.toLowerCase() ?? ""] ?? 1;
  const n = Number(m[1]) * mult;
  if (n < min || n > max) {
    fail(`invalid ${flag} "${s}": must be between ${sizeText(min)} and ${sizeText(max)}`);
  }
  return n;
}

/** 65536 → "64k", 1073741824 → "1g", 64 → "64 bytes": as parseBytes reads them. */
function sizeText(n: number): string {
  for (const [unit, size] of [
    ["g", 1024 ** 3],
    ["m", 1024 ** 2],
    ["k", 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n} bytes`;
}

/** A whole number in [min, max]. */
export function parseIntIn(flag: string, s: string, min: number, max: number): number {
  if (!/^\d+$/.test(s.trim())) fail(`invalid ${flag} "${s}": expected a whole number`);
  const n = Number(s);
  if (n < min || n > max) fail(`invalid ${flag} "${s}": must be between ${min} and ${max}`);
  return n;
}
