/**
 * The shape of a command as the session dispatches it (name, arity per version, flags,
 * subcommands) and the context its handler runs in. Handlers live in one file per family
 * (strings.ts, lists.ts, keys.ts, server.ts …); table.ts puts the table together per version.
 */

import type { Keyspace } from "../keyspace.js";
import type { SessionConfig } from "../personas/config.js";
import type { Era } from "../personas/era.js";
import type { Persona, ReplicationState } from "../personas/index.js";
import type { SessionEffect } from "../types.js";
import type { Reply } from "./reply.js";

/** What one connection has changed about its make-believe server. */
export interface SessionState {
  proto: 2 | 3;
  db: number;
  authenticated: boolean;
  /** CLIENT SETNAME / HELLO SETNAME. */
  name: string;
  /** CLIENT TRACKING on (6.0+): its modes; no invalidation is ever sent. */
  tracking?: Tracking;
  /** MONITOR was asked: every command of the source's connections is shown here. */
  monitor: boolean;
  /** CLIENT SETINFO LIB-NAME / LIB-VER (7.2+; the request reader bounds their length). */
  libName: string;
  libVer: string;
  channels: Set<string>;
  patterns: Set<string>;
  /** SSUBSCRIBE's shard channels (7.0+). */
  shardChannels: Set<string>;
  /**
   * CLIENT REPLY: `off` drops every reply, `skip` the reply to this command, `skip-next` the
   * reply to the next one (as the client flags REPLY_OFF, REPLY_SKIP, REPLY_SKIP_NEXT).
   */
  replies: "on" | "off" | "skip" | "skip-next";
  config: SessionConfig;
  /** Writes since the last SAVE (INFO rdb_changes_since_last_save). */
  dirty: number;
  lastSave?: number;
  saves: number;
  replication: ReplicationState;
  /** The connection asked for SYNC/PSYNC: a replica now, whose commands get no reply. */
  syncedReplica?: boolean;
  /** Modules MODULE LOAD "loaded" (only ever a captured payload; nothing is executed). */
  modules?: LoadedModule[];
  /** SCRIPT LOAD / EVAL bodies by SHA1 (bounded by the script cap; shared by the source). */
  scripts: Map<string, string>;
  /** ACL SETUSER's users by name, `default` once changed (acl.ts; bounded; shared by the source). */
  aclUsers: Map<string, AclUser>;
  /** MULTI's queue and WATCH's keys (transactions.ts). */
  tx: Transaction;
  /** When the connection was accepted and last sent a command (CLIENT LIST age/idle). */
  createdAt: number;
  lastCommandAt: number;
  /** The connection's traffic so far, as CLIENT LIST shows it (tot-net-in/out, tot-cmds, rbp). */
  io: ConnectionIo;
}

/** CLIENT TRACKING's state for one connection (CLIENT TRACKINGINFO shows it). */
export interface Tracking {
  /** The client id invalidations go to; 0 for the connection itself. */
  redirect: number;
  bcast: boolean;
  optin: boolean;
  optout: boolean;
  noloop: boolean;
  /** CLIENT CACHING was asked in OPTIN/OPTOUT mode. */
  caching: boolean;
  /** BCAST prefixes (bounded). */
  prefixes: string[];
}

/** A connection's traffic: the command running now is counted in `netIn` and `request` only. */
export interface ConnectionIo {
  /** Commands run before the current one. */
  commands: number;
  netIn: number;
  netOut: number;
  /** Bytes of the current request and of the one before it. */
  request: number;
  previous: number;
}

/**
 * A request's size on the wire: a RESP array of bulk strings as clients send it, or an inline
 * line (its words and one space between each, then CRLF). `lengths` are the lengths as sent
 * where the reader kept only a prefix of an argument.
 */
export function requestBytes(args: Buffer[], inline: boolean, lengths?: readonly number[]): number {
  let n = inline ? 2 + Math.max(0, args.length - 1) : 3 + String(args.length).length;
  for (let i = 0; i < args.length; i++) {
    const len = lengths?.[i] ?? args[i]!.length;
    n += inline ? len : 5 + String(len).length + len;
  }
  return n;
}

