/**
 * One session's make-believe data: 16 databases of strings, lists, hashes and sets with TTLs,
 * so that attack chains (SET a payload, CONFIG SET, SAVE; FLUSHALL then write a ransom note)
 * see their own writes. Bounded: a cap on keys and on bytes per session, checked before every
 * write, so the honeypot's memory per visitor is fixed however hard it is flooded. Over the cap
 * a write fails the way a server at maxmemory does (the caller replies -OOM).
 *
 * Keys, hash fields and set members are kept as latin1 strings: one character per byte, so
 * any byte string round-trips and Map/Set give exact-byte equality.
 *
 * Two counts of the same data: `bytes`, Redis's own sizes (INFO used_memory, the per-session
 * cap), and what it costs this process, drawn from the session's memory account (memory.ts)
 * so that all sessions' keyspaces together stay inside the honeypot's memory budget.
 *
 * A string value is kept up to the request reader's prefix (64 KB); a longer one keeps its
 * first bytes and the length the visitor sent, so STRLEN and APPEND answer as Redis would.
 */
import { BlockedClients } from "./blocking.js";
import type { MemoryAccount } from "./memory.js";
import type { SortedSet } from "./sorted-set.js";
import { copyStream, newStream, type StreamValue } from "./stream.js";

export type RedisValue =
  /**
   * `raw`: the bytes Redis would have allocated for a string grown in place (APPEND), which it
   * keeps raw-encoded with spare room.
   */
  | {
      type: "string";
      value: Buffer;
      raw?: number;
      /** The length the visitor sent, when `value` holds only its first bytes. */
      length?: number;
    }
  | { type: "list"; value: Buffer[] }
  | { type: "hash"; value: Map<string, Buffer> }
  | { type: "set"; value: Set<string> }
  | { type: "zset"; value: SortedSet }
  /** Charged as its commands grow it (resize): entries, groups, consumers, pending entries. */
  | { type: "stream"; value: StreamValue; bytes: number };

export type ValueType = RedisValue["type"];

interface Entry {
  data: RedisValue;
  /** Absolute expiry in ms, if the key has a TTL. */
  expiresAt?: number;
  /** Bytes charged to the session for this key (see entryBytes). */
  bytes: number;
}

export interface KeyspaceLimits {
  maxKeys: number;
  maxBytes: number;
}

export const DEFAULT_KEYSPACE_LIMITS: Readonly<KeyspaceLimits> = Object.freeze({
  maxKeys: 10_000,
  maxBytes: 8 * 1024 * 1024,
});

export const DATABASES = 16;

/** The key holds another type than the command works on. */
export const WRONG_TYPE = Symbol("WRONGTYPE");
/** The write would take the session over its cap. */
export const OUT_OF_MEMORY = Symbol("OOM");

/** Per-key and per-element overheads: rough sizes of Redis's own structures. */
const KEY_OVERHEAD = 56;
const ELEMENT_OVERHEAD = 16;

function elementBytes(data: RedisValue): number {
  switch (data.type) {
    case "string":
      return data.value.length;
    case "list": {
      let n = 0;
      for (const item of data.value) n += item.length + ELEMENT_OVERHEAD;
      return n;
    }
    case "hash": {
      let n = 0;
      for (const [field, value] of data.value) n += field.length + value.length + ELEMENT_OVERHEAD;
      return n;
    }
    case "set": {
      let n = 0;
      for (const member of data.value) n += member.length + ELEMENT_OVERHEAD;
      return n;
    }
    case "zset": {
      let n = 0;
      for (const member of data.value.members()) n += zsetMemberBytes(member);
      return n;
    }
    case "stream":
      return data.bytes;
  }
}

/** What one sorted-set member costs the keyspace: its bytes, its score, the overhead. */
export function zsetMemberBytes(member: string): number {
  return member.length + 8 + ELEMENT_OVERHEAD;
}

/** A value as a new key of its own holds it (COPY): nothing shared with the original. */
function duplicate(data: RedisValue): RedisValue {
  switch (data.type) {
    case "string": {
      const out: RedisValue = { type: "string", value: Buffer.from(data.value) };
      if (data.length !== undefined) out.length = data.length;
      return out;
    }
    case "list":
      return { type: "list", value: data.value.map((b) => Buffer.from(b)) };
    case "hash":
      return { type: "hash", value: new Map(data.value) };
    case "set":
      return { type: "set", value: new Set(data.value) };
    case "zset":
      return { type: "zset", value: data.value.copy() };
    case "stream":
      return { type: "stream", value: copyStream(data.value), bytes: data.bytes };
  }
}

