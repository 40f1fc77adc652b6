/**
 * deploy/: what an operator applies, checked without a cluster.
 *
 * - PostgreSQL: deploy/postgres/roles.sql and grants.sql run as they are (with Debian's psql)
 *   against a real server that only accepts `sslmode=verify-full` clients with the test's CA;
 *   the owner creates the schema, then a real scan of real redis-servers runs as the narrow
 *   scanning role, which may create nothing.
 * - Kubernetes: every manifest under deploy/kubernetes/, and each overlay as `kubectl kustomize`
 *   renders it, validated against the Kubernetes API schemas (kubernetes-models), with the
 *   consistency a sharded scan needs (shard count, seed, scan id, image entrypoint).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { type RedisProcess, startRedis } from "../src/lab/redis.js";
import { MIGRATIONS } from "../src/store/schema.js";
import { makeCert } from "./helpers/certs.js";
import { runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/ports.js";
import { type PgServer, startPostgres } from "./helpers/postgres.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (this file runs from dist/test/). */
const ROOT = path.resolve(here, "../..");
const DEPLOY = path.join(ROOT, "deploy");

function psqlPath(): string {
  const root = "/usr/lib/postgresql";
  const v = fs
    .readdirSync(root)
    .filter((d) => fs.existsSync(path.join(root, d, "bin", "psql")))
    .sort((a, b) => Number(b) - Number(a))[0];
  assert.ok(v, "psql not found under /usr/lib/postgresql");
  return path.join(root, v, "bin", "psql");
}

