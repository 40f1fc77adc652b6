/**
 * The one batching queue of redscope's sinks (a scan's JSONL and store writes, the honeypot's
 * recording): items wait in order, go out in batches (by count and by bytes), one batch at a
 * time, to a writer that may be synchronous (a file) or not (a database). The queue bounds what
 * waits, tells the producer when to hold back, and gives a flush that is a barrier: it resolves
 * once everything pushed before it is written.
 *
 * What a failed batch does is the sink's policy:
 * - `stop` (a scan): nothing more is written and the error stays (flush throws it), so a resume
 *   checkpoint never covers rows that were lost;
 * - `drop` (a JSONL file the honeypot writes): the batch is lost, reported, and the next one tried;
 * - `retry` (the honeypot's store): the batch is tried again with backoff until it is written,
 *   while new items wait; a batch the writer refuses for what it holds is dropped and reported.
 */

import type { ByteAccount } from "../untrusted/account.js";

export type FailurePolicy =
  | { mode: "stop"; wrap?: (e: unknown) => Error }
  | { mode: "drop" }
  | {
      mode: "retry";
      firstMs: number;
      longestMs: number;
      /** The writer refused the batch for what it holds: trying again would fail the same way. */
      refuses?: (e: unknown) => boolean;
      /** Trying again cannot help (a damaged file): the queue stops as under `stop`. */
      fatal?: (e: unknown) => boolean;
    };

export interface QueueEvents<T> {
  /** Items lost: refused by the account (`full`), or in a batch that failed (`failed`). */
  dropped?(items: readonly T[], why: "full" | "failed", error?: unknown): void;
  /** A batch failed and will be tried again (retry). */
  failing?(error: unknown): void;
  /** A batch was written after failures. */
  recovered?(): void;
  /** The queue stopped for good (stop, or a fatal error under retry). */
  stopped?(error: Error): void;
}

export interface QueueOptions<T> {
  /** Items in one batch at most. */
  batchItems: number;
  /** Bytes in one batch at most (with `sizeOf`): a batch is whole once either is reached. */
  batchBytes?: number;
  sizeOf?: (item: T) => number;
  /** Items waiting past which `congested` says so. */
  congestedAt?: number;
  /** Or bytes waiting (with `sizeOf`) past which it does. */
  congestedBytes?: number;
  /** Waiting items' bytes are taken from here; an item it has no room for is dropped. */
  account?: ByteAccount;
  /** Items with the same key replace the one still waiting (the latest state of a thing wins). */
  key?: (item: T) => string | undefined;
  failure: FailurePolicy;
  events?: QueueEvents<T>;
}

interface Waiting<T> {
  item: T;
  bytes: number;
  key: string | undefined;
  /** Its place in the order of pushes (kept when a later item with its key replaces it). */
  order: number;
}

const never = (): false => false;

export class BatchQueue<T> {
  private waiting: Array<Waiting<T> | undefined> = [];
  private head = 0;
  private count = 0;
  private waitingBytes = 0;
  private readonly keyed = new Map<string, number>();
  /** The batch being written (or waiting to be tried again). */
  private batch: Array<Waiting<T>> | undefined;
  private pump: Promise<void> | undefined;
  private failure: Error | undefined;
  private failingNow = false;
  private retryMs = 0;
  private wake: (() => void) | undefined;
  private hurry = false;
  private closed = false;

  constructor(
    private readonly write: (batch: T[]) => void | Promise<void>,
    private readonly opts: QueueOptions<T>,
  ) {
    if (opts.failure.mode === "retry") this.retryMs = opts.failure.firstMs;
  }

  /** The error that stopped the queue (stop, or fatal under retry). */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Too much waits: the producer should hold back. */
  get congested(): boolean {
    const { congestedAt, congestedBytes } = this.opts;
    return (
      (congestedAt !== undefined && this.count > congestedAt) ||
      (congestedBytes !== undefined && this.waitingBytes > congestedBytes)
    );
  }

  /** Items waiting or being written. */
  get size(): number {
    return this.count + (this.batch?.length ?? 0);
  }

  /** The items not written yet, oldest first (for what a deadline leaves unwritten). */
  unwritten(): T[] {
    const out = (this.batch ?? []).map((w) => w.item);
    for (let i = this.head; i < this.waiting.length; i++) {
      const w = this.waiting[i];
      if (w !== undefined) out.push(w.item);
    }
    return out;
  }

