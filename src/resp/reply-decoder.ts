import { ChunkDecoder, describeByte } from "./chunk-decoder.js";
import { DEFAULT_REPLY_LIMITS, resolveLimits } from "./limits.js";
import { parseBignum, parseDouble, parseInteger, parseLength } from "./numbers.js";
import type { DecoderLimits, RespValue } from "./types.js";

const SIMPLE = 0x2b; // +
const ERROR = 0x2d; // -
const INTEGER = 0x3a; // :
const BULK = 0x24; // $
const ARRAY = 0x2a; // *
const NULL = 0x5f; // _
const BOOLEAN = 0x23; // #
const DOUBLE = 0x2c; // ,
const BIGNUM = 0x28; // (
const BULK_ERROR = 0x21; // !
const VERBATIM = 0x3d; // =
const MAP = 0x25; // %
const SET = 0x7e; // ~
const PUSH = 0x3e; // >
const ATTRIBUTE = 0x7c; // |

const TYPE_BYTES = new Uint8Array(256);
for (const byte of [SIMPLE, ERROR, INTEGER, BULK, ARRAY, NULL, BOOLEAN, DOUBLE, BIGNUM]) {
  TYPE_BYTES[byte] = 1;
}
for (const byte of [BULK_ERROR, VERBATIM, MAP, SET, PUSH, ATTRIBUTE]) TYPE_BYTES[byte] = 1;

/** Reading the type byte of the next value. */
const AT_TYPE = 0;
/** Reading the line after a type byte (a simple value, or a length/count header). */
const IN_LINE = 1;
/** Reading the payload of `$`, `!` or `=`. */
const IN_PAYLOAD = 2;
type Phase = typeof AT_TYPE | typeof IN_LINE | typeof IN_PAYLOAD;

/** An aggregate still collecting its elements (maps and attributes collect 2 per pair). */
interface Frame {
  type: number;
  items: RespValue[];
  left: number;
}

/**
 * Decodes what a server sends: every RESP2 and RESP3 reply type, fed in arbitrary chunks.
 *
 * Bulk, verbatim and bulk-error payloads that arrived inside one chunk are views of that chunk,
 * not copies: the caller must not reuse a chunk's memory after pushing it.
 *
 * An attribute (`|`) is returned as its own value, before the value it annotates, and takes no
 * slot in an enclosing aggregate.
 */
export class ReplyDecoder extends ChunkDecoder<RespValue> {
  private phase: Phase = AT_TYPE;
  /** Type byte of the line or payload being read. */
  private type = 0;
  private readonly stack: Frame[] = [];
  /**
   * Values held in unfinished aggregates, all levels together. maxElements bounds this too, so a
   * nest of many small aggregates cannot cost more objects than one large one.
   */
  private held = 0;

  constructor(limits?: Partial<DecoderLimits>) {
    super(resolveLimits(DEFAULT_REPLY_LIMITS, limits));
  }

