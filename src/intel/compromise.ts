/**
 * Signs of compromise in what a server showed about itself (INFO, and an import's key names),
 * and the lists they are checked against, in one place: the scan's enrichment and the audit
 * both read these. Every list entry names its source in shared/research/honeypot.md.
 *
 * These are indicators, never certainty: a module may be named `system` by its honest author, a
 * replica may follow a master in another data centre, and a server lies as easily as it tells.
 * Each indicator carries the evidence and says what else it may be.
 */
import { parseIp } from "../net/ip.js";
import { reservedEntryFor } from "../net/reserved.js";
import type { CompromiseIndicator, ProbeResult } from "../schema/result.js";
import { safeText } from "../untrusted/text.js";

/**
 * Key names left by known campaigns, each with a source in shared/research: `backup1`…`backup4`
 * hold the cron lines of droppers (honeypot.md [28][29], §4 WatchDog); `crackit` holds the SSH
 * key of the 2015 campaign and tops Shodan's key names (honeypot.md [66], peers.md). Generic
 * names (`x`, `ssh`) are left out: on a healthy server they would be false alarms.
 */
export const IOC_KEYS: ReadonlySet<string> = new Set([
  "backup1",
  "backup2",
  "backup3",
  "backup4",
  "crackit",
]);

/**
 * Module names (as INFO's `# Modules` section lists them) that known attack tools load.
 * - `system`: the module of redis-rogue-server's exp.so registers itself as `system` with
 *   `system.exec` / `system.rev` (honeypot.md §2.2 [42]); seen in the wild as
 *   `Module 'system' loaded from ./red2.so` (honeypot.md [44][45]).
 * - `exp`, `exp_lin`, `red2`: the file names those tools write and load (`exp.so`, P2PInfect's
 *   `exp_lin.so` (unverified, §4), `red2.so` [44]); a module built from a renamed copy of the
 *   tool's source may register under its file name.
 * HeadCrab's module names are a gap in the research (honeypot.md §2.4): none is listed.
 */
export const MALICIOUS_MODULES: ReadonlyMap<string, string> = new Map([
  ["system", "the module redis-rogue-server's exp.so loads (system.exec, system.rev)"],
  ["exp", "named like exp.so, the rogue-master tools' module file"],
  ["exp_lin", "named like exp_lin.so, P2PInfect's module file (unverified)"],
  ["red2", "named like red2.so, a module file seen loaded by a rogue master"],
]);

/** Paths a `dir` pointing at means someone wrote, or meant to write, files through SAVE. */
export const SUSPICIOUS_DIR =
  /(^|\/)\.ssh(\/|$)|\/var\/spool\/cron|\/etc\/cron|\/var\/www|\/usr\/share\/nginx|\/srv\/www|\/etc\/init\.d|\/root(\/|$)/;
export const SUSPICIOUS_DBFILENAME = /^(authorized_keys\d*|root|crontab|.*\.php|.*\.jsp|.*\.sh)$/i;

/**
 * Where a server's executable or config file should not be: the write targets above (except
 * /root, where many hand-built servers live), shared memory, and hidden directories (droppers
 * hide their copies in `/tmp/.X…`, `~/.cache/.x`).
 */
const SUSPICIOUS_PROGRAM_PATH =
  /(^|\/)\.ssh(\/|$)|\/var\/spool\/cron|\/etc\/cron|\/var\/www|\/usr\/share\/nginx|\/srv\/www|\/etc\/init\.d|^\/dev\/shm\/|\/\.(?!\.?\/)[^/]*\//;

/** Replication ports the published rogue-master tools listen on (honeypot.md §2.2 [40][44]). */
const ROGUE_MASTER_PORTS: ReadonlySet<number> = new Set([8886, 21000]);

/** Key names kept from an import, and the length of each. */
export const MAX_KEPT_KEYS = 64;
export const MAX_KEY_CHARS = 128;
/** Evidence is the server's own words: cut, and cleaned as untrusted text. */
const MAX_EVIDENCE = 200;

export interface CompromiseContext {
  /**
   * Is (ip, port) one of the scan's own targets? A master inside the scanned space is not
   * "outside". Absent for imports and streamed scans: then the indicator says it was not checked.
   */
  inScanSpace?: (ip: string, port: number) => boolean;
}

function evidence(s: string): string {
  return safeText(s, MAX_EVIDENCE);
}

/** Every indicator the result's facts show; an empty list when none. */
export function compromiseIndicators(
  r: ProbeResult,
  ctx: CompromiseContext = {},
): CompromiseIndicator[] {
  const s = r.server;
  if (!s) return [];
  const out: CompromiseIndicator[] = [];

  // An imported record's facts may be anything JSON allows: look only at the expected shapes.
  for (const m of Array.isArray(s.modules) ? s.modules : []) {
    if (typeof m?.name !== "string") continue;
    const known = MALICIOUS_MODULES.get(m.name.toLowerCase());
    if (known === undefined) continue;
    out.push({
      kind: "malicious_module",
      evidence: evidence(`module ${m.name}${m.ver !== undefined ? ` ver ${m.ver}` : ""}`),
      why: `${known}; a legitimate module may share the name`,
    });
  }

  const master = s.master_host;
  if (typeof master === "string" && master !== "" && master !== r.ip) {
    const ip = parseIp(master);
    // A hostname cannot be placed without a lookup (the scan makes none): not judged.
    if (ip !== undefined && reservedEntryFor(ip.family, ip.value) === undefined) {
      const port = typeof s.master_port === "number" ? s.master_port : 6379;
      const inSpace = ctx.inScanSpace?.(master, port);
      if (inSpace !== true) {
        const rogue = ROGUE_MASTER_PORTS.has(port)
          ? `; port ${port} is a rogue-master tool's default`
          : "";
        const space =
          inSpace === false
            ? "not one of this scan's targets"
            : "not checked against a scan space (import or streamed scan)";
        out.push({
          kind: "outside_master",
          evidence: evidence(`role ${s.role ?? "?"}, master_host ${master}:${port}`),
          why: `a replica of a public address, ${space}${rogue}: how rogue-master attacks load modules and overwrite data; also how replication across sites looks`,
        });
      }
    }
  }

  for (const [field, value] of [
    ["config_file", s.config_file],
    ["executable", s.executable],
  ] as const) {
    if (typeof value !== "string" || !SUSPICIOUS_PROGRAM_PATH.test(value)) continue;
    out.push({
      kind: "suspicious_path",
      evidence: evidence(`${field} ${value}`),
      why: "a write target of known attacks, shared memory or a hidden directory: where droppers put their copies; an odd install looks the same",
    });
  }

  const hits = (Array.isArray(s.keys) ? s.keys : []).filter((k) => IOC_KEYS.has(k));
  if (hits.length > 0) {
    out.push({
      kind: "campaign_key",
      evidence: evidence(`keys ${hits.join(", ")}`),
      why: "backup1–backup4 hold droppers' cron lines, crackit the 2015 campaign's SSH key; an application may use the same names",
    });
  }
  return out;
}
