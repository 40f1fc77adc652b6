/**
 * Clients blocked on keys (BLPOP, BLMOVE, BLMPOP, XREAD BLOCK …), as Redis's blocked.c keeps
 * them: per key a queue of waiting clients, first come first served. A write that may make a
 * key ready (a push, an XADD) signals it; after the command that wrote, the session asks the
 * registry to serve the ready keys (handleClientsBlockedOnKeys), and each waiter tries its
 * command again against the data, in the order the clients blocked.
 *
 * One registry per keyspace: when connections share a keyspace (one source's), they share its
 * waiters, so a push on one connection serves a BLPOP on another. Nothing here knows what a
 * waiter does; the session that blocked gives its callbacks.
 *
 * Bounded: at most MAX_BLOCKED_PER_KEYSPACE waiters per registry and MAX_BLOCKED_TOTAL in the
 * process (past either, a blocking command answers at once as if it had timed out, as Redis
 * answers a client that may not block); each holds one timer at most.
 */

export interface Waiter {
  readonly db: number;
  /** The keys it waits on (latin1), in the order given. */
  readonly keys: readonly string[];
  readonly clientId: number;
  /**
   * `key` may be ready: serve the client if the data now allows it and return true (the
   * registry then forgets the waiter), or false to keep waiting.
   */
  attempt(key: string): boolean;
  /** Unblocked without data: its timeout passed, or CLIENT UNBLOCK (TIMEOUT or ERROR). */
  expire(how: "timeout" | "error"): void;
}

export const MAX_BLOCKED_PER_KEYSPACE = 256;
export const MAX_BLOCKED_TOTAL = 8192;

/** Waiters of every registry together (the process-wide bound). */
let blockedTotal = 0;

interface Entry {
  waiter: Waiter;
  timer: NodeJS.Timeout | undefined;
}

export class BlockedClients {
  private readonly byKey = new Map<string, Entry[]>();
  private readonly byClient = new Map<number, Entry>();
  /** Keys signalled since the last serve(), in signal order. */
  private readonly ready: string[] = [];
  private readonly readySet = new Set<string>();
  private serving = false;

  get size(): number {
    return this.byClient.size;
  }

  /** Is there room for one more waiter (here and in the process)? */
  hasRoom(): boolean {
    return this.byClient.size < MAX_BLOCKED_PER_KEYSPACE && blockedTotal < MAX_BLOCKED_TOTAL;
  }

  /**
   * Block `waiter` until served, CLIENT UNBLOCK, or `timeoutMs` (0: no timeout). The caller
   * checked hasRoom(). One waiter per client.
   */
  add(waiter: Waiter, timeoutMs: number): void {
    this.remove(waiter.clientId);
    const entry: Entry = { waiter, timer: undefined };
    if (timeoutMs > 0) {
      // setTimeout's longest delay is 2^31-1 ms (24.8 days): the session's lifetime is shorter.
      entry.timer = setTimeout(
        () => {
          if (this.byClient.get(waiter.clientId) !== entry) return;
          this.remove(waiter.clientId);
          waiter.expire("timeout");
        },
        Math.min(timeoutMs, 2 ** 31 - 1),
      );
      entry.timer.unref();
    }
    this.byClient.set(waiter.clientId, entry);
    blockedTotal++;
    for (const key of new Set(waiter.keys)) {
      const id = slot(waiter.db, key);
      let queue = this.byKey.get(id);
      if (queue === undefined) {
        queue = [];
        this.byKey.set(id, queue);
      }
      queue.push(entry);
    }
  }

  /** Forget a client's waiter (served, expired, or the connection closed); false if none. */
  remove(clientId: number): boolean {
    const entry = this.byClient.get(clientId);
    if (entry === undefined) return false;
    this.byClient.delete(clientId);
    blockedTotal--;
    clearTimeout(entry.timer);
    const w = entry.waiter;
    for (const key of new Set(w.keys)) {
      const id = slot(w.db, key);
      const queue = this.byKey.get(id);
      if (queue === undefined) continue;
      const i = queue.indexOf(entry);
      if (i >= 0) queue.splice(i, 1);
      if (queue.length === 0) this.byKey.delete(id);
    }
    return true;
  }

  /** CLIENT UNBLOCK: the client's waiter answers as its timeout (or an error); false if none. */
  unblock(clientId: number, how: "timeout" | "error"): boolean {
    const entry = this.byClient.get(clientId);
    if (entry === undefined) return false;
    this.remove(clientId);
    entry.waiter.expire(how);
    return true;
  }

  isBlocked(clientId: number): boolean {
    return this.byClient.has(clientId);
  }

  /** A write may have made `key` ready (signalKeyAsReady): remembered if anyone waits on it. */
  signal(db: number, key: string): void {
    // Every write signals: with nobody blocked (nearly always) it costs one comparison.
    if (this.byClient.size === 0) return;
    const id = slot(db, key);
    if (!this.byKey.has(id) || this.readySet.has(id)) return;
    this.readySet.add(id);
    this.ready.push(id);
  }

  /**
   * Serve the clients waiting on the keys signalled (handleClientsBlockedOnKeys): per key in
   * signal order, its waiters first come first served while each is satisfied. What serving
   * writes may signal more keys; they are served in the same pass.
   */
  serve(): void {
    if (this.serving || this.ready.length === 0) return;
    this.serving = true;
    try {
      // Each key is served once per signal, and waiters are bounded: the loop ends.
      while (this.ready.length > 0) {
        const id = this.ready.shift()!;
        this.readySet.delete(id);
        const queue = this.byKey.get(id);
        if (queue === undefined) continue;
        const key = id.slice(id.indexOf(":") + 1);
        for (const entry of [...queue]) {
          if (this.byClient.get(entry.waiter.clientId) !== entry) continue;
          // Forgotten before it answers: its reply may wake or queue more for the same client.
          const served = entry.waiter.attempt(key);
          if (served) this.remove(entry.waiter.clientId);
        }
      }
    } finally {
      this.serving = false;
    }
  }
}

function slot(db: number, key: string): string {
  return `${db}:${key}`;
}
