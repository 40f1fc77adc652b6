/**
 * JSONL: one record a line, to a file or stdout, through the one batching queue (queue.ts)
 * with a synchronous writer: lines go out in batches of about BATCH_BYTES, and `flushSync`
 * hands every accepted line to the kernel, so a resume checkpoint can record an exact byte
 * offset (a SIGKILL loses nothing the kernel has); `sync` makes them durable.
 */
import fs from "node:fs";
import { BatchQueue } from "./queue.js";
import type { Sink } from "./sink.js";

const BATCH_BYTES = 64 * 1024;

/**
 * The output could not be written (a full disk, a quota, an I/O error). The file keeps every
 * line written before, whole; the message says which file and why, on one line.
 */
export class OutputWriteError extends Error {
  constructor(
    message: string,
    /** The system's reason alone, e.g. `ENOSPC (no space left on device)`. */
    readonly reason: string,
  ) {
    super(message);
  }
}

/** Where the lines go: a file (created, or appended to) or a stream (stdout). */
export type JsonlTarget =
  | { path: string; append: boolean }
  | { stream: NodeJS.WritableStream & { writableNeedDrain?: boolean } };

export interface JsonlOptions<T> {
  /**
   * What a failed write does. `stop` (a scan): nothing more is written and `error` keeps it,
   * so a resume checkpoint's offset stays true. `drop` (the honeypot, which must keep
   * recording): the failed batch's lines are lost, `onDropped` is told which, and the next
   * batch is tried as usual.
   */
  onFailure: "stop" | "drop";
  /** The record's line (JSON, no line break); JSON.stringify when absent. */
  line?: (item: T) => string;
  onDropped?: (items: readonly T[], error: OutputWriteError) => void;
}

interface Line<T> {
  item: T;
  text: string;
}

export class JsonlSink<T = object> implements Sink<T> {
  private readonly queue: BatchQueue<Line<T>>;
  private readonly fd: number | undefined;
  private readonly stream: (NodeJS.WritableStream & { writableNeedDrain?: boolean }) | undefined;
  private readonly name: string;
  private written = 0;

  constructor(
    target: JsonlTarget,
    private readonly opts: JsonlOptions<T>,
  ) {
    if ("path" in target) {
      this.fd = fs.openSync(target.path, target.append ? "a" : "w");
      this.written = target.append ? fs.fstatSync(this.fd).size : 0;
      this.name = target.path;
    } else {
      this.stream = target.stream;
      this.name = "the results";
    }
    this.queue = new BatchQueue<Line<T>>((batch) => this.writeLines(batch), {
      batchItems: Number.POSITIVE_INFINITY,
      batchBytes: BATCH_BYTES,
      sizeOf: (l) => l.text.length,
      failure:
        opts.onFailure === "stop"
          ? { mode: "stop", wrap: (e) => this.describe(e) }
          : { mode: "drop" },
      events: {
        dropped: (lines, _why, e) =>
          opts.onDropped?.(
            lines.map((l) => l.item),
            e instanceof OutputWriteError ? e : this.describe(e),
          ),
      },
    });
  }

  /** Queued; a whole batch is written at once. Never throws: a failure goes by the policy. */
  write(item: T): void {
    this.queue.push({
      item,
      text: `${this.opts.line ? this.opts.line(item) : JSON.stringify(item)}\n`,
    });
  }

  /** A stream that cannot take more (stdout to a slow reader) asks the producer to hold back. */
  get congested(): boolean {
    return this.stream?.writableNeedDrain === true;
  }

  /** The error that stopped the sink (`stop`); nothing is written after it. */
  get error(): OutputWriteError | undefined {
    return this.queue.error as OutputWriteError | undefined;
  }

  /** Bytes of complete lines handed to the kernel so far, including what the file held before. */
  get bytesWritten(): number {
    return this.written;
  }

  /** Hand every accepted line to the kernel; throws the error that stopped the sink. */
  flushSync(): void {
    this.queue.flushSync();
  }

  /** The file has every line when this returns (the writer is synchronous). */
  async flush(): Promise<boolean> {
    this.flushSync();
    return true;
  }

  unwritten(): T[] {
    return this.queue.unwritten().map((l) => l.item);
  }

  /** Make what the kernel has durable (fdatasync; nothing for a stream). */
  sync(): void {
    if (this.fd === undefined || this.error) return;
    try {
      fs.fdatasyncSync(this.fd);
    } catch {
      // Durability against a power cut only; a kill loses nothing the kernel has.
    }
  }

  /** The lines go out and the file is closed (a stream is drained, never ended). */
  async close(): Promise<boolean> {
    try {
      this.flushSync();
    } finally {
      if (this.fd !== undefined) fs.closeSync(this.fd);
    }
    const stream = this.stream;
    if (stream?.writableNeedDrain) {
      // stdout is never ended (the summary may follow on stderr); wait for it to drain.
      await new Promise<void>((resolve) => stream.once("drain", () => resolve()));
    }
    return true;
  }

  /**
   * Synchronous on purpose: when it returns, the kernel has the bytes (resume offsets). A write
   * that fails part-way (a full disk) is cut back to the last whole line before the error goes
   * up, so the file never ends in a torn line.
   */
  private writeLines(batch: Array<Line<T>>): void {
    let text = "";
    for (const l of batch) text += l.text;
    if (this.stream) {
      this.written += Buffer.byteLength(text);
      this.stream.write(text);
      return;
    }
    const fd = this.fd!;
    const buf = Buffer.from(text, "utf8");
    let off = 0;
    try {
      while (off < buf.length) off += fs.writeSync(fd, buf, off);
    } catch (e) {
      try {
        fs.ftruncateSync(fd, this.written);
      } catch {
        // The error says the write failed; the resume offset still marks whole lines.
      }
      throw e;
    }
    this.written += buf.length;
  }

  private describe(e: unknown): OutputWriteError {
    const reason = errnoText(e);
    return new OutputWriteError(
      this.fd === undefined
        ? `writing ${this.name} failed: ${reason}`
        : `writing ${this.name} failed: ${reason}; it holds every line written before, whole`,
      reason,
    );
  }
}

/** `ENOSPC (no space left on device)`: the code and what it means, for one line. */
function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== "string") return String(e);
  const why = /^[A-Z]+: ([^,]+)/.exec(err.message ?? "")?.[1];
  return why ? `${err.code} (${why})` : err.code;
}

/**
 * Take an output file back to a resume checkpoint's offset: the lines written after it are
 * cut off (their targets are probed again). A file shorter than the checkpoint was changed by
 * someone else, and is refused rather than guessed at.
 */
export function rollbackOutput(path: string, bytes: number): void {
  let size: number;
  try {
    size = fs.statSync(path).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && bytes === 0) return;
    throw new Error(
      `it is ${errnoText(e)}, where the checkpoint says it held ${bytes} bytes of results`,
    );
  }
  if (size < bytes) {
    throw new Error(
      `it holds ${size} bytes, fewer than the ${bytes} the checkpoint says were written: it was changed after the scan wrote it`,
    );
  }
  if (size > bytes) fs.truncateSync(path, bytes);
}
