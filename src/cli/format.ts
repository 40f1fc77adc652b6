/** Terminal output for scans and imports: the live status line and the end-of-run tables. */

import type { IntelStatus } from "../intel/enrich.js";
import { endpointText } from "../net/ip.js";
import {
  HOST_COLUMNS,
  type HostList,
  type HostRow,
  hostListLegend,
  hostRow,
} from "../report/hosts.js";
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

/** Longest cell of the host list (a server's detail or AS name), in characters. */
const HOST_CELL = 60;

/**
 * The host list as aligned lines: a header, then one line per server, every cell escaped for
 * the terminal. A list printed in blocks passes the same `widths` each time (they only grow)
 * and `header: false` after the first block.
 */
export function hostListTable(
  rows: readonly HostRow[],
  opts: { widths?: number[]; header?: boolean; dropEmpty?: boolean } = {},
): string {
  // A whole list printed at once leaves out the columns it has nothing in (no intel: no CVEs).
  const columns = opts.dropEmpty
    ? HOST_COLUMNS.filter(([k], i) => i < 2 || rows.some((r) => r[k] !== ""))
    : HOST_COLUMNS;
  const cells = rows.map((r) => columns.map(([k]) => terminalText(r[k], HOST_CELL)));
  const header = opts.header !== false;
  const all = header ? [columns.map(([, title]) => title), ...cells] : cells;
  const tableOpts: { minWidths?: number[]; header?: boolean } = { header };
  if (opts.widths) tableOpts.minWidths = opts.widths;
  return renderTable(
    all,
    columns.map(() => false),
    tableOpts,
  );
}

/**
 * What a scan, an import and the demo print after the NICER tables: the Redis-protocol servers
 * found, one line each (as nmap lists open ports), up to `limit`; then how to see the rest.
 */
export function hostListSummary(
  list: HostList,
  scanId: string,
  limit: number,
  db?: string,
): string {
  if (list.total === 0) return "Redis-protocol servers: none found";
  const shown = list.results.slice(0, limit);
  const lines = [
    `\nRedis-protocol servers (${list.total}${shown.length < list.total ? `, the first ${shown.length}` : ""}):`,
    hostListTable(shown.map(hostRow), { dropEmpty: true }),
  ];
  lines.push(...hostListLegend(shown));
  const dbFlag = db !== undefined ? ` --db ${db}` : "";
  if (list.total > shown.length) {
    lines.push(
      `${list.total - shown.length} more in the store: redscope report --hosts --scan ${scanId}${dbFlag} [--query 'state:open version:<6'] [-f csv|jsonl -o FILE]`,
    );
  }
  return lines.join("\n");
}

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
