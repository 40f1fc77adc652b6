/**
 * The scan engine: owns concurrency, the connection rate, every budget, and the TCP/TLS sockets.
 * A protocol module (src/probe/) owns only what to send and how to read the answer — the split
 * zgrab2 makes between its framework and its modules.
 *
 * Hot path: one socket per target, one timer per connection (re-armed per phase), no per-target
 * allocation beyond the socket and the module's session.
 */
import net from "node:net";
import os from "node:os";
import tls from "node:tls";

export interface EngineTarget {
  ip: string;
  port: number;
  /** Position in the permutation (resume bookkeeping); opaque to the engine. */
  seq: number;
  /** Name the target was given as (TLS SNI and the result's `hostname`). */
  hostname?: string;
}

export interface Budgets {
  /** TCP connect must finish within this. */
  connectTimeoutMs: number;
  /** Longest silence while waiting for bytes (also covers the TLS handshake). */
  readTimeoutMs: number;
  /** Whole exchange with one target, connect to close, all attempts together. */
  hostTimeoutMs: number;
  /** Bytes read from one target before the engine stops reading. */
  maxBytesPerHost: number;
}

/** How the transport part of one attempt ended, handed to the protocol session. */
export interface TransportOutcome {
  transport: "tcp" | "tls";
  connectError?: string;
  tlsError?: string;
  closedByPeer: boolean;
  reset: boolean;
  readTimedOut: boolean;
  budgetExceeded?: "bytes" | "time";
  bytesReceived: number;
  /** Certificate facts when the attempt was over TLS and the handshake completed. */
  peerCertificate?: tls.PeerCertificate;
  tlsProtocol?: string;
  tlsCipher?: string;
  elapsedMs: number;
  /** Connections tried for this result over its transport: 1 (or absent), more after retries. */
  attempts?: number;
}

/** What a protocol module's per-connection session reports back. */
export type Verdict =
  /** Keep reading. */
  | "more"
  /** The exchange is complete: the server may close first (it does after QUIT). */
  | "done"
  /** Stop now: what comes is not worth reading (a protocol error, a hostile stream). */
  | "abort";

export interface ProbeSession {
  /** Bytes to write once the (TLS) connection is up. */
  request(): Buffer;
  onData(chunk: Buffer): Verdict;
}

export interface ProbeModule<R> {
  open(target: EngineTarget, transport: "tcp" | "tls"): ProbeSession;
  /**
   * Turn the attempt into a result. Returning `retryTls: true` (for --tls-auto) makes the engine
   * try the same target again over TLS, within the same host budget.
   */
  finish(
    target: EngineTarget,
    session: ProbeSession,
    outcome: TransportOutcome,
    canRetryTls: boolean,
  ): { result: R; retryTls?: boolean };
}

export type TransportMode = "tcp" | "tls" | "auto";

export interface EngineOptions {
  concurrency: number;
  /** New connections per second; 0 means no limit. */
  rate: number;
  budgets: Budgets;
  transport: TransportMode;
  /**
   * Source address of the sockets, per family (`--source-ip`, `--interface`). Targets of a
   * family without one are the caller's to keep out; they would connect unbound.
   */
  localAddress?: Partial<Record<4 | 6, string>>;
  /**
   * Connections tried again after one that timed out or was reset before the
   * first byte (zmap/masscan's --retries): at most this many more, within the host budget, each
   * taking a rate token like any new connection.
   */
  retries?: number;
}

/**
 * Connect errors worth another try: no answer, or a reset that may be transient. A refusal (a
 * RST to the SYN) is the port's answer, as zmap, masscan and nmap read it: retrying it would
 * only send a closed port, the common case on the internet, the same SYN again.
 */
const RETRY_CONNECT = new Set(["ETIMEDOUT", "ECONNRESET"]);

/** A retry needs at least this much of the host budget left to be worth starting. */
const RETRY_MIN_MS = 50;

export interface EngineStats {
  launched: number;
  completed: number;
  inFlight: number;
}

/** Returned by a source that has no target right now but will have more (call wake()). */
export const WAIT = Symbol("wait");

/** Pulls targets lazily; returns undefined when there are no more, WAIT when not yet. */
export type TargetSource = () => EngineTarget | undefined | typeof WAIT;

/**
 * Backpressure from the sink: while it returns true the engine starts no new connection
 * (in-flight ones finish). Lets a slow disk or a paused stdout bound the memory of results.
 */
export type BackpressureCheck = () => boolean;

