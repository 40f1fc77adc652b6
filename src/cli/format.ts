/** Terminal output for scans and imports: the live status line and the end-of-run tables. */

import { BACKPORTS_WORDING } from "../intel/cves.js";
import type { IntelStatus } from "../intel/enrich.js";
import { endpointText } from "../net/ip.js";
import { nicerCounts, type StateTally } from "../report/nicer.js";
import { renderTable, renderTextTables } from "../report/render.js";
import { nicerTables } from "../report/tables.js";
import { NICER_ROW, type ProbeResult, STATES } from "../schema/result.js";
import { terminalText } from "../untrusted/text.js";
import type { ScanProgress, ScanSummary } from "../usecases/scan.js";

export { renderTable };

const SHORT: Record<string, string> = {
  open: "open",
  auth_required: "auth",
  protected: "prot",
  ip_restricted: "iprst",
  busy: "busy",
  error: "err",
  not_redis: "other",
  silent: "silent",
  closed: "closed",
  timeout: "tmo",
};

export function formatDurationClock(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "--:--";
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(sec).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** One line, rewritten in place: done/total, rate, what was found so far, ETA. */
export function statusLine(p: ScanProgress, total: bigint): string {
  const rate = p.elapsedMs > 0 ? (p.done * 1000) / p.elapsedMs : 0;
  const totalN = Number(total);
  const pct = totalN > 0 ? ((100 * p.done) / totalN).toFixed(1) : "0.0";
  const left = totalN - p.done;
  const eta = rate > 0 ? (left / rate) * 1000 : Number.NaN;
  const found = STATES.filter((s) => (p.counts[s] ?? 0) > 0)
    .map((s) => `${SHORT[s]} ${p.counts[s]}`)
    .join(" ");
  return (
    `${formatDurationClock(p.elapsedMs)} ${p.done.toLocaleString("en-US")}/${total.toLocaleString("en-US")} ` +
    `(${pct}%) ${Math.round(rate).toLocaleString("en-US")}/s, ${p.inFlight} open conns | ${found} | ETA ${formatDurationClock(eta)}`
  );
}

/** The NICER study's table and redscope's states: what a scan and an import print at their end. */
export function stateTables(tally: StateTally): string {
  return renderTextTables(nicerTables(nicerCounts(tally))).trimEnd();
}

/** The state tables and the scan's line: what a scan prints at its end. */
export function summaryTable(s: ScanSummary): string {
  // Every Redis reply counts here, an open server whose version was not read too.
  const redis = STATES.reduce((a, st) => a + (NICER_ROW[st] ? (s.counts[st] ?? 0) : 0), 0);
  const lines = [stateTables({ states: s.counts, nicer: s.nicer })];
  lines.push(
    `Redis-protocol servers found: ${redis}; scan ${s.scanId}, seed ${s.seed}, shard ${s.shard}, ` +
      `${(s.elapsedMs / 1000).toFixed(1)} s${s.elapsedMs > 0 ? `, ${Math.round((s.done * 1000) / s.elapsedMs)}/s` : ""}`,
  );
  if (s.skipped.reserved > 0n || s.skipped.excluded > 0n) {
    lines.push(
      `skipped addresses: ${s.skipped.reserved} reserved (default blocklist), ${s.skipped.excluded} excluded`,
    );
  }
  if (s.skippedLines) lines.push(`skipped input lines: ${s.skippedLines} (malformed or reserved)`);
  if (s.interrupted) lines.push("interrupted: the scan stopped before the end (see --resume)");
  return lines.join("\n");
}

/** One row per result: what the demo prints. Strings from servers are already bounded. */
export function resultsTable(results: ProbeResult[]): string {
  const rows: string[][] = [["target", "state", "product", "version", "detail", "known CVEs"]];
  for (const r of results) {
    const host = r.ip.includes(":") ? `[${r.ip}]:${r.port}` : `${r.ip}:${r.port}`;
    const v = r.server?.version ?? (r.server?.version_hint ? `~${r.server.version_hint}` : "");
    rows.push([
      `${host}${r.transport === "tls" ? " tls" : ""}`,
      r.state,
      r.server?.product ?? "",
      v,
      printable(r.detail ?? ""),
      cveCell(r),
    ]);
  }
  return renderTable(rows, [false, false, false, false, false, false]);
}

/** `14, max CVSS 10` for a judged version; empty when there was no version to judge. */
function cveCell(r: ProbeResult): string {
  if (r.cves === undefined) return "";
  let cell = "none";
  if (r.cves.length > 0) {
    let max: number | undefined;
    for (const c of r.cves)
      if (c.cvss !== undefined && (max === undefined || c.cvss > max)) max = c.cvss;
    cell = max === undefined ? String(r.cves.length) : `${r.cves.length}, max CVSS ${max}`;
  }
  // The verdict's caveats, in the same words as the audit (BACKPORTS_WORDING).
  if (r.cve_verdict?.backports_possible) cell += `; ${BACKPORTS_WORDING}`;
  if (r.cve_verdict?.ambiguous !== undefined) cell += "; ambiguous: may be another product";
  return cell;
}

/** Attacker-controlled text never reaches the terminal raw (no escape sequences). */
const printable = (s: string): string => terminalText(s, 60);

/** What results were enriched with, in one line. */
export function intelLine(s: IntelStatus): string {
  const clouds = s.clouds.filter((c) => c.state === "loaded").map((c) => c.id);
  const geo = s.geo.map((g) => g.role);
  return [
    `intel: CVE table of ${s.cveTable.updated} (${s.cveTable.entries} CVEs)`,
    clouds.length > 0
      ? `clouds ${clouds.join(", ")} (${s.cloudPrefixes} prefixes)`
      : "no cloud ranges",
    geo.length > 0 ? `MaxMind ${geo.join(", ")}` : "no ASN/geo DB",
  ].join("; ");
}

/**
 * `scan -v`: one line per result as it arrives — target, state, product and version (or the
 * version hint), detail, connections tried. Server-given text is cleaned (terminalText).
 */
export function resultLine(r: ProbeResult): string {
  const parts = [`${endpointText(r.ip, r.port)}${r.transport === "tls" ? " tls" : ""}`, r.state];
  const s = r.server;
  const version = s?.version ?? (s?.version_hint !== undefined ? `~${s.version_hint}` : undefined);
  if (s?.product !== undefined || version !== undefined) {
    parts.push([s?.product, version].filter((x) => x !== undefined).join(" "));
  }
  if (r.detail !== undefined) parts.push(r.detail);
  // The server's own words where they are the finding (an error), cut short.
  if (r.error !== undefined && r.state === "error") parts.push(`"${terminalText(r.error, 60)}"`);
  if (r.attempts !== undefined) parts.push(`after ${r.attempts} attempts`);
  if (r.hostname !== undefined) parts.push(`(${r.hostname})`);
  return terminalText(parts.join("  "), 160);
}
