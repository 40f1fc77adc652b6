/**
 * Results from a running scan into a Store: collected in batches and written in order, one
 * batch at a time, off the probe path. `flush()` resolves when everything written so far is in
 * the store, which is what a resume checkpoint waits for.
 */
import type { ProbeResult } from "../schema/result.js";
import { type ScanWriter, StoreDamagedError } from "./store.js";

/** Rows per insert: large enough to amortise a transaction or a round trip. */
const BATCH_ROWS = 2000;
/** Above this many results not yet stored, the scan holds new connections back. */
const MAX_QUEUED = 50_000;

/** The store stopped taking rows mid-scan (disk full, server gone): the scan stops. */
export class StoreWriteError extends Error {}

export class StoreSink {
  private batch: ProbeResult[] = [];
  /** The batch's steps in the scan's permutation, one per result (undefined: none). */
  private steps: Array<number | undefined> = [];
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private failure: Error | undefined;
  /** Rows the store took (a target it already held is not counted). */
  inserted = 0;

  constructor(
    private readonly store: ScanWriter,
    private readonly scanId: string,
  ) {}

  /** `step`: the result's position in the scan's permutation (what a checkpoint counts in). */
  write(r: ProbeResult, step?: number): void {
    this.batch.push(r);
    this.steps.push(step);
    this.queued++;
    if (this.batch.length >= BATCH_ROWS) this.send();
  }

  get congested(): boolean {
    return this.queued > MAX_QUEUED;
  }

  /** The first write error, if any: the scan stops on it. */
  get error(): Error | undefined {
    return this.failure;
  }

  private send(): void {
    if (this.batch.length === 0) return;
    const rows = this.batch;
    const steps = this.steps;
    this.batch = [];
    this.steps = [];
    this.chain = this.chain.then(async () => {
      try {
        // After a failure nothing more is written: a checkpoint must not pass lost rows.
        if (this.failure === undefined)
          this.inserted += await this.store.insertResults(this.scanId, rows, steps);
      } catch (e) {
        // A damaged store is said as such (the file, how to check it), not as a failed write.
        this.failure =
          e instanceof StoreDamagedError
            ? e
            : new StoreWriteError(`writing results to the store failed: ${(e as Error).message}`);
      } finally {
        this.queued -= rows.length;
      }
    });
  }

  /**
   * Everything written before this call is stored, or the write error is thrown. Results
   * written while it waits go into later batches: a checkpoint taken just before calling it
   * covers exactly what it waits for.
   */
  async flush(): Promise<void> {
    this.send();
    await this.chain;
    if (this.failure) throw this.failure;
  }
}
