/**
 * A stored record's columns, described once: each schema (scan results, honeypot sessions and
 * events, audits) lists its columns with these, and the stores derive their SQL from the list.
 */

/** The SQL type of a stored column; each store maps it to its own (TEXT/INTEGER…, timestamptz…). */
export type ColumnType = "text" | "int" | "bigint" | "real" | "time" | "json";

/** One column of a stored record: its name, type and value; the store derives its SQL from these. */
export interface Column<In> {
  readonly name: string;
  readonly type: ColumnType;
  /** A fact reports may group and count by (an indexed, low-cardinality column). */
  readonly group?: true;
  readonly value: (row: In) => string | number | null;
}

/** A row's values, in the columns' order. */
export function columnValues<In>(
  columns: readonly Column<In>[],
  row: In,
): Array<string | number | null> {
  return columns.map((c) => c.value(row));
}
