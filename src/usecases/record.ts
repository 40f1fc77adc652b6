/**
 * One scan as the store records it, for every producer of results (a scan's shard, an import):
 * begin (the scan is recorded or joined, the shard marked running), results in batches, and
 * finish (the counts read back from the rows, the shard marked finished). A resumed shard can
 * also go back to its checkpoint here.
 */
import os from "node:os";
import type { ProbeResult } from "../schema/result.js";
import type { CheckpointCover, ScanInfo, ScanWriter, ShardProgress } from "../store/index.js";
import { type ScanRow, StoreSink } from "../store/sink.js";

export class ScanRecord {
  private readonly sink: StoreSink;

  private constructor(
    readonly store: ScanWriter,
    readonly scanId: string,
    readonly shard: string,
  ) {
    this.sink = new StoreSink(store, scanId);
  }

  /**
   * Record the scan, or join it (another shard of it, a re-run): a scan id that exists with
   * other targets, ports, seed or shard count is refused (StoreConflictError). The shard is
   * marked running until `finish(true)`.
   */
  static async begin(store: ScanWriter, scan: ScanInfo, shard: string): Promise<ScanRecord> {
    await store.beginScan(scan);
    await store.beginShard({
      scanId: scan.id,
      shard,
      host: os.hostname(),
      startedAt: scan.startedAt,
    });
    return new ScanRecord(store, scan.id, shard);
  }

  /** The shard's row count per state, as the store holds them now. */
  counts(): Promise<Record<string, number>> {
    return this.store.stateCounts(this.scanId, this.shard);
  }

  /** The shard's row count per NICER row, as the store holds them now. */
  nicerCounts(): Promise<Record<string, number>> {
    return this.store.nicerCounts(this.scanId, this.shard);
  }

  /** Delete the shard's rows a resume checkpoint does not cover (they are probed again). */
  rollback(cover: CheckpointCover): Promise<number> {
    return this.store.rollbackShard(this.scanId, this.shard, cover);
  }

  /** Queued and written in batches; `step`: the result's position in the scan's permutation. */
  write(result: ProbeResult, step?: number, line?: string): void {
    const row: ScanRow = { result };
    if (step !== undefined) row.step = step;
    if (line !== undefined) row.line = line;
    this.sink.write(row);
  }

  /**
   * The shard's progress (the dashboard's bar), written after the batches queued before it
   * (by the writer thread, for a SQLite file: the main thread does not wait on its lock).
   */
  progress(p: ShardProgress): Promise<void> {
    return this.sink.progress(this.shard, p);
  }

  /** Too many results wait for the store: the producer should hold back (or `flush`). */
  get congested(): boolean {
    return this.sink.congested;
  }

  /** Everything written so far is stored, or the write error (StoreWriteError) is thrown. */
  async flush(): Promise<void> {
    await this.sink.flush();
  }

  /** Rows the store took (a target it already held is not counted). */
  get inserted(): number {
    return this.sink.inserted;
  }

  /**
   * The last rows are stored (nothing is written through this record after it); a shard that ran to its end (`complete`) is marked finished, and
   * with it the scan once all its shards are. Returns the shard's counts from its rows (exact
   * whatever was probed twice or rolled back).
   */
  async finish(complete: boolean): Promise<Record<string, number>> {
    // Every row committed (by the writer thread, which is let go of) before the counts are read.
    await this.sink.close();
    const exact = await this.counts();
    if (complete) await this.store.finishShard(this.scanId, this.shard, exact);
    return exact;
  }

  /** A shard whose last checkpoint said complete, left unfinished by a kill: finish it now. */
  static async finishLeftOver(
    store: ScanWriter,
    scanId: string,
    shard: string,
  ): Promise<Record<string, number> | undefined> {
    const known = (await store.listShards(scanId)).find((x) => x.shard === shard);
    if (!known) return undefined;
    const exact = await store.stateCounts(scanId, shard);
    if (!known.finishedAt) await store.finishShard(scanId, shard, exact);
    return exact;
  }
}
