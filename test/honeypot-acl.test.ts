/**
 * ACL subcommands: the personas against real servers, byte for byte. The same requests go to a
 * real redis-server (Debian's 7.0.15, started here on 127.0.0.1; 6.0, 6.2 and 7.4 from
 * /work/servers when built there) and to the persona of that version behind the shipped
 * HoneypotServer, on one connection each, in RESP2 and RESP3. ACL CAT <category> is compared as
 * a set (the real order is its dict's), GENPASS by shape. Traffic stays on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { describe, test } from "node:test";
import { persona } from "../src/honeypot/personas/index.js";
import { redisServerPath, redisServerVersion, startRedis } from "../src/lab/redis.js";
import { encodeCommand } from "../src/resp/index.js";
import { RespConnection, sendAll, servePersona } from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

interface Step {
  cmd: string[];
  /**
   * "sorted": the same lines in any order (ACL CAT: the real order is its dict's); "words": the
   * same words (the single-command rules ACL LIST and GETUSER end with come in dict order too).
   */
  mode?: "exact" | "shape" | "sorted" | "words";
  /** Only from this version (major.minor) on. */
  since?: string;
  /** Only before this version. */
  before?: string;
}

const s = (...cmd: string[]): Step => ({ cmd });
const sorted = (...cmd: string[]): Step => ({ cmd, mode: "sorted" });
const words = (...cmd: string[]): Step => ({ cmd, mode: "words" });
const shape = (...cmd: string[]): Step => ({ cmd, mode: "shape" });
const since = (v: string, st: Step): Step => ({ ...st, since: v });

const SUITE: Step[] = [
  s("ACL", "WHOAMI"),
  s("ACL", "USERS"),
  s("ACL", "LIST"),
  s("ACL", "GETUSER", "default"),
  s("ACL", "GETUSER", "nobody"),
  s("ACL", "CAT"),
  sorted("ACL", "CAT", "string"),
  sorted("ACL", "CAT", "DANGEROUS"),
  sorted("ACL", "CAT", "pubsub"),
  sorted("ACL", "CAT", "admin"),
  s("ACL", "CAT", "nosuch"),
  s("ACL", "CAT", "a", "b"),
  shape("ACL", "GENPASS"),
  shape("ACL", "GENPASS", "1"),
  shape("ACL", "GENPASS", "5"),
  shape("ACL", "GENPASS", "4096"),
  s("ACL", "GENPASS", "0"),
  s("ACL", "GENPASS", "4097"),
  s("ACL", "GENPASS", "x"),
  s("ACL", "LOG"),
  s("ACL", "LOG", "3"),
  s("ACL", "LOG", "x"),
  s("ACL", "LOG", "RESET"),
  s("ACL", "SAVE"),
  s("ACL", "LOAD"),
  s("ACL", "HELP"),
  s("ACL", "SETUSER", "alice"),
  s("ACL", "LIST"),
  s("ACL", "GETUSER", "alice"),
  s("ACL", "SETUSER", "alice", "on", ">s3cret", "~cache:*", "+get", "+set"),
  words("ACL", "LIST"),
  words("ACL", "GETUSER", "alice"),
  s("ACL", "SETUSER", "alice", "-set", "+@read", "-@dangerous"),
  words("ACL", "LIST"),
  s("ACL", "SETUSER", "alice", "<s3cret"),
  s("ACL", "SETUSER", "alice", "<s3cret"),
  s("ACL", "SETUSER", "alice", "#abc"),
  s("ACL", "SETUSER", "alice", `#${"a".repeat(64)}`),
  s("ACL", "SETUSER", "alice", `!${"a".repeat(64)}`),
  s("ACL", "SETUSER", "alice", "nopass"),
  s("ACL", "SETUSER", "alice", "allkeys", "~more"),
  s("ACL", "SETUSER", "alice", "resetkeys", "~k1", "~k2", "~k1"),
  words("ACL", "LIST"),
  s("ACL", "SETUSER", "alice", "+nosuchcmd"),
  s("ACL", "SETUSER", "alice", "+@nosuchcat"),
  s("ACL", "SETUSER", "alice", "bogus"),
  s("ACL", "SETUSER", "alice", "on", "bogus"),
  s("ACL", "SETUSER", "al ice"),
  s("ACL", "SETUSER", "bob", "on", "nopass", "allcommands", "allkeys"),
  since("6.2", s("ACL", "SETUSER", "bob", "allchannels", "&x")),
  since("6.2", s("ACL", "SETUSER", "bob", "resetchannels", "&news", "&alerts")),
  since("7.0", s("ACL", "SETUSER", "carol", "on", "%R~r:*", "%W~w:*", "%RW~both", "+@all")),
  since("7.0", s("ACL", "SETUSER", "carol", "%X~bad")),
  s("ACL", "USERS"),
  words("ACL", "LIST"),
  s("ACL", "GETUSER", "bob"),
  since("7.0", s("ACL", "GETUSER", "carol")),
  since("7.0", s("ACL", "DRYRUN", "alice", "get", "k")),
  since("7.0", s("ACL", "DRYRUN", "alice", "set", "k", "v")),
  since("7.0", s("ACL", "DRYRUN", "alice", "config", "get", "x")),
  since("7.0", s("ACL", "DRYRUN", "bob", "flushall")),
  since("7.0", s("ACL", "DRYRUN", "nobody", "get", "k")),
  since("7.0", s("ACL", "DRYRUN", "alice", "nosuch")),
  since("7.0", s("ACL", "DRYRUN", "alice", "get")),
  s("ACL", "SETUSER", "alice", "reset"),
  words("ACL", "LIST"),
  s("ACL", "DELUSER", "alice", "default"),
  s("ACL", "DELUSER", "alice", "bob", "nobody"),
  s("ACL", "USERS"),
  s("ACL", "SETUSER", "default", "resetpass", "nopass", "on"),
  words("ACL", "LIST"),
  s("ACL", "NOSUCH"),
  s("ACL", "WHOAMI", "extra"),
];

