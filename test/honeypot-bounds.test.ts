/**
 * The honeypot's bounds against hostile visitors, through `redscope honeypot` as operators run
 * it: one memory budget that sessions draw from (a session past its share is closed as Redis
 * closes a client past its query-buffer limit; when the budget is short the session holding
 * the most goes), what the classifier keeps bounded in bytes, replies bounded as they are
 * made, values longer than what is kept still reporting their length, slots shared fairly
 * between source prefixes, and the per-source disk budget counted in bytes.
 *
 * Every wait is for an event (a reply, a close, a row in the store), never for a clock.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { encodeCommand } from "../src/resp/index.js";
import { openStore } from "../src/store/index.js";
import {
  type RunningHoneypot,
  readRows,
  startHoneypot,
  Visitor,
} from "./helpers/honeypot-process.js";
import { canMakeNetns } from "./helpers/netns.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-hp-bounds-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cmd = (...args: Array<string | Buffer>): Buffer => encodeCommand(args);
/** One argument of 64 KB, as a multibulk part. */
const ARG64 = Buffer.concat([
  Buffer.from("$65536\r\n"),
  Buffer.alloc(64 * 1024, 0x61),
  Buffer.from("\r\n"),
]);

interface Row {
  type: string;
  id?: string;
  sessionId?: string;
  kind?: string;
  name?: string;
  srcIp?: string;
  srcPort?: number;
  commands?: number;
  classes?: string;
  record: Record<string, unknown>;
}

type Honeypot = RunningHoneypot & { port: number };

/** Recording to a JSONL file only. */
const jsonl = (file: string): string[] => ["--no-db", "-o", file];

/**
 * Run `body` against a honeypot on one redis-7.0-open listener (recording as `record` says,
 * with `extra` flags); whatever happens, nothing is left running.
 */
async function withHoneypot(
  record: string[],
  extra: string[],
  body: (hp: Honeypot) => Promise<void>,
): Promise<void> {
  const hp = await startHoneypot([
    "--listen",
    "127.0.0.1:0/redis-7.0-open",
    ...record,
    "-q",
    ...extra,
  ]);
  try {
    await body(Object.assign(hp, { port: hp.ports.get("redis-7.0-open")! }));
  } finally {
    if (hp.child.exitCode === null) hp.child.kill("SIGKILL");
  }
}

let tests = 0;

/** A test against a honeypot recording to a JSONL file of its own (`extra`: more flags). */
function honeypotTest(
  name: string,
  extra: string[],
  body: (hp: Honeypot, file: string) => Promise<void>,
): void {
  test(name, FAIL_AFTER, async () => {
    const file = path.join(tmp, `${++tests}.jsonl`);
    await withHoneypot(jsonl(file), extra, (hp) => body(hp, file));
  });
}

/** Stop it (asserting a clean exit) and read what it wrote. */
async function stopAndRead(hp: RunningHoneypot, file: string): Promise<Row[] & { out: string }> {
  const stopped = await hp.stop();
  assert.equal(stopped.code, 0, stopped.out);
  return Object.assign(readRows<Row>(file), { out: stopped.out });
}

/**
 * A bound for a wait that should end at once: on code without the behaviour under test the
 * event never comes, and the test fails instead of hanging. Not a measure of speed.
 */
const FAIL_AFTER = { timeout: 120_000 };

/** The session a visitor had, by its source port, and its events. */
function sessionOf(rows: Row[], v: Visitor): { session: Row; events: Row[] } {
  const port = v.port;
  const session = rows.filter((r) => r.type === "session" && r.srcPort === port).at(-1);
  assert.ok(session, `a session from port ${port}`);
  return { session, events: rows.filter((r) => r.type === "event" && r.sessionId === session.id) };
}

const limitsOf = (events: Row[]): unknown[] =>
  events.filter((e) => e.kind === "limit").map((e) => e.record.limit);

/** The `limit` of every limit event in the store at `db`. */
async function limitEvents(db: string): Promise<unknown[]> {
  const store = await openStore(db);
  try {
    const limits: unknown[] = [];
    for await (const s of store.honeypotSessions()) {
      for (const e of await store.honeypotEvents(s.id)) {
        if (e.kind === "limit") limits.push(e.record.limit);
      }
    }
    return limits;
  } finally {
    await store.close();
  }
}

