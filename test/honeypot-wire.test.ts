/** The honeypot's request reader: chunking never matters, arguments stay bounded, Redis's errors. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  DEFAULT_WIRE_LIMITS,
  RequestStream,
  type WireCommand,
  WireProtocolError,
} from "../src/honeypot/wire.js";

const LIMITS = { ...DEFAULT_WIRE_LIMITS, argPrefixBytes: 16 };

function resp(args: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from("\r\n"));
  return Buffer.concat(parts);
}

function parseChunks(chunks: Buffer[], limits = LIMITS): WireCommand[] {
  const s = new RequestStream(limits);
  const out: WireCommand[] = [];
  for (const c of chunks) s.push(c, out);
  return out;
}

function split(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(buf.subarray(last, p));
    last = p;
  }
  out.push(buf.subarray(last));
  return out;
}

describe("honeypot wire: requests", () => {
  test("any chunking gives the same commands; long arguments are cut, counted and hashed", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (commands, cuts) => {
          const bufs = commands.map((c) => c.map((a) => Buffer.from(a)));
          const stream = Buffer.concat(bufs.map(resp));
          const got = parseChunks(split(stream, cuts));
          assert.equal(got.length, bufs.length);
          for (const [k, cmd] of got.entries()) {
            const want = bufs[k]!;
            assert.equal(cmd.inline, false);
            assert.equal(cmd.args.length, want.length);
            for (const [j, a] of cmd.args.entries()) {
              const w = want[j]!;
              assert.equal(a.length, w.length);
              assert.deepEqual(a.prefix, w.subarray(0, 16));
              assert.equal(
                a.sha256,
                w.length > 16 ? createHash("sha256").update(w).digest("hex") : undefined,
              );
            }
          }
          assert.equal(
            got.reduce((n, c) => n + c.bytes, 0),
            stream.length,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a request read whole (the one-pass path) reads as one fed byte by byte, even when broken", () => {
    /** Commands and the error, fed as chunks; a protocol error ends the stream. */
    const read = (chunks: Buffer[]): { commands: WireCommand[]; error?: string } => {
      const s = new RequestStream(LIMITS);
      const commands: WireCommand[] = [];
      try {
        for (const c of chunks) s.push(c, commands);
      } catch (e) {
        if (!(e instanceof WireProtocolError)) throw e;
        return { commands, error: e.message };
      }
      return { commands };
    };
    const plain = (r: { commands: WireCommand[]; error?: string }): unknown => ({
      error: r.error,
      commands: r.commands.map((c) => ({
        inline: c.inline,
        bytes: c.bytes,
        args: c.args.map((a) => [a.prefix.toString("hex"), a.length, a.sha256]),
      })),
    });
    // Valid requests with a byte replaced, dropped or inserted here and there: `\r` missing,
    // `$` wrong, a sign or a space in a count, a length that does not match.
    const noise = fc.constantFrom(..."*$\r\n-+ 0179aZ".split("").map((c) => c.charCodeAt(0)));
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 24 }), { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.array(fc.tuple(fc.nat(), fc.nat(2), noise), { maxLength: 3 }),
        (commands, edits) => {
          const bytes = [...Buffer.concat(commands.map((c) => resp(c.map((a) => Buffer.from(a)))))];
          for (const [at, op, b] of edits) {
            const i = at % (bytes.length + 1);
            if (op === 0) bytes[i] = b;
            else if (op === 1) bytes.splice(i, 1);
            else bytes.splice(i, 0, b);
          }
          const stream = Buffer.from(bytes);
          const whole = read([stream]);
          const bytewise = read([...stream].map((b) => Buffer.from([b])));
          assert.deepEqual(plain(whole), plain(bytewise));
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("a 64 MB argument costs its prefix: nothing else is kept", () => {
    const s = new RequestStream(LIMITS);
    const out: WireCommand[] = [];
    const size = 64 * 1024 * 1024;
    s.push(Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${size}\r\n`), out);
    const block = Buffer.alloc(1024 * 1024, 0x41);
    const h = createHash("sha256");
    for (let i = 0; i < 64; i++) {
      s.push(block, out);
      h.update(block);
    }
    s.push(Buffer.from("\r\n"), out);
    assert.equal(out.length, 1);
    const v = out[0]!.args[2]!;
    assert.equal(v.length, size);
    assert.equal(v.prefix.length, 16);
    assert.equal(v.sha256, h.digest("hex"));
  });

  test("inline commands split as Redis splits them; empty lines are skipped", () => {
    const got = parseChunks([Buffer.from('PING\r\n\r\nSET k "a b\\x41"\nGET / HTTP/1.1\r\n')], {
      ...LIMITS,
      argPrefixBytes: 64,
    });
    assert.deepEqual(
      got.map((c) => [c.inline, c.args.map((a) => a.prefix.toString())]),
      [
        [true, ["PING"]],
        [true, ["SET", "k", "a bA"]],
        [true, ["GET", "/", "HTTP/1.1"]],
      ],
    );
  });

  test("Redis's protocol errors", () => {
    const cases: Array<[string, string]> = [
      ["*abc\r\n", "Protocol error: invalid multibulk length"],
      ["*2000000\r\n", "Protocol error: invalid multibulk length"],
      ["*1\r\n:1\r\n", "Protocol error: expected '$', got ':'"],
      ["*1\r\n$-5\r\n", "Protocol error: invalid bulk length"],
      ["*1\r\n$999999999999\r\n", "Protocol error: invalid bulk length"],
      ['SET "k\r\n', "Protocol error: unbalanced quotes in request"],
      [`${"A".repeat(70 * 1024)}`, "Protocol error: too big inline request"],
      [`*${"1".repeat(70 * 1024)}`, "Protocol error: too big mbulk count string"],
    ];
    for (const [input, message] of cases) {
      const s = new RequestStream(LIMITS);
      assert.throws(
        () => s.push(Buffer.from(input)),
        (e: unknown) => e instanceof WireProtocolError && e.message === message,
        input.slice(0, 20),
      );
      assert.deepEqual(s.push(Buffer.from("PING\r\n")), [], "nothing after the error");
    }
  });
});
