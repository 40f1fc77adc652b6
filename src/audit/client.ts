/**
 * The audit's connection to a server the operator owns: one command at a time, each answer
 * bounded in size and time. Nothing here changes the server; the checks decide what is sent.
 */
import net from "node:net";
import tls from "node:tls";
import { encodeCommand, ReplyDecoder } from "../resp/index.js";
import type { RespValue } from "../resp/types.js";
import type { AuditTarget } from "./target.js";

export interface ClientOptions {
  /** Connect, and each command, may take this long. */
  timeoutMs: number;
  /** Verify the server's certificate (rediss://); off for self-signed lab servers. */
  tlsVerify: boolean;
  /** CA bundle for rediss:// (PEM). */
  ca?: Buffer;
}

/**
 * The only commands the audit sends, each in its read-only form: anything else is refused before
 * it reaches the socket. ACL LOG only reads (with an optional count, never RESET); CONFIG only
 * GETs; HELLO only asks for RESP2 (the answer tells 6.0+ from older servers without AUTH).
 */
export function readOnly(args: readonly string[]): boolean {
  const [cmd = "", sub = "", ...rest] = args.map((a, i) => (i < 2 ? a.toUpperCase() : a));
  switch (cmd) {
    case "PING":
    case "AUTH":
    case "INFO":
    case "SELECT":
    case "SCAN":
      return true;
    case "HELLO":
      return sub === "2" && rest.length === 0;
    case "CONFIG":
      return sub === "GET";
    case "COMMAND":
      return sub === "INFO";
    case "ACL":
      if (sub === "LOG") return rest.length === 0 || (rest.length === 1 && /^\d+$/.test(rest[0]!));
      return ["WHOAMI", "LIST", "GETUSER", "DRYRUN"].includes(sub);
    default:
      return false;
  }
}

/** Largest answer accepted (CONFIG GET * and INFO are a few KB; ACL LIST of many users more). */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;

export class AuditClient {
  private readonly decoder = new ReplyDecoder({ maxBulkBytes: MAX_REPLY_BYTES });
  private readonly queue: RespValue[] = [];
  private waiter: ((v: RespValue | Error) => void) | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly sock: net.Socket,
    private readonly timeoutMs: number,
  ) {
    sock.on("data", (chunk: Buffer) => {
      try {
        for (const v of this.decoder.push(chunk)) this.deliver(v);
      } catch (e) {
        this.fail(new Error(`the server's reply is not RESP: ${(e as Error).message}`));
      }
    });
    sock.on("error", (e) => this.fail(e));
    sock.on("close", () => this.fail(new Error("the server closed the connection")));
  }

  static connect(t: AuditTarget, o: ClientOptions): Promise<AuditClient> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => {
        clearTimeout(timer);
        sock.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () => onError(new Error(`no connection within ${o.timeoutMs} ms`)),
        o.timeoutMs,
      );
      const ready = (): void => {
        clearTimeout(timer);
        sock.off("error", onError);
        resolve(new AuditClient(sock, o.timeoutMs));
      };
      const sock: net.Socket = t.tls
        ? tls.connect(
            {
              host: t.host,
              port: t.port,
              servername: net.isIP(t.host) ? undefined : t.host,
              rejectUnauthorized: o.tlsVerify,
              ...(o.ca ? { ca: o.ca } : {}),
            },
            ready,
          )
        : net.connect({ host: t.host, port: t.port }, ready);
      sock.once("error", onError);
    });
  }

  /** Send one command and wait for its answer (an error reply is a value, not a throw). */
  call(...args: string[]): Promise<RespValue> {
    if (!readOnly(args)) {
      return Promise.reject(new Error(`${args[0]} ${args[1] ?? ""} is not a read-only command`));
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiter) return Promise.reject(new Error("one command at a time"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        const e = new Error(`no answer to ${args[0]} within ${this.timeoutMs} ms`);
        this.fail(e);
        reject(e);
      }, this.timeoutMs);
      this.waiter = (v) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const queued = this.queue.shift();
      if (queued !== undefined) this.waiter(queued);
      else this.sock.write(encodeCommand(args));
    });
  }

  /** The server certificate's subject and expiry (TLS connections), else undefined. */
  certificate(): Certificate | undefined {
    return this.sock instanceof tls.TLSSocket ? certificateOf(this.sock) : undefined;
  }

  close(): void {
    this.sock.destroy();
  }

  private deliver(v: RespValue): void {
    // Attributes and pushes (RESP3 out-of-band data) are not answers.
    if (v.type === "attribute" || v.type === "push") return;
    if (this.waiter) this.waiter(v);
    else if (this.queue.length < 16) this.queue.push(v);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.waiter?.(this.failure);
    this.sock.destroy();
  }
}

export interface Certificate {
  subject: string;
  /** ISO 8601. */
  validTo: string;
}

function certificateOf(s: tls.TLSSocket): Certificate | undefined {
  const c = s.getPeerCertificate();
  if (!c?.valid_to) return undefined;
  const to = new Date(c.valid_to);
  if (Number.isNaN(to.getTime())) return undefined;
  const cn = c.subject?.CN;
  return { subject: Array.isArray(cn) ? cn.join(",") : (cn ?? ""), validTo: to.toISOString() };
}

/**
 * The certificate a TLS port presents: a handshake only (certificates are not verified: this
 * reads them), then the connection is closed without a command.
 */
export function tlsCertificate(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<Certificate | undefined> {
  return new Promise((resolve, reject) => {
    const sock = tls.connect(
      {
        host,
        port,
        servername: net.isIP(host) ? undefined : host,
        rejectUnauthorized: false,
      },
      () => {
        clearTimeout(timer);
        const c = certificateOf(sock);
        sock.destroy();
        resolve(c);
      },
    );
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no TLS handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once("error", (e) => {
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    });
  });
}

/** A reply as text: simple and bulk strings, verbatim text, errors with their `-`. */
export function replyText(v: RespValue): string {
  switch (v.type) {
    case "simple":
      return v.value;
    case "error":
      return `-${v.value}`;
    case "bulk":
      return v.value === null ? "" : v.value.toString("latin1");
    case "verbatim":
      return v.value.toString("latin1");
    case "integer":
      return String(v.value);
    default:
      return "";
  }
}

/** The flat list of strings in an array reply (CONFIG GET, ACL LIST, SCAN's keys). */
export function replyStrings(v: RespValue): string[] {
  if (v.type === "array" && v.value) return v.value.map(replyText);
  if (v.type === "set") return v.value.map(replyText);
  if (v.type === "map") return v.value.flatMap(([k, x]) => [replyText(k), replyText(x)]);
  return [];
}