function entryBytes(key: string, data: RedisValue): number {
  return KEY_OVERHEAD + key.length + elementBytes(data);
}

/**
 * What a key and an element cost this process beyond the bytes counted for them (the Map slot,
 * the Entry and value objects, a Buffer's objects and its own backing store). Measured on
 * Node 20 (heap and array buffers, 100,000 of each): a key with a 5-byte string value takes
 * 350 bytes where 69 are counted; a list element or hash field 220–270 where about 20 are; a
 * set member (a string) 50. The larger figures are used for all.
 */
const PROCESS_KEY_BYTES = 288;
const PROCESS_ELEMENT_BYTES = 256;

/** Elements beside the key: list items, hash fields, set members (a string has none). */
function elementCount(data: RedisValue): number {
  switch (data.type) {
    case "string":
      return 0;
    case "list":
      return data.value.length;
    case "stream":
      return data.value.charged;
    default:
      return data.value.size;
  }
}

/**
 * The value as memory of its own. A request reader's argument is a view of the whole request
 * (or of a pooled slab shared with other allocations): keeping the view would keep all of it
 * while only the value is counted. Copied outside the pool for the same reason.
 */
function own(b: Buffer): Buffer {
  if (b.byteOffset === 0 && b.buffer.byteLength === b.length) return b;
  const copy = Buffer.allocUnsafeSlow(b.length);
  b.copy(copy);
  return copy;
}

