/**
 * INFO's counters against real servers: the same short sequence of requests goes to a real
 * redis-server (Debian's 7.0.15, and a pre-6.0 build from /work/servers where this machine has
 * one), started here on 127.0.0.1, and to a fresh persona of that version behind the shipped
 * HoneypotServer, each on one connection. The sequence starts with CONFIG RESETSTAT and ends
 * with INFO on that connection; every counter must show the same: writes
 * (rdb_changes_since_last_save, which RESETSTAT leaves: read as moved since an INFO before),
 * commands processed, bytes and reads/writes of the socket, keyspace hits and misses, error
 * replies by code, each command's calls. Traffic stays on 127.0.0.1.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, test } from "node:test";
import { persona } from "../src/honeypot/personas/index.js";
import {
  type RedisProcess,
  redisServerPath,
  redisServerVersion,
  startRedis,
} from "../src/lab/redis.js";
import { encodeCommand } from "../src/resp/index.js";
import { type PersonaServer, RespConnection, servePersona } from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

/** Requests whose counting differs by command and version (see commands/lookups.ts, wrote()). */
const SEQUENCE: string[][] = [
  ["CONFIG", "RESETSTAT"],
  ["SET", "k", "v"],
  ["GET", "k"],
  ["GET", "nope"],
  ["MGET", "k", "nope", "k"],
  ["HSET", "h", "a", "1", "b", "2"],
  ["HGETALL", "h"],
  ["HGET", "nope", "a"],
  ["LPUSH", "l", "a", "b", "c", "d"],
  ["RPOP", "l"],
  ["LINDEX", "l", "abc"],
  ["LRANGE", "l", "x", "1"],
  ["SADD", "s", "a", "b", "c"],
  ["SADD", "s2", "c", "d"],
  ["SMEMBERS", "s"],
  ["SUNIONSTORE", "u", "s", "s2", "nope"],
  ["SINTER", "s", "s2"],
  ["ZADD", "z", "1", "a", "2", "b", "3", "c"],
  ["ZRANGE", "z", "0", "-1"],
  ["ZSCORE", "z", "a"],
  ["PFADD", "p", "a", "b", "c"],
  ["PFCOUNT", "p"],
  ["PFCOUNT", "p", "nope"],
  ["EXISTS", "k", "nope"],
  ["TYPE", "k"],
  ["TTL", "k"],
  ["EXPIRE", "k", "100"],
  ["EXPIRE", "k", "abc"],
  ["OBJECT", "ENCODING", "l"],
  ["OBJECT", "ENCODING", "nope"],
  ["INCR", "n"],
  ["INCRBY", "n", "5"],
  ["MSET", "m1", "1", "m2", "2"],
  ["DEL", "m1", "m2", "nope"],
  ["RPUSH", "so", "3", "1", "2"],
  ["SET", "w_1", "9"],
  ["SORT", "so"],
  ["SORT", "so", "BY", "w_*"],
  ["SORT", "so", "STORE", "sodst"],
  ["GET", "h"],
  ["LPUSH", "k", "x"],
  ["FOOBAR", "x"],
  ["SET", "k"],
  ["CONFIG", "NOSUCH"],
  ["CLIENT", "NOSUCH"],
  ["SCAN", "0", "COUNT", "100"],
  ["DBSIZE"],
  ["FLUSHDB"],
  ["SET", "after", "flush"],
  ["FLUSHALL"],
];

/** The counters compared, where the version has them. */
const KEYS = [
  "rdb_changes_since_last_save",
  "total_commands_processed",
  "total_net_input_bytes",
  "total_reads_processed",
  "total_writes_processed",
  "keyspace_hits",
  "keyspace_misses",
  "expired_keys",
  "total_error_replies",
];

/** INFO's numeric fields, and the count in errorstat_/cmdstat_ lines (`calls=` or `count=`). */
function counters(info: Buffer): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of info.toString("latin1").split("\r\n")) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1);
    const stat = /(?:calls|count)=(\d+)/.exec(value);
    const failed = /failed_calls=(\d+)/.exec(value);
    const rejected = /rejected_calls=(\d+)/.exec(value);
    if (/^(cmdstat|errorstat)_/.test(key) && stat !== null) {
      out.set(key, Number(stat[1]));
      if (failed !== null) out.set(`${key} failed`, Number(failed[1]));
      if (rejected !== null) out.set(`${key} rejected`, Number(rejected[1]));
    } else if (/^\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

/**
 * The counters after the sequence, read on the sequence's own connection (the writes as moved
 * since before it: RESETSTAT does not reset them).
 */
async function countersAfter(port: number): Promise<Map<string, number>> {
  const conn = await RespConnection.open(port);
  try {
    const info = (): Promise<Buffer> => conn.send(encodeCommand(["INFO", "all"]));
    const before = counters(await info());
    for (const cmd of SEQUENCE) await conn.send(encodeCommand(cmd));
    const after = counters(await info());
    const moved = new Map<string, number>();
    for (const [k, v] of after) {
      if (!KEYS.includes(k) && !/^(cmdstat|errorstat)_/.test(k)) continue;
      moved.set(k, k === "rdb_changes_since_last_save" ? v - (before.get(k) ?? 0) : v);
    }
    return moved;
  } finally {
    conn.close();
  }
}

async function compare(name: string, bin: string): Promise<void> {
  const real: RedisProcess = await startRedis({
    host: "127.0.0.1",
    port: await freePort(),
    config: name.startsWith("redis-2.8") ? [] : ["protected-mode no"],
    bin,
  });
  const fake: PersonaServer = await servePersona(persona(name, { fresh: true }));
  try {
    const want = await countersAfter(real.port);
    const got = await countersAfter(fake.port);
    const wrong: string[] = [];
    for (const k of new Set([...want.keys(), ...got.keys()])) {
      if ((want.get(k) ?? 0) !== (got.get(k) ?? 0)) {
        wrong.push(`${k}: real ${want.get(k) ?? "-"}, persona ${got.get(k) ?? "-"}`);
      }
    }
    // Every compared counter moved on the real server: the test can fail.
    assert.ok((want.get("rdb_changes_since_last_save") ?? 0) > 20);
    assert.ok((want.get("keyspace_hits") ?? 0) > 5);
    assert.deepEqual(wrong, [], `${name}:\n${wrong.join("\n")}`);
  } finally {
    await fake.close();
    await real.stop();
  }
}

const DEBIAN = redisServerPath();
const HAVE_DEBIAN = DEBIAN !== undefined && (redisServerVersion() ?? "").startsWith("7.0");
if (process.env.CI === "true" && !HAVE_DEBIAN)
  throw new Error("redis-server 7.0 is required in CI");

/** Older and other versions, from real builds where this machine has them. */
const BUILDS: Array<[string, string]> = [
  ["redis-2.8-open", "/work/servers/redis-2.8.24/redis-server"],
  ["redis-4.0-open", "/work/servers/redis-4.0.14/redis-server"],
  ["redis-6.2-open", "/work/servers/redis-6.2.16/redis-server"],
  ["redis-7.4-open", "/work/servers/redis-7.4.1/redis-server"],
];

describe("INFO counters against real servers", () => {
  test("redis-7.0-open against Debian's redis-server 7.0.15", {
    skip: HAVE_DEBIAN ? false : "redis-server 7.0 not installed",
  }, async () => {
    await compare("redis-7.0-open", DEBIAN ?? "redis-server");
  });
  for (const [name, bin] of BUILDS) {
    test(`${name} against a real build`, {
      skip: fs.existsSync(bin) ? false : `${bin} not built`,
    }, async () => {
      await compare(name, bin);
    });
  }
});
