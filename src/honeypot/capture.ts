/**
 * Payload capture from rogue masters (`--capture-replication DIR`), the one outbound connection
 * the honeypot can make, and only when the operator asks for it. A visitor's `SLAVEOF host
 * port` makes the sensor connect to that host as a replica would (PING, REPLCONF
 * listening-port, REPLCONF capa eof capa psync2, PSYNC ? -1, each after the previous reply, as
 * Redis's syncWithMaster does) and keep what the master sends as its "RDB": in the rogue-master
 * attack that is the module (`exp.so`) the attacker then loads with MODULE LOAD.
 *
 * Bounded: one capture per session, a few at once in all, a byte cap (more is cut and marked
 * truncated), a cap on what the directory may hold, a deadline for the whole exchange, 64 KB
 * for any reply line. Only public addresses are contacted unless the operator allows reserved
 * ones (the scanner's blocklist): a visitor must not turn the sensor against the network it
 * stands in (loopback, RFC 1918, link-local, metadata services). The payload is
 * streamed to a private temporary file while hashed, then renamed to `<sha256>.bin` with mode
 * 0600: never executable, never opened, never loaded. Nothing received is interpreted beyond
 * the replication headers.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { parseIp } from "../net/ip.js";
import { reservedEntryFor } from "../net/reserved.js";

export interface CaptureOptions {
  /** Where payloads go (created 0700 if missing). */
  dir: string;
  /** Payload bytes kept; the rest is not read. */
  maxBytes: number;
  /** The whole exchange, connect to last byte. */
  timeoutMs: number;
  /** Captures running at once; more are refused as "busy". */
  maxConcurrent: number;
  /** Payload bytes the directory may hold; past it new captures are refused as "full". */
  maxTotalBytes: number;
  /** Contact reserved addresses too (loopback, private, link-local …): your own lab only. */
  allowReserved: boolean;
}

export const DEFAULT_CAPTURE: Omit<CaptureOptions, "dir"> = {
  maxBytes: 16 * 1024 * 1024,
  timeoutMs: 30_000,
  maxConcurrent: 4,
  maxTotalBytes: 1024 * 1024 * 1024,
  allowReserved: false,
};

export type CaptureStatus =
  | "captured"
  | "truncated"
  | "no_payload"
  | "refused"
  | "timeout"
  | "error"
  | "busy"
  | "full";

export interface CaptureResult {
  host: string;
  port: number;
  status: CaptureStatus;
  /** Payload bytes kept. */
  bytes: number;
  /** Payload length the master announced (-1: EOF-marked, length unknown in advance). */
  announced?: number;
  sha256?: string;
  file?: string;
  /** The master's answer to PSYNC (`+FULLRESYNC <replid> <offset>`), cut to 200 characters. */
  psync?: string;
  message?: string;
}

/** Longest reply line read from a master before giving up on it. */
const MAX_LINE = 64 * 1024;

