/**
 * One connection to a persona: the medium-interaction engine. It answers each decoded request
 * the way the persona's real server would, in the order real Redis checks things
 * (processCommand): the cross-protocol guard, command lookup, arity, 7.0's gated admin
 * commands, authentication, the subscribed context, read-only replicas, the memory cap — then
 * the command, against a keyspace of its own. Nothing is executed or contacted; every effect
 * an attacker aims for (files, replication, modules, scripts) is only reported.
 */

import { PROTOCOL_ERRORS } from "../resp/index.js";
import {
  encodeReply,
  errorCode,
  errorReply,
  isError,
  nullBulk,
  type Reply,
} from "./commands/reply.js";
import { NOSCRIPT } from "./commands/scripting.js";
import {
  arityAt,
  arityOk,
  type ClientInfo,
  type CommandContext,
  type CommandSpec,
  type CommandTable,
  type Handler,
  type SessionState,
} from "./commands/spec.js";
import { commandTable, resolveCommand } from "./commands/table.js";
import {
  discardTransaction,
  MAX_QUEUED,
  MAX_QUEUED_BYTES,
  NOT_QUEUED,
  newTransaction,
  queuedBytes,
} from "./commands/transactions.js";
import { DEFAULT_KEYSPACE_LIMITS, Keyspace, type KeyspaceLimits } from "./keyspace.js";
import type { MemoryAccount } from "./memory.js";
import type { Era } from "./personas/era.js";
import type { Persona, SessionView } from "./personas/index.js";
import {
  arityText,
  deniedText,
  gatedCommandText,
  NOAUTH,
  OOM,
  subscribedContextText,
  unknownCommandText,
} from "./personas/texts.js";
import type { HoneypotSessionHandler, SessionEffect, SessionReply } from "./types.js";

/**
 * A SessionReply with one more instruction for the server: drop replies to earlier requests of
 * the same read that are not written yet. Redis 6.0+ never writes the pending output of a
 * client it is closing for a POST / Host: line, so `GET / HTTP/1.1` + `Host:` in one packet
 * gets nothing back, where 3.2–5.0 still wrote the GET's arity error.
 */
export interface PersonaReply extends SessionReply {
  discardPending?: boolean;
}

export interface SessionLimits extends KeyspaceLimits {
  /** Most arguments in one command; more is answered as an invalid multibulk length. */
  maxArgs: number;
}

export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  ...DEFAULT_KEYSPACE_LIMITS,
  maxArgs: 65_536,
});

export interface SessionContext {
  /** The client id CLIENT ID, CLIENT LIST and HELLO show (the server assigns them). */
  clientId: number;
  peer: { ip: string; port: number };
  /** The listener's port (INFO tcp_port, CONFIG GET port). */
  listenerPort: number;
  /** The local address of the connection, if the server knows it (CLIENT LIST laddr). */
  local?: { ip: string; port: number };
  now?: () => number;
  limits?: Partial<SessionLimits>;
  /** The connection's share of the honeypot's memory budget: the keyspace draws from it. */
  memory?: MemoryAccount;
}

/**
 * O(1) commands (Redis's @fast): they take well under a microsecond here as in Redis, so
 * commandstats is charged 1 µs a call without reading the clock twice.
 */
const FAST = new Set(
  (
    "get set setnx getset append strlen incr decr incrby decrby exists type ttl pttl expire " +
    "pexpire persist llen lpush rpush lpop rpop lindex hget hset hsetnx hexists hlen hdel " +
    "sadd srem scard sismember publish select dbsize time ping echo"
  ).split(" "),
);

/** Redis 6.2.6+ limits before authentication (CVE-2021-32675). */
const UNAUTHENTICATED_MAX_ARGS = 10;
const UNAUTHENTICATED_MAX_BULK = 16_384;

