/**
 * Scanner performance benchmark (`npm run bench`): in one run, on the same live targets, the
 * physical limit of this machine (a C epoll loop, bench/cloop.c, compiled with `cc -O2` at
 * bench time), a bare Node loop (bench/rawloop.ts), redscope as a user runs it (SQLite store and
 * a JSONL file), redscope `--no-db`, redscope `--workers 2`, and nmap `--script redis-info`;
 * for each: probes/s, peak RSS and bytes per connection in flight. Then the silent-heavy mix (a
 * quarter of the targets silently dropped, 2 s connect and read budgets: what an internet scan
 * looks like) at 5,000 and 15,000 in flight; worker scaling against a responder that costs
 * little (bench/responder.c); and RSS against the size of the target space.
 *
 * Everything runs inside a network namespace this script creates (`rsbench-<pid>`) whose only
 * interface is `lo`: one real redis-server listens on 0.0.0.0:6379 there, so every 127.x.y.z:6379
 * is a live Redis; the responder listens on 0.0.0.0:6400; an nftables rule drops every
 * 127.x.y.z:6390 (the silent targets). No packet can leave the namespace: it has no other
 * interface or route. The namespace and every process started here are removed at the end,
 * also on failure or a signal. Every run has a time limit and the whole bench has one.
 *
 *   sudo npm run bench                    (= npm run build && node dist/bench/scan.js)
 *   node dist/bench/scan.js [--quick] [--targets N] [--reps N] [--silent-reps N] [--rss-reps N]
 *        [--rss-runtime SECONDS] [--no-nmap] [--no-silent] [--no-workers] [--no-rss]
 *
 * --quick: 10,000 targets, one rep, a 300-target nmap subset, no RSS-vs-space runs.
 * Results: a table on stdout and the same as JSON in bench-output/scan.json.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildRequest } from "../src/probe/allowlist.js";
import { DEFAULT_PROBE } from "../src/probe/redis.js";

// ---------------------------------------------------------------------------------------------
// Fixed parameters of the benchmark.

const ROOT = path.resolve(fileURLToPath(new URL("../../", import.meta.url)));
const OUT = path.join(ROOT, "bench-output");
const REDSCOPE = path.join(ROOT, "dist/src/cli/bin.js");
const RAWLOOP = path.join(ROOT, "dist/bench/rawloop.js");
const MEMPROBE = path.join(ROOT, "dist/bench/memprobe.js");
const CLOOP_SRC = path.join(ROOT, "bench/cloop.c");
const RESPONDER_SRC = path.join(ROOT, "bench/responder.c");
const NODE = process.execPath;

/** The targets: 127.1.0.0 upwards, as many as asked (the issue measured 50,000). */
const TARGET_BASE = (127 << 24) | (1 << 16);
const DEFAULT_TARGETS = 50_000;
const QUICK_TARGETS = 10_000;
const LIVE_PORT = 6379;
/** Every 127.x.y.z on this port is silently dropped (nftables rule inside the namespace). */
const DROP_PORT = 6390;
/** bench/responder.c listens here (0.0.0.0 inside the namespace). */
const RESPONDER_PORT = 6400;
/** Concurrency of the throughput rows (redscope's default). */
const MAIN_C = 1000;
/**
 * The baseline of "bytes per connection in flight": the same tool, the same flags and the same
 * target list, with this concurrency, stopped after BASE_TARGETS targets.
 */
const BASE_C = 16;
const BASE_TARGETS = 2_000;
/** The silent-heavy mix: this share of the targets dropped; these budgets; these concurrencies. */
const SILENT_EVERY = 4;
const SILENT_BUDGET_MS = 2_000;
const SILENT_CS = [5_000, 15_000] as const;
const NMAP_SUBSET = 2_000;
const NMAP_SUBSET_QUICK = 300;
const NMAP_OPTIONS = ["-T4", "--min-hostgroup", "4096"];
const RSS_SPACES = [
  { label: "/24", cidr: "127.1.2.0/24" },
  { label: "/16", cidr: "127.2.0.0/16" },
  { label: "/8", cidr: "127.0.0.0/8" },
] as const;
const RSS_CONCURRENCY = 5_000;
const GOAL_NMAP_FACTOR = 10;
const GOAL_DEFAULT_SHARE = 0.9;
const GOAL_RSS_MB = 200;
const GOAL_WORKER_SCALING = 0.8;
/** Bytes per connection "flat" from 5,000 to 15,000: the larger within this factor of the smaller. */
const GOAL_FLAT_FACTOR = 1.25;
/** RSS vs space "flat": mean /8 and /16 differ by at most this or the run-to-run spread. */
const FLAT_TOLERANCE_MB = 10;
/** Hard limit for the whole benchmark; a watchdog cleans up and exits past it. */
const BENCH_LIMIT_MS = 25 * 60_000;
/** Hard limit of one measured run. */
const RUN_LIMIT_S = 240;

interface Options {
  quick: boolean;
  targets: number;
  reps: number;
  silentReps: number;
  rssReps: number;
  rssRuntimeS: number;
  nmap: boolean;
  silent: boolean;
  workers: boolean;
  rss: boolean;
}

const USAGE =
  "usage: node dist/bench/scan.js [--quick] [--targets N] [--reps N] [--silent-reps N] " +
  "[--rss-reps N] [--rss-runtime SECONDS] [--no-nmap] [--no-silent] [--no-workers] [--no-rss]\n";

function parseOptions(argv: string[]): Options {
  const quick = argv.includes("--quick");
  const o: Options = {
    quick,
    targets: quick ? QUICK_TARGETS : DEFAULT_TARGETS,
    reps: quick ? 1 : 3,
    silentReps: 1,
    rssReps: 1,
    rssRuntimeS: 10,
    nmap: true,
    silent: true,
    workers: true,
    rss: !quick,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") continue;
    if (a === "--targets") o.targets = boundedInt(a, argv[++i], BASE_TARGETS, 65_536 * 4);
    else if (a === "--reps") o.reps = boundedInt(a, argv[++i], 1, 10);
    else if (a === "--silent-reps") o.silentReps = boundedInt(a, argv[++i], 1, 5);
    else if (a === "--rss-reps") o.rssReps = boundedInt(a, argv[++i], 1, 5);
    else if (a === "--rss-runtime") o.rssRuntimeS = boundedInt(a, argv[++i], 2, 120);
    else if (a === "--no-nmap") o.nmap = false;
    else if (a === "--no-silent") o.silent = false;
    else if (a === "--no-workers") o.workers = false;
    else if (a === "--no-rss") o.rss = false;
    else {
      process.stderr.write(USAGE);
      process.exit(2);
    }
  }
  return o;
}

function boundedInt(name: string, v: string | undefined, lo: number, hi: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) {
    process.stderr.write(`${name}: expected an integer in [${lo}, ${hi}]\n`);
    process.exit(2);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Processes and cleanup. Every child gets its own process group (detached), so one kill of the
// group ends it together with anything it forked (/usr/bin/time → node).

const NS = `rsbench-${process.pid}`;
/** Where GNU time writes each run's figures. */
const TIME_FILE = path.join(OUT, `.time-${process.pid}`);
let nsCreated = false;
const running = new Set<ChildProcess>();
let redis: ChildProcess | undefined;
let responder: ChildProcess | undefined;
/** The bench's own temp dir: compiled C tools, target lists, outputs of the runs. */
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), `rsbench-${process.pid}-`));
let cleanedUp = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Synchronous, idempotent: safe from 'exit', signal handlers and the error path. */
function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const c of running) killGroup(c, "SIGKILL");
  if (redis) killGroup(redis, "SIGTERM");
  if (responder) killGroup(responder, "SIGKILL");
  fs.rmSync(TIME_FILE, { force: true });
  if (nsCreated) {
    // Whatever is still inside our own namespace was started by this script.
    for (let i = 0; i < 20; i++) {
      const pids = nsPids();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, i < 5 ? "SIGTERM" : "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      sleepSync(100);
    }
    const r = spawnSync("ip", ["netns", "del", NS], { encoding: "utf8" });
    if (r.status !== 0) process.stderr.write(`bench: ip netns del ${NS}: ${r.stderr}`);
    else nsCreated = false;
  }
  fs.rmSync(WORK, { recursive: true, force: true });
}

