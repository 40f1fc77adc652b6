/**
 * MONITOR and CLIENT TRACKING, differential: the same two connections against a real server and
 * the persona of its version (the shipped HoneypotServer). Connection A monitors; B runs a
 * sequence; A's lines must be the real server's, with the time and the client's port masked —
 * which commands show, in which order, AUTH redacted (7.0+) or hidden (before), scripts' calls
 * as `lua`. B's replies to the tracking commands must be byte-identical, and its CLIENT LIST
 * flags and redir the same. Debian's redis-server 7.0 always; builds in /work/servers where
 * present (required in CI only for Debian's). Tests wait for replies, never for the clock.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { MemoryBudget } from "../src/honeypot/memory.js";
import { persona } from "../src/honeypot/personas/index.js";
import { type RedisProcess, redisServerVersion, startRedis } from "../src/lab/redis.js";
import { encodeCommand } from "../src/resp/index.js";
import { RespConnection, servePersona } from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

type Cmd = string[];

/** What B runs while A monitors; the last is the sentinel A waits for. */
const SEQUENCE: Cmd[] = [
  ["SET", "mon:k", "v\n\x01"],
  ["CONFIG", "GET", "port"],
  ["AUTH", "secret"],
  ["GET", "mon:k"],
  ["EVAL", "return redis.call('get', KEYS[1])", "1", "mon:k"],
  ["NOSUCHCOMMAND", "x"],
  ["GET"],
  ["SELECT", "2"],
  ["PING", "sentinel"],
];

const TRACKING: Cmd[] = [
  ["CLIENT", "TRACKINGINFO"],
  ["CLIENT", "CACHING", "yes"],
  ["CLIENT", "TRACKING", "on", "OPTIN"],
  ["CLIENT", "TRACKINGINFO"],
  ["CLIENT", "CACHING", "yes"],
  ["CLIENT", "CACHING", "no"],
  ["CLIENT", "TRACKING", "on", "OPTOUT"],
  ["CLIENT", "TRACKING", "on", "BCAST"],
  ["CLIENT", "GETREDIR"],
  ["CLIENT", "TRACKING", "off"],
  ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "b:", "PREFIX", "a:"],
  ["CLIENT", "TRACKINGINFO"],
  ["CLIENT", "TRACKING", "on", "PREFIX", "a:"],
  ["CLIENT", "TRACKING", "maybe"],
  ["CLIENT", "TRACKING", "on", "REDIRECT", "999999"],
  ["CLIENT", "TRACKING", "on", "NOSUCHOPTION"],
];

const mask = (line: string): string =>
  line.replace(/^\+\d+\.\d{6} /, "+T ").replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:P");

/** A's monitor lines (masked) for B's sequence, then B's tracking replies and flags. */
async function play(port: number, tracking: boolean): Promise<{ lines: string[]; b: string[] }> {
  const a = await RespConnection.open(port);
  const b = await RespConnection.open(port);
  try {
    assert.equal((await a.send(encodeCommand(["MONITOR"]))).toString(), "+OK\r\n");
    for (const c of SEQUENCE) await b.send(encodeCommand(c));
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) {
      const got = (await a.send(Buffer.alloc(0), 1, 5000)).toString("latin1");
      if (got === "") break;
      lines.push(mask(got));
      if (got.includes("sentinel")) break;
    }
    const replies: string[] = [];
    if (tracking) {
      await b.send(encodeCommand(["SELECT", "0"]));
      for (const c of TRACKING) replies.push((await b.send(encodeCommand(c))).toString("latin1"));
      await b.send(encodeCommand(["CLIENT", "TRACKING", "on"]));
      // A real server lists every client (A too): B's line is the one running CLIENT LIST.
      const all = (await b.send(encodeCommand(["CLIENT", "LIST"]))).toString("latin1");
      const list = all.split("\n").find((l) => /cmd=client/.test(l)) ?? "";
      replies.push(/flags=\S+/.exec(list)?.[0] ?? "", /redir=\S+/.exec(list)?.[0] ?? "");
      await b.send(encodeCommand(["HELLO", "3"]));
      replies.push((await b.send(encodeCommand(["CLIENT", "TRACKINGINFO"]))).toString("latin1"));
    }
    return { lines, b: replies };
  } finally {
    a.close();
    b.close();
  }
}

const SERVERS_DIR = process.env.REDSCOPE_SERVERS ?? "/work/servers";
const servers: Array<{ label: string; bin: string; required: boolean }> = [
  { label: "debian-7.0", bin: "redis-server", required: process.env.CI === "true" },
  ...["redis-2.8.24", "redis-6.0.20", "redis-6.2.16", "redis-7.4.1"].map((label) => ({
    label,
    bin: `${SERVERS_DIR}/${label}/redis-server`,
    required: false,
  })),
];

for (const s of servers) {
  const version = redisServerVersion(s.bin);
  const skip =
    version === undefined && !s.required ? `${s.label}: no server binary at ${s.bin}` : false;
  describe(`MONITOR and CLIENT TRACKING vs ${s.label}`, { skip }, () => {
    let real: RedisProcess | undefined;
    after(async () => {
      await real?.stop();
    });

    test("the persona's monitor lines and tracking replies are the real server's", async () => {
      assert.ok(version !== undefined, `${s.bin} missing`);
      real = await startRedis({ host: "127.0.0.1", port: await freePort(), bin: s.bin });
      const tracking = !version.startsWith("2.") && !version.startsWith("5.");
      const want = await play(real.port, tracking);
      const line = `redis-${version.split(".").slice(0, 2).join(".")}-open`;
      const srv = await servePersona(persona(line, { version, fresh: true }));
      try {
        const got = await play(srv.port, tracking);
        assert.deepEqual(got.lines, want.lines);
        assert.deepEqual(got.b, want.b);
      } finally {
        await srv.close();
      }
    });
  });
}

describe("CLIENT TRACKING prefixes and CLIENT SETNAME/SETINFO are held in the session's share", () => {
  test("prefixes that add up past the share are refused with OOM; the connection goes on", async () => {
    // A 2 MB budget: a session's share is an eighth, 256 KB; each prefix is 60 KB.
    const srv = await servePersona(persona("redis-7.0-open", { fresh: true }), {
      memory: new MemoryBudget(2_000_000),
    });
    const conn = await RespConnection.open(srv.port);
    try {
      const replies: string[] = [];
      for (let i = 0; i < 10; i++) {
        const prefix = `${String(i).padStart(2, "0")}${"p".repeat(60_000)}`;
        const cmd = ["CLIENT", "TRACKING", "on", "BCAST", "PREFIX", prefix];
        replies.push((await conn.send(encodeCommand(cmd))).toString("latin1"));
      }
      assert.equal(replies[0], "+OK\r\n");
      assert.ok(
        replies.some((r) => r.startsWith("-OOM")),
        `no OOM among ${replies.length} replies`,
      );
      assert.equal((await conn.send(encodeCommand(["PING"]))).toString(), "+PONG\r\n");
    } finally {
      conn.close();
      await srv.close();
    }
  });
});
