/**
 * One connection to a persona: the medium-interaction engine. It answers each decoded request
 * the way the persona's real server would, in the order real Redis checks things
 * (processCommand): the cross-protocol guard, command lookup, arity, 7.0's gated admin
 * commands, authentication, the subscribed context, read-only replicas, the memory cap — then
 * the command, against a keyspace of its own. Nothing is executed or contacted; every effect
 * an attacker aims for (files, replication, modules, scripts) is only reported.
 */

import { PROTOCOL_ERRORS } from "../resp/index.js";
import { formatAddr } from "./commands/connection.js";
import { lookedUpBefore, missCounted, readLookups } from "./commands/lookups.js";
import { moduleCommandSpec } from "./commands/module.js";
import { hiddenFromMonitor, monitorLine } from "./commands/monitor.js";
import { publishTo, subscriptions } from "./commands/pubsub.js";
import { replicaLinkEvent } from "./commands/replication.js";
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
  type BlockSpec,
  type ClientInfo,
  type CommandContext,
  type CommandSpec,
  type CommandTable,
  type Handler,
  requestBytes,
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
  refusedInMulti,
} from "./commands/transactions.js";
import { DEFAULT_KEYSPACE_LIMITS, type Keyspace, type KeyspaceLimits } from "./keyspace.js";
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
  UNBLOCKED,
  unknownCommandText,
} from "./personas/texts.js";
import type {
  HoneypotSessionHandler,
  ReplicaLinkEvent,
  SessionEffect,
  SessionReply,
} from "./types.js";
import { SHARED_STATE, type SharedState, SourceWorld, type Subscriber } from "./worlds.js";

/**
 * A SessionReply with one more instruction for the server: drop replies to earlier requests of
 * the same read that are not written yet. Redis 6.0+ never writes the pending output of a
 * client it is closing for a POST / Host: line, so `GET / HTTP/1.1` + `Host:` in one packet
 * gets nothing back, where 3.2–5.0 still wrote the GET's arity error.
 */
export interface PersonaReply extends SessionReply {
  discardPending?: boolean;
}

/**
 * The deferred reply of a blocked command (BLPOP …), handed to the server when the client is
 * served, times out or is unblocked; the server then goes on with the requests it queued.
 */
export type Deliver = (reply: SessionReply) => void;

export interface SessionLimits extends KeyspaceLimits {
  /** Most arguments in one command; more is answered as an invalid multibulk length. */
  maxArgs: number;
}

export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  ...DEFAULT_KEYSPACE_LIMITS,
  maxArgs: 65_536,
});

export interface SessionContext {
  /**
   * The client id CLIENT ID, CLIENT LIST and HELLO show; by default the persona numbers its
   * clients as a real server does (consistent with INFO total_connections_received).
   */
  clientId?: number;
  peer: { ip: string; port: number };
  /** The listener's port (INFO tcp_port, CONFIG GET port). */
  listenerPort: number;
  /** The local address of the connection, if the server knows it (CLIENT LIST laddr). */
  local?: { ip: string; port: number };
  now?: () => number;
  limits?: Partial<SessionLimits>;
  /** The connection's share of the honeypot's memory budget. */
  memory?: MemoryAccount;
  /**
   * Where a blocked command's reply goes later (the server's). Absent: commands never block
   * (they answer as their timeout would, as Redis answers a client that may not block).
   */
  deliver?: Deliver;
  /**
   * Where messages other connections of the source publish go (the server writes them as
   * they come). Absent: the session receives none.
   */
  push?: (bytes: Buffer) => void;
  /**
   * The server's world for this connection's source (worlds.ts): the keyspace and server state
   * it shares with the source's other connections. Without it the session has a world of its
   * own, drawn from `memory`.
   */
  world?: WorldAccess;
}

