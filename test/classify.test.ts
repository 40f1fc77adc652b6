/**
 * classify: state taxonomy, INFO parser, product/version fingerprint, version hints.
 * Recorded server bytes (data/replies, copied from the shared fixtures) are decoded with
 * the project's ReplyDecoder and replayed as the exchange our probe (PING, HELLO 3, INFO, QUIT)
 * would see; hand-written INFO samples cover the forks and old layouts.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type Classification,
  classifyExchange,
  type Exchange,
  errorKind,
  FACT_KEYS,
  parseInfo,
  parseSubfields,
  peerKind,
  serverFactsFromInfo,
  versionHint,
} from "../src/classify/index.js";
import { trieSource } from "../src/classify/info.js";
import { repliesDir } from "../src/lab/replay.js";
import { encodeValue, ReplyDecoder, RespProtocolError } from "../src/resp/index.js";
import type { RespValue } from "../src/resp/types.js";
import { isUnsafe, safeText } from "../src/untrusted/text.js";

const FIXTURES = repliesDir();
const PROBE = ["PING", "HELLO", "INFO", "QUIT"];

// ---------- helpers ----------

function decode(bytes: Buffer): {
  replies: RespValue[];
  protocolError?: { code: string; offset: number };
} {
  const d = new ReplyDecoder();
  const replies: RespValue[] = [];
  try {
    // Feed in small chunks: the classifier must not depend on how bytes arrived.
    for (let i = 0; i < bytes.length; i += 7) replies.push(...d.push(bytes.subarray(i, i + 7)));
  } catch (e) {
    if (e instanceof RespProtocolError) {
      return { replies, protocolError: { code: e.code, offset: e.offset } };
    }
    throw e;
  }
  return { replies };
}

/** The Exchange the engine would record for these bytes. */
function fromBytes(bytes: Buffer, over: Partial<Exchange> = {}): Exchange {
  const { replies, protocolError } = decode(bytes);
  const ex: Exchange = {
    sent: PROBE,
    replies,
    head: bytes.subarray(0, 512),
    bytesReceived: bytes.length,
    closedByPeer: true,
    reset: false,
    readTimedOut: false,
    ...over,
  };
  if (protocolError !== undefined) ex.protocolError = protocolError;
  return ex;
}

/** An Exchange from reply values (head is synthesised from a leading RESP type byte). */
function fromReplies(replies: RespValue[], over: Partial<Exchange> = {}): Exchange {
  const first = replies[0];
  const lead =
    first === undefined
      ? ""
      : first.type === "error"
        ? `-${first.value}\r\n`
        : first.type === "simple"
          ? `+${first.value}\r\n`
          : "%";
  return {
    sent: PROBE,
    replies,
    head: Buffer.from(lead).subarray(0, 512),
    bytesReceived: lead.length + 100,
    closedByPeer: true,
    reset: false,
    readTimedOut: false,
    ...over,
  };
}

function empty(over: Partial<Exchange> = {}): Exchange {
  return {
    sent: PROBE,
    replies: [],
    head: Buffer.alloc(0),
    bytesReceived: 0,
    closedByPeer: false,
    reset: false,
    readTimedOut: false,
    ...over,
  };
}

const err = (value: string): RespValue => ({ type: "error", value });
const simple = (value: string): RespValue => ({ type: "simple", value });
const bulk = (value: string): RespValue => ({ type: "bulk", value: Buffer.from(value) });
const verbatim = (value: string): RespValue => ({
  type: "verbatim",
  format: "txt",
  value: Buffer.from(value),
});
const int = (n: number): RespValue => ({ type: "integer", value: BigInt(n) });
const helloMap = (fields: Record<string, RespValue>): RespValue => ({
  type: "map",
  value: Object.entries(fields).map(([k, v]) => [bulk(k), v]),
});
const PONG = simple("PONG");
const OK = simple("OK");

const info = (...lines: string[]): string => lines.join("\r\n") + "\r\n";

// ---------- recorded fixtures ----------

interface FixtureProbe {
  probe: string;
  reply_b64: string;
  closed_by_server: boolean;
}
interface Fixture {
  server: string;
  version: string;
  config: string;
  probes: FixtureProbe[];
}

function loadFixture(file: string): Fixture {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), "utf8")) as Fixture;
}

function reply(fx: Fixture, probe: string): Buffer {
  const p = fx.probes.find((x) => x.probe === probe);
  assert.ok(p, `fixture has probe ${probe}`);
  return Buffer.from(p.reply_b64, "base64");
}

