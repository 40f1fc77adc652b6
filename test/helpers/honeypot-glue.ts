/**
 * Test-only glue between a TCP socket and a honeypot Session: decode requests with the
 * project's RequestDecoder, hand them to the session, write what it answers. Replies to the
 * requests of one read are written together after the read, so a reply that asks to discard
 * pending output (Redis 6.0+ closing on a Host: line) can. The product server is
 * src/honeypot/server.ts; this is only enough to test sessions over real sockets.
 */
import net from "node:net";
import type { Persona } from "../../src/honeypot/personas/index.js";
import { type PersonaReply, Session, type SessionContext } from "../../src/honeypot/session.js";
import { RequestDecoder, RespProtocolError } from "../../src/resp/index.js";
import type { RespCommand } from "../../src/resp/types.js";

export interface PersonaServer {
  port: number;
  /** Every session the server made, in accept order. */
  sessions: Session[];
  close(): Promise<void>;
}

export interface ServeOptions {
  host?: string;
  /** The client id of the next session (default: 3, 4, 5 …). */
  clientId?: () => number;
  limits?: SessionContext["limits"];
}

export async function servePersona(
  persona: Persona,
  opts: ServeOptions = {},
): Promise<PersonaServer> {
  const host = opts.host ?? "127.0.0.1";
  let nextId = 3;
  const clientId = opts.clientId ?? (() => nextId++);
  const sockets = new Set<net.Socket>();
  const sessions: Session[] = [];
  let port = 0;
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("error", () => sock.destroy());
    const ctx: SessionContext = {
      clientId: clientId(),
      peer: { ip: sock.remoteAddress ?? host, port: sock.remotePort ?? 0 },
      listenerPort: port,
    };
    if (opts.limits !== undefined) ctx.limits = opts.limits;
    const session = new Session(persona, ctx);
    sessions.push(session);
    sock.on("close", () => {
      sockets.delete(sock);
      session.end();
    });
    const greeting = session.greet();
    if (greeting.reply !== undefined) sock.write(greeting.reply);
    if (greeting.close) {
      sock.end();
      return;
    }
    const decoder = new RequestDecoder();
    let closing = false;
    sock.on("data", (chunk: Buffer) => {
      if (closing) return;
      let commands: RespCommand[];
      let broken: RespProtocolError | undefined;
      try {
        commands = decoder.push(chunk);
      } catch (e) {
        if (!(e instanceof RespProtocolError)) throw e;
        commands = e.partial as RespCommand[];
        broken = e;
      }
      const pending: Buffer[] = [];
      const take = (r: PersonaReply): boolean => {
        if (r.discardPending) pending.length = 0;
        if (r.reply !== undefined) pending.push(r.reply);
        return r.close === true;
      };
      for (const c of commands) {
        if (take(session.command(c.args, c.inline))) {
          closing = true;
          break;
        }
      }
      if (!closing && broken !== undefined) {
        take(session.protocolError(broken.message));
        closing = true;
      }
      if (pending.length > 0) sock.write(Buffer.concat(pending));
      if (closing) sock.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: 0 }, () => resolve());
  });
  port = (server.address() as net.AddressInfo).port;
  return {
    port,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
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
 * A connection that sends one request at a time and reads one reply per request, for long
 * command suites. Reply framing is found by decoding RESP (replies of any shape).
 */
export class RespConnection {
  private readonly sock: net.Socket;
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on("data", (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.waiter?.();
    });
    sock.on("close", () => {
      this.closed = true;
      this.waiter?.();
    });
    sock.on("error", () => {});
  }

  static open(port: number, host = "127.0.0.1"): Promise<RespConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host, port }, () => resolve(new RespConnection(sock)));
      sock.once("error", reject);
    });
  }

  /** Write a request and return the bytes of `replies` complete replies (fewer if closed). */
  async send(request: Buffer, replies = 1, timeoutMs = 3000): Promise<Buffer> {
    this.sock.write(request);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = replyEnd(this.buffer, replies);
      if (end >= 0) {
        const out = this.buffer.subarray(0, end);
        this.buffer = this.buffer.subarray(end);
        return out;
      }
      if (this.closed || Date.now() > deadline) {
        const out = this.buffer;
        this.buffer = Buffer.alloc(0);
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

/** Where `count` complete RESP2/RESP3 replies end in buf, or -1. */
export function replyEnd(buf: Buffer, count: number): number {
  let p = 0;
  for (let n = 0; n < count; n++) {
    p = valueEnd(buf, p);
    if (p < 0) return -1;
  }
  return p;
}

function valueEnd(buf: Buffer, p: number): number {
  const nl = buf.indexOf("\r\n", p);
  if (nl < 0) return -1;
  const type = String.fromCharCode(buf[p]!);
  const head = buf.toString("latin1", p + 1, nl);
  let q = nl + 2;
  switch (type) {
    case "$":
    case "=":
    case "!": {
      const len = Number(head);
      if (len < 0) return q;
      return buf.length >= q + len + 2 ? q + len + 2 : -1;
    }
    case "*":
    case "~":
    case ">":
    case "%":
    case "|": {
      const n = Number(head);
      const items = n < 0 ? 0 : type === "%" || type === "|" ? n * 2 : n;
      for (let i = 0; i < items; i++) {
        q = valueEnd(buf, q);
        if (q < 0) return -1;
      }
      return q;
    }
    default:
      return q;
  }
}
