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
  private order: string[] = [];

  get size(): number {
    return this.scores.size;
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

  /** Members set or deleted in a batch: the order is rebuilt once, at its end. */
  private batch: { touched: boolean } | undefined;

  /**
   * Many changes in one command (ZADD or ZREM of thousands of members): scores change at
   * once, the order is sorted again once at the end, instead of one splice per member.
   * Only score() may be asked in between.
   */
  batched<T>(big: boolean, fn: () => T): T {
    if (!big) return fn();
    this.batch = { touched: false };
    try {
      return fn();
    } finally {
      const touched = this.batch.touched;
      this.batch = undefined;
      if (touched) this.resort();
    }
  }

  private resort(): void {
    // Array.from, not a spread into push: a spread of 100,000s of members overflows the stack.
    const pairs = Array.from(this.scores, ([m, sc]) => ({ m, sc }));
    pairs.sort((a, b) => (a.sc < b.sc ? -1 : a.sc > b.sc ? 1 : a.m < b.m ? -1 : a.m > b.m ? 1 : 0));
    this.order = pairs.map((p) => p.m);
  }

  /** Set a member's score (adding it when new); true when it was new. */
  set(member: string, score: number): boolean {
    const old = this.scores.get(member);
    if (this.batch !== undefined) {
      if (old !== score || old === undefined) {
        this.scores.set(member, score);
        this.batch.touched = true;
      }
      return old === undefined;
    }
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
    if (this.batch !== undefined) {
      this.scores.delete(member);
      this.batch.touched = true;
      return true;
    }
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
    out.order = this.order.slice();
    return out;
  }

  /** Build from pairs in any order (a later pair for the same member wins). */
  static from(pairs: Iterable<[string, number]>): SortedSet {
    const out = new SortedSet();
    for (const [m, s] of pairs) out.scores.set(m, s);
    out.resort();
    return out;
  }
}
