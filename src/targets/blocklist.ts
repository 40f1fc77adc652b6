/**
 * The default blocklist as a scan applies it (a target inside reserved space is refused with a
 * line that says how to allow it), and the user's exclude files (opt-outs, always honoured,
 * never an error). The ranges themselves are src/net/reserved.ts.
 */
import {
  findInterval,
  type Interval,
  mergeIntervals,
  subtractIntervals,
} from "../net/intervals.js";
import type { IpFamily } from "../net/ip.js";
import { type ParsedReservedRange, reservedIntervals, reservedRanges } from "../net/reserved.js";
import { quote, TargetSpecError } from "./errors.js";
import { type AddressRange, parseAddressRange } from "./spec.js";

/**
 * Which reserved ranges a scan may enter: none (false, the default), all (true, a bare
 * `--allow-reserved`), or only the ranges named (`--allow-reserved 10.0.0.0/8,127.0.0.0/8`).
 */
export type ReservedAllowance = boolean | readonly AddressRange[];

function describe(r: ParsedReservedRange): string {
  return `${r.cidr} (${r.name}, ${r.rfc})`;
}

/**
 * The blocklist one scan applies: the default blocklist minus the ranges the user allowed.
 * Everything that refuses or skips reserved space (the target space, streamed lines, a dry run's
 * counts) asks this one object.
 */
export class Blocklist {
  private readonly blocked: Record<IpFamily, readonly Interval[]>;

  constructor(readonly allowance: ReservedAllowance) {
    const blocked = (family: IpFamily): readonly Interval[] => {
      if (allowance === true) return [];
      if (allowance === false) return reservedIntervals(family);
      const allowed = mergeIntervals(allowance.filter((r) => r.family === family));
      return subtractIntervals(reservedIntervals(family), allowed).rest;
    };
    this.blocked = { 4: blocked(4), 6: blocked(6) };
  }

  /** The blocked addresses of one family, as merged intervals (empty when all are allowed). */
  intervals(family: IpFamily): readonly Interval[] {
    return this.blocked[family];
  }

  /** Is this address blocked? */
  blocks(family: IpFamily, value: bigint): boolean {
    return findInterval(this.blocked[family], value) >= 0;
  }

  /** The smallest default-blocklist entry holding a blocked address (for messages). */
  entryFor(family: IpFamily, value: bigint): ParsedReservedRange | undefined {
    if (!this.blocks(family, value)) return undefined;
    let best: ParsedReservedRange | undefined;
    for (const r of reservedRanges()) {
      if (r.family !== family || value < r.start || value > r.end) continue;
      if (best === undefined || r.end - r.start < best.end - best.start) best = r;
    }
    return best;
  }

  /**
   * When [start, end] lies entirely inside the blocked space, the one-line refusal for the
   * target named `source`; otherwise undefined (partial overlaps are skipped silently by the
   * caller). Names the smallest blocklist entry that contains the whole target, or, when only
   * several entries together cover it, those entries, and the flag that allows exactly them.
   */
  refusal(source: string, family: IpFamily, start: bigint, end: bigint): string | undefined {
    // Merged intervals are maximal: the union covers the target iff one of them contains it.
    const union = this.blocked[family];
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
    const named = best !== undefined ? [best] : touching;
    const where =
      best !== undefined
        ? `is in ${describe(best)}`
        : `is covered by ${touching.map(describe).join(" and ")}`;
    return (
      `target ${source} ${where}, which redscope does not scan by default; ` +
      `pass --allow-reserved ${named.map((r) => r.cidr).join(",")} to scan it (e.g. your own network)`
    );
  }
}

/**
 * The value of `--allow-reserved RANGES`: `all`, or CIDRs (IPv4 and IPv6) separated by commas,
 * each of which must overlap the default blocklist (a range that does not is a typo: it would
 * allow nothing). Throws TargetSpecError with a one-line message.
 */
export function parseReservedAllowance(text: string): ReservedAllowance {
  if (text.trim() === "all") return true;
  const out: AddressRange[] = [];
  for (const raw of text.split(",")) {
    const token = raw.trim();
    if (!token.includes("/")) {
      throw new TargetSpecError(
        `--allow-reserved ${quote(token)}: expected CIDRs such as 10.0.0.0/8,fc00::/7 (or all)`,
      );
    }
    let range: ReturnType<typeof parseAddressRange>;
    try {
      range = parseAddressRange(token);
    } catch (e) {
      throw e instanceof TargetSpecError
        ? new TargetSpecError(`--allow-reserved: ${e.message}`)
        : e;
    }
    if (range === undefined) {
      throw new TargetSpecError(`--allow-reserved ${quote(token)}: not a CIDR`);
    }
    const inside = reservedIntervals(range.family).some(
      (r) => r.start <= range.end && range.start <= r.end,
    );
    if (!inside) {
      throw new TargetSpecError(
        `--allow-reserved ${quote(token)}: not in the default blocklist, so there is nothing to allow`,
      );
    }
    out.push({ ...range, source: token });
  }
  return out;
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