export class ScanEngine<R> {
  private inFlight = 0;
  private launched = 0;
  private completed = 0;
  private exhausted = false;
  private stopping = false;
  private tokens = 0;
  private lastRefill = 0;
  /** The source said WAIT: nothing is scheduled until wake(). */
  private waiting = false;
  /** A pump is scheduled (timer or immediate); at most one at a time. */
  private pumpPending = false;
  private resolveDone: (() => void) | undefined;
  /** Retries waiting for a rate token; their targets hold their concurrency slot meanwhile. */
  private readonly retryQueue: Array<{ start(): void }> = [];

  constructor(
    private readonly module: ProbeModule<R>,
    private readonly opts: EngineOptions,
    private readonly source: TargetSource,
    private readonly onResult: (target: EngineTarget, result: R) => void,
    private readonly blocked: BackpressureCheck = () => false,
  ) {
    if (opts.concurrency < 1) throw new RangeError("concurrency must be at least 1");
  }

  get stats(): EngineStats {
    return { launched: this.launched, completed: this.completed, inFlight: this.inFlight };
  }

  /** Runs until the source is exhausted (or stop() is called) and every connection has ended. */
  run(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.resolveDone = resolve;
      this.lastRefill = performance.now();
      // A full bucket at start would burst `rate` connections in the first millisecond.
      this.tokens = this.opts.rate > 0 ? Math.min(1, this.opts.rate) : 0;
      this.pump();
    });
  }

  /** The source has targets again (or has ended): resume pulling. */
  wake(): void {
    if (!this.waiting) return;
    this.waiting = false;
    this.schedule(0);
  }

  /** Stop starting new connections; in-flight ones finish and run() resolves. */
  stop(): void {
    this.stopping = true;
    this.maybeDone();
  }

  /** Another connection for a target already in flight, once a rate token is free. */
  retry(attempt: { start(): void }): void {
    this.retryQueue.push(attempt);
    this.schedule(0);
  }

  /** Queued retries, as far as rate tokens go; true when some are left waiting. */
  private startRetries(): boolean {
    const rate = this.opts.rate;
    while (this.retryQueue.length > 0 && (rate === 0 || this.tokens >= 1)) {
      if (rate > 0) this.tokens -= 1;
      this.retryQueue.shift()!.start();
    }
    return this.retryQueue.length > 0;
  }

  /** Until the next rate token (ms), for a pump that waits for one. */
  private tokenWaitMs(): number {
    const rate = this.opts.rate;
    const waitMs = rate > 0 && this.tokens < 1 ? ((1 - this.tokens) * 1000) / rate : 5;
    return Math.max(1, Math.min(waitMs, 50));
  }

  private pump = (): void => {
    this.pumpPending = false;
    const rate = this.opts.rate;
    if (rate > 0) {
      const now = performance.now();
      // Cap the bucket at 1/20 s of rate so an idle period does not turn into a burst.
      this.tokens = Math.min(
        Math.max(1, rate / 20),
        this.tokens + ((now - this.lastRefill) * rate) / 1000,
      );
      this.lastRefill = now;
    }
    // Retries first, even when stopping: their targets are in flight and must finish.
    if (this.startRetries()) this.schedule(this.tokenWaitMs());
    if (this.stopping || this.exhausted) {
      this.maybeDone();
      return;
    }
    while (this.inFlight < this.opts.concurrency && !this.stopping) {
      if (rate > 0 && this.tokens < 1) break;
      if (this.blocked()) break;
      const target = this.source();
      if (target === WAIT) {
        this.waiting = true;
        return;
      }
      if (target === undefined) {
        this.exhausted = true;
        break;
      }
      if (rate > 0) this.tokens -= 1;
      this.launch(target);
    }
    if (this.exhausted || this.stopping) {
      this.maybeDone();
      return;
    }
    // Wake up when a token will be available, or soon if we were held back by backpressure.
    // A free slot also wakes us (in release()).
    if (this.inFlight < this.opts.concurrency) this.schedule(this.tokenWaitMs());
  };

  private schedule(ms: number): void {
    if (this.pumpPending) return;
    this.pumpPending = true;
    if (ms <= 0) setImmediate(this.pump);
    else setTimeout(this.pump, ms);
  }

  private maybeDone(): void {
    if ((this.exhausted || this.stopping) && this.inFlight === 0 && this.resolveDone) {
      const done = this.resolveDone;
      this.resolveDone = undefined;
      done();
    }
  }

  private launch(target: EngineTarget): void {
    this.inFlight++;
    this.launched++;
    const first: "tcp" | "tls" = this.opts.transport === "tls" ? "tls" : "tcp";
    new Attempt(this, target, first, this.opts.transport === "auto", performance.now(), 1).start();
  }

  /** Called by an Attempt when the target is fully done (after any TLS retry). */
  release(target: EngineTarget, result: R): void {
    this.inFlight--;
    this.completed++;
    this.onResult(target, result);
    if (this.exhausted || this.stopping) this.maybeDone();
    // A slot opened: refill off this stack. If a timer is already pending it is waiting for a
    // rate token or for backpressure to clear, and starting earlier would be wrong.
    else if (!this.waiting) this.schedule(0);
  }

  get moduleRef(): ProbeModule<R> {
    return this.module;
  }

  get budgets(): Budgets {
    return this.opts.budgets;
  }

  get options(): EngineOptions {
    return this.opts;
  }

  /** stop() was called: targets in flight finish, without retries. */
  get isStopping(): boolean {
    return this.stopping;
  }
}