/**
 * Redis's stringmatchlen: `*`, `?`, `[abc]`, `[^a-z]`, `\x`. Iterative, backtracking only to
 * the last `*`, so a hostile pattern costs at most pattern × string steps.
 */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let starP = -1;
  let starI = 0;
  while (i < s.length) {
    if (p < pattern.length) {
      const c = pattern[p]!;
      if (c === "*") {
        while (pattern[p] === "*") p++;
        if (p === pattern.length) return true;
        starP = p;
        starI = i;
        continue;
      }
      const step = matchOne(pattern, p, s[i]!);
      if (step > 0) {
        p += step;
        i++;
        continue;
      }
    }
    if (starP < 0) return false;
    p = starP;
    i = ++starI;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * Does the single-character token at pattern[p] match ch? Returns the token's length in the
 * pattern, or 0 for no match.
 */
function matchOne(pattern: string, p: number, ch: string): number {
  const c = pattern[p]!;
  if (c === "?") return 1;
  if (c === "\\" && p + 1 < pattern.length) return pattern[p + 1] === ch ? 2 : 0;
  if (c !== "[") return c === ch ? 1 : 0;
  let q = p + 1;
  const negate = pattern[q] === "^";
  if (negate) q++;
  let matched = false;
  while (q < pattern.length && pattern[q] !== "]") {
    if (pattern[q] === "\\" && q + 1 < pattern.length) {
      if (pattern[q + 1] === ch) matched = true;
      q += 2;
    } else if (pattern[q + 1] === "-" && q + 2 < pattern.length && pattern[q + 2] !== "]") {
      let lo = pattern[q]!;
      let hi = pattern[q + 2]!;
      if (lo > hi) [lo, hi] = [hi, lo];
      if (ch >= lo && ch <= hi) matched = true;
      q += 3;
    } else {
      if (pattern[q] === ch) matched = true;
      q++;
    }
  }
  // An unterminated class ends at the pattern's end, as in stringmatchlen.
  const length = q - p + (q < pattern.length ? 1 : 0);
  return matched !== negate ? length : 0;
}

export interface DbStats {
  db: number;
  keys: number;
  expires: number;
  avgTtl: number;
}

export class Keyspace {
  /** The 16 databases, each made when first used (most sessions touch one at most). */
  private readonly dbs: Array<Map<string, Entry> | undefined> = new Array(DATABASES).fill(
    undefined,
  );
  private keyCount = 0;
  private byteCount = 0;
  /**
   * WATCH's per-key modification counters, kept only for keys some connection watches: the
   * stamp of the key's last change (from one counter for the whole keyspace, so a key deleted
   * and made again never shows an old stamp) and how many watchers hold it. Works the same
   * whether one connection or every connection of a source shares this keyspace.
   */
  private readonly watched = new Map<string, { stamp: number; watchers: number }>();
  private modifications = 0;

  constructor(
    private readonly limits: KeyspaceLimits,
    private readonly now: () => number,
    /** Told how many keys expired (INFO expired_keys). */
    private readonly onExpire: (n: number) => void = () => {},
    /** Where the process memory the keys cost is drawn from (none: not counted). */
    private readonly memory?: MemoryAccount,
  ) {}

  /**
   * The clients blocked on this keyspace's keys (BLPOP …): writes that may serve them signal
   * the key; whoever shares the keyspace shares its waiters.
   */
  readonly blocked = new BlockedClients();

  private db(i: number): Map<string, Entry> {
    let map = this.dbs[i];
    if (map === undefined) {
      map = new Map();
      this.dbs[i] = map;
    }
    return map;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /**
   * Could `bytes` more be stored? Asked before building a large value (SETBIT far out, SORT
   * STORE) so that what the cap would refuse is never allocated.
   */
  fits(bytes: number): boolean {
    return this.byteCount + bytes <= this.limits.maxBytes;
  }

  /** The entry, after dropping it if its TTL passed. */
  private entry(db: number, key: string): Entry | undefined {
    const map = this.db(db);
    const e = map.get(key);
    if (e !== undefined && e.expiresAt !== undefined && e.expiresAt <= this.now()) {
      this.remove(map, key, e);
      this.onExpire(1);
      return undefined;
    }
    return e;
  }

  private remove(map: Map<string, Entry>, key: string, e: Entry): void {
    if (this.watched.size > 0) this.touch(this.dbs.indexOf(map), key);
    map.delete(key);
    this.count(-e.bytes, -elementCount(e.data), -1);
  }

  /**
   * Count `bytes` more (Redis's sizes), `elements` and `keys` more, and what they cost the
   * process; false, with nothing counted, when that would go over a cap or the memory account
   * refuses. Only growth is ever refused.
   */
  private grow(bytes: number, elements: number, keys: number): boolean {
    if (keys > 0 && this.keyCount + keys > this.limits.maxKeys) return false;
    if (bytes > 0 && this.byteCount + bytes > this.limits.maxBytes) return false;
    const cost = bytes + elements * PROCESS_ELEMENT_BYTES + keys * PROCESS_KEY_BYTES;
    if (cost > 0 && this.memory !== undefined && !this.memory.take(cost)) return false;
    this.byteCount += bytes;
    this.keyCount += keys;
    if (cost < 0) this.memory?.give(-cost);
    return true;
  }

  /** Count a change that is never refused (shrinking, or a rename). */
  private count(bytes: number, elements: number, keys: number): void {
    const cost = bytes + elements * PROCESS_ELEMENT_BYTES + keys * PROCESS_KEY_BYTES;
    if (cost > 0) this.memory?.force(cost);
    else if (cost < 0) this.memory?.give(-cost);
    this.byteCount += bytes;
    this.keyCount += keys;
  }

  /** Store `data` under key (replacing any value), charging its size; false when over the cap. */
  private store(db: number, key: string, data: RedisValue, expiresAt: number | undefined): boolean {
    const map = this.db(db);
    const old = this.entry(db, key);
    const bytes = entryBytes(key, data);
    const elements = elementCount(data) - (old === undefined ? 0 : elementCount(old.data));
    if (!this.grow(bytes - (old?.bytes ?? 0), elements, old === undefined ? 1 : 0)) return false;
    // Replaced in place (as Redis's dict does): the key keeps its place in KEYS and SCAN.
    const e: Entry = { data, bytes };
    if (expiresAt !== undefined) e.expiresAt = expiresAt;
    map.set(key, e);
    // A new value may serve clients blocked on the key (dbAdd's signalKeyAsReady).
    this.blocked.signal(db, key);
    return true;
  }

  /** An existing entry grew in place by `delta` bytes and `elements`; false when refused. */
  private growEntry(e: Entry, delta: number, elements: number): boolean {
    if (!this.grow(delta, elements, 0)) return false;
    e.bytes += delta;
    return true;
  }

  /** An existing entry shrank in place by `freed` bytes and `elements`. */
  private shrinkEntry(e: Entry, freed: number, elements: number): void {
    e.bytes -= freed;
    this.count(-freed, -elements, 0);
  }

  // ---- WATCH ----

  /** Start watching a key: its modification stamp now (compare with keyStamp at EXEC). */
  watch(db: number, key: string): number {
    const id = `${db}\0${key}`;
    let w = this.watched.get(id);
    if (w === undefined) {
      w = { stamp: this.modifications, watchers: 0 };
      this.watched.set(id, w);
    }
    w.watchers++;
    return w.stamp;
  }

  /** One watcher of the key let go of it (UNWATCH, EXEC, DISCARD, the connection closed). */
  unwatch(db: number, key: string): void {
    const id = `${db}\0${key}`;
    const w = this.watched.get(id);
    if (w !== undefined && --w.watchers <= 0) this.watched.delete(id);
  }

  /**
   * The key's modification stamp, after dropping it if its TTL passed (EXEC with a watched key
   * that expired meanwhile fails, as 7.0's isWatchedKeyExpired makes it).
   */
  keyStamp(db: number, key: string): number {
    this.entry(db, key);
    return this.watched.get(`${db}\0${key}`)?.stamp ?? -1;
  }

  /** The key changed (a write command, a deletion, an expiry, a flush): watchers see it. */
  touch(db: number, key: string): void {
    const w = this.watched.get(`${db}\0${key}`);
    if (w !== undefined) w.stamp = ++this.modifications;
  }

  /** Whether any connection watches a key (writes skip touching when none does). */
  get watching(): boolean {
    return this.watched.size > 0;
  }

  lookup(db: number, key: string): RedisValue | undefined {
    return this.entry(db, key)?.data;
  }

  typeOf(db: number, key: string): ValueType | "none" {
    return this.entry(db, key)?.data.type ?? "none";
  }

  exists(db: number, key: string): boolean {
    return this.entry(db, key) !== undefined;
  }

  delete(db: number, key: string): boolean {
    const e = this.entry(db, key);
    if (e === undefined) return false;
    this.remove(this.db(db), key, e);
    return true;
  }

  /**
   * RENAME: moves the value and its TTL, replacing whatever `to` held. Not capped: the value's
   * bytes were already charged, only the key's length changes.
   */
  rename(db: number, from: string, to: string): void {
    const e = this.entry(db, from);
    if (e === undefined || from === to) return;
    const map = this.db(db);
    const target = this.entry(db, to);
    if (target !== undefined) this.remove(map, to, target);
    this.touch(db, from);
    this.touch(db, to);
    map.delete(from);
    const moved: Entry = { data: e.data, bytes: e.bytes - from.length + to.length };
    if (e.expiresAt !== undefined) moved.expiresAt = e.expiresAt;
    map.set(to, moved);
    this.count(to.length - from.length, 0, 0);
    this.blocked.signal(db, to);
  }

  // ---- strings ----

  getString(db: number, key: string): Buffer | undefined | typeof WRONG_TYPE {
    const data = this.entry(db, key)?.data;
    if (data === undefined) return undefined;
    return data.type === "string" ? data.value : WRONG_TYPE;
  }

  /** STRLEN: the length the visitor sent (0: no key), however much of it is kept. */
  stringLength(db: number, key: string): number | typeof WRONG_TYPE {
    const data = this.entry(db, key)?.data;
    if (data === undefined) return 0;
    return data.type === "string" ? (data.length ?? data.value.length) : WRONG_TYPE;
  }

  /**
   * SET: replaces any value; the TTL is dropped unless `keepTtl`. `length`: the length the
   * visitor sent, when `value` is only its first bytes.
   */
  setString(
    db: number,
    key: string,
    value: Buffer,
    opts: { expiresAt?: number; keepTtl?: boolean; raw?: number; length?: number } = {},
  ): boolean {
    const old = this.entry(db, key);
    const expiresAt = opts.keepTtl ? old?.expiresAt : opts.expiresAt;
    const data: RedisValue = { type: "string", value: own(value) };
    if (opts.raw !== undefined) data.raw = opts.raw;
    if (opts.length !== undefined && opts.length > value.length) data.length = opts.length;
    return this.store(db, key, data, expiresAt);
  }

  // ---- lists ----

  private typed<T extends ValueType>(
    db: number,
    key: string,
    type: T,
  ): Extract<RedisValue, { type: T }> | undefined | typeof WRONG_TYPE {
    const data = this.entry(db, key)?.data;
    if (data === undefined) return undefined;
    return data.type === type ? (data as Extract<RedisValue, { type: T }>) : WRONG_TYPE;
  }

  getList(db: number, key: string): Buffer[] | undefined | typeof WRONG_TYPE {
    const list = this.typed(db, key, "list");
    return list === undefined || list === WRONG_TYPE ? list : list.value;
  }

  /** LPUSH/RPUSH: the new length. */
  listPush(
    db: number,
    key: string,
    items: Buffer[],
    left: boolean,
  ): number | typeof WRONG_TYPE | typeof OUT_OF_MEMORY {
    const list = this.typed(db, key, "list");
    if (list === WRONG_TYPE) return WRONG_TYPE;
    const owned = items.map(own);
    let added = 0;
    for (const item of owned) added += item.length + ELEMENT_OVERHEAD;
    if (list === undefined) {
      const value = left ? owned.reverse() : owned;
      return this.store(db, key, { type: "list", value }, undefined) ? value.length : OUT_OF_MEMORY;
    }
    if (!this.growEntry(this.entry(db, key)!, added, owned.length)) return OUT_OF_MEMORY;
    if (left) for (const item of owned) list.value.unshift(item);
    else list.value.push(...owned);
    this.blocked.signal(db, key);
    return list.value.length;
  }

  /** LPOP/RPOP: up to `count` elements; the key goes when the list empties. */
  listPop(
    db: number,
    key: string,
    count: number,
    left: boolean,
  ): Buffer[] | undefined | typeof WRONG_TYPE {
    const list = this.typed(db, key, "list");
    if (list === undefined || list === WRONG_TYPE) return list;
    const taken = left ? list.value.splice(0, count) : list.value.splice(-count).reverse();
    let freed = 0;
    for (const item of taken) freed += item.length + ELEMENT_OVERHEAD;
    const e = this.entry(db, key)!;
    this.shrinkEntry(e, freed, taken.length);
    if (list.value.length === 0) this.remove(this.db(db), key, e);
    return taken;
  }

  /**
   * LSET/LINSERT/LTRIM/LREM: replace the list's elements `from`..`from+removed` by `inserted`
   * (charged, refused past the cap); the key goes when the list empties. False when refused.
   */
  listSplice(db: number, key: string, from: number, removed: number, inserted: Buffer[]): boolean {
    const list = this.typed(db, key, "list");
    if (list === undefined || list === WRONG_TYPE) return false;
    const owned = inserted.map(own);
    let delta = 0;
    for (const item of owned) delta += item.length + ELEMENT_OVERHEAD;
    const end = Math.min(list.value.length, from + removed);
    for (let i = from; i < end; i++) delta -= list.value[i]!.length + ELEMENT_OVERHEAD;
    const elements = owned.length - (end - from);
    const e = this.entry(db, key)!;
    if (delta > 0 || elements > 0) {
      if (!this.growEntry(e, delta, elements)) return false;
    } else this.shrinkEntry(e, -delta, -elements);
    list.value.splice(from, end - from, ...owned);
    if (list.value.length === 0) this.remove(this.db(db), key, e);
    return true;
  }

  /** LREM: removes up to `count` (0: all) elements equal to `value`, from the tail if `fromTail`. */
  listRemove(db: number, key: string, value: Buffer, count: number, fromTail: boolean): number {
    const list = this.typed(db, key, "list");
    if (list === undefined || list === WRONG_TYPE) return 0;
    const v = list.value;
    const keep: Buffer[] = [];
    let removed = 0;
    let freed = 0;
    const order = fromTail ? [...v.keys()].reverse() : [...v.keys()];
    const drop = new Set<number>();
    for (const i of order) {
      if ((count === 0 || removed < count) && v[i]!.equals(value)) {
        drop.add(i);
        removed++;
        freed += v[i]!.length + ELEMENT_OVERHEAD;
      }
    }
    if (removed === 0) return 0;
    for (let i = 0; i < v.length; i++) if (!drop.has(i)) keep.push(v[i]!);
    list.value = keep;
    const e = this.entry(db, key)!;
    this.shrinkEntry(e, freed, removed);
    if (keep.length === 0) this.remove(this.db(db), key, e);
    return removed;
  }

  // ---- streams ----

  getStream(db: number, key: string): StreamValue | undefined | typeof WRONG_TYPE {
    const stream = this.typed(db, key, "stream");
    return stream === undefined || stream === WRONG_TYPE ? stream : stream.value;
  }

  /** A new empty stream at key (XADD, XGROUP CREATE MKSTREAM); undefined over the cap. */
  createStream(db: number, key: string): StreamValue | undefined {
    const value = newStream();
    return this.store(db, key, { type: "stream", value, bytes: 0 }, undefined) ? value : undefined;
  }

  /**
   * A value that grows or shrinks in place (a stream) by `bytes` and `elements`: growth is
   * refused (false, nothing counted) past the cap; the caller changes the value only after.
   */
  resize(db: number, key: string, bytes: number, elements: number): boolean {
    const e = this.entry(db, key);
    if (e === undefined || e.data.type !== "stream") return false;
    if (bytes > 0 || elements > 0) {
      if (!this.growEntry(e, bytes, elements)) return false;
    } else this.shrinkEntry(e, -bytes, -elements);
    e.data.bytes += bytes;
    e.data.value.charged += elements;
    return true;
  }

  // ---- hashes ----

  getHash(db: number, key: string): Map<string, Buffer> | undefined | typeof WRONG_TYPE {
    const hash = this.typed(db, key, "hash");
    return hash === undefined || hash === WRONG_TYPE ? hash : hash.value;
  }

  /** HSET: how many fields were new. */
  hashSet(
    db: number,
    key: string,
    pairs: Array<[string, Buffer]>,
  ): number | typeof WRONG_TYPE | typeof OUT_OF_MEMORY {
    const hash = this.typed(db, key, "hash");
    if (hash === WRONG_TYPE) return WRONG_TYPE;
    // A field given twice is set once, to its last value (as Redis does).
    const updates = new Map<string, Buffer>();
    for (const [field, value] of pairs) updates.set(field, own(value));
    if (hash === undefined) {
      const value = updates;
      return this.store(db, key, { type: "hash", value }, undefined) ? value.size : OUT_OF_MEMORY;
    }
    let delta = 0;
    let added = 0;
    for (const [field, value] of updates) {
      const old = hash.value.get(field);
      if (old === undefined) added++;
      delta +=
        old === undefined
          ? field.length + value.length + ELEMENT_OVERHEAD
          : value.length - old.length;
    }
    if (!this.growEntry(this.entry(db, key)!, delta, added)) return OUT_OF_MEMORY;
    for (const [field, value] of updates) hash.value.set(field, value);
    return added;
  }

  /** HDEL: how many fields went; the key goes when the hash empties. */
  hashDelete(db: number, key: string, fields: string[]): number | typeof WRONG_TYPE {
    const hash = this.typed(db, key, "hash");
    if (hash === undefined) return 0;
    if (hash === WRONG_TYPE) return WRONG_TYPE;
    let removed = 0;
    let freed = 0;
    for (const field of fields) {
      const old = hash.value.get(field);
      if (old === undefined) continue;
      hash.value.delete(field);
      removed++;
      freed += field.length + old.length + ELEMENT_OVERHEAD;
    }
    const e = this.entry(db, key)!;
    this.shrinkEntry(e, freed, removed);
    if (hash.value.size === 0) this.remove(this.db(db), key, e);
    return removed;
  }

  // ---- sets ----

  getSet(db: number, key: string): Set<string> | undefined | typeof WRONG_TYPE {
    const set = this.typed(db, key, "set");
    return set === undefined || set === WRONG_TYPE ? set : set.value;
  }

  /** SADD: how many members were new. */
  setAdd(
    db: number,
    key: string,
    members: string[],
  ): number | typeof WRONG_TYPE | typeof OUT_OF_MEMORY {
    const set = this.typed(db, key, "set");
    if (set === WRONG_TYPE) return WRONG_TYPE;
    if (set === undefined) {
      const value = new Set(members);
      return this.store(db, key, { type: "set", value }, undefined) ? value.size : OUT_OF_MEMORY;
    }
    const fresh = [...new Set(members)].filter((m) => !set.value.has(m));
    let delta = 0;
    for (const m of fresh) delta += m.length + ELEMENT_OVERHEAD;
    if (!this.growEntry(this.entry(db, key)!, delta, fresh.length)) return OUT_OF_MEMORY;
    for (const m of fresh) set.value.add(m);
    return fresh.length;
  }

  /** A set stored under key, replacing any value and its TTL (SINTERSTORE …); false over the cap. */
  storeSet(db: number, key: string, value: Set<string>): boolean {
    return this.store(db, key, { type: "set", value }, undefined);
  }

  /** SREM: how many members went; the key goes when the set empties. */
  setRemove(db: number, key: string, members: string[]): number | typeof WRONG_TYPE {
    const set = this.typed(db, key, "set");
    if (set === undefined) return 0;
    if (set === WRONG_TYPE) return WRONG_TYPE;
    let removed = 0;
    let freed = 0;
    for (const m of members) {
      if (set.value.delete(m)) {
        removed++;
        freed += m.length + ELEMENT_OVERHEAD;
      }
    }
    const e = this.entry(db, key)!;
    this.shrinkEntry(e, freed, removed);
    if (set.value.size === 0) this.remove(this.db(db), key, e);
    return removed;
  }

  // ---- sorted sets ----

  getZset(db: number, key: string): SortedSet | undefined | typeof WRONG_TYPE {
    const z = this.typed(db, key, "zset");
    return z === undefined || z === WRONG_TYPE ? z : z.value;
  }

  /** A sorted set stored under key, replacing any value and its TTL; false over the cap. */
  setZset(db: number, key: string, value: SortedSet): boolean {
    return this.store(db, key, { type: "zset", value }, undefined);
  }

  /**
   * Before members are added to the sorted set at key in place: charge their bytes (see
   * zsetMemberBytes) and count; false, with nothing changed, when refused.
   */
  zsetGrow(db: number, key: string, bytes: number, elements: number): boolean {
    const e = this.entry(db, key);
    return e !== undefined && this.growEntry(e, bytes, elements);
  }

  /** After members were removed from the sorted set at key: the key goes when it is empty. */
  zsetShrunk(db: number, key: string, bytes: number, elements: number): void {
    const e = this.entry(db, key);
    if (e === undefined || e.data.type !== "zset") return;
    this.shrinkEntry(e, bytes, elements);
    if (e.data.value.size === 0) this.remove(this.db(db), key, e);
  }

  // ---- moving keys between databases ----

  /** MOVE: the key and its TTL to another database, where the key must not exist. */
  move(from: number, to: number, key: string): boolean {
    const e = this.entry(from, key);
    if (e === undefined || this.entry(to, key) !== undefined) return false;
    this.db(from).delete(key);
    this.db(to).set(key, e);
    return true;
  }

  /** SWAPDB: the two databases trade their keys. */
  swap(a: number, b: number): void {
    const x = this.dbs[a];
    this.dbs[a] = this.dbs[b];
    this.dbs[b] = x;
  }

  /**
   * COPY: a copy of the value (and TTL) at `from` under `to` in database `toDb`, replacing
   * what is there only with `replace`. "exists" when the target is taken; false when refused.
   */
  copy(
    db: number,
    from: string,
    toDb: number,
    to: string,
    replace: boolean,
  ): boolean | "missing" | "exists" {
    const e = this.entry(db, from);
    if (e === undefined) return "missing";
    if (!replace && this.entry(toDb, to) !== undefined) return "exists";
    return this.store(toDb, to, duplicate(e.data), e.expiresAt);
  }

  // ---- TTLs ----

  /** Set (or with undefined, remove) a key's expiry; false if there is no such key. */
  setExpiry(db: number, key: string, expiresAt: number | undefined): boolean {
    const e = this.entry(db, key);
    if (e === undefined) return false;
    if (expiresAt !== undefined && expiresAt <= this.now()) {
      // An expiry in the past deletes the key at once, as EXPIRE with a negative TTL does.
      this.remove(this.db(db), key, e);
      return true;
    }
    if (expiresAt === undefined) delete e.expiresAt;
    else e.expiresAt = expiresAt;
    return true;
  }

  /** Remaining TTL in ms: -2 no key, -1 no expiry. */
  ttlMs(db: number, key: string): number {
    const e = this.entry(db, key);
    if (e === undefined) return -2;
    if (e.expiresAt === undefined) return -1;
    return Math.max(0, e.expiresAt - this.now());
  }

  hasExpiry(db: number, key: string): boolean {
    return this.entry(db, key)?.expiresAt !== undefined;
  }

  /** RESTORE: a whole value under key (replacing any), charged as any write; false over the cap. */
  put(db: number, key: string, data: RedisValue, expiresAt?: number): boolean {
    return this.store(db, key, data, expiresAt);
  }

  /** Every live key of a database with its value and expiry, in its order (an RDB of it). */
  entries(db: number): Array<{ key: string; value: RedisValue; expiresAt?: number }> {
    if (this.dbs[db] === undefined) return [];
    this.purge(db);
    const out: Array<{ key: string; value: RedisValue; expiresAt?: number }> = [];
    for (const [key, e] of this.db(db)) {
      const item: { key: string; value: RedisValue; expiresAt?: number } = { key, value: e.data };
      if (e.expiresAt !== undefined) item.expiresAt = e.expiresAt;
      out.push(item);
    }
    return out;
  }

  // ---- whole databases ----

  /** Drops every expired key of a database (before listing or counting it). */
  private purge(db: number): void {
    const map = this.db(db);
    const now = this.now();
    let n = 0;
    for (const [key, e] of map) {
      if (e.expiresAt !== undefined && e.expiresAt <= now) {
        this.remove(map, key, e);
        n++;
      }
    }
    if (n > 0) this.onExpire(n);
  }

  keys(db: number, pattern: string): string[] {
    this.purge(db);
    const out: string[] = [];
    const all = pattern === "*";
    for (const key of this.db(db).keys()) if (all || globMatch(pattern, key)) out.push(key);
    return out;
  }

  /**
   * One SCAN step: `count` keys from position `cursor` in the database's order, filtered;
   * the next cursor is 0 once the end is reached.
   */
  scan(
    db: number,
    cursor: number,
    count: number,
    pattern: string | undefined,
    type: string | undefined,
  ): { next: number; keys: string[] } {
    this.purge(db);
    const all = [...this.db(db).keys()];
    const slice = all.slice(cursor, cursor + count);
    const next = cursor + count >= all.length ? 0 : cursor + count;
    const keys = slice.filter(
      (key) =>
        (pattern === undefined || globMatch(pattern, key)) &&
        (type === undefined || this.typeOf(db, key) === type),
    );
    return { next, keys };
  }

  size(db: number): number {
    this.purge(db);
    return this.db(db).size;
  }

  randomKey(db: number, random: () => number): string | undefined {
    const all = this.keys(db, "*");
    return all.length === 0 ? undefined : all[Math.floor(random() * all.length)];
  }

  /** Empty one database or all; returns how many live keys were removed. */
  flush(db: number | "all"): number {
    const targets = db === "all" ? this.dbs.map((_, i) => i) : [db];
    const now = this.now();
    let removed = 0;
    for (const i of targets) {
      const map = this.dbs[i];
      if (map === undefined) continue;
      for (const [key, e] of map) {
        if (e.expiresAt === undefined || e.expiresAt > now) removed++;
        this.remove(map, key, e);
      }
    }
    return removed;
  }

  /** INFO keyspace: non-empty databases with key and TTL counts. */
  stats(): DbStats[] {
    const out: DbStats[] = [];
    const now = this.now();
    for (let db = 0; db < DATABASES; db++) {
      if (this.dbs[db] === undefined) continue; // never used
      this.purge(db);
      const map = this.db(db);
      if (map.size === 0) continue;
      let expires = 0;
      let ttlSum = 0;
      for (const e of map.values()) {
        if (e.expiresAt !== undefined) {
          expires++;
          ttlSum += e.expiresAt - now;
        }
      }
      out.push({
        db,
        keys: map.size,
        expires,
        avgTtl: expires > 0 ? Math.round(ttlSum / expires) : 0,
      });
    }
    return out;
  }
}
