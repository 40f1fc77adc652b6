/**
 * The honeypot section of a report: sessions per day, top sources, attack classes (with their
 * ATT&CK ids), passwords tried and indicators, over the sessions that started in a time range.
 * One pass over the session rows; every tally is a bounded map (top-N is taken at the end, and
 * a tally stops taking new keys past MAX_KEYS, counting the rest as "other").
 */
import type { HoneypotSessionRow, Indicators } from "../schema/honeypot.js";
import type { HoneypotStore } from "../store/index.js";
import { count } from "./plural.js";
import { type Table, table } from "./tables.js";

export interface HoneypotReport {
  from?: string;
  to?: string;
  sessions: number;
  sources: number;
  commands: number;
  bytesIn: number;
  perDay: Array<{ day: string; sessions: number; attacks: number }>;
  topSources: Array<{ ip: string; sessions: number; commands: number; classes: string }>;
  classes: Array<{ class: string; attack: string; sessions: number; sources: number }>;
  personas: Array<{ persona: string; sessions: number }>;
  passwords: Array<{ password: string; tries: number }>;
  indicators: Array<{ kind: string; value: string; sessions: number }>;
}

/** Distinct keys a tally keeps; beyond, counts go to "other" (a flood of unique values). */
const MAX_KEYS = 100_000;

class Tally<V> {
  readonly map = new Map<string, V>();
  other = 0;
  constructor(private readonly make: () => V) {}
  get(key: string): V | undefined {
    let v = this.map.get(key);
    if (v === undefined) {
      if (this.map.size >= MAX_KEYS) {
        this.other++;
        return undefined;
      }
      v = this.make();
      this.map.set(key, v);
    }
    return v;
  }
}

/** Indicator kinds listed, in this order (passwords have a table of their own). */
const INDICATOR_KINDS: ReadonlyArray<Exclude<keyof Indicators, "passwords">> = [
  "urls",
  "ips",
  "domains",
  "ssh_keys",
  "cron_lines",
  "file_paths",
  "modules",
  "lua_tokens",
  "module_commands",
];

