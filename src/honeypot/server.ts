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
 *
 * What is kept of each session (its rows and events, folding, the classifier's share, the
 * source's hourly budget) is the session record's (session-recorder.ts).
 */
import net from "node:net";
import os from "node:os";
import tls from "node:tls";
import { addressPrefix, peerAddress } from "../net/ip.js";
import {
  RequestDecoder,
  RequestLimitError,
  RequestProtocolError,
  type RespCommand,
} from "../resp/index.js";
import type { HoneypotSessionRow } from "../schema/honeypot.js";
import { timeOrderedId } from "../store/ids.js";
import type { CaptureResult, Link, ReplicationCapture } from "./capture.js";
import { DEFAULT_LIMITS, type HoneypotLimits } from "./limits.js";
import { DEFAULT_MEMORY_BYTES, type MemoryAccount, MemoryBudget } from "./memory.js";
import type { HoneypotRecorder } from "./recorder.js";
import type { SessionContext } from "./session.js";
import { SessionRecorder, SourceAuth, SourceBudget } from "./session-recorder.js";
import type {
  HoneypotSessionHandler,
  ReplicaLinkEvent,
  SessionEffect,
  SessionReply,
} from "./types.js";
import { type SourceWorld, Worlds } from "./worlds.js";

/** What a master sends its replicas every repl-ping-replica-period (10 s, every version). */
const REPLICA_PING = Buffer.from("*1\r\n$4\r\nPING\r\n");
const REPLICA_PING_MS = 10_000;

/** Source prefixes whose replication (link, payload) is remembered at once. */
const MAX_REPLICATION_SOURCES = 4096;

export interface ListenerConfig {
  host: string;
  port: number;
  persona: string;
  makeSession: (ctx: SessionContext) => HoneypotSessionHandler;
  /** TLS key and certificate: the listener speaks TLS (Redis 6+ `tls-port`). */
  tls?: tls.SecureContextOptions;
}

/**
 * Bytes of each argument the request decoder keeps (its recording mode); a longer argument is
 * kept as this prefix, its length and its SHA-256. Commands see the prefix, as Redis's 64 KB
 * inline limit already bounds the arguments a command reads as text.
 */
const ARG_PREFIX_BYTES = 64 * 1024;

/** What Redis answers a connection over maxclients before closing it (acceptCommonHandler). */
const MAXCLIENTS_REPLY = Buffer.from("-ERR max number of clients reached\r\n");

export interface HoneypotStats {
  sessions: number;
  active: number;
  refused: number;
  /** Sessions closed to give their slot to a new visitor (every slot was taken). */
  evicted: number;
  commands: number;
  bytesIn: number;
}

/** An open session: its socket, its limits' state, and what is kept of it (SessionRecorder). */
interface Tracked {
  record: SessionRecorder;
  sock: net.Socket;
  /** The source prefix the per-source limits count it under. */
  source: string;
  /** Its share of the memory budget. */
  memory: MemoryAccount;
  t0: number;
  /** When the visitor last sent something (ms): the idle timeout counts from it. */
  lastActive: number;
  /** Its session handler (the replica link tells it what the link does). */
  session?: HoneypotSessionHandler;
  /** The replica link its last SLAVEOF started, while it runs (it outlives the session). */
  link?: Link;
  /** It asked for SYNC/PSYNC: when the master's next PING to its replica is due (ms). */
  replicaPingAt?: number;
  /** The world of its source the session entered (worlds.ts). */
  world?: SourceWorld;
  closing: boolean;
  /** A command of this session blocked (BLPOP …): its later requests wait in `queued`. */
  blocked: boolean;
  /** Requests read while blocked, copied; their bytes are taken from the session's share. */
  queued: RespCommand[];
  queuedBytes: number;
  /** A protocol error read while blocked: answered once the requests before it are. */
  queuedError: string | undefined;
}

/**
 * Requests a blocked client may send before its reply (Redis keeps reading them into its
 * query buffer): past this the connection is closed, recorded as a query_buffer limit.
 */
const MAX_QUEUED_REQUESTS = 4096;

/** What a queued request holds: its bytes and a little for its objects. */
function requestBytes(cmd: RespCommand): number {
  let n = 64;
  for (const a of cmd.args) n += a.length + 16;
  return n;
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

export class HoneypotServer {
  private servers: net.Server[] = [];
  /** Open sessions per source prefix. */
  private readonly perSource = new Map<string, number>();
  private readonly budget: SourceBudget;
  /** AUTH attempts per source across its sessions (the classifier's brute force). */
  private readonly auth = new SourceAuth();
  /** Open sessions by socket (the sweep closes idle and overlong ones). */
  private readonly sockets = new Map<net.Socket, Tracked>();
  private sweeper: NodeJS.Timeout | undefined;
  /** Each source's make-believe server state, per listener (worlds.ts). */
  private readonly worlds: Worlds<SourceWorld>;
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
    this.worlds = new Worlds<SourceWorld>(
      {
        maxWorlds: this.limits.maxWorlds,
        idleMs: this.limits.worldIdleMs,
        lifetimeMs: this.limits.worldLifetimeMs,
      },
      { budget: this.memory, share: this.memory.sessionShare },
      (world) => {
        // The budget ran short and this world held the most: its connections end with it.
        for (const tr of this.sockets.values())
          if (tr.world === world) this.cut(tr, { limit: "memory" });
      },
    );
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

  /**
   * Replication per source prefix: the links its sessions' SLAVEOFs started (each outlives
   * its session, as a real server's replication outlives the client that set it up, bounded
   * by its attempts and lifetime) and the last payload one kept, which every session of the
   * source then sees (a MODULE LOAD in a later connection). Bounded: past the cap the oldest
   * source is forgotten and its links cancelled.
   */
  private readonly replication = new Map<
    string,
    { links: Set<Link>; payload?: Extract<ReplicaLinkEvent, { phase: "payload" }> }
  >();

  /**
   * SLAVEOF/REPLICAOF changed the session's master: the link to the old one ends, and with
   * payload capture on a link to the new one starts, retried every second while it stands.
   * The session's record gets the first failed attempt and the outcome.
   */
  private follow(
    tr: Tracked,
    e: Extract<SessionEffect, { kind: "replicaof" }>,
    listeningPort: number,
  ): void {
    tr.link?.cancel();
    delete tr.link;
    if (e.host === "NO ONE" || this.capture === undefined) return;
    const source = tr.source;
    let state = this.replication.get(source);
    if (state === undefined) {
      if (this.replication.size >= MAX_REPLICATION_SOURCES) {
        const [oldest, old] = this.replication.entries().next().value!;
        for (const l of old.links) l.cancel();
        this.replication.delete(oldest);
      }
      state = { links: new Set() };
      this.replication.set(source, state);
    }
    const own = state;
    const link = this.capture.follow(
      { host: e.host, port: e.port, listeningPort, source, psync2: e.psync2 ?? true },
      {
        phase: (phase) => {
          if (tr.link === link) tr.session?.replicaLink?.({ phase });
        },
        retrying: (result) => {
          tr.record.tick();
          tr.record.event("capture", "retrying", { capture: result });
        },
        done: (result) => {
          if (tr.link === link) delete tr.link;
          if (result.sha256 !== undefined) {
            const payload: Extract<ReplicaLinkEvent, { phase: "payload" }> = {
              phase: "payload",
              sha256: result.sha256,
              bytes: result.bytes,
              commands: result.module?.commands ?? [],
              ...(result.module?.name !== undefined ? { module: result.module.name } : {}),
            };
            // Saved where the asking session's dir/dbfilename said (the chain set them there).
            const saved = tr.session?.replicaLink?.(payload);
            own.payload = saved !== undefined ? { ...payload, path: saved } : payload;
            for (const other of this.sockets.values()) {
              if (other !== tr && other.source === source)
                other.session?.replicaLink?.(own.payload);
            }
          }
          tr.record.tick();
          tr.record.event("capture", result.status, { capture: result });
          this.onCapture?.(tr.record.row, result);
        },
      },
    );
    tr.link = link;
    own.links.add(link);
    const running = link.ended;
    this.captures.add(running);
    void running.finally(() => {
      this.captures.delete(running);
      own.links.delete(link);
    });
  }

  /** Payload captures running (stop waits for them before the last flush). */
  private readonly captures = new Set<Promise<void>>();

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
      if (tr.replicaPingAt !== undefined && tr.replicaPingAt <= now && !tr.closing) {
        // A master PINGs its replicas every repl-ping-replica-period (10 s by default).
        tr.replicaPingAt = now + REPLICA_PING_MS;
        tr.record.row.bytesOut += REPLICA_PING.length;
        this.post(tr.sock, REPLICA_PING);
      }
      const limit =
        now - tr.lastActive >= this.limits.idleTimeoutMs
          ? "idle"
          : now - tr.t0 >= this.limits.maxSessionMs
            ? "lifetime"
            : undefined;
      if (limit !== undefined) this.cut(tr, { limit });
    }
    this.worlds.sweep(now);
  }

  /**
   * End a session for a limit: the `limit` event says which, and the connection closes without
   * another word (as Redis frees a client past a limit). Once per session.
   */
  private cut(tr: Tracked, record: Record<string, unknown>): void {
    if (tr.sock.destroyed) return;
    tr.closing = true;
    tr.record.tick();
    tr.record.event("limit", undefined, record);
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
    const ip = peerAddress(sock.remoteAddress ?? "");
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
    const started = clockMs;
    // Closed to make room when the budget is short and this session holds the most.
    const memory = this.memory.open(this.memory.sessionShare, () =>
      this.cut(tr, { limit: "memory" }),
    );
    const tr: Tracked = {
      record: new SessionRecorder({
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
        source,
        memory,
        limits: this.limits,
        recorder: this.recorder,
        budget: this.budget,
        auth: this.auth,
        clock: readClock,
      }),
      sock,
      source,
      memory,
      t0: started,
      lastActive: started,
      closing: false,
      blocked: false,
      queued: [],
      queuedBytes: 0,
      queuedError: undefined,
    };
    this.sockets.set(sock, tr);
    tr.record.begin(l.tls ? "tls" : "tcp");

    const worldKey = `${this.listeners.indexOf(l)} ${source}`;
    const session = l.makeSession({
      now: readClock,
      world: {
        enter: (make) => {
          const world = this.worlds.enter(worldKey, readClock(), (account) =>
            make(account, readClock()),
          );
          tr.world = world;
          return world;
        },
        leave: () => {
          if (tr.world !== undefined) this.worlds.leave(tr.world, readClock());
        },
      },
      peer: { ip, port },
      listenerPort: sock.localPort ?? l.port,
      local: { ip: peerAddress(sock.localAddress ?? ""), port: sock.localPort ?? l.port },
      memory: tr.memory,
      // A blocked command's reply, later: written, then the requests read meanwhile run.
      deliver: (r) => this.resume(tr, r, session, write),
      // A message another connection published (pub/sub): written if it fits the share.
      push: (bytes) => {
        if (tr.closing || tr.sock.destroyed) return;
        if (!tr.memory.take(bytes.length)) {
          const short = tr.memory.refused === "budget";
          this.cut(tr, { limit: short ? "memory" : "output_buffer" });
          return;
        }
        tr.record.row.bytesOut += bytes.length;
        tr.session?.io?.("write", bytes.length);
        this.post(tr.sock, bytes, tr.memory);
      },
    });
    tr.session = session;
    // A payload the source's replica link kept is where that source's chain saved it.
    const kept = this.replication.get(source)?.payload;
    if (kept !== undefined) session.replicaLink?.(kept);
    const stream = new RequestDecoder({
      argPrefixBytes: ARG_PREFIX_BYTES,
      account: tr.memory,
      // Arguments are charged as they arrive: a long header waits on the memory share.
      ...(session.maxMultibulk !== undefined ? { maxMultibulk: session.maxMultibulk } : {}),
    });
    const write = (r: SessionReply, charged = false): void => {
      if (r.effect) {
        tr.record.effect(r.effect);
        const e = r.effect;
        if (e.kind === "replicaof") this.follow(tr, e, sock.localPort ?? l.port);
        if (e.kind === "sync") tr.replicaPingAt = Date.now() + REPLICA_PING_MS;
      }
      if (r.reply && r.reply.length > 0) {
        if (!sock.destroyed) {
          tr.record.row.bytesOut += r.reply.length;
          session.io?.("write", r.reply.length);
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
      session.io?.("read", chunk.length);
      tr.record.tick();
      tr.record.row.bytesIn += chunk.length;
      this.stats.bytesIn += chunk.length;
      if (tr.record.row.bytesIn > this.limits.maxBytesPerSession) {
        this.cut(tr, { limit: "bytes", bytes: tr.record.row.bytesIn });
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
        if (tr.closing) return;
        if (e instanceof RequestLimitError) {
          // Past its share (or the budget is short and it holds the most): closed unanswered.
          const short = tr.memory.refused === "budget";
          this.cut(tr, { limit: short ? "memory" : "query_buffer", held: e.held });
          return;
        }
        if (e instanceof RequestProtocolError) {
          tr.record.event("protocol_error", undefined, { message: e.message });
          // Redis's error goes out after the replies to the commands before it, then the
          // connection closes; unless one of those commands closed it already (QUIT). A
          // blocked client's requests wait, and the error after them.
          if (tr.blocked) tr.queuedError = e.message;
          else if (!tr.closing) write({ ...session.protocolError(e.message), close: true });
          return;
        }
        throw e;
      }
      this.run(tr, commands, session, write);
      stream.release();
    };
    sock.on("error", () => {});
    sock.on("close", () => {
      // The peer closed first: Redis's read of the end counts as a read.
      if (!tr.closing) session.io?.("read", 0);
      // The persona counts live sessions (INFO connected_clients).
      session.end?.();
      tr.memory.give(tr.queuedBytes);
      tr.queued = [];
      tr.queuedBytes = 0;
      this.sockets.delete(sock);
      this.stats.active--;
      const left = (this.perSource.get(source) ?? 1) - 1;
      if (left > 0) this.perSource.set(source, left);
      else this.perSource.delete(source);
      // Finished whether or not anyone is told (an optional call would skip its argument).
      const final = tr.record.finish();
      this.onSessionEnd?.(final);
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
    if (tr.blocked) {
      this.enqueue(tr, commands, 0);
      return;
    }
    for (let i = 0; i < commands.length; i++) {
      const cmd = commands[i]!;
      if (tr.closing) break;
      this.stats.commands++;
      const name = tr.record.command(cmd);
      const r: SessionReply & { discardPending?: boolean } = session.command(
        cmd.args,
        cmd.inline,
        // Names are cut at 64 bytes: a longer name is looked up from its bytes.
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
      if (r.blocked) {
        // No reply until the session delivers it: what came after waits its turn.
        tr.blocked = true;
        flush(false);
        this.enqueue(tr, commands, i + 1);
        return;
      }
    }
    flush(false);
  }

  /** Keep requests from `from` on while the session is blocked (copied: the reader's bytes). */
  private enqueue(tr: Tracked, commands: RespCommand[], from: number): void {
    for (let i = from; i < commands.length; i++) {
      const cmd = commands[i]!;
      const bytes = requestBytes(cmd);
      if (tr.queued.length >= MAX_QUEUED_REQUESTS || !tr.memory.take(bytes)) {
        const short = tr.memory.refused === "budget";
        this.cut(tr, { limit: short ? "memory" : "query_buffer", queued: tr.queued.length });
        return;
      }
      const copy: RespCommand = { ...cmd, args: cmd.args.map((a) => Buffer.from(a)) };
      tr.queued.push(copy);
      tr.queuedBytes += bytes;
    }
  }

  /**
   * A blocked command's reply arrived (served, timed out, unblocked): written, then the
   * requests read meanwhile run in the next turn of the event loop, as Redis processes an
   * unblocked client's pending input before it sleeps (never inside the command that served
   * it, which may be another connection's).
   */
  private resume(
    tr: Tracked,
    r: SessionReply,
    session: HoneypotSessionHandler,
    write: (r: SessionReply, charged?: boolean) => void,
  ): void {
    if (!tr.blocked || tr.sock.destroyed) return;
    tr.blocked = false;
    if (r.effect) write({ effect: r.effect });
    if (r.reply) {
      if (!tr.memory.take(r.reply.length)) {
        const short = tr.memory.refused === "budget";
        this.cut(tr, { limit: short ? "memory" : "output_buffer" });
        return;
      }
      write({ reply: r.reply }, true);
    }
    if (tr.queued.length === 0 && tr.queuedError === undefined) return;
    setImmediate(() => {
      if (tr.sock.destroyed || tr.closing || tr.blocked) return;
      const commands = tr.queued;
      tr.memory.give(tr.queuedBytes);
      tr.queued = [];
      tr.queuedBytes = 0;
      clockMs = Date.now();
      this.run(tr, commands, session, write);
      if (!tr.blocked && !tr.closing && tr.queuedError !== undefined) {
        write({ ...session.protocolError(tr.queuedError), close: true });
      }
    });
  }
}

/**
 * The sessions' clock: read once per socket event, as Redis caches the time per event rather
 * than asking the kernel for each command (TTLs, idle times and INFO see the same instant).
 */
let clockMs = Date.now();
const readClock = (): number => clockMs;
