/**
 * Timeouts of the blocking commands, read as Redis's getTimeoutFromObjectOrReply (timeout.c)
 * reads them: seconds (BLPOP …) or milliseconds (XREAD BLOCK), refused with the version's words.
 */
import { parseInt64 } from "./integers.js";
import { parseLongDouble } from "./long-double.js";
import type { CommandContext } from "./spec.js";

/** Milliseconds to wait (0: no timeout), or the error text. */
export function timeoutArg(
  c: CommandContext,
  i: number,
  unit: "seconds" | "milliseconds",
): number | { error: string } {
  const text = c.arg(i);
  let ms: number;
  if (unit === "seconds" && c.era.at("6.0")) {
    // Seconds as a long double from 6.0 (an integer before), rounded up to ms from 7.0.
    const parsed = parseLongDouble(text);
    if (parsed === undefined) return { error: "ERR timeout is not a float or out of range" };
    if (parsed === "inf") {
      // +inf: 7.2 refuses it; before, the cast to long long made it LLONG_MIN (negative).
      return {
        error:
          c.era.at("7.2") && !text.startsWith("-")
            ? "ERR timeout is out of range"
            : "ERR timeout is negative",
      };
    }
    const seconds = Number(parsed.mantissa) * 2 ** parsed.exponent * (parsed.negative ? -1 : 1);
    const scaled = seconds * 1000;
    ms = c.era.at("7.0") ? Math.ceil(scaled) : Math.trunc(scaled);
    if (c.era.at("7.2") && scaled > 9.2e18) return { error: "ERR timeout is out of range" };
  } else {
    const n = parseInt64(text);
    if (n === undefined) return { error: "ERR timeout is not an integer or out of range" };
    ms = Number(n) * (unit === "seconds" ? 1000 : 1);
  }
  if (ms < 0 || Object.is(ms, -0)) return ms < 0 ? { error: "ERR timeout is negative" } : 0;
  return ms;
}
