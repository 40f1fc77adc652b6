/**
 * The audit never reports a pass it did not earn, against real servers (Debian's 7.0.15 and a
 * 5.0.14 build): a check that could not run is counted, listed and fails the run (unless
 * --allow-incomplete), in text, JSON, SARIF, the store and the dashboard; weak passwords are
 * found offline from ACL LIST's hashes, with nothing new in ACL LOG; only a server before 6.0 is
 * tried online, and the report says how often; and the hardening checks added for issue 17
 * (logging, aclfile, TLS and its certificate, timeouts, output buffers, replication auth, the
 * Unix socket, failed logins, the cluster bus) fire on real settings.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { readOnly } from "../src/audit/client.js";
import { CHECKS } from "../src/audit/index.js";
import { type RedisProcess, startRedis } from "../src/lab/redis.js";
import { encodeCommand, ReplyDecoder } from "../src/resp/index.js";
import type { RespValue } from "../src/resp/types.js";
import { auditsPage } from "../src/serve/pages.js";
import { openStore } from "../src/store/index.js";
import { makeCert, tlsConfig } from "./helpers/certs.js";
import { runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";

const OLD = "/work/servers/redis-5.0.14/redis-server";
const ADMIN = "adm-9f3k-long-enough-secret-0451";

/** Commands on one plain connection, one answer each (test setup and ACL LOG snapshots). */
async function calls(port: number, ...cmds: string[][]): Promise<RespValue[]> {
  return new Promise((resolve, reject) => {
    const out: RespValue[] = [];
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      for (const c of cmds) s.write(encodeCommand(c));
    });
    const d = new ReplyDecoder();
    s.on("data", (chunk) => {
      out.push(...d.push(chunk));
      if (out.length >= cmds.length) {
        s.destroy();
        resolve(out);
      }
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error(`closed after ${out.length} answers`)));
  });
}

interface Report {
  target: string;
  findings: Array<{ id: string; severity: string; evidence: string }>;
  notChecked: Array<{ id: string; reason: string }>;
  passed: Array<{ id: string; detail?: string }>;
  notApplicable: Array<{ id: string; reason: string }>;
  counts: { passed: number; failed: number; notChecked: number; notApplicable: number };
}

async function auditJson(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; r: Report; out: string }> {
  const run = await runCli(["audit", "-f", "json", "--timeout", "3s", ...args], { env });
  assert.equal(run.stderr, "", run.stderr);
  return {
    code: run.code,
    r: (JSON.parse(run.stdout) as { reports: Report[] }).reports[0]!,
    out: run.stdout,
  };
}

/** Every check is accounted for: passed, failed, not checked or not applicable. */
function accounted(r: Report): void {
  const failed = new Set(r.findings.map((f) => f.id)).size;
  assert.equal(r.counts.failed, failed);
  assert.equal(
    r.counts.passed + r.counts.failed + r.counts.notChecked + r.counts.notApplicable,
    CHECKS.length,
    JSON.stringify(r.counts),
  );
}

