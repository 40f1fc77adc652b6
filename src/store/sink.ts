/**
 * The write side's one interface, `Sink<T>`: what a producer (a scan, an import, the
 * honeypot) hands its records to, whether they go to a JSONL file, SQLite, PostgreSQL or
 * several (tee). Each sink batches through the one queue (queue.ts).
 *
 * `StoreSink`: a scan's results into the store, in batches written in order, one at a time,
 * off the probe path (a SQLite file from a thread of its own). `flush()` resolves when everything written before it is in the store,
 * which is what a resume checkpoint waits for.
 */
import type { ProbeResult } from "../schema/result.js";
import { BatchQueue } from "./queue.js";
import { type ScanWriter, type ShardProgress, StoreDamagedError } from "./store.js";
import { type WriterThread, writerThreadFor } from "./writer-thread.js";

export interface Sink<T> {
  /** Queued; never throws (a failure goes by the sink's policy, and `error` says a final one). */
  write(item: T): void;
  /** Too much waits: the producer should hold back. */
  readonly congested: boolean;
  /** What stopped the sink for good, if anything. */
  readonly error: Error | undefined;
  /**
   * Everything written before this call is in place: true; false when `timeoutMs` ran out
   * first (the rest stays queued). Throws what stopped the sink.
   */
  flush(timeoutMs?: number): Promise<boolean>;
  /** Write what is left (within `timeoutMs`) and let go: true when nothing was left unwritten. */
  close(timeoutMs?: number): Promise<boolean>;
  /** What was accepted and is not written yet (after a deadline passed, say). */
  unwritten(): T[];
}

/** Several sinks as one: each gets every record. */
export class TeeSink<T> implements Sink<T> {
  constructor(private readonly parts: ReadonlyArray<Sink<T>>) {}
  write(item: T): void {
    for (const p of this.parts) p.write(item);
  }
  get congested(): boolean {
    return this.parts.some((p) => p.congested);
  }
  get error(): Error | undefined {
    return this.parts.find((p) => p.error !== undefined)?.error;
  }
  /** All parts at once, each within the same deadline. */
  async flush(timeoutMs?: number): Promise<boolean> {
    return (await Promise.all(this.parts.map((p) => p.flush(timeoutMs)))).every(Boolean);
  }
  async close(timeoutMs?: number): Promise<boolean> {
    return (await Promise.all(this.parts.map((p) => p.close(timeoutMs)))).every(Boolean);
  }
  /** What the part that is furthest behind has not written. */
  unwritten(): T[] {
    let most: T[] = [];
    for (const p of this.parts) {
      const u = p.unwritten();
      if (u.length > most.length) most = u;
    }
    return most;
  }
}

/** Rows per insert: large enough to amortise a transaction or a round trip. */
const BATCH_ROWS = 2000;
/** Bytes per insert at most (results serialised for the writer thread). */
const BATCH_BYTES = 4 * 1024 * 1024;
/** Above this many results not yet stored, the scan holds new connections back. */
const MAX_QUEUED = 50_000;
/** Or above this many bytes of them (serialised, for the writer thread). */
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
/** A row's bytes before the first batch measured them, and the least a row is counted as. */
const FIRST_ROW_BYTES = 2048;
const MIN_ROW_BYTES = 128;

/** The store stopped taking rows mid-scan (disk full, server gone): the scan stops. */
export class StoreWriteError extends Error {}

/** A result and its step in the scan's permutation (what a checkpoint counts in), if any. */
export interface ScanRow {
  result: ProbeResult;
  step?: number;
  /** The result's JSON text when the producer made it already (its JSONL line): used as is. */
  line?: string;
}

/**
 * A SQLite file is written from the writer thread (writer-thread.ts): the main thread only
 * serialises each batch (a result's JSONL line, when the scan made one, is used as it is) and
 * posts the string;
 * the rows' columns, the inserts, the commits and WAL checkpoints happen beside the sockets.
 * PostgreSQL (whose I/O is asynchronous already) and an in-memory SQLite store are written here.
 *
 * What waits is bounded in rows and in bytes: a row's bytes are the last batch's serialised
 * bytes per row (a row is not serialised until its batch goes), so rows much larger than usual
 * make the batches smaller and the scan hold back sooner from the next batch on.
 */
