/**
 * Transactions (multi.c): MULTI, EXEC, DISCARD, WATCH, UNWATCH. The session queues the
 * commands of an open transaction after its usual checks (session.ts: a refused command marks
 * the transaction aborted, EXEC then answers EXECABORT); EXEC runs the queue through the
 * session's dispatch and answers one array of the replies, or a null array when a watched key
 * changed. WATCH compares the keyspace's per-key modification stamps (keyspace.ts), so a write
 * from any connection sharing the keyspace, a deletion, an expiry or a flush fails the EXEC.
 *
 * Bounded: a session queues at most MAX_QUEUED commands and MAX_QUEUED_BYTES argument bytes
 * (past either the command is refused with -OOM and the transaction aborted, as a server at
 * maxmemory refuses commands in MULTI), and watches at most MAX_WATCHED keys (past it the
 * next EXEC fails as if a watched key had changed: safe, and no key is kept).
 */
import type { Era } from "../personas/era.js";
import { encodeReply, errorReply, nullArray, OK, type Reply } from "./reply.js";
import {
  type CommandContext,
  type CommandSpec,
  inCategory,
  type Transaction,
  wrote,
} from "./spec.js";

export const MAX_QUEUED = 4096;
export const MAX_QUEUED_BYTES = 1024 * 1024;
export const MAX_WATCHED = 1024;

/** One connection's transaction: the queue of MULTI and the keys of WATCH. */
export function newTransaction(): Transaction {
  return { active: false, aborted: false, casFailed: false, queue: [], bytes: 0, watched: [] };
}

/** Commands that run at once inside MULTI instead of being queued (processCommand). */
export const NOT_QUEUED = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);

/**
 * Commands refused inside MULTI (the CMD_NO_MULTI flag, 7.0+): SAVE, SHUTDOWN, SYNC and PSYNC;
 * Valkey 8 flagged MULTI and WATCH too, instead of their own errors.
 */
export function refusedInMulti(era: Era, name: string): boolean {
  if (era.before("7.0")) return false;
  if (name === "save" || name === "shutdown" || name === "sync" || name === "psync") return true;
  return (name === "multi" || name === "watch") && era.valkey8;
}

/** What a command costs the queue: its arguments' bytes plus a fixed overhead per argument. */
export function queuedBytes(args: readonly Buffer[]): number {
  let n = 0;
  for (const a of args) n += a.length + 16;
  return n;
}

/** Drop every watched key of this connection (UNWATCH, EXEC, DISCARD, the connection ends). */
export function unwatchAll(
  tx: Transaction,
  keyspace: { unwatch(db: number, key: string): void },
): void {
  for (const w of tx.watched) keyspace.unwatch(w.db, w.key);
  tx.watched = [];
  tx.casFailed = false;
}

/** End the transaction: its queue is dropped and its keys unwatched (discardTransaction). */
export function discardTransaction(
  tx: Transaction,
  keyspace: { unwatch(db: number, key: string): void },
  release?: (bytes: number) => void,
): void {
  release?.(tx.bytes);
  tx.active = false;
  tx.aborted = false;
  tx.queue = [];
  tx.bytes = 0;
  unwatchAll(tx, keyspace);
}

function multi(c: CommandContext): Reply {
  const tx = c.state.tx;
  if (tx.active) return errorReply("ERR MULTI calls can not be nested");
  tx.active = true;
  return OK;
}

function discard(c: CommandContext): Reply {
  const tx = c.state.tx;
  if (!tx.active) return errorReply("ERR DISCARD without MULTI");
  discardTransaction(tx, c.keyspace, (n) => c.release(n));
  return OK;
}

function exec(c: CommandContext): Reply {
  const tx = c.state.tx;
  if (!tx.active) return errorReply("ERR EXEC without MULTI");
  // A watched key whose stamp moved (written, deleted, expired, flushed) fails the EXEC.
  for (const w of tx.watched) {
    if (c.keyspace.keyStamp(w.db, w.key) !== w.stamp) tx.casFailed = true;
  }
  if (tx.aborted || tx.casFailed) {
    const reply = tx.aborted
      ? errorReply("EXECABORT Transaction discarded because of previous errors.")
      : nullArray(c.state.proto);
    discardTransaction(tx, c.keyspace, (n) => c.release(n));
    return reply;
  }
  const queue = tx.queue;
  discardTransaction(tx, c.keyspace, (n) => c.release(n));
  const parts: Buffer[] = [Buffer.from(`*${queue.length}\r\n`, "latin1")];
  let bytes = 0;
  const dirtyBefore = c.state.dirty;
  for (const q of queue) {
    const part = encodeReply(c.execute(q.args, q.lengths), c.state.proto);
    bytes += part.length;
    if (!c.replyFits(bytes)) return c.overLimit();
    parts.push(part);
  }
  // Before 7.0 EXEC wrapped the writes it propagated in MULTI … EXEC and counted one more
  // write: 6.2 once a command inside changed something, earlier once a write command ran.
  if (c.era.before("7.0")) {
    const writeRan = queue.some((q) =>
      c.commands.get(q.args[0]!.toString("latin1").toLowerCase())?.flags?.includes("write"),
    );
    if (c.era.at("6.2") ? c.state.dirty > dirtyBefore : writeRan) wrote(c);
  }
  return { type: "raw", bytes: Buffer.concat(parts) };
}

function watch(c: CommandContext): Reply {
  const tx = c.state.tx;
  if (tx.active) return errorReply("ERR WATCH inside MULTI is not allowed");
  if (tx.casFailed) return OK;
  for (let i = 1; i < c.args.length; i++) {
    const key = c.arg(i);
    const db = c.state.db;
    if (tx.watched.some((w) => w.db === db && w.key === key)) continue;
    if (tx.watched.length >= MAX_WATCHED) {
      tx.casFailed = true;
      break;
    }
    tx.watched.push({ db, key, stamp: c.keyspace.watch(db, key) });
  }
  return OK;
}

function unwatch(c: CommandContext): Reply {
  unwatchAll(c.state.tx, c.keyspace);
  return OK;
}

export const TRANSACTION_COMMANDS: CommandSpec[] = inCategory("transaction", [
  { name: "multi", arity: 1, keys: [0, 0, 0], handler: multi },
  { name: "exec", arity: 1, keys: [0, 0, 0], handler: exec },
  { name: "discard", arity: 1, keys: [0, 0, 0], handler: discard },
  { name: "watch", arity: -2, since: "2.2", keys: [1, -1, 1], handler: watch },
  { name: "unwatch", arity: 1, since: "2.2", keys: [0, 0, 0], handler: unwatch },
]);
