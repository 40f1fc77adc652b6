/**
 * The shipped honeypot server (src/honeypot/server.ts: its request decoder, dispatch, reply
 * batching and recording) in process, on 127.0.0.1, with one listener for one persona and an
 * in-memory recorder; and small clients to talk to it. The fidelity suite runs against this.
 */
import net from "node:net";
import type { ReplicationCapture } from "../../src/honeypot/capture.js";
import { DEFAULT_LIMITS, type HoneypotLimits } from "../../src/honeypot/limits.js";
import type { MemoryBudget } from "../../src/honeypot/memory.js";
import type { Persona } from "../../src/honeypot/personas/index.js";
import type { HoneypotRecorder, RecordedRow, RowCounts } from "../../src/honeypot/recorder.js";
import { HoneypotServer } from "../../src/honeypot/server.js";
import { Session, type SessionContext } from "../../src/honeypot/session.js";
import { ReplyDecoder } from "../../src/resp/index.js";

/** Keeps every row the server hands over, in order; writes nothing anywhere. */
export class MemoryRecorder implements HoneypotRecorder {
  readonly rows: RecordedRow[] = [];
  readonly dropped: RowCounts = { sessions: 0, events: 0 };
  readonly failureReason = "";
  readonly congested = false;
  readonly error = undefined;

  private waiters: Array<{ ok: (rows: RecordedRow[]) => boolean; resolve: () => void }> = [];

  write(row: RecordedRow): void {
    this.rows.push(row);
    this.waiters = this.waiters.filter((w) => {
      if (!w.ok(this.rows)) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once the rows written so far satisfy `ok` (an event, not a clock). */
  when(ok: (rows: RecordedRow[]) => boolean): Promise<void> {
    if (ok(this.rows)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ ok, resolve }));
  }

  /** Resolves once `n` sessions have ended (their final rows written). */
  ended(n: number): Promise<void> {
    return this.when((rows) => rows.filter((r) => r.kind === "session" && r.final).length >= n);
  }

  async flush(): Promise<boolean> {
    return true;
  }

  async close(): Promise<boolean> {
    return true;
  }

  unwritten(): RecordedRow[] {
    return [];
  }
}

export interface PersonaServer {
  port: number;
  /** Every session the server made, in accept order. */
  sessions: Session[];
  recorder: MemoryRecorder;
  /** Bytes the server has read from its clients, all sessions together. */
  readonly bytesRead: number;
  /** Resolves once the server has read `total` bytes from its clients, all sessions together. */
  read(total: number): Promise<void>;
  close(): Promise<void>;
}

export interface ServeOptions {
  /** The client id of each session, where a test pins it (else the server's own count). */
  clientId?: () => number;
  /** The sessions' limits (keys, bytes, arguments). */
  limits?: SessionContext["limits"];
  /** The sessions read the persona's clock (a test's fake one), not the server's. */
  personaClock?: boolean;
  /** Called with each new session before it reads anything (a test seeds its keyspace). */
  onSession?: (session: Session) => void;
  /** Payload capture (the CLI's --capture-replication): SLAVEOF's links are followed. */
  capture?: ReplicationCapture;
  /** The server's limits, where a test changes some (default: the CLI's). */
  serverLimits?: Partial<HoneypotLimits>;
  /** The server's memory budget (default: its own of DEFAULT_MEMORY_BYTES). */
  memory?: MemoryBudget;
}

/**
 * `persona` behind a HoneypotServer with the CLI's default limits, listening on 127.0.0.1 on a
 * port of the kernel's choice. Its sessions are made as the CLI makes them (new Session), with
 * what the test pins.
 */
export async function servePersona(
  persona: Persona,
  opts: ServeOptions = {},
): Promise<PersonaServer> {
  const sessions: Session[] = [];
  const recorder = new MemoryRecorder();
  let bytesRead = 0;
  const readers: Array<{ total: number; resolve: () => void }> = [];
  const server = new HoneypotServer(
    [
      {
        host: "127.0.0.1",
        port: 0,
        persona: persona.name,
        makeSession: (ctx) => {
          const pinned: SessionContext = { ...ctx };
          if (opts.clientId !== undefined) pinned.clientId = opts.clientId();
          if (opts.limits !== undefined) pinned.limits = opts.limits;
          if (opts.personaClock) delete pinned.now;
          const session = new Session(persona, pinned);
          sessions.push(session);
          opts.onSession?.(session);
          return session;
        },
      },
    ],
    recorder,
    {
      limits: { ...DEFAULT_LIMITS, ...opts.serverLimits },
      ...(opts.memory !== undefined ? { memory: opts.memory } : {}),
      ...(opts.capture !== undefined ? { capture: opts.capture } : {}),
      onRead: (bytes) => {
        bytesRead += bytes;
        for (let i = readers.length - 1; i >= 0; i--) {
          if (bytesRead >= readers[i]!.total) readers.splice(i, 1)[0]!.resolve();
        }
      },
    },
  );
  const [bound] = await server.start();
  return {
    port: bound!.port,
    sessions,
    recorder,
    get bytesRead() {
      return bytesRead;
    },
    read: (total) =>
      bytesRead >= total
        ? Promise.resolve()
        : new Promise<void>((resolve) => readers.push({ total, resolve })),
    close: () => server.stop(),
  };
}

export interface Exchange {
  reply: Buffer;
  closed: boolean;
}

/**
 * Send bytes on a fresh connection and read until the server closes or stays quiet for
 * `quietMs` after its last byte (`firstByteMs` before the first one).
 */
export function exchange(
  port: number,
  request: Buffer,
  { quietMs = 120, firstByteMs = 600, host = "127.0.0.1" } = {},
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect({ host, port });
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ reply: Buffer.concat(chunks), closed });
    };
    const arm = (ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), ms);
    };
    sock.on("connect", () => {
      sock.write(request);
      arm(firstByteMs);
    });
    sock.on("data", (d: Buffer) => {
      chunks.push(d);
      arm(quietMs);
    });
    sock.on("end", () => finish(true));
    sock.on("close", () => finish(true));
    sock.on("error", (e) => (done ? undefined : chunks.length > 0 ? finish(true) : reject(e)));
  });
}

