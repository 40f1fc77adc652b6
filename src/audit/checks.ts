/**
 * The hardening checks: each has an id, a severity, and says what it saw (evidence) and the
 * exact change that fixes it (a config line or a command). A check whose facts the audited user
 * could not read reports "not checked" with the reason — never a pass.
 */
import { serverFactsFromInfo } from "../classify/facts.js";
// Suspicious write targets: one list for the audit and the scan's signs of compromise.
import { SUSPICIOUS_DBFILENAME, SUSPICIOUS_DIR } from "../intel/compromise.js";
import type { CveMatcher } from "../intel/cves.js";
import {
  type AuditReport,
  type Finding,
  type NotChecked,
  SEVERITIES,
  type Severity,
} from "../schema/audit.js";
import { type AuditFacts, DANGEROUS_COMMANDS, userRules } from "./gather.js";

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export interface CheckContext {
  facts: AuditFacts;
  /** Replication peers the operator expects (host or host:port). */
  allowPeers: ReadonlySet<string>;
  cves: CveMatcher | undefined;
  /** Passwords from the built-in list that the server accepted (weak-password check). */
  weakPasswords: string[] | undefined;
  /** Check ids not to run (--skip). */
  skip?: ReadonlySet<string>;
}

interface Check {
  id: string;
  title: string;
  run(c: CheckContext): Finding[] | NotChecked | undefined;
}

function notChecked(id: string, title: string, reason: string): NotChecked {
  return { id, title, reason };
}

function cfg(c: CheckContext): Map<string, string> | undefined {
  return c.facts.config.ok ? c.facts.config.value : undefined;
}

function major(c: CheckContext): number | undefined {
  if (!c.facts.info.ok) return undefined;
  const v = c.facts.info.value.fields.get("redis_version");
  return v === undefined ? undefined : Number(v.split(".")[0]);
}

