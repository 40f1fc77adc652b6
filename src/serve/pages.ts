/**
 * The dashboard's pages, rendered on the server: the report's own tables and charts (one code
 * path with `redscope report -f html`), plus the pages a report has no place for (search, one
 * host, live progress, a honeypot session's transcript, audits). Every string that came from a
 * scanned server, a honeypot visitor or the store goes through `text` (escaped, control
 * characters out, cut); the pages hold no inline script or style.
 */

import { STYLE, sectionHtml } from "../report/html.js";
import { formatQuery } from "../report/query.js";
import type { Table } from "../report/tables.js";
import {
  type AuditCounts,
  type AuditReport,
  type AuditRow,
  auditCounts,
  countsLine,
  NOT_CHECKABLE,
} from "../schema/audit.js";
import type { HoneypotEventRow, HoneypotSessionRow } from "../schema/honeypot.js";
import {
  ATTACK_TECHNIQUES,
  ATTACK_VERDICTS,
  COMPROMISE_KINDS,
  COMPROMISE_LABEL,
  type ProbeResult,
  STATES,
  TECHNIQUE_LABEL,
  VERDICT_LABEL,
} from "../schema/result.js";
import type { ScanInfo, ShardInfo, ShardProgress } from "../store/index.js";
import type { Html } from "../untrusted/html.js";
import { escapeHtml, htmlText } from "../untrusted/text.js";
import type { SearchPage, SearchParams } from "./search.js";

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

/** Dashboard styles beside the report's own. */
export const DASHBOARD_STYLE = `${STYLE}
.page { max-width: 1200px; }
nav.top { background: #1f2328; color: #fff; display: flex; gap: 4px; align-items: center; padding: 0 24px; }
nav.top a, nav.top button { color: #e6e8eb; text-decoration: none; padding: 12px 12px; font: inherit; background: none; border: 0; cursor: pointer; }
nav.top a.here, nav.top a:hover, nav.top button:hover { color: #fff; background: #3a4048; }
nav.top .brand { font-weight: 700; margin-right: 16px; }
nav.top form { margin-left: auto; }
a { color: #0b5cad; }
table { width: 100%; }
td { overflow-wrap: break-word; }
td a, td .state-open { white-space: nowrap; }
form.search { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px 12px; align-items: end; }
form.search label, form.login label { display: flex; flex-direction: column; font-size: 12px; color: #59636e; gap: 2px; }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid #c9ced4; border-radius: 4px; background: #fff; color: #1f2328; }
button.primary { background: #0b5cad; color: #fff; border-color: #0b5cad; cursor: pointer; }
progress { width: 180px; height: 12px; vertical-align: middle; }
.muted { color: #59636e; }
.pager { display: flex; gap: 16px; align-items: center; margin-top: 12px; }
.state-open { color: #c62828; font-weight: 600; }
.sev-critical { color: #8e1b1b; font-weight: 700; }
.sev-high { color: #8a3d00; font-weight: 700; }
.sev-medium { color: #6b5400; }
pre.record { background: #f6f7f9; padding: 12px; overflow: auto; max-height: 480px; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.args { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; overflow-wrap: anywhere; }
.flash { background: #fde8e8; color: #8e1b1b; padding: 8px 12px; border-radius: 4px; }
`;

export interface PageContext {
  /** CSRF token for forms (logout). */
  csrf: string;
  /** A login is in use: show the logout button. */
  login: boolean;
  /** Which nav entry is this page's. */
  here: "scans" | "search" | "honeypot" | "audits" | "";
}

const NAV: Array<[PageContext["here"], string, string]> = [
  ["scans", "/scans", "Scans"],
  ["search", "/search", "Search"],
  ["honeypot", "/honeypot", "Honeypot"],
  ["audits", "/audits", "Audits"],
];

/** A query string from fields (undefined and "" left out), escaped for an href. */
export function href(path: string, q: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return escapeHtml(qs ? `${path}?${qs}` : path);
}

