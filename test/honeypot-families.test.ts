/**
 * Lists, blocking commands and streams, differential: each suite runs on one connection to a
 * real server and to the persona of its version (the shipped HoneypotServer), reply by reply,
 * byte for byte. Debian's redis-server 7.0 always (CI has it); the builds in /work/servers
 * (5.0.8, 6.2.16, 7.4.1 …) where present. Blocking: replies that arrive later — a push on
 * another connection of the same source, a timeout, CLIENT UNBLOCK — and the requests a
 * blocked client sent meanwhile. Tests wait for replies and closes, never for the clock.
 * All traffic stays on 127.0.0.1.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import { persona } from "../src/honeypot/personas/index.js";
import { DEFAULT_SESSION_LIMITS } from "../src/honeypot/session.js";
import { type RedisProcess, redisServerVersion, startRedis } from "../src/lab/redis.js";
import { encodeCommand } from "../src/resp/index.js";
import {
  type PersonaServer,
  RespConnection,
  sendAll,
  servePersona,
} from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

const requireAll = process.env.CI === "true";

type Cmd = Array<string | Buffer>;

/** Every command on one connection; each reply's bytes. */
async function run(port: number, cmds: Cmd[]): Promise<string[]> {
  const replies = await sendAll(
    port,
    cmds.map((c) => encodeCommand(c)),
  );
  return replies.map((r) => r.toString("latin1"));
}

const LISTS: Cmd[] = [
  ["RPUSH", "l", "a", "b", "c", "b", "d", "b"],
  ["LPOS", "l", "b"],
  ["LPOS", "l", "b", "RANK", "2"],
  ["LPOS", "l", "b", "RANK", "-1"],
  ["LPOS", "l", "b", "RANK", "-2", "COUNT", "0"],
  ["LPOS", "l", "b", "COUNT", "2"],
  ["LPOS", "l", "b", "COUNT", "0", "MAXLEN", "4"],
  ["LPOS", "l", "zz"],
  ["LPOS", "l", "zz", "COUNT", "1"],
  ["LPOS", "nokey", "b"],
  ["LPOS", "nokey", "b", "COUNT", "3"],
  ["LPOS", "l", "b", "RANK", "0"],
  ["LPOS", "l", "b", "RANK", "x"],
  ["LPOS", "l", "b", "COUNT", "-1"],
  ["LPOS", "l", "b", "MAXLEN", "-1"],
  ["LPOS", "l", "b", "COUNT"],
  ["LPOS", "l", "b", "FOO", "1"],
  ["LINSERT", "l", "BEFORE", "c", "x"],
  ["LINSERT", "l", "after", "d", "y"],
  ["LINSERT", "l", "after", "nope", "y"],
  ["LINSERT", "nokey", "after", "d", "y"],
  ["LINSERT", "l", "middle", "d", "y"],
  ["LRANGE", "l", "0", "-1"],
  ["LSET", "l", "0", "A"],
  ["LSET", "l", "-1", "Z"],
  ["LSET", "l", "100", "Z"],
  ["LSET", "l", "x", "Z"],
  ["LSET", "nokey", "0", "Z"],
  ["LREM", "l", "1", "b"],
  ["LREM", "l", "-1", "b"],
  ["LREM", "l", "0", "nope"],
  ["LREM", "l", "x", "b"],
  ["LREM", "nokey", "0", "b"],
  ["LRANGE", "l", "0", "-1"],
  ["LTRIM", "l", "1", "-2"],
  ["LRANGE", "l", "0", "-1"],
  ["LTRIM", "l", "5", "1"],
  ["EXISTS", "l"],
  ["LTRIM", "nokey", "0", "1"],
  ["LTRIM", "l", "a", "1"],
  ["RPUSH", "src", "1", "2", "3"],
  ["RPOPLPUSH", "src", "dst"],
  ["RPOPLPUSH", "src", "src"],
  ["LRANGE", "src", "0", "-1"],
  ["RPOPLPUSH", "nokey", "dst"],
  ["SET", "str", "v"],
  ["RPOPLPUSH", "str", "dst"],
  ["RPOPLPUSH", "src", "str"],
  ["LMOVE", "src", "dst", "LEFT", "RIGHT"],
  ["LMOVE", "src", "src", "RIGHT", "LEFT"],
  ["LMOVE", "src", "dst", "up", "LEFT"],
  ["LMOVE", "nokey", "dst", "LEFT", "LEFT"],
  ["LRANGE", "dst", "0", "-1"],
  ["LRANGE", "src", "0", "-1"],
  ["RPUSH", "m", "1", "2", "3", "4", "5"],
  ["LMPOP", "2", "nokey", "m", "LEFT"],
  ["LMPOP", "2", "nokey", "m", "RIGHT", "COUNT", "2"],
  ["LMPOP", "1", "m", "LEFT", "COUNT", "10"],
  ["LMPOP", "1", "m", "LEFT"],
  ["LMPOP", "0", "m", "LEFT"],
  ["LMPOP", "x", "m", "LEFT"],
  ["LMPOP", "3", "m", "LEFT"],
  ["LMPOP", "1", "m", "UP"],
  ["LMPOP", "1", "m", "LEFT", "COUNT", "0"],
  ["LMPOP", "1", "m", "LEFT", "COUNT", "1", "COUNT", "2"],
  ["LMPOP", "1", "str", "LEFT"],
  ["RPUSH", "p", "1", "2", "3"],
  ["LPOP", "p", "2"],
  ["RPOP", "p", "5"],
  ["LPOP", "p", "2"],
  ["LPOP", "p", "-1"],
  ["BLPOP", "nokey", "0.01"],
  ["BRPOP", "nokey", "nokey2", "0.01"],
  ["BLPOP", "nokey", "x"],
  ["BLPOP", "nokey", "-1"],
  ["BLPOP", "str", "0"],
  ["RPUSH", "b", "1", "2"],
  ["BLPOP", "nokey", "b", "0"],
  ["BRPOP", "b", "0"],
  ["BRPOPLPUSH", "nokey", "dst", "0.01"],
  ["BLMOVE", "nokey", "dst", "LEFT", "LEFT", "0.01"],
  ["BLMOVE", "nokey", "dst", "LEFT", "UP", "0.01"],
  ["BLMOVE", "dst", "dst2", "LEFT", "LEFT", "0"],
  ["BLMOVE", "dst", "str", "LEFT", "LEFT", "0"],
  ["BLMPOP", "0.01", "1", "nokey", "LEFT"],
  ["BLMPOP", "0", "2", "nokey", "dst2", "LEFT", "COUNT", "3"],
  ["BLMPOP", "x", "1", "nokey", "LEFT"],
  ["BLMPOP", "0", "0", "nokey", "LEFT"],
  ["HELLO", "3"],
  ["BLPOP", "nokey", "0.01"],
  ["BLMPOP", "0.01", "1", "nokey", "LEFT"],
  ["LPOS", "nokey", "x"],
  ["LMPOP", "1", "nokey", "LEFT"],
];

