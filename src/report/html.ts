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
import { NICER_ROW, STATES, type State } from "../schema/result.js";
import { type Html, html, joinHtml, trustedHtml } from "../untrusted/html.js";
import { terminalText } from "../untrusted/text.js";
import { withAttackTables } from "./attack.js";
import type { Report } from "./build.js";
import type { HoneypotReport } from "./honeypot.js";
import { honeypotTables } from "./honeypot.js";
import { count } from "./plural.js";
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

/** Longest cell shown: the table is for reading, the JSON export has everything. */
const CELL_MAX = 300;

function cellHtml(c: Cell): Html | string {
  return typeof c === "number" ? NUMBER.format(c) : terminalText(c, CELL_MAX);
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
      // A white ground: the downloaded SVG is placed on a paper's page as it is.
      backgroundColor: "#fff",
      textStyle: { fontFamily: FONT, color: INK },
      ...option,
    });
    return inertSvg(chart.renderToSVGString());
  } finally {
    chart.dispose();
  }
}

/**
 * A chart as a paper needs it: the SVG, a caption that says what is counted and over how many
 * (N), and a short name for the downloaded file. Numbers are given when the page is put
 * together, in the order the figures appear.
 */
export interface Figure {
  /** Part of the file name: `redscope-<scan>-figure-2-versions.svg`. */
  name: string;
  /** Inline SVG from renderChart (inert, no namespace). */
  svg: string;
  /** One sentence, ending with "(N = …)". */
  caption: string;
}

/** Figure and table numbers, counted as a page shows them; `prefix` starts each file name. */
export class Numbering {
  figures = 0;
  tables = 0;
  constructor(readonly prefix = "redscope") {}
}

/** A file-name part from an id that may be anything a store holds. */
const slug = (s: string): string =>
  s
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-.]+|-+$/g, "")
    .slice(0, 40) || "report";

/**
 * The figure as a file of its own: the SVG namespace back (inline SVG in HTML needs none; a
 * file does), the caption as its title, UTF-8. Offered as a `data:` URL with a file name, so
 * the download works offline and with no script; the page's own text never holds the URL in
 * clear (it is base64), and the SVG is the inert one the page shows.
 */
function svgDownload(svg: string, title: string): string {
  const head = '<svg xmlns="http://www.w3.org/2000/svg"';
  const titled = svg
    .replace(/^<svg\b/, head)
    .replace(/^(<svg\b[^>]*>)/, (open) =>
      html`${trustedHtml(open)}<title>${terminalText(title, 500)}</title>`.toString(),
    );
  if (!titled.startsWith(head)) throw new Error("chart SVG does not start with <svg");
  const file = `<?xml version="1.0" encoding="UTF-8"?>\n${titled}\n`;
  return `data:image/svg+xml;base64,${Buffer.from(file, "utf8").toString("base64")}`;
}

function figureHtml(f: Figure, n: Numbering): Html {
  const no = ++n.figures;
  const file = `${n.prefix}-figure-${no}-${f.name}.svg`;
  return html`<figure class="chart" id="figure-${no}">
${trustedHtml(f.svg)}
<figcaption><span class="label">Figure ${no}.</span> ${f.caption} <a class="download" download="${file}" href="${svgDownload(f.svg, `Figure ${no}. ${f.caption}`)}" title="${file}">Download SVG</a></figcaption>
</figure>
`;
}

interface Bar {
  label: string;
  value: number;
  colour: string;
}

const barLabel = { show: true, position: "right", color: INK, fontSize: 12 } as const;
/** Axis titles: muted, beside the ticks they name. */
const AXIS_NAME = { color: MUTED, fontSize: 12 } as const;
const categoryAxis = {
  type: "category",
  inverse: true,
  axisTick: { show: false },
  axisLine: { lineStyle: { color: RULE } },
  axisLabel: { color: INK, fontSize: 12 },
  // An inverse axis starts at the top: the name heads the column of labels.
  nameLocation: "start",
  nameTextStyle: { ...AXIS_NAME, align: "right", fontWeight: 600 },
  nameGap: 8,
} as const;
/** A horizontal axis of counts under bars: whole numbers, ticks labelled, titled. */
const valueAxis = (name: string) =>
  ({
    type: "value",
    minInterval: 1,
    name,
    nameLocation: "middle",
    nameGap: 26,
    nameTextStyle: AXIS_NAME,
    axisLabel: { color: MUTED, fontSize: 11 },
    splitLine: { lineStyle: { color: RULE } },
  }) as const;

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

