/**
 * The hardening checks: each has an id, a severity, and says what it saw (evidence) and the
 * exact change that fixes it (a config line or a command). A check whose facts the audited user
 * could not read reports "not checked" with the reason — never a pass.
 */
import { serverFactsFromInfo } from "../classify/facts.js";
// Suspicious write targets: one list for the audit and the scan's signs of compromise.
import { SUSPICIOUS_DBFILENAME, SUSPICIOUS_DIR } from "../intel/compromise.js";
import { BACKPORTS_WORDING, type CveMatcher } from "../intel/cves.js";
import {
  type AuditReport,
  type Finding,
  type NotChecked,
  type Passed,
  SEVERITIES,
  type Severity,
} from "../schema/audit.js";
import { type AuditFacts, beforeAcl, DANGEROUS_COMMANDS, userRules } from "./gather.js";
import { weakHash, weakPassword } from "./passwords.js";

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export interface CheckContext {
  facts: AuditFacts;
  /** Replication peers the operator expects (host or host:port). */
  allowPeers: ReadonlySet<string>;
  cves: CveMatcher | undefined;
  /**
   * The online weak-password tries (servers before 6.0 only): how many AUTHs were sent, how many
   * the server accepted; undefined when none were made.
   */
  online?: { tries: number; accepted: number } | undefined;
  /** Check ids not to run (--skip). */
  skip?: ReadonlySet<string>;
  /** Certificates are judged against this time. */
  now: Date;
}

/** A check that does not apply to this server: the setting does not exist in its version. */
interface NotApplicable {
  notApplicable: string;
}

/** A pass with a note (e.g. how many passwords were tried). */
interface PassedWith {
  passed: string;
}

type Outcome = Finding[] | NotChecked | NotApplicable | PassedWith | undefined;

interface Check {
  id: string;
  title: string;
  run(c: CheckContext): Outcome;
}