describe("honeypot memory", () => {
  honeypotTest(
    "a command holding more than a session's share is cut without a reply, as Redis past its query-buffer limit",
    [],
    async (hp, file) => {
      // 40 MB of 64 KB arguments in one command: past a session's share of the default 256 MB.
      const v = await Visitor.connect(hp.port);
      await v.send(Buffer.from(`*641\r\n$6\r\nEXISTS\r\n`));
      for (let i = 0; i < 640; i++) if (!(await v.send(ARG64))) break;
      await v.closed;
      assert.equal(v.received, "", "closed without a word");
      // The sensor goes on answering others.
      const other = await Visitor.connect(hp.port, "127.3.0.1");
      assert.equal(await other.ask(cmd("PING"), "\r\n"), "+PONG\r\n");
      other.sock.destroy();
      const rows = await stopAndRead(hp, file);
      const { session, events } = sessionOf(rows, v);
      assert.deepEqual(limitsOf(events), ["query_buffer"]);
      const limit = events.find((e) => e.kind === "limit")!.record as { held: number };
      assert.ok(
        limit.held > 30 * 1024 * 1024 && limit.held <= 32 * 1024 * 1024 + 70_000,
        `${limit.held}`,
      );
      assert.equal(session.commands, 0, "the command never ran");
    },
  );

  test(
    "sessions together stay inside --memory: when it is short, the session holding the most is closed",
    FAIL_AFTER,
    async () => {
      const db = path.join(tmp, "budget.db");
      // 64 MB in all, 8 MB a session: ten sessions each holding 7 MB cannot all fit.
      await withHoneypot(["--db", db], ["--memory", "64m"], async (hp) => {
        const visitors: Visitor[] = [];
        for (let s = 0; s < 10; s++) {
          // A command of 200 arguments of which 112 come: it holds 7 MB while it waits.
          const v = await Visitor.connect(hp.port, `127.0.${s}.1`);
          visitors.push(v);
          await v.send(Buffer.from(`*200\r\n$6\r\nEXISTS\r\n`));
          for (let i = 0; i < 112; i++) if (!(await v.send(ARG64))) break;
        }
        // Wait for the store to show the eviction (it writes every half second).
        while ((await limitEvents(db)).length === 0) await new Promise((r) => setTimeout(r, 100));
        for (const v of visitors) v.sock.destroy();
        const stopped = await hp.stop();
        assert.equal(stopped.code, 0, stopped.out);
        const limits = await limitEvents(db);
        // Each session alone is within its share: only the budget closes any.
        assert.ok(limits.length >= 1 && limits.length <= 2, JSON.stringify(limits));
        assert.ok(
          limits.every((l) => l === "memory"),
          JSON.stringify(limits),
        );
      });
    },
  );

  honeypotTest(
    "replies are bounded as they are made: a read asking for 120 MB of them, or one MGET for 60 MB, is cut",
    [],
    async (hp, file) => {
      const v = await Visitor.connect(hp.port);
      assert.equal(await v.ask(cmd("SET", "k", Buffer.alloc(60_000, 0x62)), "\r\n"), "+OK\r\n");
      // 2,000 GETs of a 60 KB value in one write: 120 MB of replies to one read.
      await v.send(Buffer.from("GET k\r\n".repeat(2000)));
      await v.closed;
      assert.equal(v.received, "+OK\r\n", "not one GET answered");
      // One MGET of that key 1,000 times: 60 MB of reply to one 10 KB command.
      const m = await Visitor.connect(hp.port);
      assert.equal(await m.ask(cmd("SET", "k", Buffer.alloc(60_000, 0x62)), "\r\n"), "+OK\r\n");
      await m.send(cmd("MGET", ...Array.from({ length: 1000 }, () => "k")));
      await m.closed;
      assert.equal(m.received, "+OK\r\n");
      const rows = await stopAndRead(hp, file);
      assert.deepEqual(limitsOf(sessionOf(rows, v).events), ["output_buffer"]);
      assert.deepEqual(limitsOf(sessionOf(rows, m).events), ["output_buffer"]);
    },
  );

  honeypotTest(
    "the classifier keeps a bounded number of bytes per session; what it does not keep still counts",
    [],
    async (hp, file) => {
      const v = await Visitor.connect(hp.port);
      // 300 commands of 32 arguments of 1 KB (10 MB), then 150 PUBLISH: a leak stream, and a
      // rogue master that padding in front would hide from a classifier that kept nothing.
      const args = Array.from({ length: 32 }, (_, i) => Buffer.alloc(1024, 0x41 + i));
      for (let c = 0; c < 300; c++) await v.send(cmd("EXISTS", ...args));
      for (let c = 0; c < 150; c++) await v.send(cmd("PUBLISH", "leak", Buffer.alloc(1024, 0x78)));
      await v.send(cmd("SLAVEOF", "198.51.100.7", "8888"));
      await v.send(cmd("QUIT"));
      await v.closed;
      const rows = await stopAndRead(hp, file);
      const { session } = sessionOf(rows, v);
      const record = session.record as {
        classified_commands?: number;
        findings: Array<{ class: string; evidence: string[] }>;
      };
      assert.equal(session.commands, 452);
      const kept = record.classified_commands;
      assert.ok(kept !== undefined && kept * 32 * 1024 <= 2 * 1024 * 1024, `kept ${kept} commands`);
      const exfiltration = record.findings.find((f) => f.class === "exfiltration");
      assert.ok(
        exfiltration?.evidence.some((e) => e.startsWith("150 PUBLISH")),
        JSON.stringify(record.findings),
      );
      assert.match(session.classes ?? "", /rogue_replication/);
    },
  );
});

