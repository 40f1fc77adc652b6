/**
 * The report as one self-contained HTML file a security team can forward: the tables of
 * reportTables as HTML tables, charts as inline SVG drawn here by Apache ECharts (server-side
 * rendering), one inline stylesheet, and no script at all. A Content-Security-Policy forbids
 * loading or running anything, so even an escaping bug could not turn what a scanned server
 * wrote into a request or a script.
 */

import { createRequire } from "node:module";
import type * as Echarts from "echarts";
import type { BarSeriesOption, EChartsOption, LineSeriesOption } from "echarts";
import { STATES, type State } from "../schema/result.js";
import { escapeHtml, htmlText, terminalText } from "../untrusted/text.js";
import { withAttackTables } from "./attack.js";
import type { Report } from "./build.js";
import type { HoneypotReport } from "./honeypot.js";
import { honeypotTables } from "./honeypot.js";
import { type Cell, reportTables, type Table } from "./tables.js";

/**
 * Every redscope command imports the report module, and ECharts' ES module tree takes some
 * 350 ms to load: its CommonJS bundle loads in a fifth of that, and only when a page is drawn.
 */
let echartsModule: typeof Echarts | undefined;
function echarts(): typeof Echarts {
  if (!echartsModule) {
    echartsModule = createRequire(import.meta.url)("echarts") as typeof Echarts;
    echartsModule.setPlatformAPI({ measureText: measureText });
  }
  return echartsModule;
}

/**
 * Layout happens here, text is drawn by the reader's browser in whatever sans-serif it has.
 * Without a canvas ECharts measures text with Arial's widths; DejaVu Sans (Linux's default) is
 * some 15% wider, and axis labels and legends then overlap or run off the edge. Measuring with
 * DejaVu-like widths leaves a little slack under Arial and fits everywhere.
 */
function measureText(s: string, font?: string): { width: number } {
  const size = Number(/(\d+(?:\.\d+)?)px/.exec(font ?? "")?.[1] ?? 12);
  let em = 0;
  for (const ch of s) {
    if (/[0-9a-z]/.test(ch)) em += 0.64;
    else if (/[A-Z]/.test(ch)) em += 0.74;
    else if (ch === " ") em += 0.32;
    // CJK and the rest of the wide scripts: a full em.
    else if ((ch.codePointAt(0) ?? 0) >= 0x2e80) em += 1;
    else em += 0.62;
  }
  return { width: em * size };
}

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

function cellHtml(c: Cell): string {
  return typeof c === "number" ? NUMBER.format(c) : htmlText(c);
}

/** One colour per state, the same in every chart: red for open, green and blue for the guarded. */
const STATE_COLOUR: Record<State, string> = {
  open: "#c62828",
  auth_required: "#2e7d32",
  protected: "#1565c0",
  ip_restricted: "#6a1b9a",
  busy: "#ef6c00",
  error: "#8d6e63",
  not_redis: "#00838f",
  silent: "#9e9e9e",
  closed: "#c5cbd3",
  timeout: "#78909c",
};

const PRODUCT_COLOURS = ["#1565c0", "#00838f", "#6a1b9a", "#ef6c00", "#5d4037", "#455a64"];

const INK = "#1f2328";
const MUTED = "#59636e";
const RULE = "#e3e6ea";
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";

const CHART_WIDTH = 880;
/** Height of one bar's row in the horizontal bar charts. */
const BAR_ROW = 24;
/** Axis labels longer than this are cut: a chart is for the shape, the table has the rest. */
const LABEL_MAX = 32;

/**
 * A chart label from data. ECharts writes text content through its own encodeHTML (& < > " ')
 * — verified in the SVG it renders, and the test checks hostile labels come out escaped — so
 * labels go in plain, not pre-escaped (which would show `&lt;` to the reader).
 */
const label = (s: string): string => terminalText(s, LABEL_MAX);