export function layout(ctx: PageContext, title: string, body: Array<string | Html>): string {
  const nav = NAV.map(
    ([id, url, name]) => `<a href="${url}"${ctx.here === id ? ' class="here"' : ""}>${name}</a>`,
  ).join("");
  const logout = ctx.login
    ? `<form method="post" action="/logout"><input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}"><button type="submit">Log out</button></form>`
    : "";
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${htmlText(title, 120)} · redscope</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<nav class="top"><span class="brand">redscope</span>${nav}${logout}</nav>
<div class="page">
${body.join("\n")}
</div>
</body>
</html>
`;
}

function heading(kicker: string, title: string, facts: Array<[string, string]> = []): string {
  const dl =
    facts.length > 0
      ? `<dl class="facts">${facts.map(([k, v]) => `<div><dt>${htmlText(k)}</dt><dd>${htmlText(v)}</dd></div>`).join("")}</dl>`
      : "";
  return `<header><p class="kicker">${htmlText(kicker)}</p><h1>${htmlText(title, 200)}</h1>${dl}</header>`;
}

function section(title: string, inner: string, id?: string): string {
  return `<section${id ? ` id="${escapeHtml(id)}"` : ""}><h2>${htmlText(title)}</h2>\n${inner}\n</section>`;
}

/** A table whose cells are already HTML (links, classes): every value in them was escaped. */
function htmlTable(columns: string[], rows: string[][], numeric: boolean[] = []): string {
  if (rows.length === 0) return '<p class="none">(none)</p>';
  const cls = (i: number): string => (numeric[i] ? ' class="num"' : "");
  return `<table>\n<thead><tr>${columns.map((c, i) => `<th${cls(i)}>${htmlText(c)}</th>`).join("")}</tr></thead>\n<tbody>\n${rows
    .map((r) => `<tr>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join("")}</tr>`)
    .join("\n")}\n</tbody>\n</table>`;
}

const num = (n: number | undefined): string => (n === undefined ? "" : NUMBER.format(n));

// ---------- scans ----------

export interface ScanListEntry {
  scan: ScanInfo;
  /** Summed progress of its unfinished shards (a running scan). */
  progress?: ShardProgress;
}

/** done / total with a progress bar the page's script moves (`data-live-scan`). */
function progressHtml(scanId: string, p: ShardProgress | undefined, reload: boolean): string {
  const done = p?.done ?? 0;
  const total = Math.max(p?.total ?? 0, done);
  return `<span data-live-scan="${escapeHtml(scanId)}"${reload ? ' data-reload="1"' : ""}><progress value="${done}" max="${Math.max(total, 1)}"></progress> <span class="live-text">${NUMBER.format(done)} / ${NUMBER.format(total)}</span></span>`;
}

export function scansPage(ctx: PageContext, entries: ScanListEntry[]): string {
  const newestFirst = [...entries].reverse();
  const rows = newestFirst.map(({ scan, progress }) => {
    const c = scan.counts ?? progress?.counts ?? {};
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    return [
      `<a href="${href(`/scans/${encodeURIComponent(scan.id)}`, {})}">${htmlText(scan.id, 80)}</a>`,
      htmlText(scan.source),
      htmlText(scan.startedAt.slice(0, 19).replace("T", " ")),
      scan.finishedAt
        ? `finished ${htmlText(scan.finishedAt.slice(0, 19).replace("T", " "))}`
        : progressHtml(scan.id, progress, false),
      htmlText(scan.targets, 80),
      num(total),
      num(c.open ?? 0),
      num(c.auth_required ?? 0),
      num(c.protected ?? 0),
    ];
  });
  const options = newestFirst
    .map(
      (e) =>
        `<option value="${escapeHtml(e.scan.id)}">${htmlText(e.scan.id, 60)} (${htmlText(e.scan.startedAt.slice(0, 10))})</option>`,
    )
    .join("");
  const diffForm =
    entries.length >= 2
      ? section(
          "Compare two scans",
          `<form class="search" method="get" action="/diff"><label>before<select name="a">${options}</select></label><label>after<select name="b">${options}</select></label><button class="primary" type="submit">Compare</button></form>`,
        )
      : "";
  return layout(ctx, "Scans", [
    heading("redscope dashboard", "Scans"),
    section(
      `${NUMBER.format(entries.length)} scans and imports, newest first`,
      htmlTable(
        [
          "scan",
          "source",
          "started",
          "status",
          "targets",
          "results",
          "open",
          "auth required",
          "protected",
        ],
        rows,
        [false, false, false, false, false, true, true, true, true],
      ),
    ),
    diffForm,
  ]);
}

export function scanPage(
  ctx: PageContext,
  scan: ScanInfo,
  shards: ShardInfo[],
  progress: ShardProgress | undefined,
  report: { top: Html[]; sections: Html[] },
  reportAt: string,
): string {
  const stateLinks = STATES.map(
    (s) => `<a href="${href("/search", { scan: scan.id, state: s })}">${s}</a>`,
  ).join(" · ");
  const live = scan.finishedAt
    ? ""
    : section(
        "Running",
        `<p>${progressHtml(scan.id, progress, true)}</p><p class="muted">The tables below count what was stored by ${htmlText(reportAt)}; the page reloads when the scan finishes.</p>`,
      );
  const shardRows = shards.map((s) => [
    htmlText(s.shard),
    htmlText(s.host ?? ""),
    htmlText(s.startedAt.slice(0, 19).replace("T", " ")),
    s.finishedAt
      ? htmlText(s.finishedAt.slice(0, 19).replace("T", " "))
      : progressHtml(scan.id, s.progress, false),
  ]);
  return layout(ctx, `Scan ${scan.id}`, [
    ...report.top,
    live,
    section("Look into it", `<p>Search this scan's results by state: ${stateLinks}</p>`),
    ...report.sections,
    shards.length > 1
      ? section("Shards", htmlTable(["shard", "host", "started", "finished"], shardRows))
      : "",
  ]);
}

