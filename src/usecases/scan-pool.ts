/**
 * `scan --workers N`: one scan's targets probed by N worker threads (scan-worker.ts), each with
 * its own engine, probe and enrichment, while this (the main) thread keeps everything there is
 * one of: the walk of the permutation, the resume tracker, the output, the store, the counts and
 * the status line. It plays the engine's part for the scan (run, stop, stats), so the scan's
 * bookkeeping is the same code with one worker or many.
 *
 * Targets go out in chunks, at most a worker's share of the concurrency plus one chunk ahead of
 * its answers. Every target handed out is held under the worker it went to until its result
 * comes back; a result is taken only from the worker holding its target, so none is written
 * twice. A worker that dies (an uncaught error, an exit, out of memory) is reported in one line
 * and exactly the targets it held go to the others, or to a replacement (at most `maxRestarts`
 * in a scan); when every worker is gone the scan ends with ScanWorkerError, and the resume state
 * covers only what was written.
 */
import { Worker } from "node:worker_threads";
import type {
  BackpressureCheck,
  EngineOptions,
  EngineTarget,
  TargetSource,
} from "../engine/engine.js";
import { WAIT } from "../engine/engine.js";
import type { ProbeResult } from "../schema/result.js";
import { terminalText } from "../untrusted/text.js";
import type { FromWorker, ToWorker, WorkerInit } from "./scan-worker.js";

/** Every worker died and none may be started again: the scan cannot go on. */
export class ScanWorkerError extends Error {}

export interface PoolOptions {
  workers: number;
  /** The scan's engine options: concurrency and rate are split across the workers. */
  engine: EngineOptions;
  /** Everything else a worker starts from (its id and share are the pool's). */
  init: Omit<WorkerInit, "id" | "engine" | "scanConcurrency" | "exitAfter">;
  /** One line per dead worker (printed after `redscope: `). */
  onNotice?: (message: string) => void;
  /** Replacement workers started in one scan at most (default 2 × workers). */
  maxRestarts?: number;
  /**
   * Test-only: the first worker (every worker, with `all`) exits after sending this many results
   * (scan-worker.ts).
   */
  exitAfter?: { results: number; all: boolean };
}

interface Slot {
  id: number;
  worker: Worker;
  share: { concurrency: number; rate: number };
  /** Targets handed to this worker and not answered yet, by step. */
  pending: Map<number, EngineTarget>;
  inFlight: number;
  stopSent: boolean;
  /** Said "done": its engine ended and every result it had was sent. */
  finished: boolean;
  dead: boolean;
  error?: string;
}

/** Targets in one message to a worker at most. */
const CHUNK = 256;

