/**
 * The one SQLite writer off the main thread: a worker thread (write-worker.ts) with its own
 * connection to the store's file, running the shipped SqliteStore's inserts. A scan's results
 * (StoreSink) and the honeypot's recording (WorkerWriter) go through it, so the main thread only
 * serialises each batch to one string and goes on with its sockets while the rows are
 * converted, inserted, committed and checkpointed beside it.
 *
 * Requests are answered in the order sent. An error of the store comes back with its message,
 * its code (SQLITE_FULL …) and as StoreDamagedError for a damaged file. A thread that dies
 * (an uncaught error, out of memory, ended from outside) fails what waits and every later
 * request with WriterThreadDied: nothing is lost silently.
 *
 * The thread keeps the process alive only while a request waits: an idle one does not hold a
 * process that is done (or failing) otherwise.
 */
import { type ResourceLimits, Worker } from "node:worker_threads";
import { within } from "./queue.js";
import { type ShardProgress, StoreDamagedError } from "./store.js";
import type { WriteReply, WriteRequest } from "./write-worker.js";

/** The writer thread died: what it had not answered is not known to be written. */
export class WriterThreadDied extends Error {}

/** How long close() waits for the thread to let go of the store before ending it. */
const RELEASE_TIMEOUT_MS = 2000;
/**
 * The thread's heap: it holds one batch at a time (its string and its parsed rows, a few MB);
 * a thread that needs far more is broken, and dies as an error rather than taking the host.
 */
const HEAP_MB = 256;

type Pending = { resolve: (n: number) => void; reject: (e: Error) => void };
type Request =
  | { op: "results"; scanId: string; json: string }
  | { op: "honeypot"; json: string }
  | { op: "progress"; scanId: string; shard: string; json: string };

export class WriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private ids = 0;
  private died: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly file: string,
    limits: ResourceLimits = { maxOldGenerationSizeMb: HEAP_MB },
  ) {
    this.worker = new Worker(new URL("./write-worker.js", import.meta.url), {
      workerData: { db: file },
      resourceLimits: limits,
    });
    this.worker.unref();
    this.worker.on("message", (m: WriteReply) => this.answer(m));
    this.worker.on("error", (e) =>
      this.die(new WriterThreadDied(`the store's writer thread failed: ${e.message}`)),
    );
    this.worker.on("exit", (code) =>
      this.die(new WriterThreadDied(`the store's writer thread exited (code ${code})`)),
    );
  }

  /** Why the thread is gone, once it is. */
  get error(): Error | undefined {
    return this.died;
  }

  /** Results as `{"results":[…],"steps":[…]}`; resolves to the rows inserted. */
  insertResults(scanId: string, json: string): Promise<number> {
    return this.request({ op: "results", scanId, json });
  }

  /** Honeypot rows as `{"sessions":[…],"events":[…]}` (sessions are written first). */
  async recordHoneypot(json: string): Promise<void> {
    await this.request({ op: "honeypot", json });
  }

  /**
   * A running shard's progress, written by the thread after the batches sent before it: the
   * main thread's connection would wait on the thread's write lock (better-sqlite3 waits
   * synchronously, holding every socket back) while a batch commits.
   */
  async recordProgress(scanId: string, shard: string, progress: ShardProgress): Promise<void> {
    await this.request({ op: "progress", scanId, shard, json: JSON.stringify(progress) });
  }

  private request(m: Request): Promise<number> {
    if (this.died) return Promise.reject(this.died);
    if (this.closing) return Promise.reject(new WriterThreadDied("the store's writer is closed"));
    const id = ++this.ids;
    return new Promise<number>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, ...m } as WriteRequest);
    });
  }

  private answer(m: WriteReply): void {
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if (m.error === undefined) p.resolve(m.n ?? 0);
    else if (m.damaged) p.reject(new StoreDamagedError(m.damaged.file, m.damaged.detail));
    else p.reject(Object.assign(new Error(m.error), m.code !== undefined ? { code: m.code } : {}));
  }

  private die(e: Error): void {
    this.died ??= e;
    for (const p of this.pending.values()) p.reject(this.died);
    this.pending.clear();
    this.worker.unref();
  }

  /**
   * Let go of the store once what was sent is answered; a thread that does not within
   * RELEASE_TIMEOUT_MS (stuck on a lock, say) is ended.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.died) return;
      const exited = new Promise<void>((resolve) => this.worker.once("exit", () => resolve()));
      const id = ++this.ids;
      const closed = new Promise<number>((resolve, reject) => {
        this.worker.ref();
        this.pending.set(id, { resolve, reject });
        this.worker.postMessage({ id, op: "close" } satisfies WriteRequest);
      }).then(() => exited);
      if (
        !(await within(
          closed.catch(() => {}),
          RELEASE_TIMEOUT_MS,
        ))
      )
        await this.terminate();
    })();
    return this.closing;
  }

  /** End the thread now: what it had not answered fails (WriterThreadDied). */
  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * The writer thread for a store that is a SQLite file; none for PostgreSQL (asynchronous
 * already) or an in-memory SQLite database (another connection would not see it).
 */
export function writerThreadFor(store: object): WriterThread | undefined {
  const { kind, location } = store as { kind?: unknown; location?: unknown };
  if (kind !== "sqlite" || typeof location !== "string") return undefined;
  if (location === "" || location === ":memory:" || location.startsWith("file:")) return undefined;
  return new WriterThread(location);
}
