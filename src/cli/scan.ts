/** `redscope scan`: parse the command line, run the scan, print status and the summary. */
import fs from "node:fs";
import os from "node:os";
import { type Command, Option } from "commander";
import { type Store, StoreConflictError } from "../store/index.js";
import { OutputWriteError } from "../store/jsonl.js";
import { StoreWriteError } from "../store/sink.js";
import {
  emptyTargetInput,
  parseExcludeText,
  parsePorts,
  parseReservedAllowance,
  parseSeed,
  parseShard,
  parseTargetText,
  parseTargetToken,
  type ReservedAllowance,
  type TargetInput,
  TargetSpecError,
} from "../targets/index.js";
import { terminalText } from "../untrusted/text.js";
import { ConfigError } from "../usecases/errors.js";
import { Scan, type ScanConfig, type ScanSummary } from "../usecases/scan.js";
import { ScanWorkerError } from "../usecases/scan-pool.js";
import { checkScanId, fail } from "./errors.js";
import { intelLine, resultLine, statusLine, summaryTable } from "./format.js";
import { HOST_LIST_DEFAULT, HOST_LIST_HELP, parseHostList, storedHostList } from "./hosts.js";
import { loadEnricherOrFail, openStoreOrFail } from "./open.js";
import { listTargets, showDryRun } from "./scan-preview.js";
import { parseBytes, parseDuration, parseIntIn } from "./units.js";
import { VERSION } from "./version.js";

/** Defaults meant to be polite on the internet; documented in the README. */
export const SCAN_DEFAULTS = {
  ports: "6379",
  rate: "1000",
  concurrency: "1000",
  connectTimeout: "5s",
  readTimeout: "5s",
  hostTimeout: "15s",
  maxBytes: "256k",
  workers: "auto",
} as const;

interface ScanFlags {
  ports: string;
  inputList?: string[];
  output?: string;
  seed?: string;
  shard?: string;
  exclude?: string[];
  /** Each value given (a bare flag gives "all"); see allowanceOf. */
  allowReserved?: string[];
  listTargets?: boolean;
  dryRun?: boolean;
  sourceIp?: string;
  interface?: string;
  retries?: string;
  verbose?: boolean;
  rate: string;
  concurrency: string;
  connectTimeout: string;
  readTimeout: string;
  hostTimeout: string;
  maxBytes: string;
  tls?: boolean;
  tlsAuto?: boolean;
  resume?: string;
  maxTargets?: string;
  maxRuntime?: string;
  quiet?: boolean;
  stream?: boolean;
  db?: string | false;
  intelDir?: string;
  intel?: boolean;
  scanId?: string;
  /** false with -n / --no-dns. */
  dns?: boolean;
  hostList?: string;
  workers: string;
}

