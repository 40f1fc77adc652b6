/**
 * Payload capture from rogue masters (`--capture-replication DIR`), the one outbound connection
 * the honeypot can make, and only when the operator asks for it. A visitor's `SLAVEOF host
 * port` makes the sensor connect to that host as a replica of the persona's version would
 * (PING, REPLCONF listening-port, REPLCONF capa eof [capa psync2 from 4.0], PSYNC ? -1, each
 * after the previous reply, as Redis's syncWithMaster does) and keep what the master sends as
 * its "RDB": in the rogue-master attack that is the module (`exp.so`) the attacker then loads
 * with MODULE LOAD. While the setting stands the link is retried every second, as Redis's
 * replicationCron does, so a rogue master that starts listening after its SLAVEOF is reached.
 *
 * Bounded: one link per session and a few per source at once, a few attempts at once in all,
 * a cap on attempts and on a link's lifetime, a byte cap (more is cut and marked truncated), a
 * cap on what the directory may hold, a deadline for each exchange, 64 KB for any reply line. Only public addresses are contacted unless the operator allows reserved
 * ones (the scanner's blocklist): a visitor must not turn the sensor against the network it
 * stands in (loopback, RFC 1918, link-local, metadata services). The payload is
 * streamed to a private temporary file while hashed, then renamed to `<sha256>.bin` with mode
 * 0600: never executable, never opened, never loaded. Nothing received is interpreted beyond
 * the replication headers, and the printable strings of the payload (bounded, read as it
 * streams) for the module name and commands a MODULE LOAD of it would register.
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
  /** Time between a link's attempts (Redis's replicationCron runs once a second). */
  retryMs: number;
  /** Attempts one link makes before it gives up. */
  maxAttempts: number;
  /** How long one link may keep trying, first attempt to last. */
  linkLifetimeMs: number;
  /** Links open at once for one source prefix. */
  maxLinksPerSource: number;
  /** Links open at once in all. */
  maxLinks: number;
}

export const DEFAULT_CAPTURE: Omit<CaptureOptions, "dir"> = {
  maxBytes: 16 * 1024 * 1024,
  timeoutMs: 30_000,
  maxConcurrent: 4,
  maxTotalBytes: 1024 * 1024 * 1024,
  allowReserved: false,
  retryMs: 1000,
  maxAttempts: 120,
  linkLifetimeMs: 10 * 60_000,
  maxLinksPerSource: 2,
  maxLinks: 64,
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
  /** Attempts the link made (the last one gave this result). */
  attempts?: number;
  /** What a module made of this payload would call itself and register (its strings). */
  module?: ModuleNames;
}

/** The phases of a replica's link to its master, as ROLE and INFO show them. */
export type LinkPhase = "connecting" | "handshake" | "transfer" | "down";

/** A module's name and commands as its binary's strings give them. */
export interface ModuleNames {
  /** The name RedisModule_Init gives it (the commands' common prefix). */
  name?: string;
  /** Dotted command names (`system.exec`), lower-case, at most MAX_MODULE_COMMANDS. */
  commands: string[];
}

const MAX_MODULE_COMMANDS = 32;
/** A printable run longer than this is no command name: it is skipped. */
const MAX_NAME_CHARS = 64;
/** Suffixes of dotted strings that are file names, not commands. */
const FILE_SUFFIXES = new Set(
  "so c h o a cc cpp hpp py sh txt gz md rdb conf log json xml html js lua go rs s".split(" "),
);

/**
 * The command names a module registers, read from its binary as it streams by: printable runs
 * (NUL-terminated in the ELF's string table) that look like `module.command`. Constant state
 * (one run of at most 64 characters, at most 32 names): a hostile binary cannot make it loop
 * or allocate without bound.
 */
export class ModuleStrings {
  private run = "";
  private skipping = false;
  private readonly found = new Set<string>();
  private readonly words = new Set<string>();