/** CSS properties that SVG also takes as presentation attributes (all ECharts writes). */
const PRESENTATION = new Set([
  "font-size",
  "font-family",
  "font-weight",
  "font-style",
  "fill",
  "fill-opacity",
  "stroke",
  "stroke-width",
  "stroke-opacity",
  "opacity",
  "text-anchor",
  "dominant-baseline",
  "pointer-events",
]);

/**
 * ECharts' `style="…"` on text becomes presentation attributes: the dashboard's CSP allows no
 * inline style, and attributes are not style. A property SVG has no attribute for fails the
 * chart rather than be dropped.
 */
function styleAttrs(_all: string, css: string): string {
  let out = "";
  for (const decl of css.split(";")) {
    if (decl.trim() === "") continue;
    const i = decl.indexOf(":");
    const prop = decl.slice(0, i).trim().toLowerCase();
    if (i < 0 || !PRESENTATION.has(prop)) {
      throw new Error(`chart SVG style has no attribute form: ${decl.slice(0, 80)}`);
    }
    out += ` ${prop}="${decl.slice(i + 1).trim()}"`;
  }
  return out;
}

/**
 * ECharts does not escape attribute values. Labels only ever become text (no aria description,
 * links or rich-text styles from data), and should a later ECharts put one in an attribute, a
 * tag holding an event handler, a script, a link or a URL (other than `url(#…)`, a clip path
 * in the same SVG) fails the report rather than ship. The namespace URIs go: inline SVG in HTML
 * needs none, and the page then holds no URL at all.
 */