/** A user as ACL SETUSER left it (acl.c's user with its root selector). */
export interface AclUser {
  enabled: boolean;
  nopass: boolean;
  /** SHA-256 hex of each password, in the order added. */
  passwords: string[];
  allKeys: boolean;
  /** Key patterns as ACL LIST writes them (`~k*`, `%R~k*`). */
  keys: string[];
  allChannels: boolean;
  channels: string[];
  /** Whether commands no rule names are allowed (`+@all` / `-@all` first). */
  allCommands: boolean;
  /** Later command rules, in order, each at most once (`+get`, `-@write`). */
  rules: string[];
  sanitizePayload: boolean;
}

export interface LoadedModule {
  name: string;
  path: string;
  sha256: string;
  /** The commands it registers, lower-case (`system.exec`). */
  commands: string[];
}

/** A successful write: counts toward the next SAVE (INFO rdb_changes_since_last_save). */
export function wrote(c: CommandContext, n = 1): void {
  c.state.dirty += n;
}

export interface ClientInfo {
  id: number;
  peer: { ip: string; port: number };
  listenerPort: number;
  local?: { ip: string; port: number };
}

/** Everything a handler may read or change for one command. */
export interface CommandContext {
  /** The command and its arguments, as received. */
  readonly args: Buffer[];
  readonly persona: Persona;
  readonly era: Era;
  readonly state: SessionState;
  readonly keyspace: Keyspace;
  readonly client: ClientInfo;
  /** The command's full name as errors show it (`config|set` from 7.0, else `config`). */
  readonly fullName: string;
  now(): number;
  /** Argument i as latin1 text (one character per byte). */
  arg(i: number): string;
  /**
   * Argument i's length as the visitor sent it: more than `args[i].length` when the server
   * kept only its first bytes (a value past the request reader's prefix).
   */
  argLength(i: number): number;
  /** INFO text for these (lower-case) section names. */
  info(sections: string[]): string;
  /** The commands of this version (COMMAND describes them). */
  readonly commands: CommandTable;
  /** Set by a handler: what the command did, for the recorder. */
  effect?: SessionEffect;
  /** Set by a handler: close after this reply (QUIT), silently if there is none. */
  close?: boolean;
  /**
   * State a handler keeps beyond the keyspace (subscriptions, scripts) is held in the session's
   * memory share: false when it does not fit (then it is not kept).
   */
  hold(bytes: number): boolean;
  /** Let go of `bytes` held before. */
  release(bytes: number): void;
  /**
   * The same for state the source's connections share (cached scripts): held in the world's
   * account (worlds.ts), so it outlives this connection and is counted while it does.
   */
  holdShared(bytes: number): boolean;
  releaseShared(bytes: number): void;
  /**
   * Whether a reply of `bytes` fits the session's memory share. When it does not, the handler
   * calls overLimit() and returns its reply: nothing is sent and the connection closes, as
   * Redis closes a client past its output buffer limit. Only replies that one command can make
   * far larger than its request ask (MGET of one big key many times).
   */
  replyFits(bytes: number): boolean;
  /** `limit`: what the recorder calls it (default: the output buffer). */
  overLimit(limit?: string): Reply;
  /**
   * Run another command as EXEC runs a queued one (Redis's call()): its handler against this
   * session, counted in the stats, its effect kept for the recorder; returns its reply.
   */
  execute(args: Buffer[], lengths?: readonly number[]): Reply;
  /**
   * Run a command for a script's redis.call/pcall: looked up and checked as scriptCall does
   * (unknown, arity, not allowed from scripts, writes from read-only scripts), then executed;
   * `{ error }` is the text Redis raises in the script for a refused command.
   */
  scriptCall(args: Buffer[], readOnly: boolean): Reply | { error: string };
  /**
   * Send a message to the source's connections subscribed to `channel` (by name or pattern;
   * shard channels for SPUBLISH); returns how many received it.
   */
  publish(channel: Buffer, message: Buffer, shard: boolean): number;
  /**
   * Block the client on keys (BLPOP, XREAD BLOCK …): the handler returns what this returns,
   * and the reply comes later — from `block.serve` once a key it waits on is written and it
   * can answer, or `block.timedOut` when the timeout passes or CLIENT UNBLOCK asks. Where the
   * client may not block (no connection to answer later, inside MULTI, past the bounds on
   * blocked clients), it answers `timedOut` at once, as Redis does.
   */
  block(block: BlockSpec): Reply;
}

