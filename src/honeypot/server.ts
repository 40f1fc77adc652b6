/**
 * The honeypot's network side: listeners (TCP or TLS), each with a persona; per connection a
 * bounded request reader, a session that answers as the persona's real server would, and a
 * record of everything (connect, every command, effects, close), classified when it ends.
 *
 * Bounds, so that a flood cannot take the sensor down: concurrent sessions in all and per
 * source, idle and total time per session, input bytes per session, argument prefixes
 * (wire.ts), commands kept for classification, events queued for writing (recorder.ts), and
 * socket backpressure (a client that does not read its replies stops being read).
 */
import { createHash } from "node:crypto";
import net from "node:net";
import os from "node:os";
import tls from "node:tls";
import { timeOrderedId } from "../store/ids.js";
import type { HoneypotSessionRow } from "../store/index.js";
import { classifySession } from "./attacks.js";
import type { CaptureResult, ReplicationCapture } from "./capture.js";
import { extractIndicators } from "./indicators.js";
import type { HoneypotRecorder } from "./recorder.js";
import type { SessionContext } from "./session.js";
import type {
  HoneypotSessionHandler,
  RecordedCommand,
  SessionEffect,
  SessionReply,
} from "./types.js";
import { DEFAULT_WIRE_LIMITS, RequestStream, type WireCommand, WireProtocolError } from "./wire.js";

export interface ListenerConfig {
  host: string;
  port: number;
  persona: string;
  makeSession: (ctx: SessionContext) => HoneypotSessionHandler;
  /** TLS key and certificate: the listener speaks TLS (Redis 6+ `tls-port`). */
  tls?: tls.SecureContextOptions;
}

export interface HoneypotLimits {
  maxSessions: number;
  maxSessionsPerSource: number;
  idleTimeoutMs: number;
  maxSessionMs: number;
  /** Input bytes a session may send; past it the connection is closed (and recorded). */
  maxBytesPerSession: number;
  /** Commands recorded as events per session; later ones are counted only. */
  maxEventsPerSession: number;
  /** Commands kept in memory per session for the classifier. */
  maxClassifiedCommands: number;
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
   * Events one source address may cause per hour (SourceBudget): bounds the disk one visitor
   * can fill however many connections it makes. 0 = no limit.
   */
  sourceEventsPerHour: number;
}

export const DEFAULT_LIMITS: HoneypotLimits = {
  maxSessions: 2048,
  maxSessionsPerSource: 32,
  idleTimeoutMs: 5 * 60_000,
  maxSessionMs: 30 * 60_000,
  maxBytesPerSession: 2 * 1024 * 1024 * 1024,
  maxEventsPerSession: 100_000,
  maxClassifiedCommands: 5000,
  eventArgBytes: 1024,
  eventArgs: 32,
  foldAfterEvents: 256,
  foldAfterName: 100,
  sourceEventsPerHour: 100_000,
};

/** What Redis answers a connection over maxclients before closing it (acceptCommonHandler). */
const MAXCLIENTS_REPLY = Buffer.from("-ERR max number of clients reached\r\n");

/** Sources a SourceBudget remembers; past it, those whose allowance refilled are forgotten. */
const BUDGET_SOURCES = 65_536;
const HOUR_MS = 3_600_000;

/**
 * Events each source address may cause, as a token bucket: a burst of one hour's allowance,
 * refilled evenly. A connection costs one to be accepted (the visitor whose budget is spent
 * gets the max-clients error Redis gives a full server, and nothing is recorded) and each
 * recorded command one more (past it, the session's commands are answered and counted, not
 * recorded). Memory: at most BUDGET_SOURCES buckets.
 */
