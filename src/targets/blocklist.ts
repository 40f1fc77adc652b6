/**
 * The default blocklist as a scan applies it (a target inside reserved space is refused with a
 * line that says how to allow it), and the user's exclude files (opt-outs, always honoured,
 * never an error). The ranges themselves are src/net/reserved.ts.
 */
import { findInterval } from "../net/intervals.js";
import type { IpFamily } from "../net/ip.js";
import { type ParsedReservedRange, reservedIntervals, reservedRanges } from "../net/reserved.js";
import { quote, TargetSpecError } from "./errors.js";
import { type AddressRange, parseAddressRange } from "./spec.js";

function describe(r: ParsedReservedRange): string {
  return `${r.cidr} (${r.name}, ${r.rfc})`;
}

/**
 * When [start, end] lies entirely inside the default blocklist, the one-line refusal for the
 * target named `source`; otherwise undefined (partial overlaps are skipped silently by the
 * caller). Names the smallest blocklist entry that contains the whole target, or, when only
 * several entries together cover it, those entries.
 */
export function reservedRefusal(
  source: string,
  family: IpFamily,
  start: bigint,
  end: bigint,
): string | undefined {
  // Merged intervals are maximal: the union covers the target iff one of them contains it.
  const union = reservedIntervals(family);
  const at = findInterval(union, start);
  if (at < 0 || union[at]!.end < end) return undefined;
  let best: ParsedReservedRange | undefined;
  const touching: ParsedReservedRange[] = [];
  for (const r of reservedRanges()) {
    if (r.family !== family || r.end < start || r.start > end) continue;
    touching.push(r);
    if (
      r.start <= start &&
      end <= r.end &&
      (best === undefined || r.end - r.start < best.end - best.start)
    ) {
      best = r;
    }
  }
  const where =
    best !== undefined
      ? `is in ${describe(best)}`
      : `is covered by ${touching.map(describe).join(" and ")}`;
  return (
    `target ${source} ${where}, which redscope does not scan by default; ` +
    `pass --allow-reserved to scan it (e.g. your own network)`
  );
}

/**
 * An exclude file (`--exclude FILE`): addresses, CIDRs and ranges, separated by whitespace or
 * commas, `#` comments — the format of zmap's blocklist.conf and masscan's --excludefile.
 * Malformed lines are errors (an opt-out list that silently lost an entry would scan someone
 * who asked not to be scanned).
 */
export function parseExcludeText(text: string, sourceName: string): AddressRange[] {
  const out: AddressRange[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const where = `${sourceName}:${i + 1}`;
    let line = lines[i]!;
    const hash = line.indexOf("#");
    if (hash >= 0) line = line.slice(0, hash);
    for (const token of line.split(/[\s,]+/)) {
      if (token === "") continue;
      let range: ReturnType<typeof parseAddressRange>;
      try {
        range = parseAddressRange(token);
      } catch (e) {
        throw e instanceof TargetSpecError ? new TargetSpecError(`${where}: ${e.message}`) : e;
      }
      if (range === undefined) {
        throw new TargetSpecError(
          `${where}: invalid exclude entry ${quote(token)}: expected an address, CIDR or range`,
        );
      }
      out.push({ ...range, source: `${token} (${where})` });
    }
  }
  return out;
}
