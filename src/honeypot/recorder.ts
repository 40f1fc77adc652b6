/**
 * Where the honeypot's sessions and events go: the store (SQLite or PostgreSQL: many sensors,
 * one database) and/or JSONL. Writes are batched off the connection path. A sensor under a
 * flood must not buffer without bound: past MAX_QUEUED events, event details are dropped and
 * counted (the session row still says how many commands there were and what they meant).
 */
import type { HoneypotEventRow, HoneypotSessionRow, Store } from "../store/index.js";
import type { ResultSink } from "../store/jsonl.js";

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

export class StoreRecorder implements HoneypotRecorder {
  private events: HoneypotEventRow[] = [];
  private sessions = new Map<string, HoneypotSessionRow>();
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private failure: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  dropped = 0;

  constructor(private readonly store: Store) {
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
        // Sessions first: an event never refers to a session the store has not seen.
        // In slices, yielding between them: SQLite writes on this thread, and a 2,000-row
        // batch in one go would hold back every connection for ~10 ms.
        for (let i = 0; i < sessions.length && this.failure === undefined; i += SLICE) {
          await this.store.upsertHoneypotSessions(sessions.slice(i, i + SLICE));
          await yieldTurn();
        }
        for (let i = 0; i < events.length && this.failure === undefined; i += SLICE) {
          await this.store.insertHoneypotEvents(events.slice(i, i + SLICE));
          await yieldTurn();
        }
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
    await this.flush();
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
