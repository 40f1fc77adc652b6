/**
 * `redscope audit`: gather what the server says about itself (read-only), check every ACL
 * user's password hash offline against a bundled list (servers before 6.0, with no ACL, are the
 * only ones tried online), run the checks, and render passed, failed and not-checked checks as
 * text, JSON or SARIF.
 */

import { IOC_KEYS } from "../intel/compromise.js";
import type { CveMatcher } from "../intel/cves.js";
import {
  type AuditReport,
  type AuditRow,
  auditCounts,
  countsLine,
  NOT_CHECKABLE,
  type Severity,
} from "../schema/audit.js";
import { timeOrderedId } from "../store/ids.js";
import { terminalText } from "../untrusted/text.js";
import { runChecks, severityRank } from "./checks.js";
import { AuditClient, type ClientOptions, replyText } from "./client.js";
import { beforeAcl, gather } from "./gather.js";
import { ONLINE_PASSWORDS } from "./passwords.js";
import type { AuditTarget } from "./target.js";

export { CHECKS } from "./checks.js";
export { parseTarget, parseTargetList, TargetError } from "./target.js";

export interface AuditOptions extends ClientOptions {
  allowPeers: ReadonlySet<string>;
  cves: CveMatcher | undefined;
  /** Try ONLINE_PASSWORDS as AUTH on a server before 6.0 that wants a password it was not given. */
  tryWeakPasswords: boolean;
  skip: ReadonlySet<string>;
}

/**
 * AUTH <password> with each of the short online list, on as few connections as the server
 * allows (before 6.0 a wrong AUTH keeps the connection): how many tries, how many accepted.
 */
async function onlineTries(
  t: AuditTarget,
  o: ClientOptions,
): Promise<{ tries: number; accepted: number }> {
  let tries = 0;
  let accepted = 0;
  let c: AuditClient | undefined;
  try {
    for (const pw of ONLINE_PASSWORDS) {
      c ??= await AuditClient.connect(t, o);
      tries++;
      try {
        const v = await c.call("AUTH", pw);
        if (v.type === "simple" && replyText(v) === "OK") {
          accepted++;
          break;
        }
      } catch {
        // A server that closes on a wrong password: the next try connects again.
        c.close();
        c = undefined;
      }
    }
  } catch {
    // No connection: the tries made so far are what is reported.
  } finally {
    c?.close();
  }
  return { tries, accepted };
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
  if (r.error === undefined) {
    const n = auditCounts(r);
    row.passed = n.passed;
    row.failed = n.failed;
    row.notChecked = n.notChecked;
  }
  // Findings are sorted most severe first.
  const worst = r.error !== undefined ? "error" : r.findings[0]?.severity;
  if (worst !== undefined) row.worst = worst;
  return row;
}

export async function auditTarget(t: AuditTarget, o: AuditOptions): Promise<AuditReport> {
  try {
    const facts = await gather(t, { ...o, wantedKeys: IOC_KEYS });
    const needsPassword = facts.anonymous.ok && /^-NOAUTH/.test(facts.anonymous.value);
    // Online guesses only where nothing can be read offline: no ACL (before 6.0), no password.
    const online =
      o.tryWeakPasswords &&
      needsPassword &&
      t.password === undefined &&
      beforeAcl(facts) === true &&
      !o.skip.has("RS-AUTH-002")
        ? await onlineTries(t, o)
        : undefined;
    return runChecks({
      facts,
      allowPeers: o.allowPeers,
      cves: o.cves,
      online,
      skip: o.skip,
      now: new Date(),
    });
  } catch (e) {
    return { target: t.label, findings: [], notChecked: [], error: (e as Error).message };
  }
}

/**
 * The exit status CI reads: 1 when any finding is at or above the threshold, an audit failed,
 * or a check could not be run (a check not run is never a pass) unless `allowIncomplete`.
 */
