/**
 * Which keys a command looks up the way Redis's lookupKeyRead does — the lookups INFO counts as
 * keyspace_hits and keyspace_misses (a key found, or not, at the moment the command runs).
 * Redis counts them inside each command (db.c's lookupKeyReadWithFlags); writes look keys up
 * with lookupKeyWrite, which counts nothing, even where they read the value (INCR, APPEND,
 * LPOP). The rules here are the C source's (t_*.c, db.c, bitops.c, sort.c, hyperloglog.c of
 * each version), checked against real servers by the INFO counters' differential test.
 */

import type { Era } from "../personas/era.js";

/** Argument indexes from `from` to the end (`step` apart). */
function range(from: number, end: number, step = 1): number[] {
  const out: number[] = [];
  for (let i = from; i < end; i += step) out.push(i);
  return out;
}

/** `numkeys` at `at`, then that many keys: their indexes (none if numkeys is not a count). */
function numkeys(args: Buffer[], at: number): number[] {
  const n = Number(args[at]?.toString("latin1"));
  if (!Number.isInteger(n) || n <= 0 || at + n >= args.length + 1) return [];
  return range(at + 1, Math.min(args.length, at + 1 + n));
}

const upper = (args: Buffer[], i: number): string =>
  args[i]?.toString("latin1").toUpperCase() ?? "";

/** The keys after XREAD's / XREADGROUP's STREAMS: the first half of what follows it. */
function streamKeys(args: Buffer[]): number[] {
  for (let i = 1; i < args.length; i++) {
    if (upper(args, i) === "STREAMS") {
      const rest = args.length - i - 1;
      return rest > 0 && rest % 2 === 0 ? range(i + 1, i + 1 + rest / 2) : [];
    }
  }
  return [];
}

type Rule = (args: Buffer[], era: Era) => number[];

const first: Rule = () => [1];
const second: Rule = () => [2];
const all: Rule = (args) => range(1, args.length);
/** A rule from version `since` on (before it the command looked up for writing, or not). */
const since =
  (version: string, rule: Rule): Rule =>
  (args, era) =>
    era.at(version) ? rule(args, era) : [];
/** A rule until `version` (from it the command looks up for writing). */
const until =
  (version: string, rule: Rule): Rule =>
  (args, era) =>
    era.before(version) ? rule(args, era) : [];
/** The sources of a STORE variant: before 7.0 they were looked up for writing. */
const stored = (rule: Rule): Rule => since("7.0", rule);

/**
 * Commands that read keys with lookupKeyRead, by name: the argument indexes of the keys looked
 * up, in order (a key twice when the command looks it up twice). Commands not named here look
 * keys up for writing, or not at all (KEYS, SCAN without TYPE, RANDOMKEY, MEMORY USAGE).
 */
