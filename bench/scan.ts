/**
 * Scanner performance benchmark (`npm run bench`): redscope's probes/s next to nmap's
 * `--script redis-info` and next to a minimal Node connect-INFO-close loop (bench/rawloop.ts),
 * on the same live targets, plus peak RSS and RSS against the size of the target space.
 *
 * Everything runs inside a network namespace this script creates (`rsbench-<pid>`) whose only
 * interface is `lo`: one real redis-server listens on 0.0.0.0:6379 there, so every 127.x.y.z:6379
 * is a live Redis, and an nftables rule drops every 127.x.y.z:6390 (unanswered targets for the
 * RSS-vs-space runs). No packet can leave the namespace: it has no other interface or route.
 * The namespace and every process started here are removed at the end, also on failure or a
 * signal. Every run has a time limit and the whole bench has one.
 *
 *   sudo npm run bench                    (= npm run build && node dist/bench/scan.js)
 *   node dist/bench/scan.js [--reps N] [--rss-runtime SECONDS] [--rss-reps N] [--no-nmap-full]
 *
 * Results: a table on stdout and the same as JSON in bench-output/scan.json.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

// ---------------------------------------------------------------------------------------------
// Fixed parameters of the benchmark.

const ROOT = path.resolve(fileURLToPath(new URL("../../", import.meta.url)));
const OUT = path.join(ROOT, "bench-output");
const REDSCOPE = path.join(ROOT, "dist/src/cli/bin.js");
const RAWLOOP = path.join(ROOT, "dist/bench/rawloop.js");
const NODE = process.execPath;

/** The live target set, the same for all three tools: 32,768 addresses. */
const TARGET_CIDR = "127.1.0.0/17";
const TARGET_BASE = [127, 1, 0, 0] as const;
const TARGET_COUNT = 32_768;
const LIVE_PORT = 6379;
/** Every 127.x.y.z on this port is silently dropped (nftables rule inside the namespace). */
const DROP_PORT = 6390;
const CONCURRENCIES = [500, 1000, 5000] as const;
const NMAP_SUBSET = 2_000;
const NMAP_OPTIONS = ["-T4", "--min-hostgroup", "4096"];
/** Run nmap on the whole set only when the subset predicts it takes at most this long. */
const NMAP_FULL_MAX_S = 300;
const RSS_SPACES = [
  { label: "/24", cidr: "127.1.2.0/24" },
  { label: "/16", cidr: "127.2.0.0/16" },
  { label: "/8", cidr: "127.0.0.0/8" },
] as const;
const RSS_CONCURRENCY = 5_000;
const GOAL_NMAP_FACTOR = 10;
const GOAL_RAW_SHARE = 0.75;
const GOAL_RSS_MB = 200;
/**
 * "Flat": the mean peak RSS of the /16 and /8 runs (same work, same concurrency) differ by at
 * most this, or by the run-to-run spread of identical runs if that is larger (GC timing).
 */
const FLAT_TOLERANCE_MB = 10;
/** Hard limit for the whole benchmark; a watchdog cleans up and exits past it. */
const BENCH_LIMIT_MS = 20 * 60_000;