export class SourceBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perHour: number,
    private readonly maxSources = BUDGET_SOURCES,
  ) {}

  /** Spend one event of `ip`'s allowance; false when there is none left. */
  take(ip: string, now: number): boolean {
    if (this.perHour <= 0) return true;
    let b = this.buckets.get(ip);
    if (b === undefined) {
      if (this.buckets.size >= this.maxSources) this.forget(now);
      b = { tokens: this.perHour, at: now };
      this.buckets.set(ip, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.perHour, b.tokens + ((now - b.at) * this.perHour) / HOUR_MS);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /** Sources remembered (for tests and stats). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Drop the buckets that have refilled (a new one would be the same); if that frees less than
   * a quarter, the oldest down to half, so a walk over all of them happens at most once per
   * maxSources/4 new sources, not once per connection.
   */
  private forget(now: number): void {
    for (const [ip, b] of this.buckets) {
      if (b.tokens + ((now - b.at) * this.perHour) / HOUR_MS >= this.perHour)
        this.buckets.delete(ip);
    }
    if (this.buckets.size <= this.maxSources * 0.75) return;
    let drop = this.buckets.size - (this.maxSources >> 1);
    for (const ip of this.buckets.keys()) {
      if (drop-- <= 0) break;
      this.buckets.delete(ip);
    }
  }
}

/**
 * Commands that only move data: past the thresholds, more of them say nothing new. Anything
 * that configures, saves, replicates, loads, runs scripts, authenticates or flushes is never
 * folded, and neither is any argument that could carry a payload (see plainArgs).
 */
const FOLDABLE = new Set(
  (
    "PING ECHO GET SET SETNX SETEX PSETEX GETSET MGET MSET APPEND STRLEN INCR INCRBY DECR DECRBY " +
    "EXISTS TYPE TTL PTTL EXPIRE PEXPIRE PERSIST DEL UNLINK LPUSH RPUSH LPOP RPOP LRANGE LLEN " +
    "LINDEX SADD SREM SPOP SMEMBERS SCARD SISMEMBER HSET HGET HMSET HMGET HGETALL HDEL HLEN " +
    "HINCRBY HEXISTS ZADD ZRANGE ZSCORE ZCARD ZREM PUBLISH SELECT DBSIZE TIME"
  ).split(" "),
);

/** Longest argument a folded command may have. */
const FOLD_ARG_BYTES = 128;

/** Every argument short and made of `[A-Za-z0-9_:.-]`: no path, URL, key, cron line or script. */
function plainArgs(cmd: WireCommand): boolean {
  const args = cmd.args;
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (a.length > FOLD_ARG_BYTES) return false;
    const b = a.prefix;
    for (let j = 0; j < b.length; j++) {
      const c = b[j]!;
      // 0-9 : ; A-Z _ a-z - .   (no '/', space, '*', quotes, '<', '?', '(' …)
      if (
        !(
          (c >= 0x30 && c <= 0x3a) ||
          (c >= 0x41 && c <= 0x5a) ||
          (c >= 0x61 && c <= 0x7a) ||
          c === 0x5f ||
          c === 0x2d ||
          c === 0x2e
        )
      ) {
        return false;
      }
    }
  }
  return true;
}

/** Distinct command names counted per session; the rest are counted under OTHER_NAMES. */
const MAX_COUNTED_NAMES = 256;
const OTHER_NAMES = "(other)";

/** A command name's tally in one session. */
interface NameCount {
  count: number;
  /** The name may be folded (FOLDABLE). */
  foldable: boolean;
  /** Commands of this name counted but not recorded, and their arguments. */
  folded: { count: number; args: number } | undefined;
}

/**
 * One more `name` in a session's counts; returns its tally. A visitor inventing names (a
 * fuzzer, a flood of junk) costs one counter past MAX_COUNTED_NAMES, not one per name.
 */
function countCommand(counts: Map<string, NameCount>, name: string): NameCount {
  let c = counts.get(name);
  if (c === undefined) {
    const key = counts.size < MAX_COUNTED_NAMES ? name : OTHER_NAMES;
    c = counts.get(key);
    if (c === undefined) {
      c = { count: 0, foldable: key === name && FOLDABLE.has(name), folded: undefined };
      counts.set(key, c);
    }
  }
  c.count++;
  return c;
}

/** Longest name commandName remembers between requests (command names are short). */
const NAME_MEMO_BYTES = 24;

/**
 * The command's name as the counters and events show it (upper case, at most 64 bytes). A
 * pipeline repeats one name: the last one's bytes are compared before decoding again.
 */
