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
import { CronJob, Job } from "kubernetes-models/batch/v1";
import { ConfigMap, PersistentVolumeClaim, Secret } from "kubernetes-models/v1";
import pg from "pg";
import { parseAllDocuments } from "yaml";
import { type RedisProcess, startRedis } from "../src/lab/redis.js";
import { MIGRATIONS } from "../src/store/schema.js";
import { emptyTargetInput, parseExcludeText, parseTargetText } from "../src/targets/index.js";
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
    // The reload is asynchronous: wait until the server speaks TLS (at most 600 tries, 30 s).
    let lastError: unknown;
    let speaksTls = false;
    for (let i = 0; i < 600 && !speaksTls; i++) {
      const c = new pg.Client({ connectionString: url("redscope", "postgres") });
      try {
        await c.connect();
        const r = await c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
        speaksTls = r.rows[0]?.ssl === true;
      } catch (e) {
        lastError = e;
      } finally {
        await c.end().catch(() => {});
      }
      if (!speaksTls) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(speaksTls, `PostgreSQL did not start TLS: ${lastError}`);
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

// ---------------------------------------------------------------------------------------------
// Kubernetes

const K8S = path.join(DEPLOY, "kubernetes");
const OVERLAYS = ["one-off", "weekly"] as const;

type Obj = Record<string, unknown> & { apiVersion?: string; kind?: string };

/** The API schema of each kind the manifests use; a kind not listed here fails the test. */
const MODELS: Record<string, { validate(): void } & (new (data: Obj) => { validate(): void })> = {
  "batch/v1/Job": Job as never,
  "batch/v1/CronJob": CronJob as never,
  "v1/ConfigMap": ConfigMap as never,
  "v1/Secret": Secret as never,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim as never,
};

/** Validates one object against its Kubernetes API schema; the error names the object. */
function validateObject(o: Obj, where: string): void {
  const key = `${o.apiVersion}/${o.kind}`;
  const Model = MODELS[key];
  assert.ok(Model, `${where}: no schema for ${key}: add its kubernetes-models class to MODELS`);
  try {
    new Model(o).validate();
  } catch (e) {
    assert.fail(
      `${where}: ${key} ${(o.metadata as Obj | undefined)?.name}: ${(e as Error).message}`,
    );
  }
}

function parseYaml(text: string, where: string): Obj[] {
  return parseAllDocuments(text).map((d, i) => {
    assert.equal(d.errors.length, 0, `${where} doc ${i}: ${d.errors.join("; ")}`);
    return d.toJS() as Obj;
  });
}

function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => path.join(dir, f))
    .sort();
}

/**
 * `kubectl kustomize` (kustomize v5 inside kubectl ≥ 1.27) or a standalone `kustomize` v5: the
 * real renderer, never a stand-in. Undefined, with the reason, where neither is installed.
 */
function findKustomize(): { cmd: string; args: string[] } | { missing: string } {
  const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
  const kv = /Kustomize Version:\s*v(\d+)/.exec(kubectl.stdout ?? "");
  if (kubectl.status === 0 && kv && Number(kv[1]) >= 5)
    return { cmd: "kubectl", args: ["kustomize"] };
  const standalone = spawnSync("kustomize", ["version"], { encoding: "utf8" });
  const sv = /v(\d+)\./.exec(standalone.stdout ?? "");
  if (standalone.status === 0 && sv && Number(sv[1]) >= 5)
    return { cmd: "kustomize", args: ["build"] };
  return {
    missing: `no kustomize v5: kubectl ≥ 1.27 (${kubectl.error ? "not installed" : `kustomize ${kv?.[1] ?? "?"}`}) or kustomize v5 is needed to render the overlays`,
  };
}
const KUSTOMIZE = findKustomize();

function render(dir: string): Obj[] {
  assert.ok("cmd" in KUSTOMIZE);
  const r = spawnSync(KUSTOMIZE.cmd, [...KUSTOMIZE.args, dir], { encoding: "utf8" });
  assert.equal(r.status, 0, `${KUSTOMIZE.cmd} ${KUSTOMIZE.args.join(" ")} ${dir}: ${r.stderr}`);
  return parseYaml(r.stdout, dir);
}

