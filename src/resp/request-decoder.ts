/**
 * Requests as a Redis server reads them (networking.c's processInputBuffer): RESP multibulk
 * arrays of bulk strings, or inline lines split like sdssplitargs; Redis's limits and its
 * protocol error texts (protocol-errors.ts). Fed in arbitrary chunks, it gives the same
 * requests however the stream is cut.
 *
 * Two modes. By default an argument is kept whole (up to Redis's 512 MB). In recording mode
 * (`argPrefixBytes`, the honeypot's) an argument is never held whole: each keeps a bounded
 * prefix, and a longer one streams through a SHA-256 and is counted. A 1 GB SET value then
 * costs the prefix, the hash state and nothing else, however it is chunked.
 *
 * What a request holds while it arrives over several reads (its arguments, a header or inline
 * line not finished yet) can be drawn from a memory account: a command of 8,192 arguments of
 * 64 KB would otherwise hold 512 MB until its last byte. When the account refuses, push()
 * throws RequestLimitError, and a server closes the connection as Redis closes a client past
 * client-query-buffer-limit.
 *
 * Arguments are never views of a pushed chunk: a caller keeps them (keys, values, payloads)
 * long after the chunk, which may be reused. A request read in one pass shares one copy of its
 * bytes among its arguments.
 */
import { createHash, type Hash } from "node:crypto";
import type { ByteAccount } from "../untrusted/account.js";
import { splitArgs } from "./inline.js";
import {
  expectedDollarText,
  PROTOCOL_ERRORS,
  RequestLimitError,
  RequestProtocolError,
} from "./protocol-errors.js";
import type { RespCommand } from "./types.js";

/** Redis's limits on a request (networking.c, server.h). */
export interface RequestLimits {
  /** Arguments in one multibulk request (the `*` header). */
  maxMultibulk: number;
  /** Bytes of one bulk argument (proto-max-bulk-len). */
  maxBulkBytes: number;
  /** Bytes of an inline request line (PROTO_INLINE_MAX_SIZE). */
  maxInlineBytes: number;
}

export const REDIS_REQUEST_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxMultibulk: 1024 * 1024,
  maxBulkBytes: 512 * 1024 * 1024,
  maxInlineBytes: 64 * 1024,
});

export interface RequestDecoderOptions extends Partial<RequestLimits> {
  /**
   * Recording mode: bytes of each argument kept. A longer argument keeps this prefix, and the
   * request says its whole length and its SHA-256 (RespCommand.cut). Default: whole arguments.
   */
  argPrefixBytes?: number;
  /** Where the bytes held between reads are taken from (none: not counted). */
  account?: ByteAccount;
}

/** Longest `*N` / `$N` header line Redis reads before calling it a protocol error. */
const MAX_HEADER_BYTES = 64 * 1024;

/** What an argument costs beside its bytes: its Buffer object and its slot. */
const ARG_BYTES = 96;
/** A cut argument's SHA-256 as hex text. */
const SHA_BYTES = 96;

/**
 * First allocation for an argument that spans reads, grown by doubling up to what is kept of
 * it: a 12-byte `$67108864` header must not cost 64 MB before a byte of it has arrived.
 */
const FIRST_ARG_BYTES = 16 * 1024;

const EMPTY = Buffer.alloc(0);

type State = "idle" | "multibulk" | "bulk-header" | "bulk-body" | "bulk-crlf";

export class RequestDecoder {
  private readonly limits: RequestLimits;
  private readonly prefixCap: number;
  private readonly account: ByteAccount | undefined;

  private state: State = "idle";
  /** Stream offset of the chunk being decoded. */
  private pos = 0;
  /** Partial header or inline line carried over between chunks. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  /** Stream offset where that line began (for errors). */
  private lineAt = 0;
  /** The header line ended at a "\r" that was the last byte read: one byte more ends it. */
  private lineCr = false;
  /** A NUL came before the line's end: it never ends (Redis's strchr stops at the NUL). */
  private lineStuck = false;
  private argsLeft = 0;
  private args: Buffer[] = [];
  /** Lengths and hashes of the request's arguments, once one of them was cut. */
  private cut: RespCommand["cut"] = undefined;
  private bulkLeft = 0;
  private bulkLength = 0;
  /** What is kept of the argument being read: body[0, bodyLength) of `keep` bytes. */
  private body: Buffer = EMPTY;
  private bodyLength = 0;
  private keep = 0;
  private hash: Hash | undefined;
  private crlfLeft = 0;
  private requestBytes = 0;
  private failure: Error | undefined;
  /** Bytes taken from the account for the request in progress. */
  private held = 0;
  /** Of those, the bytes of the unfinished line (given back once it is parsed). */
  private lineHeld = 0;
  /** Bytes taken for complete requests handed out and not released yet. */
  private handedOut = 0;

