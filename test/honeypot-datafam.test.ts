/**
 * Sorted sets, bits, HyperLogLog, string and key extras, the SCAN families: the personas
 * against real servers, byte for byte. The same requests go to a real redis-server (Debian's
 * 7.0.15, started here on 127.0.0.1; other versions from /work/servers when built there) and
 * to the persona of that version behind the shipped HoneypotServer, on one connection each,
 * in RESP2 and (6.0+) RESP3; property tests send random sequences to both. Traffic stays on
 * 127.0.0.1.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { persona } from "../src/honeypot/personas/index.js";
import {
  type RedisProcess,
  redisServerPath,
  redisServerVersion,
  startRedis,
} from "../src/lab/redis.js";
import { encodeCommand } from "../src/resp/index.js";
import {
  type PersonaServer,
  RespConnection,
  sendAll,
  servePersona,
} from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

type Cmd = Array<string | Buffer>;

/** A request, and how its reply is compared when it cannot be byte for byte. */
interface Step {
  cmd: Cmd;
  /** "shape": same reply type and length (random picks); "sorted": same elements in any order. */
  mode?: "exact" | "shape" | "sorted";
}

const s = (...cmd: Cmd): Step => ({ cmd });
const shape = (...cmd: Cmd): Step => ({ cmd, mode: "shape" });