/** A copy of deploy/kubernetes to edit (overlays refer to ../../base). */
function copyOfK8s(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "i18-k8s-kustomize-"));
  fs.cpSync(K8S, dir, { recursive: true });
  return dir;
}

interface PodSpec {
  securityContext?: Obj;
  initContainers?: Container[];
  containers: Container[];
  volumes?: Array<Obj & { name: string }>;
  restartPolicy?: string;
}
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: Obj }>;
  resources?: { requests?: Obj; limits?: Obj };
  securityContext?: Obj;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface JobSpec {
  completionMode?: string;
  completions?: number;
  parallelism?: number;
  template: { spec: PodSpec };
}

/** The Indexed Job spec of a Job, or of a CronJob's runs. */
function jobSpecOf(o: Obj): JobSpec {
  const spec = o.spec as Obj;
  return (o.kind === "CronJob" ? (spec.jobTemplate as Obj).spec : spec) as JobSpec;
}

function envOf(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** The container's args as Kubernetes runs them: $(VAR) from its env, as the kubelet does. */
function expandedArgs(c: Container): string[] {
  return (c.args ?? []).map((a) =>
    a.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_m, name: string) => {
      const v = envOf(c, name);
      assert.ok(v !== undefined, `${c.name}: args use $(${name}) but env has no literal ${name}`);
      return v;
    }),
  );
}

