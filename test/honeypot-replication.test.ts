/**
 * Replication's data side, against real servers: DUMP's bytes are a real redis-server 7.0's
 * for the same values, RESTORE takes a real server's payloads, and what a persona sends a
 * visitor's SYNC/PSYNC is an RDB that redis-check-rdb accepts and a real replica loads.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { persona } from "../src/honeypot/personas/index.js";
import { crc64, lzfCompress, lzfDecompress } from "../src/honeypot/rdb.js";
import {
  type RedisProcess,
  redisServerPath,
  redisServerVersion,
  startRedis,
} from "../src/lab/redis.js";
import { encodeCommand } from "../src/resp/index.js";
import { type PersonaServer, RespConnection, servePersona } from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

const requireAll = process.env.CI === "true";
function skipUnless(ok: boolean, why: string): string | false {
  if (ok) return false;
  if (requireAll) throw new Error(`replication test prerequisite missing in CI: ${why}`);
  return why;
}
const HAVE_REDIS =
  redisServerPath() !== undefined && (redisServerVersion() ?? "").startsWith("7.0");

const cmd = (...args: Array<string | Buffer>): Buffer =>
  encodeCommand(args.map((a) => (typeof a === "string" ? Buffer.from(a, "latin1") : a)));

/** The same writes for both servers: every type, integer strings, long compressible text. */
const SETUP: Buffer[] = [
  cmd("SET", "s", "hello"),
  cmd("SET", "i", "12345"),
  cmd("SET", "neg", "-7"),
  cmd("SET", "wide", "12345678901234"),
  cmd("SET", "lead", "0123"),
  cmd("SET", "text", "abcdefghij".repeat(10)),
  cmd("SET", "lz", `${"a".repeat(80)}${"abc".repeat(10)}xyz`),
  cmd("SET", "rand", "q8Zr1kP0xLm2NvB7cT5yWd3"),
  cmd("RPUSH", "l", "a", "b", "1", "-5000", "99999999999", "x".repeat(100)),
  cmd("HSET", "h", "f1", "v1", "f2", "200", "f3", "y".repeat(60)),
  // A value over 64 bytes makes it a hashtable: its DUMP order is the dict's (seeded at random).
  cmd("HSET", "hbig", "f1", "v1", "f2", "y".repeat(70)),
  cmd("HSET", "hs", "a", "1"),
  cmd("SADD", "si", "3", "1", "70000", "-2"),
  cmd("SADD", "sw", "5", "9000000000"),
  cmd("SADD", "ss", "x"),
  // Sorted sets: a listpack (small) and a skiplist (a member over 64 bytes), odd scores.
  cmd("ZADD", "z", "1", "a", "2.5", "b", "-3", "c", "1e20", "d", "0.1", "e"),
  cmd("ZADD", "zbig", "1", "m", "2", "z".repeat(70), "-0.5", "n"),
];
/** Keys whose DUMP is deterministic (not "hbig", a hashtable; "ss" has one member). */
const KEYS = [
  "ss",
  "s",
  "i",
  "neg",
  "wide",
  "lead",
  "text",
  "lz",
  "rand",
  "l",
  "h",
  "hs",
  "si",
  "sw",
  "z",
  "zbig",
];

/** A bulk reply's payload. */
function bulkOf(reply: Buffer): Buffer {
  assert.equal(reply[0], 0x24, `not a bulk: ${JSON.stringify(reply.toString("latin1"))}`);
  const nl = reply.indexOf("\r\n");
  const n = Number(reply.subarray(1, nl).toString());
  return reply.subarray(nl + 2, nl + 2 + n);
}

test("CRC64 and LZF are Redis's (crc64.c's test vector, round trips)", () => {
  assert.equal(crc64(Buffer.from("123456789")), 0xe9c6d914c4b8d9can);
  const input = Buffer.from(`${"hello world ".repeat(50)}${"z".repeat(300)}`);
  const packed = lzfCompress(input, input.length - 4);
  assert.ok(packed !== undefined && packed.length < input.length);
  assert.deepEqual(lzfDecompress(packed, input.length), input);
  // Incompressible input does not fit in len-4 bytes: written raw, as rdbSaveRawString does.
  assert.equal(lzfCompress(Buffer.from("q8Zr1kP0xLm2NvB7cT5yWd3"), 19), undefined);
  // A hostile stream: a back reference before the start is refused, not followed.
  assert.equal(lzfDecompress(Buffer.from([0x20, 0x05]), 10), undefined);
});

/**
 * Send `setup` and `sync` on one connection, read the replies, the sync's header line and the
 * RDB it announces; then send three more commands a replica might and keep what comes back
 * before the server has read them (nothing, from a master to its replica).
 */
