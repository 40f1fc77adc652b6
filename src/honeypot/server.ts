/**
 * The honeypot's network side: listeners (TCP or TLS), each with a persona; per connection a
 * bounded request reader, a session that answers as the persona's real server would, and a
 * record of everything (connect, every command, effects, close), classified when it ends.
 *
 * Bounds, so that a flood cannot take the sensor down:
 * - memory: one budget (memory.ts) that every session's held bytes draw from (arguments of a
 *   command still arriving, its keyspace, what the classifier keeps, replies not yet sent) and
 *   the recorder's queue too. A session past its share is closed without a reply, as Redis
 *   closes a client past its query-buffer limit; when the budget is short, the session holding
 *   the most is closed. Either way a `limit` event says so.
 * - slots: sessions in all and per source prefix (/24, /64: one IPv6 host has a /64 to spread
 *   over). When every slot is taken, a new visitor closes the session idle the longest rather
 *   than being turned away, so a slowloris of many sources cannot shut everyone else out.
 * - disk: the bytes of events each source prefix may cause per hour (SourceBudget).
 * - time: idle and total time per session; input bytes per session; argument prefixes
 *   (the request decoder's recording mode); socket backpressure (a client that does not read its replies stops being read).
 */
import { createHash } from "node:crypto";
import net from "node:net";
import os from "node:os";
import tls from "node:tls";
import { addressPrefix } from "../net/ip.js";
import {
  RequestDecoder,
  RequestLimitError,
  RequestProtocolError,
  type RespCommand,
} from "../resp/index.js";
import { timeOrderedId } from "../store/ids.js";
import type { HoneypotSessionRow } from "../store/index.js";
import { classifySession } from "./attacks.js";
import type { CaptureResult, ReplicationCapture } from "./capture.js";
import { extractIndicators } from "./indicators.js";
import { DEFAULT_MEMORY_BYTES, type MemoryAccount, MemoryBudget } from "./memory.js";
import { eventRow, type HoneypotRecorder, serialise, sessionRow } from "./recorder.js";
import type { SessionContext } from "./session.js";
import type {
  HoneypotSessionHandler,
  RecordedCommand,
  SessionEffect,
  SessionReply,
} from "./types.js";

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
};

/**
 * Bytes of each argument the request decoder keeps (its recording mode); a longer argument is
 * kept as this prefix, its length and its SHA-256. Commands see the prefix, as Redis's 64 KB
 * inline limit already bounds the arguments a command reads as text.
 */
const ARG_PREFIX_BYTES = 64 * 1024;

/** What Redis answers a connection over maxclients before closing it (acceptCommonHandler). */
const MAXCLIENTS_REPLY = Buffer.from("-ERR max number of clients reached\r\n");

/** Sources a SourceBudget remembers; past it, those whose allowance refilled are forgotten. */
const BUDGET_SOURCES = 65_536;
const HOUR_MS = 3_600_000;

/**
 * Bytes of records each source may cause, as a token bucket: a burst of one hour's allowance,
 * refilled evenly. What is counted is what goes to disk: each event and session row as
 * serialised (a command with 32 arguments of 1 KB costs 32 KB, a PING a hundred bytes). A
 * source with nothing left is turned away with the max-clients error Redis gives a full server
 * (nothing recorded), and its open sessions' commands are answered and counted, not recorded.
 * A record is counted whole once begun, so a source overdraws by at most one record. Memory:
 * at most BUDGET_SOURCES buckets.
 */
