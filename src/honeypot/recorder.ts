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
import type { HoneypotEventRow, HoneypotSessionRow } from "../schema/honeypot.js";
import { type HoneypotStore, StoreDamagedError } from "../store/index.js";
import { JsonlSink, type JsonlTarget, OutputWriteError } from "../store/jsonl.js";
import { BatchQueue, within } from "../store/queue.js";
import { type Sink, TeeSink } from "../store/sink.js";
import { WriterThread } from "../store/writer-thread.js";
import { logText } from "../untrusted/text.js";
import { type ByteAccount, MemoryBudget } from "./memory.js";

/** Rows lost: dropped while running, or not written when the recorder closed. */
export interface RowCounts {
  sessions: number;
  events: number;
}

/** What close() could not write before its deadline, and the last reason writes failed. */
export interface Unwritten extends RowCounts {
  reason: string;
}

/**
 * One row the honeypot records, as it waits to be written: serialised once (its JSON is what is
 * counted against budgets, queued and written), or, for a session's start row (an empty record,
 * usually replaced by its final row before it goes), still the row, serialised if it is written.
 */
export interface RecordedRow {
  kind: "session" | "event";
  /** The session's id (a session's later row replaces a waiting earlier one). */
  session: string;
  json: string | undefined;
  row: HoneypotSessionRow | HoneypotEventRow;
  bytes: number;
  /** A session's final row: lost, it is a session lost (a lost start row is replaced anyway). */
  final: boolean;
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

/** A session's row to record; `serialised` when the caller has it already. */
export function sessionRow(row: HoneypotSessionRow, serialised?: Serialised): RecordedRow {
  const final = row.endedAt !== undefined;
  // A start row's size without serialising it (its record is empty; this errs above).
  const bytes =
    serialised?.bytes ??
    (final
      ? serialise(row).bytes
      : 384 + row.sensor.length + row.listener.length + row.persona.length + row.srcIp.length);
  return { kind: "session", session: row.id, json: serialised?.json, row, bytes, final };
}

/** An event to record. */
export function eventRow(row: HoneypotEventRow, serialised = serialise(row)): RecordedRow {
  return {
    kind: "event",
    session: row.sessionId,
    json: serialised.json,
    row,
    bytes: serialised.bytes,
    final: false,
  };
}

const jsonOf = (r: RecordedRow): string => r.json ?? JSON.stringify(r.row);

/** The sessions and events among lost rows. */
function counted(rows: readonly RecordedRow[]): RowCounts {
  let sessions = 0;
  let events = 0;
  for (const r of rows) {
    if (r.kind === "event") events++;
    else if (r.final) sessions++;
  }
  return { sessions, events };
}

/**
 * Where the honeypot's sessions and events go: a Sink of RecordedRows that also counts what it
 * dropped (the CLI says it when it stops).
 */
export interface HoneypotRecorder extends Sink<RecordedRow> {
  readonly dropped: RowCounts;
  /** The last reason a write failed ("" when none did). */
  readonly failureReason: string;
}

/** What a recorder has not written (after close's deadline), counted, and why. */
export function unwrittenOf(recorder: HoneypotRecorder): Unwritten | undefined {
  const left = recorder.unwritten();
  if (left.length === 0) return undefined;
  const u = counted(left);
  // A start row still waiting is a session not written either.
  u.sessions = new Set(left.filter((r) => r.kind === "session").map((r) => r.session)).size;
  return { ...u, reason: recorder.failureReason };
}

/** Bytes waiting to be written, when no share of a memory budget is given. */
const DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024;
/**
 * Rows in one batch (one write to the store), and bytes: a batch is serialised whole on its way
 * to the writer, so 2,000 events of 32 KB would cost 64 MB at once, several times over.
 */
const BATCH = 2000;
const BATCH_BYTES = 4 * 1024 * 1024;
/** What waits is written at least this often, whole batch or not. */
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
  return logText(text, 200);
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

/**
 * The store (SQLite from a thread of its own, or PostgreSQL), through the one queue with the
 * `retry` policy: a failed batch is tried again until the store takes it; a batch the store
 * refuses for what it holds is dropped and said; a damaged file stops recording (onFatal).
 */
export class StoreRecorder implements HoneypotRecorder {
  private readonly queue: BatchQueue<RecordedRow>;
  private readonly writer: BatchWriter;
  private readonly warnings: Warnings;
  private readonly timer: NodeJS.Timeout;
  private lastFailure = "";
  /** The store's file is damaged: recording has stopped (close() throws this). */
  private fatal: StoreDamagedError | undefined;
  readonly dropped: RowCounts = { sessions: 0, events: 0 };