async function fullSync(
  port: number,
  setup: Buffer[],
  sync: Buffer,
  server?: PersonaServer,
): Promise<{ lines: string[]; rdb: { head: string; body: Buffer }; after: Buffer }> {
  const sock = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((res, rej) => {
    sock.once("connect", res);
    sock.once("error", rej);
  });
  let buf = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  sock.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  const more = (): Promise<void> =>
    new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no more bytes: ${buf.length} so far`)), 10_000);
      wake = () => {
        clearTimeout(t);
        res();
      };
    });
  const line = async (): Promise<string> => {
    for (;;) {
      const nl = buf.indexOf("\r\n");
      if (nl >= 0) {
        const text = buf.subarray(0, nl).toString("latin1");
        buf = buf.subarray(nl + 2);
        return text;
      }
      await more();
    }
  };
  sock.write(Buffer.concat(setup));
  const lines: string[] = [];
  for (let i = 0; i < setup.length; i++) lines.push(await line());
  sock.write(sync);
  let head = await line();
  let size = head;
  if (head.startsWith("+")) size = await line();
  else head = "";
  const n = Number(size.slice(1));
  while (buf.length < n) await more();
  const body = buf.subarray(0, n);
  buf = buf.subarray(n);
  const extra = [cmd("REPLCONF", "ACK", "0"), cmd("PING"), cmd("GET", "s")];
  const target = (server ?? fakeServer!).bytesRead + Buffer.concat(extra).length;
  sock.write(Buffer.concat(extra));
  await (server ?? fakeServer!).read(target);
  // Replies to one read are posted on the next turn: give them that turn, then a round trip.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
  sock.destroy();
  return { lines, rdb: { head, body }, after: buf };
}

let fakeServer: PersonaServer | undefined;

describe("DUMP/RESTORE and the master's RDB against Debian's redis-server 7.0", {
  skip: skipUnless(HAVE_REDIS, "redis-server 7.0 not installed"),
}, () => {
  let real: RedisProcess;
  let fake: PersonaServer;
  const open: RespConnection[] = [];
  const conn = async (port: number): Promise<RespConnection> => {
    const c = await RespConnection.open(port);
    open.push(c);
    return c;
  };

  before(async () => {
    real = await startRedis({ host: "127.0.0.1", port: await freePort() });
    fake = await servePersona(persona("redis-7.0-open"));
    fakeServer = fake;
  });
  after(async () => {
    for (const c of open) c.close();
    await fake.close();
    await real.stop();
  });

  test("DUMP of every value is byte-identical with the real server's", async () => {
    const a = await conn(real.port);
    const b = await conn(fake.port);
    await a.send(Buffer.concat(SETUP), SETUP.length);
    await b.send(Buffer.concat(SETUP), SETUP.length);
    for (const key of [...KEYS, "missing"]) {
      const want = await a.send(cmd("DUMP", key));
      const got = await b.send(cmd("DUMP", key));
      assert.deepEqual(got, want, `DUMP ${key}`);
    }
  });

  test("RESTORE takes the real server's payloads; errors as the real server words them", async () => {
    const a = await conn(real.port);
    const b = await conn(fake.port);
    await a.send(Buffer.concat(SETUP), SETUP.length);
    for (const key of [...KEYS, "hbig"]) {
      const payload = bulkOf(await a.send(cmd("DUMP", key)));
      const reply = await b.send(cmd("RESTORE", `r:${key}`, "0", payload, "REPLACE"));
      assert.equal(reply.toString(), "+OK\r\n", `RESTORE r:${key}`);
      // The restored value dumps to the same bytes, so it is the same value and encoding.
      assert.deepEqual(bulkOf(await b.send(cmd("DUMP", `r:${key}`))), payload, key);
    }
    const payload = bulkOf(await a.send(cmd("DUMP", "s")));
    const broken = Buffer.from(payload);
    broken[1] = broken[1]! ^ 1;
    const future = Buffer.from(payload);
    future.writeUInt16LE(11, future.length - 10);
    const bad = Buffer.concat([Buffer.from([0x63]), payload.subarray(1)]);
    const cases: Buffer[] = [
      cmd("RESTORE", "s", "0", payload),
      cmd("RESTORE", "n1", "0", broken),
      cmd("RESTORE", "n2", "0", future),
      cmd("RESTORE", "n3", "-1", payload),
      cmd("RESTORE", "n4", "x", payload),
      cmd("RESTORE", "n5", "0", payload, "IDLETIME", "-1"),
      cmd("RESTORE", "n6", "0", payload, "FREQ", "256"),
      cmd("RESTORE", "n7", "0", payload, "IDLETIME", "1", "FREQ", "1"),
      cmd("RESTORE", "n8", "0", payload, "BOGUS"),
      cmd("RESTORE", "n9", "0", Buffer.from("short")),
      cmd("RESTORE", "n10", "1", payload, "ABSTTL"),
      cmd("EXISTS", "n10"),
      cmd("RESTORE", "n11", "100000", payload, "IDLETIME", "5"),
      cmd("PTTL", "n11"),
    ];
    // A payload of an unknown type with a right checksum: "Bad data format".
    const crc = Buffer.alloc(8);
    const body = bad.subarray(0, bad.length - 8);
    crc.writeBigUInt64LE(crc64(body));
    cases.push(cmd("RESTORE", "n12", "0", Buffer.concat([body, crc])));
    await b.send(cmd("SET", "s", "x"));
    await a.send(cmd("SET", "s", "x"));
    for (const c of cases) {
      const want = (await a.send(c)).toString("latin1");
      const got = (await b.send(c)).toString("latin1");
      // PTTL of a fresh 100 s TTL: the clocks may have moved a millisecond or a few.
      const ttl = /^:(99\d{3}|100000)\r\n$/;
      if (ttl.test(want)) assert.match(got, ttl);
      else assert.equal(got, want, c.toString("latin1").slice(0, 60));
    }
  });

  test("PSYNC gets +FULLRESYNC and an RDB that redis-check-rdb accepts", async () => {
    // The source's world is shared with the tests before: start it empty.
    const setup = [
      cmd("FLUSHALL"),
      ...SETUP,
      cmd("SELECT", "3"),
      cmd("SET", "other", "db"),
      cmd("SELECT", "0"),
      cmd("PEXPIRE", "s", "100000"),
      cmd("REPLCONF", "listening-port", "6380"),
      cmd("REPLCONF", "capa", "eof", "capa", "psync2"),
    ];
    const { lines, rdb, after } = await fullSync(fake.port, setup, cmd("PSYNC", "?", "-1"));
    assert.deepEqual(lines.slice(-2), ["+OK", "+OK"]);
    assert.match(lines.at(-3) ?? "", /^:1$/);
    assert.match(rdb.head, /^\+FULLRESYNC [0-9a-f]{40} 0$/);
    assert.equal(rdb.body.subarray(0, 9).toString(), "REDIS0010");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-rdb-"));
    try {
      const file = path.join(dir, "dump.rdb");
      fs.writeFileSync(file, rdb.body);
      const check = spawnSync("redis-check-rdb", [file], { encoding: "utf8" });
      assert.equal(check.status, 0, check.stdout);
      assert.match(check.stdout, /RDB looks OK/);
      assert.match(check.stdout, /AUX FIELD redis-ver = '7\.0\.15'/);
      assert.match(check.stdout, /AUX FIELD aof-base = '0'/);
      assert.match(check.stdout, /Selecting DB ID 3/);
      assert.match(check.stdout, /\[info\] 18 keys read/);
      assert.match(check.stdout, /\[info\] 1 expires/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // A replica's client gets no replies to what it sends later (REPLCONF ACK, PING, GET).
    assert.equal(after.length, 0, JSON.stringify(after.toString("latin1")));
  });

  test("a real redis-server --replicaof the persona loads its RDB and answers GET", async () => {
    // The replica's session is seeded as a visitor's earlier writes would have left it.
    const seeded = await servePersona(persona("redis-7.0-open"), {
      onSession: (session) => {
        const ks = session.keyspace;
        ks.setString(0, "greeting", Buffer.from("hello from the persona"));
        ks.setString(0, "n", Buffer.from("42"));
        ks.setString(0, "long", Buffer.from("z".repeat(5000)));
        ks.setString(0, "ttl", Buffer.from("soon"), { expiresAt: Date.now() + 600_000 });
        ks.put(0, "list", { type: "list", value: [Buffer.from("a"), Buffer.from("2")] });
        ks.put(0, "hash", { type: "hash", value: new Map([["f", Buffer.from("v")]]) });
        ks.put(0, "set", { type: "set", value: new Set(["m1", "m2"]) });
        ks.setString(5, "elsewhere", Buffer.from("db5"));
      },
    });
    const replica = await startRedis({
      host: "127.0.0.1",
      port: await freePort(),
      config: [`replicaof 127.0.0.1 ${seeded.port}`],
    });
    try {
      const r = await RespConnection.open(replica.port);
      open.push(r);
      // Wait for the link to come up: bounded, on INFO's own report.
      let info = "";
      for (let i = 0; i < 200 && !/master_link_status:up/.test(info); i++) {
        info = (await r.send(cmd("INFO", "replication"))).toString();
        if (!/master_link_status:up/.test(info)) await new Promise((res) => setTimeout(res, 50));
      }
      assert.match(info, /master_link_status:up/);
      assert.match(info, new RegExp(`master_port:${seeded.port}`));
      const ask = async (...args: string[]): Promise<string> =>
        (await r.send(cmd(...args))).toString("latin1");
      assert.equal(await ask("GET", "greeting"), "$22\r\nhello from the persona\r\n");
      assert.equal(await ask("GET", "n"), "$2\r\n42\r\n");
      assert.equal(await ask("STRLEN", "long"), ":5000\r\n");
      assert.match(await ask("PTTL", "ttl"), /^:\d{6}\r\n$/);
      assert.equal(await ask("LRANGE", "list", "0", "-1"), "*2\r\n$1\r\na\r\n$1\r\n2\r\n");
      assert.equal(await ask("HGET", "hash", "f"), "$1\r\nv\r\n");
      assert.equal(await ask("SCARD", "set"), ":2\r\n");
      assert.equal(await ask("DBSIZE"), ":7\r\n");
      await r.send(cmd("SELECT", "5"));
      assert.equal(await ask("GET", "elsewhere"), "$3\r\ndb5\r\n");
    } finally {
      await replica.stop();
      await seeded.close();
    }
  });
});
