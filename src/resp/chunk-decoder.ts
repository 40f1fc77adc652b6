import { type DecoderLimits, type RespErrorCode, RespProtocolError } from "./types.js";

export const CR = 0x0d;
export const LF = 0x0a;
const EMPTY = Buffer.alloc(0);

/**
 * A line split across chunks is copied into a scratch buffer. Once a long line has grown it
 * past this size it is dropped after use, so one 64 KiB line does not pin 64 KiB for the rest
 * of a long-lived connection.
 */
const KEEP_SCRATCH_BYTES = 4096;

/**
 * First allocation for a payload split across chunks, grown by doubling up to the announced
 * length. Not the announced length itself: a 12-byte `$67108864` header from a honeypot visitor
 * must not cost 64 MiB before a single payload byte has arrived.
 */
const FIRST_PAYLOAD_BYTES = 16 * 1024;

/**
 * The chunk-fed half of the reply decoder: stream offsets, the dead state, and the two ways a
 * RESP token spans chunks — a line (up to CR LF) and a length-prefixed payload. The subclass
 * owns the grammar. No recursion anywhere: a subclass keeps nesting on an
 * explicit stack so that a hostile peer controls neither the JS stack nor the time to fail.
 */
export abstract class ChunkDecoder<T> {
  protected readonly limits: DecoderLimits;
  /** Stream offset of chunk[0] of the chunk being decoded. */
  protected pos = 0;
  /** Stream offset where the value in progress began, or -1 between values. */
  protected start = -1;
  private dead: unknown = null;

  /** Stream offset of the first byte of the line being read (for errors). */
  protected lineAt = 0;
  private scratch: Buffer = EMPTY;
  private scratchLen = 0;
  private sawCR = false;
  /** A completed line is line[lineFrom, lineTo): a view, valid until the next read. */
  protected line: Buffer = EMPTY;
  protected lineFrom = 0;
  protected lineTo = 0;

  private need = 0;
  private total = 0;
  private payload: Buffer | null = null;
  private payloadLen = 0;
  private terminatorLeft = 0;
  /** The payload once all its bytes are in, while its CRLF may still be on the way. */
  private received: Buffer = EMPTY;
  /** A completed payload, without its CRLF: valid right after readPayload returns. */
  protected payloadValue: Buffer = EMPTY;

  constructor(limits: DecoderLimits) {
    this.limits = limits;
  }

  /**
   * Feeds the next bytes of the stream and returns every value they complete, in order.
   * Throws RespProtocolError on bad input; the decoder is then dead and every later push
   * throws the same error.
   */
  push(chunk: Buffer): T[] {
    if (this.dead !== null) throw this.dead;
    const out: T[] = [];
    try {
      this.decode(chunk, out);
    } catch (error) {
      this.dead = error;
      this.release();
      // The values this push completed before the bad bytes are not lost: whether a stream
      // arrives in one chunk or many, the caller learns the same values.
      if (error instanceof RespProtocolError && out.length > 0) {
        throw new RespProtocolError(error.code, error.message, error.offset, out);
      }
      throw error;
    }
    this.pos += chunk.length;
    // Lines and payloads are consumed as soon as they complete; a view kept past this call
    // would pin the caller's chunk while the connection idles.
    this.line = EMPTY;
    this.payloadValue = EMPTY;
    return out;
  }

  /**
   * Bytes of the value in progress received so far (headers included), for per-connection
   * memory accounting. Zero between values and after a protocol error.
   */
  get bufferedBytes(): number {
    return this.start < 0 ? 0 : this.pos - this.start;
  }

  protected abstract decode(chunk: Buffer, out: T[]): void;

  /** Drops everything held, once the decoder is dead. */
  protected release(): void {
    this.start = -1;
    this.scratch = EMPTY;
    this.scratchLen = 0;
    this.line = EMPTY;
    this.payload = null;
    this.received = EMPTY;
    this.payloadValue = EMPTY;
  }

  protected fail(code: RespErrorCode, message: string, offset: number): RespProtocolError {
    return new RespProtocolError(code, `${message} (at byte ${offset})`, offset);
  }