/** What the pipelined probe would receive from this recorded server. */
function probeBytes(fx: Fixture, verbatimInfo = false): Buffer {
  // Protected mode: DENIED once on accept, then close; nothing is answered.
  if (fx.config === "protected") return reply(fx, "ping");
  let infoBytes = reply(fx, "info");
  if (verbatimInfo && infoBytes[0] === 0x24 /* $ */) {
    const crlf = infoBytes.indexOf("\r\n");
    const payload = infoBytes.subarray(crlf + 2, infoBytes.length - 2);
    infoBytes = Buffer.concat([
      Buffer.from(`=${payload.length + 4}\r\ntxt:`),
      payload,
      Buffer.from("\r\n"),
    ]);
  }
  return Buffer.concat([reply(fx, "ping"), reply(fx, "hello3"), infoBytes, reply(fx, "quit")]);
}

/** Hint expected for each password-protected / protected fixture (vocabulary in hints.ts). */
const EXPECTED_HINT: Record<string, string> = {
  "redis-2.8.24-requirepass.json": "2.8-4.0.10",
  "redis-3.2.12-requirepass.json": "2.8-4.0.10",
  "redis-5.0.8-requirepass.json": "4.0.11-5.x",
  "redis-6.2.16-requirepass.json": "6.0-7.0",
  "redis-7.0.15-requirepass.json": "6.0-7.0",
  "redis-7.4.1-requirepass.json": ">=7.2",
  "redis-3.2.12-protected.json": "3.2-6.2",
  "redis-5.0.8-protected.json": "3.2-6.2",
  "redis-6.2.16-protected.json": "3.2-6.2",
  "redis-7.0.15-protected.json": ">=7.0",
  "redis-7.4.1-protected.json": ">=7.0",
};

function assertOpenFixture(file: string, fx: Fixture, c: Classification): void {
  assert.equal(c.state, "open", file);
  assert.equal(c.nicer, "Returned version");
  assert.equal(c.detail, undefined);
  assert.equal(c.error, undefined);
  const s = c.server;
  assert.ok(s);
  assert.equal(s.product, "redis");
  assert.equal(s.version, fx.version);
  assert.equal(s.redis_version, fx.version);
  assert.equal(s.version_hint, undefined);
  assert.equal(s.mode, "standalone");
  assert.equal(s.role, "master");
  assert.match(s.os ?? "", /^Linux /);
  assert.equal(s.arch_bits, 64);
  assert.match(s.run_id ?? "", /^[0-9a-f]{40}$/);
  assert.equal(typeof s.uptime_s, "number");
  assert.equal(s.connected_clients, 1);
  assert.ok((s.used_memory ?? 0) > 500_000);
  assert.equal(s.config_file, undefined, "empty config_file is omitted");
  assert.equal(s.keyspace, undefined, "no keys in the recorded servers");
  assert.equal(s.replicas, undefined);
  assert.match(s.mem_allocator ?? "", /^(libc|jemalloc-)/);
  const [major] = fx.version.split(".").map(Number);
  assert.equal(s.proto, (major ?? 0) >= 6 ? 3 : 2, "HELLO 3 map ⇒ 3, HELLO refused ⇒ 2");
  if (fx.version !== "2.8.24") assert.equal(s.executable, `/opt/rs/bin/redis-server-${fx.version}`);
  if (fx.version === "7.4.1")
    assert.deepEqual(s.listeners, ["name=tcp,bind=*,bind=-::*,port=6399"]);
  if ((major ?? 0) < 6) assert.equal(s.maxmemory, fx.version === "2.8.24" ? undefined : 0);
}

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

const VALKEY8 = info(
  "# Server",
  "redis_version:7.2.4",
  "server_name:valkey",
  "valkey_version:8.0.1",
  "valkey_git_sha1:00000000",
  "valkey_git_dirty:0",
  "valkey_build_id:5e4b3c2a1f0e9d8c",
  "server_mode:standalone",
  "os:Linux 6.1.0-13-amd64 x86_64",
  "arch_bits:64",
  "monotonic_clock:POSIX clock_gettime",
  "multiplexing_api:epoll",
  "process_id:1",
  "run_id:2f4a7c1e9b8d6a5f3e2c1b0a9f8e7d6c5b4a3f2e",
  "tcp_port:6379",
  "uptime_in_seconds:3600",
  "executable:/usr/local/bin/valkey-server",
  "config_file:/etc/valkey/valkey.conf",
  "listener0:name=tcp,bind=0.0.0.0,port=6379",
  "",
  "# Clients",
  "connected_clients:7",
  "",
  "# Memory",
  "used_memory:1234567",
  "maxmemory:0",
  "mem_allocator:jemalloc-5.3.0",
  "",
  "# Replication",
  "role:master",
  "connected_slaves:0",
  "",
  "# Keyspace",
  "db0:keys=12,expires=3,avg_ttl=0",
);

