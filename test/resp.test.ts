import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { repliesDir } from "../src/lab/replay.js";
import {
  arr,
  bool,
  bulk,
  DEFAULT_REPLY_LIMITS,
  type DecoderLimits,
  double,
  encodeCommand,
  encodeInline,
  encodeValue,
  err,
  int,
  map,
  nil,
  REDIS_REQUEST_LIMITS,
  ReplyDecoder,
  RequestDecoder,
  type RequestDecoderOptions,
  RequestProtocolError,
  type RespCommand,
  type RespErrorCode,
  RespProtocolError,
  type RespValue,
  simple,
  splitArgs,
  verbatim,
} from "../src/resp/index.js";

/** Bytes written as a JS string, one char per byte. */
const b = (text: string): Buffer => Buffer.from(text, "latin1");

function decode(bytes: Buffer, limits?: Partial<DecoderLimits>): RespValue[] {
  return new ReplyDecoder(limits).push(bytes);
}

function decodeChunks(chunks: Buffer[], limits?: Partial<DecoderLimits>): RespValue[] {
  const decoder = new ReplyDecoder(limits);
  const values = chunks.flatMap((chunk) => decoder.push(chunk));
  assert.equal(decoder.bufferedBytes, 0, "a complete stream leaves nothing buffered");
  return values;
}

function commands(bytes: Buffer | string, options?: RequestDecoderOptions): RespCommand[] {
  return new RequestDecoder(options).push(typeof bytes === "string" ? b(bytes) : bytes);
}

/** Requests and the protocol error's text (if any), the stream fed as `chunks`. */
function requests(
  chunks: Buffer[],
  options?: RequestDecoderOptions,
): { commands: RespCommand[]; error?: string; offset?: number } {
  const decoder = new RequestDecoder(options);
  const out: RespCommand[] = [];
  try {
    for (const c of chunks) decoder.push(c, out);
  } catch (e) {
    if (!(e instanceof RequestProtocolError)) throw e;
    return { commands: out, error: e.message, offset: e.offset };
  }
  return { commands: out };
}

/** What `run` throws (undefined when it returns). */
function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The protocol error `run` throws. */
function protocolError(run: () => unknown): RequestProtocolError {
  const caught = thrown(run);
  assert.ok(caught instanceof RequestProtocolError, `expected RequestProtocolError, got ${caught}`);
  return caught;
}

/** The args of each command as latin1 text, for readable assertions. */
function argsOf(cmds: RespCommand[]): string[][] {
  return cmds.map((c) => c.args.map((a) => a.toString("latin1")));
}

function bytewise(bytes: Buffer): Buffer[] {
  return Array.from(bytes, (byte) => Buffer.of(byte));
}

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point));
    from = point;
  }
  return chunks;
}