export class Session implements HoneypotSessionHandler {
  readonly persona: Persona;
  readonly state: SessionState;
  readonly keyspace: Keyspace;
  readonly client: ClientInfo;
  readonly now: () => number;
  /** The connection's share of the memory budget (none: not counted). */
  readonly memory: MemoryAccount | undefined;
  private readonly limits: SessionLimits;
  /** The persona's version's commands. */
  readonly table: CommandTable;
  private closed = false;

  constructor(persona: Persona, ctx: SessionContext) {
    this.persona = persona;
    this.table = commandTable(persona.era);
    this.now = ctx.now ?? persona.now;
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...ctx.limits };
    this.memory = ctx.memory;
    this.client = { id: ctx.clientId, peer: ctx.peer, listenerPort: ctx.listenerPort };
    if (ctx.local !== undefined) this.client.local = ctx.local;
    const now = this.now();
    this.state = {
      proto: 2,
      db: 0,
      authenticated: persona.auth !== "password",
      name: "",
      channels: new Set(),
      patterns: new Set(),
      config: persona.config(ctx.listenerPort),
      dirty: 0,
      saves: 0,
      replication: { replid: persona.masterReplid, replid2: "0".repeat(40), secondReplOffset: -1 },
      scripts: new Map(),
      tx: newTransaction(),
      createdAt: now,
      lastCommandAt: now,
    };
    this.keyspace = new Keyspace(this.limits, this.now, (n) => persona.countExpired(n), ctx.memory);
    persona.attach(this.state);
  }

  /**
   * Protected mode answers before reading anything, then closes — to every peer: a honeypot
   * faces the internet, and its own loopback is not where visitors come from.
   */
  greet(): PersonaReply {
    if (this.persona.auth !== "protected") return {};
    return this.finish({
      reply: encodeReply(errorReply(deniedText(this.persona.era)), 2),
      close: true,
    });
  }

  command(
    args: Buffer[],
    inline: boolean,
    upper?: string,
    lengths?: readonly number[],
  ): PersonaReply {
    if (this.closed || args.length === 0) return {};
    const reply = this.dispatch(args, inline, upper, lengths);
    let inBytes = 0;
    for (let i = 0; i < args.length; i++) inBytes += (lengths?.[i] ?? args[i]!.length) + 8;
    this.persona.countTraffic(inBytes, reply.reply?.length ?? 0);
    return reply.close ? this.finish(reply) : reply;
  }

  /** The request stream broke the protocol: Redis's text for what broke, then close. */
  protocolError(text: string): PersonaReply {
    if (this.closed) return {};
    return this.closeWith(`ERR ${text}`);
  }

  /** The connection is gone (the server calls this on close): it stops counting as a client. */
  end(): void {
    if (!this.closed) this.endTransaction();
    this.closed = true;
    this.persona.detach(this.state);
  }

  private finish(reply: PersonaReply): PersonaReply {
    this.end();
    return reply;
  }

  private closeWith(text: string): PersonaReply {
    this.countError(text);
    return this.finish({ reply: encodeReply(errorReply(text), this.state.proto), close: true });
  }

  private error(text: string, rejected?: string): PersonaReply {
    // A command refused inside MULTI aborts the transaction (flagTransaction); EXEC itself
    // refused ends it with the reason (execCommandAbort).
    const tx = this.state.tx;
    if (tx.active) {
      tx.aborted = true;
      if (rejected === "exec") {
        this.endTransaction();
        text = `EXECABORT Transaction discarded because of: ${text}`;
      }
    }
    this.countError(text);
    if (rejected !== undefined) this.persona.countRejected(rejected);
    return { reply: encodeReply(errorReply(text), this.state.proto) };
  }

  private countError(text: string): void {
    this.persona.countError(text.split(" ", 1)[0]!);
  }

  private dispatch(
    args: Buffer[],
    inline: boolean,
    upper: string | undefined,
    lengths: readonly number[] | undefined,
  ): PersonaReply {
    const persona = this.persona;
    const era = persona.era;
    const state = this.state;
    const needsAuth = persona.auth === "password" && !state.authenticated;
    state.lastCommandAt = this.now();

    if (args.length > this.limits.maxArgs)
      return this.closeWith(`ERR ${PROTOCOL_ERRORS.multibulkLength}`);
    // Before authentication 6.2.6+ refuses big requests while parsing them (only multibulk).
    if (!inline && needsAuth && era.unauthenticatedLimits) {
      if (args.length > UNAUTHENTICATED_MAX_ARGS) {
        return this.closeWith(`ERR ${PROTOCOL_ERRORS.unauthenticatedMultibulk}`);
      }
      if (args.some((a, i) => (lengths?.[i] ?? a.length) > UNAUTHENTICATED_MAX_BULK)) {
        return this.closeWith(`ERR ${PROTOCOL_ERRORS.unauthenticatedBulk}`);
      }
    }

    // The caller's upper-case name lowers to the same table key for every ASCII name.
    const lower = (upper ?? args[0]!.toString("latin1")).toLowerCase();
    // Cross-protocol scripting guard: HTTP's POST and Host: end the connection without a word.
    if (era.crossProtocolGuard && (lower === "post" || lower === "host:")) {
      if (era.crossProtocolBeforeAuth || !needsAuth) {
        return this.finish({ close: true, discardPending: era.dropsPendingOnAbort });
      }
      return this.error(NOAUTH);
    }

    const spec = this.table.get(lower);
    if (spec === undefined) {
      return this.error(
        unknownCommandText(
          era,
          args[0]!.toString("latin1"),
          args.slice(1).map((a) => a.toString("latin1")),
        ),
      );
    }
    if (!arityOk(arityAt(spec.arity, era), args.length)) {
      return this.error(arityText(spec.name), spec.name);
    }

    const resolved = resolveCommand(spec, args, era);
    if ("error" in resolved) return this.error(resolved.error, spec.name);
    const { handler, fullName, gated } = resolved;

    if (gated !== undefined && era.gatedAdminCommands) {
      const reply = this.error(gatedCommandText(gated), fullName);
      if (gated === "MODULE" && args.length >= 3 && /^load/i.test(args[1]!.toString("latin1"))) {
        reply.effect = boundEffect({ kind: "module_load", path: args[2]!.toString("latin1") });
      }
      return reply;
    }
    if (needsAuth && !spec.flags?.includes("noauth")) return this.error(NOAUTH, fullName);
    const subscribed = state.channels.size + state.patterns.size > 0;
    if (subscribed && state.proto === 2 && !spec.flags?.includes("pubsub")) {
      return this.error(subscribedContextText(era, fullName), fullName);
    }
    if (state.replication.master !== undefined && spec.flags?.includes("write")) {
      const who = era.at("5.0") ? "replica" : "slave";
      return this.error(`READONLY You can't write against a read only ${who}.`, fullName);
    }
    if (spec.flags?.includes("denyoom") && this.atCap()) return this.error(OOM, fullName);

    if (state.tx.active && !NOT_QUEUED.has(spec.name)) return this.queue(args, lengths, fullName);
    return this.run(handler, args, fullName, lengths, spec);
  }

  /** Inside MULTI: keep the command for EXEC (bounded), answer QUEUED. */
  private queue(
    args: Buffer[],
    lengths: readonly number[] | undefined,
    fullName: string,
  ): PersonaReply {
    const tx = this.state.tx;
    // An aborted transaction keeps nothing more (queueMultiCommand), but still says QUEUED.
    if (!tx.aborted) {
      const bytes = queuedBytes(args);
      if (
        tx.queue.length >= MAX_QUEUED ||
        tx.bytes + bytes > MAX_QUEUED_BYTES ||
        !(this.memory?.take(bytes) ?? true)
      ) {
        return this.error(OOM, fullName);
      }
      tx.bytes += bytes;
      tx.queue.push({ args, lengths });
    }
    return { reply: QUEUED };
  }

  /** The transaction ends unexecuted (DISCARD, a refused EXEC, the connection closed). */
  private endTransaction(): void {
    discardTransaction(this.state.tx, this.keyspace, (n) => this.memory?.give(n));
  }

  /** What EXEC runs for a queued command (call()): its handler, counted, its effect kept. */
  execute(args: Buffer[], lengths: readonly number[] | undefined, outer: Context): Reply {
    const lower = args[0]!.toString("latin1").toLowerCase();
    const spec = this.table.get(lower);
    if (spec === undefined) return errorReply(unknownCommandText(this.persona.era, lower, []));
    const resolved = resolveCommand(spec, args, this.persona.era);
    if ("error" in resolved) return errorReply(resolved.error);
    return this.call(resolved.handler, args, resolved.fullName, lengths, spec, outer);
  }

  /** A script's redis.call: refused as scriptCall refuses, else run as EXEC runs one. */
  scriptCall(args: Buffer[], readOnly: boolean, outer: Context): Reply | { error: string } {
    const era = this.persona.era;
    const lower = args[0]!.toString("latin1").toLowerCase();
    const spec = this.table.get(lower);
    if (spec === undefined) return { error: "Unknown Redis command called from script" };
    if (!arityOk(arityAt(spec.arity, era), args.length)) {
      return { error: "Wrong number of args calling Redis command from script" };
    }
    const resolved = resolveCommand(spec, args, era);
    if ("error" in resolved) {
      if (!era.subcommandTable) return errorReply(resolved.error);
      return {
        error: /^ERR unknown subcommand/.test(resolved.error)
          ? "Unknown Redis command called from script"
          : "Wrong number of args calling Redis command from script",
      };
    }
    if (NOSCRIPT.has(spec.name) || NOSCRIPT.has(resolved.fullName)) {
      return { error: "This Redis command is not allowed from script" };
    }
    const write = spec.flags?.includes("write") === true;
    if (write && readOnly)
      return { error: "Write commands are not allowed from read-only scripts." };
    if (write && this.state.replication.master !== undefined) {
      return errorReply(
        `READONLY You can't write against a read only ${era.at("5.0") ? "replica" : "slave"}.`,
      );
    }
    if (spec.flags?.includes("denyoom") && this.atCap()) return errorReply(OOM);
    return this.call(resolved.handler, args, resolved.fullName, undefined, spec, outer);
  }

  /** Run a handler inside another command (EXEC, a script): stats, WATCH stamps, effect. */
  private call(
    handler: Handler,
    args: Buffer[],
    fullName: string,
    lengths: readonly number[] | undefined,
    spec: CommandSpec,
    outer: Context,
  ): Reply {
    const ctx = new Context(this, args, fullName, lengths);
    const reply = handler(ctx);
    const failed = isError(reply);
    this.persona.countCommand(fullName, 1, failed);
    if (failed) this.persona.countError(errorCode(reply) ?? "ERR");
    else this.touchKeys(spec, args);
    if (ctx.effect !== undefined) outer.effect = ctx.effect;
    if (ctx.limit !== undefined) outer.limit = ctx.limit;
    return reply;
  }

  /** A write command's keys changed: WATCH sees it (signalModifiedKey). */
  private touchKeys(spec: CommandSpec, args: Buffer[]): void {
    if (!this.keyspace.watching || !spec.flags?.includes("write")) return;
    const [first, last, step] = spec.keys ?? [1, 1, 1];
    if (first <= 0) return;
    const end = last < 0 ? args.length + last : Math.min(last, args.length - 1);
    for (let i = first; i <= end && step > 0; i += step) {
      this.keyspace.touch(this.state.db, args[i]!.toString("latin1"));
    }
  }

  private atCap(): boolean {
    return this.keyspace.bytes >= this.limits.maxBytes;
  }

  private run(
    handler: Handler,
    args: Buffer[],
    fullName: string,
    lengths: readonly number[] | undefined,
    spec: CommandSpec,
  ): PersonaReply {
    const timed = !FAST.has(fullName);
    const started = timed ? performance.now() : 0;
    const ctx = new Context(this, args, fullName, lengths);
    const reply: Reply = handler(ctx);
    if (ctx.limit !== undefined) return this.finish({ close: true, limit: ctx.limit });
    const usec = timed ? Math.round((performance.now() - started) * 1000) : 1;
    const failed = isError(reply);
    this.persona.countCommand(fullName, Math.max(1, usec), failed);
    if (failed) this.persona.countError(errorCode(reply) ?? "ERR");
    else this.touchKeys(spec, args);
    const out: PersonaReply = { reply: encodeReply(reply, this.state.proto) };
    if (ctx.close) out.close = true;
    if (ctx.effect !== undefined) out.effect = boundEffect(ctx.effect);
    return out;
  }

  /** INFO text for these (lower-case) section names, as this session sees the server. */
  info(sections: string[]): string {
    return this.persona.info(this.view(), { names: sections });
  }

  /** What INFO shows of this session's world. */
  private view(): SessionView {
    const s = this.state;
    const view: SessionView = {
      now: this.now(),
      port: this.client.listenerPort,
      datasetBytes: this.keyspace.bytes,
      keyspace: this.keyspace.stats(),
      dirty: s.dirty,
      saves: s.saves,
      channels: s.channels.size,
      patterns: s.patterns.size,
      config: s.config,
      replication: s.replication,
    };
    if (s.lastSave !== undefined) view.lastSave = s.lastSave;
    return view;
  }
}

