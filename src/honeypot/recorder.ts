/**
 * Where the honeypot's sessions and events go: the store (SQLite or PostgreSQL: many sensors,
 * one database) and/or JSONL. Writes are batched off the connection path.
 *
 * A store that fails (a full disk, a database restarting, a lost network) must not stop the
 * recording: a batch that fails is tried again, with backoff, until it is written, while new
 * rows wait in a queue bounded in bytes (a share of the honeypot's memory budget). Past that
 * bound new events are dropped and counted. What is dropped, what fails and when writing works
 * again is said on stderr, one line at a time and at most one every WARN_EVERY_MS. A batch the
 * store refuses for what it holds (a constraint, a value it cannot take) would fail forever: it
 * is dropped, counted and said. Shutting down writes what is left within a deadline, then says
 * what could not be written.
 */
import { Worker } from "node:worker_threads";
import {
  type HoneypotEventRow,
  type HoneypotSessionRow,
  type Store,
  StoreDamagedError,
} from "../store/index.js";
import { OutputWriteError, type ResultSink } from "../store/jsonl.js";
import { type ByteAccount, MemoryBudget } from "./memory.js";
import type { WriterReply } from "./recorder-worker.js";

/** Rows lost: dropped while running, or not written when the recorder closed. */
export interface RowCounts {
  sessions: number;
  events: number;
}

/** What close() could not write before its deadline, and the last reason writes failed. */
export interface Unwritten extends RowCounts {
  reason: string;
}

export interface HoneypotRecorder {
  /**
   * `serialised`: the row as JSON, when the caller has it already (it counts its size): a row
   * is serialised once, and that text is what is queued, counted and written.
   */
  session(row: HoneypotSessionRow, serialised?: Serialised): void;
  event(row: HoneypotEventRow, serialised?: Serialised): void;
  /**
   * Write everything handed over so far, within `timeoutMs`; what is still unwritten then
   * (nothing: undefined), and it stays queued.
   */
  flush(timeoutMs?: number): Promise<Unwritten | undefined>;
  /** Write what is left within `timeoutMs`, then let go of the store; what was not written. */
  close(timeoutMs?: number): Promise<Unwritten | undefined>;
  /** Rows dropped so far (a full queue, a store that refused them, a failing file). */
  readonly dropped: RowCounts;
}

/** A row as JSON, and the bytes that takes (UTF-8): what it costs on disk and in a queue. */
export interface Serialised {
  json: string;
  bytes: number;
}

export function serialise(row: object): Serialised {
  const json = JSON.stringify(row);
  return { json, bytes: Buffer.byteLength(json) };
}

/**
 * A session row's size without serialising it, for a start row (an empty record: its other
 * fields are short and of fixed shape, so this errs above); any other is measured.
 */
function rowBytes(row: HoneypotSessionRow): number {
  for (const _ in row.record) return serialise(row).bytes;
  return 384 + row.sensor.length + row.listener.length + row.persona.length + row.srcIp.length;
}

/** Bytes waiting to be written, when no share of a memory budget is given. */
const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
/**
 * Rows in one batch (one write to the store), and bytes: a batch is serialised whole on its way
 * to the writer, so 2,000 events of 32 KB would cost 64 MB at once, several times over.
 */
const BATCH = 2000;
const BATCH_BYTES = 4 * 1024 * 1024;
const FLUSH_MS = 500;
/** Retries after a failed write: the first soon, then doubling up to the longest. */
const RETRY_FIRST_MS = 250;
const RETRY_LONGEST_MS = 5000;
/** At most one line on stderr in this long. */
export const WARN_EVERY_MS = 10_000;
/** How long close() tries by default before it gives up on what is left. */
export const CLOSE_TIMEOUT_MS = 5000;
/** How long the writer may take to let go of the store after that. */
const RELEASE_TIMEOUT_MS = 2000;
/** Rows written in one transaction before the event loop gets a turn. */
const SLICE = 250;

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** True when `promise` settles within `ms`, false when the time runs out first. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
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

