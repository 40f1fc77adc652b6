/**
 * A mainstream client library against every persona, through the product itself: one
 * `redscope honeypot` process with all 32 personas listening, and node-redis (the official
 * Node.js client) connecting to each as an application would: its handshake (HELLO 3 or AUTH,
 * CLIENT SETINFO), strings, hashes, lists, TTLs, INFO, then QUIT. Servers before 6.0 have no
 * HELLO, so the client is told to speak RESP2 there, as it must be against real ones.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "redis";
import { PERSONAS, persona } from "../src/honeypot/personas/index.js";
import { type RunningHoneypot, startHoneypot } from "./helpers/honeypot-process.js";

const PASSWORD = "client-lib-pw";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-hp-client-"));
let hp: RunningHoneypot;

before(async () => {
  const args = ["--no-db", "-o", path.join(tmp, "hp.jsonl"), "-q"];
  for (const name of PERSONAS) args.push("--listen", `127.0.0.1:0/${name}`);
  hp = await startHoneypot([...args, "--accept-password", PASSWORD]);
});

after(async () => {
  await hp.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("clients: node-redis talks to every persona", () => {
  for (const name of PERSONAS) {
    test(name, async () => {
      const p = persona(name);
      const port = hp.ports.get(name);
      assert.ok(port, `${name} is listening`);
      const errors: string[] = [];
      const client = createClient({
        socket: { host: "127.0.0.1", port, reconnectStrategy: false, connectTimeout: 5000 },
        RESP: p.era.at("6.0") ? 3 : 2,
        ...(p.auth === "password" ? { password: PASSWORD } : {}),
      });
      client.on("error", (e: Error) => errors.push(e.message));
      if (p.auth === "protected") {
        // The server answers DENIED before reading anything, then closes. With HELLO the client
        // reads it as HELLO's error; in RESP2 it ignores it as the reply to its CLIENT SETINFO
        // (which old servers refuse anyway) and only sees the connection close.
        const outcome = await client
          .connect()
          .then(() => client.ping())
          .then(
            () => "answered",
            (e: Error) => e.message,
          );
        assert.match(
          outcome,
          p.era.at("6.0")
            ? /^DENIED (Redis is running|Running) in protected mode/
            : /^Socket closed unexpectedly/,
        );
        client.destroy();
        return;
      }
      await client.connect();
      try {
        assert.equal(await client.ping(), "PONG");
        assert.equal(await client.set("greeting", "hello"), "OK");
        assert.equal(await client.get("greeting"), "hello");
        if (p.era.at("4.0")) {
          assert.equal(await client.hSet("user:1", { name: "ada", lang: "en" }), 2);
        } else {
          // HSET took one field until 4.0, as the real server says.
          await assert.rejects(client.hSet("user:1", { name: "ada", lang: "en" }), {
            message: "ERR wrong number of arguments for 'hset' command",
          });
          assert.equal(await client.hSet("user:1", "name", "ada"), 1);
          assert.equal(await client.hSet("user:1", "lang", "en"), 1);
        }
        assert.deepEqual({ ...(await client.hGetAll("user:1")) }, { name: "ada", lang: "en" });
        assert.equal(await client.rPush("queue", ["a", "b", "c"]), 3);
        assert.deepEqual(await client.lRange("queue", 0, -1), ["a", "b", "c"]);
        assert.equal(await client.expire("greeting", 100), 1);
        const ttl = await client.ttl("greeting");
        assert.ok(ttl > 90 && ttl <= 100, `ttl ${ttl}`);
        assert.equal(await client.dbSize(), 3);
        const info = await client.info("server");
        const key = p.era.valkey ? "valkey_version" : "redis_version";
        assert.ok(info.includes(`${key}:${p.version}\r\n`), info.slice(0, 200));
        assert.equal(await client.incr("counter"), 1);
        // EXISTS took one key until 3.0.3.
        assert.equal(
          await client.exists(p.era.at("3.0.3") ? ["greeting", "missing"] : "greeting"),
          1,
        );
      } finally {
        await client.quit();
      }
      assert.deepEqual(errors, []);
    });
  }
});
