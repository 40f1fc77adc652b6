/**
 * A report as titled tables: the one layout every format renders (terminal, Markdown, CSV,
 * HTML). Cells are plain strings or numbers; escaping is each renderer's job, because a cell
 * may hold what a scanned server wrote.
 */
import { STATES } from "../schema/result.js";
import type { DiffReport, Exposure, PlaceRow, ProductVersions, Report } from "./build.js";
import { countryName } from "./countries.js";
import type { NicerCounts } from "./nicer.js";
import { count } from "./plural.js";
import type { Reference } from "./reference.js";

export type Cell = string | number;

export interface Table {
  /** Machine name (CSV `table` column, HTML id). */
  id: string;
  title: string;
  columns: string[];
  /** Columns holding numbers: right-aligned. */
  numeric: boolean[];
  rows: Cell[][];
  /** One line under the table (what was cut, what it means). */
  note?: string;
}

const p1 = (x: number): string => `${x.toFixed(1)}%`;
const p2 = (x: number): string => `${x.toFixed(2)}%`;

export function table(
  id: string,
  title: string,
  columns: Array<[string, boolean]>,
  rows: Cell[][],
  note?: string,
): Table {
  const t: Table = {
    id,
    title,
    columns: columns.map((c) => c[0]),
    numeric: columns.map((c) => c[1]),
    rows,
  };
  if (note !== undefined) t.note = note;
  return t;
}

/** States that occur in any of the rows, in taxonomy order: the columns of a per-state table. */
function statesIn(rows: PlaceRow[]): string[] {
  return STATES.filter((s) => rows.some((r) => (r.byState[s] ?? 0) > 0));
}

function placeTable(id: string, title: string, keyColumns: string[], rows: PlaceRow[]): Table {
  const states = statesIn(rows);
  return table(
    id,
    title,
    [
      ...keyColumns.map((k) => [k, false] as [string, boolean]),
      ["total", true],
      ...states.map((s) => [s, true] as [string, boolean]),
    ],
    rows.map((r) => [
      ...r.key.map((k) => k || "-"),
      r.total,
      ...states.map((s) => r.byState[s as keyof PlaceRow["byState"]] ?? 0),
    ]),
    rows.length === 0 ? "no data: see `redscope intel show`" : undefined,
  );
}

/**
 * Under the NICER table: its base (the Redis nodes the study counted), then what it did not
 * count — targets probed, and by state those that were not Redis or did not answer, plus the
 * Redis-protocol replies it had no row for (an open server whose version was not read).
 */
function nicerNote(c: NicerCounts): string {
  const inState = (st: string): number => c.states.find((s) => s.state === st)?.count ?? 0;
  const outside: Array<[string, number]> = [
    ["not Redis", inState("not_redis")],
    ["silent", inState("silent")],
    ["closed", inState("closed")],
    ["timed out", inState("timeout")],
  ];
  const other = c.total - c.nicerTotal - outside.reduce((a, [, n]) => a + n, 0);
  if (other > 0) outside.push(["Redis without a NICER row", other]);
  const parts = outside.map(([what, n]) => `${n} ${what}`).join(", ");
  return (
    `percent of the ${count(c.nicerTotal, "Redis node", "Redis nodes")} found, as the study counted; not counted: ` +
    `${count(c.total, "target", "targets")} probed, ${parts}; an open server is "Returned version" once its version was read`
  );
}

/**
 * The study's table (its six rows, shares of the Redis nodes found) and redscope's finer one
 * (shares of every target probed): what a report, a scan and an import print. With a
 * reference, the published figures stand in two more columns.
 */
export function nicerTables(c: NicerCounts, ref?: Reference): Table[] {
  const pub = ref?.nicer;
  const pubCols = referenceColumns(pub && ref);
  const pubCells = (name: string): Cell[] => (pub ? referenceCells(pub.rows[name], pub.total) : []);
  const note = nicerNote(c);
  return [
    table(
      "nicer",
      "Security state, as the NICER study counted it",
      [["NICER row", false], ["count", true], ["percent", true], ...pubCols],
      [
        ...c.nicer.map((s) => [
          s.nicer ?? s.state,
          s.count,
          p2(s.percent),
          ...pubCells(s.nicer ?? ""),
        ]),
        ...(pub ? [["Redis nodes found", c.nicerTotal, "100.00%", pub.total, "100.00%"]] : []),
      ],
      pub
        ? `${note}; ${ref.title}: ${pub.total} nodes (${pub.date}), ${sourceTitle(ref, ref.nicer?.source)}`
        : note,
    ),
    table(
      "states",
      "Security state (redscope's taxonomy)",
      [
        ["state", false],
        ["count", true],
        ["percent", true],
        ["NICER row", false],
      ],
      [
        ...c.states.map((s) => [s.state, s.count, p2(s.percent), s.nicer ?? "-"]),
        ["total", c.total, c.total > 0 ? "100.00%" : "0.00%", ""],
      ],
    ),
  ];
}

