/**
 * End-of-life release branches: no fixes any more, so every later CVE that covers them stays.
 * From shared/research/versions.md §1 ("Last releases per EOL branch: 3.2.13, 4.0.14, 5.0.14,
 * 6.0.20, 7.0.15"); everything before 3.2 ended long before those. The Windows port
 * (msopentech) was archived upstream: every version of it is end of life.
 */
const REDIS_EOL: Record<string, string> = {
  "2.4": "2.4.18",
  "2.6": "2.6.17",
  "2.8": "2.8.24",
  "3.0": "3.0.7",
  "3.2": "3.2.13",
  "4.0": "4.0.14",
  "5.0": "5.0.14",
  "6.0": "6.0.20",
  "7.0": "7.0.15",
};

export interface EolBranch {
  branch: string;
  lastRelease: string;
}

export function eolBranch(product: string, version: string): EolBranch | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.\d{1,6}$/.exec(version);
  if (!m) return undefined;
  const branch = `${m[1]}.${m[2]}`;
  if (product === "msopentech") return { branch, lastRelease: "3.2.100 (archived)" };
  if (product !== "redis" && product !== "elasticache") return undefined;
  const last = REDIS_EOL[branch];
  if (last !== undefined) return { branch, lastRelease: last };
  // Anything older than the oldest branch listed ended before it.
  if (Number(m[1]) < 2 || (Number(m[1]) === 2 && Number(m[2]) < 4)) {
    return { branch, lastRelease: "before 2.4" };
  }
  return undefined;
}
