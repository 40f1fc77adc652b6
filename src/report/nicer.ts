/**
 * The NICER study's table, computed in one place for every caller (the report, and the tables a
 * scan and an import print at their end): its six rows always, in its order, each a share of
 * the Redis nodes it counted; beside it redscope's own states as shares of every target probed.
 * A record counts for a NICER row exactly when its `nicer` is set (an open server only once its
 * version was read: "Returned version").
 */
import { NICER_ROW, STATES } from "../schema/result.js";

export interface StateRow {
  state: string;
  /** The NICER report's name for it, when it has one. */
  nicer?: string;
  count: number;
  percent: number;
}

/** What the tables are made from: results per state, and per NICER row (`nicer` set). */
export interface StateTally {
  states: Readonly<Record<string, number>>;
  nicer: Readonly<Record<string, number>>;
}

export interface NicerCounts {
  /** Targets probed (every state). */
  total: number;
  /** The study's six rows in its order, each a share of `nicerTotal`. */
  nicer: StateRow[];
  /** The Redis nodes the study would have counted. */
  nicerTotal: number;
  /** redscope's states that occurred, in taxonomy order, each a share of `total`. */
  states: StateRow[];
}

const pct = (n: number, total: number): number => (total > 0 ? (100 * n) / total : 0);

export function nicerCounts(t: StateTally): NicerCounts {
  let total = 0;
  for (const st of STATES) total += t.states[st] ?? 0;
  const states: StateRow[] = [];
  for (const st of STATES) {
    const n = t.states[st] ?? 0;
    if (n === 0) continue;
    const row: StateRow = { state: st, count: n, percent: pct(n, total) };
    const name = NICER_ROW[st];
    if (name) row.nicer = name;
    states.push(row);
  }
  const rows = Object.entries(NICER_ROW).map(([state, name]) => ({
    state,
    nicer: name,
    count: t.nicer[name] ?? 0,
  }));
  const nicerTotal = rows.reduce((a, r) => a + r.count, 0);
  return {
    total,
    nicer: rows.map((r) => ({ ...r, percent: pct(r.count, nicerTotal) })),
    nicerTotal,
    states,
  };
}
