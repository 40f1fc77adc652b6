/**
 * The SQLite writer thread (started by WriterThread, writer-thread.ts): its own connection to
 * the store's file (WAL lets it share the file with the main thread's), through the shipped
 * SqliteStore, so what the store does on insert (columns, aggregates, damage) is what happens
 * here. Requests arrive as one JSON string each and are answered in order, one at a time.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { HoneypotEventRow, HoneypotSessionRow } from "../schema/honeypot.js";
import type { ProbeResult } from "../schema/result.js";
import { SqliteStore } from "./sqlite.js";
import { type ShardProgress, StoreDamagedError } from "./store.js";

export type WriteRequest =
  /** `json`: `{"results":[…],"steps":[…]}` (a step null where the result has none). */
  | { id: number; op: "results"; scanId: string; json: string }
  /** `json`: `{"sessions":[…],"events":[…]}`. */
  | { id: number; op: "honeypot"; json: string }
  /** A running shard's progress (`json`: a ShardProgress), after the batches sent before it. */
  | { id: number; op: "progress"; scanId: string; shard: string; json: string }
  | { id: number; op: "close" };

/**
 * `n`: rows inserted (results); `code`: the store's error code (SQLITE_FULL …); `damaged`: the
 * error was StoreDamagedError (an Error's class does not cross threads).
 */
export interface WriteReply {
  id: number;
  n?: number;
  error?: string;
  code?: string;
  damaged?: { file: string; detail: string };
}

const port = parentPort!;
const file = (workerData as { db: string }).db;

/** Opened once; a failure to open is every request's answer (the file is damaged, say). */
let store: SqliteStore | undefined;
let openError: unknown;
try {
  store = SqliteStore.open(file);
} catch (e) {
  openError = e;
}

function failure(id: number, e: unknown): WriteReply {
  const reply: WriteReply = { id, error: e instanceof Error ? e.message : String(e) };
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") reply.code = code;
  if (e instanceof StoreDamagedError) reply.damaged = { file: e.file, detail: e.detail };
  return reply;
}

async function handle(m: WriteRequest): Promise<WriteReply> {
  if (m.op === "close") {
    await store?.close();
    return { id: m.id };
  }
  if (store === undefined) return failure(m.id, openError);
  try {
    if (m.op === "results") {
      const batch = JSON.parse(m.json) as { results: ProbeResult[]; steps: Array<number | null> };
      const steps = batch.steps.map((s) => s ?? undefined);
      return { id: m.id, n: await store.insertResults(m.scanId, batch.results, steps) };
    }
    if (m.op === "progress") {
      await store.recordShardProgress(m.scanId, m.shard, JSON.parse(m.json) as ShardProgress);
      return { id: m.id };
    }
    const batch = JSON.parse(m.json) as {
      sessions: HoneypotSessionRow[];
      events: HoneypotEventRow[];
    };
    // Sessions first: an event never refers to a session the store has not seen.
    if (batch.sessions.length > 0) await store.upsertHoneypotSessions(batch.sessions);
    if (batch.events.length > 0) await store.insertHoneypotEvents(batch.events);
    return { id: m.id };
  } catch (e) {
    return failure(m.id, e);
  }
}

port.on("message", async (m: WriteRequest) => {
  port.postMessage(await handle(m));
  if (m.op === "close") port.close();
});