/**
 * An error the store gives for what a batch holds rather than for its own state: trying the
 * same batch again would fail the same way. SQLite's codes (better-sqlite3 `code`) and
 * PostgreSQL's SQLSTATE classes 22 (data exception) and 23 (integrity constraint).
 */
export function refusesBatch(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") {
    if (/^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code)) return true;
    if (/^2[23][0-9A-Z]{3}$/.test(code)) return true;
  }
  // JSON.stringify of a batch too big for one string.
  return e instanceof RangeError;
}

/** The text a failure is reported by: the store's code and message, printable, bounded. */
function reasonOf(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  const message = e instanceof Error ? e.message : String(e);
  const text =
    typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}

const count = (n: number): string => n.toLocaleString("en-US");

/**
 * Says on stderr, at most one line every WARN_EVERY_MS, what the recorder dropped or could not
 * write and why; and when a failure it announced is over.
 */
class Warnings {
  private last = Number.NEGATIVE_INFINITY;
  private dropped: RowCounts = { sessions: 0, events: 0 };
  private dropReason = "";
  private failingSince: number | undefined;
  private failure = "";
  /** The current failure was said: its end will be too. */
  private announced = false;
  private news = false;

  constructor(
    private readonly warn: ((line: string) => void) | undefined,
    private readonly waiting: () => string,
  ) {}

  drop(rows: RowCounts, reason: string): void {
    this.dropped.sessions += rows.sessions;
    this.dropped.events += rows.events;
    this.dropReason = reason;
    this.news = true;
    this.tick();
  }

  failed(reason: string): void {
    if (this.failingSince === undefined) {
      this.failingSince = Date.now();
      this.announced = false;
    }
    if (reason !== this.failure) this.news = true;
    this.failure = reason;
    this.tick();
  }

  recovered(): void {
    if (this.failingSince === undefined) return;
    const seconds = ((Date.now() - this.failingSince) / 1000).toFixed(1);
    this.failingSince = undefined;
    if (!this.announced) return;
    // The end of a failure that was said is said at once, with what was lost meanwhile.
    this.say(`writing to the store again after ${seconds} s of failures${this.drops()}`);
  }

  /** Called on every flush tick as well: a failure that goes on is said again. */
  tick(): void {
    if (this.warn === undefined || Date.now() - this.last < WARN_EVERY_MS) return;
    if (this.failingSince !== undefined) {
      const since = new Date(this.failingSince).toISOString();
      this.announced = true;
      this.say(
        `cannot write to the store since ${since} (${this.failure}); retrying, ` +
          `${this.waiting()} waiting${this.drops()}`,
      );
    } else if (this.news) this.say(this.drops().slice(2));
  }

  /** `; N events and M sessions dropped: why`, and the counts start again. */
  private drops(): string {
    const d = this.dropped;
    if (d.sessions + d.events === 0) return "";
    this.dropped = { sessions: 0, events: 0 };
    return `; ${count(d.events)} events and ${count(d.sessions)} sessions dropped since the last message: ${this.dropReason}`;
  }

  private say(line: string): void {
    this.last = Date.now();
    this.news = false;
    this.warn?.(line);
  }
}

/** Where a recorder's batches go: the store on this thread, or SQLite on a thread of its own. */
export interface BatchWriter {
  /**
   * Sessions, then events (an event never refers to a session the store has not seen), each
   * row as its JSON.
   */
  write(sessions: string[], events: string[]): Promise<void>;
  close(): Promise<void>;
}

export interface RecorderOptions {
  /** Where the bytes waiting to be written are taken from (a share of the memory budget). */
  memory?: ByteAccount;
  /** One line on what was dropped or fails (the CLI writes it to stderr). */
  warn?: (line: string) => void;
  /** The store's file is damaged: recording cannot go on (the CLI stops the honeypot). */
  onFatal?: (e: StoreDamagedError) => void;
}