/** What a blocked command does later (CommandContext.block). */
export interface BlockSpec {
  /** The keys it waits on (latin1), in the order given. */
  keys: string[];
  /** Milliseconds to wait; 0: until served, unblocked or the connection ends. */
  timeoutMs: number;
  /**
   * `key` was written: the reply if the command can now be answered (its writes done through
   * the fresh context `c`), or undefined to keep waiting.
   */
  serve(c: CommandContext, key: string): Reply | undefined;
  /** The reply when it stops waiting without data (timeout, CLIENT UNBLOCK … TIMEOUT). */
  timedOut(c: CommandContext): Reply;
}

export type Handler = (c: CommandContext) => Reply;

/** Arity as Redis writes it (n: exactly n words, -n: at least n), possibly changing by version. */
export type Arity = number | ReadonlyArray<readonly [since: string, arity: number]>;

export type CommandFlag =
  /** Runs before authentication (AUTH, HELLO, QUIT, RESET). */
  | "noauth"
  /** Allowed while a RESP2 client is subscribed. */
  | "pubsub"
  /** Changes data: refused with -READONLY while the session replicates (after SLAVEOF). */
  | "write"
  /** May grow data: refused with -OOM when the session is at its cap. */
  | "denyoom";

/**
 * What kind of command it is, named after its ACL category (@string, @connection, @admin …):
 * COMMAND INFO's flags and categories follow from it. The data kinds take keys.
 */
export type CommandCategory =
  | "string"
  | "list"
  | "hash"
  | "set"
  | "sortedset"
  | "bitmap"
  | "hyperloglog"
  | "stream"
  | "keyspace"
  | "connection"
  | "pubsub"
  | "scripting"
  | "transaction"
  | "admin";

/** Where a command's keys are, as COMMAND INFO shows them: first, last (-1: the end), step. */
export type KeyPositions = readonly [first: number, last: number, step: number];

export interface SubcommandSpec {
  /** 7.0+ arity, counted from the container's name (`CONFIG GET x` is 3 words). */
  arity: number;
  /** The words it took before 7.0, where that differed (CONFIG GET took exactly one pattern). */
  arityBefore7?: number;
  since?: string;
  /** 7.0+ refuses it unless enabled in the config file (MODULE LOAD). */
  gated?: "MODULE";
  handler: Handler;
}

export interface CommandSpec {
  /** Lower-case, as the command table names it. */
  name: string;
  arity: Arity;
  since?: string;
  category: CommandCategory;
  /** Absent: one key, the first argument, for the data kinds; none for the others. */
  keys?: KeyPositions;
  flags?: CommandFlag[];
  /** 7.0+ refuses the whole command unless enabled in the config file (DEBUG). */
  gated?: "DEBUG";
  handler?: Handler;
  /** A container (CONFIG, CLIENT …): subcommands by lower-case name. */
  subcommands?: Record<string, SubcommandSpec>;
  /**
   * Before 5.0 each container worded its own errors; these give them (unknown subcommand,
   * wrong arguments). Absent: the 5.0 wording is used for 4.0 too.
   */
  legacyErrors?: {
    unknown: (sub: string, era: Era) => string;
    arity: (sub: string, era: Era) => string;
  };
}

/** The commands of one version, by lower-case name, in the order COMMAND lists them. */
export type CommandTable = ReadonlyMap<string, CommandSpec>;

/** Commands of one category, except those that name another. */
export function inCategory(
  category: CommandCategory,
  specs: ReadonlyArray<Omit<CommandSpec, "category"> & { category?: CommandCategory }>,
): CommandSpec[] {
  return specs.map((spec) => ({ category, ...spec }));
}

export function arityAt(arity: Arity, era: Era): number {
  if (typeof arity === "number") return arity;
  let current = arity[0]![1];
  for (const [since, n] of arity) if (era.at(since)) current = n;
  return current;
}

/** Does a command of this arity accept `argc` words (name included)? */
export function arityOk(arity: number, argc: number): boolean {
  return arity > 0 ? argc === arity : argc >= -arity;
}

/** MULTI … EXEC state of one connection (transactions.ts runs it). */
export interface Transaction {
  /** Between MULTI and EXEC/DISCARD. */
  active: boolean;
  /** A command was refused while queueing (CLIENT_DIRTY_EXEC): EXEC answers EXECABORT. */
  aborted: boolean;
  /** A watched key changed, or too many were watched (CLIENT_DIRTY_CAS). */
  casFailed: boolean;
  queue: Array<{ args: Buffer[]; lengths: readonly number[] | undefined }>;
  /** Argument bytes queued (the bound). */
  bytes: number;
  watched: Array<{ db: number; key: string; stamp: number }>;
}
