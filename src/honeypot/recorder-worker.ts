/**
 * The honeypot's SQLite writer on a thread of its own (WorkerWriter). Batches arrive as one JSON
 * string each, go in through the store's multi-row INSERTs, and are acknowledged in order;
 * meanwhile the main thread goes on answering visitors instead of waiting on SQLite.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { HoneypotEventRow, HoneypotSessionRow } from "../schema/honeypot.js";
import { SqliteStore, StoreDamagedError } from "../store/index.js";

export type WriterRequest = { id: number; json: string } | { id: number; close: true };
/**
 * `code`: the store's error code (SQLITE_FULL …), so the recorder can tell what to try again;
 * `damaged`: the error was StoreDamagedError (an Error's class does not cross threads).
 */
export type WriterReply = {
  id: number;
  error?: string;
  code?: string;
  damaged?: { file: string; detail: string };
};

const port = parentPort!;
const store = await SqliteStore.open((workerData as { db: string }).db);

port.on("message", async (m: WriterRequest) => {
  const reply: WriterReply = { id: m.id };
  try {
    if ("close" in m) {
      await store.close();
      port.postMessage(reply);
      port.close();
      return;
    }
    const batch = JSON.parse(m.json) as {
      sessions: HoneypotSessionRow[];
      events: HoneypotEventRow[];
    };
    // Sessions first: an event never refers to a session the store has not seen.
    if (batch.sessions.length > 0) await store.upsertHoneypotSessions(batch.sessions);
    if (batch.events.length > 0) await store.insertHoneypotEvents(batch.events);
  } catch (e) {
    reply.error = (e as Error).message;
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") reply.code = code;
    if (e instanceof StoreDamagedError) reply.damaged = { file: e.file, detail: e.detail };
  }
  port.postMessage(reply);
});