  constructor(options: RequestDecoderOptions = {}) {
    this.limits = {
      maxMultibulk: options.maxMultibulk ?? REDIS_REQUEST_LIMITS.maxMultibulk,
      maxBulkBytes: options.maxBulkBytes ?? REDIS_REQUEST_LIMITS.maxBulkBytes,
      maxInlineBytes: options.maxInlineBytes ?? REDIS_REQUEST_LIMITS.maxInlineBytes,
    };
    this.prefixCap = options.argPrefixBytes ?? Number.POSITIVE_INFINITY;
    for (const [name, value] of Object.entries({
      ...this.limits,
      argPrefixBytes: this.prefixCap,
    })) {
      if (!(value >= 0) || (!Number.isSafeInteger(value) && value !== Number.POSITIVE_INFINITY)) {
        throw new RangeError(`request limit ${name} must be a non-negative integer, got ${value}`);
      }
    }
    this.account = options.account;
  }

  /**
   * Bytes of the request in progress received so far (headers included). Zero between
   * requests.
   */
  get bufferedBytes(): number {
    return this.requestBytes;
  }

  /** The requests push() returned are done with: their bytes go back to the account. */
  release(): void {
    if (this.handedOut > 0) this.account?.give(this.handedOut);
    this.handedOut = 0;
  }

