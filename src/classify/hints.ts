/**
 * What error replies say before authentication: the error kind (which decides the state) and
 * the version era (versions.md §2), for servers that did not run INFO for us.
 *
 * Error kinds. The state is decided on the error CODE (first word). `ERR` is a catch-all code,
 * so for it alone a few stable, short message prefixes are told apart — those the taxonomy
 * needs and that have not changed across versions:
 *   ERR max number of clients …        → MAXCLIENTS     (2.2+, also "+ cluster connections")
 *   ERR operation not permitted        → NOT_PERMITTED  (auth required, ≤ 2.6)
 *   ERR invalid password               → WRONGPASS      (AUTH failure ≤ 5.0; only if AUTH was sent)
 *   ERR illegal address[: ip:port]     → ILLEGAL_ADDRESS (Alibaba Cloud / Tair allow-list)
 *   ERR unknown command …              → UNKNOWN_COMMAND (renamed / disabled / pre-6.0 HELLO)
 *   ERR Client sent AUTH, but no password is set (≤ 5.x), ERR AUTH <password> called without any
 *   password configured for the default user … (6.0+)
 *                                      → NO_PASSWORD    (an AUTH was answered: no password is
 *                                        set, so the server serves commands unauthenticated;
 *                                        zgrab2 records it when its custom commands hold an AUTH)
 *   … not in (the) whitelist/allowlist → IP_WHITELIST   (any code; Tair proxy mode words it
 *                                        "client ip is not in whitelist")
 *
 * Version-hint vocabulary. A hint is a version range written `>=A`, `<=B`, `A-B` or `A` (one
 * minor line). `B` is inclusive and may be a prefix (`6.2` = any 6.2.x, `5.x` = any 5.x).
 * Unless `product` says otherwise the numbers are Redis versions (for forks that reuse Redis
 * wording they are the Redis era the fork behaves like).
 *   -ERR operation not permitted                              <=2.6
 *   -NOAUTH Authentication required.                          >=2.8
 *   -ERR unknown command 'X'            (no "with args")      <=4.0.10
 *   -ERR unknown command `X`, with args beginning with:       4.0.11-6.2  (X = HELLO: 4.0.11-5.x,
 *                                                             since 6.0 has HELLO)
 *   -ERR unknown command 'X', with args beginning with:       >=7.0
 *   -NOAUTH HELLO … HELLO AUTH <user> <pass> …                6.0-7.0
 *   -NOAUTH HELLO … HELLO <proto> AUTH <user> <pass> …        >=7.2
 *   -DENIED … no bind address was specified …                 3.2-6.2
 *   -DENIED … no password is set for the default user …       >=7.0
 *   -BUSY … FUNCTION KILL … / … running a module command      >=7.0
 *   -MASTERDOWN … slave-serve-stale-data …                    2.6-4.0
 *   -MASTERDOWN … replica-serve-stale-data …                  >=5.0
 *   -ERR max number of clients + cluster connections reached  >=6.0.6
 *   -NOPERM this user … command or its subcommand             6.0-6.2
 *   -NOPERM this user has no permissions to run the '…'       7.0
 *   -NOPERM User <name> has no permissions …                  >=7.2
 *   -NOPERM (other wording)                                   >=6.0
 *   -ERR Client sent AUTH, but no password is set             <=5.x
 *   -ERR AUTH <password> called without any password configured  >=6.0
 * Fork wordings set the product, and their hint is in the fork's own versions:
 *   -DENIED Running in protected mode … / "Valkey is loading" / "Valkey is busy"
 *                                                             product valkey, >=8.0
 *   "KeyDB" in a DENIED / LOADING / BUSY text                 product keydb, no hint
 * Combining: hints in the same version space are intersected (NOAUTH >=2.8 with HELLO <=4.0.10
 * gives 2.8-4.0.10). Once a fork wording sets the product, Redis-space hints are dropped (they
 * would be read as fork versions). If the evidence contradicts itself (empty intersection, only
 * a strange server does that) the narrowest single hint is kept: one with both bounds before an
 * open-ended one, the first seen on a tie.
 */

import type { Product } from "../schema/result.js";
import { errorCode } from "./text.js";

/** How many characters of an error text are inspected for phrases: bounded work per reply. */
const SCAN_CHARS = 512;