/** A panel's title inside a chart of several panels (a single chart's title is its caption). */
const panelTitle = { fontSize: 13, fontWeight: 600, color: INK } as const;
/** The legend on top; `selectedMode: false`: the page has no script to toggle series. */
const LEGEND = { top: 0, left: 0, selectedMode: false, textStyle: { color: INK } } as const;
/** A vertical axis of counts (whole numbers), titled along its side. */
const countAxis = (name: string) =>
  ({
    type: "value",
    minInterval: 1,
    name,
    nameLocation: "middle",
    nameGap: 44,
    nameTextStyle: AXIS_NAME,
    axisLabel: { color: MUTED },
    splitLine: { lineStyle: { color: RULE } },
  }) as const;
/** A horizontal axis of times or days, titled under its ticks. */
const timeAxis = (name: string) =>
  ({
    type: "category",
    name,
    nameLocation: "middle",
    nameGap: 28,
    nameTextStyle: AXIS_NAME,
    axisLine: { lineStyle: { color: RULE } },
    axisLabel: { color: INK },
  }) as const;

/** Redis-protocol states (those the NICER study had a row for), and the rest. */
const REDIS_STATES = STATES.filter((s) => NICER_ROW[s] !== undefined);
const OTHER_STATES = STATES.filter((s) => NICER_ROW[s] === undefined);

const fmt = (n: number): string => NUMBER.format(n);

/** The NICER rows beside redscope's finer states, coloured by state. */
function statesFigure(r: Report): Figure {
  const panels: Array<[string, string, Bar[]]> = [
    [
      "NICER rows",
      "Redis nodes",
      r.nicer.map((s) => ({
        label: s.nicer ?? s.state,
        value: s.count,
        colour: STATE_COLOUR[s.state as State] ?? MUTED,
      })),
    ],
    [
      "redscope states",
      "targets",
      r.states.map((s) => ({
        label: s.state,
        value: s.count,
        colour: STATE_COLOUR[s.state as State] ?? MUTED,
      })),
    ],
  ];
  const rows = Math.max(1, ...panels.map(([, , bars]) => bars.length));
  // Each panel holds its axis labels; the gap between them is room for the left one's counts.
  const grids = [
    { left: 0, right: "56%" },
    { left: "52%", right: 40 },
  ];
  const svg = renderChart(rows * BAR_ROW + 80, {
    title: panels.map(([title], i) => ({
      text: title,
      left: grids[i]?.left,
      top: 0,
      textStyle: panelTitle,
    })),
    grid: grids.map((g) => ({
      ...g,
      top: 32,
      bottom: 40,
      outerBoundsMode: "same",
      outerBoundsContain: "axisLabel",
    })),
    xAxis: panels.map(([, unit], i) => ({ ...valueAxis(unit), gridIndex: i })),
    yAxis: panels.map(([, , bars], i) => ({
      ...categoryAxis,
      name: "",
      gridIndex: i,
      data: bars.map((b) => label(b.label)),
    })),
    series: panels.map(([, , bars], i) => barSeries(bars, i)),
  });
  return {
    name: "states",
    svg,
    caption:
      `Security state: the NICER study's rows, counted over the ${count(r.nicerTotal, "Redis node", undefined, fmt)} found (left), ` +
      `and redscope's states, over every target probed (right) (N = ${fmt(r.nicerTotal)} and ${fmt(r.total)})`,
  };
}

/** The version table as bars: the most common versions of each product, largest first. */
const VERSIONS_PER_PRODUCT = 12;

