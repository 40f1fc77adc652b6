/**
 * One scan, start to finish: target space → permutation (shard, resume) → engine → sink, with
 * checkpoints for resume and counts for the summary. The CLI parses and prints; this runs.
 */
import { randomBytes } from "node:crypto";
import dns from "node:dns/promises";
import os from "node:os";
import {
  type Budgets,
  bindError,
  type EngineTarget,
  interfaceAddresses,
  ScanEngine,
  type TargetSource,
  type TransportMode,
  WAIT,
} from "../engine/engine.js";
import type { Enricher } from "../intel/enrich.js";
import { formatIp, parseIp } from "../net/ip.js";
import { RedisProbe } from "../probe/redis.js";
import type { ProbeResult } from "../schema/result.js";
import type { ScanInfo, Store } from "../store/index.js";
import { JsonlSink, rollbackOutput } from "../store/jsonl.js";
import {
  buildTargetSpace,
  type ReservedAllowance,
  randomSeed,
  type SpaceBreakdown,
  spaceBreakdown,
  type TargetInput,
  type TargetSpace,
  TargetWalk,
  targetSpaceFingerprint,
  type WalkOptions,
} from "../targets/index.js";
import {
  loadResumeState,
  lockResumeFile,
  RESUME_VERSION,
  ResumeFileError,
  type ResumeState,
  saveResumeState,
} from "../targets/resume.js";
import { StreamTargets } from "../targets/stream.js";
import { splitLines } from "../untrusted/lines.js";
import { ConfigError } from "./errors.js";
import { ScanRecord } from "./record.js";
import { boundHeapGrowth } from "./scan-heap.js";
import { ScanPool, ScanWorkerError } from "./scan-pool.js";

export interface ScanConfig {
  input: TargetInput;
  ports: number[];
  /** Reserved ranges the scan may enter: none, all, or those named (`--allow-reserved`). */
  allowReserved: ReservedAllowance;
  exclude: TargetInput["ranges"];
  /** Seed of the permutation; when absent a random one (or the resume file's). */
  seed?: bigint;
  shard?: { index: number; count: number };
  maxTargets?: number;
  concurrency: number;
  rate: number;
  budgets: Budgets;
  transport: TransportMode;
  /**
   * Where connections come from: one source address (`--source-ip`), or an interface's
   * addresses (`--interface`). Targets of a family without a source address are refused.
   */
  source?: { ip: string } | { interface: string };
  /** Connections tried again after no answer (`--retries`). */
  retries?: number;
  /** Each result as it is written (`scan -v`). */
  onResult?: (result: ProbeResult) => void;
  /** JSONL file path, or "-" for stdout; none: results go to the store only. */
  output?: string;
  /** The results store (SQLite or PostgreSQL); the scan's rows go there as they come. */
  store?: Store;
  /** CVEs, cloud and ASN/geo added to each result before it is written. */
  enricher?: Enricher;
  /**
   * Where `enricher` was loaded from (undefined: the default directory): worker threads load
   * their own from it.
   */
  intelDir?: string;
  /**
   * Worker threads probing the permutation (`--workers`); 1 or absent: the scan runs in this
   * thread alone. A `--stream` scan always does.
   */
  workers?: number;
  /**
   * Test-only (REDSCOPE_TEST_WORKER_EXIT_AFTER=N[:all]): the first worker (or every one) exits
   * after sending N results.
   */
  testWorkerExitAfter?: { results: number; all: boolean };
  /** Shared by every worker of a sharded scan; random when absent. */
  scanId?: string;
  /** How the scan is recorded in the store's `scans` table. */
  record?: Pick<ScanInfo, "targets" | "ports" | "options" | "toolVersion">;
  resumePath?: string;
  /** Called about 4 times a second while the scan runs. */
  onProgress?: (p: ScanProgress) => void;
  /** Stop after this long (ms), like zmap's --max-runtime: in-flight probes still finish. */
  maxRuntimeMs?: number;
  checkpointMs?: number;
  /** Read targets from this stream while scanning, in arrival order (`--stream`). */
  stream?: NodeJS.ReadableStream;
  streamName?: string;
  /** Non-fatal problems (a skipped stream line), one line each. */
  onWarning?: (message: string) => void;
  /** What the user should know about a resume (one line each, printed after `redscope: `). */
  onNotice?: (message: string) => void;
}

