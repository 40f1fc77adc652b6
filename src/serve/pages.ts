/**
 * The dashboard's pages, rendered on the server: the report's own tables and charts (one code
 * path with `redscope report -f html`), plus the pages a report has no place for (search, one
 * host, live progress, a honeypot session's transcript, audits). Markup is written only with
 * the `html` tag (src/untrusted/html.ts): every interpolated value is escaped unless it is
 * markup the tag made, so a stored string cannot become markup. `layout` turns a page into its
 * string, in one place. The pages hold no inline script or style.
 *
 * A value that is a filter (state, product, version, country, AS, cloud, CVE, technique, sign
 * of compromise) links to the search for it, written in the one query syntax (formatQuery);
 * CVE and ATT&CK ids also link to their public reference.
 */

import type { DiffReport } from "../report/build.js";
import { type CellLink, STYLE } from "../report/html.js";
import { attackReference, cveReference } from "../report/links.js";
import { formatQuery, type HostQuery, QUERY_KEYS } from "../report/query.js";
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
  type ProbeResult,
  STATES,
} from "../schema/result.js";
import type { ScanInfo, ShardInfo, ShardProgress } from "../store/index.js";
import { type Html, type HtmlValue, html, joinHtml, preText } from "../untrusted/html.js";
import { terminalText } from "../untrusted/text.js";
import { ALL_SCANS, type SearchPage, type SearchParams } from "./search.js";

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
.ip { white-space: nowrap; overflow-wrap: normal; word-break: keep-all; }
td.ip { overflow-wrap: normal; }
form.search { display: grid; grid-template-columns: minmax(170px, 240px) 1fr auto; gap: 8px 12px; align-items: end; }
form.diff { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px 12px; align-items: end; }
form.search label, form.diff label, form.login label { display: flex; flex-direction: column; font-size: 12px; color: #59636e; gap: 2px; }
form.search input[name=q] { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.syntax { font-size: 12px; color: #59636e; margin: 8px 0 0; }
.syntax code, .syntax summary { color: #1f2328; }
.syntax summary { cursor: pointer; }
.syntax dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0 0; }
.syntax dd { margin: 0; }
input, select, button { font: inherit; padding: 5px 8px; border: 1px solid #c9ced4; border-radius: 4px; background: #fff; color: #1f2328; }
button.primary { background: #0b5cad; color: #fff; border-color: #0b5cad; cursor: pointer; }
progress { width: 180px; height: 12px; vertical-align: middle; }
.muted { color: #59636e; }
.pager { display: flex; gap: 16px; align-items: center; margin-top: 12px; }
.exports { display: flex; gap: 12px; align-items: center; }
.results-head { display: flex; justify-content: space-between; align-items: baseline; gap: 16px; flex-wrap: wrap; }
.state-open { color: #c62828; font-weight: 600; }
.sev-critical { color: #8e1b1b; font-weight: 700; }
.sev-high { color: #8a3d00; font-weight: 700; }
.sev-medium { color: #6b5400; }
a.ref { font-size: 11px; margin-left: 3px; text-decoration: none; }
pre.record { background: #f6f7f9; padding: 12px; overflow: auto; max-height: 480px; font-size: 12px; white-space: pre-wrap; overflow-wrap: anywhere; }
.args { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; overflow-wrap: anywhere; }
.flash { background: #fde8e8; color: #8e1b1b; padding: 8px 12px; border-radius: 4px; }
th[data-sort] { padding: 0; }
th[data-sort] button.sort { display: block; width: 100%; margin: 0; padding: 5px 12px; border: 0; border-radius: 0; background: none; font: inherit; color: inherit; text-align: inherit; white-space: nowrap; cursor: pointer; }
table.data th[data-sort] button.sort { padding: 4px 6px; }
th[data-sort] button.sort:hover { color: #1f2328; background: #eef0f3; }
th[aria-sort=ascending] button.sort::after { content: " ▲"; }
th[aria-sort=descending] button.sort::after { content: " ▼"; }
.table-wrap { overflow-x: auto; }
table.data th, table.data td { padding: 4px 6px; }
table.data td { font-size: 13px; }
.cves, .asn, .time { white-space: nowrap; }
a.sign { color: #c62828; }
.org { display: inline-block; max-width: 9em; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; }
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

// ---------- links ----------

/** A URL with its query from fields (undefined and "" left out). The `html` tag escapes it. */
export function href(path: string, q: Record<string, string | number | undefined> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== "") params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The search of `scan` (an id or `all`) for `q`, the whole filter in `q=` as the form writes it. */
export function searchHref(scan: string, q: HostQuery): string {
  return href("/search", { scan, q: formatQuery(q) });
}

/** The export of a search (the `/export` route): the same scan and query, as CSV or JSONL. */
export function exportHref(scan: string, q: HostQuery, format: "csv" | "jsonl"): string {
  return `/export?${new URLSearchParams({ scan, q: formatQuery(q), format }).toString()}`;
}

const hostHref = (ip: string): string => `/hosts/${encodeURIComponent(ip)}`;
const scanHref = (id: string): string => `/scans/${encodeURIComponent(id)}`;

function a(url: string, text: HtmlValue, cls?: string): Html {
  return cls
    ? html`<a class="${cls}" href="${url}">${text}</a>`
    : html`<a href="${url}">${text}</a>`;
}

/** A link to another site: no opener, no referrer. */
function external(url: string, text: HtmlValue, title: string): Html {
  return html`<a class="ref" href="${url}" rel="noopener noreferrer" title="${title}">${text}</a>`;
}

/** A CVE id: the search for it, and its NVD page. */
function cveLinks(scan: string, id: string): Html {
  const ref = cveReference(id);
  return html`${a(searchHref(scan, { cve: id }), terminalText(id, 24))}${ref ? external(ref, "NVD", `${id} at NVD`) : ""}`;
}

/** An ATT&CK technique id, linked to its page. */
function attackLink(id: string): HtmlValue {
  const ref = attackReference(id);
  return ref ? html`<a href="${ref}" rel="noopener noreferrer">${id}</a>` : terminalText(id, 24);
}

/** An IP address kept on one line (IPv6 included). */
const ipText = (ip: string): Html => html`<span class="ip">${terminalText(ip, 64)}</span>`;

// ---------- page frame ----------

/** The page as the string sent: the one place a page stops being `Html`. */
export function layout(ctx: PageContext, title: string, body: readonly HtmlValue[]): string {
  const nav = NAV.map(([id, url, name]) =>
    ctx.here === id
      ? html`<a href="${url}" class="here">${name}</a>`
      : html`<a href="${url}">${name}</a>`,
  );
  const logout = ctx.login
    ? html`<form method="post" action="/logout"><input type="hidden" name="csrf" value="${ctx.csrf}"><button type="submit">Log out</button></form>`
    : "";
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${terminalText(title, 120)} · redscope</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body>
<nav class="top"><span class="brand">redscope</span>${nav}${logout}</nav>
<div class="page">
${joinHtml(body, "\n")}
</div>
</body>
</html>
`.toString();
}

function heading(kicker: string, title: HtmlValue, facts: Array<[string, HtmlValue]> = []): Html {
  const dl =
    facts.length > 0
      ? html`<dl class="facts">${facts.map(([k, v]) => html`<div><dt>${k}</dt><dd>${typeof v === "string" ? terminalText(v, 300) : v}</dd></div>`)}</dl>`
      : "";
  return html`<header><p class="kicker">${kicker}</p><h1>${typeof title === "string" ? terminalText(title, 200) : title}</h1>${dl}</header>`;
}

function section(title: string, inner: HtmlValue, id?: string): Html {
  return html`<section${id ? html` id="${id}"` : ""}><h2>${terminalText(title, 300)}</h2>
${inner}
</section>`;
}

/** How a column sorts in the page's script: as text, numbers, versions or IP addresses. */
type SortKind = "text" | "num" | "version" | "ip";

interface Column {
  name: string;
  sort?: SortKind;
  /** Right-aligned (numbers); a numeric key with a label beside it (AS64500 name) is not. */
  right?: boolean;
}

/** A cell: markup, or markup with the key it sorts by (when its text is not that key). */
type CellValue = HtmlValue | { cell: HtmlValue; key: string | number };

const col = (name: string, sort: SortKind = "text", right = sort === "num"): Column => ({
  name,
  sort,
  right,
});

/** A table whose headers sort it (the page's script); numbers right-aligned. */
function dataTable(columns: readonly Column[], rows: readonly CellValue[][]): Html {
  if (rows.length === 0) return html`<p class="none">(none)</p>`;
  const cls = (c: Column): string | undefined =>
    c.right ? "num" : c.sort === "ip" ? "ip" : undefined;
  const head = columns.map(
    (c) => html`<th scope="col" class="${cls(c)}" data-sort="${c.sort ?? "text"}">${c.name}</th>`,
  );
  const body = rows.map(
    (r) =>
      html`<tr>${r.map((v, i) => {
        const c = columns[i] ?? { name: "" };
        if (v !== null && typeof v === "object" && !Array.isArray(v) && "cell" in v)
          return html`<td class="${cls(c)}" data-key="${String(v.key)}">${v.cell}</td>`;
        return html`<td class="${cls(c)}">${v as HtmlValue}</td>`;
      })}</tr>`,
  );
  return html`<div class="table-wrap"><table class="data">
<thead><tr>${head}</tr></thead>
<tbody>
${joinHtml(body, "\n")}
</tbody>
</table></div>`;
}

const num = (n: number | undefined): CellValue =>
  n === undefined ? "" : { cell: NUMBER.format(n), key: n };
/** A port: a number, but never written with a thousands separator. */
const portCell = (n: number): CellValue => ({ cell: String(n), key: n });
const time = (iso: string): Html =>
  html`<span class="time">${terminalText(iso.slice(0, 19).replace("T", " "), 19)}</span>`;

// ---------- cells of a result ----------

/** The cells a result's facts make, each linked to the search (in `scan`) for its value. */
function stateCell(scan: string, r: ProbeResult): Html {
  return html`${a(searchHref(scan, { state: r.state }), r.state, `state-${r.state}`)}${r.detail ? html` <span class="muted">${terminalText(r.detail, 40)}</span>` : ""}`;
}

function productCell(scan: string, r: ProbeResult): CellValue {
  const product = r.server?.product;
  const version = r.server?.version;
  const hint = r.server?.version_hint;
  const p = product ? a(searchHref(scan, { product }), terminalText(product, 40)) : "";
  const v =
    version !== undefined
      ? a(searchHref(scan, product ? { product, version } : { version }), terminalText(version, 60))
      : hint !== undefined
        ? html`<span class="muted">${terminalText(hint, 60)}</span>`
        : "";
  return { cell: html`${p}${p && v ? " " : ""}${v}`, key: version ?? hint ?? "" };
}

function countryCell(scan: string, r: ProbeResult): HtmlValue {
  return r.country ? a(searchHref(scan, { country: r.country }), terminalText(r.country, 8)) : "";
}

function asCell(scan: string, r: ProbeResult): CellValue {
  if (r.asn === undefined) return "";
  return {
    cell: html`<span class="asn">${a(searchHref(scan, { asn: r.asn }), `AS${r.asn}`)} <span class="org" title="${terminalText(r.as_org ?? "", 200)}">${terminalText(r.as_org ?? "", 40)}</span></span>`,
    key: r.asn,
  };
}

function cloudCell(scan: string, r: ProbeResult): HtmlValue {
  const provider = r.cloud?.provider;
  if (!provider) return "";
  return html`${a(searchHref(scan, { cloud: provider }), terminalText(provider, 30))} ${terminalText(r.cloud?.region ?? "", 40)}`;
}

/** The worst CVE (CVSS), linked; the others counted (the host page lists them all). */
function cvesCell(scan: string, r: ProbeResult): CellValue {
  const cves = [...(r.cves ?? [])].sort((x, y) => (y.cvss ?? 0) - (x.cvss ?? 0));
  const worst = cves[0];
  if (!worst) return { cell: "", key: "" };
  const more = cves.length > 1 ? html` ${a(hostHref(r.ip), `+${cves.length - 1}`)}` : "";
  return {
    cell: html`<span class="cves">${cveLinks(scan, worst.id)}${worst.cvss !== undefined ? html` <span class="muted">${worst.cvss}</span>` : ""}${more}</span>`,
    key: (worst.cvss ?? 0) * 1000 + cves.length,
  };
}

function attackCell(scan: string, r: ProbeResult): Html {
  return joinHtml(
    (r.attack ?? [])
      .filter((x) => x.verdict === "open")
      .map((x) =>
        a(searchHref(scan, { attack: { technique: x.technique, verdict: "open" } }), x.technique),
      ),
    " ",
  );
}

function compromiseCell(scan: string, r: ProbeResult): Html {
  return joinHtml(
    (r.compromise ?? []).map((c) => a(searchHref(scan, { compromise: c.kind }), c.kind, "sign")),
    " ",
  );
}

/** What an open server is open to, then its signs of compromise (in the danger colour). */
function risksCell(scan: string, r: ProbeResult): HtmlValue {
  const open = attackCell(scan, r);
  const signs = (r.compromise ?? []).length > 0 ? compromiseCell(scan, r) : "";
  return html`${open}${open.toString() && signs ? " · " : ""}${signs}`;
}

// ---------- scans ----------

export interface ScanListEntry {
  scan: ScanInfo;
  /** Summed progress of its unfinished shards (a running scan). */
  progress?: ShardProgress;
}

/** done / total with a progress bar the page's script moves (`data-live-scan`). */
function progressHtml(scanId: string, p: ShardProgress | undefined, reload: boolean): Html {
  const done = p?.done ?? 0;
  const total = Math.max(p?.total ?? 0, done);
  return html`<span data-live-scan="${scanId}"${reload ? html` data-reload="1"` : ""}><progress value="${done}" max="${Math.max(total, 1)}"></progress> <span class="live-text">${NUMBER.format(done)} / ${NUMBER.format(total)}</span></span>`;
}

export function scansPage(ctx: PageContext, entries: ScanListEntry[]): string {
  const newestFirst = [...entries].reverse();
  const rows = newestFirst.map(({ scan, progress }): CellValue[] => {
    const c = scan.counts ?? progress?.counts ?? {};
    const total = Object.values(c).reduce((x, y) => x + y, 0);
    return [
      a(scanHref(scan.id), terminalText(scan.id, 80)),
      terminalText(scan.source, 40),
      time(scan.startedAt),
      scan.finishedAt
        ? html`finished ${time(scan.finishedAt)}`
        : progressHtml(scan.id, progress, false),
      terminalText(scan.targets, 80),
      num(total),
      {
        cell: a(searchHref(scan.id, { state: "open" }), NUMBER.format(c.open ?? 0)),
        key: c.open ?? 0,
      },
      num(c.auth_required ?? 0),
      num(c.protected ?? 0),
    ];
  });
  // Before: the second newest; after: the newest (comparing a scan with itself tells nothing).
  const options = (selected: string | undefined): Html[] =>
    newestFirst.map(
      (e) =>
        html`<option value="${e.scan.id}"${e.scan.id === selected ? html` selected` : ""}>${terminalText(e.scan.id, 60)} (${e.scan.startedAt.slice(0, 10)})</option>`,
    );
  const diffForm =
    entries.length >= 2
      ? section(
          "Compare two scans",
          html`<form class="diff" method="get" action="/diff"><label>before<select name="a">${options(newestFirst[1]?.scan.id)}</select></label><label>after<select name="b">${options(newestFirst[0]?.scan.id)}</select></label><button class="primary" type="submit">Compare</button></form>`,
        )
      : "";
  return layout(ctx, "Scans", [
    heading("redscope dashboard", "Scans"),
    section(
      `${NUMBER.format(entries.length)} scans and imports, newest first`,
      dataTable(
        [
          col("scan"),
          col("source"),
          col("started"),
          col("status"),
          col("targets"),
          col("results", "num"),
          col("open", "num"),
          col("auth required", "num"),
          col("protected", "num"),
        ],
        rows,
      ),
    ),
    diffForm,
  ]);
}

/**
 * Where the report's table cells lead on the dashboard: a value that is a filter (a state, a
 * country, an AS, a cloud, a CVE, a version) and the counts beside it lead to the search for
 * those servers in this scan; a count under a state's column adds that state.
 */
export function reportLinks(scan: string): CellLink {
  const isState = (s: string): boolean => (STATES as readonly string[]).includes(s);
  return (t, row, column) => {
    const cells = t.rows[row] ?? [];
    const value = (i: number): string => String(cells[i] ?? "");
    const name = t.columns[column] ?? "";
    const countColumn = name === "total" || name === "count" || name === "servers";
    /** The row's filter, linked from its key column(s) and its counts. */
    const place = (q: HostQuery | undefined, keyColumns: number): string | undefined => {
      if (q === undefined) return undefined;
      if (column < keyColumns || countColumn) return searchHref(scan, q);
      if (isState(name)) return searchHref(scan, { ...q, state: name });
      return undefined;
    };
    switch (t.id) {
      case "states":
        return isState(value(0)) && (column === 0 || countColumn)
          ? searchHref(scan, { state: value(0) })
          : undefined;
      case "countries": {
        // The cell names the country and ends with its code: "Germany (DE)" (or the bare code).
        const code = /(?:^|\()([A-Z]{2})\)?$/.exec(value(0));
        return place(code ? { country: code[1]! } : undefined, 1);
      }
      case "asns": {
        const asn = /^(?:AS)?(\d{1,10})$/i.exec(value(0));
        return place(asn ? { asn: Number(asn[1]) } : undefined, 1);
      }
      case "clouds":
        // The provider is the filter (region and service are not search keys).
        return place(value(0) !== "" && value(0) !== "-" ? { cloud: value(0) } : undefined, 1);
      case "cves":
        return /^CVE-\d{4}-\d{4,7}$/.test(value(0)) && (column === 0 || countColumn)
          ? searchHref(scan, { cve: value(0) })
          : undefined;
      default:
        if (t.id.startsWith("versions-") && (column === 0 || countColumn)) {
          const version = value(0);
          if (version === "" || version === "-" || version.startsWith("(")) return undefined;
          return searchHref(scan, { product: t.id.slice("versions-".length), version });
        }
        return undefined;
    }
  };
}

/** A report's parts as the report's renderer made them (its own markup). */
export interface ReportParts {
  top: readonly Html[];
  sections: readonly Html[];
}

export function scanPage(
  ctx: PageContext,
  scan: ScanInfo,
  shards: ShardInfo[],
  progress: ShardProgress | undefined,
  report: ReportParts,
  reportAt: string,
): string {
  const stateLinks = joinHtml(
    STATES.map((s) => a(searchHref(scan.id, { state: s }), s)),
    " · ",
  );
  const live = scan.finishedAt
    ? ""
    : section(
        "Running",
        html`<p>${progressHtml(scan.id, progress, true)}</p><p class="muted">The tables below count what was stored by ${reportAt}; the page reloads when the scan finishes.</p>`,
      );
  const shardRows = shards.map((s): CellValue[] => [
    terminalText(s.shard, 20),
    terminalText(s.host ?? "", 80),
    time(s.startedAt),
    s.finishedAt ? time(s.finishedAt) : progressHtml(scan.id, s.progress, false),
  ]);
  return layout(ctx, `Scan ${scan.id}`, [
    ...report.top,
    live,
    section(
      "Look into it",
      html`<p>Search this scan's results by state: ${stateLinks}</p><p class="muted">Or ${a(href("/search", { scan: scan.id }), "search it")} with the query syntax (<code>state:open version:&lt;6 country:DE</code>); click a table's header to sort it.</p>`,
    ),
    ...report.sections,
    shards.length > 1
      ? section(
          "Shards",
          dataTable([col("shard"), col("host"), col("started"), col("finished")], shardRows),
        )
      : "",
  ]);
}

// ---------- search ----------

/** The short help under the query box: every key, and the values the closed ones take. */
function syntaxHelp(): Html {
  const keys: Array<[string, HtmlValue]> = [
    [
      "state:",
      joinHtml(
        STATES.map((s) => html`<code>${s}</code>`),
        " ",
      ),
    ],
    ["product:", html`<code>redis</code> <code>valkey</code> <code>keydb</code> …`],
    [
      "version:",
      html`<code>7.0.15</code> or a comparison <code>&lt;6</code> <code>&gt;=7.2</code> <code>&lt;=6.2.16</code> (as versions: 6.2.16 &lt; 7)`,
    ],
    ["country:", html`two letters: <code>DE</code>`],
    ["asn:", html`<code>AS3320</code> or <code>3320</code>`],
    ["cloud:", html`<code>aws</code> <code>gcp</code> <code>azure</code> …`],
    ["cve:", html`<code>CVE-2025-49844</code>`],
    [
      "attack:",
      html`technique[:verdict], techniques ${joinHtml(
        ATTACK_TECHNIQUES.map((t) => html`<code>${t}</code>`),
        " ",
      )}, verdicts ${joinHtml(
        ATTACK_VERDICTS.map((v) => html`<code>${v}</code>`),
        " ",
      )} (open by default)`,
    ],
    [
      "compromise:",
      joinHtml(
        ["any", ...COMPROMISE_KINDS].map((k) => html`<code>${k}</code>`),
        " ",
      ),
    ],
  ];
  return html`<details class="syntax"><summary>Terms are AND-ed: <code>key:value</code> for ${joinHtml(
    QUERY_KEYS.map((k) => html`<code>${k}</code>`),
    ", ",
  )}; other words or <code>"a phrase"</code> match anywhere in the record.</summary>
<dl>${keys.map(([k, v]) => html`<dt><code>${k}</code></dt><dd>${v}</dd>`)}</dl></details>`;
}

export function searchPageHtml(
  ctx: PageContext,
  p: SearchParams,
  scans: ScanInfo[],
  page: SearchPage | undefined,
  error: string | undefined,
  /** The query as typed, shown again when it could not be read. */
  typed?: string,
): string {
  const f = p.query;
  const all = p.scan === ALL_SCANS;
  const scanOptions = [
    html`<option value="${ALL_SCANS}"${all ? html` selected` : ""}>all scans, newest first</option>`,
    ...[...scans]
      .reverse()
      .map(
        (s) =>
          html`<option value="${s.id}"${s.id === p.scan ? html` selected` : ""}>${terminalText(s.id, 60)} (${s.startedAt.slice(0, 10)})</option>`,
      ),
  ];
  const shown = error !== undefined && typed !== undefined ? typed : formatQuery(f);
  const form = html`<form class="search" method="get" action="/search">
<label>scan<select name="scan">${scanOptions}</select></label>
<label>query<input name="q" value="${shown}" placeholder="state:open product:redis version:&lt;6 country:DE cve:CVE-2025-49844" autocomplete="off" spellcheck="false" aria-describedby="syntax"></label>
<button class="primary" type="submit">Search</button>
</form>
<div id="syntax">${syntaxHelp()}</div>`;
  const body: HtmlValue[] = [
    heading("redscope dashboard", "Search results"),
    section("Filters", form),
  ];
  if (error !== undefined)
    body.push(html`<p class="flash" role="alert">${terminalText(error, 300)}</p>`);
  if (page) {
    // One parameter carries the whole filter: the syntax the form's query box takes.
    const q = { scan: p.scan, q: formatQuery(f) || undefined };
    const rows = page.rows.map(({ scan, result: r }): CellValue[] => {
      // A value's link filters the scan searched (all scans stay all scans).
      const where = p.scan;
      return [
        { cell: a(hostHref(r.ip), ipText(r.ip)), key: r.ip },
        ...(all ? [a(scanHref(scan), terminalText(scan, 40))] : []),
        portCell(r.port),
        stateCell(where, r),
        productCell(where, r),
        terminalText(r.server?.role ?? "", 20),
        countryCell(where, r),
        asCell(where, r),
        cloudCell(where, r),
        cvesCell(where, r),
        risksCell(where, r),
      ];
    });
    const searched = `searched ${(page.searched * 100).toFixed(page.searched < 0.1 ? 1 : 0)}% of ${all ? "all scans" : "the scan"} in ${Math.round(page.ms)} ms`;
    const next =
      page.next !== undefined
        ? a(
            href("/search", {
              ...q,
              ...(all ? { from: page.next.scan } : {}),
              after: page.next.after,
            }),
            `${page.rows.length < 50 ? "Search further" : "Next page"} →`,
          )
        : html`<span class="muted">end of ${all ? "the scans" : "the scan"}</span>`;
    const exports = html`<span class="exports">Export ${a(exportHref(p.scan, f, "csv"), "CSV", "export")} ${a(exportHref(p.scan, f, "jsonl"), "JSONL", "export")}</span>`;
    const columns = [
      col("address", "ip"),
      ...(all ? [col("scan")] : []),
      col("port", "num"),
      col("state"),
      col("product / version", "version"),
      col("role"),
      col("country"),
      col("AS", "num", false),
      col("cloud"),
      col("CVEs", "num", false),
      col("open to · signs"),
    ];
    body.push(
      section(
        "Results",
        html`<div class="results-head"><p class="muted"><span data-count-url="${href("/api/count", q)}">counting…</span> · ${searched}</p>${exports}</div>
${dataTable(columns, rows)}
<div class="pager">${a(href("/search", q), "First page")}${next}</div>`,
      ),
    );
  }
  return layout(ctx, "Search", body);
}

// ---------- one host ----------

/** Longest JSON of a record shown whole. */
const MAX_RECORD_JSON = 20_000;

export function hostPage(ctx: PageContext, ip: string, results: ProbeResult[]): string {
  const rows = results.map((r): CellValue[] => {
    const scan = r.scan_id ?? ALL_SCANS;
    return [
      time(r.time),
      r.scan_id ? a(scanHref(r.scan_id), terminalText(r.scan_id, 60)) : "",
      portCell(r.port),
      stateCell(scan, r),
      productCell(scan, r),
      terminalText(r.server?.role ?? "", 20),
      countryCell(scan, r),
      asCell(scan, r),
      cloudCell(scan, r),
      { cell: NUMBER.format(r.cves?.length ?? 0), key: r.cves?.length ?? 0 },
      terminalText(r.error ?? "", 120),
    ];
  });
  const latest = results[0];
  const latestScan = latest?.scan_id ?? ALL_SCANS;
  const cves = [...(latest?.cves ?? [])]
    .sort((x, y) => (y.cvss ?? 0) - (x.cvss ?? 0))
    .map((c): CellValue[] => [
      cveLinks(latestScan, c.id),
      c.cvss === undefined ? "" : { cell: String(c.cvss), key: c.cvss },
      { cell: terminalText(c.fixed_in ?? "", 30), key: c.fixed_in ?? "" },
    ]);
  let json = latest ? JSON.stringify(latest, null, 2) : "";
  if (json.length > MAX_RECORD_JSON) json = `${json.slice(0, MAX_RECORD_JSON)}\n… (cut)`;
  const record = latest
    ? section(
        "Latest record, whole",
        html`<pre class="record">${preText(json)}</pre><p class="note">What the server said about itself: it may lie.</p>`,
      )
    : "";
  return layout(ctx, `Host ${ip}`, [
    heading("redscope dashboard", html`Host ${ipText(ip)}`, [
      ["Results stored", String(results.length)],
    ]),
    section(
      "Across scans, newest first",
      dataTable(
        [
          col("probed"),
          col("scan"),
          col("port", "num"),
          col("state"),
          col("product / version", "version"),
          col("role"),
          col("country"),
          col("AS", "num", false),
          col("cloud"),
          col("CVEs", "num"),
          col("error"),
        ],
        rows,
      ),
    ),
    latest && cves.length > 0
      ? section(
          "Known CVEs of the latest record (by version alone)",
          dataTable([col("CVE"), col("CVSS", "num"), col("fixed in", "version")], cves),
        )
      : "",
    record,
  ]);
}

// ---------- diff ----------

/**
 * The diff: its summary (the report's table, under the page's one heading) and the changed
 * targets, each linked to its host page.
 */
export function diffPage(ctx: PageContext, d: DiffReport, tables: Table[]): string {
  const [summary, changed] = tables;
  const summaryRows = (summary?.rows ?? []).map((r): CellValue[] => [
    String(r[0] ?? ""),
    typeof r[1] === "number" ? num(r[1]) : String(r[1] ?? ""),
  ]);
  const changedRows = (changed?.rows ?? []).map((r, i): CellValue[] => {
    const row = d.rows[i];
    const target = terminalText(String(r[0] ?? ""), 80);
    return [
      row
        ? { cell: a(hostHref(row.ip), html`<span class="ip">${target}</span>`), key: row.ip }
        : target,
      terminalText(String(r[1] ?? ""), 40),
      { cell: terminalText(String(r[2] ?? ""), 120), key: String(r[2] ?? "") },
      { cell: terminalText(String(r[3] ?? ""), 120), key: String(r[3] ?? "") },
    ];
  });
  return layout(ctx, `Diff ${d.a} → ${d.b}`, [
    heading("redscope diff", `Changes from scan ${d.a} to scan ${d.b}`, [
      ["Before", html`${a(scanHref(d.a), terminalText(d.a, 80))}`],
      ["After", html`${a(scanHref(d.b), terminalText(d.b, 80))}`],
    ]),
    section(
      "Summary",
      dataTable([col("change"), col("targets", "num")], summaryRows),
      summary?.id ?? "diff-summary",
    ),
    section(
      changed?.title ?? "Changed targets",
      html`${dataTable(
        [col("target", "ip"), col("change"), col("before"), col("after")],
        changedRows,
      )}${changed?.note ? html`<p class="note">${terminalText(changed.note, 300)}</p>` : ""}`,
      changed?.id ?? "diff",
    ),
  ]);
}

// ---------- honeypot ----------

function sessionCells(s: HoneypotSessionRow): CellValue[] {
  return [
    a(`/honeypot/sessions/${encodeURIComponent(s.id)}`, time(s.startedAt)),
    { cell: ipText(s.srcIp), key: s.srcIp },
    terminalText(s.persona, 40),
    num(s.commands),
    terminalText(s.classes || "-", 120),
    s.endedAt ? "ended" : "open",
  ];
}

export const SESSION_COLUMNS: readonly Column[] = [
  col("started"),
  col("source", "ip"),
  col("persona"),
  col("commands", "num"),
  col("attack classes"),
  col("status"),
];

export function honeypotPage(
  ctx: PageContext,
  report: ReportParts,
  recent: HoneypotSessionRow[],
  older: string | undefined,
): string {
  const feed = html`<div data-live-honeypot="1">${dataTable(SESSION_COLUMNS, recent.map(sessionCells))}</div>
<div class="pager">${older ? a(href("/honeypot", { before: older }), "Older sessions →") : ""}</div>`;
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
  const eventRows = shown.map((e): CellValue[] => {
    const r = e.record as {
      args?: unknown[];
      effect?: unknown;
      message?: unknown;
      limit?: unknown;
      capture?: unknown;
    };
    let detail = "";
    if (Array.isArray(r.args)) detail = r.args.map((x) => JSON.stringify(String(x))).join(" ");
    else if (r.effect !== undefined) detail = JSON.stringify(r.effect);
    else if (r.message !== undefined) detail = String(r.message);
    else if (r.limit !== undefined) detail = `limit: ${String(r.limit)}`;
    else if (r.capture !== undefined) detail = JSON.stringify(r.capture);
    const ms = Date.parse(e.time) - t0;
    return [
      num(e.seq),
      { cell: `+${(ms / 1000).toFixed(3)} s`, key: ms },
      terminalText(e.kind, 40),
      terminalText(e.name ?? "", 64),
      html`<span class="args">${terminalText(detail, 2000)}</span>`,
    ];
  });
  const findings = (Array.isArray(rec.findings) ? rec.findings : []).map((f): CellValue[] => [
    terminalText(str(f.class), 80),
    joinHtml(
      (Array.isArray(f.attack) ? f.attack : [f.attack])
        .filter((x) => x !== undefined && x !== null && x !== "")
        .map((x) => attackLink(str(x))),
      " ",
    ),
    terminalText(str(f.evidence), 600),
  ]);
  const indicators = Object.entries(rec.indicators ?? {}).flatMap(([kind, values]) =>
    (Array.isArray(values) ? values : [])
      .slice(0, 200)
      .map((v): CellValue[] => [
        terminalText(kind, 40),
        html`<span class="args">${terminalText(str(v), 500)}</span>`,
      ]),
  );
  return layout(ctx, `Session ${s.id}`, [
    heading("honeypot session", `${s.srcIp} → ${s.persona}`, [
      ["Session", s.id],
      ["Source", html`<span class="ip">${terminalText(`${s.srcIp}:${s.srcPort}`, 80)}</span>`],
      ["Listener", s.listener],
      ["Sensor", s.sensor],
      ["Started", s.startedAt],
      ["Ended", s.endedAt ?? "still open"],
      ["Commands", String(s.commands)],
      ["Bytes in / out", `${s.bytesIn} / ${s.bytesOut}`],
    ]),
    section("Attack classes", dataTable([col("class"), col("ATT&CK"), col("evidence")], findings)),
    section(
      "Indicators (hostile text, not links)",
      dataTable([col("kind"), col("value")], indicators),
    ),
    section(
      "Transcript",
      html`${dataTable(
        [col("#", "num"), col("time", "num"), col("event"), col("name"), col("arguments / detail")],
        eventRows,
      )}<p class="note">Arguments are shown as JSON strings, cut at the honeypot's recording limits.${events.length > maxEvents ? ` Only the first ${maxEvents} events are shown.` : ""}</p>`,
    ),
  ]);
}

// ---------- audits ----------

/** Passed, failed and not-checked counts: the row's columns, or (older rows) its record's. */
function checkCounts(x: AuditRow): AuditCounts {
  const fromRecord = auditCounts(x.record as unknown as AuditReport);
  return {
    passed: x.passed ?? fromRecord.passed,
    failed: x.failed ?? fromRecord.failed,
    notChecked: x.notChecked ?? fromRecord.notChecked,
    notApplicable: fromRecord.notApplicable,
  };
}

/** The worst finding, or — never "none" — what was not checked. */
function worstCell(x: AuditRow, n: AuditCounts): HtmlValue {
  const worst = x.worst
    ? html`<span class="sev-${x.worst}">${terminalText(x.worst, 20)}</span>`
    : n.notChecked > 0
      ? ""
      : "none found";
  if (n.notChecked === 0) return worst;
  const why = `${n.notChecked} not checked`;
  return worst ? html`${worst}; ${why}` : why;
}

export function auditsPage(ctx: PageContext, rows: AuditRow[]): string {
  const cells = rows.map((x): CellValue[] => {
    const n = checkCounts(x);
    return [
      a(`/audits/${encodeURIComponent(x.id)}`, time(x.time)),
      terminalText(x.target, 120),
      worstCell(x, n),
      num(x.findings),
      num(n.passed),
      num(n.failed),
      num(n.notChecked),
    ];
  });
  return layout(ctx, "Audits", [
    heading("redscope dashboard", "Audits"),
    section(
      "Audit reports, newest first",
      html`${dataTable(
        [
          col("time"),
          col("target"),
          col("worst"),
          col("findings", "num"),
          col("passed", "num"),
          col("failed", "num"),
          col("not checked", "num"),
        ],
        cells,
      )}<p class="note">Reports appear here when audits run with <code>redscope audit --db</code>. A check not run is not a pass.</p>`,
    ),
  ]);
}

export function auditPage(ctx: PageContext, x: AuditRow): string {
  const r = x.record as unknown as AuditReport;
  const findings = (Array.isArray(r.findings) ? r.findings : []).map((f): CellValue[] => [
    html`<span class="sev-${str(f.severity)}">${terminalText(str(f.severity), 20)}</span>`,
    terminalText(str(f.id), 40),
    terminalText(str(f.title), 200),
    terminalText(str(f.evidence), 500),
    html`<span class="args">${terminalText(str(f.remediation), 500)}</span>`,
  ]);
  const skipped = (Array.isArray(r.notChecked) ? r.notChecked : []).map((n): CellValue[] => [
    terminalText(str(n.id), 40),
    terminalText(str(n.title), 200),
    terminalText(str(n.reason), 300),
  ]);
  const passed = (Array.isArray(r.passed) ? r.passed : []).map((p): CellValue[] => [
    terminalText(str(p.id), 40),
    terminalText(str(p.title), 200),
    terminalText(str(p.detail ?? ""), 300),
  ]);
  const na = (Array.isArray(r.notApplicable) ? r.notApplicable : []).map((n): CellValue[] => [
    terminalText(str(n.id), 40),
    terminalText(str(n.title), 200),
    terminalText(str(n.reason), 300),
  ]);
  const n = checkCounts(x);
  const server = r.server ?? {};
  const idCheck = [col("id"), col("check")];
  return layout(ctx, `Audit of ${x.target}`, [
    heading("redscope audit", x.target, [
      ["Time", x.time],
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
    section(
      "Findings",
      dataTable([col("severity"), ...idCheck, col("seen"), col("fix")], findings),
    ),
    section("Not checked (not passed either)", dataTable([...idCheck, col("why")], skipped)),
    section("Passed", dataTable([...idCheck, col("note")], passed)),
    section("Not applicable to this server", dataTable([...idCheck, col("why")], na)),
    html`<p class="note">${NOT_CHECKABLE}.</p>`,
  ]);
}

// ---------- login and errors ----------

export function loginPage(csrf: string, next: string, error?: string): string {
  return layout({ csrf, login: false, here: "" }, "Log in", [
    heading("redscope dashboard", "Log in"),
    error ? html`<p class="flash">${terminalText(error, 300)}</p>` : "",
    section(
      "Token",
      html`<form class="login" method="post" action="/login">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="next" value="${next}">
<label>the token <code>redscope serve</code> printed, or $REDSCOPE_TOKEN<input name="token" type="password" autocomplete="current-password" autofocus></label>
<p><button class="primary" type="submit">Log in</button></p>
</form>`,
    ),
  ]);
}

export function errorPage(ctx: PageContext, status: number, message: string): string {
  return layout(ctx, `${status}`, [heading(`error ${status}`, message)]);
}