function versionsFigure(r: Report): Figure | undefined {
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
  const total = products.reduce((a, p) => a + p.total, 0);
  const distinct = products.reduce((a, p) => a + p.rows.length + p.omitted.versions, 0);
  const svg = renderChart(bars.length * BAR_ROW + 72, {
    grid: { left: 0, right: 48, top: 24, bottom: 40 },
    xAxis: valueAxis("servers"),
    yAxis: {
      ...categoryAxis,
      name: several ? "product and version" : "version",
      data: bars.map((b) => label(b.label)),
    },
    series: barSeries(bars, 0),
  });
  const what = several
    ? `Versions per product (${products.map((p) => `${terminalText(p.product, 24)} ${fmt(p.total)}`).join(", ")})`
    : `Versions of ${terminalText(products[0]?.product ?? "", 24)}`;
  const shown =
    bars.length < distinct
      ? `; the ${several ? `${VERSIONS_PER_PRODUCT} most common of each` : `${bars.length} most common`} of ${count(distinct, "version string", undefined, fmt)} shown`
      : "";
  return {
    name: "versions",
    svg,
    caption: `${what} among ${count(total, "server", undefined, fmt)} whose version was read${shown} (N = ${fmt(total)})`,
  };
}

/** Servers per cloud place, stacked by state: where the open ones are. */
function cloudsFigure(r: Report): Figure | undefined {
  if (r.clouds.length === 0) return undefined;
  const states = STATES.filter((s) => r.clouds.some((c) => (c.byState[s] ?? 0) > 0));
  const total = r.clouds.reduce((a, c) => a + c.total, 0);
  const svg = renderChart(r.clouds.length * BAR_ROW + 100, {
    legend: LEGEND,
    grid: { left: 0, right: 48, top: 52, bottom: 40 },
    xAxis: valueAxis("servers"),
    yAxis: {
      ...categoryAxis,
      name: "provider, region, service",
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
  return {
    name: "clouds",
    svg,
    caption: `Servers per cloud provider, region and service, stacked by state: ${count(total, "server", undefined, fmt)} in the ${count(r.clouds.length, "place", undefined, fmt)} listed (N = ${fmt(total)})`,
  };
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

/** "16" or "14–16": the targets each scan of a trend probed. */
function perScan(totals: number[]): string {
  const lo = Math.min(...totals);
  const hi = Math.max(...totals);
  return lo === hi ? fmt(lo) : `${fmt(lo)}–${fmt(hi)}`;
}

/**
 * Counts per state across scans of the same targets, oldest first, in two panels: the
 * Redis-protocol states above, on their own scale, and the targets that gave no Redis answer
 * (closed, timed out, silent, not Redis: usually most of a scan) below, so that neither
 * squashes the other. With a reference, the open servers others published (internet-wide,
 * orders of magnitude more than a scan's targets) stand on the same time axis, on a right-hand
 * scale of their own in the Redis panel.
 */
function trendFigure(r: Report): Figure | undefined {
  const published = publishedPoints(r);
  const scans = r.trends.length;
  if (scans < 2 && published.length === 0) return undefined;
  const occurs = (s: State): boolean => r.trends.some((t) => (t.counts[s] ?? 0) > 0);
  // With one scan there is no trend of its own: its open servers, beside the published ones.
  const redis = REDIS_STATES.filter((s) => (scans > 1 || s === "open") && occurs(s));
  const other = scans > 1 ? OTHER_STATES.filter(occurs) : [];
  // One category per scan and per published date, in time order (ISO dates sort as text).
  const points = [
    ...r.trends.map((t) => ({ at: t.startedAt.slice(0, 16).replace("T", " "), trend: t })),
    ...published.map((p) => ({ at: p.date, published: p })),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  const lower = other.length > 0;
  const hasRef = published.length > 0;
  const refName = label(`open, published (${r.reference?.title ?? ""})`);
  // The legend wraps: room for as many rows as its items need (icon and gap about 40 px each).
  const legendWidth = [...redis, ...other, ...(hasRef ? [refName] : [])].reduce(
    (w, name) => w + measureText(name, "12px").width + 40,
    0,
  );
  const legendRows = Math.max(1, Math.ceil(legendWidth / CHART_WIDTH));
  const upperTop = 24 * legendRows + 44;
  const upperHeight = 200;
  const lowerTop = upperTop + upperHeight + 80;
  const lowerHeight = 130;
  const height = (lower ? lowerTop + lowerHeight : upperTop + upperHeight) + 56;
  const xName = hasRef ? "scan start (UTC), or date published" : "scan start (UTC)";
  const cats = points.map((p) => label(p.at));
  // Few points: each carries its value, which also tells which scale a point is read on.
  const pointLabel = {
    show: points.length <= 8,
    color: INK,
    fontSize: 11,
    formatter: (p: { value: unknown }) => fmt(Number(p.value)),
  } as const;
  const line = (s: State, axis: number, yAxis: number): LineSeriesOption => ({
    type: "line",
    name: s,
    silent: true,
    connectNulls: true,
    symbolSize: 7,
    label: pointLabel,
    labelLayout: { hideOverlap: true },
    xAxisIndex: axis,
    yAxisIndex: yAxis,
    lineStyle: { width: 2.5, color: STATE_COLOUR[s] },
    itemStyle: { color: STATE_COLOUR[s] },
    data: points.map((p) => ("trend" in p && p.trend ? (p.trend.counts[s] ?? 0) : null)),
  });
  const series: LineSeriesOption[] = redis.map((s) => line(s, 0, 0));
  const yAxis: NonNullable<EChartsOption["yAxis"]> = [
    { ...countAxis(hasRef ? "servers in these targets" : "servers"), gridIndex: 0 },
  ];
  if (hasRef) {
    yAxis.push({
      ...countAxis("published, internet-wide"),
      gridIndex: 0,
      position: "right",
      nameGap: 52,
      splitLine: { show: false },
    });
    series.push({
      type: "line",
      name: refName,
      silent: true,
      connectNulls: true,
      symbol: "diamond",
      symbolSize: 10,
      label: { ...pointLabel, show: true, color: MUTED },
      xAxisIndex: 0,
      yAxisIndex: 1,
      lineStyle: { width: 1.5, type: "dashed", color: MUTED },
      itemStyle: { color: STATE_COLOUR.open },
      data: points.map((p) => ("published" in p && p.published ? p.published.count : null)),
    });
  }
  if (lower) {
    yAxis.push({ ...countAxis("targets"), gridIndex: 1 });
    series.push(...other.map((s) => line(s, 1, yAxis.length - 1)));
  }
  // Fixed margins (no automatic fitting): both panels' points stand at the same x.
  const right = hasRef ? 88 : 32;
  const grid = { left: 64, right, outerBoundsMode: "none" } as const;
  const grids = [{ ...grid, top: upperTop, height: upperHeight }];
  if (lower) grids.push({ ...grid, top: lowerTop, height: lowerHeight });
  const titles = [
    {
      text: scans > 1 ? "Redis-protocol servers, per state" : "Open servers",
      left: 0,
      top: upperTop - 36,
      textStyle: panelTitle,
    },
  ];
  if (lower) {
    titles.push({
      text: "Targets with no Redis-protocol answer, on their own scale",
      left: 0,
      top: lowerTop - 36,
      textStyle: panelTitle,
    });
  }
  const svg = renderChart(height, {
    title: titles,
    legend: { ...LEGEND, right: 0 },
    grid: grids,
    xAxis: grids.map((_, i) => ({
      ...timeAxis(i === grids.length - 1 ? xName : ""),
      gridIndex: i,
      boundaryGap: false,
      // Every point is labelled (a scan's time under its date), none left out to save room.
      axisLabel: { color: INK, interval: 0, hideOverlap: false, lineHeight: 14 },
      nameGap: 40,
      data: cats.map((c) => c.replace(" ", "\n")),
    })),
    yAxis,
    series,
  });
  const totals = r.trends.map((t) => Object.values(t.counts).reduce((a, b) => a + b, 0));
  const ref = r.reference?.title ?? "";
  let caption: string;
  if (scans > 1) {
    caption =
      `Servers per state in ${count(scans, "scan", undefined, fmt)} of the same target space, oldest first: the Redis-protocol states above` +
      (lower
        ? "; closed, timed-out, silent and non-Redis targets below, on a scale of their own"
        : "") +
      (hasRef
        ? `; dashed, on the right-hand scale: counts of open servers published for the whole internet (${ref})`
        : "") +
      ` (N = ${perScan(totals)} targets per scan)`;
  } else {
    caption =
      `Open servers in this scan beside counts of open servers published for the whole internet (${ref}; dashed, right-hand scale)` +
      ` (N = ${perScan(totals.length > 0 ? totals : [r.total])} targets)`;
  }
  return { name: "trend", svg, caption };
}

const NUM = html` class="num"`;

/** Where a table's cell leads (the dashboard: the search for its value); undefined: nowhere. */
export type CellLink = (t: Table, row: number, column: number) => string | undefined;

/** Prose from a table's note: `code` (Markdown backticks) as <code>, the rest as text. */
export function proseHtml(s: string, max = 1000): Html {
  const parts = terminalText(s, max).split("`");
  // An odd number of backticks: the last one opens nothing, and goes.
  if (parts.length % 2 === 0) parts.splice(-2, 2, `${parts.at(-2)}${parts.at(-1)}`);
  return html`${parts.map((p, i) => (i % 2 === 1 ? html`<code>${p}</code>` : p))}`;
}

/** A note as a caption's sentence: its first letter capitalised. */
const sentence = (s: string): string => s.replace(/^[a-z]/, (c) => c.toUpperCase());

export function tableHtml(t: Table, caption?: Html, link?: CellLink): Html {
  const num = (i: number): Html | undefined => (t.numeric[i] ? NUM : undefined);
  const cell = (c: Cell, r: number, i: number): Html => {
    const to = link?.(t, r, i);
    return to === undefined ? html`${cellHtml(c)}` : html`<a href="${to}">${cellHtml(c)}</a>`;
  };
  return html`<table>${caption ? html`<caption>${caption}</caption>` : undefined}
<thead><tr>${t.columns.map((c, i) => html`<th${num(i)}>${terminalText(c, CELL_MAX)}</th>`)}</tr></thead>
<tbody>
${t.rows.map((row, r) => html`<tr>${row.map((c, i) => html`<td${num(i)}>${cell(c, r, i)}</td>`)}</tr>\n`)}</tbody>
</table>`;
}

/**
 * One table's section: its title, the figure drawn from it, the table numbered with its note
 * as the caption ("Table 3. Percent of the 11 Redis nodes found, …"). An empty table is
 * "(none)" and its note, unnumbered.
 */
export function sectionHtml(
  t: Table,
  figure?: Figure,
  n: Numbering = new Numbering(),
  link?: CellLink,
): Html {
  let body: Html;
  if (t.rows.length > 0) {
    const no = ++n.tables;
    body = tableHtml(
      t,
      html`<span class="label">Table ${no}.</span>${t.note ? html` ${proseHtml(sentence(t.note))}` : undefined}`,
      link,
    );
  } else {
    body = html`<p class="none">(none)</p>${t.note ? html`\n<p class="note">${proseHtml(t.note)}</p>` : undefined}`;
  }
  return html`<section id="${t.id}">
<h2>${terminalText(t.title, CELL_MAX)}</h2>
${figure ? figureHtml(figure, n) : undefined}${body}
</section>`;
}

function factsHtml(facts: Array<[string, string]>): Html {
  return html`<dl class="facts">${facts.map(([k, v]) => html`<div><dt>${k}</dt><dd>${terminalText(v, CELL_MAX)}</dd></div>`)}</dl>`;
}

function headerHtml(r: Report): Html {
  const s = r.scan;
  return html`<header>
<p class="kicker">redscope report</p>
<h1>Redis exposure: scan ${terminalText(s.id, 80)}</h1>
${factsHtml([
  ["Scan", s.id],
  ["Source", s.source],
  ["Targets", s.targets || "-"],
  ["Ports", s.ports || "-"],
  ["Started", s.startedAt],
  ["Finished", s.finishedAt ?? "not finished"],
  ["Report generated", r.generatedAt],
])}
</header>`;
}

/** The numbers a reader looks for first: how many answered, how many of them are open. */
function summaryHtml(r: Report): Html {
  const inState = (st: State): number => r.states.find((s) => s.state === st)?.count ?? 0;
  const share = (n: number): string =>
    r.total > 0 ? `${((100 * n) / r.total).toFixed(1)}% of targets` : "";
  const tiles: Array<[string, number, string, string]> = [
    [r.total === 1 ? "Target probed" : "Targets probed", r.total, "", "total"],
    ["Open (no authentication)", inState("open"), share(inState("open")), "open"],
    ["Authentication required", inState("auth_required"), share(inState("auth_required")), "auth"],
    ["Protected mode", inState("protected"), share(inState("protected")), "protected"],
  ];
  const bands = r.exposure.worstCvss;
  return html`<section class="summary" aria-label="summary">
<div class="tiles">${tiles.map(
    ([name, n, sub, kind]) =>
      html`<div class="tile ${kind}"><div class="n">${fmt(n)}</div><div class="k">${name}</div>${sub ? html`<div class="sub">${sub}</div>` : undefined}</div>\n`,
  )}</div>
<div class="cvss"><h3>Servers by their worst CVE (by version alone)</h3>${
    bands.length > 0
      ? html`<ul class="bands">${bands.map(
          (b) =>
            html`<li class="band ${b.band.split(" ")[0] ?? ""}"><span class="n">${fmt(b.servers)}</span> ${b.band}</li>`,
        )}</ul>`
      : html`<p class="none">no server with a known CVE</p>`
  }</div>
</section>`;
}

/** Figures by the id of the table they stand above. */
function figuresByTable(r: Report): Map<string, Figure> {
  const figures = new Map<string, Figure>();
  figures.set("nicer", statesFigure(r));
  const firstProduct = r.versions.products[0];
  const versions = versionsFigure(r);
  if (firstProduct && versions) figures.set(`versions-${firstProduct.product}`, versions);
  const clouds = cloudsFigure(r);
  if (clouds) figures.set("clouds", clouds);
  // Above the trend table; with only one scan there is none, and the published counts' table
  // carries the chart of this scan beside them.
  const trends = trendFigure(r);
  if (trends) figures.set(r.trends.length > 1 ? "trends" : "published", trends);
  return figures;
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
caption { caption-side: bottom; text-align: left; color: ${MUTED}; font-size: 13px; padding-top: 8px; }
figcaption { color: ${MUTED}; font-size: 13px; margin-top: 6px; }
.label { color: ${INK}; font-weight: 600; }
a.download { white-space: nowrap; margin-left: 4px; color: #0b5cad; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; background: #eef0f3; border-radius: 3px; padding: 0 3px; }
footer { color: ${MUTED}; font-size: 12px; margin-top: 24px; }
@media (max-width: 700px) { .tiles { grid-template-columns: repeat(2, 1fr); } }
@media print {
  @page { margin: 14mm; }
  body { background: #fff; font-size: 11px; }
  .page { max-width: none; padding: 0; }
  section, .summary { border: none; padding: 0; margin-bottom: 18px; }
  .chart, .summary, tr { break-inside: avoid; }
  a.download { display: none; }
  h2 { break-after: avoid; }
}
`;

/**
 * `default-src 'none'` with inline styles and data: images only: nothing can be fetched,
 * framed, submitted or run. base-uri and form-action are not covered by default-src. (A
 * figure's download link is a `data:` URL with a file name: a download, not a request.)
 */
const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/** A scan report's header, summary and sections (the file report and the dashboard alike). */
export function reportParts(r: Report, link?: CellLink): { top: Html[]; sections: Html[] } {
  const figures = figuresByTable(r);
  const n = new Numbering(`redscope-${slug(r.scan.id)}`);
  const sections = withAttackTables(r, reportTables(r))
    .filter((t) => t.rows.length > 0 || t.note !== undefined)
    .map((t) => sectionHtml(t, figures.get(t.id), n, link));
  return { top: [headerHtml(r), summaryHtml(r)], sections };
}

export function renderHtml(r: Report): string {
  const { top, sections } = reportParts(r);
  return page(
    `redscope report: scan ${r.scan.id}`,
    top,
    sections,
    html`Generated by redscope on ${r.generatedAt}. Labels and versions are what the scanned servers reported and may be false; CVEs are matched by version alone.`,
  );
}

/** The shell every HTML report shares: CSP, stylesheet, header parts, sections, footer. */
function page(title: string, top: Html[], sections: Html[], footer: Html): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${trustedHtml(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${terminalText(title, 120)}</title>
<style>${trustedHtml(STYLE)}</style>
</head>
<body>
<div class="page">
${joinHtml(top, "\n")}
<main>
${joinHtml(sections, "\n")}
</main>
<footer>${footer}</footer>
</div>
</body>
</html>
`.toString();
}

/** Titled tables as one self-contained page (listings: `report --list -f html`). */
export function renderTablesHtml(title: string, tables: Table[]): string {
  const n = new Numbering();
  return page(
    title,
    [html`<header><h1>${terminalText(title, 120)}</h1></header>`],
    tables.map((t) => sectionHtml(t, undefined, n)),
    html`Generated by redscope.`,
  );
}

/** Sessions per day, those with an attack in red. */
function honeypotDaysFigure(h: HoneypotReport): Figure | undefined {
  if (h.perDay.length === 0) return undefined;
  const svg = renderChart(300, {
    legend: LEGEND,
    grid: { left: 56, right: 24, top: 40, bottom: 44 },
    xAxis: { ...timeAxis("day (UTC)"), data: h.perDay.map((d) => label(d.day)) },
    yAxis: countAxis("sessions"),
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
  const total = h.perDay.reduce((a, d) => a + d.sessions, 0);
  return {
    name: "sessions-per-day",
    svg,
    caption: `Honeypot sessions per day (UTC), those with an attack in red, over ${count(h.perDay.length, "day", undefined, fmt)} (N = ${fmt(total)} ${total === 1 ? "session" : "sessions"})`,
  };
}

/** Attack classes shown in the chart, the most frequent. */
const CLASSES_SHOWN = 20;

/** Attack classes by sessions, the most frequent on top. */
function honeypotClassesFigure(h: HoneypotReport): Figure | undefined {
  if (h.classes.length === 0) return undefined;
  const classes = h.classes.slice(0, CLASSES_SHOWN);
  const svg = renderChart(classes.length * BAR_ROW + 72, {
    grid: { left: 0, right: 48, top: 24, bottom: 40 },
    xAxis: valueAxis("sessions"),
    yAxis: { ...categoryAxis, name: "attack class", data: classes.map((c) => label(c.class)) },
    series: [
      barSeries(
        classes.map((c) => ({ label: c.class, value: c.sessions, colour: STATE_COLOUR.open })),
        0,
      ),
    ],
  });
  const shown =
    classes.length < h.classes.length
      ? `the ${classes.length} most frequent of ${count(h.classes.length, "class", "classes", fmt)}`
      : count(classes.length, "class", "classes", fmt);
  return {
    name: "attack-classes",
    svg,
    caption: `Honeypot sessions per attack class, ${shown}; a session can show several (N = ${fmt(h.sessions)} ${h.sessions === 1 ? "session" : "sessions"})`,
  };
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
    html`Generated by redscope on ${generatedAt}. Everything shown was written by visitors: addresses may be spoofed or relayed, and indicators are hostile text, not links.`,
  );
}

/** The honeypot report's header and sections (the file report and the dashboard alike). */
export function honeypotParts(
  h: HoneypotReport,
  span: string,
  generatedAt: string,
): { top: Html[]; sections: Html[] } {
  const figures = new Map<string, Figure | undefined>([
    ["hp-days", honeypotDaysFigure(h)],
    ["hp-classes", honeypotClassesFigure(h)],
  ]);
  const n = new Numbering("redscope-honeypot");
  const sections = honeypotTables(h).map((t) => sectionHtml(t, figures.get(t.id), n));
  const header = html`<header>
<p class="kicker">redscope report</p>
<h1>Honeypot: who came and what they tried</h1>
${factsHtml([
  ["Sessions", fmt(h.sessions)],
  ["Source addresses", fmt(h.sources)],
  ["Commands", fmt(h.commands)],
  ["Bytes received", fmt(h.bytesIn)],
  ["Period", span],
  ["Report generated", generatedAt],
])}
</header>`;
  return { top: [header], sections };
}
