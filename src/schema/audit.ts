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

export interface AuditReport {
  target: string;
  server?: { product?: string; version?: string; role?: string; mode?: string };
  /** Most severe first. */
  findings: Finding[];
  notChecked: NotChecked[];
  /** Why the target could not be audited at all. */
  error?: string;
}

/** A stored audit: a time-ordered id, the worst severity ("error" when it failed), the report. */
export interface AuditRow {
  id: string;
  target: string;
  time: string;
  /** The most severe finding's severity, undefined when there was none. */
  worst?: string;
  findings: number;
  record: AuditReport;
}

/** The `audits` table: the store's insert is derived from this list. */
export const AUDIT_COLUMNS = [
  { name: "id", type: "text", value: (a) => a.id },
  { name: "target", type: "text", value: (a) => a.target },
  { name: "time", type: "time", value: (a) => a.time },
  { name: "worst", type: "text", value: (a) => a.worst ?? null },
  { name: "findings", type: "int", value: (a) => a.findings },
  { name: "record", type: "json", value: (a) => JSON.stringify(a.record) },
] as const satisfies readonly Column<AuditRow>[];