/** What `scan --list-targets` and `--dry-run` show: the scan's space and order, unsent. */
export interface ScanPreview {
  space: TargetSpace;
  seed: bigint;
  shard: string;
  /** The walk continues a resume file's checkpoint. */
  resumed: boolean;
  breakdown: SpaceBreakdown;
  /** The fingerprint the scan would be stored with (trends compare scans by it). */
  targetSpace: string;
  /** A fresh walk in the scan's order (seed, shard, resume, cap). */
  walk: () => TargetWalk;
}

export interface ScanProgress {
  total: bigint;
  done: number;
  inFlight: number;
  /** Worker threads probing now (absent: the scan runs in one thread). */
  workers?: number;
  elapsedMs: number;
  counts: Record<string, number>;
}

export interface ScanSummary {
  scanId: string;
  seed: string;
  shard: string;
  total: bigint;
  done: number;
  counts: Record<string, number>;
  /** Results per NICER row (those that have one): with `counts`, the study's table. */
  nicer: Record<string, number>;
  elapsedMs: number;
  skipped: { reserved: bigint; excluded: bigint };
  resumed: boolean;
  alreadyComplete: boolean;
  interrupted: boolean;
  /** Stream lines that were skipped (malformed or reserved). */
  skippedLines?: number;
  /** Rows the store took in this run (targets it already held are not counted). */
  stored?: number;
}

export function newScanId(): string {
  return randomBytes(8).toString("hex");
}

export class Scan {
  private engine: { stop(): void } | undefined;
  private interrupted = false;
  /** ip → name for targets given as hostnames. */
  private names = new Map<string, string>();
  private space: TargetSpace | undefined;
  /** The targets with names resolved (what the space was built from). */
  private resolvedInput: TargetInput | undefined;
  /** The fingerprint of the target space stored with the scan (trends group by it). */
  private targetSpace: string | undefined;
  /** Source address per family, from cfg.source (checked bindable in prepare). */
  private localAddress: Partial<Record<4 | 6, string>> | undefined;

  constructor(private readonly cfg: ScanConfig) {}

  /** Ask the scan to stop: no new targets, in-flight ones finish, the checkpoint is written. */
  interrupt(): void {
    this.interrupted = true;
    this.engine?.stop();
  }

  /**
   * What the user must fix is found here, before a store or a file is opened: names are
   * resolved (one that does not resolve is skipped, and said) and the target space is built
   * (a reserved target without allowReserved, a bad exclude). `run` calls it when not called.
   */
  async prepare(): Promise<void> {
    const cfg = this.cfg;
    if (cfg.source && !this.localAddress) this.localAddress = await localAddresses(cfg.source);
    if (cfg.stream || this.space) return;
    const opts = { allowReserved: cfg.allowReserved, exclude: cfg.exclude };
    const hostnames = [...cfg.input.hostnames];
    // The addresses given as such, apart from the names' (the fingerprint takes names by name).
    const literal = { ranges: [...cfg.input.ranges], pairs: [...cfg.input.pairs], hostnames: [] };
    this.names = await resolveHostnames(cfg.input, (m) => cfg.onNotice?.(m));
    if (cfg.input.ranges.length + cfg.input.pairs.length === 0) {
      throw new ConfigError("no target could be resolved");
    }
    this.space = buildTargetSpace(cfg.input, cfg.ports, opts);
    this.resolvedInput = cfg.input;
    const local = this.localAddress;
    if (local) {
      for (const t of [...cfg.input.ranges, ...cfg.input.pairs]) {
        if (local[t.family] === undefined) {
          throw new ConfigError(
            `target ${t.source} is IPv${t.family} but the source address (${Object.values(local).join(", ")}) is not: give an IPv${t.family} --source-ip, or scan the families apart`,
          );
        }
      }
    }
    const addresses =
      hostnames.length === 0 ? this.space : buildTargetSpace(literal, cfg.ports, opts);
    this.targetSpace = targetSpaceFingerprint(addresses, hostnames, cfg.maxTargets);
  }