/** The registry's world for one connection's source, as the server hands it to the session. */
export interface WorldAccess {
  enter(make: (account: MemoryAccount | undefined, now: number) => SourceWorld): SourceWorld;
  /** The connection closed. */
  leave(): void;
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
  /** What this connection shares with the other connections of its source. */
  readonly world: SourceWorld;
  readonly client: ClientInfo;
  readonly now: () => number;
  /** The connection's share of the memory budget (none: not counted). */
  readonly memory: MemoryAccount | undefined;
  private readonly worldAccess: WorldAccess | undefined;
  /** This connection as the source's PUBLISH reaches it. */
  private readonly subscriber: Subscriber | undefined;
  private readonly limits: SessionLimits;
  /** Where the reply of a blocked command goes (the server's); absent: none blocks. */
  readonly deliver: Deliver | undefined;
  /** The persona's version's commands. */
  readonly table: CommandTable;
  private closed = false;
  /** The error code a command run inside this one (a script's redis.call) last failed with. */
  private innerError: string | undefined;

  constructor(persona: Persona, ctx: SessionContext) {
    this.persona = persona;
    this.table = commandTable(persona.era);
    this.now = ctx.now ?? persona.now;
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...ctx.limits };
    this.memory = ctx.memory;
    this.deliver = ctx.deliver;
    this.client = { id: 0, peer: ctx.peer, listenerPort: ctx.listenerPort };
    if (ctx.local !== undefined) this.client.local = ctx.local;
    const now = this.now();
    const make = (account: MemoryAccount | undefined): SourceWorld =>
      new SourceWorld(persona, ctx.listenerPort, this.limits, this.now, account);
    this.worldAccess = ctx.world;
    const world = ctx.world?.enter(make) ?? make(ctx.memory);
    this.world = world;
    // The connection's own state, and the world's through accessors: handlers read and write
    // `c.state.config`, `c.state.dirty` … and change what the whole source sees.
    const own: Omit<SessionState, SharedState> = {
      proto: 2,
      db: 0,
      authenticated: persona.auth !== "password",
      name: "",
      monitor: false,
      libName: "",
      libVer: "",
      channels: new Set(),
      patterns: new Set(),
      shardChannels: new Set(),
      replies: "on",
      scripts: world.scripts,
      aclUsers: world.aclUsers,
      tx: newTransaction(),
      createdAt: now,
      lastCommandAt: now,
      io: { commands: 0, netIn: 0, netOut: 0, request: 0, previous: 0 },
    };
    for (const key of SHARED_STATE) {
      Object.defineProperty(own, key, {
        get: () => world[key],
        set: (v: SourceWorld[typeof key]) => {
          (world as Pick<SessionState, SharedState>)[key] = v as never;
        },
        enumerable: true,
      });
    }
    this.state = own as SessionState;
    if (ctx.push !== undefined) {
      this.subscriber = { state: this.state, push: ctx.push };
      world.subscribers.add(this.subscriber);
    }
    this.keyspace = world.keyspace;
    const id = persona.attach(this.state);
    this.client.id = ctx.clientId ?? id;
  }

  /**
   * processMultibulkBuffer's bound: 1024*1024 until 7.0, INT_MAX since for a client that needs
   * no password. (One that does is refused by the unauthenticated limit at the request's end;
   * it keeps the old bound, so a huge header is still refused at once.)
   */
  get maxMultibulk(): number {
    const open = this.persona.auth !== "password";
    return open && this.persona.era.at("7.0") ? 2_147_483_647 : 1024 * 1024;
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
    const io = this.state.io;
    io.previous = io.request;
    io.request = requestBytes(args, inline, lengths);
    io.netIn += io.request;
    const reply = this.dispatch(args, inline, upper, lengths);
    this.applyReplyMode(reply);
    io.commands++;
    io.netOut += reply.reply?.length ?? 0;
    return reply.close ? this.finish(reply) : reply;
  }

  /** The socket read or wrote: counted where INFO reads it (the persona's counters). */
  io(kind: "read" | "write", bytes: number): void {
    if (kind === "read") this.persona.countRead(bytes);
    else this.persona.countWrite(bytes);
  }

  /**
   * CLIENT REPLY OFF/SKIP: the reply is dropped (the command still runs, as in Redis); SKIP's
   * `skip-next` becomes `skip` for the command after it.
   */
  private applyReplyMode(reply: PersonaReply): void {
    const s = this.state;
    if (s.replies === "on") return;
    // `skip-next` was set by this very command (CLIENT REPLY SKIP), which is not answered.
    delete reply.reply;
    if (s.replies === "skip") s.replies = "on";
    else if (s.replies === "skip-next") s.replies = "skip";
  }

  /** The request stream broke the protocol: Redis's text for what broke, then close. */
  protocolError(text: string): PersonaReply {
    if (this.closed) return {};
    return this.closeWith(`ERR ${text}`);
  }

  /** The connection is gone (the server calls this on close): it stops counting as a client. */
  end(): void {
    if (this.closed) return;
    this.endTransaction();
    this.closed = true;
    this.keyspace.blocked.remove(this.client.id);
    this.persona.detach(this.state);
    if (this.subscriber !== undefined) {
      this.world.subscribers.delete(this.subscriber);
      this.world.monitors.delete(this.subscriber);
    }
    this.worldAccess?.leave();
  }

  /** MONITOR on or off: this connection's subscriber joins or leaves its world's monitors. */
  monitoring(on: boolean): void {
    if (this.subscriber === undefined) return;
    if (on) this.world.monitors.add(this.subscriber);
    else this.world.monitors.delete(this.subscriber);
  }

  /** The server follows this session's SLAVEOF: what its link did (commands/replication.ts). */
  replicaLink(event: ReplicaLinkEvent): string | undefined {
    return replicaLinkEvent(this.state, event);
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

    const spec = this.table.get(lower) ?? moduleCommandSpec(state, lower);
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
    if ("error" in resolved) {
      // 7.0+ refuses an unknown subcommand (or its arity) before running anything; before,
      // the container ran and answered the error itself: a command processed, and failed.
      if (era.subcommandTable) return this.error(resolved.error, resolved.rejected);
      this.persona.countCommand(spec.name, 1, true);
      return this.error(resolved.error);
    }
    const { handler, fullName, gated } = resolved;

    if (
      gated !== undefined &&
      era.gatedAdminCommands &&
      state.config.get(`enable-${gated.toLowerCase()}-command`) !== "yes"
    ) {
      const reply = this.error(gatedCommandText(gated), fullName);
      if (gated === "MODULE" && args.length >= 3 && /^load/i.test(args[1]!.toString("latin1"))) {
        reply.effect = boundEffect({ kind: "module_load", path: args[2]!.toString("latin1") });
      }
      return reply;
    }
    if (needsAuth && !spec.flags?.includes("noauth")) return this.error(NOAUTH, fullName);
    if (state.tx.active && refusedInMulti(era, spec.name)) {
      return this.error("ERR Command not allowed inside a transaction", fullName);
    }
    const subscribed = subscriptions(state) > 0;
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
    // Valkey 8 dropped "Redis" from these two (valkey-io/valkey src/script.c).
    const unknown = era.valkey8
      ? "Unknown command called from script"
      : "Unknown Redis command called from script";
    const arity = era.valkey8
      ? "Wrong number of args calling command from script"
      : "Wrong number of args calling Redis command from script";
    if (spec === undefined) return { error: unknown };
    if (!arityOk(arityAt(spec.arity, era), args.length)) return { error: arity };
    const resolved = resolveCommand(spec, args, era);
    if ("error" in resolved) {
      if (!era.subcommandTable) return errorReply(resolved.error);
      return {
        error: /^ERR unknown subcommand/.test(resolved.error) ? unknown : arity,
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
    return this.call(resolved.handler, args, resolved.fullName, undefined, spec, outer, "lua");
  }

  /**
   * The command is shown to the source's monitors (MONITOR), if any and unless the version
   * hides it. Returns the line when this connection monitors too: the caller puts it with its
   * own reply, so that it keeps its place among the replies.
   */
  private feedMonitors(args: Buffer[], peer?: string): Buffer | undefined {
    const monitors = this.world.monitors;
    if (monitors.size === 0) return undefined;
    const name = args[0]!.toString("latin1").toLowerCase();
    if (!SELF_FED.has(name) && hiddenFromMonitor(this.persona.recording?.commands, args)) {
      return undefined;
    }
    const who = peer ?? formatAddr(this.client.peer.ip, this.client.peer.port);
    const line = monitorLine(this.persona.era, this.now(), this.state.db, who, args);
    let own: Buffer | undefined;
    for (const s of monitors) {
      if (s.state === this.state) own = line;
      else s.push(line);
    }
    return own;
  }

  /** Run a handler inside another command (EXEC, a script): stats, WATCH stamps, effect. */
  private call(
    handler: Handler,
    args: Buffer[],
    fullName: string,
    lengths: readonly number[] | undefined,
    spec: CommandSpec,
    outer: Context,
    /** How monitors name the caller: `lua` for a script's calls (else the client's address). */
    peer?: string,
  ): Reply {
    const ctx = new Context(this, args, fullName, lengths);
    // Inside EXEC or a script a command may not block: it answers as its timeout would.
    ctx.denyBlocking = true;
    const shownBefore = this.persona.era.before("6.2");
    const push = (line: Buffer | undefined): void => {
      if (line !== undefined) this.subscriber?.push(line);
    };
    if (shownBefore) push(this.feedMonitors(args, peer));
    const found = this.readLookups(spec, args);
    const reply = handler(ctx);
    this.countLookups(spec, found, reply);
    if (!shownBefore) push(this.feedMonitors(args, peer));
    const failed = isError(reply);
    // 3.2 and 4.0 counted a command EXEC ran against the client's last command: EXEC.
    const era = this.persona.era;
    const asExec = outer.fullName === "exec" && era.at("3.2") && era.before("5.0");
    this.persona.countCommand(asExec ? "exec" : fullName, 1, failed);
    if (failed) {
      this.persona.countError(errorCode(reply) ?? "ERR");
      this.innerError = errorCode(reply) ?? "ERR";
    } else this.touchKeys(spec, args);
    if (ctx.effect !== undefined) outer.effect = ctx.effect;
    if (ctx.limit !== undefined) outer.limit = ctx.limit;
    return reply;
  }

  /** Whether each key the command reads as lookupKeyRead does (commands/lookups.ts) exists. */
  private readLookups(spec: CommandSpec, args: Buffer[]): boolean[] {
    const db = this.state.db;
    return readLookups(spec.name, args, this.persona.era).map((i) =>
      this.keyspace.exists(db, args[i]!.toString("latin1")),
    );
  }

  /**
   * INFO keyspace_hits / keyspace_misses for those lookups, unless the command was refused
   * before it looked (lookedUpBefore).
   */
  private countLookups(spec: CommandSpec, found: boolean[], reply: Reply): void {
    if (found.length === 0) return;
    if (isError(reply) && !lookedUpBefore(spec.name, errorCode(reply) ?? "ERR")) return;
    const misses = missCounted(spec.name, this.persona.era);
    for (const hit of found) if (hit || misses) this.persona.countLookup(hit);
  }

  /**
   * 7.0+: a script that fails with the error a redis.call inside it got passes on an error
   * counted already (afterErrorReply's ERR_REPLY_FLAG_NO_STATS_UPDATE): counted once.
   */
  private errorCountedInside(reply: Reply): boolean {
    const inner = this.innerError;
    this.innerError = undefined;
    return inner !== undefined && this.persona.era.at("7.0") && errorCode(reply) === inner;
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
    // Monitors see the command before it runs (after, from 6.2); this very connection's line
    // goes with its reply, in that order.
    // Scripts show themselves first, then their calls (evalCommand feeds monitors itself).
    const shownBefore = this.persona.era.before("6.2") || SELF_FED.has(spec.name);
    const ownBefore = shownBefore ? this.feedMonitors(args) : undefined;
    const ctx = new Context(this, args, fullName, lengths);
    const found = this.readLookups(spec, args);
    this.innerError = undefined;
    const reply: Reply = handler(ctx);
    const ownAfter = shownBefore ? undefined : this.feedMonitors(args);
    this.countLookups(spec, found, reply);
    // Keys this command made ready serve the clients blocked on them (another connection's,
    // when the keyspace is shared), after the command as Redis does.
    this.keyspace.blocked.serve();
    if (ctx.limit !== undefined) return this.finish({ close: true, limit: ctx.limit });
    if (ctx.blocked !== undefined) {
      // 7.2+ counts a blocked command when it runs again to be answered (blockOn).
      if (this.persona.era.before("7.2")) this.persona.countCommand(fullName, 1, false);
      this.blockOn(ctx.blocked, args, fullName, lengths);
      const out: PersonaReply = { blocked: true };
      if (ctx.effect !== undefined) out.effect = boundEffect(ctx.effect);
      return out;
    }
    const usec = timed ? Math.round((performance.now() - started) * 1000) : 1;
    const failed = isError(reply);
    // Before 7.0 processCommand answered QUIT itself: never counted as a command.
    if (fullName !== "quit" || this.persona.era.at("7.0")) {
      this.persona.countCommand(fullName, Math.max(1, usec), failed);
    }
    if (failed && !this.errorCountedInside(reply)) {
      this.persona.countError(errorCode(reply) ?? "ERR");
    }
    if (!failed) this.touchKeys(spec, args);
    // A master writes nothing to a replica's client but the stream (REPLCONF ACK gets nothing).
    const out: PersonaReply =
      this.state.syncedReplica === true && fullName !== "sync" && fullName !== "psync"
        ? {}
        : { reply: encodeReply(reply, this.state.proto) };
    if (out.reply !== undefined && (ownBefore ?? ownAfter) !== undefined) {
      out.reply = Buffer.concat([ownBefore ?? EMPTY, out.reply, ownAfter ?? EMPTY]);
    }
    if (ctx.close) out.close = true;
    if (ctx.effect !== undefined) out.effect = boundEffect(ctx.effect);
    return out;
  }

  /**
   * The command blocks: its reply goes to the server later (deliver), when a key it waits on
   * can serve it, or when it times out or is unblocked. The arguments are copied: the
   * request's buffers are the reader's.
   */
  private blockOn(
    block: BlockSpec,
    args: Buffer[],
    fullName: string,
    lengths: readonly number[] | undefined,
  ): void {
    const kept = args.map((a) => Buffer.from(a));
    const answer = (make: (c: CommandContext) => Reply | undefined): boolean => {
      if (this.closed) return true;
      const ctx = new Context(this, kept, fullName, lengths);
      ctx.served = true;
      const reply = make(ctx);
      if (reply === undefined) return false;
      const out: SessionReply = { reply: encodeReply(reply, this.state.proto) };
      if (ctx.effect !== undefined) out.effect = boundEffect(ctx.effect);
      if (this.persona.era.at("7.2")) this.persona.countCommand(fullName, 1, isError(reply));
      if (isError(reply)) this.persona.countError(errorCode(reply) ?? "ERR");
      this.deliver?.(out);
      return true;
    };
    this.keyspace.blocked.add(
      {
        db: this.state.db,
        keys: block.keys,
        clientId: this.client.id,
        attempt: (key) => answer((c) => block.serve(c, key)),
        expire: (how) =>
          answer((c) => (how === "error" ? errorReply(UNBLOCKED) : block.timedOut(c))),
      },
      block.timeoutMs,
    );
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
      connectionCommands: s.io.commands,
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
const EMPTY = Buffer.alloc(0);

/** Flagged skip_monitor, yet shown: they feed monitors themselves, before they run. */
const SELF_FED = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"]);

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
  /** Set by block(): the command waits (Session.blockOn). */
  blocked: BlockSpec | undefined = undefined;
  /**
   * The client may not block here (a command run inside EXEC or a script): block() answers
   * as the timeout would.
   */
  denyBlocking = false;
  served = false;

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

  holdShared(bytes: number): boolean {
    return this.session.world.account?.take(bytes) ?? true;
  }

  releaseShared(bytes: number): void {
    this.session.world.account?.give(bytes);
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

  block(block: BlockSpec): Reply {
    const s = this.session;
    if (this.denyBlocking || s.deliver === undefined || !s.keyspace.blocked.hasRoom()) {
      return block.timedOut(this);
    }
    this.blocked = block;
    return nullBulk();
  }

  execute(args: Buffer[], lengths?: readonly number[]): Reply {
    return this.session.execute(args, lengths, this);
  }

  publish(channel: Buffer, message: Buffer, shard: boolean): number {
    return publishTo(this.session.world.subscribers, channel, message, shard);
  }

  setMonitor(on: boolean): void {
    this.state.monitor = on;
    this.session.monitoring(on);
  }

  scriptCall(args: Buffer[], readOnly: boolean): Reply | { error: string } {
    return this.session.scriptCall(args, readOnly, this);
  }
}