function inertSvg(svg: string): string {
  const out = svg
    .replace(/ xmlns(?::xlink)?="[^"]*"/g, "")
    // ECharts adds <style> blocks for hover effects: the charts are silent (no hover), and a
    // page whose CSP allows no inline style would report each one.
    .replace(/<style\b[^>]*>[\s\S]*?<\/style>/g, "")
    .replace(/ style="([^"]*)"/g, styleAttrs);
  for (const tag of out.match(/<[^>]*>/g) ?? []) {
    if (
      /^<\/?(script|foreignobject|image|use|a)\b|\son[a-z]+\s*=|href|url\((?!#)|\/\//i.test(tag)
    ) {
      throw new Error(`chart SVG holds an active element or reference: ${tag.slice(0, 80)}`);
    }
  }
  return out;
}

function renderChart(height: number, option: EChartsOption): string {
  const chart = echarts().init(null, null, {
    renderer: "svg",
    ssr: true,
    width: CHART_WIDTH,
    height,
  });
  try {
    chart.setOption({
      animation: false,
      textStyle: { fontFamily: FONT, color: INK },
      ...option,
    });
    return inertSvg(chart.renderToSVGString());
  } finally {
    chart.dispose();
  }
}

interface Bar {
  label: string;
  value: number;
  colour: string;
}

const barLabel = { show: true, position: "right", color: INK, fontSize: 12 } as const;
const categoryAxis = {
  type: "category",
  inverse: true,
  axisTick: { show: false },
  axisLine: { lineStyle: { color: RULE } },
  axisLabel: { color: INK, fontSize: 12 },
} as const;
const valueAxis = {
  type: "value",
  axisLabel: { show: false },
  splitLine: { lineStyle: { color: RULE } },
} as const;

/** Horizontal bars, one per row, the largest on top; `silent`: there is nothing to hover. */
function barSeries(bars: Bar[], index: number): BarSeriesOption {
  return {
    type: "bar",
    silent: true,
    xAxisIndex: index,
    yAxisIndex: index,
    barMaxWidth: 16,
    label: { ...barLabel, formatter: (p: { value: unknown }) => NUMBER.format(Number(p.value)) },
    data: bars.map((b) => ({ value: b.value, itemStyle: { color: b.colour } })),
  };
}

const titleStyle = { fontSize: 14, fontWeight: 600, color: INK } as const;
/** A legend under the title; `selectedMode: false`: the page has no script to toggle series. */
const LEGEND = { top: 28, left: 0, selectedMode: false, textStyle: { color: INK } } as const;
/** A vertical axis of counts (whole numbers). */
const COUNT_AXIS = {
  type: "value",
  minInterval: 1,
  axisLabel: { color: MUTED },
  splitLine: { lineStyle: { color: RULE } },
} as const;
/** A horizontal axis of times or days. */
const TIME_AXIS = {
  type: "category",
  axisLine: { lineStyle: { color: RULE } },
  axisLabel: { color: INK },
} as const;

/** The NICER rows beside redscope's finer states, coloured by state. */
function statesChart(r: Report): string {
  const panels: Array<[string, Bar[]]> = [
    [
      "NICER rows",
      r.nicer.map((s) => ({
        label: s.nicer ?? s.state,
        value: s.count,
        colour: STATE_COLOUR[s.state as State] ?? MUTED,
      })),
    ],
    [
      "redscope states",
      r.states.map((s) => ({
        label: s.state,
        value: s.count,
        colour: STATE_COLOUR[s.state as State] ?? MUTED,
      })),
    ],
  ];
  const rows = Math.max(1, ...panels.map(([, bars]) => bars.length));
  // Each panel holds its axis labels; the gap between them is room for the left one's counts.
  const grids = [
    { left: 0, right: "56%" },
    { left: "52%", right: 40 },
  ];
  return renderChart(rows * BAR_ROW + 48, {
    title: panels.map(([title], i) => ({
      text: title,
      left: grids[i]?.left,
      top: 0,
      textStyle: titleStyle,
    })),
    grid: grids.map((g) => ({
      ...g,
      top: 32,
      bottom: 8,
      outerBoundsMode: "same",
      outerBoundsContain: "axisLabel",
    })),
    xAxis: panels.map((_, i) => ({ ...valueAxis, gridIndex: i })),
    yAxis: panels.map(([, bars], i) => ({
      ...categoryAxis,
      gridIndex: i,
      data: bars.map((b) => label(b.label)),
    })),
    series: panels.map(([, bars], i) => barSeries(bars, i)),
  });
}

/** The version table as bars: the most common versions of each product, largest first. */
const VERSIONS_PER_PRODUCT = 12;

function versionsChart(r: Report): string | undefined {
  const products = r.versions.products;
  if (products.length === 0) return undefined;
  const several = products.length > 1;
  const bars: Bar[] = products.flatMap((p, i) =>
    p.rows.slice(0, VERSIONS_PER_PRODUCT).map((v) => ({
      // Each bar says its product when there are several.
      label: several ? `${p.product} ${v.version}` : v.version,
      value: v.count,
      colour: PRODUCT_COLOURS[i % PRODUCT_COLOURS.length] ?? MUTED,
    })),
  );
  const shown = several ? "per product" : `of ${products[0]?.product}`;
  return renderChart(bars.length * BAR_ROW + 48, {
    title: { text: `Most common versions ${label(shown)}`, left: 0, top: 0, textStyle: titleStyle },
    grid: { left: 0, right: 48, top: 32, bottom: 8 },
    xAxis: valueAxis,
    yAxis: { ...categoryAxis, data: bars.map((b) => label(b.label)) },
    series: barSeries(bars, 0),
  });
}

/** Servers per cloud place, stacked by state: where the open ones are. */
function cloudsChart(r: Report): string | undefined {
  if (r.clouds.length === 0) return undefined;
  const states = STATES.filter((s) => r.clouds.some((c) => (c.byState[s] ?? 0) > 0));
  return renderChart(r.clouds.length * BAR_ROW + 72, {
    title: { text: "Servers per cloud, by state", left: 0, top: 0, textStyle: titleStyle },
    legend: LEGEND,
    grid: { left: 0, right: 48, top: 60, bottom: 8 },
    xAxis: valueAxis,
    yAxis: {
      ...categoryAxis,
      data: r.clouds.map((c) => label(c.key.filter((k) => k !== "").join(" "))),
    },
    series: states.map((s) => ({
      type: "bar",
      name: s,
      stack: "state",
      silent: true,
      barMaxWidth: 16,
      itemStyle: { color: STATE_COLOUR[s] },
      data: r.clouds.map((c) => c.byState[s] ?? 0),
    })),
  });
}

/** Published counts of open servers (a reference's), as points of the trend chart. */
function publishedPoints(r: Report): Array<{ date: string; count: number; name: string }> {
  const ref = r.reference;
  if (!ref) return [];
  const out = (ref.open_counts ?? []).map((c) => ({
    date: c.date,
    count: c.count,
    name: `${c.approximate ? "~" : ""}${c.count} ${c.what}`,
  }));
  const returned = ref.nicer?.rows["Returned version"];
  if (ref.nicer && returned !== undefined) {
    out.push({ date: ref.nicer.date, count: returned, name: `${ref.title}: Returned version` });
  }
  return out;
}

/**
 * Counts per state across scans of the same targets, oldest first; with a reference, the open
 * servers others published stand on the same time axis as one more series.
 */
function trendChart(r: Report): string | undefined {
  const published = publishedPoints(r);
  if (r.trends.length < 2 && published.length === 0) return undefined;
  // With one scan there is no trend of its own: its open servers, beside the published ones.
  const states = STATES.filter(
    (s) => (r.trends.length > 1 || s === "open") && r.trends.some((t) => (t.counts[s] ?? 0) > 0),
  );
  // One category per scan and per published date, in time order (ISO dates sort as text).
  const points = [
    ...r.trends.map((t) => ({ at: t.startedAt.slice(0, 16).replace("T", " "), trend: t })),
    ...published.map((p) => ({ at: p.date, published: p })),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const series: LineSeriesOption[] = states.map((s) => ({
    type: "line",
    name: s,
    silent: true,
    connectNulls: true,
    symbolSize: 7,
    lineStyle: { width: 2.5, color: STATE_COLOUR[s] },
    itemStyle: { color: STATE_COLOUR[s] },
    data: points.map((p) => ("trend" in p && p.trend ? (p.trend.counts[s] ?? 0) : null)),
  }));
  if (published.length > 0) {
    series.push({
      type: "line",
      name: label(`open, published (${r.reference?.title ?? ""})`),
      silent: true,
      connectNulls: true,
      symbol: "diamond",
      symbolSize: 10,
      lineStyle: { width: 1.5, type: "dashed", color: MUTED },
      itemStyle: { color: STATE_COLOUR.open },
      data: points.map((p) => ("published" in p && p.published ? p.published.count : null)),
    });
  }
  return renderChart(340, {
    title: {
      text:
        published.length > 0
          ? "Servers per state, beside published counts"
          : "Servers per state, scan by scan",
      left: 0,
      top: 0,
      textStyle: titleStyle,
    },
    legend: LEGEND,
    // A published series makes the legend long enough to wrap.
    grid: { left: 0, right: 24, top: published.length > 0 ? 88 : 64, bottom: 8 },
    xAxis: { ...TIME_AXIS, boundaryGap: false, data: points.map((p) => label(p.at)) },
    yAxis: COUNT_AXIS,
    series,
  });
}

/** Where a table's cell leads (the dashboard: the search for its value); undefined: nowhere. */
export type CellLink = (t: Table, row: number, column: number) => string | undefined;

export function tableHtml(t: Table, link?: CellLink): string {
  const align = (i: number): string => (t.numeric[i] ? ' class="num"' : "");
  const head = t.columns.map((c, i) => `<th${align(i)}>${htmlText(c)}</th>`).join("");
  const cell = (c: Cell, r: number, i: number): string => {
    const to = link?.(t, r, i);
    return to === undefined ? cellHtml(c) : `<a href="${escapeHtml(to)}">${cellHtml(c)}</a>`;
  };
  const body = t.rows
    .map(
      (row, r) => `<tr>${row.map((c, i) => `<td${align(i)}>${cell(c, r, i)}</td>`).join("")}</tr>`,
    )
    .join("\n");
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

export function sectionHtml(t: Table, chart: string | undefined, link?: CellLink): string {
  const parts = [`<section id="${htmlText(t.id)}">`, `<h2>${htmlText(t.title)}</h2>`];
  if (chart) parts.push(`<figure class="chart">${chart}</figure>`);
  parts.push(t.rows.length > 0 ? tableHtml(t, link) : '<p class="none">(none)</p>');
  if (t.note) parts.push(`<p class="note">${htmlText(t.note, 1000)}</p>`);
  parts.push("</section>");
  return parts.join("\n");
}

function headerHtml(r: Report): string {
  const s = r.scan;
  const facts: Array<[string, string]> = [
    ["Scan", s.id],
    ["Source", s.source],
    ["Targets", s.targets || "-"],
    ["Ports", s.ports || "-"],
    ["Started", s.startedAt],
    ["Finished", s.finishedAt ?? "not finished"],
    ["Report generated", r.generatedAt],
  ];
  return [
    "<header>",
    `<p class="kicker">redscope report</p>`,
    `<h1>Redis exposure: scan ${htmlText(s.id, 80)}</h1>`,
    `<dl class="facts">${facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${htmlText(v)}</dd></div>`).join("")}</dl>`,
    "</header>",
  ].join("\n");
}

/** The numbers a reader looks for first: how many answered, how many of them are open. */
function summaryHtml(r: Report): string {
  const count = (st: State): number => r.states.find((s) => s.state === st)?.count ?? 0;
  const share = (n: number): string =>
    r.total > 0 ? `${((100 * n) / r.total).toFixed(1)}% of targets` : "";
  const tiles: Array<[string, number, string, string]> = [
    ["Targets probed", r.total, "", "total"],
    ["Open (no authentication)", count("open"), share(count("open")), "open"],
    ["Authentication required", count("auth_required"), share(count("auth_required")), "auth"],
    ["Protected mode", count("protected"), share(count("protected")), "protected"],
  ];
  const tileHtml = tiles
    .map(
      ([name, n, sub, kind]) =>
        `<div class="tile ${kind}"><div class="n">${NUMBER.format(n)}</div><div class="k">${name}</div>${sub ? `<div class="sub">${sub}</div>` : ""}</div>`,
    )
    .join("\n");
  const bands = r.exposure.worstCvss;
  const cvss =
    bands.length > 0
      ? `<ul class="bands">${bands.map((b) => `<li class="band ${htmlText(b.band.split(" ")[0] ?? "")}"><span class="n">${NUMBER.format(b.servers)}</span> ${htmlText(b.band)}</li>`).join("")}</ul>`
      : '<p class="none">no server with a known CVE</p>';
  return [
    '<section class="summary" aria-label="summary">',
    `<div class="tiles">${tileHtml}</div>`,
    `<div class="cvss"><h3>Servers by their worst CVE (by version alone)</h3>${cvss}</div>`,
    "</section>",
  ].join("\n");
}

/** Charts by the id of the table they stand above. */
function chartsByTable(r: Report): Map<string, string> {
  const charts = new Map<string, string>();
  charts.set("nicer", statesChart(r));
  const firstProduct = r.versions.products[0];
  const versions = versionsChart(r);
  if (firstProduct && versions) charts.set(`versions-${firstProduct.product}`, versions);
  const clouds = cloudsChart(r);
  if (clouds) charts.set("clouds", clouds);
  // Above the trend table; with only one scan there is none, and the published counts' table
  // carries the chart of this scan beside them.
  const trends = trendChart(r);
  if (trends) charts.set(r.trends.length > 1 ? "trends" : "published", trends);
  return charts;
}

export const STYLE = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f6f7f9; color: ${INK}; font: 14px/1.5 ${FONT}; }
.page { max-width: 960px; margin: 0 auto; padding: 32px 24px 48px; }
header { border-bottom: 3px solid ${INK}; padding-bottom: 16px; margin-bottom: 24px; }
.kicker { margin: 0; color: ${MUTED}; text-transform: uppercase; letter-spacing: .08em; font-size: 12px; font-weight: 600; }
h1 { margin: 4px 0 16px; font-size: 26px; line-height: 1.25; overflow-wrap: anywhere; }
h2 { margin: 0 0 12px; font-size: 18px; overflow-wrap: anywhere; }
h3 { margin: 0 0 8px; font-size: 14px; }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 8px 24px; margin: 0; }
.facts dt { color: ${MUTED}; font-size: 12px; }
.facts dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.summary { background: #fff; border: 1px solid ${RULE}; border-radius: 8px; padding: 20px; margin-bottom: 24px; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-bottom: 16px; }
.tile { border-left: 4px solid ${MUTED}; padding: 4px 12px; }
.tile .n { font-size: 26px; font-weight: 700; font-variant-numeric: tabular-nums; }
.tile .k { font-weight: 600; }
.tile .sub { color: ${MUTED}; font-size: 12px; }
.tile.open { border-color: ${STATE_COLOUR.open}; }
.tile.open .n { color: ${STATE_COLOUR.open}; }
.tile.auth { border-color: ${STATE_COLOUR.auth_required}; }
.tile.protected { border-color: ${STATE_COLOUR.protected}; }
.bands { display: flex; flex-wrap: wrap; gap: 8px; list-style: none; margin: 0; padding: 0; }
.band { border-radius: 4px; padding: 4px 10px; background: #eef0f3; }
.band .n { font-weight: 700; font-variant-numeric: tabular-nums; }
.band.critical { background: #fde8e8; color: #8e1b1b; }
.band.high { background: #fff0e0; color: #8a3d00; }
.band.medium { background: #fff8d6; color: #6b5400; }
section { background: #fff; border: 1px solid ${RULE}; border-radius: 8px; padding: 20px; margin-bottom: 16px; }
.chart { margin: 0 0 16px; }
.chart svg { display: block; width: 100%; height: auto; }
table { min-width: 60%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 12px; border-bottom: 1px solid ${RULE}; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
th { border-bottom: 2px solid #c9ced4; font-size: 12px; color: ${MUTED}; font-weight: 600; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
.num { text-align: right; white-space: nowrap; }
.note, .none { color: ${MUTED}; font-size: 13px; margin: 8px 0 0; }
footer { color: ${MUTED}; font-size: 12px; margin-top: 24px; }
@media (max-width: 700px) { .tiles { grid-template-columns: repeat(2, 1fr); } }
@media print {
  @page { margin: 14mm; }
  body { background: #fff; font-size: 11px; }
  .page { max-width: none; padding: 0; }
  section, .summary { border: none; padding: 0; margin-bottom: 18px; }
  .chart, .summary, tr { break-inside: avoid; }
  h2 { break-after: avoid; }
}
`;

/**
 * `default-src 'none'` with inline styles and data: images only: nothing can be fetched,
 * framed, submitted or run. base-uri and form-action are not covered by default-src.
 */
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/** A scan report's header, summary and sections (the file report and the dashboard alike). */
export function reportParts(r: Report, link?: CellLink): { top: string[]; sections: string[] } {
  const charts = chartsByTable(r);
  const sections = withAttackTables(r, reportTables(r))
    .filter((t) => t.rows.length > 0 || t.note !== undefined)
    .map((t) => sectionHtml(t, charts.get(t.id), link));
  return { top: [headerHtml(r), summaryHtml(r)], sections };
}

export function renderHtml(r: Report): string {
  const { top, sections } = reportParts(r);
  return page(
    `redscope report: scan ${r.scan.id}`,
    top,
    sections,
    `Generated by redscope on ${htmlText(r.generatedAt)}. Labels and versions are what the scanned servers reported and may be false; CVEs are matched by version alone.`,
  );
}

/** The shell every HTML report shares: CSP, stylesheet, header parts, sections, footer. */
function page(title: string, top: string[], sections: string[], footer: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${htmlText(title, 120)}</title>
<style>${STYLE}</style>
</head>
<body>
<div class="page">
${top.join("\n")}
<main>
${sections.join("\n")}
</main>
<footer>${footer}</footer>
</div>
</body>
</html>
`;
}

/** Titled tables as one self-contained page (listings: `report --list -f html`). */
export function renderTablesHtml(title: string, tables: Table[]): string {
  return page(
    title,
    [`<header><h1>${htmlText(title, 120)}</h1></header>`],
    tables.map((t) => sectionHtml(t, undefined)),
    "Generated by redscope.",
  );
}

/** Sessions per day, those with an attack in red. */
function honeypotDaysChart(h: HoneypotReport): string | undefined {
  if (h.perDay.length === 0) return undefined;
  return renderChart(300, {
    title: { text: "Sessions per day", left: 0, top: 0, textStyle: titleStyle },
    legend: LEGEND,
    grid: { left: 0, right: 24, top: 64, bottom: 8 },
    xAxis: { ...TIME_AXIS, data: h.perDay.map((d) => label(d.day)) },
    yAxis: COUNT_AXIS,
    series: [
      {
        type: "bar",
        name: "with an attack",
        stack: "day",
        silent: true,
        barMaxWidth: 28,
        itemStyle: { color: STATE_COLOUR.open },
        data: h.perDay.map((d) => d.attacks),
      },
      {
        type: "bar",
        name: "other",
        stack: "day",
        silent: true,
        barMaxWidth: 28,
        itemStyle: { color: MUTED },
        data: h.perDay.map((d) => d.sessions - d.attacks),
      },
    ],
  });
}

/** Attack classes by sessions, the most frequent on top. */
function honeypotClassesChart(h: HoneypotReport): string | undefined {
  if (h.classes.length === 0) return undefined;
  const classes = h.classes.slice(0, 20);
  return renderChart(classes.length * BAR_ROW + 40, {
    title: { text: "Sessions per attack class", left: 0, top: 0, textStyle: titleStyle },
    grid: { left: 0, right: 48, top: 32, bottom: 8 },
    xAxis: valueAxis,
    yAxis: { ...categoryAxis, data: classes.map((c) => label(c.class)) },
    series: [
      barSeries(
        classes.map((c) => ({ label: c.class, value: c.sessions, colour: STATE_COLOUR.open })),
        0,
      ),
    ],
  });
}

/**
 * The honeypot's report as one page, under the same rules as a scan's: the tables of
 * honeypotTables, two charts, no script, and everything visitors wrote escaped and cut.
 */
export function renderHoneypotHtml(h: HoneypotReport, span: string, generatedAt: string): string {
  const { top, sections } = honeypotParts(h, span, generatedAt);
  return page(
    "redscope report: honeypot",
    top,
    sections,
    `Generated by redscope on ${htmlText(generatedAt)}. Everything shown was written by visitors: addresses may be spoofed or relayed, and indicators are hostile text, not links.`,
  );
}

/** The honeypot report's header and sections (the file report and the dashboard alike). */
export function honeypotParts(
  h: HoneypotReport,
  span: string,
  generatedAt: string,
): { top: string[]; sections: string[] } {
  const charts = new Map<string, string | undefined>([
    ["hp-days", honeypotDaysChart(h)],
    ["hp-classes", honeypotClassesChart(h)],
  ]);
  const sections = honeypotTables(h).map((t) => sectionHtml(t, charts.get(t.id)));
  const facts: Array<[string, string]> = [
    ["Sessions", NUMBER.format(h.sessions)],
    ["Source addresses", NUMBER.format(h.sources)],
    ["Commands", NUMBER.format(h.commands)],
    ["Bytes received", NUMBER.format(h.bytesIn)],
    ["Period", span],
    ["Report generated", generatedAt],
  ];
  const header = [
    "<header>",
    `<p class="kicker">redscope report</p>`,
    "<h1>Honeypot: who came and what they tried</h1>",
    `<dl class="facts">${facts.map(([k, v]) => `<div><dt>${k}</dt><dd>${htmlText(v)}</dd></div>`).join("")}</dl>`,
    "</header>",
  ].join("\n");
  return { top: [header], sections };
}