  async run(): Promise<ScanSummary> {
    const cfg = this.cfg;
    if (cfg.stream) return this.runStream(cfg.stream);
    await this.prepare();
    if (!cfg.resumePath) return this.runSpace();
    let release: () => void;
    try {
      release = lockResumeFile(cfg.resumePath);
    } catch (e) {
      if (e instanceof ResumeFileError) throw new ConfigError(e.message);
      throw e;
    }
    try {
      return await this.runSpace();
    } finally {
      release();
    }
  }

  /** The target space in the permutation's order, with checkpoints when resumable. */
  private async runSpace(): Promise<ScanSummary> {
    const cfg = this.cfg;
    const space = this.space!;
    const shardLabel = shardLabelOf(cfg);
    const fingerprint = `${space.fingerprint}|shard=${shardLabel}`;

    let prior: ResumeState | undefined;
    if (cfg.resumePath) {
      if (cfg.output === "-") {
        throw new ConfigError("--resume needs -o FILE: results on stdout cannot be resumed");
      }
      if (cfg.output === undefined && cfg.store === undefined) {
        throw new ConfigError("--resume needs -o FILE or the store: nothing would be kept");
      }
      prior = this.resumePoint(fingerprint);
      if (prior && prior.output.path !== (cfg.output ?? "")) {
        throw new ConfigError(
          `resume file ${cfg.resumePath} wrote to ${prior.output.path}; pass -o ${prior.output.path}`,
        );
      }
    }
    const seed = prior ? BigInt(prior.seed) : (cfg.seed ?? randomSeed());
    const scanId = prior?.scanId ?? cfg.scanId ?? newScanId();
    const counts: Record<string, number> = { ...(prior?.counts ?? {}) };
    const nicer: Record<string, number> = { ...(prior?.nicer ?? {}) };
    const startedAt = prior?.startedAt ?? new Date().toISOString();
    const summaryBase = {
      scanId,
      seed: seed.toString(),
      shard: shardLabel,
      total: space.size,
      skipped: space.skipped,
      resumed: prior !== undefined,
    };
    if (prior?.complete) {
      // Killed after its last checkpoint but before the store heard the shard was finished:
      // finish it now (the store already holds every row the checkpoint covers).
      const exact = cfg.store && (await ScanRecord.finishLeftOver(cfg.store, scanId, shardLabel));
      if (exact) replaceCounts(counts, exact);
      if (cfg.store) replaceCounts(nicer, await cfg.store.nicerCounts(scanId, shardLabel));
      return {
        ...summaryBase,
        done: sum(counts),
        counts,
        nicer,
        elapsedMs: 0,
        alreadyComplete: true,
        interrupted: false,
      };
    }

    const walk = new TargetWalk(space, walkOptions(cfg, seed, prior));
    const perm = walk.permutation;
    const tracker = walk.tracker;
    let sink: JsonlSink | undefined;
    /** This instant's state: watermark, steps done above it, counts and output offset. */
    const snapshot = (complete: boolean): ResumeState => ({
      version: RESUME_VERSION,
      fingerprint,
      seed: seed.toString(),
      shard: shardLabel,
      scanId,
      startedAt,
      watermark: tracker.watermark(perm.position),
      doneAbove: tracker.doneAbove(),
      output: { path: cfg.output ?? "", bytes: sink?.bytesWritten ?? 0 },
      counts: { ...counts },
      nicer: { ...nicer },
      complete,
    });
    // The scan's identity is kept before anything is written anywhere: a kill from here on
    // resumes this scan (its id, seed and start), never a second one beside it.
    if (cfg.resumePath && !prior) saveResumeState(cfg.resumePath, snapshot(false));

    // Back to the checkpoint: what a killed run wrote after it is cut off (the output) and
    // deleted (the store), and probed again below.
    if (prior && cfg.output !== undefined) {
      try {
        rollbackOutput(cfg.output, prior.output.bytes);
      } catch (e) {
        throw new ConfigError(`cannot resume into ${cfg.output}: ${(e as Error).message}`);
      }
    }
    const store = await this.beginRecord(scanId, startedAt, seed.toString(), shardLabel);
    if (prior && store) {
      await store.rollback(prior);
      const held = sum(await store.counts());
      const want = sum(counts);
      if (held < want) {
        cfg.onNotice?.(
          `warning: ${cfg.store?.location} holds ${held} results of shard ${shardLabel} where the ` +
            `checkpoint counts ${want}: ${want - held} went missing after they were stored (a ` +
            "backup restored? a power cut?) and are not probed again; scan without --resume to probe every target",
        );
      }
    }
    sink = openSink(cfg.output, prior !== undefined);

    const names = this.names;
    const source = (): EngineTarget | undefined => {
      const next = walk.next();
      if (next === undefined) return undefined;
      const { target: t, step } = next;
      const target: EngineTarget = { ip: t.ip, port: t.port, seq: step };
      const name = names?.get(t.ip);
      if (name) target.hostname = name;
      return target;
    };

    /**
     * Take a snapshot, then save it once the output and the store hold everything it covers.
     * Results that arrive while the store is flushed are not in it: the next one takes them.
     */
    const checkpoint = async (complete: boolean): Promise<void> => {
      sink?.flushSync();
      const state = snapshot(complete);
      if (cfg.resumePath) sink?.sync();
      await store?.flush();
      if (cfg.resumePath) saveResumeState(cfg.resumePath, state);
    };
    const { elapsedMs, unanswered } = await this.execute({
      source,
      sink,
      store,
      scanId,
      shardLabel,
      counts,
      nicer,
      total: () => space.size,
      onResult: (target) => tracker.complete(target.seq),
      checkpoint,
      steps: true,
    }).catch(async (e: unknown) => {
      // Every worker died: what they answered is kept (the resume covers it), then the error.
      if (e instanceof ScanWorkerError) {
        await checkpoint(false);
        await sink?.close();
      }
      throw e;
    });
    // Complete only when the whole permutation was walked and answered, not when stopped or
    // capped (workers may hold targets taken from the walk that a stop left unsent).
    const complete = walk.walked && unanswered === 0;
    await checkpoint(complete);
    await sink?.close();
    const stored = await finishRecord(store, complete, counts, nicer);
    return {
      ...summaryBase,
      done: sum(counts),
      counts,
      nicer,
      elapsedMs,
      alreadyComplete: false,
      interrupted: this.interrupted,
      ...stored,
    };
  }