function nsPids(): number[] {
  const r = spawnSync("ip", ["netns", "pids", NS], { encoding: "utf8" });
  if (r.status !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    process.stderr.write(`\nbench: ${sig}: cleaning up namespace ${NS}\n`);
    cleanup();
    process.exit(130);
  });
}
process.on("uncaughtException", (e) => {
  process.stderr.write(`bench: ${e.stack ?? String(e)}\n`);
  cleanup();
  process.exit(1);
});

/** Run a setup command to completion; throws on failure. */
function sh(cmd: string, args: string[], opts: { ns?: boolean; allowFail?: boolean } = {}): string {
  const argv = opts.ns ? ["netns", "exec", NS, cmd, ...args] : args;
  const bin = opts.ns ? "ip" : cmd;
  const r = spawnSync(bin, argv, { encoding: "utf8", timeout: 30_000 });
  if ((r.status !== 0 || r.error) && !opts.allowFail) {
    throw new Error(`${bin} ${argv.join(" ")} failed: ${r.error?.message ?? r.stderr.trim()}`);
  }
  return r.stdout ?? "";
}

function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// Preflight: root, tools, limits.

interface Env {
  timeBin: string | undefined;
  nofile: number;
  nofileNote: string;
}

function which(cmd: string): string | undefined {
  const r = spawnSync("bash", ["-c", `command -v ${sq(cmd)}`], { encoding: "utf8" });
  const p = r.stdout.trim();
  return r.status === 0 && p ? p : undefined;
}

function preflight(opts: Options): Env {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    process.stderr.write("bench: must run as root on Linux (network namespace, nftables)\n");
    process.exit(1);
  }
  const needed: [string, string][] = [
    ["ip", "iproute2"],
    ["ss", "iproute2"],
    ["redis-server", "redis-server"],
    ["nft", "nftables"],
    ["cc", "gcc"],
    ...(opts.nmap ? [["nmap", "nmap"] as [string, string]] : []),
  ];
  const missing = needed.filter(([c]) => !which(c));
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map(([, p]) => p))];
    process.stderr.write(
      `bench: missing ${missing.map(([c]) => c).join(", ")}; install with:\n` +
        `  apt-get install -y ${pkgs.join(" ")}\n`,
    );
    process.exit(1);
  }
  for (const f of [REDSCOPE, RAWLOOP, MEMPROBE]) {
    if (!fs.existsSync(f)) {
      process.stderr.write(`bench: ${f} missing: build first (npm run build)\n`);
      process.exit(1);
    }
  }
  // GNU time gives the exact peak RSS (ru_maxrss); without it /proc VmHWM is sampled.
  const timeBin = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
  // 15,000 client sockets plus the tool's own files: try 65536, else the hard limit we are given.
  const want = 65_536;
  const ok = spawnSync("bash", ["-c", `ulimit -n ${want} 2>/dev/null && echo ok`], {
    encoding: "utf8",
  }).stdout.trim();
  let nofile = want;
  let nofileNote = `ulimit -n ${want}`;
  if (ok !== "ok") {
    const hard = spawnSync("bash", ["-c", "ulimit -Hn"], { encoding: "utf8" }).stdout.trim();
    nofile = hard === "unlimited" ? want : Number(hard);
    nofileNote = `ulimit -n ${nofile} (hard limit; raising to ${want} not permitted here)`;
  }
  const need = Math.max(MAIN_C, ...(opts.silent ? SILENT_CS : []), RSS_CONCURRENCY) + 512;
  if (!Number.isFinite(nofile) || nofile < need) {
    process.stderr.write(`bench: open-file limit ${nofile} < ${need}; raise it (ulimit -Hn)\n`);
    process.exit(1);
  }
  return { timeBin, nofile, nofileNote };
}

// ---------------------------------------------------------------------------------------------
// Kernel counters inside the namespace: a run that overflowed the listen queue or retransmitted
// SYNs measured the kernel's 1 s SYN timer, not the client.

type Counters = Record<string, number>;
const COUNTER_KEYS = [
  "ListenOverflows",
  "ListenDrops",
  "TCPSynRetrans",
  "TCPTimeWaitOverflow",
  "RetransSegs",
  "AttemptFails",
  "EstabResets",
];

function readCounters(): Counters {
  const text = sh("cat", ["/proc/net/netstat", "/proc/net/snmp"], { ns: true });
  const lines = text.split("\n");
  const out: Counters = {};
  for (let i = 0; i + 1 < lines.length; i++) {
    const head = lines[i]!.split(/\s+/);
    const vals = lines[i + 1]!.split(/\s+/);
    if (head[0] !== vals[0] || !head[0]?.endsWith(":")) continue;
    for (let k = 1; k < head.length; k++) {
      const key = head[k]!;
      if (COUNTER_KEYS.includes(key)) out[key] = Number(vals[k]);
    }
    i++;
  }
  return out;
}

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;