/** The attempt a socket belongs to: listeners are shared functions, not per-socket closures. */
const ATTEMPT = Symbol("attempt");
/** What the shared listeners and timers call on an attempt. */
interface AttemptEvents {
  ready(): void;
  tcpConnected(): void;
  data(chunk: Buffer): void;
  peerEnded(): void;
  error(err: NodeJS.ErrnoException): void;
  closed(): void;
  timerFired(): void;
}
type TaggedSocket = net.Socket & { [ATTEMPT]: AttemptEvents };

function socketReady(this: TaggedSocket): void {
  this[ATTEMPT].ready();
}
function socketTcpConnect(this: TaggedSocket): void {
  this[ATTEMPT].tcpConnected();
}
function socketData(this: TaggedSocket, chunk: Buffer): void {
  this[ATTEMPT].data(chunk);
}
/** Shared by every plain TCP socket: a read is handed on (copied) before the next one lands. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
function socketRead(this: TaggedSocket, nread: number, buf: Uint8Array): boolean {
  const chunk = Buffer.allocUnsafe(nread);
  chunk.set(buf.subarray(0, nread));
  this[ATTEMPT].data(chunk);
  return true;
}
function socketEnd(this: TaggedSocket): void {
  this[ATTEMPT].peerEnded();
}
function socketError(this: TaggedSocket, err: NodeJS.ErrnoException): void {
  this[ATTEMPT].error(err);
}
function socketClose(this: TaggedSocket): void {
  this[ATTEMPT].closed();
}
function timerFired(a: AttemptEvents): void {
  a.timerFired();
}

/** After the last reply, how long to wait for the server to close (QUIT) before we do. */
const LINGER_MS = 250;

type Phase = "connecting" | "handshake" | "reading" | "lingering";

/** One connection attempt to one target over one transport. */
class Attempt<R> implements AttemptEvents {
  private socket: TaggedSocket | undefined;
  private session: ProbeSession | undefined;
  /**
   * The only timer: connect, then read (refreshed per chunk), then linger, each cut short by
   * the host budget. One timer per connection instead of two is measurable at 10k probes/s.
   */
  private timer: NodeJS.Timeout | undefined;
  /** Duration the timer was armed with (refresh() re-arms with the same). */
  private timerMs = 0;
  private readonly hostDeadline: number;
  private phase: Phase = "connecting";
  private finished = false;
  private bytes = 0;
  private closedByPeer = false;
  private reset = false;
  private readTimedOut = false;
  private budgetExceeded: "bytes" | "time" | undefined;
  private connectError: string | undefined;
  private tlsError: string | undefined;
  /** Read at handshake time: a destroyed TLS socket no longer tells its peer certificate. */
  private tlsFacts: Pick<TransportOutcome, "peerCertificate" | "tlsProtocol" | "tlsCipher"> = {};

  constructor(
    private readonly engine: ScanEngine<R>,
    private readonly target: EngineTarget,
    private readonly transport: "tcp" | "tls",
    private readonly canRetryTls: boolean,
    /** When the first attempt for this target started: the host budget spans all attempts. */
    private readonly hostStart: number,
    /** 1 for the first connection over this transport, 2 for its first retry, … */
    private readonly attempt: number,
  ) {
    this.hostDeadline = hostStart + engine.budgets.hostTimeoutMs;
  }

  private get connected(): boolean {
    return this.phase !== "connecting";
  }

