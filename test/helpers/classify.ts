/** What the classify tests share: decoding recorded bytes into Exchanges, reply builders, INFO samples. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import {
  type Classification,
  type Exchange,
  FACT_KEYS,
  parseInfo,
  serverFactsFromInfo,
} from "../../src/classify/index.js";
import { DEFAULT_MAX_REPLY_BYTES, ReplyReader } from "../../src/classify/replies.js";
import { repliesDir } from "../../src/lab/replay.js";
import type { RespValue } from "../../src/resp/types.js";
import { emptyExchange } from "../../src/sources/fields.js";

export const FIXTURES = repliesDir();
export const PROBE = ["PING", "HELLO", "INFO", "QUIT"];

// ---------- helpers ----------

/** Recorded bytes through the shipped reply reader (classify/replies.ts), as the scanner reads them. */
export function decode(bytes: Buffer): {
  replies: RespValue[];
  head: Buffer;
  protocolError?: { code: string; offset: number };
} {
  const reader = new ReplyReader({ maxReplyBytes: DEFAULT_MAX_REPLY_BYTES });
  // Fed in small chunks: the classifier must not depend on how bytes arrived.
  // (All of them: the head a scanner keeps is its first segment's, usually whole.)
  for (let i = 0; i < bytes.length; i += 7) reader.push(bytes.subarray(i, i + 7));
  return {
    replies: reader.replies,
    head: reader.head,
    ...(reader.protocolError ? { protocolError: reader.protocolError } : {}),
  };
}

/** The Exchange the engine would record for these bytes. */
export function fromBytes(bytes: Buffer, over: Partial<Exchange> = {}): Exchange {
  const { replies, head, protocolError } = decode(bytes);
  const ex: Exchange = {
    sent: PROBE,
    replies,
    head,
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
export function fromReplies(replies: RespValue[], over: Partial<Exchange> = {}): Exchange {
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

export function empty(over: Partial<Exchange> = {}): Exchange {
  return { ...emptyExchange(), sent: PROBE, ...over };
}

export const err = (value: string): RespValue => ({ type: "error", value });
export const simple = (value: string): RespValue => ({ type: "simple", value });
export const bulk = (value: string): RespValue => ({ type: "bulk", value: Buffer.from(value) });
export const verbatim = (value: string): RespValue => ({
  type: "verbatim",
  format: "txt",
  value: Buffer.from(value),
});
export const int = (n: number): RespValue => ({ type: "integer", value: BigInt(n) });
export const helloMap = (fields: Record<string, RespValue>): RespValue => ({
  type: "map",
  value: Object.entries(fields).map(([k, v]) => [bulk(k), v]),
});
export const PONG = simple("PONG");
export const OK = simple("OK");

export const info = (...lines: string[]): string => lines.join("\r\n") + "\r\n";

// ---------- recorded fixtures ----------

export interface FixtureProbe {
  probe: string;
  reply_b64: string;
  closed_by_server: boolean;
}
export interface Fixture {
  server: string;
  version: string;
  config: string;
  probes: FixtureProbe[];
}

export function loadFixture(file: string): Fixture {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), "utf8")) as Fixture;
}

export function reply(fx: Fixture, probe: string): Buffer {
  const p = fx.probes.find((x) => x.probe === probe);
  assert.ok(p, `fixture has probe ${probe}`);
  return Buffer.from(p.reply_b64, "base64");
}

/** What the pipelined probe would receive from this recorded server. */
export function probeBytes(fx: Fixture, verbatimInfo = false): Buffer {
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
export const EXPECTED_HINT: Record<string, string> = {
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

export function assertOpenFixture(file: string, fx: Fixture, c: Classification): void {
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

export const VALKEY8 = info(
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

export const VALKEY72 = info(
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

export const KEYDB = info(
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

export const DRAGONFLY = info(
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

export const GARNET = info(
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

export const WIN3 = info(
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

export const WIN32 = info(
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

export const ELASTICACHE = info(
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

export const REDIS24 = info(
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

export const REDIS26_MASTER = info(
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

export const REPLICA = info(
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

export const MASTER_TWO_REPLICAS = info(
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

export const MODULES = info(
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

export const SENTINEL = info(
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

export const CLUSTER = info(
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

export const REDIS8 = info(
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

export function facts(text: string) {
  const full = serverFactsFromInfo(parseInfo(text));
  // The scanner parses with FACT_KEYS: it must learn exactly what a full parse learns.
  assert.deepEqual(serverFactsFromInfo(parseInfo(text, FACT_KEYS)), full);
  return full;
}

export const DENIED_72 =
  "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user.";