function commandName(cmd: WireCommand, tr: Tracked): string {
  const first = cmd.args[0]?.prefix;
  if (first === undefined) return "";
  const memo = tr.nameBytes;
  if (memo !== undefined && memo.length === first.length) {
    let i = 0;
    while (i < first.length && memo[i] === first[i]) i++;
    if (i === first.length) return tr.name;
  }
  const name = first.toString("latin1", 0, Math.min(64, first.length)).toUpperCase();
  if (first.length <= NAME_MEMO_BYTES) {
    // A copy: a view would keep the whole request (and its payload) alive.
    tr.nameBytes = Buffer.from(first);
    tr.name = name;
  }
  return name;
}

export interface HoneypotStats {
  sessions: number;
  active: number;
  refused: number;
  commands: number;
  bytesIn: number;
}

/** A session's running record: what the session row and the classifier are built from. */
interface Tracked {
  row: HoneypotSessionRow;
  t0: number;
  /** When the visitor last sent something (ms): the idle timeout counts from it. */
  lastActive: number;
  seq: number;
  commands: RecordedCommand[];
  effects: SessionEffect[];
  counts: Map<string, NameCount>;
  /** Commands counted but not recorded (repetition folding): name → commands and arguments. */
  folded: Map<string, { count: number; args: number }>;
  /** Commands recorded as events. */
  recorded: number;
  /** ISO time of the read being handled: every event of one read carries it. */
  now: string | undefined;
  /** A payload capture was started for this session (one at most). */
  captured: boolean;
  closing: boolean;
  /** Commands not recorded because the source's budget was spent (SourceBudget). */
  overBudget: number;
  /** The last command name's bytes and its decoded form (commandName). */
  nameBytes: Buffer | undefined;
  name: string;
}

export class HoneypotServer {
  private servers: net.Server[] = [];
  private readonly perSource = new Map<string, number>();
  private readonly budget: SourceBudget;
  /** Open sessions by socket (the sweep closes idle and overlong ones). */
  private readonly sockets = new Map<net.Socket, Tracked>();
  private sweeper: NodeJS.Timeout | undefined;
  private clientIds = 0;
  readonly stats: HoneypotStats = { sessions: 0, active: 0, refused: 0, commands: 0, bytesIn: 0 };
  private readonly sensor = os.hostname();

  constructor(
    private readonly listeners: ListenerConfig[],
    private readonly recorder: HoneypotRecorder,
    private readonly limits: HoneypotLimits = DEFAULT_LIMITS,
    /** Told of every session when it ends (the CLI prints a line). */
    private readonly onSessionEnd?: (row: HoneypotSessionRow) => void,
    /** With --capture-replication: what SLAVEOF's rogue masters send is kept. */
    private readonly capture?: ReplicationCapture,
    private readonly onCapture?: (row: HoneypotSessionRow, result: CaptureResult) => void,
  ) {
    this.budget = new SourceBudget(limits.sourceEventsPerHour);
  }

  /**
   * Replies wait here until every read of this event-loop turn has been answered, then go out
   * together, in order (null: end the connection after what came before). Redis does the same
   * (its replies are written before the event loop sleeps), and a client woken once for many
   * replies costs far less than one woken per reply.
   */
  private readonly outSockets: net.Socket[] = [];
  private readonly outBuffers: Array<Buffer | null> = [];
  private outScheduled = false;

  private post(sock: net.Socket, reply: Buffer | null): void {
    this.outSockets.push(sock);
    this.outBuffers.push(reply);
    if (!this.outScheduled) {
      this.outScheduled = true;
      setImmediate(this.sendPosted);
    }
  }

  private readonly sendPosted = (): void => {
    this.outScheduled = false;
    const socks = this.outSockets;
    const bufs = this.outBuffers;
    for (let i = 0; i < socks.length; i++) {
      const sock = socks[i]!;
      const buf = bufs[i]!;
      if (buf === null) sock.end();
      else if (!sock.destroyed && !sock.writableEnded) {
        // A client that does not read its replies is not read either: memory stays bounded.
        if (!sock.write(buf)) sock.pause();
      }
    }
    socks.length = 0;
    bufs.length = 0;
  };

  /** Payload captures running (stop waits for them before the last flush). */
  private readonly captures = new Set<Promise<void>>();

