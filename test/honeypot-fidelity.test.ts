/**
 * Honeypot fidelity: do the personas answer as the real servers they claim to be? Everything
 * goes through the server that ships (HoneypotServer, in process, with an in-memory recorder).
 *  - Replay: every probe recorded from real servers (data/replies) gets the recorded bytes.
 *  - Identification: the project's own scanner probe classifies each persona as its product,
 *    version and state.
 *  - Differential: a long command suite against Debian's real redis-server 7.0 and the 7.0
 *    personas, reply by reply; differences that must differ are listed with a reason.
 *  - Clients: redis-cli talks to every persona.
 *  - Behaviour by version era and the session's bounds.
 * All network traffic stays on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { TransportOutcome } from "../src/engine/engine.js";
import {
  PERSONAS,
  type Persona,
  parseInfoText,
  persona,
  VOLATILE_INFO_KEYS,
  VOLATILE_INFO_SECTIONS,
} from "../src/honeypot/personas/index.js";
import { Session } from "../src/honeypot/session.js";
import {
  type RedisProcess,
  redisServerPath,
  redisServerVersion,
  startRedis,
} from "../src/lab/redis.js";
import { RedisProbe } from "../src/probe/redis.js";
import { encodeCommand } from "../src/resp/index.js";
import type { ProbeResult } from "../src/schema/result.js";
import {
  exchange,
  type PersonaServer,
  ReplyFramer,
  RespConnection,
  sendAll,
  servePersona,
  splitReplies,
} from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const REPLIES = path.resolve(here, "../../data/replies");

const requireAll = process.env.CI === "true";
function skipUnless(ok: boolean, why: string): string | false {
  if (ok) return false;
  if (requireAll) throw new Error(`honeypot fidelity prerequisite missing in CI: ${why}`);
  return why;
}

interface Fixture {
  file: string;
  version: string;
  config: string;
  probes: Array<{
    probe: string;
    request_b64: string;
    reply_b64: string;
    closed_by_server: boolean;
  }>;
}

function fixtures(): Fixture[] {
  return fs
    .readdirSync(REPLIES)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ file: f, ...JSON.parse(fs.readFileSync(path.join(REPLIES, f), "utf8")) }));
}

/** The INFO text of a bulk (`$`) or verbatim (`=`) reply. */
function infoPayload(reply: Buffer): string {
  const text = reply.toString("latin1");
  const body = text.slice(text.indexOf("\r\n") + 2, text.length - 2);
  return reply[0] === 0x3d ? body.slice(4) : body;
}

/**
 * INFO compared field by field: the same sections in the same order with the same keys in the
 * same order, and the same values except for volatile keys and counter sections.
 */
function assertSameInfo(got: Buffer, want: Buffer, label: string, compareValues = true): void {
  assert.equal(String.fromCharCode(got[0]!), String.fromCharCode(want[0]!), `${label}: reply type`);
  const a = parseInfoText(infoPayload(got));
  const b = parseInfoText(infoPayload(want));
  assert.deepEqual(
    a.map((s) => s.name),
    b.map((s) => s.name),
    `${label}: sections`,
  );
  for (const [i, section] of b.entries()) {
    if (VOLATILE_INFO_SECTIONS.has(section.name)) continue;
    const mine = a[i]!;
    assert.deepEqual(
      mine.fields.map(([k]) => k),
      section.fields.map(([k]) => k),
      `${label}: keys of # ${section.name}`,
    );
    if (!compareValues) continue;
    for (const [k, v] of section.fields) {
      if (VOLATILE_INFO_KEYS.has(k)) continue;
      assert.equal(mine.fields.find(([key]) => key === k)?.[1], v, `${label}: ${k}`);
    }
  }
}

/** The persona a fixture was recorded from: same line, mode and exact version. */
function personaFor(fx: Fixture): Persona {
  const [major, minor] = fx.version.split(".");
  const mode =
    fx.config === "requirepass" ? "password" : fx.config === "protected" ? "protected" : "open";
  const info = fx.probes.find((p) => p.probe === "info")!;
  const text = Buffer.from(info.reply_b64, "base64");
  const fields = new Map(
    text[0] === 0x24 ? parseInfoText(infoPayload(text)).flatMap((s) => s.fields) : [],
  );
  // The recording's install: /srv as dir, its executable path and kernel line.
  const opts: Parameters<typeof persona>[1] = { version: fx.version, dir: "/srv", configFile: "" };
  const executable = fields.get("executable");
  if (executable !== undefined) opts.executable = executable;
  const os = fields.get("os");
  if (os !== undefined) opts.os = os;
  return persona(`redis-${major}.${minor}-${mode}`, opts);
}

/** Client ids are the server's to give: the one the recording's HELLO shows, to pin it. */
function recordedClientId(fx: Fixture): number {
  const hello = Buffer.from(fx.probes.find((x) => x.probe === "hello3")!.reply_b64, "base64");
  return Number(/\$2\r\nid\r\n:(\d+)/.exec(hello.toString("latin1"))?.[1] ?? 3);
}

describe("replay: personas answer the recorded probes of real servers", () => {
  const all = fixtures();
  let matched = 0;
  after(() => {
    console.log(`replay: ${matched} probe replies matched over ${all.length} fixtures`);
  });
  for (const fx of all) {
    test(fx.file, async () => {
      const p = personaFor(fx);
      const id = recordedClientId(fx);
      const srv = await servePersona(p, { clientId: () => id });
      try {
        for (const probe of fx.probes) {
          const want = Buffer.from(probe.reply_b64, "base64");
          // Waits on events (the replies the recording has, or the close), not on a quiet
          // spell: a loaded machine may pause longer between a reply and the close.
          const got = await converse(srv, Buffer.from(probe.request_b64, "base64"), false, {
            replies: splitReplies(want).length,
            closes: probe.closed_by_server,
          });
          const label = `${fx.file} ${probe.probe}`;
          assert.equal(got.closed, probe.closed_by_server, `${label}: closed`);
          if (probe.probe.includes("info") && want[0] === 0x24)
            assertSameInfo(got.reply, want, label);
          else assert.equal(got.reply.toString("latin1"), want.toString("latin1"), label);
          matched++;
        }
      } finally {
        await srv.close();
      }
    });
  }
});

/** Run the scanner's probe module against a port, as the engine would. */
async function probe(port: number): Promise<ProbeResult> {
  const module = new RedisProbe({ maxReplyBytes: 1024 * 1024 });
  const target = { ip: "127.0.0.1", port, seq: 0 };
  const session = module.open(target);
  const t0 = Date.now();
  const outcome = await new Promise<TransportOutcome>((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let bytes = 0;
    let closedByPeer = false;
    let done = false;
    const finish = (readTimedOut: boolean): void => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve({
        transport: "tcp",
        closedByPeer,
        reset: false,
        readTimedOut,
        bytesReceived: bytes,
        elapsedMs: Date.now() - t0,
      });
    };
    const timer = setTimeout(() => finish(true), 2000);
    sock.on("connect", () => sock.write(session.request()));
    sock.on("data", (d: Buffer) => {
      bytes += d.length;
      if (session.onData(d) !== "more") {
        clearTimeout(timer);
        finish(false);
      }
    });
    sock.on("end", () => {
      closedByPeer = true;
      clearTimeout(timer);
      finish(false);
    });
    sock.on("error", () => finish(false));
  });
  return module.finish(target, session, outcome, false).result;
}

/** Is `version` inside a version-hint range like `6.0-7.0`, `>=7.2`, `2.8-4.0.10`? */
function inHint(version: string, hint: string): boolean {
  const parts = (v: string, fill: number): number[] => {
    const out = v.split(".").map((x) => (/^\d+$/.test(x) ? Number(x) : fill));
    while (out.length < 3) out.push(fill);
    return out;
  };
  const cmp = (a: number[], b: number[]): number => {
    for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
    return 0;
  };
  const v = parts(version, 0);
  const m = /^(?:>=(.+)|<=(.+)|(.+)-(.+)|(.+))$/.exec(hint)!;
  const lo = m[1] ?? m[3] ?? m[5];
  const hi = m[2] ?? m[4] ?? m[5];
  return (
    (lo === undefined || cmp(v, parts(lo, 0)) >= 0) &&
    (hi === undefined || cmp(v, parts(hi, Infinity)) <= 0)
  );
}

