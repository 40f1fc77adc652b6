/**
 * The target engine: what to scan (specs, files, zmap/masscan output), what never to scan
 * (default blocklist, exclude files), the indexable target space, and the order (a seeded,
 * shardable, resumable cyclic-group permutation). See DESIGN.md "Target engine".
 */
export {
  Blocklist,
  parseExcludeText,
  parseReservedAllowance,
  type ReservedAllowance,
} from "./blocklist.js";
export {
  CyclicPermutation,
  parseSeed,
  parseShard,
  randomSeed,
  SEED_DERIVATION_VERSION,
  type Shard,
} from "./cyclic.js";
export { TargetSpecError } from "./errors.js";
export { targetSpaceFingerprint } from "./fingerprint.js";
export { type RuleCount, type SpaceBreakdown, spaceBreakdown } from "./plan.js";
export { parsePort, parsePorts } from "./ports.js";
export {
  buildTargetSpace,
  type Target,
  type TargetSpace,
  type TargetSpaceOptions,
} from "./space.js";
export {
  type AddressRange,
  emptyTargetInput,
  parseTargetText,
  parseTargetToken,
  type TargetHostname,
  type TargetInput,
  TargetLineParser,
  type TargetPair,
} from "./spec.js";
export { TargetWalk, type WalkOptions, type WalkStep } from "./walk.js";