  start(): void {
    const b = this.engine.budgets;
    const t = this.target;
    const localAddress = this.engine.options.localAddress?.[t.ip.includes(":") ? 6 : 4];
    let socket: net.Socket;
    if (this.transport === "tls") {
      socket = tls.connect({
        host: t.ip,
        port: t.port,
        // SNI only for names: an IP literal in SNI is not allowed (RFC 6066).
        servername: t.hostname,
        // We observe certificates, we do not trust them: self-signed is a fact to record.
        rejectUnauthorized: false,
        ...(localAddress !== undefined ? { localAddress } : {}),
      });
      // on(), not once(): these fire once per socket anyway, and once() wraps every listener
      // in a fresh bound function.
      socket.on("secureConnect", socketReady);
      socket.on("connect", socketTcpConnect);
    } else {
      // Reads land in one shared buffer and reach us through a plain callback: no buffer
      // allocated per read by the stream machinery. What the session keeps is copied out.
      socket = net.connect({
        host: t.ip,
        port: t.port,
        noDelay: true,
        onread: { buffer: READ_BUFFER, callback: socketRead },
        ...(localAddress !== undefined ? { localAddress } : {}),
      });
      socket.on("connect", socketReady);
    }
    const tagged = socket as TaggedSocket;
    tagged[ATTEMPT] = this;
    this.socket = tagged;
    this.arm(b.connectTimeoutMs);
    if (this.transport === "tls") socket.on("data", socketData);
    socket.on("end", socketEnd);
    socket.on("error", socketError);
    socket.on("close", socketClose);
  }

  /** TLS: TCP is up; the handshake now runs under the read budget. */
  tcpConnected(): void {
    this.phase = "handshake";
    this.arm(this.engine.budgets.readTimeoutMs);
  }

  ready(): void {
    const s = this.socket;
    if (s instanceof tls.TLSSocket) {
      const cert = safe(() => s.getPeerCertificate(false));
      if (cert && Object.keys(cert).length > 0) this.tlsFacts.peerCertificate = cert;
      const proto = safe(() => s.getProtocol());
      if (proto) this.tlsFacts.tlsProtocol = proto;
      const cipher = safe(() => s.getCipher());
      if (cipher) this.tlsFacts.tlsCipher = cipher.name;
    }
    this.phase = "reading";
    this.session = this.engine.moduleRef.open(this.target, this.transport);
    // The read budget runs from here (over TLS the handshake had one already).
    this.arm(this.engine.budgets.readTimeoutMs);
    s?.write(this.session.request());
  }

