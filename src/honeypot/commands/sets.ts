/**
 * Set commands (t_set.c): SADD, SREM, SMEMBERS, SCARD, SISMEMBER, SSCAN.
 */
import { OUT_OF_MEMORY, WRONG_TYPE } from "../keyspace.js";
import { encodingOf } from "./encoding.js";
import { parseInt64 } from "./integers.js";
import { collectionScan, EMPTY_SCAN, scanCursor, scanOptions } from "./keys.js";
import { bulkText, integer, outOfMemory, type Reply, wrongType } from "./reply.js";
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

function sscan(c: CommandContext): Reply {
  const cursor = scanCursor(c, 2);
  if (typeof cursor !== "number") return cursor;
  const members = c.keyspace.getSet(c.state.db, c.arg(1));
  if (members === WRONG_TYPE) return wrongType();
  if (members === undefined) return EMPTY_SCAN;
  const opts = scanOptions(c, 3, false);
  if (!("count" in opts)) return opts;
  const small = encodingOf(c, c.arg(1)) !== "hashtable";
  return collectionScan(
    opts,
    cursor,
    small,
    setOrder(c, members).map((m) => [m] as const),
  );
}

export const SET_COMMANDS: CommandSpec[] = inCategory("set", [
  { name: "sadd", arity: -3, flags: ["write", "denyoom"], handler: sadd },
  { name: "srem", arity: -3, flags: ["write"], handler: srem },
  { name: "smembers", arity: 2, handler: smembers },
  { name: "scard", arity: 2, handler: scard },
  { name: "sismember", arity: 3, handler: sismember },
  { name: "sscan", arity: -3, handler: sscan },
]);
