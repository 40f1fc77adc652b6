/**
 * One scan worker thread (`scan --workers N`, N > 1): an engine, the Redis probe, the
 * classification and the enrichment (the CPU-heavy part of a scan) over the targets the main
 * thread hands it. Results go back in batches, each already serialised as its JSONL line; the
 * main thread keeps the walk, the resume state, the output, the store and the counts
 * (scan-pool.ts).
 */
import { parentPort, workerData } from "node:worker_threads";
import { type EngineOptions, type EngineTarget, ScanEngine, WAIT } from "../engine/engine.js";
import type { Enricher } from "../intel/enrich.js";
import { RedisProbe, type RedisProbeOptions } from "../probe/redis.js";
import type { ProbeResult } from "../schema/result.js";
import { buildTargetSpace, type TargetInput, type TargetSpaceOptions } from "../targets/index.js";
import { loadEnricher } from "./intel.js";
import { boundHeapGrowth } from "./scan-heap.js";

export interface WorkerInit {
  /** 1, 2, …: the worker's number in messages (a replacement gets a new one). */
  id: number;
  engine: EngineOptions;
  /** The whole scan's concurrency (the heap flag is the process's: see scan-heap.ts). */
  scanConcurrency: number;
  probe: RedisProbeOptions;
  /** Send each result's JSONL line too (the scan has an output). */
  lines: boolean;
  /** Enrich with the intel directory's data (undefined: the default directory). */
  intel?: { dir: string | undefined };
  /** The scan's target space, for enrichment's "is this master one of the scan's targets". */
  space?: { input: TargetInput; ports: number[]; opts: TargetSpaceOptions };
  /**
   * Test-only fault hook (REDSCOPE_TEST_WORKER_EXIT_AFTER=N, given to the first worker only):
   * the thread exits with code 70 once it has sent N results, as a crashed worker would.
   */
  exitAfter?: number;
}

/** Main thread → worker. */
export type ToWorker = { t: "targets"; list: EngineTarget[] } | { t: "stop" };

/** One finished target: its step, its result, and (when asked for) the result's JSONL line. */
export interface WorkerResult {
  seq: number;
  result: ProbeResult;
  line?: string;
}

/** Worker → main thread. */
export type FromWorker =
  | { t: "ready" }
  | { t: "results"; list: WorkerResult[]; inFlight: number }
  | { t: "done" };

/** Results sent in one message at most (more wait for the next turn of the loop). */
const RESULT_BATCH = 512;

const port = parentPort!;
const init = workerData as WorkerInit;
boundHeapGrowth(init.scanConcurrency);

const enricher: Enricher | undefined = init.intel ? await loadEnricher(init.intel.dir) : undefined;
const space = init.space
  ? buildTargetSpace(init.space.input, init.space.ports, init.space.opts)
  : undefined;
const enrichCtx = space ? { inScanSpace: (ip: string, port: number) => space.has(ip, port) } : {};

const queue: EngineTarget[] = [];
let head = 0;
const source = (): EngineTarget | typeof WAIT => {
  if (head >= queue.length) return WAIT;
  const t = queue[head++]!;
  if (head > 4096 && head * 2 > queue.length) {
    queue.splice(0, head);
    head = 0;
  }
  return t;
};

let out: WorkerResult[] = [];
let sent = 0;
let flushing = false;
const flush = (): void => {
  flushing = false;
  if (out.length === 0) return;
  let list = out;
  out = [];
  const fault = init.exitAfter !== undefined && sent + list.length >= init.exitAfter;
  if (fault) list = list.slice(0, init.exitAfter! - sent);
  port.postMessage({ t: "results", list, inFlight: engine.stats.inFlight } satisfies FromWorker);
  sent += list.length;
  if (fault) process.exit(70);
};

const engine = new ScanEngine(new RedisProbe(init.probe), init.engine, source, (target, result) => {
  enricher?.enrich(result, enrichCtx);
  out.push(
    init.lines
      ? { seq: target.seq, result, line: JSON.stringify(result) }
      : { seq: target.seq, result },
  );
  if (out.length >= RESULT_BATCH) flush();
  else if (!flushing) {
    flushing = true;
    setImmediate(flush);
  }
});

port.on("message", (m: ToWorker) => {
  if (m.t === "targets") {
    for (const t of m.list) queue.push(t);
    engine.wake();
  } else engine.stop();
});

port.postMessage({ t: "ready" } satisfies FromWorker);
await engine.run();
flush();
port.postMessage({ t: "done" } satisfies FromWorker);
port.close();