describe("honeypot keyspace", () => {
  honeypotTest(
    "a value longer than what is kept answers STRLEN, APPEND and GETRANGE with the length that was sent",
    [],
    async (hp, file) => {
      const v = await Visitor.connect(hp.port);
      const big = Buffer.alloc(1024 * 1024, 0x7a);
      big.write("head", 0);
      assert.equal(await v.ask(cmd("SET", "k", big), "\r\n"), "+OK\r\n");
      assert.equal(await v.ask(cmd("STRLEN", "k"), "\r\n"), ":1048576\r\n");
      assert.equal(await v.ask(cmd("APPEND", "k", "xyz"), "\r\n"), ":1048579\r\n");
      assert.equal(await v.ask(cmd("STRLEN", "k"), "\r\n"), ":1048579\r\n");
      assert.equal(await v.ask(cmd("GETRANGE", "k", "0", "5"), "zz\r\n"), "$6\r\nheadzz\r\n");
      // A value under the cap comes back whole.
      const small = Buffer.alloc(2048, 0x71);
      assert.equal(await v.ask(cmd("SET", "s", small), "\r\n"), "+OK\r\n");
      const got = await v.ask(cmd("GET", "s"), `${small.toString("latin1")}\r\n`);
      assert.equal(got, `$2048\r\n${small.toString("latin1")}\r\n`);
      await v.send(cmd("QUIT"));
      await v.closed;
      await stopAndRead(hp, file);
    },
  );
});