function notApplicable(reason: string): NotApplicable {
  return { notApplicable: reason };
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
      const fix = "a random secret of at least 32 characters (openssl rand -base64 32)";
      const t = c.facts.target;
      const me = t.user ?? (c.facts.whoami.ok ? c.facts.whoami.value : "default");
      let meWeak = false;
      if (t.password !== undefined) {
        const weak = weakPassword(me, t.password);
        meWeak = weak !== undefined;
        if (weak !== undefined || t.password.length < 16) {
          out.push({
            id: this.id,
            severity: weak !== undefined ? "critical" : "high",
            title: this.title,
            evidence: `the audited user's password is ${weak ?? `${t.password.length} characters long`}`,
            remediation: fix,
          });
        }
      }
      if (c.facts.acl.ok) {
        // Every user's password hashes, offline: nothing is sent to the server.
        for (const line of c.facts.acl.value) {
          const w = line.split(" ");
          if (w[0] !== "user" || w[1] === undefined) continue;
          const user = w[1];
          const on = w.includes("on");
          if (on && user !== "default" && w.includes("nopass")) {
            out.push({
              id: this.id,
              severity: "critical",
              title: this.title,
              evidence: `user ${user} is on with nopass: any password is accepted`,
              remediation: `ACL SETUSER ${user} resetpass >secret (${fix}), then ACL SAVE`,
            });
          }
          for (const x of w) {
            // The audited user's own weak password is reported once, above.
            if (!x.startsWith("#") || (user === me && meWeak)) continue;
            const weak = weakHash(user, x.slice(1));
            if (weak === undefined) continue;
            out.push({
              id: this.id,
              severity: on ? "critical" : "medium",
              title: this.title,
              evidence: `user ${user}${on ? "" : " (off)"}: its password is ${weak} (SHA-256 from ACL LIST, checked offline)`,
              remediation: `ACL SETUSER ${user} resetpass >secret (${fix}), then ACL SAVE`,
            });
          }
        }
        return out;
      }
      const old =
        beforeAcl(c.facts) === true ||
        /unknown command/i.test(c.facts.acl.reason) ||
        (major(c) ?? 6) < 6;
      if (!old) {
        // 6.0+ without ACL LIST: the other users' hashes are unknown.
        if (out.length > 0) return out;
        return notChecked(this.id, this.title, `users' password hashes: ${c.facts.acl.reason}`);
      }
      // Before 6.0: one requirepass and no hashes to read.
      if (t.password !== undefined)
        return out.length > 0
          ? out
          : { passed: "the given password (checked offline; no AUTH guess sent)" };
      if (c.online !== undefined) {
        if (c.online.accepted > 0) {
          return [
            {
              id: this.id,
              severity: "critical",
              title: this.title,
              evidence: `the server (before 6.0: no ACL to read) accepted a password from the built-in list; ${c.online.tries} AUTH tries made`,
              remediation: `requirepass <${fix}>`,
            },
          ];
        }
        return {
          passed: `none of ${c.online.tries} built-in passwords accepted (${c.online.tries} AUTH tries made: before 6.0 there are no hashes to read)`,
        };
      }
      const a = c.facts.anonymous;
      if (a.ok && !a.value.startsWith("-")) {
        return notApplicable("no password is set (see RS-AUTH-001)");
      }
      return notChecked(
        this.id,
        this.title,
        "before 6.0 the password can only be tried online, and the tries were off (--no-weak-passwords): give the password to check it offline",
      );
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
      if (!m) return configUnreadable(this, c);
      if (!m.has("enable-debug-command")) {
        return notApplicable(
          "before 7.0: no enable-debug-command, enable-module-command or enable-protected-configs",
        );
      }
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
      const unread = DANGEROUS_COMMANDS.flatMap((n) => {
        const e = c.facts.commands.get(n)?.exists;
        return e === undefined ? [`${n} (not asked)`] : e.ok ? [] : [`${n} (${e.reason})`];
      });
      if (gone.length === 0 && unread.length > 0) {
        return notChecked(this.id, this.title, unread.slice(0, 3).join("; "));
      }
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
      let severity: Finding["severity"] =
        score >= 9 ? "critical" : score >= 7 ? "high" : score >= 4 ? "medium" : "low";
      // A distribution's package (Debian's /usr/bin/redis-server) keeps the upstream version when
      // it backports a fix, so the list is "by upstream version" and may be wrong. Not a bare
      // CRITICAL then, but still HIGH: distributions often lag or skip fixes (Debian's 7.0.15
      // is past upstream's end of life), so the finding must still be acted on — by checking the
      // package's changelog for the listed ids, or upgrading.
      if (m.backports_possible && severity === "critical") severity = "high";
      const fixed = m.cves.map((x) => x.fixed_in).filter((x): x is string => x !== undefined);
      const unfixed = m.cves.filter((x) => x.unfixed).map((x) => x.id);
      const caveats = [
        ...(m.backports_possible
          ? [
              `${BACKPORTS_WORDING} (${facts.executable}): check the package changelog for these ids`,
            ]
          : []),
        ...(m.ambiguous !== undefined ? [`ambiguous: ${m.ambiguous}`] : []),
        ...(unfixed.length > 0 ? [`no release fixes ${unfixed.slice(0, 5).join(", ")}`] : []),
      ];
      return [
        {
          id: this.id,
          severity,
          title: this.title,
          evidence: `${facts.product ?? "redis"} ${facts.version ?? "?"}: ${m.cves.length} CVEs, e.g. ${m.cves
            .slice(0, 5)
            .map((x) => `${x.id}${x.cvss !== undefined ? ` (${x.cvss})` : ""}`)
            .join(", ")}${caveats.length > 0 ? `; ${caveats.join("; ")}` : ""}`,
          remediation:
            fixed.length > 0
              ? `upgrade to ${highestVersion(fixed)} or later${unfixed.length > 0 ? "; for the unfixed ones, deny the commands they need to untrusted users (ACL, e.g. -@scripting for the Lua ones) or move to a maintained product" : ""}`
              : unfixed.length > 0
                ? "no release fixes these: deny the commands they need to untrusted users (ACL, e.g. -@scripting for the Lua ones) or move to a maintained product"
                : "upgrade to the latest release of a supported branch",
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
  {
    id: "RS-LOG-001",
    title: "server log lost or too quiet",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      const out: Finding[] = [];
      const file = m.get("logfile") ?? "";
      const syslog = m.get("syslog-enabled") === "yes";
      if (file === "" && !syslog && m.get("daemonize") === "yes") {
        out.push({
          id: this.id,
          severity: "medium",
          title: this.title,
          evidence:
            'logfile "" with daemonize yes and syslog-enabled no: the log goes to /dev/null',
          remediation: "logfile /var/log/redis/redis-server.log (or syslog-enabled yes)",
        });
      } else if (file === "" && !syslog) {
        out.push({
          id: this.id,
          severity: "info",
          title: this.title,
          evidence:
            'logfile "": the log goes to standard output, kept only if the service manager keeps it',
          remediation:
            "logfile /var/log/redis/redis-server.log, or make sure systemd/the container runtime keeps stdout",
        });
      }
      const level = m.get("loglevel");
      if (level === "warning" || level === "nothing") {
        out.push({
          id: this.id,
          severity: level === "nothing" ? "medium" : "low",
          title: this.title,
          evidence: `loglevel ${level}: replication, client and configuration events are not logged`,
          remediation: "loglevel notice",
        });
      }
      return out;
    },
  },
  {
    id: "RS-ACL-003",
    title: "ACL users not kept in an ACL file",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      if (!m.has("aclfile")) return notApplicable("before 6.0: no ACL");
      if (!c.facts.acl.ok) return aclUnreadable(this, c);
      if ((m.get("aclfile") ?? "") !== "") return [];
      const users = c.facts.acl.value
        .map((l) => l.split(" "))
        .filter((w) => w[0] === "user" && w[1] !== "default")
        .map((w) => w[1]!);
      if (users.length === 0) return [];
      return [
        {
          id: this.id,
          severity: "low",
          title: this.title,
          evidence: `aclfile "" with ${users.length} ACL user${users.length === 1 ? "" : "s"} (${users.slice(0, 5).join(", ")}${users.length > 5 ? ", …" : ""}): ACL SAVE fails, and users changed with ACL SETUSER are lost at restart unless CONFIG REWRITE runs`,
          remediation:
            "aclfile /etc/redis/users.acl (move the user lines from redis.conf there), then ACL SAVE after each change",
        },
      ];
    },
  },
  {
    id: "RS-TLS-002",
    title: "weak TLS settings or certificate",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      if (!m.has("tls-port")) return notApplicable("this build has no TLS (no tls-port parameter)");
      if (Number(m.get("tls-port") ?? "0") === 0 && !c.facts.target.tls) {
        return notApplicable("TLS is off (tls-port 0; see RS-TLS-001)");
      }
      const out: Finding[] = [];
      const f = (severity: Severity, evidence: string, remediation: string): void => {
        out.push({ id: this.id, severity, title: this.title, evidence, remediation });
      };
      const protocols = (m.get("tls-protocols") ?? "").split(/\s+/);
      const old = protocols.filter((p) => /^tlsv1(\.1)?$/i.test(p));
      if (old.length > 0) {
        f(
          "medium",
          `tls-protocols ${m.get("tls-protocols")}: ${old.join(" and ")} allowed`,
          'tls-protocols "TLSv1.2 TLSv1.3"',
        );
      }
      const weakCiphers = (m.get("tls-ciphers") ?? "")
        .split(/[:,\s]+/)
        .filter((x) => x !== "" && !/^[!-]/.test(x))
        .filter((x) => /RC4|(^|[-+])3?DES|NULL|EXP|MD5|anon|ADH|AECDH|^LOW$/i.test(x));
      if (weakCiphers.length > 0) {
        f(
          "medium",
          `tls-ciphers allows ${weakCiphers.slice(0, 5).join(", ")}`,
          'tls-ciphers "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!MD5:!RC4:!3DES" (or leave it unset for OpenSSL\'s defaults)',
        );
      }
      const suites = (m.get("tls-ciphersuites") ?? "").split(":").filter((x) => /CCM_8/i.test(x));
      if (suites.length > 0) {
        f(
          "low",
          `tls-ciphersuites allows ${suites.join(", ")} (8-byte authentication tag)`,
          "tls-ciphersuites TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
        );
      }
      if (m.get("tls-auth-clients") === "no") {
        f(
          "low",
          "tls-auth-clients no: clients need no certificate, the password is the only guard",
          "tls-auth-clients yes (or optional), with tls-ca-cert-file naming the CA of your clients",
        );
      }
      const cert = c.facts.certificate;
      if (!cert.ok) {
        if (out.length > 0) return out;
        return notChecked(this.id, this.title, `certificate: ${cert.reason}`);
      }
      if (cert.value !== undefined) {
        const left = (Date.parse(cert.value.validTo) - c.now.getTime()) / 86_400_000;
        const who = cert.value.subject ? ` (CN ${cert.value.subject})` : "";
        if (left <= 0) {
          f(
            "high",
            `the certificate${who} expired on ${cert.value.validTo.slice(0, 10)}`,
            "a new certificate in tls-cert-file, then CONFIG SET tls-cert-file (reloads it)",
          );
        } else if (left < 30) {
          f(
            "medium",
            `the certificate${who} expires on ${cert.value.validTo.slice(0, 10)}, in ${Math.floor(left)} days`,
            "renew it, then CONFIG SET tls-cert-file (reloads it)",
          );
        }
      }
      return out;
    },
  },
  {
    id: "RS-CONN-001",
    title: "idle clients never disconnected",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      if (m.get("timeout") !== "0") return [];
      return [
        {
          id: this.id,
          severity: "low",
          title: this.title,
          evidence: "timeout 0: idle connections stay open for ever and hold client slots",
          remediation: "timeout 300 (clients with pools reconnect; pub/sub clients are not closed)",
        },
      ];
    },
  },
  {
    id: "RS-CONN-002",
    title: "close to the client limit",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      if (!c.facts.info.ok) return notChecked(this.id, this.title, c.facts.info.reason);
      const max = Number(m.get("maxclients"));
      const now = Number(c.facts.info.value.fields.get("connected_clients"));
      if (!Number.isFinite(max) || max <= 0 || !Number.isFinite(now)) {
        return notChecked(this.id, this.title, "no maxclients or connected_clients to compare");
      }
      if (now < max * 0.8) return [];
      return [
        {
          id: this.id,
          severity: "medium",
          title: this.title,
          evidence: `${now} clients connected of maxclients ${max}: new ones will be refused`,
          remediation:
            "find who holds the connections (CLIENT LIST), set timeout, and raise maxclients (and the open-files limit) if the load is real",
        },
      ];
    },
  },
  {
    id: "RS-MEM-001",
    title: "unlimited output buffers for pub/sub or replica clients",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      const v = m.get("client-output-buffer-limit");
      if (v === undefined) return notApplicable("no client-output-buffer-limit parameter");
      const limits = new Map<string, number[]>();
      const w = v.trim().split(/\s+/);
      for (let i = 0; i + 3 < w.length; i += 4) {
        limits.set(w[i]!.replace("slave", "replica"), w.slice(i + 1, i + 4).map(Number));
      }
      const unlimited = (cls: string): boolean => {
        const l = limits.get(cls);
        return l !== undefined && l[0] === 0 && l[1] === 0;
      };
      const out: Finding[] = [];
      if (unlimited("pubsub")) {
        out.push({
          id: this.id,
          severity: unlimited("normal") && m.get("maxmemory") === "0" ? "high" : "medium",
          title: this.title,
          evidence: `client-output-buffer-limit pubsub 0 0 0${unlimited("normal") ? " (and normal 0 0 0)" : ""}: a slow or stalled subscriber makes the server buffer without end, until it runs out of memory`,
          remediation: "client-output-buffer-limit pubsub 32mb 8mb 60",
        });
      }
      if (unlimited("replica")) {
        out.push({
          id: this.id,
          severity: "low",
          title: this.title,
          evidence:
            "client-output-buffer-limit replica 0 0 0: a lagging replica's buffer has no limit",
          remediation: "client-output-buffer-limit replica 256mb 64mb 60",
        });
      }
      return out;
    },
  },
  {
    id: "RS-REPL-002",
    title: "replication without authentication",
    run(c) {
      if (!c.facts.info.ok) return notChecked(this.id, this.title, c.facts.info.reason);
      const info = c.facts.info.value.fields;
      if (info.get("role") !== "slave") return [];
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      const master = `${info.get("master_host") ?? "?"}:${info.get("master_port") ?? "?"}`;
      if ((m.get("masterauth") ?? "") === "") {
        return [
          {
            id: this.id,
            severity: "medium",
            title: this.title,
            evidence: `replicating from ${master} with no masterauth: the master takes replicas without a password (or the link fails)`,
            remediation:
              "requirepass (or an ACL user) on the master; masterauth <secret> (6.0+: masteruser <user> too) here",
          },
        ];
      }
      if (m.has("masteruser") && (m.get("masteruser") ?? "") === "") {
        return [
          {
            id: this.id,
            severity: "low",
            title: this.title,
            evidence: `replicating from ${master} as the master's default user (masteruser "")`,
            remediation:
              "ACL SETUSER replica on >secret +psync +replconf +ping on the master; masteruser replica here",
          },
        ];
      }
      return [];
    },
  },
  {
    id: "RS-NET-003",
    title: "Unix socket open to every local user",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      if (!m.has("unixsocket")) return notApplicable("no unixsocket parameter");
      const sock = m.get("unixsocket") ?? "";
      if (sock === "") return [];
      const perm = Number.parseInt(m.get("unixsocketperm") ?? "0", 8);
      if (!(perm & 0o002)) return [];
      return [
        {
          id: this.id,
          severity: "medium",
          title: this.title,
          evidence: `unixsocket ${sock} with unixsocketperm ${(perm & 0o777).toString(8).padStart(3, "0")}: any local user can connect`,
          remediation: "unixsocketperm 700 (or 770 with the clients' group)",
        },
      ];
    },
  },
  {
    id: "RS-ACL-004",
    title: "recent failed logins (brute force in progress?)",
    run(c) {
      const log = c.facts.aclLog;
      if (!log.ok) {
        if (/unknown command/i.test(log.reason)) return notApplicable("before 6.0: no ACL LOG");
        return notChecked(this.id, this.title, log.reason);
      }
      const recent = log.value.filter((e) => e.reason === "auth" && e.ageSeconds < 86_400);
      const failures = recent.reduce((n, e) => n + e.count, 0);
      if (failures === 0) return [];
      const addrs = [...new Set(recent.map((e) => e.addr.replace(/:\d+$/, "")))];
      const users = [...new Set(recent.map((e) => e.username))];
      return [
        {
          id: this.id,
          severity: failures >= 10 ? "high" : "low",
          title: this.title,
          evidence: `${failures} failed AUTH${failures === 1 ? "" : "s"} in the last 24 hours (ACL LOG) for ${users
            .slice(0, 5)
            .map((u) => JSON.stringify(u))
            .join(", ")}, last from ${addrs.slice(0, 5).join(", ")}`,
          remediation:
            "find out who these addresses are; if not yours, firewall them and rotate the passwords (ACL LOG keeps only the last entries: ACL LOG RESET after reading)",
        },
      ];
    },
  },
  {
    id: "RS-CLUSTER-001",
    title: "cluster bus without authentication",
    run(c) {
      const m = cfg(c);
      if (!m) return configUnreadable(this, c);
      if (!m.has("cluster-enabled")) return notApplicable("no cluster support in this version");
      if (m.get("cluster-enabled") !== "yes")
        return notApplicable("not a cluster node (cluster-enabled no)");
      if (m.get("tls-cluster") === "yes") return [];
      const cport = Number(m.get("cluster-port") ?? "0");
      const bus = cport > 0 ? cport : Number(m.get("port") ?? "6379") + 10000;
      const guard = m.get("cluster-bus-port-protected-mode");
      return [
        {
          id: this.id,
          severity: "high",
          title: this.title,
          evidence: `cluster-enabled yes, ${m.has("tls-cluster") ? "tls-cluster no" : "no tls-cluster in this build"}: anyone who reaches the bus port ${bus} can speak the cluster protocol and take over the cluster${guard !== undefined ? ` (cluster-bus-port-protected-mode ${guard})` : ""}`,
          remediation: `tls-cluster yes with tls-auth-clients yes (6.0+ TLS builds), and firewall port ${bus} to the cluster's own nodes${guard !== undefined ? "; cluster-bus-port-protected-mode yes" : ""}`,
        },
      ];
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
): NotChecked | NotApplicable {
  if (!c.facts.acl.ok && /unknown command/i.test(c.facts.acl.reason))
    return notApplicable("before 6.0: no ACL");
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
  const passed: Passed[] = [];
  const notApplicableChecks: NotChecked[] = [];
  const left: string[] = [];
  for (const check of CHECKS) {
    if (ctx.skip?.has(check.id)) {
      left.push(check.id);
      continue;
    }
    const r = check.run(ctx);
    const head = { id: check.id, title: check.title };
    if (r === undefined) continue;
    if (Array.isArray(r)) {
      if (r.length === 0) passed.push(head);
      findings.push(...r);
    } else if ("notApplicable" in r) {
      notApplicableChecks.push({ ...head, reason: r.notApplicable });
    } else if ("passed" in r) {
      passed.push({ ...head, detail: r.passed });
    } else skipped.push(r);
  }
  findings.sort(
    (a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id),
  );
  const report: AuditReport = {
    target: ctx.facts.target.label,
    findings,
    notChecked: skipped,
    passed,
    notApplicable: notApplicableChecks,
  };
  if (left.length > 0) report.skipped = left;
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
