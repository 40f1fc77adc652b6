/**
 * Hash commands (t_hash.c): HSET, HSETNX, HMSET, HGET, HMGET, HGETALL, HDEL, HLEN, HEXISTS,
 * HKEYS, HVALS, HINCRBY, HINCRBYFLOAT, HSTRLEN, HRANDFIELD, HSCAN.
 */
import { arr, bulk } from "../../resp/index.js";
import type { RespValue } from "../../resp/types.js";
import { OUT_OF_MEMORY, WRONG_TYPE } from "../keyspace.js";
import { arityText, NOT_FLOAT, OUT_OF_RANGE_LONG } from "../personas/texts.js";
import { INT64_MAX, INT64_MIN, parseInt64 } from "./integers.js";
import { collectionScan } from "./keys.js";
import { addLongDouble, formatLongDouble, parseLongDouble } from "./long-double.js";
import {
  EMPTY_ARRAY,
  errorReply,
  integer,
  notInteger,
  nullBulk,
  OK,
  outOfMemory,
  pairsMap,
  type Reply,
  syntaxError,
  textArray,
  wrongType,
} from "./reply.js";
import { type CommandContext, type CommandSpec, inCategory, wrote } from "./spec.js";

function hset(c: CommandContext): Reply {
  if (c.args.length % 2 === 1) return errorReply(arityText(c.fullName));
  const pairs: Array<[string, Buffer]> = [];
  for (let i = 2; i < c.args.length; i += 2) pairs.push([c.arg(i), c.args[i + 1]!]);
  const n = c.keyspace.hashSet(c.state.db, c.arg(1), pairs);
  if (n === WRONG_TYPE) return wrongType();
  if (n === OUT_OF_MEMORY) return outOfMemory();
  // 6.2+: a write per field given (hsetCommand's dirty += (argc - 2) / 2); before, one.
  wrote(c, c.era.at("6.2") ? pairs.length : 1);
  return c.fullName === "hmset" ? OK : integer(n);
}

function hsetnx(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  if (hash?.has(c.arg(2))) return integer(0);
  const n = c.keyspace.hashSet(c.state.db, c.arg(1), [[c.arg(2), c.args[3]!]]);
  if (n === OUT_OF_MEMORY) return outOfMemory();
  wrote(c);
  return integer(1);
}

function hget(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  const v = hash?.get(c.arg(2));
  return v === undefined ? nullBulk() : bulk(v);
}

function hmget(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  const out: RespValue[] = [];
  let bytes = 0;
  for (let i = 2; i < c.args.length; i++) {
    const v = hash?.get(c.arg(i));
    if (v !== undefined) bytes += v.length + 16;
    out.push(v === undefined ? nullBulk() : bulk(v));
  }
  return c.replyFits(bytes) ? arr(out) : c.overLimit();
}

function hgetall(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  return pairsMap([...(hash ?? new Map<string, Buffer>())].map(([k, v]) => [k, bulk(v)]));
}

function hdel(c: CommandContext): Reply {
  const fields: string[] = [];
  for (let i = 2; i < c.args.length; i++) fields.push(c.arg(i));
  const n = c.keyspace.hashDelete(c.state.db, c.arg(1), fields);
  if (n === WRONG_TYPE) return wrongType();
  if (n > 0) wrote(c, n);
  return integer(n);
}

function hashRead(pick: (hash: Map<string, Buffer>, c: CommandContext) => Reply, empty: Reply) {
  return (c: CommandContext): Reply => {
    const hash = c.keyspace.getHash(c.state.db, c.arg(1));
    if (hash === WRONG_TYPE) return wrongType();
    return hash === undefined ? empty : pick(hash, c);
  };
}

function hincrby(c: CommandContext): Reply {
  const by = parseInt64(c.arg(3));
  if (by === undefined) return notInteger();
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  const old = hash?.get(c.arg(2));
  const current = old === undefined ? 0n : parseInt64(old.toString("latin1"));
  if (current === undefined) return errorReply("ERR hash value is not an integer");
  const next = current + by;
  if (next > INT64_MAX || next < INT64_MIN) {
    return errorReply("ERR increment or decrement would overflow");
  }
  const n = c.keyspace.hashSet(c.state.db, c.arg(1), [[c.arg(2), Buffer.from(next.toString())]]);
  if (n === OUT_OF_MEMORY) return outOfMemory();
  wrote(c);
  return { type: "integer", value: next };
}

function hincrbyfloat(c: CommandContext): Reply {
  const by = parseLongDouble(c.arg(3));
  if (by === undefined) return errorReply(NOT_FLOAT);
  // 6.0 refuses an infinite increment up front; before, the sum is refused below.
  if (by === "inf" && c.era.at("6.0")) return errorReply("ERR value is NaN or Infinity");
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  const old = hash?.get(c.arg(2));
  const current =
    old === undefined ? parseLongDouble("0") : parseLongDouble(old.toString("latin1"));
  if (current === undefined) return errorReply("ERR hash value is not a float");
  const next = by === "inf" || current === "inf" ? undefined : addLongDouble(current, by);
  if (next === undefined) return errorReply("ERR increment would produce NaN or Infinity");
  const text = formatLongDouble(next);
  const n = c.keyspace.hashSet(c.state.db, c.arg(1), [[c.arg(2), Buffer.from(text)]]);
  if (n === OUT_OF_MEMORY) return outOfMemory();
  wrote(c);
  return bulk(text);
}