/** CPU seconds redis-server has used so far (utime + stime), to see when it is the limit. */
function redisCpuS(): number | undefined {
  if (redis?.pid === undefined) return undefined;
  try {
    const stat = fs.readFileSync(`/proc/${redis.pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of the full line are 12 and 13 after "pid (comm) ".
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Aggregate CPU ticks of the machine (/proc/stat): a shared machine's other load shows here. */
function machineTicks(): { busy: number; total: number; steal: number } {
  const f = (fs.readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "")
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait, steal };
}

function machineLoad(
  a: ReturnType<typeof machineTicks>,
  b: ReturnType<typeof machineTicks>,
): { machineBusyPct: number; stealPct: number } {
  const total = b.total - a.total;
  const cores = os.cpus().length;
  if (total <= 0) return { machineBusyPct: 0, stealPct: 0 };
  return {
    machineBusyPct: Math.round((100 * cores * (b.busy - a.busy)) / total),
    stealPct: Math.round((100 * cores * (b.steal - a.steal)) / total),
  };
}

function diffCounters(a: Counters, b: Counters): Counters {
  const d: Counters = {};
  for (const k of COUNTER_KEYS) d[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return d;
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// One measured run inside the namespace.

interface Measured {
  code: number | null;
  wallS: number;
  /** Peak RSS of the tool's process tree (see treePeakKB). */
  peakRssKB: number;
  /** Processes seen in the tool's tree (1 unless it starts workers as processes). */
  processes: number;
  /** User + system CPU seconds of the tool (GNU time); absent without it. */
  cpuS?: number;
  /** CPU seconds redis-server used during the run. */
  serverCpuS?: number;
  /** Whole machine during the run, in % of one core: busy (incl. steal), and steal alone. */
  machineBusyPct: number;
  stealPct: number;
  stdout: string;
  stderr: string;
  counters: Counters;
}

/** The definition printed with the figures. */
const RSS_DEFINITION =
  "peak RSS = the tool's process tree: GNU time's ru_maxrss of the tool (exact) or, when larger, " +
  "the sum of VmHWM of every process of its tree (sampled every 200 ms; one process: the same)";

function children(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .split(/\s+/)
      .filter((s) => /^\d+$/.test(s))
      .map(Number);
  } catch {
    return [];
  }
}

function vmHwmKB(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function measure(
  env: Env,
  argv: string[],
  opts: { limitS: number; discardStdout?: boolean; vars?: Record<string, string> },
): Promise<Measured> {
  const timeFile = TIME_FILE;
  fs.rmSync(timeFile, { force: true });
  const tool = argv.map(sq).join(" ");
  const redirect = opts.discardStdout ? " >/dev/null" : "";
  const vars = Object.entries(opts.vars ?? {})
    .map(([k, v]) => `export ${k}=${sq(v)}; `)
    .join("");
  const script = env.timeBin
    ? `ulimit -n ${env.nofile}; ${vars}exec ${env.timeBin} -f '%e %M %U %S' -o ${sq(timeFile)} ${tool}${redirect}`
    : `ulimit -n ${env.nofile}; ${vars}exec ${tool}${redirect}`;
  const before = readCounters();
  const serverBefore = redisCpuS();
  const machineBefore = machineTicks();
  const t0 = performance.now();
  const child = spawn("ip", ["netns", "exec", NS, "bash", "-c", script], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let outLen = 0;
  child.stdout?.on("data", (c: Buffer) => {
    if (outLen < 4 << 20) out.push(c);
    outLen += c.length;
  });
  child.stderr?.on("data", (c: Buffer) => {
    if (err.length < 1000) err.push(c);
  });
  // The tool's tree: `ip netns exec` and bash exec, so child.pid is GNU time (then the tool is
  // its child) or the tool itself. Each process's VmHWM only grows: keep the last seen.
  const hwm = new Map<number, number>();
  let ticks = 0;
  const sampler = setInterval(() => {
    const root = child.pid;
    if (root === undefined) return;
    const tops = env.timeBin ? children(root) : [root];
    const seen: number[] = [];
    const walk = (pid: number, depth: number): void => {
      seen.push(pid);
      if (depth < 4) for (const c of children(pid)) walk(c, depth + 1);
    };
    // The tree is walked once a second; the known processes are read every tick.
    if (ticks++ % 5 === 0) for (const t of tops) walk(t, 0);
    for (const pid of new Set([...hwm.keys(), ...seen])) {
      const kb = vmHwmKB(pid);
      if (kb !== undefined) hwm.set(pid, Math.max(hwm.get(pid) ?? 0, kb));
    }
  }, 200);
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    killGroup(child, "SIGKILL");
  }, opts.limitS * 1000);
  const code = await new Promise<number | null>((resolve) => {
    child.on("close", (c) => resolve(c));
  });
  const wallS = (performance.now() - t0) / 1000;
  const serverAfter = redisCpuS();
  const machineAfter = machineTicks();
  clearTimeout(limit);
  clearInterval(sampler);
  running.delete(child);
  if (timedOut) throw new Error(`run exceeded ${opts.limitS} s: ${argv.join(" ")}`);
  const treeKB = [...hwm.values()].reduce((a, b) => a + b, 0);
  let peakRssKB = treeKB;
  let cpuS: number | undefined;
  if (env.timeBin) {
    const lines = fs.existsSync(timeFile)
      ? fs.readFileSync(timeFile, "utf8").trim().split("\n")
      : [];
    const last = (lines[lines.length - 1] ?? "").split(" ");
    peakRssKB = Math.max(treeKB, Number(last[1] ?? 0));
    const cpu = Number(last[2]) + Number(last[3]);
    if (Number.isFinite(cpu)) cpuS = cpu;
    fs.rmSync(timeFile, { force: true });
  }
  return {
    code,
    wallS,
    peakRssKB,
    processes: Math.max(1, hwm.size),
    ...(cpuS !== undefined ? { cpuS } : {}),
    ...(serverBefore !== undefined && serverAfter !== undefined
      ? { serverCpuS: serverAfter - serverBefore }
      : {}),
    ...machineLoad(machineBefore, machineAfter),
    stdout: Buffer.concat(out).toString("utf8"),
    stderr: Buffer.concat(err).toString("utf8"),
    counters: diffCounters(before, readCounters()),
  };
}

// ---------------------------------------------------------------------------------------------
// Namespace, server, targets.

interface Setup {
  sysctlRead: Record<string, string>;
  sysctlChanged: string[];
  redisVersion: string;
  nmapVersion: string;
}

async function setupNamespace(env: Env): Promise<Setup> {
  sh("ip", ["netns", "add", NS]);
  nsCreated = true;
  sh("ip", ["link", "set", "lo", "up"], { ns: true });
  // Safety: the namespace must have no interface but loopback, so nothing can leave it.
  const links = sh("ip", ["-o", "link", "show"], { ns: true }).trim().split("\n");
  if (links.length !== 1 || !/^\d+: lo:/.test(links[0] ?? "")) {
    throw new Error(`namespace ${NS} has interfaces besides lo: ${links.join(" | ")}`);
  }
  const keys = [
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_max_tw_buckets",
    "net.core.somaxconn",
    "net.ipv4.tcp_max_syn_backlog",
  ];
  const sysctlRead: Record<string, string> = {};
  for (const k of keys) {
    sysctlRead[k] = sh("sysctl", ["-n", k], { ns: true }).trim().replace(/\s+/g, " ");
  }
  const sysctlChanged: string[] = [];
  // With 5,000 clients connecting at once, Redis's default accept backlog (511) overflows and
  // each dropped SYN costs the client the kernel's 1 s SYN retransmit timer, for every tool
  // alike. Raise the listen backlog inside the namespace only (these keys are per-netns).
  for (const [k, v] of [
    ["net.core.somaxconn", "65535"],
    ["net.ipv4.tcp_max_syn_backlog", "65535"],
  ] as const) {
    sh("sysctl", ["-qw", `${k}=${v}`], { ns: true });
    sysctlChanged.push(`${k}: ${sysctlRead[k]} -> ${v} (inside ${NS} only)`);
  }
  // Ephemeral ports: every target is a distinct destination address, so a local port is only
  // exhausted per destination; still widen if the range is not comfortably above concurrency.
  const [lo, hi] = (sysctlRead["net.ipv4.ip_local_port_range"] ?? "32768 60999")
    .split(" ")
    .map(Number);
  const maxC = Math.max(MAIN_C, ...SILENT_CS, RSS_CONCURRENCY);
  if (lo === undefined || hi === undefined || hi - lo + 1 < 4 * maxC) {
    sh("sysctl", ["-qw", "net.ipv4.ip_local_port_range=1024 65535"], { ns: true });
    sysctlChanged.push(`net.ipv4.ip_local_port_range: ${lo} ${hi} -> 1024 65535 (inside ${NS})`);
  }

  // Unanswered targets (the silent-heavy mix, the RSS-vs-space runs): every 127.x.y.z:6390 drops SYNs silently.
  sh("nft", ["add", "table", "inet", "rsb"], { ns: true });
  sh("nft", ["add", "chain", "inet", "rsb", "in", "{ type filter hook input priority 0; }"], {
    ns: true,
  });
  sh("nft", ["add", "rule", "inet", "rsb", "in", "tcp", "dport", String(DROP_PORT), "drop"], {
    ns: true,
  });

  const redisLog = fs.openSync(path.join(OUT, "redis.log"), "w");
  const redisCmd = [
    "redis-server",
    "--port",
    String(LIVE_PORT),
    "--bind",
    "0.0.0.0",
    "--protected-mode",
    "no",
    "--save",
    "",
    "--appendonly",
    "no",
    "--maxclients",
    "20000",
    "--tcp-backlog",
    "65535",
    "--daemonize",
    "no",
  ];
  redis = spawn(
    "ip",
    [
      "netns",
      "exec",
      NS,
      "bash",
      "-c",
      `ulimit -n ${env.nofile}; exec ${redisCmd.map(sq).join(" ")}`,
    ],
    { detached: true, stdio: ["ignore", redisLog, redisLog] },
  );
  fs.closeSync(redisLog);
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    await sleep(100);
    if (redis.exitCode !== null) throw new Error("redis-server exited; see bench-output/redis.log");
    up = sh("ss", ["-Hltn", `sport = :${LIVE_PORT}`], { ns: true }).trim().length > 0;
  }
  if (!up) throw new Error("redis-server did not start listening within 10 s");
  return {
    sysctlRead,
    sysctlChanged,
    redisVersion: firstLine(sh("redis-server", ["--version"])),
    nmapVersion: firstLine(sh("nmap", ["--version"], { allowFail: true })) || "not installed",
  };
}

/** Which redscope was measured: the commit, and whether src/ had uncommitted edits. */
function gitState(): { commit: string; dirty: string } {
  const run = (args: string[]): string =>
    spawnSync("git", ["-C", ROOT, ...args], { encoding: "utf8" }).stdout?.trim() ?? "";
  const commit = run(["rev-parse", "--short", "HEAD"]) || "unknown";
  const files = run(["status", "--porcelain", "--", "src"]).split("\n").filter(Boolean);
  return { commit, dirty: files.length > 0 ? `${files.length} file(s) under src/` : "" };
}

function firstLine(s: string): string {
  return s.split("\n")[0]?.trim() ?? "";
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The first `count` addresses from 127.1.0.0 up. */
function liveTargets(count: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const v = (TARGET_BASE + i) >>> 0;
    out.push(`${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`);
  }
  return out;
}

/** A reproducible random subset (mulberry32, fixed seed), for the nmap reference. */
function subset(all: string[], n: number, seed: number): string[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const a = all.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, n);
}

// ---------------------------------------------------------------------------------------------
// The tools.

/** Compiled at bench time into WORK. */
const CLOOP = path.join(WORK, "cloop");
const RESPONDER = path.join(WORK, "responder");
/** redscope's request (PING, HELLO 3, INFO, QUIT), written for the C loop and the responder. */
const REQUEST_FILE = path.join(WORK, "request.bin");
const REPLY_FILE = path.join(WORK, "reply.bin");

function compileTools(): void {
  sh("cc", ["-O2", "-Wall", "-o", CLOOP, CLOOP_SRC]);
  sh("cc", ["-O2", "-Wall", "-pthread", "-o", RESPONDER, RESPONDER_SRC]);
}

type Kind = "c" | "node" | "redscope";

interface Spec {
  /** The row's name. */
  tool: string;
  kind: Kind;
  /** redscope: the SQLite store in a fresh file (the default), else --no-db. */
  store?: boolean;
  /** redscope: more flags (--workers N). */
  flags?: string[];
  /** redscope: where -o goes: a file in WORK (default) or /dev/null. */
  devNull?: boolean;
}

interface RunParams {
  list: string;
  port: number;
  c: number;
  /** Stop after this many targets (the baseline runs). */
  limit?: number;
  /** Connect and read budgets; the tools' defaults (5 s) when absent. */
  budgetMs?: number;
  /** Load bench/memprobe.ts into a Node tool and return its split. */
  memprobe?: boolean;
  /** Keep the JSONL output (for verification). */
  keepOutput?: boolean;
}

interface MemSplit {
  peak: Record<string, number>;
  atPeakRss: Record<string, number>;
}

interface ToolRun {
  section: string;
  tool: string;
  concurrency: number;
  targets: number;
  ok: number;
  /** Targets that should have answered (live ones). */
  expectedOk: number;
  seconds: number;
  /** The tool's own measure of its run time, where it prints one. */
  toolSeconds?: number;
  peakRssMB: number;
  processes: number;
  /** Tool CPU time / wall time, in % of one core. */
  cpuPct?: number;
  /** redis-server's CPU time / wall time, in % of one core (it is single-threaded). */
  serverCpuPct?: number;
  /** Machine busy minus tool and redis, in % of one core: other load (and unattributed IRQ). */
  otherPct?: number;
  stealPct?: number;
  counters: Counters;
  rep: number;
  mem?: MemSplit;
  output?: string;
  note?: string;
}

let runSeq = 0;

function argvFor(spec: Spec, p: RunParams, files: { out: string; db: string; mem: string }) {
  const budget = p.budgetMs ?? 5_000;
  const maxRuntimeMs = String((RUN_LIMIT_S - 20) * 1000);
  const pre = p.memprobe ? ["--import", `file://${MEMPROBE}`] : [];
  // The two loops take the same flags; only the request is named differently.
  const loopFlags = (request: string): string[] => [
    "--targets",
    p.list,
    "--port",
    String(p.port),
    "--concurrency",
    String(p.c),
    "--request",
    request,
    "--connect-timeout-ms",
    String(budget),
    "--read-timeout-ms",
    String(budget),
    "--max-runtime-ms",
    maxRuntimeMs,
    ...(p.limit ? ["--limit", String(p.limit)] : []),
  ];
  if (spec.kind === "c") return [CLOOP, ...loopFlags(REQUEST_FILE)];
  if (spec.kind === "node") return [NODE, ...pre, RAWLOOP, ...loopFlags("redscope")];
  return [
    NODE,
    ...pre,
    REDSCOPE,
    "scan",
    "--input-list",
    p.list,
    "-p",
    String(p.port),
    // Loopback inside the namespace: the only addresses this bench ever sends to.
    "--allow-reserved",
    "127.0.0.0/8",
    "-q",
    "--rate",
    "0",
    "--concurrency",
    String(p.c),
    ...(p.budgetMs ? ["--connect-timeout", `${budget}ms`, "--read-timeout", `${budget}ms`] : []),
    ...(p.limit ? ["--max-targets", String(p.limit)] : []),
    ...(spec.store ? ["--db", files.db] : ["--no-db"]),
    "-o",
    spec.devNull ? "/dev/null" : files.out,
    ...(spec.flags ?? []),
  ];
}

/** The summary table redscope prints on stdout: state counts, elapsed seconds. */
function parseRedscopeSummary(stdout: string): { counts: Record<string, number>; s?: number } {
  const counts: Record<string, number> = {};
  for (const line of stdout.split("\n")) {
    const m = /^([a-z_]+)\s+(\d+)\s+[\d.]+%/.exec(line);
    if (m) counts[m[1]!] = Number(m[2]);
  }
  const e = /shard \S+, ([\d.]+) s/.exec(stdout);
  return e ? { counts, s: Number(e[1]) } : { counts };
}

function cpuOf(m: Measured): Pick<ToolRun, "cpuPct" | "serverCpuPct" | "otherPct" | "stealPct"> {
  const o: Pick<ToolRun, "cpuPct" | "serverCpuPct" | "otherPct" | "stealPct"> = {
    stealPct: m.stealPct,
  };
  if (m.cpuS !== undefined) o.cpuPct = Math.round((100 * m.cpuS) / m.wallS);
  if (m.serverCpuS !== undefined) o.serverCpuPct = Math.round((100 * m.serverCpuS) / m.wallS);
  if (o.cpuPct !== undefined && o.serverCpuPct !== undefined) {
    o.otherPct = m.machineBusyPct - o.cpuPct - o.serverCpuPct;
  }
  return o;
}

function mb(kb: number): number {
  return Math.round((kb / 1024) * 10) / 10;
}

async function runTool(
  env: Env,
  section: string,
  spec: Spec,
  p: RunParams & { targets: number; expectedOk: number },
  rep: number,
): Promise<ToolRun> {
  const n = ++runSeq;
  const files = {
    out: path.join(WORK, `run-${n}.jsonl`),
    db: path.join(WORK, `run-${n}.db`),
    mem: path.join(WORK, `run-${n}.mem.json`),
  };
  const argv = argvFor(spec, p, files);
  const m = await measure(env, argv, {
    limitS: RUN_LIMIT_S,
    ...(p.memprobe ? { vars: { REDSCOPE_BENCH_MEMPROBE: files.mem } } : {}),
  });
  if (m.code !== 0) {
    throw new Error(`${spec.tool} exited ${m.code}: ${argv.join(" ")}\n${m.stderr.slice(-2000)}`);
  }
  let ok = 0;
  let toolSeconds: number | undefined;
  if (spec.kind === "redscope") {
    const sum = parseRedscopeSummary(m.stdout);
    ok = sum.counts["open"] ?? 0;
    toolSeconds = sum.s;
  } else {
    const r = JSON.parse(m.stdout.trim().split("\n").pop() ?? "{}") as {
      ok: number;
      seconds: number;
    };
    ok = r.ok;
    toolSeconds = r.seconds;
  }
  const run: ToolRun = {
    section,
    tool: spec.tool,
    concurrency: p.c,
    targets: p.targets,
    ok,
    expectedOk: p.expectedOk,
    seconds: m.wallS,
    peakRssMB: mb(m.peakRssKB),
    processes: m.processes,
    ...cpuOf(m),
    counters: m.counters,
    rep,
  };
  if (toolSeconds !== undefined) run.toolSeconds = toolSeconds;
  if (p.memprobe && fs.existsSync(files.mem)) {
    run.mem = JSON.parse(fs.readFileSync(files.mem, "utf8")) as MemSplit;
  }
  for (const f of [files.db, `${files.db}-wal`, `${files.db}-shm`, files.mem]) {
    fs.rmSync(f, { force: true });
  }
  if (p.keepOutput && fs.existsSync(files.out)) run.output = files.out;
  else fs.rmSync(files.out, { force: true });
  log(
    `${section.padEnd(8)} ${spec.tool.padEnd(24)} C=${String(p.c).padStart(5)}` +
      `${p.limit ? ` (first ${p.limit})` : ""} rep ${rep}: ${m.wallS.toFixed(2)} s, ` +
      `${fmtInt(p.targets / m.wallS)}/s, ${ok}/${p.expectedOk} ok, ${run.peakRssMB} MB; ` +
      `CPU tool ${run.cpuPct}% redis ${run.serverCpuPct}% other ${run.otherPct}%`,
  );
  return run;
}

async function runNmap(env: Env, file: string, count: number): Promise<ToolRun> {
  const xml = path.join(WORK, "nmap.xml");
  const m = await measure(
    env,
    [
      "nmap",
      "-n",
      "-Pn",
      "-sT",
      "-p",
      String(LIVE_PORT),
      "--script",
      "redis-info",
      ...NMAP_OPTIONS,
      "-iL",
      file,
      "-oX",
      xml,
    ],
    { limitS: RUN_LIMIT_S, discardStdout: true },
  );
  if (m.code !== 0) throw new Error(`nmap exited ${m.code}: ${m.stderr.slice(-2000)}`);
  const text = fs.readFileSync(xml, "utf8");
  const elapsed = /<finished [^>]*elapsed="([\d.]+)"/.exec(text);
  // A host counts when redis-info printed its facts (it found a Redis and read INFO).
  const ok = (text.match(/<script id="redis-info" output="[^"]*Version/g) ?? []).length;
  const run: ToolRun = {
    section: "live",
    tool: "nmap --script redis-info",
    concurrency: 0,
    targets: count,
    ok,
    expectedOk: count,
    seconds: m.wallS,
    peakRssMB: mb(m.peakRssKB),
    processes: m.processes,
    ...cpuOf(m),
    counters: m.counters,
    rep: 1,
    note: `random subset of ${count}, extrapolated; nmap's own elapsed time`,
  };
  if (elapsed) run.toolSeconds = Number(elapsed[1]);
  log(`live     nmap redis-info subset ${count}: ${run.toolSeconds ?? m.wallS} s, ${ok} ok`);
  return run;
}

/** Full verification: every target of the set came back, once, as `open`. */
function verifyJsonl(file: string, targets: string[], port: number) {
  const want = new Set(targets);
  const seen = new Set<string>();
  const states: Record<string, number> = {};
  let lines = 0;
  let foreign = 0;
  let duplicates = 0;
  const text = fs.readFileSync(file, "utf8");
  for (const line of text.split("\n")) {
    if (!line) continue;
    lines++;
    const r = JSON.parse(line) as { ip: string; port: number; state: string };
    states[r.state] = (states[r.state] ?? 0) + 1;
    if (!want.has(r.ip) || r.port !== port) foreign++;
    else if (seen.has(r.ip)) duplicates++;
    else seen.add(r.ip);
  }
  const allOpen = states["open"] === targets.length && lines === targets.length;
  return {
    lines,
    states,
    distinctTargets: seen.size,
    foreign,
    duplicates,
    pass: allOpen && seen.size === targets.length && foreign === 0 && duplicates === 0,
  };
}

/** Record the real server's reply to redscope's request, then start the responder with it. */
async function startResponder(env: Env): Promise<void> {
  const one = path.join(WORK, "one-target.txt");
  fs.writeFileSync(one, `127.0.0.1:${LIVE_PORT}\n`);
  sh(CLOOP, ["--targets", one, "--request", REQUEST_FILE, "--dump", REPLY_FILE], { ns: true });
  const size = fs.statSync(REPLY_FILE).size;
  if (size < 100) throw new Error(`recorded reply is only ${size} bytes`);
  const reqLen = fs.statSync(REQUEST_FILE).size;
  const r = spawn(
    "ip",
    [
      "netns",
      "exec",
      NS,
      "bash",
      "-c",
      `ulimit -n ${env.nofile}; exec ${[
        RESPONDER,
        "--reply",
        REPLY_FILE,
        "--port",
        String(RESPONDER_PORT),
        "--min-request",
        String(reqLen),
        "--threads",
        "1",
      ]
        .map(sq)
        .join(" ")}`,
    ],
    { detached: true, stdio: ["ignore", "pipe", "inherit"] },
  );
  responder = r;
  // Ready when it says so (it prints after listen()), or failed when it exits first.
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("responder did not start within 10 s")), 10_000);
    r.stdout?.once("data", () => {
      clearTimeout(t);
      resolve();
    });
    r.once("exit", (code) => {
      clearTimeout(t);
      reject(new Error(`responder exited ${code}`));
    });
  });
  r.stdout?.resume();
  log(`responder on 0.0.0.0:${RESPONDER_PORT}: ${size} bytes of redis's reply per connection`);
}

