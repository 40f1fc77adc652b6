/**
 * What an attacker can do with an open server, judged from what the read-only probe saw
 * (product, version, mode) and the CVE matcher's verdict: the known techniques of
 * shared/research/honeypot.md §2, each "open to", "blocked by default" or "unknown", with the
 * reason. Nothing is sent to the server for this: it is the defaults of its version and build.
 *
 * The defaults, read in the sources (git tags of redis/redis, valkey-io/valkey, Snapchat/KeyDB):
 * - Redis 7.0 made `dir` and `dbfilename` protected configs, refused by CONFIG SET unless
 *   `enable-protected-configs` allows it (default `no`), and MODULE refused unless
 *   `enable-module-command` does (default `no`) (src/config.c at 7.0.0). Before 7.0 both are
 *   allowed to any client that may run them (versions.md, last lines). MODULE arrived in 4.0.
 * - Valkey keeps both settings with the same `no` defaults (src/config.c at 7.2.7 and 8.0.1).
 * - KeyDB 6.3.4 has neither setting (src/config.cpp): `dir` / `dbfilename` are plainly
 *   modifiable and MODULE is in its command table, as in the Redis 6 it is based on.
 * - SLAVEOF / REPLICAOF is allowed by default in every version; cluster nodes refuse it
 *   ("REPLICAOF not allowed in cluster mode", src/replication.c), and a sentinel's command
 *   table has no CONFIG, MODULE, SLAVEOF or EVAL (src/sentinel.c at 6.2.0).
 * What INFO cannot show (a renamed command, ACL rules, `enable-protected-configs yes`, egress
 * filtering) can change any verdict; every reason says "by default".
 */
import { compare, parse, type SemVer } from "semver";
import {
  ATTACK_TECHNIQUES,
  type AttackFact,
  type ProbeResult,
  type ServerFacts,
} from "../schema/result.js";
import type { CveEntry, CveMatch } from "./cves.js";

/**
 * CVEs whose flaw is in Lua scripting (EVAL / EVALSHA / FCALL), by id: kept in code rather than
 * as a field of cves.json so the table's own editors are not disturbed. An entry added to the
 * table later counts too when its summary names Lua or EVAL (isLuaCve).
 */
export const LUA_CVE_IDS: ReadonlySet<string> = new Set([
  "CVE-2015-4335",
  "CVE-2015-8080",
  "CVE-2018-11218",
  "CVE-2018-11219",
  "CVE-2020-14147",
  "CVE-2021-32626",
  "CVE-2021-32672",
  "CVE-2022-0543",
  "CVE-2022-24735",
  "CVE-2022-24736",
  "CVE-2022-24834",
  "CVE-2024-31449",
  "CVE-2024-46981",
  "CVE-2025-46817",
  "CVE-2025-46818",
  "CVE-2025-46819",
  "CVE-2025-49844",
  "CVE-2025-67733",
  "CVE-2026-23631",
]);

export function isLuaCve(e: Pick<CveEntry, "id" | "summary">): boolean {
  return LUA_CVE_IDS.has(e.id) || /\b(?:Lua|EVAL|EVALSHA)\b/.test(e.summary);
}

const RELEASE = /^\d{1,6}\.\d{1,6}\.\d{1,6}$/;

/** What a product and version allow by default; `unknown` when the facts do not tell. */
type Defaults =
  | { kind: "unknown"; why: string }
  | {
      kind: "known";
      /** How the reasons name the server: "Redis 6.2.16", "Valkey 8.0.1". */
      label: string;
      /** dir / dbfilename refused by CONFIG SET by default. */
      protectedConfigs: boolean;
      /** MODULE: absent from the version, allowed, or refused by default. */
      module: "absent" | "allowed" | "refused";
    };

function redisDefaults(label: string, v: SemVer): Defaults {
  const at7 = compare(v, parse("7.0.0")!) >= 0;
  return {
    kind: "known",
    label,
    protectedConfigs: at7,
    module: compare(v, parse("4.0.0")!) < 0 ? "absent" : at7 ? "refused" : "allowed",
  };
}

export function defaultsOf(s: ServerFacts | undefined): Defaults {
  const product = s?.product;
  const version = s?.version;
  switch (product) {
    case "valkey":
      return {
        kind: "known",
        label: `Valkey ${version ?? "(version not read)"}`,
        protectedConfigs: true,
        module: "refused",
      };
    case "keydb":
      return {
        kind: "known",
        label: `KeyDB ${version ?? "(version not read)"}`,
        protectedConfigs: false,
        module: "allowed",
      };
    case "redis":
    case "msopentech": {
      const name = product === "redis" ? "Redis" : "Redis for Windows (MSOpenTech)";
      if (typeof version !== "string") return { kind: "unknown", why: `${name}: version not read` };
      if (!RELEASE.test(version)) {
        return { kind: "unknown", why: `${name} ${version}: not a release number` };
      }
      const v = parse(version)!;
      // The Windows port numbers x.y.(patch×100+build): only x.y matters here.
      if (product === "redis" && v.minor % 2 === 1) {
        return {
          kind: "unknown",
          why: `Redis ${version} is a pre-release (odd minor): its defaults are not judged`,
        };
      }
      return redisDefaults(`${name} ${version}`, parse(`${v.major}.${v.minor}.0`)!);
    }
    case "elasticache":
      return {
        kind: "unknown",
        why: "ElastiCache: the managed service decides which administrative commands clients may run; not judged",
      };
    case undefined:
      return { kind: "unknown", why: "product not identified" };
    default:
      return {
        kind: "unknown",
        why: `${product}: its own implementation; these Redis techniques are not judged for it`,
      };
  }
}