const atLeast = (version: string, v: string): boolean => {
  const [a, b] = version.split(".").map(Number);
  const [c, d] = v.split(".").map(Number);
  return a! > c! || (a === c && b! >= d!);
};

function stepsFor(version: string): Step[] {
  return SUITE.filter(
    (st) =>
      (st.since === undefined || atLeast(version, st.since)) &&
      (st.before === undefined || !atLeast(version, st.before)),
  );
}

async function run(port: number, steps: Step[], hello3: boolean): Promise<Buffer[]> {
  const requests = steps.map((st) => encodeCommand(st.cmd));
  if (!hello3) return sendAll(port, requests);
  return (await sendAll(port, [encodeCommand(["HELLO", "3"]), ...requests])).slice(1);
}

function compare(steps: Step[], got: Buffer[], want: Buffer[]): string[] {
  const failures: string[] = [];
  for (const [i, st] of steps.entries()) {
    const g = got[i]!.toString("latin1");
    const w = want[i]!.toString("latin1");
    const label = JSON.stringify(st.cmd.join(" "));
    const bad =
      w.length === 0 ||
      (st.mode === "words"
        ? JSON.stringify(g.split(/\r\n| /).sort()) !== JSON.stringify(w.split(/\r\n| /).sort())
        : st.mode === "sorted"
          ? JSON.stringify(g.split("\r\n").sort()) !== JSON.stringify(w.split("\r\n").sort())
          : st.mode === "shape"
            ? g.split("\r\n")[0] !== w.split("\r\n")[0] || g.length !== w.length
            : g !== w);
    if (bad)
      failures.push(`${label}:\n  persona ${JSON.stringify(g)}\n  real    ${JSON.stringify(w)}`);
  }
  return failures;
}