// ---------- search ----------

export function searchPageHtml(
  ctx: PageContext,
  p: SearchParams,
  scans: ScanInfo[],
  page: SearchPage | undefined,
  error: string | undefined,
): string {
  const f = p.query;
  const versionValue =
    f.versionRange !== undefined ? `${f.versionRange.op}${f.versionRange.version}` : f.version;
  const field = (
    name: string,
    label: string,
    value: string | number | undefined,
    hint = "",
  ): string =>
    `<label>${htmlText(label)}<input name="${name}" value="${escapeHtml(value === undefined ? "" : String(value))}" placeholder="${escapeHtml(hint)}"></label>`;
  const scanOptions = [...scans]
    .reverse()
    .map(
      (s) =>
        `<option value="${escapeHtml(s.id)}"${s.id === p.scan ? " selected" : ""}>${htmlText(s.id, 60)} (${htmlText(s.startedAt.slice(0, 10))})</option>`,
    )
    .join("");
  const stateOptions = ['<option value="">any</option>']
    .concat(STATES.map((s) => `<option${s === f.state ? " selected" : ""}>${s}</option>`))
    .join("");
  const attackValue = f.attack ? `${f.attack.technique}:${f.attack.verdict}` : "";
  const attackOptions = ['<option value="">any</option>']
    .concat(
      ATTACK_TECHNIQUES.flatMap((t) =>
        ATTACK_VERDICTS.map((v) => {
          const value = `${t}:${v}`;
          return `<option value="${value}"${value === attackValue ? " selected" : ""}>${htmlText(`${VERDICT_LABEL[v]}: ${TECHNIQUE_LABEL[t]}`)}</option>`;
        }),
      ),
    )
    .join("");
  const compromiseOptions = ['<option value="">any or none</option>']
    .concat(
      [
        ["any", "any sign"] as const,
        ...COMPROMISE_KINDS.map((k) => [k, COMPROMISE_LABEL[k]] as const),
      ].map(
        ([value, label]) =>
          `<option value="${value}"${value === f.compromise ? " selected" : ""}>${htmlText(label)}</option>`,
      ),
    )
    .join("");
  const form = `<form class="search" method="get" action="/search">
<label>scan<select name="scan">${scanOptions}</select></label>
<label>state<select name="state">${stateOptions}</select></label>
<label>exploitable (open servers)<select name="attack">${attackOptions}</select></label>
<label>signs of compromise<select name="compromise">${compromiseOptions}</select></label>
${field("product", "product", f.product, "redis, valkey…")}
${field("version", "version", versionValue, "7.0.15, <6, >=7.2")}
${field("cve", "CVE", f.cve, "CVE-2025-49844")}
${field("cloud", "cloud", f.cloud, "aws, gcp…")}
${field("asn", "AS number", f.asn, "16509")}
${field("country", "country", f.country, "DE")}
${field("q", "query or text (state:open version:<6 country:DE cve:… or words)", f.text === undefined ? undefined : formatQuery({ text: f.text }), "")}
<button class="primary" type="submit">Search</button>
</form>`;
  const body = [heading("redscope dashboard", "Search results"), section("Filters", form)];
  if (error !== undefined) body.push(`<p class="flash">${htmlText(error)}</p>`);
  if (page) {
    // One parameter carries the whole filter: the syntax the form's query box takes.
    const q: Record<string, string | number | undefined> = {
      scan: p.scan,
      q: formatQuery(f) || undefined,
    };
    const rows = page.rows.map(({ result: r }) => [
      `<a href="${href(`/hosts/${encodeURIComponent(r.ip)}`, {})}">${htmlText(r.ip, 64)}</a>`,
      String(r.port),
      `<span class="state-${escapeHtml(r.state)}">${htmlText(r.state)}</span>${r.detail ? ` <span class="muted">${htmlText(r.detail, 40)}</span>` : ""}`,
      htmlText(
        [r.server?.product, r.server?.version ?? r.server?.version_hint].filter(Boolean).join(" "),
      ),
      htmlText(r.server?.role ?? ""),
      htmlText(r.country ?? ""),
      htmlText(r.asn !== undefined ? `AS${r.asn} ${r.as_org ?? ""}` : "", 60),
      htmlText([r.cloud?.provider, r.cloud?.region].filter(Boolean).join(" ")),
      r.cves && r.cves.length > 0
        ? `${r.cves.length} (max ${Math.max(...r.cves.map((c) => c.cvss ?? 0))})`
        : "",
      htmlText(
        (r.attack ?? [])
          .filter((a) => a.verdict === "open")
          .map((a) => a.technique)
          .join(" "),
      ),
      htmlText((r.compromise ?? []).map((c) => c.kind).join(" ")),
      htmlText(r.time.slice(0, 19).replace("T", " ")),
    ]);
    const searched = `searched ${(page.searched * 100).toFixed(page.searched < 0.1 ? 1 : 0)}% of the scan in ${Math.round(page.ms)} ms`;
    const next =
      page.next !== undefined
        ? `<a href="${href("/search", { ...q, after: page.next })}">${page.rows.length < 50 ? "Search further" : "Next page"} →</a>`
        : '<span class="muted">end of the scan</span>';
    body.push(
      section(
        "Results",
        `<p class="muted"><span data-count-url="${href("/api/count", q)}">counting…</span> · ${escapeHtml(searched)}</p>
${htmlTable(["address", "port", "state", "product / version", "role", "country", "AS", "cloud", "CVEs", "open to", "signs of compromise", "probed"], rows, [false, true])}
<div class="pager"><a href="${href("/search", q)}">First page</a>${next}</div>`,
      ),
    );
  }
  return layout(ctx, "Search", body);
}

