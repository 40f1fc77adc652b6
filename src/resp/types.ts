/**
 * RESP values as decoded from the wire. RESP2 types (+ - : $ *), the RESP3 types (_ # , ( ! = % ~ | >)
 * and inline commands. Strings that may hold arbitrary bytes stay Buffers: a scanned server or a
 * honeypot visitor decides what is in them.
 */
export type RespValue =
  | { type: "simple"; value: string } // +
  | { type: "error"; value: string } // -  and RESP3 bulk error !
  | { type: "integer"; value: bigint } // :
  | { type: "bulk"; value: Buffer | null } // $  ($-1 is null)
  | { type: "array"; value: RespValue[] | null } // *  (*-1 is null)
  | { type: "null" } // _
  | { type: "boolean"; value: boolean } // #
  | { type: "double"; value: number } // ,
  | { type: "bignum"; value: bigint } // (
  | { type: "verbatim"; format: string; value: Buffer } // =  (e.g. "txt:")
  | { type: "map"; value: Array<[RespValue, RespValue]> } // %
  | { type: "set"; value: RespValue[] } // ~
  | { type: "push"; value: RespValue[] } // >
  | { type: "attribute"; value: Array<[RespValue, RespValue]> }; // |  (decoders attach it to nothing; it is reported as its own value)

/** A command as a server receives it: RESP array of bulk strings, or an inline line split into words. */
export interface RespCommand {
  /** The arguments: whole, or in recording mode each cut to the prefix kept. */
  args: Buffer[];
  inline: boolean;
  /** Bytes the request took on the wire. */
  bytes: number;
  /**
   * Recording mode, when an argument was longer than the prefix kept: every argument's whole
   * length, and the SHA-256 (hex) of each one cut.
   */
  cut?: { lengths: number[]; sha256: Array<string | undefined> };
}

/** Budgets that a hostile peer cannot exceed (the reply decoder's). Defaults in limits.ts. */
export interface DecoderLimits {
  /** Longest `+`, `-`, `:` … line, in bytes (without CRLF). */
  maxLineBytes: number;
  /** Largest `$`/`=`/`!` payload accepted. */
  maxBulkBytes: number;
  /**
   * Most elements in one aggregate (array, map pairs count twice, set, push); for replies also the
   * most values held at once in the unfinished aggregates of one reply, all levels together.
   */
  maxElements: number;
  /** Deepest nesting of aggregates. */
  maxDepth: number;
}

export type RespErrorCode =
  | "invalid_type" // first byte of a value is not a RESP type byte
  | "line_too_long"
  | "bulk_too_large"
  | "too_many_elements"
  | "too_deep"
  | "bad_length" // not an integer, or negative other than -1
  | "bad_integer"
  | "bad_terminator"; // bulk payload not followed by CRLF

export class RespProtocolError extends Error {
  constructor(
    readonly code: RespErrorCode,
    message: string,
    /** Byte offset in the stream where the problem was seen. */
    readonly offset: number,
    /** Values the failing push completed before the problem (empty on later pushes). */
    readonly partial: readonly unknown[] = [],
  ) {
    super(message);
    this.name = "RespProtocolError";
  }
}
