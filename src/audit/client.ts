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