  protected decode(chunk: Buffer, out: RespValue[]): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.phase === AT_TYPE) {
        const type = chunk[i]!;
        if (TYPE_BYTES[type] === 0) {
          throw this.fail(
            "invalid_type",
            `invalid RESP type byte ${describeByte(type)}`,
            this.pos + i,
          );
        }
        if (this.start < 0) this.start = this.pos + i;
        this.type = type;
        this.lineAt = this.pos + i + 1;
        this.phase = IN_LINE;
        i++;
      } else if (this.phase === IN_LINE) {
        i = this.readLine(chunk, i);
        if (i < 0) return;
        this.phase = AT_TYPE;
        this.onLine(out);
      } else {
        i = this.readPayload(chunk, i);
        if (i < 0) return;
        this.phase = AT_TYPE;
        this.complete(this.payloadReply(), out);
      }
    }
  }

  protected override release(): void {
    super.release();
    this.stack.length = 0;
    this.held = 0;
  }

  private onLine(out: RespValue[]): void {
    const { line, lineFrom: from, lineTo: to, type } = this;
    if (type === BULK || type === BULK_ERROR || type === VERBATIM) {
      this.onPayloadHeader(parseLength(line, from, to), out);
    } else if (
      type === ARRAY ||
      type === MAP ||
      type === SET ||
      type === PUSH ||
      type === ATTRIBUTE
    ) {
      this.onAggregateHeader(parseLength(line, from, to), out);
    } else {
      this.complete(this.lineValue(line, from, to), out);
    }
  }

  /** The value of a one-line type (`+ - : _ # , (`). */
  private lineValue(line: Buffer, from: number, to: number): RespValue {
    switch (this.type) {
      case SIMPLE:
        return { type: "simple", value: line.toString("utf8", from, to) };
      case ERROR:
        return { type: "error", value: line.toString("utf8", from, to) };
      case INTEGER: {
        const value = parseInteger(line, from, to);
        if (value === null) throw this.fail("bad_integer", "invalid integer", this.lineAt);
        return { type: "integer", value };
      }
      case NULL:
        if (to !== from) throw this.fail("bad_terminator", "null followed by data", this.lineAt);
        return { type: "null" };
      case BOOLEAN: {
        const byte = to - from === 1 ? line[from] : undefined;
        if (byte !== 0x74 && byte !== 0x66) {
          throw this.fail("bad_integer", "boolean is neither t nor f", this.lineAt);
        }
        return { type: "boolean", value: byte === 0x74 };
      }
      case DOUBLE: {
        const value = parseDouble(line, from, to);
        if (value === null) throw this.fail("bad_integer", "invalid double", this.lineAt);
        return { type: "double", value };
      }
      default: {
        const value = parseBignum(line, from, to);
        if (value === null) throw this.fail("bad_integer", "invalid big number", this.lineAt);
        return { type: "bignum", value };
      }
    }
  }

  private onPayloadHeader(length: number, out: RespValue[]): void {
    if (length === -1 && this.type === BULK) {
      this.complete({ type: "bulk", value: null }, out);
      return;
    }
    // NaN fails this too: `$`, `$1x`, `$ 5`, `$-2`, `$?` (RESP3 streamed strings).
    if (!(length >= 0)) throw this.fail("bad_length", "invalid bulk length", this.lineAt);
    if (length > this.limits.maxBulkBytes) {
      throw this.fail(
        "bulk_too_large",
        `bulk of ${length} bytes exceeds ${this.limits.maxBulkBytes}`,
        this.lineAt,
      );
    }
    if (this.type === VERBATIM && length < 4) {
      throw this.fail("bad_length", "verbatim string shorter than its format prefix", this.lineAt);
    }
    this.beginPayload(length);
    this.phase = IN_PAYLOAD;
  }

  private payloadReply(): RespValue {
    const payload = this.payloadValue;
    if (this.type === BULK) return { type: "bulk", value: payload };
    if (this.type === BULK_ERROR) return { type: "error", value: payload.toString("utf8") };
    if (payload[3] !== 0x3a) {
      throw this.fail("bad_length", "verbatim string without a `fmt:` prefix", this.lineAt);
    }
    return { type: "verbatim", format: payload.toString("utf8", 0, 3), value: payload.subarray(4) };
  }

  private onAggregateHeader(count: number, out: RespValue[]): void {
    const type = this.type;
    if (count === -1 && type === ARRAY) {
      this.complete({ type: "array", value: null }, out);
      return;
    }
    if (!(count >= 0)) throw this.fail("bad_length", "invalid aggregate length", this.lineAt);
    const elements = type === MAP || type === ATTRIBUTE ? count * 2 : count;
    if (elements > this.limits.maxElements) {
      throw this.fail(
        "too_many_elements",
        `aggregate of ${elements} elements exceeds ${this.limits.maxElements}`,
        this.lineAt,
      );
    }
    // Checked at the header, so a deep nest fails after maxDepth headers, not after all of them.
    if (this.stack.length >= this.limits.maxDepth) {
      throw this.fail("too_deep", `nesting deeper than ${this.limits.maxDepth}`, this.lineAt - 1);
    }
    // Elements are collected as they arrive, never preallocated from the count: `*100000`
    // costs nothing until 100000 elements have actually been received.
    if (elements > 0) this.stack.push({ type, items: [], left: elements });
    else if (type === ATTRIBUTE) this.emitAttribute(aggregate(type, []), out);
    else this.complete(aggregate(type, []), out);
  }

  /** Hands a finished value to its parent, closing every aggregate it fills, iteratively. */
  private complete(value: RespValue, out: RespValue[]): void {
    let done = value;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) {
        out.push(done);
        this.start = -1;
        this.held = 0;
        return;
      }
      if (++this.held > this.limits.maxElements) {
        throw this.fail(
          "too_many_elements",
          `more than ${this.limits.maxElements} elements in one reply`,
          this.pos,
        );
      }
      top.items.push(done);
      if (--top.left > 0) return;
      this.stack.pop();
      done = aggregate(top.type, top.items);
      if (top.type === ATTRIBUTE) {
        this.emitAttribute(done, out);
        return;
      }
    }
  }

  private emitAttribute(value: RespValue, out: RespValue[]): void {
    out.push(value);
    if (this.stack.length === 0) {
      this.start = -1;
      this.held = 0;
    }
  }
}

function aggregate(type: number, items: RespValue[]): RespValue {
  switch (type) {
    case ARRAY:
      return { type: "array", value: items };
    case SET:
      return { type: "set", value: items };
    case PUSH:
      return { type: "push", value: items };
  }
  const pairs: Array<[RespValue, RespValue]> = [];
  for (let k = 0; k < items.length; k += 2) pairs.push([items[k]!, items[k + 1]!]);
  return type === MAP ? { type: "map", value: pairs } : { type: "attribute", value: pairs };
}
