/**
 * Public references for the ids a report or the dashboard shows: a CVE's NVD page and an
 * ATT&CK technique's page. An id that does not read as one gets no link (stored strings may
 * come from imported files).
 */

const CVE_ID = /^CVE-\d{4}-\d{4,7}$/;
const ATTACK_ID = /^T(\d{4})(?:\.(\d{3}))?$/;

/** https://nvd.nist.gov/vuln/detail/CVE-… for a CVE id, else undefined. */
export function cveReference(id: string): string | undefined {
  return CVE_ID.test(id) ? `https://nvd.nist.gov/vuln/detail/${id}` : undefined;
}

/** https://attack.mitre.org/techniques/T1234/ (sub-technique T1234.001: …/T1234/001/). */
export function attackReference(id: string): string | undefined {
  const m = ATTACK_ID.exec(id);
  if (!m) return undefined;
  return `https://attack.mitre.org/techniques/T${m[1]}/${m[2] !== undefined ? `${m[2]}/` : ""}`;
}