export class ScanPool {
  private readonly slots: Slot[] = [];
  private ids = 0;
  private restarts = 0;
  private stopping = false;
  private exhausted = false;
  /** Targets of dead workers, handed out before new ones. */
  private readonly requeue: EngineTarget[] = [];
  /** Targets a stopped scan never had answered (held by a worker that was stopped or died). */
  private dropped = 0;
  private blockTimer: NodeJS.Timeout | undefined;
  private settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly opts: PoolOptions,
    private readonly source: TargetSource,
    private readonly onResult: (target: EngineTarget, result: ProbeResult, line?: string) => void,
    private readonly blocked: BackpressureCheck = () => false,
  ) {
    if (opts.workers < 2) throw new RangeError("a pool has at least 2 workers");
  }

  get stats(): { inFlight: number } {
    let inFlight = 0;
    for (const s of this.slots) if (!s.dead && !s.finished) inFlight += s.inFlight;
    return { inFlight };
  }

  /** Live workers now (the status line shows them). */
  get live(): number {
    return this.slots.filter((s) => !s.dead && !s.finished).length;
  }

  /** Targets handed out and never answered: when not 0, the scan did not cover its space. */
  get unanswered(): number {
    let n = this.dropped + this.requeue.length;
    for (const s of this.slots) if (!s.dead) n += s.pending.size;
    return n;
  }

  /** Runs until every target is answered (or stop()) and every worker has ended. */
  run(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
      const { workers, engine } = this.opts;
      const n = Math.min(workers, engine.concurrency);
      for (let i = 0; i < n; i++) {
        const concurrency =
          Math.floor(engine.concurrency / n) + (i < engine.concurrency % n ? 1 : 0);
        this.spawn({ concurrency, rate: engine.rate / n });
      }
      if (this.stopping) for (const s of this.slots) this.stopSlot(s);
      this.fillAll();
    });
  }

  /** No new targets; in-flight ones finish, and run() resolves once every worker has ended. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.dropped += this.requeue.length;
    this.requeue.length = 0;
    for (const s of this.slots) this.stopSlot(s);
    this.maybeDone();
  }

  private spawn(share: Slot["share"]): void {
    const id = ++this.ids;
    const init: WorkerInit = {
      ...this.opts.init,
      id,
      engine: { ...this.opts.engine, concurrency: share.concurrency, rate: share.rate },
      scanConcurrency: this.opts.engine.concurrency,
    };
    const fault = this.opts.exitAfter;
    if (fault && (id === 1 || fault.all)) init.exitAfter = fault.results;
    // V8's default young generation: 8 MB saved ~20 MB of RSS with 2 workers, but measured
    // 1.6–2× the workers' time in garbage collection.
    const worker = new Worker(new URL("./scan-worker.js", import.meta.url), { workerData: init });
    const slot: Slot = {
      id,
      worker,
      share,
      pending: new Map(),
      inFlight: 0,
      stopSent: false,
      finished: false,
      dead: false,
    };
    this.slots.push(slot);
    worker.on("message", (m: FromWorker) => this.onMessage(slot, m));
    worker.on("error", (e) => {
      slot.error ??= firstLine(e);
    });
    worker.on("exit", (code) => this.onExit(slot, code));
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    if (slot.dead) return;
    if (m.t === "results") {
      slot.inFlight = m.inFlight;
      for (const r of m.list) {
        const target = slot.pending.get(r.seq);
        // Only the worker holding a target answers for it (never twice, never a stale one).
        if (target === undefined) continue;
        slot.pending.delete(r.seq);
        this.onResult(target, r.result, r.line);
      }
      this.fill(slot);
      this.maybeDone();
    } else if (m.t === "done") {
      slot.finished = true;
      slot.inFlight = 0;
      // A stopped worker's queued targets were never sent: the scan did not answer them.
      this.dropped += slot.pending.size;
      slot.pending.clear();
      this.maybeDone();
    }
  }

  private onExit(slot: Slot, code: number): void {
    if (slot.finished || slot.dead) return;
    if (slot.stopSent && code === 0 && slot.error === undefined) {
      // Told to stop, and it ended as it should (its "done" not seen): what it held is unanswered.
      this.onMessage(slot, { t: "done" });
      return;
    }
    slot.dead = true;
    slot.inFlight = 0;
    const held = [...slot.pending.values()];
    slot.pending.clear();
    const why = slot.error ?? `exit code ${code}`;
    const left = !this.stopping && (held.length > 0 || !this.exhausted || this.requeue.length > 0);
    let replacement: number | undefined;
    if (left && this.restarts < (this.opts.maxRestarts ?? 2 * this.opts.workers)) {
      this.restarts++;
      this.spawn(slot.share);
      replacement = this.ids;
    }
    if (this.stopping) this.dropped += held.length;
    else this.requeue.push(...held);
    const to =
      held.length === 0
        ? ""
        : this.stopping
          ? `; its ${held.length} unanswered targets are left to a resume`
          : `; its ${held.length} unanswered targets go to ${replacement !== undefined ? `worker ${replacement}` : "the other workers"}`;
    this.opts.onNotice?.(
      `warning: scan worker ${slot.id} died (${why})${to}${replacement !== undefined && held.length === 0 ? `; worker ${replacement} replaces it` : ""}`,
    );
    if (this.liveSlots().length === 0 && left) {
      this.failure = new ScanWorkerError(
        `every scan worker died (the last: ${why}) after ${this.restarts} restarts; ${this.requeue.length} targets handed out were not answered`,
      );
      this.stop();
      return;
    }
    this.fillAll();
    this.maybeDone();
  }

  private liveSlots(): Slot[] {
    return this.slots.filter((s) => !s.dead && !s.finished);
  }

  private fillAll(): void {
    for (const s of this.liveSlots()) this.fill(s);
    this.maybeDone();
  }

  /** Hand the worker targets up to its share of the concurrency plus one chunk. */
  private fill(slot: Slot): void {
    if (this.stopping || slot.dead || slot.stopSent) return;
    const chunk = Math.min(CHUNK, Math.max(8, slot.share.concurrency));
    const window = slot.share.concurrency + chunk;
    let list: EngineTarget[] = [];
    const send = (): void => {
      if (list.length === 0) return;
      slot.worker.postMessage({ t: "targets", list } satisfies ToWorker);
      list = [];
    };
    while (slot.pending.size < window) {
      if (this.blocked()) {
        this.blockTimer ??= setTimeout(() => {
          this.blockTimer = undefined;
          this.fillAll();
        }, 5);
        break;
      }
      let target = this.requeue.pop();
      if (target === undefined && !this.exhausted) {
        const next = this.source();
        if (next === undefined) this.exhausted = true;
        else if (next !== WAIT) target = next;
      }
      if (target === undefined) break;
      slot.pending.set(target.seq, target);
      list.push(target);
      if (list.length >= chunk) send();
    }
    send();
  }

  private stopSlot(slot: Slot): void {
    if (slot.dead || slot.finished || slot.stopSent) return;
    slot.stopSent = true;
    slot.worker.postMessage({ t: "stop" } satisfies ToWorker);
  }

  /** Everything answered: the workers are told to end; once all have, run() settles. */
  private maybeDone(): void {
    if (!this.settle) return;
    const live = this.liveSlots();
    const allAnswered =
      this.exhausted && this.requeue.length === 0 && live.every((s) => s.pending.size === 0);
    if (allAnswered || this.stopping) for (const s of live) this.stopSlot(s);
    if (live.length > 0) return;
    if (this.blockTimer) clearTimeout(this.blockTimer);
    this.blockTimer = undefined;
    const settle = this.settle;
    this.settle = undefined;
    if (this.failure) settle.reject(this.failure);
    else settle.resolve();
  }
}

/** An error's first line, bounded (it goes to the terminal in one line). */
function firstLine(e: unknown): string {
  const text = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return terminalText(text.split("\n")[0] ?? "", 200);
}
