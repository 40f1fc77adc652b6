/**
 * The one place use cases take their intelligence from: the intel directory (`--intel-dir`, else
 * the default under the user's data home), as scans and imports enrich with it and audits judge
 * versions by it. A directory that does not exist holds nothing but the bundled CVE table.
 */
import { CveMatcher, cveTableIn } from "../intel/cves.js";
import { defaultIntelDir } from "../intel/dirs.js";
import { Enricher } from "../intel/enrich.js";

/** Everything the directory holds: CVEs, cloud ranges, ASN/geo databases. */
export function loadEnricher(dir: string | undefined): Promise<Enricher> {
  return Enricher.load(dir ?? defaultIntelDir());
}

/** The CVE table only (an audit judges one version; it needs no ranges or databases). */
export function loadCveMatcher(dir: string | undefined): CveMatcher {
  return new CveMatcher(cveTableIn(dir ?? defaultIntelDir()).table);
}
