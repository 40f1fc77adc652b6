/**
 * A scan's target space as one hash, stored with the scan so that trends compare scans of the
 * same space, however it was written: the same targets in a differently named file, in another
 * order, as a CIDR or as its addresses, give the same fingerprint; another set does not.
 *
 * What it covers: the (address, port) set after the blocklist, `--allow-reserved` and the
 * excludes (the target space's own fingerprint, which already depends on the set only), the
 * hostnames by name (a name whose address changed is still the same target), and the
 * `--max-targets` cap (a capped scan is a sample, comparable only with samples of that size).
 * Not the seed, the order or the shard: every shard of one scan, and the same space scanned
 * unsharded, share it.
 */
import { createHash } from "node:crypto";
import type { TargetSpace } from "./space.js";
import type { TargetHostname } from "./spec.js";

const VERSION = "redscope-scan-targets/1";

export function targetSpaceFingerprint(
  addresses: TargetSpace,
  hostnames: readonly TargetHostname[],
  maxTargets?: number,
): string {
  const hash = createHash("sha256");
  hash.update(`${VERSION}\naddresses ${addresses.fingerprint}\n`);
  const names = [
    ...new Set(hostnames.map((h) => (h.port === undefined ? h.name : `${h.name}:${h.port}`))),
  ].sort();
  for (const n of names) hash.update(`host ${n}\n`);
  if (maxTargets !== undefined) hash.update(`cap ${maxTargets}\n`);
  return hash.digest("hex");
}