  /**
   * The resume file's checkpoint when it exists and belongs to this scan (same target space,
   * shard, seed and scan id); undefined when there is none yet. Reads only: no lock is taken.
   */
  private resumePoint(fingerprint: string): ResumeState | undefined {
    const cfg = this.cfg;
    if (!cfg.resumePath) return undefined;
    let prior: ResumeState | undefined;
    try {
      prior = loadResumeState(cfg.resumePath);
    } catch (e) {
      if (e instanceof ResumeFileError) throw new ConfigError(e.message);
      throw e;
    }
    if (prior && prior.fingerprint !== fingerprint) {
      throw new ConfigError(
        `resume file ${cfg.resumePath} belongs to a different scan (targets, ports or shard differ)`,
      );
    }
    if (prior && cfg.seed !== undefined && BigInt(prior.seed) !== cfg.seed) {
      throw new ConfigError(
        `resume file ${cfg.resumePath} was made with --seed ${prior.seed}, not ${cfg.seed}`,
      );
    }
    if (prior && cfg.scanId !== undefined && prior.scanId !== cfg.scanId) {
      throw new ConfigError(
        `resume file ${cfg.resumePath} is for scan ${prior.scanId}, not --scan-id ${cfg.scanId}`,
      );
    }
    return prior;
  }

