/**
 * The honeypot's limits per session and per source: what the server enforces (sessions, time,
 * bytes) and what the session recorder keeps (events, the classifier's share, folding, the
 * source's hourly budget for records). The CLI's flags set some of them.
 */
export interface HoneypotLimits {
  maxSessions: number;
  maxSessionsPerSource: number;
  idleTimeoutMs: number;
  maxSessionMs: number;
  /** Input bytes a session may send; past it the connection is closed (and recorded). */
  maxBytesPerSession: number;
  /** Commands recorded as events per session; later ones are counted only. */
  maxEventsPerSession: number;
  /**
   * Bytes of commands kept per session for the classifier (drawn from the session's memory
   * share); later commands are only counted for it, by name. Effects have 256 KB of their own.
   */
  classifierBytes: number;
  /** Bytes of each argument an event keeps (the whole length and hash are always kept). */
  eventArgBytes: number;
  /** Arguments an event keeps. */
  eventArgs: number;
  /**
   * Repetition folding: once a session has recorded `foldAfterEvents` commands, a plain data
   * command (FOLDABLE, short arguments of letters, digits and `_:-.` only, nothing an indicator
   * could hide in) whose name it has already recorded `foldAfterName` times is counted, not
   * recorded: a flood of SET/GET/PUBLISH costs counters, not rows. 0 turns folding off.
   */
  foldAfterEvents: number;
  foldAfterName: number;
  /**
   * Bytes of events (as serialised) one source prefix may cause per hour (SourceBudget):
   * bounds the disk one visitor can fill however many connections it makes. 0 = no limit.
   */
  sourceBytesPerHour: number;
  /**
   * Prefix lengths that make one source for the per-source limits: an IPv4 /24 is one
   * network's block, and an IPv6 host is given a /64 whole.
   */
  sourcePrefix: { v4: number; v6: number };
  /**
   * Worlds (worlds.ts: a source's keyspace and server state, shared by its connections to one
   * listener): how many are kept, and how long one is kept after its last connection closed
   * and after it was made.
   */
  maxWorlds: number;
  worldIdleMs: number;
  worldLifetimeMs: number;
}

export const DEFAULT_LIMITS: HoneypotLimits = {
  maxSessions: 2048,
  maxSessionsPerSource: 32,
  idleTimeoutMs: 5 * 60_000,
  maxSessionMs: 30 * 60_000,
  maxBytesPerSession: 2 * 1024 * 1024 * 1024,
  maxEventsPerSession: 100_000,
  classifierBytes: 2 * 1024 * 1024,
  eventArgBytes: 1024,
  eventArgs: 32,
  foldAfterEvents: 256,
  foldAfterName: 100,
  sourceBytesPerHour: 32 * 1024 * 1024,
  sourcePrefix: { v4: 24, v6: 64 },
  maxWorlds: 4096,
  worldIdleMs: 30 * 60_000,
  worldLifetimeMs: 24 * 3600_000,
};