// ---------- one host ----------

export function hostPage(ctx: PageContext, ip: string, results: ProbeResult[]): string {
  const rows = results.map((r) => [
    htmlText(r.time.slice(0, 19).replace("T", " ")),
    r.scan_id
      ? `<a href="${href(`/scans/${encodeURIComponent(r.scan_id)}`, {})}">${htmlText(r.scan_id, 60)}</a>`
      : "",
    String(r.port),
    `<span class="state-${escapeHtml(r.state)}">${htmlText(r.state)}</span>`,
    htmlText(
      [r.server?.product, r.server?.version ?? r.server?.version_hint].filter(Boolean).join(" "),
    ),
    htmlText(r.server?.role ?? ""),
    htmlText(r.error ?? "", 120),
  ]);
  const latest = results[0];
  const record = latest
    ? section(
        "Latest record, whole",
        `<pre class="record">${htmlText(JSON.stringify(latest, null, 2), 20_000)}</pre><p class="note">What the server said about itself: it may lie.</p>`,
      )
    : "";
  return layout(ctx, `Host ${ip}`, [
    heading("redscope dashboard", `Host ${ip}`, [["Results stored", String(results.length)]]),
    section(
      "Across scans, newest first",
      htmlTable(["probed", "scan", "port", "state", "product / version", "role", "error"], rows),
    ),
    record,
  ]);
}

// ---------- diff ----------

export function diffPage(ctx: PageContext, a: string, b: string, tables: Table[]): string {
  return layout(ctx, `Diff ${a} → ${b}`, [
    heading("redscope dashboard", `Changes from ${a} to ${b}`),
    ...tables.map((t) => sectionHtml(t, undefined)),
  ]);
}

// ---------- honeypot ----------

function sessionCells(s: HoneypotSessionRow): string[] {
  return [
    `<a href="${href(`/honeypot/sessions/${encodeURIComponent(s.id)}`, {})}">${htmlText(s.startedAt.slice(0, 19).replace("T", " "))}</a>`,
    htmlText(s.srcIp, 64),
    htmlText(s.persona, 40),
    num(s.commands),
    htmlText(s.classes || "-", 120),
    s.endedAt ? "ended" : "open",
  ];
}

