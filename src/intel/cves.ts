/**
 * Offline CVE enrichment. data/intel/cves.json lists Redis CVEs per release branch (transcribed
 * from the research notes, versions.md §1); this module loads and validates it, and judges a
 * result's server facts against it.
 *
 * What is judged, per product:
 * - redis: its version.
 * - elasticache: the Redis engine version it reports. AWS may patch managed nodes without
 *   changing that number, so the verdict is upstream Redis's and says so in a note.
 * - msopentech: the upstream Redis release the Windows port was built from (see
 *   windowsPortUpstream); basis "upstream_build".
 * - valkey: its own version (valkey_version) against the table's `product: "valkey"` ranges: its
 *   own advisories and its own fix releases for the Redis CVEs it inherited (it forked from Redis
 *   7.2.4). Its redis_version is a compatibility value and is never judged.
 * - keydb: its own version against the `product: "keydb"` ranges (open Lua CVEs without a fixed
 *   release are reported as unfixed).
 * - dragonfly, garnet, unknown: nothing. Their redis_version is a compatibility value, not
 *   evidence of Redis code (versions.md §3); the note says why.
 *
 * Besides the list, a verdict says what it rests on where a reader must weigh it: `ambiguous`
 * when the product was told by evidence another product can give (HELLO alone), and
 * `backports_possible` when the executable is a distribution's package (judged by upstream
 * version; the distribution may have backported fixes without changing it).
 *
 * Only clean x.y.z release numbers are judged. INFO and HELLO never carry "-rcN" suffixes
 * (Redis pre-releases number themselves x.(y-1).24z, e.g. 7.1.241 is 7.2-rc1), so anything else
 * is not a Redis release and gets no verdict, never an exception.
 */

import fs from "node:fs";
import path from "node:path";
import { compare, parse, type SemVer } from "semver";
import type { CveFact, ServerFacts } from "../schema/result.js";
import { installedData } from "../store/paths.js";

export type CveCondition = "32-bit" | "non-jemalloc" | `module:${string}`;

/** Products whose own release numbers the table's ranges are written in. */
export const CVE_PRODUCTS = ["redis", "valkey", "keydb"] as const;
export type CveProduct = (typeof CVE_PRODUCTS)[number];

/**
 * A CVE's reach on one release branch of one product (default redis); no `fixed` means the branch
 * never got a fix.
 */
export interface CveRange {
  product?: CveProduct;
  branch: string;
  introduced: string;
  fixed?: string;
}

export interface CveEntry {
  /** A CVE id, else the advisory's GHSA id, else a stable `REDSCOPE-<product>-<ref>` id. */
  id: string;
  /** Where the entry's facts were read (advisory, release notes), when not in the table's sources. */
  source?: string;
  cvss?: number;
  summary: string;
  /** Reachable before AUTH, so password-protected servers are exposed too. */
  unauthenticated: boolean;
  /** redis-cli / redis-check-aof / sentinel-client flaws: never reported for a scanned server. */
  client_side: boolean;
  /** A distribution's packaging flaw: a version can neither confirm nor clear it. */
  distro_only?: "debian";
  /** A build property the flaw needs; see CveMatch.possible. */
  requires?: CveCondition;
  note?: string;
  affected: CveRange[];
}

export interface CveTable {
  updated: string;
  /** Versions older than this are not judged: the table's open-ended ranges stop here. */
  judged_from: string;
  about?: string[];
  sources: string[];
  cves: CveEntry[];
}

export class CveTableError extends Error {
  override name = "CveTableError";
}

// Six digits per part fit every real number (the Windows port's 2.8.2400) and keep semver far
// from its integer limits.
const RELEASE = /^(?:0|[1-9]\d{0,5})\.(?:0|[1-9]\d{0,5})\.(?:0|[1-9]\d{0,5})$/;
const BRANCH = /^(?:0|[1-9]\d{0,5})\.(?:0|[1-9]\d{0,5})$/;
const CVE_ID = /^CVE-(\d{4})-(\d{4,7})$/;
const GHSA_ID = /^GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}$/;
const LOCAL_ID = /^REDSCOPE-(?:redis|valkey|keydb)-[A-Za-z0-9-]{1,40}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const CONDITION = /^(?:32-bit|non-jemalloc|module:[A-Za-z0-9_.-]{1,64})$/;