function workersSupported(): boolean {
  const r = spawnSync(NODE, [REDSCOPE, "scan", "--help"], { encoding: "utf8", timeout: 30_000 });
  return /--workers\b/.test(r.stdout ?? "");
}

function table(rows: string[][], right: boolean[]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (right[i] ? c.padStart(w[i]!) : c.padEnd(w[i]!)))
      .join(" | ")
      .trimEnd();
  return [fmt(rows[0]!), w.map((x) => "-".repeat(x)).join("-|-"), ...rows.slice(1).map(fmt)].join(
    "\n",
  );
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmtInt = (x: number): string => Math.round(x).toLocaleString("en-US");
const log = (s: string): void => {
  process.stderr.write(`bench: ${s}\n`);
};

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

/** Rows: the median of a tool's reps, and its bytes per connection in flight. */
interface Row {
  section: string;
  tool: string;
  concurrency: number;
  targets: number;
  reps: number;
  seconds: number;
  secondsAll: number[];
  probesPerSec: number;
  peakRssMB: number;
  baselineMB?: number;
  /** (peak RSS − baseline) / concurrency, in bytes. */
  bytesPerConn?: number;
  cpuPct?: number;
  serverCpuPct?: number;
  ok: string;
  processes: number;
  mem?: MemSplit;
  note?: string;
}