describe("honeypot slots", () => {
  honeypotTest(
    "per-source limits count a /24 as one source",
    ["--max-per-source", "2"],
    async (hp) => {
      for (const ip of ["127.0.0.1", "127.0.0.2"]) {
        const v = await Visitor.connect(hp.port, ip);
        assert.equal(await v.ask(cmd("PING"), "\r\n"), "+PONG\r\n");
      }
      const third = await Visitor.connect(hp.port, "127.0.0.3");
      await third.closed;
      assert.equal(third.received, "-ERR max number of clients reached\r\n");
      const elsewhere = await Visitor.connect(hp.port, "127.0.1.3");
      assert.equal(await elsewhere.ask(cmd("PING"), "\r\n"), "+PONG\r\n", "another /24");
    },
  );

  honeypotTest(
    "--source-prefix 32,128: each address is a source",
    ["--max-per-source", "2", "--source-prefix", "32,128"],
    async (hp) => {
      for (const ip of ["127.0.0.1", "127.0.0.1", "127.0.0.2"]) {
        const v = await Visitor.connect(hp.port, ip);
        assert.equal(await v.ask(cmd("PING"), "\r\n"), "+PONG\r\n");
      }
    },
  );

  honeypotTest(
    "when every slot is taken, a new visitor is answered and the session idle the longest is closed",
    ["--max-sessions", "6", "--max-per-source", "2"],
    async (hp, file) => {
      // Three sources fill the six slots; all but the first speak again after.
      const held: Visitor[] = [];
      for (let i = 0; i < 6; i++) {
        const v = await Visitor.connect(hp.port, `127.1.${i >> 1}.1`);
        held.push(v);
        assert.equal(await v.ask(cmd("PING"), "\r\n"), "+PONG\r\n");
      }
      for (const v of held.slice(1)) assert.equal(await v.ask(cmd("PING"), "\r\n"), "+PONG\r\n");
      const visitor = await Visitor.connect(hp.port, "127.2.0.1");
      assert.equal(await visitor.ask(cmd("PING"), "\r\n"), "+PONG\r\n");
      await held[0]!.closed;
      assert.equal(held[0]!.received, "+PONG\r\n", "closed without a word");
      for (const v of held.slice(1)) assert.equal(v.sock.destroyed, false);
      for (const v of [...held, visitor]) v.sock.destroy();
      const rows = await stopAndRead(hp, file);
      const { events } = sessionOf(rows, held[0]!);
      assert.deepEqual(limitsOf(events), ["evicted"]);
      assert.match(rows.out, /1 idle sessions closed for new visitors/);
    },
  );

  test("an IPv6 /64 is one source", {
    ...FAIL_AFTER,
    skip: !canMakeNetns() && "needs root for a network namespace",
  }, async () => {
    const ns = `rs-hp6-${process.pid}`;
    const ip = (...args: string[]): void => {
      const r = spawnSync("ip", args, { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    };
    // A namespace with only `lo`: its addresses are the test's own.
    ip("netns", "add", ns);
    const file = path.join(tmp, "v6.jsonl");
    let hp: RunningHoneypot | undefined;
    try {
      ip("-n", ns, "link", "set", "lo", "up");
      for (const a of ["fd00:7::1", "fd00:7::2", "fd00:7::3", "fd00:8::2"]) {
        ip("-n", ns, "addr", "add", `${a}/128`, "dev", "lo", "nodad");
      }
      hp = await startHoneypot(
        [
          "--listen",
          "[fd00:7::1]:0/redis-7.0-open",
          "--no-db",
          "-o",
          file,
          "-q",
          "--max-per-source",
          "1",
        ],
        ["ip", "netns", "exec", ns],
      );
      const port = hp.ports.get("redis-7.0-open")!;
      // Visitors inside the namespace: two addresses of one /64, then one of another /64.
      const script = `
        const net = require("node:net");
        const visit = (localAddress) => new Promise((resolve) => {
          const s = net.connect({ host: "fd00:7::1", port: ${port}, localAddress });
          let got = "";
          s.on("data", (d) => { got += d; if (got.includes("\\r\\n")) resolve(got); });
          s.on("close", () => resolve(got));
          s.on("connect", () => s.write("PING\\r\\n"));
        });
        (async () => {
          const out = [];
          for (const a of ["fd00:7::2", "fd00:7::3", "fd00:8::2"]) out.push(await visit(a));
          console.log(JSON.stringify(out));
          process.exit(0);
        })();`;
      const r = spawnSync("ip", ["netns", "exec", ns, process.execPath, "-e", script], {
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), [
        "+PONG\r\n",
        "-ERR max number of clients reached\r\n",
        "+PONG\r\n",
      ]);
    } finally {
      if (hp !== undefined) await hp.stop();
      spawnSync("ip", ["netns", "del", ns]);
    }
  });
});

describe("honeypot disk budget", () => {
  honeypotTest(
    "--source-bytes counts what events take as written, not how many there are",
    ["--source-bytes", "64k"],
    async (hp, file) => {
      const v = await Visitor.connect(hp.port);
      // Commands of 32 arguments of 1 KB: each event takes about 33 KB as written.
      const args = Array.from({ length: 32 }, (_, i) => Buffer.alloc(1024, 0x41 + i));
      for (let c = 0; c < 20; c++) await v.send(cmd("EXISTS", ...args));
      await v.send(cmd("QUIT"));
      await v.closed;
      const rows = await stopAndRead(hp, file);
      const { session, events } = sessionOf(rows, v);
      const written = events
        .filter((e) => e.kind !== "close")
        .reduce((n, e) => n + Buffer.byteLength(JSON.stringify({ ...e, type: undefined })), 0);
      const recorded = events.filter((e) => e.kind === "command").length;
      assert.ok(recorded >= 1 && recorded <= 2, `${recorded} commands recorded`);
      // At most one record past the budget (a record is counted whole).
      assert.ok(written <= 64 * 1024 + 40 * 1024, `${written} bytes written`);
      assert.equal(session.commands, 21);
      assert.equal(session.record.over_source_budget, 21 - recorded, "QUIT too");
    },
  );
});