  /**
   * Reads a RESP line from chunk[i]: everything up to the first CR, which must be followed by
   * LF. Returns the index after the LF, or -1 when the chunk ended first (the partial line is
   * kept). The line limit is checked before anything is copied, so an endless line costs at
   * most maxLineBytes however it is chunked.
   */
  protected readLine(chunk: Buffer, i: number): number {
    if (this.sawCR) {
      if (chunk[i] !== LF) throw this.fail("bad_terminator", "CR not followed by LF", this.pos + i);
      this.sawCR = false;
      this.takeScratch(0);
      return i + 1;
    }
    const max = this.limits.maxLineBytes;
    const cr = chunk.indexOf(CR, i);
    const end = cr === -1 ? chunk.length : cr;
    if (this.scratchLen + end - i > max) {
      throw this.fail("line_too_long", `line longer than ${max} bytes`, this.lineAt + max);
    }
    if (cr === -1) {
      this.appendLine(chunk, i, end);
      return -1;
    }
    if (cr + 1 === chunk.length) {
      this.appendLine(chunk, i, cr);
      this.sawCR = true;
      return -1;
    }
    if (chunk[cr + 1] !== LF) {
      throw this.fail("bad_terminator", "CR not followed by LF", this.pos + cr + 1);
    }
    if (this.scratchLen === 0) {
      this.line = chunk;
      this.lineFrom = i;
      this.lineTo = cr;
    } else {
      this.appendLine(chunk, i, cr);
      this.takeScratch(0);
    }
    return cr + 2;
  }

  private appendLine(chunk: Buffer, from: number, to: number): void {
    const length = to - from;
    if (length === 0) return;
    const needed = this.scratchLen + length;
    if (needed > this.scratch.length) {
      // Doubling keeps a line fed one byte per chunk linear; the cap keeps it within the limit.
      const cap = Math.max(needed, Math.min(this.scratch.length * 2, this.limits.maxLineBytes + 2));
      const grown = Buffer.allocUnsafe(Math.max(cap, 64));
      this.scratch.copy(grown, 0, 0, this.scratchLen);
      this.scratch = grown;
    }
    chunk.copy(this.scratch, this.scratchLen, from, to);
    this.scratchLen = needed;
  }

  private takeScratch(strip: number): void {
    this.line = this.scratch;
    this.lineFrom = 0;
    this.lineTo = this.scratchLen - strip;
    this.scratchLen = 0;
    if (this.scratch.length > KEEP_SCRATCH_BYTES) this.scratch = EMPTY; // `line` still holds it
  }

  /** Prepares to read a payload of `length` bytes (already checked against the limit) + CRLF. */
  protected beginPayload(length: number): void {
    this.need = length;
    this.total = length;
    this.payloadLen = 0;
    this.terminatorLeft = 2;
    this.received = EMPTY;
  }

  /**
   * Reads the payload and its CRLF from chunk[i]. Returns the index after the CRLF, or -1 when
   * the chunk ended first. A payload wholly inside the chunk is returned as a view of it; one
   * that spans chunks is assembled once, never re-concatenated.
   */
  protected readPayload(chunk: Buffer, i: number): number {
    let p = i;
    if (this.need > 0) {
      const available = chunk.length - p;
      if (this.payload === null && available >= this.need) {
        const end = p + this.need;
        this.received = chunk.subarray(p, end);
        this.need = 0;
        p = end;
      } else {
        const take = Math.min(available, this.need);
        this.appendPayload(chunk, p, p + take);
        this.need -= take;
        p += take;
        if (this.need > 0) return -1;
        this.received = this.payload!; // grown to exactly `total` bytes, see appendPayload
        this.payload = null;
      }
    }
    while (this.terminatorLeft > 0) {
      if (p === chunk.length) return -1;
      if (chunk[p] !== (this.terminatorLeft === 2 ? CR : LF)) {
        throw this.fail("bad_terminator", "bulk payload not followed by CRLF", this.pos + p);
      }
      p++;
      this.terminatorLeft--;
    }
    this.payloadValue = this.received;
    this.received = EMPTY;
    return p;
  }

  private appendPayload(chunk: Buffer, from: number, to: number): void {
    const needed = this.payloadLen + (to - from);
    let buffer = this.payload;
    if (buffer === null || needed > buffer.length) {
      const cap = Math.min(
        this.total,
        Math.max(needed, FIRST_PAYLOAD_BYTES, (buffer?.length ?? 0) * 2),
      );
      const grown = Buffer.allocUnsafe(cap);
      buffer?.copy(grown, 0, 0, this.payloadLen);
      this.payload = buffer = grown;
    }
    chunk.copy(buffer, this.payloadLen, from, to);
    this.payloadLen = needed;
  }
}

/** A type byte as a message shows it: `'H'` when printable, `0x16` otherwise. */
export function describeByte(byte: number): string {
  return byte >= 0x21 && byte <= 0x7e
    ? `'${String.fromCharCode(byte)}'`
    : `0x${byte.toString(16).padStart(2, "0")}`;
}
