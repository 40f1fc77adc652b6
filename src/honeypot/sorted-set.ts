/**
 * A sorted set as Redis orders it (t_zset.c's skiplist and listpack agree): by score, ties by
 * member bytes (memcmp, then the shorter first). Members are latin1 strings (one character per
 * byte), whose `<` is exactly that order. Kept as a score map and a sorted member array:
 * lookups by member are a Map get, ranks a binary search, inserts a splice.
 */

/** Is (sa, a) before (sb, b) in Redis's order? */
function before(sa: number, a: string, sb: number, b: string): boolean {
  return sa < sb || (sa === sb && a < b);
}

export class SortedSet {
  readonly scores = new Map<string, number>();
  private readonly order: string[] = [];

  get size(): number {
    return this.order.length;
  }

  score(member: string): number | undefined {
    return this.scores.get(member);
  }

  /** Index where (score, member) is or would go. */
  private position(score: number, member: string): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.order[mid]!;
      if (before(this.scores.get(m)!, m, score, member)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Set a member's score (adding it when new); true when it was new. */
  set(member: string, score: number): boolean {
    const old = this.scores.get(member);
    if (old !== undefined) {
      if (old === score) return false;
      this.order.splice(this.position(old, member), 1);
    }
    const at = this.position(score, member);
    this.scores.set(member, score);
    this.order.splice(at, 0, member);
    return old === undefined;
  }

  delete(member: string): boolean {
    const old = this.scores.get(member);
    if (old === undefined) return false;
    this.order.splice(this.position(old, member), 1);
    this.scores.delete(member);
    return true;
  }

  /** 0-based rank from the lowest, or undefined. */
  rank(member: string): number | undefined {
    const s = this.scores.get(member);
    return s === undefined ? undefined : this.position(s, member);
  }

  /** The member at rank i. */
  at(i: number): string {
    return this.order[i]!;
  }

  /** Members from rank `from` to `to` inclusive. */
  slice(from: number, to: number): string[] {
    return this.order.slice(from, to + 1);
  }

  /** First rank whose element is not before the bound (min, exclusive?). */
  firstAtLeast(test: (score: number, member: string) => boolean): number {
    // `test` is monotone over the order: false … false true … true.
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.order[mid]!;
      if (test(this.scores.get(m)!, m)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Remove ranks from..to inclusive; returns the members removed. */
  removeRange(from: number, to: number): string[] {
    const gone = this.order.splice(from, to - from + 1);
    for (const m of gone) this.scores.delete(m);
    return gone;
  }

  members(): readonly string[] {
    return this.order;
  }

  copy(): SortedSet {
    const out = new SortedSet();
    for (const m of this.order) out.scores.set(m, this.scores.get(m)!);
    out.order.push(...this.order);
    return out;
  }

  /** Build from pairs in any order (a later pair for the same member wins). */
  static from(pairs: Iterable<[string, number]>): SortedSet {
    const out = new SortedSet();
    for (const [m, s] of pairs) out.scores.set(m, s);
    out.order.push(...out.scores.keys());
    const sc = out.scores;
    out.order.sort((a, b) => {
      const x = sc.get(a)!;
      const y = sc.get(b)!;
      return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0;
    });
    return out;
  }
}
