/**
 * Real clients as applications and operators run them, against the `redis-7.0-open` persona and
 * Debian's redis-server 7.0.15 side by side, through the shipped server: redis-py (Debian's
 * python3-redis: its default transactional pipeline, WATCH, Lock, scan_iter, scripts), node-redis
 * (multi()), and redis-cli's --scan, --bigkeys and --eval. What each prints must be the same.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { persona } from "../src/honeypot/personas/index.js";
import { startRedis } from "../src/lab/redis.js";
import { type PersonaServer, servePersona } from "./helpers/honeypot-server.js";
import { freePort } from "./helpers/ports.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const PY = "/usr/bin/python3";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-clients-"));
let real: { port: number; stop: () => Promise<void> };
let hp: PersonaServer;

function run(cmd: string, args: string[], stdin?: string): Promise<string> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve(`${stdout}${stderr}${error && !stdout && !stderr ? String(error) : ""}`);
    });
    child.stdin?.end(stdin ?? "");
  });
}

before(async () => {
  const proc = await startRedis({
    host: "127.0.0.1",
    port: await freePort(),
    config: ["protected-mode no"],
  });
  real = { port: proc.port, stop: () => proc.stop() };
  hp = await servePersona(persona("redis-7.0-open"));
});

after(async () => {
  await real?.stop();
  await hp?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The same thing against both; returns [persona's, real server's]. */
async function both(f: (port: number) => Promise<string>): Promise<[string, string]> {
  const fake = await f(hp.port);
  const genuine = await f(real.port);
  return [fake, genuine];
}

describe("real clients: the redis-7.0 persona and redis-server 7.0.15 side by side", () => {
  test("redis-py: transactional pipeline, WATCH, Lock, scan_iter, EVAL, registered scripts", {
    skip: !fs.existsSync(PY),
  }, async () => {
    const script = path.join(here, "..", "..", "test", "fixtures", "clients", "redis_py_client.py");
    const [fake, genuine] = await both((port) => run(PY, [script, String(port)]));
    // A step that raised prints `step: ExceptionName: text`; against the real server none may.
    assert.doesNotMatch(genuine, /^[\w ]+: \w+(Error|Exception): /m, genuine);
    assert.equal(fake, genuine);
  });

  test("node-redis: multi() and a WATCHed multi() that another client breaks", async () => {
    const [fake, genuine] = await both(async (port) => {
      const c = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false } });
      const other = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false } });
      await c.connect();
      await other.connect();
      try {
        const out: unknown[] = [];
        out.push(await c.multi().set("nr:a", "1").incr("nr:a").get("nr:a").exec());
        await c.watch("nr:w");
        await other.set("nr:w", "x");
        try {
          out.push(await c.multi().set("nr:w", "mine").exec());
        } catch (e) {
          out.push(`${(e as Error).name}: ${(e as Error).message}`);
        }
        out.push(await c.get("nr:w"));
        return JSON.stringify(out);
      } finally {
        await c.quit();
        await other.quit();
      }
    });
    assert.equal(fake, genuine);
  });

  test("redis-cli --scan, --bigkeys and --eval", async () => {
    const lua = path.join(tmp, "script.lua");
    fs.writeFileSync(
      lua,
      "redis.call('SET', KEYS[1], ARGV[1])\nreturn {KEYS[1], KEYS[2], ARGV[1], redis.call('STRLEN', KEYS[1])}\n",
    );
    const seed = [
      "FLUSHALL",
      "SET cli:s hello",
      "RPUSH cli:l a b c",
      "HSET cli:h f v g w",
      "SADD cli:set x",
      "ZADD cli:z 1 m 2 n",
      "XADD cli:x 1-1 f v",
    ].join("\n");
    const [fake, genuine] = await both(async (port) => {
      const p = ["-h", "127.0.0.1", "-p", String(port)];
      const seeded = await run("redis-cli", p, `${seed}\n`);
      const scan = (await run("redis-cli", [...p, "--scan", "--pattern", "cli:*"]))
        .trim()
        .split("\n")
        .sort()
        .join("\n");
      const big = await run("redis-cli", [...p, "--bigkeys"]);
      const summary = big.slice(big.indexOf("-------- summary -------"));
      const evaled = await run("redis-cli", [...p, "--eval", lua, "cli:e", "cli:f", ",", "val"]);
      return [seeded, scan, summary, evaled].join("\n=====\n");
    });
    assert.match(genuine, /summary/);
    assert.equal(fake, genuine);
  });
});
