/**
 * classify: the state taxonomy, the INFO parser and the product/version fingerprint.
 * Pure functions over what the engine recorded; no I/O.
 */

export {
  type Classification,
  classifyExchange,
  type Exchange,
  type PeerKind,
  peerKind,
  versionHint,
} from "./exchange.js";
export {
  FACT_KEYS,
  FACT_LIMITS,
  factsFromHello,
  helloFields,
  identifyFromHello,
  identifyFromInfo,
  looksLikeInfo,
  type ProductId,
  serverFactsFromInfo,
} from "./facts.js";
export {
  combineRanges,
  type ErrorKind,
  errorKind,
  type HintEvidence,
  hintFromErrors,
  hintsFromError,
  renderRange,
  unknownCommandName,
  type VersionRange,
} from "./hints.js";
export {
  type InfoEntry,
  type InfoKeyspace,
  type InfoListener,
  type InfoModule,
  type InfoReplica,
  type InfoSentinelMaster,
  MAX_INFO_CHARS,
  MAX_INFO_LINES,
  type ParsedInfo,
  parseInfo,
  parseSubfields,
  type SubFields,
  subGet,
} from "./info.js";
export { HEAD_BYTES, type ReplyLimits, ReplyReader } from "./replies.js";
export { errorCode, respText, safeInt } from "./text.js";