const VALKEY72 = info(
  "# Server",
  "redis_version:7.2.4",
  "server_name:valkey",
  "valkey_version:7.2.5",
  "redis_git_sha1:00000000",
  "redis_mode:standalone",
  "os:Linux 5.15.0 x86_64",
  "arch_bits:64",
  "run_id:0123456789abcdef0123456789abcdef01234567",
  "",
  "# Replication",
  "role:master",
);

const KEYDB = info(
  "# Server",
  "redis_version:6.3.4",
  "redis_git_sha1:7e7e5e39",
  "redis_git_dirty:0",
  "redis_build_id:b2a0e1c9f4f3d2e1",
  "redis_mode:standalone",
  "os:Linux 5.4.0-1051-aws x86_64",
  "arch_bits:64",
  "multiplexing_api:epoll",
  "atomicvar_api:atomic-builtin",
  "gcc_version:9.4.0",
  "process_id:1",
  "run_id:aaaabbbbccccddddeeeeffff0000111122223333",
  "tcp_port:6379",
  "uptime_in_seconds:86400",
  "executable:/usr/local/bin/keydb-server",
  "config_file:/etc/keydb/keydb.conf",
  "availability_zone:",
  "features:cluster_mget",
  "",
  "# Replication",
  "role:active-replica",
  "",
  "# KeyDB",
  "mvcc_depth:0",
);

const DRAGONFLY = info(
  "# Server",
  "redis_version:7.4.0",
  "dragonfly_version:df-v1.27.1",
  "redis_mode:standalone",
  "arch_bits:64",
  "os:Linux 6.8.0-1015-gcp x86_64",
  "thread_count:4",
  "multiplexing_api:epoll",
  "tcp_port:6379",
  "uptime_in_seconds:120",
  "",
  "# Replication",
  "role:master",
);

const GARNET = info(
  "# Server",
  "garnet_version:1.0.44",
  "redis_version:7.2.5",
  "server_name:garnet",
  "os:Unix 6.5.0.1016",
  "processor_count:8",
  "arch_bits:64",
  "uptime_in_seconds:42",
  "",
  "# Replication",
  "role:master",
);

const WIN3 = info(
  "# Server",
  "redis_version:3.0.504",
  "redis_git_sha1:00000000",
  "redis_git_dirty:0",
  "redis_build_id:a4f7a6e86f2d60b3",
  "redis_mode:standalone",
  "os:Windows  ",
  "arch_bits:64",
  "multiplexing_api:WinSock_IOCP",
  "process_id:5376",
  "run_id:6f4f9bd1a2c7e0a8b5d3c2e1f0a9b8c7d6e5f4a3",
  "tcp_port:6379",
  "uptime_in_seconds:5",
  "hz:10",
  "config_file:C:\\Program Files\\Redis\\redis.windows-service.conf",
  "",
  "# Replication",
  "role:master",
);

const WIN32 = info(
  "# Server",
  "redis_version:3.2.100",
  "redis_mode:standalone",
  "os:Windows  ",
  "arch_bits:64",
  "multiplexing_api:WinSock_IOCP",
  "run_id:1111111111111111111111111111111111111111",
  "executable:C:\\Program Files\\Redis\\redis-server.exe",
  "config_file:C:\\Program Files\\Redis\\redis.windows.conf",
);

const ELASTICACHE = info(
  "# Server",
  "redis_version:6.2.6",
  "redis_git_sha1:0",
  "redis_git_dirty:0",
  "redis_build_id:0",
  "redis_mode:standalone",
  "os:Amazon ElastiCache",
  "arch_bits:64",
  "multiplexing_api:epoll",
  "gcc_version:0.0.0",
  "process_id:1",
  "run_id:ffffffffffffffffffffffffffffffffffffffff",
  "executable:-",
  "config_file:-",
);

const REDIS24 = info(
  "redis_version:2.4.10",
  "redis_git_sha1:00000000",
  "redis_git_dirty:0",
  "arch_bits:32",
  "multiplexing_api:epoll",
  "gcc_version:4.4.6",
  "process_id:2345",
  "uptime_in_seconds:1000",
  "uptime_in_days:0",
  "lru_clock:1234",
  "used_cpu_sys:0.01",
  "connected_clients:2",
  "connected_slaves:1",
  "used_memory:726144",
  "used_memory_human:709.13K",
  "mem_allocator:jemalloc-2.2.5",
  "loading:0",
  "changes_since_last_save:0",
  "bgsave_in_progress:0",
  "vm_enabled:0",
  "role:master",
  "slave0:10.1.2.3,6380,online",
  "db0:keys=5,expires=1",
  "db3:keys=100,expires=0",
);