  /** Queue an item; false when it was dropped (the queue stopped, or no room for it). */
  push(item: T): boolean {
    if (this.failure !== undefined || this.closed) return false;
    const bytes = this.opts.sizeOf?.(item) ?? 0;
    const key = this.opts.key?.(item);
    const at = key === undefined ? undefined : this.keyed.get(key);
    const old = at === undefined ? undefined : this.waiting[at];
    const extra = bytes - (old?.bytes ?? 0);
    if (extra > 0 && this.opts.account && !this.opts.account.take(extra)) {
      this.opts.events?.dropped?.([item], "full");
      return false;
    }
    if (extra < 0) this.opts.account?.give(-extra);
    const w: Waiting<T> = { item, bytes, key, order: old?.order ?? this.pushed++ };
    if (old !== undefined && at !== undefined) {
      this.waiting[at] = w;
      this.waitingBytes += extra;
    } else {
      if (key !== undefined) this.keyed.set(key, this.waiting.length);
      this.waiting.push(w);
      this.count++;
      this.waitingBytes += bytes;
    }
    if (this.wholeBatchWaits()) this.send();
    return true;
  }

  private wholeBatchWaits(): boolean {
    const { batchItems, batchBytes } = this.opts;
    return (
      this.count >= batchItems || (batchBytes !== undefined && this.waitingBytes >= batchBytes)
    );
  }

  /** The next batch, taken from the front. */
  private take(): Array<Waiting<T>> | undefined {
    if (this.count === 0) return undefined;
    const { batchItems, batchBytes } = this.opts;
    const batch: Array<Waiting<T>> = [];
    let bytes = 0;
    while (this.head < this.waiting.length && batch.length < batchItems) {
      if (batchBytes !== undefined && batch.length > 0 && bytes >= batchBytes) break;
      const w = this.waiting[this.head]!;
      this.waiting[this.head++] = undefined;
      if (w.key !== undefined) this.keyed.delete(w.key);
      batch.push(w);
      bytes += w.bytes;
    }
    this.count -= batch.length;
    this.waitingBytes -= bytes;
    // Compact now and then so the array does not grow with what went through it.
    if (this.head > 4096 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
      this.keyed.clear();
      this.waiting.forEach((w, i) => {
        if (w?.key !== undefined) this.keyed.set(w.key, i);
      });
    }
    return batch;
  }

  /** Start writing what waits, unless a write (or a wait before trying again) is under way. */
  private send(): void {
    if (this.pump !== undefined || this.failure !== undefined || this.closed) return;
    this.pump = this.drain();
    if (this.pump !== undefined) {
      void this.pump.finally(() => {
        this.pump = undefined;
      });
    }
  }

  /**
   * Write batches until none waits. With a synchronous writer this returns undefined having
   * written everything (the file has the lines when push or flushSync returns).
   */
  private drain(): Promise<void> | undefined {
    for (;;) {
      if (this.failure !== undefined) return undefined;
      this.batch ??= this.take();
      const batch = this.batch;
      if (batch === undefined) return undefined;
      let out: void | Promise<void>;
      try {
        out = this.write(batch.map((w) => w.item));
      } catch (e) {
        if (this.failed(batch, e)) continue;
        return this.failure === undefined ? this.retryLater() : undefined;
      }
      if (out === undefined) {
        this.written(batch);
        continue;
      }
      return out.then(
        () => {
          this.written(batch);
          return this.drain();
        },
        (e: unknown) =>
          this.failed(batch, e)
            ? this.drain()
            : this.failure === undefined
              ? this.retryLater()
              : undefined,
      );
    }
  }

  private written(batch: Array<Waiting<T>>): void {
    this.batch = undefined;
    this.release(batch);
    if (this.opts.failure.mode === "retry") this.retryMs = this.opts.failure.firstMs;
    if (this.failingNow) {
      this.failingNow = false;
      this.opts.events?.recovered?.();
    }
  }

