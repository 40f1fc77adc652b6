/**
 * `redscope scan` options of issue 18, as a user runs them: --list-targets and --dry-run (the
 * scan's own order, nothing sent, no store), --allow-reserved RANGES, --source-ip/--interface,
 * --retries, -v, and trends grouped by the fingerprint of the target space (SQLite and
 * PostgreSQL). Targets are loopback addresses only.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { buildReport } from "../src/report/build.js";
import { openStore } from "../src/store/index.js";
import { parseJsonl, runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";
import { type PgServer, startPostgres } from "./helpers/postgres.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "i18-cli-options-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A listener on 127.0.0.1 that records every peer and answers as a password-protected Redis. */
async function recordingServer(
  onConnection?: (s: net.Socket, n: number) => boolean,
): Promise<{ port: number; peers: string[]; server: net.Server; close(): Promise<void> }> {
  const peers: string[] = [];
  const server = net.createServer((s) => {
    peers.push(s.remoteAddress ?? "?");
    s.on("error", () => {});
    if (onConnection?.(s, peers.length)) return;
    s.on("data", () => s.end("-NOAUTH Authentication required.\r\n"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as net.AddressInfo).port,
    peers,
    server,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/**
 * Proof that no connection came before now: connect once more and see that this sentinel is the
 * first connection the server accepted (accepts are in order).
 */
async function noConnectionBefore(srv: { port: number; peers: string[] }): Promise<void> {
  const before = srv.peers.length;
  const c = net.connect(srv.port, "127.0.0.1");
  c.on("error", () => {});
  await once(c, "connect");
  // The server has accepted it once it answers; wait for its 'connection' event.
  for (let i = 0; i < 1000 && srv.peers.length === before; i++) {
    await new Promise((r) => setImmediate(r));
  }
  c.destroy();
  assert.equal(before, 0, "connections reached the server before the sentinel");
  assert.equal(srv.peers.length, 1);
  srv.peers.length = 0;
}

describe("--list-targets and --dry-run: the scan's order, nothing sent, no store", () => {
  let srv: Awaited<ReturnType<typeof recordingServer>>;
  before(async () => {
    srv = await recordingServer();
  });
  after(() => srv.close());

  test("lists ip:port in scan order with excludes, shard and cap applied; sends nothing", async () => {
    const db = path.join(tmp, "list.db");
    const exclude = path.join(tmp, "optout.txt");
    fs.writeFileSync(exclude, "127.0.0.5 # asked not to be scanned\n");
    const base = ["scan", "127.0.0.1", "127.0.0.4/30", "-p", `${srv.port},6379`];
    const flags = ["--allow-reserved", "127.0.0.0/8", "--exclude", exclude, "--seed", "42"];
    const r = await runCli([...base, ...flags, "--list-targets", "--db", db]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    const want = ["127.0.0.1", "127.0.0.4", "127.0.0.6", "127.0.0.7"].flatMap((ip) => [
      `${ip}:${srv.port}`,
      `${ip}:6379`,
    ]);
    assert.deepEqual([...lines].sort(), want.sort());
    assert.ok(!fs.existsSync(db), "no store was opened");
    await noConnectionBefore(srv);

    // The order is the scan's: one connection at a time, results come in listing order.
    const scan = await runCli([
      ...base,
      ...flags,
      "--no-db",
      "-o",
      "-",
      "-q",
      "--concurrency",
      "1",
    ]);
    assert.equal(scan.code, 0, scan.stderr);
    assert.deepEqual(
      parseJsonl(scan.stdout).map((x) => `${x.ip}:${x.port}`),
      lines,
    );
    srv.peers.length = 0;

    // Shards split the listing; the cap takes its head.
    const parts: string[][] = [];
    for (const shard of ["0/2", "1/2"]) {
      const s = await runCli([...base, ...flags, "--list-targets", "--shard", shard]);
      assert.equal(s.code, 0, s.stderr);
      parts.push(s.stdout.trim().split("\n"));
    }
    assert.deepEqual([...parts[0]!, ...parts[1]!].sort(), [...lines].sort());
    assert.equal(parts[0]!.filter((x) => parts[1]!.includes(x)).length, 0, "disjoint");
    const capped = await runCli([...base, ...flags, "--list-targets", "--max-targets", "3"]);
    assert.deepEqual(capped.stdout.trim().split("\n"), lines.slice(0, 3));
  });

  test("a bare --allow-reserved before a target: the word is the target, all ranges allowed", async () => {
    const r = await runCli(["scan", "--allow-reserved", "127.0.0.9", "-p", "7", "--list-targets"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "127.0.0.9:7\n");
    // And with IPv6 loopback: [v6]:port, the form -iL reads back.
    const v6 = await runCli(["scan", "::1", "--allow-reserved", "-p", "7", "--list-targets"]);
    assert.equal(v6.stdout, "[::1]:7\n");
  });

  test("--dry-run: counts by rule, the shard's share, the duration; the listing reads back the same", async () => {
    const db = path.join(tmp, "dry.db");
    const exclude = path.join(tmp, "dry-optout.txt");
    fs.writeFileSync(exclude, "127.0.0.8/29\n");
    const args = [
      "scan",
      "127.0.0.0/27",
      "10.0.0.0/30",
      "-p",
      "6379,7000-7001",
      "--allow-reserved",
      "127.0.0.0/8,10.0.0.0/31",
      "--exclude",
      exclude,
      "--shard",
      "1/2",
      "--seed",
      "9",
      "--rate",
      "10",
    ];
    const r = await runCli([...args, "--dry-run", "--db", db]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!fs.existsSync(db), "no store was opened");
    const out = r.stdout;
    assert.match(out, /^dry run: nothing sent, nothing stored$/m);
    // 32 + 4 addresses, 8 excluded, 2 of 10.0.0.0/30 still blocked: 26 addresses × 3 ports.
    assert.match(out, /^targets: 78 \(26 addresses × 3 ports\)$/m);
    assert.match(out, /^ports: 6379,7000-7001$/m);
    assert.match(
      out,
      /^reserved \(default blocklist\): 2 addresses skipped; 34 allowed by --allow-reserved$/m,
    );
    assert.match(out, /^ {2}10\.0\.0\.0\/8 \(private-use\): 2$/m);
    assert.match(out, /^excluded \(--exclude\): 8 addresses and pairs$/m);
    assert.match(out, /^ {2}127\.0\.0\.8\/29 \(.*dry-optout\.txt:1\): 8$/m);
    const share = Number(/^this run probes: (\d+) \(shard 1\/2\)$/m.exec(out)?.[1]);
    assert.match(out, /^order: seed 9$/m);
    assert.match(out, /^duration: at least \d+(\.\d)? s at --rate 10\/s; at most /m);
    const space = /^target space: ([0-9a-f]{16}) /m.exec(out)?.[1];
    assert.ok(space);

    // With --list-targets the counts go to stderr and the targets to stdout: as many as counted.
    const both = await runCli([...args, "--dry-run", "--list-targets"]);
    assert.equal(both.code, 0, both.stderr);
    const listed = both.stdout.trim().split("\n");
    assert.equal(listed.length, share);
    assert.match(both.stderr, /^this run probes: /m);

    // The whole listing, written to a file, is the same target space to a later scan.
    const all = await runCli([
      ...args.filter((a, i) => a !== "--shard" && args[i - 1] !== "--shard"),
      "--list-targets",
    ]);
    const file = path.join(tmp, "listed.txt");
    fs.writeFileSync(file, all.stdout.split("\n").reverse().join("\n"));
    // Pairs, not ranges × ports: the same set all the same (every listed port is on -p).
    const again = await runCli([
      "scan",
      "-iL",
      file,
      "-p",
      "6379,7000-7001",
      "--allow-reserved",
      "127.0.0.0/8,10.0.0.0/31",
      "--dry-run",
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^targets: 78 /m);
    await noConnectionBefore(srv);
  });

  test("--stream cannot be listed; bad allowances are one-line usage errors", async () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ["scan", "-iL", "-", "--stream", "--list-targets"],
        /--stream reads its targets while scanning/,
      ],
      [
        ["scan", "127.0.0.1", "--allow-reserved", "10.0.0.0/8"],
        /127\.0\.0\.1 is in 127\.0\.0\.0\/8.*--allow-reserved 127\.0\.0\.0\/8 to scan it/,
      ],
      [
        ["scan", "--allow-reserved", "127.0.0.0/8", "--dry-run"],
        /no targets: --allow-reserved took 127\.0\.0\.0\/8 as the ranges it allows; name the targets too/,
      ],
      [["scan", "8.8.8.8", "--allow-reserved", "8.8.8.0/24"], /not in the default blocklist/],
      [["scan", "127.0.0.1", "--allow-reserved", "127.0.0.0/40"], /--allow-reserved: invalid CIDR/],
      [["scan", "127.0.0.1", "--allow-reserved", "--retries", "11"], /--retries/],
      [
        ["scan", "127.0.0.1", "--allow-reserved", "--source-ip", "127.0.0.2", "--interface", "lo"],
        /exclude each other/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, re);
    }
    await noConnectionBefore(srv);
  });
});

describe("--source-ip, --interface, --retries, -v", () => {
  test("--source-ip 127.0.0.2: the server sees that peer address", async () => {
    const srv = await recordingServer();
    try {
      const r = await runCli([
        "scan",
        "127.0.0.1",
        "-p",
        String(srv.port),
        "--allow-reserved",
        "--source-ip",
        "127.0.0.2",
        "--no-db",
        "-o",
        "-",
        "-q",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(parseJsonl(r.stdout)[0]?.state, "auth_required");
      assert.deepEqual(srv.peers, ["127.0.0.2"]);
    } finally {
      await srv.close();
    }
  });

  test("--interface lo sends from its address; unknown interfaces and foreign addresses are refused", async () => {
    const srv = await recordingServer();
    try {
      const r = await runCli([
        "scan",
        "127.0.0.1",
        "-p",
        String(srv.port),
        "--allow-reserved",
        "--interface",
        "lo",
        "--no-db",
        "-o",
        "-",
        "-q",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(srv.peers, ["127.0.0.1"]);
      srv.peers.length = 0;
      const cases: Array<[string[], RegExp]> = [
        [
          ["--interface", "nosuch0"],
          /--interface "nosuch0": no such network interface \(this host has .*lo/,
        ],
        // Not an address of this host: refused before anything is sent.
        [
          ["--source-ip", "192.0.2.1"],
          /--source-ip 192\.0\.2\.1: cannot send from 192\.0\.2\.1 \(EADDRNOTAVAIL/,
        ],
        [["--source-ip", "localhost"], /--source-ip localhost: not an IP address/],
        // An IPv4 source cannot reach an IPv6 target.
        [
          ["--source-ip", "127.0.0.2", "::1"],
          /target ::1 is IPv6 but the source address \(127\.0\.0\.2\) is not/,
        ],
      ];
      for (const [extra, re] of cases) {
        const bad = await runCli([
          "scan",
          "127.0.0.1",
          "-p",
          String(srv.port),
          "--allow-reserved",
          "--no-db",
          "-o",
          "-",
          ...extra,
        ]);
        assert.equal(bad.code, 2, `${extra.join(" ")}: ${bad.stderr}`);
        assert.match(bad.stderr, re);
        assert.equal(bad.stdout, "");
      }
      await noConnectionBefore(srv);
    } finally {
      await srv.close();
    }
  });

  test("--retries: a reset before any byte is tried again, and the result says how often", async () => {
    // The first connection is reset at once; the second is answered.
    const srv = await recordingServer((s, n) => {
      if (n === 1) {
        s.resetAndDestroy();
        return true;
      }
      return false;
    });
    const closedPort = await freePort();
    try {
      const r = await runCli([
        "scan",
        "127.0.0.1",
        `127.0.0.1:${closedPort}`,
        "-p",
        String(srv.port),
        "--allow-reserved",
        "--retries",
        "2",
        "--no-db",
        "-o",
        "-",
        "-q",
        "-v",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const res = parseJsonl(r.stdout);
      const answered = res.find((x) => x.port === srv.port);
      assert.equal(answered?.state, "auth_required");
      assert.equal(answered?.attempts, 2);
      assert.equal(srv.peers.length, 2);
      // A refused port answered (a RST is an answer): closed at once, not tried again.
      const refused = res.find((x) => x.port === closedPort);
      assert.equal(refused?.state, "closed");
      assert.equal(refused?.attempts, undefined);
      // -v: one line per target on stderr, as results arrive.
      const lines = r.stderr.split("\n").filter((l) => l.startsWith("127.0.0.1:"));
      assert.equal(lines.length, 2, r.stderr);
      assert.ok(
        lines.some((l) =>
          new RegExp(
            `^127\\.0\\.0\\.1:${srv.port} {2}auth_required {2}.*NOAUTH {2}after 2 attempts$`,
          ).test(l),
        ),
        r.stderr,
      );
      assert.ok(
        lines.some((l) => l.startsWith(`127.0.0.1:${closedPort}  closed`)),
        r.stderr,
      );

      // Without --retries the reset is the result.
      srv.peers.length = 0;
      const once1 = await recordingServer((s) => {
        s.resetAndDestroy();
        return true;
      });
      try {
        const r1 = await runCli([
          "scan",
          `127.0.0.1:${once1.port}`,
          "--allow-reserved",
          "--no-db",
          "-o",
          "-",
          "-q",
        ]);
        const [only] = parseJsonl(r1.stdout);
        assert.equal(only?.attempts, undefined);
        assert.notEqual(only?.state, "auth_required");
        assert.equal(once1.peers.length, 1);
      } finally {
        await once1.close();
      }
    } finally {
      await srv.close();
    }
  });

  test("-v lines are terminal-safe: a hostile server's bytes never reach stderr raw", async () => {
    const srv = await recordingServer((s) => {
      s.on("data", () => s.end("-ERR \x1b]0;owned\x07\x1b[31mred\r\n"));
      return true;
    });
    try {
      const r = await runCli([
        "scan",
        `127.0.0.1:${srv.port}`,
        "--allow-reserved",
        "--no-db",
        "-o",
        "/dev/null",
        "-q",
        "-v",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const line = r.stderr.split("\n").find((l) => l.startsWith("127.0.0.1:"));
      assert.ok(line, r.stderr);
      const controls = [...line].filter(
        (ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f,
      );
      assert.deepEqual(controls, [], "no control characters");
      // The server's error line is shown, its escape sequences as harmless text.
      assert.ok(line.includes("\\x1b]0;owned"), line);
    } finally {
      await srv.close();
    }
  });
});

describe("trends compare scans of the same target space, not of the same file name", () => {
  let pg: PgServer;
  before(async () => {
    pg = await startPostgres();
  });
  after(() => pg.stop());

  for (const backend of ["sqlite", "postgres"] as const) {
    test(backend, async () => {
      const db =
        backend === "sqlite" ? path.join(tmp, "trend.db") : await pg.database("trends_by_space");
      const a = path.join(tmp, `week1-${backend}.txt`);
      const b = path.join(tmp, `renamed-${backend}.lst`);
      const c = path.join(tmp, `other-${backend}.txt`);
      fs.writeFileSync(a, "127.0.0.0/30\n127.0.0.9\n");
      // The same set, otherwise written and ordered, in a file of another name.
      fs.writeFileSync(b, "# moved\n127.0.0.9\n127.0.0.2-127.0.0.3\n127.0.0.0 127.0.0.1\n");
      // Another set.
      fs.writeFileSync(c, "127.0.0.0/30\n127.0.0.10\n");
      const ids: string[] = [];
      for (const [file, id] of [
        [a, `${backend}-w1`],
        [b, `${backend}-w2`],
        [c, `${backend}-other`],
      ] as const) {
        const r = await runCli([
          "scan",
          "-iL",
          file,
          "-p",
          "9",
          "--allow-reserved",
          "127.0.0.0/8",
          "--db",
          db,
          "--scan-id",
          id,
          "--no-intel",
          "-q",
        ]);
        assert.equal(r.code, 0, r.stderr);
        ids.push(id);
      }
      const store = await openStore(db);
      try {
        const w2 = await store.getScan(`${backend}-w2`);
        const w1 = await store.getScan(`${backend}-w1`);
        assert.ok(w1?.targetSpace && w2?.targetSpace);
        assert.equal(w1.targetSpace, w2.targetSpace);
        assert.notEqual(w1.targets, w2.targets, "the files differ by name");
        const report = await buildReport(store, w2);
        assert.deepEqual(
          report.trends.map((t) => t.scanId),
          [`${backend}-w1`, `${backend}-w2`],
        );
        const other = await store.getScan(`${backend}-other`);
        assert.ok(other?.targetSpace && other.targetSpace !== w1.targetSpace);
        const otherReport = await buildReport(store, other);
        assert.deepEqual(
          otherReport.trends.map((t) => t.scanId),
          [`${backend}-other`],
        );
      } finally {
        await store.close();
      }
    });
  }
});