  /**
   * Decode what arrived. Returns the requests it completes, appended to `out`. Throws
   * RequestProtocolError when the stream breaks the protocol (its message is Redis's text)
   * and RequestLimitError when the account refuses; `out` then holds the requests completed
   * before, which a server answers before the error. The decoder is dead after either: every
   * later push throws the same error.
   */
  push(chunk: Buffer, out: RespCommand[] = []): RespCommand[] {
    if (this.failure !== undefined) throw this.failure;
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
            if (end < 0) return this.done(chunk, out);
            i = end;
            if (this.state === "idle") this.finishInline(out);
            else this.startMultibulk();
            break;
          }
          case "multibulk":
          case "bulk-header": {
            const count = this.state === "multibulk";
            const end = this.takeLine(chunk, i, count ? "mbulk" : "bulk");
            if (end < 0) return this.done(chunk, out);
            i = end;
            if (count) this.startMultibulk();
            else this.startBulk();
            break;
          }
          case "bulk-body": {
            const n = Math.min(this.bulkLeft, chunk.length - i);
            this.absorb(chunk, i, i + n);
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
      if (e instanceof RequestProtocolError || e instanceof RequestLimitError) {
        this.failure = e;
        this.drop();
      }
      throw e;
    }
    return this.done(chunk, out);
  }

  private done(chunk: Buffer, out: RespCommand[]): RespCommand[] {
    this.pos += chunk.length;
    return out;
  }

  /** Once dead: nothing held but what was handed out (release() still gives that back). */
  private drop(): void {
    if (this.held > 0) this.account?.give(this.held);
    this.held = 0;
    this.lineHeld = 0;
    this.line = [];
    this.args = [];
    this.body = EMPTY;
    this.hash = undefined;
    this.cut = undefined;
  }

  /** Take `bytes` for the request in progress, or stop reading: the account is short. */
  private hold(bytes: number): void {
    if (this.account === undefined) return;
    if (!this.account.take(bytes)) throw new RequestLimitError(this.held + bytes);
    this.held += bytes;
  }

  /** The request in progress is complete: what it holds goes out with it. */
  private handOut(): void {
    this.handedOut += this.held;
    this.held = 0;
  }

  /**
   * The common case in one pass: a request wholly inside the chunk, with `\r\n` line ends, plain
   * decimal counts and arguments short enough to keep whole. Returns the index after it, or -1
   * (having consumed nothing) for anything else, which the state machine then reads, with its
   * limits and errors. The request's bytes are copied once and the arguments are views of the
   * copy, so the chunk is not kept alive by them.
   */
  private wholeMultibulk(chunk: Buffer, start: number, out: RespCommand[]): number {
    const len = chunk.length;
    const n = plainCount(chunk, start + 1);
    if (n <= 0 || n > FAST_MAX_ARGS) return -1;
    let p = countEnd;
    const offsets = FAST_OFFSETS;
    const maxArg = Math.min(this.prefixCap, this.limits.maxBulkBytes);
    for (let k = 0; k < n; k++) {
      if (p >= len || chunk[p] !== 0x24 /* $ */) return -1;
      const size = plainCount(chunk, p + 1);
      if (size < 0 || size > maxArg) return -1;
      p = countEnd;
      // The body, then two bytes Redis skips without looking at them.
      if (p + size + 2 > len) return -1;
      offsets[2 * k] = p - start;
      offsets[2 * k + 1] = size;
      p += size + 2;
    }
    const copy = Buffer.allocUnsafe(p - start);
    chunk.copy(copy, 0, start, p);
    const args: Buffer[] = new Array(n);
    for (let k = 0; k < n; k++) {
      const at = offsets[2 * k]!;
      args[k] = copy.subarray(at, at + offsets[2 * k + 1]!);
    }
    out.push({ args, inline: false, bytes: p - start });
    return p;
  }

  /**
   * Collect a line into the line buffer, ended as Redis ends it: an inline line at its "\n"
   * (strchr), a header at its "\r" (strchr), whose next byte, whatever it is, is skipped. A
   * NUL before the end stops strchr, so Redis never finds the end: it waits, silent, until the
   * unended line passes its limit. Returns the index after the line, or -1 when the chunk ended
   * first. Bounded: an unended line past its limit is an error.
   */
  private takeLine(chunk: Buffer, from: number, kind: "inline" | "mbulk" | "bulk"): number {
    if (this.lineBytes === 0 && !this.lineCr) this.lineAt = this.pos + from;
    if (this.lineCr) {
      // The header's "\r" ended the last chunk: this byte is the one skipped after it.
      this.lineCr = false;
      this.requestBytes += 1;
      return from + 1;
    }
    let at = -1;
    if (!this.lineStuck) {
      at = chunk.indexOf(kind === "inline" ? 0x0a : 0x0d, from);
      const nul = chunk.indexOf(0, from);
      if (nul >= 0 && (at < 0 || nul < at)) {
        this.lineStuck = true;
        at = -1;
      }
    }
    const part = chunk.subarray(from, at < 0 ? chunk.length : at);
    this.lineBytes += part.length;
    this.requestBytes += part.length;
    if (at < 0) {
      // An unended line holds its bytes, copied (the caller's chunk may be reused once push()
      // returns); one that can never end (a NUL) is only counted.
      if (!this.lineStuck) {
        this.line.push(Buffer.from(part));
        this.hold(part.length);
        this.lineHeld += part.length;
      }
      const limit = kind === "inline" ? this.limits.maxInlineBytes : MAX_HEADER_BYTES;
      if (this.lineBytes > limit) {
        throw new RequestProtocolError(
          kind === "inline"
            ? PROTOCOL_ERRORS.inlineTooBig
            : kind === "mbulk"
              ? PROTOCOL_ERRORS.mbulkCountTooBig
              : PROTOCOL_ERRORS.bulkCountTooBig,
          this.lineAt,
        );
      }
      return -1;
    }
    this.line.push(part);
    if (kind === "inline") {
      this.requestBytes += 1;
      return at + 1;
    }
    if (at + 1 < chunk.length) {
      this.requestBytes += 2;
      return at + 2;
    }
    // The "\r" is the chunk's last byte: the line is complete once the next byte arrives.
    this.line[this.line.length - 1] = Buffer.from(part);
    this.hold(part.length);
    this.lineHeld += part.length;
    this.lineCr = true;
    this.requestBytes += 1;
    return -1;
  }

  /** The collected line, without its end (an inline line's "\r" before its "\n" too). */
  private takeCollectedLine(inline = false): Buffer {
    const whole = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line);
    this.line = [];
    this.lineBytes = 0;
    if (this.lineHeld > 0) {
      this.account?.give(this.lineHeld);
      this.held -= this.lineHeld;
      this.lineHeld = 0;
    }
    const end =
      inline && whole.length > 0 && whole[whole.length - 1] === 0x0d
        ? whole.length - 1
        : whole.length;
    return whole.subarray(0, end);
  }

  private finishInline(out: RespCommand[]): void {
    const at = this.lineAt;
    const line = this.takeCollectedLine(true);
    const bytes = this.requestBytes;
    this.requestBytes = 0;
    const parts = splitArgs(line);
    if (parts === null) throw new RequestProtocolError(PROTOCOL_ERRORS.unbalancedQuotes, at);
    // An empty line is skipped, as Redis does (a bare "\r\n" between commands).
    if (parts.length > 0) {
      this.args = [];
      this.cut = undefined;
      for (const part of parts) this.inlineArg(part);
      const cmd: RespCommand = { args: this.args, inline: true, bytes };
      if (this.cut !== undefined) cmd.cut = this.cut;
      out.push(cmd);
      this.args = [];
      this.cut = undefined;
    }
    this.handOut();
  }

  private startMultibulk(): void {
    const at = this.lineAt;
    const line = this.takeCollectedLine();
    const n = parseDecimal(line.subarray(1));
    if (n === undefined || n > this.limits.maxMultibulk) {
      throw new RequestProtocolError(PROTOCOL_ERRORS.multibulkLength, at);
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
    this.cut = undefined;
    this.state = "bulk-header";
  }

  private startBulk(): void {
    const at = this.lineAt;
    const line = this.takeCollectedLine();
    // An empty line: the byte Redis found there was the "\r" itself.
    if (line[0] !== 0x24 /* $ */) {
      throw new RequestProtocolError(expectedDollarText(line[0] ?? 0x0d), at);
    }
    const len = parseDecimal(line.subarray(1));
    if (len === undefined || len < 0 || len > this.limits.maxBulkBytes) {
      throw new RequestProtocolError(PROTOCOL_ERRORS.bulkLength, at);
    }
    this.bulkLength = len;
    this.bulkLeft = len;
    this.keep = Math.min(len, this.prefixCap);
    this.body = EMPTY;
    this.bodyLength = 0;
    this.hash = len > this.prefixCap ? createHash("sha256") : undefined;
    if (len === 0) {
      this.state = "bulk-crlf";
      this.crlfLeft = 2;
    } else this.state = "bulk-body";
  }

  /** chunk[from, to) of the argument being read: hashed if it is cut, kept up to `keep`. */
  private absorb(chunk: Buffer, from: number, to: number): void {
    if (this.hash !== undefined) this.hash.update(chunk.subarray(from, to));
    const n = Math.min(this.keep - this.bodyLength, to - from);
    if (n <= 0) return;
    this.hold(n);
    const needed = this.bodyLength + n;
    if (needed > this.body.length) {
      const size = Math.min(this.keep, Math.max(needed, FIRST_ARG_BYTES, this.body.length * 2));
      const grown = Buffer.allocUnsafe(size);
      this.body.copy(grown, 0, 0, this.bodyLength);
      this.body = grown;
    }
    chunk.copy(this.body, this.bodyLength, from, from + n);
    this.bodyLength = needed;
  }

  private finishBulk(out: RespCommand[]): void {
    const hash = this.hash;
    this.hold(ARG_BYTES + (hash !== undefined ? SHA_BYTES : 0));
    // Grown to exactly `keep` bytes (see absorb), so the whole buffer is the argument.
    const arg =
      this.bodyLength === this.body.length ? this.body : this.body.subarray(0, this.bodyLength);
    this.body = EMPTY;
    this.hash = undefined;
    this.addArg(arg, this.bulkLength, hash?.digest("hex"));
    if (--this.argsLeft > 0) {
      this.state = "bulk-header";
      return;
    }
    const cmd: RespCommand = { args: this.args, inline: false, bytes: this.requestBytes };
    if (this.cut !== undefined) cmd.cut = this.cut;
    out.push(cmd);
    this.handOut();
    this.args = [];
    this.cut = undefined;
    this.requestBytes = 0;
    this.state = "idle";
  }

  /** The request's next argument; the first one cut starts the lengths and hashes. */
  private addArg(arg: Buffer, length: number, sha256: string | undefined): void {
    if (this.cut === undefined && sha256 !== undefined) {
      this.cut = {
        lengths: this.args.map((a) => a.length),
        sha256: this.args.map(() => undefined),
      };
    }
    this.args.push(arg);
    this.cut?.lengths.push(length);
    this.cut?.sha256.push(sha256);
  }

  /** An inline argument (a copy already), cut to the prefix in recording mode. */
  private inlineArg(part: Buffer): void {
    if (part.length <= this.prefixCap) this.addArg(part, part.length, undefined);
    else {
      const prefix = Buffer.from(part.subarray(0, this.prefixCap));
      this.addArg(prefix, part.length, createHash("sha256").update(part).digest("hex"));
    }
  }
}

