/**
 * `redscope scan` as a user runs it: bad input, target forms, sharding, resume after kill -9.
 * Targets are loopback addresses only; unanswered ones are refused (closed) by the kernel.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { SqliteStore } from "../src/store/index.js";
import { BIN, parseJsonl, runCli, scanJson } from "./helpers/cli.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-cli-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("bad input: one line on stderr, exit 2, nothing written", () => {
  const existing = path.join(tmp, "keep.jsonl");
  before(() => fs.writeFileSync(existing, '{"precious":true}\n'));

  const cases: Array<[string, string[], RegExp]> = [
    ["unknown flag", ["scan", "127.0.0.1", "--frobnicate"], /unknown option '--frobnicate'/],
    ["malformed CIDR", ["scan", "10.0.0.0/33"], /10\.0\.0\.0\/33/],
    ["unreadable file", ["scan", "-iL", "/nonexistent/targets.txt"], /\/nonexistent\/targets\.txt/],
    ["port 0", ["scan", "127.0.0.1", "-p", "0"], /port/],
    ["port 70000", ["scan", "127.0.0.1", "-p", "70000"], /70000/],
    ["shard 5/4", ["scan", "127.0.0.1", "--shard", "5/4"], /shard/],
    ["reserved target", ["scan", "127.0.0.1"], /127\.0\.0\.0\/8.*--allow-reserved/],
    // --allow-reserved RANGES lifts the block for those ranges only.
    [
      "reserved target outside the ranges allowed",
      ["scan", "10.0.0.1", "--allow-reserved", "127.0.0.0/8"],
      /10\.0\.0\.1 is in 10\.0\.0\.0\/8 .*pass --allow-reserved 10\.0\.0\.0\/8 to scan it/,
    ],
    [
      "--allow-reserved with a range outside the blocklist",
      ["scan", "127.0.0.1", "--allow-reserved", "127.0.0.0/8,8.8.8.0/24"],
      /--allow-reserved "8\.8\.8\.0\/24": not in the default blocklist/,
    ],
    ["no targets", ["scan"], /no targets/],
    ["bad duration", ["scan", "127.0.0.1", "--read-timeout", "soon"], /--read-timeout/],
    ["tls and tls-auto", ["scan", "127.0.0.1", "--tls", "--tls-auto"], /exclude/],
    ["unknown command", ["frobnicate"], /unknown command/],
    // nmap's output forms: never `-o G` and a target named x.gnmap.
    ["nmap -oG", ["scan", "127.0.0.1", "-oG", "x.gnmap"], /-oG: nmap's output forms .* -oJ FILE/],
    ["nmap -oX", ["scan", "127.0.0.1", "-oX", "x.xml"], /-oX: nmap's output forms/],
    // nmap's -n: no DNS, so a hostname is refused, not resolved (-n was --max-targets).
    [
      "-n with a hostname",
      ["scan", "redis.example.com", "-n", "--allow-reserved"],
      /-n \(no DNS\): "redis\.example\.com" is a hostname; give its address/,
    ],
    // A file name where a target was expected is never sent to a resolver.
    [
      "a file name as a target",
      ["scan", "results.json", "--allow-reserved"],
      /"results\.json".*looks like a file name: read targets from a file with -iL results\.json/,
    ],
  ];
  for (const [name, args, re] of cases) {
    test(name, async () => {
      const r = await runCli(
        [...args, "-o", existing].slice(0, args[0] === "scan" ? undefined : args.length),
      );
      assert.equal(r.code, 2, `exit status for ${name}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0]!, /^redscope: /);
      assert.match(lines[0]!, re);
      assert.equal(r.stdout, "");
      assert.equal(
        fs.readFileSync(existing, "utf8"),
        '{"precious":true}\n',
        "output file untouched",
      );
    });
  }
});

describe("targets and output", () => {
  let server: net.Server;
  let port = 0;
  before(async () => {
    server = net.createServer((s) => {
      s.on("error", () => {});
      s.on("data", () => s.end("-NOAUTH Authentication required.\r\n"));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => server.close());

  test("stdin with zmap CSV, masscan -oL, ranges and ip:port; one result per target", async () => {
    const stdin = ["saddr,sport", "127.3.0.1,6379", "127.3.0.2,6379"].join("\n");
    const listFile = path.join(tmp, "masscan.txt");
    fs.writeFileSync(
      listFile,
      `#masscan\nopen tcp ${port} 127.0.0.1 1700000000\nopen tcp 6379 127.3.0.9 1700000000\n# end\n`,
    );
    const r = await runCli(
      [
        "scan",
        "127.3.1.1-127.3.1.4",
        "127.3.2.0/30",
        "-iL",
        "-",
        "-iL",
        listFile,
        "-p",
        String(port),
        "--allow-reserved",
        "-o",
        "-",
        "-q",
        "--connect-timeout",
        "1s",
      ],
      { stdin },
    );
    assert.equal(r.code, 0, r.stderr);
    const res = parseJsonl(r.stdout);
    const keys = res.map((x) => `${x.ip}:${x.port}`).sort();
    assert.equal(new Set(keys).size, keys.length, "no duplicates");
    // 4 range + 4 CIDR + 2 zmap addresses, on -p; plus 2 masscan pairs with their own ports.
    assert.equal(res.length, 12);
    const auth = res.find((x) => x.ip === "127.0.0.1" && x.port === port);
    assert.equal(auth?.state, "auth_required");
    assert.ok(res.some((x) => x.ip === "127.3.0.9" && x.port === 6379));
    assert.match(
      r.stderr,
      /auth_required\s+1\b/,
      "summary table on stderr when results go to stdout",
    );
    for (const x of res) {
      assert.ok(x.scan_id && x.time && x.transport === "tcp");
    }
  });

  test("-oJ FILE writes JSONL to FILE, as -o does (nmap's spelling)", async () => {
    const file = path.join(tmp, "oj.json");
    const r = await runCli([
      "scan",
      `127.0.0.1:${port}`,
      "--allow-reserved",
      "--no-db",
      "-q",
      "-oJ",
      file,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const rows = parseJsonl(fs.readFileSync(file, "utf8"));
    assert.deepEqual(
      rows.map((x) => [x.ip, x.port]),
      [["127.0.0.1", port]],
    );
    assert.ok(!fs.existsSync("J"), "no file named J");
  });

  test("hostnames resolve and are kept on the result", async () => {
    const { results: res } = await scanJson(["localhost"], ["-p", String(port)]);
    const v4 = res.find((x) => x.ip === "127.0.0.1");
    assert.equal(v4?.hostname, "localhost");
    assert.equal(v4?.state, "auth_required");
  });

  test("without -o the results go to the store and the summary is printed", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "noout-"));
    const db = path.join(cwd, "store", "rs.db");
    const r = await runCli(["scan", `127.0.0.1:${port}`, "--allow-reserved", "-q"], {
      env: { REDSCOPE_DB: db },
      cwd,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /auth_required\s+1\s+100\.00%\s+Requires authentication/);
    assert.match(r.stdout, /stored: 1 new rows for scan [0-9a-f]{16} in /);
    assert.deepEqual(
      fs.readdirSync(cwd).filter((f) => f.endsWith(".jsonl")),
      [],
      "no JSONL file without -o",
    );
    const store = SqliteStore.open(db);
    try {
      const [scan] = await store.listScans();
      assert.ok(scan?.finishedAt, "the scan is marked finished");
      assert.deepEqual(scan?.counts, { auth_required: 1 });
      const rows = [];
      for await (const x of store.results({ scanId: scan.id })) rows.push(x);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.state, "auth_required");
    } finally {
      await store.close();
    }
  });

  test("--no-db without -o is refused before anything is written", async () => {
    const cwd = fs.mkdtempSync(path.join(tmp, "nodb-"));
    const r = await runCli(["scan", "127.0.0.1", "--allow-reserved", "--no-db"], {
      env: { REDSCOPE_DB: path.join(cwd, "rs.db") },
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^redscope: --no-db needs -o/);
    assert.deepEqual(fs.readdirSync(cwd), []);
  });
});

describe("order, shards and resume", () => {
  const base = [
    "127.4.0.0/22",
    "-p",
    "1,2",
    "--allow-reserved",
    "-q",
    "--seed",
    "42",
    "--connect-timeout",
    "1s",
  ];
  const key = (x: { ip: string; port: number }) => `${x.ip}:${x.port}`;

  test("same seed, same order; the union of 4 shards is exactly the full scan", async () => {
    const full = await runCli(["scan", ...base, "-o", "-", "--concurrency", "1", "--rate", "0"]);
    assert.equal(full.code, 0, full.stderr);
    const fullKeys = parseJsonl(full.stdout).map(key);
    assert.equal(fullKeys.length, 2048);
    assert.equal(new Set(fullKeys).size, 2048);
    const again = await runCli(["scan", ...base, "-o", "-", "--concurrency", "1", "--rate", "0"]);
    assert.deepEqual(parseJsonl(again.stdout).map(key), fullKeys, "same seed → same order");

    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const part = await runCli(["scan", ...base, "-o", "-", "--shard", `${i}/4`, "--rate", "0"]);
      assert.equal(part.code, 0, part.stderr);
      const keys = parseJsonl(part.stdout).map(key);
      assert.ok(
        keys.length > 300 && keys.length < 700,
        `shard ${i} holds about a quarter (${keys.length})`,
      );
      for (const k of keys) {
        assert.ok(!seen.has(k), `${k} in two shards`);
        seen.add(k);
      }
    }
    assert.deepEqual([...seen].sort(), [...fullKeys].sort());
  });

  test("JOB_COMPLETION_INDEX picks the shard", async () => {
    const a = await runCli(["scan", ...base, "-o", "-", "--shard", "?/4"], {
      env: { JOB_COMPLETION_INDEX: "2" },
    });
    const b = await runCli(["scan", ...base, "-o", "-", "--shard", "2/4"]);
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(parseJsonl(a.stdout).map(key).sort(), parseJsonl(b.stdout).map(key).sort());
  });

  test("kill -9 mid-scan, resume: every target exactly once", async () => {
    const out = path.join(tmp, "resume.jsonl");
    const state = path.join(tmp, "resume.state");
    const slow = ["--rate", "400", "--concurrency", "50"];
    const args = ["scan", ...base, "-o", out, "--resume", state, ...slow];
    const child = spawn(process.execPath, [BIN, ...args], { stdio: "ignore" });
    const exited = new Promise((r) => child.once("exit", r));
    // Killed once a checkpoint covers some results (at 400/s the scan lasts 5 s at least).
    const covered = await waitFor(() => checkpointBytes(state) > 0, exited);
    child.kill("SIGKILL");
    await exited;
    assert.ok(covered, "a checkpoint was written before the scan ended");
    const partial = fs.readFileSync(out, "utf8").split("\n").filter(Boolean).length;
    assert.ok(partial > 0 && partial < 2048, `killed mid-scan (${partial} lines written)`);

    const resumed = await runCli(["scan", ...base, "-o", out, "--resume", state, "--rate", "0"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const keys = parseJsonl(fs.readFileSync(out, "utf8")).map(key);
    assert.equal(new Set(keys).size, keys.length, "no target twice");
    assert.equal(keys.length, 2048, "no target lost");
    assert.match(resumed.stdout, /total\s+2048/);

    const done = await runCli(["scan", ...base, "-o", out, "--resume", state]);
    assert.equal(done.code, 0);
    assert.match(done.stdout, /already complete/);
  });

  test("a resume file of another scan is refused", async () => {
    const out = path.join(tmp, "other.jsonl");
    const state = path.join(tmp, "other.state");
    const withResume = (cidr: string) =>
      runCli(["scan", cidr, "--allow-reserved", "-q", "-o", out, "--resume", state]);
    const first = await withResume("127.5.0.0/30");
    assert.equal(first.code, 0, first.stderr);
    const r = await withResume("127.5.0.0/29");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /different scan/);
  });
});

describe("--stream: zmap | redscope", () => {
  test("targets are probed while stdin is still open, bad and reserved lines skipped", async () => {
    const p = spawn(
      process.execPath,
      [BIN, "scan", "-iL", "-", "--stream", "-o", "-", "-q", "-p", "1"],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    // Without --allow-reserved a loopback line is skipped, never connected to.
    p.stdin.write("127.0.0.1\n");
    p.stdin.write("not/a/target\n");
    const closed = new Promise<number | null>((r) => p.on("close", r));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(out, "", "nothing probed");
    p.stdin.end();
    assert.equal(await closed, 0);
    assert.match(err, /127\.0\.0\.0\/8/);
    assert.match(err, /skipped input lines: 2/);
  });

  test("results arrive before the input ends", async () => {
    const p = spawn(
      process.execPath,
      [BIN, "scan", "-iL", "-", "--stream", "--allow-reserved", "-o", "-", "-q", "-p", "1,2"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    const closed = new Promise<number | null>((r) => p.on("close", r));
    p.stdin.write("saddr\n127.6.0.1\n127.6.0.2\n");
    const deadline = Date.now() + 5000;
    while (out.split("\n").filter(Boolean).length < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(parseJsonl(out).length, 4, "both ports of both addresses, stdin still open");
    p.stdin.write("127.6.0.3\n");
    p.stdin.end();
    assert.equal(await closed, 0);
    const res = parseJsonl(out);
    assert.equal(res.length, 6);
    assert.ok(res.every((x) => x.state === "closed"));
  });

  test("a 300 MB line without a newline costs a bounded amount of memory", async () => {
    const p = spawn(
      process.execPath,
      [BIN, "scan", "-iL", "-", "--stream", "--allow-reserved", "-o", "-", "-p", "1"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const closed = new Promise<number | null>((r) => p.on("close", r));
    const chunk = Buffer.alloc(1024 * 1024, "7");
    // Twice the bound below: a reader that held the line would pass it whatever the load
    // (a loaded machine collects garbage later, so the bound keeps a margin over ~60 MB).
    for (let i = 0; i < 300; i++) {
      if (!p.stdin.write(chunk)) await new Promise((r) => p.stdin.once("drain", r));
    }
    p.stdin.write("\n127.7.0.1\n");
    // The line after it is still probed: wait for its result, then read the peak.
    while (!out.includes("127.7.0.1") && p.exitCode === null) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const status = fs.readFileSync(`/proc/${p.pid}/status`, "utf8");
    const peak = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
    p.stdin.end();
    assert.equal(await closed, 0, err);
    assert.equal(parseJsonl(out).length, 1);
    assert.match(err, /stdin:1: line too long: 314572800 bytes \(at most 4096\); skipped/);
    assert.ok(peak < 200 * 1024 * 1024, `peak RSS ${Math.round(peak / 2 ** 20)} MB`);
  });

  test("--stream refuses what needs a permutation", async () => {
    const r = await runCli([
      "scan",
      "-iL",
      "-",
      "--stream",
      "--resume",
      "x.state",
      "-o",
      "x.jsonl",
    ]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--resume does not apply/);
  });
});

describe("IPv6", () => {
  test("[::1]:port is scanned over IPv6", async () => {
    const server = net.createServer((s) =>
      s.end(
        "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user.\r\n",
      ),
    );
    await new Promise<void>((r) => server.listen(0, "::1", () => r()));
    const port = (server.address() as net.AddressInfo).port;
    try {
      const { results: res } = await scanJson([`[::1]:${port}`, "::1"], ["-p", "1"]);
      assert.equal(res.length, 2);
      const hit = res.find((x) => x.port === port);
      assert.equal(hit?.ip, "::1");
      assert.equal(hit?.state, "protected");
      assert.equal(hit?.server?.version_hint, ">=7.0");
    } finally {
      server.close();
    }
  });
});

describe("output", () => {
  test("a reader that goes away (| head) ends the scan quietly", async () => {
    const p = spawn(
      process.execPath,
      [
        BIN,
        "scan",
        "127.7.0.0/22",
        "-p",
        "1",
        "--allow-reserved",
        "-o",
        "-",
        "-q",
        "--rate",
        "200",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    await new Promise<void>((resolve) => p.stdout.once("data", () => resolve()));
    p.stdout.destroy();
    const code = await new Promise<number | null>((r) => p.on("close", r));
    assert.equal(code, 0);
    assert.doesNotMatch(err, /EPIPE|Error/);
  });
});

describe("a full disk", { skip: process.getuid?.() === 0 ? false : "needs root (a tmpfs)" }, () => {
  test("-o on a full disk: one line, exit 1, every line already written whole", async () => {
    // A 192 KB tmpfs in a mount namespace of the scan's own: it fills long before the scan ends.
    const dir = fs.mkdtempSync(path.join(tmp, "full-"));
    const keep = path.join(tmp, "full-copy.jsonl");
    const keepState = path.join(tmp, "full-copy.state");
    const scan = [BIN, "scan", "127.8.0.0/20", "-p", "1", "--allow-reserved", "-q", "--no-db"];
    const script = [
      'mount -t tmpfs -o size=192k tmpfs "$1" || exit 99',
      'node "$@" -o "$1/r.jsonl" --resume "$1/r.state"'.replace('"$@"', scan.join(" ")),
      "code=$?",
      'cp "$1/r.jsonl" "$2"; cp "$1/r.state" "$3"',
      "exit $code",
    ].join("\n");
    const p = spawn(
      "unshare",
      ["-m", "--propagation", "private", "sh", "-c", script, "sh", dir, keep, keepState],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
      },
    );
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((r) => p.on("close", r));
    assert.equal(code, 1, err);
    const lines = err.trim().split("\n");
    assert.equal(lines.length, 1, err);
    assert.match(
      lines[0]!,
      /^redscope: writing \S+r\.jsonl failed: ENOSPC \(no space left on device\); it holds every line written before, whole; once fixed, run the same command to resume$/,
    );
    const text = fs.readFileSync(keep, "utf8");
    assert.ok(text.length > 64 * 1024 && text.endsWith("\n"), `${text.length} bytes, whole lines`);
    assert.ok(parseJsonl(text).length > 100, "every line parses");
    const state = JSON.parse(fs.readFileSync(keepState, "utf8")) as { output: { bytes: number } };
    assert.ok(state.output.bytes <= text.length, "the checkpoint covers only what the file holds");
  });
});

describe("redscope demo (the README's first command)", () => {
  test("scans its lab, enriches with the bundled CVE table, stores into its own SQLite", async () => {
    const userDb = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "redscope-demo-db-")), "x.db");
    const r = await runCli(["demo", "--net", "127.78.0.0"], {
      timeoutMs: 60_000,
      env: { REDSCOPE_DB: userDb },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /127\.78\.0\.1:\d+\s+open\s+redis 7\.4\.1\s+\d+, max CVSS 10/);
    assert.match(r.stdout, /127\.78\.0\.3:\d+\s+protected\s+~>=7\.0\s+DENIED/);
    // The end's host list: the Redis-protocol servers only (11), not the HTTP or silent ones.
    assert.match(r.stdout, /Redis-protocol servers \(11\):/);
    // Its end table is the study's: six rows in its order, zero rows too, shares of the Redis
    // nodes found (11), and a line for what the study did not count.
    const study = r.stdout.slice(r.stdout.indexOf("Security state, as the NICER study counted it"));
    assert.deepEqual(
      [
        ...study.matchAll(
          /^(Requires authentication|Returned version|Running protected|Encountered error|IP whitelisting|Reported busy)\s+(\d+)\s+([\d.]+)%$/gm,
        ),
      ].map((m) => [m[1], Number(m[2]), m[3]]),
      [
        ["Requires authentication", 3, "27.27"],
        ["Returned version", 4, "36.36"],
        ["Running protected", 2, "18.18"],
        ["Encountered error", 0, "0.00"],
        ["IP whitelisting", 0, "0.00"],
        ["Reported busy", 2, "18.18"],
      ],
    );
    assert.match(
      study,
      /percent of the 11 Redis nodes found, as the study counted; not counted: 16 targets probed, 1 not Redis, 1 silent, 3 closed, 0 timed out/,
    );
    const stored = /stored: (\d+) rows for scan (\w+) in (\S+redscope\.db) \(SQLite\)/.exec(
      r.stdout,
    );
    assert.ok(stored, r.stdout);
    assert.equal(Number(stored[1]), 16);
    const store = SqliteStore.open(stored[3]!);
    try {
      const counts = await store.stateCounts(stored[2]!);
      assert.equal(
        Object.values(counts).reduce((a, b) => a + b, 0),
        16,
      );
      assert.ok((counts.open ?? 0) >= 3);
    } finally {
      await store.close();
    }
    assert.ok(!fs.existsSync(userDb), "the demo never touches the user's store");
  });
});

/** The output offset the resume file's checkpoint covers (0 before there is one). */
function checkpointBytes(state: string): number {
  try {
    return (JSON.parse(fs.readFileSync(state, "utf8")) as { output: { bytes: number } }).output
      .bytes;
  } catch {
    return 0;
  }
}

/** Poll `cond` until it holds (true) or `end` settles first (false): an event, not a clock. */
async function waitFor(cond: () => boolean, end: Promise<unknown>): Promise<boolean> {
  let ended = false;
  void end.then(() => {
    ended = true;
  });
  while (!ended) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}