export type ErrorKind =
  | "DENIED"
  | "NOAUTH"
  | "NOT_PERMITTED"
  | "WRONGPASS"
  | "ILLEGAL_ADDRESS"
  | "IP_WHITELIST"
  | "LOADING"
  | "BUSY"
  | "MAXCLIENTS"
  | "MASTERDOWN"
  | "NOPERM"
  | "UNKNOWN_COMMAND"
  | "NO_PASSWORD"
  | string;

const WHITELIST = /\bnot (?:in|on) (?:the )?(?:ip )?(?:white|allow)[ -]?list\b/i;

/** The taxonomy-relevant kind of one error line (the code, refined for `ERR`). */
export function errorKind(line: string): ErrorKind {
  const code = errorCode(line);
  const head = line.slice(0, SCAN_CHARS);
  if (code === "ERR") {
    const rest = head
      .slice(head.startsWith("ERR") ? 3 : 0)
      .trimStart()
      .toLowerCase();
    if (rest.startsWith("max number of clients")) return "MAXCLIENTS";
    if (rest.startsWith("operation not permitted")) return "NOT_PERMITTED";
    if (rest.startsWith("invalid password")) return "WRONGPASS";
    if (rest.startsWith("illegal address")) return "ILLEGAL_ADDRESS";
    if (rest.startsWith("unknown command")) return "UNKNOWN_COMMAND";
    if (
      rest.startsWith("client sent auth, but no password is set") ||
      /^auth <password> called without any password configured/.test(rest)
    ) {
      return "NO_PASSWORD";
    }
  }
  if (WHITELIST.test(head)) return "IP_WHITELIST";
  return code;
}

/** Every era's wording: 'X' (≤ 4.0.10, 7.0+) or `X` (4.0.11–6.2); the name ends at the quote. */
const UNKNOWN_COMMAND = /^ERR unknown command (['`])([^'`]{0,128})\1(, with args beginning with:)?/;

/**
 * The command an `unknown command` error names, upper-case (undefined for any other error).
 * Redis quotes the name it did not know, so the error says which command was renamed away
 * whatever order the replies came in: a scan's pipelined replies and an import's recorded ones
 * (a Shodan banner, whose commands are not written down) read the same.
 */
export function unknownCommandName(line: string): string | undefined {
  const m = UNKNOWN_COMMAND.exec(line.slice(0, SCAN_CHARS));
  return m?.[2]?.toUpperCase();
}

export interface VersionRange {
  /** Lowest version (inclusive), missing parts = 0. */
  lo?: string;
  /** Highest version (inclusive), missing parts or `x` = any. */
  hi?: string;
  /** Fork whose own version numbers `lo`/`hi` are in; undefined = Redis versions. */
  product?: Product;
}

export interface HintEvidence {
  /** Each hint found, in arrival order. */
  ranges: VersionRange[];
  /** Product named by a fork-specific wording. */
  product?: Product;
}

/** Hints in one error line. */
export function hintsFromError(line: string): HintEvidence {
  const text = line.slice(0, SCAN_CHARS);
  const kind = errorKind(text);
  const ranges: VersionRange[] = [];
  let product: Product | undefined;
  const fork = (): Product | undefined =>
    /\bValkey\b/.test(text) ? "valkey" : /\bKeyDB\b/.test(text) ? "keydb" : undefined;

  switch (kind) {
    case "NOT_PERMITTED":
      ranges.push({ hi: "2.6" });
      break;
    case "NOAUTH":
      if (/HELLO <proto> AUTH/.test(text)) ranges.push({ lo: "7.2" });
      else if (/HELLO AUTH\b/.test(text)) ranges.push({ lo: "6.0", hi: "7.0" });
      else if (/^NOAUTH Authentication required/.test(text)) ranges.push({ lo: "2.8" });
      break;
    case "UNKNOWN_COMMAND": {
      // 'X' → ≤4.0.10 (no args suffix); `X`, with args → 4.0.11–6.2.x; 'X', with args → 7.0+.
      const m = UNKNOWN_COMMAND.exec(text);
      if (!m) break;
      const hello = m[2]?.toUpperCase() === "HELLO";
      if (m[3] === undefined) ranges.push({ hi: "4.0.10" });
      else if (m[1] === "`") ranges.push({ lo: "4.0.11", hi: hello ? "5.x" : "6.2" });
      else ranges.push({ lo: "7.0" });
      break;
    }
    case "NO_PASSWORD":
      if (/^ERR Client sent AUTH/.test(text)) ranges.push({ hi: "5.x" });
      else ranges.push({ lo: "6.0" });
      break;
    case "DENIED":
      product = /^DENIED Running in protected mode/.test(text) ? "valkey" : fork();
      if (product === "valkey") ranges.push({ lo: "8.0", product });
      else if (product === undefined) {
        if (/no bind address was specified/.test(text)) ranges.push({ lo: "3.2", hi: "6.2" });
        else if (/no password is set for the default user/.test(text)) ranges.push({ lo: "7.0" });
      }
      break;
    case "LOADING":
      product = fork();
      if (product === "valkey") ranges.push({ lo: "8.0", product });
      break;
    case "BUSY":
      product = fork();
      if (product === "valkey") ranges.push({ lo: "8.0", product });
      else if (product === undefined && /FUNCTION KILL|module command/.test(text)) {
        ranges.push({ lo: "7.0" });
      }
      break;
    case "MASTERDOWN":
      if (/slave-serve-stale-data/.test(text)) ranges.push({ lo: "2.6", hi: "4.0" });
      else if (/replica-serve-stale-data/.test(text)) ranges.push({ lo: "5.0" });
      break;
    case "MAXCLIENTS":
      if (/cluster connections/.test(text)) ranges.push({ lo: "6.0.6" });
      break;
    case "NOPERM":
      if (/^NOPERM User \S+ has no permissions/.test(text)) ranges.push({ lo: "7.2" });
      else if (/or its subcommand/.test(text)) ranges.push({ lo: "6.0", hi: "6.2" });
      else if (/^NOPERM this user has no permissions to run the '/.test(text)) {
        ranges.push({ lo: "7.0", hi: "7.0" });
      } else ranges.push({ lo: "6.0" });
      break;
  }
  return product === undefined ? { ranges } : { ranges, product };
}

