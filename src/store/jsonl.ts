/**
 * JSONL sink: one result a line, to a file or stdout. Lines are batched; `flushSync` makes every
 * accepted line reach the kernel so a resume checkpoint can record an exact byte offset (a
 * SIGKILL loses nothing the kernel has).
 */
import fs from "node:fs";

const BATCH_BYTES = 64 * 1024;

export interface ResultSink {
  write(record: object): void;
  /** One record serialised already (JSON, no line break): written as its line. */
  writeJson(json: string): void;
  /** True while the sink wants the producer to pause (stdout pipe full). */
  readonly congested: boolean;
  flushSync(): void;
  close(): Promise<void>;
  /** Bytes of complete lines handed to the kernel so far (file sinks), including what was there before. */
  readonly bytesWritten: number;
}

/** Lines are collected and handed on in batches of about BATCH_BYTES. */
abstract class BatchingSink implements ResultSink {
  private parts: string[] = [];
  private partBytes = 0;
  protected written = 0;

  abstract get congested(): boolean;
  protected abstract writeBatch(batch: string): void;
  abstract close(): Promise<void>;

  get bytesWritten(): number {
    return this.written;
  }

  write(record: object): void {
    this.writeJson(JSON.stringify(record));
  }

  writeJson(json: string): void {
    const line = `${json}\n`;
    this.parts.push(line);
    this.partBytes += line.length;
    if (this.partBytes >= BATCH_BYTES) this.flushSync();
  }

  flushSync(): void {
    if (this.parts.length === 0) return;
    const batch = this.parts.join("");
    this.parts = [];
    this.partBytes = 0;
    this.writeBatch(batch);
  }
}

export class JsonlFileSink extends BatchingSink {
  private readonly fd: number;

  /** `append` keeps what the file holds (resume); otherwise it is truncated. */
  constructor(path: string, append: boolean) {
    super();
    this.fd = fs.openSync(path, append ? "a" : "w");
    this.written = append ? fs.fstatSync(this.fd).size : 0;
  }

  get congested(): boolean {
    return false;
  }

  /** Synchronous on purpose: when it returns, the kernel has the bytes (resume offsets). */
  protected writeBatch(batch: string): void {
    const buf = Buffer.from(batch, "utf8");
    let off = 0;
    while (off < buf.length) off += fs.writeSync(this.fd, buf, off);
    this.written += buf.length;
  }

  async close(): Promise<void> {
    this.flushSync();
    fs.closeSync(this.fd);
  }
}

export class JsonlStreamSink extends BatchingSink {
  constructor(private readonly stream: NodeJS.WritableStream & { writableNeedDrain?: boolean }) {
    super();
  }

  get congested(): boolean {
    return this.stream.writableNeedDrain === true;
  }

  /** The stream may still buffer the batch: `congested` tells the engine to hold back. */
  protected writeBatch(batch: string): void {
    this.written += Buffer.byteLength(batch);
    this.stream.write(batch);
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

/** Counts of lines that did not parse are the caller's business; this only yields good ones. */
export function* readJsonlFrom(path: string, offset: number): Generator<Record<string, unknown>> {
  const size = fs.statSync(path).size;
  if (offset >= size) return;
  const fd = fs.openSync(path, "r");
  try {
    const buf = Buffer.alloc(size - offset);
    fs.readSync(fd, buf, 0, buf.length, offset);
    for (const line of buf.toString("utf8").split("\n")) {
      if (!line) continue;
      try {
        yield JSON.parse(line) as Record<string, unknown>;
      } catch {
        // A torn last line from a killed process: the caller truncates it away.
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Cut a torn trailing line (the process was killed mid-write) so appends start on a line
 * boundary. Returns the new size.
 */
export function truncateToLastNewline(path: string): number {
  const size = fs.statSync(path).size;
  if (size === 0) return 0;
  const fd = fs.openSync(path, "r+");
  try {
    const window = 64 * 1024;
    let end = size;
    const buf = Buffer.alloc(window);
    while (end > 0) {
      const start = Math.max(0, end - window);
      const n = fs.readSync(fd, buf, 0, end - start, start);
      const idx = buf.subarray(0, n).lastIndexOf(0x0a);
      if (idx >= 0) {
        const keep = start + idx + 1;
        if (keep !== size) fs.ftruncateSync(fd, keep);
        return keep;
      }
      end = start;
    }
    fs.ftruncateSync(fd, 0);
    return 0;
  } finally {
    fs.closeSync(fd);
  }
}