export async function buildHoneypotReport(
  store: HoneypotStore,
  range: { from?: string; to?: string } = {},
  top = 20,
): Promise<HoneypotReport> {
  const days = new Tally(() => ({ sessions: 0, attacks: 0 }));
  const sources = new Tally(() => ({ sessions: 0, commands: 0, classes: new Set<string>() }));
  const classes = new Tally(() => ({
    attack: new Set<string>(),
    sessions: 0,
    sources: new Set<string>(),
  }));
  const personas = new Tally(() => ({ n: 0 }));
  const passwords = new Tally(() => ({ n: 0 }));
  const indicators = new Tally(() => ({ kind: "", value: "", n: 0 }));
  let sessions = 0;
  let commands = 0;
  let bytesIn = 0;
  for await (const s of store.honeypotSessions(range) as AsyncIterable<HoneypotSessionRow>) {
    sessions++;
    commands += s.commands;
    bytesIn += s.bytesIn;
    const rec = s.record;
    const attacks = (rec.findings ?? []).filter((f) => f.class !== "scan");
    const day = days.get(s.startedAt.slice(0, 10));
    if (day) {
      day.sessions++;
      if (attacks.length > 0) day.attacks++;
    }
    const src = sources.get(s.srcIp);
    if (src) {
      src.sessions++;
      src.commands += s.commands;
      for (const f of rec.findings ?? []) if (src.classes.size < 8) src.classes.add(f.class);
    }
    const p = personas.get(s.persona);
    if (p) p.n++;
    for (const f of rec.findings ?? []) {
      const c = classes.get(f.class);
      if (!c) continue;
      c.sessions++;
      if (c.sources.size < MAX_KEYS) c.sources.add(s.srcIp);
      for (const a of f.attack ?? []) c.attack.add(a);
    }
    for (const pw of rec.indicators?.passwords ?? []) {
      const t = passwords.get(pw);
      if (t) t.n++;
    }
    for (const kind of INDICATOR_KINDS) {
      for (const value of rec.indicators?.[kind] ?? []) {
        const t = indicators.get(`${kind}\u0000${value}`);
        if (!t) continue;
        t.kind = kind;
        t.value = value;
        t.n++;
      }
    }
  }
  const byCount = <T>(a: [string, T], b: [string, T], n: (x: T) => number): number =>
    n(b[1]) - n(a[1]) || (a[0] < b[0] ? -1 : 1);
  const report: HoneypotReport = {
    sessions,
    sources: sources.map.size + sources.other,
    commands,
    bytesIn,
    perDay: [...days.map]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([day, v]) => ({ day, sessions: v.sessions, attacks: v.attacks })),
    topSources: [...sources.map]
      .sort((a, b) => byCount(a, b, (v) => v.sessions))
      .slice(0, top)
      .map(([ip, v]) => ({
        ip,
        sessions: v.sessions,
        commands: v.commands,
        classes: [...v.classes].join(" "),
      })),
    classes: [...classes.map]
      .sort((a, b) => byCount(a, b, (v) => v.sessions))
      .map(([cls, v]) => ({
        class: cls,
        attack: [...v.attack].sort().join(" "),
        sessions: v.sessions,
        sources: v.sources.size,
      })),
    personas: [...personas.map]
      .sort((a, b) => byCount(a, b, (v) => v.n))
      .map(([persona, v]) => ({ persona, sessions: v.n })),
    passwords: [...passwords.map]
      .sort((a, b) => byCount(a, b, (v) => v.n))
      .slice(0, top)
      .map(([password, v]) => ({ password, tries: v.n })),
    indicators: [...indicators.map.values()]
      .sort((a, b) => b.n - a.n || (a.kind + a.value < b.kind + b.value ? -1 : 1))
      .slice(0, top * 2)
      .map((v) => ({ kind: v.kind, value: v.value, sessions: v.n })),
  };
  if (range.from !== undefined) report.from = range.from;
  if (range.to !== undefined) report.to = range.to;
  return report;
}

export function honeypotTables(h: HoneypotReport): Table[] {
  return [
    table(
      "hp-days",
      "Honeypot sessions per day",
      [
        ["day", false],
        ["sessions", true],
        ["with an attack", true],
      ],
      h.perDay.map((d) => [d.day, d.sessions, d.attacks]),
      `${count(h.sessions, "session")} from ${count(h.sources, "address", "addresses")}, ${count(h.commands, "command")}, ${count(h.bytesIn, "byte")} received`,
    ),
    table(
      "hp-classes",
      "Attack classes",
      [
        ["class", false],
        ["ATT&CK", false],
        ["sessions", true],
        ["sources", true],
      ],
      h.classes.map((c) => [c.class, c.attack || "-", c.sessions, c.sources]),
    ),
    table(
      "hp-sources",
      "Top sources",
      [
        ["address", false],
        ["sessions", true],
        ["commands", true],
        ["classes", false],
      ],
      h.topSources.map((s) => [s.ip, s.sessions, s.commands, s.classes || "-"]),
    ),
    table(
      "hp-personas",
      "Sessions per persona",
      [
        ["persona", false],
        ["sessions", true],
      ],
      h.personas.map((p) => [p.persona, p.sessions]),
    ),
    table(
      "hp-passwords",
      "Passwords tried",
      [
        ["password", false],
        ["sessions", true],
      ],
      h.passwords.map((p) => [p.password, p.tries]),
    ),
    table(
      "hp-indicators",
      "Indicators",
      [
        ["kind", false],
        ["value", false],
        ["sessions", true],
      ],
      h.indicators.map((i) => [i.kind, i.value, i.sessions]),
      "values written by visitors: treat as hostile (URLs are not links)",
    ),
  ];
}