  /**
   * (Re)start the timer for `ms`, or for what is left of the host budget if that is less.
   * Re-arming with the same duration refreshes the existing timer instead of making one.
   */
  private arm(ms: number): void {
    const left = this.hostDeadline - performance.now();
    const d = Math.max(1, Math.min(ms, left));
    if (this.timer !== undefined && d === this.timerMs) {
      this.timer.refresh();
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerMs = d;
    this.timer = setTimeout(timerFired, d, this);
  }

  data(input: Buffer): void {
    if (this.finished || this.phase === "lingering") return;
    let chunk = input;
    const max = this.engine.budgets.maxBytesPerHost;
    if (this.bytes + chunk.length > max) {
      chunk = chunk.subarray(0, max - this.bytes);
      this.budgetExceeded = "bytes";
    }
    this.bytes += chunk.length;
    // A session exists once the request was written; on plain TCP 'connect' precedes 'data'.
    const verdict = this.session ? this.session.onData(chunk) : "more";
    if (this.budgetExceeded || verdict === "abort") {
      this.end();
    } else if (verdict === "done") {
      // Let the server close first (it does after QUIT): cheaper for both ends than our
      // closing, and polite. If it does not, we close after a short linger.
      if (this.closedByPeer) this.end();
      else {
        this.phase = "lingering";
        this.arm(Math.min(LINGER_MS, this.engine.budgets.readTimeoutMs));
      }
    } else {
      this.arm(this.engine.budgets.readTimeoutMs);
    }
  }

  peerEnded(): void {
    this.closedByPeer = true;
  }

  error(err: NodeJS.ErrnoException): void {
    const code = err.code ?? err.message;
    if (!this.connected) this.connectError = code;
    else if (code === "ECONNRESET" || code === "EPIPE") {
      // A reset after the exchange was complete is the peer's way of closing, not an error.
      if (this.phase !== "lingering") this.reset = true;
    } else if (this.transport === "tls" && this.session === undefined) {
      this.tlsError = tlsReason(err);
    } else if (this.transport === "tls" && /alert|SSL|TLS/i.test(err.message)) {
      this.tlsError = tlsReason(err);
    } else if (this.phase !== "lingering") this.reset = true;
  }

  timerFired(): void {
    const hostOver = performance.now() >= this.hostDeadline - 1;
    if (this.phase === "connecting") this.connectError = "ETIMEDOUT";
    else if (this.phase !== "lingering") {
      if (hostOver) this.budgetExceeded = "time";
      else this.readTimedOut = true;
    }
    this.end();
  }

  /** We are done with this connection: tear it down; 'close' completes the attempt. */
  private end(): void {
    const s = this.socket;
    if (!s || s.destroyed) {
      this.closed();
      return;
    }
    s.destroy();
  }

  closed(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    const s = this.socket;
    const outcome: TransportOutcome = {
      transport: this.transport,
      closedByPeer: this.closedByPeer,
      reset: this.reset,
      readTimedOut: this.readTimedOut,
      bytesReceived: this.bytes,
      elapsedMs: performance.now() - this.hostStart,
      attempts: this.attempt,
    };
    if (this.connectError) outcome.connectError = this.connectError;
    if (this.tlsError) outcome.tlsError = this.tlsError;
    if (this.budgetExceeded) outcome.budgetExceeded = this.budgetExceeded;
    Object.assign(outcome, this.tlsFacts);
    if (s) {
      s.removeAllListeners();
      // Late errors from a destroyed socket must not crash the process.
      s.on("error", noop);
      if (!s.destroyed) s.destroy();
    }
    const timeLeft = this.engine.budgets.hostTimeoutMs - (performance.now() - this.hostStart) > 50;
    // Nothing was heard: no connection, or a reset before the first byte. Try again.
    const unanswered =
      (this.connectError !== undefined && RETRY_CONNECT.has(this.connectError)) ||
      (this.reset && this.bytes === 0);
    if (
      unanswered &&
      !this.engine.isStopping &&
      this.attempt <= (this.engine.options.retries ?? 0) &&
      this.hostDeadline - performance.now() > RETRY_MIN_MS
    ) {
      const again = new Attempt(
        this.engine,
        this.target,
        this.transport,
        this.canRetryTls,
        this.hostStart,
        this.attempt + 1,
      );
      this.engine.retry(again);
      return;
    }
    const session = this.session ?? this.engine.moduleRef.open(this.target, this.transport);
    const mayRetry = this.canRetryTls && this.transport === "tcp" && timeLeft;
    const { result, retryTls } = this.engine.moduleRef.finish(
      this.target,
      session,
      outcome,
      mayRetry,
    );
    if (retryTls && mayRetry) {
      new Attempt(this.engine, this.target, "tls", false, this.hostStart, 1).start();
      return;
    }
    this.engine.release(this.target, result);
  }
}

/**
 * Can sockets be bound to this source address? A listener is bound to it on a free port and
 * closed at once (nothing is sent): undefined when it can, else the system's error code
 * (EADDRNOTAVAIL: not an address of this host).
 */
export function bindError(address: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    server.listen({ host: address, port: 0, exclusive: true }, () =>
      server.close(() => resolve(undefined)),
    );
  });
}

/**
 * The addresses to send from when scanning from interface `name` (`--interface`): its first
 * IPv4 and first IPv6 address that is not link-local (a link-local source cannot reach a scan
 * target). Undefined when there is no such interface. Binding the source address picks the
 * address, not the route: the kernel's routing table still chooses the way out.
 */
export function interfaceAddresses(name: string): Partial<Record<4 | 6, string>> | undefined {
  const list = os.networkInterfaces()[name];
  if (list === undefined) return undefined;
  const out: Partial<Record<4 | 6, string>> = {};
  for (const a of list) {
    const family = a.family === "IPv6" || (a.family as unknown) === 6 ? 6 : 4;
    if (family === 6 && /^fe[89ab]/i.test(a.address)) continue;
    out[family] ??= a.address;
  }
  return out;
}

function tlsReason(err: NodeJS.ErrnoException): string {
  // OpenSSL messages carry the alert name; keep it short and free of library noise.
  const m = /alert ([a-z ]+)|(wrong version number|unknown protocol|packet length too long)/i.exec(
    err.message,
  );
  if (m) return (m[1] ?? m[2] ?? "").trim().replace(/ /g, "_").toLowerCase();
  return err.code ?? "tls_error";
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function noop(): void {}