  push(data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const b = data[i]!;
      if (b >= 0x21 && b <= 0x7e) {
        if (this.skipping) continue;
        if (this.run.length >= MAX_NAME_CHARS) {
          this.skipping = true;
          this.run = "";
          continue;
        }
        this.run += String.fromCharCode(b);
      } else {
        // Only NUL ends a C string: a run ended by anything else is part of code or data.
        if (!this.skipping && b === 0 && this.run.length > 0) this.take(this.run);
        this.run = "";
        this.skipping = false;
      }
    }
  }

  private take(text: string): void {
    if (this.found.size >= MAX_MODULE_COMMANDS) return;
    if (/^[a-z][a-z0-9_]{0,31}$/.test(text) && this.words.size < 4096) this.words.add(text);
    const m = /^([a-z][a-z0-9_-]{0,31})\.([a-z][a-z0-9_-]{0,31})$/.exec(text);
    if (m === null || FILE_SUFFIXES.has(m[2]!)) return;
    this.found.add(text);
  }

  result(): ModuleNames {
    const commands = [...this.found];
    // The module's name: the prefix most of its commands share, if the binary has it alone
    // too (the string passed to RedisModule_Init); else the commonest prefix.
    const counts = new Map<string, number>();
    for (const c of commands) {
      const prefix = c.slice(0, c.indexOf("."));
      counts.set(prefix, (counts.get(prefix) ?? 0) + 1);
    }
    let name: string | undefined;
    let best = 0;
    for (const [prefix, n] of counts) {
      const score = n + (this.words.has(prefix) ? 1000 : 0);
      if (score > best) {
        best = score;
        name = prefix;
      }
    }
    return name === undefined ? { commands } : { name, commands };
  }
}

/** Longest reply line read from a master before giving up on it. */
const MAX_LINE = 64 * 1024;

/**
 * The replica's side of the handshake, one command at a time, as the version sends it: 2.8 to
 * 3.2 announce `capa eof`, 4.0+ `capa eof capa psync2`.
 */
function handshake(listeningPort: number, psync2: boolean): Buffer[] {
  const cmd = (...args: string[]): Buffer =>
    Buffer.from(`*${args.length}\r\n${args.map((a) => `$${a.length}\r\n${a}\r\n`).join("")}`);
  return [
    cmd("PING"),
    cmd("REPLCONF", "listening-port", String(listeningPort)),
    psync2 ? cmd("REPLCONF", "capa", "eof", "capa", "psync2") : cmd("REPLCONF", "capa", "eof"),
    cmd("PSYNC", "?", "-1"),
  ];
}

/** What a link reports while it runs (the server hands it to the session and the record). */
export interface LinkHooks {
  phase(phase: LinkPhase): void;
  /** The first attempt failed before a payload; the link tries again every retryMs. */
  retrying(result: CaptureResult): void;
  /** The link ended: a payload, a refusal, cancelled, or out of attempts or time. */
  done(result: CaptureResult): void;
}

export interface LinkRequest {
  host: string;
  port: number;
  /** The port the replica says it listens on (the listener the SLAVEOF came to). */
  listeningPort: number;
  /** The source prefix of the session (links per source are capped). */
  source: string;
  /** The persona's replica sends `capa psync2` (4.0+). */
  psync2: boolean;
}

/** A running link: cancel it when the setting changes or its session ends. */
export interface Link {
  cancel(): void;
  /** Settles once the link has ended and its outcome was reported. */
  readonly ended: Promise<void>;
}

/** How one attempt runs: the handshake's variant, whom to tell of its phases. */
interface AttemptOptions {
  psync2: boolean;
  phase?: (phase: LinkPhase) => void;
  cancelled?: () => boolean;
  /** Given the attempt's abort (its link is cancelled while it runs). */
  started?: (abort: () => void) => void;
}

export class ReplicationCapture {
  private active = 0;
  /** Payload bytes in the directory (what was there at start, plus what this run kept). */
  private stored = 0;
  /** Connections to masters now open (abort() closes them). */
  private readonly sockets = new Set<net.Socket>();
  /** Links running, in all and per source prefix. */
  private readonly links = new Set<() => void>();
  private readonly linksBySource = new Map<string, number>();

  constructor(private readonly opts: CaptureOptions) {
    fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    for (const f of fs.readdirSync(opts.dir)) {
      if (f.endsWith(".bin")) this.stored += fs.statSync(path.join(opts.dir, f)).size;
    }
  }

  /** Close every capture now (the sensor is stopping): each ends as what it got so far. */
  abort(): void {
    for (const cancel of [...this.links]) cancel();
    for (const s of this.sockets) s.destroy();
  }