  /** A batch failed: true to go on with the next batch, false to try this one again later. */
  private failed(batch: Array<Waiting<T>>, e: unknown): boolean {
    const policy = this.opts.failure;
    if (policy.mode === "stop" || (policy.mode === "retry" && (policy.fatal ?? never)(e))) {
      this.stop(policy.mode === "stop" && policy.wrap ? policy.wrap(e) : asError(e));
      return false;
    }
    if (policy.mode === "drop" || (policy.refuses ?? never)(e)) {
      this.batch = undefined;
      this.release(batch);
      this.opts.events?.dropped?.(
        batch.map((w) => w.item),
        "failed",
        e,
      );
      return true;
    }
    this.failingNow = true;
    this.opts.events?.failing?.(e);
    return false;
  }

  /** The queue stops: what waits is lost (and said), nothing more is taken. */
  private stop(error: Error): void {
    this.failure = error;
    const lost = this.unwritten();
    this.release(this.batch ?? []);
    this.batch = undefined;
    for (let i = this.head; i < this.waiting.length; i++) {
      const w = this.waiting[i];
      if (w !== undefined) this.opts.account?.give(w.bytes);
    }
    this.waiting = [];
    this.head = 0;
    this.count = 0;
    this.waitingBytes = 0;
    this.keyed.clear();
    if (lost.length > 0 && this.opts.failure.mode === "retry") {
      this.opts.events?.dropped?.(lost, "failed", error);
    }
    this.opts.events?.stopped?.(error);
  }

  private release(batch: Array<Waiting<T>>): void {
    if (!this.opts.account) return;
    let bytes = 0;
    for (const w of batch) bytes += w.bytes;
    if (bytes > 0) this.opts.account.give(bytes);
  }

  /** Wait (doubling, up to the longest; short while closing), then go on draining. */
  private retryLater(): Promise<void> | undefined {
    // Closed: past close()'s deadline nothing more is tried; what is left stays unwritten.
    if (this.closed) return undefined;
    const policy = this.opts.failure as Extract<FailurePolicy, { mode: "retry" }>;
    const ms = this.hurry ? policy.firstMs : this.retryMs;
    this.retryMs = Math.min(policy.longestMs, this.retryMs * 2);
    return new Promise<void>((resolve) => {
      // Held (not unref'd): writes still pending keep the process alive; close() ends the wait.
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    }).then(() => (this.closed ? undefined : this.drain()));
  }

  /** Hand a batch that is not whole to the writer now (a synchronous writer: returns written). */
  flushSync(): void {
    this.send();
    if (this.failure) throw this.failure;
  }

  /** Write what waits now, whole batch or not (the honeypot's recorder does it every so often). */
  kick(): void {
    this.send();
  }

  /**
   * Everything pushed before this call is written: true; false when `timeoutMs` ran out first
   * (it stays queued). Under `stop`, the error is thrown. Items pushed while it waits are not
   * waited for (a checkpoint taken just before covers exactly what this waits for).
   */
  async flush(timeoutMs?: number): Promise<boolean> {
    const done = this.until(this.pushed);
    let ok = true;
    if (timeoutMs === undefined) await done;
    else ok = await within(done, timeoutMs);
    if (this.failure) throw this.failure;
    return ok;
  }

  /**
   * Stop taking items; write what waits within `timeoutMs`; true when all of it was written.
   * Past the deadline nothing more is tried: what is left stays in `unwritten()`.
   */
  async close(timeoutMs?: number): Promise<boolean> {
    this.hurry = true;
    this.wake?.();
    let ok: boolean;
    try {
      ok = await this.flush(timeoutMs);
    } finally {
      this.closed = true;
      this.wake?.();
    }
    return ok;
  }

  /** Items pushed so far: the order the next one gets. */
  private pushed = 0;

  /** Resolves once no item pushed before `target` waits or is being written (or it stopped). */
  private async until(target: number): Promise<void> {
    for (;;) {
      this.send();
      if (this.failure !== undefined || this.closed || !this.holdsBefore(target)) return;
      const pump = this.pump;
      if (pump === undefined) return;
      await pump;
    }
  }

  /** Batches go out in order: only the front and the batch in flight can be older than target. */
  private holdsBefore(target: number): boolean {
    if (this.batch?.some((w) => w.order < target)) return true;
    for (let i = this.head; i < this.waiting.length; i++) {
      const w = this.waiting[i];
      if (w !== undefined) return w.order < target;
    }
    return false;
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** True when `promise` settles within `ms`, false when the time runs out first. */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
