/**
 * Results for the aggregates' tests (test/aggregates.test.ts and its writer processes): the
 * bench's synthetic internet mix with a richer share of open servers (replication, CVEs, attack
 * verdicts, signs of compromise), plus the record facts the mix lacks: CVE caveats, a server
 * with two indicators of one kind, and a compromise kind no report knows.
 */
import { Synth } from "../../bench/synthetic.js";
import { CveMatcher, loadCveTable } from "../../src/intel/cves.js";
import type { ProbeResult } from "../../src/schema/result.js";

let matcher: CveMatcher | undefined;

/** Results `from` … `from + n − 1`, the same for a seed in every process. */
export function aggregateResults(n: number, seed: number, from = 0): ProbeResult[] {
  matcher ??= new CveMatcher(loadCveTable());
  const synth = new Synth(seed, { open: 0.5, protected: 0.1, error: 0.05 }, matcher);
  const out: ProbeResult[] = [];
  for (let i = from; i < from + n; i++) {
    const r = synth.result(i, new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString());
    if (r.cves && r.cves.length > 0 && i % 7 === 0) r.cve_verdict = { backports_possible: true };
    if (r.cves && r.cves.length > 0 && i % 11 === 0) r.cve_verdict = { ambiguous: "HELLO only" };
    if (r.state === "open" && i % 13 === 0) {
      r.compromise = [
        { kind: "campaign_key", evidence: `backup${i}`, why: "t" },
        { kind: "campaign_key", evidence: `crackit${i}`, why: "t" },
        { kind: "not_a_kind" as "campaign_key", evidence: "x", why: "t" },
      ];
    }
    out.push(r);
  }
  return out;
}