  /** A store (written on this thread) or a BatchWriter such as WorkerWriter. */
  constructor(target: HoneypotStore | BatchWriter, options: RecorderOptions = {}) {
    this.writer = "write" in target ? target : storeWriter(target);
    this.warnings = new Warnings(options.warn, () => this.waiting());
    this.queue = new BatchQueue<RecordedRow>(
      (batch) => {
        const sessions: string[] = [];
        const events: string[] = [];
        // Sessions first: an event never refers to a session the store has not seen.
        for (const r of batch) (r.kind === "session" ? sessions : events).push(jsonOf(r));
        return this.writer.write(sessions, events);
      },
      {
        batchItems: BATCH,
        batchBytes: BATCH_BYTES,
        sizeOf: (r) => r.bytes,
        account: options.memory ?? new MemoryBudget(DEFAULT_QUEUE_BYTES).open(DEFAULT_QUEUE_BYTES),
        // The latest state of a session wins: its final row replaces a waiting start row.
        key: (r) => (r.kind === "session" ? r.session : undefined),
        failure: {
          mode: "retry",
          firstMs: RETRY_FIRST_MS,
          longestMs: RETRY_LONGEST_MS,
          refuses: refusesBatch,
          // Trying again cannot mend a damaged file.
          fatal: (e) => e instanceof StoreDamagedError,
        },
        events: {
          dropped: (rows, why, e) => {
            const lost = counted(rows);
            if (e instanceof StoreDamagedError) {
              // Counted only: the damage is said once, as the honeypot's last line.
              this.dropped.sessions += lost.sessions;
              this.dropped.events += lost.events;
              return;
            }
            if (e !== undefined) this.lastFailure = reasonOf(e);
            this.drop(
              lost,
              why === "full"
                ? "the write queue is full"
                : `the store refused a batch (${this.lastFailure})`,
            );
          },
          failing: (e) => {
            this.lastFailure = reasonOf(e);
            this.warnings.failed(this.lastFailure);
          },
          recovered: () => this.warnings.recovered(),
          stopped: (e) => {
            if (!(e instanceof StoreDamagedError)) return;
            this.fatal = e;
            options.onFatal?.(e);
          },
        },
      },
    );
    this.timer = setInterval(() => {
      this.queue.kick();
      this.warnings.tick();
    }, FLUSH_MS);
    this.timer.unref();
  }

  write(row: RecordedRow): void {
    if (this.fatal) {
      const lost = counted([row]);
      this.dropped.sessions += lost.sessions;
      this.dropped.events += lost.events;
      return;
    }
    this.queue.push(row);
  }

  get congested(): boolean {
    return false;
  }

  get error(): Error | undefined {
    return this.fatal;
  }

  private drop(rows: RowCounts, reason: string): void {
    this.dropped.sessions += rows.sessions;
    this.dropped.events += rows.events;
    this.warnings.drop(rows, reason);
  }

  /** Rows waiting, for the messages: events, and sessions (a session once, start or end). */
  private waiting(): string {
    const rows = this.queue.unwritten();
    const events = rows.filter((r) => r.kind === "event").length;
    const sessions = new Set(rows.filter((r) => r.kind === "session").map((r) => r.session));
    return `${count(events)} events and ${count(sessions.size)} sessions`;
  }

  unwritten(): RecordedRow[] {
    return this.queue.unwritten();
  }

  /** The last reason a write failed (what an unwritten remainder is said with). */
  get failureReason(): string {
    return this.lastFailure;
  }

  flush(timeoutMs = CLOSE_TIMEOUT_MS): Promise<boolean> {
    return this.queue.flush(timeoutMs);
  }