interface Batch {
  sessions: string[];
  /** Their ids: a session is counted once, whether its rows wait here or still queue. */
  sessionIds: string[];
  /** Of them, final rows (a lost one is a session lost: sessionsIn). */
  finals: number;
  events: string[];
  bytes: number;
}

/**
 * A session row lost counts as a session lost only when it is the final one: a start row that
 * never reaches the disk is replaced by the final row anyway.
 */
const sessionsIn = (row: HoneypotSessionRow): number => (row.endedAt !== undefined ? 1 : 0);

export class StoreRecorder implements HoneypotRecorder {
  /** Events waiting (JSON), in chunks of at most BATCH rows or BATCH_BYTES (a batch is one). */
  private chunks: string[][] = [];
  private chunkBytes: number[] = [];
  /**
   * Sessions waiting: the latest state of each (start, then end), as JSON, or as the row for
   * a start row: it usually gives way to its final row before a batch goes, so it is
   * serialised only if it is written. `final`: sessionsIn.
   */
  private sessions = new Map<
    string,
    { row: HoneypotSessionRow | string; bytes: number; final: number }
  >();
  /** The batch being written, or tried again. */
  private batch: Batch | undefined;
  private pump: Promise<void> | undefined;
  private retryMs = RETRY_FIRST_MS;
  private wake: (() => void) | undefined;
  private closing = false;
  /** close() is over: whatever is still under way stops. */
  private closed = false;
  private lastFailure = "";
  /** The store's file is damaged: recording has stopped (close() throws this). */
  private fatal: StoreDamagedError | undefined;
  private readonly onFatal: ((e: StoreDamagedError) => void) | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly writer: BatchWriter;
  private readonly memory: ByteAccount;
  private readonly warnings: Warnings;
  readonly dropped: RowCounts = { sessions: 0, events: 0 };

  /** A store (written on this thread) or a BatchWriter such as WorkerWriter. */
  constructor(target: Store | BatchWriter, options: RecorderOptions = {}) {
    this.writer = "write" in target ? target : storeWriter(target);
    this.memory = options.memory ?? new MemoryBudget(DEFAULT_QUEUE_BYTES).open(DEFAULT_QUEUE_BYTES);
    this.warnings = new Warnings(options.warn, () => this.waiting());
    this.onFatal = options.onFatal;
    this.timer = setInterval(() => {
      this.send();
      this.warnings.tick();
    }, FLUSH_MS);
    this.timer.unref();
  }

  session(row: HoneypotSessionRow, serialised?: Serialised): void {
    if (this.fatal) {
      this.dropped.sessions += sessionsIn(row);
      return;
    }
    const bytes = serialised?.bytes ?? rowBytes(row);
    // The latest state of a session wins: start, then end.
    const extra = bytes - (this.sessions.get(row.id)?.bytes ?? 0);
    if (extra > 0 && !this.memory.take(extra)) {
      // An older state still waiting is kept: better the start than nothing.
      this.drop({ sessions: sessionsIn(row), events: 0 }, "the write queue is full");
      return;
    }
    if (extra < 0) this.memory.give(-extra);
    this.sessions.set(row.id, { row: serialised?.json ?? row, bytes, final: sessionsIn(row) });
  }

  event(row: HoneypotEventRow, serialised = serialise(row)): void {
    if (this.fatal) {
      this.dropped.events++;
      return;
    }
    const bytes = serialised.bytes;
    if (!this.memory.take(bytes)) {
      this.drop({ sessions: 0, events: 1 }, "the write queue is full");
      return;
    }
    let last = this.chunks.length - 1;
    if (last < 0 || this.full(last)) {
      this.chunks.push([]);
      this.chunkBytes.push(0);
      last++;
    }
    this.chunks[last]!.push(serialised.json);
    this.chunkBytes[last]! += bytes;
    if (this.full(last)) this.send();
  }

