/**
 * An audit report (`redscope audit`), and the row the store keeps of it. The report is what the
 * JSON and SARIF outputs print and the dashboard shows; the columns are what lists sort on.
 */
import type { Column } from "./columns.js";

export const SEVERITIES = ["info", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  id: string;
  severity: Severity;
  title: string;
  evidence: string;
  remediation: string;
}

/** A check whose facts the audited user could not read: never counted as passed. */
export interface NotChecked {
  id: string;
  title: string;
  reason: string;
}

/** A check that passed: it read its facts and found nothing. */
export interface Passed {
  id: string;
  title: string;
  /** What it did, when that matters (e.g. how many passwords it tried). */
  detail?: string;
}

/**
 * What no audit over the Redis protocol can see; every output says so, so that a clean report is
 * never read as "the host is hardened".
 */
export const NOT_CHECKABLE =
  "not checkable over the Redis protocol: the user the server runs as, file permissions of its config, data and ACL files, and the host's firewall — check those on the host";

export interface AuditReport {
  target: string;
  server?: { product?: string; version?: string; role?: string; mode?: string };
  /** Most severe first. */
  findings: Finding[];
  notChecked: NotChecked[];
  /** Checks that read their facts and found nothing (absent in reports of older versions). */
  passed?: Passed[];
  /** Checks that do not apply to this server (the setting does not exist in its version). */
  notApplicable?: NotChecked[];
  /** Checks left out with --skip. */
  skipped?: string[];
  /** Why the target could not be audited at all. */
  error?: string;
}

/** How many checks passed, failed (one or more findings) and were not checked. */
export interface AuditCounts {
  passed: number;
  failed: number;
  notChecked: number;
  notApplicable: number;
}

export function auditCounts(r: AuditReport): AuditCounts {
  return {
    passed: Array.isArray(r.passed) ? r.passed.length : 0,
    failed: new Set((Array.isArray(r.findings) ? r.findings : []).map((f) => f.id)).size,
    notChecked: Array.isArray(r.notChecked) ? r.notChecked.length : 0,
    notApplicable: Array.isArray(r.notApplicable) ? r.notApplicable.length : 0,
  };
}

/** "3 passed, 2 failed, 11 not checked" (and how many did not apply, when any). */
export function countsLine(c: AuditCounts): string {
  return `${c.passed} passed, ${c.failed} failed, ${c.notChecked} not checked${c.notApplicable ? `, ${c.notApplicable} not applicable` : ""}`;
}

/** A stored audit: a time-ordered id, the worst severity ("error" when it failed), the report. */
export interface AuditRow {
  id: string;
  target: string;
  time: string;
  /** The most severe finding's severity, undefined when there was none. */
  worst?: string;
  findings: number;
  /** Checks passed, failed and not checked (undefined in rows kept before these were counted). */
  passed?: number;
  failed?: number;
  notChecked?: number;
  record: AuditReport;
}

/** The `audits` table: the store's insert is derived from this list. */
export const AUDIT_COLUMNS = [
  { name: "id", type: "text", value: (a) => a.id },
  { name: "target", type: "text", value: (a) => a.target },
  { name: "time", type: "time", value: (a) => a.time },
  { name: "worst", type: "text", value: (a) => a.worst ?? null },
  { name: "findings", type: "int", value: (a) => a.findings },
  { name: "passed", type: "int", value: (a) => a.passed ?? null },
  { name: "failed", type: "int", value: (a) => a.failed ?? null },
  { name: "not_checked", type: "int", value: (a) => a.notChecked ?? null },
  { name: "record", type: "json", value: (a) => JSON.stringify(a.record) },
] as const satisfies readonly Column<AuditRow>[];