/** Most arguments a request may have to be read in one pass (wholeMultibulk). */
const FAST_MAX_ARGS = 1024;
/** Where each argument of that request starts, and its size. */
const FAST_OFFSETS = new Int32Array(2 * FAST_MAX_ARGS);

/** Where the count plainCount read last ends (after its CRLF). */
let countEnd = 0;

/**
 * The fast path's header count at chunk[p]: 1 to 7 decimal digits then CRLF, all in the chunk;
 * -1 for anything else (the state machine then reads it). Sets countEnd.
 */
function plainCount(chunk: Buffer, p: number): number {
  const len = chunk.length;
  let n = 0;
  let digits = 0;
  for (; p < len && digits < 7; p++, digits++) {
    const c = chunk[p]!;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
  }
  if (digits === 0 || p + 1 >= len || chunk[p] !== 0x0d || chunk[p + 1] !== 0x0a) return -1;
  // A leading zero (`*01`) is refused by string2ll: the state machine says so.
  if (digits > 1 && chunk[p - digits] === 0x30) return -1;
  countEnd = p + 2;
  return n;
}

/**
 * Redis's string2ll for headers: `0`, or an optional `-` and digits without a leading zero (no
 * `+`, no `-0`, no spaces); no overflow.
 */
function parseDecimal(b: Buffer): number | undefined {
  if (b.length === 0 || b.length > 20) return undefined;
  const s = b.toString("latin1");
  if (!/^(?:0|-?[1-9]\d*)$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}