  /** Chunk i is a whole batch. */
  private full(i: number): boolean {
    return this.chunks[i]!.length >= BATCH || this.chunkBytes[i]! >= BATCH_BYTES;
  }

  private drop(rows: RowCounts, reason: string): void {
    this.dropped.sessions += rows.sessions;
    this.dropped.events += rows.events;
    this.warnings.drop(rows, reason);
  }

  /** Rows waiting, for the messages. */
  private waiting(): string {
    const w = this.unwrittenCounts();
    return `${count(w.events)} events and ${count(w.sessions)} sessions`;
  }

  private unwrittenCounts(): RowCounts {
    let events = this.batch?.events.length ?? 0;
    for (const c of this.chunks) events += c.length;
    const ids = new Set(this.sessions.keys());
    for (const id of this.batch?.sessionIds ?? []) ids.add(id);
    return { sessions: ids.size, events };
  }

  /** Start writing what waits, unless a write (or a wait before trying again) is under way. */
  private send(): void {
    if (this.pump !== undefined) return;
    if (this.chunks.length === 0 && this.sessions.size === 0) return;
    this.pump = this.drain().finally(() => {
      this.pump = undefined;
    });
  }

  /** The next batch: the oldest events waiting and up to BATCH sessions. */
  private nextBatch(): Batch | undefined {
    if (this.chunks.length === 0 && this.sessions.size === 0) return undefined;
    const events = this.chunks.shift() ?? [];
    let bytes = this.chunkBytes.shift() ?? 0;
    const sessions: string[] = [];
    const sessionIds: string[] = [];
    let finals = 0;
    for (const [id, s] of this.sessions) {
      if (sessions.length >= BATCH || bytes >= 2 * BATCH_BYTES) break;
      sessions.push(typeof s.row === "string" ? s.row : JSON.stringify(s.row));
      sessionIds.push(id);
      finals += s.final;
      bytes += s.bytes;
      this.sessions.delete(id);
    }
    return { sessions, sessionIds, finals, events, bytes };
  }

  /** Write batches until none waits; a failed one is tried again after a wait. */
  private async drain(): Promise<void> {
    while (!this.closed) {
      this.batch ??= this.nextBatch();
      const batch = this.batch;
      if (batch === undefined) return;
      try {
        await this.writer.write(batch.sessions, batch.events);
      } catch (e) {
        this.lastFailure = reasonOf(e);
        if (e instanceof StoreDamagedError) {
          // Trying again cannot mend a damaged file: recording stops, and says so at once.
          this.damaged(e);
          return;
        }
        if (refusesBatch(e)) {
          this.batch = undefined;
          this.memory.give(batch.bytes);
          this.drop(
            { sessions: batch.finals, events: batch.events.length },
            `the store refused a batch (${this.lastFailure})`,
          );
          continue;
        }
        this.warnings.failed(this.lastFailure);
        await this.pause();
        continue;
      }
      this.batch = undefined;
      this.memory.give(batch.bytes);
      this.retryMs = RETRY_FIRST_MS;
      this.warnings.recovered();
    }
  }

  /**
   * The store's file is damaged: nothing more is written (what waits is dropped, counted), the
   * owner is told at once (it stops the honeypot), and close() throws the error.
   */
  private damaged(e: StoreDamagedError): void {
    this.fatal = e;
    this.closed = true;
    const lost = this.unwrittenCounts();
    this.dropped.sessions += lost.sessions;
    this.dropped.events += lost.events;
    this.batch = undefined;
    this.chunks = [];
    this.chunkBytes = [];
    this.sessions.clear();
    this.onFatal?.(e);
  }

