/**
 * One memory budget for the whole honeypot (`--memory`), which every byte a visitor makes it
 * keep draws from: argument bytes held while a command arrives (the request decoder), a session's keyspace
 * (keyspace.ts), what the classifier keeps of its commands, replies waiting to be sent
 * (server.ts), and events waiting to be written (recorder.ts).
 *
 * Each holder has an account with a share of the budget (a session at most 1/8 of it, the
 * recorder's queue 1/4), so that one visitor cannot take it all, while a few big but honest
 * sessions still fit. A session asking past its share is refused, and the server closes it as
 * Redis closes a client past its query-buffer limit. When the budget as a whole is short, the
 * session holding the most is closed to make room (Redis 7's client eviction under
 * maxmemory-clients does the same), unless the one asking holds the most itself: then it is
 * refused. A visitor cannot make the sensor as a whole run out by spreading over many sessions.
 *
 * The figures are what the bytes cost in this process (buffers, strings and the objects around
 * them, estimated), not what Redis would allocate for them.
 */

import type { ByteAccount } from "../untrusted/account.js";

export type { ByteAccount };

/**
 * The default budget, for a sensor with 1 GB of memory: what Node, SQLite's thread and the
 * sockets cost besides (about 100 MB at rest, more while the garbage collector lags) must fit
 * next to it. Measured peaks are in the README.
 */
export const DEFAULT_MEMORY_BYTES = 256 * 1024 * 1024;

/** A session may hold at most this part of the budget. */
export const SESSION_SHARE = 1 / 8;
/** The recorder's queue may hold at most this part. */
export const RECORDER_SHARE = 1 / 4;

/** Why the last take() failed: the account's own share, or the budget as a whole. */
export type Refusal = "share" | "budget";

export class MemoryBudget {
  used = 0;
  private readonly evictable = new Set<MemoryAccount>();

  constructor(readonly total: number) {}

  /**
   * An account that may hold up to `share` bytes. With `evict`, it may be closed to make room
   * when the budget is short: `evict` must end what holds the bytes and close the account.
   */
  open(share: number, evict?: () => void): MemoryAccount {
    const account = new MemoryAccount(this, Math.min(share, this.total), evict);
    if (evict !== undefined) this.evictable.add(account);
    return account;
  }

  /** The share of one session. */
  get sessionShare(): number {
    return Math.floor(this.total * SESSION_SHARE);
  }

  /** @internal Room for `bytes` more, made by evicting accounts that hold more than `asker`. */
  makeRoom(bytes: number, asker: MemoryAccount): boolean {
    while (this.used + bytes > this.total) {
      let largest: MemoryAccount | undefined;
      for (const a of this.evictable) {
        if (a !== asker && a.used > asker.used && (largest === undefined || a.used > largest.used))
          largest = a;
      }
      if (largest === undefined) return false;
      largest.evict();
    }
    return true;
  }

  /** @internal */
  forget(account: MemoryAccount): void {
    this.evictable.delete(account);
  }
}

export class MemoryAccount implements ByteAccount {
  used = 0;
  /** Why the last take() failed. */
  refused: Refusal | undefined;
  private closed = false;

  constructor(
    private readonly budget: MemoryBudget,
    readonly share: number,
    private readonly onEvict: (() => void) | undefined,
  ) {}

  take(bytes: number): boolean {
    if (this.closed) return false;
    if (this.used + bytes > this.share) {
      this.refused = "share";
      return false;
    }
    const b = this.budget;
    if (b.used + bytes > b.total && !b.makeRoom(bytes, this)) {
      this.refused = "budget";
      return false;
    }
    this.used += bytes;
    b.used += bytes;
    return true;
  }

  /**
   * Keep `bytes` whether or not they fit: for the few changes that cannot be refused (a
   * RENAME to a longer name: Redis never refuses one for memory). They count all the same.
   */
  force(bytes: number): void {
    if (this.closed) return;
    this.used += bytes;
    this.budget.used += bytes;
  }

  /** What the account may still take before its share is used up. */
  get room(): number {
    return this.closed ? 0 : this.share - this.used;
  }

  give(bytes: number): void {
    // After close() everything was given back already.
    if (this.closed) return;
    const n = Math.min(bytes, this.used);
    this.used -= n;
    this.budget.used -= n;
  }

  /** Let go of everything; later takes fail and gives are ignored. */
  close(): void {
    if (this.closed) return;
    this.budget.used -= this.used;
    this.used = 0;
    this.closed = true;
    this.budget.forget(this);
  }

  /**
   * @internal Called by the budget: the account closes first (so that what the holder records
   * as it ends finds room), then the holder ends.
   */
  evict(): void {
    this.close();
    this.onEvict?.();
  }
}
