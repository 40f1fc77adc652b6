/** classify/info.ts and facts.ts: the INFO parser, and product, version and facts from INFO samples of every fork and era. */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import {
  FACT_KEYS,
  parseInfo,
  parseSubfields,
  serverFactsFromInfo,
} from "../src/classify/index.js";
import { trieSource } from "../src/classify/info.js";
import {
  bulk,
  CLUSTER,
  DRAGONFLY,
  ELASTICACHE,
  FIXTURES,
  facts,
  GARNET,
  helloMap,
  info,
  int,
  KEYDB,
  MASTER_TWO_REPLICAS,
  MODULES,
  REDIS8,
  REDIS24,
  REDIS26_MASTER,
  REPLICA,
  SENTINEL,
  VALKEY8,
  VALKEY72,
  WIN3,
  WIN32,
} from "./helpers/classify.js";

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