const REDIS26_MASTER = info(
  "# Server",
  "redis_version:2.6.17",
  "redis_mode:standalone",
  "os:Linux 2.6.32-431.el6.x86_64 x86_64",
  "arch_bits:64",
  "run_id:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
  "",
  "# Replication",
  "role:master",
  "connected_slaves:2",
  "slave0:10.0.0.2,6379,online",
  "slave1:::1,6380,wait_bgsave",
);

const REPLICA = info(
  "# Server",
  "redis_version:5.0.14",
  "redis_mode:standalone",
  "os:Linux 4.19.0 x86_64",
  "arch_bits:64",
  "",
  "# Replication",
  "role:slave",
  "master_host:203.0.113.7",
  "master_port:6379",
  "master_link_status:up",
  "slave_repl_offset:12345",
  "connected_slaves:0",
);

const MASTER_TWO_REPLICAS = info(
  "# Server",
  "redis_version:6.0.20",
  "redis_mode:standalone",
  "os:Linux 5.10.0 x86_64",
  "arch_bits:64",
  "",
  "# Replication",
  "role:master",
  "connected_slaves:2",
  "slave0:ip=10.0.0.11,port=6379,state=online,offset=9876,lag=0",
  "slave1:ip=10.0.0.12,port=6380,state=wait_bgsave,offset=0,lag=1",
  "master_replid:4da06b9de86be6f19a303afd8ee61261ae96b161",
);

const MODULES = info(
  "# Server",
  "redis_version:7.2.4",
  "redis_mode:standalone",
  "os:Linux 6.1.0 x86_64",
  "arch_bits:64",
  "",
  "# Modules",
  "module:name=search,ver=20803,api=1,filters=0,usedby=[],using=[ReJSON],options=[handle-io-errors]",
  "module:name=ReJSON,ver=20607,api=1,filters=0,usedby=[search|timeseries],using=[],options=[handle-io-errors|handle-repl-async-load]",
  "module:name=timeseries,ver=11011,api=1,filters=0,usedby=[],using=[ReJSON],options=[]",
);

const SENTINEL = info(
  "# Server",
  "redis_version:7.2.4",
  "redis_mode:sentinel",
  "os:Linux 6.1.0 x86_64",
  "arch_bits:64",
  "run_id:cccccccccccccccccccccccccccccccccccccccc",
  "tcp_port:26379",
  "",
  "# Clients",
  "connected_clients:3",
  "",
  "# Sentinel",
  "sentinel_masters:2",
  "sentinel_tilt:0",
  "master0:name=mymaster,status=ok,address=10.0.0.5:6379,slaves=2,sentinels=3",
  "master1:name=cache,status=sdown,address=10.0.0.9:6380,slaves=0,sentinels=1",
);

const CLUSTER = info(
  "# Server",
  "redis_version:7.0.15",
  "redis_mode:cluster",
  "os:Linux 6.1.0 x86_64",
  "arch_bits:64",
  "",
  "# Replication",
  "role:master",
  "",
  "# Cluster",
  "cluster_enabled:1",
);

const REDIS8 = info(
  "# Server",
  "redis_version:8.2.1",
  "redis_mode:standalone",
  "os:Linux 6.8.0 aarch64",
  "arch_bits:64",
  "executable:/usr/local/bin/redis-server",
  "config_file:/etc/redis/redis.conf",
  "listener0:name=tcp,bind=0.0.0.0,bind=::,port=6379",
  "listener1:name=unix,bind=/run/redis/redis.sock",
  "listener2:name=tls,bind=*,port=6380",
  "",
  "# Memory",
  "used_memory:8589934592",
  "maxmemory:17179869184",
  "",
  "# Modules",
  "module:name=vectorset,ver=1,api=1,filters=0,usedby=[],using=[],options=[handle-io-errors|handle-repl-async-load]",
  "",
  "# Keyspace",
  "db0:keys=1048576,expires=10,avg_ttl=0,subexpiry=0",
);

function facts(text: string) {
  const full = serverFactsFromInfo(parseInfo(text));
  // The scanner parses with FACT_KEYS: it must learn exactly what a full parse learns.
  assert.deepEqual(serverFactsFromInfo(parseInfo(text, FACT_KEYS)), full);
  return full;
}

