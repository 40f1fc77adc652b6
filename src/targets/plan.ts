/**
 * What a dry run tells before a scan: which rule took which addresses out of the targets (each
 * default-blocklist entry, each exclude entry), and what `--allow-reserved RANGES` let through.
 * The target space itself (space.ts) only keeps the totals; this names the rules.
 */
import { countWithin, type Interval, mergeIntervals, subtractIntervals } from "../net/intervals.js";
import type { IpFamily } from "../net/ip.js";
import { reservedIntervals, reservedRanges } from "../net/reserved.js";
import { Blocklist } from "./blocklist.js";
import type { TargetSpaceOptions } from "./space.js";
import type { TargetInput } from "./spec.js";

export interface RuleCount {
  /** The rule as the user knows it: "10.0.0.0/8 (private-use)", "192.0.2.7 (optout.txt:3)". */
  rule: string;
  addresses: bigint;
}

export interface SpaceBreakdown {
  /** Addresses the default blocklist removed, per entry (each address counted once, under the
   * smallest entry holding it), largest first. */
  reserved: RuleCount[];
  /** Addresses inside the default blocklist that `--allow-reserved` let through. */
  allowedReserved: bigint;
  /** Addresses (and explicit pairs, one each) per exclude entry, largest first; an address two
   * overlapping entries name counts under both. */
  excluded: RuleCount[];
}

/** The breakdown for parsed targets (hostnames resolved) under a scan's options. */
export function spaceBreakdown(input: TargetInput, opts: TargetSpaceOptions): SpaceBreakdown {
  const blocklist = new Blocklist(opts.allowReserved);
  const reserved: RuleCount[] = [];
  const excluded = new Map<string, bigint>();
  let allowedReserved = 0n;
  // Smallest first, so an address in nested entries counts once, under the narrowest.
  const entries = [...reservedRanges()].sort((a, b) =>
    a.end - a.start < b.end - b.start ? -1 : a.end - a.start > b.end - b.start ? 1 : 0,
  );
  for (const family of [4, 6] as const satisfies readonly IpFamily[]) {
    const targets = mergeIntervals(input.ranges.filter((r) => r.family === family));
    if (targets.length > 0) {
      allowedReserved +=
        countIn(targets, reservedIntervals(family)) - countIn(targets, blocklist.intervals(family));
    }
    let left: Interval[] = targets;
    const blocked = blocklist.intervals(family);
    for (const e of entries) {
      if (e.family !== family || left.length === 0) continue;
      // Only the blocked part of the entry removes anything (the rest was allowed): e − (e − blocked).
      const blockedPart = subtractIntervals([e], subtractIntervals([e], blocked).rest).rest;
      const cut = subtractIntervals(left, blockedPart);
      if (cut.removed > 0n) {
        reserved.push({ rule: `${e.cidr} (${e.name})`, addresses: cut.removed });
        left = cut.rest;
      }
    }
    const pairs = input.pairs.filter((p) => p.family === family);
    for (const x of opts.exclude) {
      if (x.family !== family) continue;
      let n = countWithin(left, x.start, x.end);
      for (const p of pairs) if (p.ip >= x.start && p.ip <= x.end) n++;
      if (n > 0n) excluded.set(x.source, (excluded.get(x.source) ?? 0n) + n);
    }
  }
  const bySize = (a: RuleCount, b: RuleCount): number =>
    a.addresses > b.addresses ? -1 : a.addresses < b.addresses ? 1 : 0;
  return {
    reserved: reserved.sort(bySize),
    allowedReserved,
    excluded: [...excluded].map(([rule, addresses]) => ({ rule, addresses })).sort(bySize),
  };
}

/** Addresses of `a` inside `b` (both merged). */
function countIn(a: readonly Interval[], b: readonly Interval[]): bigint {
  let n = 0n;
  for (const r of b) n += countWithin(a, r.start, r.end);
  return n;
}