/** Longest text an effect carries (a password, a path, a host): as much as a recorder keeps. */
const EFFECT_TEXT_CHARS = 1024;

/** The effect with every text field cut to EFFECT_TEXT_CHARS. */
function boundEffect(effect: SessionEffect): SessionEffect {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(effect)) {
    out[k] = typeof v === "string" ? v.slice(0, EFFECT_TEXT_CHARS) : v;
  }
  return out as SessionEffect;
}

/** MULTI's answer to a queued command. */
const QUEUED = encodeReply({ type: "simple", value: "QUEUED" }, 2);

/** One command's context: a plain object of one shape, no closures. */
class Context implements CommandContext {
  readonly persona: Persona;
  readonly era: Era;
  readonly state: SessionState;
  readonly keyspace: Keyspace;
  readonly client: ClientInfo;
  readonly commands: CommandTable;
  readonly now: () => number;
  effect: SessionEffect | undefined = undefined;
  close: boolean | undefined = undefined;
  /** Set by overLimit(): the connection closes unanswered, recorded as this limit. */
  limit: string | undefined = undefined;

  constructor(
    private readonly session: Session,
    readonly args: Buffer[],
    readonly fullName: string,
    /** Each argument's length as sent, where the server kept only a prefix of some. */
    private readonly lengths: readonly number[] | undefined,
  ) {
    this.persona = session.persona;
    this.era = session.persona.era;
    this.state = session.state;
    this.keyspace = session.keyspace;
    this.client = session.client;
    this.commands = session.table;
    this.now = session.now;
  }

  arg(i: number): string {
    return this.args[i]?.toString("latin1") ?? "";
  }

  argLength(i: number): number {
    return this.lengths?.[i] ?? this.args[i]?.length ?? 0;
  }

  hold(bytes: number): boolean {
    return this.session.memory?.take(bytes) ?? true;
  }

  release(bytes: number): void {
    this.session.memory?.give(bytes);
  }

  replyFits(bytes: number): boolean {
    const memory = this.session.memory;
    return memory === undefined || bytes <= memory.room;
  }

  overLimit(limit = "output_buffer"): Reply {
    this.limit = limit;
    return nullBulk();
  }

  info(sections: string[]): string {
    return this.session.info(sections);
  }

  execute(args: Buffer[], lengths?: readonly number[]): Reply {
    return this.session.execute(args, lengths, this);
  }

  scriptCall(args: Buffer[], readOnly: boolean): Reply | { error: string } {
    return this.session.scriptCall(args, readOnly, this);
  }
}