describe("filtered INFO parse (the scanner's hot path)", () => {
  it("gives the same facts as a full parse for every recorded server", () => {
    let n = 0;
    for (const file of readdirSync(FIXTURES)) {
      const fx = JSON.parse(readFileSync(path.join(FIXTURES, file), "utf8")) as {
        probes: Array<{ probe: string; reply_text: string }>;
      };
      const info = fx.probes.find((p) => p.probe === "info")?.reply_text ?? "";
      if (!info.startsWith("$")) continue;
      const text = info.slice(info.indexOf("\r\n") + 2);
      const f = facts(text);
      assert.ok(f.version, file);
      n++;
    }
    assert.ok(n >= 6);
  });

  it("selects keys through a prefix tree: prefixes, \\d+ slots, no partial matches", () => {
    const re = new RegExp(`^${trieSource(["ab", "abc", "a", "b\0", "x.y"])}$`);
    for (const w of ["a", "ab", "abc", "b7", "b123", "x.y"]) assert.ok(re.test(w), w);
    for (const w of ["b", "abcd", "ba", "xzy", "", "bx1"]) assert.ok(!re.test(w), w);
  });

  it("keeps structured keys and skips look-alikes (slave_read_only, master_replid)", () => {
    const text = info(
      "# Replication",
      "role:master",
      "slave_read_only:1",
      "master_replid:abc",
      "slave0:ip=10.0.0.2,port=6380,state=online,offset=1,lag=0",
      "# Keyspace",
      "db0:keys=3,expires=0,avg_ttl=0",
    );
    const p = parseInfo(text, FACT_KEYS);
    assert.equal(p.fields.get("slave_read_only"), undefined);
    assert.equal(p.fields.get("master_replid"), undefined);
    assert.equal(p.replicas.length, 1);
    assert.equal(p.keyspace.get("db0")?.keys, 3);
    assert.equal(facts(text).role, "master");
  });

  it("stays linear on lines without colons", () => {
    const text = `${"x".repeat(40)}\n`.repeat(100_000) + "redis_version:7.0.0\n";
    const p = parseInfo(text, FACT_KEYS);
    assert.equal(p.fields.get("redis_version"), "7.0.0");
    assert.equal(p.fields.size, 1);
  });
});