const STREAMS: Cmd[] = [
  ["XADD", "s", "1-1", "f", "v"],
  ["XADD", "s", "1-1", "f", "v"],
  ["XADD", "s", "0-0", "f", "v"],
  ["XADD", "s", "1-2", "f", "v", "g", "w"],
  ["XADD", "s", "2", "a", "1"],
  ["XADD", "s", "2-*", "a", "2"],
  ["XADD", "s", "3-*", "a", "3"],
  ["XADD", "s", "5-5", "odd"],
  ["XADD", "s", "abc", "f", "v"],
  ["XADD", "s", "1-x", "f", "v"],
  ["XADD", "s", "-", "f", "v"],
  ["XADD", "s", "MAXLEN", "x", "*", "f", "v"],
  ["XADD", "s", "MAXLEN", "-1", "*", "f", "v"],
  ["XADD", "s", "NOMKSTREAM", "9-0", "f", "v"],
  ["XADD", "nos", "NOMKSTREAM", "9-0", "f", "v"],
  ["XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "f", "v"],
  ["XADD", "s", "LIMIT", "5", "10-0", "f", "v"],
  ["XADD", "s", "MAXLEN", "5", "LIMIT", "5", "10-0", "f", "v"],
  ["XLEN", "s"],
  ["XLEN", "nos"],
  ["XRANGE", "s", "-", "+"],
  ["XRANGE", "s", "1", "2"],
  ["XRANGE", "s", "(1-1", "+", "COUNT", "2"],
  ["XRANGE", "s", "-", "(2-1"],
  ["XRANGE", "s", "-", "+", "COUNT", "0"],
  ["XRANGE", "s", "-", "+", "COUNT", "-5"],
  ["XRANGE", "s", "-", "+", "COUNT"],
  ["XRANGE", "s", "x", "+"],
  ["XRANGE", "s", "(-", "+"],
  ["XRANGE", "s", "(18446744073709551615-18446744073709551615", "+"],
  ["XRANGE", "s", "-", "(0-0"],
  ["XRANGE", "nos", "-", "+"],
  ["XREVRANGE", "s", "+", "-", "COUNT", "3"],
  ["XREVRANGE", "s", "2-1", "1-2"],
  ["XREAD", "STREAMS", "s", "0"],
  ["XREAD", "COUNT", "2", "STREAMS", "s", "nos", "1-1", "0"],
  ["XREAD", "STREAMS", "s", "$"],
  ["XREAD", "STREAMS", "s"],
  ["XREAD", "STREAMS", "s", ">"],
  ["XREAD", "GROUP", "g", "c", "STREAMS", "s", "0"],
  ["XREAD", "NOACK", "STREAMS", "s", "0"],
  ["XREAD", "BLOCK", "x", "STREAMS", "s", "$"],
  ["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"],
  ["XREAD", "BLOCK", "10", "STREAMS", "s", "$"],
  ["XREAD", "COUNT", "x", "STREAMS", "s", "0"],
  ["XREAD", "FOO", "STREAMS", "s", "0"],
  ["XDEL", "s", "1-1", "9-9"],
  ["XDEL", "s", "x"],
  ["XDEL", "nos", "1-1"],
  ["XLEN", "s"],
  ["XGROUP", "CREATE", "s", "g", "0"],
  ["XGROUP", "CREATE", "s", "g", "0"],
  ["XGROUP", "CREATE", "nos", "g", "$"],
  ["XGROUP", "CREATE", "nos", "g", "$", "MKSTREAM"],
  ["XGROUP", "CREATE", "s", "g2", "$"],
  ["XGROUP", "CREATE", "s", "g3", "x"],
  ["XGROUP", "CREATE", "s", "g3", "0", "FOO"],
  ["XGROUP", "CREATE", "s"],
  ["XGROUP", "FOO", "s", "g"],
  ["XGROUP", "SETID", "s", "nog", "0"],
  ["XGROUP", "CREATECONSUMER", "s", "g", "alice"],
  ["XGROUP", "CREATECONSUMER", "s", "g", "alice"],
  ["XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">"],
  ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0"],
  ["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", ">"],
  ["XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", ">"],
  ["XREADGROUP", "GROUP", "nog", "bob", "STREAMS", "s", ">"],
  ["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "$"],
  ["XREADGROUP", "STREAMS", "s", ">"],
  ["XREADGROUP", "GROUP", "g2", "dan", "NOACK", "STREAMS", "s", "0"],
  ["XPENDING", "s", "g"],
  ["XPENDING", "s", "g2"],
  ["XPENDING", "s", "nog"],
  ["XPENDING", "s", "g", "-", "+", "10", "nobody"],
  ["XPENDING", "s", "g", "-", "+"],
  ["XPENDING", "s", "g", "x", "+", "10"],
  ["XACK", "s", "g", "1-1", "1-2"],
  ["XACK", "s", "g", "x"],
  ["XACK", "s", "nog", "1-2"],
  ["XACK", "nos", "g", "1-2"],
  ["XPENDING", "s", "g"],
  ["XCLAIM", "s", "g", "alice", "0", "2-0", "JUSTID"],
  ["XCLAIM", "s", "g", "alice", "0", "2-0", "RETRYCOUNT", "7", "JUSTID"],
  ["XCLAIM", "s", "g", "alice", "x", "2-0"],
  ["XCLAIM", "s", "g", "alice", "0", "2-0", "BAR"],
  ["XCLAIM", "s", "nog", "alice", "0", "2-0"],
  ["XCLAIM", "s", "g", "alice", "0", "3-0", "FORCE", "JUSTID"],
  ["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "1", "JUSTID"],
  ["XAUTOCLAIM", "s", "g", "erin", "0", "0", "COUNT", "0"],
  ["XAUTOCLAIM", "s", "nog", "erin", "0", "0"],
  ["XINFO", "GROUPS", "s"],
  ["XINFO", "GROUPS", "nos"],
  ["XINFO", "GROUPS", "nokey"],
  ["XINFO", "CONSUMERS", "s", "nog"],
  ["XINFO", "STREAM", "s"],
  ["XINFO", "STREAM", "nos"],
  ["XINFO", "STREAM", "s", "FOO"],
  ["XINFO", "FOO", "s"],
  ["XINFO", "HELP"],
  ["XGROUP", "HELP"],
  ["XGROUP", "DELCONSUMER", "s", "g", "bob"],
  ["XGROUP", "DELCONSUMER", "s", "g", "nobody"],
  ["XGROUP", "DESTROY", "s", "g2"],
  ["XGROUP", "DESTROY", "s", "g2"],
  ["XGROUP", "SETID", "s", "g", "$"],
  ["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "2"],
  ["XINFO", "GROUPS", "s"],
  ["XSETID", "s", "1-0"],
  ["XSETID", "s", "99-0"],
  ["XSETID", "nokey", "99-0"],
  ["XSETID", "s", "100-0", "ENTRIESADDED", "1"],
  ["XSETID", "s", "100-0", "ENTRIESADDED", "50", "MAXDELETEDID", "99-0"],
  ["XSETID", "s", "100-0", "MAXDELETEDID", "200-0"],
  ["XINFO", "STREAM", "s"],
  ["XTRIM", "s", "MAXLEN", "2"],
  ["XTRIM", "s", "MAXLEN", "~", "1"],
  ["XTRIM", "s", "MINID", "5"],
  ["XTRIM", "s"],
  ["XTRIM", "s", "FOO", "1"],
  ["XTRIM", "s", "MAXLEN", "1", "LIMIT", "1"],
  ["XTRIM", "nos", "MAXLEN", "0"],
  ["XRANGE", "s", "-", "+"],
  ["SET", "str", "v"],
  ["XADD", "str", "*", "f", "v"],
  ["XLEN", "str"],
  ["XRANGE", "str", "-", "+"],
  ["XREAD", "STREAMS", "str", "0"],
  ["TYPE", "s"],
  ["HELLO", "3"],
  ["XREAD", "STREAMS", "s", "0"],
  ["XREAD", "STREAMS", "s", "$"],
  ["XRANGE", "s", "-", "+", "COUNT", "0"],
  ["XINFO", "STREAM", "s"],
  ["XINFO", "GROUPS", "s"],
  ["XPENDING", "s", "g"],
  ["HELLO", "2"],
  // Nodes of 100 entries: approximate trimming takes whole nodes only.
  ...Array.from({ length: 250 }, (_, i): Cmd => ["XADD", "t", `${i + 1}-0`, "f", "v"]),
  ["XTRIM", "t", "MAXLEN", "~", "120"],
  ["XLEN", "t"],
  ["XADD", "t", "MAXLEN", "~", "10", "LIMIT", "50", "300-0", "f", "v"],
  ["XTRIM", "t", "MINID", "~", "201"],
  ["XTRIM", "t", "MINID", "220"],
  ["XADD", "w", "1-0", "a", "1"],
  ["XADD", "w", "2-0", "b", "2"],
  ["XADD", "w", "3-0", "c", "3"],
  ["XINFO", "STREAM", "w", "FULL", "COUNT", "2"],
  ["XINFO", "STREAM", "w", "FULL", "COUNT", "x"],
  ["XINFO", "STREAM", "w", "FULL", "LIMIT", "3"],
  ["XRANGE", "t", "-", "+", "COUNT", "2"],
  // Nodes of about 4 KB: big values fill them sooner.
  ["XADD", "u", "1-0", "f", "x".repeat(2000)],
  ["XADD", "u", "2-0", "f", "x".repeat(2000)],
  ["XADD", "u", "3-0", "f", "x".repeat(2000)],
  ["XTRIM", "u", "MAXLEN", "~", "1"],
  ["XLEN", "u"],
  ["XDEL", "u", "3-0"],
  ["XINFO", "STREAM", "u"],
  ["XADD", "v", "MAXLEN", "=", "2", "1-0", "f", "v"],
  ["XLEN", "v"],
  ["XADD", "v", "18446744073709551615-18446744073709551615", "f", "v"],
  ["XADD", "v", "*", "f", "v"],
  ["XADD", "v", "18446744073709551615-*", "f", "v"],
];

/**
 * Sets and hashes. Integer members (an intset, sorted on every version) or single-member
 * results keep orders deterministic; random picks only where the answer is forced (a one-member
 * set, a count at least the size).
 */
const SETS_HASHES: Cmd[] = [
  ["SADD", "a", "1", "2", "3", "4", "5"],
  ["SADD", "b", "4", "5", "6"],
  ["SADD", "c", "5", "7"],
  ["SADD", "s", "x"],
  ["SET", "str", "v"],
  ["SMISMEMBER", "a", "1", "9", "5"],
  ["SMISMEMBER", "nokey", "1", "2"],
  ["SMISMEMBER", "str", "1"],
  ["SMISMEMBER", "a"],
  ["SINTER", "a", "b"],
  ["SINTER", "a", "b", "c"],
  ["SINTER", "a", "nokey"],
  ["SINTER", "a", "str"],
  ["SINTER", "nokey", "str"],
  ["SINTER", "a"],
  ["SUNION", "a", "b", "c"],
  ["SUNION", "nokey"],
  ["SUNION", "a", "str"],
  ["SDIFF", "a", "b", "c"],
  ["SDIFF", "a", "a"],
  ["SDIFF", "nokey", "a"],
  ["SDIFF", "a", "nokey"],
  ["SDIFF", "str", "a"],
  ["SINTERSTORE", "d", "a", "b"],
  ["SMEMBERS", "d"],
  ["SINTERSTORE", "d", "a", "s"],
  ["EXISTS", "d"],
  ["SUNIONSTORE", "d", "a", "c"],
  ["SMEMBERS", "d"],
  ["SDIFFSTORE", "d", "a", "b"],
  ["SMEMBERS", "d"],
  ["SDIFFSTORE", "d", "a", "a"],
  ["EXISTS", "d"],
  ["SET", "d", "v"],
  ["EXPIRE", "d", "100"],
  ["SUNIONSTORE", "d", "b"],
  ["TYPE", "d"],
  ["TTL", "d"],
  ["SUNIONSTORE", "d", "str"],
  ["SINTERSTORE", "str", "a"],
  ["TYPE", "str"],
  ["SET", "str", "v"],
  ["SINTERSTORE", "d"],
  ["SINTERCARD", "2", "a", "b"],
  ["SINTERCARD", "3", "a", "b", "c"],
  ["SINTERCARD", "1", "a", "LIMIT", "2"],
  ["SINTERCARD", "1", "a", "LIMIT", "0"],
  ["SINTERCARD", "2", "a", "nokey"],
  ["SINTERCARD", "0", "a"],
  ["SINTERCARD", "x", "a"],
  ["SINTERCARD", "3", "a", "b"],
  ["SINTERCARD", "1", "a", "LIMIT", "-1"],
  ["SINTERCARD", "1", "a", "LIMIT", "x"],
  ["SINTERCARD", "1", "a", "LIMIT"],
  ["SINTERCARD", "1", "a", "FOO", "1"],
  ["SINTERCARD", "1", "str"],
  ["SMOVE", "a", "b", "1"],
  ["SMOVE", "a", "b", "1"],
  ["SMOVE", "a", "a", "2"],
  ["SMOVE", "a", "a", "9"],
  ["SMOVE", "nokey", "str", "1"],
  ["SMOVE", "a", "str", "2"],
  ["SMOVE", "str", "a", "2"],
  ["SMOVE", "s", "new", "x"],
  ["EXISTS", "s"],
  ["SMEMBERS", "new"],
  ["SMEMBERS", "a"],
  ["SMEMBERS", "b"],
  ["SPOP", "new"],
  ["SPOP", "new"],
  ["SPOP", "str"],
  ["SPOP", "a", "0"],
  ["SPOP", "a", "-1"],
  ["SPOP", "a", "x"],
  ["SPOP", "a", "1", "2"],
  ["SPOP", "nokey", "3"],
  ["SPOP", "str", "3"],
  ["SPOP", "c", "5"],
  ["EXISTS", "c"],
  ["SADD", "one", "7"],
  ["SRANDMEMBER", "one"],
  ["SRANDMEMBER", "one", "-3"],
  ["SRANDMEMBER", "one", "1"],
  ["SRANDMEMBER", "a", "10"],
  ["SRANDMEMBER", "a", "0"],
  ["SRANDMEMBER", "nokey"],
  ["SRANDMEMBER", "nokey", "5"],
  ["SRANDMEMBER", "nokey", "-5"],
  ["SRANDMEMBER", "str"],
  ["SRANDMEMBER", "str", "2"],
  ["SRANDMEMBER", "a", "x"],
  ["SRANDMEMBER", "a", "1", "2"],
  ["HSET", "h", "f", "1.5", "g", "abc", "n", "10"],
  ["HINCRBYFLOAT", "h", "f", "0.1"],
  ["HINCRBYFLOAT", "h", "n", "-2.5"],
  ["HINCRBYFLOAT", "h", "new", "3"],
  ["HINCRBYFLOAT", "h", "new", "5.0e3"],
  ["HINCRBYFLOAT", "h", "g", "1"],
  ["HINCRBYFLOAT", "h", "f", "x"],
  ["HINCRBYFLOAT", "h", "f", "inf"],
  ["HINCRBYFLOAT", "h", "f", "nan"],
  ["HINCRBYFLOAT", "nokey2", "f", "1"],
  ["HINCRBYFLOAT", "str", "f", "1"],
  ["HGET", "h", "f"],
  ["HSTRLEN", "h", "g"],
  ["HSTRLEN", "h", "nope"],
  ["HSTRLEN", "nokey", "g"],
  ["HSTRLEN", "str", "g"],
  ["HSET", "h1", "only", "val"],
  ["HRANDFIELD", "h1"],
  ["HRANDFIELD", "h1", "5"],
  ["HRANDFIELD", "h1", "-3"],
  ["HRANDFIELD", "h1", "-2", "WITHVALUES"],
  ["HRANDFIELD", "h1", "1", "withvalues"],
  ["HRANDFIELD", "h1", "0"],
  ["HRANDFIELD", "nokey"],
  ["HRANDFIELD", "nokey", "3"],
  ["HRANDFIELD", "str"],
  ["HRANDFIELD", "str", "1"],
  ["HRANDFIELD", "h1", "x"],
  ["HRANDFIELD", "h1", "1", "FOO"],
  ["HRANDFIELD", "h1", "1", "WITHVALUES", "x"],
  ["HRANDFIELD", "h1", "-9223372036854775808"],
  ["HRANDFIELD", "h1", "9223372036854775807", "WITHVALUES"],
  ["HELLO", "3"],
  ["SINTER", "a", "b"],
  ["SINTER", "a", "nokey"],
  ["SUNION", "nokey"],
  ["SPOP", "nokey", "2"],
  ["SPOP", "one", "2"],
  ["SADD", "one", "7"],
  ["SRANDMEMBER", "one", "-2"],
  ["SMISMEMBER", "one", "7", "8"],
  ["HRANDFIELD", "h1", "-2", "WITHVALUES"],
  ["HRANDFIELD", "h1", "1", "WITHVALUES"],
  ["HINCRBYFLOAT", "h", "f", "1"],
];

/** Sorted sets' blocking pops: what answers at once (a pop, a timeout, an error). */
const ZSET_BLOCKING: Cmd[] = [
  ["ZADD", "z", "1", "a", "2", "b", "3", "c", "-1.5", "d"],
  ["SET", "str", "v"],
  ["BZPOPMIN", "z", "0"],
  ["BZPOPMAX", "z", "0"],
  ["BZPOPMIN", "nokey", "z", "0"],
  ["BZPOPMIN", "nokey", "z", "1.5"],
  ["BZPOPMAX", "nokey", "0.01"],
  ["BZPOPMIN", "nokey", "nokey2", "0.01"],
  ["BZPOPMIN", "str", "0"],
  ["BZPOPMIN", "nokey", "str", "0"],
  ["BZPOPMIN", "nokey", "x"],
  ["BZPOPMIN", "nokey", "-1"],
  ["BZPOPMIN", "nokey", "inf"],
  ["BZPOPMIN", "nokey", "-inf"],
  ["BZPOPMIN", "nokey"],
  ["EXISTS", "z"],
  ["ZADD", "y", "5", "p", "6", "q", "7", "r"],
  ["BZMPOP", "0", "2", "nokey", "y", "MIN"],
  ["BZMPOP", "0", "1", "y", "MAX", "COUNT", "5"],
  ["BZMPOP", "0.01", "1", "y", "MAX"],
  ["BZMPOP", "0", "1", "str", "MIN"],
  ["BZMPOP", "x", "1", "nokey", "MIN"],
  ["BZMPOP", "-1", "1", "nokey", "MIN"],
  ["BZMPOP", "0", "0", "nokey", "MIN"],
  ["BZMPOP", "0", "x", "nokey", "MIN"],
  ["BZMPOP", "0", "5", "nokey", "MIN"],
  ["BZMPOP", "0", "1", "nokey", "UP"],
  ["BZMPOP", "0", "1", "nokey", "MIN", "COUNT", "0"],
  ["BZMPOP", "0", "1", "nokey", "MIN", "COUNT", "x"],
  ["BZMPOP", "0", "1", "nokey", "MIN", "COUNT"],
  ["BZMPOP", "0", "1", "nokey", "MIN", "COUNT", "1", "COUNT", "2"],
  ["BZMPOP", "0", "1", "nokey", "MIN", "FOO"],
  ["BZMPOP", "x", "0", "nokey", "MIN"],
  ["ZMPOP", "x", "nokey", "MIN"],
  ["ZMPOP", "1", "nokey", "MIN", "COUNT", "x"],
  ["HELLO", "3"],
  ["ZADD", "r", "1.5", "a", "2", "b", "3", "c"],
  ["BZPOPMIN", "r", "0"],
  ["BZPOPMAX", "r", "0"],
  ["BZMPOP", "0", "1", "r", "MIN", "COUNT", "2"],
  ["BZPOPMIN", "nokey", "0.01"],
  ["BZMPOP", "0.01", "1", "nokey", "MAX"],
];

/**
 * Server and keyspace odds and ends whose wording or presence changed between versions, and
 * DEBUG (answered before 7.0, gated from 7.0): its digests of every type, with and without an
 * expiry, must be Redis's own.
 */
const SERVER_MISC: Cmd[] = [
  ["SELECT", "abc"],
  ["SELECT", "16"],
  ["SELECT", "-1"],
  ["SELECT", "99999999999"],
  ["SET", "s", "v", "NX", "XX"],
  ["SET", "s", "v", "EX", "x", "FOO"],
  ["SET", "s", "v"],
  ["RENAMENX", "s", "s"],
  ["RENAME", "s", "s"],
  ["RENAME", "nokey", "nokey"],
  ["OBJECT", "NOSUCH", "s"],
  ["HELLO", "abc"],
  ["WAIT", "0", "0"],
  ["READWRITE"],
  ["READONLY"],
  ["FAILOVER", "ABORT"],
  ["FAILOVER"],
  ["FAILOVER", "TIMEOUT", "0"],
  ["FAILOVER", "TO", "127.0.0.1", "x"],
  ["FAILOVER", "FOO"],
  ["SET", "e", "v", "EX", "1000"],
  ["EXPIRETIME", "s"],
  ["EXPIRETIME", "nokey"],
  ["PEXPIRETIME", "s"],
  ["MULTI"],
  ["SAVE"],
  ["EXEC"],
  [
    "RPUSH",
    "l",
    "a",
    "12",
    "-300",
    "100000",
    "99999999999",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
  ],
  ["SADD", "st", "x", "y", "z"],
  ["SADD", "si", "1", "2", "3"],
  ["ZADD", "z", "1.5", "a", "2", "b", "-0.1", "c", "1e20", "d"],
  ["HSET", "h", "f", "v"],
  ["HSET", "h", "g", "w"],
  ["XADD", "x", "1-1", "f", "v", "g", "w"],
  ["XADD", "x", "2-5", "f", "v2"],
  ["DEBUG", "DIGEST-VALUE", "s", "e", "l", "st", "si", "z", "h", "x", "nokey"],
  ["DEBUG", "DIGEST"],
  ["DEBUG", "OBJECT", "s"],
  ["DEBUG", "OBJECT", "e"],
  ["SET", "n", "12345"],
  ["DEBUG", "OBJECT", "n"],
  ["SET", "big", "a".repeat(100)],
  ["DEBUG", "OBJECT", "big"],
  ["DEBUG", "OBJECT", "l"],
  ["DEBUG", "OBJECT", "nokey"],
  ["DEBUG", "SLEEP", "0"],
  ["DEBUG", "NOSUCH"],
  ["DEBUG", "JMAP"],
  ["DEBUG", "ERROR", "boom\r\nhere"],
  ["DEBUG", "RELOAD", "FOO"],
  ["DEBUG", "SET-ACTIVE-EXPIRE", "1"],
  ["DEBUG"],
  ["LOLWUT", "VERSION", "x"],
  ["LOLWUT", "VERSION", "7"],
  ["LATENCY", "DOCTOR"],
];

/** The real servers this machine has, with the persona of their version. */
const BUILDS: Array<{
  bin: string;
  persona: string;
  version: string;
  debian?: boolean;
  /** Before 5.0: only the suites that hold for every version (SERVER_MISC). */
  old?: boolean;
}> = [
  { bin: "/usr/bin/redis-server", persona: "redis-7.0-open", version: "7.0.15", debian: true },
  {
    bin: "/work/servers/redis-2.8.24/redis-server",
    persona: "redis-2.8-open",
    version: "2.8.24",
    old: true,
  },
  {
    bin: "/work/servers/redis-3.0.7/redis-server",
    persona: "redis-3.0-open",
    version: "3.0.7",
    old: true,
  },
  {
    bin: "/work/servers/redis-3.2.12/redis-server",
    persona: "redis-3.2-open",
    version: "3.2.12",
    old: true,
  },
  {
    bin: "/work/servers/redis-4.0.14/redis-server",
    persona: "redis-4.0-open",
    version: "4.0.14",
    old: true,
  },
  { bin: "/work/servers/redis-5.0.8/redis-server", persona: "redis-5.0-open", version: "5.0.8" },
  { bin: "/work/servers/redis-6.0.20/redis-server", persona: "redis-6.0-open", version: "6.0.20" },
  { bin: "/work/servers/redis-6.2.16/redis-server", persona: "redis-6.2-open", version: "6.2.16" },
  { bin: "/work/servers/redis-7.2.4/redis-server", persona: "redis-7.2-open", version: "7.2.4" },
  { bin: "/work/servers/redis-7.4.1/redis-server", persona: "redis-7.4-open", version: "7.4.1" },
];

function available(b: (typeof BUILDS)[number]): string | false {
  if (!fs.existsSync(b.bin)) {
    if (b.debian && requireAll) throw new Error(`prerequisite missing in CI: ${b.bin}`);
    return `${b.bin} not built`;
  }
  if (b.debian && !(redisServerVersion(b.bin) ?? "").startsWith("7.0")) return "not 7.0";
  return false;
}

export const SUITES: Record<string, Cmd[]> = {
  lists: LISTS,
  streams: STREAMS,
  "sets and hashes": SETS_HASHES,
  "zset blocking": ZSET_BLOCKING,
  "server misc": SERVER_MISC,
};

/** Suites that also run against the servers before 5.0. */
const FOR_EVERY_VERSION = new Set(["server misc"]);

for (const b of BUILDS) {
  describe(`differential against redis-server ${b.version}`, { skip: available(b) }, () => {
    let real: RedisProcess;
    let fake: PersonaServer;
    before(async () => {
      real = await startRedis({
        host: "127.0.0.1",
        port: await freePort(),
        // Protected mode (and its option) arrived in 3.2.
        config: /^(2|3\.[01])\./.test(b.version) ? [] : ["protected-mode no"],
        bin: b.bin,
      });
      fake = await servePersona(persona(b.persona, { version: b.version }));
    });
    after(async () => {
      await fake?.close();
      await real?.stop();
    });
    for (const [name, cmds] of Object.entries(SUITES)) {
      if (b.old && !FOR_EVERY_VERSION.has(name)) continue;
      test(`${name} (${cmds.length} commands)`, async () => {
        const want = await run(real.port, cmds);
        const got = await run(fake.port, cmds);
        const failures: string[] = [];
        for (const [i, c] of cmds.entries()) {
          assert.ok(want[i]!.length > 0, `${c.join(" ")}: the real server answered nothing`);
          // Client ids are the server's counter (HELLO shows one).
          // DEBUG OBJECT's address and LRU clock are the process's own.
          const mask = (t: string): string =>
            t
              .replace(/(\$2\r\nid\r\n):\d+/, "$1:ID")
              .replace(/^\+Value at:0x[0-9a-f]+ (.*) lru:\d+ lru_seconds_idle:\d+/, "+Value $1");
          if (mask(got[i]!) !== mask(want[i]!)) {
            failures.push(
              `${c.join(" ")}\n  got  ${JSON.stringify(got[i])}\n  want ${JSON.stringify(want[i])}`,
            );
          }
        }
        assert.deepEqual(failures, [], failures.join("\n"));
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Blocking: scenarios over several connections of one source, run against a real server and a
// persona whose sessions share one keyspace (as one source's connections do), transcripts
// compared byte for byte.

/** A target to run a scenario on: connections to it, and a way to wait until one blocks. */
interface Target {
  port: number;
  /** Resolves once client `id` is blocked (polled by events, bounded). */
  blocked(id: number): Promise<void>;
  /** Resolves once client `id`'s connection is gone. */
  closed(id: number): Promise<void>;
}

/** One connection of a scenario. */
class Peer {
  private constructor(readonly conn: RespConnection) {}
  static async open(port: number): Promise<Peer> {
    return new Peer(await RespConnection.open(port));
  }
  /** Send and read one reply. */
  async call(...cmd: Cmd): Promise<string> {
    return (await this.conn.send(encodeCommand(cmd), 1, 3000)).toString("latin1");
  }
  /** Send without waiting for a reply (a command that blocks). */
  async post(...cmd: Cmd): Promise<void> {
    await this.conn.send(encodeCommand(cmd), 0);
  }
  /** The next `n` replies, as they arrive. */
  async next(n = 1): Promise<string> {
    return (await this.conn.send(Buffer.alloc(0), n, 3000)).toString("latin1");
  }
  async id(): Promise<number> {
    return Number(/:(\d+)/.exec(await this.call("CLIENT", "ID"))![1]);
  }
  close(): void {
    this.conn.close();
  }
}

type Scenario = (t: Target, log: (s: string) => void) => Promise<void>;

const SCENARIOS: Record<string, Scenario> = {
  "BLPOP served by a push on another connection; requests sent meanwhile wait": async (t, log) => {
    const a = await Peer.open(t.port);
    const b = await Peer.open(t.port);
    const id = await a.id();
    await a.post("BLPOP", "k1", "k", "0");
    await a.post("PING");
    await a.post("LLEN", "k");
    await t.blocked(id);
    log(await b.call("RPUSH", "k", "v1", "v2"));
    log(await a.next(3));
    log(await b.call("LRANGE", "k", "0", "-1"));
    a.close();
    b.close();
  },
  "BZPOPMIN served by a ZADD on another connection; BZMPOP and BZPOPMAX first come, first served":
    async (t, log) => {
      const a = await Peer.open(t.port);
      const c = await Peer.open(t.port);
      const b = await Peer.open(t.port);
      const ida = await a.id();
      const idc = await c.id();
      await a.post("BZPOPMIN", "z1", "z", "0");
      await a.post("PING");
      await a.post("ZCARD", "z");
      await t.blocked(ida);
      log(await b.call("ZADD", "z", "2", "b", "1", "a", "3", "c"));
      log(await a.next(3));
      await a.post("BZMPOP", "0", "2", "w1", "w2", "MAX", "COUNT", "2");
      await t.blocked(ida);
      await c.post("BZPOPMAX", "w2", "0");
      await t.blocked(idc);
      log(await b.call("ZINCRBY", "w2", "1.5", "x"));
      log(await a.next());
      log(await b.call("ZUNIONSTORE", "w2", "1", "z"));
      log(await c.next());
      log(await b.call("ZRANGE", "w2", "0", "-1", "WITHSCORES"));
      a.close();
      b.close();
      c.close();
    },
  "BRPOPLPUSH and BLMOVE move what is pushed": async (t, log) => {
    const a = await Peer.open(t.port);
    const b = await Peer.open(t.port);
    const id = await a.id();
    await a.post("BRPOPLPUSH", "src", "dst", "0");
    await t.blocked(id);
    log(await b.call("LPUSH", "src", "x", "y"));
    log(await a.next());
    await a.post("BLMOVE", "nosrc", "dst", "RIGHT", "LEFT", "0");
    await t.blocked(id);
    log(await b.call("RPUSH", "nosrc", "z"));
    log(await a.next());
    log(await b.call("LRANGE", "dst", "0", "-1"));
    log(await b.call("LRANGE", "src", "0", "-1"));
    a.close();
    b.close();
  },
  "BLMPOP with COUNT takes a range; first come, first served": async (t, log) => {
    const a = await Peer.open(t.port);
    const c = await Peer.open(t.port);
    const b = await Peer.open(t.port);
    const ida = await a.id();
    const idc = await c.id();
    await a.post("BLMPOP", "0", "2", "m1", "m2", "RIGHT", "COUNT", "2");
    await t.blocked(ida);
    await c.post("BLPOP", "m2", "0");
    await t.blocked(idc);
    log(await b.call("RPUSH", "m2", "1", "2", "3"));
    log(await a.next());
    log(await c.next());
    log(await b.call("EXISTS", "m2"));
    a.close();
    b.close();
    c.close();
  },
  "CLIENT UNBLOCK: as a timeout, as an error, and of a client not blocked": async (t, log) => {
    const a = await Peer.open(t.port);
    const b = await Peer.open(t.port);
    const id = await a.id();
    await a.post("BLPOP", "k", "0");
    await t.blocked(id);
    log(await b.call("CLIENT", "UNBLOCK", String(id)));
    log(await a.next());
    log(await b.call("CLIENT", "UNBLOCK", String(id)));
    await a.post("BRPOP", "k", "0");
    await t.blocked(id);
    log(await b.call("CLIENT", "UNBLOCK", String(id), "maybe"));
    log(await b.call("CLIENT", "UNBLOCK", String(id), "ERROR"));
    log(await a.next());
    log(await b.call("CLIENT", "UNBLOCK", "x"));
    log(await b.call("CLIENT", "UNBLOCK", String(id), "error", "more"));
    a.close();
    b.close();
  },
  "timeouts: null array in RESP2, null in RESP3": async (t, log) => {
    const a = await Peer.open(t.port);
    log(await a.call("BLPOP", "k", "0.02"));
    log(await a.call("BRPOPLPUSH", "k", "d", "0.02"));
    log(await a.call("BLMOVE", "k", "d", "LEFT", "LEFT", "0.02"));
    log(await a.call("BLMPOP", "0.02", "1", "k", "LEFT"));
    await a.call("HELLO", "3");
    log(await a.call("BLPOP", "k", "0.02"));
    log(await a.call("BRPOPLPUSH", "k", "d", "0.02"));
    log(await a.call("BLMPOP", "0.02", "1", "k", "LEFT"));
    a.close();
  },
  "a client blocked with timeout 0 that closes takes nothing": async (t, log) => {
    const a = await Peer.open(t.port);
    const b = await Peer.open(t.port);
    const id = await a.id();
    await a.post("BLPOP", "gone", "0");
    await t.blocked(id);
    a.close();
    await t.closed(id);
    log(await b.call("RPUSH", "gone", "v"));
    log(await b.call("LLEN", "gone"));
    b.close();
  },
  "XREAD BLOCK served by XADD on another connection; $ means what comes next": async (t, log) => {
    const a = await Peer.open(t.port);
    const b = await Peer.open(t.port);
    const id = await a.id();
    log(await b.call("XADD", "xs", "1-0", "old", "1"));
    await a.post("XREAD", "BLOCK", "0", "STREAMS", "other", "xs", "0-0", "$");
    await a.post("XLEN", "xs");
    await t.blocked(id);
    log(await b.call("XADD", "xs", "2-0", "new", "2"));
    log(await a.next(2));
    log(await a.call("XREAD", "BLOCK", "20", "STREAMS", "xs", "$"));
    a.close();
    b.close();
  },
  "XREADGROUP BLOCK: served with a pending entry; a destroyed group answers NOGROUP": async (
    t,
    log,
  ) => {
    const a = await Peer.open(t.port);
    const b = await Peer.open(t.port);
    const id = await a.id();
    log(await b.call("XGROUP", "CREATE", "gs", "grp", "$", "MKSTREAM"));
    await a.post("XREADGROUP", "GROUP", "grp", "alice", "BLOCK", "0", "STREAMS", "gs", ">");
    await t.blocked(id);
    log(await b.call("XADD", "gs", "5-0", "k", "v"));
    log(await a.next());
    log(
      await b
        .call("XPENDING", "gs", "grp", "-", "+", "10", "alice")
        .then((r) => r.replace(/:\d+\r\n:1\r\n$/, ":IDLE\r\n:1\r\n")),
    );
    await a.post("XREADGROUP", "GROUP", "grp", "alice", "BLOCK", "0", "STREAMS", "gs", ">");
    await t.blocked(id);
    log(await b.call("XGROUP", "DESTROY", "gs", "grp"));
    log(await a.next());
    a.close();
    b.close();
  },
  "XREAD BLOCK timeouts, RESP2 and RESP3": async (t, log) => {
    const a = await Peer.open(t.port);
    log(await a.call("XREAD", "BLOCK", "20", "STREAMS", "none", "$"));
    log(await a.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "20", "STREAMS", "none", ">"));
    await a.call("HELLO", "3");
    log(await a.call("XREAD", "BLOCK", "20", "STREAMS", "none", "$"));
    a.close();
  },
  "RESP3 client served": async (t, log) => {
    const a = await Peer.open(t.port);
    const b = await Peer.open(t.port);
    const id = await a.id();
    await a.call("HELLO", "3");
    await a.post("BLMPOP", "0", "1", "r3", "LEFT");
    await t.blocked(id);
    log(await b.call("RPUSH", "r3", "a"));
    log(await a.next());
    a.close();
    b.close();
  },
};

/** Poll `check` once per event-loop turn (or reply), at most `tries` times. */
async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  tries = 5000,
): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`never: ${what}`);
}

/** A real server: CLIENT LIST on a connection of its own says who is blocked. */
async function realTarget(port: number): Promise<Target & { close(): void }> {
  const watch = await Peer.open(port);
  const line = async (id: number): Promise<string | undefined> =>
    (await watch.call("CLIENT", "LIST")).split("\n").find((l) => l.includes(`id=${id} `));
  return {
    port,
    blocked: (id) =>
      until(async () => (await line(id))?.includes(" flags=b ") ?? false, `${id} blocked`),
    closed: (id) => until(async () => (await line(id)) === undefined, `${id} closed`),
    close: () => watch.close(),
  };
}

/**
 * The persona behind the shipped server: its connections, all from 127.0.0.1, share their
 * source's world and so its keyspace; whether a client is blocked is that keyspace's registry's.
 */
async function sharedTarget(
  name: string,
  version: string,
): Promise<Target & { close(): Promise<void> }> {
  const srv = await servePersona(persona(name, { version }));
  const isBlocked = (id: number): boolean =>
    srv.sessions.some((s) => s.keyspace.blocked.isBlocked(id));
  return {
    port: srv.port,
    blocked: (id) => until(() => isBlocked(id), `${id} blocked`),
    // A session that ends leaves the registry (Session.end): gone, it waits no more.
    closed: (id) => until(() => !isBlocked(id), `${id} closed`),
    close: () => srv.close(),
  };
}

for (const b of BUILDS.filter((x) => x.version >= "7.0")) {
  describe(`blocking, against redis-server ${b.version}`, { skip: available(b) }, () => {
    let real: RedisProcess;
    before(async () => {
      real = await startRedis({
        host: "127.0.0.1",
        port: await freePort(),
        config: ["protected-mode no"],
        bin: b.bin,
      });
    });
    after(async () => {
      await real?.stop();
    });
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      test(name, async () => {
        const transcript = async (t: Target): Promise<string[]> => {
          const out: string[] = [];
          await scenario(t, (s) => out.push(s));
          return out;
        };
        // Each scenario starts from an empty server.
        const admin = await Peer.open(real.port);
        assert.equal(await admin.call("FLUSHALL"), "+OK\r\n");
        admin.close();
        const r = await realTarget(real.port);
        const want = await transcript(r).finally(() => r.close());
        const f = await sharedTarget(b.persona, b.version);
        const got = await transcript(f).finally(() => f.close());
        assert.ok(
          want.every((w) => w.length > 0),
          `the real server answered every step: ${JSON.stringify(want)}`,
        );
        assert.deepEqual(got, want);
      });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Bounds: what a visitor makes the honeypot keep through these commands stays bounded.

describe("bounds of streams and blocked clients", () => {
  test("a stream is charged to the keyspace's byte cap: XADD past it is refused, XTRIM gives room back", async () => {
    const srv = await servePersona(persona("redis-7.0-open"), {
      limits: { ...DEFAULT_SESSION_LIMITS, maxBytes: 64 * 1024 },
    });
    try {
      const conn = await RespConnection.open(srv.port);
      const big = Buffer.alloc(8 * 1024, 0x61);
      let added = 0;
      let refused = "";
      for (let i = 1; i <= 20 && refused === ""; i++) {
        const r = (await conn.send(encodeCommand(["XADD", "s", `${i}-0`, "f", big]))).toString();
        if (r.startsWith("-")) refused = r;
        else added++;
      }
      assert.equal(refused, "-OOM command not allowed when used memory > 'maxmemory'.\r\n");
      assert.ok(added >= 5 && added < 8, `${added} entries of 8 KB fit 64 KB`);
      assert.ok(srv.sessions[0]!.keyspace.bytes <= 64 * 1024);
      assert.equal((await conn.send(encodeCommand(["XLEN", "s"]))).toString(), `:${added}\r\n`);
      assert.equal(
        (await conn.send(encodeCommand(["XTRIM", "s", "MAXLEN", "0"]))).toString(),
        `:${added}\r\n`,
      );
      assert.match(
        (await conn.send(encodeCommand(["XADD", "s", "100-0", "f", big]))).toString(),
        /^\$5\r\n100-0\r\n$/,
      );
      conn.close();
    } finally {
      await srv.close();
    }
  });

  test("requests a blocked client sends are queued up to a bound, past it the connection is cut", async () => {
    const srv = await servePersona(persona("redis-7.0-open"));
    try {
      const conn = await RespConnection.open(srv.port);
      // BLPOP blocks; 5,000 PINGs behind it are more than a blocked client may queue.
      const flood = Buffer.concat([
        encodeCommand(["BLPOP", "nothing", "0"]),
        Buffer.from("PING\r\n".repeat(5000)),
      ]);
      const got = await conn.send(flood, 1, 5000);
      assert.equal(got.length, 0, "nothing answered");
      assert.ok(conn.closed, "the connection was cut");
    } finally {
      await srv.close();
    }
    const limits = srv.recorder.rows
      .map((r) => JSON.stringify(r.row))
      .filter((j) => j.includes('"limit"') && j.includes("query_buffer"));
    assert.equal(limits.length, 1, "one limit event, query_buffer");
  });

  test("a blocked client's queued requests run once it is served, in order", async () => {
    const srv = await servePersona(persona("redis-7.0-open"));
    try {
      const conn = await RespConnection.open(srv.port);
      // Served by its own timeout: what came behind it then runs.
      const got = await conn.send(
        Buffer.concat([
          encodeCommand(["BLPOP", "nothing", "0.01"]),
          encodeCommand(["RPUSH", "k", "a"]),
          encodeCommand(["BLPOP", "k", "0"]),
          encodeCommand(["PING"]),
        ]),
        4,
      );
      assert.equal(got.toString(), "*-1\r\n:1\r\n*2\r\n$1\r\nk\r\n$1\r\na\r\n+PONG\r\n");
      conn.close();
    } finally {
      await srv.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Random picks (SPOP, SRANDMEMBER, HRANDFIELD) can't match byte for byte: their shape — type,
// length, membership, distinctness — is compared with the real 7.0 server's.

/** A reply's type byte and the bulk strings in it (members here have no CR/LF). */
function shape(reply: string): { type: string; items: string[] } {
  const items = [...reply.matchAll(/\$\d+\r\n([^\r]*)\r\n/g)].map((m) => m[1]!);
  return { type: reply[0]!, items };
}

const RANDOM_PICKS: Array<{ cmd: Cmd; count: number; distinct: boolean; pool: "set" | "hash" }> = [
  { cmd: ["SRANDMEMBER", "r"], count: 1, distinct: true, pool: "set" },
  { cmd: ["SRANDMEMBER", "r", "4"], count: 4, distinct: true, pool: "set" },
  { cmd: ["SRANDMEMBER", "r", "-25"], count: 25, distinct: false, pool: "set" },
  { cmd: ["HRANDFIELD", "rh"], count: 1, distinct: true, pool: "hash" },
  { cmd: ["HRANDFIELD", "rh", "3"], count: 3, distinct: true, pool: "hash" },
  { cmd: ["HRANDFIELD", "rh", "-9"], count: 9, distinct: false, pool: "hash" },
  { cmd: ["SPOP", "r", "3"], count: 3, distinct: true, pool: "set" },
  { cmd: ["SPOP", "r"], count: 1, distinct: true, pool: "set" },
];

describe("random picks of sets and hashes, shaped as redis-server 7.0 shapes them", {
  skip: available(BUILDS[0]!),
}, () => {
  test("type, length, membership and distinctness; SPOP removes what it answers", async () => {
    const real = await startRedis({
      host: "127.0.0.1",
      port: await freePort(),
      config: ["protected-mode no"],
      bin: BUILDS[0]!.bin,
    });
    const fake = await servePersona(persona("redis-7.0-open", { version: "7.0.15" }));
    try {
      const setMembers = ["11", "12", "13", "14", "15", "16", "17", "18", "19", "20"];
      const fields = ["f1", "f2", "f3", "f4", "f5"];
      const setup: Cmd[] = [
        ["SADD", "r", ...setMembers],
        ["HSET", "rh", ...fields.flatMap((f) => [f, `v${f}`])],
      ];
      const cmds = [...setup, ...RANDOM_PICKS.map((p) => p.cmd), ["SCARD", "r"]];
      const want = await run(real.port, cmds);
      const got = await run(fake.port, cmds);
      const popped = new Set<string>();
      for (const [i, p] of RANDOM_PICKS.entries()) {
        const at = setup.length + i;
        const [w, g] = [shape(want[at]!), shape(got[at]!)];
        const label = p.cmd.join(" ");
        assert.equal(g.type, w.type, `${label}: reply type`);
        assert.equal(g.items.length, p.count, `${label}: length`);
        assert.equal(w.items.length, p.count, `${label}: the real server's length`);
        const pool = p.pool === "set" ? setMembers : fields;
        for (const m of g.items) assert.ok(pool.includes(m), `${label}: ${m} is a member`);
        if (p.distinct) assert.equal(new Set(g.items).size, p.count, `${label}: distinct`);
        if (p.cmd[0] === "SPOP") {
          for (const m of g.items) {
            assert.ok(!popped.has(m), `${label}: ${m} was popped before`);
            popped.add(m);
          }
        }
      }
      assert.equal(got.at(-1), `:${setMembers.length - popped.size}\r\n`);
      assert.equal(want.at(-1), got.at(-1));
    } finally {
      await fake.close();
      await real.stop();
    }
  });
});

describe("bounds of sets and hashes", () => {
  test("a STORE result and SMOVE are charged to the keyspace's byte cap; past it -OOM, nothing kept", async () => {
    const srv = await servePersona(persona("redis-7.0-open"), {
      limits: { ...DEFAULT_SESSION_LIMITS, maxBytes: 64 * 1024 },
    });
    try {
      const conn = await RespConnection.open(srv.port);
      const call = async (...cmd: Cmd): Promise<string> =>
        (await conn.send(encodeCommand(cmd))).toString("latin1");
      const big = (i: number): Buffer => Buffer.alloc(6 * 1024, 0x61 + i);
      for (let i = 0; i < 6; i++) assert.equal(await call("SADD", "a", big(i)), ":1\r\n");
      // A copy of 36 KB on top of 36 KB passes a 64 KB cap.
      assert.equal(
        await call("SUNIONSTORE", "b", "a"),
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
      );
      assert.equal(await call("EXISTS", "b"), ":0\r\n");
      assert.ok(srv.sessions[0]!.keyspace.bytes <= 64 * 1024);
      assert.equal(await call("SINTERSTORE", "b", "a", "nokey"), ":0\r\n");
      assert.equal(await call("SMOVE", "a", "c", big(0)), ":1\r\n");
      assert.equal(await call("SCARD", "a"), ":5\r\n");
      assert.equal(await call("HINCRBYFLOAT", "h", "f", "1.5"), "$3\r\n1.5\r\n");
      conn.close();
    } finally {
      await srv.close();
    }
  });

  test("a reply past the reply cap (SRANDMEMBER with a huge negative count) closes the connection unsent", async () => {
    const srv = await servePersona(persona("redis-7.0-open"));
    try {
      const conn = await RespConnection.open(srv.port);
      await conn.send(encodeCommand(["SADD", "s", "member"]));
      const r = await conn.send(encodeCommand(["SRANDMEMBER", "s", "-1000000000000"]));
      assert.equal(r.toString(), "");
      assert.ok(conn.closed, "the connection is closed");
      const h = await RespConnection.open(srv.port);
      await h.send(encodeCommand(["HSET", "h", "f", "v"]));
      const r2 = await h.send(encodeCommand(["HRANDFIELD", "h", "-1000000000000", "WITHVALUES"]));
      assert.equal(r2.toString(), "");
      assert.ok(h.closed, "the connection is closed");
    } finally {
      await srv.close();
    }
  });
});
