/**
 * The dashboard's bounded memory (sessions, failed-login counts, made reports, CVE indexes): a
 * Map of at most `max` entries that forgets the least recently used one when a new one comes,
 * one at a time — never everything at once, which would also free whom it holds back.
 */
export class Lru<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly max: number) {}

  /** The value, now the most recently used. */
  get(key: K): V | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      // A Map keeps insertion order: re-inserting moves the key to the end.
      this.entries.delete(key);
      this.entries.set(key, v);
    }
    return v;
  }

  /** Keep `value` as the most recently used; past `max`, the least recently used goes. */
  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) {
      this.entries.delete(this.entries.keys().next().value as K);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