/** The two columns a reference adds beside a table's own count and percent. */
function referenceColumns(ref: Reference | undefined): Array<[string, boolean]> {
  return ref
    ? [
        [`${ref.title} count`, true],
        [`${ref.title} percent`, true],
      ]
    : [];
}

/** A published count and its share of the publication's base, or dashes where it gave none. */
function referenceCells(n: number | undefined, base: number): Cell[] {
  return n === undefined ? ["-", "-"] : [n, p2((100 * n) / base)];
}

/** A reference's source in full (title and address), or as a table cell cites it. */
function sourceTitle(ref: Reference, id: string | undefined, short = false): string {
  const s = ref.sources.find((x) => x.id === id);
  if (!s) return "";
  return short ? s.short : `${s.title} <${s.url}>`;
}

/**
 * One product's versions as the study printed them: "112 different version strings; thirty of
 * them cover 90%", then the versions that together reach the cut, with count and share.
 */
function versionsTable(p: ProductVersions, coverage: number, ref?: Reference): Table {
  const distinct = p.rows.length + p.omitted.versions;
  const last = p.rows[p.rows.length - 1]?.cumulative ?? 0;
  const sentence =
    p.omitted.versions > 0
      ? `${count(distinct, "different version string", "different version strings")}; ${p.rows.length} of them cover ${coverage}%`
      : `${count(distinct, "different version string", "different version strings")}, all listed`;
  const pub = ref?.versions?.product === p.product ? ref.versions : undefined;
  const published = new Map(pub?.rows ?? []);
  const cols: Array<[string, boolean]> = [
    ["version", false],
    ["count", true],
    ["percent", true],
    ["cumulative percent", true],
    ...referenceColumns(pub && ref),
  ];
  const pubCells = (v: string): Cell[] =>
    pub ? referenceCells(published.get(v), pub.listed_total) : [];
  let note = `percent of the ${count(p.total, `${p.product} server`)} whose version was read; the listed versions cover ${p1(last)}`;
  if (p.omitted.versions > 0) {
    note += `; ${count(p.omitted.versions, "more version")} (${count(p.omitted.count, "server")}) below the ${coverage}% cut`;
  }
  if (pub) {
    note +=
      `; ${ref!.title}: ${pub.distinct} different version strings, ${pub.rows.length} of them cover ${pub.coverage}%` +
      ` (its percentages are of the ${pub.listed_total} servers those ${pub.rows.length} versions account for), ` +
      sourceTitle(ref!, pub.source);
  }
  return table(
    `versions-${p.product}`,
    `Versions: ${p.product}, ${sentence}`,
    cols,
    p.rows.map((v) => [
      v.version,
      v.count,
      p2(v.percent),
      p2(v.cumulative),
      ...pubCells(v.version),
    ]),
    note,
  );
}

/** This scan's open servers beside the counts others published. */
function publishedTable(r: Report, ref: Reference): Table | undefined {
  const rows: Cell[][] = [];
  const open = r.states.find((s) => s.state === "open")?.count ?? 0;
  const returned = r.nicer.find((s) => s.state === "open")?.count ?? 0;
  rows.push([
    `this scan: open (no authentication)`,
    r.scan.startedAt.slice(0, 10),
    open,
    "redscope",
  ]);
  if (ref.nicer) {
    rows.push([
      `${ref.title}: Returned version (open, version read)`,
      ref.nicer.date,
      ref.nicer.rows["Returned version"] ?? 0,
      sourceTitle(ref, ref.nicer.source, true),
    ]);
  }
  for (const c of ref.open_counts ?? []) {
    rows.push([
      c.what,
      `${c.approximate ? "~" : ""}${c.date}`,
      c.count,
      sourceTitle(ref, c.source, true),
    ]);
  }
  if (rows.length < 2) return undefined;
  return table(
    "published",
    `Open servers beside published counts (${ref.title})`,
    [
      ["figure", false],
      ["date", false],
      ["servers", true],
      ["source", false],
    ],
    rows,
    `this scan's ${count(open, "open server")}, ${returned} of them with their version read; published counts cover the whole internet (or the named part of it), this scan only its targets; sources: ${ref.sources.map((x) => `${x.title} <${x.url}>`).join("; ")}`,
  );
}