function assertProtocolError(
  run: () => unknown,
  code: RespErrorCode,
  offset?: number,
): RespProtocolError {
  const caught = thrown(run);
  assert.ok(caught instanceof RespProtocolError, `expected RespProtocolError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  if (offset !== undefined) assert.equal(caught.offset, offset, caught.message);
  return caught;
}

// ---------------------------------------------------------------------------------------------
// Arbitrary RESP values. Attributes only at the top level: anywhere else the decoder reports
// them out of line, so they would not round-trip in place.

const line = fc
  .oneof(fc.string({ unit: "grapheme", maxLength: 16 }), fc.string({ maxLength: 16 }))
  .filter((s) => !/[\r\n]/.test(s));
const bytes = fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const scalar: fc.Arbitrary<RespValue> = fc.oneof(
  line.map(simple),
  line.map(err),
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(int),
  fc.option(bytes).map(bulk),
  fc.constant(nil()),
  fc.boolean().map(bool),
  fc.double().map(double),
  fc.bigInt().map((value): RespValue => ({ type: "bignum", value })),
  fc.tuple(fc.stringMatching(/^[a-z]{3}$/), bytes).map(([format, text]) => verbatim(text, format)),
);

const { value: respValue } = fc.letrec<{ value: RespValue; aggregate: RespValue }>((tie) => ({
  value: fc.oneof({ maxDepth: 4, depthIdentifier: "resp" }, scalar, tie("aggregate")),
  aggregate: fc.oneof(
    fc.option(fc.array(tie("value"), { maxLength: 4 })).map(arr),
    fc.array(fc.tuple(tie("value"), tie("value")), { maxLength: 3 }).map(map),
    fc.array(tie("value"), { maxLength: 4 }).map((value): RespValue => ({ type: "set", value })),
    fc.array(tie("value"), { maxLength: 4 }).map((value): RespValue => ({ type: "push", value })),
  ),
}));

const topLevelValue: fc.Arbitrary<RespValue> = fc.oneof(
  { arbitrary: respValue, weight: 5 },
  {
    arbitrary: fc
      .array(fc.tuple(respValue, respValue), { maxLength: 2 })
      .map((value): RespValue => ({ type: "attribute", value })),
    weight: 1,
  },
);

// ---------------------------------------------------------------------------------------------

describe("ReplyDecoder: RESP2 types", () => {
  const cases: Array<[string, RespValue[]]> = [
    ["+OK\r\n", [simple("OK")]],
    ["+\r\n", [simple("")]],
    ["-ERR unknown command 'FOO'\r\n", [err("ERR unknown command 'FOO'")]],
    [":1000\r\n", [int(1000)]],
    [":-42\r\n", [int(-42)]],
    [":+7\r\n", [int(7)]],
    [":-9223372036854775808\r\n", [int(INT64_MIN)]],
    [":9223372036854775807\r\n", [int(INT64_MAX)]],
    ["$5\r\nhello\r\n", [bulk("hello")]],
    ["$0\r\n\r\n", [bulk("")]],
    ["$4\r\na\r\nb\r\n", [bulk("a\r\nb")]],
    ["$-1\r\n", [bulk(null)]],
    ["*-1\r\n", [arr(null)]],
    ["*0\r\n", [arr([])]],
    ["*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n", [arr([bulk("foo"), bulk("bar")])]],
    [
      "*3\r\n:1\r\n*2\r\n+a\r\n-b\r\n$-1\r\n",
      [arr([int(1), arr([simple("a"), err("b")]), bulk(null)])],
    ],
    ["+PONG\r\n:1\r\n", [simple("PONG"), int(1)]],
  ];
  for (const [wire, expected] of cases) {
    test(JSON.stringify(wire), () => {
      assert.deepEqual(decode(b(wire)), expected);
      assert.deepEqual(decodeChunks(bytewise(b(wire))), expected);
    });
  }

  test("a line ends at CRLF only: a bare LF is content", () => {
    assert.deepEqual(decode(b("+a\nb\r\n")), [simple("a\nb")]);
  });

  test("simple strings are UTF-8", () => {
    assert.deepEqual(decode(Buffer.from("+héllo ✓\r\n")), [simple("héllo ✓")]);
  });
});

describe("ReplyDecoder: RESP3 types", () => {
  const cases: Array<[string, RespValue[]]> = [
    ["_\r\n", [nil()]],
    ["#t\r\n", [bool(true)]],
    ["#f\r\n", [bool(false)]],
    [",1.5\r\n", [double(1.5)]],
    [",-0.25\r\n", [double(-0.25)]],
    [",1e3\r\n", [double(1000)]],
    [",10\r\n", [double(10)]],
    [",inf\r\n", [double(Number.POSITIVE_INFINITY)]],
    [",-inf\r\n", [double(Number.NEGATIVE_INFINITY)]],
    [",nan\r\n", [double(Number.NaN)]],
    [
      "(3492890328409238509324850943850943825024385\r\n",
      [{ type: "bignum", value: 3492890328409238509324850943850943825024385n }],
    ],
    ["(-1\r\n", [{ type: "bignum", value: -1n }]],
    ["!21\r\nSYNTAX invalid syntax\r\n", [err("SYNTAX invalid syntax")]],
    ["=15\r\ntxt:Some string\r\n", [verbatim("Some string", "txt")]],
    ["=4\r\nmkd:\r\n", [verbatim("", "mkd")]],
    [
      "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
      [
        map([
          [simple("first"), int(1)],
          [simple("second"), int(2)],
        ]),
      ],
    ],
    ["%0\r\n", [map([])]],
    ["~2\r\n+a\r\n:1\r\n", [{ type: "set", value: [simple("a"), int(1)] }]],
    [
      ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
      [{ type: "push", value: [bulk("message"), bulk("ch"), bulk("hi")] }],
    ],
    [
      "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*2\r\n:2039123\r\n:9543892\r\n",
      [
        {
          type: "attribute",
          value: [[simple("key-popularity"), map([[bulk("a"), double(0.1923)]])]],
        },
        arr([int(2039123), int(9543892)]),
      ],
    ],
    [
      // An attribute inside an aggregate takes no slot in it and is reported first.
      "*2\r\n|1\r\n+ttl\r\n:3600\r\n+a\r\n+b\r\n",
      [{ type: "attribute", value: [[simple("ttl"), int(3600)]] }, arr([simple("a"), simple("b")])],
    ],
    ["|0\r\n+x\r\n", [{ type: "attribute", value: [] }, simple("x")]],
  ];
  for (const [wire, expected] of cases) {
    test(JSON.stringify(wire), () => {
      assert.deepEqual(decode(b(wire)), expected);
      assert.deepEqual(decodeChunks(bytewise(b(wire))), expected);
    });
  }
});

describe("round trip", () => {
  test("decode(encodeValue(v, 3)) is v, for generated values", () => {
    fc.assert(
      fc.property(topLevelValue, (value) => {
        assert.deepEqual(decode(encodeValue(value, 3)), [value]);
      }),
      { numRuns: 500 },
    );
  });

  test("any split of a stream of values decodes like the whole stream", () => {
    fc.assert(
      fc.property(
        fc.array(topLevelValue, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 24 }),
        (values, cuts) => {
          const stream = Buffer.concat(values.map((v) => encodeValue(v, 3)));
          const whole = decode(stream);
          assert.deepEqual(whole, values);
          assert.deepEqual(decodeChunks(splitAt(stream, cuts)), whole);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("one byte per chunk decodes like the whole stream", () => {
    fc.assert(
      fc.property(fc.array(topLevelValue, { minLength: 1, maxLength: 4 }), (values) => {
        const stream = Buffer.concat(values.map((v) => encodeValue(v, 3)));
        assert.deepEqual(decodeChunks(bytewise(stream)), values);
      }),
      { numRuns: 100 },
    );
  });

  test("bufferedBytes counts the value in progress and returns to 0", () => {
    const decoder = new ReplyDecoder();
    assert.deepEqual(decoder.push(b("*2\r\n$5\r\nhel")), []);
    assert.equal(decoder.bufferedBytes, 11);
    assert.deepEqual(decoder.push(b("lo\r\n:1\r\n+PA")), [arr([bulk("hello"), int(1)])]);
    assert.equal(decoder.bufferedBytes, 3);
    assert.deepEqual(decoder.push(b("RTIAL\r\n")), [simple("PARTIAL")]);
    assert.equal(decoder.bufferedBytes, 0);
  });
});

describe("encodeValue for RESP2 clients downgrades like Redis", () => {
  const cases: Array<[RespValue, string]> = [
    [nil(), "$-1\r\n"],
    [bulk(null), "$-1\r\n"],
    [arr(null), "*-1\r\n"],
    [bool(true), ":1\r\n"],
    [bool(false), ":0\r\n"],
    [double(1.5), "$3\r\n1.5\r\n"],
    [double(Number.POSITIVE_INFINITY), "$3\r\ninf\r\n"],
    [double(Number.NEGATIVE_INFINITY), "$4\r\n-inf\r\n"],
    [double(Number.NaN), "$3\r\nnan\r\n"],
    [{ type: "bignum", value: 12345678901234567890n }, "$20\r\n12345678901234567890\r\n"],
    [verbatim("Some string"), "$11\r\nSome string\r\n"],
    [
      map([
        [bulk("a"), int(1)],
        [bulk("b"), nil()],
      ]),
      "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n$-1\r\n",
    ],
    [{ type: "set", value: [int(1), int(2)] }, "*2\r\n:1\r\n:2\r\n"],
    [{ type: "push", value: [bulk("message")] }, "*1\r\n$7\r\nmessage\r\n"],
    [{ type: "attribute", value: [[simple("ttl"), int(1)]] }, ""],
    [arr([{ type: "attribute", value: [[simple("ttl"), int(1)]] }, int(7)]), "*1\r\n:7\r\n"],
    [err("ERR x"), "-ERR x\r\n"],
    [{ type: "error", value: "ERR from a bulk error" }, "-ERR from a bulk error\r\n"],
  ];
  for (const [value, wire] of cases) {
    test(`${value.type} → ${JSON.stringify(wire)}`, () => {
      assert.equal(encodeValue(value, 2).toString("latin1"), wire);
    });
  }

  test("RESP3 forms of the same values", () => {
    assert.equal(encodeValue(nil(), 3).toString(), "_\r\n");
    assert.equal(encodeValue(bool(true), 3).toString(), "#t\r\n");
    assert.equal(encodeValue(double(-0), 3).toString(), ",-0\r\n");
    assert.equal(encodeValue(double(Number.NaN), 3).toString(), ",nan\r\n");
    assert.equal(encodeValue(verbatim("hi"), 3).toString(), "=6\r\ntxt:hi\r\n");
    assert.equal(encodeValue(err("ERR x"), 3).toString(), "-ERR x\r\n");
    assert.equal(
      encodeValue(
        arr([{ type: "attribute", value: [[simple("k"), int(1)]] }, int(7)]),
        3,
      ).toString(),
      "*1\r\n|1\r\n+k\r\n:1\r\n:7\r\n",
    );
  });

  test("CR and LF cannot inject a reply through a simple string or an error", () => {
    const injected = encodeValue(simple("OK\r\n+INJECTED"), 2);
    assert.equal(injected.toString(), "+OK  +INJECTED\r\n");
    assert.equal(decode(injected).length, 1);
    const error = encodeValue(err("ERR a\nb\rc"), 3);
    assert.equal(error.toString(), "-ERR a b c\r\n");
    assert.equal(decode(error).length, 1);
  });

  test("HELLO 3's map reply, downgraded, is the flat array RESP2 clients get", () => {
    const hello = b("%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*0\r\n");
    const [value] = decode(hello);
    assert.equal(encodeValue(value!, 3).toString("latin1"), hello.toString("latin1"));
    assert.equal(
      encodeValue(value!, 2).toString("latin1"),
      "*4\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*0\r\n",
    );
  });

  test("invalid values are refused, not encoded ambiguously", () => {
    assert.throws(() => encodeValue(verbatim("x", "text"), 3), RangeError);
    assert.throws(
      () => encodeValue(map([[{ type: "attribute", value: [] }, int(1)]]), 3),
      TypeError,
    );
    assert.throws(() => int(1.5), RangeError);
  });
});

describe("ReplyDecoder: hostile input", () => {
  test("a 2^40 bulk header is rejected at the header, before any payload", () => {
    const decoder = new ReplyDecoder();
    assertProtocolError(() => decoder.push(b("$1099511627776\r\n")), "bulk_too_large", 1);
    assert.equal(decoder.bufferedBytes, 0);
    assertProtocolError(() => decode(b("$1048577\r\n")), "bulk_too_large");
    assertProtocolError(() => decode(b("!1048577\r\n")), "bulk_too_large");
    assertProtocolError(() => decode(b("=99999999999999999999999\r\n")), "bulk_too_large");
    assert.deepEqual(decode(b("$1048576\r\n")), [], "the limit itself is allowed");
  });

  test("a bulk announced at the limit but never sent holds only what arrived", () => {
    const decoder = new ReplyDecoder();
    decoder.push(b("$1048576\r\n"));
    decoder.push(Buffer.alloc(100, 0x61));
    assert.equal(decoder.bufferedBytes, 110);
  });

  for (const chunkSize of [Number.POSITIVE_INFINITY, 64 * 1024]) {
    test(`nesting depth 10^6 is too_deep at depth 33 (chunks of ${chunkSize} bytes)`, () => {
      const nest = Buffer.from("*1\r\n".repeat(1_000_000));
      const decoder = new ReplyDecoder();
      const error = assertProtocolError(() => {
        for (let p = 0; p < nest.length; p += chunkSize) {
          decoder.push(nest.subarray(p, Math.min(nest.length, p + chunkSize)));
        }
      }, "too_deep");
      assert.equal(error.offset, DEFAULT_REPLY_LIMITS.maxDepth * 4, "at the first header too deep");
    });
  }

  test("maxElements also bounds the values held across nested aggregates", () => {
    // 40 arrays of 30 elements each: every aggregate is within 64, the reply is not.
    const inner = `*30\r\n${":1\r\n".repeat(30)}`;
    const wire = b(`*40\r\n${inner.repeat(40)}`);
    assert.throws(
      () => decode(wire, { maxElements: 64 }),
      (e: unknown) => e instanceof RespProtocolError && e.code === "too_many_elements",
    );
    // The same reply fits when the budget covers it, and the count restarts per reply.
    const twice = Buffer.concat([wire, wire]);
    assert.equal(decode(twice, { maxElements: 40 * 31 }).length, 2);
  });

  test("with the depth limit lifted, 10^6 levels decode and encode without recursion", () => {
    const depth = 1_000_000;
    const wire = Buffer.concat([Buffer.from("*1\r\n".repeat(depth)), b(":1\r\n")]);
    const values = decode(wire, { maxDepth: depth, maxElements: depth + 1 });
    assert.equal(values.length, 1);
    let node = values[0]!;
    let levels = 0;
    while (node.type === "array") {
      levels++;
      node = node.value![0]!;
    }
    assert.equal(levels, depth);
    assert.deepEqual(node, int(1));
    assert.ok(encodeValue(values[0]!, 3).equals(wire));
  });

  test("an endless line fed one byte at a time fails at maxLineBytes, holding no more", () => {
    const max = DEFAULT_REPLY_LIMITS.maxLineBytes;
    const decoder = new ReplyDecoder();
    decoder.push(b("+"));
    const byte = b("A");
    let fed = 1;
    const error = assertProtocolError(() => {
      for (; fed < 10 * 1024 * 1024; fed++) {
        decoder.push(byte);
        assert.ok(decoder.bufferedBytes <= max + 2, `${decoder.bufferedBytes} bytes buffered`);
      }
    }, "line_too_long");
    assert.equal(fed, max + 1, "fails on the first byte past the limit");
    assert.equal(error.offset, 1 + max);
    assert.equal(decoder.bufferedBytes, 0, "a dead decoder holds nothing");
  });

  test("an endless line in one large chunk fails at once", () => {
    const chunk = Buffer.alloc(10 * 1024 * 1024, 0x41);
    chunk[0] = 0x2d; // '-'
    assertProtocolError(
      () => decode(chunk),
      "line_too_long",
      1 + DEFAULT_REPLY_LIMITS.maxLineBytes,
    );
    assertProtocolError(
      () => decode(b(`:${"1".repeat(100)}`), { maxLineBytes: 20 }),
      "line_too_long",
      21,
    );
  });

  test("a line exactly at the limit is accepted, even split before its LF", () => {
    const text = "x".repeat(16);
    assert.deepEqual(decodeChunks([b(`+${text}\r`), b("\n")], { maxLineBytes: 16 }), [
      simple(text),
    ]);
    assertProtocolError(() => decode(b(`+${text}x\r\n`), { maxLineBytes: 16 }), "line_too_long");
  });

  const banners: Array<[string, string]> = [
    ["HTTP", "HTTP/1.1 400 Bad Request\r\n\r\n"],
    ["TLS", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1"],
    ["SSH", "SSH-2.0-OpenSSH_8.9p1\r\n"],
    ["SMTP", "220 mail.example.com ESMTP\r\n"],
    ["NUL", "\x00"],
    ["CRLF", "\r\n"],
  ];
  for (const [name, banner] of banners) {
    test(`a ${name} banner is invalid_type at offset 0`, () => {
      assertProtocolError(() => decode(b(banner)), "invalid_type", 0);
      assertProtocolError(() => decodeChunks(bytewise(b(banner))), "invalid_type", 0);
    });
  }

  test("an invalid type byte later in the stream reports its own offset", () => {
    const decoder = new ReplyDecoder();
    assert.deepEqual(decoder.push(b("+OK\r\n")), [simple("OK")]);
    assertProtocolError(() => decoder.push(b("*2\r\n:1\r\nHTTP")), "invalid_type", 13);
  });

  test("aggregate counts above maxElements are rejected at the header", () => {
    assertProtocolError(() => decode(b("*99999999999\r\n")), "too_many_elements", 1);
    assertProtocolError(() => decode(b("*100001\r\n")), "too_many_elements");
    assertProtocolError(() => decode(b("~100001\r\n")), "too_many_elements");
    assertProtocolError(() => decode(b("%50001\r\n")), "too_many_elements", 1);
    assertProtocolError(() => decode(b("|50001\r\n")), "too_many_elements");
    const decoder = new ReplyDecoder();
    assert.deepEqual(decoder.push(b("*100000\r\n%50000\r\n")), []);
    assert.equal(decoder.bufferedBytes, 17, "a large count allocates nothing up front");
  });

  const badLengths = [
    "$1x\r\n",
    "$ 5\r\n",
    "$5 \r\n",
    "$-2\r\n",
    "$\r\n",
    "$?\r\n",
    "*?\r\n",
    "$05\r\n",
    "$+5\r\n",
    "$-0\r\n",
    "$0x10\r\n",
    "*-2\r\n",
    "*1.5\r\n",
    "%-1\r\n",
    "~-1\r\n",
    ">-1\r\n",
    "|-1\r\n",
    "!-1\r\n",
    "=-1\r\n",
    "=3\r\nabc\r\n",
    "=5\r\nabcde\r\n",
  ];
  for (const wire of badLengths) {
    test(`bad length ${JSON.stringify(wire)}`, () => {
      assertProtocolError(() => decode(b(wire)), "bad_length");
    });
  }

  const badValues: Array<[string, RespErrorCode]> = [
    [":abc\r\n", "bad_integer"],
    [":\r\n", "bad_integer"],
    [":-\r\n", "bad_integer"],
    [":1.5\r\n", "bad_integer"],
    [": 1\r\n", "bad_integer"],
    [":9223372036854775808\r\n", "bad_integer"],
    [":-9223372036854775809\r\n", "bad_integer"],
    [":123456789012345678901234567890\r\n", "bad_integer"],
    ["#x\r\n", "bad_integer"],
    ["#tt\r\n", "bad_integer"],
    ["#\r\n", "bad_integer"],
    [",abc\r\n", "bad_integer"],
    [",1e\r\n", "bad_integer"],
    [",\r\n", "bad_integer"],
    [",infinity\r\n", "bad_integer"],
    ["(1.5\r\n", "bad_integer"],
    ["(\r\n", "bad_integer"],
    ["_x\r\n", "bad_terminator"],
    ["$3\r\nabcX\r\n", "bad_terminator"],
    ["$3\r\nabc\rX", "bad_terminator"],
    ["+OK\rX", "bad_terminator"],
    ["+OK\n\r\n+x\r\r\n", "bad_terminator"],
  ];
  for (const [wire, code] of badValues) {
    test(`${code} ${JSON.stringify(wire)}`, () => {
      assertProtocolError(() => decode(b(wire)), code);
      assertProtocolError(() => decodeChunks(bytewise(b(wire))), code);
    });
  }

  test("integers with leading zeros are read; int64 bounds hold", () => {
    assert.deepEqual(decode(b(":007\r\n:-0000000000000000000001\r\n")), [int(7), int(-1)]);
  });

  test("a dead decoder keeps throwing the same error", () => {
    const decoder = new ReplyDecoder();
    const first = assertProtocolError(() => decoder.push(b("$-2\r\n")), "bad_length");
    for (const next of ["+OK\r\n", "", "\r\n"]) {
      assert.throws(
        () => decoder.push(b(next)),
        (e) => e === first,
      );
    }
  });

  test("a large bulk in many chunks is assembled in linear time", () => {
    const size = 1024 * 1024;
    const payload = Buffer.alloc(size);
    for (let k = 0; k < size; k++) payload[k] = k % 251;
    const wire = Buffer.concat([b(`$${size}\r\n`), payload, b("\r\n")]);
    const started = Date.now();
    const bySmallChunks = decodeChunks(
      splitAt(
        wire,
        Array.from({ length: 1024 }, (_, k) => k * 1031),
      ),
    );
    const byBytes = decodeChunks(bytewise(wire));
    assert.ok(Date.now() - started < 10_000, "a quadratic decoder would take minutes here");
    assert.deepEqual(bySmallChunks, [bulk(payload)]);
    assert.deepEqual(byBytes, [bulk(payload)]);
  });

  test("a bulk inside one chunk is a view of it, not a copy", () => {
    const chunk = Buffer.alloc(11); // not from the shared pool, so `.buffer` identifies it
    chunk.write("$5\r\nhello\r\n", "latin1");
    const [value] = decode(chunk);
    assert.ok(value?.type === "bulk" && value.value !== null);
    assert.equal(value.value.buffer, chunk.buffer);
  });

  test("limits are validated", () => {
    assert.throws(() => new ReplyDecoder({ maxDepth: -1 }), RangeError);
    assert.throws(() => new RequestDecoder({ maxInlineBytes: Number.NaN }), RangeError);
    assert.throws(() => new RequestDecoder({ argPrefixBytes: -1 }), RangeError);
    assert.deepEqual(decode(b("*1\r\n:1\r\n"), { maxDepth: undefined }), [arr([int(1)])]);
  });
});

describe("RequestDecoder", () => {
  test("multibulk and inline commands, pipelined", () => {
    const cmds = commands("*2\r\n$4\r\nECHO\r\n$3\r\na b\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n");
    assert.deepEqual(argsOf(cmds), [["ECHO", "a b"], ["PING"], ["QUIT"]]);
    assert.deepEqual(
      cmds.map((c) => [c.inline, c.bytes]),
      [
        [false, 23],
        [true, 6],
        [false, 14],
      ],
    );
  });

  test("*0 and negative counts yield no command, like Redis", () => {
    assert.deepEqual(commands("*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n").length, 1);
  });

  test("an empty bulk argument", () => {
    assert.deepEqual(argsOf(commands("*2\r\n$3\r\nGET\r\n$0\r\n\r\n")), [["GET", ""]]);
  });

  test("the two bytes after a bulk are skipped unread, as Redis does", () => {
    assert.deepEqual(argsOf(commands("*1\r\n$3\r\nabcXY*1\r\n$4\r\nPING\r\n")), [
      ["abc"],
      ["PING"],
    ]);
  });

  test("arguments are copies: reusing a chunk does not change them", () => {
    const chunk = b("*1\r\n$4\r\nPING\r\nECHO x\r\n");
    const cmds = commands(chunk);
    chunk.fill(0x58);
    assert.deepEqual(argsOf(cmds), [["PING"], ["ECHO", "x"]]);
    // A request cut across chunks, the first chunk reused before the rest arrives.
    const decoder = new RequestDecoder();
    const first = b("*2\r\n$4\r\nECHO\r\n$3\r\nab");
    assert.deepEqual(decoder.push(first), []);
    first.fill(0x58);
    assert.deepEqual(argsOf(decoder.push(b("c\r\n"))), [["ECHO", "abc"]]);
  });

  const inline: Array<[string, string[][]]> = [
    ['SET a "b c"\r\n', [["SET", "a", "b c"]]],
    ["GET 'it\\'s'\r\n", [["GET", "it's"]]],
    ['ECHO "\\x41"\r\n', [["ECHO", "A"]]],
    ['ECHO "\\x4"\r\n', [["ECHO", "x4"]]],
    ['ECHO "\\xzz"\r\n', [["ECHO", "xzz"]]],
    ['ECHO "a\\n\\r\\t\\b\\a\\\\\\"\\qb"\r\n', [["ECHO", 'a\n\r\t\b\x07\\"qb']]],
    ["ECHO 'a\\nb\\\\x'\r\n", [["ECHO", "a\\nb\\\\x"]]],
    ['ECHO ab"cd ef"\r\n', [["ECHO", "abcd ef"]]],
    ["ECHO \"\" ''\r\n", [["ECHO", "", ""]]],
    ["PING\n", [["PING"]]],
    ["PING\r\n", [["PING"]]],
    ["PING\r\r\n", [["PING"]]],
    ["  PING   \t x \r\n", [["PING", "x"]]],
    ["\r\n\n   \r\nPING\r\n", [["PING"]]],
    // Redis's strchr stops at the NUL: the line never ends, nothing runs (7.0.15: no reply).
    ["SET a\x00junk b\r\nPING\r\n", []],
    ["ECHO a\x0bb\r\n", [["ECHO", "a\x0bb"]]],
    ["\x0bPING\r\n", [["PING"]]],
    [
      "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
      [
        ["GET", "/", "HTTP/1.1"],
        ["Host:", "x"],
      ],
    ],
  ];
  for (const [wire, expected] of inline) {
    test(`inline ${JSON.stringify(wire)}`, () => {
      assert.deepEqual(argsOf(commands(wire)), expected);
      const decoder = new RequestDecoder();
      const byBytes = bytewise(b(wire)).flatMap((chunk) => decoder.push(chunk));
      assert.deepEqual(argsOf(byBytes), expected);
      assert.ok(byBytes.every((c) => c.inline));
    });
  }

  for (const wire of [
    'ECHO "abc\r\n',
    "ECHO 'abc\r\n",
    'ECHO "a"b\r\n',
    "ECHO 'a'b\r\n",
    'ECHO "a\\"\r\n',
    "ECHO 'a\\'\r\n",
  ]) {
    test(`unbalanced quotes ${JSON.stringify(wire)}`, () => {
      const error = protocolError(() => commands(`PING\r\n${wire}`));
      assert.equal(error.message, "Protocol error: unbalanced quotes in request");
      assert.equal(error.offset, 6);
    });
  }

  test("splitArgs mirrors sdssplitargs directly", () => {
    assert.deepEqual(splitArgs(b("a \"b c\" 'd'")), [b("a"), b("b c"), b("d")]);
    assert.equal(splitArgs(b('"open')), null);
    assert.deepEqual(splitArgs(b("   ")), []);
  });

  /** Redis's own texts (networking.c), the offset of the line that broke the protocol. */
  const errors: Array<[string, string, number]> = [
    ["*1\r\n*1\r\n", "Protocol error: expected '$', got '*'", 4],
    ["*1\r\n:1\r\n", "Protocol error: expected '$', got ':'", 4],
    ["*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'", 4],
    ["*2\r\n$1\r\na\r\n+b\r\n", "Protocol error: expected '$', got '+'", 11],
    // The byte itself, as Redis prints it with %c; CR and LF become spaces.
    ["*1\r\n\x16abc\r\n", "Protocol error: expected '$', got '\x16'", 4],
    ["*1\r\n\xe9abc\r\n", "Protocol error: expected '$', got '\xe9'", 4],
    ["*1\r\n\rabc\r\n", "Protocol error: expected '$', got ' '", 4],
    // string2ll: no leading zero, no '+', no "-0".
    ["*01\r\n$4\r\nPING\r\n", "Protocol error: invalid multibulk length", 0],
    ["*+1\r\n$4\r\nPING\r\n", "Protocol error: invalid multibulk length", 0],
    ["*-0\r\n", "Protocol error: invalid multibulk length", 0],
    ["*1\r\n$04\r\nPING\r\n", "Protocol error: invalid bulk length", 4],
    ["*1\r\n$-0\r\n", "Protocol error: invalid bulk length", 4],
    ["*1\r\n$-1\r\n", "Protocol error: invalid bulk length", 4],
    ["*1\r\n$-5\r\n", "Protocol error: invalid bulk length", 4],
    ["*1\r\n$\r\n", "Protocol error: invalid bulk length", 4],
    ["*1\r\n$x\r\n", "Protocol error: invalid bulk length", 4],
    ["*1\r\n$536870913\r\n", "Protocol error: invalid bulk length", 4],
    ["*1\r\n$1099511627776\r\n", "Protocol error: invalid bulk length", 4],
    ["*1x\r\n", "Protocol error: invalid multibulk length", 0],
    ["*\r\n", "Protocol error: invalid multibulk length", 0],
    ["*abc\r\n", "Protocol error: invalid multibulk length", 0],
    ["*1048577\r\n", "Protocol error: invalid multibulk length", 0],
    ["*99999999999\r\n", "Protocol error: invalid multibulk length", 0],
    ["PING\r\n*a\r\n", "Protocol error: invalid multibulk length", 6],
  ];
  for (const [wire, message, offset] of errors) {
    test(`${message} ${JSON.stringify(wire)}`, () => {
      const whole = requests([b(wire)]);
      assert.equal(whole.error, message);
      assert.equal(whole.offset, offset);
      assert.deepEqual(requests(bytewise(b(wire))), whole, "the same, fed byte by byte");
      const decoder = new RequestDecoder();
      assert.throws(() => decoder.push(b(wire)), RequestProtocolError);
      assert.throws(() => decoder.push(b("PING\r\n")), RequestProtocolError, "dead");
    });
  }

  test("the requests before a protocol error are handed out with it", () => {
    assert.deepEqual(argsOf(requests([b("PING\r\nECHO a\r\n*1\r\n$x\r\n")]).commands), [
      ["PING"],
      ["ECHO", "a"],
    ]);
  });

  test("an endless inline line fed byte by byte fails past 64 KB (too big inline request)", () => {
    const max = REDIS_REQUEST_LIMITS.maxInlineBytes;
    const decoder = new RequestDecoder();
    const byte = b("A");
    let fed = 0;
    const error = protocolError(() => {
      for (; fed < 10 * 1024 * 1024; fed++) {
        decoder.push(byte);
        assert.ok(decoder.bufferedBytes <= max + 1);
      }
    });
    assert.equal(fed, max);
    assert.equal(error.offset, 0);
    assert.equal(error.message, "Protocol error: too big inline request");
  });

  test("an inline line is too big only while it has no end: its line break is not counted", () => {
    const max = 32;
    for (const ending of ["\n", "\r\n"]) {
      // Read a byte at a time, a "\r" waiting for its "\n" counts, as in Redis's query buffer.
      const text = "A".repeat(max - ending.length + 1);
      const decoder = new RequestDecoder({ maxInlineBytes: max });
      const cmds = bytewise(b(text + ending)).flatMap((chunk) => decoder.push(chunk));
      assert.deepEqual(argsOf(cmds), [[text]]);
      // Whole in one read, a longer line is taken too, as Redis takes a line it finds the
      // end of (7.0.15 answers a 65,537-byte line read at once).
      assert.deepEqual(argsOf(commands(`A${text}${ending}`, { maxInlineBytes: max })), [
        [`A${text}`],
      ]);
      const more = new RequestDecoder({ maxInlineBytes: max });
      assert.equal(
        protocolError(() => bytewise(b(`A${text}${ending}`)).flatMap((c) => more.push(c))).message,
        "Protocol error: too big inline request",
      );
    }
  });

  test("headers end at their \\r as Redis's strchr finds it; a NUL before it never ends them", () => {
    // 7.0.15: `*1\n$4\r\n` is the header "*1\n$4", an invalid count.
    assert.equal(
      protocolError(() => commands("*1\n$4\r\nPING\r\n")).message,
      "Protocol error: invalid multibulk length",
    );
    // The byte after the \r is skipped whatever it is.
    assert.deepEqual(argsOf(commands("*1\rX$4\rXPING\r\n")), [["PING"]]);
    // An empty bulk header: Redis saw the \r where the $ should be (printed as a space).
    assert.equal(
      protocolError(() => commands("*1\r\n\r\n")).message,
      "Protocol error: expected '$', got ' '",
    );
    // A NUL: nothing, however long it waits; past 64 KB the count is too big.
    for (const chunks of [
      [b("*1\r\n$4\x00\r\nPING\r\n")],
      bytewise(b("*1\r\n$4\x00\r\nPING\r\n")),
    ]) {
      const decoder = new RequestDecoder();
      assert.deepEqual(
        chunks.flatMap((c) => decoder.push(c)),
        [],
      );
    }
    const stuck = new RequestDecoder();
    stuck.push(b("*1\x00\r\n"));
    assert.equal(
      protocolError(() => stuck.push(Buffer.alloc(64 * 1024, 0x41))).message,
      "Protocol error: too big mbulk count string",
    );
    // Split anywhere, the same requests.
    const wire = b("*1\r\n$4\r\nPING\r\n*2\rX$4\rXECHO\r\n$1\r\nx\r\n");
    for (let cut = 1; cut < wire.length; cut++) {
      const decoder = new RequestDecoder();
      const got = [wire.subarray(0, cut), wire.subarray(cut)].flatMap((c) => decoder.push(c));
      assert.deepEqual(argsOf(got), [["PING"], ["ECHO", "x"]], `cut at ${cut}`);
    }
  });

  test("an endless multibulk or bulk count fails past 64 KB", () => {
    const ones = Buffer.alloc(64 * 1024 + 1, 0x31);
    assert.equal(
      protocolError(() => commands(Buffer.concat([b("*"), ones]))).message,
      "Protocol error: too big mbulk count string",
    );
    assert.equal(
      protocolError(() => commands(Buffer.concat([b("*1\r\n$"), ones]))).message,
      "Protocol error: too big bulk count string",
    );
  });

  test("a large argument in many chunks, bounded by what arrived", () => {
    const size = 256 * 1024;
    const wire = Buffer.concat([
      b(`*2\r\n$3\r\nSET\r\n$${size}\r\n`),
      Buffer.alloc(size, 0x7a),
      b("\r\n"),
    ]);
    const decoder = new RequestDecoder();
    const cmds: RespCommand[] = [];
    for (let p = 0; p < wire.length; p += 1000) {
      cmds.push(...decoder.push(wire.subarray(p, p + 1000)));
      if (cmds.length === 0) assert.equal(decoder.bufferedBytes, Math.min(p + 1000, wire.length));
    }
    assert.equal(cmds.length, 1);
    assert.equal(cmds[0]!.args[1]!.length, size);
    assert.equal(cmds[0]!.cut, undefined, "kept whole");
    assert.equal(decoder.bufferedBytes, 0);
  });

  test("any split of a mixed RESP / inline stream decodes like the whole", () => {
    const word = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 12 }),
      fc.string({
        unit: fc.constantFrom(
          " ",
          '"',
          "'",
          "\\",
          "a",
          "\t",
          "\n",
          "\r",
          "\0",
          "x",
          "*",
          "\v",
          "é",
        ),
        maxLength: 12,
      }),
    );
    const command = fc.oneof(
      fc.array(bytes, { minLength: 1, maxLength: 5 }).map((args) => {
        const wire = encodeCommand(args);
        return { wire, expected: [{ args, inline: false, bytes: wire.length }] };
      }),
      fc.array(word, { minLength: 1, maxLength: 5 }).map((args) => {
        const wire = encodeInline(args);
        return {
          wire,
          expected: [{ args: args.map((a) => Buffer.from(a)), inline: true, bytes: wire.length }],
        };
      }),
      fc
        .constantFrom("\r\n", "\n", "  \r\n", "*0\r\n", "*-1\r\n")
        .map((wire) => ({ wire: b(wire), expected: [] as RespCommand[] })),
    );
    fc.assert(
      fc.property(
        fc.array(command, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 24 }),
        (cmds, cuts) => {
          const stream = Buffer.concat(cmds.map((c) => c.wire));
          const expected = cmds.flatMap((c) => c.expected);
          assert.deepEqual(commands(stream), expected);
          const decoder = new RequestDecoder();
          const chunked = splitAt(stream, cuts).flatMap((chunk) => decoder.push(chunk));
          assert.deepEqual(chunked, expected);
          assert.equal(decoder.bufferedBytes, 0);
          const byteDecoder = new RequestDecoder();
          assert.deepEqual(
            bytewise(stream).flatMap((chunk) => byteDecoder.push(chunk)),
            expected,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a request read in one pass reads as one fed byte by byte, even when broken", () => {
    const plain = (r: ReturnType<typeof requests>): unknown => ({
      ...r,
      commands: r.commands.map((c) => ({ ...c, args: c.args.map((a) => a.toString("hex")) })),
    });
    // Valid requests with a byte replaced, dropped or inserted here and there: `\r` missing,
    // `$` wrong, a sign or a space in a count, a length that does not match.
    const noise = fc.constantFrom(..."*$\r\n-+ 0179aZ".split("").map((c) => c.charCodeAt(0)));
    for (const options of [{}, { argPrefixBytes: 16 }]) {
      fc.assert(
        fc.property(
          fc.array(fc.array(fc.uint8Array({ maxLength: 24 }), { minLength: 1, maxLength: 4 }), {
            minLength: 1,
            maxLength: 4,
          }),
          fc.array(fc.tuple(fc.nat(), fc.nat(2), noise), { maxLength: 3 }),
          (cmds, edits) => {
            const bytes = [...Buffer.concat(cmds.map((c) => encodeCommand(c.map(Buffer.from))))];
            for (const [at, op, byte] of edits) {
              const i = at % (bytes.length + 1);
              if (op === 0) bytes[i] = byte;
              else if (op === 1) bytes.splice(i, 1);
              else bytes.splice(i, 0, byte);
            }
            const stream = Buffer.from(bytes);
            assert.deepEqual(
              plain(requests([stream], options)),
              plain(requests(bytewise(stream), options)),
            );
          },
        ),
        { numRuns: 1000 },
      );
    }
  });
});

describe("RequestDecoder: recording mode (a prefix of each argument, its length and hash)", () => {
  const sha256 = (a: Buffer): string => createHash("sha256").update(a).digest("hex");

  test("any chunking gives the same commands; long arguments are cut, counted and hashed", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 5 }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (cmds, cuts) => {
          const bufs = cmds.map((c) => c.map((a) => Buffer.from(a)));
          const stream = Buffer.concat(bufs.map((c) => encodeCommand(c)));
          const decoder = new RequestDecoder({ argPrefixBytes: 16 });
          const got = splitAt(stream, cuts).flatMap((chunk) => decoder.push(chunk));
          assert.equal(got.length, bufs.length);
          for (const [k, cmd] of got.entries()) {
            const want = bufs[k]!;
            assert.equal(cmd.inline, false);
            assert.deepEqual(
              cmd.args,
              want.map((w) => w.subarray(0, 16)),
            );
            const cut = want.some((w) => w.length > 16);
            assert.deepEqual(
              cmd.cut,
              cut
                ? {
                    lengths: want.map((w) => w.length),
                    sha256: want.map((w) => (w.length > 16 ? sha256(w) : undefined)),
                  }
                : undefined,
            );
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

  test("a 64 MB argument costs its prefix: nothing else is kept", () => {
    const decoder = new RequestDecoder({ argPrefixBytes: 16 });
    const out: RespCommand[] = [];
    const size = 64 * 1024 * 1024;
    decoder.push(b(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${size}\r\n`), out);
    const block = Buffer.alloc(1024 * 1024, 0x41);
    const h = createHash("sha256");
    for (let i = 0; i < 64; i++) {
      decoder.push(block, out);
      h.update(block);
    }
    decoder.push(b("\r\n"), out);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.args[2]!.length, 16);
    assert.deepEqual(out[0]!.cut, {
      lengths: [3, 1, size],
      sha256: [undefined, undefined, h.digest("hex")],
    });
  });

  test("inline commands: split as Redis splits them, then cut the same way", () => {
    const long = "x".repeat(40);
    const [cmd] = commands(`SET k "a b\\x41${long}"\r\n`, { argPrefixBytes: 16 });
    assert.deepEqual(argsOf([cmd!]), [["SET", "k", `a bA${long}`.slice(0, 16)]]);
    assert.deepEqual(cmd!.cut, {
      lengths: [3, 1, 44],
      sha256: [undefined, undefined, sha256(b(`a bA${long}`))],
    });
  });

  test("what a request holds between reads is drawn from the account, and given back", () => {
    let held = 0;
    const account = {
      take: (n: number) => {
        if (held + n > 4096) return false;
        held += n;
        return true;
      },
      give: (n: number) => {
        held -= n;
      },
    };
    const decoder = new RequestDecoder({ argPrefixBytes: 1024, account });
    const out = decoder.push(b("*2\r\n$3\r\nSET\r\n$3000\r\n"));
    decoder.push(Buffer.alloc(3000, 0x61), out);
    assert.ok(held >= 1024, "the prefix is held while the request arrives");
    decoder.push(b("\r\n"), out);
    assert.equal(out.length, 1);
    decoder.release();
    assert.equal(held, 0, "released once the request is done with");
    // A partial line held past the account's room: the decoder stops reading.
    const greedy = new RequestDecoder({ argPrefixBytes: 1024, account });
    assert.throws(() => greedy.push(Buffer.alloc(5000, 0x61)), /query buffer limit/);
    assert.equal(held, 0, "nothing stays held by a dead decoder");
  });
});