/** Skipped stream lines reported one by one before only being counted. */
const MAX_WARNINGS = 20;

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerScan(program: Command): void {
  program
    .command("scan")
    .description("find Redis-protocol servers in address space and classify each one")
    .argument("[targets...]", "addresses, CIDRs, ranges (a.b.c.d-e.f.g.h), hostnames, ip:port")
    .option(
      "-p, --ports <list>",
      "ports: list and ranges, e.g. 6379,6380,7000-7005",
      SCAN_DEFAULTS.ports,
    )
    .option(
      "--input-list <file>",
      "read targets from a file ('-' = stdin); zmap and masscan -oL output accepted; repeatable",
      collect,
    )
    .option("-o, --output <file>", "also write results as JSONL ('-' = stdout)")
    .option(
      "--db <path|url>",
      "results store: SQLite file or postgres://… URL (default $REDSCOPE_DB or ~/.local/share/redscope/redscope.db)",
    )
    .option("--no-db", "do not use the store (needs -o)")
    .option(
      "--intel-dir <dir>",
      "CVE table, cloud ranges and MaxMind DBs (default $REDSCOPE_INTEL_DIR or ~/.local/share/redscope/intel)",
    )
    .option("--no-intel", "no enrichment (CVEs, cloud, ASN/geo)")
    .option(
      "--scan-id <id>",
      "scan id, shared by the workers of one sharded scan (default $REDSCOPE_SCAN_ID, else random)",
    )
    .option("--seed <n>", "seed of the target permutation (reproducible order)")
    .option(
      "--shard <i/N>",
      "scan part i of N disjoint parts (0-based); env JOB_COMPLETION_INDEX also works with --shard ?/N",
    )
    .option("--exclude <file>", "addresses/CIDRs never to scan (opt-outs); repeatable", collect)
    .addOption(
      new Option(
        "--allow-reserved [cidrs]",
        "allow targets in reserved ranges (loopback, RFC 1918, …): your own networks; all of them, or only the CIDRs named (10.0.0.0/8,fd00::/8)",
      )
        .preset("all")
        .argParser(collect),
    )
    .option("--rate <n>", "new connections per second (0 = unlimited)", SCAN_DEFAULTS.rate)
    .option("--concurrency <n>", "connections open at once", SCAN_DEFAULTS.concurrency)
    .option(
      "--workers <n|auto>",
      "threads probing the targets, concurrency and rate split among them (one output, store, resume file and status line); auto: one per core but one, within concurrency/1000 and rate/4000; --stream runs in one",
      SCAN_DEFAULTS.workers,
    )
    .option("--connect-timeout <t>", "TCP connect budget", SCAN_DEFAULTS.connectTimeout)
    .option("--read-timeout <t>", "longest silence while reading", SCAN_DEFAULTS.readTimeout)
    .option("--host-timeout <t>", "total time budget per target", SCAN_DEFAULTS.hostTimeout)
    .option("--max-bytes <n>", "bytes read per target at most", SCAN_DEFAULTS.maxBytes)
    .option("--tls", "probe over TLS only")
    .option("--tls-auto", "probe plaintext; retry over TLS when the peer speaks TLS")
    .option(
      "--resume <file>",
      "checkpoint file: a killed scan run again with it continues where it stopped",
    )
    .option("--max-targets <n>", "stop after this many targets")
    .option(
      "--list-targets",
      "print the targets in scan order (ip:port, one a line) and send nothing",
    )
    .option(
      "--dry-run",
      "check everything and print the counts (targets, exclusions, duration); send nothing",
    )
    .option("-S, --source-ip <addr>", "send from this address (one of this host's)")
    .option("--interface <name>", "send from this network interface's addresses")
    .option(
      "--retries <n>",
      "try a target again after no answer (timeout, or a reset before any byte)",
      "0",
    )
    .option("-v, --verbose", "one line per target on stderr as results arrive")
    .option("-n, --no-dns", "never resolve names (as nmap's -n): a hostname target is refused")
    .option("--max-runtime <t>", "stop starting new probes after this long")
    .option(
      "--stream",
      "with -iL -: probe targets as they arrive (zmap | redscope), in arrival order",
    )
    .option("-q, --quiet", "no status line")
    .option("--host-list <n>", HOST_LIST_HELP, HOST_LIST_DEFAULT)
    .action(async (targets: string[], flags: ScanFlags) => {
      const code = await runScanCommand(targets, flags);
      process.exitCode = code;
    });
}

/**
 * `--allow-reserved`'s values. Commander hands an optional value the next word whatever it is,
 * so the rule is: a value is the flag's only when it is `all` or holds a "/" (CIDRs); any other
 * word (`--allow-reserved 127.0.0.1`) is a target that followed a bare flag, which allows all.
 */
export function allowanceOf(values: readonly string[] | undefined): {
  allowance: ReservedAllowance;
  targets: string[];
} {
  const targets: string[] = [];
  if (values === undefined) return { allowance: false, targets };
  let all = false;
  const ranges = [];
  for (const v of values) {
    if (v !== "all" && !v.includes("/")) {
      targets.push(v);
      all = true;
      continue;
    }
    const allowance = parseReservedAllowance(v);
    if (allowance === true) all = true;
    else if (allowance !== false) ranges.push(...allowance);
  }
  return { allowance: all ? true : ranges, targets };
}