describe("INFO samples: product, version and facts", () => {
  it("Valkey 8: product valkey, version = valkey_version, server_mode", () => {
    const s = facts(VALKEY8);
    assert.equal(s.product, "valkey");
    assert.equal(s.version, "8.0.1");
    assert.equal(s.valkey_version, "8.0.1");
    assert.equal(s.redis_version, "7.2.4");
    assert.equal(s.mode, "standalone");
    assert.equal(s.connected_clients, 7);
    assert.deepEqual(s.keyspace, { db0: { keys: 12, expires: 3 } });
    assert.deepEqual(s.listeners, ["name=tcp,bind=0.0.0.0,port=6379"]);
    assert.equal(s.config_file, "/etc/valkey/valkey.conf");
    assert.equal(s.executable, "/usr/local/bin/valkey-server");
    assert.equal(s.mem_allocator, "jemalloc-5.3.0");
  });

  it("Valkey 7.2: product valkey via server_name, redis_version never the version", () => {
    const s = facts(VALKEY72);
    assert.equal(s.product, "valkey");
    assert.equal(s.version, "7.2.5");
    assert.equal(s.redis_version, "7.2.4");
    assert.equal(s.mode, "standalone");
  });

  it("KeyDB 6.3.4: markers, version = its own redis_version", () => {
    const s = facts(KEYDB);
    assert.equal(s.product, "keydb");
    assert.equal(s.version, "6.3.4");
    assert.equal(s.role, "active-replica");
    assert.equal(s.uptime_s, 86400);
    const p = parseInfo(KEYDB);
    assert.ok(p.sections.has("KeyDB"));
    assert.equal(p.sections.get("KeyDB")?.get("mvcc_depth"), "0");
    // Each marker alone is enough.
    for (const marker of [
      "mvcc_depth:0",
      "storage_provider:none",
      "availability_zone:eu-west-1a",
      "features:cluster_mget",
    ]) {
      assert.equal(facts(info("redis_version:6.2.2", marker)).product, "keydb", marker);
    }
  });

  it("Dragonfly: df-v prefix stripped, redis_version kept apart", () => {
    const s = facts(DRAGONFLY);
    assert.equal(s.product, "dragonfly");
    assert.equal(s.version, "1.27.1");
    assert.equal(s.redis_version, "7.4.0");
  });

  it("Garnet", () => {
    const s = facts(GARNET);
    assert.equal(s.product, "garnet");
    assert.equal(s.version, "1.0.44");
    assert.equal(s.redis_version, "7.2.5");
    assert.equal(s.os, "Unix 6.5.0.1016");
  });

  it("Windows 3.0.504: msopentech, Windows path with colons, trailing spaces trimmed", () => {
    const s = facts(WIN3);
    assert.equal(s.product, "msopentech");
    assert.equal(s.version, "3.0.504");
    assert.equal(s.os, "Windows");
    assert.equal(s.config_file, "C:\\Program Files\\Redis\\redis.windows-service.conf");
  });

  it("Windows 3.2.100; the version alone also identifies the port", () => {
    const s = facts(WIN32);
    assert.equal(s.product, "msopentech");
    assert.equal(s.version, "3.2.100");
    assert.equal(s.executable, "C:\\Program Files\\Redis\\redis-server.exe");
    assert.equal(facts(info("redis_version:3.2.100", "os:Linux")).product, "msopentech");
    assert.equal(facts(info("redis_version:2.8.2400")).product, "msopentech");
    assert.equal(facts(info("redis_version:3.2.13")).product, "redis");
  });

  it("ElastiCache", () => {
    const s = facts(ELASTICACHE);
    assert.equal(s.product, "elasticache");
    assert.equal(s.version, "6.2.6");
    assert.equal(s.os, "Amazon ElastiCache");
    assert.equal(s.executable, "-");
  });

  it("Redis 2.4 sectionless: keyspace, legacy slave line, 32-bit", () => {
    const p = parseInfo(REDIS24);
    assert.equal(p.sectionless, true);
    assert.equal(p.sections.size, 0);
    const s = serverFactsFromInfo(p);
    assert.equal(s.product, "redis");
    assert.equal(s.version, "2.4.10");
    assert.equal(s.arch_bits, 32);
    assert.equal(s.role, "master");
    assert.equal(s.os, undefined);
    assert.deepEqual(s.keyspace, { db0: { keys: 5, expires: 1 }, db3: { keys: 100, expires: 0 } });
    assert.deepEqual(s.replicas, [{ ip: "10.1.2.3", port: 6380, state: "online" }]);
  });

  it("Redis 2.6 slave format, IPv6 replica address kept whole", () => {
    const s = facts(REDIS26_MASTER);
    assert.deepEqual(s.replicas, [
      { ip: "10.0.0.2", port: 6379, state: "online" },
      { ip: "::1", port: 6380, state: "wait_bgsave" },
    ]);
    assert.equal(parseInfo(REDIS26_MASTER).replicas[0]?.format, "legacy");
  });

  it("replica: role slave, master_host / master_port", () => {
    const s = facts(REPLICA);
    assert.equal(s.role, "slave");
    assert.equal(s.master_host, "203.0.113.7");
    assert.equal(s.master_port, 6379);
  });

  it("master with two replicas (2.8+ k=v form)", () => {
    const p = parseInfo(MASTER_TWO_REPLICAS);
    assert.deepEqual(p.replicas[0], {
      ip: "10.0.0.11",
      port: 6379,
      state: "online",
      offset: 9876,
      lag: 0,
      format: "kv",
    });
    assert.deepEqual(serverFactsFromInfo(p).replicas, [
      { ip: "10.0.0.11", port: 6379, state: "online" },
      { ip: "10.0.0.12", port: 6380, state: "wait_bgsave" },
    ]);
  });

  it("modules: repeated key, bracket lists with commas and pipes", () => {
    const p = parseInfo(MODULES);
    assert.equal(p.repeated.get("module")?.length, 3);
    assert.equal(p.fields.get("module")?.startsWith("name=search"), true);
    assert.deepEqual(facts(MODULES).modules, [
      { name: "search", ver: "20803" },
      { name: "ReJSON", ver: "20607" },
      { name: "timeseries", ver: "11011" },
    ]);
    const rejson = p.modules[1];
    assert.ok(rejson);
    assert.deepEqual(
      rejson.sub.find(([k]) => k === "usedby"),
      ["usedby", "[search|timeseries]"],
    );
    assert.deepEqual(parseSubfields("a=[x,y],b=2,c"), [
      ["a", "[x,y]"],
      ["b", "2"],
      ["c", ""],
    ]);
  });

  it("sentinel: mode and monitored masters", () => {
    const p = parseInfo(SENTINEL);
    const s = serverFactsFromInfo(p);
    assert.equal(s.mode, "sentinel");
    assert.equal(s.product, "redis");
    assert.equal(s.role, undefined);
    assert.equal(p.sentinelMasters.length, 2);
    assert.deepEqual(
      p.sentinelMasters.map((m) => [m.name, m.status, m.address, m.slaves, m.sentinels]),
      [
        ["mymaster", "ok", "10.0.0.5:6379", 2, 3],
        ["cache", "sdown", "10.0.0.9:6380", 0, 1],
      ],
    );
  });

  it("cluster mode", () => {
    const p = parseInfo(CLUSTER);
    assert.equal(serverFactsFromInfo(p).mode, "cluster");
    assert.equal(p.sections.get("Cluster")?.get("cluster_enabled"), "1");
  });

  it("Redis 8: listeners, 8 GiB used_memory kept exact, module, keyspace", () => {
    const s = facts(REDIS8);
    assert.equal(s.product, "redis");
    assert.equal(s.version, "8.2.1");
    assert.equal(s.used_memory, 8589934592);
    assert.equal(s.maxmemory, 17179869184);
    assert.deepEqual(s.listeners, [
      "name=tcp,bind=0.0.0.0,bind=::,port=6379",
      "name=unix,bind=/run/redis/redis.sock",
      "name=tls,bind=*,port=6380",
    ]);
    assert.deepEqual(s.modules, [{ name: "vectorset", ver: "1" }]);
    assert.deepEqual(s.keyspace, { db0: { keys: 1048576, expires: 10 } });
    const p = parseInfo(REDIS8);
    assert.deepEqual(p.listeners[0]?.sub, [
      ["name", "tcp"],
      ["bind", "0.0.0.0"],
      ["bind", "::"],
      ["port", "6379"],
    ]);
    assert.deepEqual(p.keyspace.get("db0"), {
      keys: 1048576,
      expires: 10,
      avg_ttl: 0,
      subexpiry: 0,
    });
  });

  it("numbers beyond 2^53 are dropped, not rounded; garbage numbers are dropped", () => {
    const s = facts(
      info(
        "redis_version:7.2.4",
        "used_memory:18446744073709551615",
        "connected_clients:-1",
        "arch_bits:sixty-four",
      ),
    );
    assert.equal(s.used_memory, undefined);
    assert.equal(s.connected_clients, undefined);
    assert.equal(s.arch_bits, undefined);
  });

  it("other Redis-protocol servers are product unknown, their redis_version not a version", () => {
    const kv = facts(
      info("# Server", "version:2.8.0", "kvrocks_version:2.8.0", "redis_version:4.0.0"),
    );
    assert.equal(kv.product, "unknown");
    assert.equal(kv.version, undefined);
    assert.equal(kv.redis_version, "4.0.0");
    assert.equal(facts(info("# Server", "pika_version:3.3.6", "os:Linux")).product, "unknown");
  });

  it("LF-only line endings and unknown keys are accepted", () => {
    const p = parseInfo("# Server\nredis_version:7.0.0\nsomething_new:42\n\n# Weird\nx:y:z\n");
    assert.equal(p.fields.get("something_new"), "42");
    assert.equal(p.fields.get("x"), "y:z");
    assert.equal(p.sections.get("Weird")?.get("x"), "y:z");
    assert.equal(serverFactsFromInfo(p).version, "7.0.0");
  });

  it("HELLO map completes INFO facts and identifies Valkey 8 / Dragonfly", () => {
    const hello = helloMap({
      server: bulk("valkey"),
      version: bulk("8.0.1"),
      proto: int(3),
      id: int(5),
      mode: bulk("standalone"),
      role: bulk("master"),
      modules: { type: "array", value: [] },
    });
    const s = serverFactsFromInfo(parseInfo(info("redis_version:7.2.4", "os:Linux")), hello);
    assert.equal(s.product, "valkey");
    assert.equal(s.version, "8.0.1");
    assert.equal(s.proto, 3);
    assert.equal(s.role, "master");
    const df = serverFactsFromInfo(
      parseInfo(""),
      helloMap({
        server: bulk("redis"),
        version: bulk("7.4.0"),
        dragonfly_version: bulk("df-v1.25.0"),
        proto: int(3),
      }),
    );
    assert.equal(df.product, "dragonfly");
    assert.equal(df.version, "1.25.0");
  });
});