export const CHECKS: Check[] = [
  {
    id: "RS-AUTH-001",
    title: "reachable without authentication",
    run(c) {
      const a = c.facts.anonymous;
      if (!a.ok) return notChecked(this.id, this.title, `anonymous connection: ${a.reason}`);
      if (a.value.startsWith("-")) return [];
      return [
        {
          id: this.id,
          severity: "critical",
          title: this.title,
          evidence: `PING without AUTH answered ${a.value}`,
          remediation:
            "requirepass <a long random secret> (6.0+: ACL SETUSER default on >secret, or off with named users)",
        },
      ];
    },
  },
  {
    id: "RS-NET-001",
    title: "protected mode off",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      if (m.get("protected-mode") !== "no") return [];
      const open = c.facts.anonymous.ok && !c.facts.anonymous.value.startsWith("-");
      return [
        {
          id: this.id,
          severity: open ? "high" : "medium",
          title: this.title,
          evidence: "protected-mode no",
          remediation: "protected-mode yes",
        },
      ];
    },
  },
  {
    id: "RS-NET-002",
    title: "bound to all interfaces",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      const bind = (m.get("bind") ?? "").trim();
      const words = bind.split(/\s+/).map((w) => w.replace(/^-/, ""));
      const all =
        bind === "" || words.some((w) => w === "0.0.0.0" || w === "*" || w === "::" || w === "::*");
      if (!all) return [];
      return [
        {
          id: this.id,
          severity: "medium",
          title: this.title,
          evidence: `bind ${bind === "" ? '""' : bind}`,
          remediation: "bind 127.0.0.1 -::1 <the private address clients use>",
        },
      ];
    },
  },
  {
    id: "RS-ACL-001",
    title: "default user enabled without a password",
    run(c) {
      const rules = userRules(c.facts, "default");
      if (rules === undefined) return aclUnreadable(this, c);
      if (!rules.includes("on") || !rules.includes("nopass")) return [];
      return [
        {
          id: this.id,
          severity: "critical",
          title: this.title,
          evidence: `user default ${rules.join(" ")}`.slice(0, 300),
          remediation:
            "ACL SETUSER default on resetpass >secret (or: ACL SETUSER default off), then ACL SAVE",
        },
      ];
    },
  },
  {
    id: "RS-ACL-002",
    title: "ACL users without command or key restrictions",
    run(c) {
      if (!c.facts.acl.ok) return aclUnreadable(this, c);
      const out: Finding[] = [];
      for (const line of c.facts.acl.value) {
        const w = line.split(" ");
        if (w[0] !== "user" || !w.includes("on")) continue;
        const keys = w.filter((x) => x.startsWith("~") || x === "allkeys" || x.startsWith("%"));
        const allKeys = keys.includes("~*") || keys.includes("allkeys");
        if (!everyCommand(w)) continue;
        const user = w[1]!;
        out.push({
          id: this.id,
          severity: user === "default" && allKeys ? "high" : "medium",
          title: this.title,
          evidence: allKeys
            ? `user ${user}: +@all ~*`
            : `user ${user}: +@all (keys ${keys.join(" ") || "none"}; CONFIG, MODULE and the like take no key)`,
          remediation: `ACL SETUSER ${user} resetkeys ~<prefix>:* -@all +@read +@write -@dangerous (what the application needs), then ACL SAVE`,
        });
      }
      return out;
    },
  },
  {
    id: "RS-AUTH-002",
    title: "weak password",
    run(c) {
      const out: Finding[] = [];
      const pw = c.facts.target.password;
      if (pw !== undefined && pw.length < 16) {
        out.push({
          id: this.id,
          severity: "high",
          title: this.title,
          evidence: `the audited user's password has ${pw.length} characters`,
          remediation: "a random secret of at least 32 characters (openssl rand -base64 32)",
        });
      }
      if (c.weakPasswords === undefined) return out;
      for (const w of c.weakPasswords) {
        out.push({
          id: this.id,
          severity: "critical",
          title: this.title,
          evidence: `the server accepts a password from the built-in list (${w.length} characters)`,
          remediation: "a random secret of at least 32 characters (openssl rand -base64 32)",
        });
      }
      return out;
    },
  },
  {
    id: "RS-TLS-001",
    title: "TLS off, or a plaintext port beside it",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      const tlsPort = Number(m.get("tls-port") ?? "0");
      const port = Number(m.get("port") ?? "6379");
      if (tlsPort === 0) {
        return [
          {
            id: this.id,
            severity: "medium",
            title: this.title,
            evidence: m.has("tls-port")
              ? "tls-port 0"
              : "this build has no TLS (no tls-port parameter)",
            remediation: "tls-port 6379, port 0, tls-cert-file/tls-key-file/tls-ca-cert-file",
          },
        ];
      }
      if (port !== 0) {
        return [
          {
            id: this.id,
            severity: "medium",
            title: this.title,
            evidence: `tls-port ${tlsPort} and plaintext port ${port}`,
            remediation: "port 0",
          },
        ];
      }
      return [];
    },
  },
  {
    id: "RS-CMD-001",
    title: "dangerous commands reachable by the audited user",
    run(c) {
      const reachable: string[] = [];
      const unknown: string[] = [];
      for (const name of DANGEROUS_COMMANDS) {
        const a = c.facts.commands.get(name);
        if (!a) continue;
        if (!a.allowed.ok) unknown.push(`${name} (${a.allowed.reason})`);
        else if (a.allowed.value && (!a.exists.ok || a.exists.value)) reachable.push(name);
      }
      if (reachable.length === 0 && unknown.length > 0) {
        return notChecked(this.id, this.title, unknown.join("; "));
      }
      if (reachable.length === 0) return [];
      const admin = reachable.some((n) =>
        ["CONFIG", "MODULE", "DEBUG", "SLAVEOF", "REPLICAOF"].includes(n),
      );
      const user = c.facts.whoami.ok ? c.facts.whoami.value : "default";
      return [
        {
          id: this.id,
          severity: admin ? "high" : "medium",
          title: this.title,
          evidence: reachable.join(", "),
          remediation:
            (major(c) ?? 0) >= 6
              ? `ACL SETUSER ${user} -@dangerous -@scripting (or -${reachable.map((n) => n.toLowerCase()).join(" -")}), then ACL SAVE`
              : `rename-command ${reachable[0]} "" (one line per command; Redis < 6 has no ACL)`,
        },
      ];
    },
  },
  {
    id: "RS-CMD-002",
    title: "Redis 7 admin commands enabled",
    run(c) {
      const m = cfg(c);
      if ((major(c) ?? 0) < 7) return [];
      if (!m) return configUnreadable(this, c);
      const out: Finding[] = [];
      for (const [name, sev] of [
        ["enable-protected-configs", "high"],
        ["enable-debug-command", "medium"],
        ["enable-module-command", "high"],
      ] as const) {
        const v = m.get(name);
        if (v === "yes") {
          out.push({
            id: this.id,
            severity: sev,
            title: this.title,
            evidence: `${name} yes`,
            remediation: `${name} no (or local: loopback connections only)`,
          });
        }
      }
      return out;
    },
  },
  {
    id: "RS-CMD-003",
    title: "dangerous commands renamed or disabled",
    run(c) {
      const gone = DANGEROUS_COMMANDS.filter((n) => {
        const a = c.facts.commands.get(n);
        return a?.exists.ok === true && !a.exists.value;
      });
      if (gone.length === 0) return [];
      return [
        {
          id: this.id,
          severity: "info",
          title: this.title,
          evidence: `not under their names: ${gone.join(", ")}`,
          remediation: "nothing to do (ACLs are the supported way from 6.0)",
        },
      ];
    },
  },
  {
    id: "RS-REPL-001",
    title: "replication peers outside the allow-list",
    run(c) {
      if (!c.facts.info.ok) return notChecked(this.id, this.title, c.facts.info.reason);
      const info = c.facts.info.value;
      const peers: Array<{ addr: string; master: boolean }> = [];
      const host = info.fields.get("master_host");
      if (info.fields.get("role") === "slave" && host) {
        peers.push({ addr: `${host}:${info.fields.get("master_port") ?? "6379"}`, master: true });
      }
      for (const r of info.replicas) {
        if (r.ip) peers.push({ addr: `${r.ip}:${r.port ?? "?"}`, master: false });
      }
      const allowed = (addr: string): boolean =>
        c.allowPeers.has(addr) || c.allowPeers.has(addr.replace(/:[^:]*$/, ""));
      return peers
        .filter((p) => !allowed(p.addr))
        .map((p) => ({
          id: this.id,
          severity: "high" as const,
          title: this.title,
          evidence: p.master ? `replicating from ${p.addr}` : `replica ${p.addr}`,
          remediation: p.master
            ? "REPLICAOF NO ONE (if this master is not yours, assume compromise), then find out who set it"
            : "masterauth/requirepass on both sides; bind and firewall so only known replicas connect",
        }));
    },
  },
  {
    id: "RS-IOC-001",
    title: "persistence path points at SSH keys, cron or a web root",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      const dir = m.get("dir") ?? "";
      const file = m.get("dbfilename") ?? "";
      if (!SUSPICIOUS_DIR.test(dir) && !SUSPICIOUS_DBFILENAME.test(file)) return [];
      return [
        {
          id: this.id,
          severity: "critical",
          title: this.title,
          evidence: `dir ${dir}, dbfilename ${file}`,
          remediation:
            "treat the host as compromised: check authorized_keys, crontabs and web roots; then dir /var/lib/redis, dbfilename dump.rdb, and enable-protected-configs no (7.0+)",
        },
      ];
    },
  },
  {
    id: "RS-IOC-002",
    title: "keys left by known attack campaigns",
    run(c) {
      const k = c.facts.keys;
      if (!k.ok) return notChecked(this.id, this.title, k.reason);
      if (k.value.length === 0) return [];
      return [
        {
          id: this.id,
          severity: "critical",
          title: this.title,
          evidence: k.value
            .slice(0, 20)
            .map((x) => `db${x.db}:${JSON.stringify(x.key)}`)
            .join(", "),
          remediation:
            "treat the host as compromised (these keys carry cron lines or SSH keys written with SAVE); inspect them with GET, then DEL them",
        },
      ];
    },
  },
  {
    id: "RS-VER-001",
    title: "version with known CVEs",
    run(c) {
      if (!c.facts.info.ok) return notChecked(this.id, this.title, c.facts.info.reason);
      if (!c.cves) return notChecked(this.id, this.title, "no CVE table (redscope intel update)");
      const facts = serverFactsFromInfo(c.facts.info.value);
      const m = c.cves.match(facts);
      if (m.cves.length === 0) return [];
      const top = m.cves[0]!;
      const score = top.cvss ?? 0;
      const fixed = m.cves.map((x) => x.fixed_in).filter((x): x is string => x !== undefined);
      return [
        {
          id: this.id,
          severity: score >= 9 ? "critical" : score >= 7 ? "high" : score >= 4 ? "medium" : "low",
          title: this.title,
          evidence: `${facts.product ?? "redis"} ${facts.version ?? "?"}: ${m.cves.length} CVEs, e.g. ${m.cves
            .slice(0, 5)
            .map((x) => `${x.id}${x.cvss !== undefined ? ` (${x.cvss})` : ""}`)
            .join(", ")}`,
          remediation: `upgrade to ${highestVersion(fixed) ?? "the latest release of a supported branch"} or later`,
        },
      ];
    },
  },
  {
    id: "RS-PERSIST-001",
    title: "settings that lose data or crash under load",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      const out: Finding[] = [];
      if (m.get("maxmemory") === "0") {
        out.push({
          id: this.id,
          severity: "medium",
          title: this.title,
          evidence: "maxmemory 0 (no limit: the kernel's OOM killer decides)",
          remediation:
            "maxmemory <about 3/4 of the memory you give Redis>, maxmemory-policy <noeviction for data, allkeys-lru for a cache>",
        });
      }
      if ((m.get("save") ?? "") === "" && m.get("appendonly") !== "yes") {
        out.push({
          id: this.id,
          severity: "low",
          title: this.title,
          evidence: 'save "" and appendonly no: a restart loses every key',
          remediation:
            "appendonly yes (or save 3600 1 300 100 60 10000) if the data must survive a restart",
        });
      }
      return out;
    },
  },
];