function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Everything a scanning Job must have, in a rendered overlay. */
function checkScanJob(o: Obj, rendered: Obj[], where: string): void {
  const job = jobSpecOf(o);
  const pod = job.template.spec;
  const scan = pod.containers.find((c) => c.name === "scan");
  assert.ok(scan, `${where}: no container named scan`);
  const args = expandedArgs(scan);
  assert.equal(args[0], "scan");

  // Shards: completions = parallelism = N of --shard ?/N, the index from the Indexed Job.
  assert.equal(job.completionMode, "Indexed", where);
  const shard = flagValue(args, "--shard");
  const n = Number(/^\?\/(\d+)$/.exec(shard ?? "")?.[1]);
  assert.ok(n >= 1, `${where}: --shard ${shard} is not ?/N`);
  assert.equal(job.completions, n, `${where}: completions ${job.completions} ≠ --shard ?/${n}`);
  assert.equal(job.parallelism, n, `${where}: parallelism ${job.parallelism} ≠ --shard ?/${n}`);

  // One seed for every pod: a literal, not something that differs per pod.
  const seed = flagValue(args, "--seed");
  assert.match(seed ?? "", /^\d+$/, `${where}: --seed must be one literal number`);
  // One scan id for every pod of a run, new each run: the Job's UID, from the pod's labels.
  const scanId = scan.env?.find((e) => e.name === "REDSCOPE_SCAN_ID");
  assert.equal(
    (scanId?.valueFrom?.fieldRef as Obj | undefined)?.fieldPath,
    "metadata.labels['batch.kubernetes.io/controller-uid']",
    where,
  );
  const db = scan.env?.find((e) => e.name === "REDSCOPE_DB");
  assert.equal((db?.valueFrom?.secretKeyRef as Obj | undefined)?.key, "url", where);

  // Least privilege: non-root pod, and every container locked down, bounded and sized.
  assert.equal(pod.securityContext?.runAsNonRoot, true, where);
  assert.equal(pod.securityContext?.runAsUser, 1000, where);
  assert.equal(pod.restartPolicy, "Never", where);
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
    const sc = c.securityContext ?? {};
    assert.equal(sc.allowPrivilegeEscalation, false, `${where} ${c.name}`);
    assert.equal(sc.readOnlyRootFilesystem, true, `${where} ${c.name}`);
    assert.deepEqual((sc.capabilities as Obj | undefined)?.drop, ["ALL"], `${where} ${c.name}`);
    assert.equal((sc.capabilities as Obj | undefined)?.add, undefined, `${where} ${c.name}`);
    assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${where} ${c.name}`);
    assert.ok(c.resources?.limits?.memory, `${where} ${c.name}: no memory limit`);
    for (const m of c.volumeMounts ?? []) {
      assert.ok(volumes.has(m.name), `${where} ${c.name}: mount ${m.name} has no volume`);
    }
  }

  // The files the args name are mounted, from ConfigMaps the overlay renders, and they parse
  // with the scan's own parsers (an exclude list that does not parse stops the scan).
  const configMaps = new Map(
    rendered.filter((r) => r.kind === "ConfigMap").map((r) => [(r.metadata as Obj).name, r]),
  );
  const mountedFile = (file: string): string => {
    const mount = scan.volumeMounts?.find((m) => file.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `${where}: ${file} is not on a mounted volume`);
    const ref = volumes.get(mount.name)?.configMap as Obj | undefined;
    const cm = configMaps.get(ref?.name);
    assert.ok(cm, `${where}: volume ${mount.name} names ConfigMap ${ref?.name}, not rendered`);
    const text = (cm.data as Record<string, string>)[file.slice(mount.mountPath.length + 1)];
    assert.equal(typeof text, "string", `${where}: ${file} is not a key of ${ref?.name}`);
    return text as string;
  };
  parseExcludeText(mountedFile(flagValue(args, "--exclude") ?? ""), "exclude.txt");
  const targets = emptyTargetInput();
  parseTargetText(mountedFile(flagValue(args, "-iL") ?? ""), targets, "targets.txt");
  assert.ok(targets.ranges.length + targets.pairs.length > 0, `${where}: no targets`);

  // The intel the scan reads is the directory the init step fills.
  const intel = flagValue(args, "--intel-dir");
  const init = pod.initContainers?.find((c) => c.name === "intel");
  assert.ok(init, `${where}: no init container named intel`);
  assert.ok(init?.command?.join(" ").includes(`intel update --intel-dir ${intel}`), where);
  assert.ok(
    init.volumeMounts?.some((m) => m.mountPath === intel),
    where,
  );
  assert.ok(
    scan.volumeMounts?.some((m) => m.mountPath === intel),
    where,
  );
  assert.ok(
    volumes.get(init.volumeMounts?.find((m) => m.mountPath === intel)?.name ?? "")?.emptyDir,
  );
}

describe("Kubernetes manifests: API schemas and a sharded scan's consistency", () => {
  test("every manifest file parses; each complete object is valid against its API schema", () => {
    const files = yamlFiles(K8S);
    assert.ok(files.length >= 8, files.join(", "));
    let validated = 0;
    for (const file of files) {
      const where = path.relative(ROOT, file);
      for (const o of parseYaml(fs.readFileSync(file, "utf8"), where)) {
        if (o.kind === "Kustomization" || o.kind === "Component") {
          assert.match(String(o.apiVersion), /^kustomize\.config\.k8s\.io\/v1(alpha|beta)1$/);
          // Every file and directory it names exists.
          const names = [
            ...((o.resources as string[] | undefined) ?? []),
            ...((o.components as string[] | undefined) ?? []),
            ...((o.configMapGenerator as Array<{ files?: string[] }> | undefined) ?? []).flatMap(
              (g) => g.files ?? [],
            ),
          ];
          for (const n of names) {
            assert.ok(fs.existsSync(path.resolve(path.dirname(file), n)), `${where}: ${n}`);
          }
          continue;
        }
        // The CronJob's jobTemplate.spec is the Job's, filled in by kustomize: checked rendered.
        if (where.endsWith("base/scan-cronjob.yaml")) continue;
        validateObject(o, where);
        validated++;
      }
    }
    assert.ok(validated >= 3, `only ${validated} objects validated`);
  });

  test("a wrong manifest is refused by the schema (the validation can fail)", () => {
    const job = parseYaml(
      fs.readFileSync(path.join(K8S, "base", "scan-job.yaml"), "utf8"),
      "job",
    )[0]!;
    const bad = structuredClone(job) as Obj & { spec: Obj };
    bad.spec.parallelism = "4";
    assert.throws(() => validateObject(bad, "bad"), /parallelism must be integer/);
    const noImage = structuredClone(job) as Obj & { spec: JobSpec };
    noImage.spec.template.spec.containers = [{ name: "scan", args: [1 as never] }];
    assert.throws(() => validateObject(noImage, "bad"), /must be string/);
  });

  for (const overlay of OVERLAYS) {
    test(`overlays/${overlay}: rendered by kustomize, valid, consistent`, (t) => {
      if ("missing" in KUSTOMIZE) return t.skip(KUSTOMIZE.missing);
      const where = `overlays/${overlay}`;
      const out = render(path.join(K8S, "overlays", overlay));
      for (const o of out) validateObject(o, where);
      const kinds = out.map((o) => o.kind).sort();
      const want = overlay === "weekly" ? "CronJob" : "Job";
      assert.deepEqual(kinds, ["ConfigMap", "ConfigMap", want], `${where}: ${kinds.join(", ")}`);
      // The settings ConfigMap is kustomize's input only.
      assert.ok(!out.some((o) => (o.metadata as Obj).name === "redscope-settings"), where);
      const job = out.find((o) => o.kind === want)!;
      checkScanJob(job, out, where);
      if (want === "CronJob") {
        const spec = job.spec as Obj;
        assert.equal(spec.concurrencyPolicy, "Forbid");
        assert.ok(Number(spec.startingDeadlineSeconds) > 0);
        assert.ok(Number(spec.successfulJobsHistoryLimit) >= 1);
        assert.ok(Number(spec.failedJobsHistoryLimit) >= 1);
        assert.ok(Number((jobSpecOf(job) as unknown as Obj).activeDeadlineSeconds) > 0);
      }
    });
  }

  test("base: the CronJob's runs are exactly the Indexed Job", (t) => {
    if ("missing" in KUSTOMIZE) return t.skip(KUSTOMIZE.missing);
    const out = render(path.join(K8S, "base"));
    for (const o of out) validateObject(o, "base");
    const job = out.find((o) => o.kind === "Job")!;
    const cron = out.find((o) => o.kind === "CronJob")!;
    assert.deepEqual(jobSpecOf(cron), jobSpecOf(job));
  });

  test("one value, one place: shards, ports, rate, schedule and the secret from settings.yaml", (t) => {
    if ("missing" in KUSTOMIZE) return t.skip(KUSTOMIZE.missing);
    const dir = copyOfK8s();
    try {
      const weekly = path.join(dir, "overlays", "weekly");
      const settings = path.join(weekly, "settings.yaml");
      const text = fs
        .readFileSync(settings, "utf8")
        .replace(/shards: "\d+"/, 'shards: "16"')
        .replace(/ports: "[^"]*"/, 'ports: "6379,7000-7005"')
        .replace(/rate: "\d+"/, 'rate: "125"')
        .replace(/schedule: "[^"]*"/, 'schedule: "30 1 * * 0"')
        .replace(/dbSecret: \S+/, "dbSecret: scanner-db");
      fs.writeFileSync(settings, text);
      // And opt in to GeoLite databases from a volume.
      const k = path.join(weekly, "kustomization.yaml");
      fs.writeFileSync(
        k,
        fs
          .readFileSync(k, "utf8")
          .replace(
            "  - ../../components/settings\n",
            "  - ../../components/settings\n  - ../../components/geoip\n",
          ),
      );
      const out = render(weekly);
      for (const o of out) validateObject(o, "edited weekly");
      const cron = out.find((o) => o.kind === "CronJob")!;
      checkScanJob(cron, out, "edited weekly");
      const job = jobSpecOf(cron);
      const scan = job.template.spec.containers[0]!;
      const args = expandedArgs(scan);
      assert.equal(job.completions, 16);
      assert.equal(job.parallelism, 16);
      assert.equal(flagValue(args, "--shard"), "?/16");
      assert.equal(flagValue(args, "-p"), "6379,7000-7005");
      assert.equal(flagValue(args, "--rate"), "125");
      assert.equal((cron.spec as Obj).schedule, "30 1 * * 0");
      const db = scan.env?.find((e) => e.name === "REDSCOPE_DB");
      assert.equal((db?.valueFrom?.secretKeyRef as Obj | undefined)?.name, "scanner-db");
      const dbVolume = job.template.spec.volumes?.find((v) => v.name === "db");
      assert.equal((dbVolume?.secret as Obj | undefined)?.secretName, "scanner-db");
      const geo = job.template.spec.volumes?.find((v) => v.name === "geoip");
      assert.equal((geo?.persistentVolumeClaim as Obj | undefined)?.claimName, "redscope-geoip");
      assert.ok(
        job.template.spec.initContainers?.[0]?.volumeMounts?.some((m) => m.name === "geoip"),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the pod's command line, as Kubernetes expands it, is accepted by the shipped CLI", async (t) => {
    if ("missing" in KUSTOMIZE) return t.skip(KUSTOMIZE.missing);
    const out = render(path.join(K8S, "overlays", "weekly"));
    const cron = out.find((o) => o.kind === "CronJob")!;
    const scan = jobSpecOf(cron).template.spec.containers[0]!;
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "i18-k8s-args-"));
    try {
      // The mounted files, at paths of this machine; nothing else of the args changes.
      const cms = out.filter((o) => o.kind === "ConfigMap");
      const local = (file: string): string => {
        const name = path.basename(file);
        const cm = cms.find((c) => (c.data as Record<string, string>)[name] !== undefined)!;
        const p = path.join(tmp, name);
        fs.writeFileSync(p, (cm.data as Record<string, string>)[name]!);
        return p;
      };
      const args = expandedArgs(scan).map((a) =>
        a.startsWith("/targets/") || a.startsWith("/exclude/")
          ? local(a)
          : a === "/intel"
            ? path.join(tmp, "intel")
            : a,
      );
      // The example targets are a documentation range (192.0.2.0/24): the scan refuses them
      // before it sends or opens anything, after every flag was read. Exit 2, one line.
      const run = await runCli(args.slice(), {
        env: {
          JOB_COMPLETION_INDEX: "3",
          REDSCOPE_SCAN_ID: "uid-1",
          REDSCOPE_DB: path.join(tmp, "db"),
        },
      });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /^redscope: target 192\.0\.2\.0\/24 .*--allow-reserved/);
      assert.ok(!fs.existsSync(path.join(tmp, "db")), "nothing opened");
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test("Dockerfile: pinned base, npm ci, non-root, an entrypoint that the build makes", () => {
    const text = fs.readFileSync(path.join(K8S, "Dockerfile"), "utf8");
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(text)?.[1] ?? "";
    assert.match(base, /^node:\d+\.\d+\.\d+-\w+-slim$/, "base image pinned to a release");
    for (const from of text.matchAll(/^FROM (\S+)/gm)) assert.equal(from[1], "$" + "{NODE_IMAGE}");
    assert.match(text, /^RUN npm ci\b/m);
    assert.doesNotMatch(text, /npm install/);
    assert.match(text, /test -f dist\/src\/cli\/bin\.js/);
    const user = /^USER (\S+)$/m.exec(text)?.[1];
    assert.equal(user, "1000:1000");
    const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(text)?.[1] ?? "[]") as string[];
    assert.equal(entry[0], "node");
    // /app in the image is the repository root here; the test itself runs from dist/.
    const inDist = (p: string): string => path.join(ROOT, path.relative("/app", p));
    assert.ok(fs.existsSync(inDist(entry[1]!)), `${entry[1]} is not built`);
    const job = fs.readFileSync(path.join(K8S, "base", "scan-job.yaml"), "utf8");
    for (const m of job.matchAll(/node (\/app\/\S+)/g)) {
      assert.ok(fs.existsSync(inDist(m[1]!)), `${m[1]} (init step) is not built`);
    }
    // The build context leaves the working copy's bulk out.
    const ignore = fs.readFileSync(path.join(K8S, "Dockerfile.dockerignore"), "utf8");
    assert.match(ignore, /^node_modules$/m);
  });
});