const RULES: Readonly<Record<string, Rule>> = {
  get: first,
  getrange: first,
  substr: first,
  strlen: first,
  getex: first,
  getdel: first,
  getset: first,
  mget: all,
  lcs: () => [1, 2],
  // SET … GET reads the old value as GET does (getGenericCommand).
  set: (args) => (range(3, args.length).some((i) => upper(args, i) === "GET") ? [1] : []),
  getbit: first,
  bitcount: first,
  bitpos: first,
  bitop: (args) => range(3, args.length),
  // Only GET and OVERFLOW: looked up for reading; a SET or INCRBY looks it up for writing.
  bitfield: (args) =>
    range(2, args.length).some((i) => ["SET", "INCRBY"].includes(upper(args, i))) ? [] : [1],
  bitfield_ro: first,
  // Before 4.0 EXISTS asked dbExists, which counts nothing.
  exists: since("4.0", all),
  type: first,
  ttl: first,
  pttl: first,
  expiretime: first,
  pexpiretime: first,
  touch: all,
  dump: first,
  copy: stored(first),
  // Before 6.0 OBJECT found the key in the dict itself (no stats), as KeyDB still does.
  object: (_args, era) => (era.at("6.0") && !era.keydb ? [2] : []),
  // 6.0–6.2 looked the key up for writing when storing (STORE); 7.0 reads again.
  sort: (args, era) =>
    era.at("6.0") &&
    era.before("7.0") &&
    args.some((a) => a.toString("latin1").toUpperCase() === "STORE")
      ? []
      : [1],
  sort_ro: first,
  // 2.8 and 3.0 read the key for these writes (lookupKeyReadOrReply / lookupKeyRead).
  linsert: until("3.2", first),
  lpushx: until("3.2", first),
  rpushx: until("3.2", first),
  expire: until("3.2", first),
  pexpire: until("3.2", first),
  expireat: until("3.2", first),
  pexpireat: until("3.2", first),
  hget: first,
  hmget: first,
  hexists: first,
  hgetall: first,
  hkeys: first,
  hvals: first,
  hlen: first,
  hstrlen: first,
  hrandfield: first,
  hscan: first,
  llen: first,
  lindex: first,
  lrange: first,
  lpos: first,
  scard: first,
  sismember: first,
  smismember: first,
  srandmember: first,
  sscan: first,
  smembers: first,
  sinter: all,
  sunion: all,
  sdiff: all,
  sinterstore: stored((args) => range(2, args.length)),
  sunionstore: stored((args) => range(2, args.length)),
  sdiffstore: stored((args) => range(2, args.length)),
  sintercard: (args) => numkeys(args, 1),
  zcard: first,
  zcount: first,
  zlexcount: first,
  zscore: first,
  zmscore: first,
  zrank: first,
  zrevrank: first,
  zrange: first,
  zrangebyscore: first,
  zrangebylex: first,
  zrevrange: first,
  zrevrangebyscore: first,
  zrevrangebylex: first,
  zrangestore: stored(second),
  zrandmember: first,
  zscan: first,
  zunion: (args) => numkeys(args, 1),
  zinter: (args) => numkeys(args, 1),
  zdiff: (args) => numkeys(args, 1),
  zintercard: (args) => numkeys(args, 1),
  zunionstore: stored((args) => numkeys(args, 2)),
  zinterstore: stored((args) => numkeys(args, 2)),
  zdiffstore: stored((args) => numkeys(args, 2)),
  // One key: 3.2–6.2 looked it up for writing (PFCOUNT may cache the cardinality); several: read.
  pfcount: (args, era) =>
    args.length > 2 || era.before("3.2") || era.at("7.0") ? range(1, args.length) : [],
  pfmerge: all,
  xlen: first,
  xrange: first,
  xrevrange: first,
  xpending: first,
  xack: first,
  xclaim: first,
  xautoclaim: first,
  // Each stream twice: once to resolve its ID (and group), once to read it.
  xread: (args) => streamKeys(args).flatMap((i) => [i, i]),
  xreadgroup: (args) => streamKeys(args).flatMap((i) => [i, i]),
  // 5.0 looked the stream up for writing.
  xinfo: since("6.0", second),
  geopos: first,
  geodist: first,
  geohash: first,
  georadius: first,
  georadiusbymember: first,
  georadius_ro: first,
  georadiusbymember_ro: first,
  geosearch: first,
  geosearchstore: second,
};

/**
 * Commands that check their arguments before they look a key up: an error other than WRONGTYPE
 * means they never looked. The others look first (LINDEX's bad index, OBJECT FREQ without an
 * LFU policy, XINFO's missing key: found or missed, then refused).
 */
const CHECKS_FIRST: ReadonlySet<string> = new Set([
  "set",
  "getex",
  "getrange",
  "substr",
  "getbit",
  "bitop",
  "bitfield",
  "bitfield_ro",
  "lrange",
  "lpos",
  "hrandfield",
  "srandmember",
  "sintercard",
  "hscan",
  "sscan",
  "zscan",
  "zcount",
  "zlexcount",
  "zrange",
  "zrangebyscore",
  "zrangebylex",
  "zrevrange",
  "zrevrangebyscore",
  "zrevrangebylex",
  "zrangestore",
  "zrandmember",
  "zunion",
  "zinter",
  "zdiff",
  "zintercard",
  "zunionstore",
  "zinterstore",
  "zdiffstore",
  "copy",
  "expire",
  "pexpire",
  "expireat",
  "pexpireat",
  "xrange",
  "xrevrange",
  "xpending",
  "xread",
  "xreadgroup",
]);

/** The keys `args` looks up for reading, as argument indexes (see RULES). */
export function readLookups(name: string, args: Buffer[], era: Era): number[] {
  const rule = RULES[name];
  return rule === undefined ? [] : rule(args, era).filter((i) => i < args.length);
}

/**
 * Whether a lookup that found nothing counts as a miss: 6.0's OBJECT looks up with
 * LOOKUP_NONOTIFY, which then skipped the miss as well as the notification.
 */
export function missCounted(name: string, era: Era): boolean {
  return !(name === "object" && era.before("6.2"));
}

/** Whether the command's lookups count although it answered `errorCode` (see CHECKS_FIRST). */
export function lookedUpBefore(name: string, errorCode: string): boolean {
  return errorCode === "WRONGTYPE" || !CHECKS_FIRST.has(name);
}