const BYTES_DEFINITION =
  `bytes per connection in flight = (peak RSS at concurrency C - peak RSS of the same tool, ` +
  `flags and target list at concurrency ${BASE_C}, stopped after its first ${fmtInt(BASE_TARGETS)} ` +
  `targets) / min(C, targets); both peaks as defined above, the larger peak of the reps`;

function rowOf(runs: ToolRun[], base: ToolRun | undefined, note?: string): Row {
  const r0 = runs[0]!;
  const s = median(runs.map((r) => r.seconds));
  const peak = Math.max(...runs.map((r) => r.peakRssMB));
  const row: Row = {
    section: r0.section,
    tool: r0.tool,
    concurrency: r0.concurrency,
    targets: r0.targets,
    reps: runs.length,
    seconds: s,
    secondsAll: runs.map((r) => Math.round(r.seconds * 1000) / 1000),
    probesPerSec: r0.targets / s,
    peakRssMB: peak,
    ok: runs.map((r) => `${r.ok}/${r.expectedOk}`).join(", "),
    processes: Math.max(...runs.map((r) => r.processes)),
  };
  if (runs.every((r) => r.cpuPct !== undefined)) row.cpuPct = median(runs.map((r) => r.cpuPct!));
  if (runs.every((r) => r.serverCpuPct !== undefined)) {
    row.serverCpuPct = median(runs.map((r) => r.serverCpuPct!));
  }
  if (base) {
    row.baselineMB = base.peakRssMB;
    row.bytesPerConn = ((peak - base.peakRssMB) * 1024 * 1024) / inFlightOf(r0);
  }
  const withMem = runs.filter((r) => r.mem).sort((a, b) => b.peakRssMB - a.peakRssMB)[0];
  if (withMem?.mem) row.mem = withMem.mem;
  if (note) row.note = note;
  return row;
}

/** Connections open at once at most: the concurrency, or all the targets when fewer. */
function inFlightOf(r: { concurrency: number; targets: number }): number {
  return Math.min(r.concurrency, r.targets);
}

const kb1 = (bytes: number | undefined): string =>
  bytes === undefined ? "-" : (bytes / 1024).toFixed(1);