  /** The wait before trying again: doubling, shortest while closing; close() cuts it short. */
  private pause(): Promise<void> {
    const ms = this.closing ? RETRY_FIRST_MS : this.retryMs;
    this.retryMs = Math.min(RETRY_LONGEST_MS, this.retryMs * 2);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Everything handed over is written: resolves when nothing waits. */
  private async written(): Promise<void> {
    for (;;) {
      this.send();
      if (this.pump === undefined) return;
      await this.pump;
    }
  }

  async flush(timeoutMs = CLOSE_TIMEOUT_MS): Promise<Unwritten | undefined> {
    if (await within(this.written(), timeoutMs)) return undefined;
    return { ...this.unwrittenCounts(), reason: this.lastFailure };
  }

  async close(timeoutMs = CLOSE_TIMEOUT_MS): Promise<Unwritten | undefined> {
    clearInterval(this.timer);
    this.closing = true;
    this.wake?.();
    const unwritten = await this.flush(timeoutMs);
    this.closed = true;
    this.wake?.();
    // A writer stuck on a store that does not answer is let go of all the same.
    await within(
      this.writer.close().catch(() => {}),
      RELEASE_TIMEOUT_MS,
    );
    if (this.fatal) throw this.fatal;
    return unwritten;
  }
}

/**
 * The store on this thread, in slices with a turn of the event loop between them: a 2,000-row
 * batch in one go would hold back every connection for ~10 ms. (The store is the caller's to
 * close.)
 */
function storeWriter(store: Store): BatchWriter {
  const rows = <T>(json: string[]): T[] => json.map((j) => JSON.parse(j) as T);
  return {
    async write(sessions, events) {
      for (let i = 0; i < sessions.length; i += SLICE) {
        await store.upsertHoneypotSessions(rows(sessions.slice(i, i + SLICE)));
        await yieldTurn();
      }
      for (let i = 0; i < events.length; i += SLICE) {
        await store.insertHoneypotEvents(rows(events.slice(i, i + SLICE)));
        await yieldTurn();
      }
    },
    async close() {},
  };
}

/**
 * A SQLite store written from a worker thread with its own connection (WAL lets it share the
 * file with the main thread's). The main thread only serialises each batch to one JSON string;
 * the inserts, the commits and the checkpoints happen beside it, so answering visitors does
 * not wait on the disk. A thread that died (it could not open the file, say) is started again
 * for the next batch.
 */
export class WorkerWriter implements BatchWriter {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private ids = 0;
  private closed = false;

  constructor(private readonly dbPath: string) {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const worker = new Worker(new URL("./recorder-worker.js", import.meta.url), {
      workerData: { db: this.dbPath },
    });
    worker.on("message", (m: WriterReply) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error === undefined) w?.resolve();
      else if (m.damaged) w?.reject(new StoreDamagedError(m.damaged.file, m.damaged.detail));
      else
        w?.reject(Object.assign(new Error(m.error), m.code !== undefined ? { code: m.code } : {}));
    });
    const fail = (e: Error): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`the recorder thread exited (${code})`)));
    return worker;
  }

  private request(m: { json: string } | { close: true }): Promise<void> {
    if (this.closed && !("close" in m)) return Promise.reject(new Error("the recorder is closed"));
    this.worker ??= this.spawn();
    const worker = this.worker;
    const id = ++this.ids;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, ...m });
    });
  }

  write(sessions: string[], events: string[]): Promise<void> {
    // The rows are JSON already: the batch is put together, not serialised again.
    return this.request({
      json: `{"sessions":[${sessions.join(",")}],"events":[${events.join(",")}]}`,
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker === undefined) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    const closed = this.request({ close: true }).then(() => exited);
    // A thread that does not let go of its store in time (or failed to) is ended.
    if (
      !(await within(
        closed.catch(() => {}),
        RELEASE_TIMEOUT_MS,
      )) ||
      this.worker === worker
    ) {
      await worker.terminate();
    }
  }
}

/** Why the JSONL output failed, short: the system's reason (`ENOSPC (…)`) when it is known. */
const outputReason = (e: unknown): string =>
  e instanceof OutputWriteError ? e.reason : reasonOf(e);

