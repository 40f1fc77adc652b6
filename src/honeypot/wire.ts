/**
 * Requests as a honeypot must read them: RESP multibulk and inline, as Redis parses them (same
 * limits, same protocol error texts), but an argument is never held whole. Each keeps a bounded
 * prefix; a longer one streams through a SHA-256 and is counted. A 1 GB SET value costs the
 * prefix, the hash state and nothing else, however it is chunked.
 *
 * What a request holds while it arrives over several reads (its arguments' prefixes, a header
 * or inline line not finished yet) is taken from the session's memory account (memory.ts): a
 * command of 8,192 arguments of 64 KB would otherwise hold 512 MB until its last byte. When the
 * account refuses, push() throws WireLimitError, and the server closes the connection as Redis
 * closes a client past client-query-buffer-limit.
 */
import { createHash, type Hash } from "node:crypto";
import { splitArgs } from "../resp/inline.js";
import type { ByteAccount } from "./memory.js";

export interface WireArg {
  /** The first bytes (all of them when `length` ≤ the prefix cap). */
  prefix: Buffer;
  /** The argument's full length in bytes. */
  length: number;
  /** SHA-256 (hex) of the whole argument, for the ones that were cut. */
  sha256?: string;
}

export interface WireCommand {
  args: WireArg[];
  inline: boolean;
  /** Bytes this request took on the wire. */
  bytes: number;
}

export interface WireLimits {
  /** Bytes of each argument kept. */
  argPrefixBytes: number;
  /** Redis's limits: 1,048,576 arguments (`*` header), 512 MB a bulk, 64 KB an inline line. */
  maxMultibulk: number;
  maxBulkBytes: number;
  maxInlineBytes: number;
}

export const DEFAULT_WIRE_LIMITS: WireLimits = {
  argPrefixBytes: 64 * 1024,
  maxMultibulk: 1024 * 1024,
  maxBulkBytes: 512 * 1024 * 1024,
  maxInlineBytes: 64 * 1024,
};

/** Redis's own texts (networking.c): the server replies with one and closes. */
export class WireProtocolError extends Error {}

/**
 * The memory account refused what a request in progress needs: the connection is closed
 * without a reply, as Redis frees a client past its query-buffer limit.
 */
export class WireLimitError extends Error {
  constructor(
    /** Bytes the request held when it was refused. */
    readonly held: number,
  ) {
    super("query buffer limit");
  }
}

/** What an argument costs beside its prefix: its WireArg and Buffer objects. */
const ARG_BYTES = 96;
/** A cut argument's SHA-256 as hex text. */
const SHA_BYTES = 96;

/** Longest `*N` / `$N` header line Redis reads before calling it a protocol error. */
const MAX_HEADER_BYTES = 64 * 1024;

type State = "idle" | "multibulk" | "bulk-header" | "bulk-body" | "bulk-crlf";

export class RequestStream {
  private state: State = "idle";
  /** Partial header or inline line carried over between chunks. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  private argsLeft = 0;
  private args: WireArg[] = [];
  private bulkLeft = 0;
  private bulkLength = 0;
  private prefixParts: Buffer[] = [];
  private prefixBytes = 0;
  private hash: Hash | undefined;
  private crlfLeft = 0;
  private requestBytes = 0;
  private failed = false;
  /** Bytes taken from the account for the request in progress. */
  private held = 0;
  /** Of those, the bytes of the unfinished line (given back once it is parsed). */
  private lineHeld = 0;
  /** Bytes taken for complete requests handed out and not released yet. */
  private handedOut = 0;

  constructor(
    private readonly limits: WireLimits = DEFAULT_WIRE_LIMITS,
    /** Where the bytes held between reads are taken from (none: not counted). */
    private readonly account?: ByteAccount,
  ) {}

  /** The requests push() returned are done with: their bytes go back to the account. */
  release(): void {
    if (this.handedOut > 0) this.account?.give(this.handedOut);
    this.handedOut = 0;
  }

  /** Take `bytes` for the request in progress, or stop reading: the account is short. */
  private hold(bytes: number): void {
    if (this.account === undefined) return;
    if (!this.account.take(bytes)) throw new WireLimitError(this.held + bytes);
    this.held += bytes;
  }

  /** The request in progress is complete: what it holds goes out with it. */
  private handOut(): void {
    this.handedOut += this.held;
    this.held = 0;
  }

