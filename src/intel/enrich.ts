/**
 * Enrichment of results, offline, from data files the user can refresh: known CVEs per product
 * and version (the bundled table, or `cves.json` in the intel directory when there is one),
 * cloud provider / region / service from the providers' range files, and ASN, AS organisation
 * and country from MaxMind-format databases. A source whose files are missing adds nothing.
 */
import type { ProbeResult, State } from "../schema/result.js";
import { type CloudSourceStatus, loadCloudIndex } from "./clouds.js";
import { type CompromiseContext, compromiseIndicators } from "./compromise.js";
import { type CveMatch, CveMatcher, cveTableIn } from "./cves.js";
import { assessAttack, isLuaCve } from "./exposure.js";
import { findGeoDbs, type GeoDbInfo, GeoIndex } from "./geo.js";

/** Results that only say nothing answered: no server to place, nothing to look up. */
const UNANSWERED: ReadonlySet<State> = new Set(["closed", "timeout"]);

export interface IntelStatus {
  cveTable: { path: string; updated: string; entries: number };
  clouds: readonly CloudSourceStatus[];
  cloudPrefixes: number;
  geo: readonly GeoDbInfo[];
}

/** What the caller knows about the scan a result belongs to (its target space). */
export type EnrichContext = CompromiseContext;

export class Enricher {
  /** Lua CVE ids of the loaded table (the attack verdict's "Lua CVEs of its version"). */
  private readonly luaCves: ReadonlySet<string>;
  /** The CVE table's date, for "no known Lua CVE" reasons. */
  private readonly tableUpdated: string;

  private constructor(
    private readonly cves: CveMatcher,
    private readonly clouds: { lookup(ip: string): ProbeResult["cloud"] } | undefined,
    private readonly geo: GeoIndex | undefined,
    readonly status: IntelStatus,
    table: { updated: string; cves: ReadonlyArray<{ id: string; summary: string }> },
  ) {
    this.luaCves = new Set(table.cves.filter(isLuaCve).map((c) => c.id));
    this.tableUpdated = table.updated;
  }

  /** Everything found in `dir` (which may not exist: then only the bundled CVE table). */
  static async load(dir: string): Promise<Enricher> {
    const { path: cvePath, table } = cveTableIn(dir);
    const { index, sources } = await loadCloudIndex(dir);
    const geo = await GeoIndex.open(await findGeoDbs(dir));
    const status: IntelStatus = {
      cveTable: { path: cvePath, updated: table.updated, entries: table.cves.length },
      clouds: sources,
      cloudPrefixes: index.prefixCount,
      geo: geo.describe(),
    };
    return new Enricher(
      new CveMatcher(table),
      index.prefixCount > 0 ? index : undefined,
      status.geo.length > 0 ? geo : undefined,
      status,
      table,
    );
  }

  /**
   * Adds `cves`, `cloud`, `asn`, `as_org` and `country` to a result, where known, and to an
   * open server its attack verdicts and signs of compromise (`ctx`: the scan's target space).
   */
  enrich(r: ProbeResult, ctx?: EnrichContext): void {
    if (UNANSWERED.has(r.state)) return;
    // Matched once: the CVE list and the attack verdicts read the same verdict.
    const m = this.cves.match(r.server);
    if (r.server?.version !== undefined) {
      // A judged version carries its list, empty when clean; an unjudged one carries none.
      if (m.basis !== "none") {
        r.cves = m.cves.map((c) => ({ ...c }));
        // What the verdict rests on, where a reader must weigh it: said, not hidden.
        if (m.ambiguous !== undefined || m.backports_possible) {
          r.cve_verdict = {
            ...(m.ambiguous !== undefined ? { ambiguous: m.ambiguous } : {}),
            ...(m.backports_possible ? { backports_possible: true } : {}),
          };
        }
      }
    }
    Object.assign(r, this.place(r.ip));
    this.assess(r, m, ctx);
  }

  /** An open server's `attack` verdicts and `compromise` indicators (none for other states). */
  private assess(r: ProbeResult, match: CveMatch, ctx: EnrichContext = {}): void {
    delete r.attack;
    delete r.compromise;
    if (r.state !== "open") return;
    const attack = assessAttack(r, match, {
      isLua: (id) => this.luaCves.has(id),
      tableUpdated: this.tableUpdated,
    });
    if (attack) r.attack = attack;
    const signs = compromiseIndicators(r, ctx);
    if (signs.length > 0) r.compromise = signs;
  }

  /** Cloud, ASN, AS organisation and country of an address: only what the data knows. */
  place(ip: string): Pick<ProbeResult, "cloud" | "asn" | "as_org" | "country"> {
    const out: Pick<ProbeResult, "cloud" | "asn" | "as_org" | "country"> = {};
    const cloud = this.clouds?.lookup(ip);
    if (cloud) out.cloud = { ...cloud };
    if (this.geo) {
      const g = this.geo.lookup(ip);
      if (g.asn !== undefined) out.asn = g.asn;
      if (g.as_org !== undefined) out.as_org = g.as_org;
      if (g.country !== undefined) out.country = g.country;
    }
    return out;
  }
}
