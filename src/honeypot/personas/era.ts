/**
 * What a version number decides about a server's behaviour. Every reply that changed across
 * releases asks the Era, never compares version strings itself, so a wording's range is written
 * once (research/honeypot.md §3 and versions.md §2 give the ranges).
 *
 * Valkey forked from Redis 7.2.4 and keeps its behaviour, so a Valkey persona has a Redis-space
 * version of 7.2.4 for these questions plus `valkey` for the handful of texts it rewrote.
 */

/** KeyDB 6.3 is Redis 6.2.6 merged into KeyDB: it behaves as that Redis for these questions. */
export type Product = "redis" | "valkey" | "keydb";

/** "7.0.15" → [7, 0, 15]; missing parts are 0, a suffix such as "-rc1" is ignored. */
export function versionParts(version: string): [number, number, number] {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version.trim());
  if (m === null) throw new RangeError(`not a version number: ${JSON.stringify(version)}`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** How an unknown command is reported. */
export type UnknownCommandStyle =
  /** `'FOO'`, no arguments echoed (≤ 4.0.10). */
  | "plain"
  /** `` `FOO`, with args beginning with: `a`, `` (4.0.11–6.2). */
  | "backtick"
  /** `'FOO', with args beginning with: 'a' ` even with no arguments (7.x, Valkey). */
  | "quote"
  /** As "quote", but without the suffix when there are no arguments (8.x). */
  | "quote-args-only";

export class Era {
  readonly product: Product;
  /** The product's own version (Valkey's own for Valkey). */
  readonly version: string;
  /** The Redis version whose behaviour applies (7.2.4 for Valkey). */
  readonly redisVersion: string;
  private readonly parts: [number, number, number];

  constructor(product: Product, version: string) {
    this.product = product;
    this.version = version;
    this.redisVersion = product === "valkey" ? "7.2.4" : product === "keydb" ? "6.2.6" : version;
    this.parts = versionParts(this.redisVersion);
  }

  /** Answers of at(), by version asked: the same few thresholds are asked per command. */
  private readonly answers = new Map<string, boolean>();

  /** Redis-space version ≥ v. */
  at(v: string): boolean {
    let answer = this.answers.get(v);
    if (answer === undefined) {
      answer = compare(this.parts, versionParts(v)) >= 0;
      this.answers.set(v, answer);
    }
    return answer;
  }

  /** Redis-space version < v. */
  before(v: string): boolean {
    return !this.at(v);
  }

  get valkey(): boolean {
    return this.product === "valkey";
  }

  get keydb(): boolean {
    return this.product === "keydb";
  }

  /** Valkey 8 and later (its own changes on top of the 7.2.4 behaviour). */
  get valkey8(): boolean {
    return this.valkey && versionParts(this.version)[0] >= 8;
  }

  /** Redis 8 and later (not Valkey, whose Redis-space version stays 7.2.4). */
  get redis8(): boolean {
    return this.at("8.0");
  }

  /** Protected mode exists (3.2+). */
  get protectedMode(): boolean {
    return this.at("3.2");
  }

  /** `POST` and `Host:` close the connection (CVE-2016-10517 fix, 3.2.7). */
  get crossProtocolGuard(): boolean {
    return this.at("3.2.7");
  }

  /**
   * 7.0 moved the POST / Host: check before command lookup and authentication; before that
   * they were command-table entries, so an unauthenticated client got NOAUTH instead.
   */
  get crossProtocolBeforeAuth(): boolean {
    return this.at("7.0");
  }

  /**
   * 6.0+ does not write the pending replies of a client it is about to free (CLOSE_ASAP), so a
   * `GET / HTTP/1.1` answered in the same read as a following `Host:` line is never seen.
   */
  get dropsPendingOnAbort(): boolean {
    return this.at("6.0");
  }

  /** CVE-2021-32675 fix: small multibulk and bulk limits before authentication. */
  get unauthenticatedLimits(): boolean {
    if (this.at("6.2.6")) return true;
    if (this.at("6.2")) return false;
    if (this.at("6.0.16")) return true;
    if (this.at("6.0")) return false;
    return this.at("5.0.14");
  }

  /** ACLs: AUTH <user> <pass>, the ACL command, WRONGPASS, HELLO. */
  get acl(): boolean {
    return this.at("6.0");
  }

  /** HELLO without a protocol version (6.2+). */
  get helloWithoutVersion(): boolean {
    return this.at("6.2");
  }

  /** RESET (6.2+). */
  get reset(): boolean {
    return this.at("6.2");
  }

  /** Subcommands are command-table entries with their own arity (`'config|set'`), 7.0+. */
  get subcommandTable(): boolean {
    return this.at("7.0");
  }

  /** `dir`, `dbfilename` … refused by CONFIG SET unless enable-protected-configs (7.0+). */
  get protectedConfigs(): boolean {
    return this.at("7.0");
  }

  /** MODULE LOAD/UNLOAD and DEBUG refused unless enabled in the config file (7.0+). */
  get gatedAdminCommands(): boolean {
    return this.at("7.0");
  }

  /** INFO takes several sections (7.0+). */
  get multiSectionInfo(): boolean {
    return this.at("7.0");
  }

  /** The MODULE command (4.0+). */
  get modules(): boolean {
    return this.at("4.0");
  }

  /** REPLICAOF as an alias of SLAVEOF (5.0+). */
  get replicaof(): boolean {
    return this.at("5.0");
  }

  /** LPOP/RPOP take a count (6.2+). */
  get popCount(): boolean {
    return this.at("6.2");
  }

  /** HSET takes several field/value pairs (4.0+). */
  get multiFieldHset(): boolean {
    return this.at("4.0");
  }

  get unknownCommandStyle(): UnknownCommandStyle {
    if (this.redis8) return "quote-args-only";
    if (this.at("7.0")) return "quote";
    if (this.at("4.0.11")) return "backtick";
    return "plain";
  }
}