  /**
   * Follow `SLAVEOF host port` as the persona's replica would: attempt, and after an attempt
   * that got no payload try again every retryMs until a payload is kept, the link is cancelled,
   * or its attempts or lifetime run out. Never throws; every outcome goes to `hooks.done`.
   */
  follow(req: LinkRequest, hooks: LinkHooks): Link {
    const { host, port, source } = req;
    const opts = this.opts;
    let cancelled = false;
    let timer: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    let endLink: () => void = () => {};
    const ended = new Promise<void>((resolve) => {
      endLink = resolve;
    });
    let abortAttempt: (() => void) | undefined;
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      clearTimeout(timer);
      wake?.();
      abortAttempt?.();
    };
    const finish = (result: CaptureResult): void => {
      hooks.phase("down");
      hooks.done(result);
      endLink();
    };
    const refusal = this.refuse(host, port);
    const perSource = this.linksBySource.get(source) ?? 0;
    // Hooks are called only after follow() has returned (the caller keeps the link first).
    if (refusal !== undefined) {
      queueMicrotask(() => finish({ ...refusal, attempts: 0 }));
      return { cancel, ended };
    }
    if (this.links.size >= opts.maxLinks || perSource >= opts.maxLinksPerSource) {
      const busy: CaptureResult = { host, port, status: "busy", bytes: 0, attempts: 0 };
      queueMicrotask(() => finish({ ...busy, message: "too many links" }));
      return { cancel, ended };
    }
    this.links.add(cancel);
    this.linksBySource.set(source, perSource + 1);
    const started = Date.now();
    const run = async (): Promise<CaptureResult> => {
      let result: CaptureResult = { host, port, status: "error", bytes: 0 };
      for (let attempt = 1; attempt <= opts.maxAttempts; attempt++) {
        if (cancelled) return { ...result, message: "cancelled", attempts: attempt - 1 };
        hooks.phase("connecting");
        result = await this.capture(host, port, req.listeningPort, {
          psync2: req.psync2,
          phase: (p) => {
            if (!cancelled) hooks.phase(p);
          },
          cancelled: () => cancelled,
          started: (abort) => {
            abortAttempt = abort;
          },
        });
        abortAttempt = undefined;
        result.attempts = attempt;
        const final =
          result.status === "captured" || result.status === "truncated" || result.status === "full";
        if (final || cancelled) return result;
        if (Date.now() - started + opts.retryMs > opts.linkLifetimeMs) break;
        hooks.phase("down");
        if (attempt === 1) hooks.retrying(result);
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, opts.retryMs);
        });
        wake = undefined;
      }
      return { ...result, message: `gave up after ${result.attempts ?? 0} attempts` };
    };
    void Promise.resolve()
      .then(run)
      .then((result) => {
        this.links.delete(cancel);
        const left = (this.linksBySource.get(source) ?? 1) - 1;
        if (left > 0) this.linksBySource.set(source, left);
        else this.linksBySource.delete(source);
        finish(result);
      });
    return { cancel, ended };
  }

  /** Why a link to host:port is not made at all (not an address, reserved), if it is not. */
  private refuse(host: string, port: number): CaptureResult | undefined {
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
    return undefined;
  }

  /**
   * Connect to host:port as a replica and keep its payload; never rejects. `listeningPort` is
   * what the replica says it listens on (the listener the SLAVEOF came to).
   */
  async capture(
    host: string,
    port: number,
    listeningPort: number,
    how: AttemptOptions = { psync2: true },
  ): Promise<CaptureResult> {
    if (this.active >= this.opts.maxConcurrent) {
      return { host, port, status: "busy", bytes: 0 };
    }
    const refusal = this.refuse(host, port);
    if (refusal !== undefined) return refusal;
    if (this.stored >= this.opts.maxTotalBytes) {
      return { host, port, status: "full", bytes: 0, message: "the capture directory is full" };
    }
    this.active++;
    try {
      return await this.run(host, port, listeningPort, how);
    } finally {
      this.active--;
    }
  }

  private run(
    host: string,
    port: number,
    listeningPort: number,
    how: AttemptOptions,
  ): Promise<CaptureResult> {
    const { dir, maxBytes, timeoutMs } = this.opts;
    return new Promise((resolve) => {
      const result: CaptureResult = { host, port, status: "error", bytes: 0 };
      const commands = handshake(listeningPort, how.psync2);
      const strings = new ModuleStrings();
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
      how.started?.(() => finish("error", "cancelled"));

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
            result.module = strings.result();
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
          strings.push(part);
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
              how.phase?.("transfer");
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
        if (how.cancelled?.()) {
          finish("error", "cancelled");
          return;
        }
        how.phase?.("handshake");
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