/** `{"type":"event",…}` from a row's JSON: the same line as serialising `{ type, ...row }`. */
function typed(type: "session" | "event", json: string): string {
  return `{"type":"${type}",${json.slice(1)}`;
}

/** One JSON object a line: `{"type":"session",…}` and `{"type":"event",…}`. */
export class JsonlRecorder implements HoneypotRecorder {
  readonly dropped: RowCounts = { sessions: 0, events: 0 };
  /** Rows in the sink's batch, not handed to the kernel yet. */
  private pending: RowCounts = { sessions: 0, events: 0 };
  private readonly warnings: Warnings;
  constructor(
    private readonly sink: ResultSink,
    options: Pick<RecorderOptions, "warn"> = {},
  ) {
    this.warnings = new Warnings(options.warn, () => "nothing");
  }

  session(row: HoneypotSessionRow, serialised = serialise(row)): void {
    this.pending.sessions += sessionsIn(row);
    this.write(typed("session", serialised.json));
  }

  event(row: HoneypotEventRow, serialised = serialise(row)): void {
    this.pending.events++;
    this.write(typed("event", serialised.json));
  }

  /**
   * A file that cannot be written (a full disk) loses the lines of the batch that failed,
   * counted and said; the next batch is tried as usual, so writing resumes when the disk has
   * room again.
   */
  private write(json: string): void {
    const before = this.sink.bytesWritten;
    try {
      this.sink.writeJson(json);
    } catch (e) {
      this.lost(e);
      return;
    }
    // The sink handed its batch over: what was pending is written.
    if (this.sink.bytesWritten !== before) this.pending = { sessions: 0, events: 0 };
  }

  private lost(e: unknown): void {
    const rows = this.pending;
    this.pending = { sessions: 0, events: 0 };
    this.dropped.sessions += rows.sessions;
    this.dropped.events += rows.events;
    this.warnings.drop(rows, `cannot write the JSONL output (${outputReason(e)})`);
  }

  async flush(): Promise<Unwritten | undefined> {
    const rows = this.pending;
    try {
      this.sink.flushSync();
      this.pending = { sessions: 0, events: 0 };
      return undefined;
    } catch (e) {
      this.lost(e);
      return { ...rows, reason: outputReason(e) };
    }
  }

  async close(): Promise<Unwritten | undefined> {
    const unwritten = await this.flush();
    await this.sink.close().catch(() => {});
    return unwritten;
  }
}

/** Both, or either. */
export class TeeRecorder implements HoneypotRecorder {
  constructor(private readonly parts: HoneypotRecorder[]) {}
  get dropped(): RowCounts {
    const d = this.parts.map((p) => p.dropped);
    return {
      sessions: Math.max(0, ...d.map((x) => x.sessions)),
      events: Math.max(0, ...d.map((x) => x.events)),
    };
  }
  session(row: HoneypotSessionRow, serialised = serialise(row)): void {
    for (const p of this.parts) p.session(row, serialised);
  }
  event(row: HoneypotEventRow, serialised = serialise(row)): void {
    for (const p of this.parts) p.event(row, serialised);
  }
  flush(timeoutMs?: number): Promise<Unwritten | undefined> {
    return this.each((p) => p.flush(timeoutMs));
  }
  close(timeoutMs?: number): Promise<Unwritten | undefined> {
    return this.each((p) => p.close(timeoutMs));
  }
  /** All parts at once (each within the same deadline); what the worst of them left. */
  private async each(
    f: (p: HoneypotRecorder) => Promise<Unwritten | undefined>,
  ): Promise<Unwritten | undefined> {
    const left = (await Promise.all(this.parts.map(f))).filter((u) => u !== undefined);
    if (left.length === 0) return undefined;
    return {
      sessions: Math.max(...left.map((u) => u.sessions)),
      events: Math.max(...left.map((u) => u.events)),
      reason: left.map((u) => u.reason).join("; "),
    };
  }
}
