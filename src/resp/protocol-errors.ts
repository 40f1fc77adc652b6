/**
 * What Redis answers a request that breaks the protocol, in its own words (networking.c,
 * processInlineBuffer and processMultibulkBuffer), before it closes the connection. A server
 * writes them as `-ERR <text>`.
 *
 * The wording is the same at every release the personas model: checked at the tags 2.8.24,
 * 3.2.12, 4.0.14, 5.0.8, 5.0.14, 6.0.20, 6.2.16, 7.0.15, 7.2.4 and 7.4.1. What changes with the
 * era is only whether the two `unauthenticated` errors exist: they came with the fix for
 * CVE-2021-32675 (5.0.14, 6.0.16, 6.2.6 and later), which the honeypot's Era answers.
 */
export const PROTOCOL_ERRORS = {
  multibulkLength: "Protocol error: invalid multibulk length",
  bulkLength: "Protocol error: invalid bulk length",
  unbalancedQuotes: "Protocol error: unbalanced quotes in request",
  inlineTooBig: "Protocol error: too big inline request",
  mbulkCountTooBig: "Protocol error: too big mbulk count string",
  bulkCountTooBig: "Protocol error: too big bulk count string",
  unauthenticatedMultibulk: "Protocol error: unauthenticated multibulk length",
  unauthenticatedBulk: "Protocol error: unauthenticated bulk length",
} as const;

/**
 * "expected '$', got '%c'" for the byte where a bulk header should start: the byte itself, as
 * Redis prints it (a latin1 character), except CR and LF, which addReplyErrorFormat turns into
 * spaces so the reply stays one line.
 */
export function expectedDollarText(byte: number | undefined): string {
  const shown =
    byte === undefined || byte === 0x0d || byte === 0x0a ? " " : String.fromCharCode(byte);
  return `Protocol error: expected '$', got '${shown}'`;
}

/**
 * A request stream broke the protocol. The message is Redis's text for it (PROTOCOL_ERRORS);
 * where in the stream it was seen is a property, for diagnostics, never part of the text.
 */
export class RequestProtocolError extends Error {
  constructor(
    message: string,
    /** Stream offset of the line (or request) that broke the protocol. */
    readonly offset: number,
  ) {
    super(message);
    this.name = "RequestProtocolError";
  }
}

/**
 * The memory account refused what a request in progress needs: a server closes the connection
 * without a reply, as Redis frees a client past its query-buffer limit.
 */
export class RequestLimitError extends Error {
  constructor(
    /** Bytes the request held when it was refused. */
    readonly held: number,
  ) {
    super("query buffer limit");
    this.name = "RequestLimitError";
  }
}