/** The replica's side of the handshake, one command at a time. */
function handshake(listeningPort: number): Buffer[] {
  const cmd = (...args: string[]): Buffer =>
    Buffer.from(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`);
  return [
    cmd("PING"),
    cmd("REPLCONF", "listening-port", String(listeningPort)),
    cmd("REPLCONF", "capa", "eof", "capa", "psync2"),
    cmd("PSYNC", "?", "-1"),
  ];
}

export class ReplicationCapture {
  private active = 0;
  /** Payload bytes in the directory (what was there at start, plus what this run kept). */
  private stored = 0;
  /** Connections to masters now open (abort() closes them). */
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly opts: CaptureOptions) {
    fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    for (const f of fs.readdirSync(opts.dir)) {
      if (f.endsWith(".bin")) this.stored += fs.statSync(path.join(opts.dir, f)).size;
    }
  }

  /** Close every capture now (the sensor is stopping): each ends as what it got so far. */
  abort(): void {
    for (const s of this.sockets) s.destroy();
  }

  /**
   * Connect to host:port as a replica and keep its payload; never rejects. `listeningPort` is
   * what the replica says it listens on (the listener the SLAVEOF came to).
   */
  async capture(host: string, port: number, listeningPort: number): Promise<CaptureResult> {
    if (this.active >= this.opts.maxConcurrent) {
      return { host, port, status: "busy", bytes: 0 };
    }
    const ip = parseIp(host);
    if (ip === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
      // Names are not resolved: a DNS lookup is a connection too, and tells the attacker.
      return { host, port, status: "refused", bytes: 0, message: "not an IP address and port" };
    }
    const reserved = this.opts.allowReserved ? undefined : reservedEntryFor(ip.family, ip.value);
    if (reserved !== undefined) {
      const message = `${reserved.cidr} (${reserved.name}) is not contacted without --capture-allow-reserved`;
      return { host, port, status: "refused", bytes: 0, message };
    }
    if (this.stored >= this.opts.maxTotalBytes) {
      return { host, port, status: "full", bytes: 0, message: "the capture directory is full" };
    }
    this.active++;
    try {
      return await this.run(host, port, listeningPort);
    } finally {
      this.active--;
    }
  }

  private run(host: string, port: number, listeningPort: number): Promise<CaptureResult> {
    const { dir, maxBytes, timeoutMs } = this.opts;
    return new Promise((resolve) => {
      const result: CaptureResult = { host, port, status: "error", bytes: 0 };
      const commands = handshake(listeningPort);
      const hash = createHash("sha256");
      const partial = path.join(dir, `.partial-${randomBytes(8).toString("hex")}`);
      let fd: number | undefined;
      let line = Buffer.alloc(0);
      let sent = 0;
      /** handshake: reading replies; header: waiting for `$`; body: the payload. */
      let phase: "handshake" | "header" | "body" = "handshake";
      let left = 0;
      let eofMark: Buffer | undefined;
      let tail = Buffer.alloc(0);
      let settled = false;

      const sock = net.connect({ host, port });
      this.sockets.add(sock);
      const timer = setTimeout(() => finish("timeout"), timeoutMs);

      const finish = (status: CaptureStatus, message?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        this.sockets.delete(sock);
        result.status = status;
        if (message !== undefined) result.message = message.slice(0, 200);
        if (fd !== undefined) {
          fs.closeSync(fd);
          if (result.bytes > 0) {
            result.sha256 = hash.digest("hex");
            const file = path.join(dir, `${result.sha256}.bin`);
            // The same payload again (a campaign reuses its module): one file.
            if (!fs.existsSync(file)) this.stored += result.bytes;
            fs.renameSync(partial, file);
            fs.chmodSync(file, 0o600);
            result.file = file;
          } else fs.rmSync(partial, { force: true });
        }
        if (result.bytes === 0 && (status === "captured" || status === "truncated")) {
          result.status = "no_payload";
        }
        resolve(result);
      };

      const keep = (data: Buffer): boolean => {
        const room = maxBytes - result.bytes;
        const part = data.length > room ? data.subarray(0, room) : data;
        if (part.length > 0) {
          fd ??= fs.openSync(partial, "wx", 0o600);
          fs.writeSync(fd, part);
          hash.update(part);
          result.bytes += part.length;
        }
        return data.length <= room;
      };

      /** The body of an EOF-marked payload: all but the last 40 bytes may be kept yet. */
      const eofBody = (data: Buffer): void => {
        const mark = eofMark!;
        const all = Buffer.concat([tail, data]);
        const at = all.indexOf(mark);
        if (at >= 0) {
          if (keep(all.subarray(0, at))) finish("captured");
          else finish("truncated");
          return;
        }
        const safe = Math.max(0, all.length - mark.length);
        tail = all.subarray(safe);
        if (!keep(all.subarray(0, safe))) finish("truncated");
      };

      const onData = (chunk: Buffer): void => {
        let data = chunk;
        while (!settled && data.length > 0) {
          if (phase === "body") {
            if (eofMark !== undefined) {
              eofBody(data);
              return;
            }
            const n = Math.min(left, data.length);
            if (!keep(data.subarray(0, n))) {
              finish("truncated");
              return;
            }
            left -= n;
            if (left === 0) finish("captured");
            return;
          }
          if (phase === "header") {
            // Masters send bare newlines to keep a replica waiting while they prepare.
            let i = 0;
            while (i < data.length && data[i] === 0x0a) i++;
            data = data.subarray(i);
            if (data.length === 0) return;
          }
          const nl = data.indexOf(0x0a);
          if (nl < 0) {
            line = Buffer.concat([line, data]);
            if (line.length > MAX_LINE) finish("error", "reply line too long");
            return;
          }
          const text = Buffer.concat([line, data.subarray(0, nl)])
            .toString("latin1")
            .replace(/\r$/, "");
          line = Buffer.alloc(0);
          data = data.subarray(nl + 1);
          if (phase === "handshake") {
            if (sent === commands.length) {
              // The answer to PSYNC: +FULLRESYNC replid offset (or +CONTINUE, or an error).
              result.psync = text.slice(0, 200);
              if (text.startsWith("-")) {
                finish("error", text);
                return;
              }
              phase = "header";
              // A rogue master may send the payload header straight away, in this chunk.
              continue;
            }
            sock.write(commands[sent++]!);
            continue;
          }
          // phase === "header"
          if (!text.startsWith("$")) {
            finish("error", `expected a payload header, got ${JSON.stringify(text.slice(0, 60))}`);
            return;
          }
          if (text.startsWith("$EOF:") && text.length === 45) {
            eofMark = Buffer.from(text.slice(5), "latin1");
            result.announced = -1;
          } else {
            const n = Number(text.slice(1));
            if (!Number.isSafeInteger(n) || n < 0) {
              finish("error", `bad payload length ${JSON.stringify(text.slice(0, 40))}`);
              return;
            }
            result.announced = n;
            left = n;
            if (n === 0) {
              finish("no_payload");
              return;
            }
          }
          phase = "body";
        }
      };

      sock.on("connect", () => {
        sock.write(commands[sent++]!);
      });
      sock.on("data", onData);
      sock.on("error", (e: NodeJS.ErrnoException) =>
        finish(e.code === "ECONNREFUSED" ? "refused" : "error", e.code ?? e.message),
      );
      sock.on("close", () => {
        if (phase === "body" && result.bytes > 0) finish("truncated", "closed before the end");
        else finish(result.psync === undefined ? "error" : "no_payload", "closed by the master");
      });
    });
  }
}