describe("command encoders", () => {
  test("encodeCommand writes a RESP array of bulk strings", () => {
    assert.equal(encodeCommand(["PING"]).toString(), "*1\r\n$4\r\nPING\r\n");
    assert.equal(
      encodeCommand(["SET", "é", Buffer.from([0, 13, 10])]).toString("latin1"),
      "*3\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$3\r\n\x00\r\n\r\n",
    );
    assert.equal(encodeCommand([]).toString(), "*0\r\n");
  });

  test("encodeInline quotes what would not survive a split", () => {
    assert.equal(encodeInline(["PING"]).toString(), "PING\r\n");
    assert.equal(encodeInline(["SET", "a b", ""]).toString(), 'SET "a b" ""\r\n');
    assert.equal(encodeInline(["ECHO", 'say "hi"\n']).toString(), 'ECHO "say \\"hi\\"\\n"\r\n');
    assert.equal(encodeInline(["ECHO", "é"]).toString(), 'ECHO "\\xc3\\xa9"\r\n');
    assert.equal(encodeInline(["ECHO", "back\\slash"]).toString(), "ECHO back\\slash\r\n");
    assert.equal(
      encodeInline(["*1", "*1"]).toString(),
      '"*1" *1\r\n',
      "a leading * would be multibulk",
    );
  });
});

