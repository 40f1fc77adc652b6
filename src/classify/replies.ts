/**
 * Bytes a server sent → the replies, head and protocol error an Exchange holds. One reader for
 * every producer of bytes: the scanner's sessions feed it chunk by chunk as they arrive, an
 * importer that kept the bytes (a Shodan banner) feeds them at once, and both hand the result
 * to classifyExchange, so the same bytes give the same state and detail whoever read them.
 */
import { ReplyDecoder, RespProtocolError } from "../resp/index.js";
import type { RespValue } from "../resp/types.js";

/** How many leading bytes are kept raw for recognising what answered. */
export const HEAD_BYTES = 512;

/**
 * Largest reply read by default: the scan's `--max-bytes` default, and what an importer allows a
 * banner, so a banner cut short reads as the same incomplete reply the scanner would see.
 */
export const DEFAULT_MAX_REPLY_BYTES = 256 * 1024;

export interface ReplyLimits {
  /** Largest single reply accepted (INFO of a big server). */
  maxReplyBytes: number;
}

export class ReplyReader {
  readonly replies: RespValue[] = [];
  head: Buffer = Buffer.alloc(0);
  protocolError: { code: string; offset: number } | undefined;
  private readonly decoder: ReplyDecoder;

  constructor(limits: ReplyLimits) {
    // A probe's replies hold a few dozen values and lines of ~1 KiB (DENIED); anything far
    // beyond is hostile and is cut before it costs memory (objects cost ~20× their wire bytes).
    this.decoder = new ReplyDecoder({
      maxBulkBytes: limits.maxReplyBytes,
      maxElements: 1024,
      maxDepth: 8,
      maxLineBytes: 16 * 1024,
    });
  }

  /** Take the next bytes; false once the stream broke (read no further). */
  push(chunk: Buffer): boolean {
    if (this.head.length === 0) {
      // Usually the first chunk holds all of it: keep a view, copy only when it does not.
      this.head = chunk.subarray(0, HEAD_BYTES);
    } else if (this.head.length < HEAD_BYTES) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    }
    if (this.protocolError) return false;
    let values: RespValue[];
    try {
      values = this.decoder.push(chunk);
    } catch (e) {
      if (e instanceof RespProtocolError) {
        // Values completed before the bad bytes still count (a DENIED before garbage).
        for (const v of e.partial as RespValue[]) this.replies.push(v);
        this.protocolError = { code: e.code, offset: e.offset };
        return false;
      }
      throw e;
    }
    for (const v of values) this.replies.push(v);
    return true;
  }
}
