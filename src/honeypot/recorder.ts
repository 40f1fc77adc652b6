/**
 * Where the honeypot's sessions and events go: the store (SQLite or PostgreSQL: many sensors,
 * one database) and/or JSONL. Writes are batched off the connection path. A sensor under a
 * flood must not buffer without bound: past MAX_QUEUED events, event details are dropped and
 * counted (the session row still says how many commands there were and what they meant).
 */
import { Worker } from "node:worker_threads";
import {
  type HoneypotEventRow,
  type HoneypotSessionRow,
  type Store,
  StoreDamagedError,
} from "../store/index.js";
import type { ResultSink } from "../store/jsonl.js";
import type { WriterReply } from "./recorder-worker.js";

export interface HoneypotRecorder {
  session(row: HoneypotSessionRow): void;
  event(row: HoneypotEventRow): void;
  /** Everything handed over so far is written (or the write error is thrown). */
  flush(): Promise<void>;
  close(): Promise<void>;
  readonly dropped: number;
}

/** Events waiting to be written before new ones lose their details. */
const MAX_QUEUED = 100_000;
const BATCH = 2000;
const FLUSH_MS = 500;
/** Rows written in one transaction before the event loop gets a turn. */
const SLICE = 250;

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Where a recorder's batches go: the store on this thread, or SQLite on a thread of its own. */
export interface BatchWriter {
  /** Sessions, then events (an event never refers to a session the store has not seen). */
  write(sessions: HoneypotSessionRow[], events: HoneypotEventRow[]): Promise<void>;
  close(): Promise<void>;
}

export class StoreRecorder implements HoneypotRecorder {
  private events: HoneypotEventRow[] = [];
  private sessions = new Map<string, HoneypotSessionRow>();
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private failure: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly writer: BatchWriter;
  dropped = 0;

  /** A store (written on this thread) or a BatchWriter such as WorkerWriter. */
  constructor(target: Store | BatchWriter) {
    this.writer = "write" in target ? target : storeWriter(target);
    this.timer = setInterval(() => this.send(), FLUSH_MS);
    this.timer.unref();
  }

  session(row: HoneypotSessionRow): void {
    // The latest state of a session wins: start, then end.
    this.sessions.set(row.id, row);
  }

  event(row: HoneypotEventRow): void {
    if (this.queued >= MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.events.push(row);
    this.queued++;
    if (this.events.length >= BATCH) this.send();
  }

  private send(): void {
    if (this.events.length === 0 && this.sessions.size === 0) return;
    const events = this.events;
    const sessions = [...this.sessions.values()];
    this.events = [];
    this.sessions = new Map();
    this.chain = this.chain.then(async () => {
      try {
        if (this.failure === undefined) await this.writer.write(sessions, events);
      } catch (e) {
        this.failure ??= e as Error;
      } finally {
        this.queued -= events.length;
      }
    });
  }

  async flush(): Promise<void> {
    this.send();
    await this.chain;
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    try {
      await this.flush();
    } finally {
      await this.writer.close();
    }
  }
}

/**
 * The store on this thread, in slices with a turn of the event loop between them: a 2,000-row
 * batch in one go would hold back every connection for ~10 ms. (The store is the caller's to
 * close.)
 */
function storeWriter(store: Store): BatchWriter {
  return {
    async write(sessions, events) {
      for (let i = 0; i < sessions.length; i += SLICE) {
        await store.upsertHoneypotSessions(sessions.slice(i, i + SLICE));
        await yieldTurn();
      }
      for (let i = 0; i < events.length; i += SLICE) {
        await store.insertHoneypotEvents(events.slice(i, i + SLICE));
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
 * not wait on the disk.
 */
export class WorkerWriter implements BatchWriter {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private ids = 0;
  private crashed: Error | undefined;

  constructor(dbPath: string) {
    this.worker = new Worker(new URL("./recorder-worker.js", import.meta.url), {
      workerData: { db: dbPath },
    });
    this.worker.on("message", (m: WriterReply) => {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error === undefined) w?.resolve();
      else if (m.damaged) w?.reject(new StoreDamagedError(m.damaged.file, m.damaged.detail));
      else w?.reject(new Error(m.error));
    });
    const fail = (e: Error): void => {
      this.crashed ??= e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`the recorder thread exited (${code})`)));
  }

  private request(m: { json: string } | { close: true }): Promise<void> {
    if (this.crashed) return Promise.reject(this.crashed);
    const id = ++this.ids;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...m });
    });
  }

  write(sessions: HoneypotSessionRow[], events: HoneypotEventRow[]): Promise<void> {
    return this.request({ json: JSON.stringify({ sessions, events }) });
  }

  async close(): Promise<void> {
    if (this.crashed) return;
    const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
    await this.request({ close: true });
    await exited;
  }
}

/** One JSON object a line: `{"type":"session",…}` and `{"type":"event",…}`. */
export class JsonlRecorder implements HoneypotRecorder {
  dropped = 0;
  constructor(private readonly sink: ResultSink) {}

  session(row: HoneypotSessionRow): void {
    this.sink.write({ type: "session", ...row });
  }

  event(row: HoneypotEventRow): void {
    this.sink.write({ type: "event", ...row });
  }

  async flush(): Promise<void> {
    this.sink.flushSync();
  }

  async close(): Promise<void> {
    await this.sink.close();
  }
}

/** Both, or either. */
export class TeeRecorder implements HoneypotRecorder {
  constructor(private readonly parts: HoneypotRecorder[]) {}
  get dropped(): number {
    return Math.max(0, ...this.parts.map((p) => p.dropped));
  }
  session(row: HoneypotSessionRow): void {
    for (const p of this.parts) p.session(row);
  }
  event(row: HoneypotEventRow): void {
    for (const p of this.parts) p.event(row);
  }
  async flush(): Promise<void> {
    for (const p of this.parts) await p.flush();
  }
  async close(): Promise<void> {
    for (const p of this.parts) await p.close();
  }
}