/** `psql URL -v k=v… -f FILE`, as the file's own header tells an operator to run it. */
function psqlFile(url: string, file: string, vars: Record<string, string> = {}): string {
  const args = [url, "-X", "-q", "-f", file];
  for (const [k, v] of Object.entries(vars)) args.push("-v", `${k}=${v}`);
  return execFileSync(psqlPath(), args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

describe("PostgreSQL: verify-full TLS and a least-privilege scanning role", () => {
  let server: PgServer;
  let tmp = "";
  let base = ""; // postgres://HOST:PORT, no user
  let tls = ""; // the query string every URL carries
  let wrongCa = "";
  const redis: RedisProcess[] = [];
  let openPort = 0;
  let authPort = 0;

  const url = (user: string, db: string, query = tls): string =>
    `postgres://${user}@${base}/${db}?${query}`;

  before(async () => {
    server = await startPostgres();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "i18-k8s-pg-"));
    const certs = makeCert(tmp);
    const other = fs.mkdtempSync(path.join(tmp, "other-"));
    wrongCa = makeCert(other).cert;
    if (process.getuid?.() === 0) {
      // The server runs as `postgres` and refuses a key that others can read.
      execFileSync("chown", ["postgres:postgres", certs.cert, certs.key]);
    }
    fs.chmodSync(certs.key, 0o600);
    fs.chmodSync(tmp, 0o755);
    const superUrl = await server.database("deploy_admin");
    base = new URL(superUrl).host;
    const admin = new pg.Client({ connectionString: superUrl });
    await admin.connect();
    try {
      // TLS on, and plaintext TCP refused, by a reload: the settings an operator's server has.
      await admin.query(`ALTER SYSTEM SET ssl_cert_file = '${certs.cert}'`);
      await admin.query(`ALTER SYSTEM SET ssl_key_file = '${certs.key}'`);
      await admin.query("ALTER SYSTEM SET ssl = on");
      const hba = (await admin.query("SHOW hba_file")).rows[0].hba_file as string;
      const lines = ["local all all trust", "hostssl all all 127.0.0.1/32 trust"];
      execFileSync("sh", ["-c", `cat > '${hba}'`], { input: `${lines.join("\n")}\n` });
      await admin.query("SELECT pg_reload_conf()");
    } finally {
      await admin.end();
    }
    tls = `sslmode=verify-full&sslrootcert=${encodeURIComponent(certs.cert)}`;
    // The reload is asynchronous: wait until the server speaks TLS (bounded).
    for (let i = 0; ; i++) {
      const c = new pg.Client({ connectionString: url("redscope", "postgres") });
      try {
        await c.connect();
        const r = await c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
        await c.end();
        if (r.rows[0]?.ssl === true) break;
      } catch (e) {
        await c.end().catch(() => {});
        if (i > 200) throw e;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    openPort = await freePort();
    redis.push(
      await startRedis({ host: "127.0.0.1", port: openPort, config: ["protected-mode no"] }),
    );
    authPort = await freePort();
    redis.push(
      await startRedis({ host: "127.0.0.1", port: authPort, config: ["requirepass s3cret-pw"] }),
    );
  });

  after(async () => {
    for (const r of redis) await r.stop();
    await server?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test("plaintext and a wrong CA are refused; the documented URL form connects verified", async () => {
    const plain = new pg.Client({ connectionString: `postgres://redscope@${base}/postgres` });
    await assert.rejects(plain.connect(), /no pg_hba.conf entry|SSL off/);
    await plain.end().catch(() => {});
    const wrong = await runCli([
      "report",
      "--list",
      "--db",
      url("redscope", "postgres", `sslmode=verify-full&sslrootcert=${wrongCa}`),
    ]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /self.signed|certificate/i);
  });

  test("roles.sql, schema by the owner, grants.sql; a real scan as redscope_scan", async () => {
    const superUrl = url("redscope", "postgres");
    psqlFile(superUrl, path.join(DEPLOY, "postgres", "roles.sql"), {
      owner_password: "owner-pw",
      scan_password: "scan-pw",
      read_password: "read-pw",
    });

    // Before the owner made the schema, the scanning role cannot: one line, non-zero exit.
    const scanArgs = [
      "scan",
      "127.0.0.1",
      "-p",
      `${openPort},${authPort}`,
      "--allow-reserved",
      "-q",
      "--seed",
      "7",
      "--shard",
      "?/2",
      "--db",
      url("redscope_scan", "redscope"),
    ];
    const early = await runCli(scanArgs, {
      env: { JOB_COMPLETION_INDEX: "0", REDSCOPE_SCAN_ID: "too-early" },
    });
    assert.notEqual(early.code, 0);
    assert.match(early.stderr, /may not change it .*owner role/);
    assert.equal(early.stderr.trim().split("\n").length, 1, early.stderr);

    // Step 2: the owner creates the schema through redscope itself.
    const made = await runCli(["report", "--list", "--db", url("redscope_owner", "redscope")]);
    assert.equal(made.code, 0, made.stderr);
    psqlFile(url("redscope_owner", "redscope"), path.join(DEPLOY, "postgres", "grants.sql"));

    // Two shards as two pods would run them: the scan row, both shards, the finish.
    for (const i of ["0", "1"]) {
      const run = await runCli(scanArgs, {
        env: { JOB_COMPLETION_INDEX: i, REDSCOPE_SCAN_ID: "weekly-uid-1" },
      });
      assert.equal(run.code, 0, run.stderr);
    }

    const reader = new pg.Client({ connectionString: url("redscope_read", "redscope") });
    await reader.connect();
    try {
      const rows = await reader.query(
        "SELECT port, state FROM results WHERE scan_id = 'weekly-uid-1' ORDER BY port",
      );
      const byPort = new Map(rows.rows.map((r) => [Number(r.port), String(r.state)]));
      assert.equal(byPort.get(openPort), "open");
      assert.equal(byPort.get(authPort), "auth_required");
      const scan = await reader.query("SELECT finished_at FROM scans WHERE id = 'weekly-uid-1'");
      assert.ok(scan.rows[0]?.finished_at, "the last shard marks the scan finished");
      const version = await reader.query("SELECT max(version) AS v FROM schema_migrations");
      assert.equal(Number(version.rows[0].v), MIGRATIONS[MIGRATIONS.length - 1]!.version);
      await assert.rejects(reader.query("DELETE FROM results"), /permission denied/);
    } finally {
      await reader.end();
    }

    // What the scanning role may not do: create, drop, alter, touch other tables.
    const scanner = new pg.Client({ connectionString: url("redscope_scan", "redscope") });
    await scanner.connect();
    try {
      for (const sql of [
        "CREATE TABLE intruder (a int)",
        "CREATE TEMP TABLE intruder (a int)",
        "DROP TABLE results",
        "ALTER TABLE scans ADD COLUMN x int",
        "TRUNCATE results",
        "DELETE FROM scans",
        "SELECT * FROM honeypot_sessions",
        "INSERT INTO schema_migrations VALUES (999, 'x', now())",
      ]) {
        await assert.rejects(scanner.query(sql), /permission denied|must be owner/, sql);
      }
    } finally {
      await scanner.end();
    }

    // The reading role serves reports.
    const listed = await runCli(["report", "--list", "--db", url("redscope_read", "redscope")]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /weekly-uid-1/);
  });
});
