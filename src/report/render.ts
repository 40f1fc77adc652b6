/**
 * Report formats from the one table layout: terminal text, Markdown, CSV (one tidy file: a
 * `section` column names the table) and JSON (the Report itself). Cells that came from scanned
 * servers are attacker-controlled: each format neutralises what would be live in it (terminal
 * escapes, Markdown pipes and markup, CSV formulas).
 */
import { terminalText } from "../untrusted/text.js";
import { withAttackTables } from "./attack.js";
import type { Report } from "./build.js";
import { type Cell, reportTables, type Table } from "./tables.js";

/** Columns padded to their widest cell, a dashed rule under the header. */
export function renderTable(rows: string[][], rightAlign: boolean[]): string {
  const widths: number[] = [];
  for (const r of rows) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  }
  return rows
    .map((r, ri) => {
      const line = r
        .map((c, i) => (rightAlign[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd();
      return ri === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

/** No unsafe code point reaches a terminal; long cells are cut (lines of prose are not). */
function terminalCell(c: Cell, max = 80): string {
  return terminalText(String(c), max);
}

const line = (s: string): string => terminalCell(s, 1000);

function header(r: Report): string[] {
  const s = r.scan;
  return [
    `redscope report: scan ${s.id} (${s.source}), started ${s.startedAt}${s.finishedAt ? `, finished ${s.finishedAt}` : ", not finished"}`,
    `targets ${s.targets || "-"}; ports ${s.ports || "-"}; ${r.total} results`,
  ];
}

export function renderText(r: Report): string {
  return `${header(r).map(line).join("\n")}\n\n${renderTextTables(withAttackTables(r, reportTables(r)))}`;
}

/** Titled tables for a terminal; an empty one shows "(none)" when it has a note to explain. */
export function renderTextTables(tables: Table[]): string {
  const parts: string[] = [];
  for (const t of tables) {
    if (t.rows.length === 0 && t.note === undefined) continue;
    const rows = [t.columns, ...t.rows.map((row) => row.map((c) => terminalCell(c)))];
    let block = `${t.title}\n\n${rows.length > 1 ? renderTable(rows, t.numeric) : "(none)"}`;
    if (t.note) block += `\n${line(t.note)}`;
    parts.push(block);
  }
  return `${parts.join("\n\n")}\n`;
}

/** Markdown: pipes and backslashes escaped, and markup characters too (GitHub renders HTML). */
function mdCell(c: Cell): string {
  return terminalCell(c, 1000).replace(/[\\|`*_[\]<>#&]/g, (x) => `\\${x}`);
}

export function renderMarkdown(r: Report): string {
  const s = r.scan;
  return renderMarkdownTables(
    `redscope report: scan ${s.id}`,
    [
      ...header(r).slice(1),
      `Source ${s.source}, started ${s.startedAt}${s.finishedAt ? `, finished ${s.finishedAt}` : ", not finished"}.`,
    ],
    withAttackTables(r, reportTables(r)),
  );
}

/** A titled Markdown document of tables; every cell, title and line escaped. */
export function renderMarkdownTables(title: string, lines: string[], tables: Table[]): string {
  const parts = [`# ${mdCell(title)}`, lines.map((l) => mdCell(l)).join("\n\n")];
  for (const t of tables) {
    if (t.rows.length === 0 && t.note === undefined) continue;
    let block = `## ${mdCell(t.title)}\n\n`;
    if (t.rows.length > 0) {
      block += `| ${t.columns.map((c) => mdCell(c)).join(" | ")} |\n`;
      block += `|${t.numeric.map((n) => (n ? "---:" : "---")).join("|")}|\n`;
      block += t.rows.map((row) => `| ${row.map((c) => mdCell(c)).join(" | ")} |`).join("\n");
    } else block += "(none)";
    if (t.note) block += `\n\n${mdCell(t.note)}`;
    parts.push(block);
  }
  return `${parts.join("\n\n")}\n`;
}

/**
 * RFC 4180 quoting; a cell a spreadsheet would run as a formula (= + - @) gets a
 * leading apostrophe (OWASP's CSV injection advice). Numbers stay numbers.
 */
function csvCell(c: Cell): string {
  if (typeof c === "number") return String(c);
  // Control characters go too: a CSV is also read with cat and less.
  const clean = terminalText(c, Number.POSITIVE_INFINITY);
  const s = clean.length > 1 && /^[=+\-@]/.test(clean) ? `'${clean}` : clean;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One tidy CSV: `section,column,…` rows, the column names repeated per section as a header row. */
export function renderCsv(r: Report): string {
  return renderCsvTables(withAttackTables(r, reportTables(r)));
}

export function renderCsvTables(tables: Table[]): string {
  const lines: string[] = [];
  for (const t of tables) {
    lines.push(["section", ...t.columns].map(csvCell).join(","));
    for (const row of t.rows) lines.push([t.id, ...row].map(csvCell).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

export function renderJson(r: Report): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
