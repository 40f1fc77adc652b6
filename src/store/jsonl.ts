/**
 * JSONL sink: one result a line, to a file or stdout. Lines are batched; `flushSync` makes every
 * accepted line reach the kernel so a resume checkpoint can record an exact byte offset (a
 * SIGKILL loses nothing the kernel has), and `sync` makes them durable.
 */
import fs from "node:fs";

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

export interface ResultSink {
  /**
   * After a failed write, lines are dropped; `stop` sinks never throw here (`error` says why),
   * `drop` sinks throw the error of the batch that failed.
   */
  write(record: object): void;
  /** One record serialised already (JSON, no line break): written as its line. */
  writeJson(json: string): void;
  /** True while the sink wants the producer to pause (stdout pipe full). */
  readonly congested: boolean;
  /** Hand every accepted line to the kernel; throws the write error, if there was one. */
  flushSync(): void;
  /** Make what the kernel has durable (fdatasync; nothing for streams). */
  sync(): void;
  close(): Promise<void>;
  /** Bytes of complete lines handed to the kernel so far (file sinks), including what was there before. */
  readonly bytesWritten: number;
  /** The first write error; nothing is written after it. */
  readonly error: OutputWriteError | undefined;
}

/**
 * What a failed write does. `stop` (a scan): nothing more is written and `error` keeps it, so a
 * resume checkpoint's offset stays true. `drop` (the honeypot, which must keep recording): the
 * failed batch's lines are lost, the error is thrown to the writer that handed over the line
 * that filled the batch (it counts what was lost), and the next batch is tried as usual.
 */
export type OnWriteFailure = "stop" | "drop";

/** Lines are collected and handed on in batches of about BATCH_BYTES. */
abstract class BatchingSink implements ResultSink {
  private parts: string[] = [];
  private partBytes = 0;
  protected written = 0;
  private failure: OutputWriteError | undefined;

  constructor(private readonly onFailure: OnWriteFailure) {}

  abstract get congested(): boolean;
  /** Write the whole batch, or throw (leaving no partial line behind). */
  protected abstract writeBatch(batch: string): void;
  /** What the write error means, for the user. */
  protected abstract describe(e: unknown): string;
  abstract close(): Promise<void>;

  get bytesWritten(): number {
    return this.written;
  }

  get error(): OutputWriteError | undefined {
    return this.failure;
  }

  sync(): void {}

  write(record: object): void {
    this.writeJson(JSON.stringify(record));
  }

  writeJson(json: string): void {
    if (this.failure) return;
    const line = `${json}\n`;
    this.parts.push(line);
    this.partBytes += line.length;
    if (this.partBytes < BATCH_BYTES) return;
    if (this.onFailure === "drop") {
      this.flushSync();
      return;
    }
    try {
      this.flushSync();
    } catch {
      // Kept in `error`; the producer looks there (a write from a socket handler must not throw).
    }
  }

  flushSync(): void {
    if (this.failure) throw this.failure;
    if (this.parts.length === 0) return;
    const batch = this.parts.join("");
    this.parts = [];
    this.partBytes = 0;
    try {
      this.writeBatch(batch);
    } catch (e) {
      const error = new OutputWriteError(this.describe(e), errnoText(e));
      if (this.onFailure === "stop") this.failure = error;
      throw error;
    }
  }
}

/** `ENOSPC (no space left on device)`: the code and what it means, for one line. */
function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== "string") return String(e);
  const why = /^[A-Z]+: ([^,]+)/.exec(err.message ?? "")?.[1];
  return why ? `${err.code} (${why})` : err.code;
}

export class JsonlFileSink extends BatchingSink {
  private readonly fd: number;

  /** `append` keeps what the file holds (resume); otherwise it is truncated. */
  constructor(
    private readonly path: string,
    append: boolean,
    onFailure: OnWriteFailure = "stop",
  ) {
    super(onFailure);
    this.fd = fs.openSync(path, append ? "a" : "w");
    this.written = append ? fs.fstatSync(this.fd).size : 0;
  }

  get congested(): boolean {
    return false;
  }

  /**
   * Synchronous on purpose: when it returns, the kernel has the bytes (resume offsets). A write
   * that fails part-way (a full disk) is cut back to the last whole line before the error goes
   * up, so the file never ends in a torn line.
   */
  protected writeBatch(batch: string): void {
    const buf = Buffer.from(batch, "utf8");
    let off = 0;
    try {
      while (off < buf.length) off += fs.writeSync(this.fd, buf, off);
    } catch (e) {
      try {
        fs.ftruncateSync(this.fd, this.written);
      } catch {
        // The error below says the write failed; the resume offset still marks whole lines.
      }
      throw e;
    }
    this.written += buf.length;
  }

  protected describe(e: unknown): string {
    return `writing ${this.path} failed: ${errnoText(e)}; it holds every line written before, whole`;
  }

  override sync(): void {
    if (this.error) return;
    try {
      fs.fdatasyncSync(this.fd);
    } catch {
      // Durability against a power cut only; a kill loses nothing the kernel has.
    }
  }

  /** The lines go out and the file is closed; a write error is thrown after closing. */
  async close(): Promise<void> {
    try {
      this.flushSync();
    } finally {
      fs.closeSync(this.fd);
    }
  }
}

export class JsonlStreamSink extends BatchingSink {
  constructor(
    private readonly stream: NodeJS.WritableStream & { writableNeedDrain?: boolean },
    onFailure: OnWriteFailure = "stop",
  ) {
    super(onFailure);
  }

  get congested(): boolean {
    return this.stream.writableNeedDrain === true;
  }

  /** The stream may still buffer the batch: `congested` tells the engine to hold back. */
  protected writeBatch(batch: string): void {
    this.written += Buffer.byteLength(batch);
    this.stream.write(batch);
  }

  protected describe(e: unknown): string {
    return `writing the results failed: ${errnoText(e)}`;
  }

  close(): Promise<void> {
    this.flushSync();
    return new Promise((resolve) => {
      // stdout is never ended (the summary may follow on stderr); wait for it to drain.
      if (!this.stream.writableNeedDrain) resolve();
      else this.stream.once("drain", () => resolve());
    });
  }
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