/** Version label → numbers; `x`/missing parts are `fill` (0 for a lower, ∞ for an upper bound). */
function parts(label: string, fill: number): number[] {
  const out: number[] = [];
  for (const p of label.split(".")) out.push(/^\d+$/.test(p) ? Number(p) : fill);
  while (out.length < 3) out.push(fill);
  return out;
}

function cmp(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Render a range in the vocabulary above. */
export function renderRange(r: VersionRange): string | undefined {
  if (r.lo !== undefined && r.hi !== undefined) return r.lo === r.hi ? r.lo : `${r.lo}-${r.hi}`;
  if (r.lo !== undefined) return `>=${r.lo}`;
  if (r.hi !== undefined) return `<=${r.hi}`;
  return undefined;
}

/** Intersect ranges of one version space; see the module comment for conflicts. */
export function combineRanges(ranges: VersionRange[]): VersionRange | undefined {
  const useful = ranges.filter((r) => r.lo !== undefined || r.hi !== undefined);
  if (useful.length === 0) return undefined;
  let lo: string | undefined;
  let hi: string | undefined;
  for (const r of useful) {
    if (r.lo !== undefined && (lo === undefined || cmp(parts(r.lo, 0), parts(lo, 0)) > 0))
      lo = r.lo;
    if (
      r.hi !== undefined &&
      (hi === undefined || cmp(parts(r.hi, Infinity), parts(hi, Infinity)) < 0)
    ) {
      hi = r.hi;
    }
  }
  const product = useful[0]?.product;
  if (lo !== undefined && hi !== undefined && cmp(parts(lo, 0), parts(hi, Infinity)) > 0) {
    // Contradiction: keep the narrowest single hint.
    const closed = useful.find((r) => r.lo !== undefined && r.hi !== undefined);
    return closed ?? useful[0];
  }
  const out: VersionRange = {};
  if (lo !== undefined) out.lo = lo;
  if (hi !== undefined) out.hi = hi;
  if (product !== undefined) out.product = product;
  return out;
}

/** Combined hint and product from a list of error lines (arrival order). */
export function hintFromErrors(lines: string[]): { hint?: string; product?: Product } {
  let product: Product | undefined;
  const all: VersionRange[] = [];
  for (const line of lines) {
    const ev = hintsFromError(line);
    if (ev.product !== undefined && product === undefined) product = ev.product;
    all.push(...ev.ranges);
  }
  // Once a fork is named, only hints in its own version space count.
  const space = all.filter((r) => r.product === product);
  const combined = combineRanges(space);
  const hint = combined ? renderRange(combined) : undefined;
  const out: { hint?: string; product?: Product } = {};
  if (hint !== undefined) out.hint = hint;
  if (product !== undefined) out.product = product;
  return out;
}
