/**
 * classify/exchange.ts: the state taxonomy over whole exchanges. Recorded server bytes (data/replies)
 * are decoded with the project's ReplyDecoder and replayed as the exchange our probe (PING,
 * HELLO 3, INFO, QUIT) would see; hostile servers are held to the same bounds.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import {
  classifyExchange,
  type Exchange,
  parseInfo,
  peerKind,
  serverFactsFromInfo,
  versionHint,
} from "../src/classify/index.js";
import { encodeValue } from "../src/resp/index.js";
import type { RespValue } from "../src/resp/types.js";
import { safeText } from "../src/untrusted/text.js";
import {
  assertOpenFixture,
  bulk,
  DENIED_72,
  EXPECTED_HINT,
  empty,
  err,
  FIXTURES,
  facts,
  fromBytes,
  fromReplies,
  helloMap,
  info,
  int,
  loadFixture,
  OK,
  PONG,
  probeBytes,
  reply,
  simple,
  verbatim,
} from "./helpers/classify.js";

describe("recorded fixtures replayed as the probe sees them", () => {
  const files = readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .sort();

  it("has the fixture set", () => {
    assert.equal(files.length, 17);
  });

  for (const file of files) {
    const fx = loadFixture(file);
    it(`${file}: ${fx.config}`, () => {
      const closedByPeer = true;
      const ex = fromBytes(probeBytes(fx), { closedByPeer });
      assert.equal(ex.protocolError, undefined);
      const c = classifyExchange(ex);
      if (fx.config === "requirepass") {
        assert.equal(c.state, "auth_required");
        assert.equal(c.nicer, "Requires authentication");
        assert.equal(c.detail, "NOAUTH");
        assert.equal(c.error, "NOAUTH Authentication required.");
        assert.deepEqual(c.server, { version_hint: EXPECTED_HINT[file] });
        assert.equal(versionHint(ex), EXPECTED_HINT[file]);
      } else if (fx.config === "protected") {
        assert.equal(ex.replies.length, 1);
        assert.equal(c.state, "protected");
        assert.equal(c.nicer, "Running protected");
        assert.equal(c.detail, "DENIED");
        assert.match(c.error ?? "", /^DENIED Redis is running in protected mode/);
        assert.ok((c.error ?? "").length <= 256);
        assert.deepEqual(c.server, { version_hint: EXPECTED_HINT[file] });
        assert.equal(versionHint(ex), EXPECTED_HINT[file]);
      } else {
        assertOpenFixture(file, fx, c);
      }
    });

    if (fx.config !== "protected" && fx.config !== "requirepass") {
      it(`${file}: INFO as a RESP3 verbatim string (after HELLO 3)`, () => {
        const ex = fromBytes(probeBytes(fx, true));
        assert.equal(ex.protocolError, undefined);
        const infoReply = ex.replies[2];
        assert.equal(infoReply?.type, "verbatim");
        assertOpenFixture(file, fx, classifyExchange(ex));
      });
    }
  }

  it("protected: DENIED cut short by a reset still classifies (head fallback)", () => {
    const fx = loadFixture("redis-7.4.1-protected.json");
    const bytes = reply(fx, "ping").subarray(0, 300); // no CRLF: never a whole reply
    const ex = fromBytes(bytes, { reset: true, closedByPeer: false });
    assert.equal(ex.replies.length, 0);
    const c = classifyExchange(ex);
    assert.equal(c.state, "protected");
    assert.equal(c.server?.version_hint, ">=7.0");
  });

  it("protected: DENIED first wins even if more bytes follow", () => {
    const fx = loadFixture("redis-6.2.16-protected.json");
    const bytes = Buffer.concat([reply(fx, "ping"), Buffer.from("+PONG\r\n$5\r\nhello\r\n")]);
    const c = classifyExchange(fromBytes(bytes));
    assert.equal(c.state, "protected");
    assert.equal(c.detail, "DENIED");
  });

  it("other recorded probes: wrong-arity and unknown-command errors come before the auth check", () => {
    // 3.2.12 with a password: GET → wrong arity, `Host:` → NOAUTH.
    const fx32 = loadFixture("redis-3.2.12-requirepass.json");
    const c32 = classifyExchange(fromBytes(reply(fx32, "http_get"), { sent: ["GET", "HOST:"] }));
    assert.equal(c32.state, "auth_required");
    // 2.8.24 with a password never says NOAUTH to these two: nothing proves the password.
    const fx28 = loadFixture("redis-2.8.24-requirepass.json");
    const c28 = classifyExchange(fromBytes(reply(fx28, "http_get"), { sent: ["GET", "HOST:"] }));
    assert.equal(c28.state, "error");
    assert.equal(c28.detail, "ERR");
    assert.equal(c28.server?.version_hint, "<=4.0.10");
  });
});

// ---------- hand-written INFO samples ----------

const REDIS_74_INFO = bulk(
  info(
    "# Server",
    "redis_version:7.4.1",
    "redis_mode:standalone",
    "os:Linux",
    "arch_bits:64",
    "",
    "# Replication",
    "role:master",
  ),
);
const HELLO_74 = helloMap({
  server: bulk("redis"),
  version: bulk("7.4.1"),
  proto: int(3),
  id: int(6),
  mode: bulk("standalone"),
  role: bulk("master"),
  modules: { type: "array", value: [] },
});

// ---------- every state ----------

interface StateCase {
  name: string;
  ex: Exchange;
  state: string;
  detail: string | undefined;
  nicer?: string;
}

const STATE_CASES: StateCase[] = [
  {
    name: "open (RESP3 verbatim INFO)",
    ex: fromReplies([PONG, HELLO_74, verbatim(info("# Server", "redis_version:7.4.1")), OK]),
    state: "open",
    detail: undefined,
    nicer: "Returned version",
  },
  {
    name: "open, INFO renamed, HELLO gives the version",
    ex: fromReplies([
      PONG,
      HELLO_74,
      err("ERR unknown command 'INFO', with args beginning with: "),
      OK,
    ]),
    state: "open",
    detail: "INFO_RENAMED",
    nicer: "Returned version",
  },
  {
    name: "open, INFO renamed on a 5.0 (no HELLO): no version, no NICER row",
    ex: fromReplies([
      PONG,
      err("ERR unknown command `HELLO`, with args beginning with: `3`, "),
      err("ERR unknown command `INFO`, with args beginning with: "),
      OK,
    ]),
    state: "open",
    detail: "INFO_RENAMED",
  },
  {
    name: "open, INFO refused by ACL (NOPERM) with PONG",
    ex: fromReplies([
      PONG,
      HELLO_74,
      err("NOPERM User default has no permissions to run the 'info' command"),
      OK,
    ]),
    state: "open",
    detail: "NOPERM",
    nicer: "Returned version",
  },
  {
    name: "auth_required NOAUTH",
    ex: fromReplies([
      err("NOAUTH Authentication required."),
      err(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used",
      ),
      err("NOAUTH Authentication required."),
      OK,
    ]),
    state: "auth_required",
    detail: "NOAUTH",
    nicer: "Requires authentication",
  },
  {
    name: "auth_required ≤ 2.6 (operation not permitted)",
    ex: fromReplies([
      err("ERR operation not permitted"),
      err("ERR unknown command 'HELLO'"),
      err("ERR operation not permitted"),
      OK,
    ]),
    state: "auth_required",
    detail: "NOT_PERMITTED",
    nicer: "Requires authentication",
  },
  {
    name: "protected (DENIED on accept)",
    ex: fromReplies([err(DENIED_72)]),
    state: "protected",
    detail: "DENIED",
    nicer: "Running protected",
  },
  {
    name: "ip_restricted: Alibaba ERR illegal address on accept",
    ex: fromReplies([err("ERR illegal address: 198.51.100.7:51234")]),
    state: "ip_restricted",
    detail: "ILLEGAL_ADDRESS",
    nicer: "IP whitelisting",
  },
  {
    name: "ip_restricted: whitelist wording (Tair proxy)",
    ex: fromReplies([
      err("ERR client ip is not in whitelist"),
      err("ERR client ip is not in whitelist"),
    ]),
    state: "ip_restricted",
    detail: "IP_WHITELIST",
    nicer: "IP whitelisting",
  },
  {
    name: "busy: max clients on accept",
    ex: fromReplies([err("ERR max number of clients reached")]),
    state: "busy",
    detail: "MAXCLIENTS",
    nicer: "Reported busy",
  },
  {
    name: "busy: max clients, cluster variant",
    ex: fromReplies([err("ERR max number of clients + cluster connections reached")]),
    state: "busy",
    detail: "MAXCLIENTS",
    nicer: "Reported busy",
  },
  {
    name: "busy: LOADING (INFO still answers)",
    ex: fromReplies([
      err("LOADING Redis is loading the dataset in memory"),
      HELLO_74,
      REDIS_74_INFO,
      OK,
    ]),
    state: "busy",
    detail: "LOADING",
    nicer: "Reported busy",
  },
  {
    name: "busy: BUSY script",
    ex: fromReplies([
      err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."),
      HELLO_74,
      err("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."),
      OK,
    ]),
    state: "busy",
    detail: "BUSY",
    nicer: "Reported busy",
  },
  {
    name: "busy: MASTERDOWN",
    ex: fromReplies([
      err("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
      err("ERR unknown command `HELLO`, with args beginning with: `3`, "),
      err("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
      OK,
    ]),
    state: "busy",
    detail: "MASTERDOWN",
    nicer: "Reported busy",
  },
  {
    name: "error: NOPERM only, no version",
    ex: fromReplies([
      err("NOPERM this user has no permissions to run the 'ping' command"),
      err("NOPERM this user has no permissions to run the 'hello' command"),
      err("NOPERM this user has no permissions to run the 'info' command"),
      OK,
    ]),
    state: "error",
    detail: "NOPERM",
    nicer: "Encountered error",
  },
  {
    name: "error: everything renamed",
    ex: fromReplies([
      err("ERR unknown command 'PING', with args beginning with: "),
      err("ERR unknown command 'HELLO', with args beginning with: '3' "),
      err("ERR unknown command 'INFO', with args beginning with: "),
      OK,
    ]),
    state: "error",
    detail: "UNKNOWN_COMMAND",
    nicer: "Encountered error",
  },
  {
    name: "error: other Redis error code",
    ex: fromReplies([
      err("MISCONF Errors writing to disk"),
      err("MISCONF x"),
      err("MISCONF x"),
      OK,
    ]),
    state: "error",
    detail: "MISCONF",
    nicer: "Encountered error",
  },
  {
    name: "error: protocol breakage after a valid reply",
    ex: fromBytes(Buffer.from("+PONG\r\n$12\r\nnot-a-crlf-here-at-all\r\n")),
    state: "error",
    detail: "PROTOCOL",
    nicer: "Encountered error",
  },
  {
    name: "open: INFO answered, then the stream broke (INFO wins, breakage noted)",
    ex: fromBytes(
      Buffer.concat([
        Buffer.from("+PONG\r\n-ERR unknown command 'HELLO'\r\n"),
        encodeValue(
          bulk("# Server\r\nredis_version:2.8.24\r\nredis_mode:standalone\r\nrole:master\r\n"),
          2,
        ),
        Buffer.from("\x00garbage", "latin1"),
      ]),
    ),
    state: "open",
    detail: "PROTOCOL",
    nicer: "Returned version",
  },
  {
    name: "error: reset after connect with no bytes",
    ex: empty({ reset: true }),
    state: "error",
    detail: "reset",
    nicer: "Encountered error",
  },
  {
    name: "auth_required: TLS server demands a client certificate",
    ex: empty({ tlsError: "certificate_required", closedByPeer: true }),
    state: "auth_required",
    detail: "TLS_CLIENT_CERT",
    nicer: "Requires authentication",
  },
  {
    name: "error: TLS handshake failed",
    ex: empty({ tlsError: "wrong version number", closedByPeer: true }),
    state: "error",
    detail: "tls_handshake",
    nicer: "Encountered error",
  },
  {
    name: "protected over TLS: plaintext server's on-accept DENIED in head",
    ex: fromBytes(Buffer.from(`-${DENIED_72}\r\n`), {
      tlsError: "wrong version number",
      replies: [],
    }),
    state: "protected",
    detail: "DENIED",
    nicer: "Running protected",
  },
  {
    name: "error: plaintext Redis answered a TLS ClientHello",
    ex: fromBytes(Buffer.from("-ERR Protocol error: unbalanced quotes in request\r\n"), {
      tlsError: "wrong version number",
      replies: [],
    }),
    state: "error",
    detail: "tls_plaintext",
    nicer: "Encountered error",
  },
  {
    name: "not_redis: HTTP reply",
    ex: fromBytes(Buffer.from("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")),
    state: "not_redis",
    detail: "http",
  },
  {
    name: "not_redis: SSH banner",
    ex: fromBytes(Buffer.from("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")),
    state: "not_redis",
    detail: "ssh",
  },
  {
    name: "not_redis: TLS alert bytes",
    ex: fromBytes(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])),
    state: "not_redis",
    detail: "tls",
  },
  {
    name: "not_redis: TLS handshake record",
    ex: fromBytes(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00])),
    state: "not_redis",
    detail: "tls",
  },
  {
    name: "not_redis: garbage",
    ex: fromBytes(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x42])),
    state: "not_redis",
    detail: "unknown",
  },
  {
    name: "not_redis: RESP-looking first byte that is not RESP (IMAP)",
    ex: fromBytes(Buffer.from("* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n")),
    state: "not_redis",
    detail: "unknown",
  },
  {
    name: "silent: nothing within the read budget",
    ex: empty({ readTimedOut: true }),
    state: "silent",
    detail: "read_timeout",
  },
  {
    name: "silent: FIN without a byte",
    ex: empty({ closedByPeer: true }),
    state: "silent",
    detail: "closed",
  },
  {
    name: "closed: refused",
    ex: empty({ connectError: "ECONNREFUSED" }),
    state: "closed",
    detail: "refused",
  },
  {
    name: "timeout: connect budget",
    ex: empty({ connectError: "ETIMEDOUT" }),
    state: "timeout",
    detail: "connect_timeout",
  },
  {
    name: "timeout: host unreachable",
    ex: empty({ connectError: "connect EHOSTUNREACH 192.0.2.1:6379" }),
    state: "timeout",
    detail: "unreachable",
  },
  {
    name: "timeout: locally blocked",
    ex: empty({ connectError: "EACCES" }),
    state: "timeout",
    detail: "blocked",
  },
  {
    name: "error: first reply cut short by the read timeout",
    ex: fromBytes(Buffer.from("$5000\r\n# Server\r\nredis_version:7"), {
      readTimedOut: true,
      closedByPeer: false,
    }),
    state: "error",
    detail: "INCOMPLETE",
    nicer: "Encountered error",
  },
  {
    name: "open, INFO over the byte budget: PONG proves access, no version",
    ex: fromReplies([PONG, err("ERR unknown command 'HELLO'")], { budgetExceeded: "bytes" }),
    state: "open",
    detail: "INFO_TRUNCATED",
  },
];

describe("every state of the taxonomy", () => {
  for (const tc of STATE_CASES) {
    it(tc.name, () => {
      const c = classifyExchange(tc.ex);
      assert.equal(c.state, tc.state);
      assert.equal(c.detail, tc.detail);
      assert.equal(c.nicer, tc.nicer);
    });
  }

  it("LOADING keeps the facts INFO gave", () => {
    const c = classifyExchange(STATE_CASES.find((t) => t.name.startsWith("busy: LOADING"))!.ex);
    assert.equal(c.server?.version, "7.4.1");
    assert.equal(c.server?.role, "master");
    assert.equal(c.error, "LOADING Redis is loading the dataset in memory");
  });

  it("BUSY keeps the version from HELLO", () => {
    const c = classifyExchange(STATE_CASES.find((t) => t.name === "busy: BUSY script")!.ex);
    assert.equal(c.server?.version, "7.4.1");
    assert.equal(c.server?.proto, 3);
  });

  it("INFO renamed on 5.0: hint from the unknown-command wording", () => {
    const c = classifyExchange(STATE_CASES[2]!.ex);
    assert.equal(c.server?.version, undefined);
    assert.equal(c.server?.version_hint, "4.0.11-5.x");
    assert.equal(c.error, "ERR unknown command `INFO`, with args beginning with: ");
  });

  it("PONG but INFO says NOAUTH (weird server): most restrictive wins, facts kept", () => {
    const c = classifyExchange(
      fromReplies([PONG, HELLO_74, err("NOAUTH Authentication required."), OK]),
    );
    assert.equal(c.state, "auth_required");
    assert.equal(c.server?.version, "7.4.1");
  });

  it("open servers report no error; state error reports the first error line", () => {
    assert.equal(classifyExchange(STATE_CASES[0]!.ex).error, undefined);
    const misconf = classifyExchange(fromReplies([err("MISCONF Errors writing to disk"), OK]));
    assert.equal(misconf.error, "MISCONF Errors writing to disk");
  });

  it("not_redis keeps the peer's first line as evidence", () => {
    const c = classifyExchange(fromBytes(Buffer.from("SSH-2.0-OpenSSH_9.6\r\n")));
    assert.equal(c.error, "SSH-2.0-OpenSSH_9.6");
  });

  it("an unsolicited leading reply does not shift INFO away from its command", () => {
    const c = classifyExchange(
      fromReplies([simple("Welcome"), PONG, err("ERR unknown command 'HELLO'"), REDIS_74_INFO, OK]),
    );
    assert.equal(c.state, "open");
    assert.equal(c.server?.version, "7.4.1");
    assert.equal(c.server?.proto, 2);
  });

  it("RESP3 push / attribute values answer no command", () => {
    const push: RespValue = { type: "push", value: [bulk("invalidate"), { type: "null" }] };
    const c = classifyExchange(
      fromReplies([
        PONG,
        HELLO_74,
        push,
        err("ERR unknown command 'INFO', with args beginning with: "),
        OK,
      ]),
    );
    assert.equal(c.state, "open");
    assert.equal(c.detail, "INFO_RENAMED");
  });

  it("PING renamed but INFO answers: open with facts", () => {
    const c = classifyExchange(
      fromReplies([
        err("ERR unknown command 'PING', with args beginning with: "),
        HELLO_74,
        REDIS_74_INFO,
        OK,
      ]),
    );
    assert.equal(c.state, "open");
    assert.equal(c.detail, undefined);
    assert.equal(c.server?.version, "7.4.1");
  });

  it("peerKind", () => {
    assert.equal(peerKind(Buffer.from("HTTP/1.0 200 OK\r\n")), "http");
    assert.equal(peerKind(Buffer.from("<!DOCTYPE html><html>")), "http");
    assert.equal(peerKind(Buffer.from("SSH-2.0-x")), "ssh");
    assert.equal(peerKind(Buffer.from([0x15, 0x03, 0x01])), "tls");
    assert.equal(peerKind(Buffer.from("220 mail ESMTP")), "unknown");
  });

  it("connect errors keep the engine's text", () => {
    assert.equal(classifyExchange(empty({ connectError: "ECONNREFUSED" })).error, "ECONNREFUSED");
  });
});

// ---------- version hints ----------

describe("hostile servers", () => {
  it("error lines with control chars, ANSI escapes and <script> are kept, bounded and safe", () => {
    const evil =
      "DENIED \x1b[2J\x1b[31mhacked\x07\r\nSet-Cookie: x\u202e<script>alert(1)</script>" +
      "A".repeat(5000);
    const c = classifyExchange(fromReplies([err(evil)]));
    assert.equal(c.state, "protected");
    const e = c.error ?? "";
    assert.ok(e.length <= 256, `length ${e.length}`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence
    assert.doesNotMatch(e, /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    assert.ok(
      e.startsWith("DENIED \\x1b[2J\\x1b[31mhacked\\x07\\x0d\\x0aSet-Cookie: x\\u202e<script>"),
    );
    assert.ok(
      e.includes("<script>alert(1)</script>"),
      "text kept; HTML escaping is the renderer's job",
    );
  });

  it("safeText never cuts an escape in half and never exceeds the limit", () => {
    for (let max = 1; max < 20; max++) {
      const t = safeText("ab\x1b\x1b\x1bcd", max);
      assert.ok(t.length <= max);
      assert.doesNotMatch(t, /\\x?[0-9a-f]?$/);
    }
  });

  it("hostile INFO strings are sanitised in facts; __proto__ keys are inert", () => {
    const s = facts(
      info(
        "redis_version:7.2.4\x1b[0m",
        "os:\x1b]0;pwned\x07Linux",
        "__proto__:polluted",
        "constructor:x",
        "run_id:" + "f".repeat(5000),
      ),
    );
    assert.equal(s.version, "7.2.4\\x1b[0m");
    assert.equal(s.os, "\\x1b]0;pwned\\x07Linux");
    assert.ok((s.run_id ?? "").length <= 64);
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
    assert.equal(Object.getPrototypeOf(s), Object.prototype);
  });

  it("INFO with 200k lines parses (linear)", () => {
    const lines: string[] = ["# Server", "redis_version:7.2.4"];
    for (let i = 0; i < 200_000; i++) lines.push(i % 2 ? `k${i}:${i}` : `c${i}:calls=${i},usec=1`);
    for (let i = 0; i < 5000; i++) lines.push(`db${i}:keys=${i + 1},expires=0`);
    const text = lines.join("\r\n");
    assert.ok(text.length < 8 * 1024 * 1024, "below the parser's input cap");
    const p = parseInfo(text);
    assert.equal(p.truncated, false);
    assert.equal(p.entries.length, 205_001);
    const s = serverFactsFromInfo(p);
    assert.equal(s.version, "7.2.4");
    assert.equal(Object.keys(s.keyspace ?? {}).length, 1024, "keyspace bounded in the record");
  });

  it("input beyond the parser's cap is cut and flagged, not rejected", () => {
    const p = parseInfo("redis_version:7.2.4\r\n" + "x".repeat(9 * 1024 * 1024));
    assert.equal(p.truncated, true);
    assert.equal(p.fields.get("redis_version"), "7.2.4");
  });

  it("an INFO that names no product is product unknown", () => {
    assert.equal(facts(info("# Server", "os:Linux", "arch_bits:64")).product, "unknown");
  });

  it("lines with 10k '=' and 10k '[' and 100k-char values parse", () => {
    const eq = "=".repeat(10_000);
    const p = parseInfo(
      info(
        "redis_version:7.2.4",
        `module:name=x${eq}`,
        `slave0:ip=1.2.3.4,port=1${eq}`,
        `listener0:name=${"[".repeat(10_000)}`,
        `db0:keys=1,${"a=b,".repeat(10_000)}`,
        `os:${"x".repeat(100_000)}`,
      ),
    );
    assert.equal(p.modules.length, 1);
    assert.equal(p.listeners[0]?.sub.length, 1);
    const s = serverFactsFromInfo(p);
    assert.ok((s.os ?? "").length <= 256);
    assert.equal(s.replicas?.[0]?.port, undefined);
    assert.ok((s.listeners?.[0] ?? "").length <= 256);
  });

  it("many replicas / modules are bounded in the record", () => {
    const lines = ["redis_version:7.2.4"];
    for (let i = 0; i < 1000; i++)
      lines.push(`slave${i}:ip=10.0.${i >> 8}.${i & 255},port=6379,state=online`);
    for (let i = 0; i < 1000; i++) lines.push(`module:name=m${i},ver=1`);
    const s = facts(info(...lines));
    assert.equal(s.replicas?.length, 256);
    assert.equal(s.modules?.length, 128);
  });

  it("a bulk that is not INFO is not taken for a version read", () => {
    const c = classifyExchange(
      fromReplies([PONG, err("ERR unknown command 'HELLO'"), bulk("hello world"), OK]),
    );
    assert.equal(c.state, "open");
    assert.equal(c.detail, "INFO_UNPARSED");
    assert.equal(c.nicer, undefined);
  });
});