  /**
   * Parse what arrived. Returns the complete requests; throws WireProtocolError (once) when the
   * stream breaks the protocol, after which the caller replies with its message and closes.
   */
  push(chunk: Buffer, out: WireCommand[] = []): WireCommand[] {
    if (this.failed) return out;
    let i = 0;
    try {
      while (i < chunk.length) {
        switch (this.state) {
          case "idle": {
            if (this.lineBytes === 0 && chunk[i] === 0x2a /* * */) {
              const end = this.wholeMultibulk(chunk, i, out);
              if (end > 0) {
                i = end;
                break;
              }
              this.state = "multibulk";
            }
            const end = this.takeLine(chunk, i, this.state === "multibulk" ? "mbulk" : "inline");
            if (end < 0) return out;
            i = end;
            if (this.state === "idle") this.finishInline(out);
            else this.startMultibulk();
            break;
          }
          case "multibulk": {
            const end = this.takeLine(chunk, i, "mbulk");
            if (end < 0) return out;
            i = end;
            this.startMultibulk();
            break;
          }
          case "bulk-header": {
            const end = this.takeLine(chunk, i, "bulk");
            if (end < 0) return out;
            i = end;
            this.startBulk();
            break;
          }
          case "bulk-body": {
            const n = Math.min(this.bulkLeft, chunk.length - i);
            this.absorb(chunk.subarray(i, i + n));
            this.bulkLeft -= n;
            this.requestBytes += n;
            i += n;
            if (this.bulkLeft === 0) {
              this.state = "bulk-crlf";
              this.crlfLeft = 2;
            }
            break;
          }
          case "bulk-crlf": {
            // Redis skips the two bytes after a bulk without checking them.
            const n = Math.min(this.crlfLeft, chunk.length - i);
            this.crlfLeft -= n;
            this.requestBytes += n;
            i += n;
            if (this.crlfLeft === 0) this.finishBulk(out);
            break;
          }
          default:
            break;
        }
      }
    } catch (e) {
      if (e instanceof WireProtocolError || e instanceof WireLimitError) this.failed = true;
      throw e;
    }
    return out;
  }

  /**
   * The common case in one pass: a request wholly inside the chunk, with `\r\n` line ends, plain
   * decimal counts and arguments short enough to keep whole. Returns the index after it, or -1
   * (having consumed nothing) for anything else, which the state machine then reads, with its
   * limits and errors. The request's bytes are copied once and the arguments are views of the
   * copy, so the chunk is not kept alive by them.
   */
  private wholeMultibulk(chunk: Buffer, start: number, out: WireCommand[]): number {
    const len = chunk.length;
    let p = start + 1;
    let n = 0;
    let digits = 0;
    for (; p < len && digits < 7; p++, digits++) {
      const c = chunk[p]!;
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + (c - 0x30);
    }
    if (digits === 0 || n === 0 || n > FAST_MAX_ARGS || p + 1 >= len) return -1;
    if (chunk[p] !== 0x0d || chunk[p + 1] !== 0x0a) return -1;
    p += 2;
    const offsets = FAST_OFFSETS;
    const maxArg = this.limits.argPrefixBytes;
    for (let k = 0; k < n; k++) {
      if (p >= len || chunk[p] !== 0x24 /* $ */) return -1;
      p++;
      let size = 0;
      let d = 0;
      for (; p < len && d < 7; p++, d++) {
        const c = chunk[p]!;
        if (c < 0x30 || c > 0x39) break;
        size = size * 10 + (c - 0x30);
      }
      if (d === 0 || size > maxArg || size > this.limits.maxBulkBytes || p + 1 >= len) return -1;
      if (chunk[p] !== 0x0d || chunk[p + 1] !== 0x0a) return -1;
      p += 2;
      // The body, then two bytes Redis skips without looking at them.
      if (p + size + 2 > len) return -1;
      offsets[2 * k] = p - start;
      offsets[2 * k + 1] = size;
      p += size + 2;
    }
    const copy = Buffer.allocUnsafe(p - start);
    chunk.copy(copy, 0, start, p);
    const args: WireArg[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const at = offsets[2 * k]!;
      const size = offsets[2 * k + 1]!;
      args[k] = { prefix: copy.subarray(at, at + size), length: size };
    }
    out.push({ args, inline: false, bytes: p - start });
    return p;
  }

  /**
   * Collect bytes up to "\n" into the line buffer. Returns the index after the "\n", or -1
   * when the chunk ended first. Bounded: a header or inline line past its limit is an error.
   */
  private takeLine(chunk: Buffer, from: number, kind: "inline" | "mbulk" | "bulk"): number {
    const nl = chunk.indexOf(0x0a, from);
    const end = nl < 0 ? chunk.length : nl + 1;
    const part = chunk.subarray(from, end);
    this.line.push(part);
    this.lineBytes += part.length;
    this.requestBytes += part.length;
    // A line finished in the same read is parsed at once; one left waiting holds its bytes.
    if (nl < 0) {
      this.hold(part.length);
      this.lineHeld += part.length;
    }
    const limit = kind === "inline" ? this.limits.maxInlineBytes : MAX_HEADER_BYTES;
    if (this.lineBytes > limit) {
      throw new WireProtocolError(
        kind === "inline"
          ? "Protocol error: too big inline request"
          : `Protocol error: too big ${kind} count string`,
      );
    }
    return nl < 0 ? -1 : end;
  }

