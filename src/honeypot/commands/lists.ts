/**
 * List commands (t_list.c): LPUSH, RPUSH, LPUSHX, RPUSHX, LRANGE, LLEN, LINDEX, LPOP, RPOP,
 * LINSERT, LSET, LTRIM, LREM, LPOS, LMOVE, RPOPLPUSH, LMPOP, and the blocking BLPOP, BRPOP,
 * BRPOPLPUSH, BLMOVE, BLMPOP (their wait is the session's: CommandContext.block).
 */
import { arr, bulk } from "../../resp/index.js";
import { OUT_OF_MEMORY, WRONG_TYPE } from "../keyspace.js";
import { NO_SUCH_KEY, OUT_OF_RANGE_POSITIVE } from "../personas/texts.js";
import { intArg } from "./integers.js";
import {
  EMPTY_ARRAY,
  errorReply,
  integer,
  notInteger,
  nullArray,
  nullBulk,
  OK,
  outOfMemory,
  type Reply,
  syntaxError,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";
import { timeoutArg } from "./timeout.js";

function pushGeneric(left: boolean, onlyIfExists: boolean) {
  return (c: CommandContext): Reply => {
    const db = c.state.db;
    const key = c.arg(1);
    if (onlyIfExists && !c.keyspace.exists(db, key)) {
      return c.keyspace.typeOf(db, key) === "none" ? integer(0) : wrongType();
    }
    const n = c.keyspace.listPush(db, key, c.args.slice(2), left);
    if (n === WRONG_TYPE) return wrongType();
    if (n === OUT_OF_MEMORY) return outOfMemory();
    wrote(c, c.args.length - 2);
    return integer(n);
  };
}

function lrange(c: CommandContext): Reply {
  const start = intArg(c, 2);
  const stop = intArg(c, 3);
  if (start === undefined || stop === undefined) return notInteger();
  const list = c.keyspace.getList(c.state.db, c.arg(1));
  if (list === WRONG_TYPE) return wrongType();
  if (list === undefined) return EMPTY_ARRAY;
  const len = list.length;
  const from = start < 0 ? Math.max(0, len + start) : start;
  const to = Math.min(stop < 0 ? len + stop : stop, len - 1);
  if (from > to || from >= len) return EMPTY_ARRAY;
  return arr(list.slice(from, to + 1).map((b) => bulk(b)));
}

function llen(c: CommandContext): Reply {
  const list = c.keyspace.getList(c.state.db, c.arg(1));
  if (list === WRONG_TYPE) return wrongType();
  return integer(list?.length ?? 0);
}

function lindex(c: CommandContext): Reply {
  const index = intArg(c, 2);
  if (index === undefined) return notInteger();
  const list = c.keyspace.getList(c.state.db, c.arg(1));
  if (list === WRONG_TYPE) return wrongType();
  const item = list?.[index < 0 ? list.length + index : index];
  return item === undefined ? nullBulk() : bulk(item);
}

function popGeneric(left: boolean) {
  return (c: CommandContext): Reply => {
    let count: number | undefined;
    if (c.args.length === 3) {
      const n = intArg(c, 2);
      if (n === undefined || n < 0) return errorReply(OUT_OF_RANGE_POSITIVE);
      count = n;
    }
    const db = c.state.db;
    const key = c.arg(1);
    const list = c.keyspace.getList(db, key);
    if (list === WRONG_TYPE) return wrongType();
    if (list === undefined) return count === undefined ? nullBulk() : nullArray(c.state.proto);
    if (count === 0) return EMPTY_ARRAY;
    const taken = c.keyspace.listPop(db, key, count ?? 1, left);
    if (taken === undefined || taken === WRONG_TYPE) return nullBulk();
    wrote(c, taken.length);
    return count === undefined ? bulk(taken[0]!) : arr(taken.map((b) => bulk(b)));
  };
}

function linsert(c: CommandContext): Reply {
  const where = c.arg(2).toLowerCase();
  if (where !== "before" && where !== "after") return syntaxError();
  const db = c.state.db;
  const key = c.arg(1);
  const list = c.keyspace.getList(db, key);
  if (list === undefined) return integer(0);
  if (list === WRONG_TYPE) return wrongType();
  const at = list.findIndex((item) => item.equals(c.args[3]!));
  if (at < 0) return integer(-1);
  const pos = where === "before" ? at : at + 1;
  if (!c.keyspace.listSplice(db, key, pos, 0, [c.args[4]!])) return outOfMemory();
  wrote(c);
  return integer(list.length);
}

function lset(c: CommandContext): Reply {
  const db = c.state.db;
  const key = c.arg(1);
  const list = c.keyspace.getList(db, key);
  if (list === undefined) return errorReply(NO_SUCH_KEY);
  if (list === WRONG_TYPE) return wrongType();
  const index = intArg(c, 2);
  if (index === undefined) return notInteger();
  const at = index < 0 ? list.length + index : index;
  if (at < 0 || at >= list.length) return errorReply("ERR index out of range");
  if (!c.keyspace.listSplice(db, key, at, 1, [c.args[3]!])) return outOfMemory();
  wrote(c);
  return OK;
}

function ltrim(c: CommandContext): Reply {
  let start = intArg(c, 2);
  let end = intArg(c, 3);
  if (start === undefined || end === undefined) return notInteger();
  const db = c.state.db;
  const key = c.arg(1);
  const list = c.keyspace.getList(db, key);
  if (list === undefined) return OK;
  if (list === WRONG_TYPE) return wrongType();
  const len = list.length;
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  let ltrimmed: number;
  let rtrimmed: number;
  if (start > end || start >= len) {
    ltrimmed = len;
    rtrimmed = 0;
  } else {
    if (end >= len) end = len - 1;
    ltrimmed = start;
    rtrimmed = len - end - 1;
  }
  c.keyspace.listSplice(db, key, len - rtrimmed, rtrimmed, []);
  c.keyspace.listSplice(db, key, 0, ltrimmed, []);
  wrote(c, ltrimmed + rtrimmed);
  return OK;
}

function lrem(c: CommandContext): Reply {
  const count = intArg(c, 2);
  if (count === undefined) return notInteger();
  const db = c.state.db;
  const key = c.arg(1);
  const list = c.keyspace.getList(db, key);
  if (list === undefined) return integer(0);
  if (list === WRONG_TYPE) return wrongType();
  const removed = c.keyspace.listRemove(db, key, c.args[3]!, Math.abs(count), count < 0);
  wrote(c, removed);
  return integer(removed);
}

/** getPositiveLongFromObjectOrReply with a message: the message for both failures. */
function positiveArg(c: CommandContext, i: number, message: string): number | Reply {
  const n = intArg(c, i);
  return n === undefined || n < 0 ? errorReply(`ERR ${message}`) : n;
}

function lpos(c: CommandContext): Reply {
  let rank = 1;
  let count = -1;
  let maxlen = 0;
  for (let j = 3; j < c.args.length; j++) {
    const opt = c.arg(j).toLowerCase();
    const more = j < c.args.length - 1;
    if (opt === "rank" && more) {
      j++;
      const n = intArg(c, j);
      if (n === undefined) return notInteger();
      if (n === 0) {
        // Reworded in 7.0.1.
        return errorReply(
          c.era.at("7.0.1")
            ? "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
            : "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second, ...",
        );
      }
      rank = n;
    } else if (opt === "count" && more) {
      j++;
      const n = positiveArg(c, j, "COUNT can't be negative");
      if (typeof n !== "number") return n;
      count = n;
    } else if (opt === "maxlen" && more) {
      j++;
      const n = positiveArg(c, j, "MAXLEN can't be negative");
      if (typeof n !== "number") return n;
      maxlen = n;
    } else return syntaxError();
  }
  const fromTail = rank < 0;
  if (fromTail) rank = -rank;
  const list = c.keyspace.getList(c.state.db, c.arg(1));
  if (list === undefined) return count !== -1 ? EMPTY_ARRAY : nullBulk();
  if (list === WRONG_TYPE) return wrongType();
  const ele = c.args[2]!;
  const len = list.length;
  const found: number[] = [];
  let matches = 0;
  let single = -1;
  for (let index = 0; index < len && (maxlen === 0 || index < maxlen); index++) {
    const at = fromTail ? len - index - 1 : index;
    if (!list[at]!.equals(ele)) continue;
    matches++;
    if (matches < rank) continue;
    if (count === -1) {
      single = at;
      break;
    }
    found.push(at);
    if (count !== 0 && matches - rank + 1 >= count) break;
  }
  if (count !== -1) return arr(found.map((n) => integer(n)));
  return single === -1 ? nullBulk() : integer(single);
}

function whereArg(c: CommandContext, i: number): boolean | undefined {
  const w = c.arg(i).toLowerCase();
  return w === "left" ? true : w === "right" ? false : undefined;
}

/**
 * LMOVE's pop-then-push of one element (lmoveGenericCommand): nil on a missing source,
 * WRONGTYPE when either key holds another type.
 */
function moveOne(
  c: CommandContext,
  from: string,
  to: string,
  left: boolean,
  toLeft: boolean,
): Reply {
  const db = c.state.db;
  const src = c.keyspace.getList(db, from);
  if (src === undefined) return nullBulk();
  if (src === WRONG_TYPE) return wrongType();
  if (c.keyspace.typeOf(db, to) !== "list" && c.keyspace.typeOf(db, to) !== "none") {
    return wrongType();
  }
  const value = left ? src[0]! : src[src.length - 1]!;
  // Pushed first (refused past the cap), then popped: a move onto itself keeps its element.
  const pushed = c.keyspace.listPush(db, to, [value], toLeft);
  if (pushed === OUT_OF_MEMORY || pushed === WRONG_TYPE) return outOfMemory();
  const self = from === to;
  if (self) {
    // Popped from the other end of the list it was pushed to.
    const list = c.keyspace.getList(db, from) as Buffer[];
    const at = left ? (toLeft ? 1 : 0) : toLeft ? list.length - 1 : list.length - 2;
    c.keyspace.listSplice(db, from, at, 1, []);
  } else c.keyspace.listPop(db, from, 1, left);
  wrote(c);
  return bulk(value);
}

function lmove(c: CommandContext): Reply {
  const left = whereArg(c, 3);
  const toLeft = whereArg(c, 4);
  if (left === undefined || toLeft === undefined) return syntaxError();
  return moveOne(c, c.arg(1), c.arg(2), left, toLeft);
}

function rpoplpush(c: CommandContext): Reply {
  return moveOne(c, c.arg(1), c.arg(2), false, true);
}

/** Pop up to `count` from the first non-empty list of `keys`: [key, [elements]] (LMPOP). */
function popRange(c: CommandContext, key: string, left: boolean, count: number): Reply {
  const taken = c.keyspace.listPop(c.state.db, key, count, left);
  if (taken === undefined || taken === WRONG_TYPE) return nullBulk();
  wrote(c, taken.length);
  return arr([bulk(Buffer.from(key, "latin1")), arr(taken.map((b) => bulk(b)))]);
}

/** The first of `keys` holding a list; WRONG_TYPE when one before it holds another type. */
function firstList(c: CommandContext, keys: string[]): string | undefined | typeof WRONG_TYPE {
  for (const key of keys) {
    const list = c.keyspace.getList(c.state.db, key);
    if (list === WRONG_TYPE) return WRONG_TYPE;
    if (list !== undefined && list.length > 0) return key;
  }
  return undefined;
}

/** What a blocked list command answers when it stops waiting: the null array. */
const timedOutArray = (c: CommandContext): Reply => nullArray(c.state.proto);

/** BLPOP/BRPOP key [key …] timeout. */
function bpop(left: boolean) {
  return (c: CommandContext): Reply => {
    const timeout = timeoutArg(c, c.args.length - 1, "seconds");
    if (typeof timeout !== "number") return errorReply(timeout.error);
    const keys = c.args.slice(1, -1).map((a) => a.toString("latin1"));
    const popOne = (ctx: CommandContext, key: string): Reply => {
      const taken = ctx.keyspace.listPop(ctx.state.db, key, 1, left);
      if (taken === undefined || taken === WRONG_TYPE) return nullBulk();
      wrote(ctx);
      return arr([bulk(Buffer.from(key, "latin1")), bulk(taken[0]!)]);
    };
    const first = firstList(c, keys);
    if (first === WRONG_TYPE) return wrongType();
    if (first !== undefined) return popOne(c, first);
    return c.block({
      keys,
      timeoutMs: timeout,
      serve: (ctx, key) => {
        const list = ctx.keyspace.getList(ctx.state.db, key);
        if (list === undefined || list === WRONG_TYPE || list.length === 0) return undefined;
        return popOne(ctx, key);
      },
      timedOut: timedOutArray,
    });
  };
}

/** BLMOVE/BRPOPLPUSH: LMOVE once the source has an element. */
function blockingMove(c: CommandContext, left: boolean, toLeft: boolean, timeoutAt: number): Reply {
  const timeout = timeoutArg(c, timeoutAt, "seconds");
  if (typeof timeout !== "number") return errorReply(timeout.error);
  const from = c.arg(1);
  const to = c.arg(2);
  const src = c.keyspace.getList(c.state.db, from);
  if (src === WRONG_TYPE) return wrongType();
  if (src !== undefined) return moveOne(c, from, to, left, toLeft);
  return c.block({
    keys: [from],
    timeoutMs: timeout,
    serve: (ctx, key) => {
      const list = ctx.keyspace.getList(ctx.state.db, key);
      if (list === undefined || list === WRONG_TYPE || list.length === 0) return undefined;
      return moveOne(ctx, from, to, left, toLeft);
    },
    timedOut: timedOutArray,
  });
}

function blmove(c: CommandContext): Reply {
  const left = whereArg(c, 3);
  const toLeft = whereArg(c, 4);
  if (left === undefined || toLeft === undefined) return syntaxError();
  return blockingMove(c, left, toLeft, 5);
}

function brpoplpush(c: CommandContext): Reply {
  return blockingMove(c, false, true, 3);
}

/** LMPOP numkeys key … LEFT|RIGHT [COUNT n]; BLMPOP timeout numkeys … (lmpopGenericCommand). */
function mpop(blocking: boolean) {
  return (c: CommandContext): Reply => {
    const at = blocking ? 2 : 1;
    const numkeys = intArg(c, at);
    if (numkeys === undefined || numkeys < 1) {
      return errorReply("ERR numkeys should be greater than 0");
    }
    const whereAt = at + numkeys + 1;
    if (whereAt >= c.args.length) return syntaxError();
    const left = whereArg(c, whereAt);
    if (left === undefined) return syntaxError();
    let count = -1;
    for (let j = whereAt + 1; j < c.args.length; j++) {
      if (count === -1 && c.arg(j).toLowerCase() === "count" && j < c.args.length - 1) {
        j++;
        const n = intArg(c, j);
        if (n === undefined || n < 1) return errorReply("ERR count should be greater than 0");
        count = n;
      } else return syntaxError();
    }
    if (count === -1) count = 1;
    const keys = c.args.slice(at + 1, whereAt).map((a) => a.toString("latin1"));
    let timeout = 0;
    if (blocking) {
      const t = timeoutArg(c, 1, "seconds");
      if (typeof t !== "number") return errorReply(t.error);
      timeout = t;
    }
    const first = firstList(c, keys);
    if (first === WRONG_TYPE) return wrongType();
    if (first !== undefined) return popRange(c, first, left, count);
    if (!blocking) return nullArray(c.state.proto);
    return c.block({
      keys,
      timeoutMs: timeout,
      serve: (ctx, key) => {
        const list = ctx.keyspace.getList(ctx.state.db, key);
        if (list === undefined || list === WRONG_TYPE || list.length === 0) return undefined;
        return popRange(ctx, key, left, count);
      },
      timedOut: timedOutArray,
    });
  };
}

export const LIST_COMMANDS: CommandSpec[] = inCategory("list", [
  { name: "lpush", arity: -3, flags: ["write", "denyoom"], handler: pushGeneric(true, false) },
  { name: "rpush", arity: -3, flags: ["write", "denyoom"], handler: pushGeneric(false, false) },
  {
    name: "lpushx",
    arity: [
      ["2.8", 3],
      ["4.0", -3],
    ],
    flags: ["write", "denyoom"],
    handler: pushGeneric(true, true),
  },
  {
    name: "rpushx",
    arity: [
      ["2.8", 3],
      ["4.0", -3],
    ],
    flags: ["write", "denyoom"],
    handler: pushGeneric(false, true),
  },
  { name: "lrange", arity: 4, handler: lrange },
  { name: "llen", arity: 2, handler: llen },
  { name: "lindex", arity: 3, handler: lindex },
  {
    name: "lpop",
    arity: [
      ["2.8", 2],
      ["6.2", -2],
    ],
    flags: ["write"],
    handler: popGeneric(true),
  },
  {
    name: "rpop",
    arity: [
      ["2.8", 2],
      ["6.2", -2],
    ],
    flags: ["write"],
    handler: popGeneric(false),
  },
  { name: "linsert", arity: 5, flags: ["write", "denyoom"], handler: linsert },
  { name: "lset", arity: 4, flags: ["write", "denyoom"], handler: lset },
  { name: "ltrim", arity: 4, flags: ["write"], handler: ltrim },
  { name: "lrem", arity: 4, flags: ["write"], handler: lrem },
  { name: "lpos", arity: -3, since: "6.0.6", handler: lpos },
  { name: "rpoplpush", arity: 3, keys: [1, 2, 1], flags: ["write", "denyoom"], handler: rpoplpush },
  {
    name: "lmove",
    arity: 5,
    since: "6.2",
    keys: [1, 2, 1],
    flags: ["write", "denyoom"],
    handler: lmove,
  },
  {
    name: "lmpop",
    arity: -4,
    since: "7.0",
    keys: [0, 0, 0],
    flags: ["write"],
    handler: mpop(false),
  },
  { name: "blpop", arity: -3, keys: [1, -2, 1], flags: ["write"], handler: bpop(true) },
  { name: "brpop", arity: -3, keys: [1, -2, 1], flags: ["write"], handler: bpop(false) },
  {
    name: "brpoplpush",
    arity: 4,
    keys: [1, 2, 1],
    flags: ["write", "denyoom"],
    handler: brpoplpush,
  },
  {
    name: "blmove",
    arity: 6,
    since: "6.2",
    keys: [1, 2, 1],
    flags: ["write", "denyoom"],
    handler: blmove,
  },
  {
    name: "blmpop",
    arity: -5,
    since: "7.0",
    keys: [0, 0, 0],
    flags: ["write"],
    handler: mpop(true),
  },
]);