export class SourceBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly perHour: number,
    private readonly maxSources = BUDGET_SOURCES,
  ) {}

  /** Has `source` any allowance left? */
  has(source: string, now: number): boolean {
    return this.perHour <= 0 || this.bucket(source, now).tokens > 0;
  }

  /** Count `bytes` against `source`'s allowance (it may go below zero: see above). */
  spend(source: string, now: number, bytes: number): void {
    if (this.perHour > 0) this.bucket(source, now).tokens -= bytes;
  }

  /** The source's bucket, refilled up to now. */
  private bucket(source: string, now: number): { tokens: number; at: number } {
    let b = this.buckets.get(source);
    if (b === undefined) {
      if (this.buckets.size >= this.maxSources) this.forget(now);
      b = { tokens: this.perHour, at: now };
      this.buckets.set(source, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.perHour, b.tokens + ((now - b.at) * this.perHour) / HOUR_MS);
      b.at = now;
    }
    return b;
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
function plainArgs(cmd: RespCommand): boolean {
  const args = cmd.args;
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!;
    if (argLength(cmd, i) > FOLD_ARG_BYTES) return false;
    for (let j = 0; j < a.length; j++) {
      const c = a[j]!;
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
function commandName(cmd: RespCommand, tr: Tracked): string {
  const first = cmd.args[0];
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
  /** Sessions closed to give their slot to a new visitor (every slot was taken). */
  evicted: number;
  commands: number;
  bytesIn: number;
}

/** A session's running record: what the session row and the classifier are built from. */
interface Tracked {
  row: HoneypotSessionRow;
  sock: net.Socket;
  /** The source prefix the per-source limits count it under. */
  source: string;
  /** Its share of the memory budget. */
  memory: MemoryAccount;
  t0: number;
  /** When the visitor last sent something (ms): the idle timeout counts from it. */
  lastActive: number;
  seq: number;
  commands: RecordedCommand[];
  effects: SessionEffect[];
  /** Bytes `commands` hold (classifierBytes bounds it). */
  classified: number;
  /** Bytes `effects` hold (EFFECT_BYTES bounds it). */
  effectBytes: number;
  /** Commands past classifierBytes, counted by name for the classifier. */
  unclassified: Map<string, { count: number; args: number }>;
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

export interface HoneypotOptions {
  limits?: HoneypotLimits;
  /** The memory budget, shared with the recorder (default: DEFAULT_MEMORY_BYTES of its own). */
  memory?: MemoryBudget;
  /** Told of every session when it ends (the CLI prints a line). */
  onSessionEnd?: (row: HoneypotSessionRow) => void;
  /** With --capture-replication: what SLAVEOF's rogue masters send is kept. */
  capture?: ReplicationCapture;
  onCapture?: (row: HoneypotSessionRow, result: CaptureResult) => void;
  /**
   * Told of each read from a visitor (its size), once it has been handled: its replies are
   * posted. Lets a client be paced by what the server has read (the one-byte tests).
   */
  onRead?: (bytes: number) => void;
}

/** Bytes of effects kept per session for the classifier (each is at most about 1 KB). */
const EFFECT_BYTES = 256 * 1024;

/** What a command kept for the classifier costs: its objects and strings (a byte a character). */
function recordedBytes(r: RecordedCommand): number {
  let n = 160 + r.name.length;
  for (let i = 0; i < r.args.length; i++) n += 56 + r.args[i]!.length + (r.argHashes[i] ? 80 : 0);
  return n;
}

/** Add `from`'s counts into `into` (a copy when both have some). */
function mergeCounts(
  into: Map<string, { count: number; args: number }>,
  from: Map<string, { count: number; args: number }>,
): Map<string, { count: number; args: number }> {
  if (from.size === 0) return into;
  if (into.size === 0) return from;
  const out = new Map(Array.from(into, ([k, v]) => [k, { ...v }]));
  for (const [name, f] of from) {
    const c = out.get(name);
    if (c === undefined) out.set(name, { ...f });
    else {
      c.count += f.count;
      c.args += f.args;
    }
  }
  return out;
}

export class HoneypotServer {
  private servers: net.Server[] = [];
  /** Open sessions per source prefix. */
  private readonly perSource = new Map<string, number>();
  private readonly budget: SourceBudget;
  /** Open sessions by socket (the sweep closes idle and overlong ones). */
  private readonly sockets = new Map<net.Socket, Tracked>();
  private sweeper: NodeJS.Timeout | undefined;
  private clientIds = 0;
  readonly stats: HoneypotStats = {
    sessions: 0,
    active: 0,
    refused: 0,
    evicted: 0,
    commands: 0,
    bytesIn: 0,
  };
  private readonly sensor = os.hostname();
  private readonly limits: HoneypotLimits;
  readonly memory: MemoryBudget;
  private readonly onSessionEnd: HoneypotOptions["onSessionEnd"];
  private readonly capture: ReplicationCapture | undefined;
  private readonly onCapture: HoneypotOptions["onCapture"];
  private readonly onRead: HoneypotOptions["onRead"];

  constructor(
    private readonly listeners: ListenerConfig[],
    private readonly recorder: HoneypotRecorder,
    options: HoneypotOptions = {},
  ) {
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.memory = options.memory ?? new MemoryBudget(DEFAULT_MEMORY_BYTES);
    this.onSessionEnd = options.onSessionEnd;
    this.capture = options.capture;
    this.onCapture = options.onCapture;
    this.onRead = options.onRead;
    this.budget = new SourceBudget(this.limits.sourceBytesPerHour);
  }

  /**
   * Replies wait here until every read of this event-loop turn has been answered, then go out
   * together, in order (null: end the connection after what came before). Redis does the same
   * (its replies are written before the event loop sleeps), and a client woken once for many
   * replies costs far less than one woken per reply. A reply's bytes stay taken from its
   * session's memory share until the socket has handed them to the kernel.
   */
  private readonly outSockets: net.Socket[] = [];
  private readonly outBuffers: Array<Buffer | null> = [];
  private readonly outMemory: Array<MemoryAccount | undefined> = [];
  private outScheduled = false;

  private post(sock: net.Socket, reply: Buffer | null, memory?: MemoryAccount): void {
    this.outSockets.push(sock);
    this.outBuffers.push(reply);
    this.outMemory.push(memory);
    if (!this.outScheduled) {
      this.outScheduled = true;
      setImmediate(this.sendPosted);
    }
  }

  private readonly sendPosted = (): void => {
    this.outScheduled = false;
    const socks = this.outSockets;
    const bufs = this.outBuffers;
    const accounts = this.outMemory;
    for (let i = 0; i < socks.length; i++) {
      const sock = socks[i]!;
      const buf = bufs[i]!;
      const memory = accounts[i];
      if (buf === null) sock.end();
      else if (!sock.destroyed && !sock.writableEnded) {
        const given = memory === undefined ? undefined : () => memory.give(buf.length);
        // A client that does not read its replies is not read either: memory stays bounded.
        if (!sock.write(buf, given)) sock.pause();
      } else memory?.give(buf.length);
    }
    socks.length = 0;
    bufs.length = 0;
    accounts.length = 0;
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
    for (const tr of this.sockets.values()) {
      const limit =
        now - tr.lastActive >= this.limits.idleTimeoutMs
          ? "idle"
          : now - tr.t0 >= this.limits.maxSessionMs
            ? "lifetime"
            : undefined;
      if (limit !== undefined) this.cut(tr, { limit });
    }
  }

  /**
   * End a session for a limit: the `limit` event says which, and the connection closes without
   * another word (as Redis frees a client past a limit). Once per session.
   */
  private cut(tr: Tracked, record: Record<string, unknown>): void {
    if (tr.sock.destroyed) return;
    tr.closing = true;
    tr.now = undefined;
    this.event(tr, "limit", undefined, record);
    tr.sock.destroy();
  }

  /**
   * Every slot is taken: the session idle the longest gives its slot up, so that a new visitor
   * is answered however many sources keep slots busy. False when none can (all are closing).
   */
  private evictIdlest(now: number): boolean {
    let idlest: Tracked | undefined;
    for (const tr of this.sockets.values()) {
      if (tr.sock.destroyed) continue;
      if (idlest === undefined || tr.lastActive < idlest.lastActive) idlest = tr;
    }
    if (idlest === undefined) return false;
    this.stats.evicted++;
    this.cut(idlest, { limit: "evicted", idle_ms: now - idlest.lastActive });
    return true;
  }

  /**
   * Stop listening and end every session; each session's final row is handed to the recorder.
   * Writing what the recorder holds is the caller's (recorder.close(), with its deadline).
   */
  async stop(): Promise<void> {
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
  }

  private accept(sock: net.Socket, l: ListenerConfig): void {
    const ip = normaliseIp(sock.remoteAddress ?? "");
    const port = sock.remotePort ?? 0;
    const source = addressPrefix(ip, this.limits.sourcePrefix.v4, this.limits.sourcePrefix.v6);
    const fromSource = this.perSource.get(source) ?? 0;
    clockMs = Date.now();
    if (
      fromSource >= this.limits.maxSessionsPerSource ||
      !this.budget.has(source, clockMs) ||
      (this.stats.active >= this.limits.maxSessions && !this.evictIdlest(clockMs))
    ) {
      // As Redis at maxclients: the error, then the connection closes. Nothing is recorded.
      this.stats.refused++;
      sock.on("error", () => {});
      sock.end(MAXCLIENTS_REPLY, () => sock.destroy());
      return;
    }
    this.perSource.set(source, fromSource + 1);
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
      sock,
      source,
      // Closed to make room when the budget is short and this session holds the most.
      memory: this.memory.open(this.memory.sessionShare, () => this.cut(tr, { limit: "memory" })),
      t0: started,
      lastActive: started,
      seq: 0,
      commands: [],
      effects: [],
      classified: 0,
      effectBytes: 0,
      unclassified: new Map(),
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
    this.recorder.write(sessionRow({ ...tr.row }));
    this.event(tr, "connect", undefined, { transport: l.tls ? "tls" : "tcp" });

    const session = l.makeSession({
      now: readClock,
      clientId,
      peer: { ip, port },
      listenerPort: sock.localPort ?? l.port,
      local: { ip: normaliseIp(sock.localAddress ?? ""), port: sock.localPort ?? l.port },
      memory: tr.memory,
    });
    const stream = new RequestDecoder({ argPrefixBytes: ARG_PREFIX_BYTES, account: tr.memory });
    const write = (r: SessionReply, charged = false): void => {
      if (r.effect) {
        this.keepEffect(tr, r.effect);
        this.event(tr, "effect", r.effect.kind, { effect: r.effect });
        const e = r.effect;
        if (e.kind === "replicaof" && e.host !== "NO ONE" && this.capture && !tr.captured) {
          tr.captured = true;
          this.startCapture(tr, e.host, e.port, sock.localPort ?? l.port);
        }
      }
      if (r.reply && r.reply.length > 0) {
        if (!sock.destroyed) {
          tr.row.bytesOut += r.reply.length;
          this.post(sock, r.reply, charged ? tr.memory : undefined);
        } else if (charged) tr.memory.give(r.reply.length);
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
    const commands: RespCommand[] = [];
    const onRead = this.onRead;
    sock.on("data", (chunk: Buffer) => {
      try {
        read(chunk);
      } finally {
        onRead?.(chunk.length);
      }
    });
    const read = (chunk: Buffer): void => {
      if (tr.closing) return;
      tr.now = undefined;
      tr.row.bytesIn += chunk.length;
      this.stats.bytesIn += chunk.length;
      if (tr.row.bytesIn > this.limits.maxBytesPerSession) {
        this.cut(tr, { limit: "bytes", bytes: tr.row.bytesIn });
        return;
      }
      commands.length = 0;
      clockMs = Date.now();
      tr.lastActive = clockMs;
      try {
        stream.push(chunk, commands);
      } catch (e) {
        this.run(tr, commands, session, write);
        stream.release();
        if (e instanceof RequestLimitError) {
          // Past its share (or the budget is short and it holds the most): closed unanswered.
          const short = tr.memory.refused === "budget";
          this.cut(tr, { limit: short ? "memory" : "query_buffer", held: e.held });
          return;
        }
        if (e instanceof RequestProtocolError) {
          this.event(tr, "protocol_error", undefined, { message: e.message });
          // Redis's error goes out after the replies to the commands before it, then the
          // connection closes; unless one of those commands closed it already (QUIT).
          if (!tr.closing) write({ ...session.protocolError(e.message), close: true });
          return;
        }
        throw e;
      }
      this.run(tr, commands, session, write);
      stream.release();
    };
    sock.on("error", () => {});
    sock.on("close", () => {
      // The persona counts live sessions (INFO connected_clients).
      session.end?.();
      this.sockets.delete(sock);
      this.stats.active--;
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left > 0) this.perSource.set(source, left);
      else this.perSource.delete(source);
      this.finish(tr);
      tr.memory.close();
      if (this.sockets.size === 0) this.onDrained?.();
    });
  }

  private run(
    tr: Tracked,
    commands: RespCommand[],
    session: HoneypotSessionHandler,
    write: (r: SessionReply, charged?: boolean) => void,
  ): void {
    // Replies to one read go out in one write, as Redis flushes a client's output once per
    // event-loop turn; a reply that says so discards what that read produced before it
    // (6.0+ closes on `Host:` without writing the GET's error that came in the same packet).
    // What they hold is taken from the session's share as they are made: a read of 9,000
    // `GET k` of a 64 KB value would otherwise make 576 MB of replies at once.
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (close: boolean): void => {
      if (pending.length > 0) write({ reply: Buffer.concat(pending, pendingBytes) }, true);
      pending.length = 0;
      pendingBytes = 0;
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
      } else this.recordCommand(tr, cmd, name);
      const r: SessionReply & { discardPending?: boolean } = session.command(
        cmd.args,
        cmd.inline,
        // commandName cuts at 64 bytes: a longer name is looked up from its bytes.
        name.length < 64 ? name : undefined,
        cmd.cut?.lengths,
      );
      if (r.effect) write({ effect: r.effect });
      if (r.limit !== undefined) {
        // The session refused to make a reply past its share: closed unanswered, recorded.
        tr.memory.give(pendingBytes);
        this.cut(tr, { limit: r.limit });
        return;
      }
      if (r.discardPending) {
        tr.memory.give(pendingBytes);
        pending.length = 0;
        pendingBytes = 0;
      }
      if (r.reply) {
        if (!tr.memory.take(r.reply.length)) {
          tr.memory.give(pendingBytes);
          const short = tr.memory.refused === "budget";
          this.cut(tr, { limit: short ? "memory" : "output_buffer" });
          return;
        }
        pending.push(r.reply);
        pendingBytes += r.reply.length;
      }
      if (r.close) {
        flush(true);
        return;
      }
    }
    flush(false);
  }

  /**
   * A command as events and the classifier keep it (bounded: a prefix of each argument, its
   * length and hash), kept for the classifier while the session's classifierBytes and memory
   * share allow, else counted by name; recorded as an event while its source has budget.
   */
  private recordCommand(tr: Tracked, cmd: RespCommand, name: string): void {
    const limits = this.limits;
    const keep = tr.recorded < limits.maxEventsPerSession;
    const classify = tr.classified < limits.classifierBytes;
    if (!keep && !classify) {
      this.countUnclassified(tr, name, cmd.args.length - 1);
      return;
    }
    const recorded = boundCommand(cmd, name, Date.now() - tr.t0, limits);
    if (classify) {
      const bytes = recordedBytes(recorded);
      if (tr.classified + bytes <= limits.classifierBytes && tr.memory.take(bytes)) {
        tr.classified += bytes;
        tr.commands.push(recorded);
      } else {
        // Past the share nothing more is kept, even a smaller command: one cut-off point.
        tr.classified = limits.classifierBytes;
        this.countUnclassified(tr, name, cmd.args.length - 1);
      }
    } else this.countUnclassified(tr, name, cmd.args.length - 1);
    if (!keep) return;
    if (!this.budget.has(tr.source, clockMs)) {
      tr.overBudget++;
      return;
    }
    tr.recorded++;
    this.event(tr, "command", name, {
      args: recorded.args,
      lengths: recorded.argLengths,
      sha256: recorded.argHashes,
      inline: recorded.inline,
      ...(cmd.args.length - 1 > recorded.args.length ? { argc: cmd.args.length } : {}),
    });
  }

  private countUnclassified(tr: Tracked, name: string, args: number): void {
    let c = tr.unclassified.get(name);
    if (c === undefined) {
      // As many names as countCommand keeps apart; the rest under its OTHER_NAMES.
      const key = tr.unclassified.size < MAX_COUNTED_NAMES ? name : OTHER_NAMES;
      c = tr.unclassified.get(key) ?? { count: 0, args: 0 };
      tr.unclassified.set(key, c);
    }
    c.count++;
    c.args += args;
  }

  /**
   * An effect for the classifier. Effects have a share of their own: they are small and say
   * what an attack did (the files it saved, the master it followed), so commands padded in
   * front of them must not crowd them out.
   */
  private keepEffect(tr: Tracked, effect: SessionEffect): void {
    let bytes = 96;
    for (const v of Object.values(effect)) bytes += typeof v === "string" ? v.length + 24 : 8;
    if (tr.effectBytes + bytes > EFFECT_BYTES || !tr.memory.take(bytes)) return;
    tr.effectBytes += bytes;
    tr.effects.push(effect);
  }

  /**
   * Hand an event to the recorder. Its serialised size is what it will take on disk: that is
   * what its source's budget is charged, and what the recorder's queue counts.
   */
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
    const serialised = serialise(row);
    this.budget.spend(tr.source, clockMs, serialised.bytes);
    this.recorder.write(eventRow(row, serialised));
  }

  /** The session ends: classify what it did, extract indicators, write its final row. */
  private finish(tr: Tracked): void {
    const findings = classifySession(tr.commands, tr.effects, {
      bytesIn: tr.row.bytesIn,
      sentNothing: tr.row.commands === 0,
      // What the classifier did not keep still counts, as folded commands do.
      folded: mergeCounts(tr.folded, tr.unclassified),
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
    const serialised = serialise(final);
    this.budget.spend(tr.source, clockMs, serialised.bytes);
    this.recorder.write(sessionRow(final, serialised));
    this.onSessionEnd?.(final);
  }
}

/** Argument i's whole length (the decoder kept a prefix of the longer ones). */
function argLength(cmd: RespCommand, i: number): number {
  return cmd.cut?.lengths[i] ?? cmd.args[i]!.length;
}

/** The bounded form of a command: what events keep and the classifier reads. */
function boundCommand(
  cmd: RespCommand,
  name: string,
  t: number,
  limits: HoneypotLimits,
): RecordedCommand {
  const end = Math.min(cmd.args.length, limits.eventArgs);
  const args: string[] = [];
  const argLengths: number[] = [];
  const argHashes: Array<string | null> = [];
  for (let i = 1; i < end; i++) {
    const a = cmd.args[i]!;
    const length = argLength(cmd, i);
    args.push(a.subarray(0, limits.eventArgBytes).toString("latin1"));
    argLengths.push(length);
    argHashes.push(
      cmd.cut?.sha256[i] ??
        (length > limits.eventArgBytes ? createHash("sha256").update(a).digest("hex") : null),
    );
  }
  return { t, name, args, argLengths, argHashes, inline: cmd.inline };
}

/**
 * The sessions' clock: read once per socket event, as Redis caches the time per event rather
 * than asking the kernel for each command (TTLs, idle times and INFO see the same instant).
 */
let clockMs = Date.now();
const readClock = (): number => clockMs;

/** `::ffff:1.2.3.4` (a dual-stack socket's view of IPv4) as `1.2.3.4`. */
function normaliseIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}
