/**
 * Enrichment of results, offline, from data files the user can refresh: known CVEs per product
 * and version (the bundled table, or `cves.json` in the intel directory when there is one),
 * cloud provider / region / service from the providers' range files, and ASN, AS organisation
 * and country from MaxMind-format databases. A source whose files are missing adds nothing.
 */
import type { ProbeResult, State } from "../schema/result.js";
import { type CloudSourceStatus, loadCloudIndex } from "./clouds.js";
import { CveMatcher, cveTableIn } from "./cves.js";
import { findGeoDbs, type GeoDbInfo, GeoIndex } from "./geo.js";

/** Results that only say nothing answered: no server to place, nothing to look up. */
const UNANSWERED: ReadonlySet<State> = new Set(["closed", "timeout"]);

export interface IntelStatus {
  cveTable: { path: string; updated: string; entries: number };
  clouds: readonly CloudSourceStatus[];
  cloudPrefixes: number;
  geo: readonly GeoDbInfo[];
}

export class Enricher {
  private constructor(
    private readonly cves: CveMatcher,
    private readonly clouds: { lookup(ip: string): ProbeResult["cloud"] } | undefined,
    private readonly geo: GeoIndex | undefined,
    readonly status: IntelStatus,
  ) {}

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
    );
  }

  /** Adds `cves`, `cloud`, `asn`, `as_org` and `country` to a result, where known. */
  enrich(r: ProbeResult): void {
    if (UNANSWERED.has(r.state)) return;
    if (r.server?.version !== undefined) {
      const m = this.cves.match(r.server);
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