  /** The operator enabled payload capture: connect to the rogue master, record the outcome. */
  private startCapture(tr: Tracked, host: string, port: number, listeningPort: number): void {
    const running = this.capture!.capture(host, port, listeningPort).then((result) => {
      tr.now = undefined;
      this.event(tr, "capture", result.status, { capture: result });
      this.onCapture?.(tr.row, result);
    });
    this.captures.add(running);
    void running.finally(() => this.captures.delete(running));
  }

  /** Called when the last open session has been finished (stop waits for it). */
  private onDrained: (() => void) | undefined;

  /** Listen on every listener; returns the bound addresses (port 0 → the kernel's choice). */
  async start(): Promise<Array<{ host: string; port: number; persona: string }>> {
    const bound: Array<{ host: string; port: number; persona: string }> = [];
    for (const l of this.listeners) {
      const onConn = (sock: net.Socket): void => this.accept(sock, l);
      const server = l.tls
        ? tls.createServer({ ...l.tls }, onConn)
        : net.createServer({ noDelay: true }, onConn);
      // A TLS handshake that fails is a connection too (scanners probing TLS): count it.
      server.on("tlsClientError", () => this.stats.refused++);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: l.host, port: l.port }, () => resolve());
      });
      server.on("error", () => {});
      const addr = server.address() as net.AddressInfo;
      bound.push({ host: l.host, port: addr.port, persona: l.persona });
      this.servers.push(server);
    }
    // One timer for every session's idle and total time, not two per connection.
    const every = Math.max(50, Math.min(1000, this.limits.idleTimeoutMs / 4));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
    return bound;
  }

  /** Close sessions silent past the idle timeout or open past the session time limit. */
  private sweep(): void {
    const now = Date.now();
    for (const [sock, tr] of this.sockets) {
      const limit =
        now - tr.lastActive >= this.limits.idleTimeoutMs
          ? "idle"
          : now - tr.t0 >= this.limits.maxSessionMs
            ? "lifetime"
            : undefined;
      if (limit === undefined || sock.destroyed) continue;
      tr.now = undefined;
      this.event(tr, "limit", undefined, { limit });
      sock.destroy();
    }
  }

  async stop(): Promise<void> {
    // Every session's final row is written before the recorder's last flush.
    const finished =
      this.sockets.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.onDrained = resolve;
          });
    clearInterval(this.sweeper);
    for (const s of this.sockets.keys()) s.destroy();
    this.capture?.abort();
    await finished;
    await Promise.all(this.captures);
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
    await this.recorder.flush();
  }

  private accept(sock: net.Socket, l: ListenerConfig): void {
    const ip = normaliseIp(sock.remoteAddress ?? "");
    const port = sock.remotePort ?? 0;
    const fromSource = this.perSource.get(ip) ?? 0;
    clockMs = Date.now();
    if (
      this.stats.active >= this.limits.maxSessions ||
      fromSource >= this.limits.maxSessionsPerSource ||
      !this.budget.take(ip, clockMs)
    ) {
      // As Redis at maxclients: the error, then the connection closes. Nothing is recorded.
      this.stats.refused++;
      sock.on("error", () => {});
      sock.end(MAXCLIENTS_REPLY, () => sock.destroy());
      return;
    }
    this.perSource.set(ip, fromSource + 1);
    this.stats.active++;
    this.stats.sessions++;
    const clientId = ++this.clientIds;
    const started = clockMs;
    const tr: Tracked = {
      row: {
        id: timeOrderedId(started),
        sensor: this.sensor,
        listener: `${l.host}:${sock.localPort ?? l.port}`,
        persona: l.persona,
        srcIp: ip,
        srcPort: port,
        startedAt: new Date(started).toISOString(),
        bytesIn: 0,
        bytesOut: 0,
        commands: 0,
        classes: "",
        record: {},
      },
      t0: started,
      lastActive: started,
      seq: 0,
      commands: [],
      effects: [],
      counts: new Map(),
      folded: new Map(),
      recorded: 0,
      now: undefined,
      captured: false,
      closing: false,
      overBudget: 0,
      nameBytes: undefined,
      name: "",
    };
    this.sockets.set(sock, tr);
    this.recorder.session({ ...tr.row });
    this.event(tr, "connect", undefined, { transport: l.tls ? "tls" : "tcp" });

    const session = l.makeSession({
      now: readClock,
      clientId,
      peer: { ip, port },
      listenerPort: sock.localPort ?? l.port,
      local: { ip: normaliseIp(sock.localAddress ?? ""), port: sock.localPort ?? l.port },
    });
    const stream = new RequestStream(DEFAULT_WIRE_LIMITS);
    const write = (r: SessionReply): void => {
      if (r.effect) {
        if (tr.effects.length < this.limits.maxClassifiedCommands) tr.effects.push(r.effect);
        this.event(tr, "effect", r.effect.kind, { effect: r.effect });
        const e = r.effect;
        if (e.kind === "replicaof" && e.host !== "NO ONE" && this.capture && !tr.captured) {
          tr.captured = true;
          this.startCapture(tr, e.host, e.port, sock.localPort ?? l.port);
        }
      }
      if (r.reply && r.reply.length > 0 && !sock.destroyed) {
        tr.row.bytesOut += r.reply.length;
        this.post(sock, r.reply);
      }
      if (r.close) {
        tr.closing = true;
        this.post(sock, null);
      }
    };
    sock.on("drain", () => {
      if (!tr.closing) sock.resume();
    });

    write(session.greet());
    const commands: WireCommand[] = [];
    sock.on("data", (chunk: Buffer) => {
      if (tr.closing) return;
      tr.now = undefined;
      tr.row.bytesIn += chunk.length;
      this.stats.bytesIn += chunk.length;
      if (tr.row.bytesIn > this.limits.maxBytesPerSession) {
        this.event(tr, "limit", undefined, { limit: "bytes", bytes: tr.row.bytesIn });
        sock.destroy();
        return;
      }
      commands.length = 0;
      clockMs = Date.now();
      tr.lastActive = clockMs;
      try {
        stream.push(chunk, commands);
      } catch (e) {
        this.run(tr, commands, session, write);
        if (e instanceof WireProtocolError) {
          this.event(tr, "protocol_error", undefined, { message: e.message });
          write(session.protocolError(e.message));
          tr.closing = true;
          sock.end();
          return;
        }
        throw e;
      }
      this.run(tr, commands, session, write);
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      // The persona counts live sessions (INFO connected_clients).
      session.end?.();
      this.sockets.delete(sock);
      this.stats.active--;
      const left = (this.perSource.get(ip) ?? 1) - 1;
      if (left > 0) this.perSource.set(ip, left);
      else this.perSource.delete(ip);
      this.finish(tr);
      if (this.sockets.size === 0) this.onDrained?.();
    });
  }

  private run(
    tr: Tracked,
    commands: WireCommand[],
    session: HoneypotSessionHandler,
    write: (r: SessionReply) => void,
  ): void {
    // Replies to one read go out in one write, as Redis flushes a client's output once per
    // event-loop turn; a reply that says so discards what that read produced before it
    // (6.0+ closes on `Host:` without writing the GET's error that came in the same packet).
    const pending: Buffer[] = [];
    const flush = (close: boolean): void => {
      if (pending.length > 0) write({ reply: Buffer.concat(pending) });
      pending.length = 0;
      if (close) write({ close: true });
    };
    const limits = this.limits;
    for (const cmd of commands) {
      if (tr.closing) break;
      tr.row.commands++;
      this.stats.commands++;
      const name = commandName(cmd, tr);
      const seen = countCommand(tr.counts, name);
      if (
        seen.foldable &&
        limits.foldAfterEvents > 0 &&
        tr.recorded >= limits.foldAfterEvents &&
        seen.count > limits.foldAfterName &&
        plainArgs(cmd)
      ) {
        let f = seen.folded;
        if (f === undefined) {
          f = { count: 0, args: 0 };
          seen.folded = f;
          tr.folded.set(name, f);
        }
        f.count++;
        f.args += cmd.args.length - 1;
      } else if (
        tr.commands.length < limits.maxClassifiedCommands ||
        tr.recorded < limits.maxEventsPerSession
      ) {
        const recorded = this.recordCommand(tr, cmd, name);
        if (tr.commands.length < limits.maxClassifiedCommands) tr.commands.push(recorded);
        if (tr.recorded < limits.maxEventsPerSession) {
          if (this.budget.take(tr.row.srcIp, clockMs)) {
            tr.recorded++;
            this.event(tr, "command", name, {
              args: recorded.args,
              lengths: recorded.argLengths,
              sha256: recorded.argHashes,
              inline: recorded.inline,
              ...(cmd.args.length - 1 > recorded.args.length ? { argc: cmd.args.length } : {}),
            });
          } else tr.overBudget++;
        }
      }
      const r: SessionReply & { discardPending?: boolean } = session.command(
        cmd.args.map((a) => a.prefix),
        cmd.inline,
        // commandName cuts at 64 bytes: a longer name is looked up from its bytes.
        name.length < 64 ? name : undefined,
      );
      if (r.effect) write({ effect: r.effect });
      if (r.discardPending) pending.length = 0;
      if (r.reply) pending.push(r.reply);
      if (r.close) {
        flush(true);
        return;
      }
    }
    flush(false);
  }

  /** The bounded form of a command: what events keep and the classifier reads. */
  private recordCommand(tr: Tracked, cmd: WireCommand, name: string): RecordedCommand {
    const keep = cmd.args.slice(0, this.limits.eventArgs);
    return {
      t: Date.now() - tr.t0,
      name,
      args: keep
        .slice(1)
        .map((a) => a.prefix.subarray(0, this.limits.eventArgBytes).toString("latin1")),
      argLengths: keep.slice(1).map((a) => a.length),
      argHashes: keep
        .slice(1)
        .map(
          (a) =>
            a.sha256 ??
            (a.length > this.limits.eventArgBytes
              ? createHash("sha256").update(a.prefix).digest("hex")
              : null),
        ),
      inline: cmd.inline,
    };
  }

  private event(
    tr: Tracked,
    kind: string,
    name: string | undefined,
    record: Record<string, unknown>,
  ): void {
    tr.now ??= new Date().toISOString();
    const row = {
      sessionId: tr.row.id,
      seq: tr.seq++,
      time: tr.now,
      kind,
      record,
      ...(name !== undefined ? { name } : {}),
    };
    this.recorder.event(row);
  }

  /** The session ends: classify what it did, extract indicators, write its final row. */
  private finish(tr: Tracked): void {
    const findings = classifySession(tr.commands, tr.effects, {
      bytesIn: tr.row.bytesIn,
      sentNothing: tr.row.commands === 0,
      folded: tr.folded,
    });
    const indicators = extractIndicators(tr.commands, tr.effects);
    tr.now = undefined;
    const folded = tr.folded.size > 0 ? { folded: Object.fromEntries(tr.folded) } : {};
    this.event(tr, "close", undefined, {
      commands: tr.row.commands,
      bytes_in: tr.row.bytesIn,
      ...folded,
    });
    const final: HoneypotSessionRow = {
      ...tr.row,
      endedAt: new Date().toISOString(),
      classes: findings.map((f) => f.class).join(","),
      record: {
        findings,
        indicators,
        command_counts: Object.fromEntries(Array.from(tr.counts, ([k, c]) => [k, c.count])),
        ...(tr.row.commands > tr.commands.length
          ? { classified_commands: tr.commands.length }
          : {}),
        ...(tr.row.commands > tr.recorded ? { events_recorded: tr.recorded } : {}),
        // The source had spent its hour's budget: these commands were answered, not recorded.
        ...(tr.overBudget > 0 ? { over_source_budget: tr.overBudget } : {}),
        ...folded,
      },
    };
    this.recorder.session(final);
    this.onSessionEnd?.(final);
  }
}

/**
 * The sessions' clock: read once per socket event, as Redis caches the time per event rather
 * than asking the kernel for each command (TTLs, idle times and INFO see the same instant).
 */
let clockMs = Date.now();
const readClock = (): number => clockMs;

/** Random bytes for session ids, refilled 682 ids at a time. */
/** `::ffff:1.2.3.4` (a dual-stack socket's view of IPv4) as `1.2.3.4`. */
function normaliseIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}
