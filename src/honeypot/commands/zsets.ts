/**
 * Sorted-set commands (t_zset.c): ZADD and its options, ZINCRBY, ZSCORE, ZMSCORE, ZCARD,
 * ZCOUNT, ZLEXCOUNT, ZRANGE and its BYSCORE/BYLEX/REV/LIMIT forms, ZRANGESTORE, the older
 * Z[REV]RANGE[BYSCORE|BYLEX], Z[REV]RANK, ZREM, ZREMRANGEBY{RANK,SCORE,LEX}, ZPOPMIN/MAX,
 * ZMPOP, ZRANDMEMBER, ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD, ZSCAN, and the blocking
 * BZPOPMIN, BZPOPMAX, BZMPOP (their wait is the session's: CommandContext.block). Replies
 * and errors are Redis 7.0's unless the version changes them. Scores are printed as the
 * version's addReplyDouble prints them (doubles.ts).
 */
import { WRONG_TYPE, zsetMemberBytes } from "../keyspace.js";
import { arityText } from "../personas/texts.js";
import { SortedSet } from "../sorted-set.js";
import { doubleReply, parseDouble, scoreText, strtod } from "./doubles.js";
import { parseInt64 } from "./integers.js";
import { collectionScan } from "./keys.js";
import {
  errorReply,
  integer,
  notInteger,
  outOfMemory,
  type Reply,
  syntaxError,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";
import { timeoutArg } from "./timeout.js";

const NOT_FLOAT = "ERR value is not a valid float";
const MINMAX_FLOAT = "ERR min or max is not a float";
const MINMAX_LEX = "ERR min or max not valid string range item";
const LONG_MAX = 9223372036854775807n;
/** Members past which one command's changes re-sort the set once instead of one by one. */
const BATCH = 64;

// ---- replies, written as latin1 text (members are one character per byte) ----

function raw(text: string): Reply {
  return { type: "raw", bytes: Buffer.from(text, "latin1") };
}

const bulkOf = (m: string): string => `$${m.length}\r\n${m}\r\n`;

function dbl(c: CommandContext, x: number): string {
  const t = scoreText(c.era, x);
  return c.state.proto === 3 ? `,${t}\r\n` : bulkOf(t);
}

const nullOf = (c: CommandContext): string => (c.state.proto === 3 ? "_\r\n" : "$-1\r\n");
const nullArrayOf = (c: CommandContext): string => (c.state.proto === 3 ? "_\r\n" : "*-1\r\n");

/** Members (with scores): flat in RESP2, [member, score] pairs in RESP3. */
function membersReply(
  c: CommandContext,
  z: SortedSet,
  members: string[],
  withScores: boolean,
): Reply {
  let bytes = 0;
  for (const m of members) bytes += m.length + 40;
  if (!c.replyFits(bytes)) return c.overLimit();
  const nested = withScores && c.state.proto === 3;
  let out = `*${withScores && !nested ? members.length * 2 : members.length}\r\n`;
  for (const m of members) {
    if (nested) out += "*2\r\n";
    out += bulkOf(m);
    if (withScores) out += dbl(c, z.score(m)!);
  }
  return raw(out);
}

// ---- arguments ----

/** getLongFromObjectOrReply: a long, or the error reply. */
function longArg(c: CommandContext, i: number): number | Reply {
  const n = parseInt64(c.arg(i));
  return n === undefined ? notInteger() : Number(n);
}

const isReply = (x: unknown): x is Reply => typeof x === "object" && x !== null && "type" in x;

interface ScoreRange {
  min: number;
  max: number;
  minex: boolean;
  maxex: boolean;
}

/** zslParseRange: "(" for exclusive, strtod over the rest (empty is 0), NaN refused. */
function parseScoreBound(text: string): { v: number; ex: boolean } | undefined {
  const ex = text.startsWith("(");
  const body = ex ? text.slice(1) : text;
  const r = strtod(body);
  if (r.end !== body.length || Number.isNaN(r.value)) return undefined;
  return { v: r.value, ex };
}

function parseScoreRange(minText: string, maxText: string): ScoreRange | undefined {
  const min = parseScoreBound(minText);
  const max = parseScoreBound(maxText);
  if (min === undefined || max === undefined) return undefined;
  return { min: min.v, max: max.v, minex: min.ex, maxex: max.ex };
}

const gteMin = (s: number, r: ScoreRange): boolean => (r.minex ? s > r.min : s >= r.min);
const lteMax = (s: number, r: ScoreRange): boolean => (r.maxex ? s < r.max : s <= r.max);

type LexBound = { kind: "-" } | { kind: "+" } | { kind: "v"; v: string; ex: boolean };

function parseLexBound(text: string): LexBound | undefined {
  switch (text[0]) {
    case "+":
      return text.length === 1 ? { kind: "+" } : undefined;
    case "-":
      return text.length === 1 ? { kind: "-" } : undefined;
    case "(":
      return { kind: "v", v: text.slice(1), ex: true };
    case "[":
      return { kind: "v", v: text.slice(1), ex: false };
    default:
      return undefined;
  }
}

function lexGteMin(m: string, b: LexBound): boolean {
  if (b.kind === "-") return true;
  if (b.kind === "+") return false;
  return b.ex ? m > b.v : m >= b.v;
}

function lexLteMax(m: string, b: LexBound): boolean {
  if (b.kind === "+") return true;
  if (b.kind === "-") return false;
  return b.ex ? m < b.v : m <= b.v;
}

/** The sorted set at key: undefined when missing, or a WRONGTYPE reply. */
function zsetAt(c: CommandContext, key: string): SortedSet | undefined | Reply {
  const z = c.keyspace.getZset(c.state.db, key);
  return z === WRONG_TYPE ? wrongType() : z;
}

/** Ranks [from, to] of the members within a score range (to < from: none). */
function scoreSpan(z: SortedSet, r: ScoreRange): [number, number] {
  const from = z.firstAtLeast((s) => gteMin(s, r));
  const to = z.firstAtLeast((s) => !lteMax(s, r)) - 1;
  return [from, to];
}

/** sdscmplex over bounds: `-` below every string, `+` above. */
function lexCompare(a: LexBound, b: LexBound): number {
  const rank = (x: LexBound): number => (x.kind === "-" ? 0 : x.kind === "v" ? 1 : 2);
  if (a.kind !== "v" || b.kind !== "v") return rank(a) - rank(b);
  return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
}

/**
 * Ranks [from, to] of the members within a lex range, found as a listpack finds them
 * (zzlFirstInLexRange / zzlLastInLexRange, walking from `reverse`'s end): a lex range is meant
 * for members of one score, and when scores differ Redis's answer is what that walk gives, not
 * a search of a sorted order. Nothing when the range is empty, the last member is below min or
 * the first above max (zslIsInLexRange).
 */
function lexSpan(z: SortedSet, min: LexBound, max: LexBound, reverse = false): [number, number] {
  const n = z.size;
  const cmp = lexCompare(min, max);
  const exclusive = (min.kind === "v" && min.ex) || (max.kind === "v" && max.ex);
  if (n === 0 || cmp > 0 || (cmp === 0 && exclusive)) return [0, -1];
  if (!lexGteMin(z.at(n - 1), min) || !lexLteMax(z.at(0), max)) return [0, -1];
  if (reverse) {
    let to = n - 1;
    while (to >= 0 && !lexLteMax(z.at(to), max)) to--;
    let from = to;
    while (from >= 0 && lexGteMin(z.at(from), min)) from--;
    return [from + 1, to];
  }
  let from = 0;
  while (from < n && !lexGteMin(z.at(from), min)) from++;
  let to = from;
  while (to < n && lexLteMax(z.at(to), max)) to++;
  return [from, to - 1];
}

// ---- how scores are kept ----

/** Would the sorted set be a listpack (7.0+) with `member` in it? */
function inListpack(c: CommandContext, z: SortedSet, member: string): boolean {
  if (c.era.before("7.0")) return false;
  const entries = Number(c.state.config.get("zset-max-listpack-entries") ?? "128");
  const bytes = Number(c.state.config.get("zset-max-listpack-value") ?? "64");
  const size = z.size + (z.score(member) === undefined ? 1 : 0);
  return size <= entries && member.length <= bytes && z.members().every((m) => m.length <= bytes);
}

/**
 * The score as the set keeps it: a 7.0+ listpack stores an integral score as an integer
 * (zzlInsertAt's double2ll), so -0 comes back as 0; a skiplist keeps -0.
 */
function stored(c: CommandContext, z: SortedSet, member: string, score: number): number {
  return Object.is(score, -0) && inListpack(c, z, member) ? 0 : score;
}

/** A stored result (ZUNIONSTORE, ZRANGESTORE …) with its scores as its encoding keeps them. */
function listpackScores(c: CommandContext, z: SortedSet): SortedSet {
  if (z.size === 0 || !inListpack(c, z, z.at(0))) return z;
  for (const m of z.members()) if (Object.is(z.score(m), -0)) z.scores.set(m, 0);
  return z;
}

// ---- ZADD / ZINCRBY ----

function zaddGeneric(incrCommand: boolean) {
  return (c: CommandContext): Reply => {
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    let ch = false;
    let incr = incrCommand;
    let i = 2;
    const options = c.era.at("3.0.2");
    for (; i < c.args.length && options; i++) {
      const opt = c.arg(i).toLowerCase();
      if (opt === "nx") nx = true;
      else if (opt === "xx") xx = true;
      else if (opt === "ch") ch = true;
      else if (opt === "incr") incr = true;
      else if (opt === "gt" && c.era.at("6.2")) gt = true;
      else if (opt === "lt" && c.era.at("6.2")) lt = true;
      else break;
    }
    const elements = c.args.length - i;
    if (elements % 2 !== 0 || elements === 0) return syntaxError();
    if (nx && xx) return errorReply("ERR XX and NX options at the same time are not compatible");
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
      return errorReply("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if (incr && elements > 2) {
      return errorReply("ERR INCR option supports a single increment-element pair");
    }
    const pairs: Array<[number, string]> = [];
    for (let j = i; j < c.args.length; j += 2) {
      const score = parseDouble(c.arg(j));
      if (score === undefined) return errorReply(NOT_FLOAT);
      pairs.push([score, c.arg(j + 1)]);
    }
    const db = c.state.db;
    const key = c.arg(1);
    let z = zsetAt(c, key);
    if (isReply(z)) return z;
    const nullReply = (): Reply => raw(nullOf(c));
    if (z === undefined && xx) return incr ? nullReply() : integer(0);
    // What the new members cost, charged before anything changes.
    if (!xx) {
      const fresh = new Set<string>();
      for (const [, m] of pairs) if (z?.score(m) === undefined) fresh.add(m);
      let bytes = 0;
      for (const m of fresh) bytes += zsetMemberBytes(m);
      if (z === undefined) {
        z = new SortedSet();
        if (!c.keyspace.setZset(db, key, z)) return outOfMemory();
        if (!c.keyspace.zsetGrow(db, key, bytes, fresh.size)) {
          c.keyspace.delete(db, key);
          return outOfMemory();
        }
      } else if (!c.keyspace.zsetGrow(db, key, bytes, fresh.size)) return outOfMemory();
    }
    let added = 0;
    let updated = 0;
    let processed = 0;
    let last = 0;
    let failed = false;
    const zs = z!;
    zs.batched(pairs.length > BATCH, () => {
      for (let [score, m] of pairs) {
        if (Number.isNaN(score)) {
          failed = true;
          break;
        }
        const cur = zs.score(m);
        if (cur !== undefined) {
          if (nx) continue;
          if (incr) {
            score += cur;
            if (Number.isNaN(score)) {
              failed = true;
              break;
            }
          }
          if ((lt && score >= cur) || (gt && score <= cur)) continue;
          last = score;
          processed++;
          if (score !== cur) {
            zs.set(m, stored(c, zs, m, score));
            updated++;
          }
        } else if (!xx) {
          zs.set(m, stored(c, zs, m, score));
          added++;
          processed++;
          last = score;
        }
      }
    });
    if (added + updated > 0) wrote(c, added + updated);
    if (failed) return errorReply("ERR resulting score is not a number (NaN)");
    if (incr) return processed > 0 ? doubleReply(c.era, c.state.proto, last) : nullReply();
    return integer(ch ? added + updated : added);
  };
}

// ---- reads ----

function zscore(c: CommandContext): Reply {
  const z = zsetAt(c, c.arg(1));
  if (isReply(z)) return z;
  const s = z?.score(c.arg(2));
  return s === undefined ? raw(nullOf(c)) : doubleReply(c.era, c.state.proto, s);
}

function zmscore(c: CommandContext): Reply {
  const z = zsetAt(c, c.arg(1));
  if (isReply(z)) return z;
  let out = `*${c.args.length - 2}\r\n`;
  for (let i = 2; i < c.args.length; i++) {
    const s = z?.score(c.arg(i));
    out += s === undefined ? nullOf(c) : dbl(c, s);
  }
  return raw(out);
}

function zcard(c: CommandContext): Reply {
  const z = zsetAt(c, c.arg(1));
  if (isReply(z)) return z;
  return integer(z?.size ?? 0);
}

function zcount(c: CommandContext): Reply {
  const r = parseScoreRange(c.arg(2), c.arg(3));
  if (r === undefined) return errorReply(MINMAX_FLOAT);
  const z = zsetAt(c, c.arg(1));
  if (isReply(z)) return z;
  if (z === undefined) return integer(0);
  const [from, to] = scoreSpan(z, r);
  return integer(Math.max(0, to - from + 1));
}

function zlexcount(c: CommandContext): Reply {
  const min = parseLexBound(c.arg(2));
  const max = parseLexBound(c.arg(3));
  if (min === undefined || max === undefined) return errorReply(MINMAX_LEX);
  const z = zsetAt(c, c.arg(1));
  if (isReply(z)) return z;
  if (z === undefined) return integer(0);
  const [from, to] = lexSpan(z, min, max);
  return integer(Math.max(0, to - from + 1));
}

function zrankGeneric(reverse: boolean) {
  return (c: CommandContext): Reply => {
    let withScore = false;
    if (c.args.length > 4) return errorReply(arityText(c.fullName));
    if (c.args.length > 3) {
      if (c.arg(3).toLowerCase() === "withscore") withScore = true;
      else return syntaxError();
    }
    const z = zsetAt(c, c.arg(1));
    if (isReply(z)) return z;
    const missing = (): Reply => raw(withScore ? nullArrayOf(c) : nullOf(c));
    if (z === undefined) return missing();
    const r = z.rank(c.arg(2));
    if (r === undefined) return missing();
    const rank = reverse ? z.size - 1 - r : r;
    if (!withScore) return integer(rank);
    return raw(`*2\r\n:${rank}\r\n${dbl(c, z.score(c.arg(2))!)}`);
  };
}

// ---- ranges ----

type RangeType = "auto" | "rank" | "score" | "lex";

/**
 * zrangeGenericCommand: ZRANGE and ZRANGESTORE (6.2+) and the older forms, which fix the
 * range type and direction. `first`: the source key's argument.
 */
function zrangeGeneric(
  c: CommandContext,
  first: number,
  store: boolean,
  type0: RangeType,
  reverse0: boolean | undefined,
): Reply {
  let type = type0;
  let reverse = reverse0;
  let withScores = false;
  let offset = 0;
  let limit = -1;
  let limitGiven = false;
  const old = c.era.before("6.2");
  if (old && (type === "rank" || type === "auto")) {
    // Before 6.2 ZRANGE/ZREVRANGE took the two indexes, then only WITHSCORES.
    for (const i of [2, 3]) {
      const n = longArg(c, i);
      if (isReply(n)) return n;
    }
    if (c.args.length === 5 && c.arg(4).toLowerCase() === "withscores") withScores = true;
    else if (c.args.length >= 5) return syntaxError();
  } else {
    for (let j = first + 3; j < c.args.length; j++) {
      const left = c.args.length - j - 1;
      const opt = c.arg(j).toLowerCase();
      if (!store && opt === "withscores") withScores = true;
      else if (opt === "limit" && left >= 2) {
        const o = longArg(c, j + 1);
        if (isReply(o)) return o;
        const l = longArg(c, j + 2);
        if (isReply(l)) return l;
        offset = o;
        limit = l;
        limitGiven = true;
        j += 2;
      } else if (reverse === undefined && opt === "rev") reverse = true;
      else if (type === "auto" && opt === "bylex") type = "lex";
      else if (type === "auto" && opt === "byscore") type = "score";
      else return syntaxError();
    }
  }
  reverse ??= false;
  if (type === "auto") type = "rank";
  if (limitGiven && limit !== -1 && type === "rank") {
    return errorReply(
      "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
    );
  }
  if (withScores && type === "lex") {
    return errorReply("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
  }
  let minIdx = first + 1;
  let maxIdx = first + 2;
  if (reverse && type !== "rank") [minIdx, maxIdx] = [maxIdx, minIdx];
  let start = 0;
  let end = 0;
  let range: ScoreRange | undefined;
  let lexMin: LexBound | undefined;
  let lexMax: LexBound | undefined;
  if (type === "rank") {
    const s = longArg(c, minIdx);
    if (isReply(s)) return s;
    const e = longArg(c, maxIdx);
    if (isReply(e)) return e;
    start = s;
    end = e;
  } else if (type === "score") {
    range = parseScoreRange(c.arg(minIdx), c.arg(maxIdx));
    if (range === undefined) return errorReply(MINMAX_FLOAT);
  } else {
    lexMin = parseLexBound(c.arg(minIdx));
    lexMax = parseLexBound(c.arg(maxIdx));
    if (lexMin === undefined || lexMax === undefined) return errorReply(MINMAX_LEX);
  }
  const z = zsetAt(c, c.arg(first));
  if (isReply(z)) return z;
  if (z === undefined) return store ? storeRange(c, undefined, []) : raw("*0\r\n");
  let picked: string[];
  if (type === "rank") {
    const len = z.size;
    if (start < 0) start = len + start;
    if (end < 0) end = len + end;
    if (start < 0) start = 0;
    if (start > end || start >= len) picked = [];
    else {
      if (end >= len) end = len - 1;
      picked = reverse ? z.slice(len - 1 - end, len - 1 - start).reverse() : z.slice(start, end);
    }
  } else {
    const [from, to] =
      type === "score" ? scoreSpan(z, range!) : lexSpan(z, lexMin!, lexMax!, reverse);
    picked = [];
    if (!(offset > 0 && offset >= z.size) && offset >= 0 && from <= to) {
      const n = to - from + 1;
      const take = limit < 0 ? n - offset : Math.min(limit, n - offset);
      if (take > 0) {
        picked = reverse
          ? z.slice(to - offset - take + 1, to - offset).reverse()
          : z.slice(from + offset, from + offset + take - 1);
      }
    }
  }
  if (store) return storeRange(c, z, picked);
  return membersReply(c, z, picked, withScores);
}

function storeRange(c: CommandContext, src: SortedSet | undefined, picked: string[]): Reply {
  const db = c.state.db;
  const dst = c.arg(1);
  if (picked.length === 0) {
    if (c.keyspace.delete(db, dst)) wrote(c);
    return integer(0);
  }
  const out = listpackScores(c, SortedSet.from(picked.map((m) => [m, src!.score(m)!])));
  if (!c.keyspace.setZset(db, dst, out)) return outOfMemory();
  wrote(c);
  return integer(out.size);
}

const zrange = (type: RangeType, reverse: boolean | undefined) => (c: CommandContext) =>
  zrangeGeneric(c, 1, false, type, reverse);

// ---- removals ----

function zrem(c: CommandContext): Reply {
  const z = zsetAt(c, c.arg(1));
  if (isReply(z)) return z;
  if (z === undefined) return integer(0);
  let deleted = 0;
  let bytes = 0;
  z.batched(c.args.length - 2 > BATCH, () => {
    for (let i = 2; i < c.args.length; i++) {
      const m = c.arg(i);
      if (z.delete(m)) {
        deleted++;
        bytes += zsetMemberBytes(m);
      }
      if (z.size === 0) break;
    }
  });
  c.keyspace.zsetShrunk(c.state.db, c.arg(1), bytes, deleted);
  if (deleted > 0) wrote(c, deleted);
  return integer(deleted);
}

function zremrange(type: "rank" | "score" | "lex") {
  return (c: CommandContext): Reply => {
    let start = 0;
    let end = 0;
    let range: ScoreRange | undefined;
    let lexMin: LexBound | undefined;
    let lexMax: LexBound | undefined;
    if (type === "rank") {
      const s = longArg(c, 2);
      if (isReply(s)) return s;
      const e = longArg(c, 3);
      if (isReply(e)) return e;
      start = s;
      end = e;
    } else if (type === "score") {
      range = parseScoreRange(c.arg(2), c.arg(3));
      if (range === undefined) return errorReply(MINMAX_FLOAT);
    } else {
      lexMin = parseLexBound(c.arg(2));
      lexMax = parseLexBound(c.arg(3));
      if (lexMin === undefined || lexMax === undefined) return errorReply(MINMAX_LEX);
    }
    const z = zsetAt(c, c.arg(1));
    if (isReply(z)) return z;
    if (z === undefined) return integer(0);
    let from: number;
    let to: number;
    if (type === "rank") {
      const len = z.size;
      if (start < 0) start = len + start;
      if (end < 0) end = len + end;
      if (start < 0) start = 0;
      if (start > end || start >= len) return integer(0);
      if (end >= len) end = len - 1;
      [from, to] = [start, end];
    } else if (type === "score") [from, to] = scoreSpan(z, range!);
    else [from, to] = lexSpan(z, lexMin!, lexMax!);
    if (to < from) return integer(0);
    const gone = z.removeRange(from, to);
    let bytes = 0;
    for (const m of gone) bytes += zsetMemberBytes(m);
    c.keyspace.zsetShrunk(c.state.db, c.arg(1), bytes, gone.length);
    wrote(c, gone.length);
    return integer(gone.length);
  };
}

// ---- pops ----

/**
 * genericZpopCommand: the first non-empty key of `keys` (a wrong type first is an error);
 * `count` -1 for a plain single pop.
 */
function zpop(
  c: CommandContext,
  keys: string[],
  max: boolean,
  count: number,
  nested: boolean,
  emitKey: boolean,
  nilWhenEmpty: boolean,
): Reply {
  let key: string | undefined;
  let z: SortedSet | undefined;
  for (const k of keys) {
    const found = zsetAt(c, k);
    if (isReply(found)) return found;
    if (found !== undefined) {
      key = k;
      z = found;
      break;
    }
  }
  if (z === undefined || key === undefined) return raw(nilWhenEmpty ? nullArrayOf(c) : "*0\r\n");
  if (count === 0) return raw("*0\r\n");
  const n = Math.min(count === -1 ? 1 : count, z.size);
  let out: string;
  if (!nested && !emitKey) out = `*${n * 2}\r\n`;
  else if (nested && !emitKey) out = `*${n}\r\n`;
  else if (!nested) out = `*${n * 2 + 1}\r\n${bulkOf(key)}`;
  else out = `*2\r\n${bulkOf(key)}*${n}\r\n`;
  let bytes = 0;
  // Taken in one range (not one splice per member), lowest or highest first.
  const from = max ? z.size - n : 0;
  const taken = z.slice(from, from + n - 1).map((m): [string, number] => [m, z.score(m)!]);
  z.removeRange(from, from + n - 1);
  if (max) taken.reverse();
  for (const [m, s] of taken) {
    bytes += zsetMemberBytes(m);
    if (nested) out += "*2\r\n";
    out += bulkOf(m) + dbl(c, s);
  }
  c.keyspace.zsetShrunk(c.state.db, key, bytes, n);
  wrote(c, n);
  return raw(out);
}

function zpopMinMax(max: boolean) {
  return (c: CommandContext): Reply => {
    if (c.args.length > 3) return syntaxError();
    let count = -1;
    if (c.args.length === 3) {
      const n = parseInt64(c.arg(2));
      if (n === undefined) return notInteger();
      // Before 7.0 a count ≤ 0 was an empty reply, before the key is looked at.
      if (n <= 0n && c.era.before("7.0")) return raw("*0\r\n");
      if (n < 0n) return errorReply("ERR value is out of range, must be positive");
      count = Number(n);
    }
    return zpop(c, [c.arg(1)], max, count, c.state.proto === 3 && count !== -1, false, false);
  };
}

/**
 * ZMPOP/BZMPOP's words after the timeout (zmpopGenericCommand): numkeys key … MIN|MAX
 * [COUNT n] from `at` (numkeys' index), or the error. getRangeLongFromObjectOrReply answers
 * its own message for a count or numkeys that is no integer too.
 */
function mpopArgs(
  c: CommandContext,
  at: number,
): { keys: string[]; max: boolean; count: number } | Reply {
  const numkeys = parseInt64(c.arg(at));
  if (numkeys === undefined || numkeys < 1n) {
    return errorReply("ERR numkeys should be greater than 0");
  }
  if (numkeys >= BigInt(c.args.length)) return syntaxError();
  const whereIdx = at + Number(numkeys) + 1;
  if (whereIdx >= c.args.length) return syntaxError();
  const where = c.arg(whereIdx).toLowerCase();
  if (where !== "min" && where !== "max") return syntaxError();
  let count = -1;
  for (let j = whereIdx + 1; j < c.args.length; j++) {
    const more = c.args.length - 1 - j;
    if (count === -1 && c.arg(j).toLowerCase() === "count" && more > 0) {
      j++;
      const n = parseInt64(c.arg(j));
      if (n === undefined || n < 1n) return errorReply("ERR count should be greater than 0");
      count = Number(n);
    } else return syntaxError();
  }
  if (count === -1) count = 1;
  const keys: string[] = [];
  for (let i = at + 1; i < whereIdx; i++) keys.push(c.arg(i));
  return { keys, max: where === "max", count };
}

function zmpop(c: CommandContext): Reply {
  const parsed = mpopArgs(c, 1);
  if (isReply(parsed)) return parsed;
  return zpop(c, parsed.keys, parsed.max, parsed.count, true, true, true);
}

// ---- BZPOPMIN, BZPOPMAX, BZMPOP ----

/**
 * blockingGenericZpopCommand: the timeout first, then the first non-empty sorted set of
 * `keys` pops as ZPOP would (a wrong type before it is an error); with none, the client
 * blocks until a write makes one of the keys a sorted set (the null array when it gives up).
 */
function blockingZpop(
  c: CommandContext,
  timeoutAt: number,
  keys: string[],
  max: boolean,
  count: number,
  mpop: boolean,
): Reply {
  const timeout = timeoutArg(c, timeoutAt, "seconds");
  if (typeof timeout !== "number") return errorReply(timeout.error);
  const pop = (ctx: CommandContext, key: string): Reply =>
    zpop(ctx, [key], max, count, mpop, true, mpop);
  for (const key of keys) {
    const z = zsetAt(c, key);
    if (isReply(z)) return z;
    if (z !== undefined && z.size > 0) return pop(c, key);
  }
  return c.block({
    keys,
    timeoutMs: timeout,
    serve: (ctx, key) => {
      const z = ctx.keyspace.getZset(ctx.state.db, key);
      if (z === undefined || z === WRONG_TYPE || z.size === 0) return undefined;
      return pop(ctx, key);
    },
    timedOut: (ctx) => raw(nullArrayOf(ctx)),
  });
}

/** BZPOPMIN/BZPOPMAX key [key …] timeout: [key, member, score]. */
function bzpopMinMax(max: boolean) {
  return (c: CommandContext): Reply => {
    const keys: string[] = [];
    for (let i = 1; i < c.args.length - 1; i++) keys.push(c.arg(i));
    return blockingZpop(c, c.args.length - 1, keys, max, -1, false);
  };
}

/** BZMPOP timeout numkeys key … MIN|MAX [COUNT n]: ZMPOP's reply, once there is one. */
function bzmpop(c: CommandContext): Reply {
  const parsed = mpopArgs(c, 2);
  if (isReply(parsed)) return parsed;
  return blockingZpop(c, 1, parsed.keys, parsed.max, parsed.count, true);
}

// ---- ZRANDMEMBER ----

function zrandmember(c: CommandContext): Reply {
  if (c.args.length >= 3) {
    const n = parseInt64(c.arg(2));
    if (n === undefined) return notInteger();
    if (n < -LONG_MAX)
      return errorReply(
        `ERR value is out of range, value must between ${-LONG_MAX} and ${LONG_MAX}`,
      );
    let withScores = false;
    if (c.args.length > 4 || (c.args.length === 4 && c.arg(3).toLowerCase() !== "withscores")) {
      return syntaxError();
    }
    if (c.args.length === 4) {
      withScores = true;
      if (n < -LONG_MAX / 2n || n > LONG_MAX / 2n) return errorReply("ERR value is out of range");
    }
    const z = zsetAt(c, c.arg(1));
    if (isReply(z)) return z;
    if (z === undefined || n === 0n) return raw("*0\r\n");
    const size = z.size;
    let picked: string[];
    if (n < 0n) {
      const count = -n;
      // Repeats allowed: as many as asked, which the reply check bounds first.
      let longest = 0;
      for (const m of z.members()) longest = Math.max(longest, m.length);
      if (!c.replyFits(Number(count) * (longest + 40))) return c.overLimit();
      picked = [];
      for (let i = 0n; i < count; i++) picked.push(z.at(Math.floor(Math.random() * size)));
    } else if (n >= BigInt(size)) {
      // zuiNext walks a sorted set from its tail.
      picked = [...z.members()].reverse();
    } else {
      const all = [...z.members()];
      for (let i = all.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [all[i], all[j]] = [all[j]!, all[i]!];
      }
      picked = all.slice(0, Number(n));
    }
    return membersReply(c, z, picked, withScores);
  }
  const z = zsetAt(c, c.arg(1));
  if (isReply(z)) return z;
  if (z === undefined) return raw(nullOf(c));
  return raw(bulkOf(z.at(Math.floor(Math.random() * z.size))));
}

// ---- set algebra ----

type Op = "union" | "inter" | "diff";

function algebra(op: Op, store: boolean, cardOnly = false) {
  return (c: CommandContext): Reply => {
    const numIdx = store ? 2 : 1;
    const n = parseInt64(c.arg(numIdx));
    if (n === undefined) return notInteger();
    if (n < 1n) {
      if (c.era.at("7.0")) {
        return errorReply(`ERR at least 1 input key is needed for '${c.fullName}' command`);
      }
      return errorReply(
        c.era.at("6.2")
          ? `ERR at least 1 input key is needed for ${c.fullName}`
          : "ERR at least 1 input key is needed for ZUNIONSTORE/ZINTERSTORE",
      );
    }
    if (n > BigInt(c.args.length - (numIdx + 1))) return syntaxError();
    const setnum = Number(n);
    type Src = { weight: number; z?: SortedSet; set?: Set<string>; size: number };
    const src: Src[] = [];
    let j = numIdx + 1;
    for (let i = 0; i < setnum; i++, j++) {
      const v = c.keyspace.lookup(c.state.db, c.arg(j));
      if (v !== undefined && v.type !== "zset" && v.type !== "set") return wrongType();
      const s: Src = { weight: 1, size: 0 };
      if (v?.type === "zset") {
        s.z = v.value;
        s.size = v.value.size;
      } else if (v?.type === "set") {
        s.set = v.value;
        s.size = v.value.size;
      }
      src.push(s);
    }
    let aggregate: "sum" | "min" | "max" = "sum";
    let withScores = false;
    let limit = 0;
    while (j < c.args.length) {
      const remaining = c.args.length - j;
      const opt = c.arg(j).toLowerCase();
      if (op !== "diff" && !cardOnly && remaining >= setnum + 1 && opt === "weights") {
        j++;
        for (let i = 0; i < setnum; i++, j++) {
          const w = parseDouble(c.arg(j));
          if (w === undefined) return errorReply("ERR weight value is not a float");
          src[i]!.weight = w;
        }
      } else if (op !== "diff" && !cardOnly && remaining >= 2 && opt === "aggregate") {
        const a = c.arg(j + 1).toLowerCase();
        if (a !== "sum" && a !== "min" && a !== "max") return syntaxError();
        aggregate = a;
        j += 2;
      } else if (remaining >= 1 && !store && !cardOnly && opt === "withscores") {
        j++;
        withScores = true;
      } else if (cardOnly && remaining >= 2 && opt === "limit") {
        const l = parseInt64(c.arg(j + 1));
        if (l === undefined) return notInteger();
        if (l < 0n) return errorReply("ERR LIMIT can't be negative");
        limit = Number(l);
        j += 2;
      } else return syntaxError();
    }
    const entries = (s: Src): Iterable<[string, number]> =>
      s.z !== undefined
        ? [...s.z.members()].map((m): [string, number] => [m, s.z!.score(m)!])
        : [...(s.set ?? [])].map((m): [string, number] => [m, 1]);
    const find = (s: Src, m: string): number | undefined =>
      s.z !== undefined ? s.z.score(m) : s.set?.has(m) ? 1 : undefined;
    const agg = (a: number, b: number): number => {
      if (aggregate === "sum") {
        const t = a + b;
        return Number.isNaN(t) ? 0 : t;
      }
      // Redis's comparisons, not Math.min/max: with -0 and 0 equal, the first one stays.
      if (aggregate === "min") {
        // biome-ignore lint/complexity/useMathMinMax: keeps `a` when equal (-0 vs 0)
        return b < a ? b : a;
      }
      // biome-ignore lint/complexity/useMathMinMax: keeps `a` when equal (-0 vs 0)
      return b > a ? b : a;
    };
    if (op !== "diff") src.sort((a, b) => a.size - b.size);
    const result = new Map<string, number>();
    let cardinality = 0;
    if (op === "inter") {
      if (src[0]!.size > 0) {
        for (const [m, s0] of entries(src[0]!)) {
          let score = src[0]!.weight * s0;
          if (Number.isNaN(score)) score = 0;
          let k = 1;
          for (; k < setnum; k++) {
            const v = find(src[k]!, m);
            if (v === undefined) break;
            score = agg(score, v * src[k]!.weight);
          }
          if (k < setnum) continue;
          if (cardOnly) {
            cardinality++;
            if (limit && cardinality >= limit) break;
          } else result.set(m, score);
        }
      }
    } else if (op === "union") {
      for (const s of src) {
        for (const [m, v] of entries(s)) {
          let score = s.weight * v;
          if (Number.isNaN(score)) score = 0;
          const cur = result.get(m);
          result.set(m, cur === undefined ? score : agg(cur, score));
        }
      }
    } else {
      for (const [m, v] of entries(src[0]!)) {
        if (src.slice(1).some((s) => find(s, m) !== undefined)) continue;
        result.set(m, v);
      }
    }
    if (cardOnly) return integer(cardinality);
    const out = store ? listpackScores(c, SortedSet.from(result)) : SortedSet.from(result);
    if (store) {
      const db = c.state.db;
      const dst = c.arg(1);
      if (out.size === 0) {
        if (c.keyspace.delete(db, dst)) wrote(c);
        return integer(0);
      }
      if (!c.keyspace.setZset(db, dst, out)) return outOfMemory();
      wrote(c);
      return integer(out.size);
    }
    return membersReply(c, out, [...out.members()], withScores);
  };
}

// ---- ZSCAN ----

function zscan(c: CommandContext): Reply {
  return collectionScan(
    c,
    "skiplist",
    () => c.keyspace.getZset(c.state.db, c.arg(1)),
    (z, small) => {
      // A listpack in score order; a skiplist's dict in insertion order here.
      const order = small ? z.members() : [...z.scores.keys()];
      const text = (m: string): Buffer => Buffer.from(scoreText(c.era, z.score(m)!), "latin1");
      return order.map((m) => [m, text(m)] as const);
    },
  );
}

export const ZSET_COMMANDS: CommandSpec[] = inCategory("sortedset", [
  { name: "zadd", arity: -4, flags: ["write", "denyoom"], handler: zaddGeneric(false) },
  { name: "zincrby", arity: 4, flags: ["write", "denyoom"], handler: zaddGeneric(true) },
  { name: "zrem", arity: -3, flags: ["write"], handler: zrem },
  { name: "zremrangebyscore", arity: 4, flags: ["write"], handler: zremrange("score") },
  { name: "zremrangebyrank", arity: 4, flags: ["write"], handler: zremrange("rank") },
  { name: "zremrangebylex", arity: 4, since: "2.8.9", flags: ["write"], handler: zremrange("lex") },
  {
    name: "zunionstore",
    arity: -4,
    keys: [1, 1, 1],
    flags: ["write", "denyoom"],
    handler: algebra("union", true),
  },
  {
    name: "zinterstore",
    arity: -4,
    keys: [1, 1, 1],
    flags: ["write", "denyoom"],
    handler: algebra("inter", true),
  },
  {
    name: "zdiffstore",
    arity: -4,
    since: "6.2",
    keys: [1, 1, 1],
    flags: ["write", "denyoom"],
    handler: algebra("diff", true),
  },
  { name: "zunion", arity: -3, since: "6.2", keys: [0, 0, 0], handler: algebra("union", false) },
  { name: "zinter", arity: -3, since: "6.2", keys: [0, 0, 0], handler: algebra("inter", false) },
  {
    name: "zintercard",
    arity: -3,
    since: "7.0",
    keys: [0, 0, 0],
    handler: algebra("inter", false, true),
  },
  { name: "zdiff", arity: -3, since: "6.2", keys: [0, 0, 0], handler: algebra("diff", false) },
  { name: "zrange", arity: -4, handler: zrange("auto", undefined) },
  {
    name: "zrangestore",
    arity: -5,
    since: "6.2",
    keys: [1, 2, 1],
    flags: ["write", "denyoom"],
    handler: (c) => zrangeGeneric(c, 2, true, "auto", undefined),
  },
  { name: "zrangebyscore", arity: -4, handler: zrange("score", false) },
  { name: "zrevrangebyscore", arity: -4, handler: zrange("score", true) },
  { name: "zrangebylex", arity: -4, since: "2.8.9", handler: zrange("lex", false) },
  { name: "zrevrangebylex", arity: -4, since: "2.8.9", handler: zrange("lex", true) },
  { name: "zcount", arity: 4, handler: zcount },
  { name: "zlexcount", arity: 4, since: "2.8.9", handler: zlexcount },
  { name: "zrevrange", arity: -4, handler: zrange("rank", true) },
  { name: "zcard", arity: 2, handler: zcard },
  { name: "zscore", arity: 3, handler: zscore },
  { name: "zmscore", arity: -3, since: "6.2", handler: zmscore },
  {
    name: "zrank",
    arity: [
      ["2.8", 3],
      ["7.2", -3],
    ],
    handler: zrankGeneric(false),
  },
  {
    name: "zrevrank",
    arity: [
      ["2.8", 3],
      ["7.2", -3],
    ],
    handler: zrankGeneric(true),
  },
  { name: "zscan", arity: -3, handler: zscan },
  { name: "zpopmin", arity: -2, since: "5.0", flags: ["write"], handler: zpopMinMax(false) },
  { name: "zpopmax", arity: -2, since: "5.0", flags: ["write"], handler: zpopMinMax(true) },
  {
    name: "zmpop",
    arity: -4,
    since: "7.0",
    keys: [0, 0, 0],
    flags: ["write"],
    handler: zmpop,
  },
  {
    name: "bzpopmin",
    arity: -3,
    since: "5.0",
    keys: [1, -2, 1],
    flags: ["write"],
    handler: bzpopMinMax(false),
  },
  {
    name: "bzpopmax",
    arity: -3,
    since: "5.0",
    keys: [1, -2, 1],
    flags: ["write"],
    handler: bzpopMinMax(true),
  },
  {
    name: "bzmpop",
    arity: -5,
    since: "7.0",
    keys: [0, 0, 0],
    flags: ["write"],
    handler: bzmpop,
  },
  { name: "zrandmember", arity: -2, since: "6.2", handler: zrandmember },
]);
