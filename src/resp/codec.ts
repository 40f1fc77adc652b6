/**
 * The RESP codec: RESP2, RESP3 and inline commands, as pure streaming state machines with
 * bounded memory and no I/O. The scanner decodes replies with ReplyDecoder; the honeypot (in
 * its recording mode: a prefix of each argument, its length and hash) and the test lab decode
 * requests with RequestDecoder, whose errors are Redis's texts (protocol-errors.ts).
 */
export { encodeCommand, encodeInline, encodeValue } from "./encoder.js";
export { quoteInlineArg, reprArg, splitArgs } from "./inline.js";
export { DEFAULT_REPLY_LIMITS } from "./limits.js";
export { formatDouble } from "./numbers.js";
export {
  expectedDollarText,
  PROTOCOL_ERRORS,
  RequestLimitError,
  RequestProtocolError,
} from "./protocol-errors.js";
export { ReplyDecoder } from "./reply-decoder.js";
export {
  REDIS_REQUEST_LIMITS,
  RequestDecoder,
  type RequestDecoderOptions,
  type RequestLimits,
} from "./request-decoder.js";
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
