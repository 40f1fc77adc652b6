/**
 * Set commands (t_set.c): SADD, SREM, SMEMBERS, SCARD, SISMEMBER, SMISMEMBER, SSCAN, SMOVE,
 * SPOP, SRANDMEMBER, and the algebra SINTER/SUNION/SDIFF (with STORE variants) and SINTERCARD.
 */
import { arr } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { OUT_OF_MEMORY, WRONG_TYPE } from "../keyspace.js";
import { INDEX_OUT_OF_RANGE, OUT_OF_RANGE_LONG, OUT_OF_RANGE_POSITIVE } from "../personas/texts.js";
import { INT64_MAX, parseInt64 } from "./integers.js";
import { collectionScan } from "./keys.js";
import {
  bulkText,
  EMPTY_ARRAY,
  errorReply,
  integer,
  notInteger,
  nullBulk,
  outOfMemory,
  type Reply,
  syntaxError,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

/** Members in the order SMEMBERS gives them: an intset is sorted, the rest kept as inserted. */
export function setOrder(c: CommandContext, members: Set<string>): string[] {
  const all = [...members];
  const maxIntset = Number(c.state.config.get("set-max-intset-entries") ?? "512");
  const ints = all.map((m) => parseInt64(m));
  if (all.length <= maxIntset && ints.every((n) => n !== undefined)) {
    return all
      .map((m, i) => [m, ints[i]!] as const)
      .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
      .map(([m]) => m);
  }
  return all;
}

function sadd(c: CommandContext): Reply {
  const members: string[] = [];
  for (let i = 2; i < c.args.length; i++) members.push(c.arg(i));
  const n = c.keyspace.setAdd(c.state.db, c.arg(1), members);
  if (n === WRONG_TYPE) return wrongType();
  if (n === OUT_OF_MEMORY) return outOfMemory();
  if (n > 0) wrote(c, n);
  return integer(n);
}

function srem(c: CommandContext): Reply {
  const members: string[] = [];
  for (let i = 2; i < c.args.length; i++) members.push(c.arg(i));
  const n = c.keyspace.setRemove(c.state.db, c.arg(1), members);
  if (n === WRONG_TYPE) return wrongType();
  if (n > 0) wrote(c, n);
  return integer(n);
}

function smembers(c: CommandContext): Reply {
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  const items = members === undefined ? [] : setOrder(c, members).map(bulkText);
  return { type: "set", value: items };
}

function scard(c: CommandContext): Reply {
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  return integer(members?.size ?? 0);
}

function sismember(c: CommandContext): Reply {
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  return integer(members?.has(c.arg(2)) ? 1 : 0);
}

function smismember(c: CommandContext): Reply {
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  const out: RespValue[] = [];
  for (let i = 2; i < c.args.length; i++) out.push(integer(members?.has(c.arg(i)) ? 1 : 0));
  return arr(out);
}

/** Members as a reply of `type` ("set" is `~` in RESP3, `*` in RESP2), within the reply cap. */
function membersReply(c: CommandContext, members: readonly string[], type: "set" | "array"): Reply {
  let bytes = 0;
  for (const m of members) bytes += m.length + 16;
  if (!c.replyFits(bytes)) return c.overLimit();
  const items = members.map(bulkText);
  return type === "set" ? { type: "set", value: items } : arr(items);
}

/** A uniformly random index below n. */
function randomIndex(n: number): number {
  return Math.floor(Math.random() * n);
}

/** `count` distinct members picked at random (count < members.length), in random order. */
function pickDistinct(members: string[], count: number): string[] {
  const all = [...members];
  for (let i = 0; i < count; i++) {
    const j = i + randomIndex(all.length - i);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, count);
}

function smove(c: CommandContext): Reply {
  const db = c.state.db;
  const src = c.keyspace.getSet(db, c.arg(1));
  if (src === undefined) return integer(0);
  const dst = c.keyspace.getSet(db, c.arg(2));
  if (src === WRONG_TYPE || dst === WRONG_TYPE) return wrongType();
  const member = c.arg(3);
  if (src === dst) return integer(src.has(member) ? 1 : 0);
  if (!src.has(member)) return integer(0);
  // Added first, so a refused write (over the cap) leaves the source as it was.
  const added = c.keyspace.setAdd(db, c.arg(2), [member]);
  if (added === OUT_OF_MEMORY) return outOfMemory();
  c.keyspace.setRemove(db, c.arg(1), [member]);
  wrote(c, added === 1 ? 2 : 1);
  return integer(1);
}

function spop(c: CommandContext): Reply {
  const db = c.state.db;
  const key = c.arg(1);
  if (c.args.length > 3) return syntaxError();
  if (c.args.length === 3) {
    const n = parseInt64(c.arg(2));
    if (c.era.at("6.2")) {
      if (n === undefined || n < 0n) return errorReply(OUT_OF_RANGE_POSITIVE);
    } else if (n === undefined) return notInteger();
    else if (n < 0n) return errorReply(INDEX_OUT_OF_RANGE);
    const members = c.keyspace.getSet(db, key);
    if (members === WRONG_TYPE) return wrongType();
    if (members === undefined || n === 0n) return { type: "set", value: [] };
    const all = setOrder(c, members);
    const picked = n >= BigInt(all.length) ? all : pickDistinct(all, Number(n));
    const reply = membersReply(c, picked, "set");
    c.keyspace.setRemove(db, key, picked);
    wrote(c, picked.length);
    return reply;
  }
  const members = c.keyspace.getSet(db, key);
  if (members === WRONG_TYPE) return wrongType();
  if (members === undefined) return nullBulk();
  const all = [...members];
  const picked = all[randomIndex(all.length)]!;
  c.keyspace.setRemove(db, key, [picked]);
  wrote(c);
  return bulkText(picked);
}

function srandmember(c: CommandContext): Reply {
  if (c.args.length > 3) return syntaxError();
  if (c.args.length === 3) {
    const n = parseInt64(c.arg(2));
    if (n === undefined) return notInteger();
    // LONG_MIN: 6.2 checks the range, 6.0.18 refuses it alone; before, it overflows (a
    // reply too big to send, which the reply cap below cuts).
    if (n < -INT64_MAX && c.era.at("6.2")) return errorReply(OUT_OF_RANGE_LONG);
    if (n < -INT64_MAX && c.era.at("6.0.18")) return errorReply("ERR value is out of range");
    const members = c.keyspace.getSet(c.state.db, c.arg(1));
    if (members === WRONG_TYPE) return wrongType();
    // 6.2 answers an array; before, a set (`~` in RESP3).
    const type = c.era.at("6.2") ? "array" : "set";
    if (members === undefined || n === 0n)
      return type === "set" ? { type, value: [] } : EMPTY_ARRAY;
    const all = setOrder(c, members);
    if (n < 0n || n === 1n) {
      // Repeats allowed: as many as asked, which the reply check bounds before any is drawn.
      const count = n < 0n ? -n : n;
      let longest = 0;
      for (const m of all) longest = Math.max(longest, m.length);
      if (!c.replyFits(Number(count) * (longest + 16))) return c.overLimit();
      const picked: string[] = [];
      for (let i = 0n; i < count; i++) picked.push(all[randomIndex(all.length)]!);
      return membersReply(c, picked, type);
    }
    const picked = n >= BigInt(all.length) ? all : pickDistinct(all, Number(n));
    return membersReply(c, picked, type);
  }
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  if (members === undefined) return nullBulk();
  const all = [...members];
  return bulkText(all[randomIndex(all.length)]!);
}

type SetOp = "inter" | "union" | "diff";

/**
 * The sets under keys (a missing key is an empty set), or WRONGTYPE for the first key of
 * another type, as sinterGenericCommand/sunionDiffGenericCommand look them up.
 */
function setsAt(c: CommandContext, keys: readonly string[], op: SetOp): Array<Set<string>> | Reply {
  // An intersection before 6.0.15 / 6.2.5 stopped at the first missing key, unlooked-at keys
  // of another type included (redis#9032 made it check them all).
  const stopsAtMissing =
    op === "inter" && !(c.era.at("6.2.5") || (c.era.at("6.0.15") && !c.era.at("6.1")));
  const sets: Array<Set<string>> = [];
  for (const key of keys) {
    const s = c.keyspace.getSet(c.state.db, key);
    if (s === WRONG_TYPE) return wrongType();
    sets.push(s ?? new Set());
    if (s === undefined && stopsAtMissing) break;
  }
  return sets;
}

/** The members of op over sets, in the order the result set keeps them. */
function algebraOf(c: CommandContext, op: SetOp, sets: Array<Set<string>>, limit = 0): string[] {
  const out: string[] = [];
  if (op === "inter") {
    if (sets.some((s) => s.size === 0)) return out;
    // Walks the smallest set (stable sort: the first of equal sizes), as Redis's qsort does.
    const sorted = [...sets].sort((a, b) => a.size - b.size);
    const [first, ...rest] = sorted;
    for (const m of setOrder(c, first!)) {
      if (!rest.every((s) => s.has(m))) continue;
      out.push(m);
      if (limit && out.length >= limit) break;
    }
    return out;
  }
  if (op === "union") {
    const seen = new Set<string>();
    for (const s of sets) for (const m of setOrder(c, s)) seen.add(m);
    return setOrder(c, seen);
  }
  const [first, ...rest] = sets;
  for (const m of setOrder(c, first!)) if (!rest.some((s) => s === first || s.has(m))) out.push(m);
  return setOrder(c, new Set(out));
}

/** SINTER, SUNION, SDIFF (keys from 1) and their STORE variants (destination 1, keys from 2). */
function setAlgebra(op: SetOp, store: boolean) {
  return (c: CommandContext): Reply => {
    const first = store ? 2 : 1;
    const keys: string[] = [];
    for (let i = first; i < c.args.length; i++) keys.push(c.arg(i));
    const sets = setsAt(c, keys, op);
    if (!Array.isArray(sets)) return sets;
    const result = algebraOf(c, op, sets);
    if (!store) return membersReply(c, result, "set");
    const db = c.state.db;
    const dst = c.arg(1);
    if (result.length === 0) {
      if (c.keyspace.delete(db, dst)) wrote(c);
      return integer(0);
    }
    if (!c.keyspace.storeSet(db, dst, new Set(result))) return outOfMemory();
    wrote(c);
    return integer(result.length);
  };
}

function sintercard(c: CommandContext): Reply {
  const numkeys = parseInt64(c.arg(1));
  if (numkeys === undefined || numkeys < 1n) {
    return errorReply("ERR numkeys should be greater than 0");
  }
  if (numkeys > BigInt(c.args.length - 2)) {
    return errorReply("ERR Number of keys can't be greater than number of args");
  }
  const n = Number(numkeys);
  let limit = 0;
  for (let j = 2 + n; j < c.args.length; j++) {
    if (c.arg(j).toLowerCase() === "limit" && j + 1 < c.args.length) {
      j++;
      const l = parseInt64(c.arg(j));
      if (l === undefined || l < 0n) return errorReply("ERR LIMIT can't be negative");
      limit = Number(l);
    } else return syntaxError();
  }
  const keys: string[] = [];
  for (let i = 2; i < 2 + n; i++) keys.push(c.arg(i));
  const sets = setsAt(c, keys, "inter");
  if (!Array.isArray(sets)) return sets;
  return integer(algebraOf(c, "inter", sets, limit).length);
}

function sscan(c: CommandContext): Reply {
  return collectionScan(
    c,
    "hashtable",
    () => c.keyspace.getSet(c.state.db, c.arg(1)),
    (members) => setOrder(c, members).map((m) => [m] as const),
  );
}

export const SET_COMMANDS: CommandSpec[] = inCategory("set", [
  { name: "sadd", arity: -3, flags: ["write", "denyoom"], handler: sadd },
  { name: "srem", arity: -3, flags: ["write"], handler: srem },
  { name: "smembers", arity: 2, handler: smembers },
  { name: "scard", arity: 2, handler: scard },
  { name: "sismember", arity: 3, handler: sismember },
  { name: "smismember", arity: -3, since: "6.2", handler: smismember },
  { name: "sscan", arity: -3, handler: sscan },
  { name: "smove", arity: 4, keys: [1, 2, 1], flags: ["write"], handler: smove },
  {
    name: "spop",
    arity: [
      ["2.8", 2],
      ["3.2", -2],
    ],
    flags: ["write"],
    handler: spop,
  },
  { name: "srandmember", arity: -2, handler: srandmember },
  { name: "sinter", arity: -2, keys: [1, -1, 1], handler: setAlgebra("inter", false) },
  { name: "sunion", arity: -2, keys: [1, -1, 1], handler: setAlgebra("union", false) },
  { name: "sdiff", arity: -2, keys: [1, -1, 1], handler: setAlgebra("diff", false) },
  {
    name: "sinterstore",
    arity: -3,
    keys: [1, -1, 1],
    flags: ["write", "denyoom"],
    handler: setAlgebra("inter", true),
  },
  {
    name: "sunionstore",
    arity: -3,
    keys: [1, -1, 1],
    flags: ["write", "denyoom"],
    handler: setAlgebra("union", true),
  },
  {
    name: "sdiffstore",
    arity: -3,
    keys: [1, -1, 1],
    flags: ["write", "denyoom"],
    handler: setAlgebra("diff", true),
  },
  { name: "sintercard", arity: -3, since: "7.0", keys: [0, 0, 0], handler: sintercard },
]);