function configWrite(d: Defaults): AttackFact {
  const technique = "config_write";
  if (d.kind === "unknown") return { technique, verdict: "unknown", reason: d.why };
  if (d.protectedConfigs) {
    return {
      technique,
      verdict: "blocked",
      reason: `${d.label}: dir and dbfilename are protected configs (enable-protected-configs no by default)`,
    };
  }
  return {
    technique,
    verdict: "open",
    reason: `${d.label}: no protected configs; CONFIG SET dir/dbfilename then SAVE writes a file, by default`,
    leads_to: "cron jobs, SSH keys, web shells, written as the server's user",
  };
}

function moduleLoad(d: Defaults): AttackFact {
  const technique = "module_load";
  if (d.kind === "unknown") return { technique, verdict: "unknown", reason: d.why };
  if (d.module === "absent") {
    return {
      technique,
      verdict: "blocked",
      reason: `${d.label}: no MODULE command (modules arrived in Redis 4.0)`,
    };
  }
  if (d.module === "refused") {
    return {
      technique,
      verdict: "blocked",
      reason: `${d.label}: MODULE is off (enable-module-command no by default)`,
    };
  }
  return {
    technique,
    verdict: "open",
    reason: `${d.label}: MODULE LOAD of a file on the server's disk is allowed by default`,
    leads_to: "code execution as the server's user",
  };
}

function rogueMaster(
  d: Defaults,
  s: ServerFacts | undefined,
  cves: ReadonlySet<string>,
): AttackFact {
  const technique = "rogue_master";
  if (d.kind === "unknown") return { technique, verdict: "unknown", reason: d.why };
  const mode = s?.mode;
  if (mode === "cluster") {
    return {
      technique,
      verdict: "unknown",
      reason: `${d.label} in cluster mode: REPLICAOF is refused, but CLUSTER MEET and CLUSTER REPLICATE to a node an attacker runs are not judged`,
    };
  }
  if (mode === undefined) {
    return {
      technique,
      verdict: "unknown",
      reason: `${d.label}: mode not shown (cluster nodes refuse REPLICAOF)`,
    };
  }
  const leads: string[] = ["dataset replaced"];
  if (d.module === "allowed")
    leads.push("the replicated file loaded by MODULE LOAD: code execution");
  else if (!d.protectedConfigs)
    leads.push("the replicated bytes saved as dir/dbfilename: any file");
  else leads.push("no file write or module load by default");
  if (cves.has("CVE-2026-23631")) leads.push("DarkReplica (CVE-2026-23631) on a writable replica");
  return {
    technique,
    verdict: "open",
    reason: `${d.label}, ${mode}: SLAVEOF/REPLICAOF to any address is allowed by default`,
    leads_to: leads.join("; "),
  };
}

function luaCves(
  s: ServerFacts | undefined,
  match: CveMatch,
  isLua: (id: string) => boolean,
  tableUpdated: string | undefined,
): AttackFact {
  const technique = "lua_cve";
  if (match.basis === "none") {
    const why =
      s?.version === undefined ? "version not read" : (match.notes?.[0] ?? "version not judged");
    return { technique, verdict: "unknown", reason: `no CVE verdict: ${why}` };
  }
  const name = `${s?.product ?? "?"} ${match.judged ?? s?.version ?? "?"}`;
  const found = match.cves.filter((c) => isLua(c.id)).map((c) => c.id);
  const maybe = (match.possible ?? []).filter((c) => isLua(c.id)).map((c) => c.id);
  if (found.length > 0) {
    return {
      technique,
      verdict: "open",
      reason: `${name} by version; EVAL is allowed by default; a distribution build may carry backported fixes`,
      leads_to: "per CVE, a crash up to remote code execution",
      cves: found,
    };
  }
  if (maybe.length > 0) {
    return {
      technique,
      verdict: "unknown",
      reason: `${name}: these match by version but hinge on the distribution or build, not visible`,
      cves: maybe,
    };
  }
  return {
    technique,
    verdict: "blocked",
    reason: `no Lua CVE for ${name} in the CVE table${tableUpdated ? ` (updated ${tableUpdated})` : ""}`,
  };
}

export interface AttackContext {
  /** Is this CVE id a Lua one? (isLuaCve over the loaded table) */
  isLua: (id: string) => boolean;
  /** The CVE table's date, for "no known Lua CVE" reasons. */
  tableUpdated?: string;
}

/** Every technique's verdict for an open server; undefined for any other state. */
export function assessAttack(
  r: ProbeResult,
  match: CveMatch,
  ctx: AttackContext,
): AttackFact[] | undefined {
  if (r.state !== "open") return undefined;
  const s = r.server;
  if (s?.mode === "sentinel") {
    return ATTACK_TECHNIQUES.map((technique) => ({
      technique,
      verdict: "blocked",
      reason:
        "sentinel mode: the sentinel's command table has no CONFIG SET, MODULE, SLAVEOF or EVAL",
    }));
  }
  const d = defaultsOf(s);
  const cves = new Set(match.cves.map((c) => c.id));
  return [
    configWrite(d),
    moduleLoad(d),
    rogueMaster(d, s, cves),
    luaCves(s, match, ctx.isLua, ctx.tableUpdated),
  ];
}
