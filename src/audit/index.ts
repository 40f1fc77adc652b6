/**
 * `redscope audit`: gather what the server says about itself (read-only), try the built-in weak
 * passwords against it alone, run the checks, and render findings as text, JSON or SARIF.
 */

import { IOC_KEYS } from "../intel/compromise.js";
import type { CveMatcher } from "../intel/cves.js";
import type { AuditReport, AuditRow, Severity } from "../schema/audit.js";
import { timeOrderedId } from "../store/ids.js";
import { terminalText } from "../untrusted/text.js";
import { runChecks, severityRank } from "./checks.js";
import { AuditClient, type ClientOptions, replyText } from "./client.js";
import { gather } from "./gather.js";
import type { AuditTarget } from "./target.js";

export { CHECKS } from "./checks.js";
export { parseTarget, parseTargetList, TargetError } from "./target.js";

/** Passwords seen in brute-force attempts on honeypots and in leaked configs (tried as AUTH). */
export const WEAK_PASSWORDS = [
  "redis",
  "Redis",
  "password",
  "Password",
  "123456",
  "12345678",
  "admin",
  "root",
  "foobared",
  "default",
  "changeme",
  "test",
  "1234",
  "qwerty",
  "redis123",
  "123456789",
  "P@ssw0rd",
  "pass",
];

export interface AuditOptions extends ClientOptions {
  allowPeers: ReadonlySet<string>;
  cves: CveMatcher | undefined;
  /** Try WEAK_PASSWORDS as AUTH when the server wants a password. */
  tryWeakPasswords: boolean;
  skip: ReadonlySet<string>;
}

/** AUTH with each built-in password on its own connection; the ones the server accepted. */
async function weakPasswords(t: AuditTarget, o: ClientOptions): Promise<string[]> {
  const accepted: string[] = [];
  const user = t.user ?? "default";
  for (const pw of WEAK_PASSWORDS) {
    let c: AuditClient | undefined;
    try {
      c = await AuditClient.connect(t, o);
      // AUTH <pw> on servers before 6.0; AUTH <user> <pw> is refused there with a syntax error.
      let v = await c.call("AUTH", user, pw);
      if (v.type === "error" && /wrong number|syntax/i.test(v.value)) v = await c.call("AUTH", pw);
      if (v.type === "simple" && replyText(v) === "OK") accepted.push(pw);
    } catch {
      // A server that closes on a wrong password (or after too many) accepted nothing.
    } finally {
      c?.close();
    }
  }
  return accepted;
}

/** A report as the store keeps it: time-prefixed id, the worst severity, the report whole. */
export function auditRow(r: AuditReport, now = new Date()): AuditRow {
  const row: AuditRow = {
    id: timeOrderedId(now.getTime()),
    target: r.target,
    time: now.toISOString(),
    findings: r.findings.length,
    record: r,
  };
  // Findings are sorted most severe first.
  const worst = r.error !== undefined ? "error" : r.findings[0]?.severity;
  if (worst !== undefined) row.worst = worst;
  return row;
}

export async function auditTarget(t: AuditTarget, o: AuditOptions): Promise<AuditReport> {
  try {
    const facts = await gather(t, { ...o, wantedKeys: IOC_KEYS });
    const needsPassword = facts.anonymous.ok && /^-NOAUTH/.test(facts.anonymous.value);
    const weak =
      o.tryWeakPasswords && needsPassword && !o.skip.has("RS-AUTH-002")
        ? await weakPasswords(t, o)
        : undefined;
    return runChecks({
      facts,
      allowPeers: o.allowPeers,
      cves: o.cves,
      weakPasswords: weak,
      skip: o.skip,
    });
  } catch (e) {
    return { target: t.label, findings: [], notChecked: [], error: (e as Error).message };
  }
}

/** The exit status CI reads: 1 when any finding is at or above the threshold, or an audit failed. */
export function exitStatus(reports: AuditReport[], failOn: Severity): number {
  const bar = severityRank(failOn);
  const bad = reports.some(
    (r) => r.error !== undefined || r.findings.some((f) => severityRank(f.severity) >= bar),
  );
  return bad ? 1 : 0;
}

// ---- renderers ----

/** Server-supplied text reaches a terminal: the untrusted text policy's terminal form. */
function clean(s: string): string {
  return terminalText(s, 1000);
}

export function renderText(reports: AuditReport[], failOn: Severity): string {
  const out: string[] = [];
  for (const r of reports) {
    const s = r.server;
    const what = s
      ? ` — ${clean(s.product ?? "?")} ${clean(s.version ?? "?")}${s.role ? `, ${clean(s.role)}` : ""}${s.mode ? `, ${clean(s.mode)}` : ""}`
      : "";
    out.push(`${r.target}${what}`);
    if (r.error !== undefined) {
      out.push(`  could not audit: ${clean(r.error)}`, "");
      continue;
    }
    if (r.findings.length === 0) out.push("  no findings");
    for (const f of r.findings) {
      out.push(`  ${f.severity.toUpperCase().padEnd(8)} ${f.id}  ${f.title}`);
      out.push(`           seen: ${clean(f.evidence)}`);
      out.push(`           fix:  ${clean(f.remediation)}`);
    }
    for (const n of r.notChecked) {
      out.push(`  NOT CHECKED ${n.id}  ${n.title}: ${clean(n.reason)}`);
    }
    out.push("");
  }
  const counts = new Map<string, number>();
  for (const r of reports)
    for (const f of r.findings) counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
  const summary = ["critical", "high", "medium", "low", "info"]
    .map((s) => `${counts.get(s) ?? 0} ${s}`)
    .join(", ");
  const failed = reports.filter((r) => r.error !== undefined).length;
  out.push(
    `${reports.length} target${reports.length === 1 ? "" : "s"}: ${summary}${failed ? `; ${failed} could not be audited` : ""} (fail on ${failOn})`,
  );
  return `${out.join("\n")}\n`;
}

export function renderJson(reports: AuditReport[]): string {
  return `${JSON.stringify({ reports }, null, 2)}\n`;
}

const SARIF_LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
  info: "note",
};

/** SARIF 2.1.0, one run: the checks as rules, findings as results located at the target URL. */
export function renderSarif(
  reports: AuditReport[],
  version: string,
  rules: Array<{ id: string; title: string }>,
): string {
  const results = reports.flatMap((r) => [
    ...r.findings.map((f) => ({
      ruleId: f.id,
      level: SARIF_LEVEL[f.severity],
      message: { text: `${f.title}: ${f.evidence}. Fix: ${f.remediation}` },
      locations: [{ physicalLocation: { artifactLocation: { uri: r.target } } }],
      properties: { severity: f.severity },
    })),
    ...(r.error !== undefined
      ? [
          {
            ruleId: "RS-AUDIT-000",
            level: "error" as const,
            message: { text: `could not audit: ${r.error}` },
            locations: [{ physicalLocation: { artifactLocation: { uri: r.target } } }],
          },
        ]
      : []),
  ]);
  const sarif = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "redscope audit",
            version,
            rules: [
              { id: "RS-AUDIT-000", shortDescription: { text: "the target could not be audited" } },
              ...rules.map((c) => ({ id: c.id, shortDescription: { text: c.title } })),
            ],
          },
        },
        results,
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