const TABLE_KEYS = new Set(["updated", "judged_from", "about", "sources", "cves"]);
const ENTRY_KEYS = new Set([
  "id",
  "source",
  "cvss",
  "summary",
  "unauthenticated",
  "client_side",
  "distro_only",
  "requires",
  "note",
  "affected",
]);
const RANGE_KEYS = new Set(["product", "branch", "introduced", "fixed"]);

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isText(v: unknown): v is string {
  return typeof v === "string" && v.trim().length > 0;
}

function isTextList(v: unknown): v is string[] {
  return Array.isArray(v) && v.length > 0 && v.every(isText);
}

/** Typos ("fixd", "clientside") must fail loudly rather than silently drop a fact. */
function unknownKey(o: Json, allowed: Set<string>): string | undefined {
  return Object.keys(o).find((k) => !allowed.has(k));
}

function branchOf(v: SemVer): string {
  return `${v.major}.${v.minor}`;
}

/**
 * Validate parsed JSON as a CVE table. Every problem names the entry (index and id) and the
 * field, so a hand edit that went wrong is found at load time, not as a silent miss.
 */
export function parseCveTable(json: unknown, origin = "cves.json"): CveTable {
  const fail = (where: string, problem: string): never => {
    throw new CveTableError(`${origin}: ${where}: ${problem}`);
  };
  if (!isObject(json)) return fail("top level", "expected an object");
  const extra = unknownKey(json, TABLE_KEYS);
  if (extra !== undefined) fail("top level", `unknown key ${JSON.stringify(extra)}`);
  const { updated, judged_from, about, sources, cves } = json;
  if (typeof updated !== "string" || !DATE.test(updated)) fail("updated", "expected YYYY-MM-DD");
  if (typeof judged_from !== "string" || !RELEASE.test(judged_from)) {
    fail("judged_from", "expected an x.y.z release");
  }
  if (about !== undefined && !isTextList(about)) fail("about", "expected a list of strings");
  if (!isTextList(sources)) fail("sources", "expected a non-empty list of strings");
  if (!Array.isArray(cves) || cves.length === 0) fail("cves", "expected a non-empty list");

  const floor = parse(judged_from as string)!;
  const seen = new Set<string>();
  const entries = (cves as unknown[]).map((raw, i): CveEntry => {
    const name = isObject(raw) && typeof raw.id === "string" ? ` (${raw.id.slice(0, 40)})` : "";
    const where = `cves[${i}]${name}`;
    if (!isObject(raw)) return fail(where, "expected an object");
    const bad = unknownKey(raw, ENTRY_KEYS);
    if (bad !== undefined) fail(where, `unknown key ${JSON.stringify(bad)}`);
    const { id, source, cvss, summary, unauthenticated, client_side, distro_only, requires, note } =
      raw;
    if (typeof id !== "string" || !(CVE_ID.test(id) || GHSA_ID.test(id) || LOCAL_ID.test(id))) {
      fail(where, "id must look like CVE-2021-32675, GHSA-xxxx-xxxx-xxxx or REDSCOPE-redis-<ref>");
    }
    if (source !== undefined && !isText(source)) fail(where, "source must be a non-empty string");
    if (seen.has(id as string)) fail(where, "duplicate id");
    seen.add(id as string);
    if (
      cvss !== undefined &&
      (typeof cvss !== "number" || !Number.isFinite(cvss) || cvss < 0 || cvss > 10)
    ) {
      fail(where, "cvss must be a number from 0 to 10 (omit it when unknown)");
    }
    if (!isText(summary)) fail(where, "summary must be a non-empty string");
    if (typeof unauthenticated !== "boolean") fail(where, "unauthenticated must be true or false");
    if (typeof client_side !== "boolean") fail(where, "client_side must be true or false");
    if (distro_only !== undefined && distro_only !== "debian") {
      fail(where, 'distro_only must be "debian"');
    }
    if (requires !== undefined && (typeof requires !== "string" || !CONDITION.test(requires))) {
      fail(where, 'requires must be "32-bit", "non-jemalloc" or "module:<name>"');
    }
    if (note !== undefined && !isText(note)) fail(where, "note must be a non-empty string");
    if (!Array.isArray(raw.affected) || raw.affected.length === 0) {
      fail(where, "affected must be a non-empty list of branch ranges");
    }

    const branches = new Set<string>();
    const affected = (raw.affected as unknown[]).map((r, j): CveRange => {
      const at = `${where}: affected[${j}]`;
      if (!isObject(r)) return fail(at, "expected an object");
      const odd = unknownKey(r, RANGE_KEYS);
      if (odd !== undefined) fail(at, `unknown key ${JSON.stringify(odd)}`);
      const { product, branch, introduced, fixed } = r;
      if (product !== undefined && !(CVE_PRODUCTS as readonly unknown[]).includes(product)) {
        fail(at, `product must be one of ${CVE_PRODUCTS.join(", ")} (omit it for redis)`);
      }
      if (typeof branch !== "string" || !BRANCH.test(branch)) fail(at, 'branch must be like "6.2"');
      const who = (product as CveProduct | undefined) ?? "redis";
      if (branches.has(`${who} ${branch}`)) fail(at, `${who} branch ${branch} listed twice`);
      branches.add(`${who} ${branch}`);
      if (typeof introduced !== "string" || !RELEASE.test(introduced)) {
        fail(at, "introduced must be an x.y.z release");
      }
      const from = parse(introduced as string)!;
      if (branchOf(from) !== branch)
        fail(at, `introduced ${introduced} is not on branch ${branch}`);
      if (compare(from, floor) < 0) fail(at, `introduced ${introduced} is below judged_from`);
      const range: CveRange = { branch: branch as string, introduced: introduced as string };
      if (product !== undefined && product !== "redis") range.product = product as CveProduct;
      if (fixed !== undefined) {
        if (typeof fixed !== "string" || !RELEASE.test(fixed)) {
          fail(at, "fixed must be an x.y.z release (omit it when the branch got no fix)");
        }
        const to = parse(fixed as string)!;
        if (branchOf(to) !== branch) fail(at, `fixed ${fixed} is not on branch ${branch}`);
        if (compare(to, from) <= 0) fail(at, `fixed ${fixed} is not after introduced`);
        range.fixed = fixed as string;
      }
      return range;
    });

    const entry: CveEntry = {
      id: id as string,
      summary: summary as string,
      unauthenticated: unauthenticated as boolean,
      client_side: client_side as boolean,
      affected,
    };
    if (source !== undefined) entry.source = source as string;
    if (cvss !== undefined) entry.cvss = cvss as number;
    if (distro_only !== undefined) entry.distro_only = "debian";
    if (requires !== undefined) entry.requires = requires as CveCondition;
    if (note !== undefined) entry.note = note as string;
    return entry;
  });

  const table: CveTable = {
    updated: updated as string,
    judged_from: judged_from as string,
    sources: sources as string[],
    cves: entries,
  };
  if (about !== undefined) table.about = about as string[];
  return table;
}