describe("audit: never a pass it did not earn", () => {
  const procs: RedisProcess[] = [];
  let tmp = "";
  let lockedPort = 0;
  let aclPort = 0;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "redscope-earned-"));
    lockedPort = await freePort();
    procs.push(
      await startRedis({ host: "127.0.0.1", port: lockedPort, config: ["requirepass x"] }),
    );
    aclPort = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: aclPort,
        config: [
          "user default off",
          `user admin on >${ADMIN} ~* &* +@all`,
          "user app on >app ~* +@all",
          "user cache on >correct-horse-battery-staple-77 ~cache:* +@read",
        ],
      }),
    );
  });

  after(async () => {
    for (const p of procs) await p.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("a password-protected server without credentials: not checked, exit 1, in every output", async () => {
    const url = `redis://127.0.0.1:${lockedPort}`;
    const text = await runCli(["audit", url, "--timeout", "3s"]);
    assert.equal(text.code, 1, text.stdout);
    assert.doesNotMatch(text.stdout, /no findings/);
    const m = /(\d+) passed, 0 failed, (\d+) not checked/.exec(text.stdout);
    assert.ok(m, text.stdout);
    assert.ok(Number(m[2]) >= 11, text.stdout);
    assert.match(text.stdout, /not checkable over the Redis protocol: the user the server runs as/);

    const { r, code } = await auditJson([url]);
    assert.equal(code, 1);
    accounted(r);
    assert.ok(r.counts.notChecked >= 11);
    assert.equal(r.findings.length, 0);
    assert.ok(!r.passed.some((p) => p.id === "RS-CMD-003"), "nothing read is not a pass");

    const incomplete = await runCli(["audit", url, "--allow-incomplete", "--timeout", "3s"]);
    assert.equal(incomplete.code, 0, "--allow-incomplete: only findings fail the run");

    const s = await runCli(["audit", url, "-f", "sarif", "--timeout", "3s"]);
    const run = (
      JSON.parse(s.stdout) as {
        runs: Array<{
          invocations: Array<{
            executionSuccessful: boolean;
            toolExecutionNotifications: Array<{
              level: string;
              associatedRule: { id: string };
              message: { text: string };
            }>;
          }>;
          tool: { driver: { rules: Array<{ id: string }> } };
        }>;
      }
    ).runs[0]!;
    const inv = run.invocations[0]!;
    assert.equal(inv.executionSuccessful, false);
    const warned = inv.toolExecutionNotifications.filter((n) => n.level === "warning");
    assert.deepEqual(
      warned.map((n) => n.associatedRule.id).sort(),
      r.notChecked.map((n) => n.id).sort(),
    );
    for (const n of warned) assert.match(n.message.text, /NOAUTH/);
    const rules = new Set(run.tool.driver.rules.map((x) => x.id));
    for (const n of inv.toolExecutionNotifications) assert.ok(rules.has(n.associatedRule.id));

    // Kept in the store: the row counts them, and the dashboard says what was not checked.
    const db = path.join(tmp, "audits.db");
    const kept = await runCli(["audit", url, "--db", db, "--timeout", "3s"]);
    assert.equal(kept.code, 1);
    const store = await openStore(db);
    try {
      const rows = await store.listAudits(10);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.notChecked, r.counts.notChecked);
      assert.equal(rows[0]!.passed, r.counts.passed);
      assert.equal(rows[0]!.failed, 0);
      const page = auditsPage({ csrf: "x", login: false, here: "audits" }, rows);
      assert.match(page, new RegExp(`${r.counts.notChecked} not checked`));
      assert.doesNotMatch(page, />none</);
    } finally {
      await store.close();
    }
  });

  test("weak passwords from ACL LIST's hashes, offline: user app/app found, no ACL LOG entry", async () => {
    const log = async (): Promise<number> => {
      const [, l] = await calls(aclPort, ["AUTH", "admin", ADMIN], ["ACL", "LOG"]);
      return l?.type === "array" && l.value ? l.value.length : -1;
    };
    const before = await log();
    const url = `redis://admin:${ADMIN}@127.0.0.1:${aclPort}`;
    const first = await auditJson([url]);
    await auditJson([url]);
    assert.equal(await log(), before, "two audits add nothing to ACL LOG");
    const weak = first.r.findings.filter((f) => f.id === "RS-AUTH-002");
    assert.deepEqual(
      weak.map((f) => f.evidence),
      ["user app: its password is the user's own name (SHA-256 from ACL LIST, checked offline)"],
    );
    assert.equal(weak[0]!.severity, "critical");
    assert.ok(!first.out.includes(ADMIN));
    accounted(first.r);
  });

  test("before 6.0 (no ACL): the short list is tried online, and the report says how often", {
    skip: fs.existsSync(OLD) ? false : `no ${OLD}`,
  }, async () => {
    const weakPort = await freePort();
    const strongPort = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: weakPort,
        bin: OLD,
        config: ["requirepass redis123"],
      }),
      await startRedis({
        host: "127.0.0.1",
        port: strongPort,
        bin: OLD,
        config: [`requirepass ${ADMIN}`],
      }),
    );
    const weak = await auditJson([`redis://127.0.0.1:${weakPort}`]);
    const found = weak.r.findings.filter((f) => f.id === "RS-AUTH-002");
    assert.equal(found.length, 1, JSON.stringify(weak.r.findings));
    // Not logged in, nothing else is known: no command is "reachable" on a guess.
    assert.deepEqual(
      weak.r.findings.map((f) => f.id),
      ["RS-AUTH-002"],
    );
    assert.match(found[0]!.evidence, /accepted a password from the built-in list; 15 AUTH tries/);
    assert.ok(!weak.out.includes("redis123"));

    const strong = await auditJson([`redis://127.0.0.1:${strongPort}`]);
    const pass = strong.r.passed.find((p) => p.id === "RS-AUTH-002");
    assert.match(pass?.detail ?? "", /none of 18 built-in passwords accepted \(18 AUTH tries/);

    // With the password: checked offline, and what 5.0 does not have is not applicable.
    const given = await auditJson([`redis://127.0.0.1:${strongPort}`], { REDISCLI_AUTH: ADMIN });
    assert.match(given.r.passed.find((p) => p.id === "RS-AUTH-002")?.detail ?? "", /offline/);
    const na = new Set(given.r.notApplicable.map((n) => n.id));
    for (const id of [
      "RS-ACL-001",
      "RS-ACL-002",
      "RS-ACL-003",
      "RS-ACL-004",
      "RS-CMD-002",
      "RS-TLS-002",
    ]) {
      assert.ok(
        na.has(id),
        `${id} is not applicable on 5.0: ${JSON.stringify(given.r.notApplicable)}`,
      );
    }
    assert.deepEqual(given.r.notChecked, []);
    accounted(given.r);
  });

  test("TLS: old protocols, weak ciphers, an expired certificate", async () => {
    const dir = path.join(tmp, "expired");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "index.txt"), "");
    fs.writeFileSync(path.join(dir, "serial"), "01\n");
    fs.writeFileSync(
      path.join(dir, "ca.cnf"),
      `[ca]\ndefault_ca=CA\n[CA]\ndatabase=${dir}/index.txt\nserial=${dir}/serial\nnew_certs_dir=${dir}\ndefault_md=sha256\npolicy=pol\n[pol]\ncommonName=supplied\n`,
    );
    const key = path.join(dir, "server.key");
    const cert = path.join(dir, "server.crt");
    const csr = path.join(dir, "server.csr");
    execFileSync(
      "openssl",
      [
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=expired.redscope.test",
        "-keyout",
        key,
        "-out",
        csr,
      ],
      { stdio: "ignore" },
    );
    execFileSync(
      "openssl",
      [
        "ca",
        "-batch",
        "-selfsign",
        "-keyfile",
        key,
        "-in",
        csr,
        "-out",
        cert,
        "-startdate",
        "20200101000000Z",
        "-enddate",
        "20200102000000Z",
        "-config",
        path.join(dir, "ca.cnf"),
      ],
      { stdio: "ignore" },
    );
    const tlsPort = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: 0,
        readyPort: tlsPort,
        config: [
          ...tlsConfig(tlsPort, { cert, key }),
          "tls-auth-clients no",
          'tls-protocols "TLSv1.1 TLSv1.2"',
          "tls-ciphers HIGH:DES-CBC3-SHA",
        ],
      }),
    );
    const { r } = await auditJson([`rediss://127.0.0.1:${tlsPort}`, "--tls-insecure"]);
    const tls = r.findings.filter((f) => f.id === "RS-TLS-002");
    const by = (re: RegExp): { severity: string } | undefined =>
      tls.find((f) => re.test(f.evidence));
    assert.equal(by(/expired on 2020-01-02/)?.severity, "high", JSON.stringify(tls));
    assert.equal(by(/TLSv1\.1 allowed/)?.severity, "medium");
    assert.equal(by(/tls-ciphers allows DES-CBC3-SHA/)?.severity, "medium");
    assert.equal(by(/tls-auth-clients no/)?.severity, "low");

    // A fresh certificate is no finding; one that ends within 30 days is.
    const soon = makeCert(path.join(tmp), 5);
    const soonPort = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: await freePort(),
        readyPort: soonPort,
        config: tlsConfig(soonPort, soon),
      }),
    );
    const s = await auditJson([`redis://127.0.0.1:${procs.at(-1)!.port}`]);
    const expiring = s.r.findings.filter((f) => f.id === "RS-TLS-002");
    assert.equal(expiring.length, 1, JSON.stringify(s.r.findings));
    assert.match(expiring[0]!.evidence, /expires on .*, in [45] days/);
    assert.equal(expiring[0]!.severity, "medium");
  });

  test("logging, output buffers, the Unix socket, failed logins, the cluster bus, replication auth", async () => {
    const port = await freePort();
    const bus = await freePort();
    const sock = path.join(tmp, "redis.sock");
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port,
        config: [
          "loglevel warning",
          "client-output-buffer-limit pubsub 0 0 0",
          `unixsocket ${sock}`,
          "unixsocketperm 777",
          "cluster-enabled yes",
          `cluster-port ${bus}`,
          `cluster-config-file ${path.join(tmp, "nodes.conf")}`,
          `user admin on >${ADMIN} ~* &* +@all`,
        ],
      }),
    );
    // A brute force: 12 wrong passwords from this test.
    const wrong = Array.from({ length: 12 }, (_, i) => ["AUTH", "admin", `guess-${i}`]);
    await calls(port, ...wrong);
    const { r } = await auditJson([`redis://admin:${ADMIN}@127.0.0.1:${port}`]);
    const ev = (id: string): string[] =>
      r.findings.filter((f) => f.id === id).map((f) => f.evidence);
    assert.match(ev("RS-LOG-001").join(), /loglevel warning/);
    assert.match(
      ev("RS-MEM-001").join(),
      /client-output-buffer-limit pubsub 0 0 0 \(and normal 0 0 0\)/,
    );
    assert.deepEqual(ev("RS-NET-003"), [
      `unixsocket ${sock} with unixsocketperm 777: any local user can connect`,
    ]);
    assert.match(
      ev("RS-ACL-004").join(),
      /^12 failed AUTHs in the last 24 hours \(ACL LOG\) for "admin", last from 127\.0\.0\.1$/,
    );
    assert.equal(r.findings.find((f) => f.id === "RS-ACL-004")?.severity, "high");
    assert.match(
      ev("RS-CLUSTER-001").join(),
      new RegExp(`tls-cluster no: anyone who reaches the bus port ${bus}`),
    );
    assert.ok(ev("RS-CONN-001").length === 1);
    accounted(r);

    // A replica without masterauth (its master: a free loopback port where nothing listens).
    const replicaPort = await freePort();
    procs.push(
      await startRedis({
        host: "127.0.0.1",
        port: replicaPort,
        config: [`replicaof 127.0.0.1 ${await freePort()}`],
      }),
    );
    const rep = await auditJson([`redis://127.0.0.1:${replicaPort}`, "--allow-peer", "127.0.0.1"]);
    assert.match(
      rep.r.findings.find((f) => f.id === "RS-REPL-002")?.evidence ?? "",
      /^replicating from 127\.0\.0\.1:\d+ with no masterauth/,
    );
  });
});

