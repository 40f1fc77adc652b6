/**
 * Auditing servers the user owns: each target is read (read-only) and checked; the reports can
 * then be kept in the store. The CLI parses flags and renders; this runs.
 */
import { type AuditOptions, auditRow, auditTarget } from "../audit/index.js";
import type { AuditTarget } from "../audit/target.js";
import type { AuditReport } from "../schema/audit.js";
import type { AuditStore } from "../store/index.js";
import { loadCveMatcher } from "./intel.js";

export interface AuditConfig {
  targets: AuditTarget[];
  options: Omit<AuditOptions, "cves">;
  /** Where the CVE table is (the intel directory); the default when undefined. */
  intelDir?: string;
}

export async function runAudits(cfg: AuditConfig): Promise<AuditReport[]> {
  let cves: AuditOptions["cves"];
  try {
    cves = loadCveMatcher(cfg.intelDir);
  } catch {
    cves = undefined; // RS-VER-001 then says "not checked" and why
  }
  const reports: AuditReport[] = [];
  for (const t of cfg.targets) reports.push(await auditTarget(t, { ...cfg.options, cves }));
  return reports;
}

/** The reports kept in the store (`--db`), each with a time-ordered id, for the dashboard. */
export async function keepReports(store: AuditStore, reports: AuditReport[]): Promise<void> {
  for (const r of reports) await store.saveAudit(auditRow(r));
}