async function readInput(targets: string[], flags: ScanFlags): Promise<TargetInput> {
  const input = emptyTargetInput();
  for (const t of targets) parseTargetToken(t, input, "");
  for (const file of flags.inputList ?? []) {
    const text = file === "-" ? await readStdin() : readFileOrFail(file, "-iL");
    parseTargetText(text, input, file === "-" ? "stdin" : file);
  }
  if (input.ranges.length + input.pairs.length + input.hostnames.length === 0) {
    const ranges = (flags.allowReserved ?? []).filter((v) => v.includes("/"));
    if (ranges.length > 0) {
      fail(
        `no targets: --allow-reserved took ${ranges.join(",")} as the ranges it allows; name the targets too (redscope scan ${ranges[0]} --allow-reserved ${ranges.join(",")})`,
      );
    }
    fail("no targets: give addresses, CIDRs or hostnames, or -iL FILE (-iL - for stdin)");
  }
  const name = input.hostnames[0];
  if (flags.dns === false && name !== undefined) {
    fail(
      `-n (no DNS): ${JSON.stringify(name.source).slice(0, 80)} is a hostname; give its address (${input.hostnames.length} hostname${input.hostnames.length === 1 ? "" : "s"} in all)`,
    );
  }
  return input;
}

function readFileOrFail(path: string, flag: string): string {
  try {
    return fs.readFileSync(path, "utf8");
  } catch (e) {
    fail(`cannot read ${flag} file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function shardFrom(flag: string | undefined): { index: number; count: number } | undefined {
  if (flag === undefined) return undefined;
  // A Kubernetes Indexed Job gives each pod its index; the manifest says the count.
  const idx = process.env.JOB_COMPLETION_INDEX;
  const spec = flag.startsWith("?/") && idx !== undefined ? `${idx}${flag.slice(1)}` : flag;
  if (spec.startsWith("?/"))
    fail(`--shard ${flag}: "?" needs JOB_COMPLETION_INDEX in the environment`);
  return parseShard(spec);
}

export async function runScanCommand(given: string[], flags: ScanFlags): Promise<number> {
  // Everything the user typed is checked before anything is opened or written.
  if (flags.tls && flags.tlsAuto) fail("--tls and --tls-auto exclude each other");
  const { allowance, targets: stray } = allowanceOf(flags.allowReserved);
  const targets = [...given, ...stray];
  const preview = flags.listTargets === true || flags.dryRun === true;
  if (flags.sourceIp !== undefined && flags.interface !== undefined) {
    fail("--source-ip and --interface exclude each other: give one");
  }
  const retries = parseIntIn("--retries", flags.retries ?? "0", 0, 10);
  const ports = parsePorts(flags.ports);
  const hostListLimit = parseHostList(flags.hostList);
  const shard = shardFrom(flags.shard);
  const seed = flags.seed !== undefined ? parseSeed(flags.seed) : undefined;
  const budgets = {
    connectTimeoutMs: parseDuration("--connect-timeout", flags.connectTimeout),
    readTimeoutMs: parseDuration("--read-timeout", flags.readTimeout),
    hostTimeoutMs: parseDuration("--host-timeout", flags.hostTimeout),
    maxBytesPerHost: parseBytes("--max-bytes", flags.maxBytes),
  };
  const rate = parseIntIn("--rate", flags.rate, 0, 10_000_000);
  const concurrency = parseIntIn("--concurrency", flags.concurrency, 1, 1_000_000);
  const workers = flags.stream
    ? 1
    : parseWorkers(flags.workers ?? SCAN_DEFAULTS.workers, concurrency, rate);
  const maxTargets =
    flags.maxTargets !== undefined
      ? parseIntIn("--max-targets", flags.maxTargets, 1, Number.MAX_SAFE_INTEGER)
      : undefined;
  const maxRuntimeMs =
    flags.maxRuntime !== undefined ? parseDuration("--max-runtime", flags.maxRuntime) : undefined;
  const exclude = emptyTargetInput();
  for (const f of flags.exclude ?? []) {
    exclude.ranges.push(...parseExcludeText(readFileOrFail(f, "--exclude"), f));
  }
  if (flags.stream) {
    if (preview) {
      fail(
        "--stream reads its targets while scanning: --list-targets and --dry-run need them all first",
      );
    }
    if (targets.length > 0 || flags.inputList?.length !== 1 || flags.inputList[0] !== "-") {
      fail("--stream reads targets from stdin only: use -iL - and no other targets");
    }
    for (const [flag, given] of [
      ["--shard", flags.shard],
      ["--resume", flags.resume],
      ["--seed", flags.seed],
    ] as const) {
      if (given !== undefined) fail(`--stream probes in arrival order: ${flag} does not apply`);
    }
  }
  const input = flags.stream ? emptyTargetInput() : await readInput(targets, flags);

  const output = flags.output;
  if (flags.db === false && output === undefined && !preview) {
    fail("--no-db needs -o FILE (or -o - for stdout): the results must go somewhere");
  }
  const scanId = flags.scanId ?? process.env.REDSCOPE_SCAN_ID;
  if (scanId !== undefined) checkScanId(scanId);
  const toStdout = output === "-";
  const showStatus = !flags.quiet && process.stderr.isTTY === true;
  const cfg: ScanConfig = {
    input,
    ports,
    allowReserved: allowance,
    exclude: exclude.ranges,
    concurrency,
    rate,
    budgets,
    transport: flags.tls ? "tls" : flags.tlsAuto ? "auto" : "tcp",
    record: {
      targets: [...targets, ...(flags.inputList ?? []).map((f) => `-iL ${f}`)].join(" "),
      ports: flags.ports,
      options: {
        rate,
        concurrency,
        ...budgets,
        transport: flags.tls ? "tls" : flags.tlsAuto ? "auto" : "tcp",
        allowReserved:
          allowance === true || allowance === false ? allowance : allowance.map((r) => r.source),
        exclude: flags.exclude ?? [],
        ...(retries > 0 ? { retries } : {}),
        ...(workers > 1 ? { workers } : {}),
        ...(flags.sourceIp !== undefined ? { sourceIp: flags.sourceIp } : {}),
        ...(flags.interface !== undefined ? { interface: flags.interface } : {}),
        maxTargets,
        maxRuntimeMs,
      },
      toolVersion: VERSION,
    },
  };
  if (output !== undefined) cfg.output = output;
  if (scanId !== undefined) cfg.scanId = scanId;
  if (seed !== undefined) cfg.seed = seed;
  if (shard) cfg.shard = shard;
  if (maxTargets !== undefined) cfg.maxTargets = maxTargets;
  if (maxRuntimeMs !== undefined) cfg.maxRuntimeMs = maxRuntimeMs;
  if (flags.resume) cfg.resumePath = flags.resume;
  if (workers > 1) cfg.workers = workers;
  if (flags.intelDir !== undefined) cfg.intelDir = flags.intelDir;
  // Test-only fault hook, documented as such in the README: the first worker thread (every
  // one, with ":all") exits after sending N results, as a crashed one would.
  const fault = /^(\d+)(:all)?$/.exec(process.env.REDSCOPE_TEST_WORKER_EXIT_AFTER ?? "");
  if (fault) cfg.testWorkerExitAfter = { results: Number(fault[1]), all: fault[2] !== undefined };
  if (retries > 0) cfg.retries = retries;
  if (flags.sourceIp !== undefined) cfg.source = { ip: flags.sourceIp };
  if (flags.interface !== undefined) cfg.source = { interface: flags.interface };
  if (flags.verbose) {
    cfg.onResult = (r) => {
      process.stderr.write(`${showStatus ? "\r\x1b[2K" : ""}${resultLine(r)}\n`);
    };
  }
  cfg.onNotice = (message) => process.stderr.write(`redscope: ${message}\n`);
  if (flags.stream) {
    cfg.stream = process.stdin;
    let warned = 0;
    cfg.onWarning = (message) => {
      if (++warned <= MAX_WARNINGS) process.stderr.write(`redscope: skipped: ${message}\n`);
      if (warned === MAX_WARNINGS) {
        process.stderr.write(
          "redscope: further skipped lines are only counted (see the summary)\n",
        );
      }
    };
  }
  let total = 0n;
  if (showStatus) {
    cfg.onProgress = (p) => {
      total = p.total;
      const threads = p.workers !== undefined ? ` | ${p.workers} workers` : "";
      process.stderr.write(`\r\x1b[2K${statusLine(p, shardTotal(total, shard))}${threads}`);
    };
  }

  const scan = new Scan(cfg);
  await prepareOrFail(scan);
  if (preview) {
    // Nothing is sent and nothing is opened: no store, no output file, no intel.
    const p = await previewOrFail(scan);
    if (flags.dryRun) {
      showDryRun(p, cfg, flags.listTargets ? process.stderr : process.stdout);
    }
    if (flags.listTargets) await listTargets(p, process.stdout);
    return 0;
  }
  const enricher = await loadEnricherOrFail(flags);
  if (enricher) cfg.enricher = enricher;

  // Opened last: every flag and target was checked first, so bad input never creates a database.
  let store: Store | undefined;
  if (flags.db !== false) {
    store = await openStoreOrFail(typeof flags.db === "string" ? flags.db : undefined);
    cfg.store = store;
  }

  let signals = 0;
  const onSignal = (): void => {
    signals++;
    if (signals === 1) {
      process.stderr.write(
        "\nredscope: stopping: finishing open connections (again to quit now)\n",
      );
      scan.interrupt();
    } else process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let summary: ScanSummary;
  try {
    summary = await scan.run();
  } catch (e) {
    if (e instanceof TargetSpecError || e instanceof StoreConflictError) fail(e.message);
    if (
      e instanceof StoreWriteError ||
      e instanceof OutputWriteError ||
      e instanceof ScanWorkerError
    ) {
      // Not the user's input: exit 1. The resume file covers only what both sinks hold.
      const again = flags.resume ? `; once fixed, run the same command to resume` : "";
      process.stderr.write(`redscope: ${e.message}${again}\n`);
      return 1;
    }
    throw e;
  } finally {
    await store?.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (showStatus) process.stderr.write("\r\x1b[2K");
  }
  const out = toStdout ? process.stderr : process.stdout;
  if (summary.alreadyComplete) {
    out.write(`scan ${summary.scanId} is already complete (resume file ${flags.resume})\n`);
  }
  out.write(`${summaryTable(summary)}\n`);
  if (output !== undefined && !toStdout) out.write(`results: ${output}\n`);
  if (enricher) out.write(`${intelLine(enricher.status)}\n`);
  if (store) {
    out.write(
      `stored: ${summary.stored ?? 0} new rows for scan ${summary.scanId} in ${store.location}\n`,
    );
    const db = typeof flags.db === "string" ? flags.db : undefined;
    out.write(await storedHostList(db, summary.scanId, hostListLimit));
  }
  return summary.interrupted ? 130 : 0;
}

async function prepareOrFail(scan: Scan): Promise<void> {
  try {
    await scan.prepare();
  } catch (e) {
    if (e instanceof TargetSpecError) fail(e.message);
    throw e;
  }
}

async function previewOrFail(scan: Scan): ReturnType<Scan["preview"]> {
  try {
    return await scan.preview();
  } catch (e) {
    if (e instanceof TargetSpecError || e instanceof ConfigError) fail(e.message);
    throw e;
  }
}

const MAX_WORKERS = 64;

/** Connections a worker thread is given at least under `auto`: fewer do not keep one busy. */
const CONNECTIONS_PER_WORKER = 1000;
/** About what one thread sustains (probes/s, measured): a lower --rate needs no second one. */
const RATE_PER_WORKER = 4000;

/**
 * `--workers`: a number (1–64, at most one per connection), or `auto`: one per core but one
 * (the main thread writes the output and the store, and the kernel's network stack needs a
 * core too: on 2 cores, 2 workers measured no faster than 1), no more than the concurrency
 * keeps busy (CONNECTIONS_PER_WORKER each) and the rate needs (RATE_PER_WORKER each). With
 * the defaults (1,000 connections, 1,000/s) that is 1: the scan runs in one thread.
 */
export function parseWorkers(flag: string, concurrency: number, rate: number): number {
  if (flag.trim() === "auto") {
    const byCores = os.availableParallelism() - 1;
    const byConcurrency = Math.floor(concurrency / CONNECTIONS_PER_WORKER);
    const byRate = rate === 0 ? Number.POSITIVE_INFINITY : Math.ceil(rate / RATE_PER_WORKER);
    return Math.max(1, Math.min(byCores, byConcurrency, byRate, MAX_WORKERS));
  }
  if (!/^\d+$/.test(flag.trim()) || Number(flag) < 1 || Number(flag) > MAX_WORKERS) {
    fail(`invalid --workers "${terminalText(flag, 20)}": expected 1 to ${MAX_WORKERS}, or auto`);
  }
  return Math.min(Number(flag), concurrency);
}

function shardTotal(total: bigint, shard: { index: number; count: number } | undefined): bigint {
  return shard ? total / BigInt(shard.count) : total;
}