interface Options {
  reps: number;
  rssRuntimeS: number;
  rssReps: number;
  nmapFull: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { reps: 3, rssRuntimeS: 20, rssReps: 3, nmapFull: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--reps") o.reps = boundedInt(a, argv[++i], 1, 10);
    else if (a === "--rss-runtime") o.rssRuntimeS = boundedInt(a, argv[++i], 2, 120);
    else if (a === "--rss-reps") o.rssReps = boundedInt(a, argv[++i], 1, 5);
    else if (a === "--no-nmap-full") o.nmapFull = false;
    else {
      process.stderr.write(
        `usage: node dist/bench/scan.js [--reps N] [--rss-runtime SECONDS] [--rss-reps N] [--no-nmap-full]\n`,
      );
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

function preflight(): Env {
  if (process.platform !== "linux" || process.getuid?.() !== 0) {
    process.stderr.write("bench: must run as root on Linux (network namespace, nftables)\n");
    process.exit(1);
  }
  const needed: [string, string][] = [
    ["ip", "iproute2"],
    ["ss", "iproute2"],
    ["redis-server", "redis-server"],
    ["nmap", "nmap"],
    ["nft", "nftables"],
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
  for (const f of [REDSCOPE, RAWLOOP]) {
    if (!fs.existsSync(f)) {
      process.stderr.write(`bench: ${f} missing: build first (npm run build)\n`);
      process.exit(1);
    }
  }
  // GNU time gives the exact peak RSS (ru_maxrss); without it /proc VmHWM is sampled.
  const timeBin = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;
  // 5,000 client sockets plus the server's: try 65536, else the hard limit we are given.
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
  const need = Math.max(...CONCURRENCIES, RSS_CONCURRENCY) + 512;
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
// One measured run inside the namespace.

interface Measured {
  code: number | null;
  wallS: number;
  peakRssKB: number;
  /** User + system CPU seconds of the tool (GNU time); absent without it. */
  cpuS?: number;
  /** CPU seconds redis-server used during the run. */
  serverCpuS?: number;
  /** Whole machine during the run, in % of one core: busy (incl. steal), and steal alone. */
  machineBusyPct: number;
  stealPct: number;
  rssMethod: "ru_maxrss" | "VmHWM-sampled";
  stdout: string;
  stderr: string;
  counters: Counters;
}

async function measure(
  env: Env,
  argv: string[],
  opts: { limitS: number; discardStdout?: boolean },
): Promise<Measured> {
  const timeFile = TIME_FILE;
  fs.rmSync(timeFile, { force: true });
  const tool = argv.map(sq).join(" ");
  const redirect = opts.discardStdout ? " >/dev/null" : "";
  const script = env.timeBin
    ? `ulimit -n ${env.nofile}; exec ${env.timeBin} -f '%e %M %U %S' -o ${sq(timeFile)} ${tool}${redirect}`
    : `ulimit -n ${env.nofile}; exec ${tool}${redirect}`;
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
  let hwm = 0;
  // Without GNU time: ip netns exec and bash exec, so the child's pid is the tool's pid.
  const sampler = env.timeBin
    ? undefined
    : setInterval(() => {
        try {
          const s = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
          const m = /VmHWM:\s+(\d+)/.exec(s);
          if (m) hwm = Math.max(hwm, Number(m[1]));
        } catch {
          // Exited between samples.
        }
      }, 50);
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
  if (sampler) clearInterval(sampler);
  running.delete(child);
  if (timedOut) throw new Error(`run exceeded ${opts.limitS} s: ${argv.join(" ")}`);
  let peakRssKB = hwm;
  let cpuS: number | undefined;
  if (env.timeBin) {
    const lines = fs.existsSync(timeFile)
      ? fs.readFileSync(timeFile, "utf8").trim().split("\n")
      : [];
    const last = (lines[lines.length - 1] ?? "").split(" ");
    peakRssKB = Number(last[1] ?? 0);
    const cpu = Number(last[2]) + Number(last[3]);
    if (Number.isFinite(cpu)) cpuS = cpu;
    fs.rmSync(timeFile, { force: true });
  }
  return {
    code,
    wallS,
    peakRssKB,
    ...(cpuS !== undefined ? { cpuS } : {}),
    ...(serverBefore !== undefined && serverAfter !== undefined
      ? { serverCpuS: serverAfter - serverBefore }
      : {}),
    ...machineLoad(machineBefore, machineAfter),
    rssMethod: env.timeBin ? "ru_maxrss" : "VmHWM-sampled",
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
  const maxC = Math.max(...CONCURRENCIES, RSS_CONCURRENCY);
  if (lo === undefined || hi === undefined || hi - lo + 1 < 4 * maxC) {
    sh("sysctl", ["-qw", "net.ipv4.ip_local_port_range=1024 65535"], { ns: true });
    sysctlChanged.push(`net.ipv4.ip_local_port_range: ${lo} ${hi} -> 1024 65535 (inside ${NS})`);
  }

  // Unanswered targets for the RSS-vs-space runs: every 127.x.y.z:6390 drops SYNs silently.
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
    nmapVersion: firstLine(sh("nmap", ["--version"])),
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

function liveTargets(): string[] {
  const out: string[] = [];
  const base =
    ((TARGET_BASE[0] << 24) | (TARGET_BASE[1] << 16) | (TARGET_BASE[2] << 8) | TARGET_BASE[3]) >>>
    0;
  for (let i = 0; i < TARGET_COUNT; i++) {
    const v = base + i;
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

interface ToolRun {
  tool: string;
  concurrency: number | null;
  targets: number;
  ok: number;
  seconds: number;
  /** The tool's own measure of its run time, where it prints one. */
  toolSeconds?: number;
  peakRssMB: number;
  /** Tool CPU time / wall time, in % of one core. */
  cpuPct?: number;
  /** redis-server's CPU time / wall time, in % of one core (it is single-threaded). */
  serverCpuPct?: number;
  /** Machine busy minus tool and redis, in % of one core: other load (and unattributed IRQ). */
  otherPct?: number;
  stealPct?: number;
  counters: Counters;
  rep?: number;
  note?: string;
}

function redscopeArgs(cidr: string, port: number, c: number, extra: string[] = []): string[] {
  return [
    REDSCOPE,
    "scan",
    cidr,
    "-p",
    String(port),
    "--allow-reserved",
    "-q",
    "--rate",
    "0",
    "--concurrency",
    String(c),
    // The store is measured in a row of its own: a scan writes to the user's default store
    // otherwise, which the figures before it (and the raw loop) do not include.
    ...(extra.includes("--db") ? [] : ["--no-db"]),
    ...extra,
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

async function runRedscope(env: Env, c: number, rep: number, extra: string[] = []) {
  const args = extra.length > 0 ? extra : ["-o", "/dev/null"];
  const m = await measure(env, [NODE, ...redscopeArgs(TARGET_CIDR, LIVE_PORT, c, args)], {
    limitS: 180,
  });
  if (m.code !== 0) throw new Error(`redscope exited ${m.code}: ${m.stderr.slice(-2000)}`);
  const sum = parseRedscopeSummary(m.stdout);
  const run: ToolRun = {
    tool: "redscope",
    concurrency: c,
    targets: TARGET_COUNT,
    ok: sum.counts["open"] ?? 0,
    seconds: m.wallS,
    peakRssMB: mb(m.peakRssKB),
    ...cpuOf(m),
    counters: m.counters,
    rep,
  };
  if (sum.s !== undefined) run.toolSeconds = sum.s;
  return { run, summary: sum };
}

async function runRaw(
  env: Env,
  targetsFile: string,
  c: number,
  rep: number,
  request: "info-quit" | "redscope",
): Promise<ToolRun> {
  const m = await measure(
    env,
    [
      NODE,
      RAWLOOP,
      "--targets",
      targetsFile,
      "--concurrency",
      String(c),
      "--request",
      request,
      "--max-runtime-ms",
      "170000",
    ],
    { limitS: 180 },
  );
  if (m.code !== 0) throw new Error(`rawloop exited ${m.code}: ${m.stderr.slice(-2000)}`);
  const r = JSON.parse(m.stdout.trim().split("\n").pop() ?? "{}") as {
    ok: number;
    seconds: number;
  };
  return {
    tool: request === "info-quit" ? "raw loop" : "raw loop, redscope's request",
    concurrency: c,
    targets: TARGET_COUNT,
    ok: r.ok,
    seconds: m.wallS,
    toolSeconds: r.seconds,
    peakRssMB: mb(m.peakRssKB),
    ...cpuOf(m),
    counters: m.counters,
    rep,
  };
}

async function runNmap(env: Env, file: string, count: number, label: string): Promise<ToolRun> {
  const xml = path.join(OUT, `nmap-${label}.xml`);
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
    { limitS: NMAP_FULL_MAX_S + 120, discardStdout: true },
  );
  if (m.code !== 0) throw new Error(`nmap exited ${m.code}: ${m.stderr.slice(-2000)}`);
  const text = fs.readFileSync(xml, "utf8");
  const elapsed = /<finished [^>]*elapsed="([\d.]+)"/.exec(text);
  // A host counts when redis-info printed its facts (it found a Redis and read INFO).
  const ok = (text.match(/<script id="redis-info" output="[^"]*Version/g) ?? []).length;
  const run: ToolRun = {
    tool: "nmap redis-info",
    concurrency: null,
    targets: count,
    ok,
    seconds: m.wallS,
    peakRssMB: mb(m.peakRssKB),
    ...cpuOf(m),
    counters: m.counters,
    note: label,
  };
  if (elapsed) run.toolSeconds = Number(elapsed[1]);
  return run;
}

/** Full verification: every target of the set came back, once, as `open`. */
function verifyJsonl(file: string, targets: string[]) {
  const want = new Set(targets);
  const seen = new Set<string>();
  const states: Record<string, number> = {};
  let lines = 0;
  let foreign = 0;
  let duplicates = 0;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    lines++;
    const r = JSON.parse(line) as { ip: string; port: number; state: string };
    states[r.state] = (states[r.state] ?? 0) + 1;
    if (!want.has(r.ip) || r.port !== LIVE_PORT) foreign++;
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

// ---------------------------------------------------------------------------------------------
// CPU profile: self time by function.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function topSelfTime(file: string, n: number) {
  const prof = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(prof.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  const cat: Record<string, number> = {};
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const node = byId.get(prof.samples[i]!);
    const dt = prof.timeDeltas[i] ?? 0;
    if (!node) continue;
    total += dt;
    const f = node.callFrame;
    const url = f.url.replace(`file://${ROOT}/`, "");
    const name = f.functionName || "(anonymous)";
    const key = url ? `${name}  ${url}:${f.lineNumber + 1}` : name;
    self.set(key, (self.get(key) ?? 0) + dt);
    const c = url.startsWith("dist/src/")
      ? "redscope JS (dist/src)"
      : url.startsWith("node:")
        ? "Node.js library JS (node:*)"
        : url.includes("node_modules")
          ? "dependencies"
          : name.startsWith("(")
            ? name
            : url
              ? "other JS"
              : "native / V8 builtins";
    cat[c] = (cat[c] ?? 0) + dt;
  }
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, us]) => ({ fn, selfMs: Math.round(us / 1000), pct: pct1(us, total) }));
  const categories = Object.entries(cat)
    .sort((a, b) => b[1] - a[1])
    .map(([k, us]) => ({ category: k, selfMs: Math.round(us / 1000), pct: pct1(us, total) }));
  return { totalMs: Math.round(total / 1000), top, categories };
}

function pct1(a: number, b: number): number {
  return b > 0 ? Math.round((1000 * a) / b) / 10 : 0;
}

// ---------------------------------------------------------------------------------------------
// Output.

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

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const env = preflight();
  const started = Date.now();
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench: exceeded ${BENCH_LIMIT_MS / 60_000} min; aborting\n`);
    cleanup();
    process.exit(1);
  }, BENCH_LIMIT_MS);
  watchdog.unref();
  fs.mkdirSync(OUT, { recursive: true });

  const targets = liveTargets();
  const targetsFile = path.join(OUT, "targets.txt");
  fs.writeFileSync(targetsFile, `${targets.join("\n")}\n`);
  const nmapSubset = subset(targets, NMAP_SUBSET, 20_250_101);
  const nmapSubsetFile = path.join(OUT, "targets-nmap-subset.txt");
  fs.writeFileSync(nmapSubsetFile, `${nmapSubset.join("\n")}\n`);

  log(`namespace ${NS}; targets ${TARGET_CIDR} (${fmtInt(TARGET_COUNT)}) :${LIVE_PORT}`);
  const setup = await setupNamespace(env);
  for (const c of setup.sysctlChanged) log(`sysctl ${c}`);

  // 1. Throughput on live targets: the tools interleaved, rep by rep, so drift hits all alike.
  const runs: ToolRun[] = [];
  const problems: string[] = [];
  const check = (r: ToolRun): void => {
    runs.push(r);
    const c = r.counters;
    if (r.ok !== r.targets) problems.push(`${r.tool} C=${r.concurrency}: ${r.ok}/${r.targets} ok`);
    if ((c["ListenOverflows"] ?? 0) > 0 || (c["TCPSynRetrans"] ?? 0) > 0) {
      problems.push(
        `${r.tool} C=${r.concurrency} rep ${r.rep}: ListenOverflows ${c["ListenOverflows"]}, ` +
          `TCPSynRetrans ${c["TCPSynRetrans"]}`,
      );
    }
    log(
      `${r.tool.padEnd(28)} C=${String(r.concurrency ?? "-").padStart(4)} rep ${r.rep || "-"}: ` +
        `${r.seconds.toFixed(2)} s, ${fmtInt(r.targets / r.seconds)}/s, ${r.ok}/${r.targets} ok, ` +
        `${r.peakRssMB} MB; CPU tool ${r.cpuPct}% redis ${r.serverCpuPct}% other ${r.otherPct}% ` +
        `steal ${r.stealPct}%`,
    );
  };
  for (let rep = 1; rep <= opts.reps; rep++) {
    for (const c of CONCURRENCIES) {
      check(await runRaw(env, targetsFile, c, rep, "info-quit"));
      await sleep(300);
      check((await runRedscope(env, c, rep)).run);
      await sleep(300);
      check(await runRaw(env, targetsFile, c, rep, "redscope"));
      await sleep(300);
    }
  }

  // 2. One run with a real output file: every target back, once, as `open`.
  const verifyFile = path.join(OUT, "scan-verify.jsonl");
  const verifyRun = (await runRedscope(env, 1000, 0, ["-o", verifyFile])).run;
  verifyRun.tool = "redscope -o file (verify)";
  check(verifyRun);
  const verification = verifyJsonl(verifyFile, targets);
  log(`verify: ${JSON.stringify(verification)}`);
  if (!verification.pass)
    problems.push(`JSONL verification failed: ${JSON.stringify(verification)}`);

  // 2b. The same with the SQLite store written as well (a scan's default), in a fresh file.
  const storeFile = path.join(OUT, "scan-store.db");
  for (const f of [storeFile, `${storeFile}-wal`, `${storeFile}-shm`])
    fs.rmSync(f, { force: true });
  const storeRun = (await runRedscope(env, 1000, 0, ["-o", "/dev/null", "--db", storeFile])).run;
  storeRun.tool = "redscope + SQLite store";
  check(storeRun);

  // 3. nmap: a subset first; the whole set when that is predicted to take ≤ NMAP_FULL_MAX_S.
  const nmapSub = await runNmap(env, nmapSubsetFile, NMAP_SUBSET, "subset");
  check(nmapSub);
  const subS = nmapSub.toolSeconds ?? nmapSub.seconds;
  const predictedFullS = (subS * TARGET_COUNT) / NMAP_SUBSET;
  let nmapFull: ToolRun | undefined;
  if (opts.nmapFull && predictedFullS <= NMAP_FULL_MAX_S) {
    log(`nmap: subset predicts ${predictedFullS.toFixed(0)} s for the full set; running it`);
    nmapFull = await runNmap(env, targetsFile, TARGET_COUNT, "full");
    check(nmapFull);
  } else {
    log(`nmap: subset predicts ${predictedFullS.toFixed(0)} s for the full set; extrapolating`);
  }
  const nmapRef = nmapFull ?? nmapSub;
  const nmapRate = nmapRef.targets / (nmapRef.toolSeconds ?? nmapRef.seconds);
  const nmapBasis = nmapFull
    ? `full set of ${fmtInt(TARGET_COUNT)}, nmap's own elapsed time`
    : `random subset of ${fmtInt(NMAP_SUBSET)} of the same set, EXTRAPOLATED ` +
      `(nmap's own elapsed time ${subS.toFixed(2)} s)`;

  // 4. RSS against the size of the target space: all targets drop, same concurrency and time.
  // Peak RSS moves by ±15 MB between identical runs (GC timing), so the /16 and /8 runs are
  // repeated, alternating; the /24 (256 targets, done after one connect timeout) runs once.
  const rssRuns: (ToolRun & { space: string; cidr: string; probes: number })[] = [];
  const rssSchedule: (typeof RSS_SPACES)[number][] = [RSS_SPACES[0]];
  for (let i = 0; i < opts.rssReps; i++) {
    rssSchedule.push(
      ...(i % 2 === 0 ? [RSS_SPACES[1], RSS_SPACES[2]] : [RSS_SPACES[2], RSS_SPACES[1]]),
    );
  }
  for (const sp of rssSchedule) {
    const m = await measure(
      env,
      [
        NODE,
        ...redscopeArgs(sp.cidr, DROP_PORT, RSS_CONCURRENCY, [
          "-o",
          "/dev/null",
          "--connect-timeout",
          "2s",
          "--max-runtime",
          `${opts.rssRuntimeS}s`,
        ]),
      ],
      { limitS: opts.rssRuntimeS + 60 },
    );
    if (m.code !== 0) throw new Error(`redscope (RSS ${sp.label}) exited ${m.code}: ${m.stderr}`);
    const sum = parseRedscopeSummary(m.stdout);
    const probes = sum.counts["total"] ?? 0;
    const r = {
      tool: "redscope (all targets drop)",
      space: sp.label,
      cidr: sp.cidr,
      concurrency: RSS_CONCURRENCY,
      targets: probes,
      probes,
      ok: sum.counts["timeout"] ?? 0,
      seconds: m.wallS,
      peakRssMB: mb(m.peakRssKB),
      ...cpuOf(m),
      counters: m.counters,
    };
    rssRuns.push(r);
    log(
      `RSS ${sp.label.padEnd(4)} ${sp.cidr}: ${fmtInt(probes)} probes, ${r.peakRssMB} MB, ` +
        `states ${JSON.stringify(sum.counts)}`,
    );
  }

  // 5. Aggregate: median wall time per (tool, C), max RSS.
  type Row = {
    tool: string;
    concurrency: number | null;
    targets: number;
    seconds: number;
    probesPerSec: number;
    pctOfRaw: number | null;
    peakRssMB: number;
    cpuPct: number | undefined;
    serverCpuPct: number | undefined;
    reps: number;
    secondsAll: number[];
    note?: string;
  };
  const rows: Row[] = [];
  const rawRate = new Map<number, number>();
  for (const tool of ["raw loop", "redscope", "raw loop, redscope's request"]) {
    for (const c of CONCURRENCIES) {
      const rs = runs.filter((r) => r.tool === tool && r.concurrency === c);
      const s = median(rs.map((r) => r.seconds));
      const rate = TARGET_COUNT / s;
      if (tool === "raw loop") rawRate.set(c, rate);
      rows.push({
        tool,
        concurrency: c,
        targets: TARGET_COUNT,
        seconds: s,
        probesPerSec: rate,
        pctOfRaw: 0,
        peakRssMB: Math.max(...rs.map((r) => r.peakRssMB)),
        cpuPct: rs.every((r) => r.cpuPct !== undefined)
          ? median(rs.map((r) => r.cpuPct!))
          : undefined,
        serverCpuPct: rs.every((r) => r.serverCpuPct !== undefined)
          ? median(rs.map((r) => r.serverCpuPct!))
          : undefined,
        reps: rs.length,
        secondsAll: rs.map((r) => Math.round(r.seconds * 1000) / 1000),
      });
    }
  }
  for (const one of [verifyRun, storeRun]) {
    rows.push({
      tool: one.tool,
      concurrency: 1000,
      targets: TARGET_COUNT,
      seconds: one.seconds,
      probesPerSec: TARGET_COUNT / one.seconds,
      pctOfRaw: 0,
      peakRssMB: one.peakRssMB,
      cpuPct: one.cpuPct,
      serverCpuPct: one.serverCpuPct,
      reps: 1,
      secondsAll: [one.seconds],
    });
  }
  for (const n of nmapFull ? [nmapSub, nmapFull] : [nmapSub]) {
    const s = n.toolSeconds ?? n.seconds;
    rows.push({
      tool: `nmap redis-info (${n.note})`,
      concurrency: null,
      targets: n.targets,
      seconds: s,
      probesPerSec: n.targets / s,
      pctOfRaw: null,
      peakRssMB: n.peakRssMB,
      cpuPct: n.cpuPct,
      serverCpuPct: n.serverCpuPct,
      reps: 1,
      secondsAll: [s],
      note: `nmap's elapsed; wall incl. startup ${n.seconds.toFixed(2)} s`,
    });
  }
  for (const r of rows) {
    if (r.pctOfRaw === null || r.concurrency === null) continue;
    r.pctOfRaw = (100 * r.probesPerSec) / (rawRate.get(r.concurrency) ?? Number.NaN);
  }

  // 6. Profile one redscope run at the concurrency where it is furthest behind the raw loop.
  const worst = CONCURRENCIES.map((c) => ({
    c,
    pct: rows.find((r) => r.tool === "redscope" && r.concurrency === c)?.pctOfRaw ?? 0,
  })).sort((a, b) => a.pct - b.pct)[0]!;
  const profDir = path.join(OUT, "cpuprof");
  fs.rmSync(profDir, { recursive: true, force: true });
  fs.mkdirSync(profDir, { recursive: true });
  const profRun = await measure(
    env,
    [
      NODE,
      "--cpu-prof",
      "--cpu-prof-dir",
      profDir,
      ...redscopeArgs(TARGET_CIDR, LIVE_PORT, worst.c, ["-o", "/dev/null"]),
    ],
    { limitS: 180 },
  );
  const profFile = fs
    .readdirSync(profDir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(profDir, f))[0];
  const profile = profFile ? topSelfTime(profFile, 10) : undefined;
  const rawProfDir = path.join(OUT, "cpuprof-rawloop");
  fs.rmSync(rawProfDir, { recursive: true, force: true });
  fs.mkdirSync(rawProfDir, { recursive: true });
  await measure(
    env,
    [
      NODE,
      "--cpu-prof",
      "--cpu-prof-dir",
      rawProfDir,
      RAWLOOP,
      "--targets",
      targetsFile,
      "--concurrency",
      String(worst.c),
    ],
    { limitS: 180 },
  );
  const rawProfFile = fs
    .readdirSync(rawProfDir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => path.join(rawProfDir, f))[0];
  const rawProfile = rawProfFile ? topSelfTime(rawProfFile, 5) : undefined;

  // 7. Verdicts.
  const redscopeRows = rows.filter((r) => r.tool === "redscope");
  const best = redscopeRows.slice().sort((a, b) => b.probesPerSec - a.probesPerSec)[0]!;
  const factor = best.probesPerSec / nmapRate;
  const rawShares = redscopeRows.map((r) => ({ c: r.concurrency!, pct: r.pctOfRaw ?? 0 }));
  const rss5000 = Math.max(
    redscopeRows.find((r) => r.concurrency === 5000)?.peakRssMB ?? 0,
    ...rssRuns.map((r) => r.peakRssMB),
  );
  const rssOf = (space: string): number[] =>
    rssRuns.filter((r) => r.space === space).map((r) => r.peakRssMB);
  const meanMB = (xs: number[]): number =>
    Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10;
  const rss16 = meanMB(rssOf("/16"));
  const rss8 = meanMB(rssOf("/8"));
  const rss24 = meanMB(rssOf("/24"));
  const spread = (xs: number[]): number => Math.max(...xs) - Math.min(...xs);
  // Peak RSS of identical runs differs by GC timing; a difference inside that is not growth.
  const flatTol = Math.max(FLAT_TOLERANCE_MB, spread(rssOf("/16")), spread(rssOf("/8")));
  const verdicts = [
    {
      goal: `>= ${GOAL_NMAP_FACTOR}x nmap`,
      met: factor >= GOAL_NMAP_FACTOR,
      detail:
        `redscope best ${fmtInt(best.probesPerSec)}/s (C=${best.concurrency}) = ` +
        `${factor.toFixed(1)}x nmap ${fmtInt(nmapRate)}/s (${nmapBasis})`,
    },
    {
      goal: `>= ${GOAL_RAW_SHARE * 100}% of the raw loop (at every C)`,
      met: rawShares.every((s) => s.pct >= GOAL_RAW_SHARE * 100),
      detail: rawShares.map((s) => `C=${s.c}: ${s.pct.toFixed(0)}%`).join(", "),
    },
    {
      goal: `peak RSS < ${GOAL_RSS_MB} MB at ${RSS_CONCURRENCY} connections`,
      met: rss5000 < GOAL_RSS_MB,
      detail:
        `max ${rss5000} MB (live C=5000: ` +
        `${redscopeRows.find((r) => r.concurrency === 5000)?.peakRssMB} MB; drop runs: ` +
        `${rssRuns.map((r) => `${r.space} ${r.peakRssMB} MB`).join(", ")})`,
    },
    {
      goal:
        `RSS flat from /24 to /8 (|mean /8 - mean /16| at equal work and concurrency <= ` +
        `${flatTol.toFixed(1)} MB = max(${FLAT_TOLERANCE_MB} MB, run-to-run spread of either)`,
      met: Math.abs(rss8 - rss16) <= flatTol,
      detail:
        `/24 ${rss24} MB (${rssRuns[0]!.probes} probes, at most 256 open at once), ` +
        `/16 ${rssOf("/16").join(", ")} MB (mean ${rss16}), ` +
        `/8 ${rssOf("/8").join(", ")} MB (mean ${rss8}); /8 - /16 = ${(rss8 - rss16).toFixed(1)} MB`,
    },
    {
      goal: "every measured run got an answer from every target",
      met: problems.length === 0,
      detail:
        problems.length === 0
          ? "all ok, no listen overflows or SYN retransmits"
          : problems.join("; "),
    },
  ];

  // 8. Print and save.
  const mainRows = [
    [
      "tool",
      "concurrency",
      "targets",
      "seconds",
      "probes/s",
      "% of raw loop",
      "peak RSS MB",
      "tool CPU %",
      "redis CPU %",
    ],
    ...rows.map((r) => [
      r.tool,
      r.concurrency === null ? "nmap-managed" : String(r.concurrency),
      fmtInt(r.targets),
      r.seconds.toFixed(2),
      fmtInt(r.probesPerSec),
      r.pctOfRaw === null || r.concurrency === null ? "-" : `${r.pctOfRaw.toFixed(0)}%`,
      r.peakRssMB.toFixed(1),
      r.cpuPct === undefined ? "-" : `${r.cpuPct}%`,
      r.serverCpuPct === undefined ? "-" : `${r.serverCpuPct}%`,
    ]),
  ];
  const rssRows = [
    ["target space", "CIDR", "concurrency", "probes", "seconds", "peak RSS MB"],
    ...rssRuns.map((r) => [
      `${r.space} (${fmtInt(2 ** (32 - Number(r.space.slice(1))))} addresses)`,
      `${r.cidr}:${DROP_PORT}`,
      String(r.concurrency),
      fmtInt(r.probes),
      r.seconds.toFixed(1),
      r.peakRssMB.toFixed(1),
    ]),
  ];
  const git = gitState();
  const out: string[] = [];
  out.push(
    `redscope scanner benchmark — ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ` +
      `Linux ${os.release()}, Node ${process.version}`,
  );
  out.push(
    `redscope measured: commit ${git.commit}${git.dirty ? ` + uncommitted changes in ${git.dirty}` : ""}`,
  );
  out.push(
    `targets: ${TARGET_CIDR}:${LIVE_PORT} (${fmtInt(TARGET_COUNT)} addresses, all answered by one ` +
      `redis-server in namespace ${NS}); seconds = median wall time of ${opts.reps} runs ` +
      `(process start to exit), RSS = max; ${setup.redisVersion}`,
  );
  out.push(
    `nmap: ${setup.nmapVersion}; nmap -n -Pn -sT -p ${LIVE_PORT} --script redis-info ` +
      `${NMAP_OPTIONS.join(" ")} -iL FILE -oX FILE; reference = ${nmapBasis}`,
  );
  out.push(
    `open files: ${env.nofileNote}; peak RSS from ${env.timeBin ? "GNU time (ru_maxrss)" : "sampled VmHWM"}`,
  );
  out.push(`sysctl (inside the namespace only): ${setup.sysctlChanged.join("; ") || "none"}`);
  out.push("");
  out.push(table(mainRows, [false, true, true, true, true, true, true, true, true]));
  out.push(
    "(CPU % = user+sys CPU time / wall time, in % of one core, of the tool (all its threads) and " +
      `of redis-server (single-threaded) during the run; ${os.cpus().length} cores in all. ` +
      "A tool near or above 100% is bound by its own CPU; redis near 100% would mean the server is.)",
  );
  const others = runs.map((r) => r.otherPct ?? 0);
  const steals = runs.map((r) => r.stealPct ?? 0);
  out.push(
    `Machine during the measured runs (% of one core): other load median ${median(others)}%, ` +
      `max ${Math.max(...others)}%; steal max ${Math.max(...steals)}%` +
      (Math.max(...others) > 30 || Math.max(...steals) > 10
        ? " -- WARNING: something else was using the CPU; numbers are disturbed"
        : ""),
  );
  out.push("");
  out.push(
    `RSS vs target space: redscope --concurrency ${RSS_CONCURRENCY} --rate 0 --connect-timeout 2s ` +
      `--max-runtime ${opts.rssRuntimeS}s, every target silently dropped`,
  );
  out.push(table(rssRows, [false, false, true, true, true, true]));
  out.push("");
  out.push(
    `JSONL verification (C=1000, -o file): ${verification.lines} lines, states ` +
      `${JSON.stringify(verification.states)}, ${verification.distinctTargets} distinct targets, ` +
      `${verification.foreign} foreign, ${verification.duplicates} duplicates: ` +
      `${verification.pass ? "PASS" : "FAIL"}`,
  );
  if (profile) {
    out.push("");
    out.push(
      `CPU profile, redscope at C=${worst.c} (its worst share of the raw loop), ` +
        `${profRun.wallS.toFixed(1)} s under --cpu-prof, ${profile.totalMs} ms sampled:`,
    );
    out.push(
      table(
        [
          ["self ms", "%", "function  location"],
          ...profile.top.map((t) => [String(t.selfMs), `${t.pct}%`, t.fn]),
        ],
        [true, true, false],
      ),
    );
    out.push(`by category: ${profile.categories.map((c) => `${c.category} ${c.pct}%`).join(", ")}`);
  }
  if (rawProfile) {
    out.push(
      `raw loop at C=${worst.c} for comparison, ${rawProfile.totalMs} ms sampled; top 5: ` +
        `${rawProfile.top.map((t) => `${t.fn.split("  ")[0]} ${t.selfMs} ms`).join(", ")}; ` +
        `by category: ${rawProfile.categories.map((c) => `${c.category} ${c.pct}%`).join(", ")}`,
    );
  }
  out.push("");
  for (const v of verdicts) {
    out.push(`${v.met ? "MET    " : "NOT MET"}  ${v.goal}: ${v.detail}`);
  }
  process.stdout.write(`${out.join("\n")}\n`);

  const json = {
    date: new Date().toISOString(),
    durationS: Math.round((Date.now() - started) / 1000),
    machine: {
      cores: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      kernel: os.release(),
      node: process.version,
      redis: setup.redisVersion,
      nmap: setup.nmapVersion,
    },
    namespace: NS,
    git,
    targets: { cidr: TARGET_CIDR, port: LIVE_PORT, count: TARGET_COUNT },
    reps: opts.reps,
    openFiles: env.nofileNote,
    rssMethod: env.timeBin ? "GNU time ru_maxrss" : "sampled VmHWM",
    sysctlRead: setup.sysctlRead,
    sysctlChanged: setup.sysctlChanged,
    redisArgs: "--tcp-backlog 65535 in addition to the brief's arguments",
    nmap: {
      command: `nmap -n -Pn -sT -p ${LIVE_PORT} --script redis-info ${NMAP_OPTIONS.join(" ")} -iL FILE -oX FILE`,
      subset: NMAP_SUBSET,
      predictedFullS: Math.round(predictedFullS),
      basis: nmapBasis,
      probesPerSec: nmapRate,
    },
    table: rows,
    rssVsSpace: rssRuns,
    verification,
    profile: profile && { concurrency: worst.c, file: profFile, ...profile },
    rawLoopProfile: rawProfile && { concurrency: worst.c, file: rawProfFile, ...rawProfile },
    verdicts,
    runs,
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