/** data/intel/cves.json next to the installation: from src/intel (tsx) or dist/src/intel. */
export function defaultCveTablePath(): string {
  try {
    return installedData("intel/cves.json");
  } catch (e) {
    throw new CveTableError((e as Error).message);
  }
}

/**
 * The CVE table an intel directory selects: its own `cves.json` (what `redscope intel update`
 * refreshed) unless the bundled one is newer (`updated`; an upgraded redscope ships a newer table
 * than an old refresh), else the bundled one. Every command that judges versions reads it here.
 */
export function cveTableIn(dir: string): { path: string; table: CveTable } {
  const local = path.join(dir, "cves.json");
  const bundledPath = defaultCveTablePath();
  const bundled = loadCveTable(bundledPath);
  if (!fs.existsSync(local)) return { path: bundledPath, table: bundled };
  const own = loadCveTable(local);
  return own.updated >= bundled.updated
    ? { path: local, table: own }
    : { path: bundledPath, table: bundled };
}

export function loadCveTable(file: string = defaultCveTablePath()): CveTable {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new CveTableError(`${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseCveTable(json, file);
}

// ---------- matching ----------

export type CveBasis = "version" | "upstream_build" | "none";

export interface CveMatch {
  /** What the verdict rests on; "none" when there is no verdict (cves is then empty). */
  readonly basis: CveBasis;
  /** The product whose ranges were applied (ElastiCache and the Windows port: redis). */
  readonly product?: CveProduct;
  /** The release judged (differs from the reported version on the Windows port). */
  readonly judged?: string;
  /** Findings for the result's `cves`: sorted by cvss (highest first, unscored last), then id. */
  readonly cves: readonly CveFact[];
  /**
   * Matched by version but hinging on what the scan could not see: distro packaging, or a build
   * property (32-bit, allocator, loaded module) the facts do not tell. Never a finding.
   */
  readonly possible?: readonly CveFact[];
  readonly notes?: readonly string[];
  /** The product was told by evidence another product can give; why. */
  readonly ambiguous?: string;
  /** A distribution's package: judged by upstream version, fixes may have been backported. */
  readonly backports_possible?: boolean;
}

/** The server facts the matcher reads. */
export type CveSubject = Pick<
  ServerFacts,
  | "product"
  | "version"
  | "redis_version"
  | "arch_bits"
  | "mem_allocator"
  | "modules"
  | "executable"
  | "version_source"
>;

/** The wording every output uses for a distribution build's verdict. */
export const BACKPORTS_WORDING = "by upstream version; distribution build — backports possible";

/**
 * Where distributions install the server they package (Debian/Ubuntu, Fedora/RHEL, Alpine, Arch:
 * /usr/bin/redis-server; some /usr/sbin). Source builds (`make install`) go to /usr/local/bin and
 * the official Docker image runs /usr/local/bin/redis-server, so neither is taken for a package.
 * Debian's 7.0.15 and a source build of 7.0.15 differ in INFO only by this path (both report
 * redis_git_sha1:00000000).
 */
const PACKAGED_EXECUTABLE = /^\/usr\/s?bin\/[^/]+$/;

/** Whether INFO's `executable:` is a distribution's packaged binary. */
export function isPackagedExecutable(executable: string | undefined): boolean {
  return typeof executable === "string" && PACKAGED_EXECUTABLE.test(executable);
}

/** Whether the scanned build has a property: yes, no, or not seen. */
type Seen = "y" | "n" | "?";

interface CompiledRange {
  introduced: SemVer;
  fixed?: SemVer;
  /** This branch's fix, or for a branch that got none the lowest fix on a later branch. */
  fixedIn?: string;
}

interface CompiledEntry {
  entry: CveEntry;
  /** Keyed `${product} ${branch}`. */
  byBranch: Map<string, CompiledRange>;
}

const ELASTICACHE_NOTE =
  "ElastiCache reports its Redis engine version; AWS may patch managed nodes without changing " +
  "it, so these are upstream Redis's CVEs for that version";

function freezeMatch(m: CveMatch): CveMatch {
  for (const list of [m.cves, m.possible ?? [], m.notes ?? []]) {
    for (const item of list) Object.freeze(item);
    Object.freeze(list);
  }
  return Object.freeze(m);
}

function noVerdict(...notes: string[]): CveMatch {
  return freezeMatch({ basis: "none", cves: [], notes });
}

const NOT_A_RELEASE = noVerdict("version is not a clean x.y.z release number; not judged");
const NO_PRODUCT = noVerdict("product not identified; not judged");
const NOT_REDIS_CODE = new Map<string, CveMatch>([
  [
    "dragonfly",
    noVerdict("Dragonfly is its own implementation; its redis_version is a compatibility value"),
  ],
  [
    "garnet",
    noVerdict("Garnet is its own implementation; its redis_version is a compatibility value"),
  ],
  [
    "unknown",
    noVerdict("unidentified Redis-protocol server: its redis_version is no evidence of Redis code"),
  ],
]);

/** Which product's ranges judge a server product, or undefined when none do. */
function tableProduct(product: string): CveProduct | undefined {
  if (product === "redis" || product === "elasticache" || product === "msopentech") return "redis";
  if (product === "valkey" || product === "keydb") return product;
  return undefined;
}

/**
 * Why a Redis verdict may belong to a Valkey, or undefined. Only HELLO-alone identifications are
 * open to it: INFO names Valkey (`server_name:valkey`, `valkey_version`) in every mode.
 * - Valkey ≥ 8.0 with `extended-redis-compatibility yes` answers HELLO `server=redis
 *   version=7.2.4` (its redis_version);
 * - Valkey 7.2.x answers HELLO `server=redis` with its own version, 7.2.4 and up, numbers Redis
 *   7.2 also has.
 */
function ambiguity(s: CveSubject, judged: SemVer): string | undefined {
  if (s.product !== "redis" || s.version_source !== "hello") return undefined;
  if (judged.major !== 7 || judged.minor !== 2 || judged.patch < 4) return undefined;
  const because = "identified by HELLO alone (INFO not readable)";
  if (judged.patch === 4) {
    return `${because}: Valkey 8.0+ with extended-redis-compatibility yes also answers HELLO as server=redis version=7.2.4 (its redis_version); this may be a Valkey, whose advisories differ`;
  }
  return `${because}: Valkey 7.2.x also answers HELLO as server=redis with its own version; this may be a Valkey ${judged.version}, whose advisories differ`;
}

/**
 * MSOpenTech numbered Windows releases x.y.(upstream patch × 100 + port build): win-3.0.504 is
 * built on Redis 3.0.5 and win-3.2.100 on 3.2.1 (versions.md §3), so 2.8.2400 is 2.8.24 and
 * 2.8.2104 is 2.8.21. A patch below 100 is upstream's own number (early ports kept it).
 */
function windowsPortUpstream(v: SemVer): SemVer {
  return v.patch < 100 ? v : parse(`${v.major}.${v.minor}.${Math.floor(v.patch / 100)}`)!;
}

function sawCondition(c: CveCondition, s: CveSubject): Seen {
  if (c === "32-bit") {
    if (s.arch_bits === 32) return "y";
    return s.arch_bits === 64 ? "n" : "?";
  }
  if (c === "non-jemalloc") {
    if (typeof s.mem_allocator !== "string") return "?";
    return /^jemalloc/i.test(s.mem_allocator) ? "n" : "y";
  }
  // module:<name>. An absent list is "not seen": the classifier omits an empty one.
  if (!Array.isArray(s.modules)) return "?";
  const name = c.slice("module:".length).toLowerCase();
  return s.modules.some((m) => typeof m?.name === "string" && m.name.toLowerCase() === name)
    ? "y"
    : "n";
}

function cveOrder(a: CveFact, b: CveFact): number {
  const byScore = (b.cvss ?? -1) - (a.cvss ?? -1);
  if (byScore !== 0) return byScore;
  // Numeric, so CVE-2021-3470 sorts before CVE-2021-21309; advisories without a CVE id last.
  const [, ay = "9999", an = ""] = CVE_ID.exec(a.id) ?? [];
  const [, by = "9999", bn = ""] = CVE_ID.exec(b.id) ?? [];
  return (
    Number(ay) - Number(by) || Number(an) - Number(bn) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

function whyPossible(c: CveCondition | "debian"): string {
  if (c === "debian") {
    return "only Debian/Ubuntu-built packages are affected and their fix kept the upstream version, so a version can neither confirm nor clear it";
  }
  if (c === "32-bit") return "affects 32-bit builds only; arch_bits not seen";
  if (c === "non-jemalloc") return "affects builds without jemalloc; mem_allocator not seen";
  return `needs the ${c.slice("module:".length)} module loaded; no module list seen`;
}

const PRODUCT_NAME: Record<CveProduct, string> = {
  redis: "Redis",
  valkey: "Valkey",
  keydb: "KeyDB",
};

/**
 * Judges server facts against a CVE table. Results are memoised per (product, version, build
 * facts) in a bounded map, so enriching every result of a scan costs one lookup per result.
 * Results are frozen and shared: copy `cves` before editing it.
 */
export class CveMatcher {
  readonly #table: CveTable;
  readonly #entries: CompiledEntry[];
  readonly #conditions: CveCondition[];
  readonly #floor: SemVer;
  readonly #newestBranch = new Map<CveProduct, SemVer>();
  readonly #memo = new Map<string, CveMatch>();
  readonly #memoLimit: number;

  constructor(table: CveTable, memoLimit = 4096) {
    this.#table = table;
    this.#memoLimit = Math.max(1, memoLimit);
    this.#floor = parse(table.judged_from)!;
    const branchStart = (b: string): SemVer => parse(`${b}.0`)!;
    const conditions = new Set<CveCondition>();
    this.#entries = table.cves.map((entry) => {
      if (entry.requires !== undefined) conditions.add(entry.requires);
      const byBranch = new Map<string, CompiledRange>();
      for (const r of entry.affected) {
        const product = r.product ?? "redis";
        const start = branchStart(r.branch);
        const newest = this.#newestBranch.get(product);
        if (newest === undefined || compare(start, newest) > 0)
          this.#newestBranch.set(product, start);
        const compiled: CompiledRange = { introduced: parse(r.introduced)! };
        if (r.fixed !== undefined) {
          compiled.fixed = parse(r.fixed)!;
          compiled.fixedIn = r.fixed;
        } else {
          // A branch without a fix: point at the lowest fix on a later branch of the product.
          let lowest: SemVer | undefined;
          for (const other of entry.affected) {
            if ((other.product ?? "redis") !== product || other.fixed === undefined) continue;
            if (compare(branchStart(other.branch), start) <= 0) continue;
            const f = parse(other.fixed)!;
            if (lowest === undefined || compare(f, lowest) < 0) lowest = f;
          }
          if (lowest !== undefined) compiled.fixedIn = lowest.version;
        }
        byBranch.set(`${product} ${r.branch}`, compiled);
      }
      return { entry, byBranch };
    });
    this.#conditions = [...conditions];
  }

  match(server: CveSubject | undefined): CveMatch {
    const product = server?.product;
    if (server === undefined || typeof product !== "string") return NO_PRODUCT;
    const ranges = tableProduct(product);
    if (ranges === undefined) return NOT_REDIS_CODE.get(product) ?? NO_PRODUCT;
    // Valkey's and KeyDB's redis_version is a compatibility value: only their own version counts.
    const reported = ranges === "redis" ? (server.version ?? server.redis_version) : server.version;
    if (typeof reported !== "string" || !RELEASE.test(reported)) return NOT_A_RELEASE;

    const seen = new Map(this.#conditions.map((c) => [c, sawCondition(c, server)] as const));
    const packaged =
      ranges === "redis" && product === "redis" && isPackagedExecutable(server.executable);
    const key = `${product} ${reported} ${[...seen.values()].join("")} ${server.version_source ?? ""} ${packaged ? "p" : ""}`;
    const hit = this.#memo.get(key);
    if (hit !== undefined) return hit;
    const result = this.#judge(server, product, ranges, reported, seen, packaged);
    if (this.#memo.size >= this.#memoLimit) {
      // First in, first out: a scan meets a few hundred distinct versions, so this rarely runs.
      this.#memo.delete(this.#memo.keys().next().value!);
    }
    this.#memo.set(key, result);
    return result;
  }

  #judge(
    server: CveSubject,
    product: string,
    ranges: CveProduct,
    reported: string,
    seen: Map<CveCondition, Seen>,
    packaged: boolean,
  ): CveMatch {
    const version = parse(reported)!; // RELEASE admits only numbers semver can hold
    const notes: string[] = [];
    let judged = version;
    let basis: CveBasis = "version";
    if (product === "msopentech") {
      judged = windowsPortUpstream(version);
      basis = "upstream_build";
      notes.push(
        `Windows port ${reported} judged as upstream Redis ${judged.version}, the release it was built from`,
      );
    } else if (product === "elasticache") {
      notes.push(ELASTICACHE_NOTE);
    } else if (ranges !== "redis") {
      notes.push(
        `${PRODUCT_NAME[ranges]} judged by its own version ${reported}, against its own advisories and its own fix releases for the Redis CVEs it inherited; its redis_version is not judged`,
      );
    }
    if (ranges === "redis" && judged.minor % 2 === 1) {
      return noVerdict(
        ...notes,
        `${judged.version}: odd minor versions are Redis pre-releases (7.1.241 is 7.2-rc1), not a release branch; not judged`,
      );
    }
    if (ranges === "redis" && compare(judged, this.#floor) < 0) {
      return noVerdict(
        ...notes,
        `${judged.version} is older than ${this.#table.judged_from}, where this table starts; not judged`,
      );
    }
    const branch = branchOf(judged);
    const newest = this.#newestBranch.get(ranges);
    if (newest === undefined) {
      return noVerdict(...notes, `this table has no ${PRODUCT_NAME[ranges]} ranges; not judged`);
    }
    if (compare(parse(`${branch}.0`)!, newest) > 0) {
      notes.push(
        `branch ${branch} is newer than every ${PRODUCT_NAME[ranges]} branch in this table (updated ${this.#table.updated}); later CVEs are missing`,
      );
    }

    const cves: CveFact[] = [];
    const possible: CveFact[] = [];
    const possibleWhy = new Map<CveCondition | "debian", string[]>();
    const maybe = (fact: CveFact, why: CveCondition | "debian"): void => {
      possible.push(fact);
      const ids = possibleWhy.get(why);
      if (ids === undefined) possibleWhy.set(why, [fact.id]);
      else ids.push(fact.id);
    };
    const unfixed: string[] = [];
    for (const { entry, byBranch } of this.#entries) {
      if (entry.client_side) continue;
      const range = byBranch.get(`${ranges} ${branch}`);
      if (range === undefined || compare(judged, range.introduced) < 0) continue;
      if (range.fixed !== undefined && compare(judged, range.fixed) >= 0) continue;
      const fact: CveFact = { id: entry.id };
      if (entry.cvss !== undefined) fact.cvss = entry.cvss;
      if (entry.distro_only !== undefined) {
        // Debian never packaged the Windows port or ElastiCache. A distro fix has no upstream
        // version to point at, so no fixed_in.
        if (product === "redis") maybe(fact, entry.distro_only);
        continue;
      }
      if (range.fixedIn !== undefined) fact.fixed_in = range.fixedIn;
      else {
        fact.unfixed = true;
        unfixed.push(entry.id);
      }
      if (entry.requires !== undefined) {
        const state = seen.get(entry.requires);
        if (state === "n") continue;
        if (state !== "y") {
          maybe(fact, entry.requires);
          continue;
        }
      }
      cves.push(fact);
    }
    for (const [why, ids] of possibleWhy) notes.push(`${ids.join(", ")}: ${whyPossible(why)}`);
    if (unfixed.length > 0) {
      notes.push(`${unfixed.join(", ")}: no ${PRODUCT_NAME[ranges]} release fixes these (unfixed)`);
    }
    const ambiguous = ambiguity(server, judged);
    if (ambiguous !== undefined) notes.push(`ambiguous: ${ambiguous}`);
    if (packaged) {
      notes.push(
        `${BACKPORTS_WORDING}: executable ${server.executable} is a distribution's package; check its changelog for these CVE ids`,
      );
    }

    return freezeMatch({
      basis,
      product: ranges,
      judged: judged.version,
      cves: cves.sort(cveOrder),
      ...(possible.length > 0 ? { possible: possible.sort(cveOrder) } : {}),
      ...(notes.length > 0 ? { notes } : {}),
      ...(ambiguous !== undefined ? { ambiguous } : {}),
      ...(packaged ? { backports_possible: true } : {}),
    });
  }
}