  /**
   * What a scan with this config would probe, in its order, without sending anything or opening
   * any store or output (`scan --list-targets`, `--dry-run`): names are resolved, the space is
   * built (blocklist, allowances, excludes), and the walk is the scan's own (seed, shard, a
   * resume file's checkpoint, the cap).
   */
  async preview(): Promise<ScanPreview> {
    const cfg = this.cfg;
    if (cfg.stream)
      throw new ConfigError("--stream reads its targets while scanning: nothing to list");
    await this.prepare();
    const space = this.space!;
    const prior = this.resumePoint(`${space.fingerprint}|shard=${shardLabelOf(cfg)}`);
    const seed = prior ? BigInt(prior.seed) : (cfg.seed ?? randomSeed());
    return {
      space,
      seed,
      shard: shardLabelOf(cfg),
      resumed: prior !== undefined,
      breakdown: spaceBreakdown(this.resolvedInput!, {
        allowReserved: cfg.allowReserved,
        exclude: cfg.exclude,
      }),
      targetSpace: this.targetSpace!,
      walk: () => new TargetWalk(space, { ...walkOptions(cfg, seed, prior), track: false }),
    };
  }

  /**
   * Targets from a stream, probed in arrival order while it is still being written (zmap's
   * output is random already). No permutation, so no shard, seed or resume.
   */
  private async runStream(input: NodeJS.ReadableStream): Promise<ScanSummary> {
    const cfg = this.cfg;
    const scanId = cfg.scanId ?? newScanId();
    const counts: Record<string, number> = {};
    const nicer: Record<string, number> = {};
    const store = await this.beginRecord(scanId, new Date().toISOString(), undefined, "0/1");
    const sink = openSink(cfg.output, false);
    let skippedReserved = 0n;
    const targets = new StreamTargets({
      ports: cfg.ports,
      allowReserved: cfg.allowReserved,
      exclude: cfg.exclude,
      sourceName: cfg.streamName ?? "stdin",
      onSkip: (message) => {
        if (/--allow-reserved/.test(message)) skippedReserved++;
        cfg.onWarning?.(message);
      },
    });
    let engine: ScanEngine<ProbeResult> | undefined;
    // Lines are read as the engine takes targets: past STREAM_BACKLOG queued targets the reader
    // waits, so neither the queue nor a line (STREAM_LINE_BYTES) grows with the input.
    let drained: (() => void) | undefined;
    let stopReading = false;
    const reading = (async () => {
      try {
        for await (const l of splitLines(input as AsyncIterable<Buffer>, STREAM_LINE_BYTES)) {
          if (l.text !== undefined) targets.addLine(l.text);
          else targets.skipLine(l.error ?? "unreadable");
          engine?.wake();
          while (targets.backlog > STREAM_BACKLOG && !stopReading) {
            await new Promise<void>((resolve) => {
              drained = resolve;
            });
          }
          if (stopReading) break;
        }
      } finally {
        targets.ended = true;
        engine?.wake();
      }
    })();
    let issued = 0;
    const source = (): EngineTarget | undefined | typeof WAIT => {
      for (;;) {
        if (cfg.maxTargets !== undefined && issued >= cfg.maxTargets) return undefined;
        const t = targets.next();
        if (drained && targets.backlog < STREAM_BACKLOG / 4) {
          drained();
          drained = undefined;
        }
        if (t === undefined) return targets.ended ? undefined : WAIT;
        if (this.localAddress && this.localAddress[t.family] === undefined) {
          cfg.onWarning?.(`${t.ip}: no IPv${t.family} source address to scan it from; skipped`);
          continue;
        }
        issued++;
        return { ip: t.ip, port: t.port, seq: issued };
      }
    };
    const { elapsedMs } = await this.execute({
      source,
      sink,
      store,
      scanId,
      shardLabel: "0/1",
      counts,
      nicer,
      // Unknown until the stream ends: what is done, running and queued so far.
      total: () => BigInt(sum(counts)) + BigInt(engine?.stats.inFlight ?? 0) + targets.backlog,
      checkpoint: async () => {
        sink?.flushSync();
        await store?.flush();
      },
      onEngine: (e) => {
        engine = e;
      },
    });
    // Done (the input ended, or a stop or cap): a reader still waiting on stdin is let go.
    stopReading = true;
    drained?.();
    if (!targets.ended) (input as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    await reading.catch(() => undefined);
    await sink?.close();
    const stored = await finishRecord(store, !this.interrupted, counts, nicer);
    return {
      scanId,
      seed: "stream",
      shard: "0/1",
      total: BigInt(sum(counts)),
      skipped: { reserved: skippedReserved, excluded: 0n },
      resumed: false,
      done: sum(counts),
      counts,
      nicer,
      elapsedMs,
      alreadyComplete: false,
      interrupted: this.interrupted,
      skippedLines: targets.skippedLines,
      ...stored,
    };
  }

  /** The scan and this shard recorded in the store (when there is one), ready for results. */
  private async beginRecord(
    scanId: string,
    startedAt: string,
    seed: string | undefined,
    shardLabel: string,
  ): Promise<ScanRecord | undefined> {
    const cfg = this.cfg;
    if (!cfg.store) return undefined;
    const info: ScanInfo = {
      id: scanId,
      source: "scan",
      startedAt,
      targets: cfg.record?.targets ?? "",
      ports: cfg.record?.ports ?? cfg.ports.join(","),
      shardCount: cfg.shard?.count ?? 1,
      options: cfg.record?.options ?? {},
      toolVersion: cfg.record?.toolVersion ?? "",
    };
    if (seed !== undefined) info.seed = seed;
    if (this.targetSpace !== undefined) info.targetSpace = this.targetSpace;
    return ScanRecord.begin(cfg.store, info, shardLabel);
  }

  /** Drive the engine over a source into a sink, with progress, checkpoints and a deadline. */
  private async execute(run: {
    source: TargetSource;
    sink: JsonlSink | undefined;
    store: ScanRecord | undefined;
    scanId: string;
    shardLabel: string;
    counts: Record<string, number>;
    nicer: Record<string, number>;
    total: () => bigint;
    checkpoint: (complete: boolean) => Promise<void>;
    onResult?: (target: EngineTarget) => void;
    onEngine?: (engine: ScanEngine<ProbeResult>) => void;
    /** Targets' `seq` are steps of a permutation: the store keeps them (resume). */
    steps?: boolean;
  }): Promise<{ elapsedMs: number; unanswered: number }> {
    const cfg = this.cfg;
    const { sink, store, counts, nicer } = run;
    boundHeapGrowth(cfg.concurrency);
    const probeOptions = {
      maxReplyBytes: cfg.budgets.maxBytesPerHost,
      scanId: run.scanId,
      shard: run.shardLabel,
    };
    let done = 0;
    // A replica's master among the scan's own targets is not an "outside" master; a streamed
    // scan has no space to check against, and its indicators say so.
    const space = this.space;
    const enrichCtx = space
      ? { inScanSpace: (ip: string, port: number) => space.has(ip, port) }
      : {};
    const engineOptions = {
      concurrency: cfg.concurrency,
      rate: cfg.rate,
      budgets: cfg.budgets,
      transport: cfg.transport,
      ...(this.localAddress ? { localAddress: this.localAddress } : {}),
      ...(cfg.retries ? { retries: cfg.retries } : {}),
    };
    /**
     * One result, enriched here, or in a worker thread already (`enriched`), which also made its
     * JSONL line when there is an output (`line`: the sink takes it as it is).
     */
    const deliver = (
      target: EngineTarget,
      result: ProbeResult,
      enriched = false,
      line?: string,
    ): void => {
      if (!enriched) cfg.enricher?.enrich(result, enrichCtx);
      // One JSON text of the result for the output and the store's writer thread alike.
      const text = line ?? (sink !== undefined ? JSON.stringify(result) : undefined);
      if (text !== undefined) (result as Lined)[LINE] = text;
      sink?.write(result);
      if (text !== undefined) (result as Lined)[LINE] = undefined;
      // The output failed (a full disk): stop; the last checkpoint throws the error.
      if (sink?.error) engine.stop();
      store?.write(result, run.steps ? target.seq : undefined, text);
      counts[result.state] = (counts[result.state] ?? 0) + 1;
      if (result.nicer !== undefined) nicer[result.nicer] = (nicer[result.nicer] ?? 0) + 1;
      run.onResult?.(target);
      cfg.onResult?.(result);
      done++;
    };
    const blocked = (): boolean => (sink?.congested ?? false) || (store?.congested ?? false);
    const workers = run.steps ? (cfg.workers ?? 1) : 1;
    let pool: ScanPool | undefined;
    let engine: { run(): Promise<void>; stop(): void; stats: { inFlight: number } };
    if (workers > 1) {
      const init: ConstructorParameters<typeof ScanPool>[0]["init"] = {
        probe: probeOptions,
        lines: sink !== undefined,
      };
      if (cfg.enricher) init.intel = { dir: cfg.intelDir };
      if (space && this.resolvedInput) {
        init.space = {
          input: this.resolvedInput,
          ports: cfg.ports,
          opts: { allowReserved: cfg.allowReserved, exclude: cfg.exclude },
        };
      }
      pool = new ScanPool(
        {
          workers,
          engine: engineOptions,
          init,
          ...(cfg.onNotice ? { onNotice: cfg.onNotice } : {}),
          ...(cfg.testWorkerExitAfter !== undefined ? { exitAfter: cfg.testWorkerExitAfter } : {}),
        },
        run.source,
        (target, result, line) => deliver(target, result, true, line),
        blocked,
      );
      engine = pool;
    } else {
      const single = new ScanEngine(
        new RedisProbe(probeOptions),
        engineOptions,
        run.source,
        (target, result) => deliver(target, result),
        blocked,
      );
      run.onEngine?.(single);
      engine = single;
    }
    this.engine = engine;
    if (this.interrupted) engine.stop();

    const t0 = performance.now();
    const progress = (): void =>
      cfg.onProgress?.({
        total: run.total(),
        done,
        inFlight: engine.stats.inFlight,
        ...(pool ? { workers: pool.live } : {}),
        elapsedMs: performance.now() - t0,
        counts,
      });
    const ticker = setInterval(progress, 250);
    // One checkpoint at a time, and none left running when this returns (the caller's last one
    // must not be overwritten by an older one finishing late). A checkpoint that fails (the
    // store or the output stopped taking writes) stops the scan; the caller's last checkpoint
    // throws the error.
    let saving: Promise<void> | undefined;
    const saver = setInterval(() => {
      if (saving) return;
      saving = run
        .checkpoint(false)
        .then(async () => {
          // The dashboard's progress bar; a failed write of it does not stop the scan.
          await run.store
            ?.progress({
              done,
              total: Number(run.total()),
              inFlight: engine.stats.inFlight,
              elapsedMs: Math.round(performance.now() - t0),
              updatedAt: new Date().toISOString(),
              counts: { ...counts },
            })
            .catch(() => undefined);
        })
        .catch(() => engine.stop())
        .finally(() => {
          saving = undefined;
        });
    }, cfg.checkpointMs ?? 1000);
    const stopper =
      cfg.maxRuntimeMs !== undefined
        ? setTimeout(() => engine.stop(), cfg.maxRuntimeMs)
        : undefined;
    try {
      await run.checkpoint(false);
      await engine.run();
    } finally {
      clearInterval(ticker);
      clearInterval(saver);
      if (stopper) clearTimeout(stopper);
      await saving;
    }
    progress();
    return { elapsedMs: performance.now() - t0, unanswered: pool?.unanswered ?? 0 };
  }
}

/**
 * The source addresses a scan sends from, checked before anything is sent: an address must be
 * one sockets can bind to (an address of this host), an interface must exist and have one.
 */
async function localAddresses(
  source: NonNullable<ScanConfig["source"]>,
): Promise<Partial<Record<4 | 6, string>>> {
  let out: Partial<Record<4 | 6, string>>;
  let what: string;
  if ("ip" in source) {
    what = `--source-ip ${source.ip}`;
    const ip = parseIp(source.ip);
    if (ip === undefined) throw new ConfigError(`${what}: not an IP address`);
    out = { [ip.family]: formatIp(ip.family, ip.value) };
  } else {
    what = `--interface ${JSON.stringify(source.interface).slice(0, 40)}`;
    const found = interfaceAddresses(source.interface);
    if (found === undefined) {
      const known = Object.keys(os.networkInterfaces()).join(", ");
      throw new ConfigError(`${what}: no such network interface (this host has ${known})`);
    }
    if (found[4] === undefined && found[6] === undefined) {
      throw new ConfigError(`${what}: the interface has no address to send from`);
    }
    out = found;
  }
  for (const address of Object.values(out)) {
    const error = await bindError(address);
    if (error !== undefined) {
      throw new ConfigError(
        `${what}: cannot send from ${address} (${error}${error === "EADDRNOTAVAIL" ? ": not an address of this host" : ""})`,
      );
    }
  }
  return out;
}

/**
 * Hostnames become addresses before the target space is built, so it only ever holds addresses;
 * each address remembers the name it was given as. A name that does not resolve is skipped, and
 * said.
 */
async function resolveHostnames(
  input: TargetInput,
  notice: (message: string) => void,
): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const h of input.hostnames) {
    let addrs: { address: string }[];
    try {
      addrs = await dns.lookup(h.name, { all: true, verbatim: true });
    } catch (e) {
      notice(`warning: cannot resolve ${h.name} (${(e as NodeJS.ErrnoException).code}); skipped`);
      continue;
    }
    for (const a of addrs) {
      const ip = parseIp(a.address);
      if (!ip) continue;
      names.set(a.address, h.name);
      const source = `${h.name} (${a.address})`;
      if (h.port !== undefined) {
        input.pairs.push({ family: ip.family, ip: ip.value, port: h.port, source });
      } else {
        input.ranges.push({ family: ip.family, start: ip.value, end: ip.value, source });
      }
    }
  }
  input.hostnames = [];
  return names;
}

