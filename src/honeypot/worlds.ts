/**
 * What one source sees of the make-believe server it visits: its keyspace, its CONFIG changes,
 * its saves, its replication setting and its cached scripts. A world is shared by every
 * connection of that source (its /24 or /64, the server's per-source prefix) to one listener,
 * so an attack chain proceeds across connections as it would on a real server (SET on one
 * connection, SAVE on the next), and it is never visible to another source, so one visitor
 * cannot see, or plant data for, another.
 *
 * Bounded: the keyspace has its caps (keys and Redis-sized bytes) per world; what the world
 * costs the process is drawn from the honeypot's memory budget through an account of its own
 * (the largest is forgotten first when the budget is short, and its connections closed);
 * a world is forgotten once none of its connections is open and it has been idle for
 * `idleMs`, or `lifetimeMs` after it was made; and there are at most `maxWorlds`, the least
 * recently used without a connection forgotten first to make room.
 */

import type { AclUser, SessionState } from "./commands/spec.js";
import { Keyspace, type KeyspaceLimits } from "./keyspace.js";
import type { MemoryAccount, MemoryBudget } from "./memory.js";
import type { SessionConfig } from "./personas/config.js";
import type { Persona, ReplicationState } from "./personas/index.js";

/** A source's world, as the registry keeps it. */
export interface WorldEntry {
  /** Open connections of the source using it. */
  connections: number;
  /** When a connection last entered or left it (ms). */
  lastSeen: number;
  readonly createdAt: number;
  /** What it costs the process (its keyspace draws from it); none without a budget. */
  readonly account: MemoryAccount | undefined;
}

export interface WorldLimits {
  maxWorlds: number;
  /** Forgotten this long after its last connection closed. */
  idleMs: number;
  /** Forgotten this long after it was made, once no connection holds it. */
  lifetimeMs: number;
}

export class Worlds<W extends WorldEntry> {
  /** By key, least recently entered first (Map order, refreshed on enter). */
  private readonly byKey = new Map<string, W>();
  private readonly keys = new Map<W, string>();

  constructor(
    private readonly limits: WorldLimits,
    /** Where worlds' memory comes from; each gets an account with `share` of it. */
    private readonly budget: { budget: MemoryBudget; share: number } | undefined,
    /** A world was forgotten while connections still used it (the budget ran short). */
    private readonly onEvict: (world: W) => void,
  ) {}

  /**
   * The world of `key` (made by `make`, with its account, when there is none or it has
   * expired). The caller leaves it when the connection closes.
   */
  enter(key: string, now: number, make: (account: MemoryAccount | undefined, now: number) => W): W {
    let world = this.byKey.get(key);
    if (world !== undefined && world.connections === 0 && this.expired(world, now)) {
      this.forget(world);
      world = undefined;
    }
    if (world === undefined) {
      if (this.byKey.size >= this.limits.maxWorlds) this.makeRoom(now);
      let account: MemoryAccount | undefined;
      if (this.budget !== undefined) {
        const { budget, share } = this.budget;
        account = budget.open(share, () => {
          const evicted = this.forget(made);
          if (evicted) this.onEvict(made);
        });
      }
      const made = make(account, now);
      world = made;
      this.keys.set(world, key);
    } else {
      this.byKey.delete(key);
    }
    this.byKey.set(key, world);
    world.connections++;
    world.lastSeen = now;
    return world;
  }

  /** A connection that entered `world` closed. */
  leave(world: W, now: number): void {
    if (world.connections > 0) world.connections--;
    world.lastSeen = now;
  }

  /** Forget the worlds that no connection holds and that have expired. */
  sweep(now: number): void {
    for (const world of this.byKey.values()) {
      if (world.connections === 0 && this.expired(world, now)) this.forget(world);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  private expired(world: W, now: number): boolean {
    return (
      now - world.lastSeen >= this.limits.idleMs || now - world.createdAt >= this.limits.lifetimeMs
    );
  }

  /**
   * Expired worlds first; then the least recently entered that no connection holds. A world a
   * connection holds always stays: their number is bounded by the session limit.
   */
  private makeRoom(now: number): void {
    this.sweep(now);
    for (const world of this.byKey.values()) {
      if (this.byKey.size < this.limits.maxWorlds) return;
      if (world.connections === 0) this.forget(world);
    }
  }

  /** Drop `world` and give back its memory; false if it was gone already. */
  private forget(world: W): boolean {
    const key = this.keys.get(world);
    if (key === undefined) return false;
    this.keys.delete(world);
    this.byKey.delete(key);
    world.account?.close();
    return true;
  }
}

/** A connection as PUBLISH sees it: its subscriptions, and where its messages go. */
export interface Subscriber {
  readonly state: SessionState;
  push(bytes: Buffer): void;
}

/** The fields of a session's state (SessionState) that are its world's, shared by the source. */
export const SHARED_STATE = ["config", "dirty", "saves", "lastSave", "replication"] as const;
export type SharedState = (typeof SHARED_STATE)[number];

/** The server state a source's connections share (see above); each connection has its own rest. */
export class SourceWorld implements WorldEntry, Pick<SessionState, SharedState> {
  readonly keyspace: Keyspace;
  config: SessionConfig;
  /** Writes since the last SAVE (INFO rdb_changes_since_last_save). */
  dirty = 0;
  saves = 0;
  lastSave: number | undefined;
  replication: ReplicationState;
  /** SCRIPT LOAD / EVAL bodies by SHA1, held in the world's account. */
  readonly scripts = new Map<string, string>();
  /** The source's connections that can be sent published messages (pub/sub). */
  readonly subscribers = new Set<Subscriber>();
  /** The subscribers that asked MONITOR (a subset of `subscribers`; most worlds have none). */
  readonly monitors = new Set<Subscriber>();
  /** ACL SETUSER's users (commands/acl.ts bounds them). */
  readonly aclUsers = new Map<string, AclUser>();
  connections = 0;
  lastSeen: number;
  readonly createdAt: number;

  constructor(
    persona: Persona,
    listenerPort: number,
    limits: KeyspaceLimits,
    now: () => number,
    readonly account: MemoryAccount | undefined,
  ) {
    this.createdAt = now();
    this.lastSeen = this.createdAt;
    this.config = persona.config(listenerPort);
    this.replication = {
      replid: persona.masterReplid,
      replid2: "0".repeat(40),
      secondReplOffset: -1,
    };
    this.keyspace = new Keyspace(limits, now, (n) => persona.countExpired(n), account);
  }
}
