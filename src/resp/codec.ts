/**
 * The RESP codec: RESP2, RESP3 and inline commands, as pure streaming state machines with
 * bounded memory and no I/O. The scanner decodes replies with ReplyDecoder, the honeypot and
 * the test lab decode commands with RequestDecoder and answer with encodeValue.
 */
export { encodeCommand, encodeInline, encodeValue } from "./encoder.js";
export { quoteInlineArg, splitArgs } from "./inline.js";
export { DEFAULT_REPLY_LIMITS, DEFAULT_REQUEST_LIMITS } from "./limits.js";
export { formatDouble } from "./numbers.js";
export { ReplyDecoder } from "./reply-decoder.js";
export { RequestDecoder } from "./request-decoder.js";
export {
  arr,
  bool,
  bulk,
  double,
  err,
  int,
  map,
  nil,
  type RespOf,
  simple,
  verbatim,
} from "./values.js";