export class StoreSink implements Sink<ScanRow> {
  private readonly queue: BatchQueue<ScanRow>;
  private readonly thread: WriterThread | undefined;
  /** Serialised bytes per row in the last batch (an estimate until one went). */
  private rowBytes = FIRST_ROW_BYTES;
  /** Rows the store took (a target it already held is not counted). */
  inserted = 0;

  constructor(
    private readonly store: ScanWriter,
    private readonly scanId: string,
  ) {
    const thread = writerThreadFor(store);
    this.thread = thread;
    this.queue = new BatchQueue<ScanRow>(
      async (rows) => {
        if (thread === undefined) {
          this.inserted += await store.insertResults(
            scanId,
            rows.map((r) => r.result),
            rows.map((r) => r.step),
          );
          return;
        }
        const json = batchJson(rows);
        this.rowBytes = Math.max(MIN_ROW_BYTES, Math.ceil(json.length / rows.length));
        this.inserted += await thread.insertResults(scanId, json);
      },
      {
        batchItems: BATCH_ROWS,
        ...(thread && { batchBytes: BATCH_BYTES }),
        congestedAt: MAX_QUEUED,
        ...(thread && {
          sizeOf: () => this.rowBytes,
          congestedBytes: MAX_QUEUED_BYTES,
        }),
        // After a failure nothing more is written: a checkpoint must not pass lost rows. A
        // damaged store is said as such (the file, how to check it), not as a failed write.
        failure: {
          mode: "stop",
          wrap: (e) =>
            e instanceof StoreDamagedError
              ? e
              : new StoreWriteError(`writing results to the store failed: ${(e as Error).message}`),
        },
      },
    );
  }

  write(row: ScanRow): void {
    // Only the writer thread is sent text: elsewhere the line would only take room in the queue.
    if (this.thread === undefined && row.line !== undefined) row.line = undefined;
    this.queue.push(row);
  }

  get congested(): boolean {
    return this.queue.congested;
  }

  /** A running shard's progress, through the writer thread when there is one. */
  progress(shard: string, p: ShardProgress): Promise<void> {
    return this.thread
      ? this.thread.recordProgress(this.scanId, shard, p)
      : this.store.recordShardProgress(this.scanId, shard, p);
  }

  /** The first write error, if any: the scan stops on it. */
  get error(): Error | undefined {
    return this.queue.error;
  }

  /**
   * Everything written before this call is stored (committed, by the writer thread when there
   * is one), or the write error is thrown. Results written while it waits go into later
   * batches: a checkpoint taken just before calling it covers exactly what it waits for.
   */
  flush(timeoutMs?: number): Promise<boolean> {
    return this.queue.flush(timeoutMs);
  }

  /** Write what is left, then let the writer thread go (the store stays open). */
  async close(timeoutMs?: number): Promise<boolean> {
    try {
      return await this.queue.close(timeoutMs);
    } finally {
      await this.thread?.close();
    }
  }

  unwritten(): ScanRow[] {
    return this.queue.unwritten();
  }
}

/**
 * A batch for the writer thread, in one string: `{"steps":[…],"results":[…]}`. A row's JSON text
 * made already (its JSONL line) goes in as it is: with an output file, the main thread
 * serialises each result once, for both.
 */
function batchJson(rows: readonly ScanRow[]): string {
  if (rows.every((r) => r.line === undefined)) {
    return JSON.stringify({
      steps: rows.map((r) => r.step ?? null),
      results: rows.map((r) => r.result),
    });
  }
  const texts: string[] = new Array(rows.length);
  const steps: Array<number | null> = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    texts[i] = r.line ?? JSON.stringify(r.result);
    steps[i] = r.step ?? null;
  }
  return `{"steps":${JSON.stringify(steps)},"results":[${texts.join(",")}]}`;
}