export const SESSION_COLUMNS = [
  "started",
  "source",
  "persona",
  "commands",
  "attack classes",
  "status",
];

export function honeypotPage(
  ctx: PageContext,
  report: { top: Html[]; sections: Html[] },
  recent: HoneypotSessionRow[],
  older: string | undefined,
): string {
  const feed = `<div data-live-honeypot="1">${htmlTable(SESSION_COLUMNS, recent.map(sessionCells), [false, false, false, true])}</div>
<div class="pager">${older ? `<a href="${href("/honeypot", { before: older })}">Older sessions →</a>` : ""}</div>`;
  return layout(ctx, "Honeypot", [
    ...report.top,
    section("Sessions, newest first (live)", feed, "feed"),
    ...report.sections,
  ]);
}

/** A stored record's field as text, whatever its shape (records are written by visitors' doing). */
function str(v: unknown): string {
  if (Array.isArray(v)) return v.map(str).join("; ");
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

export function sessionPage(
  ctx: PageContext,
  s: HoneypotSessionRow,
  events: HoneypotEventRow[],
  maxEvents: number,
): string {
  const rec = s.record;
  const t0 = Date.parse(s.startedAt);
  const shown = events.slice(0, maxEvents);
  const eventRows = shown.map((e) => {
    const r = e.record as {
      args?: unknown[];
      effect?: unknown;
      message?: unknown;
      limit?: unknown;
      capture?: unknown;
    };
    let detail = "";
    if (Array.isArray(r.args)) detail = r.args.map((a) => JSON.stringify(String(a))).join(" ");
    else if (r.effect !== undefined) detail = JSON.stringify(r.effect);
    else if (r.message !== undefined) detail = String(r.message);
    else if (r.limit !== undefined) detail = `limit: ${String(r.limit)}`;
    else if (r.capture !== undefined) detail = JSON.stringify(r.capture);
    return [
      num(e.seq),
      `+${((Date.parse(e.time) - t0) / 1000).toFixed(3)} s`,
      htmlText(e.kind),
      htmlText(e.name ?? "", 64),
      `<span class="args">${htmlText(detail, 2000)}</span>`,
    ];
  });
  const findings = (Array.isArray(rec.findings) ? rec.findings : []).map((f) => [
    htmlText(str(f.class)),
    htmlText(str(f.attack)),
    htmlText(str(f.evidence), 600),
  ]);
  const indicators = Object.entries(rec.indicators ?? {}).flatMap(([kind, values]) =>
    (Array.isArray(values) ? values : [])
      .slice(0, 200)
      .map((v) => [htmlText(kind), `<span class="args">${htmlText(str(v), 500)}</span>`]),
  );
  return layout(ctx, `Session ${s.id}`, [
    heading("honeypot session", `${s.srcIp} → ${s.persona}`, [
      ["Session", s.id],
      ["Source", `${s.srcIp}:${s.srcPort}`],
      ["Listener", s.listener],
      ["Sensor", s.sensor],
      ["Started", s.startedAt],
      ["Ended", s.endedAt ?? "still open"],
      ["Commands", String(s.commands)],
      ["Bytes in / out", `${s.bytesIn} / ${s.bytesOut}`],
    ]),
    section("Attack classes", htmlTable(["class", "ATT&CK", "evidence"], findings)),
    section("Indicators (hostile text, not links)", htmlTable(["kind", "value"], indicators)),
    section(
      "Transcript",
      `${htmlTable(["#", "time", "event", "name", "arguments / detail"], eventRows, [true])}<p class="note">Arguments are shown as JSON strings, cut at the honeypot's recording limits.${events.length > maxEvents ? ` Only the first ${maxEvents} events are shown.` : ""}</p>`,
    ),
  ]);
}

// ---------- audits ----------

/** Passed, failed and not-checked counts: the row's columns, or (older rows) its record's. */
function checkCounts(a: AuditRow): AuditCounts {
  const fromRecord = auditCounts(a.record as unknown as AuditReport);
  return {
    passed: a.passed ?? fromRecord.passed,
    failed: a.failed ?? fromRecord.failed,
    notChecked: a.notChecked ?? fromRecord.notChecked,
    notApplicable: fromRecord.notApplicable,
  };
}

/** The worst finding, or — never "none" — what was not checked. */
function worstCell(a: AuditRow, n: AuditCounts): string {
  const worst = a.worst
    ? `<span class="sev-${escapeHtml(a.worst)}">${htmlText(a.worst)}</span>`
    : n.notChecked > 0
      ? ""
      : "none found";
  if (n.notChecked === 0) return worst;
  const why = `${n.notChecked} not checked`;
  return worst ? `${worst}; ${why}` : why;
}

export function auditsPage(ctx: PageContext, rows: AuditRow[]): string {
  const cells = rows.map((a) => {
    const n = checkCounts(a);
    return [
      `<a href="${href(`/audits/${encodeURIComponent(a.id)}`, {})}">${htmlText(a.time.slice(0, 19).replace("T", " "))}</a>`,
      htmlText(a.target, 120),
      worstCell(a, n),
      num(a.findings),
      num(n.passed),
      num(n.failed),
      num(n.notChecked),
    ];
  });
  return layout(ctx, "Audits", [
    heading("redscope dashboard", "Audits"),
    section(
      "Audit reports, newest first",
      `${htmlTable(["time", "target", "worst", "findings", "passed", "failed", "not checked"], cells, [false, false, false, true, true, true, true])}<p class="note">Reports appear here when audits run with <code>redscope audit --db</code>. A check not run is not a pass.</p>`,
    ),
  ]);
}

export function auditPage(ctx: PageContext, a: AuditRow): string {
  const r = a.record as unknown as AuditReport;
  const findings = (Array.isArray(r.findings) ? r.findings : []).map((f) => [
    `<span class="sev-${escapeHtml(str(f.severity))}">${htmlText(str(f.severity))}</span>`,
    htmlText(str(f.id)),
    htmlText(str(f.title)),
    htmlText(str(f.evidence), 500),
    `<span class="args">${htmlText(str(f.remediation), 500)}</span>`,
  ]);
  const skipped = (Array.isArray(r.notChecked) ? r.notChecked : []).map((n) => [
    htmlText(str(n.id)),
    htmlText(str(n.title)),
    htmlText(str(n.reason), 300),
  ]);
  const passed = (Array.isArray(r.passed) ? r.passed : []).map((p) => [
    htmlText(str(p.id)),
    htmlText(str(p.title)),
    htmlText(str(p.detail ?? ""), 300),
  ]);
  const na = (Array.isArray(r.notApplicable) ? r.notApplicable : []).map((n) => [
    htmlText(str(n.id)),
    htmlText(str(n.title)),
    htmlText(str(n.reason), 300),
  ]);
  const n = checkCounts(a);
  const server = r.server ?? {};
  return layout(ctx, `Audit of ${a.target}`, [
    heading("redscope audit", a.target, [
      ["Time", a.time],
      [
        "Server",
        [server.product, server.version, server.role, server.mode]
          .filter(Boolean)
          .map(str)
          .join(", "),
      ],
      ...(r.error !== undefined
        ? ([["Could not audit", str(r.error)]] as Array<[string, string]>)
        : ([["Checks", countsLine(n)]] as Array<[string, string]>)),
    ]),
    section("Findings", htmlTable(["severity", "id", "check", "seen", "fix"], findings)),
    section("Not checked (not passed either)", htmlTable(["id", "check", "why"], skipped)),
    section("Passed", htmlTable(["id", "check", "note"], passed)),
    section("Not applicable to this server", htmlTable(["id", "check", "why"], na)),
    `<p class="note">${htmlText(NOT_CHECKABLE)}.</p>`,
  ]);
}

// ---------- login and errors ----------

export function loginPage(csrf: string, next: string, error?: string): string {
  return layout({ csrf, login: false, here: "" }, "Log in", [
    heading("redscope dashboard", "Log in"),
    error ? `<p class="flash">${htmlText(error)}</p>` : "",
    section(
      "Token",
      `<form class="login" method="post" action="/login">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<input type="hidden" name="next" value="${escapeHtml(next)}">
<label>the token <code>redscope serve</code> printed, or $REDSCOPE_TOKEN<input name="token" type="password" autocomplete="current-password" autofocus></label>
<p><button class="primary" type="submit">Log in</button></p>
</form>`,
    ),
  ]);
}

export function errorPage(ctx: PageContext, status: number, message: string): string {
  return layout(ctx, `${status}`, [heading(`error ${status}`, message)]);
}