describe("identification: the scanner's probe reads each persona as what it claims", () => {
  for (const name of PERSONAS) {
    test(name, async () => {
      const p = persona(name);
      const srv = await servePersona(p);
      try {
        const r = await probe(srv.port);
        const product = p.product;
        if (p.auth === "open") {
          assert.equal(r.state, "open", JSON.stringify(r));
          assert.equal(r.server?.product, product);
          assert.equal(r.server?.version, p.version);
          if (p.era.valkey) assert.equal(r.server?.redis_version, "7.2.4");
        } else {
          assert.equal(
            r.state,
            p.auth === "password" ? "auth_required" : "protected",
            JSON.stringify(r),
          );
          const hint = r.server?.version_hint;
          assert.ok(hint !== undefined, `${name}: a version hint (${JSON.stringify(r)})`);
          // A Valkey with a password words everything before AUTH as Redis 7.2 does: the scan
          // can only date it in Redis terms. Its DENIED text names no Redis, so that one does.
          if (p.era.valkey && p.auth === "protected") assert.equal(r.server?.product, "valkey");
          else
            assert.ok(
              inHint(p.era.redisVersion, hint),
              `${name}: ${p.era.redisVersion} within ${hint}`,
            );
        }
      } finally {
        await srv.close();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Differential: the same suite against real redis-server 7.0 and the 7.0 personas.

type Mode =
  /** Byte for byte. */
  | "exact"
  /** An array whose element order is a hash table's: same elements, any order. */
  | "unordered"
  /** CONFIG GET of several parameters: same pairs, any order. */
  | "pairs"
  /** SCAN: same cursor, same keys in any order. */
  | "scan"
  /** HELLO: byte for byte once the client id (the server's counter) is masked. */
  | "hello"
  /** INFO: same sections and keys, values free (they are the server's state). */
  | "info"
  /** INFO keyspace: byte for byte but avg_ttl, which Redis estimates in its cron (timing). */
  | "keyspace"
  /** CLIENT LIST / INFO: the same fields in the same order, values free. */
  | "client-line"
  /** Only the reply type must agree. */
  | "type";

interface Step {
  cmd: Array<string | Buffer> | Buffer;
  /** Replies this request gets (SUBSCRIBE a b gets two). */
  replies?: number;
  mode?: Mode;
  /** Why a step is not compared byte for byte. */
  why?: string;
}

const step = (...cmd: Array<string | Buffer>): Step => ({ cmd });
const loose = (mode: Mode, why: string, ...cmd: Array<string | Buffer>): Step => ({
  cmd,
  mode,
  why,
});

const SHA_RETURN_1 = createHash("sha1").update("return 1").digest("hex");

/** The open-server suite: keyspace, errors, admin commands, scripting, pub/sub, RESP3. */
const OPEN_SUITE: Step[] = [
  step("PING"),
  step("PING", "hello"),
  step("PING", "a", "b"),
  step("ECHO", "hi"),
  step("ECHO"),
  step("SET", "k", "v"),
  step("GET", "k"),
  step("GET"),
  step("GET", "a", "b"),
  step("SET", "k", "v", "EX", "0"),
  step("SET", "k", "v", "EX", "abc"),
  step("SET", "k", "v", "NX", "XX"),
  step("SET", "k", "v", "BOGUS"),
  step("SET", "k", "v2", "NX"),
  step("SET", "k", "v2", "XX", "GET"),
  step("SET", "n", "10"),
  step("INCR", "n"),
  step("INCRBY", "n", "5"),
  step("DECR", "n"),
  step("DECRBY", "n", "20"),
  step("INCRBY", "n", "x"),
  step("INCR", "k"),
  step("INCRBYFLOAT", "f", "1.5"),
  step("INCRBYFLOAT", "f", "0.25"),
  step("INCRBYFLOAT", "f", "abc"),
  step("APPEND", "k", "zz"),
  step("STRLEN", "k"),
  step("GETRANGE", "k", "0", "1"),
  step("MSET", "a", "1", "b", "2"),
  step("MSET", "a"),
  step("MSET", "a", "1", "b"),
  step("MGET", "a", "b", "nope"),
  step("SETNX", "a", "x"),
  step("SETNX", "c", "x"),
  step("GETSET", "c", "y"),
  step("GETDEL", "c"),
  step("EXISTS", "a", "b", "nope", "a"),
  step("DEL", "a", "nope"),
  step("TYPE", "b"),
  step("TYPE", "nope"),
  step("DBSIZE"),
  loose("unordered", "KEYS lists the main dict in hash order", "KEYS", "*"),
  step("KEYS", "b*"),
  step("KEYS"),
  step("RENAME", "b", "bb"),
  step("RENAME", "nope", "x"),
  step("RENAMENX", "bb", "k"),
  step("EXPIRE", "bb", "100"),
  step("TTL", "bb"),
  loose("type", "PTTL counts milliseconds since the EXPIRE: timing, not behaviour", "PTTL", "bb"),
  step("PERSIST", "bb"),
  step("TTL", "bb"),
  step("TTL", "nope"),
  step("EXPIRE", "bb", "abc"),
  step("EXPIRE", "bb", "10", "NX"),
  step("EXPIRE", "bb", "20", "NX"),
  step("EXPIRE", "bb", "5", "GT"),
  step("EXPIRE", "bb", "30", "GT"),
  step("EXPIRE", "bb", "10", "FOO"),
  step("EXPIRE", "bb", "-1"),
  step("EXISTS", "bb"),
  step("SELECT", "16"),
  step("SELECT", "abc"),
  step("SELECT", "1"),
  step("SET", "onedb", "x"),
  step("DBSIZE"),
  step("SELECT", "0"),
  step("LPUSH", "l", "a", "b", "c"),
  step("RPUSH", "l", "d"),
  step("LRANGE", "l", "0", "-1"),
  step("LRANGE", "l", "0", "x"),
  step("LLEN", "l"),
  step("LINDEX", "l", "1"),
  step("LPOP", "l"),
  step("RPOP", "l"),
  step("LPOP", "l", "5"),
  step("LPOP", "l"),
  step("LPOP", "l", "2"),
  step("LPOP", "l", "-1"),
  step("LPUSH", "k", "x"),
  step("LPUSHX", "nolist", "x"),
  step("HSET", "h", "f", "v", "f2", "v2"),
  step("HSET", "h", "f"),
  step("HSET", "h", "f", "v", "x"),
  step("HGET", "h", "f"),
  step("HGETALL", "h"),
  step("HMSET", "h", "a", "b"),
  step("HMGET", "h", "a", "zz"),
  step("HDEL", "h", "f", "nope"),
  step("HLEN", "h"),
  step("HEXISTS", "h", "a"),
  step("HKEYS", "h"),
  step("HVALS", "h"),
  step("HINCRBY", "h", "n", "5"),
  step("HINCRBY", "h", "a", "1"),
  step("SADD", "si", "3", "1", "2"),
  step("SMEMBERS", "si"),
  step("SADD", "ss", "a", "b", "c", "a"),
  loose("unordered", "a hashtable-encoded set lists members in hash order", "SMEMBERS", "ss"),
  step("SREM", "ss", "a", "z"),
  step("SCARD", "ss"),
  step("SISMEMBER", "ss", "b"),
  step("SISMEMBER", "ss", "a"),
  step("GET", "h"),
  step("OBJECT", "ENCODING", "k"),
  step("MEMORY", "USAGE", "k"),
  step("MEMORY", "USAGE", "n"),
  step("MEMORY", "USAGE", "h"),
  step("MEMORY", "USAGE", "si"),
  step("MEMORY", "USAGE", "ss"),
  step("MEMORY", "USAGE", "nope"),
  step("OBJECT", "ENCODING", "n"),
  step("OBJECT", "ENCODING", "h"),
  step("OBJECT", "ENCODING", "si"),
  step("OBJECT", "ENCODING", "ss"),
  step("OBJECT", "ENCODING", "nolist"),
  step("OBJECT", "FOO"),
  step("OBJECT"),
  // Cluster commands on a server without cluster support.
  step("CLUSTER", "INFO"),
  step("CLUSTER", "NODES"),
  step("READONLY"),
  step("READWRITE"),
  step("ASKING"),
  step("CLUSTER"),
  // PUBSUB's introspection and 7.0's shard channels.
  step("PUBSUB", "CHANNELS"),
  step("PUBSUB", "CHANNELS", "a*"),
  step("PUBSUB", "CHANNELS", "a", "b"),
  step("PUBSUB", "NUMSUB", "a", "b"),
  step("PUBSUB", "NUMSUB"),
  step("PUBSUB", "NUMPAT"),
  step("PUBSUB", "NUMPAT", "x"),
  step("PUBSUB", "SHARDCHANNELS"),
  step("PUBSUB", "SHARDNUMSUB", "s"),
  step("PUBSUB", "NOSUCH"),
  step("PUBSUB"),
  step("SPUBLISH", "s", "hello"),
  step("CLIENT", "REPLY", "MAYBE"),
  // Inside MULTI a blocking command answers as its timeout would.
  step("MULTI"),
  step("BLPOP", "nolist", "0"),
  step("BZPOPMIN", "nozset", "0"),
  step("EXEC"),
  step("CLIENT", "GETREDIR"),
  step("CLIENT", "UNPAUSE"),
  step("CLIENT", "PAUSE", "abc"),
  step("CLIENT", "PAUSE", "-1"),
  step("CLIENT", "PAUSE", "0", "SOMETIMES"),
  step("CLIENT", "PAUSE", "0", "WRITE"),
  loose("scan", "SCAN walks the main dict in hash order", "SCAN", "0"),
  step("SCAN", "abc"),
  step("SCAN", "0", "COUNT", "0"),
  loose(
    "scan",
    "SCAN walks the main dict in hash order",
    "SCAN",
    "0",
    "MATCH",
    "s*",
    "COUNT",
    "100",
  ),
  step("CONFIG"),
  step("CONFIG", "FOO"),
  step("CONFIG", "GET"),
  step("CONFIG", "GET", "maxmemory"),
  step("CONFIG", "GET", "requirepass"),
  step("CONFIG", "GET", "protected-mode"),
  step("CONFIG", "GET", "dbfilename"),
  step("CONFIG", "GET", "nosuch"),
  loose(
    "pairs",
    "7.0 lists parameters in its config dict's hash order",
    "CONFIG",
    "GET",
    "maxmemory-policy",
    "timeout",
    "databases",
  ),
  step("CONFIG", "SET"),
  step("CONFIG", "SET", "dir", "/root/.ssh"),
  step("CONFIG", "SET", "dbfilename", "authorized_keys"),
  step("CONFIG", "SET", "dbfilename", "x/y"),
  step("CONFIG", "SET", "nosuch", "1"),
  step("CONFIG", "SET", "maxmemory", "abc"),
  step("CONFIG", "SET", "maxmemory", "100mb"),
  step("CONFIG", "GET", "maxmemory"),
  step("CONFIG", "SET", "maxmemory", "0"),
  step("CONFIG", "SET", "requirepass", "x", "y"),
  step("CONFIG", "SET", "daemonize", "yes"),
  step("CONFIG", "RESETSTAT"),
  step("CONFIG", "HELP"),
  step("MODULE"),
  step("MODULE", "LIST"),
  step("MODULE", "LOAD", "/tmp/exp.so"),
  step("MODULE", "UNLOAD", "system"),
  step("MODULE", "FOO"),
  step("DEBUG", "SEGFAULT"),
  step("DEBUG"),
  step("SLAVEOF"),
  step("SLAVEOF", "NO", "ONE"),
  step("REPLICAOF", "NO", "ONE"),
  step("SLAVEOF", "127.0.0.1", "notaport"),
  step("ROLE"),
  step("EVAL"),
  step("EVAL", "return 1", "0"),
  step("EVAL", "return 'x'", "0"),
  step("EVAL", "return {1,2,'a'}", "0"),
  step("EVAL", "return nil", "0"),
  step("EVAL", "return true", "0"),
  step("EVAL", "return false", "0"),
  step("EVAL", "return 1.5", "0"),
  step("EVAL", "return KEYS[1]", "1", "k"),
  step("EVAL", "return ARGV[2]", "0", "a", "b"),
  step("EVAL", "return 1", "2", "a"),
  step("EVAL", "return 1", "abc"),
  step("EVAL", "return 1", "-1"),
  step("EVAL", "os.execute('id')", "0"),
  step(
    "EVAL",
    "local io_l = package.loadlib('/usr/lib/x86_64-linux-gnu/liblua5.1.so.0', 'luaopen_io'); return 1",
    "0",
  ),
  step("SCRIPT", "LOAD", "return 1"),
  step("EVALSHA", SHA_RETURN_1, "0"),
  step("EVALSHA", "abc", "0"),
  step("SCRIPT", "EXISTS", SHA_RETURN_1, "abc"),
  step("SCRIPT", "FLUSH"),
  step("SCRIPT", "EXISTS", SHA_RETURN_1),
  step("SCRIPT", "FOO"),
  step("SCRIPT", "KILL"),
  step("SCRIPT"),
  step("PUBLISH", "ch", "msg"),
  step("PUBLISH", "ch"),
  loose("type", "the clock", "TIME"),
  loose("type", "the server's start or last save time", "LASTSAVE"),
  step("WAIT", "0", "0"),
  step("LATENCY", "LATEST"),
  step("LATENCY", "DOCTOR"),
  step("SLOWLOG", "GET"),
  step("SLOWLOG", "LEN"),
  step("SLOWLOG", "RESET"),
  step("ACL", "WHOAMI"),
  step("ACL", "USERS"),
  step("ACL", "LIST"),
  step("ACL", "FOO"),
  step("CLIENT", "GETNAME"),
  step("CLIENT", "SETNAME", "foo"),
  step("CLIENT", "SETNAME", "a b"),
  step("CLIENT", "GETNAME"),
  loose("type", "client ids count the server's connections", "CLIENT", "ID"),
  loose(
    "client-line",
    "ids, addresses, fds, ages and buffer sizes are the connection's",
    "CLIENT",
    "LIST",
  ),
  loose(
    "client-line",
    "ids, addresses, fds, ages and buffer sizes are the connection's",
    "CLIENT",
    "INFO",
  ),
  step("CLIENT", "KILL", "1.2.3.4:5"),
  step("CLIENT", "KILL", "ID", "999999"),
  step("CLIENT", "FOO"),
  step("CLIENT", "NO-EVICT", "on"),
  loose(
    "type",
    "COMMAND lists what the honeypot implements, not all 240 commands",
    "COMMAND",
    "COUNT",
  ),
  step("COMMAND", "FOO"),
  step("INFO", "nosuch"),
  loose("keyspace", "avg_ttl is Redis's estimate from its cron", "INFO", "keyspace"),
  loose(
    "info",
    "INFO values are the server's state (pids, memory, counters, paths)",
    "INFO",
    "server",
    "clients",
  ),
  loose("info", "INFO values are the server's state (pids, memory, counters, paths)", "INFO"),
  step("FLUSHALL", "FOO"),
  step("FLUSHDB"),
  step("DBSIZE"),
  step("RANDOMKEY"),
  step("SET", "r", "1"),
  step("RANDOMKEY"),
  step("SAVE"),
  step("BGSAVE"),
  step("FOOBAR"),
  step("FOOBAR", "a", "b c"),
  step("FOOBAR", "x".repeat(100), "y".repeat(100), "z"),
  step("FOOBAR", "line\r\nbreak"),
  step("HELLO", "4"),
  step("HELLO", "abc"),
  step("HELLO", "3", "FOO"),
  loose("hello", "the client id is the server's counter", "HELLO", "2"),
  step("AUTH", "wrong"),
  step("AUTH", "default", "x"),
  step("AUTH", "bob", "x"),
  step("AUTH", "a", "b", "c"),
  { cmd: ["SUBSCRIBE", "c1", "c2"], replies: 2 },
  step("PING"),
  step("PING", "x"),
  step("GET", "a"),
  step("PSUBSCRIBE", "p*"),
  { cmd: ["UNSUBSCRIBE", "c1", "c2"], replies: 2 },
  step("PUNSUBSCRIBE"),
  step("UNSUBSCRIBE"),
  step("RESET"),
  { cmd: Buffer.from("PING\r\n") },
  { cmd: Buffer.from("SET il 'a b'\r\n") },
  { cmd: Buffer.from("GET il\r\n") },
  { cmd: Buffer.from('ECHO "x\\ny"\r\n') },
  loose("hello", "the client id is the server's counter", "HELLO", "3"),
  step("GET", "nope"),
  step("HSET", "h3", "f", "v"),
  step("HGETALL", "h3"),
  step("SADD", "s3", "2", "1"),
  step("SMEMBERS", "s3"),
  step("CONFIG", "GET", "maxmemory"),
  step("LPOP", "nolist", "2"),
  loose("keyspace", "avg_ttl is Redis's estimate from its cron", "INFO", "keyspace"),
  step("EVAL", "return nil", "0"),
  step("SUBSCRIBE", "c"),
  step("GET", "nope"),
  step("UNSUBSCRIBE", "c"),
  step("QUIT"),
];

/** The password-server suite: what answers before authentication, then after it. */
const PASSWORD_SUITE: Step[] = [
  step("PING"),
  step("GET"),
  step("GET", "a"),
  step("GET", "a", "b"),
  step("FOOBAR"),
  step("FOOBAR", "x"),
  step("CONFIG"),
  step("CONFIG", "FOO"),
  step("CONFIG", "GET"),
  step("CONFIG", "GET", "dir"),
  step("CONFIG", "SET", "dir", "/tmp"),
  step("MODULE", "LOAD", "x"),
  step("DEBUG", "SEGFAULT"),
  step("HELLO"),
  step("HELLO", "3"),
  step("HELLO", "4"),
  step("HELLO", "abc"),
  step("HELLO", "3", "AUTH", "default", "wrong"),
  step("HELLO", "3", "SETNAME", "x"),
  step("AUTH"),
  step("AUTH", "a", "b", "c"),
  step("AUTH", "wrong"),
  step("AUTH", "default", "wrong"),
  step("AUTH", "bob", "wrong"),
  step("SUBSCRIBE", "a"),
  step("CLIENT", "ID"),
  step("SELECT", "1"),
  step("EVAL", "return 1", "0"),
  step("SLAVEOF", "NO", "ONE"),
  step("INFO"),
  step("RESET"),
  { cmd: Buffer.from("GET / HTTP/1.1\r\n") },
  step("AUTH", "s3cret"),
  step("PING"),
  step("CONFIG", "GET", "requirepass"),
  step("ACL", "LIST"),
  step("ACL", "WHOAMI"),
  step("RESET"),
  step("PING"),
  loose(
    "hello",
    "the client id is the server's counter",
    "HELLO",
    "3",
    "AUTH",
    "default",
    "s3cret",
  ),
  step("GET", "nope"),
  step("QUIT"),
];

/** Requests that end the connection, each on a connection of its own. */
const CLOSING: Array<{ label: string; bytes: Buffer; password?: boolean }> = [
  { label: "GET / HTTP/1.1 + Host:", bytes: Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n") },
  { label: "POST", bytes: Buffer.from("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") },
  { label: "invalid multibulk length", bytes: Buffer.from("*a\r\n") },
  { label: "expected $", bytes: Buffer.from("*1\r\nfoo\r\n") },
  { label: "invalid bulk length", bytes: Buffer.from("*1\r\n$x\r\n") },
  { label: "unbalanced quotes", bytes: Buffer.from('SET "a\r\n') },
  {
    label: "PING, then an invalid multibulk length in the same packet",
    bytes: Buffer.from("PING\r\n*a\r\n"),
  },
  { label: "QUIT, then an invalid multibulk length", bytes: Buffer.from("QUIT\r\n*a\r\n") },
  // Redis reads header numbers with string2ll (no leading zero, no '+', no "-0") and prints
  // the byte that is not '$' itself (CR and LF as spaces).
  { label: "multibulk count with a leading zero", bytes: Buffer.from("*01\r\n$4\r\nPING\r\n") },
  { label: "multibulk count -0", bytes: Buffer.from("*-0\r\n") },
  { label: "bulk length with a leading zero", bytes: Buffer.from("*1\r\n$04\r\nPING\r\n") },
  {
    label: "a control byte where '$' should be",
    bytes: Buffer.from("*1\r\n\x16abc\r\n", "latin1"),
  },
  { label: "CR where '$' should be", bytes: Buffer.from("*1\r\n\rabc\r\n") },
  // Headers end at their '\r' (strchr): "*1\n$4" is one header, an invalid count.
  { label: "a header ended by a bare LF", bytes: Buffer.from("*1\n$4\r\nPING\r\n") },
  { label: "an empty bulk header", bytes: Buffer.from("*1\r\n\r\n") },
  { label: "POST before AUTH", bytes: Buffer.from("POST / HTTP/1.1\r\n\r\n"), password: true },
  {
    label: "11 arguments before AUTH",
    bytes: encodeCommand(Array.from({ length: 11 }, () => "a")),
    password: true,
  },
  {
    label: "20000-byte bulk before AUTH",
    bytes: encodeCommand(["SET", "k", "x".repeat(20_000)]),
    password: true,
  },
];

function encodeStep(s: Step): Buffer {
  return Buffer.isBuffer(s.cmd) ? s.cmd : encodeCommand(s.cmd);
}

function describeStep(s: Step): string {
  const text = Buffer.isBuffer(s.cmd) ? s.cmd.toString("latin1") : s.cmd.map(String).join(" ");
  return JSON.stringify(text.length > 70 ? `${text.slice(0, 70)}…` : text);
}

/** Top-level RESP array elements as raw bytes. */
function elements(reply: Buffer): string[] {
  const text = reply.toString("latin1");
  const out: string[] = [];
  const lines = text.split("\r\n");
  for (let i = 1; i < lines.length - 1; i++) {
    const l = lines[i]!;
    if (l.startsWith("$")) {
      out.push(lines[++i]!);
    } else out.push(l);
  }
  return out;
}

function compareStep(s: Step, got: Buffer, want: Buffer): void {
  const label = describeStep(s);
  const mode = s.mode ?? "exact";
  const g = got.toString("latin1");
  const w = want.toString("latin1");
  switch (mode) {
    case "exact":
      assert.equal(g, w, label);
      return;
    case "type":
      assert.equal(g[0], w[0], `${label}: reply type (${g.slice(0, 40)} / ${w.slice(0, 40)})`);
      return;
    case "unordered":
      assert.equal(g.split("\r\n")[0], w.split("\r\n")[0], `${label}: length`);
      assert.deepEqual(elements(got).sort(), elements(want).sort(), label);
      return;
    case "pairs": {
      const pairs = (b: Buffer): string[] => {
        const e = elements(b);
        const out: string[] = [];
        for (let i = 0; i < e.length; i += 2) out.push(`${e[i]}=${e[i + 1]}`);
        return out.sort();
      };
      assert.deepEqual(pairs(got), pairs(want), label);
      return;
    }
    case "scan": {
      const cursor = (t: string): string => t.split("\r\n")[2]!;
      assert.equal(cursor(g), cursor(w), `${label}: cursor`);
      const keys = (b: Buffer): string[] =>
        elements(b.subarray(b.indexOf("\r\n", b.indexOf("\r\n") + 2) + 2 + 3)).sort();
      assert.deepEqual(keys(got), keys(want), label);
      return;
    }
    case "hello": {
      const mask = (t: string): string => t.replace(/(\$2\r\nid\r\n):\d+/, "$1:ID");
      assert.equal(mask(g), mask(w), label);
      return;
    }
    case "info":
      assertSameInfo(got, want, label, false);
      return;
    case "keyspace": {
      const mask = (b: Buffer): string => infoPayload(b).replace(/avg_ttl=\d+/g, "avg_ttl=N");
      assert.equal(mask(got), mask(want), label);
      return;
    }
    case "client-line": {
      const keys = (b: Buffer): string[] =>
        infoPayload(b)
          .trim()
          .split(" ")
          .map((kv) => kv.split("=")[0]!);
      assert.deepEqual(keys(got), keys(want), label);
      return;
    }
  }
}

/** Send every step on one connection; returns each step's reply bytes. */
async function runSuite(port: number, steps: Step[]): Promise<Buffer[]> {
  return sendAll(port, steps.map(encodeStep), {
    replies: (i) => steps[i]!.replies ?? 1,
    timeoutMs: 2000,
  });
}

const HAVE_REDIS =
  redisServerPath() !== undefined && (redisServerVersion() ?? "").startsWith("7.0");

describe("differential: redis-7.0 personas against Debian's redis-server 7.0", {
  skip: skipUnless(HAVE_REDIS, "redis-server 7.0 not installed"),
}, () => {
  const procs: RedisProcess[] = [];
  const servers: PersonaServer[] = [];
  let realOpen = 0;
  let realPassword = 0;
  let fakeOpen = 0;
  let fakePassword = 0;
  let compared = 0;

  before(async () => {
    const open = await startRedis({
      host: "127.0.0.1",
      port: await freePort(),
      config: ["protected-mode no"],
    });
    const pw = await startRedis({
      host: "127.0.0.1",
      port: await freePort(),
      config: ["requirepass s3cret"],
    });
    procs.push(open, pw);
    realOpen = open.port;
    realPassword = pw.port;
    const a = await servePersona(persona("redis-7.0-open"));
    const b = await servePersona(persona("redis-7.0-password", { acceptPassword: "s3cret" }));
    servers.push(a, b);
    fakeOpen = a.port;
    fakePassword = b.port;
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(procs.map((p) => p.stop()));
    const loose = [...OPEN_SUITE, ...PASSWORD_SUITE].filter((s) => s.why !== undefined);
    console.log(
      `differential: ${compared} replies compared with redis-server ${redisServerVersion()}`,
    );
    console.log(`differential: ${loose.length} not byte for byte, each for a reason:`);
    for (const s of loose) console.log(`  ${describeStep(s)} [${s.mode}] ${s.why}`);
  });

  test("CLIENT REPLY SKIP and OFF: the replies Redis leaves out", async () => {
    const wire = Buffer.concat(
      [
        ["CLIENT", "REPLY", "SKIP"],
        ["PING", "skipped"],
        ["PING", "after"],
        ["CLIENT", "REPLY", "OFF"],
        ["SET", "k-off", "v"],
        ["CLIENT", "REPLY", "ON"],
        ["GET", "k-off"],
      ].map((c) => encodeCommand(c)),
    );
    const replies = async (port: number): Promise<string> => {
      const c = await RespConnection.open(port);
      try {
        return (await c.send(wire, 3)).toString("latin1");
      } finally {
        c.close();
      }
    };
    const want = await replies(realOpen);
    assert.equal(want, "$5\r\nafter\r\n+OK\r\n$1\r\nv\r\n");
    assert.equal(await replies(fakeOpen), want);
  });

  const suite = (label: string, steps: Step[], real: () => number, fake: () => number) =>
    test(label, async () => {
      const want = await runSuite(real(), steps);
      const got = await runSuite(fake(), steps);
      const failures: string[] = [];
      for (const [i, s] of steps.entries()) {
        // A real server answers every step of these suites: an empty reply is a broken harness.
        assert.ok(want[i]!.length > 0, `${describeStep(s)}: the real server answered nothing`);
        try {
          compareStep(s, got[i]!, want[i]!);
          compared++;
        } catch (e) {
          failures.push((e as Error).message.split("\n").slice(0, 6).join("\n"));
        }
      }
      assert.deepEqual(failures, [], failures.join("\n\n"));
    });

  suite(
    `open server (${OPEN_SUITE.length} commands)`,
    OPEN_SUITE,
    () => realOpen,
    () => fakeOpen,
  );
  suite(
    `password server (${PASSWORD_SUITE.length} commands)`,
    PASSWORD_SUITE,
    () => realPassword,
    () => fakePassword,
  );

  test(`connections that end (${CLOSING.length} cases)`, async () => {
    for (const c of CLOSING) {
      const real = c.password ? realPassword : realOpen;
      const fake = c.password ? fakePassword : fakeOpen;
      const want = await exchange(real, c.bytes);
      const got = await exchange(fake, c.bytes);
      assert.equal(got.reply.toString("latin1"), want.reply.toString("latin1"), c.label);
      assert.equal(got.closed, want.closed, `${c.label}: closed`);
      compared++;
    }
  });
});

// ---------------------------------------------------------------------------------------------
// One byte at a time: the shipped server reads every request fed one byte per read as it reads
// it whole. Each byte is written once the server has read the one before (its onRead), so no
// two bytes share a read, whatever the machine's speed.

/** A request the server answers without closing is followed by this one, whose reply ends it. */
const SENTINEL = encodeCommand(["PING"]);

/**
 * `request` on a fresh connection to `srv`, whole or one byte per read, then (unless the
 * server is expected to close) the sentinel; returns the replies before the sentinel's and
 * whether the server closed. Waits on events only: reads, replies, the close.
 */
async function converse(
  srv: PersonaServer,
  request: Buffer,
  bytewise: boolean,
  expect: { replies: number; closes: boolean },
): Promise<{ reply: Buffer; closed: boolean }> {
  const sock = net.connect({ host: "127.0.0.1", port: srv.port });
  const framer = new ReplyFramer();
  const replies: Buffer[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  const closedOrRead = (total: number): Promise<void> =>
    closed ? Promise.resolve() : Promise.race([srv.read(total), until(() => closed)]);
  const until = (done: () => boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (done()) resolve();
        else wake = check;
      };
      check();
    });
  sock.on("data", (d: Buffer) => {
    replies.push(...framer.push(d));
    wake?.();
  });
  sock.on("close", () => {
    closed = true;
    wake?.();
  });
  sock.on("error", () => {});
  await new Promise<void>((resolve) => sock.once("connect", () => resolve()));
  const write = (bytes: Buffer): Promise<void> =>
    new Promise<void>((resolve) => {
      if (closed || sock.destroyed) resolve();
      else sock.write(bytes, () => resolve());
    });
  const base = srv.bytesRead;
  if (bytewise) {
    for (let i = 0; i < request.length && !closed; i++) {
      await write(request.subarray(i, i + 1));
      await closedOrRead(base + i + 1);
    }
  } else {
    await write(request);
    await closedOrRead(base + request.length);
  }
  if (expect.closes) await until(() => closed);
  else {
    await write(SENTINEL);
    await until(() => closed || replies.length >= expect.replies + 1);
  }
  sock.destroy();
  const before = expect.closes ? replies : replies.slice(0, -1);
  return { reply: Buffer.concat([...before, ...(expect.closes ? [framer.rest] : [])]), closed };
}

/**
 * What one byte per read must answer where Redis itself answers differently: an HTTP request
 * on a 6.0+ server, which in one read closes at `Host:` before GET's error is written, but one
 * byte at a time has written GET's error already when `Host:` arrives.
 */
function bytewiseReply(request: Buffer, whole: Buffer): Buffer {
  if (whole.length === 0 && request.includes("\r\nHost:")) {
    return Buffer.from("-ERR wrong number of arguments for 'get' command\r\n");
  }
  return whole;
}

describe("one byte at a time: the shipped server answers as to the whole request", () => {
  for (const fx of fixtures()) {
    test(fx.file, { timeout: 60_000 }, async () => {
      const srv = await servePersona(personaFor(fx), { clientId: () => recordedClientId(fx) });
      try {
        for (const probe of fx.probes) {
          const request = Buffer.from(probe.request_b64, "base64");
          const want = Buffer.from(probe.reply_b64, "base64");
          const label = `${fx.file} ${probe.probe}`;
          const expect = { replies: splitReplies(want).length, closes: probe.closed_by_server };
          const whole = await converse(srv, request, false, expect);
          const one = await converse(srv, request, true, expect);
          assert.equal(whole.closed, probe.closed_by_server, `${label}: closed`);
          assert.equal(one.closed, probe.closed_by_server, `${label}: closed, byte by byte`);
          if (probe.probe.includes("info") && want[0] === 0x24) {
            assertSameInfo(whole.reply, want, label);
            assertSameInfo(one.reply, want, `${label}, byte by byte`);
            assertSameInfo(one.reply, whole.reply, `${label}, byte by byte against whole`);
          } else {
            assert.equal(whole.reply.toString("latin1"), want.toString("latin1"), label);
            assert.equal(
              one.reply.toString("latin1"),
              bytewiseReply(request, want).toString("latin1"),
              `${label}, byte by byte`,
            );
          }
        }
      } finally {
        await srv.close();
      }
    });
  }

  test(`requests that end the connection (${CLOSING.length} cases)`, {
    timeout: 60_000,
  }, async () => {
    const open = await servePersona(persona("redis-7.0-open"));
    const pw = await servePersona(persona("redis-7.0-password", { acceptPassword: "s3cret" }));
    try {
      for (const c of CLOSING) {
        const srv = c.password ? pw : open;
        const expect = { replies: 0, closes: true };
        const whole = await converse(srv, c.bytes, false, expect);
        const one = await converse(srv, c.bytes, true, expect);
        assert.ok(whole.closed && one.closed, `${c.label}: closed`);
        assert.equal(
          one.reply.toString("latin1"),
          bytewiseReply(c.bytes, whole.reply).toString("latin1"),
          c.label,
        );
      }
    } finally {
      await open.close();
      await pw.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Clients: redis-cli against every persona.

function redisCli(args: string[], stdin?: string): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = execFile("redis-cli", args, { timeout: 10_000 }, (error, stdout, stderr) => {
      resolve({
        out: `${stdout}${stderr}`,
        code: error ? ((error as { code?: number }).code ?? 1) : 0,
      });
    });
    child.stdin?.end(stdin ?? "");
  });
}

const HAVE_CLI = spawnSync("sh", ["-c", "command -v redis-cli"]).status === 0;

describe("clients: redis-cli talks to every persona", {
  skip: skipUnless(HAVE_CLI, "redis-cli not installed"),
}, () => {
  for (const name of PERSONAS) {
    test(name, async () => {
      const p = persona(name, name.endsWith("-password") ? { acceptPassword: "pw" } : {});
      const srv = await servePersona(p);
      try {
        const base = ["-h", "127.0.0.1", "-p", String(srv.port)];
        if (p.auth === "protected") {
          const r = await redisCli([...base, "PING"]);
          assert.match(r.out, /DENIED/, r.out);
          return;
        }
        const auth = p.auth === "password" ? ["--no-auth-warning", "-a", "pw"] : [];
        const resp3 = p.era.acl ? ["-3"] : [];
        const ping = await redisCli([...base, ...auth, ...resp3, "PING"]);
        assert.equal(ping.out.trim(), "PONG", ping.out);
        // One connection, several commands: the session's keyspace keeps the SET for the GET.
        const r = await redisCli([...base, ...auth, ...resp3], "SET k v\nGET k\nINFO server\n");
        const lines = r.out.split("\n");
        assert.equal(lines[0], "OK", r.out);
        assert.equal(lines[1], "v", r.out);
        const versionKey = p.era.valkey ? "valkey_version" : "redis_version";
        assert.ok(r.out.includes(`${versionKey}:${p.version}`), r.out);
      } finally {
        await srv.close();
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Behaviour by version era, through a socket.

/** One connection to a fresh persona server; `run` sends commands and returns reply text. */
async function withPersona(
  p: Persona,
  fn: (send: (...args: string[]) => Promise<string>, srv: PersonaServer) => Promise<void>,
  opts: Parameters<typeof servePersona>[1] = {},
): Promise<void> {
  const srv = await servePersona(p, opts);
  const conn = await RespConnection.open(srv.port);
  try {
    await fn(async (...args) => (await conn.send(encodeCommand(args))).toString("latin1"), srv);
  } finally {
    conn.close();
    await srv.close();
  }
}

describe("eras: what changed between versions", () => {
  test("unknown command wording: 2.8 / 4.0.10 / 4.0.11+ / 7.x / 8.x / Valkey", async () => {
    const cases: Array<[string, string, string, string]> = [
      [
        "redis-2.8-open",
        "2.8.24",
        "-ERR unknown command 'FOOBAR'\r\n",
        "-ERR unknown command 'FOOBAR'\r\n",
      ],
      [
        "redis-4.0-open",
        "4.0.10",
        "-ERR unknown command 'FOOBAR'\r\n",
        "-ERR unknown command 'FOOBAR'\r\n",
      ],
      [
        "redis-4.0-open",
        "4.0.14",
        "-ERR unknown command `FOOBAR`, with args beginning with: `a`, `b c`, \r\n",
        "-ERR unknown command `FOOBAR`, with args beginning with: \r\n",
      ],
      [
        "redis-7.2-open",
        "7.2.4",
        "-ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b c' \r\n",
        "-ERR unknown command 'FOOBAR', with args beginning with: \r\n",
      ],
      [
        "redis-8.2-open",
        "8.2.1",
        "-ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b c' \r\n",
        "-ERR unknown command 'FOOBAR'\r\n",
      ],
      [
        "valkey-8-open",
        "8.1.3",
        "-ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b c' \r\n",
        "-ERR unknown command 'FOOBAR', with args beginning with: \r\n",
      ],
    ];
    for (const [name, version, withArgs, bare] of cases) {
      await withPersona(persona(name, { version }), async (send) => {
        assert.equal(await send("FOOBAR", "a", "b c"), withArgs, `${name} ${version}`);
        assert.equal(await send("FOOBAR"), bare, `${name} ${version}`);
      });
    }
  });

  test("HELLO: unknown before 6.0, needs a version on 6.0, RESP3 replies after HELLO 3", async () => {
    await withPersona(persona("redis-5.0-open"), async (send) => {
      assert.equal(
        await send("HELLO", "3"),
        "-ERR unknown command `HELLO`, with args beginning with: `3`, \r\n",
      );
    });
    await withPersona(persona("redis-6.0-open"), async (send) => {
      assert.equal(await send("HELLO"), "-ERR wrong number of arguments for 'hello' command\r\n");
      assert.match(
        await send("HELLO", "3"),
        /^%7\r\n\$6\r\nserver\r\n\$5\r\nredis\r\n\$7\r\nversion\r\n\$6\r\n6\.0\.20\r\n/,
      );
      assert.equal(await send("GET", "nope"), "_\r\n");
      assert.match(await send("INFO", "server"), /^=\d+\r\ntxt:# Server\r\n/);
      assert.equal(await send("HELLO", "4"), "-NOPROTO unsupported protocol version\r\n");
    });
    await withPersona(persona("valkey-8-open"), async (send) => {
      assert.match(
        await send("HELLO"),
        /^\*14\r\n\$6\r\nserver\r\n\$6\r\nvalkey\r\n\$7\r\nversion\r\n\$5\r\n8\.1\.3\r\n/,
      );
    });
  });

  test("AUTH: texts per era, acceptPassword, and what is recorded", async () => {
    const cases: Array<[string, string, string]> = [
      ["redis-3.2-open", "AUTH x", "-ERR Client sent AUTH, but no password is set\r\n"],
      ["redis-3.2-password", "AUTH x", "-ERR invalid password\r\n"],
      ["redis-6.0-password", "AUTH x", "-WRONGPASS invalid username-password pair\r\n"],
      [
        "redis-7.4-password",
        "AUTH x",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
      ],
      [
        "redis-7.4-open",
        "AUTH x",
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
      ],
      [
        "redis-5.0-password",
        "AUTH default x",
        "-ERR wrong number of arguments for 'auth' command\r\n",
      ],
    ];
    for (const [name, cmd, want] of cases) {
      await withPersona(persona(name), async (send) => {
        assert.equal(await send(...cmd.split(" ")), want, `${name} ${cmd}`);
      });
    }
    await withPersona(
      persona("redis-6.2-password", { acceptPassword: "foobared" }),
      async (send, srv) => {
        assert.equal(await send("GET", "k"), "-NOAUTH Authentication required.\r\n");
        assert.equal(
          await send("AUTH", "guess"),
          "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        );
        assert.equal(await send("AUTH", "foobared"), "+OK\r\n");
        assert.equal(await send("GET", "k"), "$-1\r\n");
        const session = srv.sessions[0]!;
        assert.equal(session.state.authenticated, true);
      },
    );
    // The effect a recorder gets: the password tried and whether it worked.
    const p = persona("redis-5.0-password", { acceptPassword: "pw" });
    const s = new Session(p, {
      clientId: 1,
      peer: { ip: "127.0.0.1", port: 1 },
      listenerPort: 6379,
    });
    assert.deepEqual(s.command([Buffer.from("AUTH"), Buffer.from("123456")], false).effect, {
      kind: "auth",
      password: "123456",
      ok: false,
    });
    assert.deepEqual(s.command([Buffer.from("AUTH"), Buffer.from("pw")], false).effect, {
      kind: "auth",
      password: "pw",
      ok: true,
    });
  });

  test("file write chain: CONFIG SET dir/dbfilename + SAVE on 5.0, refused on 7.x", async () => {
    const effects: unknown[] = [];
    const p = persona("redis-5.0-open");
    const s = new Session(p, {
      clientId: 1,
      peer: { ip: "127.0.0.1", port: 1 },
      listenerPort: 6379,
    });
    const run = (...args: string[]): string => {
      const r = s.command(
        args.map((a) => Buffer.from(a)),
        false,
      );
      if (r.effect) effects.push(r.effect);
      return r.reply?.toString("latin1") ?? "";
    };
    assert.equal(run("FLUSHALL"), "+OK\r\n");
    assert.equal(run("SET", "x", "\n\nssh-rsa AAAA attacker\n\n"), "+OK\r\n");
    assert.equal(
      run("CONFIG", "SET", "dir", "/nonexistent/dir"),
      "-ERR Changing directory: No such file or directory\r\n",
    );
    assert.equal(run("CONFIG", "SET", "dir", "/root/.ssh/"), "+OK\r\n");
    assert.equal(run("CONFIG", "GET", "dir"), "*2\r\n$3\r\ndir\r\n$10\r\n/root/.ssh\r\n");
    assert.equal(
      run("CONFIG", "SET", "dbfilename", "../x"),
      "-ERR dbfilename can't be a path, just a filename\r\n",
    );
    assert.equal(run("CONFIG", "SET", "dbfilename", "authorized_keys"), "+OK\r\n");
    assert.equal(run("SAVE"), "+OK\r\n");
    assert.deepEqual(effects, [
      { kind: "flush", keys: 0 },
      { kind: "config_set", key: "dir", value: "/root/.ssh" },
      { kind: "config_set", key: "dbfilename", value: "authorized_keys" },
      { kind: "save", dir: "/root/.ssh", dbfilename: "authorized_keys" },
    ]);
    for (const name of ["redis-7.2-open", "redis-8.2-open", "valkey-8-open"]) {
      await withPersona(persona(name), async (send) => {
        assert.equal(
          await send("CONFIG", "SET", "dir", "/var/spool/cron"),
          "-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n",
        );
      });
    }
    await withPersona(persona("redis-6.2-open"), async (send) => {
      assert.equal(
        await send("CONFIG", "SET", "dbfilename", "/tmp/x"),
        "-ERR Invalid argument '/tmp/x' for CONFIG SET 'dbfilename' - dbfilename can't be a path, just a filename\r\n",
      );
    });
  });

  test("rogue master chain: SLAVEOF, MODULE LOAD, SLAVEOF NO ONE", async () => {
    const p = persona("redis-5.0-open");
    const s = new Session(p, {
      clientId: 1,
      peer: { ip: "127.0.0.1", port: 1 },
      listenerPort: 6379,
    });
    const run = (...args: string[]) =>
      s.command(
        args.map((a) => Buffer.from(a)),
        false,
      );
    const slave = run("SLAVEOF", "198.51.100.7", "21000");
    assert.equal(slave.reply?.toString(), "+OK\r\n");
    // psync2: a 4.0+ replica announces `capa psync2` in its handshake (the link follows it).
    assert.deepEqual(slave.effect, {
      kind: "replicaof",
      host: "198.51.100.7",
      port: 21000,
      psync2: true,
    });
    const info = run("INFO", "replication").reply!.toString("latin1");
    assert.match(
      info,
      /role:slave\r\nmaster_host:198\.51\.100\.7\r\nmaster_port:21000\r\nmaster_link_status:down\r\n/,
    );
    assert.equal(
      run("ROLE").reply?.toString(),
      "*5\r\n$5\r\nslave\r\n$12\r\n198.51.100.7\r\n:21000\r\n$7\r\nconnect\r\n:-1\r\n",
    );
    assert.equal(
      run("SET", "a", "b").reply?.toString(),
      "-READONLY You can't write against a read only replica.\r\n",
    );
    const load = run("MODULE", "LOAD", "./exp.so");
    assert.equal(
      load.reply?.toString(),
      "-ERR Error loading the extension. Please check the server logs.\r\n",
    );
    assert.deepEqual(load.effect, { kind: "module_load", path: "./exp.so" });
    assert.deepEqual(run("SLAVEOF", "NO", "ONE").effect, {
      kind: "replicaof",
      host: "NO ONE",
      port: 0,
    });
    assert.match(run("INFO", "replication").reply!.toString("latin1"), /role:master/);
    // MODULE did not exist before 4.0; 7.x refuses it (and still records the path).
    const old = new Session(persona("redis-3.2-open"), {
      clientId: 1,
      peer: { ip: "127.0.0.1", port: 1 },
      listenerPort: 6379,
    });
    assert.equal(
      old
        .command([Buffer.from("MODULE"), Buffer.from("LOAD"), Buffer.from("/tmp/x.so")], false)
        .reply?.toString(),
      "-ERR unknown command 'MODULE'\r\n",
    );
    const gated = new Session(persona("redis-7.4-open"), {
      clientId: 1,
      peer: { ip: "127.0.0.1", port: 1 },
      listenerPort: 6379,
    });
    const r = gated.command(
      [Buffer.from("MODULE"), Buffer.from("LOAD"), Buffer.from("/tmp/x.so")],
      false,
    );
    assert.match(r.reply!.toString(), /^-ERR MODULE command not allowed\./);
    assert.deepEqual(r.effect, { kind: "module_load", path: "/tmp/x.so" });
  });

  test("EVAL: literal returns, the sandbox's missing globals, SCRIPT LOAD's SHA1", async () => {
    const body = "return 'hello'";
    const sha = createHash("sha1").update(body).digest("hex");
    await withPersona(persona("redis-6.2-open"), async (send) => {
      assert.equal(await send("EVAL", body, "0"), "$5\r\nhello\r\n");
      assert.equal(await send("SCRIPT", "LOAD", body), `$40\r\n${sha}\r\n`);
      assert.equal(await send("EVALSHA", sha, "0"), "$5\r\nhello\r\n");
      const exploit =
        'local io_l = package.loadlib("/usr/lib/x86_64-linux-gnu/liblua5.1.so.0", "luaopen_io"); return 1';
      const digest = createHash("sha1").update(exploit).digest("hex");
      // As a 6.2.16 build answers (6.2.7+ protects globals from C; 6.0+ trims the newline).
      assert.equal(
        await send("EVAL", exploit, "0"),
        `-ERR Error running script (call to f_${digest}): @user_script:1: user_script:1: Script attempted to access nonexistent global variable 'package'\r\n`,
      );
    });
  });

  test("HTTP on the Redis port: 2.8 answers each line, 3.2.7+ closes at Host:", async () => {
    const request = Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const cases: Array<[string, string, string, boolean]> = [
      [
        "redis-2.8-open",
        "2.8.24",
        "-ERR wrong number of arguments for 'get' command\r\n-ERR unknown command 'Host:'\r\n",
        false,
      ],
      [
        "redis-3.2-open",
        "3.2.6",
        "-ERR wrong number of arguments for 'get' command\r\n-ERR unknown command 'Host:'\r\n",
        false,
      ],
      ["redis-3.2-open", "3.2.12", "-ERR wrong number of arguments for 'get' command\r\n", true],
      ["redis-6.2-open", "6.2.16", "", true],
      [
        "redis-6.2-password",
        "6.2.16",
        "-ERR wrong number of arguments for 'get' command\r\n-NOAUTH Authentication required.\r\n",
        false,
      ],
      ["redis-7.0-password", "7.0.15", "", true],
    ];
    for (const [name, version, want, closed] of cases) {
      const srv = await servePersona(persona(name, { version }));
      try {
        const got = await exchange(srv.port, request);
        assert.equal(got.reply.toString("latin1"), want, `${name} ${version}`);
        assert.equal(got.closed, closed, `${name} ${version} closed`);
      } finally {
        await srv.close();
      }
    }
  });

  test("INFO: sections per era, Valkey and 8.x fields, one section only before 7.0", async () => {
    await withPersona(persona("redis-5.0-open"), async (send) => {
      assert.equal(await send("INFO", "server", "clients"), "-ERR syntax error\r\n");
      assert.equal(await send("INFO", "nosuch"), "$0\r\n\r\n");
    });
    await withPersona(persona("redis-7.0-open"), async (send) => {
      const text = await send("INFO", "server", "clients");
      assert.deepEqual(
        parseInfoText(infoPayload(Buffer.from(text, "latin1"))).map((s) => s.name),
        ["Server", "Clients"],
      );
      const all = parseInfoText(infoPayload(Buffer.from(await send("INFO", "all"), "latin1"))).map(
        (s) => s.name,
      );
      // As a real 7.0.15 lists them for INFO all.
      assert.deepEqual(all, [
        "Server",
        "Clients",
        "Memory",
        "Persistence",
        "Stats",
        "Replication",
        "CPU",
        "Modules",
        "Commandstats",
        "Errorstats",
        "Latencystats",
        "Cluster",
        "Keyspace",
      ]);
    });
    await withPersona(persona("valkey-8-open"), async (send) => {
      const fields = new Map(
        parseInfoText(infoPayload(Buffer.from(await send("INFO"), "latin1"))).flatMap(
          (s) => s.fields,
        ),
      );
      assert.equal(fields.get("server_name"), "valkey");
      assert.equal(fields.get("valkey_version"), "8.1.3");
      assert.equal(fields.get("redis_version"), "7.2.4");
      assert.equal(fields.get("server_mode"), "standalone");
      assert.equal(fields.has("redis_mode"), false);
    });
    await withPersona(persona("redis-8.2-open"), async (send) => {
      const sections = parseInfoText(infoPayload(Buffer.from(await send("INFO"), "latin1"))).map(
        (s) => s.name,
      );
      assert.ok(sections.includes("Threads") && sections.at(-1) === "Keysizes", sections.join());
    });
  });

  test("INFO is alive: per-instance identity, uptime, clients, connections, keyspace, memory", async () => {
    let clock = Date.parse("2026-01-01T00:00:00Z");
    const now = (): number => clock;
    const a = persona("redis-7.0-open", { now });
    const b = persona("redis-7.0-open", { now });
    const fields = (text: string): Map<string, string> =>
      new Map(parseInfoText(infoPayload(Buffer.from(text, "latin1"))).flatMap((s) => s.fields));
    // The sessions read the test's clock, which it moves.
    const srv = await servePersona(a, { personaClock: true });
    const other = await servePersona(b, { personaClock: true });
    const c1 = await RespConnection.open(srv.port);
    const c2 = await RespConnection.open(srv.port);
    const c3 = await RespConnection.open(other.port);
    try {
      const info = async (c: RespConnection): Promise<Map<string, string>> =>
        fields((await c.send(encodeCommand(["INFO"]))).toString("latin1"));
      const first = await info(c1);
      const elsewhere = await info(c3);
      assert.notEqual(first.get("run_id"), elsewhere.get("run_id"));
      assert.match(first.get("run_id")!, /^[0-9a-f]{40}$/);
      assert.equal(first.get("tcp_port"), String(srv.port));
      assert.equal(first.get("connected_clients"), "2");
      assert.ok(Number(first.get("uptime_in_seconds")) >= 3 * 3600);
      clock += 90_000;
      await c1.send(encodeCommand(["SET", "k", "x".repeat(5000)]));
      await c1.send(encodeCommand(["EXPIRE", "k", "100"]));
      const later = await info(c1);
      assert.equal(
        Number(later.get("uptime_in_seconds")),
        Number(first.get("uptime_in_seconds")) + 90,
      );
      assert.equal(later.get("db0"), "keys=1,expires=1,avg_ttl=100000");
      assert.ok(Number(later.get("used_memory")) > Number(first.get("used_memory")));
      assert.ok(
        Number(later.get("total_commands_processed")) >
          Number(first.get("total_commands_processed")),
      );
      // The source's other connection sees the same server; another source (another loopback
      // /24) and another listener see neither its keys nor its changes.
      assert.equal((await c2.send(encodeCommand(["DBSIZE"]))).toString(), ":1\r\n");
      assert.equal((await c3.send(encodeCommand(["DBSIZE"]))).toString(), ":0\r\n");
      const stranger = await RespConnection.open(srv.port, "127.0.0.1", "127.0.1.1");
      assert.equal((await stranger.send(encodeCommand(["DBSIZE"]))).toString(), ":0\r\n");
      stranger.close();
      const before = Number(later.get("total_connections_received"));
      c2.close();
      await new Promise((r) => setTimeout(r, 50));
      const c4 = await RespConnection.open(srv.port);
      const after4 = await info(c4);
      // The stranger's connection was counted too.
      assert.equal(Number(after4.get("total_connections_received")), before + 2);
      assert.equal(after4.get("connected_clients"), "2");
      // Client ids follow the connection count as a real server's do (7.0.15: the n-th
      // connection gets id n + 2).
      assert.equal(
        (await c4.send(encodeCommand(["CLIENT", "ID"]))).toString(),
        `:${Number(after4.get("total_connections_received")) + 2}\r\n`,
      );
      c4.close();
    } finally {
      c1.close();
      c3.close();
      await srv.close();
      await other.close();
    }
  });

  test("protocol errors: Redis's own words in every era, then the connection closes", async () => {
    for (const name of ["redis-2.8-open", "redis-5.0-open", "redis-7.4-open", "valkey-8-open"]) {
      const srv = await servePersona(persona(name));
      try {
        for (const [request, text] of [
          ["*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'"],
          ["*a\r\n", "Protocol error: invalid multibulk length"],
          ["*1\r\n$x\r\n", "Protocol error: invalid bulk length"],
          ['SET "a\r\n', "Protocol error: unbalanced quotes in request"],
        ] as const) {
          const got = await exchange(srv.port, Buffer.from(request));
          assert.equal(got.reply.toString("latin1"), `-ERR ${text}\r\n`, `${name} ${request}`);
          assert.ok(got.closed, `${name} ${request}: closed`);
        }
      } finally {
        await srv.close();
      }
    }
  });

  test("pub/sub: RESP2 subscribe mode and RESP3 pushes", async () => {
    await withPersona(persona("redis-6.2-open"), async (send) => {
      assert.equal(
        await send("SUBSCRIBE", "news"),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
      );
      assert.equal(await send("PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
      assert.equal(
        await send("GET", "k"),
        "-ERR Can't execute 'get': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
      );
    });
    await withPersona(persona("redis-7.4-open"), async (send) => {
      await send("HELLO", "3");
      assert.equal(
        await send("SUBSCRIBE", "news"),
        ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
      );
      assert.equal(await send("PING"), "+PONG\r\n");
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Bounds.

describe("bounds: a session's memory is capped however it is flooded", () => {
  test("the keyspace stops at its key cap with the era's OOM error", async () => {
    await withPersona(
      persona("redis-7.0-open"),
      async (send) => {
        for (let i = 0; i < 100; i++) assert.equal(await send("SET", `k${i}`, "v"), "+OK\r\n");
        const oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
        assert.equal(await send("SET", "one-more", "v"), oom);
        assert.equal(await send("DBSIZE"), ":100\r\n");
        // Overwriting an existing key still works; deleting makes room again.
        assert.equal(await send("SET", "k1", "w"), "+OK\r\n");
        assert.equal(await send("DEL", "k2"), ":1\r\n");
        assert.equal(await send("SET", "one-more", "v"), "+OK\r\n");
      },
      { limits: { maxKeys: 100 } },
    );
  });

  test("the keyspace stops at its byte cap: a big value, an APPEND loop, a list", async () => {
    await withPersona(
      persona("redis-6.2-open"),
      async (send) => {
        const oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
        assert.equal(await send("SET", "big", "x".repeat(70_000)), oom);
        let appended = 0;
        for (let i = 0; i < 100; i++) {
          const r = await send("APPEND", "a", "y".repeat(4096));
          if (r === oom) break;
          appended++;
        }
        assert.ok(appended > 5 && appended < 16, `appended ${appended} times`);
        assert.equal(await send("RPUSH", "l", "z".repeat(4096)), oom);
        assert.equal(await send("GET", "missing"), "$-1\r\n");
      },
      { limits: { maxBytes: 64 * 1024 } },
    );
  });

  test("10,000 arguments before AUTH: protocol error and close on 6.2.6+, not before", async () => {
    const big = encodeCommand(Array.from({ length: 10_000 }, () => "a"));
    const cases: Array<[string, string | undefined, RegExp, boolean]> = [
      [
        "redis-6.2-password",
        undefined,
        /^-ERR Protocol error: unauthenticated multibulk length\r\n$/,
        true,
      ],
      [
        "redis-7.4-password",
        undefined,
        /^-ERR Protocol error: unauthenticated multibulk length\r\n$/,
        true,
      ],
      [
        "redis-6.2-password",
        "6.2.5",
        /^-ERR unknown command `a`, with args beginning with: /,
        false,
      ],
      ["redis-7.0-open", undefined, /^-ERR unknown command 'a', with args beginning with: /, false],
    ];
    for (const [name, version, want, closed] of cases) {
      const srv = await servePersona(persona(name, version === undefined ? {} : { version }));
      try {
        const got = await exchange(srv.port, big);
        assert.match(got.reply.toString("latin1"), want, `${name} ${version ?? ""}`);
        assert.equal(got.closed, closed, `${name} ${version ?? ""} closed`);
      } finally {
        await srv.close();
      }
    }
  });

  test("too many arguments for the session: invalid multibulk length and close", async () => {
    const srv = await servePersona(persona("redis-7.0-open"), { limits: { maxArgs: 1000 } });
    try {
      const got = await exchange(
        srv.port,
        encodeCommand(["DEL", ...Array.from({ length: 2000 }, (_, i) => `k${i}`)]),
      );
      assert.equal(got.reply.toString(), "-ERR Protocol error: invalid multibulk length\r\n");
      assert.equal(got.closed, true);
    } finally {
      await srv.close();
    }
  });

  test("replies stay bounded: KEYS over a full keyspace is at most the cap", async () => {
    await withPersona(
      persona("redis-7.0-open"),
      async (send) => {
        for (let i = 0; i < 300; i++) await send("SET", `key:${i}`, "v");
        const keys = await send("KEYS", "*");
        assert.ok(keys.startsWith("*200\r\n"), keys.slice(0, 20));
      },
      { limits: { maxKeys: 200 } },
    );
  });
});