/** Targets queued from a stream before its reading is paused. */
const STREAM_BACKLOG = 10_000;
/** Longest `--stream` line kept (a target, or a zmap/masscan output line, is far shorter). */
const STREAM_LINE_BYTES = 4096;

/** A result's JSONL line, when a worker thread serialised it already. */
const LINE = Symbol("line");
type Lined = ProbeResult & { [LINE]?: string };

function openSink(output: string | undefined, append: boolean): JsonlSink | undefined {
  if (output === undefined) return undefined;
  const target = output === "-" ? { stream: process.stdout } : { path: output, append };
  return new JsonlSink<object>(target, {
    onFailure: "stop",
    line: (r) => (r as Lined)[LINE] ?? JSON.stringify(r),
  });
}

/**
 * The last rows stored, and the shard finished when it ran to its end; the counts become the
 * store's own (exact even when a resumed run probed a target twice).
 */
async function finishRecord(
  record: ScanRecord | undefined,
  complete: boolean,
  counts: Record<string, number>,
  nicer: Record<string, number>,
): Promise<{ stored?: number }> {
  if (!record) return {};
  replaceCounts(counts, await record.finish(complete));
  replaceCounts(nicer, await record.nicerCounts());
  return { stored: record.inserted };
}

/** The store's exact counts in place of the running ones (the summary reads `counts`). */
function replaceCounts(counts: Record<string, number>, exact: Record<string, number>): void {
  for (const k of Object.keys(counts)) delete counts[k];
  Object.assign(counts, exact);
}

function shardLabelOf(cfg: ScanConfig): string {
  return cfg.shard ? `${cfg.shard.index}/${cfg.shard.count}` : "0/1";
}

function walkOptions(cfg: ScanConfig, seed: bigint, prior: ResumeState | undefined): WalkOptions {
  const opts: WalkOptions = { seed };
  if (cfg.shard) opts.shard = cfg.shard;
  if (prior) opts.resume = { watermark: prior.watermark, doneAbove: prior.doneAbove };
  if (cfg.maxTargets !== undefined) opts.maxTargets = cfg.maxTargets;
  return opts;
}

function sum(counts: Record<string, number>): number {
  let n = 0;
  for (const v of Object.values(counts)) n += v;
  return n;
}