async function differential(name: string, bin: string, version: string): Promise<void> {
  const steps = stepsFor(version);
  const failures: string[] = [];
  for (const hello3 of [false, true]) {
    const real = await startRedis({
      host: "127.0.0.1",
      port: await freePort(),
      config: ["protected-mode no"],
      bin,
    });
    const fake = await servePersona(persona(name));
    try {
      const want = await run(real.port, steps, hello3);
      const got = await run(fake.port, steps, hello3);
      failures.push(
        ...compare(steps, got, want).map((f) => `[${name}${hello3 ? " RESP3" : ""}] ${f}`),
      );
    } finally {
      await fake.close();
      await real.stop();
    }
  }
  assert.deepEqual(failures, [], failures.slice(0, 30).join("\n"));
}

const DEBIAN = redisServerPath();
const HAVE_DEBIAN = DEBIAN !== undefined && (redisServerVersion() ?? "").startsWith("7.0");
if (process.env.CI === "true" && !HAVE_DEBIAN)
  throw new Error("redis-server 7.0 is required in CI");

describe("ACL: redis-7.0 persona against Debian's redis-server 7.0.15", {
  skip: HAVE_DEBIAN ? false : "redis-server 7.0 not installed",
}, () => {
  test(`ACL subcommands (${stepsFor("7.0").length} requests, RESP2 and RESP3)`, async () => {
    await differential("redis-7.0-open", DEBIAN ?? "redis-server", "7.0");
  });
});

const BUILDS: Array<[string, string, string]> = [
  ["redis-6.0-open", "/work/servers/redis-6.0.20/redis-server", "6.0"],
  ["redis-6.2-open", "/work/servers/redis-6.2.16/redis-server", "6.2"],
  ["redis-7.4-open", "/work/servers/redis-7.4.1/redis-server", "7.4"],
];

for (const [name, bin, version] of BUILDS) {
  describe(`ACL: ${name} against a real build`, {
    skip: fs.existsSync(bin) ? false : `${bin} not built`,
  }, () => {
    test(`ACL subcommands (${stepsFor(version).length} requests)`, async () => {
      await differential(name, bin, version);
    });
  });
}

const text = (b: Buffer): string => b.toString("latin1");

describe("ACL: what a source keeps, and password personas", () => {
  test("users persist across a source's connections and are bounded in number", async () => {
    const fake = await servePersona(persona("redis-7.0-open"));
    try {
      const a = await RespConnection.open(fake.port);
      for (let i = 0; i < 40; i++) {
        assert.equal(
          text(await a.send(encodeCommand(["ACL", "SETUSER", `u${i}`, "on"]))),
          "+OK\r\n",
        );
      }
      a.close();
      const b = await RespConnection.open(fake.port);
      const users = text(await b.send(encodeCommand(["ACL", "USERS"])));
      b.close();
      // Another connection of the same source sees them; at most 32 users, default included.
      assert.match(users, /^\*32\r\n/);
      assert.match(users, /\$2\r\nu0\r\n/);
      assert.match(users, /\$7\r\ndefault\r\n/);
    } finally {
      await fake.close();
    }
  });

  test("a password persona lists its password's hash; SETUSER does not change what AUTH accepts", async () => {
    const fake = await servePersona(persona("redis-7.0-password", { acceptPassword: "s3cret" }));
    try {
      const conn = await RespConnection.open(fake.port);
      assert.match(text(await conn.send(encodeCommand(["ACL", "LIST"]))), /^-NOAUTH/);
      assert.equal(text(await conn.send(encodeCommand(["AUTH", "s3cret"]))), "+OK\r\n");
      const sha = createHash("sha256").update("s3cret").digest("hex");
      assert.equal(
        text(await conn.send(encodeCommand(["ACL", "LIST"]))),
        `*1\r\n$93\r\nuser default on #${sha} ~* &* +@all\r\n`,
      );
      assert.equal(
        text(await conn.send(encodeCommand(["ACL", "SETUSER", "default", ">other"]))),
        "+OK\r\n",
      );
      assert.match(text(await conn.send(encodeCommand(["AUTH", "wrong"]))), /^-WRONGPASS/);
      conn.close();
    } finally {
      await fake.close();
    }
  });
});