/** Every sorted-set command with its options, edges and errors. */
const ZSET_SUITE: Step[] = [
  s("ZADD", "z", "1", "a", "2", "b", "3", "c"),
  s("ZADD", "z", "1.5", "a", "2", "b", "-inf", "m", "+inf", "n"),
  s("ZADD", "z", "NX", "9", "a", "9", "new"),
  s("ZADD", "z", "XX", "CH", "7", "a", "7", "nope"),
  s("ZADD", "z", "GT", "CH", "1", "a", "8", "b"),
  s("ZADD", "z", "LT", "CH", "1", "a", "8", "c"),
  s("ZADD", "z", "INCR", "0.1", "a"),
  s("ZADD", "z", "INCR", "NX", "5", "a"),
  s("ZADD", "z", "NX", "XX", "1", "a"),
  s("ZADD", "z", "GT", "LT", "1", "a"),
  s("ZADD", "z", "NX", "GT", "1", "a"),
  s("ZADD", "z", "INCR", "1", "a", "2", "b"),
  s("ZADD", "z", "1", "a", "2"),
  s("ZADD", "z", "x", "a"),
  s("ZADD", "z", "nan", "a"),
  s("ZADD", "z", " 1", "a"),
  s("ZADD", "z", "1e400", "a"),
  s("ZADD", "z", "0x10", "hex"),
  s("ZADD", "z", "CH"),
  s("ZINCRBY", "z", "inf", "n"),
  s("ZINCRBY", "z", "-inf", "n"),
  s("ZINCRBY", "z", "2.5", "fresh"),
  s("ZINCRBY", "z", "abc", "fresh"),
  s("ZSCORE", "z", "a"),
  s("ZSCORE", "z", "m"),
  s("ZSCORE", "z", "missing"),
  s("ZSCORE", "nokey", "a"),
  s("ZMSCORE", "z", "a", "missing", "b", "n"),
  s("ZMSCORE", "nokey", "a"),
  s("ZCARD", "z"),
  s("ZCARD", "nokey"),
  s("ZCOUNT", "z", "-inf", "+inf"),
  s("ZCOUNT", "z", "(1", "8"),
  s("ZCOUNT", "z", "(2", "(2"),
  s("ZCOUNT", "z", "x", "1"),
  s("ZCOUNT", "z", "", "5"),
  s("ZRANGE", "z", "0", "-1"),
  s("ZRANGE", "z", "0", "-1", "WITHSCORES"),
  s("ZRANGE", "z", "-3", "100", "WITHSCORES"),
  s("ZRANGE", "z", "5", "2"),
  s("ZRANGE", "z", "x", "2"),
  s("ZRANGE", "z", "0", "-1", "REV", "WITHSCORES"),
  s("ZRANGE", "z", "(1", "+inf", "BYSCORE", "WITHSCORES"),
  s("ZRANGE", "z", "+inf", "(1", "BYSCORE", "REV", "LIMIT", "1", "2"),
  s("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"),
  s("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "2", "-1"),
  s("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", "100", "1"),
  s("ZRANGE", "z", "0", "1", "LIMIT", "0", "1"),
  s("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"),
  s("ZRANGE", "z", "-", "+", "BYLEX", "BYSCORE"),
  s("ZRANGE", "z", "0", "1", "FOO"),
  s("ZRANGE", "z", "a", "b", "BYSCORE"),
  s("ZRANGE", "z", "a", "b", "BYLEX"),
  s("ZRANGE", "nokey", "0", "-1"),
  s("ZREVRANGE", "z", "0", "2", "WITHSCORES"),
  s("ZREVRANGE", "z", "-2", "-1"),
  s("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "1", "3"),
  s("ZRANGEBYSCORE", "z", "2", "1"),
  s("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES"),
  s("ZREVRANGEBYSCORE", "z", "8", "(2"),
  s("ZRANGEBYSCORE", "z", "0", "10", "LIMIT", "1"),
  s("ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "aa", "0", "B"),
  s("ZRANGEBYLEX", "lex", "-", "+"),
  s("ZRANGEBYLEX", "lex", "[aa", "(d"),
  s("ZRANGEBYLEX", "lex", "(a", "[c", "LIMIT", "1", "1"),
  s("ZREVRANGEBYLEX", "lex", "+", "-"),
  s("ZREVRANGEBYLEX", "lex", "(d", "[aa", "LIMIT", "0", "2"),
  s("ZRANGEBYLEX", "lex", "a", "c"),
  s("ZRANGEBYLEX", "lex", "+", "-"),
  s("ZLEXCOUNT", "lex", "-", "+"),
  s("ZLEXCOUNT", "lex", "[b", "[d"),
  s("ZLEXCOUNT", "lex", "b", "[d"),
  s("ZRANK", "z", "b"),
  s("ZRANK", "z", "zz"),
  s("ZREVRANK", "z", "b"),
  s("ZRANK", "z", "b", "WITHSCORE"),
  s("ZREVRANK", "nokey", "b", "WITHSCORE"),
  s("ZRANK", "z", "b", "FOO"),
  s("ZRANGESTORE", "dst", "z", "0", "2"),
  s("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
  s("ZRANGESTORE", "dst", "z", "+inf", "2", "BYSCORE", "REV", "LIMIT", "0", "2"),
  s("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
  s("ZRANGESTORE", "dst", "nokey", "0", "-1"),
  s("EXISTS", "dst"),
  s("ZRANGESTORE", "dst", "z", "0", "1", "WITHSCORES"),
  s("ZREM", "z", "a", "missing", "a"),
  s("ZREM", "nokey", "a"),
  s("ZREMRANGEBYRANK", "z", "0", "0"),
  s("ZREMRANGEBYRANK", "z", "10", "20"),
  s("ZREMRANGEBYSCORE", "z", "(2", "3"),
  s("ZREMRANGEBYSCORE", "z", "a", "3"),
  s("ZREMRANGEBYLEX", "lex", "[a", "(b"),
  s("ZREMRANGEBYLEX", "lex", "a", "(b"),
  s("ZRANGE", "z", "0", "-1", "WITHSCORES"),
  s("ZRANGE", "lex", "0", "-1"),
  s("ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"),
  s("ZPOPMIN", "p"),
  s("ZPOPMAX", "p", "2"),
  s("ZPOPMIN", "p", "0"),
  s("ZPOPMIN", "p", "-1"),
  s("ZPOPMIN", "p", "1", "2"),
  s("ZPOPMIN", "nokey"),
  s("ZMPOP", "2", "nokey", "p", "MIN", "COUNT", "10"),
  s("EXISTS", "p"),
  s("ZMPOP", "1", "p", "MAX"),
  s("ZMPOP", "0", "p", "MAX"),
  s("ZMPOP", "1", "p", "MID"),
  s("ZMPOP", "1", "p", "MIN", "COUNT", "0"),
  s("ZMPOP", "3", "p", "MIN"),
  s("ZADD", "u1", "1", "a", "2", "b", "3", "c"),
  s("ZADD", "u2", "10", "b", "20", "c", "30", "d"),
  s("SADD", "us", "a", "d", "x"),
  s("ZUNION", "2", "u1", "u2", "WITHSCORES"),
  s("ZUNION", "3", "u1", "u2", "us", "WEIGHTS", "1", "2", "0.5", "WITHSCORES"),
  s("ZUNION", "2", "u1", "u2", "AGGREGATE", "MAX", "WITHSCORES"),
  s("ZINTER", "2", "u1", "u2", "AGGREGATE", "MIN", "WITHSCORES"),
  s("ZINTER", "2", "u1", "us", "WITHSCORES"),
  s("ZDIFF", "2", "u1", "u2", "WITHSCORES"),
  s("ZDIFF", "2", "u1", "u2", "WEIGHTS", "1", "2"),
  s("ZUNION", "0", "u1"),
  s("ZUNION", "3", "u1"),
  s("ZUNION", "2", "u1", "u2", "WEIGHTS", "1", "x"),
  s("ZUNION", "2", "u1", "u2", "AGGREGATE", "AVG"),
  s("ZUNIONSTORE", "out", "2", "u1", "u2", "WEIGHTS", "2", "3"),
  s("ZRANGE", "out", "0", "-1", "WITHSCORES"),
  s("ZINTERSTORE", "out", "2", "u1", "u2"),
  s("ZDIFFSTORE", "out", "2", "u1", "u1"),
  s("EXISTS", "out"),
  s("ZINTERSTORE", "out", "2", "u1", "u2", "WITHSCORES"),
  s("ZINTERCARD", "2", "u1", "u2"),
  s("ZINTERCARD", "2", "u1", "u2", "LIMIT", "1"),
  s("ZINTERCARD", "2", "u1", "u2", "LIMIT", "-1"),
  s("ZINTERCARD", "0", "u1"),
  s("SET", "str", "x"),
  s("ZADD", "str", "1", "a"),
  s("ZRANGE", "str", "0", "-1"),
  s("ZUNION", "2", "u1", "str"),
  s("ZSCORE", "str", "a"),
  s("ZCARD", "str"),
  s("TYPE", "u1"),
  s("OBJECT", "ENCODING", "u1"),
  s("ZADD", "big", "1", "x".repeat(65)),
  s("OBJECT", "ENCODING", "big"),
  s("ZRANDMEMBER", "nokey"),
  s("ZRANDMEMBER", "nokey", "3"),
  shape("ZRANDMEMBER", "u1"),
  s("ZRANDMEMBER", "u1", "0"),
  s("ZRANDMEMBER", "u1", "5"),
  shape("ZRANDMEMBER", "u1", "-5", "WITHSCORES"),
  s("ZRANDMEMBER", "u1", "1", "FOO"),
  s("ZRANDMEMBER", "u1", "-9223372036854775807", "WITHSCORES"),
  s("ZSCAN", "u1", "0"),
  s("ZSCAN", "u1", "0", "MATCH", "b*"),
  s("ZSCAN", "u1", "x"),
  s("ZSCAN", "nokey", "0", "BAD"),
  s("ZSCAN", "u1", "0", "COUNT", "0"),
  s("ZADD", "fl", "0.1", "a", "1e-5", "b", "123456789012345678", "c", "-0", "d", "3.14159"),
  s("ZRANGE", "fl", "0", "-1", "WITHSCORES"),
  s("ZINCRBY", "fl", "0.2", "a"),
  s("ZSCORE", "fl", "d"),
  s("ZADD", "fl", "1e300", "e", "-2.5e-300", "f", "5e-324", "g"),
  s("ZRANGE", "fl", "0", "-1", "WITHSCORES"),
];

/** Bits: SETBIT/GETBIT, BITCOUNT and BITPOS ranges, BITOP, BITFIELD's types and overflows. */
const BIT_SUITE: Step[] = [
  s("SETBIT", "b", "7", "1"),
  s("SETBIT", "b", "7", "1"),
  s("SETBIT", "b", "100", "1"),
  s("SETBIT", "b", "7", "0"),
  s("SETBIT", "b", "-1", "1"),
  s("SETBIT", "b", "x", "1"),
  s("SETBIT", "b", "1", "2"),
  s("SETBIT", "b", "4294967296", "1"),
  s("GET", "b"),
  s("STRLEN", "b"),
  s("OBJECT", "ENCODING", "b"),
  s("GETBIT", "b", "100"),
  s("GETBIT", "b", "101"),
  s("GETBIT", "b", "99999"),
  s("GETBIT", "nokey", "1"),
  s("GETBIT", "b", "-1"),
  s("SET", "s", "foobar"),
  s("BITCOUNT", "s"),
  s("BITCOUNT", "s", "0", "0"),
  s("BITCOUNT", "s", "1", "1"),
  s("BITCOUNT", "s", "-2", "-1"),
  s("BITCOUNT", "s", "-1", "-2"),
  s("BITCOUNT", "s", "-100", "-50"),
  s("BITCOUNT", "s", "5", "30", "BIT"),
  s("BITCOUNT", "s", "-5", "-1", "BIT"),
  s("BITCOUNT", "s", "1", "3", "BYTE"),
  s("BITCOUNT", "s", "1", "3", "BITS"),
  s("BITCOUNT", "s", "1"),
  s("BITCOUNT", "s", "a", "1"),
  s("BITCOUNT", "nokey", "a", "1"),
  s("SET", "n", "12345"),
  s("BITCOUNT", "n"),
  s("GETBIT", "n", "2"),
  s("SET", "p", Buffer.from([0xff, 0xf0, 0x00])),
  s("BITPOS", "p", "0"),
  s("BITPOS", "p", "1"),
  s("BITPOS", "p", "1", "2"),
  s("BITPOS", "p", "0", "0", "0"),
  s("BITPOS", "p", "0", "0", "-1"),
  s("BITPOS", "p", "0", "2"),
  s("BITPOS", "p", "1", "7", "15", "BIT"),
  s("BITPOS", "p", "0", "3", "10", "BIT"),
  s("BITPOS", "p", "0", "0", "7", "BIT"),
  s("BITPOS", "p", "1", "5", "BIT"),
  s("BITPOS", "p", "2"),
  s("BITPOS", "p", "1", "0", "1", "BITS"),
  s("BITPOS", "nokey", "0"),
  s("BITPOS", "nokey", "1"),
  s("SET", "ones", Buffer.from([0xff, 0xff])),
  s("BITPOS", "ones", "0"),
  s("BITPOS", "ones", "0", "0", "-1"),
  s("SET", "k1", "foobar"),
  s("SET", "k2", "abcdef-longer"),
  s("BITOP", "AND", "dest", "k1", "k2"),
  s("GET", "dest"),
  s("BITOP", "OR", "dest", "k1", "k2", "nokey"),
  s("GET", "dest"),
  s("BITOP", "XOR", "dest", "k1", "k2"),
  s("GET", "dest"),
  s("BITOP", "NOT", "dest", "k1"),
  s("GET", "dest"),
  s("BITOP", "NOT", "dest", "k1", "k2"),
  s("BITOP", "NAND", "dest", "k1"),
  s("BITOP", "AND", "dest", "nokey", "nokey2"),
  s("EXISTS", "dest"),
  s("LPUSH", "list", "x"),
  s("BITOP", "AND", "dest", "k1", "list"),
  s("SETBIT", "list", "1", "1"),
  s("BITCOUNT", "list"),
  s("BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "u4", "0", "INCRBY", "i8", "0", "100"),
  s("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "100", "INCRBY", "u2", "#3", "9"),
  s("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "100", "GET", "i8", "0"),
  s("BITFIELD", "bf", "SET", "u63", "8", "-1", "GET", "u63", "8", "GET", "i64", "0"),
  s("BITFIELD", "bf", "SET", "i64", "0", "-9223372036854775807", "INCRBY", "i64", "0", "5"),
  s("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i64", "0", "-9", "INCRBY", "u8", "#20", "-5"),
  s("BITFIELD", "bf", "GET", "u64", "0"),
  s("BITFIELD", "bf", "GET", "i65", "0"),
  s("BITFIELD", "bf", "GET", "x8", "0"),
  s("BITFIELD", "bf", "GET", "i8", "-1"),
  s("BITFIELD", "bf", "GET", "i8"),
  s("BITFIELD", "bf", "OVERFLOW", "MAYBE"),
  s("BITFIELD", "bf", "FOO", "i8", "0"),
  s("BITFIELD", "bf", "SET", "i8", "0", "x"),
  s("BITFIELD", "bf"),
  s("GET", "bf"),
  s("BITFIELD_RO", "bf", "GET", "i8", "0", "GET", "u16", "#1"),
  s("BITFIELD_RO", "bf", "SET", "i8", "0", "1"),
  s("BITFIELD", "nokey", "GET", "i8", "0"),
  s("EXISTS", "nokey"),
  s("BITFIELD", "list", "GET", "i8", "0"),
];

/** HyperLogLog: the HYLL strings (sparse, promoted, dense), counts, merges, errors. */
const many = (prefix: string, n: number): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const HLL_SUITE: Step[] = [
  s("PFADD", "h"),
  s("GET", "h"),
  s("PFADD", "h", "a", "b", "c", "a"),
  s("PFADD", "h", "a"),
  s("GET", "h"),
  s("PFCOUNT", "h"),
  s("GET", "h"),
  s("PFADD", "h", ...many("e", 200)),
  s("PFCOUNT", "h"),
  s("GET", "h"),
  s("PFDEBUG", "ENCODING", "h"),
  s("PFDEBUG", "DECODE", "h"),
  s("PFADD", "big", ...many("x", 3000)),
  s("PFDEBUG", "ENCODING", "big"),
  s("PFCOUNT", "big"),
  s("GET", "big"),
  s("PFADD", "big", ...many("y", 20000)),
  s("PFCOUNT", "big"),
  s("PFADD", "h2", ...many("e", 100), ...many("z", 50)),
  s("PFCOUNT", "h", "h2"),
  s("PFCOUNT", "h", "h2", "big", "nokey"),
  s("PFMERGE", "m", "h", "h2"),
  s("GET", "m"),
  s("PFCOUNT", "m"),
  s("PFMERGE", "m2", "h", "big"),
  s("PFDEBUG", "ENCODING", "m2"),
  s("PFCOUNT", "m2"),
  s("PFMERGE", "h2", "h"),
  s("GET", "h2"),
  s("PFMERGE", "empty"),
  s("GET", "empty"),
  s("PFCOUNT", "nokey"),
  s("SET", "str", "hello world, not an HLL"),
  s("PFADD", "str", "a"),
  s("PFCOUNT", "str"),
  s("PFCOUNT", "h", "str"),
  s("PFMERGE", "m", "str"),
  s("SET", "int", "12345"),
  s("PFADD", "int", "a"),
  s("LPUSH", "list", "a"),
  s("PFADD", "list", "a"),
  s("PFCOUNT", "list"),
  s("PFDEBUG", "GETREG", "nokey"),
  s("PFDEBUG", "TODENSE", "h"),
  s("PFDEBUG", "TODENSE", "h"),
  s("PFDEBUG", "ENCODING", "h"),
  s("PFCOUNT", "h"),
  s("GET", "h"),
  s("PFDEBUG", "DECODE", "h"),
  s("PFDEBUG", "FOO", "h"),
  s("PFDEBUG", "ENCODING", "h", "x"),
  s("SETRANGE", "h2", "4", "\x09"),
  s("PFCOUNT", "h2"),
];

/** String and key extras, and the SCAN families on small (one-call) collections. */
const EXTRA_SUITE: Step[] = [
  s("SETRANGE", "r", "5", "hello"),
  s("GET", "r"),
  s("SETRANGE", "r", "0", "HE"),
  s("SETRANGE", "r", "0", ""),
  s("SETRANGE", "nokey", "3", ""),
  s("EXISTS", "nokey"),
  s("SETRANGE", "r", "-1", "x"),
  s("SETRANGE", "r", "x", "x"),
  s("SETRANGE", "r", "536870911", "xy"),
  s("OBJECT", "ENCODING", "r"),
  s("GETRANGE", "r", "0", "3"),
  s("SUBSTR", "r", "-3", "-1"),
  s("SUBSTR", "r", "x", "1"),
  s("SET", "g", "v"),
  s("GETEX", "g"),
  s("GETEX", "g", "EX", "100"),
  s("TTL", "g"),
  s("GETEX", "g", "PERSIST"),
  s("TTL", "g"),
  s("GETEX", "g", "PX", "0"),
  s("GETEX", "g", "EX", "x"),
  s("GETEX", "g", "EX", "10", "PX", "10"),
  s("GETEX", "g", "PERSIST", "EX", "10"),
  s("GETEX", "g", "FOO"),
  s("GETEX", "nokey", "EX", "10"),
  s("GETEX", "g", "EXAT", "1"),
  s("EXISTS", "g"),
  s("GETDEL", "r"),
  s("GETDEL", "r"),
  s("SET", "l1", "ohmytext"),
  s("SET", "l2", "mynewtext"),
  s("LCS", "l1", "l2"),
  s("LCS", "l1", "l2", "LEN"),
  s("LCS", "l1", "l2", "IDX"),
  s("LCS", "l1", "l2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"),
  s("LCS", "l1", "l2", "IDX", "LEN"),
  s("LCS", "l1", "nokey"),
  s("LCS", "l1", "l2", "MINMATCHLEN"),
  s("RPUSH", "lst", "a"),
  s("LCS", "l1", "lst"),
  s("SET", "k", "v"),
  s("MOVE", "k", "1"),
  s("MOVE", "k", "1"),
  s("MOVE", "l1", "0"),
  s("MOVE", "l1", "16"),
  s("MOVE", "l1", "x"),
  s("SELECT", "1"),
  s("GET", "k"),
  s("SELECT", "0"),
  s("SWAPDB", "0", "1"),
  s("GET", "k"),
  s("SWAPDB", "0", "1"),
  s("SWAPDB", "0", "16"),
  s("SWAPDB", "x", "1"),
  s("SWAPDB", "0", "y"),
  s("COPY", "l1", "c1"),
  s("GET", "c1"),
  s("COPY", "l1", "c1"),
  s("COPY", "l1", "c1", "REPLACE"),
  s("COPY", "l1", "l1"),
  s("COPY", "l1", "c2", "DB", "2"),
  s("COPY", "l1", "c2", "DB", "20"),
  s("COPY", "l1", "c2", "FOO"),
  s("COPY", "nokey", "c3"),
  s("TOUCH", "l1", "l2", "nokey"),
  s("RENAMENX", "l1", "l2"),
  s("RENAMENX", "l1", "l3"),
  s("HSET", "hh", "f1", "v1", "f2", "v2", "g1", "v3"),
  s("HSCAN", "hh", "0"),
  s("HSCAN", "hh", "0", "MATCH", "f*", "COUNT", "1"),
  s("HSCAN", "hh", "x"),
  s("HSCAN", "nokey", "0", "FOO"),
  s("HSCAN", "hh", "0", "FOO"),
  s("HSCAN", "hh", "0", "COUNT", "0"),
  s("SADD", "ss", "3", "1", "2"),
  s("SSCAN", "ss", "0"),
  s("SADD", "sm", "b", "a", "c"),
  { cmd: ["SSCAN", "sm", "0"], mode: "sorted" },
  s("SSCAN", "ss", "0", "MATCH", "[12]"),
  s("SSCAN", "lst", "0"),
  s("ZADD", "zz", "2", "b", "1", "a"),
  s("ZSCAN", "zz", "0"),
  s("SCAN", "0", "TYPE", "zset"),
  s("SCAN", "0", "COUNT", "x"),
  s("TYPE", "zz"),
];

/** SORT: numeric, ALPHA, DESC, LIMIT, BY and GET patterns (hash fields, `#`), STORE, nosort. */
const SORT_SUITE: Step[] = [
  s("RPUSH", "nums", "3", "1", "2", "10", "-5", "2.5"),
  s("SORT", "nums"),
  s("SORT", "nums", "DESC"),
  s("SORT", "nums", "LIMIT", "1", "3"),
  s("SORT", "nums", "LIMIT", "-1", "2"),
  s("SORT", "nums", "LIMIT", "10", "2"),
  s("SORT", "nums", "LIMIT", "0", "-1", "DESC"),
  s("SORT", "nums", "ALPHA"),
  s("RPUSH", "words", "banana", "apple", "cherry", "10", "9"),
  s("SORT", "words"),
  s("SORT", "words", "ALPHA"),
  s("SORT", "words", "ALPHA", "DESC", "LIMIT", "1", "2"),
  s("MSET", "w_banana", "2", "w_apple", "3", "w_cherry", "1", "w_10", "x"),
  s("SORT", "words", "BY", "w_*"),
  s("SORT", "words", "BY", "w_*", "ALPHA"),
  s("HSET", "h_banana", "f", "b", "n", "1"),
  s("HSET", "h_apple", "f", "a", "n", "2"),
  s("SORT", "words", "BY", "h_*->n", "GET", "#", "GET", "h_*->f", "GET", "w_*"),
  s("SORT", "words", "BY", "nosort", "GET", "#", "GET", "h_*->f"),
  s("SORT", "words", "BY", "nosort", "DESC", "LIMIT", "1", "2"),
  s("SORT", "words", "BY", "nosort", "GET", "nostar"),
  s("SORT", "words", "GET", "#", "ALPHA", "STORE", "out"),
  s("LRANGE", "out", "0", "-1"),
  s("SORT", "words", "BY", "h_*->n", "GET", "h_*->f", "STORE", "out"),
  s("LRANGE", "out", "0", "-1"),
  s("SORT", "nokey", "STORE", "out"),
  s("EXISTS", "out"),
  s("SORT", "nokey"),
  s("SADD", "set", "5", "3", "9"),
  s("SORT", "set"),
  s("SORT", "set", "BY", "nosort"),
  s("SORT", "set", "BY", "nosort", "STORE", "out"),
  s("LRANGE", "out", "0", "-1"),
  s("ZADD", "zs", "1", "c", "2", "a", "3", "b"),
  s("SORT", "zs", "ALPHA"),
  s("SORT", "zs", "BY", "nosort"),
  s("SORT", "zs", "BY", "nosort", "DESC", "LIMIT", "1", "5"),
  s("SORT", "zs"),
  s("SORT", "zs", "LIMIT", "x", "1"),
  s("SORT", "zs", "FOO"),
  s("SORT", "zs", "LIMIT", "1"),
  s("SET", "str", "x"),
  s("SORT", "str"),
  s("SORT_RO", "nums", "DESC"),
  s("SORT_RO", "nums", "STORE", "out"),
];

/** A suite on one connection: each step's reply bytes. */
async function run(port: number, steps: Step[], hello3: boolean): Promise<Buffer[]> {
  const requests = steps.map((st) => encodeCommand(st.cmd));
  if (!hello3) return sendAll(port, requests);
  return (await sendAll(port, [encodeCommand(["HELLO", "3"]), ...requests])).slice(1);
}

const label = (st: Step): string => {
  const t = st.cmd.map((a) => a.toString()).join(" ");
  return JSON.stringify(t.length > 80 ? `${t.slice(0, 80)}…` : t);
};

function compare(steps: Step[], got: Buffer[], want: Buffer[]): string[] {
  const failures: string[] = [];
  for (const [i, st] of steps.entries()) {
    const g = got[i]!.toString("latin1");
    const w = want[i]!.toString("latin1");
    if (w.length === 0) failures.push(`${label(st)}: the real server answered nothing`);
    else if (st.mode === "sorted") {
      const items = (t: string): string[] => t.split("\r\n").sort();
      if (JSON.stringify(items(g)) !== JSON.stringify(items(w)))
        failures.push(`${label(st)}: ${JSON.stringify(g)} / real ${JSON.stringify(w)}`);
    } else if (st.mode === "shape") {
      if (g.split("\r\n")[0] !== w.split("\r\n")[0])
        failures.push(`${label(st)}: ${JSON.stringify(g)} / real ${JSON.stringify(w)}`);
    } else if (g !== w) {
      failures.push(
        `${label(st)}:\n  persona ${JSON.stringify(g)}\n  real    ${JSON.stringify(w)}`,
      );
    }
  }
  return failures;
}

interface Target {
  /** The persona that claims this build's version. */
  persona: string;
  bin: string;
  resp3: boolean;
}

const DEBIAN = redisServerPath();
const HAVE_DEBIAN = DEBIAN !== undefined && (redisServerVersion() ?? "").startsWith("7.0");
const requireAll = process.env.CI === "true";
if (requireAll && !HAVE_DEBIAN) throw new Error("redis-server 7.0 is required in CI");

/** Other versions, from real builds where this machine has them. */
const BUILDS: Array<[string, string, boolean]> = [
  ["redis-2.8-open", "/work/servers/redis-2.8.24/redis-server", false],
  ["redis-3.2-open", "/work/servers/redis-3.2.12/redis-server", false],
  ["redis-4.0-open", "/work/servers/redis-4.0.14/redis-server", false],
  ["redis-5.0-open", "/work/servers/redis-5.0.8/redis-server", false],
  ["redis-6.0-open", "/work/servers/redis-6.0.20/redis-server", true],
  ["redis-6.2-open", "/work/servers/redis-6.2.16/redis-server", true],
  ["redis-7.2-open", "/work/servers/redis-7.2.4/redis-server", true],
  ["redis-7.4-open", "/work/servers/redis-7.4.1/redis-server", true],
  ["valkey-8-open", "/work/servers/valkey-8.0.1/valkey-server", true],
];

/** Start the real server and the persona; run `body`; stop both. */
async function withPair<T>(
  t: Target,
  body: (real: number, fake: number) => Promise<T>,
): Promise<T> {
  const real: RedisProcess = await startRedis({
    host: "127.0.0.1",
    port: await freePort(),
    // 2.8 has no protected mode (nor the option).
    config: t.persona.startsWith("redis-2.8") ? [] : ["protected-mode no"],
    bin: t.bin,
  });
  const fake: PersonaServer = await servePersona(persona(t.persona));
  try {
    return await body(real.port, fake.port);
  } finally {
    await fake.close();
    await real.stop();
  }
}

/** The suite in RESP2 and (where the version has it) RESP3, each on a fresh pair. */
async function differential(t: Target, steps: Step[]): Promise<number> {
  const failures: string[] = [];
  let compared = 0;
  for (const hello3 of t.resp3 ? [false, true] : [false]) {
    await withPair(t, async (real, fake) => {
      const want = await run(real, steps, hello3);
      const got = await run(fake, steps, hello3);
      const f = compare(steps, got, want);
      failures.push(...f.map((x) => `[${t.persona}${hello3 ? " RESP3" : ""}] ${x}`));
      compared += steps.length;
    });
  }
  assert.deepEqual(failures, [], failures.slice(0, 30).join("\n"));
  return compared;
}

const SUITES: Array<[string, Step[]]> = [
  ["sorted sets", ZSET_SUITE],
  ["bits", BIT_SUITE],
  ["HyperLogLog", HLL_SUITE],
  ["string and key extras, SCAN families", EXTRA_SUITE],
  ["SORT", SORT_SUITE],
];

describe("data families: redis-7.0 persona against Debian's redis-server 7.0.15", {
  skip: HAVE_DEBIAN ? false : "redis-server 7.0 not installed",
}, () => {
  const t: Target = { persona: "redis-7.0-open", bin: DEBIAN ?? "redis-server", resp3: true };
  for (const [name, steps] of SUITES) {
    test(`${name} (${steps.length} requests, RESP2 and RESP3)`, async () => {
      await differential(t, steps);
    });
  }
});

for (const [name, bin, resp3] of BUILDS) {
  describe(`data families: ${name} against a real build`, {
    skip: fs.existsSync(bin) ? false : `${bin} not built`,
  }, () => {
    for (const [suite, steps] of SUITES) {
      test(`${suite} (${steps.length} requests)`, async () => {
        await differential({ persona: name, bin, resp3 }, steps);
      });
    }
  });
}

// ---- property tests: random command sequences against the live 7.0.15 ----

const member = fc.oneof(
  fc.constantFrom("a", "b", "c", "aa", "ab", "B", "", "\u0000", "\u00ff", "zz"),
  fc.string({ maxLength: 4 }),
);
const score = fc.oneof(
  fc.integer({ min: -5, max: 5 }).map(String),
  fc.constantFrom("0.1", "1.5", "-0", "inf", "-inf", "1e-7", "3.14159", "1e20", "(1", "x"),
  fc.double({ noNaN: true }).map((d) => String(d)),
);
const rangeBound = fc.oneof(
  fc.integer({ min: -6, max: 6 }).map(String),
  fc.constantFrom("-inf", "+inf", "(0", "(1.5", "-", "+", "[a", "(b", "[", "x"),
);
const zsetCommand: fc.Arbitrary<Cmd> = fc.oneof(
  fc
    .tuple(
      fc.subarray(["NX", "XX", "GT", "LT", "CH", "INCR"], { maxLength: 2 }),
      fc.array(fc.tuple(score, member), { minLength: 1, maxLength: 4 }),
    )
    .map(([opts, pairs]) => ["ZADD", "z", ...opts, ...pairs.flat()]),
  fc.tuple(score, member).map(([sc, m]) => ["ZINCRBY", "z", sc, m]),
  fc
    .tuple(
      rangeBound,
      rangeBound,
      fc.subarray(["BYSCORE", "BYLEX", "REV", "WITHSCORES"], { maxLength: 3 }),
      fc.option(fc.tuple(fc.integer({ min: -2, max: 4 }), fc.integer({ min: -2, max: 4 }))),
    )
    .map(([a, b, opts, limit]) => [
      "ZRANGE",
      "z",
      a,
      b,
      ...opts,
      ...(limit === null ? [] : ["LIMIT", String(limit[0]), String(limit[1])]),
    ]),
  fc.tuple(rangeBound, rangeBound).map(([a, b]) => ["ZCOUNT", "z", a, b]),
  fc.tuple(rangeBound, rangeBound).map(([a, b]) => ["ZLEXCOUNT", "z", a, b]),
  fc.tuple(rangeBound, rangeBound).map(([a, b]) => ["ZREMRANGEBYSCORE", "z", a, b]),
  member.map((m) => ["ZREM", "z", m]),
  member.map((m) => ["ZRANK", "z", m]),
  member.map((m) => ["ZSCORE", "z", m]),
  fc.integer({ min: -1, max: 3 }).map((n) => ["ZPOPMIN", "z", String(n)]),
  fc.constantFrom<Cmd>(
    ["ZUNIONSTORE", "z2", "2", "z", "z2", "WEIGHTS", "2", "0.5"],
    ["ZINTER", "2", "z", "z2", "WITHSCORES"],
    ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
  ),
);

const bitKey = fc.constantFrom("b1", "b2", "b3");
const bitCommand: fc.Arbitrary<Cmd> = fc.oneof(
  fc
    .tuple(bitKey, fc.integer({ min: 0, max: 90 }), fc.constantFrom("0", "1"))
    .map(([k, o, v]) => ["SETBIT", k, String(o), v]),
  fc
    .tuple(bitKey, fc.uint8Array({ maxLength: 8 }))
    .map(([k, bytes]) => ["SET", k, Buffer.from(bytes)]),
  fc
    .tuple(
      fc.constantFrom("AND", "OR", "XOR", "NOT"),
      fc.array(bitKey, { minLength: 1, maxLength: 3 }),
    )
    .map(([op, keys]) => ["BITOP", op, "b3", ...(op === "NOT" ? keys.slice(0, 1) : keys)]),
  fc
    .tuple(
      bitKey,
      fc.integer({ min: -20, max: 20 }),
      fc.integer({ min: -20, max: 20 }),
      fc.constantFrom("BYTE", "BIT"),
    )
    .map(([k, a, b, u]) => ["BITCOUNT", k, String(a), String(b), u]),
  fc
    .tuple(
      bitKey,
      fc.constantFrom("0", "1"),
      fc.integer({ min: -20, max: 20 }),
      fc.option(fc.integer({ min: -20, max: 40 })),
    )
    .map(([k, bit, a, b]) => ["BITPOS", k, bit, String(a), ...(b === null ? [] : [String(b)])]),
  fc
    .tuple(
      bitKey,
      fc.constantFrom("i8", "u8", "i5", "u3", "i64", "u63", "i13"),
      fc.integer({ min: 0, max: 70 }),
      fc.constantFrom("WRAP", "SAT", "FAIL"),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
    )
    .map(([k, t, o, ow, n]) => [
      "BITFIELD",
      k,
      "OVERFLOW",
      ow,
      "INCRBY",
      t,
      String(o),
      String(n),
      "GET",
      t,
      String(o),
    ]),
  bitKey.map((k) => ["GET", k]),
);

const hllCommand: fc.Arbitrary<Cmd> = fc.oneof(
  fc
    .tuple(fc.constantFrom("h1", "h2"), fc.array(fc.string({ maxLength: 6 }), { maxLength: 40 }))
    .map(([k, els]) => ["PFADD", k, ...els]),
  fc
    .tuple(
      fc.constantFrom("h1", "h2"),
      fc.integer({ min: 1, max: 4000 }),
      fc.integer({ min: 0, max: 9 }),
    )
    .map(([k, n, seed]) => ["PFADD", k, ...Array.from({ length: n }, (_, i) => `${seed}:${i}`)]),
  fc.constantFrom<Cmd>(
    ["PFCOUNT", "h1"],
    ["PFCOUNT", "h1", "h2"],
    ["PFMERGE", "h3", "h1", "h2"],
    ["PFCOUNT", "h3"],
    ["GET", "h1"],
    ["GET", "h3"],
  ),
);

describe("data families: random sequences against Debian's redis-server 7.0.15", {
  skip: HAVE_DEBIAN ? false : "redis-server 7.0 not installed",
}, () => {
  let real: RedisProcess | undefined;
  let fake: PersonaServer | undefined;
  let realConn: RespConnection;
  let fakeConn: RespConnection;

  before(async () => {
    real = await startRedis({
      host: "127.0.0.1",
      port: await freePort(),
      config: ["protected-mode no"],
      bin: DEBIAN ?? "redis-server",
    });
    fake = await servePersona(persona("redis-7.0-open"));
    realConn = await RespConnection.open(real.port);
    fakeConn = await RespConnection.open(fake.port);
  });

  after(async () => {
    realConn?.close();
    fakeConn?.close();
    await fake?.close();
    await real?.stop();
  });

  /** Each generated sequence, after FLUSHALL, gets the same bytes from both. */
  const sameReplies = (gen: fc.Arbitrary<Cmd>, runs: number) => async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(gen, { minLength: 1, maxLength: 15 }), async (cmds) => {
        await realConn.send(encodeCommand(["FLUSHALL"]));
        await fakeConn.send(encodeCommand(["FLUSHALL"]));
        for (const cmd of cmds) {
          const want = (await realConn.send(encodeCommand(cmd))).toString("latin1");
          const got = (await fakeConn.send(encodeCommand(cmd))).toString("latin1");
          assert.equal(got, want, label({ cmd }));
        }
      }),
      { numRuns: runs },
    );
  };

  test("ZADD/ZRANGE/ZCOUNT/… sequences", sameReplies(zsetCommand, 150));
  test("SETBIT/BITOP/BITCOUNT/BITPOS/BITFIELD sequences", sameReplies(bitCommand, 150));
  test("PFADD/PFCOUNT/PFMERGE sequences and the HYLL bytes", sameReplies(hllCommand, 40));
});

// ---- bounds: what a visitor can make the session keep or send ----

const OOM = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

async function withSession(
  name: string,
  limits: { maxBytes?: number; maxKeys?: number },
  fn: (
    send: (...args: Array<string | Buffer>) => Promise<string>,
    conn: RespConnection,
  ) => Promise<void>,
): Promise<void> {
  const srv = await servePersona(persona(name), { limits });
  const conn = await RespConnection.open(srv.port);
  try {
    await fn(async (...args) => (await conn.send(encodeCommand(args))).toString("latin1"), conn);
  } finally {
    conn.close();
    await srv.close();
  }
}

describe("data families: bounded by the session's caps", () => {
  test("a sorted set's members are charged: ZADD stops at the byte cap, ZREM frees", async () => {
    await withSession("redis-7.0-open", { maxBytes: 64 * 1024 }, async (send) => {
      let added = 0;
      for (let i = 0; i < 200; i++) {
        const members = Array.from({ length: 50 }, (_, j) => [
          String(j),
          `m${i}-${j}-${"x".repeat(40)}`,
        ]);
        const r = await send("ZADD", "z", ...members.flat());
        if (r === OOM) break;
        added += 50;
      }
      assert.ok(added > 0 && added < 2000, `added ${added}`);
      assert.equal(await send("ZCARD", "z"), `:${added}\r\n`);
      // Refused whole: nothing of the refused ZADD is kept.
      assert.equal(await send("ZADD", "z", "1", "y".repeat(60_000)), OOM);
      assert.equal(await send("ZCARD", "z"), `:${added}\r\n`);
      assert.equal(await send("ZREMRANGEBYRANK", "z", "0", "-1"), `:${added}\r\n`);
      assert.equal(await send("EXISTS", "z"), ":0\r\n");
      assert.equal(await send("ZADD", "z", "1", "y".repeat(1000)), ":1\r\n");
    });
  });

  test("SETBIT, SETRANGE, BITFIELD far out: -OOM, nothing allocated", async () => {
    await withSession("redis-7.0-open", { maxBytes: 64 * 1024 }, async (send) => {
      const before = process.memoryUsage().arrayBuffers;
      assert.equal(await send("SETBIT", "b", "4294967295", "1"), OOM);
      assert.equal(await send("SETRANGE", "r", "536870000", "x"), OOM);
      assert.equal(await send("BITFIELD", "f", "SET", "u8", "#60000000", "1"), OOM);
      assert.equal(await send("EXISTS", "b", "r", "f"), ":0\r\n");
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
      assert.equal(await send("SETBIT", "b", "1000", "1"), ":0\r\n");
    });
  });

  test("an HLL is at most 12,304 bytes however many elements", async () => {
    await withSession("redis-7.0-open", {}, async (send) => {
      for (let i = 0; i < 10; i++) {
        await send("PFADD", "h", ...Array.from({ length: 2000 }, (_, j) => `${i}:${j}`));
      }
      assert.equal(await send("STRLEN", "h"), ":12304\r\n");
    });
  });

  test("replies far larger than the request close the connection unanswered", async () => {
    await withSession("redis-7.0-open", {}, async (send, conn) => {
      await send("ZADD", "z", "1", "x".repeat(50_000));
      // ZRANDMEMBER with a huge negative count: repeats, far beyond the reply budget.
      const r = await send("ZRANDMEMBER", "z", "-100000000");
      assert.equal(r, "");
      assert.ok(conn.closed);
    });
    await withSession("redis-7.0-open", {}, async (send, conn) => {
      await send("SET", "big", "x".repeat(60_000));
      // Every element empty, so GET big* names the one big string each time.
      await send("RPUSH", "l", ...Array.from({ length: 2000 }, () => ""));
      const r = await send("SORT", "l", "BY", "nosort", "GET", "big*", "GET", "big*");
      assert.equal(r, "");
      assert.ok(conn.closed);
    });
  });
});