describe("real server replies (data/replies)", () => {
  const dir = repliesDir();
  assert.ok(existsSync(dir), "data/replies is missing");

  interface Probe {
    probe: string;
    request_b64: string;
    reply_b64: string;
  }
  const files = readdirSync(dir).filter((name) => name.endsWith(".json"));
  assert.ok(files.length > 0);

  for (const name of files) {
    const fixture = JSON.parse(readFileSync(join(dir, name), "utf8")) as { probes: Probe[] };
    test(name, () => {
      for (const probe of fixture.probes) {
        const reply = Buffer.from(probe.reply_b64, "base64");
        const what = `${name} ${probe.probe}`;

        const values = decode(reply);
        const lines = reply.toString("latin1").split("\r\n").length - 1;
        const expected = probe.probe === "http_get" ? lines : reply.length === 0 ? 0 : 1;
        assert.equal(values.length, expected, what);
        assert.deepEqual(decodeChunks(bytewise(reply)), values, what);

        // Redis's replies are canonical: re-encoding gives the same bytes.
        const resp3 = Buffer.concat(values.map((v) => encodeValue(v, 3)));
        assert.ok(resp3.equals(reply), what);
        if (!values.some((v) => v.type === "map")) {
          const resp2 = Buffer.concat(values.map((v) => encodeValue(v, 2)));
          assert.ok(resp2.equals(reply), what);
        }

        const request = Buffer.from(probe.request_b64, "base64");
        const cmds = new RequestDecoder().push(request);
        assert.ok(cmds.length >= 1, what);
        if (request[0] === 0x2a) {
          assert.equal(cmds.length, 1, what);
          assert.ok(encodeCommand(cmds[0]!.args).equals(request), what);
        }
      }
    });
  }

  test("what the probes asked, as a server reads it", () => {
    const probes = JSON.parse(readFileSync(join(dir, files[0]!), "utf8")) as { probes: Probe[] };
    const asked = (probe: string) =>
      argsOf(
        new RequestDecoder().push(
          Buffer.from(probes.probes.find((p) => p.probe === probe)!.request_b64, "base64"),
        ),
      );
    assert.deepEqual(asked("unknown_cmd"), [["FOOBAR", "a", "b c"]]);
    assert.deepEqual(asked("inline_ping"), [["PING"]]);
    assert.deepEqual(asked("http_get"), [
      ["GET", "/", "HTTP/1.1"],
      ["Host:", "x"],
    ]);
    assert.equal(asked("big_unauth_multibulk")[0]!.length, 11);
  });
});

describe("values completed before a protocol error", () => {
  test("are handed over on the error, whatever the chunking", () => {
    const wire = b("+OK\r\n-DENIED protected\r\nHTTP/1.1 400\r\n");
    for (const size of [1, 3, wire.length]) {
      const dec = new ReplyDecoder();
      const got: RespValue[] = [];
      let error: RespProtocolError | undefined;
      for (let i = 0; i < wire.length && !error; i += size) {
        try {
          got.push(...dec.push(wire.subarray(i, i + size)));
        } catch (e) {
          assert.ok(e instanceof RespProtocolError);
          error = e;
          got.push(...(e.partial as RespValue[]));
        }
      }
      assert.equal(error?.code, "invalid_type");
      assert.deepEqual(got, [
        { type: "simple", value: "OK" },
        { type: "error", value: "DENIED protected" },
      ]);
    }
  });
});