  /** The collected line without its line break ("\r\n" or a bare "\n", as Redis accepts). */
  private takeCollectedLine(): Buffer {
    const whole = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line);
    this.line = [];
    this.lineBytes = 0;
    if (this.lineHeld > 0) {
      this.account?.give(this.lineHeld);
      this.held -= this.lineHeld;
      this.lineHeld = 0;
    }
    let end = whole.length;
    if (end > 0 && whole[end - 1] === 0x0a) end--;
    if (end > 0 && whole[end - 1] === 0x0d) end--;
    return whole.subarray(0, end);
  }

  private finishInline(out: WireCommand[]): void {
    const line = this.takeCollectedLine();
    const bytes = this.requestBytes;
    this.requestBytes = 0;
    const parts = splitArgs(line);
    if (parts === null) throw new WireProtocolError("Protocol error: unbalanced quotes in request");
    // An empty line is skipped, as Redis does (a bare "\r\n" between commands).
    if (parts.length === 0) {
      this.handOut();
      return;
    }
    out.push({ args: parts.map((p) => this.wholeArg(p)), inline: true, bytes });
    this.handOut();
  }

  private startMultibulk(): void {
    const line = this.takeCollectedLine();
    const n = parseDecimal(line.subarray(1));
    if (n === undefined || n > this.limits.maxMultibulk) {
      throw new WireProtocolError("Protocol error: invalid multibulk length");
    }
    if (n <= 0) {
      // `*0` and `*-1` are empty requests: nothing to run.
      this.state = "idle";
      this.requestBytes = 0;
      this.handOut();
      return;
    }
    this.argsLeft = n;
    this.args = [];
    this.state = "bulk-header";
  }

  private startBulk(): void {
    const line = this.takeCollectedLine();
    if (line[0] !== 0x24 /* $ */) {
      const got = line.length > 0 ? String.fromCharCode(line[0]!) : "";
      throw new WireProtocolError(`Protocol error: expected '$', got '${printable(got)}'`);
    }
    const len = parseDecimal(line.subarray(1));
    if (len === undefined || len < 0 || len > this.limits.maxBulkBytes) {
      throw new WireProtocolError("Protocol error: invalid bulk length");
    }
    this.bulkLength = len;
    this.bulkLeft = len;
    this.prefixParts = [];
    this.prefixBytes = 0;
    this.hash = len > this.limits.argPrefixBytes ? createHash("sha256") : undefined;
    if (len === 0) {
      this.state = "bulk-crlf";
      this.crlfLeft = 2;
    } else this.state = "bulk-body";
  }

  private absorb(part: Buffer): void {
    this.hash?.update(part);
    const room = this.limits.argPrefixBytes - this.prefixBytes;
    if (room > 0) {
      this.hold(Math.min(room, part.length));
      // Copied: the caller's chunk buffer may be reused after push() returns.
      const keep = Buffer.from(part.subarray(0, room));
      this.prefixParts.push(keep);
      this.prefixBytes += keep.length;
    }
  }

  private finishBulk(out: WireCommand[]): void {
    this.hold(ARG_BYTES + (this.hash !== undefined ? SHA_BYTES : 0));
    const prefix =
      this.prefixParts.length === 1 ? this.prefixParts[0]! : Buffer.concat(this.prefixParts);
    const arg: WireArg = { prefix, length: this.bulkLength };
    if (this.hash) arg.sha256 = this.hash.digest("hex");
    this.hash = undefined;
    this.prefixParts = [];
    this.args.push(arg);
    if (--this.argsLeft > 0) {
      this.state = "bulk-header";
      return;
    }
    out.push({ args: this.args, inline: false, bytes: this.requestBytes });
    this.handOut();
    this.args = [];
    this.requestBytes = 0;
    this.state = "idle";
  }

  private wholeArg(p: Buffer): WireArg {
    if (p.length <= this.limits.argPrefixBytes) return { prefix: Buffer.from(p), length: p.length };
    return {
      prefix: Buffer.from(p.subarray(0, this.limits.argPrefixBytes)),
      length: p.length,
      sha256: createHash("sha256").update(p).digest("hex"),
    };
  }
}

/** Most arguments a request may have to be read in one pass (wholeMultibulk). */
const FAST_MAX_ARGS = 1024;
/** Where each argument of that request starts, and its size. */
const FAST_OFFSETS = new Int32Array(2 * FAST_MAX_ARGS);

/** Redis's string2ll for headers: optional sign, digits only, no overflow. */
function parseDecimal(b: Buffer): number | undefined {
  if (b.length === 0 || b.length > 20) return undefined;
  const s = b.toString("latin1");
  if (!/^-?\d+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function printable(s: string): string {
  const c = s.charCodeAt(0);
  return c >= 0x20 && c < 0x7f ? s : "?";
}