export function reportTables(r: Report): Table[] {
  const out: Table[] = [];
  out.push(...nicerTables(r, r.reference));
  if (r.reference) {
    const t = publishedTable(r, r.reference);
    if (t) out.push(t);
  }
  for (const p of r.versions.products) out.push(versionsTable(p, r.versions.coverage, r.reference));
  out.push(placeTable("clouds", "Clouds", ["provider", "region", "service"], r.clouds));
  out.push(placeTable("asns", "Autonomous systems", ["asn", "organisation"], r.asns));
  out.push(
    placeTable(
      "countries",
      "Countries",
      ["country"],
      r.countries.map((c) => ({ ...c, key: c.key.map(countryName) })),
    ),
  );

  const e = r.exposure;
  out.push(
    table(
      "roles",
      "Open servers by role",
      [
        ["role", false],
        ["count", true],
      ],
      e.openByRole.map((x) => [x.role, x.count]),
    ),
  );
  out.push(
    table(
      "replication",
      "Open servers that name other machines (replicas, or their master)",
      [
        ["server", false],
        ["role", false],
        ["points to", false],
      ],
      e.replication.examples.map((x) => [`${x.ip}:${x.port}`, x.role, x.pointsTo.join(" ")]),
      `${count(e.replication.count, "server")} in all: replication copies their data to those addresses`,
    ),
  );
  out.push(
    table(
      "cves",
      "Known CVEs: servers affected",
      [
        ["CVE", false],
        ["CVSS", true],
        ["servers", true],
      ],
      e.cves.map((c) => [c.id, c.cvss ?? "-", c.servers]),
      cveNote(e),
    ),
  );
  out.push(
    table(
      "worst-cvss",
      "Servers by their worst CVE",
      [
        ["worst CVSS", false],
        ["servers", true],
      ],
      e.worstCvss.map((b) => [b.band, b.servers]),
    ),
  );
  out.push(
    table(
      "eol",
      "End-of-life branches (no more fixes)",
      [
        ["product", false],
        ["branch", false],
        ["last release", false],
        ["servers", true],
      ],
      e.eol.map((x) => [x.product, x.branch, x.lastRelease, x.servers]),
    ),
  );
  if (r.trends.length > 1) out.push(trendTable(r));
  if (r.diff) out.push(...diffTables(r.diff));
  return out;
}

function trendTable(r: Report): Table {
  const states = STATES.filter((s) => r.trends.some((t) => (t.counts[s] ?? 0) > 0));
  return table(
    "trends",
    `Trend: ${r.trends.length} scans of the same target space`,
    [["scan", false], ["date", false], ...states.map((s) => [s, true] as [string, boolean])],
    r.trends.map((t) => [
      t.scanId,
      t.startedAt.slice(0, 10),
      ...states.map((s) => t.counts[s] ?? 0),
    ]),
  );
}

export function diffTables(d: DiffReport): Table[] {
  const s = d.summary;
  return [
    table(
      "diff-summary",
      `Changes from scan ${d.a} to scan ${d.b}`,
      [
        ["change", false],
        ["targets", true],
      ],
      [
        ["newly open", s.newlyOpen],
        ["remediated (open before, not now)", s.remediated],
        ["other state change", s.changedState],
        ["version changed", s.changedVersion],
        ["only in the second scan", s.appeared],
        ["only in the first scan", s.disappeared],
      ],
    ),
    table(
      "diff",
      "Changed targets",
      [
        ["target", false],
        ["change", false],
        ["before", false],
        ["after", false],
      ],
      d.rows.map((x) => [`${x.ip}:${x.port}`, x.change.replace("_", " "), side(x.a), side(x.b)]),
      d.truncated ? `the first ${d.rows.length} changes are listed` : undefined,
    ),
  ];
}

function side(s: { state: string; product?: string; version?: string } | undefined): string {
  if (!s) return "-";
  return [s.state, s.product, s.version].filter((x) => x !== undefined).join(" ");
}

/** The CVE table's note, with the verdicts a reader must weigh (issue 17) when there are any. */
function cveNote(e: Exposure): string {
  const base =
    "by version alone: distro backports and build options are not visible (see `redscope intel cves`)";
  const c = e.cveCaveats;
  if (c === undefined) return base;
  const parts: string[] = [];
  if (c.backportsPossible > 0) {
    parts.push(
      `${count(c.backportsPossible, "server")} by upstream version; distribution build — backports possible`,
    );
  }
  if (c.ambiguous > 0) {
    parts.push(`${count(c.ambiguous, "server")} ambiguous (product told by HELLO alone)`);
  }
  return `${base}; ${parts.join("; ")}`;
}
