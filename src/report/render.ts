/**
 * Report formats from the one table layout: terminal text, Markdown, CSV (one tidy long table:
 * a `table` column names the table) and JSON (the Report itself). Cells that came from scanned
 * servers are attacker-controlled: each format neutralises what would be live in it (terminal
 * escapes, Markdown pipes and markup, CSV formulas).
 */

import stringWidth from "string-width";
import { terminalText } from "../untrusted/text.js";
import { withAttackTables } from "./attack.js";
import type { Report } from "./build.js";
import { csvLines } from "./hosts.js";
import { type Cell, reportTables, type Table } from "./tables.js";

/**
 * Columns padded to their widest cell, a dashed rule under the header. Widths are display
 * widths (string-width): a CJK character or an emoji takes two columns, a combining mark none,
 * so AS names such as 中国电信 line up. `minWidths` lets a list printed in blocks keep its
 * columns from one block to the next (widths only grow); `header: false` leaves out the header.
 */
export function renderTable(
  rows: string[][],
  rightAlign: boolean[],
  opts: { minWidths?: number[]; header?: boolean } = {},
): string {
  const widths: number[] = opts.minWidths ?? [];
  for (const r of rows) {
    for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, stringWidth(c));
  }
  const pad = (c: string, i: number): string => {
    const fill = " ".repeat(Math.max(0, widths[i]! - stringWidth(c)));
    return rightAlign[i] ? fill + c : c + fill;
  };
  return rows
    .map((r, ri) => {
      const line = r.map(pad).join("  ").trimEnd();
      return ri === 0 && opts.header !== false
        ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}`
        : line;
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
export function mdCell(c: Cell): string {
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
 * One tidy CSV, one long table: a `table` column names the table each row belongs to, then the
 * union of every table's columns in order of first appearance (a table leaves the others
 * empty). Numbers are numbers: a percentage is written as a number from 0 to 100 in a column
 * whose name says `percent`, and a numeric column's placeholder ("-") is an empty cell.
 */
export function renderCsv(r: Report): string {
  return renderCsvTables(withAttackTables(r, reportTables(r)));
}

export function renderCsvTables(tables: Table[]): string {
  const columns: string[] = [];
  for (const t of tables) for (const c of t.columns) if (!columns.includes(c)) columns.push(c);
  const rows: Array<Array<string | number>> = [["table", ...columns]];
  for (const t of tables) {
    const at = new Map(t.columns.map((c, i) => [c, i]));
    for (const row of t.rows) {
      rows.push([
        t.id,
        ...columns.map((c) => {
          const i = at.get(c);
          return i === undefined ? "" : tidyValue(row[i]!, t.numeric[i] === true);
        }),
      ]);
    }
  }
  return csvLines(rows);
}

/** A table cell as a CSV value: `25.00%` → 25 in a numeric column, the "-" placeholder → empty. */
function tidyValue(c: Cell, numeric: boolean): string | number {
  if (typeof c === "number") return c;
  if (c === "-") return "";
  if (!numeric) return c;
  const pct = /^(-?\d+(?:\.\d+)?)%$/.exec(c);
  if (pct) return Number(pct[1]);
  return /^-?\d+(?:\.\d+)?$/.test(c) ? Number(c) : c;
}

export function renderJson(r: Report): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