  /** Write what is left within `timeoutMs`, then let go of the store; throws a damaged store. */
  async close(timeoutMs = CLOSE_TIMEOUT_MS): Promise<boolean> {
    clearInterval(this.timer);
    let ok = false;
    try {
      ok = await this.queue.close(timeoutMs);
    } catch {
      // Stopped (a damaged store): said below.
    }
    // A writer stuck on a store that does not answer is let go of all the same.
    await within(
      this.writer.close().catch(() => {}),
      RELEASE_TIMEOUT_MS,
    );
    if (this.fatal) throw this.fatal;
    return ok;
  }
}

/**
 * The store on this thread, in slices with a turn of the event loop between them: a 2,000-row
 * batch in one go would hold back every connection for ~10 ms. (The store is the caller's to
 * close.)
 */
function storeWriter(store: HoneypotStore): BatchWriter {
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
 * A SQLite store written from the store's writer thread (WriterThread: its own connection,
 * which WAL lets share the file with the main thread's). The main thread only puts each batch
 * together as one JSON string; the inserts, the commits and the checkpoints happen beside it, so
 * answering visitors does not wait on the disk. A thread that died (it could not open the file,
 * say) is started again for the next batch.
 */
export class WorkerWriter implements BatchWriter {
  private thread: WriterThread | undefined;
  private closed = false;

  constructor(private readonly dbPath: string) {
    this.thread = new WriterThread(dbPath);
  }

  write(sessions: string[], events: string[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the recorder is closed"));
    if (this.thread === undefined || this.thread.error !== undefined) {
      this.thread = new WriterThread(this.dbPath);
    }
    // The rows are JSON already: the batch is put together, not serialised again.
    return this.thread.recordHoneypot(
      `{"sessions":[${sessions.join(",")}],"events":[${events.join(",")}]}`,
    );
  }

  /** Let go of the store (a thread that does not in time is ended). */
  async close(): Promise<void> {
    this.closed = true;
    await this.thread?.close();
  }
}

/** Why the JSONL output failed, short: the system's reason (`ENOSPC (…)`) when it is known. */
const outputReason = (e: unknown): string =>
  e instanceof OutputWriteError ? e.reason : reasonOf(e);

/** `{"type":"event",…}` from a row's JSON: the same line as serialising `{ type, ...row }`. */
function typed(type: "session" | "event", json: string): string {
  return `{"type":"${type}",${json.slice(1)}`;
}

/**
 * One JSON object a line: `{"type":"session",…}` and `{"type":"event",…}`. A file that cannot
 * be written (a full disk) loses the lines of the batch that failed, counted and said; the next
 * batch is tried as usual, so writing resumes when the disk has room again.
 */
export class JsonlRecorder implements HoneypotRecorder {
  readonly dropped: RowCounts = { sessions: 0, events: 0 };
  private readonly sink: JsonlSink<RecordedRow>;
  private readonly warnings: Warnings;
  private lastFailure = "";

  constructor(target: JsonlTarget, options: Pick<RecorderOptions, "warn"> = {}) {
    this.warnings = new Warnings(options.warn, () => "nothing");
    this.sink = new JsonlSink<RecordedRow>(target, {
      onFailure: "drop",
      line: (r) => typed(r.kind, jsonOf(r)),
      onDropped: (rows, e) => {
        const lost = counted(rows);
        this.dropped.sessions += lost.sessions;
        this.dropped.events += lost.events;
        this.lastFailure = outputReason(e);
        this.warnings.drop(lost, `cannot write the JSONL output (${this.lastFailure})`);
      },
    });
  }

  write(row: RecordedRow): void {
    this.sink.write(row);
  }

  get congested(): boolean {
    return this.sink.congested;
  }

  get error(): Error | undefined {
    return this.sink.error;
  }

  get failureReason(): string {
    return this.lastFailure;
  }

  flush(): Promise<boolean> {
    return this.sink.flush();
  }

  close(): Promise<boolean> {
    return this.sink.close();
  }

  unwritten(): RecordedRow[] {
    return this.sink.unwritten();
  }
}

/** The store and a JSONL file at once. */
export class TeeRecorder extends TeeSink<RecordedRow> implements HoneypotRecorder {
  constructor(private readonly recorders: HoneypotRecorder[]) {
    super(recorders);
  }

  get failureReason(): string {
    return this.recorders
      .map((r) => r.failureReason)
      .filter(Boolean)
      .join("; ");
  }

  /** The most any one of them dropped (each gets every row). */
  get dropped(): RowCounts {
    const d = this.recorders.map((p) => p.dropped);
    return {
      sessions: Math.max(0, ...d.map((x) => x.sessions)),
      events: Math.max(0, ...d.map((x) => x.events)),
    };
  }
}