// ---------- every state ----------

interface StateCase {
  name: string;
  ex: Exchange;
  state: string;
  detail: string | undefined;
  nicer?: string;
}

const DENIED_72 =
  "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user.";
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

describe("version hints and fork wordings", () => {
  const hint = (...lines: string[]) => classifyExchange(fromReplies(lines.map(err)));

  it("≤ 2.6: operation not permitted + old unknown command", () => {
    const c = hint(
      "ERR operation not permitted",
      "ERR unknown command 'HELLO'",
      "ERR operation not permitted",
    );
    assert.equal(c.server?.version_hint, "<=2.6");
  });

  it("Valkey 8 DENIED: product valkey, hint in Valkey versions", () => {
    const c = hint(
      "DENIED Running in protected mode because protected mode is enabled and no password is set for the default user.",
    );
    assert.equal(c.state, "protected");
    assert.deepEqual(c.server, { product: "valkey", version_hint: ">=8.0" });
  });

  it("KeyDB DENIED: product keydb, no Redis-era hint", () => {
    const c = hint(
      "DENIED KeyDB is running in protected mode because protected mode is enabled, no bind address was specified, no authentication password is requested to clients.",
    );
    assert.equal(c.state, "protected");
    assert.deepEqual(c.server, { product: "keydb" });
  });

  it("Valkey LOADING and BUSY name the product", () => {
    const l = hint("LOADING Valkey is loading the dataset in memory");
    assert.equal(l.state, "busy");
    assert.equal(l.server?.product, "valkey");
    const b = hint(
      "BUSY Valkey is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    );
    assert.equal(b.server?.product, "valkey");
    assert.equal(hint("LOADING KeyDB is loading the dataset in memory").server?.product, "keydb");
  });

  it("MASTERDOWN wording dates the server", () => {
    assert.equal(
      hint("MASTERDOWN Link with MASTER is down and slave-serve-stale-data is set to 'no'.").server
        ?.version_hint,
      "2.6-4.0",
    );
    assert.equal(
      hint("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.")
        .server?.version_hint,
      ">=5.0",
    );
  });

  it("BUSY function / module wording is 7.0+", () => {
    assert.equal(
      hint(
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.",
      ).server?.version_hint,
      ">=7.0",
    );
  });

  it("max clients in cluster mode is 6.0.6+", () => {
    assert.equal(
      hint("ERR max number of clients + cluster connections reached").server?.version_hint,
      ">=6.0.6",
    );
  });

  it("NOPERM wordings", () => {
    assert.equal(
      hint("NOPERM this user has no permissions to run the 'info' command or its subcommand").server
        ?.version_hint,
      "6.0-6.2",
    );
    assert.equal(
      hint("NOPERM this user has no permissions to run the 'info' command").server?.version_hint,
      "7.0",
    );
    assert.equal(
      hint("NOPERM User default has no permissions to run the 'info' command").server?.version_hint,
      ">=7.2",
    );
  });

  it("contradictory evidence keeps the narrowest single hint", () => {
    // <=2.6 and >=7.2 cannot both hold; the closed range wins over open-ended ones.
    const c = hint(
      "ERR operation not permitted",
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option",
      "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option",
    );
    assert.equal(c.server?.version_hint, "6.0-7.0");
  });

  it("versionHint() is usable on its own", () => {
    assert.equal(versionHint(fromReplies([err(DENIED_72)])), ">=7.0");
    assert.equal(versionHint(empty()), undefined);
  });

  it("error kinds are decided on the code", () => {
    assert.equal(errorKind("NOAUTH anything at all"), "NOAUTH");
    assert.equal(errorKind("DENIED Whatever a fork says"), "DENIED");
    assert.equal(errorKind("LOADING Foo is loading"), "LOADING");
    assert.equal(errorKind("WRONGPASS invalid username-password pair"), "WRONGPASS");
    assert.equal(errorKind("ERR invalid password"), "WRONGPASS");
    assert.equal(errorKind("\x1b[31mred"), "ERR");
    assert.equal(errorKind("lowercase code"), "ERR");
  });
});

// ---------- hostile input ----------

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

describe("safeText fast path", () => {
  /** The definition: walk code points, escape the unsafe ones, stop at `max` UTF-16 units. */
  // (isUnsafe is the predicate; the fast path's regex must agree with it.)
  function reference(s: string, max: number): string {
    let out = "";
    for (const ch of s) {
      const cp = ch.codePointAt(0) ?? 0;
      const piece = isUnsafe(cp)
        ? cp <= 0xff
          ? `\\x${cp.toString(16).padStart(2, "0")}`
          : `\\u${cp.toString(16).padStart(4, "0")}`
        : ch;
      if (out.length + piece.length > max) break;
      out += piece;
      if (out.length === max) break;
    }
    return out;
  }

  it("equals the code-point walk for any string and length", () => {
    const chars = fc.oneof(
      fc.constantFrom("a", "Z", " ", "\u0000", "\u001b", "\u007f", "\u0085", "\u2028", "\u202e"),
      fc.constantFrom("\u2067", "\ufeff", "\ud83d\ude00", "\ud83d", "\ude00", "é", "<", "\r", "\n"),
    );
    fc.assert(
      fc.property(
        fc.array(chars, { maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        (parts, max) => {
          const s = parts.join("");
          assert.equal(safeText(s, max), reference(s, max));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