function uptime(): string {
  return fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const env = preflight(opts);
  const started = Date.now();
  const loadStart = uptime();
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: exceeded ${BENCH_LIMIT_MS / 60_000} min; aborting\n`);
    cleanup();
    process.exit(1);
  }, BENCH_LIMIT_MS);
  watchdog.unref();
  fs.mkdirSync(OUT, { recursive: true });
  compileTools();

  // The same targets for every tool: the live list (all on LIVE_PORT), and the silent-heavy
  // list (the same addresses, every SILENT_EVERY-th on DROP_PORT, which nftables drops).
  const targets = liveTargets(opts.targets);
  const liveList = path.join(WORK, "targets-live.txt");
  fs.writeFileSync(liveList, `${targets.join("\n")}\n`);
  const silentList = path.join(WORK, "targets-silent.txt");
  const silentDropped = targets.filter((_, i) => i % SILENT_EVERY === 0).length;
  fs.writeFileSync(
    silentList,
    `${targets.map((ip, i) => `${ip}:${i % SILENT_EVERY === 0 ? DROP_PORT : LIVE_PORT}`).join("\n")}\n`,
  );
  fs.writeFileSync(REQUEST_FILE, buildRequest(DEFAULT_PROBE));
  const nmapCount = opts.quick ? NMAP_SUBSET_QUICK : NMAP_SUBSET;
  const nmapFile = path.join(WORK, "targets-nmap.txt");
  fs.writeFileSync(nmapFile, `${subset(targets, nmapCount, 20_250_101).join("\n")}\n`);
  const first = targets[0]!;
  const last = targets[targets.length - 1]!;

  log(`namespace ${NS}; targets ${first}-${last} (${fmtInt(targets.length)}); load ${loadStart}`);
  const setup = await setupNamespace(env);
  for (const c of setup.sysctlChanged) log(`sysctl ${c}`);
  await startResponder(env);
  const workers = workersSupported();
  if (!workers) log("redscope scan --help has no --workers: those rows are skipped");

  const problems: string[] = [];
  const all: ToolRun[] = [];
  const check = (r: ToolRun): ToolRun => {
    all.push(r);
    const c = r.counters;
    // In the silent-heavy mix at 15,000 in flight, live targets can miss the 2 s read budget
    // because the one redis-server cannot answer thousands of connections at once in time (the
    // C loop shows it too): the ok column shows it; it is not the tool's fault.
    if (r.ok !== r.expectedOk && r.section !== "silent") {
      problems.push(`${r.section} ${r.tool} C=${r.concurrency}: ${r.ok}/${r.expectedOk} ok`);
    }
    if (
      r.section === "live" &&
      ((c["ListenOverflows"] ?? 0) > 0 || (c["TCPSynRetrans"] ?? 0) > 0)
    ) {
      problems.push(
        `${r.tool} C=${r.concurrency} rep ${r.rep}: ListenOverflows ${c["ListenOverflows"]}, ` +
          `TCPSynRetrans ${c["TCPSynRetrans"]}`,
      );
    }
    return r;
  };
  const live = { list: liveList, port: LIVE_PORT, targets: targets.length };
  const liveBase = {
    ...live,
    c: BASE_C,
    limit: BASE_TARGETS,
    targets: BASE_TARGETS,
    expectedOk: BASE_TARGETS,
  };

  // 1. Throughput on live targets, the tools interleaved rep by rep so drift hits all alike.
  const mainSpecs: Spec[] = [
    { tool: "C epoll loop", kind: "c" },
    { tool: "Node loop", kind: "node" },
    { tool: "redscope (default)", kind: "redscope", store: true },
    { tool: "redscope --no-db", kind: "redscope" },
    ...(workers
      ? [{ tool: "redscope --workers 2", kind: "redscope", store: true, flags: ["--workers", "2"] }]
      : []),
  ] as Spec[];
  const mainBase = new Map<string, ToolRun>();
  for (const spec of mainSpecs) {
    mainBase.set(spec.tool, await runTool(env, "base", spec, liveBase, 0));
  }
  const mainRuns = new Map<string, ToolRun[]>(mainSpecs.map((s) => [s.tool, []]));
  const verifications: Record<string, ReturnType<typeof verifyJsonl>> = {};
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (const spec of mainSpecs) {
      const verify = rep === 1 && spec.kind === "redscope";
      const r = check(
        await runTool(
          env,
          "live",
          spec,
          { ...live, c: MAIN_C, expectedOk: targets.length, keepOutput: verify },
          rep,
        ),
      );
      mainRuns.get(spec.tool)!.push(r);
      if (r.output) {
        const v = verifyJsonl(r.output, targets, LIVE_PORT);
        fs.rmSync(r.output, { force: true });
        delete r.output;
        verifications[spec.tool] = v;
        log(`verify ${spec.tool}: ${JSON.stringify(v)}`);
        if (!v.pass) problems.push(`JSONL of ${spec.tool} failed verification`);
      }
    }
  }
  const rows: Row[] = mainSpecs.map((s) => rowOf(mainRuns.get(s.tool)!, mainBase.get(s.tool)));
  if (!workers) {
    rows.push({
      section: "live",
      tool: "redscope --workers 2",
      concurrency: MAIN_C,
      targets: targets.length,
      reps: 0,
      seconds: Number.NaN,
      secondsAll: [],
      probesPerSec: Number.NaN,
      peakRssMB: Number.NaN,
      ok: "-",
      processes: 0,
      note: "not supported by this build",
    });
  }

  // 2. nmap on a random subset of the same targets, extrapolated.
  let nmapRate: number | undefined;
  if (opts.nmap) {
    const n = check(await runNmap(env, nmapFile, nmapCount));
    const s = n.toolSeconds ?? n.seconds;
    nmapRate = nmapCount / s;
    rows.push({ ...rowOf([n], undefined, n.note), seconds: s, probesPerSec: nmapRate });
  }

  // 3. The silent-heavy mix at 5,000 and 15,000 in flight.
  const silentRows: Row[] = [];
  if (opts.silent) {
    const silentSpecs: Spec[] = [
      { tool: "C epoll loop", kind: "c" },
      { tool: "Node loop", kind: "node" },
      { tool: "redscope --no-db", kind: "redscope" },
    ];
    const budget = { budgetMs: SILENT_BUDGET_MS };
    const silentBase = new Map<string, ToolRun>();
    for (const spec of silentSpecs) {
      silentBase.set(
        spec.tool,
        await runTool(
          env,
          "base",
          spec,
          { ...liveBase, ...budget, memprobe: spec.kind !== "c" },
          0,
        ),
      );
    }
    const silentRuns = new Map<string, ToolRun[]>();
    for (let rep = 1; rep <= opts.silentReps; rep++) {
      for (const c of SILENT_CS) {
        for (const spec of silentSpecs) {
          const key = `${spec.tool}@${c}`;
          const r = check(
            await runTool(
              env,
              "silent",
              spec,
              {
                list: silentList,
                port: LIVE_PORT,
                c,
                targets: targets.length,
                expectedOk: targets.length - silentDropped,
                ...budget,
                memprobe: spec.kind !== "c",
              },
              rep,
            ),
          );
          silentRuns.set(key, [...(silentRuns.get(key) ?? []), r]);
        }
      }
    }
    for (const c of SILENT_CS) {
      for (const spec of silentSpecs) {
        silentRows.push(rowOf(silentRuns.get(`${spec.tool}@${c}`)!, silentBase.get(spec.tool)));
      }
    }
  }

  // 4. Worker scaling against the cheap responder: the scanner is the bottleneck.
  const workerRows: Row[] = [];
  if (opts.workers && workers) {
    const resp = { list: liveList, port: RESPONDER_PORT, targets: targets.length };
    const wSpecs: Spec[] = [
      { tool: "C epoll loop", kind: "c" },
      { tool: "redscope --workers 1", kind: "redscope", flags: ["--workers", "1"], devNull: true },
      { tool: "redscope --workers 2", kind: "redscope", flags: ["--workers", "2"], devNull: true },
    ];
    const wRuns = new Map<string, ToolRun[]>(wSpecs.map((s) => [s.tool, []]));
    for (let rep = 1; rep <= opts.reps; rep++) {
      for (const spec of wSpecs) {
        const r = check(
          await runTool(
            env,
            "workers",
            spec,
            { ...resp, c: MAIN_C, expectedOk: targets.length },
            rep,
          ),
        );
        wRuns.get(spec.tool)!.push(r);
      }
    }
    for (const s of wSpecs) workerRows.push(rowOf(wRuns.get(s.tool)!, undefined));
  }

  // 5. RSS against the size of the target space: all targets drop, same concurrency and time.
  const rssRuns: (ToolRun & { space: string; cidr: string })[] = [];
  if (opts.rss) {
    const schedule: (typeof RSS_SPACES)[number][] = [RSS_SPACES[0]];
    for (let i = 0; i < opts.rssReps; i++) {
      schedule.push(
        ...(i % 2 === 0 ? [RSS_SPACES[1], RSS_SPACES[2]] : [RSS_SPACES[2], RSS_SPACES[1]]),
      );
    }
    for (const sp of schedule) {
      const m = await measure(
        env,
        [
          NODE,
          REDSCOPE,
          "scan",
          sp.cidr,
          "-p",
          String(DROP_PORT),
          "--allow-reserved",
          "127.0.0.0/8",
          "-q",
          "--rate",
          "0",
          "--concurrency",
          String(RSS_CONCURRENCY),
          "--no-db",
          "-o",
          "/dev/null",
          "--connect-timeout",
          "2s",
          "--max-runtime",
          `${opts.rssRuntimeS}s`,
        ],
        { limitS: opts.rssRuntimeS + 60 },
      );
      if (m.code !== 0) throw new Error(`redscope (RSS ${sp.label}) exited ${m.code}: ${m.stderr}`);
      const sum = parseRedscopeSummary(m.stdout);
      const probes = sum.counts["total"] ?? 0;
      rssRuns.push({
        section: "space",
        tool: "redscope (all targets drop)",
        space: sp.label,
        cidr: sp.cidr,
        concurrency: RSS_CONCURRENCY,
        targets: probes,
        ok: sum.counts["timeout"] ?? 0,
        expectedOk: probes,
        seconds: m.wallS,
        peakRssMB: mb(m.peakRssKB),
        processes: m.processes,
        ...cpuOf(m),
        counters: m.counters,
        rep: 1,
      });
      log(`RSS ${sp.label.padEnd(4)} ${sp.cidr}: ${fmtInt(probes)} probes, ${mb(m.peakRssKB)} MB`);
    }
  }
  const loadEnd = uptime();

  // 6. Verdicts.
  const find = (rs: Row[], tool: string, c?: number): Row | undefined =>
    rs.find((r) => r.tool === tool && (c === undefined || r.concurrency === c));
  const dflt = find(rows, "redscope (default)")!;
  const nodb = find(rows, "redscope --no-db")!;
  const cl = find(rows, "C epoll loop")!;
  const verdicts: { goal: string; met: boolean | null; detail: string }[] = [];
  verdicts.push({
    goal: `default (SQLite store + JSONL) within ${Math.round((1 - GOAL_DEFAULT_SHARE) * 100)}% of --no-db`,
    met: dflt.probesPerSec >= GOAL_DEFAULT_SHARE * nodb.probesPerSec,
    detail:
      `${fmtInt(dflt.probesPerSec)}/s vs ${fmtInt(nodb.probesPerSec)}/s = ` +
      `${((100 * dflt.probesPerSec) / nodb.probesPerSec).toFixed(0)}% (C epoll loop ` +
      `${fmtInt(cl.probesPerSec)}/s: default ${((100 * dflt.probesPerSec) / cl.probesPerSec).toFixed(0)}% of it)`,
  });
  const s5 = find(silentRows, "redscope --no-db", 5_000);
  const s15 = find(silentRows, "redscope --no-db", 15_000);
  if (s5) {
    verdicts.push({
      goal: `peak RSS <= ${GOAL_RSS_MB} MB at 5,000 in flight, silent-heavy mix`,
      met: s5.peakRssMB <= GOAL_RSS_MB,
      detail:
        `redscope --no-db ${s5.peakRssMB} MB (${kb1(s5.bytesPerConn)} KB per connection); ` +
        `C epoll loop ${find(silentRows, "C epoll loop", 5_000)?.peakRssMB} MB, Node loop ` +
        `${find(silentRows, "Node loop", 5_000)?.peakRssMB} MB`,
    });
  }
  if (s5?.bytesPerConn !== undefined && s15?.bytesPerConn !== undefined) {
    const lo = Math.min(s5.bytesPerConn, s15.bytesPerConn);
    const hi = Math.max(s5.bytesPerConn, s15.bytesPerConn);
    verdicts.push({
      goal:
        `bytes per connection flat from ${fmtInt(inFlightOf(s5))} to ${fmtInt(inFlightOf(s15))} ` +
        `in flight (larger <= ${GOAL_FLAT_FACTOR}x smaller)`,
      met: lo > 0 && hi <= GOAL_FLAT_FACTOR * lo,
      detail:
        `redscope --no-db ${kb1(s5.bytesPerConn)} KB at ${fmtInt(inFlightOf(s5))}, ` +
        `${kb1(s15.bytesPerConn)} KB at ${fmtInt(inFlightOf(s15))} (peaks ${s5.peakRssMB} / ` +
        `${s15.peakRssMB} MB; answered ${s5.ok} / ${s15.ok}: a run that lost answers holds fewer ` +
        `replies in memory)`,
    });
  }
  if (nmapRate !== undefined) {
    const f = dflt.probesPerSec / nmapRate;
    verdicts.push({
      goal: `>= ${GOAL_NMAP_FACTOR}x nmap`,
      met: f >= GOAL_NMAP_FACTOR,
      detail:
        `redscope (default) ${fmtInt(dflt.probesPerSec)}/s = ${f.toFixed(1)}x nmap ` +
        `${fmtInt(nmapRate)}/s (subset of ${fmtInt(nmapCount)}, extrapolated)`,
    });
  }
  const cores = os.cpus().length;
  if (workerRows.length > 0) {
    const w1 = find(workerRows, "redscope --workers 1")!;
    const w2 = find(workerRows, "redscope --workers 2")!;
    const ratio = w2.probesPerSec / w1.probesPerSec;
    const respCpu = "the responder and the kernel's loopback share the same cores";
    verdicts.push({
      goal: `worker scaling >= ${GOAL_WORKER_SCALING}*N (--workers 2 >= ${2 * GOAL_WORKER_SCALING}x --workers 1)`,
      met: ratio >= 2 * GOAL_WORKER_SCALING,
      detail:
        `${fmtInt(w2.probesPerSec)}/s vs ${fmtInt(w1.probesPerSec)}/s = ${ratio.toFixed(2)}x; ` +
        `${cores} cores: ${cores >= 3 ? "cores allow it" : `cores do not allow it here (${respCpu})`}; ` +
        `not slower than 1: ${ratio >= 0.95 ? "yes" : "NO"}`,
    });
  } else {
    verdicts.push({
      goal: `worker scaling >= ${GOAL_WORKER_SCALING}*N`,
      met: null,
      detail: workers
        ? "skipped (--no-workers)"
        : "not measured: --workers not supported by this build",
    });
  }
  const spaceOf = (label: string): number[] =>
    rssRuns.filter((r) => r.space === label).map((r) => r.peakRssMB);
  if (rssRuns.length > 0) {
    const meanMB = (xs: number[]): number =>
      Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10;
    const spread = (xs: number[]): number => Math.max(...xs) - Math.min(...xs);
    const r16 = meanMB(spaceOf("/16"));
    const r8 = meanMB(spaceOf("/8"));
    const tol = Math.max(FLAT_TOLERANCE_MB, spread(spaceOf("/16")), spread(spaceOf("/8")));
    verdicts.push({
      goal: `RSS flat from /16 to /8 (|/8 - /16| <= ${tol.toFixed(1)} MB)`,
      met: Math.abs(r8 - r16) <= tol,
      detail: `/24 ${spaceOf("/24").join(", ")} MB, /16 ${spaceOf("/16").join(", ")} MB, /8 ${spaceOf("/8").join(", ")} MB`,
    });
  }
  verdicts.push({
    goal: "every run got an answer from every live target; every JSONL checked is exact",
    met: problems.length === 0,
    detail:
      problems.length === 0
        ? "all ok, no listen overflows or SYN retransmits"
        : problems.join("; "),
  });

  // 7. Print and save.
  const git = gitState();
  const out: string[] = [];
  out.push(
    `redscope scanner benchmark — ${cores} cores (${os.cpus()[0]?.model ?? "?"}), ` +
      `Linux ${os.release()}, Node ${process.version}; load average at start ${loadStart}, at end ${loadEnd}`,
  );
  out.push(
    `redscope measured: commit ${git.commit}${git.dirty ? ` + uncommitted changes in ${git.dirty}` : ""}`,
  );
  out.push(
    `targets: ${first}-${last} (${fmtInt(targets.length)} addresses) in namespace ${NS} (only lo); ` +
      `${setup.redisVersion}; seconds = median wall time of the reps (process start to exit)`,
  );
  out.push(
    `C epoll loop: bench/cloop.c (cc -O2), redscope's request; Node loop: bench/rawloop.ts, ` +
      `redscope's request; redscope: --input-list LIST --rate 0 -q, default = --db FRESH.db -o FILE, ` +
      `--no-db = -o FILE; nmap: ${setup.nmapVersion}, -n -Pn -sT --script redis-info ${NMAP_OPTIONS.join(" ")}`,
  );
  out.push(`open files: ${env.nofileNote}; ${RSS_DEFINITION}`);
  out.push(BYTES_DEFINITION);
  out.push(`sysctl (inside the namespace only): ${setup.sysctlChanged.join("; ") || "none"}`);
  out.push("");
  const head = [
    "tool",
    "in flight",
    "targets",
    "seconds",
    "probes/s",
    "% of C loop",
    "peak RSS MB",
    "base MB",
    "KB/conn",
    "tool CPU %",
    "redis CPU %",
    "answered",
  ];
  const rate = (r: Row, ref: Row | undefined) =>
    ref && Number.isFinite(r.probesPerSec)
      ? `${((100 * r.probesPerSec) / ref.probesPerSec).toFixed(0)}%`
      : "-";
  const fmtRow = (r: Row, ref: Row | undefined): string[] =>
    r.note && r.reps === 0
      ? [r.tool, fmtInt(r.concurrency), fmtInt(r.targets), r.note, "", "", "", "", "", "", "", ""]
      : [
          r.tool,
          r.concurrency === 0 ? "nmap's" : fmtInt(inFlightOf(r)),
          fmtInt(r.targets),
          r.seconds.toFixed(2),
          fmtInt(r.probesPerSec),
          rate(r, ref),
          r.peakRssMB.toFixed(1),
          r.baselineMB === undefined ? "-" : r.baselineMB.toFixed(1),
          kb1(r.bytesPerConn),
          r.cpuPct === undefined ? "-" : `${r.cpuPct}%`,
          r.serverCpuPct === undefined ? "-" : `${r.serverCpuPct}%`,
          r.ok,
        ];
  const right = [false, true, true, true, true, true, true, true, true, true, true, false];
  out.push(`Live targets, ${fmtInt(MAIN_C)} in flight, ${opts.reps} rep(s) interleaved:`);
  out.push(table([head, ...rows.map((r) => fmtRow(r, cl))], right));
  out.push(
    "(CPU % = user+sys CPU time / wall time, in % of one core, of the tool (all its threads) and " +
      `of redis-server (single-threaded); ${cores} cores in all. nmap: its own elapsed time on the subset.)`,
  );
  if (silentRows.length > 0) {
    out.push("");
    out.push(
      `Silent-heavy mix: 1 in ${SILENT_EVERY} targets (${fmtInt(silentDropped)}) on :${DROP_PORT}, ` +
        `dropped by nftables; connect and read budgets ${SILENT_BUDGET_MS / 1000} s ` +
        `(redscope --connect-timeout/--read-timeout), ${opts.silentReps} rep(s):`,
    );
    out.push(
      table(
        [
          head,
          ...silentRows.map((r) => fmtRow(r, find(silentRows, "C epoll loop", r.concurrency))),
        ],
        right,
      ),
    );
    const split = silentRows.filter((r) => r.mem);
    if (split.length > 0) {
      const m = (v: number | undefined) => (v === undefined ? "-" : (v / 1048576).toFixed(1));
      out.push("Where the memory goes (process.memoryUsage() at the sample of highest RSS, MB):");
      out.push(
        table(
          [
            ["tool", "in flight", "rss", "heap total", "heap used", "external", "array buffers"],
            ...split.map((r) => [
              r.tool,
              fmtInt(r.concurrency),
              m(r.mem!.atPeakRss["rss"]),
              m(r.mem!.atPeakRss["heapTotal"]),
              m(r.mem!.atPeakRss["heapUsed"]),
              m(r.mem!.atPeakRss["external"]),
              m(r.mem!.atPeakRss["arrayBuffers"]),
            ]),
          ],
          [false, true, true, true, true, true, true],
        ),
      );
    }
  }
  out.push("");
  if (workerRows.length > 0) {
    out.push(
      `Worker scaling: every target on :${RESPONDER_PORT}, bench/responder.c (one thread, ` +
        `${fs.statSync(REPLY_FILE).size} bytes of redis's reply, then close), --no-db -o /dev/null, ${MAIN_C} in flight:`,
    );
    out.push(table([head, ...workerRows.map((r) => fmtRow(r, workerRows[0]))], right));
  } else {
    out.push(
      `Worker scaling: ${workers ? "skipped (--no-workers)" : "not measured: redscope scan has no --workers in this build"}`,
    );
  }
  if (rssRuns.length > 0) {
    out.push("");
    out.push(
      `RSS vs target space: redscope --concurrency ${RSS_CONCURRENCY} --connect-timeout 2s ` +
        `--max-runtime ${opts.rssRuntimeS}s, every target dropped: ` +
        rssRuns.map((r) => `${r.space} ${fmtInt(r.targets)} probes ${r.peakRssMB} MB`).join("; "),
    );
  }
  out.push("");
  for (const [tool, v] of Object.entries(verifications)) {
    out.push(
      `JSONL of ${tool}: ${v.lines} lines, states ${JSON.stringify(v.states)}, ` +
        `${v.distinctTargets} distinct, ${v.foreign} foreign, ${v.duplicates} duplicates: ${v.pass ? "PASS" : "FAIL"}`,
    );
  }
  out.push("");
  for (const v of verdicts) {
    out.push(
      `${v.met === null ? "SKIPPED" : v.met ? "MET    " : "MISSED "}  ${v.goal}: ${v.detail}`,
    );
  }
  process.stdout.write(`${out.join("\n")}\n`);

  const json = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    load: { start: loadStart, end: loadEnd },
    machine: {
      cores,
      cpu: os.cpus()[0]?.model,
      kernel: os.release(),
      node: process.version,
      redis: setup.redisVersion,
      nmap: setup.nmapVersion,
    },
    namespace: NS,
    git,
    options: opts,
    targets: { first, last, count: targets.length, silentDropped, dropPort: DROP_PORT },
    openFiles: env.nofileNote,
    definitions: { rss: RSS_DEFINITION, bytesPerConnection: BYTES_DEFINITION },
    sysctlRead: setup.sysctlRead,
    sysctlChanged: setup.sysctlChanged,
    workersSupported: workers,
    live: rows,
    silent: silentRows,
    workers: workerRows,
    rssVsSpace: rssRuns,
    verifications,
    verdicts,
    runs: all,
  };
  fs.writeFileSync(path.join(OUT, "scan.json"), `${JSON.stringify(json, null, 2)}\n`);
  log(`wrote bench-output/scan.json (${json.durationS} s)`);
}

/** Stop the server and wait for it, so it is reaped here and not left to init as a zombie. */
async function stopRedis(): Promise<void> {
  const r = redis;
  if (!r || r.exitCode !== null || r.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => r.once("exit", () => resolve()));
  killGroup(r, "SIGTERM");
  const t = setTimeout(() => killGroup(r, "SIGKILL"), 5000);
  await Promise.race([exited, sleep(8000)]);
  clearTimeout(t);
}

main()
  .then(async () => {
    await stopRedis();
    cleanup();
    process.exit(0);
  })
  .catch(async (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    for (const c of running) killGroup(c, "SIGKILL");
    await stopRedis();
    cleanup();
    process.exit(1);
  });