export function exitStatus(
  reports: AuditReport[],
  failOn: Severity,
  allowIncomplete = false,
): number {
  const bar = severityRank(failOn);
  const bad = reports.some(
    (r) =>
      r.error !== undefined ||
      r.findings.some((f) => severityRank(f.severity) >= bar) ||
      (!allowIncomplete && r.notChecked.length > 0),
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
    for (const f of r.findings) {
      out.push(`  ${f.severity.toUpperCase().padEnd(8)} ${f.id}  ${f.title}`);
      out.push(`           seen: ${clean(f.evidence)}`);
      out.push(`           fix:  ${clean(f.remediation)}`);
    }
    for (const n of r.notChecked) {
      out.push(`  NOT CHECKED ${n.id}  ${n.title}: ${clean(n.reason)}`);
    }
    for (const n of r.notApplicable ?? []) {
      out.push(`  N/A      ${n.id}  ${n.title}: ${clean(n.reason)}`);
    }
    for (const p of r.passed ?? []) {
      out.push(`  PASSED   ${p.id}  ${p.title}${p.detail ? `: ${clean(p.detail)}` : ""}`);
    }
    if ((r.skipped ?? []).length > 0) out.push(`  skipped (--skip): ${r.skipped!.join(", ")}`);
    out.push(`  ${countsLine(auditCounts(r))}`, "");
  }
  const counts = new Map<string, number>();
  for (const r of reports)
    for (const f of r.findings) counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
  const summary = ["critical", "high", "medium", "low", "info"]
    .map((s) => `${counts.get(s) ?? 0} ${s}`)
    .join(", ");
  const failed = reports.filter((r) => r.error !== undefined).length;
  const total = { passed: 0, failed: 0, notChecked: 0, notApplicable: 0 };
  for (const r of reports) {
    if (r.error !== undefined) continue;
    const n = auditCounts(r);
    total.passed += n.passed;
    total.failed += n.failed;
    total.notChecked += n.notChecked;
    total.notApplicable += n.notApplicable;
  }
  out.push(
    `${NOT_CHECKABLE}.`,
    `${reports.length} target${reports.length === 1 ? "" : "s"}: ${summary}${failed ? `; ${failed} could not be audited` : ""} (fail on ${failOn})`,
    `checks: ${countsLine(total)}${total.notChecked > 0 ? " — a check not run is not a pass" : ""}`,
  );
  return `${out.join("\n")}\n`;
}

export function renderJson(reports: AuditReport[]): string {
  const withCounts = reports.map((r) => ({ ...r, counts: auditCounts(r) }));
  return `${JSON.stringify({ reports: withCounts, notCheckable: NOT_CHECKABLE }, null, 2)}\n`;
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
  // Checks that could not run are notifications of the invocation (SARIF 2.1.0 §3.20.21,
  // §3.58): each names its rule, so a viewer shows what was not checked and why.
  type Notification = {
    level: "error" | "warning" | "note";
    message: { text: string };
    associatedRule: { id: string };
    locations?: unknown[];
  };
  const notifications: Notification[] = reports.flatMap((r): Notification[] => [
    ...r.notChecked.map(
      (n): Notification => ({
        level: "warning",
        message: { text: `${r.target}: ${n.id} ${n.title} not checked: ${n.reason}` },
        associatedRule: { id: n.id },
        locations: [{ physicalLocation: { artifactLocation: { uri: r.target } } }],
      }),
    ),
    ...(r.error !== undefined
      ? [
          {
            level: "error" as const,
            message: { text: `${r.target}: could not audit: ${r.error}` },
            associatedRule: { id: "RS-AUDIT-000" },
            locations: [{ physicalLocation: { artifactLocation: { uri: r.target } } }],
          },
        ]
      : []),
  ]);
  notifications.push({
    level: "note",
    message: { text: NOT_CHECKABLE },
    associatedRule: { id: "RS-AUDIT-001" },
  });
  const incomplete = reports.some((r) => r.error !== undefined || r.notChecked.length > 0);
  const sarif = {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        invocations: [
          {
            executionSuccessful: !incomplete,
            toolExecutionNotifications: notifications,
          },
        ],
        properties: {
          checks: reports.map((r) => ({ target: r.target, ...auditCounts(r) })),
        },
        tool: {
          driver: {
            name: "redscope audit",
            version,
            rules: [
              { id: "RS-AUDIT-000", shortDescription: { text: "the target could not be audited" } },
              {
                id: "RS-AUDIT-001",
                shortDescription: { text: "what no audit over the Redis protocol can see" },
              },
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
