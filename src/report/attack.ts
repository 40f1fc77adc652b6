/**
 * The attacker's view of a scan: open servers by what an attacker can do with them (each
 * technique's verdicts, counted from the `attack` column) and open servers showing signs of
 * compromise (counted from the `compromise` column; the examples are the first of the example
 * rows the store keeps as results are stored, store/aggregates.ts). Verdicts and indicators come from enrichment
 * (intel/exposure.ts, intel/compromise.ts); this file only counts and lays them out.
 */
import {
  ATTACK_TECHNIQUES,
  ATTACK_VERDICTS,
  type AttackTechnique,
  type AttackVerdict,
  COMPROMISE_KINDS,
  COMPROMISE_LABEL,
  type CompromiseKind,
  TECHNIQUE_LABEL,
  VERDICT_LABEL,
} from "../schema/result.js";
import { type AggregateReader, compromiseExample } from "../store/aggregates.js";
import type { Report } from "./build.js";
import { count } from "./plural.js";
import { type Table, table } from "./tables.js";

export interface AttackSummary {
  /** Open servers in the scan. */
  open: number;
  /** Open servers that carry verdicts (the scan or import ran with intel). */
  assessed: number;
  techniques: Array<{ technique: AttackTechnique; counts: Record<AttackVerdict, number> }>;
  compromise: {
    /** Open servers with at least one indicator. */
    servers: number;
    kinds: Array<{
      kind: CompromiseKind;
      servers: number;
      /** The first servers in (ip, port) order, with what they showed. */
      examples: Array<{ server: string; evidence: string }>;
    }>;
  };
}

/** Examples listed per indicator kind. */
const EXAMPLES = 3;

/**
 * `counts` are the report's fact groups summed down to (state, attack, compromise): JSON keys
 * of the three values, as build.ts's Facts.sum gives them.
 */
export async function attackSummary(
  store: AggregateReader,
  scanId: string,
  counts: ReadonlyMap<string, number>,
): Promise<AttackSummary> {
  const techniques = ATTACK_TECHNIQUES.map((technique) => ({
    technique,
    counts: Object.fromEntries(ATTACK_VERDICTS.map((v) => [v, 0])) as Record<AttackVerdict, number>,
  }));
  const byKind = new Map<CompromiseKind, number>();
  let open = 0;
  let assessed = 0;
  let compromised = 0;
  for (const [k, n] of counts) {
    const [state, attack, compromise] = JSON.parse(k) as Array<string | null>;
    if (state !== "open") continue;
    open += n;
    if (attack != null) {
      assessed += n;
      for (const part of attack.split(" ")) {
        const [t, v] = part.split("=");
        const row = techniques.find((x) => x.technique === t);
        if (row && (ATTACK_VERDICTS as readonly string[]).includes(v ?? "")) {
          row.counts[v as AttackVerdict] += n;
        }
      }
    }
    if (compromise != null) {
      compromised += n;
      for (const kind of compromise.split(" ")) {
        if ((COMPROMISE_KINDS as readonly string[]).includes(kind)) {
          byKind.set(kind as CompromiseKind, (byKind.get(kind as CompromiseKind) ?? 0) + n);
        }
      }
    }
  }

  const kinds: AttackSummary["compromise"]["kinds"] = [];
  for (const kind of COMPROMISE_KINDS) {
    const servers = byKind.get(kind) ?? 0;
    if (servers === 0) continue;
    const examples = await store.aggregateExamples(scanId, compromiseExample(kind), EXAMPLES);
    kinds.push({
      kind,
      servers,
      examples: examples.map((e) => ({ server: `${e.ip}:${e.port}`, evidence: e.detail })),
    });
  }
  return { open, assessed, techniques, compromise: { servers: compromised, kinds } };
}

export function attackTables(a: AttackSummary): Table[] {
  const verdictNote =
    a.assessed === 0
      ? `${count(a.open, "open server")}; no verdicts: the results were not enriched (--no-intel)`
      : `of ${count(a.open, "open server")} (${a.assessed} with verdicts), by the defaults of their product and version: a renamed command, an ACL or a changed setting is not visible to a read-only probe`;
  const compromiseNote =
    a.compromise.servers === 0
      ? undefined
      : `${a.compromise.servers} of ${count(a.open, "open server")}: indicators in what they showed, not proof of compromise`;
  return [
    table(
      "attack",
      "Open servers by what an attacker can do",
      [
        ["technique", false],
        ...ATTACK_VERDICTS.map((v) => [VERDICT_LABEL[v], true] as [string, boolean]),
      ],
      a.assessed === 0
        ? []
        : a.techniques.map((t) => [
            TECHNIQUE_LABEL[t.technique],
            ...ATTACK_VERDICTS.map((v) => t.counts[v]),
          ]),
      verdictNote,
    ),
    table(
      "compromise",
      "Open servers showing signs of compromise",
      [
        ["indicator", false],
        ["servers", true],
        ["example (what the server showed)", false],
      ],
      a.compromise.kinds.map((k) => [
        COMPROMISE_LABEL[k.kind],
        k.servers,
        k.examples.map((e) => `${e.server} ${e.evidence}`).join("; ") || "-",
      ]),
      compromiseNote ??
        (a.assessed > 0
          ? `none of the ${count(a.assessed, "open server")} checked showed one`
          : undefined),
    ),
  ];
}

/** The report's tables with the attacker's view after the CVE and end-of-life tables. */
export function withAttackTables(r: Report, tables: Table[]): Table[] {
  // A report made by an older redscope (JSON read back) has no attack part.
  if (r.attack === undefined) return tables;
  const extra = attackTables(r.attack);
  const at = tables.findIndex((t) => t.id === "eol");
  if (at < 0) return [...tables, ...extra];
  return [...tables.slice(0, at + 1), ...extra, ...tables.slice(at + 1)];
}