/**
 * Every command: +@all (or allcommands) with no removal after it. ACL LIST prints the rules in
 * the order they apply, so `+@all -@dangerous` is a restricted user and `-debug +@all` is not.
 */
function everyCommand(words: string[]): boolean {
  const i = Math.max(words.lastIndexOf("+@all"), words.lastIndexOf("allcommands"));
  return i >= 0 && !words.slice(i + 1).some((x) => x.startsWith("-") || x === "nocommands");
}

function configUnreadable(check: { id: string; title: string }, c: CheckContext): NotChecked {
  return notChecked(check.id, check.title, c.facts.config.ok ? "" : c.facts.config.reason);
}

function aclUnreadable(
  check: { id: string; title: string },
  c: CheckContext,
): NotChecked | Finding[] {
  if (!c.facts.acl.ok && /unknown command/i.test(c.facts.acl.reason)) return []; // before 6.0: no ACL
  return notChecked(
    check.id,
    check.title,
    c.facts.acl.ok ? "the user is not in ACL LIST" : c.facts.acl.reason,
  );
}

function highestVersion(vs: string[]): string | undefined {
  const key = (v: string): number[] => v.split(".").map((x) => Number(x) || 0);
  return [...vs]
    .sort((a, b) => {
      const x = key(a);
      const y = key(b);
      for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
      return 0;
    })
    .at(-1);
}

export function runChecks(ctx: CheckContext): AuditReport {
  const findings: Finding[] = [];
  const skipped: NotChecked[] = [];
  for (const check of CHECKS) {
    if (ctx.skip?.has(check.id)) continue;
    const r = check.run(ctx);
    if (r === undefined) continue;
    if (Array.isArray(r)) findings.push(...r);
    else skipped.push(r);
  }
  findings.sort(
    (a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id),
  );
  const report: AuditReport = { target: ctx.facts.target.label, findings, notChecked: skipped };
  if (ctx.facts.info.ok) {
    const f = serverFactsFromInfo(ctx.facts.info.value);
    const server: NonNullable<AuditReport["server"]> = {};
    if (f.product) server.product = f.product;
    if (f.version) server.version = f.version;
    const role = ctx.facts.info.value.fields.get("role");
    if (role) server.role = role;
    const mode = ctx.facts.info.value.fields.get("redis_mode");
    if (mode) server.mode = mode;
    report.server = server;
  }
  return report;
}
