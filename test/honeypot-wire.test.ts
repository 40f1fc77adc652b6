/**
 * The shipped server reads requests with the request decoder's recording mode (its own tests
 * are in resp.test.ts): an argument longer than the prefix kept is answered from its prefix and
 * recorded by prefix, length and hash, however it is chunked.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { persona } from "../src/honeypot/personas/index.js";
import { encodeCommand } from "../src/resp/index.js";
import { RespConnection, servePersona } from "./helpers/honeypot-server.js";

describe("honeypot server: requests in recording mode", () => {
  test("a 1 MB argument is answered, and recorded as its prefix, its length and its hash", async () => {
    const srv = await servePersona(persona("redis-7.0-open"));
    const value = Buffer.alloc(1024 * 1024, 0x61);
    try {
      const conn = await RespConnection.open(srv.port);
      assert.equal((await conn.send(encodeCommand(["SET", "k", value]))).toString(), "+OK\r\n");
      // The session counts the value at its whole length, though only a prefix was kept.
      assert.equal((await conn.send(encodeCommand(["STRLEN", "k"]))).toString(), ":1048576\r\n");
      conn.close();
    } finally {
      await srv.close();
    }
    const set = srv.recorder.rows
      .map((r) => r.row)
      .find((r) => "kind" in r && r.kind === "command" && r.name === "SET");
    assert.ok(set !== undefined && "record" in set);
    const record = set.record as { args: string[]; lengths: number[]; sha256: string[] };
    assert.equal(record.args[1]!.length, 1024, "an event keeps 1 KB of each argument");
    assert.deepEqual(record.lengths, [1, value.length]);
    assert.equal(record.sha256[1], createHash("sha256").update(value).digest("hex"));
  });
});
