/**
 * Sets of addresses as sorted, disjoint, inclusive [start, end] bigint intervals. Everything the
 * target engine does with address sets (union, reserved and excluded subtraction, membership)
 * costs O(number of intervals), never O(number of addresses).
 */

export interface Interval {
  start: bigint;
  end: bigint;
}

/** Union of arbitrary intervals → sorted, disjoint, non-adjacent intervals. */
export function mergeIntervals(list: readonly Interval[]): Interval[] {
  const sorted = list
    .map((r) => ({ start: r.start, end: r.end }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Interval[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.start <= last.end + 1n) {
      if (r.end > last.end) last.end = r.end;
    } else {
      out.push(r);
    }
  }
  return out;
}

/** Number of addresses in a merged interval list. */
export function countAddresses(list: readonly Interval[]): bigint {
  let n = 0n;
  for (const r of list) n += r.end - r.start + 1n;
  return n;
}

/**
 * a minus b (both merged). Returns the remaining intervals and how many addresses of a were
 * removed. One linear sweep over both lists.
 */
export function subtractIntervals(
  a: readonly Interval[],
  b: readonly Interval[],
): { rest: Interval[]; removed: bigint } {
  const rest: Interval[] = [];
  let removed = 0n;
  let j = 0;
  for (const r of a) {
    let start = r.start;
    const end = r.end;
    while (j < b.length && b[j]!.end < start) j++;
    let k = j;
    while (start <= end) {
      const cut = b[k];
      if (cut === undefined || cut.start > end) {
        rest.push({ start, end });
        break;
      }
      if (cut.start > start) rest.push({ start, end: cut.start - 1n });
      // bigint: no Math.min/max.
      let cutEnd = end;
      if (cut.end < end) cutEnd = cut.end;
      let cutStart = start;
      if (cut.start > start) cutStart = cut.start;
      removed += cutEnd - cutStart + 1n;
      start = cutEnd + 1n;
      k++;
    }
  }
  return { rest, removed };
}

/** Index of the merged interval containing value, or -1. */
export function findInterval(list: readonly Interval[], value: bigint): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const r = list[mid]!;
    if (value < r.start) hi = mid - 1;
    else if (value > r.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Addresses of the merged list that lie in [start, end]: a binary search, then the overlap. */
export function countWithin(list: readonly Interval[], start: bigint, end: bigint): bigint {
  let lo = 0;
  let hi = list.length;
  // First interval that ends at or after start.
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.end < start) lo = mid + 1;
    else hi = mid;
  }
  let n = 0n;
  for (let i = lo; i < list.length && list[i]!.start <= end; i++) {
    const r = list[i]!;
    const s = r.start > start ? r.start : start;
    const e = r.end < end ? r.end : end;
    n += e - s + 1n;
  }
  return n;
}