function hstrlen(c: CommandContext): Reply {
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  return integer(hash?.get(c.arg(2))?.length ?? 0);
}

function hrandfield(c: CommandContext): Reply {
  const randomIndex = (n: number): number => Math.floor(Math.random() * n);
  if (c.args.length < 3) {
    const hash = c.keyspace.getHash(c.state.db, c.arg(1));
    if (hash === WRONG_TYPE) return wrongType();
    if (hash === undefined) return nullBulk();
    const fields = [...hash.keys()];
    return bulk(Buffer.from(fields[randomIndex(fields.length)]!, "latin1"));
  }
  const n = parseInt64(c.arg(2));
  if (n === undefined) return notInteger();
  if (n < -INT64_MAX) return errorReply(OUT_OF_RANGE_LONG);
  if (c.args.length > 4 || (c.args.length === 4 && c.arg(3).toLowerCase() !== "withvalues")) {
    return syntaxError();
  }
  const withValues = c.args.length === 4;
  if (withValues && (n < -INT64_MAX / 2n || n > INT64_MAX / 2n)) {
    return errorReply("ERR value is out of range");
  }
  const hash = c.keyspace.getHash(c.state.db, c.arg(1));
  if (hash === WRONG_TYPE) return wrongType();
  if (hash === undefined || n === 0n) return EMPTY_ARRAY;
  const entries = [...hash];
  let longest = 0;
  for (const [f, v] of entries) longest = Math.max(longest, f.length + (withValues ? v.length : 0));
  const count = n < 0n ? -n : n;
  const picks = count < BigInt(entries.length) ? Number(count) : entries.length;
  const replyCount = n < 0n ? count : BigInt(picks);
  // Repeats allowed for a negative count: the reply check bounds it before any is drawn.
  if (!c.replyFits(Number(replyCount) * (longest + 32))) return c.overLimit();
  let picked: Array<[string, Buffer]>;
  if (n < 0n) {
    picked = [];
    for (let i = 0n; i < count; i++) picked.push(entries[randomIndex(entries.length)]!);
  } else if (picks === entries.length) {
    picked = entries;
  } else {
    for (let i = 0; i < picks; i++) {
      const j = i + randomIndex(entries.length - i);
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    picked = entries.slice(0, picks);
  }
  const out: RespValue[] = [];
  for (const [f, v] of picked) {
    const field = bulk(Buffer.from(f, "latin1"));
    // RESP3 nests each pair; RESP2 is flat.
    if (!withValues) out.push(field);
    else if (c.state.proto === 3) out.push(arr([field, bulk(v)]));
    else out.push(field, bulk(v));
  }
  return arr(out);
}

function hscan(c: CommandContext): Reply {
  return collectionScan(
    c,
    "hashtable",
    () => c.keyspace.getHash(c.state.db, c.arg(1)),
    (hash) => [...hash].map(([f, v]) => [f, v] as const),
  );
}

export const HASH_COMMANDS: CommandSpec[] = inCategory("hash", [
  {
    name: "hset",
    arity: [
      ["2.8", 4],
      ["4.0", -4],
    ],
    flags: ["write", "denyoom"],
    handler: hset,
  },
  { name: "hsetnx", arity: 4, flags: ["write", "denyoom"], handler: hsetnx },
  { name: "hmset", arity: -4, flags: ["write", "denyoom"], handler: hset },
  { name: "hget", arity: 3, handler: hget },
  { name: "hmget", arity: -3, handler: hmget },
  { name: "hgetall", arity: 2, handler: hgetall },
  { name: "hdel", arity: -3, flags: ["write"], handler: hdel },
  { name: "hlen", arity: 2, handler: hashRead((h) => integer(h.size), integer(0)) },
  {
    name: "hexists",
    arity: 3,
    handler: hashRead((h, c) => integer(h.has(c.arg(2)) ? 1 : 0), integer(0)),
  },
  { name: "hkeys", arity: 2, handler: hashRead((h) => textArray([...h.keys()]), EMPTY_ARRAY) },
  {
    name: "hvals",
    arity: 2,
    handler: hashRead((h) => arr([...h.values()].map((v) => bulk(v))), EMPTY_ARRAY),
  },
  { name: "hincrby", arity: 4, flags: ["write", "denyoom"], handler: hincrby },
  { name: "hincrbyfloat", arity: 4, flags: ["write", "denyoom"], handler: hincrbyfloat },
  { name: "hstrlen", arity: 3, since: "3.2", handler: hstrlen },
  { name: "hrandfield", arity: -2, since: "6.2", handler: hrandfield },
  { name: "hscan", arity: -3, handler: hscan },
]);