/** Valkey and KeyDB answer ACL LIST the same way: their users' hashes are judged offline too. */
describe("audit: Valkey and KeyDB, real servers", () => {
  for (const [name, bin] of [
    ["valkey-8.0.1", "/work/servers/valkey-8.0.1/valkey-server"],
    ["keydb-6.3.4", "/work/servers/keydb-6.3.4/keydb-server"],
  ] as const) {
    test(`${name}: user app/app found offline, nothing added to ACL LOG, every check accounted for`, {
      skip: fs.existsSync(bin) ? false : `no ${bin}`,
    }, async () => {
      const port = await freePort();
      const p = await startRedis({
        host: "127.0.0.1",
        port,
        bin,
        config: [`user admin on >${ADMIN} ~* &* +@all`, "user app on >app ~* +@all"],
      });
      try {
        const log = async (): Promise<number> => {
          const [, l] = await calls(port, ["AUTH", "admin", ADMIN], ["ACL", "LOG"]);
          return l?.type === "array" && l.value ? l.value.length : -1;
        };
        const before = await log();
        const { r } = await auditJson([`redis://admin:${ADMIN}@127.0.0.1:${port}`]);
        assert.equal(await log(), before);
        assert.deepEqual(
          r.findings.filter((f) => f.id === "RS-AUTH-002").map((f) => f.evidence),
          [
            "user app: its password is the user's own name (SHA-256 from ACL LIST, checked offline)",
          ],
        );
        assert.deepEqual(r.notChecked, []);
        accounted(r);
      } finally {
        await p.stop();
      }
    });
  }
});

test("the audit's client sends read-only commands only", () => {
  for (const ok of [
    ["PING"],
    ["ACL", "LOG"],
    ["acl", "log", "10"],
    ["CONFIG", "GET", "*"],
    ["HELLO", "2"],
  ])
    assert.ok(readOnly(ok), ok.join(" "));
  for (const bad of [
    ["ACL", "LOG", "RESET"],
    ["CONFIG", "SET", "dir", "/"],
    ["ACL", "SETUSER", "x"],
    ["FLUSHALL"],
    ["HELLO", "3", "AUTH", "a", "b"],
  ])
    assert.ok(!readOnly(bad), bad.join(" "));
});
