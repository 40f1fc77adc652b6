/**
 * List commands (t_list.c): LPUSH, RPUSH, LPUSHX, RPUSHX, LRANGE, LLEN, LINDEX, LPOP, RPOP.
 */
import { arr, bulk } from "../../resp/index.js";
import { OUT_OF_MEMORY, WRONG_TYPE } from "../keyspace.js";
import { OUT_OF_RANGE_POSITIVE } from "../personas/texts.js";
import { intArg } from "./integers.js";
import {
  EMPTY_ARRAY,
  errorReply,
  integer,
  notInteger,
  nullArray,
  nullBulk,
  outOfMemory,
  type Reply,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

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
    wrote(c);
    return count === undefined ? bulk(taken[0]!) : arr(taken.map((b) => bulk(b)));
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
]);