/**
 * Splits a stream of replies into each reply's bytes, framed by the project's ReplyDecoder.
 * Bytes go to the decoder a line at a time: every reply ends with a line feed, so one push
 * completes at most one reply and where it ends is where that line ends.
 */
export class ReplyFramer {
  private readonly decoder = new ReplyDecoder({
    maxBulkBytes: 512 * 1024 * 1024,
    maxElements: 16 * 1024 * 1024,
    maxDepth: 64,
  });
  private part: Buffer[] = [];

  /** The replies `data` completes, each as its bytes on the wire. */
  push(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let from = 0;
    while (from < data.length) {
      const lf = data.indexOf(0x0a, from);
      const to = lf < 0 ? data.length : lf + 1;
      const piece = data.subarray(from, to);
      this.part.push(piece);
      if (this.decoder.push(piece).length > 0) {
        out.push(Buffer.concat(this.part));
        this.part = [];
      }
      from = to;
    }
    return out;
  }

  /** Bytes of a reply begun and not complete. */
  get rest(): Buffer {
    return Buffer.concat(this.part);
  }
}

/** The replies in `bytes`, each as its bytes (what follows the last whole one is dropped). */
export function splitReplies(bytes: Buffer): Buffer[] {
  return new ReplyFramer().push(bytes);
}

/**
 * A connection that sends one request at a time and reads one reply per request, for long
 * command suites. Replies are framed by the project's reply decoder (replies of any shape).
 */
export class RespConnection {
  private readonly sock: net.Socket;
  private readonly framer = new ReplyFramer();
  private replies: Buffer[] = [];
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on("data", (d: Buffer) => {
      this.replies.push(...this.framer.push(d));
      this.waiter?.();
    });
    sock.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
    sock.on("error", () => {});
  }

  /** `from`: the local address to connect from (another loopback /24 is another source). */
  static open(port: number, host = "127.0.0.1", from?: string): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const opts: net.NetConnectOpts = { host, port };
      if (from !== undefined) opts.localAddress = from;
      const sock = net.connect(opts, () => resolve(new RespConnection(sock)));
      sock.once("error", reject);
    });
  }

  /** Write a request and return the bytes of `replies` complete replies (fewer if closed). */
  async send(request: Buffer, replies = 1, timeoutMs = 3000): Promise<Buffer> {
    this.sock.write(request);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.replies.length >= replies) {
        return Buffer.concat(this.replies.splice(0, replies));
      }
      if (this.closed || Date.now() > deadline) {
        const out = Buffer.concat([...this.replies.splice(0), this.framer.rest]);
        return out;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  close(): void {
    this.sock.destroy();
  }
}

/**
 * The requests on one new connection to 127.0.0.1:`port`, in order, each waited for: the bytes
 * of each one's replies (`replies(i)` of them, one by default). The differential tests' loop.
 */
export async function sendAll(
  port: number,
  requests: readonly Buffer[],
  opts: { replies?: (i: number) => number; timeoutMs?: number } = {},
): Promise<Buffer[]> {
  const conn = await RespConnection.open(port);
  const out: Buffer[] = [];
  try {
    for (const [i, r] of requests.entries()) {
      out.push(await conn.send(r, opts.replies?.(i) ?? 1, opts.timeoutMs ?? 3000));
    }
  } finally {
    conn.close();
  }
  return out;
}
